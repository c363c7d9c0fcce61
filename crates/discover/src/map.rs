//! A map of the library: every song placed in 2-D by PCA of its vector, coloured by genre or by
//! k-means cluster, with each song's ten most similar songs precomputed.
//!
//! [`html`] renders a single self-contained page (inline CSS, JavaScript and data; no network,
//! works from a file): hover a point for title and artist, click it for its most similar
//! songs, switch colouring, search by name, zoom with the wheel and pan by dragging.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::clusters::cluster;
use crate::kmeans::KMeansOptions;
use crate::linalg::knn_all;
use crate::projection::{PcaProjector, Projector};
use crate::{DiscoverError, DiscoverResult, SongSet};

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
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MapOptions {
    /// Default colouring.
    pub color: ColorBy,
    /// Clusters (0 = about √(n/2), between 2 and 12).
    pub clusters: usize,
    /// Similar songs listed per song.
    pub neighbours: usize,
    /// k-means settings.
    pub kmeans: KMeansOptions,
}

impl Default for MapOptions {
    fn default() -> Self {
        Self {
            color: ColorBy::Genre,
            clusters: 0,
            neighbours: 10,
            kmeans: KMeansOptions::default(),
        }
    }
}

/// One point of the map.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// Song id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Artist.
    pub artist: String,
    /// Genre (lowercase; empty when unknown).
    pub genre: String,
    /// Coordinates (first two principal components).
    pub x: f32,
    /// Second coordinate.
    pub y: f32,
    /// Cluster number.
    pub cluster: usize,
    /// Most similar songs (indices into the points) and their cosine similarity (3 decimals).
    pub similar: Vec<(usize, f32)>,
}

/// Everything the page and the image show.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MapData {
    /// Model whose vectors were projected.
    pub model: String,
    /// The points.
    pub points: Vec<Point>,
    /// Share of the variance the two axes show.
    pub explained: [f64; 2],
    /// Genre names in colour order (most common first); others share the last colour.
    pub genres: Vec<String>,
    /// Number of clusters.
    pub clusters: usize,
    /// Default colouring (by cluster when most songs have no genre, whatever was asked).
    pub color: ColorBy,
}

/// Distinct colours (Tableau-like), used in order; the last is for "other".
pub const PALETTE: [&str; 13] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#17becf", "#bcbd22", "#8c564b", "#9e9e9e",
];

/// Genres with their own colour; the rest are "other".
pub const MAX_GENRE_COLOURS: usize = PALETTE.len() - 1;

impl MapData {
    /// The colour index of point `i` under a colouring.
    pub fn colour_index(&self, i: usize, by: ColorBy) -> usize {
        let p = &self.points[i];
        match by {
            ColorBy::Cluster => p.cluster % (PALETTE.len() - 1),
            ColorBy::Genre => self
                .genres
                .iter()
                .position(|g| *g == p.genre)
                .unwrap_or(PALETTE.len() - 1),
        }
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
        ((n as f64 / 2.0).sqrt().round() as usize)
            .clamp(2, 12)
            .min(n)
    } else {
        opts.clusters.min(n)
    };
    let report = cluster(set, k, &opts.kmeans)?;
    let nn = knn_all(&set.vectors, opts.neighbours);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for s in &set.songs {
        if let Some(g) = &s.genre {
            *counts.entry(g.to_lowercase()).or_default() += 1;
        }
    }
    let mut genres: Vec<(String, usize)> = counts.into_iter().collect();
    genres.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let genres: Vec<String> = genres
        .into_iter()
        .take(MAX_GENRE_COLOURS)
        .map(|g| g.0)
        .collect();
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
                cluster: report.assignments[i],
                similar: nn[i]
                    .iter()
                    .map(|nb| (nb.index, (nb.similarity * 1000.0).round() / 1000.0))
                    .collect(),
            }
        })
        .collect();
    // When most songs have no genre, most points would be "other": colour by cluster instead
    // (111 of 174 grey points said nothing).
    let with_genre = set
        .songs
        .iter()
        .filter(|s| s.genre.as_deref().is_some_and(|g| !g.trim().is_empty()))
        .count();
    let color = if opts.color == ColorBy::Genre && with_genre * 2 < n {
        ColorBy::Cluster
    } else {
        opts.color
    };
    Ok(MapData {
        model: set.space.key(),
        points,
        explained: projection.explained,
        genres,
        clusters: report.clusters.len(),
        color,
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
    if (colourBy === "cluster") return p.cluster % (PALETTE.length - 1);
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
      ? Array.apply(null, Array(D.clusters)).map(function (_, i) { return "cluster " + i; })
      : D.genres.concat(["other / none"]);
    names.forEach(function (n, i) {
      var row = el("div"), dot = el("span");
      dot.style.background = PALETTE[colourBy === "cluster" ? i % (PALETTE.length - 1) : Math.min(i, PALETTE.length - 1)];
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
                crate::Matrix::from_rows(&rows).unwrap(),
            )
        };
        let opts = MapOptions {
            clusters: 3,
            ..MapOptions::default()
        };
        let d = build(&set(&songs), &opts).unwrap();
        assert_eq!(d.color, ColorBy::Cluster);
        let colours: std::collections::BTreeSet<usize> =
            (0..12).map(|i| d.colour_index(i, d.color)).collect();
        assert_eq!(colours.len(), 3, "one colour per cluster, not all grey");
        // With a genre for a few songs only, still by cluster; for half of them, by genre.
        songs[0].genre = Some("Rock".into());
        assert_eq!(build(&set(&songs), &opts).unwrap().color, ColorBy::Cluster);
        for s in &mut songs[1..6] {
            s.genre = Some("Jazz".into());
        }
        assert_eq!(build(&set(&songs), &opts).unwrap().color, ColorBy::Genre);
    }
}
