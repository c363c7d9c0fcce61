//! Acoustic fingerprints (Chromaprint, via the pure-Rust `rusty-chromaprint`, MIT) and a hash of
//! the decoded audio, for finding duplicates.
//!
//! - The **PCM hash** is SHA-256 over the decoded audio (mono 22.05 kHz, quantised to 16 bits;
//!   the decoder's excerpts beyond [`HASH_MAX_SECS`]): equal for an *exact* duplicate.
//! - The **fingerprint** covers the first [`FINGERPRINT_SECS`] seconds (Chromaprint's default
//!   algorithm, compressed, base64 as AcoustID prints it). Compared at their best alignment
//!   ([`compare`]), the share of differing bits is near 0 for one recording and near 0.5 for
//!   different music, but two sounds made of the same parts can differ in only 8–9 %, so
//! - the **waveform signature** ([`crate::waveform`], record version 2) must agree too.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine;
use rusty_chromaprint::{Configuration, FingerprintCompressor, Fingerprinter};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use songrec_audio::{DecodeOptions, MonoAudio};

use crate::{IdentityError, IdentityResult};

/// Seconds of audio fingerprinted (from the start).
pub const FINGERPRINT_SECS: f32 = 120.0;
/// Files up to this long are hashed whole.
pub const HASH_MAX_SECS: f64 = 900.0;
/// Version of [`FingerprintRecord`]; a record of another version is recomputed by `dupes` (and
/// by `reembed` for the songs it analyses). Version 2 added the waveform signature (`wf`);
/// version 1 records are still read by [`FingerprintRecord::from_extra_any`] for their PCM hash
/// and fingerprint, but without a signature a fingerprint alone makes no copy.
pub const RECORD_VERSION: u32 = 2;
/// The metadata `extra` key records are stored under.
pub const EXTRA_KEY: &str = "fingerprint";
/// Most differing bits (as a share) for two fingerprints to be the same recording (copies
/// differ in 0.1–2 %, different songs in 17–59 %: `crates/benches/examples/fingerprint_errors.rs`).
pub const MAX_BIT_ERROR: f32 = 0.10;
/// Fingerprint items per second (Chromaprint: 11025 Hz, hop 4096/3 samples).
pub fn items_per_sec() -> f32 {
    1.0 / config().item_duration_in_seconds()
}

fn config() -> Configuration {
    Configuration::preset_test2()
}

/// What is stored with a song (in `extra.fingerprint`).
///
/// ```
/// use songrec_identity::fingerprint::{FingerprintRecord, encode, decode};
/// let r = FingerprintRecord::new(&[1, 2, 3], "ab".repeat(32), 10.0);
/// assert_eq!(decode(&r.fp).unwrap(), vec![1, 2, 3]);
/// let v = serde_json::to_value(&r).unwrap();
/// assert_eq!(FingerprintRecord::from_extra(&v), Some(r));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FingerprintRecord {
    /// Record version ([`RECORD_VERSION`]).
    pub v: u32,
    /// Algorithm name, `chromaprint1`.
    pub algo: String,
    /// Compressed fingerprint, base64.
    pub fp: String,
    /// SHA-256 (hex) of the decoded 16-bit audio.
    pub pcm: String,
    /// Seconds of decoded audio hashed.
    pub secs: f64,
    /// Waveform signature ([`crate::waveform::encode`]); absent in version 1 records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wf: Option<String>,
}

impl FingerprintRecord {
    /// A record from raw items, a PCM hash and the hashed length.
    pub fn new(items: &[u32], pcm: String, secs: f64) -> Self {
        Self {
            v: RECORD_VERSION,
            algo: "chromaprint1".into(),
            fp: encode(items),
            pcm,
            secs,
            wf: None,
        }
    }

    pub fn with_waveform(mut self, sig: &crate::waveform::Signature) -> Self {
        self.wf = Some(crate::waveform::encode(sig));
        self
    }

    /// The waveform signature, when the record has a readable one.
    pub fn waveform(&self) -> Option<crate::waveform::Signature> {
        self.wf
            .as_deref()
            .and_then(|w| crate::waveform::decode(w).ok())
    }

    /// Stores the record in a song's metadata (`extra.fingerprint`).
    pub fn insert_into(&self, m: &mut songrec_storage::SongMetadata) {
        // Strings and finite numbers: encoding cannot fail (a non-finite `secs` becomes null).
        if let Ok(v) = serde_json::to_value(self) {
            m.extra.insert(EXTRA_KEY.into(), v);
        }
    }

    /// Reads a stored record; `None` when absent, unreadable or of another version.
    pub fn from_extra(v: &serde_json::Value) -> Option<Self> {
        Self::from_extra_any(v).filter(|r| r.v == RECORD_VERSION)
    }

    /// Reads a stored record of this version or an older one (version 1: no signature).
    pub fn from_extra_any(v: &serde_json::Value) -> Option<Self> {
        serde_json::from_value::<Self>(v.clone())
            .ok()
            .filter(|r| (1..=RECORD_VERSION).contains(&r.v) && r.algo == "chromaprint1")
    }
}

/// Chromaprint items of mono audio at any sample rate.
pub fn fingerprint_samples(samples: &[f32], sample_rate: u32) -> IdentityResult<Vec<u32>> {
    let mut p = Fingerprinter::new(&config());
    p.start(sample_rate, 1)
        .map_err(|e| IdentityError::Invalid(format!("cannot fingerprint: {e:?}")))?;
    let mut buf = [0i16; CHUNK];
    for chunk in samples.chunks(CHUNK) {
        let words = &mut buf[..chunk.len()];
        to_i16_all(chunk, words);
        p.consume(words);
    }
    p.finish();
    Ok(p.fingerprint().to_vec())
}

/// Samples converted at a time.
const CHUNK: usize = 4096;

/// `(x.clamp(-1.0, 1.0) * 32767.0).round() as i16` (NaN gives 0), bit for bit, without
/// `round`'s call into libm: truncation and remainder are exact below 2¹⁵, and a remainder of
/// at least one half rounds away from zero. Without saturation a loop of it vectorizes.
#[inline(always)]
fn to_i16(x: f32) -> i16 {
    let x = if x.is_nan() { 0.0 } else { x };
    let v = x.clamp(-1.0, 1.0) * 32767.0;
    // SAFETY: `v` is finite and |v| ≤ 32767, so it truncates to an `i32` exactly.
    let t: i32 = unsafe { v.to_int_unchecked() };
    let frac = v - t as f32;
    (t + i32::from(frac >= 0.5) - i32::from(frac <= -0.5)) as i16
}

/// [`to_i16`] of every sample of `src` into `dst` (as long), 16 at a time on AVX-512 and 8 on
/// AVX2: 4.3 million samples (a song's PCM hash) in 0.4 ms instead of 3.7 on one Zen 5 core.
fn to_i16_all(src: &[f32], dst: &mut [i16]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { to_i16_avx512(src, dst) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { to_i16_avx2(src, dst) };
        }
    }
    to_i16_portable(src, dst);
}

#[inline(always)]
fn to_i16_portable(src: &[f32], dst: &mut [i16]) {
    for (w, &x) in dst.iter_mut().zip(src) {
        *w = to_i16(x);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn to_i16_avx512(src: &[f32], dst: &mut [i16]) {
    to_i16_portable(src, dst);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn to_i16_avx2(src: &[f32], dst: &mut [i16]) {
    to_i16_portable(src, dst);
}

/// SHA-256 (hex) of audio quantised to 16 bits, segment by segment.
pub fn pcm_hash(audio: &MonoAudio) -> String {
    let mut h = Sha256::new();
    h.update(audio.sample_rate.to_le_bytes());
    // The same byte stream as one update per sample, handed over a chunk at a time.
    let mut words = [0i16; CHUNK];
    let mut bytes = [[0u8; 2]; CHUNK];
    for s in &audio.segments {
        h.update(s.start_secs.to_le_bytes());
        for chunk in s.samples.chunks(CHUNK) {
            to_i16_all(chunk, &mut words[..chunk.len()]);
            for (b, w) in bytes.iter_mut().zip(&words[..chunk.len()]) {
                *b = w.to_le_bytes();
            }
            h.update(bytes[..chunk.len()].as_flattened());
        }
    }
    hex::encode(h.finalize())
}

/// Decodes a file and computes its record (PCM hash + fingerprint of the first
/// [`FINGERPRINT_SECS`]). CPU-bound: run it on a blocking thread.
pub fn analyse_file(path: &Path) -> IdentityResult<FingerprintRecord> {
    let d = songrec_audio::decode_file_with(
        path,
        &DecodeOptions {
            max_analysed_secs: HASH_MAX_SECS,
            excerpt_secs: 30.0,
            ..DecodeOptions::default()
        },
    )?;
    Ok(analyse_audio(&d.audio))
}

/// The record of decoded audio.
pub fn analyse_audio(audio: &MonoAudio) -> FingerprintRecord {
    let rate = audio.sample_rate;
    let first = audio.segments.first().map_or(&[][..], |s| &s.samples[..]);
    let n = ((FINGERPRINT_SECS * rate as f32) as usize).min(first.len());
    // An error here only comes from a zero sample rate: then there is no fingerprint.
    let items = fingerprint_samples(&first[..n], rate).unwrap_or_default();
    let sig = crate::waveform::signature(&first[..n], rate);
    FingerprintRecord::new(&items, pcm_hash(audio), audio.analysed_secs()).with_waveform(&sig)
}

/// Chromaprint's compressed form, base64 (URL-safe, no padding).
pub fn encode(items: &[u32]) -> String {
    let c = config();
    let bytes = FingerprintCompressor::from(&c).compress(items);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads the `n`-bit value number `i` of a packed little-endian bit stream.
fn unpack(bytes: &[u8], i: usize, n: usize) -> Option<u8> {
    let bit = i * n;
    let (byte, shift) = (bit / 8, bit % 8);
    let lo = u16::from(*bytes.get(byte)?);
    let hi = if shift + n > 8 {
        u16::from(*bytes.get(byte + 1)?)
    } else {
        0
    };
    Some((((lo | (hi << 8)) >> shift) & ((1 << n) - 1)) as u8)
}

/// Inverse of [`encode`].
///
/// ```
/// use songrec_identity::fingerprint::{encode, decode};
/// let items = vec![0u32, 0xFFFF_FFFF, 0x8000_0001, 12345];
/// assert_eq!(decode(&encode(&items)).unwrap(), items);
/// assert!(decode("not base64!").is_err());
/// ```
pub fn decode(s: &str) -> IdentityResult<Vec<u32>> {
    let bad = |why: &str| IdentityError::Invalid(format!("unreadable fingerprint: {why}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim())
        .map_err(|e| bad(&e.to_string()))?;
    if bytes.len() < 4 {
        return Err(bad("too short"));
    }
    let len = (usize::from(bytes[1]) << 16) | (usize::from(bytes[2]) << 8) | usize::from(bytes[3]);
    let body = &bytes[4..];
    // Normal 3-bit values until `len` items have ended (each item ends with a 0).
    let mut normal = Vec::new();
    let mut ended = 0;
    while ended < len {
        let v = unpack(body, normal.len(), 3).ok_or_else(|| bad("truncated"))?;
        if v == 0 {
            ended += 1;
        }
        normal.push(v);
    }
    let exc_start = (normal.len() * 3).div_ceil(8);
    let exc = body.get(exc_start..).ok_or_else(|| bad("truncated"))?;
    let mut exc_i = 0;
    let mut items = Vec::with_capacity(len);
    let (mut item, mut last_bit, mut prev) = (0u32, 0u32, 0u32);
    for v in normal {
        if v == 0 {
            prev ^= item;
            items.push(prev);
            item = 0;
            last_bit = 0;
            continue;
        }
        let mut delta = u32::from(v);
        if v == 7 {
            delta += u32::from(unpack(exc, exc_i, 5).ok_or_else(|| bad("truncated"))?);
            exc_i += 1;
        }
        last_bit += delta;
        if last_bit == 0 || last_bit > 32 {
            return Err(bad("bit index out of range"));
        }
        item |= 1 << (last_bit - 1);
    }
    Ok(items)
}

/// How two fingerprints line up best.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Alignment {
    /// Items of `b` that start later than `a` (negative: `b` starts earlier).
    pub offset: i64,
    /// Items compared.
    pub overlap: usize,
    /// Share of differing bits over the overlap (0 = identical, ~0.5 = unrelated).
    pub bit_error: f32,
}

impl Alignment {
    pub fn offset_secs(&self) -> f32 {
        self.offset as f32 / items_per_sec()
    }
}

fn bit_error(a: &[u32], b: &[u32], offset: i64) -> Option<(usize, f32)> {
    // a[i] lines up with b[i - offset].
    let start = offset.max(0) as usize;
    let end = (b.len() as i64 + offset).min(a.len() as i64);
    if end <= start as i64 {
        return None;
    }
    let end = end as usize;
    let bits: u32 = (start..end)
        .map(|i| (a[i] ^ b[(i as i64 - offset) as usize]).count_ones())
        .sum();
    let n = end - start;
    Some((n, bits as f32 / (32 * n) as f32))
}

/// Bits of an item used to vote for alignments.
const ALIGN_SHIFT: u32 = 20;

/// The best alignment of two fingerprints: offsets voted for by items whose top bits agree
/// (plus offset 0), each checked by its bit error; the lowest wins. `None` if either is empty.
///
/// ```
/// use songrec_identity::fingerprint::compare;
/// let a: Vec<u32> = (0..200u32).map(|i| i.wrapping_mul(2654435761)).collect();
/// let al = compare(&a, &a[30..]).unwrap();
/// assert_eq!((al.offset, al.overlap, al.bit_error), (30, 170, 0.0));
/// ```
pub fn compare(a: &[u32], b: &[u32]) -> Option<Alignment> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut keyed: Vec<(u32, usize)> = b
        .iter()
        .enumerate()
        .map(|(j, x)| (x >> ALIGN_SHIFT, j))
        .collect();
    keyed.sort_unstable();
    let mut votes = vec![0u32; a.len() + b.len()];
    for (i, x) in a.iter().enumerate() {
        let key = x >> ALIGN_SHIFT;
        let lo = keyed.partition_point(|&(k, _)| k < key);
        for &(k, j) in &keyed[lo..] {
            if k != key {
                break;
            }
            votes[i + b.len() - j] += 1;
        }
    }
    let mut cands: Vec<(u32, i64)> = votes
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > 0)
        .map(|(o, v)| (*v, o as i64 - b.len() as i64))
        .collect();
    cands.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.abs().cmp(&y.1.abs())));
    cands.truncate(4);
    let mut offsets: Vec<i64> = cands.iter().map(|c| c.1).collect();
    offsets.push(0);
    let found: Vec<Alignment> = offsets
        .into_iter()
        .filter_map(|o| {
            bit_error(a, b, o).map(|(overlap, bit_error)| Alignment {
                offset: o,
                overlap,
                bit_error,
            })
        })
        .collect();
    // A few overlapping items can agree by chance: prefer alignments covering at least half
    // of the shorter fingerprint.
    let shorter = a.len().min(b.len());
    let wide: Vec<Alignment> = found
        .iter()
        .copied()
        .filter(|al| al.overlap * 2 >= shorter)
        .collect();
    let pool = if wide.is_empty() { found } else { wide };
    pool.into_iter().min_by(|x, y| {
        x.bit_error
            .total_cmp(&y.bit_error)
            .then(y.overlap.cmp(&x.overlap))
    })
}

/// Whether an alignment of fingerprints of `len_a` and `len_b` items shows the same recording:
/// few differing bits over at least half of the shorter one (and at least ~5 s of it).
pub fn same_recording(al: &Alignment, len_a: usize, len_b: usize) -> bool {
    let shorter = len_a.min(len_b);
    let min_items = ((5.0 * items_per_sec()) as usize).min(shorter);
    al.bit_error <= MAX_BIT_ERROR && al.overlap * 2 >= shorter && al.overlap >= min_items.max(1)
}

/// (position, top 20 bits) of a fingerprint's items, a held note or silence (one value
/// repeated) counted once.
fn keys(fp: &[u32]) -> impl Iterator<Item = (usize, u32)> + '_ {
    let mut prev = None;
    fp.iter().enumerate().filter_map(move |(p, &x)| {
        let key = x >> 12;
        (prev.replace(key) != Some(key)).then_some((p, key))
    })
}

/// Pairs worth comparing. Small sets: every pair. Larger ones: pairs that share several
/// fingerprint items (top 20 bits) at a consistent offset, found through an inverted index, so
/// the work grows with the library rather than with its square.
pub fn candidate_pairs(fps: &[Vec<u32>]) -> Vec<(usize, usize)> {
    const ALL_PAIRS_UP_TO: usize = 150;
    const MAX_POSTINGS: usize = 256;
    const MIN_VOTES: u32 = 3;
    let n = fps.len();
    if n <= ALL_PAIRS_UP_TO {
        return (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
            .collect();
    }
    let mut index: HashMap<u32, Vec<(u32, u32)>> = HashMap::new();
    for (s, fp) in fps.iter().enumerate() {
        for (p, key) in keys(fp) {
            index.entry(key).or_default().push((s as u32, p as u32));
        }
    }
    index.retain(|_, v| v.len() <= MAX_POSTINGS);
    let mut pairs = Vec::new();
    let mut votes: Vec<(u32, i64)> = Vec::new();
    for (s, fp) in fps.iter().enumerate() {
        votes.clear();
        for (p, key) in keys(fp) {
            for &(t, q) in index.get(&key).into_iter().flatten() {
                if (t as usize) > s {
                    votes.push((t, p as i64 - i64::from(q)));
                }
            }
        }
        votes.sort_unstable();
        for run in votes.chunk_by(|x, y| x.0 == y.0) {
            // Votes at offsets o and o + 1 together (a trimmed copy falls between items).
            let mut best = 0u32;
            let mut a = 0;
            for b in 0..run.len() {
                while run[b].1 - run[a].1 > 1 {
                    a += 1;
                }
                best = best.max((b - a + 1) as u32);
            }
            if best >= MIN_VOTES {
                pairs.push((s, run[0].0 as usize));
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use songrec_storage::rng::SplitMix;

    /// The definitions `to_i16` and `pcm_hash` replace, as they were written first.
    fn to_i16_reference(x: f32) -> i16 {
        (x.clamp(-1.0, 1.0) * 32767.0).round() as i16
    }

    #[test]
    fn to_i16_rounds_as_f32_round_on_a_sweep_of_inputs() {
        // Every 251st bit pattern (both signs, NaNs and infinities included), then the values
        // that scale to a half and their neighbours.
        let sweep = (0..=u32::MAX / 251).map(|i| f32::from_bits(i * 251));
        let halves = (-32768i32..=32768).flat_map(|k| {
            let half = (k as f32 + 0.5) / 32767.0;
            (-2i32..=2).map(move |d| f32::from_bits(half.to_bits().wrapping_add_signed(d)))
        });
        let specials = [
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
            1.0,
            -1.0,
        ];
        let all: Vec<f32> = sweep.chain(halves).chain(specials).collect();
        for &x in &all {
            assert_eq!(to_i16(x), to_i16_reference(x), "{x:e} ({:#x})", x.to_bits());
        }
        // And every vector path this CPU has, over lengths that leave a tail.
        type Convert = fn(&[f32], &mut [i16]);
        let mut paths: Vec<(&str, Convert)> =
            vec![("dispatch", to_i16_all), ("portable", to_i16_portable)];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                // SAFETY: the CPU has the features.
                paths.push(("avx512", |s, d| unsafe { to_i16_avx512(s, d) }));
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: as above.
                paths.push(("avx2", |s, d| unsafe { to_i16_avx2(s, d) }));
            }
        }
        let want: Vec<i16> = all.iter().map(|&x| to_i16_reference(x)).collect();
        for (name, path) in paths {
            let mut got = vec![0i16; all.len()];
            for (src, dst) in all.chunks(4093).zip(got.chunks_mut(4093)) {
                path(src, dst);
            }
            if let Some(i) = (0..all.len()).find(|&i| got[i] != want[i]) {
                panic!(
                    "{name}: {:e} ({:#x}) gave {}, not {}",
                    all[i],
                    all[i].to_bits(),
                    got[i],
                    want[i]
                );
            }
        }
    }

    #[test]
    fn pcm_hash_is_the_hash_of_one_update_per_sample() {
        let mut r = SplitMix::new(7);
        let segment = |start_secs: f64, n: usize, r: &mut SplitMix| songrec_audio::Segment {
            start_secs,
            samples: (0..n).map(|_| r.next_signed() * 1.2).collect(),
        };
        let audio = MonoAudio {
            sample_rate: 44_100,
            // Lengths below, at and above the chunk, and an empty segment.
            segments: vec![
                segment(0.0, 4096 * 3 + 17, &mut r),
                segment(15.0, 0, &mut r),
                segment(30.5, 4096, &mut r),
                segment(60.0, 5, &mut r),
            ],
        };
        let mut h = Sha256::new();
        h.update(audio.sample_rate.to_le_bytes());
        for s in &audio.segments {
            h.update(s.start_secs.to_le_bytes());
            for &x in &s.samples {
                h.update(to_i16_reference(x).to_le_bytes());
            }
        }
        assert_eq!(pcm_hash(&audio), hex::encode(h.finalize()));
    }

    #[test]
    fn codec_round_trips_and_matches_chromaprint_layout() {
        let mut r = SplitMix::new(1);
        for len in [0usize, 1, 2, 7, 100, 1000] {
            // Realistic items change a few bits at a time; also fully random ones.
            let mut x = r.next_u64() as u32;
            let items: Vec<u32> = (0..len)
                .map(|i| {
                    if i % 5 == 0 {
                        x = r.next_u64() as u32;
                    } else {
                        x ^= 1 << (r.next_u64() % 32);
                    }
                    x
                })
                .collect();
            let s = encode(&items);
            assert_eq!(decode(&s).unwrap(), items, "len {len}");
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&s)
                .unwrap();
            assert_eq!(raw[0], 1, "algorithm id of Chromaprint's default");
            assert_eq!(
                (usize::from(raw[2]) << 8) | usize::from(raw[3]),
                len,
                "item count in the header"
            );
        }
        assert!(decode("AQAAAw").is_err(), "header says 3 items, no body");
    }

    #[test]
    fn compare_finds_offsets_and_tolerates_bit_noise() {
        let mut r = SplitMix::new(2);
        let a: Vec<u32> = (0..400).map(|_| r.next_u64() as u32).collect();
        // b = a from item 50 on, with ~5 % of bits flipped.
        let b: Vec<u32> = a[50..]
            .iter()
            .map(|&x| {
                let mut y = x;
                for bit in 0..32 {
                    if r.next_f64() < 0.05 {
                        y ^= 1 << bit;
                    }
                }
                y
            })
            .collect();
        let al = compare(&a, &b).unwrap();
        assert_eq!(al.offset, 50);
        assert_eq!(al.overlap, 350);
        assert!((al.bit_error - 0.05).abs() < 0.01, "{}", al.bit_error);
        assert!(same_recording(&al, a.len(), b.len()));
        // Reversed roles: negative offset.
        let back = compare(&b, &a).unwrap();
        assert_eq!(back.offset, -50);
        // Unrelated fingerprints: about half the bits differ.
        let c: Vec<u32> = (0..400).map(|_| r.next_u64() as u32).collect();
        let al = compare(&a, &c).unwrap();
        assert!(al.bit_error > 0.4, "{}", al.bit_error);
        assert!(!same_recording(&al, a.len(), c.len()));
        assert!(compare(&a, &[]).is_none());
    }
}
