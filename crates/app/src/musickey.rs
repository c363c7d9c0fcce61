//! Musical keys as users type them, normalised to the form analysis stores (`A minor`, `F# major`).

use crate::{AppError, AppResult};

/// The pitch classes from C, sharps spelled as the analysis stores them.
pub(crate) const NOTES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

/// Normalises a key: `am`, `A min`, `a minor`, `Bbm`, `f#` → `A minor`, `A minor`, `A minor`,
/// `A# minor`, `F# major` (flats are spelled as the sharp the analysis uses).
pub fn normalize(s: &str) -> AppResult<String> {
    let t = s.trim().replace('♯', "#").replace('♭', "b");
    let mut chars = t.chars();
    let bad = || {
        AppError::Invalid(format!(
            "not a musical key: {s:?} (try \"A minor\", \"Am\", \"F# major\")"
        ))
    };
    let letter = chars.next().ok_or_else(bad)?.to_ascii_uppercase();
    let base = NOTES
        .iter()
        .position(|n| n.starts_with(letter) && n.len() == 1)
        .ok_or_else(bad)? as i32;
    let rest: String = chars.collect();
    let (shift, rest) = if let Some(r) = rest.strip_prefix('#') {
        (1, r)
    } else if let Some(r) = rest.strip_prefix('b').filter(|r| !r.starts_with('e')) {
        (-1, r)
    } else {
        (0, rest.as_str())
    };
    let mode = match rest.trim().to_ascii_lowercase().as_str() {
        "" | "maj" | "major" | "M" => "major",
        "m" | "min" | "minor" | "-" => "minor",
        _ => return Err(bad()),
    };
    let note = NOTES[((base + shift).rem_euclid(12)) as usize];
    Ok(format!("{note} {mode}"))
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn spellings() {
        for (i, o) in [
            ("A minor", "A minor"),
            ("a min", "A minor"),
            ("C", "C major"),
            ("c#m", "C# minor"),
            ("Db", "C# major"),
            ("E♭ minor", "D# minor"),
            ("Cb", "B major"),
        ] {
            assert_eq!(normalize(i).unwrap(), o, "{i}");
        }
        assert!(normalize("").is_err());
        assert!(normalize("Q major").is_err());
        assert!(normalize("A lydian").is_err());
    }
}
