//! Unit tests of the excerpt planning and the collector.

use super::collector::{Collector, Plan};
use super::*;

#[test]
fn windows_are_evenly_spaced_and_bounded() {
    let opts = DecodeOptions::default();
    let rate = 48_000;
    let total = 2 * 3600 * rate as u64;
    let w = plan_windows(total, rate, &opts);
    assert_eq!(w.len(), 8);
    let len = 30 * rate as u64;
    for (i, &(s, e)) in w.iter().enumerate() {
        assert_eq!(e - s, len);
        assert!(e <= total);
        let center = (s + e) / 2;
        let expect = (2 * i as u64 + 1) * total / 16;
        assert!(center.abs_diff(expect) <= 1);
    }
}

#[test]
fn reservoir_keeps_bounded_evenly_spaced_chunks() {
    let rate = 1000;
    let mut c = Collector::new(
        Plan::Reservoir {
            chunk: 1000,
            max: 4,
            stride: 1,
        },
        rate,
    );
    // 20 chunks of 1 s fed in odd-sized pieces.
    let data = vec![0.1f32; 20_000];
    let mut pos = 0;
    for piece in data.chunks(777) {
        c.push(pos, piece);
        pos += piece.len() as u64;
    }
    let (segs, _) = c.finish();
    assert!(segs.len() <= 4 && segs.len() >= 2, "{} chunks", segs.len());
    let starts: Vec<f64> = segs.iter().map(|s| s.start_secs).collect();
    // Stride became 8 chunks: kept chunk starts 0, 8, 16.
    assert_eq!(starts, vec![0.0, 8.0, 16.0]);
    for s in &segs {
        // 1 s at 1 kHz resampled to 22.05 kHz.
        assert_eq!(s.samples.len(), 22_050);
    }
}

#[test]
fn huge_declared_lengths_do_not_overflow() {
    let opts = DecodeOptions::default();
    for total in [u64::MAX, u64::MAX / 3, 1 << 62] {
        let w = plan_windows(total, 48_000, &opts);
        assert_eq!(w.len(), 8);
        for (i, &(s, e)) in w.iter().enumerate() {
            assert!(s < e && e <= total, "{total}: window {i} = {s}..{e}");
            let expect = (u128::from(2 * i as u64 + 1) * u128::from(total) / 16) as u64;
            assert!((s + (e - s) / 2).abs_diff(expect) <= 1);
        }
    }
    // Frames near the end of the u64 range are routed without overflow.
    let mut c = Collector::new(
        Plan::Reservoir {
            chunk: 1000,
            max: 4,
            stride: 1,
        },
        22_050,
    );
    c.push(u64::MAX - 10, &[0.5; 100]);
    let mut w = Collector::new(Plan::Windows(vec![(u64::MAX - 50, u64::MAX)]), 22_050);
    w.push(u64::MAX - 10, &[0.5; 100]);
    assert_eq!(w.finish().0.len(), 1);
}

/// A file declared short whose stream goes on: what is held stays within the budget.
#[test]
fn a_header_that_understates_the_length_cannot_grow_the_buffer() {
    let rate = 22_050;
    let opts = DecodeOptions {
        max_analysed_secs: 20.0,
        excerpt_secs: 5.0,
        ..DecodeOptions::default()
    };
    let chunk = 5 * rate as u64;
    let mut c = Collector::new(Plan::full(chunk, &opts), rate);
    // 10 minutes of audio in 1152-frame packets (the header said 10 s).
    let packet = vec![0.25f32; 1152];
    let mut frame = 0u64;
    while frame < 600 * rate as u64 {
        c.push(frame, &packet);
        frame += packet.len() as u64;
    }
    let (segs, peak) = c.finish();
    assert!(
        peak <= opts.max_buffered_samples(),
        "peak {peak} > bound {}",
        opts.max_buffered_samples()
    );
    let held: usize = segs.iter().map(|s| s.samples.len()).sum();
    assert!(held <= opts.max_buffered_samples());
    // Excerpts spread over the whole stream, not only its first 20 s.
    assert!(
        segs.len() >= 2 && segs.len() <= 4,
        "{} excerpts",
        segs.len()
    );
    let last = segs.last().unwrap().start_secs;
    assert!(last > 300.0, "last excerpt at {last} s");
    assert_eq!(segs[0].start_secs, 0.0);
    for w in segs.windows(2) {
        assert!(w[0].start_secs < w[1].start_secs);
    }
}

/// A file declared short that is short: decoded completely, in one segment, as before.
#[test]
fn a_short_file_within_the_budget_stays_one_segment() {
    let rate = 22_050;
    let opts = DecodeOptions::default();
    let chunk = 30 * rate as u64;
    let mut c = Collector::new(Plan::full(chunk, &opts), rate);
    let data: Vec<f32> = (0..240 * rate).map(|i| (i % 97) as f32).collect();
    for (k, piece) in data.chunks(1152).enumerate() {
        c.push((k * 1152) as u64, piece);
    }
    let (segs, peak) = c.finish();
    assert_eq!(segs.len(), 1);
    assert_eq!(segs[0].samples, data, "same rate: samples pass through");
    assert_eq!(peak, data.len());
}

#[test]
fn windows_collector_cuts_exactly() {
    let rate = 22_050;
    let mut c = Collector::new(Plan::Windows(vec![(100, 1100), (5000, 5500)]), rate);
    let data: Vec<f32> = (0..10_000).map(|i| i as f32).collect();
    for (k, piece) in data.chunks(333).enumerate() {
        c.push((k * 333) as u64, piece);
    }
    let (segs, _) = c.finish();
    assert_eq!(segs.len(), 2);
    assert_eq!(segs[0].samples.len(), 1000);
    assert_eq!(segs[0].samples[0], 100.0);
    assert_eq!(segs[1].samples.len(), 500);
    assert_eq!(segs[1].samples[499], 5499.0);
}
