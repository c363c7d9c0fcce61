//! Why two songs match, in words a listener understands: "same key (A minor), tempo 122 vs
//! 124 bpm, both tagged electronic/dance".
//!
//! Pure functions over two songs' metadata: key and tempo come from the DSP analysis stored with
//! each song, timbre and energy from its descriptors (`extra.descriptors`), style from the
//! neural model's tags (`extra.style_tags`). Aspects with no data on either side are left out.

use serde::Serialize;
use songrec_storage::SongMetadata;

use crate::extra::style_tags_of;

/// One aspect of a comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Aspect {
    /// `key`, `tempo`, `timbre`, `energy` or `style`.
    pub aspect: &'static str,
    /// Whether the songs agree on it.
    pub agrees: bool,
    /// A short phrase, e.g. "same key (A minor)".
    pub text: String,
}

/// A match explained.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// Agreeing aspects first, then the differences.
    pub aspects: Vec<Aspect>,
    /// The aspects joined into one line.
    pub summary: String,
}

/// Explains why `m` matched query `q`.
pub fn explain(q: &SongMetadata, m: &SongMetadata) -> Explanation {
    let mut aspects: Vec<Aspect> = key_aspect(q.key.as_deref(), m.key.as_deref())
        .into_iter()
        .collect();
    aspects.extend(q.bpm.zip(m.bpm).map(|(a, b)| tempo_aspect(a, b)));
    let (dq, dm) = (descriptors(q), descriptors(m));
    if let (Some(dq), Some(dm)) = (&dq, &dm) {
        aspects.extend(timbre_aspect(dq, dm));
        aspects.extend(energy_aspect(dq, dm));
    }
    aspects.extend(style_aspect(&style_tags_of(q), &style_tags_of(m)));
    // Stable: agreeing aspects first, each group in the order above.
    aspects.sort_by_key(|a| !a.agrees);
    let texts: Vec<&str> = aspects.iter().map(|a| a.text.as_str()).collect();
    let summary = texts.join(", ");
    Explanation { aspects, summary }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Desc {
    centroid_hz: f32,
    flatness_db: f32,
    loudness_db: f32,
    dynamic_range_db: f32,
    onset_rate: f32,
}

fn descriptors(m: &SongMetadata) -> Option<Desc> {
    let d = m.extra.get("descriptors")?.as_object()?;
    let f = |k: &str| d.get(k).and_then(|v| v.as_f64()).map(|x| x as f32);
    let analysed = f("analysed_secs").unwrap_or(0.0);
    if analysed <= 0.0 {
        return None;
    }
    Some(Desc {
        centroid_hz: f("centroid_hz")?,
        flatness_db: f("flatness_db").unwrap_or(0.0),
        loudness_db: f("loudness_db")?,
        dynamic_range_db: f("dynamic_range_db").unwrap_or(0.0),
        onset_rate: f("onset_rate").unwrap_or(0.0),
    })
}

/// Parses "A minor", "F# major", "Bbm" into (pitch class, is_minor).
fn parse_key(k: &str) -> Option<(usize, bool)> {
    let norm = crate::musickey::normalize(k).ok()?;
    let mut it = norm.split_whitespace();
    let tonic = it.next()?;
    let minor = matches!(it.next(), Some("minor"));
    let pc = crate::musickey::NOTES.iter().position(|n| *n == tonic)?;
    Some((pc, minor))
}

impl Aspect {
    fn new(aspect: &'static str, agrees: bool, text: String) -> Self {
        Self {
            aspect,
            agrees,
            text,
        }
    }
}

fn key_aspect(a: Option<&str>, b: Option<&str>) -> Option<Aspect> {
    let (ka, kb) = (a?, b?);
    let (pa, ma) = parse_key(ka)?;
    let (pb, mb) = parse_key(kb)?;
    let (agrees, text) = if pa == pb && ma == mb {
        (true, format!("same key ({ka})"))
    } else if ma != mb && {
        // Relative keys: the minor tonic is three semitones below the major one.
        let (major, minor) = if ma { (pb, pa) } else { (pa, pb) };
        (minor + 3) % 12 == major
    } {
        (true, format!("relative keys ({ka} / {kb})"))
    } else if ma == mb && ((pa + 7) % 12 == pb || (pb + 7) % 12 == pa) {
        (true, format!("neighbouring keys ({ka} / {kb})"))
    } else if pa == pb {
        (true, format!("parallel keys ({ka} / {kb})"))
    } else {
        (false, format!("different keys ({ka} vs {kb})"))
    };
    Some(Aspect::new("key", agrees, text))
}

/// A tempo as songrec shows it, in whole beats per minute: halves round up (186.5 → 187),
/// everywhere a tempo is printed (the command line, explanations) and as the web page's
/// `Math.round` does (`crates/server/web/app.js`), so one song never shows two tempos.
pub fn whole_bpm(bpm: f32) -> u32 {
    bpm.max(0.0).round() as u32
}

fn tempo_aspect(a: f32, b: f32) -> Aspect {
    let close = |x: f32, y: f32| (x - y).abs() <= 0.04 * x.max(y);
    let (shown_a, shown_b) = (whole_bpm(a), whole_bpm(b));
    let tempi = format!("{shown_a} vs {shown_b} bpm");
    let (agrees, text) = if close(a, b) {
        (true, format!("tempo {tempi}"))
    } else if close(a * 2.0, b) || close(a, b * 2.0) {
        (true, format!("tempo {tempi} (half/double time)"))
    } else {
        (false, format!("different tempo ({tempi})"))
    };
    Aspect::new("tempo", agrees, text)
}

fn brightness_word(hz: f32) -> &'static str {
    match hz {
        x if x < 1000.0 => "dark",
        x if x < 2500.0 => "warm",
        x if x < 4500.0 => "bright",
        _ => "very bright",
    }
}

fn timbre_aspect(a: &Desc, b: &Desc) -> Vec<Aspect> {
    let (ca, cb) = (a.centroid_hz.max(1.0), b.centroid_hz.max(1.0));
    let ratio = ca.max(cb) / ca.min(cb);
    let (ka, kb) = (ca / 1000.0, cb / 1000.0);
    let (wa, wb) = (brightness_word(ca), brightness_word(cb));
    let (agrees, text) = if ratio <= 1.25 {
        let both = brightness_word((ca + cb) / 2.0);
        let text = format!("similar timbre (both {both}, brightness {ka:.1} vs {kb:.1} kHz)");
        (true, text)
    } else if wa == wb {
        // Apart in brightness but in the same band: that reads as agreement, never "warm vs warm".
        (
            true,
            format!("both {wa} (brightness {ka:.1} kHz vs {kb:.1} kHz)"),
        )
    } else {
        (
            false,
            format!("{wa} vs {wb} sound ({ka:.1} kHz vs {kb:.1} kHz)"),
        )
    };
    let mut out = vec![Aspect::new("timbre", agrees, text)];
    // Noisy (drums, distortion) vs tonal (pads, strings): flatness near 0 dB is noise-like.
    let noisy = |d: &Desc| d.flatness_db > -20.0;
    let busy = |d: &Desc| d.onset_rate > 4.0;
    if noisy(a) == noisy(b) && a.onset_rate > 0.0 && b.onset_rate > 0.0 && busy(a) == busy(b) {
        let both = match (noisy(a), busy(a)) {
            (true, true) => "noisy and busy (percussive)",
            (true, false) => "noisy and sparse",
            (false, true) => "tonal and busy",
            (false, false) => "tonal and sparse",
        };
        out.push(Aspect::new("timbre", true, format!("both {both}")));
    }
    out
}

fn energy_aspect(a: &Desc, b: &Desc) -> Vec<Aspect> {
    let (la, lb) = (a.loudness_db, b.loudness_db);
    let word = |db: f32| match db {
        x if x > -12.0 => "loud",
        x if x > -20.0 => "moderate",
        _ => "quiet",
    };
    let (agrees, text) = if (la - lb).abs() <= 3.0 {
        (true, format!("similar energy ({la:.0} vs {lb:.0} dBFS)"))
    } else if word(la) == word(lb) {
        (false, format!("energy differs ({la:.0} vs {lb:.0} dBFS)"))
    } else {
        let (wa, wb) = (word(la), word(lb));
        (false, format!("{wa} vs {wb} ({la:.0} vs {lb:.0} dBFS)"))
    };
    let mut out = vec![Aspect::new("energy", agrees, text)];
    let (da, db) = (a.dynamic_range_db, b.dynamic_range_db);
    if (da - db).abs() > 10.0 {
        let text = format!("dynamics differ ({da:.0} vs {db:.0} dB range)");
        out.push(Aspect::new("energy", false, text));
    }
    out
}

/// Tags strong enough to speak of: the top five above 0.1.
fn strong(tags: &[(String, f32)]) -> Vec<&str> {
    let mut t: Vec<&(String, f32)> = tags.iter().filter(|(_, p)| *p >= 0.1).collect();
    t.sort_by(|a, b| b.1.total_cmp(&a.1));
    t.into_iter().take(5).map(|(n, _)| n.as_str()).collect()
}

fn style_aspect(a: &[(String, f32)], b: &[(String, f32)]) -> Option<Aspect> {
    let (sa, sb) = (strong(a), strong(b));
    if sa.is_empty() || sb.is_empty() {
        return None;
    }
    let shared: Vec<&str> = sa
        .iter()
        .copied()
        .filter(|t| sb.contains(t))
        .take(3)
        .collect();
    Some(if shared.is_empty() {
        Aspect::new("style", false, format!("tagged {} vs {}", sa[0], sb[0]))
    } else {
        Aspect::new("style", true, format!("both tagged {}", shared.join("/")))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn doc_whole_bpm() {
        use crate::explain::whole_bpm;
        assert_eq!(
            (whole_bpm(186.5), whole_bpm(187.5), whole_bpm(120.49)),
            (187, 188, 120)
        );
    }

    use super::*;
    use songrec_storage::SongId;

    fn song(key: Option<&str>, bpm: Option<f32>) -> SongMetadata {
        let mut m = SongMetadata::new(SongId::from_bytes(b"x"), "x");
        m.key = key.map(str::to_owned);
        m.bpm = bpm;
        m
    }

    fn with_desc(mut m: SongMetadata, centroid: f32, loud: f32) -> SongMetadata {
        m.extra.insert(
            "descriptors".into(),
            serde_json::json!({"centroid_hz": centroid, "loudness_db": loud, "flatness_db": -30.0,
                "dynamic_range_db": 10.0, "onset_rate": 2.0, "analysed_secs": 30.0}),
        );
        m
    }

    fn with_tags(mut m: SongMetadata, tags: &[(&str, f32)]) -> SongMetadata {
        let t: Vec<(String, f32)> = tags.iter().map(|(n, p)| ((*n).into(), *p)).collect();
        m.extra
            .insert("style_tags".into(), crate::extra::style_tags_value(&t));
        m
    }

    #[test]
    fn keys() {
        let k = |a, b| key_aspect(Some(a), Some(b)).unwrap();
        assert!(k("A minor", "Am").agrees);
        assert_eq!(k("A minor", "A minor").text, "same key (A minor)");
        assert_eq!(
            k("C major", "A minor").text,
            "relative keys (C major / A minor)"
        );
        assert!(k("C major", "G major").text.starts_with("neighbouring"));
        assert!(k("A major", "A minor").text.starts_with("parallel"));
        let d = k("C major", "F# minor");
        assert!(!d.agrees);
        assert_eq!(d.text, "different keys (C major vs F# minor)");
        assert!(key_aspect(Some("nonsense"), Some("C major")).is_none());
        assert!(key_aspect(None, Some("C major")).is_none());
    }

    #[test]
    fn same_brightness_band_reads_as_agreement() {
        let desc = |c: f32| Desc {
            centroid_hz: c,
            flatness_db: -30.0,
            loudness_db: -12.0,
            dynamic_range_db: 10.0,
            onset_rate: 0.0,
        };
        // 1.1 and 2.4 kHz: both "warm", but more than 25 % apart.
        let t = &timbre_aspect(&desc(1100.0), &desc(2400.0))[0];
        assert!(t.agrees, "{}", t.text);
        assert_eq!(t.text, "both warm (brightness 1.1 kHz vs 2.4 kHz)");
        assert!(!t.text.contains(" vs warm"));
        let d = &timbre_aspect(&desc(800.0), &desc(3000.0))[0];
        assert!(!d.agrees);
        assert_eq!(d.text, "dark vs bright sound (0.8 kHz vs 3.0 kHz)");
    }

    #[test]
    fn tempi() {
        assert!(tempo_aspect(122.0, 124.0).agrees);
        let h = tempo_aspect(61.0, 122.0);
        assert!(h.agrees && h.text.contains("half/double"));
        let d = tempo_aspect(90.0, 128.0);
        assert!(!d.agrees);
        assert_eq!(d.text, "different tempo (90 vs 128 bpm)");
    }

    #[test]
    fn full_explanation_orders_agreement_first() {
        let q = with_tags(
            with_desc(song(Some("A minor"), Some(122.0)), 1800.0, -10.0),
            &[("electronic", 0.7), ("dance", 0.5), ("rock", 0.05)],
        );
        let m = with_tags(
            with_desc(song(Some("E major"), Some(124.0)), 2000.0, -25.0),
            &[("dance", 0.6), ("electronic", 0.4), ("techno", 0.3)],
        );
        let e = explain(&q, &m);
        let texts: Vec<&str> = e.aspects.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "tempo 122 vs 124 bpm",
                "similar timbre (both warm, brightness 1.8 vs 2.0 kHz)",
                "both tonal and sparse",
                "both tagged electronic/dance",
                "different keys (A minor vs E major)",
                "loud vs quiet (-10 vs -25 dBFS)",
            ]
        );
        assert!(
            e.summary
                .starts_with("tempo 122 vs 124 bpm, similar timbre")
        );
    }

    #[test]
    fn missing_data_is_left_out() {
        let e = explain(&song(None, None), &song(None, Some(120.0)));
        assert!(e.aspects.is_empty());
        assert_eq!(e.summary, "");
        // Descriptors of a neural-only analysis (nothing analysed) are ignored.
        let mut m = song(None, None);
        m.extra.insert(
            "descriptors".into(),
            serde_json::json!({"centroid_hz": 0.0, "loudness_db": 0.0, "analysed_secs": 0.0}),
        );
        assert!(descriptors(&m).is_none());
    }

    #[test]
    fn style_without_overlap() {
        let a = style_aspect(&[("rock".into(), 0.8)], &[("classical".into(), 0.9)]).unwrap();
        assert!(!a.agrees);
        assert_eq!(a.text, "tagged rock vs classical");
        assert!(style_aspect(&[("rock".into(), 0.05)], &[("rock".into(), 0.9)]).is_none());
    }
}
