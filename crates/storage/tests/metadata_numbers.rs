//! Metadata's numbers come back bit for bit through every JSON path songrec uses.

use proptest::prelude::*;
use serde_json::{Value, json};
use songrec_conformance::float_bits;
use songrec_conformance::floats::{f32_cases, f64_cases, halfway_decimals};
use songrec_storage::{SongId, SongMetadata};

fn with_numbers(duration: f64, bpm: Option<f32>, extra: &[f64]) -> SongMetadata {
    let mut m = SongMetadata::new(SongId::from_bytes(b"numbers"), "Numbers");
    m.duration_secs = duration;
    m.bpm = bpm;
    m.extra.insert("floats".into(), json!(extra));
    m.extra.insert(
        "nested".into(),
        json!({"x": extra.first().copied().unwrap_or(0.5)}),
    );
    m
}

/// Every way songrec turns metadata into JSON and back: text (metadata.json, the journal,
/// the Astra document's `meta` field, the offline copy), a `Value` (the Data API client's
/// documents, sync records), and text parsed into a `Value` first.
fn assert_round_trips(m: &SongMetadata) {
    let text = serde_json::to_string(m).expect("serialise");
    let back: SongMetadata = serde_json::from_str(&text).expect("parse");
    assert_eq!(float_bits(&back), float_bits(m), "text: {text}");
    let value = serde_json::to_value(m).expect("to_value");
    let back: SongMetadata = serde_json::from_value(value).expect("from_value");
    assert_eq!(float_bits(&back), float_bits(m), "value");
    let parsed: Value = serde_json::from_str(&text).expect("parse value");
    let back: SongMetadata = serde_json::from_value(parsed).expect("from parsed value");
    assert_eq!(float_bits(&back), float_bits(m), "text via value");
    let pretty = serde_json::to_vec_pretty(m).expect("pretty");
    let back: SongMetadata = serde_json::from_slice(&pretty).expect("parse pretty");
    assert_eq!(float_bits(&back), float_bits(m), "pretty");
}

#[test]
fn the_issues_numbers_come_back_unchanged() {
    for d in [12.023219954648527, 0.15070294784580499] {
        let m = with_numbers(d, Some(117.453_28), &[d]);
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains(&format!("\"duration_secs\":{d:?}")), "{text}");
        let back: SongMetadata = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back.duration_secs.to_bits(),
            d.to_bits(),
            "{d} came back as {}",
            back.duration_secs
        );
        assert_round_trips(&m);
    }
}

#[test]
fn awkward_and_sampled_floats_round_trip() {
    let f32s = f32_cases(11, 500);
    for (i, d) in f64_cases(7, 500).into_iter().enumerate() {
        let b = f32s[i % f32s.len()];
        assert_round_trips(&with_numbers(d, Some(b), &[d, -d, d / 3.0]));
    }
}

#[test]
fn halfway_decimals_parse_to_the_nearest_float() {
    for x in f64_cases(5, 300) {
        for (text, want) in halfway_decimals(x) {
            let direct: f64 = serde_json::from_str(&text).expect("parse");
            assert_eq!(direct.to_bits(), want.to_bits(), "{text}");
            let v: Value = serde_json::from_str(&format!("{{\"d\":{text}}}")).expect("parse");
            let got = v["d"].as_f64().expect("number");
            assert_eq!(got.to_bits(), want.to_bits(), "{text} via Value");
            let m: SongMetadata = serde_json::from_str(&format!(
                "{{\"id\":\"{}\",\"title\":\"t\",\"duration_secs\":{text}}}",
                SongId::from_bytes(b"h")
            ))
            .expect("parse metadata");
            assert_eq!(
                m.duration_secs.to_bits(),
                want.to_bits(),
                "{text} in metadata"
            );
        }
    }
}

#[test]
fn f32_narrowing_from_f64_is_exact_around_halfway_points() {
    // Metadata's `bpm` (an f32) is read through an f64 (serde's buffered `flatten` content,
    // `Value`): the shortest f32 text is parsed to the nearest f64, then narrowed. Values
    // one f64 step either side of an f32 midpoint narrow to the nearer f32; the midpoint
    // itself to the even one.
    for x in f32_cases(13, 2000) {
        if x.abs() == f32::MAX {
            continue;
        }
        let up = f32::from_bits(x.to_bits() + 1);
        let mid = (f64::from(x) + f64::from(up)) / 2.0;
        let even = if x.to_bits() % 2 == 0 { x } else { up };
        assert_eq!((mid as f32).to_bits(), even.to_bits(), "{x} midpoint");
        let toward_x = if mid > 0.0 {
            mid.next_down()
        } else {
            mid.next_up()
        };
        let toward_up = if mid > 0.0 {
            mid.next_up()
        } else {
            mid.next_down()
        };
        assert_eq!((toward_x as f32).to_bits(), x.to_bits(), "{x} just inside");
        assert_eq!((toward_up as f32).to_bits(), up.to_bits(), "{x} just past");
    }
}

#[test]
fn non_finite_numbers_are_named() {
    let mut m = with_numbers(1.5, None, &[]);
    assert_eq!(m.check_finite(), Ok(()));
    m.duration_secs = f64::NAN;
    let e = m.check_finite().unwrap_err();
    assert_eq!(e.field, "duration_secs");
    assert!(e.value.is_nan());
    let s = e.into_storage_error().to_string();
    assert!(
        s.contains("duration_secs is NaN") && s.contains("nothing was written"),
        "{s}"
    );
    m.duration_secs = 1.0;
    m.bpm = Some(f32::NEG_INFINITY);
    assert_eq!(m.check_finite().unwrap_err().field, "bpm");
    // serde_json values cannot hold NaN: `json!` turns it into null, which is storable.
    m.bpm = None;
    m.extra.insert("x".into(), json!([1.0, f64::NAN]));
    assert_eq!(m.check_finite(), Ok(()));
    assert_eq!(m.extra["x"], json!([1.0, null]));
}

fn any_finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        (0u64..(1 << 52)).prop_map(f64::from_bits),
        (0u64..(1 << 53)).prop_map(|m| m as f64 / (1u64 << 53) as f64 * 600.0),
    ]
    .prop_filter("finite", |x| x.is_finite())
}

fn any_finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<u32>().prop_map(f32::from_bits),
        (0u32..(1 << 23)).prop_map(f32::from_bits),
    ]
    .prop_filter("finite", |x| x.is_finite())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_finite_number_round_trips_bit_for_bit(
        d in any_finite_f64(),
        b in any_finite_f32(),
        xs in proptest::collection::vec(any_finite_f64(), 0..4),
    ) {
        assert_round_trips(&with_numbers(d, Some(b), &xs));
    }

    #[test]
    fn near_halfway_texts_parse_correctly(x in any_finite_f64()) {
        for (text, want) in halfway_decimals(x) {
            let got: f64 = serde_json::from_str(&text).expect("parse");
            prop_assert_eq!(got.to_bits(), want.to_bits(), "{}", text);
        }
    }
}
