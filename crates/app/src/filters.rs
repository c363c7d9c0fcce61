//! The song filters users type, shared by `songrec list`/`similar` and the REST API, so both
//! accept exactly the same spellings.

use songrec_storage::{Condition, Field, Filter, Value};

use crate::{AppError, AppResult};

/// Filters as typed: each field optional, conditions as `FIELD=VALUE` or `FIELD=MIN..MAX`
/// (the CLI's options are `songrec-cli`'s `FilterArgs`, with the help texts).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilterSpec {
    /// Only this genre (case-insensitive).
    pub genre: Option<String>,
    /// Only this artist.
    pub artist: Option<String>,
    /// Only this album.
    pub album: Option<String>,
    /// Only this key, e.g. "A minor", "Am", "F#".
    pub key: Option<String>,
    /// Tempo range, e.g. 110..130, 120.., ..90.
    pub bpm: Option<String>,
    /// Duration range in seconds, e.g. 60..300.
    pub duration: Option<String>,
    /// Only songs with this tag.
    pub tag: Option<String>,
    /// Any field: FIELD=VALUE or FIELD=MIN..MAX (repeatable), e.g. extra.label=Warp.
    pub conditions: Vec<String>,
}

/// Parses `MIN..MAX` (either bound optional) or a single number `V` (meaning `V-0.5..V+0.5`).
/// `what` names the option in error messages.
pub fn parse_range(s: &str, what: &str) -> AppResult<(Option<f64>, Option<f64>)> {
    let num = |x: &str| -> AppResult<Option<f64>> {
        let x = x.trim();
        if x.is_empty() {
            return Ok(None);
        }
        match x.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(AppError::Invalid(format!("{what}: {x:?} is not a number"))),
        }
    };
    if let Some((a, b)) = s.split_once("..") {
        let r = (num(a)?, num(b)?);
        if r.0.is_none() && r.1.is_none() {
            return Err(AppError::Invalid(format!(
                "{what}: give at least one bound, e.g. 110..130"
            )));
        }
        if let (Some(lo), Some(hi)) = r
            && lo > hi
        {
            return Err(AppError::Invalid(format!(
                "{what}: the lower bound {lo} is above the upper bound {hi}"
            )));
        }
        Ok(r)
    } else {
        let v = num(s)?.ok_or_else(|| AppError::Invalid(format!("{what}: empty value")))?;
        Ok((Some(v - 0.5), Some(v + 0.5)))
    }
}

impl FilterSpec {
    /// Whether no filter was given.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Builds and validates the filter.
    pub fn to_filter(&self) -> AppResult<Filter> {
        let mut f = Filter::default();
        let text = |field: Field, v: &str| Condition::Eq(field, Value::Text(v.to_owned()));
        let named = [
            (Field::Genre, &self.genre),
            (Field::Artist, &self.artist),
            (Field::Album, &self.album),
        ];
        for (field, v) in named {
            if let Some(v) = v {
                f = f.and(text(field, v));
            }
        }
        if let Some(k) = &self.key {
            let k = crate::musickey::normalize(k)?;
            f = f.and(text(Field::Key, &k));
        }
        if let Some(t) = &self.tag {
            f = f.and(text(Field::Tags, t));
        }
        let ranges = [
            (Field::Bpm, &self.bpm, "bpm"),
            (Field::Duration, &self.duration, "duration"),
        ];
        for (field, r, what) in ranges {
            if let Some(r) = r {
                let (min, max) = parse_range(r, what)?;
                f = f.and(Condition::Range { field, min, max });
            }
        }
        for c in &self.conditions {
            let (name, value) = c
                .split_once('=')
                .ok_or_else(|| AppError::Invalid(format!("where {c:?}: expected FIELD=VALUE")))?;
            let field = Field::parse(name)?;
            if value.contains("..") {
                let (min, max) = parse_range(value, "where")?;
                f = f.and(Condition::Range { field, min, max });
            } else if let (false, Ok(n)) = (field.is_text(), value.parse::<f64>()) {
                f = f.and(Condition::Eq(field, Value::Number(n)));
            } else {
                f = f.and(Condition::Eq(field, Value::Text(value.to_owned())));
            }
        }
        f.validate()?;
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn doc_parse_range() {
        use crate::filters::parse_range;
        assert_eq!(parse_range("110..", "--bpm").unwrap(), (Some(110.0), None));
        assert_eq!(
            parse_range("120", "--bpm").unwrap(),
            (Some(119.5), Some(120.5))
        );
        assert!(parse_range("..", "--bpm").is_err());
    }

    use super::*;
    use songrec_storage::{SongId, SongMetadata};

    #[test]
    fn filters_select_what_they_say() {
        let mut m = SongMetadata::new(SongId::from_bytes(b"a"), "T");
        m.genre = Some("Rock".into());
        m.bpm = Some(120.0);
        m.key = Some("A minor".into());
        m.duration_secs = 200.0;
        m.extra.insert("label".into(), serde_json::json!("Warp"));
        let yes = FilterSpec {
            genre: Some("rock".into()),
            bpm: Some("110..130".into()),
            key: Some("Am".into()),
            duration: Some("..300".into()),
            conditions: vec!["extra.label=warp".into()],
            ..FilterSpec::default()
        };
        assert!(yes.to_filter().unwrap().matches(&m));
        let no = FilterSpec {
            bpm: Some("121".into()),
            ..FilterSpec::default()
        };
        assert!(!no.to_filter().unwrap().matches(&m));
    }

    #[test]
    fn bad_input_is_refused_with_the_option_named() {
        for (spec, needle) in [
            (
                FilterSpec {
                    bpm: Some("130..110".into()),
                    ..FilterSpec::default()
                },
                "lower bound",
            ),
            (
                FilterSpec {
                    duration: Some("abc".into()),
                    ..FilterSpec::default()
                },
                "duration",
            ),
            (
                FilterSpec {
                    key: Some("H dorian".into()),
                    ..FilterSpec::default()
                },
                "not a musical key",
            ),
            (
                FilterSpec {
                    conditions: vec!["nonsense".into()],
                    ..FilterSpec::default()
                },
                "FIELD=VALUE",
            ),
            (
                FilterSpec {
                    conditions: vec!["my colour=red".into()],
                    ..FilterSpec::default()
                },
                "unknown field",
            ),
        ] {
            let e = spec.to_filter().unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }
}
