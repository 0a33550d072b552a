// Pure helpers shared by the inline slice and the explorer (tested by test/state.test.js):
// colours and sizes, merging slices into one view, the URL state, and GraphML export.

export const NODE_TYPES = ["researcher", "work", "topic", "institution", "venue"];
export const EDGE_TYPES = [
  "authored",
  "co-authored",
  "about",
  "affiliated",
  "published-in",
  "cites",
  "similar",
];

// colour-blind-safe (Okabe–Ito), each ≥ 3:1 against white
export const COLOURS = {
  researcher: "#0072b2",
  work: "#d55e00",
  topic: "#009e73",
  institution: "#cc79a7",
  venue: "#8a6d00",
};

const NODE_ID = /^(researcher|work|topic|institution|venue):[0-9]{1,18}$/;

export function isNodeId(value) {
  return typeof value === "string" && NODE_ID.test(value);
}

export function nodeSize(weight, isSeed) {
  const w = Math.max(0, Math.min(1, Number(weight) || 0));
  return isSeed ? 46 : Math.round(16 + 22 * Math.sqrt(w));
}

// A same-site path only: every link the graph opens comes from the server, but a view
// must never navigate to another origin or a javascript: URL.
export function safePath(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : null;
}

// Merge a slice (the API's JSON) into a view's maps; returns the ids that are new.
export function mergeSlice(view, slice) {
  const added = [];
  for (const node of slice.nodes) {
    if (!view.nodes.has(node.id)) {
      view.nodes.set(node.id, { ...node });
      added.push(node.id);
    } else if (node.weight > view.nodes.get(node.id).weight) {
      view.nodes.get(node.id).weight = node.weight;
    }
  }
  for (const edge of slice.edges) {
    const id = `${edge.source}|${edge.target}|${edge.type}`;
    if (!view.edges.has(id)) view.edges.set(id, { id, ...edge });
  }
  return added;
}

export function emptyView() {
  return { nodes: new Map(), edges: new Map() };
}

// The explorer's state as a query string, and back: seeds, the first load's depth and
// size, expanded nodes, hidden node and edge types, the selected node. Anything
// malformed is dropped, never trusted.
export function parseState(search) {
  const params = new URLSearchParams(search);
  const ids = (name) => params.getAll(name).filter(isNodeId);
  const list = (name, allowed) =>
    (params.get(name) || "").split(",").filter((t) => allowed.includes(t));
  const selected = params.get("sel");
  const number = (name, low, high, fallback) => {
    const value = Number.parseInt(params.get(name) || "", 10);
    return Number.isInteger(value) && value >= low && value <= high ? value : fallback;
  };
  return {
    seeds: [...new Set(ids("node"))],
    depth: number("depth", 1, 2, 1),
    limit: number("limit", 2, 200, 40),
    expanded: [...new Set(ids("x"))],
    hiddenTypes: list("hide", NODE_TYPES),
    hiddenEdges: list("hide_edges", EDGE_TYPES),
    selected: isNodeId(selected) ? selected : null,
  };
}

export function stateQuery(state) {
  const params = new URLSearchParams();
  for (const id of state.seeds) params.append("node", id);
  if (state.depth && state.depth !== 1) params.set("depth", String(state.depth));
  if (state.limit && state.limit !== 40) params.set("limit", String(state.limit));
  for (const id of state.expanded) params.append("x", id);
  if (state.hiddenTypes.length) params.set("hide", state.hiddenTypes.join(","));
  if (state.hiddenEdges.length) params.set("hide_edges", state.hiddenEdges.join(","));
  if (state.selected) params.set("sel", state.selected);
  return params.toString();
}

function xml(value) {
  return String(value)
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

// The nodes and edges on screen as GraphML (the same attributes as the API's export).
export function toGraphML(nodes, edges) {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">',
    '  <key id="n_type" for="node" attr.name="type" attr.type="string"/>',
    '  <key id="n_label" for="node" attr.name="label" attr.type="string"/>',
    '  <key id="n_weight" for="node" attr.name="weight" attr.type="double"/>',
    '  <key id="n_url" for="node" attr.name="url" attr.type="string"/>',
    '  <key id="e_type" for="edge" attr.name="type" attr.type="string"/>',
    '  <key id="e_weight" for="edge" attr.name="weight" attr.type="double"/>',
    '  <graph id="peergraph" edgedefault="directed">',
  ];
  for (const n of nodes) {
    lines.push(
      `    <node id="${xml(n.id)}"><data key="n_type">${xml(n.type)}</data>` +
        `<data key="n_label">${xml(n.label)}</data><data key="n_weight">${xml(n.weight)}</data>` +
        `<data key="n_url">${xml(n.url)}</data></node>`,
    );
  }
  edges.forEach((e, i) => {
    lines.push(
      `    <edge id="e${i}" source="${xml(e.source)}" target="${xml(e.target)}">` +
        `<data key="e_type">${xml(e.type)}</data><data key="e_weight">${xml(e.weight)}</data></edge>`,
    );
  });
  lines.push("  </graph>", "</graphml>", "");
  return lines.join("\n");
}
