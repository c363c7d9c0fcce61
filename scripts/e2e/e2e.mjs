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

try {
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
