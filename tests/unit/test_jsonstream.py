import gzip
import io

from peergraph.ingest.jsonstream import (
    MAX_RECORD_BYTES,
    iter_api_results,
    iter_json_array,
    iter_json_lines,
    open_binary,
)
from peergraph.ingest.records import ImportLimits


def _array(data: bytes):
    return list(iter_json_array(io.BytesIO(data)))


def test_array_streams_elements_with_line_numbers():
    items = _array(b'[\n {"a": 1},\n {"b": [1, 2, {"c": "}"}]}\n]')
    assert [i.value for i in items] == [{"a": 1}, {"b": [1, 2, {"c": "}"}]}]
    assert [i.line for i in items] == [2, 3]


def test_array_skips_a_malformed_element_and_keeps_the_rest():
    items = _array(b'[{"a": 1}, {"b" 2}, {"c": "x\\"}"}, {"d": 4}]')
    assert [i.value for i in items if not i.error] == [{"a": 1}, {"c": 'x"}'}, {"d": 4}]
    errors = [i for i in items if i.error]
    assert len(errors) == 1 and errors[0].error == "invalid-json" and not errors[0].fatal


def test_array_reports_invalid_utf8_per_element():
    items = _array(b'[{"t": "ok"}, {"t": "caf\xe9"}, {"t": "ok2"}]')
    assert [i.error for i in items] == [None, "invalid-utf8", None]


def test_truncated_array_is_fatal_after_the_good_elements():
    items = _array(b'[{"a": 1}, {"b": 2')
    assert items[0].value == {"a": 1}
    assert items[-1].fatal


def test_array_elements_spanning_many_chunks(monkeypatch):
    monkeypatch.setattr("peergraph.ingest.jsonstream.CHUNK_SIZE", 7)
    payload = b"[" + b",".join(b'{"n": %d, "s": "%s"}' % (n, b"x" * n) for n in range(50)) + b"]"
    items = _array(payload)
    assert [i.value["n"] for i in items] == list(range(50))


def test_not_an_array():
    items = _array(b'{"a": 1}')
    assert items[0].error == "not-json-array" and items[0].fatal


def test_api_results_stream_and_meta():
    meta: dict = {}
    data = b'{"meta": {"count": 2}, "results": [{"id": 1}, {"id": 2}], "group_by": []}'
    items = list(iter_api_results(io.BytesIO(data), meta))
    assert [i.value for i in items] == [{"id": 1}, {"id": 2}]
    assert meta == {"meta": {"count": 2}, "group_by": []}


def test_json_lines_isolate_bad_lines():
    data = b'{"a": 1}\n{broken\n\n{"b": "\xc3\x28"}\n{"c": 3}\n'
    items = list(iter_json_lines(io.BytesIO(data)))
    assert [(i.line, i.error) for i in items] == [
        (1, None),
        (2, "invalid-json"),
        (4, "invalid-utf8"),
        (5, None),
    ]


def test_json_lines_absurdly_long_line_is_skipped():
    data = b'{"a": "' + b"x" * 500 + b'"}\n{"b": 2}\n'
    items = list(iter_json_lines(io.BytesIO(data), ImportLimits(max_record_bytes=100)))
    assert items[0].error == "record-too-large"
    assert items[1].value == {"b": 2}
    assert MAX_RECORD_BYTES > 100


def test_open_binary_gunzips_by_content(tmp_path):
    path = tmp_path / "no-extension"
    path.write_bytes(gzip.compress(b'{"a": 1}\n'))
    opened = open_binary(path)
    assert opened.compressed
    assert opened.stream.read() == b'{"a": 1}\n'
    opened.close()
