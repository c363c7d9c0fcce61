//! The OpenSubsonic API under `/rest/` (API version 1.16.1 with the OpenSubsonic extensions
//! `formPost`, `apiKeyAuthentication` and `sonicSimilarity`), on the port of `songrec serve`:
//! every Subsonic app becomes a songrec player, with songrec's ears behind its "similar" and
//! "mix" buttons.
//!
//! - `/rest/<name>` and `/rest/<name>.view`, `GET` with a query or `POST` with a form;
//! - answers in XML (default), JSON (`f=json`) or JSONP, from one value tree ([`render`]);
//! - one user ([`auth`]); errors are Subsonic's codes with HTTP 200 ([`Fail`]);
//! - the library grouped into artists and albums by name ([`catalog`], ids in [`ids`]);
//! - the handlers by group: [`browse`], [`lists`], [`media`], [`ears`] (similar songs and
//!   artists, sonic matches and paths, through the use cases the REST API calls), [`marks`]
//!   (stars and plays, stored with the songs), [`playlists`] (saved playlists, library data).

pub mod browse;
pub mod call;
pub mod ears;
pub mod entries;
pub mod lists;
pub mod marks;
pub mod media;
pub mod playlists;
pub mod render;

// The protocol's parts and what `/rest/` keeps stand below the server's state, in
// `crate::subsonic_core`; the handlers name them from here, as before.
pub use crate::subsonic_core::{auth, catalog, error, ids, listened, params, state, writes};

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::response::Response;

pub use auth::{Credentials, Limiter, SubsonicOptions};
pub use error::Fail;
pub use params::Params;
pub use render::Format;

use crate::state::AppState;
use call::{Call, Reply};

/// The routes of `/rest/`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/rest/{name}", axum::routing::any(handle))
}

async fn handle(State(st): State<AppState>, Path(name): Path<String>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let (parts, body) = req.into_parts();
    let query = parts.uri.query();
    let fallback = Format::of(&Params::parse(query)).unwrap_or(Format::Xml);
    let p = match Params::read(query, &parts.headers, body).await {
        Ok(p) => p,
        Err(f) => return render::failed(&fallback, &f),
    };
    let format = match Format::of(&p) {
        Ok(f) => f,
        Err(f) => return render::failed(&Format::Xml, &f),
    };
    let endpoint = name.strip_suffix(".view").unwrap_or(&name);
    let call = Call {
        st: &st,
        p: &p,
        headers: &parts.headers,
    };
    let answer = match endpoint {
        // Public by the extension's rule: clients ask it before signing in.
        "getOpenSubsonicExtensions" => Ok(browse::extensions()),
        _ => dispatch(&call, endpoint, peer).await,
    };
    match answer {
        Ok(Reply::Fields(fields)) => render::ok(&format, fields),
        Ok(Reply::Raw(r)) => r,
        Err(f) => render::failed(&format, &f),
    }
}

fn authenticate(st: &AppState, p: &Params, peer: Option<IpAddr>) -> Result<(), Fail> {
    let s = &st.subsonic;
    let attempt = auth::Attempt {
        door: "Subsonic",
        who: auth::Who::of(p),
        ip: peer,
        client: p.get("c"),
    };
    s.limiter
        .attempt(&attempt, || auth::check(&s.options.credentials, p))
        .map_err(auth::Denied::into_fail)
}

/// Signs the caller at `peer` in, then answers `endpoint`.
async fn dispatch(c: &Call<'_>, endpoint: &str, peer: Option<IpAddr>) -> Result<Reply, Fail> {
    authenticate(c.st, c.p, peer)?;
    if writes::WRITES.contains(&endpoint)
        && let Some(ip) = peer
    {
        c.st.subsonic.writes.take(ip, c.p.get("c"))?;
    }
    match endpoint {
        "ping" => Ok(Reply::empty()),
        "getLicense" => Ok(browse::license()),
        "getUser" => browse::user(c),
        "getMusicFolders" => Ok(browse::music_folders()),
        "getIndexes" => browse::indexes(c).await,
        "getArtists" => browse::artists(c).await,
        "getMusicDirectory" => browse::directory(c).await,
        "getArtist" => browse::artist(c).await,
        "getAlbum" => browse::album(c).await,
        "getSong" => browse::song(c).await,
        "getGenres" => browse::genres(c).await,
        "getAlbumList" => lists::album_list(c, false).await,
        "getAlbumList2" => lists::album_list(c, true).await,
        "getRandomSongs" => lists::random_songs(c).await,
        "getSongsByGenre" => lists::songs_by_genre(c).await,
        "search2" => lists::search(c, false).await,
        "search3" => lists::search(c, true).await,
        "getStarred" => lists::starred(c, false).await,
        "getStarred2" => lists::starred(c, true).await,
        "star" => marks::star(c, true).await,
        "unstar" => marks::star(c, false).await,
        "scrobble" => marks::scrobble(c).await,
        "getPlaylists" => playlists::list(c).await,
        "getPlaylist" => playlists::get(c).await,
        "createPlaylist" => playlists::create(c).await,
        "updatePlaylist" => playlists::update(c).await,
        "deletePlaylist" => playlists::delete(c).await,
        "getNowPlaying" => Ok(marks::now_playing(c)),
        "stream" => media::stream(c).await,
        "download" => media::download(c).await,
        "getCoverArt" => media::cover_art(c).await,
        "getSimilarSongs" => ears::similar_songs(c, false).await,
        "getSimilarSongs2" => ears::similar_songs(c, true).await,
        "getArtistInfo" => ears::artist_info(c, false).await,
        "getArtistInfo2" => ears::artist_info(c, true).await,
        "getTopSongs" => ears::top_songs(c).await,
        "getSonicSimilarTracks" => ears::sonic_similar(c).await,
        "findSonicPath" => ears::sonic_path(c).await,
        other => Err(Fail::other(format!(
            "songrec does not implement {other:?}; getOpenSubsonicExtensions and the documentation list what it answers"
        ))),
    }
}
