//! The song filters as command-line options; the use-case layer's [`FilterSpec`] holds them
//! without knowing the parser, and the REST API fills the same struct.

use songrec_app::AppResult;
use songrec_app::filters::FilterSpec;
use songrec_storage::Filter;

/// Filters as typed: each field optional, conditions as `FIELD=VALUE` or `FIELD=MIN..MAX`.
#[derive(Clone, Debug, Default, PartialEq, clap::Args)]
pub struct FilterArgs {
    /// Only this genre (case-insensitive).
    #[arg(long)]
    pub genre: Option<String>,
    /// Only this artist.
    #[arg(long)]
    pub artist: Option<String>,
    /// Only this album.
    #[arg(long)]
    pub album: Option<String>,
    /// Only this key, e.g. "A minor", "Am", "F#".
    #[arg(long)]
    pub key: Option<String>,
    /// Tempo range, e.g. 110..130, 120.., ..90.
    #[arg(long)]
    pub bpm: Option<String>,
    /// Duration range in seconds, e.g. 60..300.
    #[arg(long)]
    pub duration: Option<String>,
    /// Only songs with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Any field: FIELD=VALUE or FIELD=MIN..MAX (repeatable), e.g. extra.label=Warp.
    #[arg(long = "where", value_name = "FIELD=VALUE")]
    pub conditions: Vec<String>,
}

impl From<FilterArgs> for FilterSpec {
    fn from(a: FilterArgs) -> Self {
        let FilterArgs {
            genre,
            artist,
            album,
            key,
            bpm,
            duration,
            tag,
            conditions,
        } = a;
        FilterSpec {
            genre,
            artist,
            album,
            key,
            bpm,
            duration,
            tag,
            conditions,
        }
    }
}

impl FilterArgs {
    /// Builds and validates the filter (see [`FilterSpec::to_filter`]).
    pub fn to_filter(&self) -> AppResult<Filter> {
        FilterSpec::from(self.clone()).to_filter()
    }
}
