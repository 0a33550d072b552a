"""The graph slice API: ``GET /api/graph/slice`` as JSON, GraphML or GEXF (graph/)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from peergraph.graph.export import to_gexf, to_graphml
from peergraph.graph.slices import DEFAULT_LIMIT, MAX_DEPTH, MAX_LIMIT, Slice, build_slice
from peergraph.graph.store import EDGE_TYPES, NODE_TYPES, GraphStore, key_text, parse_key
from peergraph.web.api import ERRORS, ErrorResponse
from peergraph.web.deps import get_session

router = APIRouter(prefix="/api/graph", tags=["graph"])
pages = APIRouter(include_in_schema=False)

NODE_PATTERN = "^(" + "|".join(NODE_TYPES) + "):[0-9]{1,18}$"
MEDIA = {"graphml": "application/graphml+xml", "gexf": "application/gexf+xml"}


class NodeOut(BaseModel):
    id: str = Field(description='"type:id", e.g. "researcher:12"')
    type: str
    label: str
    weight: float = Field(description="1 for the seed; else how strongly the slice ranks it")
    url: str
    why: str = Field(description="the path that brought the node into the slice, in words")
    depth: int
    facts: dict[str, Any]


class EdgeOut(BaseModel):
    source: str
    target: str
    type: str = Field(description="authored, co-authored, about, affiliated, published-in or cites")
    weight: float


class SliceOut(BaseModel):
    seed: str
    depth: int
    limit: int
    types: list[str]
    nodes: list[NodeOut]
    edges: list[EdgeOut]


def parse_types(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return NODE_TYPES
    wanted = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = sorted(wanted - set(NODE_TYPES))
    if unknown:
        raise HTTPException(
            422, f"unknown node type {unknown[0]!r}; types are {', '.join(NODE_TYPES)}"
        )
    return tuple(t for t in NODE_TYPES if t in wanted)


def cached_slice(
    request: Request, session: Session, node: str, depth: int, limit: int, types: tuple[str, ...]
) -> Slice:
    seed = parse_key(node)
    if seed is None:
        raise HTTPException(422, f"{node!r} is not a node id (type:number)")
    cache = request.app.state.slices
    built = cache.get(
        session.connection(),
        (key_text(seed), depth, limit, types),
        lambda: build_slice(
            GraphStore(session, request.app.state.semantic),
            seed,
            depth=depth,
            limit=limit,
            types=types,
        ),
    )
    if built is None:
        raise HTTPException(404, f"There is no {seed[0]} {seed[1]}.")
    return built


@router.get(
    "/slice",
    response_model=SliceOut,
    responses={
        **ERRORS,
        200: {
            "description": "The slice, as JSON (or GraphML or GEXF with format=…)",
            "content": {MEDIA["graphml"]: {}, MEDIA["gexf"]: {}},
        },
        400: {"model": ErrorResponse, "description": "Bad request"},
    },
    summary="A ranked, capped neighbourhood of one node, with the reason for each node",
)
def graph_slice(
    request: Request,
    node: str = Query(
        ...,
        max_length=40,
        pattern=NODE_PATTERN,
        description='the seed, "type:id": researcher, work, topic, institution or venue',
        examples=["researcher:1"],
    ),
    depth: int = Query(1, ge=1, le=MAX_DEPTH, description="1: neighbours; 2: theirs too"),
    limit: int = Query(DEFAULT_LIMIT, ge=2, le=MAX_LIMIT, description="most nodes, seed included"),
    types: str | None = Query(
        None, max_length=200, description="node types to keep, comma-separated (default all)"
    ),
    format: str = Query("json", pattern="^(json|graphml|gexf)$"),
    session: Session = Depends(get_session),
) -> Any:
    """Nodes (id, type, label, weight, URL, why) and weighted edges around ``node``.
    The same data gives the same slice; slices are cached per data generation, so none
    outlives an import or a rebuild (docs/graph.md)."""
    piece = cached_slice(request, session, node, depth, limit, parse_types(types))
    if format == "graphml":
        return Response(
            to_graphml(piece), media_type=MEDIA["graphml"], headers=_attachment(piece, "graphml")
        )
    if format == "gexf":
        return Response(
            to_gexf(piece), media_type=MEDIA["gexf"], headers=_attachment(piece, "gexf")
        )
    return piece.as_json()


def _attachment(piece: Slice, suffix: str) -> dict[str, str]:
    name = key_text(piece.seed).replace(":", "-")
    return {"content-disposition": f'attachment; filename="peergraph-{name}.{suffix}"'}


@pages.get("/explore", response_class=HTMLResponse)
def explore_page(request: Request, node: list[str] = Query([], max_length=20)) -> HTMLResponse:
    """The full-window explorer; its script reads the state (seeds, filters, the
    selected node) from the URL itself."""
    seeds = [n for n in node if parse_key(n) is not None][:20]
    return request.app.state.templates.TemplateResponse(
        request,
        "explore.html",
        {"seeds": seeds, "node_types": NODE_TYPES, "edge_types": EDGE_TYPES},
    )
