//! Query-string parsing with clear 400s: unknown parameters, repeated scalars and malformed
//! numbers are refused with the parameter named.

use songrec_app::filters::FilterSpec;
use songrec_app::similar::Choice;

use crate::error::{ApiError, ApiResult};

/// Most results one response of the API carries, whatever the backend allows.
pub const MAX_RESPONSE_RESULTS: usize = 10_000;

/// Most similar artists one answer holds.
pub const MAX_SIMILAR_ARTISTS: usize = 500;
/// Similar artists when `k` is not given.
pub const DEFAULT_SIMILAR_ARTISTS: usize = 10;

/// Decoded `name=value` pairs of a query string.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes a raw query string (`None` = no query).
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .filter(|(k, _)| !k.is_empty())
            .collect();
        Self { pairs }
    }

    /// Takes every value of `name`.
    pub fn all(&mut self, name: &str) -> Vec<String> {
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pairs)
            .into_iter()
            .partition(|(k, _)| k == name);
        self.pairs = rest;
        mine.into_iter().map(|(_, v)| v).collect()
    }

    /// Takes the one value of `name`; repeated values are refused. An empty value is kept (and
    /// refused by the typed getters: `k=` is not a number).
    pub fn one(&mut self, name: &str) -> ApiResult<Option<String>> {
        let mut v = self.all(name);
        match v.len() {
            0 => Ok(None),
            1 => Ok(v.pop()),
            n => Err(ApiError::bad_request(format!(
                "query parameter {name:?} was given {n} times; give it once"
            ))),
        }
    }

    /// A number in `min..=max`.
    pub fn number<T>(&mut self, name: &str, min: T, max: T) -> ApiResult<Option<T>>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(s) = self.one(name)? else {
            return Ok(None);
        };
        match s.trim().parse::<T>() {
            Ok(v) if v >= min && v <= max => Ok(Some(v)),
            _ => Err(ApiError::bad_request(format!(
                "query parameter {name:?} must be a number from {min} to {max}, got {s:?}"
            ))),
        }
    }

    /// A finite float.
    pub fn float(&mut self, name: &str) -> ApiResult<Option<f32>> {
        let Some(s) = self.one(name)? else {
            return Ok(None);
        };
        match s.trim().parse::<f32>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(ApiError::bad_request(format!(
                "query parameter {name:?} must be a number, got {s:?}"
            ))),
        }
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`); absent is `false`.
    pub fn flag(&mut self, name: &str) -> ApiResult<bool> {
        match self.one(name)?.as_deref().map(str::to_ascii_lowercase) {
            None => Ok(false),
            Some(s) if matches!(s.as_str(), "true" | "1" | "yes") => Ok(true),
            Some(s) if matches!(s.as_str(), "false" | "0" | "no") => Ok(false),
            Some(s) => Err(ApiError::bad_request(format!(
                "query parameter {name:?} must be true or false, got {s:?}"
            ))),
        }
    }

    /// A text value where empty means absent (free-text filters from HTML forms).
    pub fn text(&mut self, name: &str) -> ApiResult<Option<String>> {
        Ok(self.one(name)?.filter(|s| !s.trim().is_empty()))
    }

    /// The filter parameters every listing and search accepts (as `songrec list`); empty
    /// values mean "no filter".
    pub fn filter(&mut self) -> ApiResult<FilterSpec> {
        Ok(FilterSpec {
            genre: self.text("genre")?,
            artist: self.text("artist")?,
            album: self.text("album")?,
            key: self.text("key")?,
            bpm: self.text("bpm")?,
            duration: self.text("duration")?,
            tag: self.text("tag")?,
            conditions: self.all("where"),
        })
    }

    /// Which vectors a ranking compares: `embedder` (`auto`, the default; `dsp`, `musicnn`,
    /// `both`, `blend:W`), `blend` (the neural weight) or `model` (`NAME@VERSION` of stored
    /// vectors), read as the CLI reads `--embedder`/`--blend`/`--model`
    /// ([`Choice::from_options`]). `None` when none of them was given (`auto`).
    pub fn vectors(&mut self) -> ApiResult<Option<Choice>> {
        let embedder = self.one("embedder")?;
        let blend = self.float("blend")?;
        let model = self.one("model")?;
        if model.is_some() && embedder.is_some() {
            return Err(ApiError::bad_request(
                "give either model (NAME@VERSION of stored vectors) or embedder, not both",
            ));
        }
        if embedder.is_none() && blend.is_none() && model.is_none() {
            return Ok(None);
        }
        Ok(Some(Choice::from_options(
            embedder.as_deref(),
            blend,
            model.as_deref(),
        )?))
    }

    /// Refuses whatever was not taken.
    pub fn finish(self) -> ApiResult<()> {
        match self.pairs.first() {
            None => Ok(()),
            Some((k, _)) => Err(ApiError::bad_request(format!(
                "unknown query parameter {k:?}; see /api/v1/openapi.json for the parameters of this endpoint"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_taken_once() {
        let mut p = Params::parse(Some("k=5&genre=rock&where=bpm%3D120"));
        assert_eq!(p.number::<usize>("k", 1, 1000).unwrap(), Some(5));
        let f = p.filter().unwrap();
        assert_eq!(f.genre.as_deref(), Some("rock"));
        assert_eq!(f.conditions, vec!["bpm=120".to_string()]);
        p.finish().unwrap();
        let mut p = Params::parse(Some("embedder=both"));
        assert_eq!(p.vectors().unwrap(), Some(Choice::Blend(0.6)));
        assert_eq!(Params::parse(None).vectors().unwrap(), None);
        assert!(
            Params::parse(Some("embedder=dsp&model=legacy@0"))
                .vectors()
                .is_err()
        );
    }

    #[test]
    fn refusals_name_the_parameter() {
        let mut p = Params::parse(Some("k=0"));
        let e = p.number::<usize>("k", 1, 10).unwrap_err();
        assert!(e.message().contains("\"k\""), "{e}");
        let mut p = Params::parse(Some("k=1&k=2"));
        assert!(p.one("k").unwrap_err().message().contains("2 times"));
        let p = Params::parse(Some("colour=red"));
        assert!(p.finish().unwrap_err().message().contains("colour"));
        let mut p = Params::parse(Some("desc=maybe"));
        assert!(p.flag("desc").is_err());
        let mut p = Params::parse(Some("threshold=NaN"));
        assert!(p.float("threshold").is_err());
        let mut p = Params::parse(Some("desc=&k=&genre=&q="));
        assert!(p.flag("desc").is_err());
        assert!(p.number::<usize>("k", 1, 10).is_err());
        assert_eq!(p.filter().unwrap().genre, None);
        assert_eq!(p.text("q").unwrap(), None);
    }
}
