"""A slice: the ranked, capped neighbourhood of one node (docs/graph.md).

How the nodes are chosen, in a fixed order so that the same data gives the same slice:

1. Each neighbour of the seed gets a **score**: its edge weight divided by the strongest
   weight of that edge type around the seed (so 1.0 is "the strongest of its kind"),
   and the types take turns (round robin over edge types, strongest first within
   each), so a researcher with 300 works still shows their co-authors and topics.
2. At depth 2, the best ``EXPAND`` first-ring nodes are expanded the same way, each of
   their neighbours scoring ``parent score × normalised weight × HOP``, and the slots
   left are filled by score.
3. Ties break on node type, then id. Every node keeps the path that brought it in: its
   "why".

Then the edges: the edge that brought each node in, and the co-authorship, authorship,
topic and citation edges among the chosen nodes (graph/store.py ``edges_among``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from peergraph.graph.store import (
    EDGE_TYPES,
    NODE_TYPES,
    GraphStore,
    Key,
    Neighbour,
    key_text,
)

DEFAULT_LIMIT = 40
MAX_LIMIT = 200
MAX_DEPTH = 2
EXPAND = 8  # first-ring nodes expanded at depth 2
HOP = 0.5  # a second-ring node counts half as much as the first-ring node it hangs on


@dataclass
class SliceNode:
    key: Key
    type: str
    label: str
    weight: float
    url: str
    why: str
    depth: int
    facts: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": key_text(self.key),
            "type": self.type,
            "label": self.label,
            "weight": round(self.weight, 4),
            "url": self.url,
            "why": self.why,
            "depth": self.depth,
            "facts": self.facts,
        }


@dataclass(frozen=True)
class SliceEdge:
    source: Key
    target: Key
    type: str
    weight: float

    def as_json(self) -> dict[str, Any]:
        return {
            "source": key_text(self.source),
            "target": key_text(self.target),
            "type": self.type,
            "weight": round(self.weight, 4),
        }


@dataclass
class Slice:
    seed: Key
    depth: int
    limit: int
    types: tuple[str, ...]
    nodes: list[SliceNode]
    edges: list[SliceEdge]

    def as_json(self) -> dict[str, Any]:
        return {
            "seed": key_text(self.seed),
            "depth": self.depth,
            "limit": self.limit,
            "types": list(self.types),
            "nodes": [n.as_json() for n in self.nodes],
            "edges": [e.as_json() for e in self.edges],
        }


@dataclass
class _Candidate:
    key: Key
    score: float
    depth: int
    via: Key
    neighbour: Neighbour


def _scored(around: list[Neighbour], types: set[str]) -> dict[str, list[tuple[float, Neighbour]]]:
    """The neighbours allowed by ``types``, normalised per edge type, strongest first."""
    by_edge: dict[str, list[Neighbour]] = defaultdict(list)
    for n in around:
        if n.node[0] in types:
            by_edge[n.edge].append(n)
    out: dict[str, list[tuple[float, Neighbour]]] = {}
    for edge, items in by_edge.items():
        top = max((n.weight for n in items), default=0.0) or 1.0
        ranked = sorted(items, key=lambda n: (-n.weight, NODE_TYPES.index(n.node[0]), n.node[1]))
        out[edge] = [(n.weight / top, n) for n in ranked]
    return out


def _round_robin(scored: dict[str, list[tuple[float, Neighbour]]]) -> list[tuple[float, Neighbour]]:
    """Edge types take turns (in EDGE_TYPES order), strongest first within each."""
    queues = [list(scored[e]) for e in EDGE_TYPES if e in scored]
    out: list[tuple[float, Neighbour]] = []
    while any(queues):
        for queue in queues:
            if queue:
                out.append(queue.pop(0))
    return out


def build_slice(
    store: GraphStore,
    seed: Key,
    *,
    depth: int = 1,
    limit: int = DEFAULT_LIMIT,
    types: tuple[str, ...] = NODE_TYPES,
) -> Slice | None:
    """The slice around ``seed``, or None when there is no such node."""
    described = store.describe([seed])
    if seed not in described:
        return None
    allowed = set(types)
    chosen: dict[Key, _Candidate] = {}
    first = _round_robin(_scored(store.neighbours(seed), allowed))
    for score, n in first:
        if len(chosen) >= limit - 1:
            break
        if n.node != seed and n.node not in chosen:
            chosen[n.node] = _Candidate(n.node, score, 1, seed, n)
    if depth >= 2 and len(chosen) < limit - 1:
        ring = sorted(chosen.values(), key=_rank)
        second: dict[Key, _Candidate] = {}
        for parent in ring[:EXPAND]:
            for score, n in _round_robin(_scored(store.neighbours(parent.key), allowed)):
                if n.node == seed or n.node in chosen:
                    continue
                value = parent.score * score * HOP
                known = second.get(n.node)
                if known is None or value > known.score:
                    second[n.node] = _Candidate(n.node, value, 2, parent.key, n)
        ranked = sorted(second.values(), key=_rank)
        for candidate in ranked[: limit - 1 - len(chosen)]:
            chosen[candidate.key] = candidate
    info = store.describe([seed, *chosen])
    nodes = [
        SliceNode(
            seed,
            seed[0],
            info[seed].label,
            1.0,
            info[seed].url,
            "the node this slice is about",
            0,
            info[seed].facts,
        )
    ]
    edges: dict[tuple[Key, Key, str], SliceEdge] = {}
    for candidate in chosen.values():
        if candidate.key not in info:  # hidden, or gone since the neighbours were read
            continue
        n = candidate.neighbour
        via = info.get(candidate.via)
        via_label = via.label if via else key_text(candidate.via)
        why = f"{_describe_link(n, via_label)} ({n.detail})"
        if candidate.depth == 2:
            why = f"via {via_label}: {why}"
        nodes.append(
            SliceNode(
                candidate.key,
                candidate.key[0],
                info[candidate.key].label,
                candidate.score,
                info[candidate.key].url,
                why,
                candidate.depth,
                info[candidate.key].facts,
            )
        )
        source, target = (candidate.via, n.node) if n.outgoing else (n.node, candidate.via)
        edges[(source, target, n.edge)] = SliceEdge(source, target, n.edge, n.weight)
    present = {node.key for node in nodes}
    for source, target, kind, weight in store.edges_among(present):
        edges.setdefault((source, target, kind), SliceEdge(source, target, kind, weight))
    nodes = [
        nodes[0],
        *sorted(nodes[1:], key=lambda s: (-s.weight, NODE_TYPES.index(s.type), s.key[1])),
    ]
    order = {node.key: i for i, node in enumerate(nodes)}
    ordered_edges = sorted(
        (e for e in edges.values() if e.source in present and e.target in present),
        key=lambda e: (order[e.source], order[e.target], e.type),
    )
    kept = tuple(t for t in NODE_TYPES if t in allowed)
    return Slice(seed, depth, limit, kept, nodes, ordered_edges)


def _rank(c: _Candidate) -> tuple[float, int, int]:
    return (-c.score, NODE_TYPES.index(c.key[0]), c.key[1])


def _describe_link(n: Neighbour, other: str) -> str:
    """Plain words for the edge between this node and ``other`` (the node it hangs on)."""
    words = {
        ("authored", True): f"written by {other}",
        ("authored", False): f"an author of {other}",
        ("co-authored", True): f"co-author of {other}",
        ("about", True): f"a topic of {other}",
        ("about", False): f"works on {other}" if n.node[0] == "researcher" else f"about {other}",
        ("affiliated", True): f"an institution of {other}",
        ("affiliated", False): f"affiliated with {other}",
        ("published-in", True): f"where {other} was published",
        ("published-in", False): f"published in {other}",
        ("cites", True): f"cited by {other}",
        ("cites", False): f"cites {other}",
        ("similar", True): f"similar to {other}",
    }
    return words.get((n.edge, n.outgoing), f"{n.edge} {other}")
