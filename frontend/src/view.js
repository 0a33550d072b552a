// A Cytoscape.js view of graph slices (canvas 2D: it needs no WebGL, so it runs on any
// browser, headless or not). Labels and details go through textContent only.
import cytoscape from "cytoscape";

import { COLOURS, nodeSize } from "./state.js";

const STYLE = [
  {
    selector: "node",
    style: {
      "background-color": (n) => COLOURS[n.data("type")] || "#57606a",
      width: (n) => nodeSize(n.data("weight"), n.data("seed")),
      height: (n) => nodeSize(n.data("weight"), n.data("seed")),
      label: "data(short)",
      "font-size": 11,
      "min-zoomed-font-size": 7, // labels appear as one zooms in
      color: "#1b1f24",
      "text-valign": "bottom",
      "text-margin-y": 3,
      "text-wrap": "ellipsis",
      "text-max-width": 140,
      "text-background-color": "#ffffff",
      "text-background-opacity": 0.8,
      "text-background-padding": 1,
    },
  },
  { selector: "node:selected", style: { "border-width": 4, "border-color": "#1b1f24" } },
  { selector: "node.seed", style: { "border-width": 3, "border-color": "#1b1f24" } },
  {
    selector: "edge",
    style: {
      width: (e) => 1 + 3 * Math.min(1, Number(e.data("weight")) || 0),
      "line-color": "#afb8c1",
      "curve-style": "straight",
      opacity: 0.8,
    },
  },
  { selector: "edge[type = 'cites']", style: { "target-arrow-shape": "triangle", "target-arrow-color": "#afb8c1" } },
  { selector: "edge[type = 'similar']", style: { "line-style": "dashed", "line-color": "#8c959f" } },
  { selector: ".filtered", style: { display: "none" } },
];

// a force-directed layout, run once without animation: 1,000 iterations for a small
// slice, 250 for a few hundred nodes (1,000 took most of the explorer's first second)
export function layoutFor(count) {
  return {
    name: "cose",
    animate: false,
    randomize: false,
    numIter: count <= 60 ? 1000 : 250,
    nodeRepulsion: () => 12000,
    idealEdgeLength: () => 70,
    nodeOverlap: 20,
  };
}

export function shortLabel(label) {
  const text = String(label || "");
  return text.length > 40 ? `${text.slice(0, 38)}…` : text;
}

export function elementsOf(nodes, edges, seeds) {
  const out = [];
  for (const n of nodes) {
    out.push({
      group: "nodes",
      data: { ...n, short: shortLabel(n.label), seed: seeds.has(n.id) },
      classes: seeds.has(n.id) ? "seed" : "",
    });
  }
  for (const e of edges) {
    out.push({ group: "edges", data: { id: e.id || `${e.source}|${e.target}|${e.type}`, ...e } });
  }
  return out;
}

export function createView(container, { onTap, onHover } = {}) {
  const cy = cytoscape({
    container,
    style: STYLE,
    wheelSensitivity: 0.3,
    minZoom: 0.1,
    maxZoom: 4,
  });
  // Cytoscape caches where its container sits and drops the cache on a scroll or a
  // resize only: content that moves the page without either (a late image, an
  // opened disclosure) would make clicks miss their nodes, so re-measure on entry
  container.addEventListener("pointerenter", () => cy.resize());
  cy.on("tap", "node", (event) => onTap && onTap(event.target));
  cy.on("mouseover", "node", (event) => onHover && onHover(event.target, event.renderedPosition));
  cy.on("mouseout", "node", () => onHover && onHover(null));
  return cy;
}

// a tooltip: the node's label, type and why, as text
export function tooltip(container) {
  const tip = document.createElement("div");
  tip.className = "graph-tip";
  tip.hidden = true;
  container.appendChild(tip);
  return (node, position) => {
    if (!node) {
      tip.hidden = true;
      return;
    }
    tip.replaceChildren();
    const title = document.createElement("strong");
    title.textContent = node.data("label");
    const kind = document.createElement("div");
    kind.textContent = node.data("type");
    const why = document.createElement("div");
    why.textContent = node.data("why") || "";
    tip.append(title, kind, why);
    // beside the pointer, on whichever side has room
    const room = container.clientWidth - position.x > 300;
    tip.style.left = room ? `${Math.round(position.x + 12)}px` : "auto";
    tip.style.right = room ? "auto" : `${Math.round(container.clientWidth - position.x + 12)}px`;
    tip.style.top = `${Math.round(position.y + 12)}px`;
    tip.hidden = false;
  };
}

export async function fetchSlice(node, { depth = 1, limit = 30 } = {}) {
  const params = new URLSearchParams({ node, depth: String(depth), limit: String(limit) });
  const response = await fetch(`/api/graph/slice?${params}`, { headers: { accept: "application/json" } });
  if (!response.ok) {
    let message = `the server answered ${response.status}`;
    try {
      message = (await response.json()).error.message;
    } catch {
      // keep the status
    }
    throw new Error(message);
  }
  return response.json();
}
