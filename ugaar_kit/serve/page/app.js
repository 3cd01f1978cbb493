// ugaar-kit serve: the page's only script. It calls the JSON API (docs/serve.md) and draws the
// answers; no framework, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const items = new Map(); // stored id -> /api/items answer (a promise)
let info = null;
let answer = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function api(path, options) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  return body;
}

function item(id) {
  if (!items.has(id)) items.set(id, api("/api/items/" + encodeURIComponent(id)));
  return items.get(id);
}

function seconds(x) { return x === null || x === undefined ? "" : x.toFixed(2) + " s"; }

async function init() {
  try {
    info = await api("/api/info");
  } catch (e) {
    showError("cannot read the store: " + e.message);
    return;
  }
  const rows = Object.entries(info.rows).map(([m, n]) => `${n} ${m}`).join(", ");
  $("store").textContent = `${info.store}: ${rows} (run ${info.run_id})`;
  $("file").accept = Object.keys(info.extensions).join(",");
  for (const m of info.modalities) {
    const box = el("input", { type: "checkbox", name: "target", value: m });
    box.checked = true;
    $("targets").append(el("label", {}, box, " " + m));
  }
  $("identify").hidden = !info.identify;
}

function form(withTargets) {
  const data = new FormData();
  const file = $("file").files[0];
  if (file) data.append("file", file);
  else data.append("text", $("text").value);
  data.append("k", $("k").value);
  if (withTargets) {
    const query = file ? info.extensions[file.name.slice(file.name.lastIndexOf(".")).toLowerCase()] : info.text_modalities[0];
    for (const box of document.querySelectorAll("#targets input:checked")) {
      if (box.value !== query) data.append("target", box.value);
    }
  }
  return data;
}

async function run(path, withTargets, draw) {
  showError("");
  $("results").replaceChildren();
  $("window-choice").hidden = true;
  if (!$("file").files[0] && !$("text").value.trim()) { showError("give a query: a file, or lyrics text"); return; }
  for (const b of document.querySelectorAll("button")) b.disabled = true;
  $("status").textContent = "asking…";
  const t0 = performance.now();
  try {
    const body = await api(path, { method: "POST", body: form(withTargets) });
    $("status").textContent = `answered in ${((performance.now() - t0) / 1000).toFixed(2)} s`;
    await draw(body);
  } catch (e) {
    $("status").textContent = "";
    showError(e.message);
  } finally {
    for (const b of document.querySelectorAll("button")) b.disabled = false;
  }
}

async function hitCard(hit, own) {
  const li = el("li", { "data-id": hit.id });
  if (own && own.includes(hit.id.split("#")[0])) {
    li.classList.add("own");
    li.title = "the query's own item, or its passage's";
  }
  li.append(el("div", {}, el("span", { class: "score" }, `#${hit.rank}  ${hit.score.toFixed(3)}`)));
  const stored = await item(hit.id).catch((e) => ({ unavailable: e.message }));
  if (stored.media && hit.modality === "sheet") {
    li.append(el("img", { src: stored.media, alt: hit.id }));
  } else if (stored.media && hit.start !== null) {
    li.append(el("audio", { controls: "", preload: "metadata", src: `${stored.media}#t=${hit.start},${hit.end}` }));
    li.append(el("div", { class: "id" }, `${seconds(hit.start)} – ${seconds(hit.end)}`));
  } else if (stored.media && /\.(wav|flac|mp3|ogg|m4a)$/i.test(hit.source)) {
    li.append(el("audio", { controls: "", preload: "metadata", src: stored.media }));
  } else if (stored.media) {
    li.append(el("img", { src: stored.media, alt: hit.id }));
  } else if (stored.text !== null && stored.text !== undefined) {
    li.append(el("div", { class: "lyric" }, stored.text));
    if (hit.line) li.append(el("div", { class: "id" }, `line ${hit.line}`));
  } else if (stored.unavailable) {
    li.append(el("div", { class: "id" }, stored.unavailable));
  }
  li.append(el("div", { class: "id" }, hit.id));
  return li;
}

const ORDER = ["audio", "sheet", "lyrics"]; // the built-in modalities first, in their usual order
const rank = (m) => (ORDER.includes(m) ? ORDER.indexOf(m) : ORDER.length);

async function drawResult(result, own) {
  const sections = [];
  const found = Object.entries(result.results).sort((a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]));
  for (const [modality, hits] of found) {
    const list = el("ol", { class: "hits" });
    for (const card of await Promise.all(hits.map((h) => hitCard(h, own)))) list.append(card);
    sections.push(el("section", { class: "modality", "data-modality": modality }, el("h2", {}, `${result.query_modality} → ${modality}`), list));
  }
  $("results").replaceChildren(...sections);
}

async function drawSearch(body) {
  answer = body;
  const notes = [...body.notes, ...body.skipped.map(([label, problem]) => `skipped ${label}: ${problem}`)];
  if (body.query_item) {
    const more = body.query_passage.length ? `; its passage's ${body.query_passage.length} other file(s) are marked` : " (marked)";
    notes.unshift(`your file is in the store as ${body.query_item}${more}`);
  }
  if (notes.length) $("status").textContent += " · " + notes.join(" · ");
  if (!body.results.length) { showError("nothing in the query could be embedded"); return; }
  const choice = $("window");
  choice.replaceChildren(...body.results.map((r, i) => el("option", { value: i }, r.start === null ? r.query : `${seconds(r.start)} – ${seconds(r.end)}`)));
  $("window-choice").hidden = body.results.length < 2;
  await drawResult(body.results[0], marked(body));
}

function marked(body) {
  return body.query_item ? [body.query_item, ...body.query_passage] : [];
}

async function drawIdentify(body) {
  const table = el("table", { class: "pieces" }, el("tr", {}, el("th", {}, "#"), el("th", {}, "piece"), el("th", {}, "score"), el("th", {}, "votes"), el("th", {}, "best match")));
  for (const p of body.pieces) {
    const best = el("td", {}, el("ol", { class: "hits single" }, await hitCard(p.best, [])));
    table.append(el("tr", {}, el("td", {}, p.rank), el("td", {}, p.piece), el("td", {}, p.score.toFixed(3)), el("td", {}, p.votes), best));
  }
  const parts = [el("h2", {}, `${body.query}: ${body.vectors} ${body.query_modality} vector(s) against ${body.target}`)];
  const where = body.location;
  if (where && !where.error) {
    const at = where.page ? `page ${where.page}, system ${where.system}, box ${JSON.stringify(where.box)}` : "no page";
    parts.push(el("p", { id: "location" }, `Where it sits in ${where.piece}: passage ${where.passage} (${where.index + 1} of ${where.passages}), ${at}.`));
  } else if (where && where.error) {
    parts.push(el("p", { class: "muted" }, "not located: " + where.error));
  }
  parts.push(table);
  $("results").replaceChildren(el("section", { class: "modality" }, ...parts));
}

$("query").addEventListener("submit", (event) => { event.preventDefault(); run("/api/search", true, drawSearch); });
$("identify").addEventListener("click", () => run("/api/identify", false, drawIdentify));
$("window").addEventListener("change", () => drawResult(answer.results[Number($("window").value)], marked(answer)));
$("file").addEventListener("change", () => { if ($("file").files[0]) $("text").value = ""; });
$("text").addEventListener("input", () => { if ($("text").value) $("file").value = ""; });
init();
