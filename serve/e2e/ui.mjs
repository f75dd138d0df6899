// Browser test of body4d serve, run by TestBrowser (cmd/body4d/serve_test.go):
// in headless system Chromium, upload the sample clip through the page's
// file input, scrub, click a person on frame 0 (and a negative click,
// undone), run and cancel, run again, wait for the result video to load,
// check the downloads and the profile table, and take a screenshot. Exits non-zero with a message on the first failure.
//
// Environment: BODY4D_URL (server), BODY4D_CLIP (video to upload),
// BODY4D_CLICK ("x,y" in video pixels), BODY4D_SCREENSHOT (PNG path),
// BODY4D_NODE_MODULES (where playwright-core is installed),
// BODY4D_CHROMIUM (browser executable, default /usr/bin/chromium).
import { createRequire } from "node:module";
import path from "node:path";

const env = (k, d) => {
  const v = process.env[k] || d;
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};
const require = createRequire(path.join(env("BODY4D_NODE_MODULES"), "_"));
const { chromium } = require("playwright-core");

const url = env("BODY4D_URL");
const clip = env("BODY4D_CLIP");
const [cx, cy] = env("BODY4D_CLICK", "90,175").split(",").map(Number);
const shot = env("BODY4D_SCREENSHOT");
const timeout = Number(env("BODY4D_JOB_TIMEOUT_MS", "900000"));

// waitFor is page.waitForFunction that, on timeout, says what the page
// showed in its message lines.
async function waitFor(page, what, fn, arg, opts) {
  try {
    await page.waitForFunction(fn, arg, opts);
  } catch (e) {
    const msgs = await page.evaluate(() => ["uploadmsg", "clickmsg", "runmsg", "jobstate"]
      .map((id) => `#${id}: ${document.getElementById(id).textContent}`).join("; ")).catch(() => "");
    throw new Error(`waiting for ${what}: ${e.message.split("\n")[0]} (page: ${msgs})`);
  }
}

const step = (s) => console.log(`[ui] ${new Date().toISOString().slice(11, 23)} ${s}`);
const pageErrors = [];

const browser = await chromium.launch({
  executablePath: env("BODY4D_CHROMIUM", "/usr/bin/chromium"),
  // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
  // WebGL (the 3D viewer) through SwiftShader, Chromium's CPU renderer.
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") pageErrors.push("console: " + m.text()); });
  page.on("response", (r) => { if (r.status() >= 400) pageErrors.push(`HTTP ${r.status()} for ${r.url()}`); });
  page.setDefaultTimeout(120000); // long: CI machines are loaded

  step(`open ${url}`);
  await page.goto(url);
  step(`upload ${path.basename(clip)}`);
  await page.setInputFiles("#file", clip);
  await waitFor(page, "the upload", () => /frames/.test(document.getElementById("videoinfo").textContent));
  await waitFor(page, "frame 0", () => document.body.dataset.frame === "0");
  const info = await page.textContent("#videoinfo");
  step(`video: ${info}`);

  // Frame scrubbing: the slider loads frame 10, then back to 0.
  await page.fill("#slider", "10");
  await waitFor(page, "frame 10", () => document.body.dataset.frame === "10");
  await page.fill("#slider", "0");
  await waitFor(page, "frame 0 again", () => document.body.dataset.frame === "0");

  // Click the person at (cx, cy) in video pixels on the scaled canvas.
  const v = await page.evaluate(async () => (await (await fetch("/api/session")).json()).video);
  const box = await page.locator("#frame").boundingBox();
  step(`click person 1 at (${cx},${cy}) on a ${Math.round(box.width)}x${Math.round(box.height)} canvas`);
  await page.mouse.click(box.x + ((cx + 0.5) / v.width) * box.width, box.y + ((cy + 0.5) / v.height) * box.height);
  await waitFor(page, "the click to be stored", () => /^1 click/.test(document.getElementById("clickmsg").textContent));
  const clicks = await page.evaluate(async () => (await (await fetch("/api/clicks")).json()).clicks);
  if (clicks.length !== 1 || clicks[0].person !== 1 || clicks[0].frame !== 0 ||
      Math.abs(clicks[0].x - cx) > 2 || Math.abs(clicks[0].y - cy) > 2) {
    throw new Error(`server has clicks ${JSON.stringify(clicks)}, want one at (${cx},${cy}) for person 1 on frame 0`);
  }

  // Mask preview of the clicked frame, when the server offers it.
  const features = await page.evaluate(async () => (await (await fetch("/api/session")).json()).features);
  if (features.preview) {
    await page.check("#showpreview");
    await waitFor(page, "the mask preview", () => document.body.dataset.preview === "0");
    step(`mask preview: ${await page.textContent("#previewmsg")}`);
  } else {
    step("mask preview: not offered by this server");
  }

  // A negative click on the background, then undo it.
  await page.check("input[name=label][value=neg]");
  await page.mouse.click(box.x + box.width / 2, box.y + box.height * 0.12);
  await waitFor(page, "the negative click", () => /^2 clicks/.test(document.getElementById("clickmsg").textContent));
  const two = await page.evaluate(async () => (await (await fetch("/api/clicks")).json()).clicks);
  if (two.length !== 2 || !two[1].negative) throw new Error(`after a negative click the server has ${JSON.stringify(two)}`);
  await page.click("#undo");
  await waitFor(page, "undo", () => /^1 click/.test(document.getElementById("clickmsg").textContent));
  await page.check("input[name=label][value=pos]");

  // Find people (the tiny detector finds two on any frame): both become
  // new people with boxes; remove the first, the other stays for the run.
  if (!features.detect) throw new Error("the server offers no Find people: the built-in tiny models have a detector");
  {
    await page.click("#findpeople");
    await waitFor(page, "two found people", () => document.querySelectorAll("#found button").length === 2);
    const found = await page.$$eval("#found button", (bs) => bs.map((b) => b.dataset.person));
    step(`found people: ${found.join(", ")}`);
    if (found.join(",") !== "2,3") throw new Error(`found people ${found}, want 2 and 3 (person 1 is clicked)`);
    await page.click("#found button[data-person='2']");
    await waitFor(page, "the removal", () => document.querySelectorAll("#found button").length === 1);
    const stored = await page.evaluate(async () => (await (await fetch("/api/clicks")).json()));
    if (stored.boxes.length !== 1 || stored.boxes[0].person !== 3 || stored.clicks.length !== 1) {
      throw new Error(`after removing person 2 the server has ${JSON.stringify(stored)}`);
    }
  }

  // Run and cancel at once: the page must show the job cancelled.
  step("run, then cancel");
  await page.click("#run");
  await waitFor(page, "the job to start", () => ["queued", "running", "done"].includes(document.body.dataset.job));
  await page.click("#cancel").catch(() => {}); // disabled if it already finished
  await waitFor(page, "the cancel", () => ["cancelled", "done"].includes(document.body.dataset.job));
  step(`first job: ${await page.evaluate(() => document.body.dataset.job)}`);

  // The second run asks for the world frame: the sample's tiny MoGe maps
  // are refused as a moving camera, and the page must say so.
  step("run, world frame on");
  await page.check("#world");
  await page.click("#run");
  await waitFor(page, "the second job to start", () => ["queued", "running"].includes(document.body.dataset.job));
  await waitFor(page, "the job", () => ["done", "failed", "cancelled"].includes(document.body.dataset.job), null, { timeout });
  const state = await page.evaluate(() => document.body.dataset.job);
  if (state !== "done") throw new Error(`job ${state}: ${await page.textContent("#runmsg")}`);
  const stages = await page.$$eval("#progress tbody tr td:first-child", (tds) => tds.map((t) => t.textContent));
  step(`done; progress rows: ${stages.join(", ")}`);

  // The result video must load and decode in the page (H.264 in MP4).
  await waitFor(page, "the result video to load", () => document.getElementById("result").readyState >= 2, null, { timeout: 300000 });
  const vid = await page.evaluate(async () => {
    const el = document.getElementById("result");
    el.currentTime = Math.min(1.0, el.duration / 2); // a frame with the overlay, not just the first
    await new Promise((r) => el.addEventListener("seeked", r, { once: true }));
    return { w: el.videoWidth, h: el.videoHeight, d: el.duration, rs: el.readyState };
  });
  step(`result video ${vid.w}x${vid.h}, ${vid.d.toFixed(2)} s, readyState ${vid.rs}`);
  if (vid.w !== v.width || vid.h !== v.height || !(vid.d > 0)) throw new Error(`result video ${JSON.stringify(vid)} does not match the ${v.width}x${v.height} input`);

  await waitFor(page, "the world-frame message", () => document.getElementById("worldmsg").textContent !== "");
  const worldMsg = await page.textContent("#worldmsg");
  step(`world: ${worldMsg}`);
  if (!/no world frame/.test(worldMsg) || !(await page.locator("#topview").isHidden())) {
    throw new Error(`world frame: the page shows "${worldMsg}"; want the refusal's note and no top view`);
  }
  // The top view's drawing in this browser, on a known view: the path
  // and the camera are drawn over the grid.
  const drawn = await page.evaluate(() => {
    const c = document.createElement("canvas");
    c.width = c.height = 200;
    drawTopView(c, { camera: [0, -3], camera_facing: [0, 1], camera_height_m: 1.5, people: [{ id: 1, paths: [[[0, 0], [1, 1], [2, 0.5]]] }] });
    const d = c.getContext("2d").getImageData(0, 0, 200, 200).data;
    let path = 0, cam = 0;
    for (let i = 0; i < d.length; i += 4) {
      const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
      if (r === 0xee && g === 0xee && b === 0xee) cam++;
      else if (!(r === g && g === b)) path++; // the person's colour, not the greys
    }
    return { path, cam, people: c.dataset.people };
  });
  step(`top view drawing: ${drawn.path} path pixels, ${drawn.cam} camera pixels`);
  if (drawn.path < 50 || drawn.cam < 10 || drawn.people !== "1") throw new Error(`top view drawing ${JSON.stringify(drawn)}: the path or the camera is missing`);

  const links = await page.$$eval("#downloads a", (as) => as.map((a) => a.getAttribute("href")));
  const profile = await page.$$eval("#profile tbody tr", (rs) => rs.length);
  step(`downloads: ${links.length}, profile rows: ${profile}`);
  if (!links.some((h) => h.includes("/people/3/"))) throw new Error(`no result for person 3, found and kept before the run: ${links}`);
  if (links.length < 2 || profile < 1) throw new Error("no downloads or no profile table");
  for (const href of links) {
    const status = await page.evaluate(async (h) => (await fetch(h)).status, href);
    if (status !== 200) throw new Error(`download ${href}: HTTP ${status}`);
  }

  // The 3D viewer: scene.glb loads, and seeking the video moves the
  // animation (the viewer's time follows, and what it draws changes).
  for (const want of ["scene.glb", "motion.glb", "motion.bvh"]) {
    if (!links.some((h) => h.includes(want))) throw new Error(`no ${want} download in ${links}`);
  }
  await waitFor(page, "the 3D viewer to load scene.glb", () => document.body.dataset.viewer === "loaded", null, { timeout: 300000 });
  const seekAndDraw = async (t) => page.evaluate(async (t) => {
    const el = document.getElementById("result");
    el.currentTime = t;
    await new Promise((r) => el.addEventListener("seeked", r, { once: true }));
    for (let i = 0; i < 3; i++) await new Promise((r) => requestAnimationFrame(r)); // let it render
    const mv = document.getElementById("mv");
    return { video: el.currentTime, viewer: mv.currentTime, data: document.body.dataset.viewerTime, image: mv.toDataURL("image/png") };
  }, t);
  const a = await seekAndDraw(0.3);
  const b = await seekAndDraw(vid.d * 0.8);
  step(`viewer at video ${a.video.toFixed(3)} s: ${a.viewer.toFixed(3)} s; at ${b.video.toFixed(3)} s: ${b.viewer.toFixed(3)} s`);
  for (const s of [a, b]) {
    if (Math.abs(s.viewer - s.video) > 1e-3) throw new Error(`viewer time ${s.viewer} does not follow the video's ${s.video}`);
  }
  if (a.image === b.image) throw new Error("seeking the video did not change what the 3D viewer draws");
  // Play, then pause: the viewer stops where the video stops.
  const played = await page.evaluate(async () => {
    const el = document.getElementById("result");
    await el.play();
    await new Promise((r) => setTimeout(r, 400));
    el.pause();
    await new Promise((r) => requestAnimationFrame(r));
    return { video: el.currentTime, viewer: document.getElementById("mv").currentTime };
  });
  step(`played and paused: video ${played.video.toFixed(3)} s, viewer ${played.viewer.toFixed(3)} s`);
  if (Math.abs(played.viewer - played.video) > 1e-3) throw new Error(`after play/pause the viewer is at ${played.viewer}, the video at ${played.video}`);
  await page.evaluate(async (t) => { // a frame with everyone in view for the screenshot
    const el = document.getElementById("result");
    el.currentTime = t;
    await new Promise((r) => el.addEventListener("seeked", r, { once: true }));
  }, 1.0);
  await page.locator("#viewer3d").scrollIntoViewIfNeeded();

  await page.screenshot({ path: shot, fullPage: true });
  step(`screenshot ${shot}`);
  if (pageErrors.length) throw new Error("errors in the page:\n" + pageErrors.join("\n"));
} finally {
  await browser.close();
}
