// Browser test of the songrec web page: headless Chromium (Debian's `chromium`) driven by
// playwright-core. Usage: node e2e.mjs <base url> <artefact dir>
// Loads the page, checks the map, searches, opens a song, plays it, follows a similar song and
// a map dot, and saves screenshots. Exits 1 with the failed step's message (and a screenshot).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, outDir] = process.argv.slice(2);
if (!base || !outDir) {
  console.error("usage: node e2e.mjs <base url> <artefact dir>");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const executablePath = process.env.SONGREC_CHROMIUM || "/usr/bin/chromium";

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
  ],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.setDefaultTimeout(15000);
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));
page.on("console", (m) => {
  if (m.type() === "error") pageErrors.push(m.text());
});
const audioStatuses = [];
page.on("response", (r) => {
  if (r.url().includes("/audio")) audioStatuses.push(r.status());
});

const report = { steps: [] };
let current = "start";
async function step(name, fn) {
  current = name;
  const t = Date.now();
  const detail = await fn();
  report.steps.push({ name, ms: Date.now() - t, ...(detail || {}) });
}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

// SONGREC_E2E_MODE=untagged: a library where most songs have no genre and some have long
// titles, every one at 186.5 bpm (crates/server/tests/server/e2e.rs makes it): the map's
// colours and legend, the score column of a song's similar songs in a narrow window, and the
// tempo shown as the command line shows it (187 bpm).
async function untagged() {
  await step("map coloured by cluster", async () => {
    await page.goto(base + "/");
    await page.waitForSelector("#map circle.point");
    await page.waitForSelector("#legend li");
    const fills = await page.locator("#map circle.point").evaluateAll((cs) => cs.map((c) => c.getAttribute("fill")));
    const legend = await page.locator("#legend li").evaluateAll((ls) =>
      ls.map((l) => ({ colour: l.dataset.colour, label: l.textContent })));
    const labels = legend.map((l) => l.label);
    check(labels.every((l) => /^cluster \d+ \(\d+\)$/.test(l)), "legend not by cluster: " + labels);
    check(labels.some((l) => l.startsWith("cluster 1 ")), "clusters not numbered from 1: " + labels);
    check(!labels.some((l) => l.startsWith("cluster 0 ")), "a cluster 0: " + labels);
    const colours = legend.map((l) => l.colour);
    check(new Set(colours).size === colours.length, "legend colours repeat: " + colours);
    check(fills.every((f) => colours.includes(f)), "a dot's colour is not in the legend: " + fills);
    const counted = legend.reduce((n, l) => n + parseInt(l.label.match(/\((\d+)\)$/)[1], 10), 0);
    check(counted === fills.length, `the legend counts ${counted} songs for ${fills.length} dots`);
    const caption = await page.textContent("#map-caption");
    check(/coloured by cluster/.test(caption), "the caption does not say why: " + caption);
    await page.screenshot({ path: join(outDir, "map.png"), fullPage: true });
    return { colours: new Set(fills).size, grey: fills.filter((f) => f.toUpperCase() === "#BBBBBB").length };
  });

  await step("scores in their own column", async () => {
    await page.setViewportSize({ width: 560, height: 900 });
    await page.fill("#search", "warehouse");
    await page.waitForFunction(() => {
      const links = [...document.querySelectorAll("#results li a.song-link")];
      return links.length > 0 && links.every((a) => /warehouse/i.test(a.textContent));
    });
    await page.click("#results li a.song-link >> nth=0");
    await page.waitForSelector('#similar[data-ready="1"] li a.song-link');
    const rows = await page.locator("#similar li").evaluateAll((lis) =>
      lis.map((li) => {
        const box = (e) => {
          if (!e) return null;
          const r = e.getBoundingClientRect();
          return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, height: r.height };
        };
        const link = li.querySelector("a.song-link");
        const lines = link ? link.getClientRects().length : 0;
        return { what: box(li.querySelector(".what")), score: box(li.querySelector(".score")), lines,
          text: li.querySelector(".score") ? li.querySelector(".score").textContent : null };
      }));
    check(rows.length >= 3, "too few similar songs: " + rows.length);
    rows.forEach((r, i) => {
      check(r.score && r.score.height > 0 && r.text, `row ${i + 1} has no score`);
      check(r.score.left >= r.what.right - 0.5, `row ${i + 1}: the score overlaps its title`);
    });
    for (let i = 0; i < rows.length; i++) {
      for (let j = i + 1; j < rows.length; j++) {
        const a = rows[i].score, b = rows[j].score;
        const apart = a.bottom <= b.top + 0.5 || b.bottom <= a.top + 0.5 || a.right <= b.left || b.right <= a.left;
        check(apart, `the scores of rows ${i + 1} and ${j + 1} overlap (${rows[i].text} / ${rows[j].text})`);
      }
    }
    const wrapped = rows.filter((r) => r.lines > 1).length;
    check(wrapped > 0, "no title wrapped: the layout was not tested");
    // Every song's tempo is 186.5 here: shown as 187 bpm, as the command line prints it.
    const meta = await page.textContent("#song-meta");
    const facts = await page.locator("#similar li .what").allTextContents();
    check(/(^|[^\d.])187 bpm/.test(meta) && !/186\.5/.test(meta), "the song's tempo is not shown as 187 bpm: " + meta);
    check(facts.every((t) => /(^|[^\d.])187 bpm/.test(t)), "a similar song's tempo is not shown as 187 bpm: " + facts);
    await page.screenshot({ path: join(outDir, "song-narrow.png"), fullPage: true });
    return { rows: rows.length, wrapped, tempo: (meta.match(/[\d.]+ bpm/) || [null])[0] };
  });
}

try {
  if (process.env.SONGREC_E2E_MODE === "untagged") {
    await untagged();
    check(pageErrors.length === 0, "errors in the page: " + pageErrors.join("; "));
    report.ok = true;
    writeFileSync(join(outDir, "report.json"), JSON.stringify(report, null, 2));
    console.log(JSON.stringify(report));
    await browser.close();
    process.exit(0);
  }
  await step("load the page", async () => {
    await page.goto(base + "/");
    await page.waitForSelector('#results[data-ready="1"] li a.song-link');
    const n = await page.locator("#results li a.song-link").count();
    await page.waitForFunction(() => /\d+ songs/.test(document.querySelector("#stats").textContent));
    const stats = await page.textContent("#stats");
    const total = parseInt(stats, 10);
    check(n === total, `the list shows ${n} songs but the stats say ${stats}`);
    return { songs: n };
  });

  await step("library map", async () => {
    await page.waitForSelector("#map circle.point");
    const dots = await page.locator("#map circle.point").count();
    const songs = report.steps[0].songs;
    check(dots === songs, `the map has ${dots} dots for ${songs} songs`);
    const legend = await page.locator("#legend li").count();
    check(legend >= 2, `the legend has ${legend} genres`);
    await page.screenshot({ path: join(outDir, "home.png"), fullPage: true });
    return { dots, legend };
  });

  let title;
  await step("search", async () => {
    await page.fill("#search", "warehouse");
    await page.waitForFunction(() => {
      const links = [...document.querySelectorAll("#results li a.song-link")];
      return links.length > 0 && links.every((a) => /warehouse/i.test(a.textContent));
    });
    const titles = await page.locator("#results li a.song-link").allTextContents();
    check(titles.length < report.steps[0].songs, "the search did not narrow the list");
    title = titles[0];
    return { results: titles.length };
  });

  await step("open a song", async () => {
    await page.click(`#results li a.song-link >> nth=0`);
    await page.waitForFunction((t) => document.querySelector("#song-title").textContent === t, title);
    await page.waitForSelector('#similar[data-ready="1"] li a.song-link');
    const similar = await page.locator("#similar li a.song-link").allTextContents();
    check(similar.length > 0, "no similar songs shown");
    check(!similar.includes(title), "a song is listed as similar to itself");
    const meta = await page.textContent("#song-meta");
    check(/Genre/.test(meta) && /Tempo/.test(meta), "the details lack genre/tempo: " + meta);
    return { similar: similar.length };
  });

  await step("play the audio", async () => {
    await page.evaluate(() => document.querySelector("#player").play());
    await page.waitForFunction(
      () => {
        const a = document.querySelector("#player");
        return a.readyState >= 2 && a.currentTime > 0.3;
      },
      null,
      { timeout: 15000 },
    );
    const state = await page.evaluate(() => {
      const a = document.querySelector("#player");
      return { readyState: a.readyState, currentTime: a.currentTime, duration: a.duration, error: a.error && a.error.code };
    });
    await page.evaluate(() => document.querySelector("#player").pause());
    check(audioStatuses.some((s) => s === 206 || s === 200), "no audio response: " + audioStatuses);
    await page.screenshot({ path: join(outDir, "song.png"), fullPage: true });
    return { ...state, statuses: [...new Set(audioStatuses)] };
  });

  await step("follow a similar song", async () => {
    const next = await page.locator("#similar li a.song-link").first().textContent();
    await page.click("#similar li a.song-link >> nth=0");
    await page.waitForFunction((t) => document.querySelector("#song-title").textContent === t, next);
    await page.waitForSelector('#similar[data-ready="1"] li a.song-link');
    return { title: next };
  });

  await step("open a song from the map", async () => {
    await page.goto(base + "/#/");
    await page.waitForSelector("#map circle.point");
    const id = await page.locator("#map circle.point").nth(1).getAttribute("data-id");
    await page.locator("#map circle.point").nth(1).click({ force: true });
    await page.waitForFunction((i) => location.hash === "#/song/" + i, id);
    await page.waitForFunction(() => document.querySelector("#song-title").textContent.length > 0);
    return { id };
  });

  const uploadFile = process.env.SONGREC_E2E_UPLOAD;
  if (uploadFile) {
    await step("songs like an uploaded file", async () => {
      await page.goto(base + "/#/");
      await page.setInputFiles("#upload-file", uploadFile);
      await page.click("#upload button[type=submit]");
      await page.waitForSelector("#upload-results li a.song-link");
      const status = await page.textContent("#upload-status");
      check(/^Songs like /.test(status), "upload status: " + status);
      const n = await page.locator("#upload-results li a.song-link").count();
      return { results: n };
    });
  }

  check(pageErrors.length === 0, "errors in the page: " + pageErrors.join("; "));
  report.ok = true;
  writeFileSync(join(outDir, "report.json"), JSON.stringify(report, null, 2));
  console.log(JSON.stringify(report));
  await browser.close();
} catch (e) {
  report.ok = false;
  report.failed_step = current;
  report.error = String(e && e.message ? e.message : e);
  report.page_errors = pageErrors;
  try {
    await page.screenshot({ path: join(outDir, "failure.png"), fullPage: true });
  } catch (_) {
    /* the page may be gone */
  }
  writeFileSync(join(outDir, "report.json"), JSON.stringify(report, null, 2));
  console.error(`e2e step "${current}" failed: ${report.error}`);
  await browser.close();
  process.exit(1);
}
