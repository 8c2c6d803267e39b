// swapcam live panel: plain JavaScript over the control API (/api/...). No framework, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
let schema = {};
let models = [];
let state = {};
const dragging = new Set();  // settings whose control the user is moving: the push stream does not overwrite them
const history = { fps: [], latency: [], stages: {} };
const HISTORY = 120;
const STAGE_COLOURS = ["#3fb37f", "#5aa9e6", "#f0c674", "#c678dd", "#e06c75", "#56b6c2", "#d19a66"];

function showMessage(text, error = false) {
  const m = $("message");
  m.textContent = text || "";
  m.classList.toggle("error", !!error);
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const r = await fetch(path, init);
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

async function change(changes) {
  try {
    render(await api("/api/state", changes));
  } catch (e) {
    showMessage(e.message, true);
  }
}

// -- controls, built from /api/settings: a setting added to SwapSettings shows up here without code -------------
function buildSettings() {
  const box = $("settings");
  box.textContent = "";
  for (const [name, s] of Object.entries(schema)) {
    if (name === "enabled") continue;  // the big swap button
    const row = document.createElement("div");
    row.className = "setting";
    const label = document.createElement("label");
    label.textContent = name.replace(/_/g, " ");
    label.htmlFor = "setting-" + name;
    let input;
    const out = document.createElement("output");
    if (s.type === "bool") {
      input = document.createElement("input");
      input.type = "checkbox";
      input.addEventListener("change", () => change({ [name]: input.checked }));
    } else if (s.choices) {
      input = document.createElement("select");
      for (const c of s.choices) input.add(new Option(c, c));
      input.addEventListener("change", () => change({ [name]: input.value }));
    } else if (s.min !== undefined) {
      input = document.createElement("input");
      input.type = "range";
      input.min = s.min;
      input.max = s.max;
      input.step = s.type === "int" ? 1 : (s.max - s.min) / 100;
      let pending = null, timer = null;
      const send = () => { timer = null; if (pending !== null) { change({ [name]: pending }); pending = null; } };
      input.addEventListener("input", () => {
        dragging.add(name);
        pending = s.type === "int" ? parseInt(input.value, 10) : parseFloat(input.value);
        out.textContent = format(pending);
        if (!timer) timer = setTimeout(send, 60);  // at most ~16 requests a second while dragging
      });
      input.addEventListener("change", () => { dragging.delete(name); });
    } else {
      input = document.createElement("input");
      input.type = "text";
      input.addEventListener("change", () => change({ [name]: input.value }));
    }
    input.id = "setting-" + name;
    input.name = name;
    row.append(label, input, out);
    box.append(row);
  }
}

function format(v) {
  return typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v);
}

function render(s) {
  state = s;
  const b = $("swap-toggle");
  b.textContent = s.swap ? "swap: ON" : "swap: OFF";
  b.classList.toggle("on", s.swap);
  b.classList.toggle("off", !s.swap);
  b.dataset.state = s.swap ? "on" : "off";
  for (const name of Object.keys(schema)) {
    const input = $("setting-" + name);
    if (!input || dragging.has(name) || document.activeElement === input && input.type !== "range") continue;
    const v = s[name];
    if (input.type === "checkbox") input.checked = !!v;
    else input.value = v;
    const out = input.parentElement.querySelector("output");
    if (out && input.type === "range") out.textContent = format(v);
  }
  const sel = $("model");
  if (sel.value !== s.model && !s.loading && document.activeElement !== sel) sel.value = s.model;
  const rec = $("record");
  rec.textContent = s.recording ? "■ stop recording" : "● record";
  rec.classList.toggle("recording", s.recording);
  rec.title = s.recording ? "recording to " + s.recording_path + " (R)" : "start recording (R)";
  if (s.loading) showMessage("loading " + s.loading + " …");
  else if (s.message) showMessage(s.message, /could not|stopped/.test(s.message));
  $("t-fps").textContent = s.fps.toFixed(1);
  $("t-latency").textContent = `${s.latency_ms.p50_ms.toFixed(1)} / ${s.latency_ms.p95_ms.toFixed(1)} ms`;
  $("t-frames").textContent = `${s.frames_in} / ${s.frames_out}`;
  $("t-dropped").textContent = s.dropped;
  $("t-cpu").textContent = s.cpu_percent.toFixed(0) + " %";
  $("t-engine").textContent = s.engine;
}

// -- telemetry charts ----------------------------------------------------------------------------------------
function push(list, v) { list.push(v); if (list.length > HISTORY) list.shift(); }

function drawChart(canvas, series) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  let max = 1;
  for (const s of series) for (const v of s.values) max = Math.max(max, v);
  ctx.fillStyle = "#8a8f98";
  ctx.font = "10px sans-serif";
  ctx.fillText(max.toFixed(max < 10 ? 1 : 0), 2, 10);
  for (const s of series) {
    ctx.strokeStyle = s.colour;
    ctx.beginPath();
    s.values.forEach((v, i) => {
      const x = (i / (HISTORY - 1)) * w, y = h - (v / max) * (h - 12);
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.stroke();
  }
}

function chart(s) {
  push(history.fps, s.fps);
  push(history.latency, s.latency_ms.p95_ms);
  for (const [k, v] of Object.entries(s.stages_ms)) push(history.stages[k] ||= [], v);
  drawChart($("chart-fps"), [{ values: history.fps, colour: "#3fb37f" }]);
  drawChart($("chart-latency"), [{ values: history.latency, colour: "#f0c674" }]);
  const names = Object.keys(history.stages);
  drawChart($("chart-stages"), names.map((k, i) => ({ values: history.stages[k], colour: STAGE_COLOURS[i % 7] })));
  $("stages-legend").textContent = "stage p50, ms: " + names.map((k) => `${k} ${format(s.stages_ms[k] ?? 0)}`).join(" · ");
}

// -- preview: polled JPEGs at the panel's reduced size and rate ------------------------------------------------
async function pollPreview(which, img) {
  for (;;) {
    if (which === "input" && $("input-figure").hidden) { await sleep(300); continue; }
    try {
      const r = await fetch("/api/preview.jpg?which=" + which);
      if (r.status === 200) {
        const url = URL.createObjectURL(await r.blob());
        const old = img.src;
        img.src = url;
        if (old.startsWith("blob:")) URL.revokeObjectURL(old);
        const frame = r.headers.get("X-Swapcam-Frame");
        img.dataset.frame = frame;
        if (which === "output") $("frame-counter").textContent = frame;
      }
    } catch (e) {
      await sleep(1000);
    }
    await sleep(100);
  }
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// -- models, recording, profile, keys ----------------------------------------------------------------------------
async function loadModels() {
  const data = await api("/api/models");
  models = data.models;
  const sel = $("model");
  sel.textContent = "";
  for (const m of models) {
    const text = m.error ? `${m.name} (cannot run: ${m.error})`
      : `${m.name} — ${m.source}→${m.target}, ${m.resolution}px ${m.precision}, ${m.preset} step ${m.step}`;
    const o = new Option(text, m.name);
    o.disabled = !!m.error;
    sel.add(o);
  }
  if (state.model) sel.value = state.model;
}

function nextModel() {
  const usable = models.filter((m) => !m.error);
  if (usable.length < 2) return;
  const i = usable.findIndex((m) => m.name === state.model);
  change({ model: usable[(i + 1) % usable.length].name });
}

function setupEvents() {
  $("swap-toggle").addEventListener("click", () => change({ swap: !state.swap }));
  $("model").addEventListener("change", (e) => change({ model: e.target.value }));
  $("record").addEventListener("click", () => change({ recording: !state.recording }));
  $("show-input").addEventListener("change", (e) => { $("input-figure").hidden = !e.target.checked; });
  $("profile-save").addEventListener("click", async () => {
    try { showMessage("saved " + (await api("/api/profile/save", {})).saved); } catch (e) { showMessage(e.message, true); }
  });
  $("profile-load").addEventListener("click", async () => {
    try { render(await api("/api/profile/load", {})); showMessage("profile loaded"); } catch (e) { showMessage(e.message, true); }
  });
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName) && e.target.type !== "range" && e.target.type !== "checkbox") return;
    const k = e.key.toLowerCase();
    if (k === "s") change({ swap: !state.swap });
    else if (k === "n") nextModel();
    else if (k === "r") change({ recording: !state.recording });
    else if (k === "i") { const c = $("show-input"); c.checked = !c.checked; $("input-figure").hidden = !c.checked; }
    else return;
    e.preventDefault();
  });
  const events = new EventSource("/api/events");
  events.onmessage = (e) => { const s = JSON.parse(e.data); render(s); chart(s); };
}

async function main() {
  schema = (await api("/api/settings")).settings;
  buildSettings();
  render(await api("/api/state"));
  await loadModels();
  setupEvents();
  pollPreview("output", $("preview-out"));
  pollPreview("input", $("preview-in"));
  document.body.dataset.ready = "1";
}

main().catch((e) => showMessage("panel: " + e.message, true));
