"""Property tests for every importer: generated files that mix good records with bad ones
(truncated, deeply nested, huge, wrong types, NUL bytes, invalid UTF-8, malformed).

For every format:
* reading never raises;
* every good record comes out, in order, with its title;
* every bad record is reported, with the line it starts on;
* and, through the real loader into a real store, the counts add up exactly.

The limits are set low (16 KiB per record, 24 levels) so that "huge" and "deep" records
stay cheap to generate; the memory bound itself is measured in tests/unit.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peergraph.db import create_db_engine, migrate
from peergraph.ingest.formats import ImportTarget, iter_parsed
from peergraph.ingest.loader import import_file
from peergraph.ingest.records import ImportLimits, RecordError, WorkRecord
from peergraph.settings import Settings

LIMITS = ImportLimits(max_record_bytes=16_384, max_json_depth=24)
EXAMPLES = 60
STORE_EXAMPLES = 12

words = st.from_regex(r"[A-Za-z]{1,9}", fullmatch=True)
unicode_words = st.sampled_from(["Zürich", "naïve", "語彙", "Ελλάδα", "São", "fjörd"])
titles = st.lists(st.one_of(words, unicode_words), min_size=1, max_size=8).map(" ".join)


@dataclass
class Case:
    """One generated file: its bytes, the good titles in order, and the bad records' lines."""

    data: bytes
    good: list[str]
    bad_lines: list[int]


# -- one good and one bad record per format -----------------------------------------------


def openalex_work(n: int, title: str) -> dict:
    return {
        "id": f"https://openalex.org/W{n}",
        "title": title,
        "publication_year": 2020,
        "type": "article",
        "authorships": [{"author": {"display_name": "Ada Lovelace"}, "raw_author_name": "A"}],
    }


def arxiv_record(n: int, title: str) -> dict:
    return {
        "id": f"2101.{n:05d}",
        "title": title,
        "authors": "Ada Lovelace",
        "categories": "cs.LG",
        "versions": [{"version": "v1", "created": "Mon, 4 Jan 2021 10:00:00 GMT"}],
    }


def csl_item(n: int, title: str) -> dict:
    return {
        "id": f"k{n}",
        "type": "article-journal",
        "title": title,
        "issued": {"date-parts": [[2020]]},
    }


def deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


# Each takes a good record whose title is SENTINEL and returns the text of a bad one.
SENTINEL = "SENTINEL"
JSON_BAD = {
    "deep": lambda good: deep(LIMITS.max_json_depth + 5),
    # deeper than Python's recursion limit (which Hypothesis raises by 2,000 while it runs),
    # yet under the size limit: the decoder's own RecursionError must be caught
    "very-deep": lambda good: "[" * 6000 + "]" * 6000,
    "huge": lambda good: json.dumps({**good, "abstract": "x" * LIMITS.max_record_bytes}),
    "wrong-type": lambda good: json.dumps({**good, "title": ["not", "a", "string"]}),
    "nul": lambda good: json.dumps(good).replace(SENTINEL, "a\x00b"),  # raw NUL: not JSON
    "malformed": lambda good: '{"title" "no colon", "id": 1}',
    "invalid-utf8": lambda good: json.dumps(good).replace(SENTINEL, "caf\udce9"),
}
LINE_ONLY_BAD = {  # recoverable on a line of its own, not inside an array
    "truncated": lambda good: json.dumps(good)[: len(json.dumps(good)) // 2],
    "not-an-object": lambda good: "[1, 2, 3]",
}


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def json_lines_case(make: Callable[[int, str], dict], plan: list[tuple[str, str]]) -> Case:
    lines, good, bad = [], [], []
    for n, (kind, title) in enumerate(plan, start=1):
        if kind == "good":
            lines.append(encode(json.dumps(make(n, title))))
            good.append(title)
        else:
            lines.append(encode({**JSON_BAD, **LINE_ONLY_BAD}[kind](make(n, SENTINEL))))
            bad.append(len(lines))
    return Case(b"\n".join(lines) + b"\n", good, bad)


def json_array_case(
    make: Callable[[int, str], dict], plan: list[tuple[str, str]], *, api: bool
) -> Case:
    parts, good, bad = [], [], []
    line = 2 if api else 1
    for n, (kind, title) in enumerate(plan, start=1):
        if kind == "good":
            parts.append(encode(json.dumps(make(n, title))))
            good.append(title)
        else:
            parts.append(encode(JSON_BAD[kind](make(n, SENTINEL))))
            bad.append(line)
        line += 1
    body = b"[" + b",\n".join(parts) + b"]"
    if api:
        return Case(b'{"meta": {"count": 1},\n"results": ' + body + b"}", good, bad)
    return Case(body, good, bad)


def bibtex_case(plan: list[tuple[str, str]]) -> Case:
    chunks, good, bad = [], [], []
    line = 1
    for n, (kind, title) in enumerate(plan, start=1):
        entry = {
            "good": f"@article{{k{n},\n  title = {{{title}}},\n  year = {{2020}}\n}}\n",
            "missing-title": f"@article{{k{n},\n  year = {{2020}}\n}}\n",
            "unclosed": f"@article{{k{n},\n  title = {{{title}\n\n",
            "huge": f"@article{{k{n},\n  title = {{{'x' * LIMITS.max_record_bytes}}}\n}}\n",
            "invalid-utf8": f"@article{{k{n},\n  title = {{caf\udce9}}\n}}\n",
            "malformed": f"@article{{k{n},\n  title = {{{title}}},\n  = 2020\n}}\n",
            "nul": f"@article{{k{n},\n  title = {{{title}}},\n  \x00 = {{x}}\n}}\n",
        }[kind]
        chunks.append(encode(entry))
        if kind == "good":
            good.append(title)
        else:
            bad.append(line)
        line += entry.count("\n")
    return Case(b"".join(chunks), good, bad)


def atom_case(plan: list[tuple[str, str]]) -> Case:
    from xml.sax.saxutils import escape

    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
    )
    entries, good = [], []
    for n, (kind, title) in enumerate(plan, start=1):
        ident = f"http://arxiv.org/abs/2101.{n:05d}v1" if kind == "good" else "not-an-id"
        entries.append(
            f"<entry><id>{ident}</id><title>{escape(title)}</title>"
            "<published>2021-01-04T10:00:00Z</published>"
            "<author><name>Ada Lovelace</name></author></entry>\n"
        )
        if kind == "good":
            good.append(title)
    # a bad entry in XML is reported as it ends; lines are not tracked per entry
    return Case((head + "".join(entries) + "</feed>\n").encode(), good, [])


# -- the formats and their bad kinds -------------------------------------------------------

FORMATS: dict[str, tuple[list[str], Callable[[list[tuple[str, str]]], Case]]] = {
    "openalex-jsonl": (
        [*JSON_BAD, *LINE_ONLY_BAD],
        lambda plan: json_lines_case(openalex_work, plan),
    ),
    "arxiv-jsonl": ([*JSON_BAD, *LINE_ONLY_BAD], lambda plan: json_lines_case(arxiv_record, plan)),
    "csl-json": (list(JSON_BAD), lambda plan: json_array_case(csl_item, plan, api=False)),
    "openalex-api": (list(JSON_BAD), lambda plan: json_array_case(openalex_work, plan, api=True)),
    "bibtex": (
        ["missing-title", "unclosed", "huge", "invalid-utf8", "malformed", "nul"],
        bibtex_case,
    ),
    "arxiv-atom": (["missing-id"], atom_case),
}


def plans(bad_kinds: list[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    kinds = st.one_of(st.just("good"), st.sampled_from(bad_kinds))
    return st.lists(st.tuples(kinds, titles), min_size=1, max_size=12)


def parse_file(data: bytes, fmt: str) -> list:
    with tempfile.NamedTemporaryFile(suffix=".data") as handle:
        handle.write(data)
        handle.flush()
        return list(iter_parsed(Path(handle.name), fmt, LIMITS))


PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("chunk", [1 << 20, 61])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_good_record_is_kept_and_every_bad_one_reported(fmt, chunk, monkeypatch):
    """Also with the JSON readers' chunk at 61 bytes, so that records cross chunk
    boundaries everywhere (the real chunk is 1 MiB)."""
    monkeypatch.setattr("peergraph.ingest.jsonstream.CHUNK_SIZE", chunk)
    bad_kinds, build = FORMATS[fmt]

    @PROPERTY_SETTINGS
    @given(plan=plans(bad_kinds))
    def check(plan):
        case = build(plan)
        parsed = parse_file(case.data, fmt)  # never raises
        records = [p.item for p in parsed if isinstance(p.item, WorkRecord)]
        errors = [p for p in parsed if isinstance(p.item, RecordError)]
        assert [r.title for r in records] == case.good
        digests = [p.digest for p in parsed if isinstance(p.item, WorkRecord)]
        if fmt != "arxiv-atom":  # one digest per distinct record text
            assert len(set(digests)) == len(case.good)
        assert len(errors) == len(plan) - len(case.good)
        assert not any(e.item.fatal for e in errors)
        if case.bad_lines:
            assert [e.item.line for e in errors] == case.bad_lines

    check()


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_the_store_keeps_every_good_record(fmt, tmp_path_factory):
    bad_kinds, build = FORMATS[fmt]
    store = Settings.for_data_dir(tmp_path_factory.mktemp(f"store-{fmt}"))
    engine = create_db_engine(store)
    migrate(engine)
    offset = [0]

    @settings(PROPERTY_SETTINGS, max_examples=STORE_EXAMPLES)
    @given(plan=plans(bad_kinds))
    def check(plan):
        # shift ids so each example's records are new to the shared store
        offset[0] += 100
        shifted = [(kind, f"{title} n{offset[0] + i}") for i, (kind, title) in enumerate(plan)]
        case = build(shifted)
        path = tmp_path_factory.mktemp("file") / "data"
        path.write_bytes(case.data)
        summary = import_file(engine, ImportTarget(path, fmt), limits=LIMITS)
        assert summary.records_read == len(plan)
        assert summary.skipped == len(plan) - len(case.good)
        assert summary.imported + summary.merged == len(case.good)

    try:
        check()
    finally:
        engine.dispose()
