//! `songrec similar --artists NAME` through the real binary, on a local library with known
//! vectors.

use std::path::Path;

use songrec_local::LocalBackend;
use songrec_storage::prelude::*;
use songrec_storage::{Embedding, ModelInfo, SongId, SongMetadata};
use songrec_testkit::cli::{json, text};

use crate::on_library;

/// Songs at known angles on the unit circle of model `m@1`.
fn library(lib: &Path) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let b = LocalBackend::open(lib).unwrap();
        for (title, artist, angle) in [
            ("a1", "Alpha", 0.0f32),
            ("a2", "Alpha", 0.1),
            ("b1", "Beta", 0.35),
            ("g1", "Gamma", 0.25),
            ("g2", "Gamma", 2.5),
            ("d1", "Delta", 1.2),
        ] {
            let mut m = SongMetadata::new(SongId::from_bytes(title.as_bytes()), title);
            m.artist = Some(artist.to_owned());
            m.duration_secs = 100.0 + f64::from(angle) * 50.0;
            b.put_metadata(&m).await.unwrap();
            let v = vec![angle.cos(), angle.sin()];
            let e = Embedding::new(ModelInfo::new("m", "1", 2), v).unwrap();
            b.put_embedding(&m.id, &e).await.unwrap();
        }
    });
}

#[test]
fn similar_artists_of_an_artist() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    library(&lib);

    let o = on_library(&lib, &["similar", "--artists", "ALPHA", "-k", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Artists like Alpha (2 songs"), "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].contains("Gamma") && lines[1].contains("(2 songs)"),
        "{out}"
    );
    assert!(lines[2].contains("Beta"), "{out}");

    let o = on_library(&lib, &["similar", "--artists", "alpha", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v = json(&o);
    let names: Vec<&str> = v["similar"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Gamma", "Beta", "Delta"], "{v}");

    let o = on_library(&lib, &["similar", "--artists", "Alp"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.contains("no artist named \"Alp\""), "{err}");
    assert!(err.contains("did you mean Alpha?"), "{err}");
    assert!(err.contains("songrec list"), "{err}");

    // Only -k and --json go with it.
    let o = on_library(&lib, &["similar", "--artists", "Alpha", "--distinct"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
