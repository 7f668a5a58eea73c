"""Reading message files: JSON Lines, a JSON array, a datagrepper response, gzip, xz,
zstd, stdin.

Yields one :class:`Item` per message candidate, with its position, so a bad
line can be named and kept verbatim while the rest is still read. Whatever the
bytes, no exception: a line that is not JSON (or not UTF-8 JSON, or nested too
deep) is an item with an ``error``; a line whose value a store cannot hold as it
is (:mod:`domain.safe_text`) is an item with the store-safe value, its
``problems`` and its exact bytes (``original``); a compressed file that ends
early gives its complete lines and one item with the reason.

JSON Lines are read as the file is, a chunk at a time (decompressed as they come:
``adapters.ingest.compressed.stream``), so memory does not grow with the file. A line
longer than the limit (``MAX_LINE`` unless told) is not held: it is an item with an
``error`` that gives its size, its SHA-256 and, as its text, its first bytes. A file
that is one JSON document is read whole, up to the same limit.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

from relengotron.adapters.ingest.compressed import CHUNK, kind_of, stream
from relengotron.adapters.ingest.document import RejectedElement, whole_document
from relengotron.adapters.ingest.jsontext import NotJSON, parser
from relengotron.domain.safe_text import (
    BAD_UTF8,
    safe_str,
)

_BOM = b"\xef\xbb\xbf"
MAX_LINE = 64 << 20  # bytes of one line (or one JSON document) held at most, by default
HEAD = 4096  # bytes of a line over the limit kept as its text


@dataclass(frozen=True)
class _Over:
    """A line over the limit, not held: its first bytes, its size and its SHA-256
    (its newline left out of all three)."""

    head: bytes
    size: int
    sha256: str
    ended: bool  # it had its newline (not the end of the data)


@dataclass(frozen=True)
class Item:
    """One candidate message: ``record`` when it parsed as JSON, else ``error``.

    ``raw`` is store-safe text; ``original`` the exact bytes of the line (or the
    element's exact JSON) when ``raw`` or ``record`` differ from them; ``problems``
    say what was changed.
    """

    source: str
    line: int  # 1-based line (JSON Lines) or element number (arrays)
    raw: str
    record: Any = None
    error: str | None = None
    problems: tuple[str, ...] = ()
    original: bytes | None = None


def _chunks(path: str, f: InputFile) -> Iterator[bytes]:
    """The file's bytes a chunk at a time; ``f.consumed`` counts them (for progress)."""
    if path == "-":
        source: Any = sys.stdin.buffer
    else:
        source = open(path, "rb")  # noqa: SIM115  (closed below, also when abandoned)
        f.size = os.fstat(source.fileno()).st_size
    try:
        while chunk := source.read(CHUNK):
            f.consumed += len(chunk)
            yield chunk
    finally:
        if source is not sys.stdin.buffer:
            source.close()


def _without_bom(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The data without a UTF-8 BOM at its start (which may span chunks)."""
    start = b""
    for chunk in chunks:
        start += chunk
        if len(start) >= len(_BOM) or not _BOM.startswith(start):
            break
    else:
        if start:
            yield start  # data shorter than a BOM: kept as it is
        return
    yield start.removeprefix(_BOM)
    yield from chunks


def _split(chunks: Iterator[bytes], limit: int, bom: bool = True) -> Iterator[bytes | _Over]:
    """The lines of the data, each with its newline but the last (``bom``: a BOM at the
    start left out); a line of more than ``limit`` bytes as an :class:`_Over`.

    A line's parts are kept until its end, each chunk scanned once: memory and time
    stay bounded by the limit however long the line."""
    parts: list[bytes] = []  # the current line's parts (no newline in them)
    size = 0
    over: Any = None  # the SHA-256 of a line over the limit, while it lasts
    head = b""
    for chunk in _without_bom(chunks) if bom else chunks:
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            if nl >= 0 and not size and over is None and nl - start <= limit:
                yield chunk[start : nl + 1]  # a whole line in this chunk: the common case
                start = nl + 1
                continue
            piece = chunk[start:] if nl < 0 else chunk[start:nl]
            size += len(piece)
            if over is not None:
                over.update(piece)
                if len(head) < HEAD:  # a limit under HEAD: the head goes on
                    head += piece[: HEAD - len(head)]
            elif size > limit:
                over = hashlib.sha256()
                for p in parts:
                    over.update(p)
                over.update(piece)
                head = _first(HEAD, chain(parts, [piece]))
                parts = []
            elif piece:
                parts.append(piece)
            if nl < 0:
                break
            yield _Over(head, size, over.hexdigest(), True) if over else b"".join(parts) + b"\n"
            parts, size, over, start = [], 0, None, nl + 1
    if over is not None:
        yield _Over(head, size, over.hexdigest(), False)
    elif size:
        yield b"".join(parts)


def _first(n: int, parts: Iterable[bytes]) -> bytes:
    """The first ``n`` bytes of the parts joined (without joining them all)."""
    out = b""
    for p in parts:
        out += p[: n - len(out)]
        if len(out) >= n:
            break
    return out


def _kept(head: bytes) -> tuple[str, bytes | None]:
    """The text and ``original`` of an item for the first bytes of input that is not
    read: store-safe text, and the exact bytes when the text cannot be them."""
    text, bad_utf8 = _decoded(head)
    raw = safe_str(text)
    return raw, head if bad_utf8 or raw is not text else None


def _decoded(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


class InputFile:
    """An input file and how far through it we are (for progress).

    ``max_line``: the bytes of one line (or of a file that is one JSON document) read
    at most; a longer one is an item with an ``error`` (its first bytes kept)."""

    def __init__(self, path: str, max_line: int = MAX_LINE) -> None:
        if max_line < 1:
            raise ValueError(f"max_line must be at least 1 byte, not {max_line}")
        self.path = path
        # A file name that is not UTF-8 (surrogate escapes) is named with U+FFFD.
        self.name = "<stdin>" if path == "-" else safe_str(path)
        self.size: int | None = None  # of the file as it is stored (None: stdin)
        self.consumed = 0  # bytes of it read so far
        self.max_line = max_line
        self._parser = parser()

    def items(self) -> Iterator[Item]:
        """The items, read as the file is: JSON Lines a line at a time (bounded memory
        whatever the size); a file that is one JSON document (an array, a datagrepper
        page, a message) whole. A file is taken for one document when its first
        non-blank character is ``[``, or ``{`` on a line that is not a JSON value
        followed by more: any other text cannot be one JSON value."""
        chunks = _chunks(self.path, self)
        first = next(chunks, b"")
        kind = kind_of(self.name if self.path != "-" else "", first[:8])
        data: Iterator[bytes] = chain([first], chunks)
        damage: list[str] = []
        if kind is not None:
            data = stream(kind, data, damage)
        lines = _split(data, self.max_line)
        peeked: list[bytes | _Over] = []
        start = self._one_document(lines, peeked)
        if start is not None:
            yield from self._document(start, chain(peeked, lines), damage)
            return
        yield from self._lines(chain(peeked, lines), damage)

    @staticmethod
    def _one_document(lines: Iterator[bytes | _Over], peeked: list[bytes | _Over]) -> bytes | None:
        """Whether the data may be one JSON document: its first character (``[`` or
        ``{``) if so, else None (the lines read to tell: ``peeked``)."""
        for line in lines:
            peeked.append(line)
            if isinstance(line, _Over):  # a line too long to be tried on its own
                return b"[" if line.head.lstrip()[:1] == b"[" else None
            head = line.lstrip()[:1]
            if not head:
                continue  # blank
            if head == b"[":
                return head
            if head != b"{":
                return None
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                return None  # a file that is not UTF-8 is read line by line
            try:
                json.loads(text)
            except (ValueError, RecursionError):
                return head  # a value over more lines, or not JSON: tried whole first
            for more in lines:  # one value on this line: is it all?
                peeked.append(more)
                if isinstance(more, _Over) or more.strip():
                    return None  # more after it: JSON Lines
            return head
        return None

    def _document(
        self, start: bytes, lines: Iterator[bytes | _Over], damage: list[str]
    ) -> Iterator[Item]:
        """Data that may be one JSON document, read whole if it is within the limit.
        Over it, an array (``[``) is one rejection; anything else is read as lines."""
        parts: list[bytes] = []
        size = 0
        for line in lines:
            if isinstance(line, _Over) or size + len(line) > self.max_line:
                break
            parts.append(line)
            size += len(line)
        else:
            yield from self._whole(b"".join(parts), damage)
            return
        if start != b"[":
            yield from self._lines(chain(parts, [line], lines), damage)
            return
        head = _first(HEAD, parts)
        del parts  # the document is not read: only its size and first bytes
        for rest in chain([line], lines):
            if isinstance(rest, _Over):
                size += rest.size + rest.ended
                rest = rest.head
            else:
                size += len(rest)
            if len(head) < HEAD:
                head = _first(HEAD, (head, rest))
        reason = (
            f"one JSON document of {size:,} bytes, over the limit of {self.max_line:,}: "
            f"not read (its first {len(head):,} bytes are kept as its text); to read it, "
            f"make it JSON Lines (jq -c '.[]' FILE > FILE.jsonl) or raise --max-line-bytes"
        )
        if damage:
            reason = f"{damage[0]}; {reason}"
        raw, original = _kept(head)
        yield Item(self.name, 1, raw, error=reason, original=original)

    def _whole(self, data: bytes, damage: list[str]) -> Iterator[Item]:
        """A file read whole: one JSON document if it is one, else its lines."""
        try:
            text: str | None = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and not damage:
            whole = whole_document(text)
            if whole is not None:
                yield from self._elements(whole, self.size or len(data))
                return
        yield from self._lines(_split(iter([data]), self.max_line, bom=False), damage)

    def _lines(self, lines: Iterator[bytes | _Over], damage: list[str]) -> Iterator[Item]:
        last = 0
        line, exact = "", b""
        for last, read in enumerate(lines, 1):
            if isinstance(read, _Over):
                if damage and not read.ended:  # the incomplete last line, and too long
                    yield self._over(last, read, damage[0])
                    return
                yield self._over(last, read)
                continue
            exact = read
            line, bad_utf8 = _decoded(exact)
            if not exact.endswith(b"\n") and damage:
                break  # the incomplete last line: kept below, with the reason
            item = self._line(last, line, exact, bad_utf8)
            if item is not None:
                yield item
        else:
            last += 1
            line, exact = "", b""
        if damage:
            raw = safe_str(line.rstrip("\n"))
            original = exact.rstrip(b"\n")
            yield Item(
                self.name,
                last,
                raw,
                error=damage[0] + (", the incomplete last line kept" if raw else ""),
                original=original if original != raw.encode() else None,
            )

    def _over(self, number: int, over: _Over, damage: str | None = None) -> Item:
        """The item of a line over the limit: its first bytes as its text."""
        reason = (
            f"line longer than the limit of {self.max_line:,} bytes ({over.size:,} bytes, "
            f"SHA-256 {over.sha256}): not read; its first {len(over.head):,} bytes are "
            f"kept as its text"
        )
        if damage:
            reason = f"{damage}; {reason}"
        raw, original = _kept(over.head)
        return Item(self.name, number, raw, error=reason, original=original)

    def _elements(
        self, elements: list[tuple[Any, tuple[str, ...], bytes | None]], size: int
    ) -> Iterator[Item]:
        n = max(len(elements), 1)
        for i, (element, problems, original) in enumerate(elements, 1):
            self.consumed = size * i // n
            if isinstance(element, RejectedElement):
                yield Item(self.name, i, element.raw, error=element.reason, original=original)
                continue
            raw = json.dumps(element, ensure_ascii=False)
            yield Item(self.name, i, raw, record=element, problems=problems, original=original)

    def _line(self, number: int, line: str, exact: bytes | None, bad_utf8: bool) -> Item | None:
        stripped = line.strip()
        if not stripped:
            return None
        text = line.rstrip("\n")

        def original() -> bytes:
            return exact.rstrip(b"\n") if exact is not None else text.encode()

        try:
            record, notes = self._parser.parse(stripped)
        except NotJSON as exc:
            reason = str(exc)
            if bad_utf8:
                reason = f"{reason} (and not valid UTF-8)"
            safe = safe_str(text)
            odd = bad_utf8 or safe is not text
            return Item(self.name, number, safe, error=reason, original=original() if odd else None)
        if bad_utf8:
            notes.add(BAD_UTF8)
        if not notes:
            return Item(self.name, number, stripped, record=record)
        problems = (*sorted(notes), "the exact input line is kept as base64 in 'original'")
        return Item(
            self.name,
            number,
            safe_str(stripped),
            record=record,
            problems=problems,
            original=original(),
        )
