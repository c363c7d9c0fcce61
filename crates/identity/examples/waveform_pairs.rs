//! Measures the two checks behind "same recording" on labelled pairs of real files: the share of
//! differing fingerprint bits and the waveform similarity, and what `dupes` makes of each pair.
//! The numbers behind `waveform::MIN_SAME` (`docs/commands.md`, `dupes`).
//!
//! `cargo run --release -p songrec-identity --example waveform_pairs -- PAIRS.tsv`
//!
//! Each line of PAIRS.tsv: `set<TAB>copy|distinct<TAB>label<TAB>file a<TAB>file b`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use songrec_identity::fingerprint::{self, FingerprintRecord};
use songrec_identity::recording::{Verdict, verdict};

fn main() {
    let Some(list) = std::env::args().nth(1) else {
        eprintln!("usage: waveform_pairs PAIRS.tsv");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(&list).expect("pairs file");
    let mut cache: HashMap<PathBuf, Option<FingerprintRecord>> = HashMap::new();
    let mut record = |p: &str| -> Option<FingerprintRecord> {
        cache
            .entry(PathBuf::from(p))
            .or_insert_with(|| fingerprint::analyse_file(std::path::Path::new(p)).ok())
            .clone()
    };
    // (set, truth) -> [same, alike, different, unknown]
    let mut table: BTreeMap<(String, String), [usize; 4]> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 5 {
            continue;
        }
        let (Some(a), Some(b)) = (record(f[3]), record(f[4])) else {
            println!("{}\t{}\t{}\tundecodable", f[0], f[1], f[2]);
            continue;
        };
        let (ia, ib) = (
            fingerprint::decode(&a.fp).unwrap_or_default(),
            fingerprint::decode(&b.fp).unwrap_or_default(),
        );
        let (wa, wb) = (a.waveform(), b.waveform());
        let bits = fingerprint::compare(&ia, &ib).map_or(f32::NAN, |al| al.bit_error);
        let wave = match (&wa, &wb) {
            (Some(x), Some(y)) => songrec_identity::waveform::similarity(x, y).unwrap_or(f32::NAN),
            _ => f32::NAN,
        };
        let v = if a.pcm == b.pcm {
            Verdict::Same { waveform: 1.0 }
        } else {
            verdict(&ia, wa.as_ref(), &ib, wb.as_ref())
        };
        let col = match v {
            Verdict::Same { .. } => 0,
            Verdict::Alike { .. } => 1,
            Verdict::Different => 2,
            Verdict::Unknown => 3,
        };
        table.entry((f[0].into(), f[1].into())).or_default()[col] += 1;
        println!(
            "{}\t{}\t{}\tbits {:.3}\twave {:.3}\t{:?}\t{}\t{}",
            f[0], f[1], f[2], bits, wave, v, f[3], f[4]
        );
    }
    println!("\nset\ttruth\tsame\talike\tdifferent\tunknown");
    for ((set, truth), c) in table {
        println!("{set}\t{truth}\t{}\t{}\t{}\t{}", c[0], c[1], c[2], c[3]);
    }
}
