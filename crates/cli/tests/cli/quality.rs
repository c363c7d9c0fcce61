//! `songrec eval`, `similar --explain` and `reembed` end to end on the local backend.

use std::process::Output;

use songrec_testkit::cli::ok;

use crate::{bin, on_library};

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(o)).expect("JSON output")
}

#[test]
fn eval_measures_precision_against_chance_on_a_labelled_folder() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let music = dir.path().join("labelled");
    ok(&on_library(
        &lib,
        &[
            "synth",
            music.to_str().unwrap(),
            "--per-style",
            "3",
            "--seconds",
            "3",
            "--by-style",
        ],
    ));
    // A file outside any label folder is ingested but never a query.
    std::fs::copy(
        std::fs::read_dir(music.join("rock"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
        music.join("loose.wav"),
    )
    .unwrap();
    let work = dir.path().join("work");
    let eval = || {
        json(&on_library(
            &lib,
            &[
                "eval",
                music.to_str().unwrap(),
                "--embedder",
                "dsp",
                "--work-dir",
                work.to_str().unwrap(),
                "--json",
            ],
        ))
    };
    let r = eval();
    assert_eq!(r["songs"], 15);
    assert_eq!(r["labels"].as_array().unwrap().len(), 5);
    // Five labels of three: each song has 2 same-label songs among 14 others.
    let chance = r["chance"].as_f64().unwrap();
    assert!((chance - 2.0 / 14.0).abs() < 1e-9, "{chance}");
    let row = &r["rows"][0];
    assert_eq!(row["name"], "dsp");
    let p: Vec<f64> = row["precision"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!(p[0] > 2.0 * chance, "p@1 {p:?} vs chance {chance}");
    // p@10 can be at most 2/10 with two same-label songs.
    assert!(p[2] <= 0.2 + 1e-9);
    // The scratch library is kept and reused: a second run analyses nothing new.
    let again = eval();
    assert_eq!(again["rows"], r["rows"]);
    // Not a folder: a clear error.
    let o = on_library(&lib, &["eval", dir.path().join("nope").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a folder"));
}

#[test]
fn explain_describes_each_match_from_stored_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let music = dir.path().join("music");
    bin().synth(&music, 2, 4);
    ok(&on_library(&lib, &["ingest", music.to_str().unwrap()]));
    let r = json(&on_library(
        &lib,
        &[
            "similar",
            "Warehouse Pulse 1",
            "-k",
            "4",
            "--explain",
            "--json",
        ],
    ));
    let q = json(&on_library(&lib, &["show", "Warehouse Pulse 1", "--json"]));
    let qbpm = q["song"]["bpm"].as_f64().unwrap();
    let matches = r["results"].as_array().unwrap();
    assert_eq!(matches.len(), 4);
    for m in matches {
        let e = &m["explanation"];
        let aspects = e["aspects"].as_array().unwrap();
        let names: Vec<&str> = aspects
            .iter()
            .map(|a| a["aspect"].as_str().unwrap())
            .collect();
        for want in ["key", "tempo", "timbre", "energy"] {
            assert!(names.contains(&want), "{want} missing in {e}");
        }
        // The tempo phrase quotes both songs' stored tempi.
        let mbpm = m["song"]["bpm"].as_f64().unwrap();
        let tempo = aspects.iter().find(|a| a["aspect"] == "tempo").unwrap();
        let t = tempo["text"].as_str().unwrap();
        assert!(
            t.contains(&format!("{qbpm:.0} vs {mbpm:.0} bpm")),
            "{t} ({qbpm}, {mbpm})"
        );
        // Agreeing aspects come first in the summary.
        let first_disagree = aspects.iter().position(|a| a["agrees"] == false);
        if let Some(i) = first_disagree {
            assert!(aspects[i..].iter().all(|a| a["agrees"] == false));
        }
        assert!(
            e["summary"]
                .as_str()
                .unwrap()
                .starts_with(aspects[0]["text"].as_str().unwrap())
        );
    }
    // Text output puts the explanation under each match.
    let text = ok(&on_library(
        &lib,
        &["similar", "Warehouse Pulse 1", "-k", "2", "--explain"],
    ));
    assert_eq!(text.matches('↳').count(), 2, "{text}");
}

#[test]
fn reembed_skips_songs_that_have_vectors_and_force_recomputes_and_bumps_versions() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let music = dir.path().join("music");
    bin().synth(&music, 1, 3);
    ok(&on_library(
        &lib,
        &["ingest", "--embedder", "both", music.to_str().unwrap()],
    ));
    let before = json(&on_library(&lib, &["show", "Warehouse Pulse 1", "--json"]));
    let r = json(&on_library(
        &lib,
        &["reembed", "--embedder", "dsp", "--json"],
    ));
    assert_eq!(r["songs"], 5);
    assert_eq!(r["computed"], 0);
    assert_eq!(r["already"], 5);
    let r = json(&on_library(
        &lib,
        &["reembed", "--embedder", "dsp", "--force", "--json"],
    ));
    assert_eq!(r["computed"], 5);
    assert_eq!(r["failed"].as_array().unwrap().len(), 0);
    let after = json(&on_library(&lib, &["show", "Warehouse Pulse 1", "--json"]));
    assert_eq!(
        after["song"]["version"].as_u64().unwrap(),
        before["song"]["version"].as_u64().unwrap() + 1
    );
    // Same audio, same deterministic embedder: the neighbours do not change.
    let s = json(&on_library(
        &lib,
        &[
            "similar",
            "Warehouse Pulse 1",
            "--json",
            "--embedder",
            "dsp",
        ],
    ));
    assert_eq!(s["results"].as_array().unwrap().len(), 4);
    let o = on_library(&lib, &["reembed", "--embedder", "nonsense"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown embedder"));
}

/// The models a library holds, as (`name@version`, songs).
fn models(lib: &std::path::Path) -> Vec<(String, u64)> {
    let s = json(&on_library(lib, &["stats", "--json"]));
    let mut out: Vec<(String, u64)> = s["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                format!(
                    "{}@{}",
                    m["model"]["name"].as_str().unwrap(),
                    m["model"]["version"].as_str().unwrap()
                ),
                m["count"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_library_made_before_the_default_is_brought_to_it_and_answered_meanwhile() {
    use songrec_testkit::fixtures::real_recording;
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let music = dir.path().join("music");
    let later = dir.path().join("later");
    std::fs::create_dir_all(&music).unwrap();
    std::fs::create_dir_all(&later).unwrap();
    for (sub, name, to) in [
        ("asc", "frontiers.mp3", &music),
        ("asc", "machine_wars.mp3", &music),
        ("freedesktop", "complete.oga", &music),
        ("freedesktop", "bell.oga", &music),
        ("asc", "time_to_strike.mp3", &later),
    ] {
        std::fs::copy(real_recording(sub, name), to.join(name)).unwrap();
    }
    // A new library holds one vector per song: the default's.
    let fresh = dir.path().join("fresh");
    ok(&on_library(&fresh, &["ingest", later.to_str().unwrap()]));
    assert_eq!(models(&fresh), vec![("songrec-mix@4".to_owned(), 1)]);

    // What `ingest` stored before the default: musicnn and DSP apart.
    ok(&on_library(
        &lib,
        &["ingest", "--embedder", "both", music.to_str().unwrap()],
    ));
    let old = |n| vec![("musicnn@2".to_owned(), n), ("songrec-dsp@2".to_owned(), n)];
    assert_eq!(models(&lib), old(4));
    // The model compared (JSON) and what the text answer says besides (stderr).
    let similar = |lib: &std::path::Path| {
        let o = on_library(lib, &["similar", "frontiers", "-k", "3", "--json"]);
        let text = on_library(lib, &["similar", "frontiers", "-k", "3"]);
        ok(&text);
        let stderr = String::from_utf8_lossy(&text.stderr).into_owned();
        (json(&o)["model"].as_str().unwrap().to_owned(), stderr)
    };
    let (model, note) = similar(&lib);
    assert!(
        model.contains("musicnn@2") && model.contains("songrec-dsp@2"),
        "{model}"
    );
    assert!(
        note.contains("0 of 4 songs have the default songrec-mix@4 vectors")
            && note.contains("songrec reembed"),
        "{note}"
    );
    let doctor = ok(&on_library(&lib, &["doctor"]));
    assert!(
        doctor.contains("[warn] vectors: 0 of 4 songs have the default"),
        "{doctor}"
    );
    // A song added meanwhile gets the default and keeps the older pair whole.
    ok(&on_library(&lib, &["ingest", later.to_str().unwrap()]));
    let mut want = old(5);
    want.push(("songrec-mix@4".to_owned(), 1));
    assert_eq!(models(&lib), want);
    let (model, note) = similar(&lib);
    assert!(!model.contains("songrec-mix"), "{model}");
    assert!(note.contains("1 of 5 songs"), "{note}");
    let stats = ok(&on_library(&lib, &["stats"]));
    assert!(stats.contains("1 of 5 songs have the default"), "{stats}");

    // `reembed` computes the rest; from then on every answer compares the default.
    let r = json(&on_library(&lib, &["reembed", "--json"]));
    assert_eq!(
        (r["computed"].as_u64(), r["already"].as_u64()),
        (Some(4), Some(1))
    );
    let (model, note) = similar(&lib);
    assert_eq!(model, "songrec-mix@4");
    assert!(!note.contains("default"), "{note}");
    // reembed's vectors are ingest's, bit for bit: the same ranking and similarities as a
    // library that ingested every file with the default.
    ok(&on_library(&fresh, &["ingest", music.to_str().unwrap()]));
    let scores = |lib: &std::path::Path| {
        json(&on_library(
            lib,
            &["similar", "frontiers", "-k", "4", "--json"],
        ))["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["song"]["title"].as_str().unwrap().to_owned(),
                    m["similarity"].as_f64().unwrap().to_bits(),
                )
            })
            .collect::<Vec<_>>()
    };
    let upgraded = scores(&lib);
    assert_eq!(upgraded.len(), 4);
    assert_eq!(upgraded, scores(&fresh));
    let o = on_library(&lib, &["doctor"]);
    let doctor = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!doctor.contains("have the default"), "{doctor}");
}

#[test]
fn a_library_of_the_previous_mix_is_brought_to_the_current_one_and_answered_meanwhile() {
    use songrec_testkit::fixtures::real_recording;
    let dir = tempfile::tempdir().unwrap();
    let (lib, music, later) = (
        dir.path().join("lib"),
        dir.path().join("music"),
        dir.path().join("later"),
    );
    std::fs::create_dir_all(&music).unwrap();
    std::fs::create_dir_all(&later).unwrap();
    for (sub, name, to) in [
        ("asc", "frontiers.mp3", &music),
        ("asc", "machine_wars.mp3", &music),
        ("freedesktop", "complete.oga", &music),
        ("asc", "time_to_strike.mp3", &later),
    ] {
        std::fs::copy(real_recording(sub, name), to.join(name)).unwrap();
    }
    // What the default stored before version 4.
    ok(&on_library(
        &lib,
        &["ingest", "--embedder", "mix@3", music.to_str().unwrap()],
    ));
    assert_eq!(models(&lib), vec![("songrec-mix@3".to_owned(), 3)]);
    let similar = |file: Option<&std::path::Path>| {
        let mut args = vec!["similar", "-k", "2"];
        match file {
            Some(f) => args.extend(["--file", f.to_str().unwrap()]),
            None => args.push("frontiers"),
        }
        let text = on_library(&lib, &args);
        ok(&text);
        args.push("--json");
        let o = on_library(&lib, &args);
        let note = String::from_utf8_lossy(&text.stderr).into_owned();
        (json(&o)["model"].as_str().unwrap().to_owned(), note)
    };
    let (model, note) = similar(None);
    assert_eq!(model, "songrec-mix@3");
    assert!(
        note.contains("0 of 3 songs have the default songrec-mix@4 vectors")
            && note.contains("compare songrec-mix@3"),
        "{note}"
    );
    // A file is analysed the way the library's vectors were made.
    let (model, _) = similar(Some(&later.join("time_to_strike.mp3")));
    assert_eq!(model, "songrec-mix@3");
    // A song added meanwhile gets both versions; answers stay with the one every song has.
    ok(&on_library(&lib, &["ingest", later.to_str().unwrap()]));
    assert_eq!(
        models(&lib),
        vec![
            ("songrec-mix@3".to_owned(), 4),
            ("songrec-mix@4".to_owned(), 1)
        ]
    );
    assert_eq!(similar(None).0, "songrec-mix@3");
    // `reembed` computes the rest (resumably: the song that has it is skipped); then the
    // current version answers and nothing is said.
    let r = json(&on_library(&lib, &["reembed", "--json"]));
    assert_eq!(
        (r["computed"].as_u64(), r["already"].as_u64()),
        (Some(3), Some(1))
    );
    let (model, note) = similar(None);
    assert_eq!(model, "songrec-mix@4");
    assert!(!note.contains("default"), "{note}");
    let stats = ok(&on_library(&lib, &["stats"]));
    assert!(!stats.contains("reembed"), "{stats}");
}

#[test]
fn bench_ingest_accounts_for_a_new_files_work_stage_by_stage() {
    use songrec_testkit::fixtures::real_recording;
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    for (sub, name) in [("asc", "frontiers.mp3"), ("freedesktop", "complete.oga")] {
        std::fs::copy(real_recording(sub, name), music.join(name)).unwrap();
    }
    let lib = dir.path().join("lib");
    let out = ok(&on_library(
        &lib,
        &[
            "bench",
            "ingest",
            "--embedder",
            "mix",
            "--files",
            music.to_str().unwrap(),
        ],
    ));
    // "  <stage>   0.012 s   4.5 %": the seconds of each row, by name.
    let seconds = |name: &str| -> f64 {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no row {name:?} in\n{out}"));
        let value = line.trim_start()[name.len()..].split_whitespace().next();
        value
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{line}"))
    };
    let analysis = [
        "decode (44.1 kHz excerpts)",
        "resample to 22.05 kHz",
        "DSP analysis",
        "musicnn patches (16 kHz)",
        "musicnn networks",
        "aisfx front end",
        "aisfx network",
        "pool and combine",
    ];
    let others = [
        "file hash (SHA-256)",
        "audio identity and tags",
        "fingerprint",
    ];
    let sum = |rows: &[&str]| rows.iter().map(|r| seconds(r)).sum::<f64>();
    // Each printed figure is rounded to the millisecond.
    let total = seconds("decode + analysis");
    assert!((sum(&analysis) - total).abs() <= 0.0005 * 9.0, "{out}");
    let work = seconds("all of a new file's work");
    assert!((total + sum(&others) - work).abs() <= 0.0005 * 5.0, "{out}");
    assert!(
        seconds("fingerprint") > 0.0 && seconds("DSP analysis") > 0.0,
        "{out}"
    );
    assert!(
        out.contains("songrec ingest -j 1 (songrec-mix@4")
            && out.contains("besides a new file's work"),
        "{out}"
    );
}
