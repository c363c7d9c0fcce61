//! The OpenAPI 3.0 document served at `/api/v1/openapi.json`, written by hand (`utoipa` was not
//! adopted: `scripts/eval/crate_compare/REPORT.md` §3). The tests check that it lists exactly the
//! routes of [`crate::ROUTES`] with their operation ids.

use serde_json::{Value, json};

fn q(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

/// Optional query parameters from a table of `[name, description, schema]` rows.
fn queries(table: Value) -> Vec<Value> {
    let rows = table.as_array().cloned().unwrap_or_default();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    rows.iter()
        .map(|r| q(&text(&r[0]), &text(&r[1]), r[2].clone()))
        .collect()
}

/// References to the shared parameters of `components.parameters`.
fn refs(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| json!({"$ref": format!("#/components/parameters/{n}")}))
        .collect()
}

/// The filters every listing and search takes.
const FILTERS: &[&str] = &[
    "genre", "artist", "album", "key", "bpm", "duration", "tag", "where",
];
/// Which vectors a ranking compares, as the CLI's options.
const VECTORS: &[&str] = &["embedder", "blend", "model"];

fn similar_params() -> Vec<Value> {
    let ranking: &[&str] = &["k", "similarOffset", "metric", "threshold"];
    refs(&[ranking, VECTORS, &["distinct", "text"], FILTERS].concat())
}

fn err(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok_json(description: &str, schema: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn static_asset(op: &str, summary: &str, mime: &str) -> Value {
    json!({"get": {"operationId": op, "summary": summary, "tags": ["web"],
        "responses": {"200": {"description": summary, "content": {mime: {"schema": {"type": "string"}}}}}}})
}

fn nullable(t: &str) -> Value {
    json!({"type": t, "nullable": true})
}

/// The document.
pub fn document() -> Value {
    use crate::params::MAX_RESPONSE_RESULTS as MAX_K;
    use songrec_storage::{Ranking, SortKey, query::MAX_RESULTS as CLOUD_MAX};
    let id_param = json!({"$ref": "#/components/parameters/id"});
    let sort_keys: Vec<&str> = SortKey::ALL.iter().map(|k| k.name()).collect();
    let ranking = Ranking::default();
    let mut list_params = queries(json!([
        ["q", "Words that must all occur in artist, title, album or file name (case-insensitive).", {"type": "string"}],
        ["sort", "Order of the listing.", {"type": "string", "enum": sort_keys, "default": "artist"}],
        ["desc", "Reverse the order.", {"type": "boolean", "default": false}],
        ["limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}],
        ["offset", "Songs to skip (offset paging).", {"type": "integer", "minimum": 0, "default": 0}],
        ["cursor", "`next_cursor` of the previous page (cursor paging; not with offset; with q, the same q).", {"type": "string"}]
    ]));
    list_params.extend(refs(FILTERS));
    let mut map_params = queries(json!([
        ["limit", "Most songs on the map.", {"type": "integer", "minimum": 1, "maximum": 10000, "default": 2000}]
    ]));
    map_params.extend(refs(&[VECTORS, FILTERS].concat()));
    let mut playlist_params = vec![
        json!({"name": "seed", "in": "query", "required": false, "style": "form", "explode": true,
          "description": "A seed song's id (or unique prefix), repeatable; not with from/to.",
          "schema": {"type": "array", "items": {"type": "string"}}}),
    ];
    playlist_params.extend(queries(json!([
        ["from", "Travel from this song (id) ...", {"type": "string"}],
        ["to", "... to this one; both ends are in the playlist.", {"type": "string"}],
        ["n", "Songs in the playlist (with from/to, both ends included).", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 25}],
        ["no_repeat_artist", "At most one song per artist.", {"type": "boolean", "default": false}],
        ["no_repeat_album", "At most one song per album.", {"type": "boolean", "default": false}],
        ["candidates", "Candidates searched per step of a from/to path.", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 30}]
    ])));
    playlist_params.extend(refs(&[VECTORS, FILTERS].concat()));
    let mut cluster_params = queries(json!([
        ["k", "Number of clusters.", {"type": "integer", "minimum": 1, "maximum": 100, "default": 12}],
        ["seed", "Seed of the k-means++ initialisation (same seed, same clusters).", {"type": "integer", "minimum": 0, "default": 42}]
    ]));
    cluster_params.extend(refs(&[VECTORS, FILTERS].concat()));
    let mut text_params = vec![
        json!({"$ref": "#/components/parameters/k"}),
        json!({"$ref": "#/components/parameters/similarOffset"}),
        json!({"name": "text", "in": "query", "required": true, "description": "The words, e.g. mellow acoustic guitar.", "schema": {"type": "string"}}),
    ];
    text_params.extend(refs(FILTERS));
    let song_params = [vec![id_param.clone()], similar_params()].concat();

    let playlist_path = json!({"get": {"operationId": "getPlaylist", "summary": "A playlist around seed songs, or travelling from one song to another: the answer of `songrec playlist --json` (no history).", "tags": ["similar"],
          "parameters": playlist_params,
          "responses": {"200": ok_json("The playlist; model names the vectors compared.", "Playlist"), "400": err("Malformed query, no seed, or unknown model."), "404": err("No such song, or it has no vector of the model."), "409": err("Ambiguous id prefix.")}}});
    let clusters_path = json!({"get": {"operationId": "getClusters", "summary": "The library in groups that sound alike (k-means): the answer of `songrec clusters --json`.", "tags": ["library"],
          "parameters": cluster_params,
          "responses": {"200": ok_json("Clusters, largest first; model names the vectors compared.", "Clusters"), "400": err("Malformed query, unknown model, or no songs to cluster.")}}});
    let song_schema = json!({"type": "object", "description": "All metadata, including free-form fields.", "required": ["id", "title"],
        "properties": {"id": {"type": "string"}, "title": {"type": "string"}}, "additionalProperties": true});
    let similar_schema = json!({"type": "object", "description": "What `songrec similar --json` prints, field for field.", "required": ["query", "model", "metric", "k", "offset", "exact", "results"],
            "properties": {
              "query": {"type": "object", "description": "{\"song\": Song}, {\"upload\": {file_name, bytes, content_type}} or {\"text\": words} (the CLI: {\"file\": path} for a file)",
                "properties": {"song": {"$ref": "#/components/schemas/Song"},
                  "upload": {"type": "object", "properties": {"file_name": nullable("string"), "bytes": {"type": "integer"}, "content_type": {"type": "string"}}},
                  "text": {"type": "string"}}},
              "words": {"type": "object", "description": "With text: how the words were read.", "required": ["text", "tags", "unknown_words"],
                "properties": {"text": {"type": "string"}, "unknown_words": {"type": "array", "items": {"type": "string"}},
                  "used_words": {"type": "array", "items": {"type": "string"}, "description": "Words and phrases read as tags, in order (\"not sad\" for one to avoid)."},
                  "ignored_words": {"type": "array", "items": {"type": "string"}, "description": "Every word not used: unknown ones and filler."},
                  "tags": {"type": "array", "items": {"type": "object", "required": ["tag", "weight", "from"], "properties": {"tag": {"type": "string"}, "weight": {"type": "number"}, "from": {"type": "string", "description": "The words it came from."}}}}}},
              "model": {"type": "string", "description": "The vectors compared: NAME@VERSION, or a blend such as musicnn@2 ×0.7 + songrec-dsp@2 ×0.3; style_tags for words alone."}, "metric": {"type": "string", "enum": ["cosine", "dot", "l2"]},
              "k": {"type": "integer"}, "offset": {"type": "integer"},
              "exact": {"type": "boolean", "description": "Every result list behind the results was ranked exactly (no approximate index)."},
              "copies_folded": {"type": "integer", "description": "With distinct: copies folded into the results, in all."},
              "query_copies_excluded": {"type": "integer", "description": "With distinct: copies of the query left out."},
              "results": {"type": "array", "items": {"$ref": "#/components/schemas/SimilarItem"}}}});
    let playlist_schema = json!({"type": "object", "required": ["kind", "model", "seeds", "entries", "requested"],
            "properties": {"kind": {"type": "string", "enum": ["seeds", "path"]}, "model": {"type": "string"},
              "seeds": {"type": "array", "items": {"type": "object", "additionalProperties": true}},
              "requested": {"type": "integer"},
              "entries": {"type": "array", "items": {"type": "object", "required": ["song"], "properties": {
                "song": {"type": "object", "additionalProperties": true}, "similarity_to_previous": {"type": "number"},
                "seed_similarity": {"type": "number"}, "progress": {"type": "number"}}}}}});
    let map_schema = json!({"type": "object", "required": ["model", "projection", "explained_variance", "total", "truncated", "color", "clusters", "legend", "points"],
            "properties": {"model": {"type": "string"}, "projection": {"type": "string"},
              "explained_variance": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
              "total": {"type": "integer"}, "truncated": {"type": "boolean"},
              "color": {"type": "string", "enum": ["genre", "cluster"]}, "clusters": {"type": "integer"},
              "legend": {"type": "array", "items": {"type": "object", "required": ["colour", "label", "songs"],
                "properties": {"colour": {"type": "string"}, "label": {"type": "string"}, "songs": {"type": "integer"}}}},
              "points": {"type": "array", "items": {"type": "object", "required": ["id", "x", "y", "title", "cluster", "colour"],
                "properties": {"id": {"type": "string"}, "x": {"type": "number"}, "y": {"type": "number"}, "title": {"type": "string"},
                  "artist": nullable("string"), "genre": nullable("string"),
                  "cluster": {"type": "integer", "minimum": 1}, "colour": {"type": "string"}}}}}});
    let clusters_schema = json!({"type": "object", "required": ["model", "songs", "clusters", "inertia"],
            "properties": {"model": {"type": "string"}, "songs": {"type": "integer"}, "inertia": {"type": "number"},
              "genre_purity": nullable("number"),
              "clusters": {"type": "array", "items": {"type": "object", "required": ["id", "size", "genres", "cohesion", "examples"], "properties": {
                "id": {"type": "integer"}, "size": {"type": "integer"}, "cohesion": {"type": "number"},
                "genres": {"type": "array", "items": {"type": "array", "items": {}}},
                "examples": {"type": "array", "items": {"type": "object", "additionalProperties": true}}}}}}});

    json!({
      "openapi": "3.0.3",
      "info": {
        "title": "songrec",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Find songs that sound alike in your own library. Errors are always JSON: {\"error\": {\"code\", \"message\"}}. Every route answers 421 unknown_host when the Host header does not name the server (localhost, its address, or a name given with --allow-host), and 403 cross_site_request to requests from another web site."
      },
      "servers": [{"url": "/"}],
      "tags": [{"name": "songs"}, {"name": "similar"}, {"name": "library"}, {"name": "ops"}, {"name": "web"}],
      "paths": {
        "/": static_asset("getIndexPage", "The web page.", "text/html"),
        "/static/app.js": static_asset("getAppScript", "The web page's script.", "text/javascript"),
        "/static/style.css": static_asset("getStyleSheet", "The web page's style sheet.", "text/css"),
        "/healthz": {"get": {"operationId": "getHealth", "summary": "Health check: the backend answers.", "tags": ["ops"],
          "responses": {
            "200": ok_json("Healthy.", "Health"),
            "503": ok_json("The storage backend does not answer.", "Health")}}},
        "/metrics": {"get": {"operationId": "getMetrics", "summary": "Prometheus metrics: requests and latency per route, storage backend operations.", "tags": ["ops"],
          "responses": {"200": {"description": "Prometheus text exposition format 0.0.4.", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/api/v1/openapi.json": {"get": {"operationId": "getOpenApi", "summary": "This document.", "tags": ["ops"],
          "responses": {"200": {"description": "OpenAPI 3 document.", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        "/api/v1/songs": {"get": {"operationId": "listSongs", "summary": "List and search songs, with filters, sorting and paging.", "tags": ["songs"],
          "parameters": list_params,
          "responses": {"200": ok_json("A page of songs.", "SongPage"), "400": err("Malformed query; or (code search_offset_beyond_scan) a q= search whose offset lies beyond the 10,000 songs one request reads: follow error.next_cursor."), "503": err("The storage backend is unavailable.")}}},
        "/api/v1/songs/{id}": {"get": {"operationId": "getSong", "summary": "One song's metadata, stored vectors and links.", "tags": ["songs"],
          "parameters": [id_param.clone()],
          "responses": {"200": ok_json("The song.", "SongDetail"), "400": err("Not an id."), "404": err("No such song."), "409": err("Ambiguous id prefix.")}}},
        "/api/v1/songs/{id}/similar": {"get": {"operationId": "similarToSong", "summary": "Songs that sound like a song of the library (never itself).", "tags": ["similar"],
          "parameters": song_params,
          "responses": {"200": ok_json("Results, best first.", "SimilarResponse"), "400": err("Malformed query or unknown model."), "404": err("No such song, or it has no vector of the model."), "409": err("Ambiguous id prefix.")}}},
        "/api/v1/songs/{id}/audio": {"get": {"operationId": "getSongAudio", "summary": "The song's audio, with HTTP Range support; or a redirect to a presigned URL (cloud backend).", "tags": ["songs"],
          "parameters": [id_param, {"name": "Range", "in": "header", "required": false, "schema": {"type": "string"}, "description": "bytes=START-END, bytes=START- or bytes=-SUFFIX"}],
          "responses": {
            "200": {"description": "The whole file.", "content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}}},
            "206": {"description": "The requested range (Content-Range says which).", "content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}}},
            "302": {"description": "Fetch the audio from the Location header (presigned, expires in an hour)."},
            "304": {"description": "Not modified (If-None-Match matched the ETag, which is the song id)."},
            "400": err("Not an id."), "404": err("No such song or no stored audio."), "409": err("Ambiguous id prefix."),
            "416": err("Malformed range, or one starting beyond the end.")}}},
        "/api/v1/artists/{name}/similar": {"get": {"operationId": "similarArtists", "summary": "The artists that sound most like an artist (as `songrec similar --artists NAME --json`): up to 5 of its songs spread over them each ask for their 50 nearest songs, one per recording; every other artist keeps its best cosine similarity; best first, ties by name.", "tags": ["similar"],
          "parameters": [{"name": "name", "in": "path", "required": true, "description": "The artist's name, any case and spacing; [Unknown Artist] for songs without one.", "schema": {"type": "string"}},
            q("k", "Most artists in the answer.", json!({"type": "integer", "minimum": 1, "maximum": crate::params::MAX_SIMILAR_ARTISTS, "default": crate::params::DEFAULT_SIMILAR_ARTISTS}))],
          "responses": {"200": ok_json("The artist and its similar artists, best first.", "SimilarArtists"), "400": err("Malformed query."), "404": err("No song has this artist (the message names artists with a name like it), or a probed song has no vector.")}}},
        "/api/v1/similar": {"get": {"operationId": "similarToText", "summary": "Songs for words alone: ranked by the style and sound tags the neural model stored with each song, named by the words (a listener vocabulary: orchestral, chiptune, lo-fi, epic, dark, synthwave...). The response says which words were used and which ignored; model is style_tags.", "tags": ["similar"],
          "parameters": text_params,
          "responses": {"200": ok_json("Results, best first; similarity and tag_score are the tag score.", "SimilarResponse"), "400": err("No text, no usable word (\"the music\"), text over the words query's limits (1,024 bytes, 32 words), or parameters that apply to neighbours only."), "404": err("Nothing matches the words (code no_match; never an empty result): the message names the words that match songs of this library and, for unknown words, the nearest known ones.")}},
          "post": {"operationId": "similarToUpload", "summary": "Songs that sound like an uploaded audio file (analysed, not stored).", "tags": ["similar"],
          "parameters": similar_params(),
          "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary", "description": "mp3, flac, wav, ogg/vorbis, m4a (aac/alac) or aiff; recognised by content."}}}}}},
          "responses": {"200": ok_json("Results, best first.", "SimilarResponse"), "400": err("Malformed query or form."),
            "413": err("The file is larger than the server's limit (50 MB by default)."),
            "415": err("Not multipart, or the file is not a recognised audio format."),
            "403": err("A cross-site request (an Origin other than the server's own, or Sec-Fetch-Site cross-site)."),
            "408": err("The body did not arrive within the upload timeout (120 s by default); the connection is closed."),
            "422": err("Recognised as audio but could not be decoded, or empty."),
            "503": err("Too many uploads in progress, or the space for them is full; see Retry-After.")}}},
        "/api/v1/stats": {"get": {"operationId": "getStats", "summary": "Library size, songs per genre, models and their vector counts.", "tags": ["library"],
          "responses": {"200": ok_json("Statistics.", "Stats"), "400": err("Malformed query.")}}},
        "/api/v1/map": {"get": {"operationId": "getMap", "summary": "Every song's vector projected to 2-D (PCA), for the library map; the vectors of `songrec map` (auto by default).", "tags": ["library"],
          "parameters": map_params,
          "responses": {"200": ok_json("Points.", "Map"), "400": err("Malformed query or unknown model.")}}},
        "/api/v1/playlist": playlist_path,
        "/api/v1/clusters": clusters_path
      },
      "components": {
        "parameters": {
          "id": {"name": "id", "in": "path", "required": true, "description": "Song id: 64 hex digits (SHA-256 of the audio), or a unique prefix of at least 4.", "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{4,64}$"}},
          "genre": q("genre", "Only this genre (case-insensitive).", json!({"type": "string"})),
          "artist": q("artist", "Only this artist (case-insensitive).", json!({"type": "string"})),
          "album": q("album", "Only this album (case-insensitive).", json!({"type": "string"})),
          "key": q("key", "Only this musical key: \"A minor\", \"Am\", \"F#\".", json!({"type": "string"})),
          "bpm": q("bpm", "Tempo range MIN..MAX (either bound optional) or one value.", json!({"type": "string", "example": "110..130"})),
          "duration": q("duration", "Duration range in seconds, MIN..MAX.", json!({"type": "string", "example": "60..300"})),
          "tag": q("tag", "Only songs with this tag.", json!({"type": "string"})),
          "where": {"name": "where", "in": "query", "required": false, "style": "form", "explode": true,
            "description": "Any field: FIELD=VALUE or FIELD=MIN..MAX (repeatable), e.g. extra.label=Warp.",
            "schema": {"type": "array", "items": {"type": "string"}}},
          "k": q("k", &format!("Number of results. k + offset ≤ {MAX_K} on a local library, ≤ {CLOUD_MAX} on the cloud backend (the Data API's cap); beyond: 400."), json!({"type": "integer", "minimum": 1, "maximum": MAX_K, "default": ranking.k})),
          "similarOffset": q("offset", &format!("Skip this many of the best results (k + offset ≤ {MAX_K} on a local library, ≤ {CLOUD_MAX} on the cloud backend)."), json!({"type": "integer", "minimum": 0, "maximum": MAX_K - 1, "default": ranking.offset})),
          "metric": q("metric", "How vectors are compared.", json!({"type": "string", "enum": ["cosine", "dot", "l2"], "default": ranking.metric.to_string()})),
          "threshold": q("threshold", "Keep only results with similarity ≥ this.", json!({"type": "number"})),
          "model": q("model", "Compare stored vectors of this model, NAME@VERSION (see /api/v1/stats); not with embedder or blend. As `--model` of the CLI.", json!({"type": "string"})),
          "embedder": q("embedder", "Which vectors to compare, as `--embedder` of the CLI: auto (the default: the mix embedder's vectors once every song has them; in a library made before it, musicnn and DSP blended where the songs have both, neural weight 0.7, 0.4 for clips under 5 s, else the one they have), mix, dsp, musicnn, aisfx, both (blend 0.6) or blend:W. The response's model names what was compared.", json!({"type": "string", "default": "auto", "example": "both"})),
          "blend": q("blend", "Blend musicnn and DSP with this neural weight, as `--blend` of the CLI.", json!({"type": "number", "minimum": 0, "maximum": 1})),
          "text": q("text", "Words for the style tags the neural model stored with each song (\"mellow acoustic guitar\", \"relaxing, not sad\"); the neighbours are re-ranked towards them and each result carries its tag_score. Not with distinct.", json!({"type": "string"})),
          "distinct": q("distinct", "One song per recording: copies of one recording (same fingerprint when stored, else same artist, title and duration within a second) are folded into the best-ranked one, and copies of the query are left out; k and offset count distinct songs.", json!({"type": "boolean", "default": false}))
        },
        "schemas": {
          "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string", "description": "Stable machine-readable code, e.g. not_found, bad_request, payload_too_large."},
                           "message": {"type": "string", "description": "What went wrong and what to do."},
                           "next_cursor": {"type": "string", "description": "Where the request can continue instead (search_offset_beyond_scan: pass it as cursor with the same q)."}}}}},
          "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]}, "songs": {"type": "integer"},
            "error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
          "SongSummary": {"type": "object", "required": ["id", "title", "duration_secs", "tags", "file_name", "file_size", "created_at", "version"],
            "properties": {
              "id": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "title": {"type": "string"},
              "artist": nullable("string"), "album": nullable("string"), "genre": nullable("string"),
              "duration_secs": {"type": "number"}, "bpm": nullable("number"), "key": nullable("string"),
              "tags": {"type": "array", "items": {"type": "string"}}, "file_name": {"type": "string"},
              "file_size": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"}, "version": {"type": "integer"}}},
          "SongPage": {"type": "object", "required": ["items", "total", "total_exact", "limit", "offset"],
            "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/SongSummary"}},
              "total": {"type": "integer", "description": "Exact when total_exact, else a lower bound (an exact count costs a request per 1000 songs on the cloud; a q search reads only until its page is full)."},
              "total_exact": {"type": "boolean"}, "limit": {"type": "integer"}, "offset": {"type": "integer"},
              "next_cursor": nullable("string"), "next_offset": nullable("integer")}},
          "SongDetail": {"type": "object", "required": ["song", "models", "has_audio", "audio_url", "similar_url"],
            "properties": {"song": {"$ref": "#/components/schemas/Song"},
              "models": {"type": "array", "items": {"type": "string"}}, "has_audio": {"type": "boolean"},
              "audio_url": {"type": "string"}, "similar_url": {"type": "string"}}},
          "SimilarItem": {"type": "object", "required": ["similarity", "song"],
            "properties": {"similarity": {"type": "number"}, "distance": {"type": "number"}, "song": {"$ref": "#/components/schemas/Song"},
              "copies_folded": {"type": "integer", "description": "With distinct: other copies of this recording folded into it."},
              "tag_score": {"type": "number", "description": "With text: the song's score for the words' style tags."},
              "explanation": {"type": "object", "description": "`songrec similar --explain` only: which aspects agree."}}},
          "SimilarArtists": {"type": "object", "required": ["artist", "songs", "probes", "similar"],
            "properties": {"artist": {"type": "string", "description": "As the library spells it."}, "songs": {"type": "integer"},
              "probes": {"type": "integer", "description": "How many of its songs were probed."},
              "similar": {"type": "array", "items": {"type": "object", "required": ["name", "similarity", "songs"], "properties": {
                "name": {"type": "string"}, "similarity": {"type": "number", "description": "Best cosine similarity (-1..1) of one of its songs to one of the probes."},
                "songs": {"type": "integer", "description": "Its songs in the library."}}}}}},
          "Song": song_schema,
          "SimilarResponse": similar_schema,
          "Stats": {"type": "object", "required": ["songs", "total_secs", "total_bytes", "genres", "models", "tombstones", "backend"],
            "properties": {"songs": {"type": "integer"}, "total_secs": {"type": "number"}, "total_bytes": {"type": "integer"},
              "genres": {"type": "array", "items": {"type": "object", "required": ["genre", "count"], "properties": {"genre": {"type": "string"}, "count": {"type": "integer"}}}},
              "models": {"type": "array", "items": {"type": "object", "required": ["model", "count"], "properties": {
                "model": {"type": "string"}, "name": {"type": "string"}, "version": {"type": "string"}, "dim": {"type": "integer"}, "count": {"type": "integer"}}}},
              "tombstones": {"type": "integer"}, "backend": {"type": "string"}}},
          "Playlist": playlist_schema,
          "Clusters": clusters_schema,
          "Map": map_schema
        }
      }
    })
}
