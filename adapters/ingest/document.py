"""A file that is one JSON document (an array, a datagrepper page, a message): its
elements, each with what had to change for a store to hold it."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from relengotron.adapters.ingest.jsontext import DUPLICATES, SUSPECT
from relengotron.domain.safe_text import I64_MIN, MAX_DEPTH, U64_MAX, TooDeep, store_safe


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
class RejectedElement:
    raw: str
    reason: str


def whole_document(text: str) -> list[tuple[Any, tuple[str, ...], bytes | None]] | None:
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
        return RejectedElement(exact.decode(), reason), (), exact
    if not notes:
        return element, (), None
    problems = (*sorted(notes), "the exact input is kept as base64 in 'original'")
    return safe, problems, exact if exact is not None else _exact_json(element)
