"""Reading message files: JSON Lines, a JSON array, a datagrepper response, gzip, stdin.

Yields one :class:`Item` per message candidate, with its position, so a bad
line can be named and kept verbatim while the rest is still read.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO


@dataclass(frozen=True)
class Item:
    """One candidate message: ``record`` when it parsed as JSON, else ``error``."""

    source: str
    line: int  # 1-based line (JSON Lines) or element number (arrays)
    raw: str
    record: Any = None
    error: str | None = None


def _open(path: str) -> tuple[BinaryIO, int | None]:
    if path == "-":
        return sys.stdin.buffer, None
    p = Path(path)
    size = p.stat().st_size
    f: BinaryIO = p.open("rb")
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=f), None  # type: ignore[return-value]
    return f, size


class InputFile:
    """An input file and how far through it we are (for progress)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = "<stdin>" if path == "-" else path
        self.size: int | None = None
        self.consumed = 0

    def items(self) -> Iterator[Item]:
        stream, self.size = _open(self.path)
        try:
            data = stream.read()
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        if self.size is None:
            self.size = len(data)
        text = data.decode("utf-8", errors="replace")
        whole = _whole_document(text)
        if whole is not None:
            yield from self._elements(whole, len(data))
            return
        yield from self._lines(text)

    def _elements(self, elements: list[Any], size: int) -> Iterator[Item]:
        n = max(len(elements), 1)
        for i, element in enumerate(elements, 1):
            raw = json.dumps(element, ensure_ascii=False)
            self.consumed = size * i // n
            yield Item(self.name, i, raw, record=element)

    def _lines(self, text: str) -> Iterator[Item]:
        pos = 0
        for i, line in enumerate(io.StringIO(text), 1):
            pos += len(line)
            self.consumed = pos
            stripped = line.strip()
            if not stripped:
                continue
            try:
                record = json.loads(stripped)
            except json.JSONDecodeError as exc:
                yield Item(
                    self.name,
                    i,
                    line.rstrip("\n"),
                    error=f"not JSON: {exc.msg} at column {exc.colno}",
                )
                continue
            yield Item(self.name, i, stripped, record=record)


def _whole_document(text: str) -> list[Any] | None:
    """The elements if the whole text is one JSON array, datagrepper page or message."""
    head = text.lstrip()[:1]
    if head not in ("[", "{"):
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return None  # JSON Lines (or broken): read line by line
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        if isinstance(doc.get("raw_messages"), list):
            return list(doc["raw_messages"])
        return [doc]
    return None
