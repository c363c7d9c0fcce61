//! Playlists and whole-library views (clusters, maps) over the vectors a user chose: the one
//! code path of every door (the songs from [`song_set`], the map from [`map`]).

use serde::Serialize;
use songrec_discover::clusters::ClusterReport;
use songrec_discover::kmeans::KMeansOptions;
use songrec_discover::map::ColorBy;
use songrec_discover::playlist::{self, Constraints, PathRequest, Playlist, SeedRequest};
use songrec_discover::projection::Projector;
use songrec_discover::{Matrix, SongSet, load_songs};
use songrec_storage::{Filter, SongMetadata, StorageBackend};

use crate::similar::{Choice, choose_space};
use crate::{AppError, AppResult};

/// What a playlist is built around.
#[derive(Clone, Debug)]
pub enum PlaylistShape {
    /// Songs like these seeds (at least one; the first decides the vectors under `auto`).
    Seeds(Vec<SongMetadata>),
    /// A path from one song to another.
    Path {
        from: Box<SongMetadata>,
        to: Box<SongMetadata>,
        /// Candidates searched per step.
        candidates: usize,
    },
}

/// A playlist request, as any door asks it.
#[derive(Clone, Debug)]
pub struct PlaylistAsk {
    /// Seeds or a path.
    pub shape: PlaylistShape,
    /// Songs wanted (a path counts both ends).
    pub n: usize,
    /// Rules (repeats, exclusions, filter).
    pub constraints: Constraints,
    /// Which vectors (`auto` by default).
    pub choice: Choice,
}

/// Builds the playlist: the vectors chosen around the first seed (or `from`) exactly as
/// `similar` chooses them for that song, then [`songrec_discover::playlist`].
pub async fn playlist(backend: &dyn StorageBackend, ask: &PlaylistAsk) -> AppResult<Playlist> {
    let first = match &ask.shape {
        PlaylistShape::Seeds(seeds) => seeds.first().ok_or_else(|| {
            AppError::Invalid(
                "a playlist needs a seed song, or a song to start from and one to end at".into(),
            )
        })?,
        PlaylistShape::Path { from, .. } => from,
    };
    let model = choose_space(backend, &ask.choice, Some(first)).await?;
    let (n, constraints) = (ask.n, ask.constraints.clone());
    Ok(match &ask.shape {
        PlaylistShape::Seeds(seeds) => {
            let seeds = seeds.iter().map(|s| s.id.clone()).collect();
            let req = SeedRequest {
                seeds,
                model,
                n,
                constraints,
            };
            playlist::from_seeds(backend, &req).await?
        }
        PlaylistShape::Path {
            from,
            to,
            candidates,
        } => {
            let req = PathRequest {
                from: from.id.clone(),
                to: to.id.clone(),
                model,
                n,
                candidates_per_point: *candidates,
                constraints,
            };
            playlist::between(backend, &req).await?
        }
    })
}

/// The songs matching `filter` with their vectors in the chosen space (over the whole library:
/// `auto` blends musicnn and DSP where the library holds both).
pub async fn song_set(
    backend: &dyn StorageBackend,
    choice: &Choice,
    filter: &Filter,
) -> AppResult<SongSet> {
    let space = choose_space(backend, choice, None).await?;
    Ok(load_songs(backend, &space, filter).await?)
}

/// The library's songs in `k` clusters (k-means++ with `seed`) in the chosen space.
pub fn clusters(set: &SongSet, k: usize, seed: u64) -> AppResult<ClusterReport> {
    if set.is_empty() {
        return Err(AppError::Invalid("no songs to cluster".into()));
    }
    Ok(songrec_discover::clusters::cluster(
        set,
        k,
        &KMeansOptions {
            seed,
            ..KMeansOptions::default()
        },
    )?)
}

/// One song on the map.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MapPoint {
    pub id: String,
    /// First axis.
    pub x: f32,
    /// Second axis.
    pub y: f32,
    pub title: String,
    pub artist: Option<String>,
    pub genre: Option<String>,
    /// k-means cluster, numbered from 1 (the largest), as `songrec clusters` and the PNG number
    /// them.
    pub cluster: usize,
    /// Its colour on the map (`#RRGGBB`, from [`songrec_discover::map::PALETTE`]).
    pub colour: String,
}

/// One row of the map's legend.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LegendRow {
    /// `#RRGGBB`.
    pub colour: String,
    /// `rock`, `cluster 3`, `other / no genre`.
    pub label: String,
    /// Songs of that colour.
    pub songs: usize,
}

/// The library map as every door gives it (`songrec map --json`, `GET /api/v1/map`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MapView {
    /// Model whose vectors were projected.
    pub model: String,
    /// Projection name (`pca`).
    pub projection: String,
    /// Share of variance along x and y.
    pub explained_variance: [f32; 2],
    /// Songs matching the filter (with or without a vector in the chosen space).
    pub total: u64,
    /// Whether only the first `limit` songs (in id order, which is effectively random) are shown.
    pub truncated: bool,
    /// How the points are coloured: by genre, or by cluster when fewer than half of the songs have
    /// a genre (the rule of `songrec map`'s page and PNG, [`songrec_discover::map::Colouring`]).
    pub color: ColorBy,
    /// Clusters of the songs shown (k-means, `songrec map`'s default number).
    pub clusters: usize,
    /// The colours used, with what they stand for.
    pub legend: Vec<LegendRow>,
    pub points: Vec<MapPoint>,
}

/// The first `limit` songs of `set` projected to 2-D by `projector`, clustered and coloured as
/// `songrec map` colours them.
pub fn map(set: &SongSet, limit: usize, projector: &dyn Projector) -> AppResult<MapView> {
    use songrec_discover::map::{Colouring, PALETTE, default_clusters};
    let shown = set.len().min(limit);
    let subset;
    let set_shown = if shown == set.len() {
        set
    } else {
        let rows: Vec<&[f32]> = (0..shown).map(|i| set.vectors.row(i)).collect();
        let first = Matrix::from_rows(&rows).unwrap_or_else(|_| Matrix::new(set.vectors.dim()));
        subset = SongSet {
            space: set.space.clone(),
            songs: set.songs[..shown].to_vec(),
            vectors: first,
            without_vector: Vec::new(),
        };
        &subset
    };
    let projection = projector.project(&set_shown.vectors);
    let assignments = if shown == 0 {
        Vec::new()
    } else {
        songrec_discover::clusters::cluster(
            set_shown,
            default_clusters(shown),
            &KMeansOptions::default(),
        )?
        .assignments
    };
    let clusters = assignments.iter().max().map_or(0, |m| m + 1);
    let songs = &set_shown.songs;
    let colouring = Colouring::new(
        ColorBy::Genre,
        songs.iter().map(|m| m.genre.as_deref()),
        clusters,
    );
    let genre = |m: &SongMetadata| m.genre.as_deref().unwrap_or("").trim().to_lowercase();
    let by = colouring.color;
    let points = songs
        .iter()
        .zip(&projection.points)
        .zip(&assignments)
        .map(|((m, pt), c)| MapPoint {
            id: m.id.as_str().to_owned(),
            x: pt[0],
            y: pt[1],
            title: m.title.clone(),
            artist: m.artist.clone(),
            genre: m.genre.clone(),
            cluster: c + 1,
            colour: PALETTE[colouring.index(&genre(m), c + 1, by)].to_owned(),
        })
        .collect::<Vec<_>>();
    let genres: Vec<String> = songs.iter().map(genre).collect();
    let legend = colouring
        .legend(
            genres
                .iter()
                .map(String::as_str)
                .zip(points.iter().map(|p| p.cluster)),
            by,
        )
        .into_iter()
        .map(|(i, label, n)| LegendRow {
            colour: PALETTE[i].to_owned(),
            label,
            songs: n,
        })
        .collect();
    Ok(MapView {
        model: set.space.key(),
        projection: projector.name().to_owned(),
        explained_variance: projection.explained.map(|e| e as f32),
        total: (set.len() + set.without_vector.len()) as u64,
        truncated: set.len() > limit,
        color: by,
        clusters,
        legend,
        points,
    })
}
