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
``adapters.ingest.compressed.stream``), so memory does not grow with the file, only
with its longest line. A file that is one JSON document is read whole.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

from relengotron.adapters.ingest.compressed import CHUNK, kind_of, stream
from relengotron.adapters.ingest.jsontext import DUPLICATES, SUSPECT, NotJSON, parser
from relengotron.domain.safe_text import (
    BAD_UTF8,
    I64_MIN,
    MAX_DEPTH,
    U64_MAX,
    TooDeep,
    safe_str,
    store_safe,
)

_BOM = b"\xef\xbb\xbf"


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


def _split(chunks: Iterator[bytes], bom: bool = True) -> Iterator[bytes]:
    """The lines of the data, each with its newline but the last (``bom``: a BOM at the
    start left out)."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        if bom:
            if len(buf) < len(_BOM) and _BOM.startswith(buf):
                continue  # not enough to say yet
            bom = False
            if buf.startswith(_BOM):
                buf = buf[len(_BOM) :]
        *lines, buf = buf.split(b"\n")
        for line in lines:
            yield line + b"\n"
    if buf:
        yield buf


def _decoded(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


class InputFile:
    """An input file and how far through it we are (for progress)."""

    def __init__(self, path: str) -> None:
        self.path = path
        # A file name that is not UTF-8 (surrogate escapes) is named with U+FFFD.
        self.name = "<stdin>" if path == "-" else safe_str(path)
        self.size: int | None = None  # of the file as it is stored (None: stdin)
        self.consumed = 0  # bytes of it read so far
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
        lines = _split(data)
        peeked: list[bytes] = []
        if self._one_document(lines, peeked):
            yield from self._whole(b"".join(chain(peeked, lines)), damage)
            return
        yield from self._lines(chain(peeked, lines), damage)

    @staticmethod
    def _one_document(lines: Iterator[bytes], peeked: list[bytes]) -> bool:
        """Whether the data may be one JSON document (the lines read to tell: ``peeked``)."""
        for line in lines:
            peeked.append(line)
            head = line.lstrip()[:1]
            if not head:
                continue  # blank
            if head == b"[":
                return True
            if head != b"{":
                return False
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                return False  # a file that is not UTF-8 is read line by line
            try:
                json.loads(text)
            except (ValueError, RecursionError):
                return True  # a value over more lines, or not JSON: tried whole first
            for more in lines:  # one value on this line: is it all?
                peeked.append(more)
                if more.strip():
                    return False  # more after it: JSON Lines
            return True
        return False

    def _whole(self, data: bytes, damage: list[str]) -> Iterator[Item]:
        """A file read whole: one JSON document if it is one, else its lines."""
        try:
            text: str | None = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and not damage:
            whole = _whole_document(text)
            if whole is not None:
                yield from self._elements(whole, self.size or len(data))
                return
        yield from self._lines(_split(iter([data]), bom=False), damage)

    def _lines(self, lines: Iterator[bytes], damage: list[str]) -> Iterator[Item]:
        last = 0
        line, exact = "", b""
        for last, exact in enumerate(lines, 1):
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

    def _elements(
        self, elements: list[tuple[Any, tuple[str, ...], bytes | None]], size: int
    ) -> Iterator[Item]:
        n = max(len(elements), 1)
        for i, (element, problems, original) in enumerate(elements, 1):
            self.consumed = size * i // n
            if isinstance(element, _Rejected):
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


class _Dups(dict[str, Any]):
    """An object that had duplicate keys (the last one kept), and their names."""

    def __init__(self, d: dict[str, Any], names: list[str]) -> None:
        super().__init__(d)
        self.names = names


def _duplicates(value: Any, found: list[str], depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, _Dups):
        found.extend(k for k in value.names if k not in found)
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for v in value:
            _duplicates(v, found, depth + 1)


@dataclass(frozen=True)
class _Rejected:
    raw: str
    reason: str


def _whole_document(text: str) -> list[tuple[Any, tuple[str, ...], bytes | None]] | None:
    """The elements if the whole text is one JSON array, datagrepper page or message,
    each with its problems and exact JSON when it had to be made store-safe."""
    head = text.lstrip()[:1]
    if head not in ("[", "{"):
        return None
    odd: list[bool] = []

    def constant(s: str) -> float:
        odd.append(True)
        return float(s)

    def integer(s: str) -> int:
        n = int(s)
        if not I64_MIN <= n <= U64_MAX:
            odd.append(True)
        return n

    def number(s: str) -> float:
        x = float(s)
        if not math.isfinite(x):
            odd.append(True)
        return x

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        d = dict(items)
        if len(d) == len(items):
            return d
        odd.append(True)
        return _Dups(d, [k for i, (k, _) in enumerate(items) if k in dict(items[:i])])

    try:
        doc = json.loads(
            text,
            parse_constant=constant,
            parse_int=integer,
            parse_float=number,
            object_pairs_hook=pairs,
        )
    except (ValueError, RecursionError):
        return None  # JSON Lines (or broken): read line by line
    if isinstance(doc, list):
        elements = doc
    elif isinstance(doc, dict):
        raw = doc.get("raw_messages")
        elements = list(raw) if isinstance(raw, list) else [doc]
    else:
        return None
    if not odd and not SUSPECT.search(text) and _max_depth(text) <= MAX_DEPTH:
        return [(e, (), None) for e in elements]  # nothing to walk: the common case
    if elements and elements[0] is doc:  # one message: its exact text is the file's
        return [_safe_element(doc, text.strip().encode())]
    return [_safe_element(e) for e in elements]


def _max_depth(text: str) -> int:
    """How deep the JSON ``text`` nests (its strings left out), at C speed but for one
    step per bracket."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0  # cannot be deeper
    depth = top = 0
    for c in _BRACKET.findall(_STRING.sub('""', text)):
        if c in "[{":
            depth += 1
            top = max(top, depth)
        else:
            depth -= 1
    return top


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def _exact_json(element: Any) -> bytes:
    try:
        return json.dumps(element, ensure_ascii=True).encode()
    except (ValueError, RecursionError):
        return b""


def _safe_element(
    element: Any, exact: bytes | None = None
) -> tuple[Any, tuple[str, ...], bytes | None]:
    notes: set[str] = set()
    names: list[str] = []
    _duplicates(element, names)
    if names:
        notes.add(DUPLICATES + ", ".join(repr(k) for k in names[:5]))
    try:
        safe = store_safe(element, notes)
    except (TooDeep, RecursionError):
        exact = exact if exact is not None else _exact_json(element)
        reason = f"not a message: nested deeper than {MAX_DEPTH} levels"
        return _Rejected(exact.decode(), reason), (), exact
    if not notes:
        return element, (), None
    problems = (*sorted(notes), "the exact input is kept as base64 in 'original'")
    return safe, problems, exact if exact is not None else _exact_json(element)
