import assert from "node:assert/strict";
import { test } from "node:test";

import {
  emptyView,
  isNodeId,
  mergeSlice,
  nodeSize,
  parseState,
  safePath,
  stateQuery,
  toGraphML,
} from "../src/state.js";

const slice = {
  nodes: [
    { id: "researcher:1", type: "researcher", label: "Ada <b>", weight: 1, url: "/researchers/1" },
    { id: "work:2", type: "work", label: 'A "title" & more', weight: 0.5, url: "/works/2" },
  ],
  edges: [{ source: "researcher:1", target: "work:2", type: "authored", weight: 0.5 }],
};

test("node ids are type:number and nothing else", () => {
  assert.ok(isNodeId("researcher:12"));
  assert.ok(!isNodeId("researcher:"));
  assert.ok(!isNodeId("person:1"));
  assert.ok(!isNodeId("work:1<script>"));
});

test("only same-site paths are opened", () => {
  assert.equal(safePath("/works/2"), "/works/2");
  assert.equal(safePath("//evil.example"), null);
  assert.equal(safePath("javascript:alert(1)"), null);
  assert.equal(safePath("https://evil.example/"), null);
});

test("sizes grow with weight and the seed is largest", () => {
  assert.ok(nodeSize(0.1) < nodeSize(0.9));
  assert.ok(nodeSize(1) < nodeSize(1, true));
  assert.equal(nodeSize("nonsense"), nodeSize(0));
});

test("merging keeps existing nodes and reports only new ones", () => {
  const view = emptyView();
  assert.deepEqual(mergeSlice(view, slice), ["researcher:1", "work:2"]);
  const more = {
    nodes: [
      { ...slice.nodes[1], weight: 0.9 },
      { id: "topic:3", type: "topic", label: "T", weight: 0.2, url: "/t" },
    ],
    edges: [slice.edges[0], { source: "work:2", target: "topic:3", type: "about", weight: 1 }],
  };
  assert.deepEqual(mergeSlice(view, more), ["topic:3"]);
  assert.equal(view.nodes.get("work:2").weight, 0.9);
  assert.equal(view.edges.size, 2);
});

test("the URL state round-trips and drops what is malformed", () => {
  const state = {
    seeds: ["researcher:1", "work:2"],
    depth: 2,
    limit: 200,
    expanded: ["work:2"],
    hiddenTypes: ["venue"],
    hiddenEdges: ["cites"],
    selected: "work:2",
  };
  assert.deepEqual(parseState("?" + stateQuery(state)), state);
  const hostile = parseState(
    "?node=x:1&node=work:3&hide=planet,topic&sel=javascript:1&depth=9&limit=100000",
  );
  assert.deepEqual(hostile.seeds, ["work:3"]);
  assert.equal(hostile.depth, 1);
  assert.equal(hostile.limit, 40);
  assert.deepEqual(hostile.hiddenTypes, ["topic"]);
  assert.equal(hostile.selected, null);
});

test("GraphML escapes data and lists every node and edge", () => {
  const text = toGraphML(slice.nodes, slice.edges);
  assert.ok(text.includes("Ada &lt;b&gt;"));
  assert.ok(text.includes("A &quot;title&quot; &amp; more"));
  assert.equal((text.match(/<node /g) || []).length, 2);
  assert.equal((text.match(/<edge /g) || []).length, 1);
});
