//! What the full-content checks of the derived files cost (see `songrec_local::integrity`): a
//! pack of `songs` × `dim` vectors checked from scratch (a process's first search) and after
//! an append (only the new bytes), a file of the same size read and checked as an approximate
//! index is, and the metadata snapshot of `songs` songs opened with its checksum.
//!
//! ```text
//! cargo run --release -p songrec-local --features internals --example checksum_cost -- \
//!     [songs (100000)] [dimensions (400)] [folder (a temporary one)]
//! ```
//!
//! Each is timed three times right after the file was written (in the page cache: the case of
//! a library in use; a cold read costs what the disk reads, which the search's own reads of
//! the mapped file would then not).

use std::io::Write;
use std::time::Instant;

use songrec_local::{integrity, pack, snapshot};
use songrec_storage::{SongId, SongMetadata};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(100_000, |a| a.parse().expect("songs"));
    let dim: usize = args.get(2).map_or(400, |a| a.parse().expect("dimensions"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = args
        .get(3)
        .map_or_else(|| tmp.path().to_path_buf(), std::path::PathBuf::from);
    println!(
        "CRC-32C in hardware: {}",
        if cfg!(target_arch = "x86_64") {
            std::arch::is_x86_feature_detected!("sse4.2")
        } else {
            cfg!(target_arch = "aarch64")
        }
    );

    let path = dir.join("synthetic.pack");
    let len = write_pack(&path, n, dim);
    let mb = len as f64 / 1e6;
    println!("pack: {n} × {dim}: {mb:.0} MB");
    let crc = pack::Pack::open(&path, dim, len)
        .expect("open")
        .content_crc()
        .expect("read");
    let rs = pack::record_size(dim);
    let prefix = {
        let mut p = pack::Pack::open(&path, dim, len - rs).expect("open");
        (len - rs, p.content_crc().expect("read"))
    };
    for run in 1..=3 {
        let t = Instant::now();
        let mut p = pack::Pack::open(&path, dim, len).expect("open");
        p.verify(crc, None).expect("matches");
        let full = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut p = pack::Pack::open(&path, dim, len).expect("open");
        p.verify(crc, Some(prefix)).expect("matches");
        let tail = t.elapsed().as_secs_f64();
        let t = Instant::now();
        integrity::file_crc(&path).expect("read");
        let read = t.elapsed().as_secs_f64();
        // For comparison: the CRC over a map of the file (what a check through the search's
        // own map would cost, at the price of mapping every page into this process).
        let t = Instant::now();
        let f = std::fs::File::open(&path).expect("open");
        // SAFETY: this example's own file, not changed while mapped.
        let map = unsafe { memmap2::Mmap::map(&f) }.expect("map");
        std::hint::black_box(crc32c::crc32c(&map));
        let mapped = t.elapsed().as_secs_f64();
        println!(
            "run {run}: pack checked {:.1} ms ({:.1} GB/s); after a one-record append {:.3} ms; \
             the same bytes read and checked as an index file {:.1} ms ({:.1} GB/s); CRC over \
             a map of them {:.1} ms ({:.1} GB/s)",
            full * 1e3,
            mb / 1e3 / full,
            tail * 1e3,
            read * 1e3,
            mb / 1e3 / read,
            mapped * 1e3,
            mb / 1e3 / mapped,
        );
    }

    let songs: Vec<SongMetadata> = (0..n).map(song).collect();
    let refs: Vec<&SongMetadata> = songs.iter().collect();
    let bytes = snapshot::encode(&refs, (1, 2));
    let snap = dir.join("metadata.bin");
    std::fs::write(&snap, &bytes).expect("write");
    let mb = bytes.len() as f64 / 1e6;
    println!("snapshot: {n} songs: {mb:.0} MB");
    for run in 1..=3 {
        let t = Instant::now();
        let view = snapshot::View::open_checked(&snap, (1, 2)).expect("sound");
        let open = t.elapsed().as_secs_f64();
        assert_eq!(view.len(), n);
        println!(
            "run {run}: snapshot opened and checked in {:.1} ms ({:.1} GB/s)",
            open * 1e3,
            mb / 1e3 / open
        );
    }
}

/// A song with the fields a tagged library has.
fn song(i: usize) -> SongMetadata {
    let mut m = SongMetadata::new(
        SongId::from_bytes(&(i as u64).to_le_bytes()),
        format!("Song number {i} (Extended Mix)"),
    );
    m.artist = Some(format!("Artist {}", i % 5000));
    m.album = Some(format!("Album {}", i % 20000));
    m.genre = Some("Electronic".into());
    m.duration_secs = 241.5;
    m.sample_rate = 44100;
    m.channels = 2;
    m.file_size = 9_000_000;
    m.content_hash = format!("{:064x}", i);
    m.file_name = format!("Artist {} - Song number {i}.flac", i % 5000);
    m.bpm = Some(124.0);
    m.key = Some("A minor".into());
    m.tags = vec!["house".into(), "2019".into()];
    m
}

/// Writes a pack of `n` random `dim`-d records (the layout of `songrec_local::pack`) and
/// returns its length.
fn write_pack(path: &std::path::Path, n: usize, dim: usize) -> usize {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut header = [0u8; 64];
    header[..8].copy_from_slice(b"SRPACK01");
    header[8..12].copy_from_slice(&(dim as u32).to_le_bytes());
    header[16..24].copy_from_slice(&7u64.to_le_bytes());
    w.write_all(&header).expect("write");
    let mut rec = Vec::with_capacity(pack::record_size(dim));
    for i in 0..n {
        rec.clear();
        rec.extend_from_slice(&SongId::from_bytes(&(i as u64).to_le_bytes()).to_bytes());
        rec.extend_from_slice(&1.0f32.to_le_bytes());
        rec.extend_from_slice(&1u32.to_le_bytes());
        for _ in 0..dim {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rec.extend_from_slice(&((rng >> 40) as f32 / 16_777_216.0).to_le_bytes());
        }
        w.write_all(&rec).expect("write");
    }
    w.flush().expect("flush");
    64 + n * pack::record_size(dim)
}
