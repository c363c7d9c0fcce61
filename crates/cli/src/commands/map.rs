//! `songrec map`, `songrec clusters`, `songrec outliers`: views of the whole library.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use songrec_discover::fsutil::write_atomic;
use songrec_discover::map::{self, ColorBy, MapOptions};
use songrec_discover::projection::PcaProjector;
use songrec_discover::{SongSet, outliers};
use songrec_factory::Backend;

use crate::args::FilterArgs;
use crate::exit;
use crate::vectors::{RankedArgs, VectorArgs};
use songrec_storage::plural::count;

#[derive(Args, Debug)]
pub struct MapArgs {
    /// Write the interactive page here (self-contained HTML; default map.html unless only --png is given).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also (or only) write a static PNG image here.
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
    /// PNG size, WIDTHxHEIGHT.
    #[arg(long, default_value = "1200x900")]
    pub size: String,
    /// Colour points by genre or cluster.
    #[arg(long, default_value = "genre", value_parser = ["genre", "cluster"])]
    pub color: String,
    /// Number of clusters (0: about √(songs/2), 2 to 12).
    #[arg(short, long, default_value_t = 0, value_parser = crate::args::bounded::<0, 1000>)]
    pub clusters: usize,
    /// Print the songs' coordinates as JSON instead of writing a page or an image: the points
    /// `GET /api/v1/map` of `songrec serve` answers with for the same options.
    #[arg(long, conflicts_with_all = ["out", "png"])]
    pub json: bool,
    /// With --json: only the first N songs (in id order), as the REST API's `limit`.
    #[arg(long, value_name = "N", requires = "json", value_parser = crate::args::at_least_one)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub vectors: VectorArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Args, Debug)]
pub struct ClustersArgs {
    /// Number of clusters.
    #[arg(short, long, default_value_t = 12, value_parser = crate::args::bounded::<1, 1000>)]
    pub k: usize,
    /// Seed of the k-means++ initialisation.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[command(flatten)]
    pub ranked: RankedArgs,
}

#[derive(Args, Debug)]
pub struct OutliersArgs {
    /// Songs listed.
    #[arg(short, long, default_value_t = 10, value_parser = crate::args::at_least_one)]
    pub n: usize,
    /// Neighbours the score averages over.
    #[arg(long, default_value_t = 10, value_parser = crate::args::at_least_one)]
    pub neighbours: usize,
    #[command(flatten)]
    pub ranked: RankedArgs,
}

/// Parses `1200x900`.
pub fn parse_size(s: &str) -> Result<(u32, u32)> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .with_context(|| format!("--size {s:?}: expected WIDTHxHEIGHT, e.g. 1200x900"))?;
    let num = |x: &str| {
        x.trim()
            .parse::<u32>()
            .with_context(|| format!("--size {s:?}: {x:?} is not a whole number"))
    };
    Ok((num(w)?, num(h)?))
}

async fn load(backend: &Backend, vectors: &VectorArgs, filter: &FilterArgs) -> Result<SongSet> {
    let set =
        songrec_app::views::song_set(backend.as_ref(), &vectors.choice()?, &filter.to_filter()?)
            .await
            .context("reading songs and vectors")?;
    let n = set.without_vector.len();
    if n > 0 {
        let (has, are) = if n == 1 {
            ("has", "is")
        } else {
            ("have", "are")
        };
        eprintln!(
            "note: {} {has} no {} vector and {are} left out",
            count(n, "song"),
            set.space.key(),
        );
    }
    Ok(set)
}

pub async fn map(args: &MapArgs, backend: Backend) -> Result<u8> {
    if args.json {
        let set = load(&backend, &args.vectors, &args.filter).await?;
        let view = songrec_app::views::map(&set, args.limit.unwrap_or(usize::MAX), &PcaProjector)?;
        crate::output::print_json(&view)?;
        return Ok(exit::OK);
    }
    let color = if args.color == "cluster" {
        ColorBy::Cluster
    } else {
        ColorBy::Genre
    };
    let size = parse_size(&args.size)?;
    let out = args
        .out
        .clone()
        .or_else(|| args.png.is_none().then(|| "map.html".into()));
    let set = load(&backend, &args.vectors, &args.filter).await?;
    let t = Instant::now();
    let data = map::build(
        &set,
        &MapOptions {
            color,
            clusters: args.clusters,
            ..MapOptions::default()
        },
    )?;
    if data.colouring.color != color {
        let with_genre = data.points.iter().filter(|p| !p.genre.is_empty()).count();
        eprintln!(
            "note: {with_genre} of {} {} a genre; points are coloured by cluster",
            count(data.points.len(), "song"),
            if with_genre == 1 { "has" } else { "have" }
        );
    }
    if let Some(o) = &out {
        write_atomic(o, map::html(&data)?.as_bytes())
            .with_context(|| format!("writing {}", o.display()))?;
        println!(
            "wrote {} ({}, {}, axes show {:.0}% of the variance)",
            o.display(),
            count(data.points.len(), "song"),
            count(data.colouring.clusters, "cluster"),
            100.0 * (data.explained[0] + data.explained[1])
        );
    }
    if let Some(p) = &args.png {
        let bytes = songrec_discover::png::render(&data, size.0, size.1, data.colouring.color)?;
        write_atomic(p, &bytes).with_context(|| format!("writing {}", p.display()))?;
        println!("wrote {} ({}x{} pixels)", p.display(), size.0, size.1);
    }
    tracing::info!("map built in {:.2} s", t.elapsed().as_secs_f64());
    Ok(exit::OK)
}

pub async fn clusters(args: &ClustersArgs, backend: Backend) -> Result<u8> {
    let set = load(&backend, &args.ranked.vectors, &args.ranked.filter).await?;
    let r = songrec_app::views::clusters(&set, args.k, args.seed)?;
    if args.ranked.json {
        crate::output::print_json(&r)?;
        return Ok(exit::OK);
    }
    println!(
        "{} in {} (model {}){}",
        count(r.songs, "song"),
        count(r.clusters.len(), "cluster"),
        r.model,
        r.genre_purity
            .map_or_else(String::new, |p| format!("; genre purity {:.0}%", 100.0 * p))
    );
    for c in &r.clusters {
        let genres: Vec<String> = c
            .genres
            .iter()
            .map(|(g, n)| format!("{g} {:.0}%", 100.0 * *n as f64 / c.size as f64))
            .collect();
        println!(
            "\ncluster {:>2}: {}, cohesion {:.2}, genres: {}",
            c.id,
            count(c.size, "song"),
            c.cohesion,
            crate::output::list_or_dash(&genres)
        );
        for m in &c.examples {
            println!("    {}  {}", m.id.short(), m.display_name());
        }
    }
    Ok(exit::OK)
}

pub async fn outliers(args: &OutliersArgs, backend: Backend) -> Result<u8> {
    let set = load(&backend, &args.ranked.vectors, &args.ranked.filter).await?;
    let out = outliers::outliers(&set, args.n, args.neighbours)?;
    if args.ranked.json {
        crate::output::print_json(&serde_json::json!({
            "model": set.space.key(), "neighbours": args.neighbours, "outliers": out}))?;
        return Ok(exit::OK);
    }
    println!(
        "Songs least like the rest ({}, score = mean cosine distance to the {} nearest):",
        count(set.len(), "song"),
        args.neighbours
    );
    println!(
        "{:>3}  {:>6}  {:<12}  {:<40}  {:<12}  NEAREST",
        "#", "SCORE", "ID", "SONG", "GENRE"
    );
    for (i, o) in out.iter().enumerate() {
        println!(
            "{:>3}  {:>6.3}  {:<12}  {:<40}  {:<12}  {}",
            i + 1,
            o.score,
            o.song.id.short(),
            o.song.display_name().chars().take(40).collect::<String>(),
            o.song.genre.as_deref().unwrap_or("-"),
            o.nearest.as_ref().map_or_else(
                || "-".into(),
                |(m, s)| format!("{} ({s:.3})", m.display_name())
            )
        );
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1200x900").unwrap(), (1200, 900));
        assert_eq!(parse_size("64X32").unwrap(), (64, 32));
        assert!(parse_size("1200").is_err());
        assert!(parse_size("ax9").is_err());
    }
}
