// body4d serve: the page's logic. Plain JS, no framework: the server's
// JSON API (API.md) holds all state; this script draws it and sends the
// user's edits. Clicks are sent as the whole list after every edit, one
// request at a time, so the server's list is always the page's list.
"use strict";

const $ = (id) => document.getElementById(id);
const ui = {
  state: null,      // last /api/session answer
  frame: 0,
  person: 1,
  extraPeople: 0,   // people added with "+ person" that have no click yet
  img: null,        // the frame on screen
  overlay: null,    // mask preview of the frame on screen
  want: -1,         // frame being loaded
  events: null,     // EventSource of the watched job
  jobId: null,
  edits: Promise.resolve(),
};

async function api(method, path, body, headers) {
  const opt = { method, headers: headers || {}, credentials: "same-origin" };
  if (body !== undefined) {
    if (body instanceof Blob) {
      opt.body = body;
    } else {
      opt.body = JSON.stringify(body);
      opt.headers["Content-Type"] = "application/json";
    }
  }
  const res = await fetch(path, opt);
  const ctype = res.headers.get("Content-Type") || "";
  const data = ctype.startsWith("application/json") ? await res.json() : null;
  if (!res.ok) {
    const err = new Error((data && data.error) || `${method} ${path}: HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

function say(id, text, ok) {
  const el = $(id);
  el.textContent = text || "";
  el.classList.toggle("ok", !!ok);
}

// ---- session and video ----

async function start() {
  // The server's session for this cookie, or a new one when there is
  // none (a GET makes no session).
  const st = await api("POST", "/api/session");
  setState(st);
  const jobs = st.jobs || [];
  if (jobs.length) {
    const last = jobs[jobs.length - 1];
    renderJob(last);
    if (!isTerminal(last.state)) watch(last.id);
  }
}

function setState(st) {
  const videoChanged = !ui.state || (ui.state.video && ui.state.video.id) !== (st.video && st.video.id);
  ui.state = st;
  $("notes").textContent = (st.notes || []).join(" · ");
  $("sample").hidden = !st.features.sample;
  $("suggested").hidden = !(st.suggested_clicks && st.suggested_clicks.length);
  $("findpeople").hidden = !st.features.detect;
  const showPreview = $("showpreview");
  showPreview.disabled = !st.features.preview || !st.video;
  if (!st.features.preview) say("previewmsg", "not available with these models or this build; run to see the masks' result", true);
  const v = st.video;
  if (v) {
    $("videoinfo").textContent = `${v.name} · ${v.width}×${v.height} · ${v.frames} frames · ${v.fps} fps`;
    $("placeholder").hidden = true;
    $("slider").max = v.frames - 1;
    if (videoChanged) {
      const c = $("frame");
      c.width = v.width;
      c.height = v.height;
      ui.extraPeople = 0;
      ui.person = 1;
      showFrame(0);
    }
  } else {
    $("videoinfo").textContent = "no video yet";
    $("placeholder").hidden = false;
  }
  renderPeople();
  renderFound();
  draw();
}

async function upload(file) {
  const lim = ui.state.limits.max_upload_bytes;
  if (file.size > lim) {
    say("uploadmsg", `${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MiB; this server takes at most ${(lim / 2 ** 20).toFixed(0)} MiB`);
    return;
  }
  say("uploadmsg", `uploading and decoding ${file.name}…`, true);
  try {
    const st = await api("POST", "/api/video?name=" + encodeURIComponent(file.name), file,
      { "Content-Type": file.type || "application/octet-stream" });
    say("uploadmsg", "");
    setState(st);
  } catch (e) {
    say("uploadmsg", e.message);
  }
}

async function useSample() {
  say("uploadmsg", "decoding the sample clip…", true);
  try {
    setState(await api("POST", "/api/sample"));
    say("uploadmsg", "");
  } catch (e) {
    say("uploadmsg", e.message);
  }
}

// ---- frames ----

function showFrame(n, tries = 0) {
  const v = ui.state && ui.state.video;
  if (!v) return;
  n = Math.max(0, Math.min(v.frames - 1, n | 0));
  ui.frame = n;
  ui.want = n;
  $("slider").value = n;
  $("frameno").textContent = `frame ${n} / ${v.frames - 1}`;
  const img = new Image();
  img.onload = () => {
    if (ui.want !== n) return; // a later frame was asked for meanwhile
    ui.img = img;
    document.body.dataset.frame = n; // for scripts and tests
    draw();
    loadPreview();
  };
  // Fast scrubbing can run past the session's frame requests at once
  // (429, max_encodes_per_session): the frame still wanted is asked again.
  img.onerror = () => {
    if (ui.want === n && tries < 5) setTimeout(() => { if (ui.want === n) showFrame(n, tries + 1); }, 200 * (tries + 1));
  };
  img.src = `/api/frames/${n}?v=${encodeURIComponent(v.id)}`;
}

function colour(p) {
  const pal = ui.state.palette;
  return pal[(p - 1) % pal.length];
}

function draw() {
  const c = $("frame");
  const g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  if (!ui.state || !ui.state.video || !ui.img) return;
  g.drawImage(ui.img, 0, 0, c.width, c.height);
  if (ui.overlay && $("showpreview").checked) g.drawImage(ui.overlay, 0, 0, c.width, c.height);
  const r = Math.max(5, c.width / 90);
  for (const b of ui.state.boxes || []) {
    if (b.frame !== ui.frame) continue;
    g.lineWidth = Math.max(2, r / 2);
    g.strokeStyle = colour(b.person);
    g.strokeRect(b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
  }
  for (const k of ui.state.clicks) {
    if (k.frame !== ui.frame) continue;
    g.lineWidth = Math.max(2, r / 3);
    g.strokeStyle = "#fff";
    g.fillStyle = colour(k.person);
    if (k.negative) {
      g.strokeStyle = colour(k.person);
      g.beginPath();
      g.moveTo(k.x - r, k.y - r); g.lineTo(k.x + r, k.y + r);
      g.moveTo(k.x + r, k.y - r); g.lineTo(k.x - r, k.y + r);
      g.stroke();
    } else {
      g.beginPath();
      g.arc(k.x, k.y, r, 0, 2 * Math.PI);
      g.fill();
      g.stroke();
    }
  }
}

async function loadPreview() {
  ui.overlay = null;
  delete document.body.dataset.preview;
  const n = ui.frame;
  if (!$("showpreview").checked || !ui.state.features.preview) {
    draw();
    return;
  }
  if (!ui.state.clicks.some((k) => k.frame === n)) {
    say("previewmsg", "no clicks on this frame", true);
    draw();
    return;
  }
  say("previewmsg", "tracking…", true);
  try {
    const res = await fetch(`/api/preview/${n}`, { credentials: "same-origin" });
    if (!res.ok) throw new Error((await res.json()).error);
    const seen = res.headers.get("Body4d-People") || "";
    const bmp = await createImageBitmap(await res.blob());
    if (n === ui.frame) {
      ui.overlay = bmp;
      document.body.dataset.preview = n; // for scripts and tests
      say("previewmsg", seen ? `tracker sees person ${seen.replaceAll(",", ", ")}` : "the tracker sees nobody at these clicks", true);
    }
  } catch (e) {
    say("previewmsg", e.message);
  }
  draw();
}

// ---- clicks ----

function people() {
  const ids = new Set(ui.state ? [...ui.state.clicks, ...(ui.state.boxes || [])].map((k) => k.person) : []);
  let max = ids.size ? Math.max(...ids) : 0;
  max = Math.max(max, ui.extraPeople, ui.person, 1);
  return Array.from({ length: max }, (_, i) => i + 1);
}

function renderPeople() {
  const box = $("people");
  box.textContent = "";
  for (const p of people()) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "person" + (p === ui.person ? " sel" : "");
    b.dataset.person = p;
    const sw = document.createElement("span");
    sw.className = "sw";
    sw.style.background = ui.state ? colour(p) : "#888";
    b.append(sw, document.createTextNode(String(p)));
    b.onclick = () => { ui.person = p; renderPeople(); };
    box.append(b);
  }
}

// sendClicks queues a replacement of the whole list behind earlier edits
// (the found people's boxes stay, unless boxes is given).
function sendClicks(next, boxes) {
  ui.edits = ui.edits.then(async () => {
    try {
      const res = await api("PUT", "/api/clicks", { clicks: next, boxes: boxes || ui.state.boxes || [] });
      ui.state.clicks = res.clicks;
      ui.state.boxes = res.boxes;
      const n = res.clicks.length;
      say("clickmsg", `${n} click${n === 1 ? "" : "s"}` + (res.boxes.length ? `, ${res.boxes.length} found` : ""), true);
    } catch (e) {
      say("clickmsg", e.message);
    }
    renderPeople();
    renderFound();
    draw();
    loadPreview();
  });
  return ui.edits;
}

// findPeople asks the detector for the people on this frame and adds
// each as a new person prompted by its box; the user removes or corrects
// them (clicks with the same person) before running.
async function findPeople() {
  const n = ui.frame;
  say("clickmsg", "finding people…", true);
  let res;
  try {
    res = await api("POST", `/api/detect/${n}`);
  } catch (e) {
    say("clickmsg", e.message);
    return;
  }
  if (!res.found.length) {
    say("clickmsg", `nobody found on frame ${n}`, true);
    return;
  }
  let next = Math.max(0, ...people().filter((p) => ui.state.clicks.some((k) => k.person === p) || (ui.state.boxes || []).some((b) => b.person === p)));
  const max = ui.state.limits.max_people;
  const boxes = [...(ui.state.boxes || [])];
  for (const f of res.found) {
    if (next >= max) break;
    next++;
    boxes.push({ frame: n, x0: f.box[0], y0: f.box[1], x1: f.box[2], y1: f.box[3], person: next });
  }
  await sendClicks(ui.state.clicks, boxes);
}

// renderFound lists the found people's boxes, each removable.
function renderFound() {
  const el = $("found");
  el.textContent = "";
  for (const [i, b] of (ui.state && ui.state.boxes ? ui.state.boxes : []).entries()) {
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "found";
    btn.dataset.person = b.person;
    btn.style.borderColor = colour(b.person);
    btn.textContent = `person ${b.person} (box, frame ${b.frame}) ✕`;
    btn.title = "remove this found person";
    btn.onclick = () => sendClicks(ui.state.clicks, ui.state.boxes.filter((_, j) => j !== i));
    el.append(btn);
  }
}

function onCanvasClick(ev) {
  const v = ui.state && ui.state.video;
  if (!v) return;
  const c = $("frame");
  const rect = c.getBoundingClientRect();
  const x = Math.round(((ev.clientX - rect.left) / rect.width) * v.width * 10) / 10;
  const y = Math.round(((ev.clientY - rect.top) / rect.height) * v.height * 10) / 10;
  if (x < 0 || y < 0 || x >= v.width || y >= v.height) return;
  const negative = document.querySelector("input[name=label]:checked").value === "neg";
  const k = { frame: ui.frame, x, y, person: ui.person };
  if (negative) k.negative = true;
  sendClicks([...ui.state.clicks, k]);
}

// ---- jobs ----

const isTerminal = (s) => s === "done" || s === "failed" || s === "cancelled";

async function run() {
  say("runmsg", "");
  await ui.edits; // the job must see the last click
  try {
    const j = await api("POST", "/api/run", {
      amodal: $("amodal").checked,
      camera: $("camera").checked,
      smooth: $("smooth").value,
      quick: $("quick").checked,
      amodal_fast: $("amodalfast").checked,
      mesh: $("hands").checked ? "full" : "body",
      world: $("world").checked,
    });
    renderJob(j);
    watch(j.id);
  } catch (e) {
    say("runmsg", e.message);
  }
}

function watch(id) {
  if (ui.events) ui.events.close();
  ui.jobId = id;
  const es = new EventSource(`/api/jobs/${id}/events`);
  ui.events = es;
  es.addEventListener("status", (ev) => {
    const j = JSON.parse(ev.data);
    renderJob(j);
    if (isTerminal(j.state)) es.close();
  });
  es.onerror = async () => {
    // The stream ends after the last event; a broken one is replaced by
    // one status read (and a new stream if the job still runs).
    es.close();
    if (ui.events !== es) return;
    try {
      const j = await api("GET", `/api/jobs/${id}`);
      renderJob(j);
      if (!isTerminal(j.state)) setTimeout(() => { if (ui.events === es) watch(id); }, 1000);
    } catch (e) {
      say("runmsg", e.message);
    }
  };
}

async function cancel() {
  if (!ui.jobId) return;
  try {
    renderJob(await api("POST", `/api/jobs/${ui.jobId}/cancel`));
  } catch (e) {
    say("runmsg", e.message);
  }
}

function fmtMS(ms) { return ms >= 1000 ? (ms / 1000).toFixed(2) + " s" : ms.toFixed(0) + " ms"; }
function fmtBytes(b) { return b ? (b / 2 ** 20).toFixed(1) + " MiB" : ""; }

function cell(tr, text, cls) {
  const td = document.createElement("td");
  if (text instanceof Node) td.append(text); else td.textContent = text;
  if (cls) td.className = cls;
  tr.append(td);
}

let shownResult = null;

function renderJob(j) {
  ui.jobId = j.id;
  const active = !isTerminal(j.state);
  $("cancel").disabled = !active;
  $("run").disabled = active;
  let s = j.state;
  if (j.state === "queued" && j.position > 0) s += ` (${j.position} ahead)`;
  $("jobstate").textContent = `job ${j.id}: ${s}`;
  document.body.dataset.job = j.state; // for scripts and tests
  if (j.state === "failed") say("runmsg", j.error);
  else if (j.state === "cancelled") say("runmsg", j.error || "cancelled", true);
  else say("runmsg", "");

  const tb = $("progress").tBodies[0];
  tb.textContent = "";
  for (const st of j.stages) {
    const tr = document.createElement("tr");
    const bar = document.createElement("progress");
    if (st.total > 0) { bar.max = st.total; bar.value = st.done; }
    else if (j.state === "done") { bar.max = 1; bar.value = 1; }
    cell(tr, st.stage);
    cell(tr, bar);
    cell(tr, st.total > 0 ? `${st.done}/${st.total}` : j.state === "done" ? "✓" : String(st.done), "num mono");
    tb.append(tr);
  }

  const r = j.result;
  if (!r || shownResult === j.id) return;
  shownResult = j.id;
  const vid = $("result");
  vid.src = r.video;
  vid.load();
  const dl = $("downloads");
  dl.textContent = "";
  const link = (href, text) => {
    const a = document.createElement("a");
    a.href = href + (href.includes("?") ? "&" : "?") + "download";
    a.textContent = text;
    a.setAttribute("download", "");
    dl.append(a);
  };
  link(r.video, "result.mp4");
  link(r.summary, "summary.json");
  if (r.scene) link(r.scene, "scene.glb (all people + camera)");
  for (const p of r.people) {
    link(p.meshes, `person ${p.id}: meshes (.zip)`);
    link(p.params, `person ${p.id}: params.json`);
    if (p.motion) link(p.motion, `person ${p.id}: motion.glb`);
    if (p.bvh) link(p.bvh, `person ${p.id}: motion.bvh`);
  }
  window.body4dViewer.show(ui.state.features, r);
  showWorld(r);
  const pb = $("profile").tBodies[0];
  pb.textContent = "";
  for (const p of r.profile) {
    const tr = document.createElement("tr");
    cell(tr, p.stage);
    cell(tr, p.ran ? fmtMS(p.wall_ms) : "–", "num");
    cell(tr, p.ran ? fmtBytes(p.peak_rss_bytes) : "", "num");
    cell(tr, p.ran ? "" : "skipped: " + (p.skipped_because || ""), "muted");
    pb.append(tr);
  }
}

// ---- world frame: top view ----

// showWorld draws the top view of a world-frame result, or says why a
// run has none (its notes name the reason: a moving camera, no ground).
async function showWorld(r) {
  const canvas = $("topview");
  canvas.hidden = true;
  say("worldmsg", "");
  if (!r.world) {
    const why = (r.notes || []).filter((n) => n.includes("world frame") || n.startsWith("world"));
    if (why.length) say("worldmsg", "no world frame: " + why.join(" · "));
    return;
  }
  try {
    drawTopView(canvas, await api("GET", r.world));
    canvas.hidden = false;
    say("worldmsg", "top view: root paths on the ground, 1 m grid; the camera is the triangle", true);
  } catch (e) {
    say("worldmsg", e.message);
  }
}

// drawTopView draws x (right) and z (up the canvas) in metres, fitted to
// the camera and every path with a margin, on a 1 m grid.
function drawTopView(canvas, v) {
  const pts = [v.camera];
  for (const p of v.people) for (const path of p.paths) pts.push(...path);
  let [x0, x1, z0, z1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [x, z] of pts) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x);
    z0 = Math.min(z0, z); z1 = Math.max(z1, z);
  }
  const span = Math.max(x1 - x0, z1 - z0, 1) * 1.2;
  const cx = (x0 + x1) / 2, cz = (z0 + z1) / 2;
  const W = canvas.width, H = canvas.height, s = Math.min(W, H) / span;
  const px = (x) => W / 2 + (x - cx) * s;
  const pz = (z) => H / 2 - (z - cz) * s;
  const g = canvas.getContext("2d");
  g.fillStyle = "#111";
  g.fillRect(0, 0, W, H);
  g.strokeStyle = "#333";
  g.lineWidth = 1;
  for (let x = Math.ceil(cx - span / 2); x <= cx + span / 2; x++) {
    g.beginPath(); g.moveTo(px(x), 0); g.lineTo(px(x), H); g.stroke();
  }
  for (let z = Math.ceil(cz - span / 2); z <= cz + span / 2; z++) {
    g.beginPath(); g.moveTo(0, pz(z)); g.lineTo(W, pz(z)); g.stroke();
  }
  g.lineWidth = 2;
  for (const p of v.people) {
    g.strokeStyle = g.fillStyle = colour(p.id);
    for (const path of p.paths) {
      g.beginPath();
      path.forEach(([x, z], i) => (i ? g.lineTo(px(x), pz(z)) : g.moveTo(px(x), pz(z))));
      g.stroke();
      const [ex, ez] = path[path.length - 1];
      g.beginPath(); g.arc(px(ex), pz(ez), 3, 0, 2 * Math.PI); g.fill();
    }
  }
  // The camera: a triangle pointing along its optical axis.
  const [fx, fz] = v.camera_facing[0] || v.camera_facing[1] ? v.camera_facing : [0, 1];
  const [kx, kz] = [px(v.camera[0]), pz(v.camera[1])];
  const [dx, dz] = [fx * 10, -fz * 10];
  g.fillStyle = "#eee";
  g.beginPath();
  g.moveTo(kx + dx, kz + dz);
  g.lineTo(kx - dz * 0.6 - dx * 0.5, kz + dx * 0.6 - dz * 0.5);
  g.lineTo(kx + dz * 0.6 - dx * 0.5, kz - dx * 0.6 - dz * 0.5);
  g.closePath();
  g.fill();
  canvas.dataset.people = String(v.people.length); // for tests
}

// ---- wiring ----

window.addEventListener("DOMContentLoaded", () => {
  $("file").addEventListener("change", (e) => { if (e.target.files[0]) upload(e.target.files[0]); e.target.value = ""; });
  $("sample").onclick = useSample;
  $("slider").addEventListener("input", (e) => showFrame(+e.target.value));
  $("prev").onclick = () => showFrame(ui.frame - 1);
  $("next").onclick = () => showFrame(ui.frame + 1);
  $("frame").addEventListener("click", onCanvasClick);
  $("addperson").onclick = () => {
    const max = Math.max(...people());
    if (max >= ui.state.limits.max_people) return;
    ui.extraPeople = max + 1;
    ui.person = max + 1;
    renderPeople();
  };
  $("undo").onclick = () => { if (ui.state.clicks.length) sendClicks(ui.state.clicks.slice(0, -1)); };
  $("clear").onclick = () => sendClicks([], []);
  $("suggested").onclick = () => sendClicks(ui.state.suggested_clicks);
  $("findpeople").onclick = findPeople;
  $("showpreview").addEventListener("change", loadPreview);
  $("run").onclick = run;
  $("cancel").onclick = cancel;
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" && e.target.type !== "range") return;
    if (e.key === "ArrowLeft") showFrame(ui.frame - 1);
    if (e.key === "ArrowRight") showFrame(ui.frame + 1);
    if ((e.ctrlKey || e.metaKey) && e.key === "z") $("undo").click();
  });
  start().catch((e) => say("uploadmsg", e.message));
});
