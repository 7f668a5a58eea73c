"""The stored events' transcoder: eventsourcing's JSON format, written and read with orjson.

eventsourcing's ``JSONTranscoder`` (``json`` with an ``object_hook`` called on every
object) encodes and decodes every stored event. :class:`OrjsonTranscoder` keeps its
format exactly: compact JSON, the registered types (datetime, UUID, Decimal) as
``{"_type_": name, "_data_": value}`` objects, so every state written before reads
the same, and the states it writes read the same with ``JSONTranscoder`` too.

What orjson does not do as ``json`` does is left to ``json`` (the base class):

* writing: integers outside 64 bits, keys that are not strings and types orjson does
  not know raise in orjson: the state is written by ``json``. orjson writes UUIDs
  itself (as plain strings): a UUID at the top level of a state is wrapped first
  (no domain event holds one deeper); orjson writes NaN and Infinity as ``null``:
  no stored body holds them (``domain.safe_text`` keeps them as strings);
* reading: ``NaN``/``Infinity`` and lone surrogate escapes (stores from before issue
  14) are refused by orjson, and orjson reads integers beyond 64 bits as floats: a
  state with a run of 19 digits or more is read by ``json``.

The ``_type_`` objects are revived bottom-up as ``object_hook`` does; when the only
ones are at the top level (an event's ``timestamp``: a byte count tells) no walk
over the state is needed.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder

# Every digit to "0", every other byte to " ": a run of 19 zeros is a run of 19 digits
# (bytes.translate and ``in`` are a few times faster than a regular expression here).
_DIGITS = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_LONG_NUMBER = b"0" * 19
_TYPE_KEY = b'"_type_"'
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME
_REMEMBERED = 4096  # wrapped values kept for reuse (a batch's timestamps)


class OrjsonTranscoder(JSONTranscoder):
    """``JSONTranscoder``'s format, with orjson (``json`` where orjson would differ)."""

    def __init__(self) -> None:
        super().__init__()
        self._wrapped: dict[int, tuple[Any, dict[str, Any]]] = {}

    def encode(self, obj: Any) -> bytes:
        if type(obj) is dict and UUID in map(type, obj.values()):
            # orjson writes UUIDs without asking ``default``: wrap them as json would.
            obj = {k: self._wrap_uuid(v) for k, v in obj.items()}
        try:
            return orjson.dumps(obj, default=self._default, option=_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError too: json writes it, or says why not
            return super().encode(obj)

    def _wrap_uuid(self, value: Any) -> Any:
        return self._encode_obj(value) if type(value) is UUID else value

    def _default(self, o: Any) -> Any:
        # The events of one message share their timestamp object: wrapped once.
        known = self._wrapped.get(id(o))
        if known is not None and known[0] is o:
            return known[1]
        transcoding = self.types.get(type(o))
        if transcoding is None:
            raise TypeError(f"not serializable: {type(o)}")
        wrapped = {"_type_": transcoding.name, "_data_": transcoding.encode(o)}
        if len(self._wrapped) >= _REMEMBERED:
            self._wrapped = {}
        self._wrapped[id(o)] = (o, wrapped)  # o kept: its id is not reused meanwhile
        return wrapped

    def decode(self, data: bytes) -> Any:
        if _LONG_NUMBER in data.translate(_DIGITS):
            return super().decode(data)  # maybe an integer beyond 64 bits: exact in json
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return super().decode(data)  # NaN, Infinity, lone surrogates: json reads them
        wrapped = data.count(_TYPE_KEY)
        if not wrapped:
            return obj
        if type(obj) is dict:
            top = [k for k, v in obj.items() if type(v) is dict and _is_wrapper(v)]
            if len(top) == wrapped and not _is_wrapper(obj):
                for k in top:
                    obj[k] = self._decode_obj(obj[k])
                return obj
        return self._revive(obj)

    def _revive(self, obj: Any) -> Any:
        """``object_hook`` on every object, innermost first (as ``json`` calls it)."""
        if type(obj) is dict:
            for k, v in obj.items():
                if type(v) is dict or type(v) is list:
                    obj[k] = self._revive(v)
            return self._decode_obj(obj)
        if type(obj) is list:
            for i, v in enumerate(obj):
                if type(v) is dict or type(v) is list:
                    obj[i] = self._revive(v)
        return obj


def _is_wrapper(d: dict[str, Any]) -> bool:
    return len(d) == 2 and "_type_" in d and "_data_" in d
