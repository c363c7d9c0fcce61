//! What the complete check of an approximate index costs at a given size, against mapping the
//! same file with usearch (which every search process does anyway).
//!
//! ```text
//! cargo run --release -p songrec-local --features internals --example ann_check_cost -- \
//!     [vectors (1000000)] [dimensions (512)] [folder (a temporary one)]
//! ```
//!
//! Writes a synthetic index file of the layout usearch saves (f16 vectors, M 16, levels drawn
//! as HNSW draws them, random neighbours), then times the check and usearch's view, each
//! three times (the first run after writing: the file is in the page cache).

use std::io::Write;
use std::time::Instant;

use songrec_local::{AnnQuantization, ann_check};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .get(1)
        .map_or(1_000_000, |a| a.parse().expect("vectors"));
    let dim: usize = args.get(2).map_or(512, |a| a.parse().expect("dimensions"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = args
        .get(3)
        .map_or_else(|| tmp.path().to_path_buf(), std::path::PathBuf::from);
    let path = dir.join("synthetic.usearch");
    let t = Instant::now();
    write_synthetic(&path, n, dim);
    let bytes = std::fs::metadata(&path).expect("written").len();
    println!(
        "wrote {n} × {dim} f16, M 16: {:.0} MB in {:.1} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    for run in 1..=3 {
        let t = Instant::now();
        let ok = ann_check::check_path(&path, dim, AnnQuantization::F16);
        let check = t.elapsed();
        assert!(ok.is_ok(), "{ok:?}");
        let t = Instant::now();
        let index = usearch::Index::restore_view(path.to_str().expect("UTF-8")).expect("view");
        let view = t.elapsed();
        assert_eq!(index.size(), n);
        println!(
            "run {run}: check {:.1} ms, usearch view {:.1} ms",
            check.as_secs_f64() * 1e3,
            view.as_secs_f64() * 1e3
        );
    }
}

fn write_synthetic(path: &std::path::Path, n: usize, dim: usize) {
    const M: usize = 16;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    // Level of each node: P(level ≥ l) = M^-l.
    let levels: Vec<i16> = (0..n)
        .map(|_| {
            let mut l = 0i16;
            while next() % M as u64 == 0 && l < 8 {
                l += 1;
            }
            l
        })
        .collect();
    let max_level = *levels.iter().max().expect("nodes");
    let entry = levels.iter().position(|&l| l == max_level).expect("top");
    let at_least =
        |l: i16| -> Vec<u32> { (0..n as u32).filter(|&i| levels[i as usize] >= l).collect() };
    let by_level: Vec<Vec<u32>> = (0..=max_level).map(at_least).collect();
    let f = std::fs::File::create(path).expect("create");
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    w.write_all(&(n as u32).to_le_bytes()).unwrap();
    w.write_all(&((dim * 2) as u32).to_le_bytes()).unwrap();
    let row: Vec<u8> = (0..dim).flat_map(|_| 0x3c00u16.to_le_bytes()).collect();
    for _ in 0..n {
        w.write_all(&row).unwrap();
    }
    let mut head = [0u8; 64];
    head[..7].copy_from_slice(b"usearch");
    head[7..9].copy_from_slice(&2u16.to_le_bytes());
    head[9..11].copy_from_slice(&26u16.to_le_bytes());
    head[13] = b'i';
    head[14] = 12;
    head[15] = 14;
    head[16] = 15;
    head[17..25].copy_from_slice(&(n as u64).to_le_bytes());
    head[33..41].copy_from_slice(&(dim as u64).to_le_bytes());
    w.write_all(&head).unwrap();
    for v in [n, M, 2 * M, max_level as usize, entry] {
        w.write_all(&(v as u64).to_le_bytes()).unwrap();
    }
    for l in &levels {
        w.write_all(&l.to_le_bytes()).unwrap();
    }
    for (i, &level) in levels.iter().enumerate() {
        w.write_all(&(i as u64).to_le_bytes()).unwrap();
        w.write_all(&level.to_le_bytes()).unwrap();
        for l in 0..=level {
            let cap = if l == 0 { 2 * M } else { M };
            let pool = &by_level[l as usize];
            let count = cap.min(pool.len());
            w.write_all(&(count as u32).to_le_bytes()).unwrap();
            for k in 0..cap {
                let s = if k < count {
                    pool[(next() % pool.len() as u64) as usize]
                } else {
                    0
                };
                w.write_all(&s.to_le_bytes()).unwrap();
            }
        }
    }
    w.flush().unwrap();
}
