//! `songrec playlist / dupes / map / clusters / outliers` end to end: the real binary on a local
//! library, and on the Astra backend against the local Data API server and an S3-protocol
//! server (s3s-fs) on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Output;

use songrec_testkit::LocalCloud;
use songrec_testkit::audio::ffmpeg;
use songrec_testkit::cli::{json, text};
use songrec_testkit::fixtures::real_recordings;

use crate::bin;

/// Synthesises 2 songs per style into `home/music`.
fn synth(home: &Path) -> PathBuf {
    bin().synth(&home.join("music"), 2, 5)
}

/// Another file with the same decoded audio and another title: `src`'s samples in a big-endian
/// AIFF (other packets, so another song; the same PCM, so an exact duplicate of it). A retag of
/// the same file would be the same song.
fn retagged_copy(src: &Path, dest: &Path, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let title = format!("title={to}");
    songrec_testkit::audio::ffmpeg(&[
        "-i",
        src.to_str().unwrap(),
        "-c:a",
        "pcm_s16be",
        "-write_id3v2",
        "1",
        "-metadata",
        &title,
        dest.to_str().unwrap(),
    ]);
}

fn local(home: &Path, args: &[&str]) -> Output {
    bin()
        .at_home(home)
        .env("SONGREC_CACHE_DIR", home.join("cache"))
        .arg("--library")
        .arg(home.join("lib"))
        .args(args)
        .output()
        .unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["song"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn discovery_commands_on_a_local_library() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let music = synth(h);
    retagged_copy(
        &music.join("The Techno Ensemble - Warehouse Pulse 1.wav"),
        &music.join("copy.aiff"),
        "Warehouse Pulse 1",
        "Warehouse Pulse X",
    );
    // The default's vectors, and the DSP's apart for `--embedder dsp`.
    let o = local(
        h,
        &["ingest", music.to_str().unwrap(), "--embedder", "mix,dsp"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("11 new"), "{}", text(&o));

    // Seeds: never in their own playlist; history is written.
    let o = local(
        h,
        &[
            "playlist",
            "--seed",
            "Warehouse Pulse 1",
            "-n",
            "4",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v = json(&o);
    let first = ids(&v);
    assert_eq!(first.len(), 4);
    let seed = v["seeds"][0]["id"].as_str().unwrap().to_owned();
    assert!(!first.contains(&seed));
    assert!(h.join("cache/playlist-history").read_dir().unwrap().count() == 1);
    // --exclude-recent 1: none of the last playlist's songs again.
    let o = local(
        h,
        &[
            "playlist",
            "--seed",
            "Warehouse Pulse 1",
            "-n",
            "4",
            "--exclude-recent",
            "1",
            "--json",
        ],
    );
    let second = ids(&json(&o));
    assert_eq!(second.len(), 4, "{}", text(&o));
    assert!(
        second.iter().all(|id| !first.contains(id)),
        "{first:?} {second:?}"
    );

    // From A to B with an M3U of relative paths.
    let o = local(
        h,
        &[
            "playlist",
            "--from",
            "Warehouse Pulse 1",
            "--to",
            "Drifting Pads 1",
            "-n",
            "5",
            "--m3u",
            "lists/trip.m3u8",
            "--json",
            "--no-history",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v = json(&o);
    let titles: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["song"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.first(), Some(&"Warehouse Pulse 1"));
    assert_eq!(titles.last(), Some(&"Drifting Pads 1"));
    let m3u = std::fs::read_to_string(h.join("lists/trip.m3u8")).unwrap();
    let paths: Vec<&str> = m3u.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(paths.len(), titles.len());
    for p in paths {
        assert!(p.starts_with("../"), "relative: {p}");
        assert!(h.join("lists").join(p).is_file(), "{p}");
    }
    // Human output and a usage error.
    let o = local(
        h,
        &[
            "playlist",
            "--seed",
            "Slow Piano 1",
            "-n",
            "3",
            "--no-history",
        ],
    );
    assert!(
        o.status.success() && text(&o).contains("Playlist from"),
        "{}",
        text(&o)
    );
    let o = local(h, &["playlist", "-n", "3"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // One choice of vectors with one default for every ranking command: a playlist compares
    // the default's vectors like `similar`, and its one-seed songs are `similar`'s nearest (the same
    // search: the playlist asks for 4n + 20 candidates, so `similar -k 32` for n = 3).
    for cmd in ["similar", "playlist", "map", "clusters", "outliers"] {
        let help = text(&local(h, &[cmd, "--help"]));
        assert!(
            help.contains("--embedder <EMBEDDER>") && help.contains("[default: auto]"),
            "{cmd}: {help}"
        );
    }
    let v = json(&local(
        h,
        &[
            "playlist",
            "--seed",
            "Slow Piano 1",
            "-n",
            "3",
            "--json",
            "--no-history",
        ],
    ));
    assert_eq!(v["model"], "songrec-mix@4");
    let mut in_playlist = ids(&v);
    in_playlist.sort();
    let s = json(&local(
        h,
        &["similar", "Slow Piano 1", "-k", "32", "--json"],
    ));
    let mut nearest: Vec<String> = s["results"].as_array().unwrap()[..3]
        .iter()
        .map(|m| m["song"]["id"].as_str().unwrap().to_owned())
        .collect();
    nearest.sort();
    assert_eq!(in_playlist, nearest);
    let v = json(&local(
        h,
        &[
            "playlist",
            "--seed",
            "Slow Piano 1",
            "-n",
            "3",
            "--json",
            "--no-history",
            "--embedder",
            "dsp",
        ],
    ));
    assert!(
        v["model"].as_str().unwrap().starts_with("songrec-dsp@"),
        "{v}"
    );
    let v = json(&local(h, &["clusters", "-k", "3", "--json"]));
    assert_eq!(v["model"], "songrec-mix@4", "{v}");

    // Map, clusters, outliers.
    let o = local(
        h,
        &[
            "map", "--out", "m.html", "--png", "m.png", "--size", "300x200",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let html = std::fs::read_to_string(h.join("m.html")).unwrap();
    assert!(html.contains("Drifting Pads 2") && html.contains("Blue Swing 1"));
    assert_eq!(
        &std::fs::read(h.join("m.png")).unwrap()[..8],
        b"\x89PNG\r\n\x1a\n"
    );
    let o = local(h, &["clusters", "-k", "5", "--json"]);
    let v = json(&o);
    let sizes: u64 = v["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["size"].as_u64().unwrap())
        .sum();
    assert_eq!(sizes, 11);
    let o = local(h, &["clusters", "-k", "50"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("cannot make 50 clusters of 11 songs"),
        "{}",
        text(&o)
    );
    let o = local(h, &["outliers", "-n", "3", "--json"]);
    assert_eq!(json(&o)["outliers"].as_array().unwrap().len(), 3);

    // Dupes: the retagged copy is an exact duplicate.
    let o = local(h, &["dupes", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v = json(&o);
    assert_eq!(v["groups"].as_array().unwrap().len(), 1, "{v:#}");
    assert_eq!(v["groups"][0]["kind"], "exact");
    // For people: one group said in the singular, its rows in aligned columns.
    let o = local(h, &["dupes"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.ends_with(", 1 duplicate group") && first.starts_with("11 songs checked"),
        "{out}"
    );
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(rows.len(), 2, "{out}");
    // Each column (id, name, duration, size, file) starts at the same place on both rows.
    let starts = |row: &str| -> Vec<usize> {
        let b = row.as_bytes();
        (1..b.len())
            .filter(|&i| b[i] != b' ' && b[i - 1] == b' ' && i >= 2 && b[i - 2] == b' ')
            .map(|i| row[..i].chars().count())
            .collect()
    };
    let (a, b) = (starts(rows[0]), starts(rows[1]));
    assert!(a.len() >= 5, "{rows:?}");
    assert_eq!(a, b, "columns align:\n{}\n{}", rows[0], rows[1]);
    // --delete without a terminal and without --yes: refused, nothing deleted.
    let o = local(h, &["dupes", "--delete"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("--yes") && text(&o).contains("not a terminal"),
        "{}",
        text(&o)
    );
    assert_eq!(json(&local(h, &["stats", "--json"]))["songs"], 11);
    let o = local(h, &["dupes", "--delete", "--yes"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("deleted "), "{}", text(&o));
    assert_eq!(json(&local(h, &["stats", "--json"]))["songs"], 10);
    let v = json(&local(h, &["dupes", "--json"]));
    assert_eq!(v["groups"].as_array().unwrap().len(), 0);
    assert_eq!(v["fingerprinted"], 0, "fingerprints were stored");
}

/// The id of the song ingested from `file`, in `list --json` output.
fn id_of(songs: &serde_json::Value, file: &str) -> String {
    songs["songs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["file_name"] == file)
        .unwrap_or_else(|| panic!("{file} not ingested: {songs:#}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Encodes 25 s of a real recording into `files` (by extension) with these tags.
fn encodings(src: &Path, from_secs: &str, files: &[(PathBuf, &[&str])]) {
    encodings_of(src, from_secs, "25", files);
}

/// [`encodings`] of `secs` seconds.
pub(crate) fn encodings_of(src: &Path, from_secs: &str, secs: &str, files: &[(PathBuf, &[&str])]) {
    for (dest, tags) in files {
        let mut args = vec![
            "-ss",
            from_secs,
            "-t",
            secs,
            "-i",
            src.to_str().unwrap(),
            "-map_metadata",
            "-1",
            "-vn",
        ];
        args.extend_from_slice(tags);
        args.push(dest.to_str().unwrap());
        ffmpeg(&args);
    }
}

#[test]
fn playlists_and_distinct_similar_hold_one_copy_of_each_recording() {
    let audio = real_recordings();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let music = h.join("music");
    std::fs::create_dir_all(&music).unwrap();
    // One real recording in five tagged files (an album copy and a compilation copy among
    // them) and one untagged file only its fingerprint can tell.
    let seed_tags: &[&str] = &[
        "-metadata",
        "artist=Asc Music",
        "-metadata",
        "title=Frontiers (excerpt)",
    ];
    // The compilation's file is its own encode (another bitrate): the same recording, other
    // audio packets. (An identical stream under other tags would be the same song.)
    let compilation: &[&str] = &[
        "-b:a",
        "160k",
        "-metadata",
        "artist=ASC MUSIC ",
        "-metadata",
        "title=Frontiers  (Excerpt)",
        "-metadata",
        "album=Best of Asc",
    ];
    let seed_files = [
        "clip.wav",
        "clip.flac",
        "clip.mp3",
        "clip.ogg",
        "best-of.mp3",
    ];
    encodings(
        &audio.join("asc/frontiers.mp3"),
        "40",
        &[
            (music.join("clip.wav"), seed_tags),
            (music.join("clip.flac"), seed_tags),
            (music.join("clip.mp3"), seed_tags),
            (music.join("clip.ogg"), seed_tags),
            (music.join("best-of.mp3"), compilation),
            // Its own encode (another quality), not the same stream as clip.ogg.
            (music.join("untitled 7.ogg"), &["-q:a", "6"]),
        ],
    );
    // Another recording in two files, and other real recordings once each.
    let other_tags: &[&str] = &[
        "-metadata",
        "artist=Asc Music",
        "-metadata",
        "title=Machine Wars (excerpt)",
    ];
    encodings(
        &audio.join("asc/machine_wars.mp3"),
        "60",
        &[
            (music.join("wars.flac"), other_tags),
            (music.join("wars.mp3"), other_tags),
        ],
    );
    // A third recording long enough to be analysed in excerpts (over 90 s), in two untagged
    // files: only fingerprints taken from those excerpts can tell they are one recording.
    encodings_of(
        &audio.join("asc/time_to_strike.mp3"),
        "30",
        "150",
        &[
            (music.join("strike.mp3"), &[]),
            (music.join("untitled 9.ogg"), &[]),
        ],
    );
    let sounds = [
        "alarm-clock-elapsed",
        "phone-outgoing-busy",
        "service-login",
        "service-logout",
        "phone-incoming-call",
        "audio-test-signal",
        "suspend-error",
        "trash-empty",
    ];
    for s in sounds {
        let f = format!("{s}.oga");
        std::fs::copy(audio.join("freedesktop").join(&f), music.join(&f)).unwrap();
    }
    let o = local(h, &["ingest", music.to_str().unwrap(), "--embedder", "dsp"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let songs = json(&local(h, &["list", "--json", "--limit", "100"]));
    let id_of = |file: &str| id_of(&songs, file);
    let seed_copies: Vec<String> = seed_files.iter().map(|f| id_of(f)).collect();
    let untagged = id_of("untitled 7.ogg");
    let wars = [id_of("wars.flac"), id_of("wars.mp3")];
    let strike = [id_of("strike.mp3"), id_of("untitled 9.ogg")];
    let seed = "music/clip.wav";
    // 18 files, 12 recordings: 11 besides the seed's.
    assert_eq!(songs["songs"].as_array().unwrap().len(), 18, "{songs:#}");

    let matched = |v: &serde_json::Value| -> Vec<String> {
        v["results"]
            .as_array()
            .unwrap_or_else(|| panic!("no matches in {v:#}"))
            .iter()
            .map(|m| m["song"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let playlist = || {
        let o = local(
            h,
            &[
                "playlist",
                "--seed",
                seed,
                "-n",
                "5",
                "--json",
                "--no-history",
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
        let v = json(&o);
        let got = ids(&v);
        let mut unique = got.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 5, "five different songs: {v:#}");
        for recording in [&wars, &strike] {
            assert!(
                recording.iter().filter(|w| got.contains(w)).count() <= 1,
                "one recording twice: {v:#}"
            );
        }
        (got, v)
    };

    // Plain `similar`: the seed's other files are its nearest neighbours (what the rule is for),
    // and both files of the other recording are listed.
    let v = json(&local(h, &["similar", seed, "-k", "5", "--json"]));
    let plain = matched(&v);
    let copies_shown = plain.iter().filter(|id| seed_copies.contains(id)).count();
    assert!(copies_shown >= 3, "copies of the seed rank first: {v:#}");
    let v = json(&local(h, &["similar", seed, "-k", "20", "--json"]));
    let all = matched(&v);
    assert_eq!(all.len(), 17, "{v:#}");
    assert!(wars.iter().all(|w| all.contains(w)), "{v:#}");

    // Fingerprints are taken at ingest: right after it, every copy is known, the untagged
    // ones (told by nothing else) included.
    let (got, v) = playlist();
    assert!(
        got.iter()
            .all(|id| !seed_copies.contains(id) && *id != untagged),
        "a copy of the seed in its playlist: {v:#}"
    );
    let o = local(h, &["similar", seed, "-k", "5", "--distinct", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v = json(&o);
    let got = matched(&v);
    assert_eq!(got.len(), 5, "k distinct results: {v:#}");
    assert!(
        got.iter()
            .all(|id| !seed_copies.contains(id) && *id != untagged),
        "{v:#}"
    );
    assert_eq!(v["query_copies_excluded"], 5, "{v:#}");
    // Every recording at once: each other recording's two files show as one, with 1 folded.
    let v = json(&local(
        h,
        &["similar", seed, "-k", "20", "--distinct", "--json"],
    ));
    let got = matched(&v);
    assert_eq!(got.len(), 10, "{v:#}");
    assert!(!got.contains(&untagged), "{v:#}");
    for recording in [&wars, &strike] {
        let shown: Vec<&serde_json::Value> = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| recording.iter().any(|w| m["song"]["id"] == w.as_str()))
            .collect();
        assert_eq!(shown.len(), 1, "{recording:?}: {v:#}");
        assert_eq!(shown[0]["copies_folded"], 1, "{v:#}");
    }
    assert_eq!(v["copies_folded"], 2, "{v:#}");
    // The same in words.
    let o = local(h, &["similar", seed, "-k", "20", "--distinct"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("(+1 copy folded)"), "{t}");
    assert!(
        t.contains("2 copies folded, 5 copies of the query left out"),
        "{t}"
    );

    // `dupes` groups the same copies from the stored fingerprints.
    let o = local(h, &["dupes", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v = json(&o);
    let seed_group = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["members"].as_array().unwrap().len() == 6)
        .unwrap_or_else(|| panic!("the six files of the seed recording: {v:#}"));
    assert!(
        seed_group["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["song"]["id"] == untagged.as_str())
    );
    let (got, v) = playlist();
    assert!(
        got.iter()
            .all(|id| !seed_copies.contains(id) && *id != untagged),
        "{v:#}"
    );
    let v = json(&local(
        h,
        &["similar", seed, "-k", "20", "--distinct", "--json"],
    ));
    assert_eq!(v["query_copies_excluded"], 5, "{v:#}");
    let got = matched(&v);
    assert_eq!(got.len(), 10, "{v:#}");
    assert!(!got.contains(&untagged), "{v:#}");
}

#[test]
fn discovery_commands_on_the_astra_backend() {
    let cloud = LocalCloud::start_blocking();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let music = synth(h);
    retagged_copy(
        &music.join("The Rock Ensemble - Garage Anthem 2.wav"),
        &music.join("copy.aiff"),
        "Garage Anthem 2",
        "Garage Anthem Z",
    );
    let astra = |args: &[&str]| {
        bin()
            .at_home(h)
            .env("SONGREC_CACHE_DIR", h.join("cache"))
            .envs(cloud.env())
            .args(["--storage-backend", "astra"])
            .args(args)
            .output()
            .unwrap()
    };
    assert!(astra(&["init-astra"]).status.success());
    let o = astra(&["ingest", music.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = astra(&["playlist", "--seed", "Blue Swing 1", "-n", "4", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v = json(&o);
    assert_eq!(ids(&v).len(), 4);
    assert!(!ids(&v).contains(&v["seeds"][0]["id"].as_str().unwrap().to_owned()));

    // A→B with an M3U: the remote audio is fetched next to the playlist.
    let o = astra(&[
        "playlist",
        "--from",
        "Blue Swing 1",
        "--to",
        "Slow Piano 2",
        "-n",
        "4",
        "--m3u",
        "out/j.m3u8",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v = json(&o);
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries[0]["song"]["title"], "Blue Swing 1");
    assert_eq!(entries[entries.len() - 1]["song"]["title"], "Slow Piano 2");
    assert_eq!(v["m3u"]["report"]["fetched"], entries.len());
    let m3u = std::fs::read_to_string(h.join("out/j.m3u8")).unwrap();
    for p in m3u.lines().filter(|l| !l.starts_with('#')) {
        assert!(p.starts_with("j-audio/"), "{p}");
        assert!(h.join("out").join(p).is_file(), "{p}");
    }

    // Dupes from the fingerprints ingest stored in the Data API documents: nothing to fetch.
    let o = astra(&["dupes", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v = json(&o);
    assert_eq!(v["fingerprinted"], 0, "taken at ingest: {v:#}");
    assert_eq!(v["groups"].as_array().unwrap().len(), 1, "{v:#}");
    // An older library's songs without one: dupes fetches the audio from S3 and stores it.
    let songs = json(&astra(&["list", "--json", "--limit", "100"]));
    let first = songs["songs"][0]["id"].as_str().unwrap().to_owned();
    let o = astra(&["edit", &first, "--unset", "fingerprint"]);
    assert!(o.status.success(), "{}", text(&o));
    let v = json(&astra(&["dupes", "--json"]));
    assert_eq!(v["fingerprinted"], 1, "{v:#}");
    assert_eq!(v["groups"].as_array().unwrap().len(), 1, "{v:#}");
    let o = astra(&["dupes", "--json"]);
    assert_eq!(
        json(&o)["fingerprinted"],
        0,
        "stored fingerprints are reused"
    );

    let o = astra(&["clusters", "-k", "3", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(json(&o)["songs"], 11);
    drop(cloud);
}

/// Two velocity layers of one real ride cymbal (GMRockKit `24Ride-2`, `24Ride-4`: distinct
/// hits whose fingerprints agree in 92 % of their bits) are not copies: `dupes --delete --yes`
/// deletes only the real copy (an mp3 of a clip), lists the takes as "sounds alike, not a
/// copy", and `similar --distinct` keeps both takes.
#[test]
fn takes_that_sound_alike_are_neither_deleted_nor_folded() {
    let audio = real_recordings();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let music = h.join("music");
    std::fs::create_dir_all(&music).unwrap();
    for take in ["24Ride-2.wav", "24Ride-4.wav"] {
        std::fs::copy(audio.join("gmrockkit").join(take), music.join(take)).unwrap();
    }
    encodings(
        &audio.join("asc/frontiers.mp3"),
        "40",
        &[(music.join("clip.wav"), &[]), (music.join("clip.mp3"), &[])],
    );
    let o = local(h, &["ingest", music.to_str().unwrap(), "--embedder", "dsp"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let songs = json(&local(h, &["list", "--json"]));
    let id_of = |file: &str| id_of(&songs, file);
    let takes = [id_of("24Ride-2.wav"), id_of("24Ride-4.wav")];

    let v = json(&local(
        h,
        &[
            "similar",
            "music/24Ride-2.wav",
            "-k",
            "3",
            "--distinct",
            "--json",
        ],
    ));
    assert_eq!(v["query_copies_excluded"], 0, "{v:#}");
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["song"]["id"] == takes[1].as_str()),
        "the other take is listed: {v:#}"
    );

    let o = local(h, &["dupes", "--delete", "--yes"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("1 duplicate group"), "{t}");
    assert!(t.contains("sounds alike, not a copy"), "{t}");
    let alike_rows: Vec<&str> = t
        .lines()
        .skip_while(|l| !l.starts_with("alike 1"))
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(
        alike_rows.iter().any(|l| l.contains("24Ride-2"))
            && alike_rows.iter().any(|l| l.contains("24Ride-4")),
        "{t}"
    );
    assert_eq!(t.matches("deleted ").count(), 1, "{t}");
    assert!(
        t.lines()
            .filter(|l| l.starts_with("deleted "))
            .all(|l| l.contains("clip")),
        "{t}"
    );
    let left = json(&local(h, &["list", "--json"]));
    let left: Vec<&str> = left["songs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(takes.iter().all(|id| left.contains(&id.as_str())), "{t}");
}
