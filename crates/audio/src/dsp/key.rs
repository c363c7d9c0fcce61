//! Key estimation (Krumhansl–Schmuckler with the Krumhansl–Kessler profiles).

/// Pitch-class names, C = 0.
pub const PITCH_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];
const MAJOR: [f32; 12] = [
    6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
];
const MINOR: [f32; 12] = [
    6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyEstimate {
    /// Tonic pitch class (C = 0).
    pub tonic: usize,
    pub minor: bool,
    /// Pearson correlation of the chroma with the winning profile (-1..1).
    pub correlation: f32,
    /// Winning correlation minus the best one of the other mode/tonic (ambiguity margin).
    pub margin: f32,
}

impl KeyEstimate {
    /// Name such as "A minor".
    ///
    /// ```
    /// use songrec_audio::dsp::key::KeyEstimate;
    /// let k = KeyEstimate { tonic: 9, minor: true, correlation: 0.8, margin: 0.1 };
    /// assert_eq!(k.name(), "A minor");
    /// ```
    pub fn name(&self) -> String {
        format!(
            "{} {}",
            PITCH_NAMES[self.tonic % 12],
            if self.minor { "minor" } else { "major" }
        )
    }
}

fn pearson(a: &[f32; 12], b: &[f32; 12]) -> f32 {
    let ma = a.iter().sum::<f32>() / 12.0;
    let mb = b.iter().sum::<f32>() / 12.0;
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for i in 0..12 {
        num += (a[i] - ma) * (b[i] - mb);
        da += (a[i] - ma) * (a[i] - ma);
        db += (b[i] - mb) * (b[i] - mb);
    }
    if da <= 1e-12 || db <= 1e-12 {
        0.0
    } else {
        num / (da * db).sqrt()
    }
}

/// Estimate the key of a pitch-class profile (any scale; C = index 0).
/// Returns `None` for an all-zero / flat profile.
///
/// ```
/// use songrec_audio::dsp::key::estimate_key;
/// // C major triad + scale weight.
/// let mut c = [0.0f32; 12];
/// for (pc, w) in [(0, 3.0), (4, 2.0), (7, 2.5), (2, 1.0), (5, 1.0), (9, 1.0), (11, 0.8)] { c[pc] = w; }
/// assert_eq!(estimate_key(&c).map(|k| k.name()).as_deref(), Some("C major"));
/// ```
pub fn estimate_key(chroma: &[f32; 12]) -> Option<KeyEstimate> {
    let mut scores: Vec<(f32, usize, bool)> = Vec::with_capacity(24);
    for tonic in 0..12 {
        for (minor, prof) in [(false, &MAJOR), (true, &MINOR)] {
            let mut rot = [0f32; 12];
            for i in 0..12 {
                rot[(i + tonic) % 12] = prof[i];
            }
            scores.push((pearson(chroma, &rot), tonic, minor));
        }
    }
    scores.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (c, tonic, minor) = scores[0];
    if c == 0.0 {
        return None;
    }
    Some(KeyEstimate {
        tonic,
        minor,
        correlation: c,
        margin: c - scores[1].0,
    })
}

/// Rotate a profile so that `tonic` becomes index 0 (key-relative pitch-class profile).
///
/// ```
/// let mut c = [0.0f32; 12]; c[9] = 1.0;
/// assert_eq!(songrec_audio::dsp::key::rotate_to(&c, 9)[0], 1.0);
/// ```
pub fn rotate_to(chroma: &[f32; 12], tonic: usize) -> [f32; 12] {
    let mut out = [0f32; 12];
    for (i, o) in out.iter_mut().enumerate() {
        *o = chroma[(i + tonic) % 12];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_map_to_their_own_keys() {
        for tonic in 0..12 {
            let maj = rotate_to(&MAJOR, (12 - tonic) % 12);
            let k = estimate_key(&maj).expect("key");
            assert_eq!((k.tonic, k.minor), (tonic, false));
            let min = rotate_to(&MINOR, (12 - tonic) % 12);
            let k = estimate_key(&min).expect("key");
            assert_eq!((k.tonic, k.minor), (tonic, true));
            assert!(k.correlation > 0.99);
        }
        assert!(estimate_key(&[0.0; 12]).is_none());
    }
}
