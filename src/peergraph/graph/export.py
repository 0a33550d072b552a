"""A slice as GraphML and GEXF files (they open in Gephi and Cytoscape) and as JSON.

Both XML formats carry every node's type, label, weight and URL and every edge's type
and weight as typed attributes, and are written with the standard library's XML writer,
so data cannot break out of an attribute or element.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

from peergraph.graph.slices import Slice
from peergraph.graph.store import key_text

GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
GEXF_NS = "http://gexf.net/1.3"
NODE_ATTRS = (("type", "string"), ("label", "string"), ("weight", "double"), ("url", "string"))
EDGE_ATTRS = (("type", "string"), ("weight", "double"))
# characters XML 1.0 cannot carry at all (imported titles sometimes hold them)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def clean(value: object) -> str:
    return _NOT_XML.sub("", str(value))


def _text(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def to_graphml(piece: Slice) -> str:
    root = ET.Element("graphml", {"xmlns": GRAPHML_NS})
    for name, kind in NODE_ATTRS:
        ET.SubElement(
            root, "key", {"id": f"n_{name}", "for": "node", "attr.name": name, "attr.type": kind}
        )
    for name, kind in EDGE_ATTRS:
        ET.SubElement(
            root, "key", {"id": f"e_{name}", "for": "edge", "attr.name": name, "attr.type": kind}
        )
    graph = ET.SubElement(root, "graph", {"id": key_text(piece.seed), "edgedefault": "directed"})
    for node in piece.nodes:
        element = ET.SubElement(graph, "node", {"id": key_text(node.key)})
        values = {"type": node.type, "label": node.label, "weight": node.weight, "url": node.url}
        for name, _ in NODE_ATTRS:
            ET.SubElement(element, "data", {"key": f"n_{name}"}).text = clean(values[name])
    for n, edge in enumerate(piece.edges):
        element = ET.SubElement(
            graph,
            "edge",
            {"id": f"e{n}", "source": key_text(edge.source), "target": key_text(edge.target)},
        )
        ET.SubElement(element, "data", {"key": "e_type"}).text = edge.type
        ET.SubElement(element, "data", {"key": "e_weight"}).text = str(edge.weight)
    return _text(root)


def to_gexf(piece: Slice) -> str:
    root = ET.Element("gexf", {"xmlns": GEXF_NS, "version": "1.3"})
    meta = ET.SubElement(root, "meta", {"lastmodifieddate": date.today().isoformat()})
    ET.SubElement(meta, "creator").text = "peergraph"
    ET.SubElement(meta, "description").text = f"graph slice around {key_text(piece.seed)}"
    graph = ET.SubElement(root, "graph", {"defaultedgetype": "directed", "mode": "static"})
    node_attrs = ET.SubElement(graph, "attributes", {"class": "node"})
    for n, (name, kind) in enumerate(a for a in NODE_ATTRS if a[0] != "label"):
        ET.SubElement(node_attrs, "attribute", {"id": str(n), "title": name, "type": kind})
    edge_attrs = ET.SubElement(graph, "attributes", {"class": "edge"})
    ET.SubElement(edge_attrs, "attribute", {"id": "0", "title": "type", "type": "string"})
    nodes = ET.SubElement(graph, "nodes")
    for node in piece.nodes:
        element = ET.SubElement(
            nodes, "node", {"id": key_text(node.key), "label": clean(node.label)}
        )
        values = ET.SubElement(element, "attvalues")
        for n, value in enumerate((node.type, node.weight, node.url)):
            ET.SubElement(values, "attvalue", {"for": str(n), "value": clean(value)})
    edges = ET.SubElement(graph, "edges")
    for n, edge in enumerate(piece.edges):
        element = ET.SubElement(
            edges,
            "edge",
            {
                "id": str(n),
                "source": key_text(edge.source),
                "target": key_text(edge.target),
                "weight": str(edge.weight),
            },
        )
        values = ET.SubElement(element, "attvalues")
        ET.SubElement(values, "attvalue", {"for": "0", "value": edge.type})
    return _text(root)
