"""Hostile and careless input to the pure parts: the URL policy, redirect targets, JSON
for script blocks, and the streaming readers' limits (depth, size, memory)."""

from __future__ import annotations

import gc
import io
import json
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peergraph.ingest.bibtex import iter_entries
from peergraph.ingest.csl import parse_csl_item
from peergraph.ingest.jsonstream import (
    digest_of,
    iter_json_array,
    iter_json_lines,
    load_small_json,
)
from peergraph.ingest.normalize import clean_text
from peergraph.ingest.records import ImportLimits, RecordError
from peergraph.links import identifier_link, normalise_link, safe_link
from peergraph.web.security import json_for_script, safe_redirect_path

HOSTILE_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "\x01javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "jav&#x09;ascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "//evil.example/",
    "/relative/path",
    "https:\\\\evil.example",
    "https://good.example@evil.example/",
    "https://evil.example\\.good.example/",
    "http://",
    "https://exa mple.org/",
    "https://example.org:99999/",
    "https://x.org/\u2028",
    "ftp://example.org/file",
    "x" * 3000,
]


@pytest.mark.parametrize("value", HOSTILE_URLS)
def test_url_policy_refuses_everything_but_http_links(value):
    assert safe_link(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.org/paper", "https://example.org/paper"),
        ("HTTP://Example.ORG/A?b=1#c", "http://example.org/A?b=1#c"),
        ("  https://example.org/a b  ", "https://example.org/a%20b"),
        ('https://example.org/"><script>', "https://example.org/%22%3E%3Cscript%3E"),
        ("https://bücher.example/é", "https://xn--bcher-kva.example/%C3%A9"),
        ("doi:10.1000/ABC<1>", "https://doi.org/10.1000/ABC%3C1%3E"),
        ("10.18653/v1/P19-1001", "https://doi.org/10.18653/v1/P19-1001"),
        ("https://example.org", "https://example.org/"),
    ],
)
def test_url_policy_normalises_what_it_accepts(value, expected):
    assert safe_link(value) == expected
    assert safe_link(expected) == expected  # normalising twice changes nothing


url_parts = st.text(alphabet="aZ09-._~!$&'()*+,;=:@%/?#\\ <>\"éX\t", max_size=12)


@settings(max_examples=3000, derandomize=True, database=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTPS", "javascript", "data"]),
    host=st.sampled_from(["example.org", "EXAMPLE.org", "a-b.c", "x", "-x.org", "bücher.de", ""]),
    rest=url_parts,
)
def test_the_fast_path_agrees_with_the_full_normalisation(scheme, host, rest):
    url = f"{scheme}://{host}/{rest}"
    assert safe_link(url) == normalise_link(url)


def test_identifier_values_stay_inside_the_resolver():
    assert identifier_link("https://arxiv.org/abs/{}", "1706.03762") == (
        "https://arxiv.org/abs/1706.03762"
    )
    hostile = identifier_link("https://doi.org/{}", '10.1/x"><script>alert(1)</script>')
    assert hostile is not None and hostile.startswith("https://doi.org/10.1/x%22%3E%3Cscript")


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "/\\evil.example/",
        "/\t/evil.example/",
        "/%09/evil.example/",
        "/%0a/evil.example",
        "/%5cevil.example",
        "/%2f%2fevil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "",
        None,
        "/ok path",
        "/" + "a" * 3000,
    ],
)
def test_redirect_targets_must_stay_on_the_site(target):
    assert safe_redirect_path(target) is None


def test_redirect_targets_on_the_site_are_kept():
    for target in ("/", "/researchers/7", "/search?q=a%20b&page=2", "/works/1#abstract"):
        assert safe_redirect_path(target) == target


@pytest.mark.parametrize(
    "name", ["<!--<script>", "</script><script>alert(1)</script>", "a & b > c", "x\u2028y\u2029"]
)
def test_json_for_script_cannot_break_out(name):
    text = json_for_script({"name": name, "alternateName": [name]})
    for forbidden in ("<", ">", "&", "\u2028", "\u2029"):
        assert forbidden not in text
    assert json.loads(text) == {"name": name, "alternateName": [name]}


def test_control_characters_never_reach_the_store():
    assert clean_text("Deep\x00 learning\x07\x1b[31m\tnow") == "Deep learning[31m now"
    record = parse_csl_item({"title": "a\u0000b", "author": [{"family": "N\u0000ul"}]})
    assert not isinstance(record, RecordError)
    assert (record.title, record.authorships[0].raw_name) == ("ab", "Nul")


def _deep(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


def test_deep_json_line_is_reported_and_the_rest_kept():
    data = b'{"n": 1}\n' + _deep(5000) + b'\n{"n": 2}\n' + _deep(100) + b'\n{"n": 3}\n'
    items = list(iter_json_lines(io.BytesIO(data)))
    assert [i.value for i in items if not i.error] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert [(i.line, i.error) for i in items if i.error] == [(2, "too-deep"), (4, "too-deep")]


def test_depth_limit_is_configurable():
    limits = ImportLimits(max_json_depth=3)
    data = _deep(3) + b"\n" + _deep(4) + b"\n"
    items = list(iter_json_lines(io.BytesIO(data), limits))
    assert [i.error for i in items] == [None, "too-deep"]


def test_deep_array_element_is_reported_and_the_rest_kept():
    nested_lists = b"[" * 3000 + b"]" * 3000
    data = b'[{"n": 1},\n' + _deep(5000) + b',\n{"n": 2},\n' + nested_lists + b',{"n": 3}]'
    items = list(iter_json_array(io.BytesIO(data)))
    assert [i.value for i in items if not i.error] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert [(i.line, i.error, i.fatal) for i in items if i.error] == [
        (2, "too-deep", False),
        (4, "too-deep", False),
    ]


def test_deep_single_document_is_reported():
    item = load_small_json(io.BytesIO(_deep(5000)))
    assert item.error == "too-deep"


def test_identical_records_share_a_digest():
    data = b'{"n": 1}\n{"n": 1}\n{"n": 2}\n'
    digests = [i.digest for i in iter_json_lines(io.BytesIO(data))]
    assert digests[0] == digests[1] != digests[2]
    items = list(iter_json_array(io.BytesIO(b'[{"n": 1}, {"n": 1}, {"n": 2}]')))
    assert items[0].digest == items[1].digest != items[2].digest


def test_digests_are_of_each_element_across_chunk_boundaries(monkeypatch):
    """Regression: the reader drops consumed text while decoding; a digest taken with a
    stale offset was the same for many different records, which then counted as repeats."""
    monkeypatch.setattr("peergraph.ingest.jsonstream.CHUNK_SIZE", 7)
    elements = [json.dumps({"n": n, "s": "x" * n}) for n in range(40)]
    items = list(iter_json_array(io.BytesIO(("[" + ",".join(elements) + "]").encode())))
    assert [i.digest for i in items] == [digest_of(e.encode()) for e in elements]


def _peak_while(consume) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        consume()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_skipping_an_oversized_array_element_keeps_memory_bounded():
    """A 96 MB element of three-byte characters, with a 1 MiB record limit: skipped,
    reported, and the reader's peak stays a small multiple of the limit, far below the
    element (which as Python text would take 128 MB)."""
    limits = ImportLimits(max_record_bytes=1 << 20)
    blob = "語" * (32 << 20)
    data = ('[{"n": 1}, {"t": "' + blob + '", "x": [1, {"y": "}"}]}, {"n": 2}]').encode()
    del blob
    results: list = []
    peak = _peak_while(lambda: results.extend(iter_json_array(io.BytesIO(data), limits)))
    assert [i.value for i in results if not i.error] == [{"n": 1}, {"n": 2}]
    assert [i.error for i in results if i.error] == ["record-too-large"]
    assert peak < 24 << 20, f"peak {peak / 2**20:.0f} MiB"


@pytest.mark.slow
def test_skipping_an_oversized_json_line_keeps_memory_bounded():
    limits = ImportLimits(max_record_bytes=1 << 20)
    data = b'{"n": 1}\n{"t": "' + "語".encode() * (16 << 20) + b'"}\n{"n": 2}\n'
    results: list = []
    peak = _peak_while(lambda: results.extend(iter_json_lines(io.BytesIO(data), limits)))
    assert [i.value for i in results if not i.error] == [{"n": 1}, {"n": 2}]
    assert peak < 8 << 20, f"peak {peak / 2**20:.0f} MiB"


def test_bibtex_text_before_an_entry_is_reported_not_dropped():
    data = (
        b"% a comment line is fine\n"
        b"junk text @article{k1, title={First}, year=2020}\n"
        b"@article{k2, title={Second}, year=2021}\n"
    )
    entries = list(iter_entries(io.BytesIO(data)))
    assert [(e.line, e.entry_type) for e in entries] == [(2, "article"), (3, "article")]
    assert entries[0].junk == "junk text"
    assert entries[1].junk is None
    assert "First" in (entries[0].body or "")


def test_bibtex_reader_never_holds_a_huge_line():
    limits = ImportLimits(max_record_bytes=1 << 16)
    data = b"@article{k1, title={" + b"x" * (4 << 20) + b"}}\n@article{k2, title={Ok}}\n"
    entries = list(iter_entries(io.BytesIO(data), limits))
    assert [e.body is None for e in entries] == [True, False]
    assert "larger than" in (entries[0].error or "")
