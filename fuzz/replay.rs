//! Shared by the crates' fuzz replay tests (included with `#[path]`): reads a target's committed
//! seeds and regression inputs, and derives bounded pseudo-random inputs from them so the
//! stable-toolchain test suite explores a little around the seeds on every run.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Every file of `fuzz/corpus/<target>` and `fuzz/regressions/<target>`, sorted by path.
/// Panics if the target has no seeds at all (a misspelt target would otherwise test nothing).
pub fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = root.join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_file() {
                let bytes = std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    assert!(
        out.iter()
            .any(|(p, _)| p.components().any(|c| c.as_os_str() == "corpus")),
        "no seeds for fuzz target {target} under {}",
        root.display()
    );
    out
}

/// Files of `fuzz/corpus/<target>` whose name starts with `valid`: hand-made inputs the entry
/// point must accept.
pub fn valid(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    inputs(target)
        .into_iter()
        .filter(|(p, _)| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("valid"))
        })
        .collect()
}

/// Runs `f` on every input of `target` ([`inputs`]); the `valid*` seeds must be accepted.
pub fn replay_target(target: &str, mut f: impl FnMut(&[u8]) -> bool) {
    for (path, bytes) in inputs(target) {
        let accepted = f(&bytes);
        let valid = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("valid"));
        assert!(
            accepted || !valid,
            "{}: a valid seed was refused",
            path.display()
        );
    }
}

/// Runs `f` on `count` [`mutants`] of `target`'s inputs (nothing may panic).
pub fn replay_mutants(target: &str, count: usize, seed: u64, mut f: impl FnMut(&[u8]) -> bool) {
    let seeds = inputs(target);
    for input in mutants(&seeds, count, seed) {
        f(&input);
    }
}

/// A small deterministic generator (xorshift64*), so a failing input can be reproduced from
/// the test's seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Bytes that matter to the parsers (delimiters, digits, signs, extremes).
const INTERESTING: &[&[u8]] = &[
    b"\0",
    b"\n",
    b"\xff",
    b"\x80",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"-",
    b"=",
    b"&",
    b"%",
    b"'",
    b"(",
    b")",
    b"0",
    b"1",
    b"9",
    b"-1",
    b"1e309",
    b"-0",
    b"NaN",
    b"null",
    b"true",
    b"18446744073709551615",
    b"18446744073709551616",
    b"4294967295",
    b"9223372036854775807",
    b"\xff\xff\xff\xff",
    b"\xff\xff\xff\x7f",
    b"\x00\x00\x00\x80",
    b"$",
    b".",
    b"\\u0000",
];

/// `count` mutants of the seeds: byte flips, inserts, deletions, interesting tokens, splices
/// and truncations, one to four edits each.
pub fn mutants(seeds: &[(PathBuf, Vec<u8>)], count: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let mut v = seeds[rng.below(seeds.len())].1.clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(v.len() + 1);
            match rng.below(7) {
                0 if at < v.len() => v[at] ^= 1 << rng.below(8),
                1 => v.insert(at, rng.next_u64() as u8),
                2 if at < v.len() => {
                    let n = rng.below(v.len() - at).min(16) + 1;
                    v.drain(at..at + n);
                }
                3 => {
                    let t = INTERESTING[rng.below(INTERESTING.len())];
                    v.splice(at..at, t.iter().copied());
                }
                4 if at < v.len() => {
                    let t = INTERESTING[rng.below(INTERESTING.len())];
                    let end = (at + t.len()).min(v.len());
                    v.splice(at..end, t.iter().copied());
                }
                5 => {
                    let other = &seeds[rng.below(seeds.len())].1;
                    let from = rng.below(other.len());
                    let n = rng.below(other.len() - from + 1);
                    v.splice(at..at, other[from..from + n].iter().copied());
                }
                _ => v.truncate(at),
            }
        }
        out.push(v);
    }
    out
}
