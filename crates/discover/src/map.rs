//! A map of the library: every song placed in 2-D by PCA of its vector, coloured by genre or by
//! k-means cluster, with each song's ten most similar songs precomputed.
//!
//! [`html`] renders a single self-contained page (inline CSS, JavaScript and data; no network,
//! works from a file): hover a point for title and artist, click it for its most similar
//! songs, switch colouring, search by name, zoom with the wheel and pan by dragging.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::clusters::cluster;
use crate::error::{DiscoverError, DiscoverResult};
use crate::kmeans::KMeansOptions;
use crate::linalg::knn_all;
use crate::load::SongSet;
use crate::projection::{PcaProjector, Projector};

/// How points are coloured by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorBy {
    /// By genre tag (the most common genres get their own colour).
    #[default]
    Genre,
    /// By k-means cluster.
    Cluster,
}

/// Options for [`build`].
#[derive(Clone, Copy, Debug, PartialEq, smart_default::SmartDefault)]
pub struct MapOptions {
    /// Default colouring.
    pub color: ColorBy,
    /// Clusters (0 = about √(n/2), between 2 and 12).
    pub clusters: usize,
    /// Similar songs listed per song.
    #[default = 10]
    pub neighbours: usize,
    /// k-means settings.
    pub kmeans: KMeansOptions,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    pub id: String,
    pub title: String,
    pub artist: String,
    /// Genre (lowercase; empty when unknown).
    pub genre: String,
    /// Coordinates (first two principal components).
    pub x: f32,
    /// Second coordinate.
    pub y: f32,
    /// Cluster number, from 1 (the largest).
    pub cluster: usize,
    /// Most similar songs (indices into the points) and their cosine similarity (3 decimals).
    pub similar: Vec<(usize, f32)>,
}

/// Everything the page and the image show.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MapData {
    /// Model whose vectors were projected.
    pub model: String,
    pub points: Vec<Point>,
    /// Share of the variance the two axes show.
    pub explained: [f64; 2],
    /// How the points are coloured (`genres`, `clusters`, `color` in the page's data).
    #[serde(flatten)]
    pub colouring: Colouring,
}

/// Distinct colours for up to [`MAX_GROUPS`] groups, safe for colour-blind readers: the seven
/// colours and black of Okabe & Ito's palette, then Paul Tol's indigo, wine, olive and green
/// (no two closer than 67 in RGB); the last, pale grey, is for "other".
pub const PALETTE: [&str; 13] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#332288",
    "#882255", "#999933", "#000000", "#117733", "#BBBBBB",
];

/// Groups (genres, clusters) with a colour of their own; the rest share [`OTHER`].
pub const MAX_GROUPS: usize = PALETTE.len() - 1;

/// The palette index of "other" (a genre beyond the [`MAX_GROUPS`] most common, no genre, a
/// cluster beyond the twelfth).
pub const OTHER: usize = PALETTE.len() - 1;

/// How a map is coloured: the one rule `songrec map` (page and PNG) and the web page of
/// `songrec serve` (`GET /api/v1/map`) share.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Colouring {
    /// The colouring used: the one asked for, except by cluster when fewer than half of the
    /// songs have a genre (colouring by genre would paint most dots "other").
    pub color: ColorBy,
    /// Genre names (lowercase) in colour order, most common first, at most [`MAX_GROUPS`].
    pub genres: Vec<String>,
    /// Number of clusters (numbered from 1, largest first).
    pub clusters: usize,
}

impl Colouring {
    /// The colouring of songs with these genres (one entry per song) into `clusters` clusters,
    /// `asked` for.
    ///
    /// ```
    /// use songrec_discover::map::{ColorBy, Colouring};
    /// let c = Colouring::new(ColorBy::Genre, [Some("Rock"), None, None], 2);
    /// assert_eq!((c.color, c.genres.as_slice()), (ColorBy::Cluster, &["rock".to_string()][..]));
    /// assert_eq!(c.index("rock", 2, ColorBy::Genre), 0);
    /// assert_eq!(c.index("jazz", 2, ColorBy::Cluster), 1);
    /// ```
    pub fn new<'a>(
        asked: ColorBy,
        genres: impl IntoIterator<Item = Option<&'a str>>,
        clusters: usize,
    ) -> Self {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let (mut songs, mut with_genre) = (0usize, 0usize);
        for g in genres {
            songs += 1;
            if let Some(g) = g.map(str::trim).filter(|g| !g.is_empty()) {
                with_genre += 1;
                *counts.entry(g.to_lowercase()).or_default() += 1;
            }
        }
        let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Self {
            color: if asked == ColorBy::Genre && with_genre * 2 < songs {
                ColorBy::Cluster
            } else {
                asked
            },
            genres: ranked.into_iter().take(MAX_GROUPS).map(|g| g.0).collect(),
            clusters,
        }
    }

    /// The palette index of a song with this genre (lowercase) in cluster `cluster`
    /// (numbered from 1).
    pub fn index(&self, genre: &str, cluster: usize, by: ColorBy) -> usize {
        match by {
            ColorBy::Cluster => cluster
                .checked_sub(1)
                .filter(|&c| c < MAX_GROUPS)
                .unwrap_or(OTHER),
            ColorBy::Genre => self.genres.iter().position(|g| g == genre).unwrap_or(OTHER),
        }
    }

    /// The legend of songs with these (genre, cluster) pairs: (palette index, label, songs) for
    /// each colour some song has, in palette order ("other" last).
    ///
    /// ```
    /// use songrec_discover::map::{ColorBy, Colouring, OTHER};
    /// let c = Colouring::new(ColorBy::Cluster, [None; 3], 14);
    /// let l = c.legend([("", 1), ("", 1), ("", 14)], ColorBy::Cluster);
    /// assert_eq!(l, vec![(0, "cluster 1".to_string(), 2), (OTHER, "clusters 13-14".to_string(), 1)]);
    /// ```
    pub fn legend<'a>(
        &self,
        songs: impl IntoIterator<Item = (&'a str, usize)>,
        by: ColorBy,
    ) -> Vec<(usize, String, usize)> {
        let mut used = [0usize; PALETTE.len()];
        for (g, c) in songs {
            used[self.index(g, c, by)] += 1;
        }
        let label = |i: usize| match (by, i) {
            (ColorBy::Genre, OTHER) => "other / no genre".to_owned(),
            (ColorBy::Genre, i) => self.genres.get(i).cloned().unwrap_or_default(),
            (ColorBy::Cluster, OTHER) if self.clusters == MAX_GROUPS + 1 => {
                format!("cluster {}", self.clusters)
            }
            (ColorBy::Cluster, OTHER) => format!("clusters {}-{}", MAX_GROUPS + 1, self.clusters),
            (ColorBy::Cluster, i) => format!("cluster {}", i + 1),
        };
        (0..PALETTE.len())
            .filter(|&i| used[i] > 0)
            .map(|i| (i, label(i), used[i]))
            .collect()
    }
}

/// The number of clusters a map draws when none is asked for: about √(n/2), between 2 and 12
/// (at most `n`).
pub fn default_clusters(n: usize) -> usize {
    ((n as f64 / 2.0).sqrt().round() as usize)
        .clamp(2, MAX_GROUPS)
        .min(n)
}

impl MapData {
    /// The colour index of point `i` under a colouring.
    pub fn colour_index(&self, i: usize, by: ColorBy) -> usize {
        let p = &self.points[i];
        self.colouring.index(&p.genre, p.cluster, by)
    }
}

/// Projects, clusters and links the songs of `set`.
pub fn build(set: &SongSet, opts: &MapOptions) -> DiscoverResult<MapData> {
    let n = set.len();
    if n == 0 {
        return Err(DiscoverError::Invalid(format!(
            "no songs with {} vectors to map",
            set.space.key()
        )));
    }
    // The projection every door shares (`songrec map --json`, `GET /api/v1/map`).
    let projection = PcaProjector.project(&set.vectors);
    let k = if opts.clusters == 0 {
        default_clusters(n)
    } else {
        opts.clusters.min(n)
    };
    let report = cluster(set, k, &opts.kmeans)?;
    let nn = knn_all(&set.vectors, opts.neighbours);
    let points = (0..n)
        .map(|i| {
            let s = &set.songs[i];
            Point {
                id: s.id.as_str().to_owned(),
                title: s.title.clone(),
                artist: s.artist.clone().unwrap_or_default(),
                genre: s.genre.as_deref().unwrap_or("").to_lowercase(),
                x: projection.points[i][0],
                y: projection.points[i][1],
                cluster: report.assignments[i] + 1,
                similar: nn[i]
                    .iter()
                    .map(|nb| (nb.index, (nb.similarity * 1000.0).round() / 1000.0))
                    .collect(),
            }
        })
        .collect();
    // When most songs have no genre, most points would be "other": colour by cluster instead
    // (111 of 174 grey points said nothing).
    let colouring = Colouring::new(
        opts.color,
        set.songs.iter().map(|s| s.genre.as_deref()),
        report.clusters.len(),
    );
    Ok(MapData {
        model: set.space.key(),
        points,
        explained: projection.explained,
        colouring,
    })
}

/// JSON safe to put inside a `<script>` element (no `</script>`, no `<!--`).
pub fn script_json<T: Serialize>(v: &T) -> DiscoverResult<String> {
    let s = serde_json::to_string(v)
        .map_err(|e| DiscoverError::Invalid(format!("cannot encode the map data: {e}")))?;
    Ok(s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029"))
}

/// The id of the `<script type="application/json">` element holding the data.
pub const DATA_ELEMENT_ID: &str = "songrec-map-data";

/// The self-contained HTML page.
pub fn html(data: &MapData) -> DiscoverResult<String> {
    let json = script_json(data)?;
    let palette = script_json(&PALETTE)?;
    // The data goes in last, so nothing in a song's title can be mistaken for a placeholder.
    Ok(TEMPLATE
        .replace("DATA_ELEMENT_ID", DATA_ELEMENT_ID)
        .replace("SONG_COUNT", &data.points.len().to_string())
        .replace("/*PALETTE*/", &palette)
        .replacen("/*DATA*/", &json, 1))
}

const TEMPLATE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>songrec map (SONG_COUNT songs)</title>
<style>
html, body { margin: 0; height: 100%; font: 14px/1.4 system-ui, sans-serif; color: #222; background: #fafafa; }
#app { display: flex; height: 100%; }
#plot { flex: 1; position: relative; }
canvas { width: 100%; height: 100%; display: block; cursor: crosshair; }
#side { width: 320px; overflow: auto; border-left: 1px solid #ddd; padding: 10px 14px; background: #fff; }
#tip { position: absolute; pointer-events: none; background: rgba(0,0,0,.8); color: #fff; padding: 4px 8px; border-radius: 4px; display: none; white-space: nowrap; }
h1 { font-size: 16px; margin: 0 0 6px; }
.legend span { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; }
.legend div { cursor: pointer; }
ol { padding-left: 22px; }
li { cursor: pointer; margin: 2px 0; }
li:hover, .legend div:hover { text-decoration: underline; }
.muted { color: #777; font-size: 12px; }
input[type=search] { width: 100%; box-sizing: border-box; margin: 6px 0; }
</style>
</head>
<body>
<div id="app">
<div id="plot"><canvas id="c"></canvas><div id="tip"></div></div>
<div id="side">
<h1>songrec map</h1>
<div class="muted" id="info"></div>
<label>Colour by <select id="colour"><option value="genre">genre</option><option value="cluster">cluster</option></select></label>
<input type="search" id="find" placeholder="Find a song or artist">
<div id="sel"><p class="muted">Hover a point for its title; click it for its most similar songs. Wheel to zoom, drag to pan, double-click to reset.</p></div>
<div class="legend" id="legend"></div>
</div>
</div>
<script type="application/json" id="DATA_ELEMENT_ID">/*DATA*/</script>
<script>
"use strict";
(function () {
  var PALETTE = /*PALETTE*/;
  var D = JSON.parse(document.getElementById("DATA_ELEMENT_ID").textContent);
  var P = D.points, canvas = document.getElementById("c"), ctx = canvas.getContext("2d");
  var tip = document.getElementById("tip"), side = document.getElementById("sel");
  var colourBy = D.color, selected = -1, hover = -1, matches = null;
  var view = { s: 1, tx: 0, ty: 0 };
  document.getElementById("colour").value = colourBy;
  document.getElementById("info").textContent = P.length + " songs, model " + D.model +
    "; axes show " + Math.round(100 * (D.explained[0] + D.explained[1])) + "% of the variance";
  var minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  P.forEach(function (p) { minX = Math.min(minX, p.x); maxX = Math.max(maxX, p.x); minY = Math.min(minY, p.y); maxY = Math.max(maxY, p.y); });
  if (!(maxX > minX)) { maxX = minX + 1; } if (!(maxY > minY)) { maxY = minY + 1; }
  function colourIndex(i) {
    var p = P[i];
    if (colourBy === "cluster") return p.cluster >= 1 && p.cluster <= PALETTE.length - 1 ? p.cluster - 1 : PALETTE.length - 1;
    var g = D.genres.indexOf(p.genre);
    return g < 0 ? PALETTE.length - 1 : g;
  }
  function size() {
    var r = canvas.getBoundingClientRect(), k = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, r.width * k); canvas.height = Math.max(1, r.height * k);
    ctx.setTransform(k, 0, 0, k, 0, 0);
  }
  function screen(p) {
    var r = canvas.getBoundingClientRect(), m = 20;
    var sx = m + (p.x - minX) / (maxX - minX) * (r.width - 2 * m);
    var sy = r.height - m - (p.y - minY) / (maxY - minY) * (r.height - 2 * m);
    return [sx * view.s + view.tx, sy * view.s + view.ty];
  }
  function draw() {
    var r = canvas.getBoundingClientRect();
    ctx.clearRect(0, 0, r.width, r.height);
    var rad = P.length > 3000 ? 2 : 3.5;
    for (var i = 0; i < P.length; i++) {
      var s = screen(P[i]);
      ctx.globalAlpha = (matches && !matches[i]) ? 0.12 : 0.85;
      ctx.fillStyle = PALETTE[colourIndex(i)];
      ctx.beginPath(); ctx.arc(s[0], s[1], rad, 0, 6.2832); ctx.fill();
    }
    ctx.globalAlpha = 1;
    if (selected >= 0) {
      var a = screen(P[selected]);
      ctx.strokeStyle = "#333"; ctx.lineWidth = 1;
      P[selected].similar.forEach(function (nb) {
        var b = screen(P[nb[0]]);
        ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
      });
      ctx.lineWidth = 2; ctx.beginPath(); ctx.arc(a[0], a[1], rad + 4, 0, 6.2832); ctx.stroke();
    }
  }
  function nearest(mx, my) {
    var best = -1, bd = 100;
    for (var i = 0; i < P.length; i++) {
      var s = screen(P[i]), d = (s[0] - mx) * (s[0] - mx) + (s[1] - my) * (s[1] - my);
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  }
  function name(p) { return (p.artist ? p.artist + " \u2013 " : "") + p.title; }
  function el(tag, text) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; return e; }
  function select(i) {
    selected = i;
    side.textContent = "";
    if (i < 0) { draw(); return; }
    var p = P[i];
    side.appendChild(el("h1", name(p)));
    side.appendChild(el("div", (p.genre || "no genre") + ", cluster " + p.cluster)).className = "muted";
    side.appendChild(el("div", p.id.slice(0, 12))).className = "muted";
    side.appendChild(el("p", "Most similar:"));
    var ol = el("ol");
    p.similar.forEach(function (nb) {
      var li = el("li", name(P[nb[0]]) + "  (" + nb[1].toFixed(3) + ")");
      li.onclick = function () { select(nb[0]); };
      ol.appendChild(li);
    });
    side.appendChild(ol);
    draw();
  }
  function legend() {
    var box = document.getElementById("legend"); box.textContent = "";
    var names = colourBy === "cluster"
      ? Array.apply(null, Array(Math.min(D.clusters, PALETTE.length - 1))).map(function (_, i) { return "cluster " + (i + 1); })
      : D.genres.slice();
    if (colourBy === "genre" || D.clusters > PALETTE.length - 1) names.push(colourBy === "cluster" ? "other clusters" : "other / none");
    names.forEach(function (n, i) {
      var row = el("div"), dot = el("span");
      dot.style.background = PALETTE[Math.min(i, PALETTE.length - 1)];
      row.appendChild(dot); row.appendChild(document.createTextNode(n));
      box.appendChild(row);
    });
  }
  canvas.addEventListener("mousemove", function (e) {
    var r = canvas.getBoundingClientRect(), mx = e.clientX - r.left, my = e.clientY - r.top;
    if (drag) { view.tx += mx - drag[0]; view.ty += my - drag[1]; drag = [mx, my]; moved = true; draw(); return; }
    hover = nearest(mx, my);
    if (hover >= 0) {
      tip.style.display = "block"; tip.textContent = name(P[hover]);
      tip.style.left = (mx + 12) + "px"; tip.style.top = (my + 12) + "px";
    } else { tip.style.display = "none"; }
  });
  var drag = null, moved = false;
  canvas.addEventListener("mousedown", function (e) { var r = canvas.getBoundingClientRect(); drag = [e.clientX - r.left, e.clientY - r.top]; moved = false; });
  window.addEventListener("mouseup", function () { drag = null; });
  canvas.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  canvas.addEventListener("click", function (e) {
    if (moved) return;
    var r = canvas.getBoundingClientRect();
    select(nearest(e.clientX - r.left, e.clientY - r.top));
  });
  canvas.addEventListener("dblclick", function () { view = { s: 1, tx: 0, ty: 0 }; draw(); });
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = canvas.getBoundingClientRect(), mx = e.clientX - r.left, my = e.clientY - r.top;
    var f = e.deltaY < 0 ? 1.2 : 1 / 1.2;
    view.tx = mx - (mx - view.tx) * f; view.ty = my - (my - view.ty) * f; view.s *= f; draw();
  }, { passive: false });
  document.getElementById("colour").onchange = function (e) { colourBy = e.target.value; legend(); draw(); };
  document.getElementById("find").oninput = function (e) {
    var q = e.target.value.trim().toLowerCase();
    matches = q ? P.map(function (p) { return name(p).toLowerCase().indexOf(q) >= 0; }) : null;
    draw();
  };
  window.addEventListener("resize", function () { size(); draw(); });
  size(); legend(); draw();
})();
</script>
</body>
</html>
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_the_script() {
        let s = script_json(&vec!["</script><!-- & \u{2028}"]).unwrap();
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'));
        let back: Vec<String> = serde_json::from_str(&s).unwrap();
        assert_eq!(back[0], "</script><!-- & \u{2028}");
    }

    #[test]
    fn without_genres_points_are_coloured_by_cluster() {
        use songrec_storage::{ModelInfo, SongId, SongMetadata};
        let rows: Vec<[f32; 2]> = (0..12)
            .map(|i| {
                let a = (i / 4) as f32 * 2.0 + (i % 4) as f32 * 0.05;
                [a.cos(), a.sin()]
            })
            .collect();
        let mut songs: Vec<SongMetadata> = (0..12)
            .map(|i| SongMetadata::new(SongId::from_bytes(&[i as u8]), format!("s{i}")))
            .collect();
        let set = |songs: &[SongMetadata]| {
            SongSet::new(
                ModelInfo::new("m", "1", 2),
                songs.to_vec(),
                crate::linalg::Matrix::from_rows(&rows).unwrap(),
            )
        };
        let opts = MapOptions {
            clusters: 3,
            ..MapOptions::default()
        };
        let d = build(&set(&songs), &opts).unwrap();
        assert_eq!(d.colouring.color, ColorBy::Cluster);
        let colours: std::collections::BTreeSet<usize> = (0..12)
            .map(|i| d.colour_index(i, d.colouring.color))
            .collect();
        // Clusters are numbered from 1, as people count.
        let numbers: std::collections::BTreeSet<usize> =
            d.points.iter().map(|p| p.cluster).collect();
        assert_eq!(numbers.into_iter().collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(colours.len(), 3, "one colour per cluster, not all grey");
        // With a genre for a few songs only, still by cluster; for half of them, by genre.
        songs[0].genre = Some("Rock".into());
        assert_eq!(
            build(&set(&songs), &opts).unwrap().colouring.color,
            ColorBy::Cluster
        );
        for s in &mut songs[1..6] {
            s.genre = Some("Jazz".into());
        }
        assert_eq!(
            build(&set(&songs), &opts).unwrap().colouring.color,
            ColorBy::Genre
        );
    }

    #[test]
    fn the_palette_has_twelve_distinct_colours_and_other() {
        let rgb = |h: &str| -> [f64; 3] {
            let v = u32::from_str_radix(&h[1..], 16).unwrap();
            [(v >> 16) as f64, ((v >> 8) & 255) as f64, (v & 255) as f64]
        };
        for (i, a) in PALETTE.iter().enumerate() {
            for b in &PALETTE[i + 1..] {
                let (a3, b3) = (rgb(a), rgb(b));
                let d = (0..3).map(|k| (a3[k] - b3[k]).powi(2)).sum::<f64>().sqrt();
                assert!(d > 60.0, "{a} and {b} are alike ({d:.0})");
            }
        }
        // Genres beyond the twelfth, and clusters beyond it, are "other".
        let genres: Vec<String> = (0..14).map(|i| format!("g{i:02}")).collect();
        let c = Colouring::new(ColorBy::Genre, genres.iter().map(|g| Some(g.as_str())), 14);
        assert_eq!(c.genres.len(), MAX_GROUPS);
        assert_eq!(c.index("g13", 1, ColorBy::Genre), OTHER);
        assert_eq!(c.index("g00", 13, ColorBy::Cluster), OTHER);
        assert_eq!(c.index("g00", 12, ColorBy::Cluster), 11);
        let l = c.legend(genres.iter().map(|g| (g.as_str(), 1)), ColorBy::Genre);
        assert_eq!(l.len(), MAX_GROUPS + 1);
        assert_eq!(l[MAX_GROUPS], (OTHER, "other / no genre".to_owned(), 2));
    }
}
