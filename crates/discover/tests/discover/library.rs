//! Discovery features against a real local library of synthesised songs in five labelled styles
//! (techno, rock, ballad, ambient, jazz), ingested by the real pipeline (decode + DSP embedder).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use songrec_app::ingest::{IngestOptions, NoProgress, ingest};
use songrec_audio::synth::{STYLES, SongSpec, render, write_wav_tagged};
use songrec_discover::kmeans::{KMeansOptions, purity};
use songrec_discover::m3u::{M3uOptions, PathStyle};
use songrec_discover::map::{self, ColorBy, MapOptions};
use songrec_discover::playlist::{self, Constraints, PathRequest, SeedRequest, order};
use songrec_discover::{clusters, load_songs, outliers};
use songrec_local::LocalBackend;
use songrec_storage::prelude::*;
use songrec_storage::{Filter, ModelInfo, SongId, SongMetadata, StorageBackend};

const PER_STYLE: usize = 4;
const SECONDS: f32 = 8.0;

struct Fixture {
    _dir: tempfile::TempDir,
    lib: PathBuf,
}

fn model() -> ModelInfo {
    let e = songrec_app::embedders::by_name("dsp").unwrap();
    songrec_app::embedders::model_of(e.as_ref())
}

fn title(style: &str, i: usize) -> String {
    format!("{style} song {i}")
}

/// Writes the styled songs (plus `extra` files) and ingests them into a new library.
fn build_library(dir: &Path, extra: &dyn Fn(&Path)) -> PathBuf {
    let music = dir.join("music");
    std::fs::create_dir_all(&music).unwrap();
    for style in STYLES {
        for i in 1..=PER_STYLE {
            let t = title(style, i);
            // Two artists per style, so "no repeat artist" has something to do.
            let artist = format!("{style} artist {}", i % 2);
            write_wav_tagged(
                &music.join(format!("{t}.wav")),
                &render(&SongSpec::for_style(style, i as u64, SECONDS)),
                &[("INAM", &t), ("IART", &artist), ("IGNR", style)],
            )
            .unwrap();
        }
    }
    extra(&music);
    let lib = dir.join("lib");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let backend = LocalBackend::open(&lib).unwrap();
        let opts = IngestOptions {
            jobs: 2,
            embedders: songrec_app::embedders::parse_list("dsp").unwrap(),
            batch_size: 16,
            state_file: None,
            prune: false,
            copy_audio: false,
            exclude: Vec::new(),
            readd: false,
        };
        let s = ingest(&backend, &[music], &opts, Arc::new(NoProgress))
            .await
            .unwrap();
        assert!(s.failed().is_empty(), "{:?}", s.failed());
        backend.flush().await.unwrap();
    });
    lib
}

/// The shared read-only library: 20 styled songs and one planted oddity (a bare sine beep).
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        // Built on its own thread: the tests run inside tokio runtimes.
        std::thread::spawn(|| {
            let dir = tempfile::tempdir().unwrap();
            let lib = build_library(dir.path(), &|music| {
                let beep: Vec<f32> = (0..(SECONDS * 22_050.0) as usize)
                    .map(|i| {
                        0.5 * (i as f32 * 2.0 * std::f32::consts::PI * 3000.0 / 22_050.0).sin()
                    })
                    .collect();
                write_wav_tagged(
                    &music.join("beep.wav"),
                    &beep,
                    &[("INAM", "Test Beep"), ("IART", "Signal"), ("IGNR", "test")],
                )
                .unwrap();
            });
            Fixture { _dir: dir, lib }
        })
        .join()
        .unwrap()
    })
}

async fn by_title(b: &dyn StorageBackend, t: &str) -> SongMetadata {
    songrec_app::resolve::resolve(b, t).await.unwrap()
}

fn style_of(m: &SongMetadata) -> String {
    m.genre.clone().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_playlist_never_contains_its_seeds_and_flows() {
    let b = LocalBackend::open(&fixture().lib).unwrap();
    let seed = by_title(&b, "techno song 1").await;
    let req = SeedRequest {
        seeds: vec![seed.id.clone()],
        model: model().into(),
        n: 8,
        constraints: Constraints::default(),
    };
    let p = playlist::from_seeds(&b, &req).await.unwrap();
    assert_eq!(p.entries.len(), 8);
    let ids = p.ids();
    assert!(
        !ids.contains(&seed.id),
        "the seed is not in its own playlist"
    );
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 8, "no song twice");
    // Its three style-mates are its nearest songs, so one of each of their recordings is in,
    // but none of the seed's: fingerprints are taken at ingest, and renderings of one
    // synthetic loop a few bpm apart count as one recording (see `fingerprint::MAX_BIT_ERROR`).
    // A playlist holds no copy of its seed and one copy of each recording.
    let techno = p
        .entries
        .iter()
        .filter(|e| style_of(&e.song) == "techno")
        .count();
    let mut family = vec![seed.clone()];
    for i in 2..=PER_STYLE {
        family.push(by_title(&b, &title("techno", i)).await);
    }
    let groups = songrec_identity::recording::groups(&family);
    let recordings: HashSet<usize> = groups[1..]
        .iter()
        .copied()
        .filter(|g| *g != groups[0])
        .collect();
    assert!(!recordings.is_empty(), "not every style-mate is a copy");
    assert_eq!(
        techno,
        recordings.len(),
        "{:#?}",
        p.entries.iter().map(|e| &e.song.title).collect::<Vec<_>>()
    );
    // The order flows: no worse than the order the songs were picked in (by similarity to the seed).
    let v = songrec_discover::load::fetch_vectors(&b, &model(), &ids)
        .await
        .unwrap();
    let vecs: Vec<Vec<f32>> = ids
        .iter()
        .map(|id| songrec_discover::load::unit(&v[id]))
        .collect();
    let path_length = |vecs: &[Vec<f32>], o: &[usize]| -> f32 {
        o.windows(2)
            .map(|w| order::distance(&vecs[w[0]], &vecs[w[1]]))
            .sum()
    };
    let flowing = path_length(&vecs, &(0..8).collect::<Vec<_>>());
    let mut by_seed: Vec<usize> = (0..8).collect();
    by_seed.sort_by(|&a, &c| {
        p.entries[c]
            .seed_similarity
            .unwrap()
            .total_cmp(&p.entries[a].seed_similarity.unwrap())
    });
    assert!(flowing <= path_length(&vecs, &by_seed) + 1e-4);
    for (i, e) in p.entries.iter().enumerate().skip(1) {
        let want = songrec_storage::math::dot(&vecs[i - 1], &vecs[i]);
        assert!((e.similarity_to_previous.unwrap() - want).abs() < 1e-5);
    }

    // Two seeds of different styles: both neighbourhoods, neither seed.
    let seed2 = by_title(&b, "ambient song 2").await;
    let p2 = playlist::from_seeds(
        &b,
        &SeedRequest {
            seeds: vec![seed.id.clone(), seed2.id.clone()],
            n: 6,
            ..req.clone()
        },
    )
    .await
    .unwrap();
    let styles: Vec<String> = p2.entries.iter().map(|e| style_of(&e.song)).collect();
    assert!(
        styles.contains(&"techno".to_string()) && styles.contains(&"ambient".to_string()),
        "{styles:?}"
    );
    assert!(!p2.ids().contains(&seed.id) && !p2.ids().contains(&seed2.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_playlist_rules_exclusions_and_filters() {
    let b = LocalBackend::open(&fixture().lib).unwrap();
    let seed = by_title(&b, "rock song 1").await;
    let base = SeedRequest {
        seeds: vec![seed.id.clone()],
        model: model().into(),
        n: 8,
        constraints: Constraints::default(),
    };
    let p = playlist::from_seeds(
        &b,
        &SeedRequest {
            constraints: Constraints {
                no_repeat_artist: true,
                ..Constraints::default()
            },
            ..base.clone()
        },
    )
    .await
    .unwrap();
    let artists: Vec<String> = p
        .entries
        .iter()
        .map(|e| e.song.artist.clone().unwrap())
        .collect();
    let uniq: HashSet<&String> = artists.iter().collect();
    assert_eq!(
        uniq.len(),
        artists.len(),
        "one song per artist: {artists:?}"
    );
    assert_eq!(p.entries.len(), 8, "11 artists are available");

    // Excluded songs (e.g. from recent playlists) stay out; the first pick is replaced.
    let plain = playlist::from_seeds(&b, &base).await.unwrap();
    let excluded: HashSet<SongId> = plain.ids().into_iter().take(3).collect();
    let p = playlist::from_seeds(
        &b,
        &SeedRequest {
            constraints: Constraints {
                exclude: excluded.clone(),
                ..Constraints::default()
            },
            ..base.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(p.entries.len(), 8);
    assert!(p.ids().iter().all(|id| !excluded.contains(id)));

    // A filter: only jazz songs, and then there are only four of them.
    let jazz = Filter::default().and(songrec_storage::Condition::Eq(
        songrec_storage::Field::Genre,
        songrec_storage::Value::Text("jazz".into()),
    ));
    let p = playlist::from_seeds(
        &b,
        &SeedRequest {
            constraints: Constraints {
                filter: jazz,
                ..Constraints::default()
            },
            ..base.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(p.entries.len(), PER_STYLE);
    assert!(p.entries.iter().all(|e| style_of(&e.song) == "jazz"));
    assert_eq!(p.requested, 8, "shorter than asked, and it says so");

    // A seed without a vector of the model is a clear error.
    let err = playlist::from_seeds(
        &b,
        &SeedRequest {
            model: ModelInfo::new("nope", "1", 3).into(),
            ..base.clone()
        },
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("no nope@1 vector"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_from_a_to_b_moves_steadily() {
    let b = LocalBackend::open(&fixture().lib).unwrap();
    let a = by_title(&b, "techno song 1").await;
    let z = by_title(&b, "ballad song 1").await;
    let p = playlist::between(
        &b,
        &PathRequest {
            from: a.id.clone(),
            to: z.id.clone(),
            model: model().into(),
            n: 7,
            candidates_per_point: 30,
            constraints: Constraints::default(),
        },
    )
    .await
    .unwrap();
    let ids = p.ids();
    assert_eq!(ids.first(), Some(&a.id), "starts with A");
    assert_eq!(ids.last(), Some(&z.id), "ends with B");
    assert!(ids.len() >= 5, "most waypoints found a song: {}", ids.len());
    assert!(!ids[1..ids.len() - 1].contains(&a.id) && !ids[1..ids.len() - 1].contains(&z.id));
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    let prog: Vec<f32> = p.entries.iter().map(|e| e.progress.unwrap()).collect();
    assert!(
        prog[0].abs() < 1e-5 && (prog[prog.len() - 1] - 1.0).abs() < 1e-5,
        "{prog:?}"
    );
    assert!(
        prog.windows(2).all(|w| w[0] <= w[1] + 1e-6),
        "progress along A→B never goes back: {prog:?}"
    );
    // It moves: the interior songs spread over the way, not all bunched at one end.
    let inner = &prog[1..prog.len() - 1];
    let spread = inner.iter().cloned().fold(f32::MIN, f32::max)
        - inner.iter().cloned().fold(f32::MAX, f32::min);
    assert!(spread > 0.2, "{prog:?}");

    // Same ends: refused.
    assert!(
        playlist::between(
            &b,
            &PathRequest {
                from: a.id.clone(),
                to: a.id.clone(),
                model: model().into(),
                n: 5,
                candidates_per_point: 30,
                constraints: Constraints::default()
            }
        )
        .await
        .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m3u_paths_point_at_the_audio() {
    let b = LocalBackend::open(&fixture().lib).unwrap();
    let seed = by_title(&b, "jazz song 1").await;
    let p = playlist::from_seeds(
        &b,
        &SeedRequest {
            seeds: vec![seed.id.clone()],
            model: model().into(),
            n: 5,
            constraints: Constraints::default(),
        },
    )
    .await
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    for style in [PathStyle::Relative, PathStyle::Absolute] {
        let path = out.path().join("lists").join("mix.m3u8");
        let r = songrec_discover::m3u::write(
            &b,
            &p,
            &path,
            &M3uOptions {
                paths: style,
                ..M3uOptions::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(r.written, 5);
        assert_eq!(r.fetched, 0, "a local library is referenced in place");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#EXTM3U");
        assert_eq!(lines.len(), 1 + 2 * 5);
        for (k, e) in p.entries.iter().enumerate() {
            assert!(
                lines[1 + 2 * k].starts_with("#EXTINF:8,"),
                "{}",
                lines[1 + 2 * k]
            );
            assert!(lines[1 + 2 * k].ends_with(&e.song.title));
            let loc = Path::new(lines[2 + 2 * k]);
            assert_eq!(loc.is_absolute(), style == PathStyle::Absolute, "{loc:?}");
            let file = path.parent().unwrap().join(loc);
            let (key, _) = SongId::from_file(&file).unwrap();
            assert_eq!(key, e.song.audio_key(), "the path is the song's audio");
            // The user's own file, where it lies: the library holds no copy to point at.
            let music = fixture().lib.parent().unwrap().join("music");
            assert!(
                file.canonicalize()
                    .unwrap()
                    .starts_with(music.canonicalize().unwrap()),
                "{file:?} is in the music folder"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_follow_the_styles_and_the_beep_is_the_outlier() {
    let b = LocalBackend::open(&fixture().lib).unwrap();
    let all = load_songs(&b, &model().into(), &Filter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), STYLES.len() * PER_STYLE + 1);
    assert!(all.without_vector.is_empty());

    // Outliers: the planted beep first.
    let out = outliers::outliers(&all, 3, 4).unwrap();
    assert_eq!(
        out[0].song.title,
        "Test Beep",
        "{:?}",
        out.iter()
            .map(|o| (&o.song.title, o.score))
            .collect::<Vec<_>>()
    );
    assert!(out[0].score > out[1].score);

    // Clusters of the styled songs (the beep left out): they follow the styles.
    let mut set = all.clone();
    let keep: Vec<usize> = (0..set.len())
        .filter(|&i| set.songs[i].title != "Test Beep")
        .collect();
    let rows: Vec<Vec<f32>> = keep.iter().map(|&i| set.vectors.row(i).to_vec()).collect();
    set.songs = keep.iter().map(|&i| set.songs[i].clone()).collect();
    set.vectors = songrec_discover::Matrix::from_rows(&rows).unwrap();
    let r = clusters::cluster(&set, STYLES.len(), &KMeansOptions::default()).unwrap();
    let labels: Vec<String> = set.songs.iter().map(style_of).collect();
    let got = purity(&r.assignments, &labels);
    assert_eq!(r.genre_purity, Some(got));
    // Chance level: the same cluster sizes with the labels shuffled (averaged over rotations).
    let n = labels.len();
    let chance: f64 = (1..n)
        .map(|shift| {
            let rotated: Vec<String> = (0..n)
                .map(|i| labels[(i * 7 + shift) % n].clone())
                .collect();
            purity(&r.assignments, &rotated)
        })
        .sum::<f64>()
        / (n - 1) as f64;
    assert!(got >= 0.8, "purity {got:.2} (chance {chance:.2})");
    assert!(got > chance + 0.3, "purity {got:.2} vs chance {chance:.2}");
    assert_eq!(r.clusters.iter().map(|c| c.size).sum::<usize>(), n);
    assert!(r.clusters.windows(2).all(|w| w[0].size >= w[1].size));
}

/// Pulls the embedded JSON out of the page.
fn page_data(html: &str) -> serde_json::Value {
    let open = format!(
        "<script type=\"application/json\" id=\"{}\">",
        map::DATA_ELEMENT_ID
    );
    let start = html.find(&open).unwrap() + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

/// Checks that every element opened in the page is closed in order (void elements aside).
fn balanced(html: &str) -> bool {
    let void = ["meta", "input", "br", "img", "link", "!doctype"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').unwrap();
        let tag = &rest[..end];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '>')
            .collect::<String>()
            .to_lowercase();
        let closing = tag.starts_with('/');
        if closing {
            if stack.pop().as_deref() != Some(name.as_str()) {
                return false;
            }
        } else if !void.contains(&name.as_str()) {
            stack.push(name.clone());
        }
        rest = &rest[end + 1..];
        if !closing && (name == "script" || name == "style") {
            // Raw text: jump to the closing tag.
            let close = format!("</{name}>");
            let j = rest.find(&close).unwrap();
            rest = &rest[j..];
        }
    }
    stack.is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_page_and_image() {
    let b = LocalBackend::open(&fixture().lib).unwrap();
    let set = load_songs(&b, &model().into(), &Filter::default())
        .await
        .unwrap();
    let data = map::build(
        &set,
        &MapOptions {
            color: ColorBy::Genre,
            ..MapOptions::default()
        },
    )
    .unwrap();
    let html = map::html(&data).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing fetched from the network"
    );
    assert!(balanced(&html), "elements are closed in order");
    let v = page_data(&html);
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), set.len());
    for s in &set.songs {
        let p = points
            .iter()
            .find(|p| p["id"] == s.id.as_str())
            .unwrap_or_else(|| panic!("{} missing", s.title));
        assert_eq!(p["title"], s.title.as_str());
        assert_eq!(p["similar"].as_array().unwrap().len(), 10);
    }
    // A song's precomputed neighbours are what `similar` answers.
    let i = set
        .songs
        .iter()
        .position(|s| s.title == "rock song 2")
        .unwrap();
    let sims: Vec<String> = points[i]["similar"]
        .as_array()
        .unwrap()
        .iter()
        .map(|nb| {
            points[nb[0].as_u64().unwrap() as usize]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let q = songrec_storage::SearchQuery {
        exclude: vec![set.songs[i].id.clone()],
        ..songrec_storage::SearchQuery::new(
            model(),
            b.get_embedding(&set.songs[i].id, &model())
                .await
                .unwrap()
                .unwrap()
                .vector,
            10,
        )
    };
    let want: Vec<String> = b
        .search(&q)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id.as_str().to_owned())
        .collect();
    assert_eq!(sims[..3], want[..3]);
    // Points of one style sit together: each song's map neighbour (2-D) mostly shares its style.
    let same = (0..set.len())
        .filter(|&i| {
            let (x, y) = (data.points[i].x, data.points[i].y);
            let j = (0..set.len())
                .filter(|&j| j != i)
                .min_by(|&a, &c| {
                    let d =
                        |k: usize| (data.points[k].x - x).powi(2) + (data.points[k].y - y).powi(2);
                    d(a).total_cmp(&d(c))
                })
                .unwrap();
            data.points[j].genre == data.points[i].genre
        })
        .count();
    assert!(same * 2 > set.len(), "{same} of {}", set.len());

    // The PNG: valid, the requested size, and the points are drawn where they belong.
    let (w, h) = (320u32, 200u32);
    let bytes = songrec_discover::png::render(&data, w, h, ColorBy::Cluster).unwrap();
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (w, h));
    let px = |x: i32, y: i32| {
        let o = (y as usize * w as usize + x as usize) * 3;
        [buf[o], buf[o + 1], buf[o + 2]]
    };
    let frame = songrec_discover::png::Frame::of(&data);
    let area = songrec_discover::png::PlotArea::of(&data, w, h, ColorBy::Cluster);
    for (i, p) in data.points.iter().enumerate() {
        let (x, y) = frame.pixel(&area, p.x, p.y);
        // Each point in its own colour: not hidden under the caption or the legend.
        let c = songrec_discover::map::PALETTE[data.colour_index(i, ColorBy::Cluster)];
        let c = u32::from_str_radix(&c[1..], 16).unwrap();
        assert_eq!(
            px(x, y),
            [(c >> 16) as u8, (c >> 8) as u8, c as u8],
            "point at ({x}, {y})"
        );
    }
    assert_eq!(
        px(1, 1),
        songrec_discover::png::BACKGROUND,
        "corners stay blank"
    );
    assert!(songrec_discover::png::render(&data, 10, 10, ColorBy::Genre).is_err());
}

/// A library whose songs carry two models that disagree: on `wide` (cosines spread over −0.9..1)
/// song `w` is the query's twin, on `narrow` (cosines within 0.6..1, as musicnn's are) song `n`
/// is. Returns the backend, the two models and the query's id.
async fn two_model_library(dir: &Path) -> (LocalBackend, ModelInfo, ModelInfo, SongId) {
    let b = LocalBackend::open(dir).unwrap();
    let (wide, narrow) = (
        ModelInfo::new("wide", "1", 2),
        ModelInfo::new("narrow", "1", 2),
    );
    // (title, angle on wide, angle on narrow)
    let songs: Vec<(String, f32, f32)> = [("query", 0.0, 0.0), ("w", 0.01, 0.5), ("n", 1.2, 0.01)]
        .into_iter()
        .map(|(t, a, b)| (t.to_owned(), a, b))
        .chain((0..30).map(|i| {
            let x = i as f32 / 30.0;
            (format!("other {i}"), 0.6 + 2.0 * x, 0.9 - 0.8 * x)
        }))
        .collect();
    let mut query = None;
    for (t, a, n) in songs {
        let mut m = SongMetadata::new(SongId::from_bytes(t.as_bytes()), &t);
        m.duration_secs = 100.0;
        if t == "query" {
            query = Some(m.id.clone());
        }
        b.put_metadata(&m).await.unwrap();
        for (model, angle) in [(&wide, a), (&narrow, n)] {
            let e = songrec_storage::Embedding::new(model.clone(), vec![angle.cos(), angle.sin()])
                .unwrap();
            b.put_embedding(&m.id, &e).await.unwrap();
        }
    }
    b.flush().await.unwrap();
    (b, wide, narrow, query.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blend_weighs_each_model_as_its_weight_says() {
    let dir = tempfile::tempdir().unwrap();
    let (b, wide, narrow, query) = two_model_library(dir.path()).await;
    let first = |space: songrec_rank::Space| {
        let (b, query) = (&b, query.clone());
        async move {
            let req = SeedRequest {
                seeds: vec![query],
                model: space,
                n: 1,
                constraints: Constraints::default(),
            };
            // A playlist of one song: the seed's nearest neighbour.
            let p = playlist::from_seeds(b, &req).await.unwrap();
            p.entries[0].song.title.clone()
        }
    };
    let blend =
        |w: f32| songrec_rank::Space::blend(vec![(wide.clone(), 1.0 - w), (narrow.clone(), w)]);
    assert_eq!(first(wide.clone().into()).await, "w");
    assert_eq!(first(narrow.clone().into()).await, "n");
    // Narrow cosines all sit near 1, yet its weight counts: standardised, not raw.
    assert_eq!(first(blend(0.8)).await, "n");
    assert_eq!(first(blend(0.2)).await, "w");
    // Raw mixing would have let the wide model decide even at 0.8 narrow.
    let raw = |t: f32, s: f32| 0.2 * t.cos() + 0.8 * s.cos();
    assert!(raw(0.01, 0.5) > raw(1.2, 0.01));

    // The whole-set view (map, clusters) uses the same combined vectors.
    let set = load_songs(&b, &blend(0.8), &Filter::default())
        .await
        .unwrap();
    assert_eq!(set.space.key(), "wide@1 ×0.2 + narrow@1 ×0.8");
    assert_eq!(set.vectors.dim(), 4);
    assert_eq!(set.len(), 33);

    // From A to B in a blend: the ends, the length, every song once.
    let other = by_title(&b, "other 29").await;
    let p = playlist::between(
        &b,
        &PathRequest {
            from: query.clone(),
            to: other.id.clone(),
            model: blend(0.5),
            n: 6,
            candidates_per_point: 10,
            constraints: Constraints::default(),
        },
    )
    .await
    .unwrap();
    let ids = p.ids();
    assert_eq!(ids.len(), 6);
    assert_eq!((&ids[0], &ids[5]), (&query, &other.id));
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 6);
    assert!(p.model.contains(" + "), "{}", p.model);
}
