// songrec web page: plain JavaScript over the REST API (/api/v1). Text is always inserted with
// textContent, never as HTML.
"use strict";

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

async function api(path, options) {
  const r = await fetch(path, options);
  let body = null;
  try {
    body = await r.json();
  } catch (_) {
    /* not JSON */
  }
  if (!r.ok) {
    const msg = body && body.error ? body.error.message : r.status + " " + r.statusText;
    throw new Error(msg);
  }
  return body;
}

function showError(e) {
  const p = $("#error");
  p.textContent = e ? String(e.message || e) : "";
  p.hidden = !e;
}

function fmtTime(secs) {
  const s = Math.round(secs || 0);
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

// A tempo in whole beats per minute, halves rounded up (186.5 → 187): songrec's one rule, as
// `songrec_app::explain::whole_bpm` prints it on the command line.
function fmtBpm(bpm) {
  return Math.round(bpm) + " bpm";
}

function fmtBytes(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(1) + " GB";
  if (n >= 1e6) return (n / 1e6).toFixed(1) + " MB";
  if (n >= 1e3) return (n / 1e3).toFixed(0) + " kB";
  return n + " B";
}

// One song of a list: its name and facts on the left (wrapping), its score in a column of its
// own on the right (a grid, so a long title that wraps never runs under or over the score).
function songItem(song, extra) {
  const a = el("a", { href: "#/song/" + song.id, class: "song-link", "data-id": song.id, text: song.title });
  const bits = [song.artist, song.album, song.genre, song.bpm ? fmtBpm(song.bpm) : null, fmtTime(song.duration_secs)];
  const what = el("div", { class: "what" }, a, el("span", { class: "muted", text: " " + bits.filter(Boolean).join(" · ") }));
  const row = el("div", { class: "row" }, what);
  if (extra) row.append(el("span", { class: "score", text: extra }));
  return el("li", {}, row);
}

// ---- home: search, map, upload ----------------------------------------------------------------

let searchSeq = 0;

async function runSearch() {
  const q = $("#search").value.trim();
  const seq = ++searchSeq;
  const url = "/api/v1/songs?limit=50" + (q ? "&q=" + encodeURIComponent(q) : "");
  try {
    const page = await api(url);
    if (seq !== searchSeq) return; // a newer search is under way
    const ol = $("#results");
    ol.replaceChildren(...page.items.map((s) => songItem(s)));
    $("#results-heading").textContent = q ? "Songs matching “" + q + "”" : "Songs";
    $("#results-more").textContent =
      page.total_exact === false
        ? page.items.length + " of " + page.total + "+ shown"
        : page.total > page.items.length ? page.items.length + " of " + page.total + " shown" : page.total + " songs";
    ol.dataset.ready = "1";
    showError(null);
  } catch (e) {
    showError(e);
  }
}

async function loadStats() {
  try {
    const s = await api("/api/v1/stats");
    const length = s.total_secs >= 3600 ? (s.total_secs / 3600).toFixed(1) + " h" : Math.round(s.total_secs / 60) + " min";
    $("#stats").textContent = s.songs + " songs · " + length + " · " + fmtBytes(s.total_bytes);
  } catch (e) {
    $("#stats").textContent = "";
  }
}

async function loadMap() {
  const box = $("#map");
  try {
    const m = await api("/api/v1/map");
    const W = 600, H = 400, pad = 16;
    const xs = m.points.map((p) => p.x), ys = m.points.map((p) => p.y);
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
    const sy = (y) => H - pad - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "library map" });
    // The server colours the points (by genre, or by cluster when most songs have none: the
    // rule of `songrec map`) and names every colour in the legend.
    for (const p of m.points) {
      const c = svg("circle", {
        cx: sx(p.x).toFixed(1), cy: sy(p.y).toFixed(1), r: m.points.length > 1000 ? 2.5 : 5,
        fill: p.colour, class: "point", "data-id": p.id,
      });
      const t = svg("title");
      t.textContent = (p.artist ? p.artist + " – " : "") + p.title + (p.genre ? " (" + p.genre + ")" : "") +
        ", cluster " + p.cluster;
      c.append(t);
      c.addEventListener("click", () => { location.hash = "#/song/" + p.id; });
      root.append(c);
    }
    box.replaceChildren(root);
    $("#legend").replaceChildren(...m.legend.map((row) => {
      const dot = el("span", { class: "dot" });
      dot.style.background = row.colour;
      return el("li", { "data-colour": row.colour }, dot, row.label + " (" + row.songs + ")");
    }));
    $("#map-caption").textContent =
      m.points.length + " songs, " + m.projection.toUpperCase() + " of " + m.model + " vectors (" +
      Math.round(100 * (m.explained_variance[0] + m.explained_variance[1])) + "% of the variance)" +
      (m.truncated ? ", first " + m.points.length + " of " + m.total : "") +
      (m.color === "cluster" ? "; coloured by cluster, as most songs have no genre" : "") +
      ". Click a dot to open the song.";
  } catch (e) {
    box.replaceChildren(el("p", { class: "muted", text: "No map: " + e.message }));
  }
}

async function upload(ev) {
  ev.preventDefault();
  const f = $("#upload-file").files[0];
  if (!f) return;
  const status = $("#upload-status");
  status.textContent = "Analysing " + f.name + "…";
  const form = new FormData();
  form.append("file", f);
  try {
    const r = await api("/api/v1/similar?k=10&distinct=true", { method: "POST", body: form });
    status.textContent = "Songs like " + f.name + " (compared: " + r.model + "):";
    $("#upload-results").replaceChildren(...r.results.map((x) => songItem(x.song, simText(x))));
  } catch (e) {
    status.textContent = "Could not analyse " + f.name + ": " + e.message;
  }
}

// Songs for words alone: ranked by the style tags the words name.
async function searchWords(ev) {
  ev.preventDefault();
  const text = $("#words-text").value.trim();
  if (!text) return;
  const status = $("#words-status");
  try {
    const r = await api("/api/v1/similar?k=10&text=" + encodeURIComponent(text));
    const tags = r.words.tags.map((t) => (t.weight < 0 ? "not " : "") + t.tag).join(", ");
    const ignored = r.words.ignored_words.length ? "; ignored: " + r.words.ignored_words.join(", ") : "";
    status.textContent = "Songs for " + (tags || "titles and fields holding these words") +
      " (words used: " + r.words.used_words.join(", ") + ignored + "):";
    $("#words-results").replaceChildren(...r.results.map((x) => songItem(x.song, x.tag_score.toFixed(3))));
  } catch (e) {
    status.textContent = e.message;
    $("#words-results").replaceChildren();
  }
}

// A result's similarity, and how many other copies of its recording were folded into it.
function simText(x) {
  const n = x.copies_folded || 0;
  return x.similarity.toFixed(3) + (n ? " (+" + n + (n === 1 ? " copy)" : " copies)") : "");
}

// ---- song page ----------------------------------------------------------------------------------

async function showSong(id) {
  $("#home").hidden = true;
  $("#song").hidden = false;
  $("#similar").replaceChildren();
  $("#similar").dataset.ready = "";
  try {
    const d = await api("/api/v1/songs/" + encodeURIComponent(id));
    const s = d.song;
    document.title = s.title + " – songrec";
    $("#song-title").textContent = s.title;
    $("#song-artist").textContent = [s.artist, s.album].filter(Boolean).join(" — ");
    const player = $("#player");
    if (d.has_audio) {
      player.hidden = false;
      if (player.dataset.id !== s.id) {
        player.src = d.audio_url;
        player.dataset.id = s.id;
      }
    } else {
      player.hidden = true;
      player.removeAttribute("src");
    }
    const rows = [
      ["Genre", s.genre], ["Tempo", s.bpm ? fmtBpm(s.bpm) : null], ["Key", s.key],
      ["Duration", fmtTime(s.duration_secs)], ["File", s.file_name], ["Size", fmtBytes(s.file_size || 0)],
      ["Tags", (s.tags || []).join(", ")], ["Vectors", d.models.join(", ")], ["Id", s.id],
      ["Source", s.source_url || null],
    ];
    $("#song-meta").replaceChildren(...rows.filter(([, v]) => v).flatMap(([k, v]) =>
      [el("dt", { text: k }), el("dd", { text: String(v) })]));
    // One song per recording: other files of this song, and copies of a match, are folded.
    const steer = $("#steer-text").value.trim();
    const sim = await api("/api/v1/songs/" + s.id + "/similar?k=10" +
      (steer ? "&text=" + encodeURIComponent(steer) : "&distinct=true"));
    $("#similar").replaceChildren(...sim.results.map((x) => songItem(x.song, simText(x))));
    if (!sim.results.length) $("#similar").append(el("li", { class: "muted", text: "No other songs yet." }));
    $("#similar").dataset.ready = "1";
    showError(null);
  } catch (e) {
    showError(e);
  }
}

function showHome() {
  document.title = "songrec";
  $("#song").hidden = true;
  $("#home").hidden = false;
  const p = $("#player");
  if (!p.paused) p.pause();
}

function route() {
  const m = location.hash.match(/^#\/song\/([0-9a-fA-F]{4,64})$/);
  if (m) showSong(m[1]);
  else showHome();
}

document.addEventListener("DOMContentLoaded", () => {
  let timer = null;
  $("#search").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (location.hash.startsWith("#/song/")) location.hash = "#/";
      runSearch();
    }, 200);
  });
  $("#upload").addEventListener("submit", upload);
  $("#words").addEventListener("submit", searchWords);
  $("#steer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const m = location.hash.match(/^#\/song\/([0-9a-fA-F]{4,64})$/);
    if (m) showSong(m[1]);
  });
  window.addEventListener("hashchange", route);
  route();
  runSearch();
  loadStats();
  loadMap();
});
