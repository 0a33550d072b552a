"""Streaming JSON readers with per-record error isolation and constant memory.

* :func:`iter_json_lines` — JSON Lines; a broken line costs exactly that line.
* :func:`iter_json_array` — a top-level JSON array of objects (CSL-JSON, saved API
  lists) decoded one element at a time with the C decoder (``raw_decode``) over a sliding
  text window, so a 150 MB file never sits in memory and a malformed element is skipped
  by brace matching instead of aborting the file.
* :func:`iter_api_results` — ``{"meta": …, "results": […]}`` API list responses.

Invalid UTF-8 is decoded with ``surrogateescape`` and reported per record. Every reader
honours :class:`ImportLimits`: a record larger than ``max_record_bytes`` is skipped while
being read (never held whole), one nested deeper than ``max_json_depth`` is reported as
``too-deep`` instead of crashing the decoder with a RecursionError. Each item carries a
digest of its source text, so identical records of one file can be recognised.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import re
from collections.abc import Container, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from peergraph.ingest.records import ImportLimits

DEFAULT_LIMITS = ImportLimits()
MAX_RECORD_BYTES = DEFAULT_LIMITS.max_record_bytes
CHUNK_SIZE = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"

_SURROGATE = re.compile("[\udc80-\udcff]")
_STRUCTURE = re.compile(r'[{}\[\]"\\]')
_decoder = json.JSONDecoder()


class CountingReader(io.RawIOBase):
    """Wraps a binary file and counts bytes read from disk (progress on compressed input)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.consumed += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass
class OpenedFile:
    stream: IO[bytes]
    counter: CountingReader
    compressed: bool

    @property
    def offset(self) -> int:
        return self.counter.consumed

    def close(self) -> None:
        self.stream.close()


def open_binary(path: Path) -> OpenedFile:
    """Open ``path`` for reading, gunzipping transparently (by magic bytes, not name)."""
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    counter = CountingReader(raw)
    buffered = io.BufferedReader(counter, buffer_size=CHUNK_SIZE)
    if magic == GZIP_MAGIC:
        return OpenedFile(gzip.GzipFile(fileobj=buffered, mode="rb"), counter, True)  # type: ignore[arg-type]
    return OpenedFile(buffered, counter, False)


def read_head(path: Path, size: int = 65536) -> bytes:
    """The first ``size`` bytes of the (decompressed) content, for format detection."""
    opened = open_binary(path)
    try:
        return opened.stream.read(size)
    except (OSError, EOFError):
        return b""
    finally:
        opened.close()


@dataclass(slots=True)
class JsonItem:
    """A decoded JSON value or the reason it could not be decoded."""

    line: int
    value: Any = None
    error: str | None = None  # reason code
    message: str | None = None
    fatal: bool = False
    digest: bytes | None = None  # of the record's source text


def digest_of(raw: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=16).digest()


def too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and objects more than ``limit`` levels deep
    (iterative: the check itself must not recurse)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def _depth_error(line: int, limit: int) -> JsonItem:
    return JsonItem(line, error="too-deep", message=f"nested more than {limit} levels deep")


def decode_checked(text: str, line: int, limits: ImportLimits) -> JsonItem:
    """Decode one complete JSON text (a line, a document) within the depth limit."""
    try:
        value = json.loads(text)
    except RecursionError:
        return _depth_error(line, limits.max_json_depth)
    except json.JSONDecodeError as exc:
        return JsonItem(line, error="invalid-json", message=f"{exc.msg} at column {exc.colno}")
    if _may_be_deep(text, 0, len(text), limits) and too_deep(value, limits.max_json_depth):
        return _depth_error(line, limits.max_json_depth)
    return JsonItem(line, value=value)


def _may_be_deep(text: str, start: int, end: int, limits: ImportLimits) -> bool:
    # fewer brackets than the limit cannot nest deeper than it: skips the walk for most
    return text.count("[", start, end) + text.count("{", start, end) > limits.max_json_depth


def iter_json_lines(
    stream: IO[bytes],
    limits: ImportLimits = DEFAULT_LIMITS,
    seen: Container[bytes] = (),
) -> Iterator[JsonItem]:
    """Yield one item per non-blank line; blank lines are ignored (not records). A line
    whose digest is in ``seen`` (a repeat of a record already read) is not decoded: it
    comes with its digest and no value."""
    line_no = 0
    max_bytes = limits.max_record_bytes
    while True:
        raw = stream.readline(max_bytes + 1)
        if not raw:
            return
        line_no += 1
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # drain the rest of the absurd line
                raw = stream.readline(CHUNK_SIZE)
            yield JsonItem(
                line_no,
                error="record-too-large",
                message=f"line longer than {max_bytes:,} bytes",
            )
            continue
        stripped = raw.strip()
        if not stripped:
            continue
        digest = digest_of(stripped)
        if digest in seen:
            yield JsonItem(line_no, digest=digest)
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield JsonItem(
                line_no, error="invalid-utf8", message=f"invalid UTF-8 at byte {exc.start}"
            )
            continue
        item = decode_checked(text, line_no, limits)
        item.digest = digest
        yield item


class Rejected(ValueError):
    """A value past a limit: ``too-deep`` or ``record-too-large``; ``skipped`` when the
    reader is already past it."""

    def __init__(self, reason: str, *, skipped: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.skipped = skipped

    def describe(self, limits: ImportLimits) -> str:
        if self.reason == "too-deep":
            return f"nested more than {limits.max_json_depth} levels deep"
        return f"record larger than {limits.max_record_bytes:,} bytes"


class _TextWindow:
    """A sliding window of decoded text over a binary stream, tracking line numbers."""

    def __init__(self, stream: IO[bytes], limits: ImportLimits = DEFAULT_LIMITS) -> None:
        self._stream = stream
        self.limits = limits
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self.buf = ""
        self.pos = 0
        self.line = 1
        self.eof = False

    def fill(self) -> bool:
        if self.eof:
            return False
        data = self._stream.read(CHUNK_SIZE)
        if not data:
            self.buf += self._decoder.decode(b"", final=True)
            self.eof = True
            return False
        if self.pos > CHUNK_SIZE:
            self.buf = self.buf[self.pos :]
            self.pos = 0
        self.buf += self._decoder.decode(data)
        return True

    def advance_to(self, end: int) -> None:
        self.line += self.buf.count("\n", self.pos, end)
        self.pos = end

    def skip_ws(self) -> str:
        """Skip whitespace and return the next character ('' at end of input)."""
        while True:
            buf, pos, n = self.buf, self.pos, len(self.buf)
            while pos < n and buf[pos] in " \t\r\n":
                pos += 1
            self.advance_to(pos)
            if pos < n:
                return buf[pos]
            if not self.fill():
                return ""

    def decode(self) -> tuple[Any, int]:
        """Decode the value at ``pos``; returns (value, end). Raises JSONDecodeError, or
        :class:`Rejected` for a value past a limit once enough text has been read."""
        max_chars = self.limits.max_record_bytes
        while True:
            try:
                value, end = _decoder.raw_decode(self.buf, self.pos)
            except RecursionError:
                raise Rejected("too-deep") from None
            except json.JSONDecodeError:
                if len(self.buf) - self.pos > max_chars:
                    raise Rejected("record-too-large") from None
                if not self.fill():
                    raise
                continue
            if end - self.pos > max_chars:
                raise Rejected("record-too-large")
            if _may_be_deep(self.buf, self.pos, end, self.limits) and too_deep(
                value, self.limits.max_json_depth
            ):
                self.advance_to(end)
                raise Rejected("too-deep", skipped=True)
            return value, end

    def skip_value(self) -> bool:
        """After a decode error, skip the malformed value by bracket matching, dropping
        the text as it goes, so an element of any size costs one chunk of memory.

        Returns False when no end could be found before end of input.
        """
        depth = 0
        in_string = False
        while True:
            buf = self.buf
            for match in _STRUCTURE.finditer(buf, self.pos):
                char = match.group()
                index = match.start()
                if in_string:
                    if char == '"' and not _escaped(buf, index):
                        in_string = False
                    continue
                if char == '"':
                    in_string = True
                elif char in "{[":
                    depth += 1
                elif char in "}]":
                    depth -= 1
                    if depth <= 0:
                        self.advance_to(index + 1)
                        return True
            # everything read so far is inside the value: let fill() drop it; keep a
            # trailing run of backslashes, which decides whether the next quote is escaped
            keep = len(buf) - len(buf.rstrip("\\"))
            self.advance_to(len(buf) - keep)
            if not self.fill():
                return False


def _escaped(buf: str, index: int) -> bool:
    backslashes = 0
    index -= 1
    while index >= 0 and buf[index] == "\\":
        backslashes += 1
        index -= 1
    return backslashes % 2 == 1


def _iter_array_body(window: _TextWindow) -> Iterator[JsonItem]:
    """Iterate the elements of an array whose ``[`` has been consumed."""
    while True:
        char = window.skip_ws()
        if char == "]":
            window.advance_to(window.pos + 1)
            return
        if char == ",":
            window.advance_to(window.pos + 1)
            continue
        if char == "":
            yield JsonItem(
                window.line,
                error="truncated-file",
                message="end of file inside the JSON array",
                fatal=True,
            )
            return
        line = window.line
        limits = window.limits
        try:
            value, end = window.decode()
        except (json.JSONDecodeError, Rejected) as exc:
            if isinstance(exc, Rejected):
                error, message = exc.reason, exc.describe(limits)
                if exc.skipped:
                    yield JsonItem(line, error=error, message=message)
                    continue
            else:
                error = "invalid-json"
                message = f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
            if window.skip_value():
                yield JsonItem(line, error=error, message=message)
                continue
            yield JsonItem(
                line,
                error=error,
                message=message + "; the rest of the file cannot be read",
                fatal=True,
            )
            return
        start = window.pos  # after decode: fill() may have dropped the text before it
        if _SURROGATE.search(window.buf, start, end):
            window.advance_to(end)
            yield JsonItem(
                line, error="invalid-utf8", message="record contains invalid UTF-8 bytes"
            )
            continue
        digest = digest_of(window.buf[start:end].encode("utf-8"))
        window.advance_to(end)
        yield JsonItem(line, value=value, digest=digest)


def iter_json_array(stream: IO[bytes], limits: ImportLimits = DEFAULT_LIMITS) -> Iterator[JsonItem]:
    window = _TextWindow(stream, limits)
    if window.skip_ws() != "[":
        yield JsonItem(
            window.line, error="not-json-array", message="expected a JSON array", fatal=True
        )
        return
    window.advance_to(window.pos + 1)
    yield from _iter_array_body(window)


def iter_api_results(
    stream: IO[bytes],
    meta: dict[str, Any] | None = None,
    limits: ImportLimits = DEFAULT_LIMITS,
) -> Iterator[JsonItem]:
    """Stream the ``results`` array of an API list response; other members go to ``meta``."""
    window = _TextWindow(stream, limits)
    first = window.skip_ws()
    if first == "[":  # a saved plain list of entities
        window.advance_to(window.pos + 1)
        yield from _iter_array_body(window)
        return
    if first != "{":
        yield JsonItem(
            window.line, error="not-json-object", message="expected a JSON object", fatal=True
        )
        return
    window.advance_to(window.pos + 1)
    while True:
        char = window.skip_ws()
        if char == "}":
            return
        if char == ",":
            window.advance_to(window.pos + 1)
            continue
        try:
            key, end = window.decode()
            window.advance_to(end)
            if window.skip_ws() != ":":
                raise json.JSONDecodeError("expected ':'", window.buf, window.pos)
            window.advance_to(window.pos + 1)
            if window.skip_ws() == "[" and key == "results":
                window.advance_to(window.pos + 1)
                yield from _iter_array_body(window)
                continue
            value, end = window.decode()
            window.advance_to(end)
        except ValueError as exc:
            yield JsonItem(window.line, error="invalid-json", message=str(exc), fatal=True)
            return
        if meta is not None:
            meta[key] = value


def load_small_json(stream: IO[bytes], limits: ImportLimits = DEFAULT_LIMITS) -> JsonItem:
    """Decode a whole (small) JSON document: a single-entity API response."""
    max_bytes = limits.max_record_bytes
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        return JsonItem(
            1,
            error="record-too-large",
            message=f"document larger than {max_bytes:,} bytes",
            fatal=True,
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return JsonItem(
            1, error="invalid-utf8", message=f"invalid UTF-8 at byte {exc.start}", fatal=True
        )
    item = decode_checked(text, 1, limits)
    item.digest = digest_of(data)
    return item
