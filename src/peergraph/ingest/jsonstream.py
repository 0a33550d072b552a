"""Streaming JSON readers with per-record error isolation and constant memory.

* :func:`iter_json_lines` — JSON Lines; a broken line costs exactly that line.
* :func:`iter_json_array` — a top-level JSON array of objects (CSL-JSON, saved API
  lists) decoded one element at a time with the C decoder (``raw_decode``) over a sliding
  text window, so a 150 MB file never sits in memory and a malformed element is skipped
  by brace matching instead of aborting the file.
* :func:`iter_api_results` — ``{"meta": …, "results": […]}`` API list responses.

Invalid UTF-8 is decoded with ``surrogateescape`` and reported per record.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

MAX_RECORD_BYTES = 16 * 1024 * 1024  # one record larger than this is absurd: skip it
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


def iter_json_lines(stream: IO[bytes]) -> Iterator[JsonItem]:
    """Yield one item per non-blank line; blank lines are ignored (not records)."""
    line_no = 0
    while True:
        raw = stream.readline(MAX_RECORD_BYTES + 1)
        if not raw:
            return
        line_no += 1
        if len(raw) > MAX_RECORD_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # drain the rest of the absurd line
                raw = stream.readline(CHUNK_SIZE)
            yield JsonItem(
                line_no,
                error="record-too-large",
                message=f"line longer than {MAX_RECORD_BYTES} bytes",
            )
            continue
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield JsonItem(
                line_no, error="invalid-utf8", message=f"invalid UTF-8 at byte {exc.start}"
            )
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield JsonItem(
                line_no, error="invalid-json", message=f"{exc.msg} at column {exc.colno}"
            )
            continue
        yield JsonItem(line_no, value=value)


class _TextWindow:
    """A sliding window of decoded text over a binary stream, tracking line numbers."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
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
        """Decode the value at ``pos``; returns (value, end). Raises JSONDecodeError or
        ValueError("too large") once enough text has been read to be sure."""
        while True:
            try:
                return _decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                if len(self.buf) - self.pos > MAX_RECORD_BYTES:
                    raise ValueError("too large") from None
                if not self.fill():
                    raise

    def skip_value(self) -> bool:
        """After a decode error, skip the malformed value by bracket matching.

        Returns False when no end could be found before end of input.
        """
        depth = 0
        in_string = False
        scan = self.pos
        while True:
            for match in _STRUCTURE.finditer(self.buf, scan):
                char = match.group()
                index = match.start()
                if in_string:
                    if char == "\\":
                        continue  # handled below by skipping the escaped char
                    if char == '"' and not _escaped(self.buf, index):
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
            scan = len(self.buf) - self.pos
            if not self.fill():
                return False
            scan += self.pos  # fill() may have dropped the consumed prefix


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
        try:
            value, end = window.decode()
        except ValueError as exc:
            if isinstance(exc, json.JSONDecodeError):
                error, message = (
                    "invalid-json",
                    f"{exc.msg} (line {exc.lineno}, column {exc.colno})",
                )
            else:
                error, message = "record-too-large", f"record larger than {MAX_RECORD_BYTES} bytes"
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
        if _SURROGATE.search(window.buf, window.pos, end):
            window.advance_to(end)
            yield JsonItem(
                line, error="invalid-utf8", message="record contains invalid UTF-8 bytes"
            )
            continue
        window.advance_to(end)
        yield JsonItem(line, value=value)


def iter_json_array(stream: IO[bytes]) -> Iterator[JsonItem]:
    window = _TextWindow(stream)
    if window.skip_ws() != "[":
        yield JsonItem(
            window.line, error="not-json-array", message="expected a JSON array", fatal=True
        )
        return
    window.advance_to(window.pos + 1)
    yield from _iter_array_body(window)


def iter_api_results(stream: IO[bytes], meta: dict[str, Any] | None = None) -> Iterator[JsonItem]:
    """Stream the ``results`` array of an API list response; other members go to ``meta``."""
    window = _TextWindow(stream)
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


def load_small_json(stream: IO[bytes]) -> JsonItem:
    """Decode a whole (small) JSON document: a single-entity API response."""
    data = stream.read(MAX_RECORD_BYTES + 1)
    if len(data) > MAX_RECORD_BYTES:
        return JsonItem(
            1, error="record-too-large", message="document larger than 16 MiB", fatal=True
        )
    try:
        return JsonItem(1, value=json.loads(data.decode("utf-8")))
    except UnicodeDecodeError as exc:
        return JsonItem(
            1, error="invalid-utf8", message=f"invalid UTF-8 at byte {exc.start}", fatal=True
        )
    except json.JSONDecodeError as exc:
        return JsonItem(
            exc.lineno,
            error="invalid-json",
            message=f"{exc.msg} (line {exc.lineno}, column {exc.colno})",
            fatal=True,
        )
