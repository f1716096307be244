// The Stylize web page: plain JS, no build step, no external assets.
// The API key lives in localStorage and goes out as a Bearer token; images with a key are
// fetched as blobs (an <img src> cannot send headers).
"use strict";

const KEY_STORAGE = "stylize.apiKey";
const FIELDS = ["max_size", "iterations", "style_weight", "preserve_color"];
const TERMINAL = new Set(["succeeded", "failed", "canceled"]);
const $ = (selector) => document.querySelector(selector);

const state = { content: null, styles: [], job: null, stream: null, urls: new Map() };

// ---- API ---------------------------------------------------------------------------------

function apiKey() { return localStorage.getItem(KEY_STORAGE) || ""; }

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${apiKey()}`, ...(options.headers || {}) };
  return fetch(path, { ...options, headers });
}

// A readable problem: {status, title, detail, errors: [{field, message}]} whatever came back.
async function problemOf(response) {
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON: described below */ }
  if (!body || typeof body !== "object") {
    return { status: response.status, detail: `The server answered ${response.status}.`, errors: [] };
  }
  return {
    status: response.status,
    detail: String(body.detail || body.title || `The server answered ${response.status}.`),
    errors: Array.isArray(body.errors) ? body.errors : [],
  };
}

async function imageURL(path, slot) {
  const response = await api(path);
  if (!response.ok) return null;
  const url = URL.createObjectURL(await response.blob());
  if (state.urls.has(slot)) URL.revokeObjectURL(state.urls.get(slot));
  state.urls.set(slot, url);
  return url;
}

// ---- field errors --------------------------------------------------------------------------

function errorSlot(field) {
  const name = field.replace(/\[\d+\]$/, "");
  return document.querySelector(`[data-error-for="${CSS.escape(name)}"]`)
    || document.querySelector('[data-error-for="form"]');
}

function showError(field, message) {
  const slot = errorSlot(field);
  slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
  const input = document.getElementById(field.replace(/\[\d+\]$/, ""));
  if (input) { input.classList.add("invalid"); input.setAttribute("aria-invalid", "true"); }
}

function clearErrors() {
  document.querySelectorAll("[data-error-for]").forEach((slot) => { slot.textContent = ""; });
  document.querySelectorAll(".invalid").forEach((input) => {
    input.classList.remove("invalid");
    input.removeAttribute("aria-invalid");
  });
}

function showProblem(problem) {
  if (problem.status === 401) { showError("api-key", problem.detail); return; }
  if (problem.errors.length === 0) { showError("form", problem.detail); return; }
  for (const error of problem.errors) {
    const field = error.field === "upload" ? "form" : String(error.field);
    const known = errorSlot(field).dataset.errorFor !== "form";
    showError(field, known ? error.message : `${field}: ${error.message}`);
  }
}

// ---- the form: defaults and ranges from /openapi.json -------------------------------------

async function loadSchema() {
  try {
    const spec = await (await fetch("/openapi.json")).json();
    const props = spec.components.schemas.JobParams.properties;
    for (const name of FIELDS) {
      const input = document.getElementById(name);
      const field = props[name];
      if (!field) continue;
      input.title = field.description || "";
      if (input.type === "checkbox") { input.checked = Boolean(field.default); continue; }
      // A default that depends on the size (iterations) has none here: left empty, the server's.
      if ("default" in field) input.value = field.default;
      else input.placeholder = "auto";
      if ("minimum" in field) input.min = field.minimum;
      if ("maximum" in field) input.max = field.maximum;
    }
  } catch (_) {
    showError("form", "Could not read the parameters from /openapi.json; the defaults apply.");
  }
}

// ---- pictures: refused before upload unless the browser can decode them -------------------

function decodes(file) {
  return new Promise((resolve) => {
    if (!file.type.startsWith("image/")) { resolve(false); return; }
    const url = URL.createObjectURL(file);
    const probe = new Image();
    probe.onload = () => { URL.revokeObjectURL(url); resolve(probe.naturalWidth > 0); };
    probe.onerror = () => { URL.revokeObjectURL(url); resolve(false); };
    probe.src = url;
  });
}

async function acceptFiles(kind, files, append) {
  const slot = errorSlot(kind);
  slot.textContent = "";
  const good = [];
  for (const file of files) {
    if (await decodes(file)) good.push(file);
    else showError(kind, `${file.name} is not an image this page can read; choose a PNG, JPEG or WebP.`);
  }
  if (kind === "content") {
    if (good.length) state.content = good[0];
  } else {
    state.styles = append ? state.styles.concat(good) : good.length ? good : state.styles;
  }
  $(`#${kind}`).value = "";  // the chosen files live in state; the input can pick again
  renderThumbs();
}

function thumb(file, label, onRemove) {
  const figure = document.createElement("div");
  figure.className = "thumb";
  const img = document.createElement("img");
  img.alt = label;
  img.src = URL.createObjectURL(file);
  img.onload = () => URL.revokeObjectURL(img.src);
  figure.append(img);
  if (onRemove) {
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "×";
    remove.setAttribute("aria-label", `Remove ${label}`);
    remove.addEventListener("click", onRemove);
    figure.append(remove);
  }
  return figure;
}

function renderThumbs() {
  const content = $("#content-thumbs");
  content.replaceChildren(...(state.content ? [thumb(state.content, `content ${state.content.name}`)] : []));
  $("#style-thumbs").replaceChildren(...state.styles.map((file, n) => thumb(file, `style ${file.name}`, () => {
    state.styles.splice(n, 1);
    renderThumbs();
  })));
}

function wireDrop(kind) {
  const zone = document.querySelector(`[data-drop-for="${kind}"]`);
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    acceptFiles(kind, [...event.dataTransfer.files], kind === "style");
  });
  $(`#${kind}`).addEventListener("change", (event) => acceptFiles(kind, [...event.target.files], false));
}

// ---- submit --------------------------------------------------------------------------------

async function submitJob(event) {
  event.preventDefault();
  clearErrors();
  let ok = true;
  if (!apiKey()) { showError("api-key", "Enter your API key first."); ok = false; }
  if (!state.content) { showError("content", "Choose a content photo."); ok = false; }
  if (!state.styles.length) { showError("style", "Choose at least one style image."); ok = false; }
  if (!ok) return;
  const form = new FormData();
  form.append("content", state.content, state.content.name);
  for (const style of state.styles) form.append("style", style, style.name);
  for (const name of FIELDS) {
    const input = document.getElementById(name);
    if (input.type === "checkbox") form.append(name, input.checked ? "true" : "false");
    else if (input.value.trim() !== "") form.append(name, input.value.trim());
  }
  const button = $("#submit");
  button.disabled = true;
  try {
    const response = await api("/v1/jobs", { method: "POST", body: form });
    if (!response.ok) { showProblem(await problemOf(response)); return; }
    track(await response.json());
    refreshJobs();
  } catch (_) {
    showError("form", "The API did not answer; check the connection and submit again.");
  } finally {
    button.disabled = false;
  }
}

// ---- following a job: SSE over fetch (EventSource cannot send the key), polling fallback --

function formatEta(seconds) {
  if (seconds === null || seconds === undefined) return "ETA —";
  if (seconds < 60) return `ETA ${Math.round(seconds)} s`;
  return `ETA ${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function showProgress(progress) {
  const percent = Math.max(0, Math.min(100, Number(progress.percent) || 0));
  $("#bar").value = percent;
  $("#progress-text").textContent =
    `iteration ${progress.iteration} of ${progress.total} · ${percent.toFixed(0)} % · ${formatEta(progress.eta_s)}`;
}

function showStatus(status) {
  $("#job-status").textContent = status;
  $("#cancel").disabled = TERMINAL.has(status);
}

async function showPreview() {
  const url = await imageURL(`/v1/jobs/${state.job.id}/preview`, "preview");
  if (url && state.job && !TERMINAL.has(state.job.status)) {
    $("#preview").src = url;
    $("#preview-box").hidden = false;
  }
}

function track(job) {
  if (state.stream) state.stream.abort();
  state.job = job;
  $("#current").hidden = false;
  $("#job-id").textContent = job.id.slice(0, 8);
  $("#job-error").textContent = "";
  $("#result-box").hidden = true;
  $("#preview-box").hidden = true;
  $("#download").hidden = true;
  showStatus(job.status);
  showProgress(job.progress);
  if (TERMINAL.has(job.status)) finish(job.id);
  else follow(job.id);
}

// A stream lasts minutes at most; when the server closes it first, the page reconnects with
// Last-Event-ID (the iteration already shown) and goes on where it was.
async function follow(id) {
  const stream = new AbortController();
  state.stream = stream;
  const seen = { id: null };
  try {
    for (;;) {
      const headers = seen.id === null ? {} : { "Last-Event-ID": seen.id };
      const response = await api(`/v1/jobs/${id}/events`, { signal: stream.signal, headers });
      if (!response.ok || !response.body) throw new Error("no stream");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (await onEvent(id, block, seen)) return;
        }
      }
      if (!state.job || state.job.id !== id) return;
    }
  } catch (_) {
    if (stream.signal.aborted) return;
  }
  if (state.job && state.job.id === id && !stream.signal.aborted) poll(id);
}

// Handles one SSE block (a status event's data is the whole job); true once the job ended.
async function onEvent(id, block, seen) {
  let kind = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) kind = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trim());
    else if (line.startsWith("id:")) seen.id = line.slice(3).trim();
  }
  if (!data.length || !state.job || state.job.id !== id) return false;
  const body = JSON.parse(data.join("\n"));
  if (kind === "progress") showProgress(body);
  else if (kind === "preview") showPreview();
  else if (kind === "status") {
    state.job.status = body.status;
    showStatus(body.status);
    showProgress(body.progress);
    if (body.status === "running") refreshJobs();
    if (TERMINAL.has(body.status)) { await finish(id); return true; }
  }
  return false;
}

async function poll(id) {
  while (state.job && state.job.id === id) {
    try {
      const response = await api(`/v1/jobs/${id}`);
      if (response.ok) {
        const job = await response.json();
        showProgress(job.progress);
        showStatus(job.status);
        if (TERMINAL.has(job.status)) { await finish(id); return; }
      }
    } catch (_) { /* not answering: try again */ }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function finish(id) {
  const response = await api(`/v1/jobs/${id}`);
  if (!response.ok) { $("#job-error").textContent = (await problemOf(response)).detail; return; }
  const job = await response.json();
  if (!state.job || state.job.id !== id) return;
  state.job = job;
  showStatus(job.status);
  showProgress(job.progress);
  $("#preview-box").hidden = true;
  if (job.status === "succeeded") {
    const url = await imageURL(`/v1/jobs/${id}/result`, "result");
    if (url) {
      $("#result").src = url;
      $("#result-box").hidden = false;
      const link = $("#download");
      link.href = url;
      link.download = `stylize-${id.slice(0, 8)}.${job.params.output_format === "jpeg" ? "jpg" : "png"}`;
      link.hidden = false;
    }
  } else if (job.status === "failed") {
    $("#job-error").textContent = `The job failed: ${job.error ? job.error.message : "no reason given"}`;
  } else {
    $("#progress-text").textContent = `Canceled at iteration ${job.progress.iteration} of ${job.progress.total}.`;
  }
  refreshJobs();
}

async function cancelJob() {
  if (!state.job) return;
  $("#cancel").disabled = true;
  try {
    const response = await api(`/v1/jobs/${state.job.id}/cancel`, { method: "POST" });
    if (!response.ok) {
      $("#job-error").textContent = (await problemOf(response)).detail;
      $("#cancel").disabled = false;
    }
  } catch (_) {
    $("#job-error").textContent = "The API did not answer; try to cancel again.";
    $("#cancel").disabled = false;
  }
}

// ---- recent jobs ---------------------------------------------------------------------------

async function refreshJobs() {
  if (!apiKey()) return;
  let response;
  try { response = await api("/v1/jobs?limit=8"); } catch (_) { return; }
  if (!response.ok) { if (response.status === 401) showProblem(await problemOf(response)); return; }
  const { jobs } = await response.json();
  $("#recent-empty").hidden = jobs.length > 0;
  const items = jobs.map((job) => {
    const item = document.createElement("li");
    const open = document.createElement("button");
    open.type = "button";
    open.setAttribute("aria-label", `Open job ${job.id.slice(0, 8)}, ${job.status}`);
    const picture = document.createElement("span");
    picture.className = "none";
    const label = document.createElement("span");
    label.className = "status";
    label.textContent = `${job.id.slice(0, 8)} · ${job.status} · ${Math.round(job.progress.percent)} %`;
    open.append(picture, label);
    open.addEventListener("click", () => track(job));
    item.append(open);
    const source = job.status === "succeeded" ? "result" : "preview";
    if (job.status === "succeeded" || job.status === "running") {
      imageURL(`/v1/jobs/${job.id}/${source}`, `thumb-${job.id}`).then((url) => {
        if (!url) return;
        const img = document.createElement("img");
        img.alt = "";
        img.src = url;
        picture.replaceWith(img);
      });
    }
    return item;
  });
  $("#jobs").replaceChildren(...items);
}

// ---- start ---------------------------------------------------------------------------------

function start() {
  $("#api-key").value = apiKey();
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors();
    localStorage.setItem(KEY_STORAGE, $("#api-key").value.trim());
    $("#key-hint").textContent = "Saved in this browser.";
    refreshJobs();
  });
  wireDrop("content");
  wireDrop("style");
  $("#job-form").addEventListener("submit", submitJob);
  $("#cancel").addEventListener("click", cancelJob);
  $("#refresh").addEventListener("click", refreshJobs);
  loadSchema();
  refreshJobs();
  if (!apiKey()) $("#api-key").focus();
}

start();
