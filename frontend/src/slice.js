// The inline graph slice on profile and work pages: loads after the page, shows
// "Building this graph slice…", then an interactive view; a click opens the node.
import { isNodeId } from "./state.js";
import { createView, elementsOf, layoutFor, fetchSlice, tooltip } from "./view.js";

// a click opens the node in the explorer, around this page's node, selected and expanded
function explore(seed) {
  return (node) => {
    if (!isNodeId(node.id())) return;
    const params = new URLSearchParams({ node: seed });
    if (node.id() !== seed) {
      params.set("x", node.id());
      params.set("sel", node.id());
    }
    window.location.assign(`/explore?${params}`);
  };
}

async function show(box) {
  const status = box.querySelector("[role=status]");
  const canvas = box.querySelector(".graph-canvas");
  try {
    const slice = await fetchSlice(box.dataset.node, { depth: 1, limit: 30 });
    if (slice.nodes.length < 2) {
      status.textContent = "Nothing is connected to this node in the data yet.";
      return;
    }
    canvas.hidden = false;
    const cy = createView(canvas, { onTap: explore(slice.seed), onHover: tooltip(canvas) });
    canvas.peergraphView = cy; // for the browser tests
    cy.add(elementsOf(slice.nodes, slice.edges, new Set([slice.seed])));
    cy.layout(layoutFor(cy.nodes().length)).run();
    cy.fit(undefined, 20);
    status.textContent = `${slice.nodes.length} nodes and ${slice.edges.length} edges. Hover a node for why it is here; click it to explore around it.`;
    box.dataset.ready = "true";
  } catch (error) {
    status.textContent = `The graph slice could not be loaded: ${error.message}`;
    box.dataset.ready = "error";
  }
}

for (const box of document.querySelectorAll(".graph-view[data-node]")) {
  show(box);
}
