"""What every store can hold: the one rule for text and numbers that some store cannot.

JSON can carry values that a store, or a reader of the log, cannot keep as they are:

* lone surrogates (``"\\udc00"``): not UTF-8, so the event transcoder cannot write them;
* NUL characters (``"\\u0000"``): PostgreSQL ``text`` and ``jsonb`` refuse them;
* ``NaN`` / ``Infinity`` (and numbers too large for a double): not JSON, refused by
  orjson (the read models) and PostgreSQL ``jsonb``;
* integers outside the 64-bit range: refused by orjson and by ``bigint`` columns;
* nesting deeper than :data:`MAX_DEPTH`: beyond what orjson writes (254 levels).

So, everywhere and on every store alike, a stored body (and topic, id, headers) holds
U+FFFD for each lone surrogate or NUL and the number as written, as a string, for the
numbers; the message lists a problem for each kind, and the exact input is kept as
base64 in ``original`` beside it. Input nested deeper than :data:`MAX_DEPTH` is not a
message: it is rejected input (kept exactly). Values without any of these pass
unchanged (the walk only runs when a cheap look at the input text says it must).
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_DEPTH = 100
REPLACEMENT = "\ufffd"
I64_MIN = -(2**63)
U64_MAX = 2**64 - 1

_UNSAFE = re.compile("[\x00\ud800-\udfff]")

SURROGATES = "text held lone surrogates (\\ud800-\\udfff), stored as U+FFFD"
NUL = "text held NUL characters (\\u0000), stored as U+FFFD"
NON_FINITE = "a number was NaN, Infinity or too large for a double; stored as written, a string"
BIG_INT = "an integer was outside the 64-bit range; stored as written, a string"
BAD_UTF8 = "the input was not valid UTF-8; invalid bytes stored as U+FFFD"
ORIGINAL = "the exact input is kept as base64 in 'original'"


class TooDeep(ValueError):
    """Nested deeper than :data:`MAX_DEPTH`."""

    def __init__(self) -> None:
        super().__init__(f"nested deeper than {MAX_DEPTH} levels")


def safe_str(text: str, notes: set[str] | None = None) -> str:
    """``text`` with U+FFFD for each lone surrogate and NUL (noted in ``notes``)."""
    if _UNSAFE.search(text) is None:
        return text
    if notes is not None:
        if "\x00" in text:
            notes.add(NUL)
        if any("\ud800" <= c <= "\udfff" for c in text):
            notes.add(SURROGATES)
    return _UNSAFE.sub(REPLACEMENT, text)


def int_or_text(n: int, notes: set[str]) -> int | str:
    if I64_MIN <= n <= U64_MAX:
        return n
    notes.add(BIG_INT)
    return str(n)


def float_or_text(x: float, notes: set[str]) -> float | str:
    if math.isfinite(x):
        return x
    notes.add(NON_FINITE)
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def store_safe(value: Any, notes: set[str], depth: int = 0) -> Any:
    """``value`` as every store can hold it (see the module docstring); what was changed
    is added to ``notes``. Raises :class:`TooDeep`."""
    t = type(value)
    if t is str:
        return safe_str(value, notes)
    if isinstance(value, dict | list | tuple):
        if depth >= MAX_DEPTH:
            raise TooDeep()
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for k, v in value.items():
                k = safe_str(k, notes) if isinstance(k, str) else str(k)
                out[k] = store_safe(v, notes, depth + 1)
            return out
        return [store_safe(v, notes, depth + 1) for v in value]
    if t is int:
        return int_or_text(value, notes)
    if t is float:
        return float_or_text(value, notes)
    if value is None or t is bool:
        return value
    return safe_str(str(value), notes)  # not a JSON value: its text
