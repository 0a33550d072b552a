// The full-window explorer: pan, zoom and drag; a click selects a node and expands its
// neighbours in place (new nodes animate in around it, the others keep their places);
// filters by node and edge type; a search box that adds seeds; a side panel; the state
// in the URL; export as PNG and GraphML.
import {
  emptyView,
  mergeSlice,
  parseState,
  safePath,
  stateQuery,
  toGraphML,
} from "./state.js";
import { createView, elementsOf, layoutFor, fetchSlice, tooltip } from "./view.js";

const root = document.querySelector("#explorer");
const canvas = document.querySelector("#explorer-canvas");
const status = document.querySelector("#explorer-status");
const panel = document.querySelector("#explorer-panel-body");
const state = parseState(window.location.search);
const view = emptyView();
const cy = createView(canvas, { onTap: select, onHover: tooltip(canvas) });
canvas.peergraphView = cy; // for the browser tests

function say(text) {
  status.textContent = text;
}

function remember() {
  window.history.replaceState(null, "", `?${stateQuery(state)}`);
}

function applyFilters() {
  cy.batch(() => {
    cy.elements().removeClass("filtered");
    cy.nodes().filter((n) => state.hiddenTypes.includes(n.data("type"))).addClass("filtered");
    cy.edges().filter((e) => state.hiddenEdges.includes(e.data("type"))).addClass("filtered");
  });
  root.dataset.visibleNodes = String(cy.nodes().not(".filtered").length);
}

async function add(id, { around = null, depth = 1, limit = 30 } = {}) {
  const slice = await fetchSlice(id, { depth, limit });
  const fresh = mergeSlice(view, slice);
  const seeds = new Set(state.seeds);
  const nodes = fresh.map((n) => view.nodes.get(n));
  const known = new Set(cy.nodes().map((n) => n.id()));
  const edges = slice.edges
    .map((e) => view.edges.get(`${e.source}|${e.target}|${e.type}`))
    .filter((e) => e && !cy.getElementById(e.id).length);
  const centre = around ? cy.getElementById(around).position() : { x: 0, y: 0 };
  const added = cy.add(elementsOf(nodes, edges, seeds));
  const newNodes = added.nodes();
  if (known.size === 0) {
    cy.layout(layoutFor(cy.nodes().length)).run();
    cy.fit(undefined, 30);
  } else {
    // new nodes start on the node they hang on and fan out; the rest keep their places
    const radius = 90 + 6 * newNodes.length;
    newNodes.forEach((node, i) => {
      node.position({ ...centre });
      const angle = (2 * Math.PI * i) / Math.max(1, newNodes.length);
      node.animate(
        { position: { x: centre.x + radius * Math.cos(angle), y: centre.y + radius * Math.sin(angle) } },
        { duration: 400 },
      );
    });
  }
  applyFilters();
  root.dataset.nodes = String(cy.nodes().length);
  return newNodes.length;
}

function fact(list, name, value) {
  if (value === null || value === undefined || value === "") return;
  const term = document.createElement("dt");
  term.textContent = name;
  const detail = document.createElement("dd");
  detail.textContent = String(value);
  list.append(term, detail);
}

function showPanel(node) {
  panel.replaceChildren();
  if (!node) {
    const hint = document.createElement("p");
    hint.textContent = "Click a node to see its facts and expand its neighbours.";
    panel.append(hint);
    return;
  }
  const title = document.createElement("h3");
  title.textContent = node.data("label");
  const facts = document.createElement("dl");
  fact(facts, "Type", node.data("type"));
  fact(facts, "Why here", node.data("why"));
  for (const [name, value] of Object.entries(node.data("facts") || {})) fact(facts, name, value);
  panel.append(title, facts);
  const path = safePath(node.data("url"));
  if (path) {
    const link = document.createElement("a");
    link.href = path;
    link.textContent = `Open this ${node.data("type")}`;
    panel.append(link);
  }
}

async function select(node) {
  cy.elements().unselect();
  node.select();
  state.selected = node.id();
  showPanel(node);
  if (!state.expanded.includes(node.id()) && !state.seeds.includes(node.id())) {
    state.expanded.push(node.id());
    say(`Expanding ${node.data("label")}…`);
    try {
      const count = await add(node.id(), { around: node.id() });
      say(`${count} new node${count === 1 ? "" : "s"} around ${node.data("label")}; ${cy.nodes().length} in all.`);
    } catch (error) {
      say(`Could not expand: ${error.message}`);
    }
  }
  remember();
}

function bindFilters(selector, list) {
  for (const box of document.querySelectorAll(selector)) {
    box.checked = !list.includes(box.value);
    box.addEventListener("change", () => {
      const at = list.indexOf(box.value);
      if (box.checked && at >= 0) list.splice(at, 1);
      if (!box.checked && at < 0) list.push(box.value);
      applyFilters();
      remember();
    });
  }
}

function download(name, type, content) {
  const link = document.createElement("a");
  link.href = typeof content === "string" ? URL.createObjectURL(new Blob([content], { type })) : content;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

function visibleGraph() {
  const shown = cy.elements().not(".filtered");
  const nodes = shown.nodes().map((n) => view.nodes.get(n.id()));
  const ids = new Set(nodes.map((n) => n.id));
  const edges = shown
    .edges()
    .map((e) => view.edges.get(e.id()))
    .filter((e) => ids.has(e.source) && ids.has(e.target));
  return { nodes, edges };
}

function result(list, id, label, kind) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = `${label} (${kind})`;
  button.addEventListener("click", async () => {
    if (!state.seeds.includes(id)) state.seeds.push(id);
    say(`Adding ${label}…`);
    try {
      await add(id, { around: cy.nodes().length ? cy.nodes()[0].id() : null });
      cy.getElementById(id).addClass("seed");
      say(`${label} added; ${cy.nodes().length} nodes.`);
    } catch (error) {
      say(`Could not add it: ${error.message}`);
    }
    remember();
  });
  item.append(button);
  list.append(item);
}

async function search(event) {
  event.preventDefault();
  const q = document.querySelector("#seed-q").value.trim();
  const list = document.querySelector("#seed-results");
  list.replaceChildren();
  if (!q) return;
  const params = new URLSearchParams({ q, mode: "keyword", per_page: "6" });
  const response = await fetch(`/api/search?${params}`);
  if (!response.ok) {
    say("Search found nothing to add.");
    return;
  }
  const found = await response.json();
  for (const r of found.researchers.slice(0, 4)) result(list, `researcher:${r.id}`, r.name, "researcher");
  for (const t of found.topics.slice(0, 3)) result(list, `topic:${t.id}`, t.name, "topic");
  for (const w of found.items.slice(0, 6)) result(list, `work:${w.id}`, w.title, "work");
  say(list.children.length ? `${list.children.length} results: choose one to add it.` : "No results.");
}

async function start() {
  bindFilters("input[name=node-type]", state.hiddenTypes);
  bindFilters("input[name=edge-type]", state.hiddenEdges);
  document.querySelector("#seed-search").addEventListener("submit", search);
  document.querySelector("#export-png").addEventListener("click", () =>
    download("peergraph.png", "image/png", cy.png({ full: true, bg: "#ffffff", scale: 2 })),
  );
  document.querySelector("#export-graphml").addEventListener("click", () => {
    const { nodes, edges } = visibleGraph();
    download("peergraph.graphml", "application/graphml+xml", toGraphML(nodes, edges));
  });
  if (!state.seeds.length) {
    say("Search for a researcher, work or topic to start.");
    showPanel(null);
    root.dataset.ready = "true";
    return;
  }
  const started = performance.now();
  try {
    for (const seed of state.seeds) await add(seed, { depth: state.depth, limit: state.limit });
    for (const id of state.expanded) if (view.nodes.has(id)) await add(id, { around: id });
  } catch (error) {
    say(`The graph could not be loaded: ${error.message}`);
    root.dataset.ready = "error";
    return;
  }
  const selected = state.selected ? cy.getElementById(state.selected) : null;
  if (selected && selected.length) {
    selected.select();
    showPanel(selected);
  } else {
    showPanel(null);
  }
  // from navigation to an interactive view, and from the script's start (docs/graph.md)
  performance.measure("peergraph:explorer-ready", { start: 0, end: performance.now() });
  performance.measure("peergraph:explorer-script", { start: started, end: performance.now() });
  say(`${cy.nodes().length} nodes and ${cy.edges().length} edges. Drag to pan, scroll to zoom, click a node to expand it.`);
  root.dataset.ready = "true";
}

start();
