"""JSON text to a value every store can hold, or the reason it is not JSON.

One parser for files and dead letters: never a traceback, whatever the text. Numbers
JSON's parser would make unstorable (NaN, Infinity, 1e400, integers beyond 64 bits,
integers too long for Python's ``int``) are kept as written, as strings; duplicate keys
are noted (the last wins, as with :func:`json.loads`); text is only walked (for lone
surrogates and NUL, which only escapes can bring, and for depth) when a cheap look at
the text says it may be needed. The rule itself is :mod:`domain.safe_text`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from relengotron.domain.safe_text import (
    BIG_INT,
    I64_MIN,
    MAX_DEPTH,
    NON_FINITE,
    U64_MAX,
    TooDeep,
    store_safe,
)

#: An escape that can decode to a lone surrogate or NUL (a false alarm only costs a walk).
SUSPECT = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_INT_DIGITS = 18  # shorter integers fit 64 bits: no range check


DUPLICATES = "duplicate keys in an object (the last one kept): "


class NotJSON(ValueError):
    """The text is not JSON (the reason is the exception text)."""


class _Parser:
    def __init__(self) -> None:
        self.notes: set[str] = set()
        self.duplicates: list[str] = []
        self.decoder = json.JSONDecoder(
            parse_int=self._int,
            parse_float=self._float,
            parse_constant=self._constant,
            object_pairs_hook=self._object,
        )

    def _int(self, s: str) -> Any:
        if len(s) <= _INT_DIGITS:
            return int(s)
        if len(s) <= 4000:  # int()'s own limit is 4,300 digits
            n = int(s)
            if I64_MIN <= n <= U64_MAX:
                return n
        self.notes.add(BIG_INT)
        return s

    def _float(self, s: str) -> Any:
        x = float(s)
        if math.isfinite(x):
            return x
        self.notes.add(NON_FINITE)
        return s

    def _constant(self, s: str) -> str:
        self.notes.add(NON_FINITE)
        return s

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d = dict(pairs)
        if len(d) != len(pairs):
            seen: set[str] = set()
            for k, _ in pairs:
                if k in seen and k not in self.duplicates:
                    self.duplicates.append(k)
                seen.add(k)
        return d

    def parse(self, text: str) -> tuple[Any, set[str]]:
        self.notes = set()
        self.duplicates = []
        try:
            value = self.decoder.decode(text)
        except json.JSONDecodeError as exc:
            raise NotJSON(f"not JSON: {exc.msg} at column {exc.colno}") from None
        except RecursionError:
            raise NotJSON(f"not a message: nested deeper than {MAX_DEPTH} levels") from None
        except ValueError as exc:
            raise NotJSON(f"not JSON: {exc}") from None
        notes = self.notes
        if SUSPECT.search(text) or text.count("[") + text.count("{") > MAX_DEPTH:
            try:
                value = store_safe(value, notes)
            except TooDeep as exc:
                raise NotJSON(f"not a message: {exc}") from None
        if self.duplicates:
            names = ", ".join(repr(k) for k in self.duplicates[:5])
            notes.add(DUPLICATES + names)
        return value, notes


def parser() -> _Parser:
    """A parser (not thread-safe: one per reader)."""
    return _Parser()
