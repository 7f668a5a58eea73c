"""A folded view kept in tables: one JSON document per (view, kind, key).

A follower's view (the decider's gating view, the composer's artifacts view) is a
set of maps: builds by NVR, gates by NVR, composes by key, ... Each map is a
``DocMap``: a mapping that loads an entry from the store the first time it is
asked for, keeps it in memory, and at a flush hands back the entries whose
document changed. The follower writes those documents with its tracked position
in the same transaction as the events it recorded (``Follower._flush``), so the
view in the tables is always the view at that position: a resume reads only the
entries the new messages touch, whatever the size of the log.

Documents are JSON (``pydantic`` turns the view's dataclasses into JSON and back);
nothing is pickled. ``Docs.format`` names the view's format, the settings and the
code that folds it: a stored view of another format is dropped and folded again.

Without a store (a view folded in memory, e.g. by ``replay``) the maps are plain
in-memory maps.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, MutableMapping
from functools import cache
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from pydantic import TypeAdapter

K = TypeVar("K")
V = TypeVar("V")


class ViewMeta(NamedTuple):
    """What a stored view is: its format, the log position it is folded through, and
    the follower's tracked position it was written with (``position`` is beyond it
    by the follower's own events, already folded, when nothing else came between)."""

    format: str
    position: int
    tracked: int


class DocStore(Protocol):
    """Where views' documents are kept (``adapters`` has the SQL one)."""

    def meta(self, view: str) -> ViewMeta | None:
        """What the stored view is (None: none stored)."""
        ...

    def load(self, view: str, kind: str, keys: Collection[str]) -> dict[str, bytes]: ...

    def load_all(self, view: str, kind: str) -> dict[str, bytes]: ...

    def write(
        self,
        view: str,
        meta: ViewMeta,
        docs: Mapping[tuple[str, str], bytes | None],
        *,
        reset: bool = False,
    ) -> None:
        """Write changed documents (None: delete) and what the view now is, in the
        caller's transaction when there is one. ``reset`` first drops every stored
        document of the view (a view folded again from the start)."""
        ...


@cache
def codec(value_type: Any, encode: Any = None, decode: Any = None) -> Codec[Any]:
    """The codec of a value type (made once: building a pydantic adapter is slow)."""
    return Codec(value_type, encode, decode)


class Codec(Generic[V]):
    """A value to JSON bytes and back."""

    def __init__(
        self,
        value_type: Any,
        encode: Callable[[V], Any] | None = None,
        decode: Callable[[Any], V] | None = None,
    ) -> None:
        # With its own encode/decode the document is plain JSON; else pydantic reads the
        # value type (dataclasses, tuples, sets) from its annotations.
        self._adapter: TypeAdapter[Any] = TypeAdapter(Any if encode else value_type)
        self._encode = encode
        self._decode = decode

    def dumps(self, value: V) -> bytes:
        return self._adapter.dump_json(value if self._encode is None else self._encode(value))

    def loads(self, data: bytes) -> V:
        value = self._adapter.validate_json(data)
        return value if self._decode is None else self._decode(value)


_MISSING = object()


class DocMap(MutableMapping[K, V]):
    """A map of one kind of document, loaded on demand and written back at a flush.

    Entries read are kept; at a flush every kept entry is encoded and those whose
    document differs from the stored one are written (values are mutable dataclasses
    changed in place, so a change is found by comparing documents). Iteration loads
    the whole kind: for the few whole-view questions (an audit, a policy change),
    never on the per-message path.
    """

    def __init__(
        self,
        docs: Docs,
        kind: str,
        codec: Codec[V],
        key: Callable[[K], str] = str,
        unkey: Callable[[str], K] | None = None,
    ) -> None:
        self._docs = docs
        self.kind = kind
        self._codec = codec
        self._key = key
        self._unkey: Callable[[str], K] = unkey or (lambda s: s)  # type: ignore[assignment,return-value]
        self._values: dict[K, V] = {}
        self._stored: dict[K, bytes | None] = {}  # the document as stored (None: absent)
        self._touched: set[K] = set()  # handed out or set since the last write
        self._all = False

    # ------------------------------------------------------------------ loading

    def _load(self, k: K) -> Any:
        if k in self._values:
            return self._values[k]
        store = self._docs.store
        if store is None or k in self._stored or self._all or self._docs.complete:
            return _MISSING
        raw = store.load(self._docs.view, self.kind, [self._key(k)]).get(self._key(k))
        self._stored[k] = raw
        if raw is None:
            return _MISSING
        value = self._values[k] = self._codec.loads(raw)
        return value

    def prefetch(self, keys: Collection[K]) -> None:
        """Load, in one query, the entries of ``keys`` not yet loaded."""
        store = self._docs.store
        if store is None or self._docs.complete or self._all:
            return
        todo = [k for k in keys if k not in self._values and k not in self._stored]
        if not todo:
            return
        found = store.load(self._docs.view, self.kind, [self._key(k) for k in todo])
        for k in todo:
            raw = found.get(self._key(k))
            self._stored[k] = raw
            if raw is not None:
                self._values[k] = self._codec.loads(raw)

    def _load_all(self) -> None:
        if self._all:
            return
        store = self._docs.store
        if store is not None and not self._docs.complete:
            for s, raw in store.load_all(self._docs.view, self.kind).items():
                k = self._unkey(s)
                if k not in self._stored and k not in self._values:
                    self._stored[k] = raw
                    self._values[k] = self._codec.loads(raw)
        self._all = True

    # ------------------------------------------------------------------ mapping

    def __getitem__(self, k: K) -> V:
        try:
            value = self._values[k]
        except KeyError:
            value = self._load(k)
            if value is _MISSING:
                raise KeyError(k) from None
        self._touched.add(k)
        return value

    def __contains__(self, k: object) -> bool:
        return k in self._values or self._load(k) is not _MISSING  # type: ignore[arg-type]

    def get(self, k: K, default: Any = None) -> Any:
        try:
            value = self._values[k]
        except KeyError:
            value = self._load(k)
            if value is _MISSING:
                return default
        self._touched.add(k)
        return value

    def __setitem__(self, k: K, value: V) -> None:
        # Not loaded first: a new entry (most are) would cost a query to learn it is
        # absent. Written at the next flush whatever was stored.
        self._values[k] = value
        self._touched.add(k)

    def peek(self, k: K) -> V | None:
        """The entry, or None; not handed out for change (never written for it)."""
        value = self._load(k)
        return None if value is _MISSING else value

    def __delitem__(self, k: K) -> None:
        if self._load(k) is _MISSING:
            raise KeyError(k)
        del self._values[k]
        self._touched.add(k)

    def __iter__(self) -> Iterator[K]:
        self._load_all()
        return iter(sorted(self._values, key=self._key))

    def __len__(self) -> int:
        self._load_all()
        return len(self._values)

    # ------------------------------------------------------------------ writing

    def changes(self) -> dict[tuple[str, str], bytes | None]:
        """The documents of the entries handed out since the last write that differ
        from the stored ones (None: an entry deleted)."""
        out: dict[tuple[str, str], bytes | None] = {}
        for k in self._touched:
            raw = self._codec.dumps(self._values[k]) if k in self._values else None
            if self._stored.get(k, _MISSING) != raw:
                out[(self.kind, self._key(k))] = raw
        return out

    def written(self, docs: Mapping[tuple[str, str], bytes | None]) -> None:
        for (kind, s), raw in docs.items():
            if kind == self.kind:
                self._stored[self._unkey(s)] = raw
        self._touched.clear()
        if len(self._stored) > len(self._values) + Docs.FORGET_ABSENT:
            # Keys asked for and absent: a cache of misses, bounded.
            for k in [k for k, raw in self._stored.items() if raw is None]:
                del self._stored[k]

    def forget(self) -> None:
        self._values.clear()
        self._stored.clear()
        self._touched.clear()
        self._all = False


class Cell(Generic[V]):
    """One value of a view (its clock, the policy set in force), kept as a document.
    A missing value is made by ``factory`` (and kept, so changes to it are written)."""

    def __init__(self, docs: Docs, kind: str, codec: Codec[V], factory: Callable[[], V]) -> None:
        self._map: DocMap[str, V] = DocMap(docs, kind, codec)
        self._factory = factory

    @property
    def value(self) -> V:
        m = self._map
        try:
            value = m._values[""]
        except KeyError:
            value = m.get("", _MISSING)
            if value is _MISSING:
                value = m[""] = self._factory()
        m._touched.add("")
        return value

    @value.setter
    def value(self, value: V) -> None:
        self._map[""] = value


class Docs:
    """The documents of one view: its maps, where they are stored, and its format."""

    FORGET_ABSENT = 100_000

    def __init__(self, store: DocStore | None = None, view: str = "", fmt: str = "") -> None:
        self.store = store
        self.view = view
        self.format = fmt
        self.maps: list[DocMap[Any, Any]] = []
        # True while memory holds every stored document (no store, or a view folded
        # from the start by this process): a miss is an absent entry, without asking.
        self.complete = store is None
        # True until the first write of a view folded from the start: that write drops
        # whatever documents of the view are stored (another format's).
        self.reset = False

    def map(
        self,
        kind: str,
        value_type: Any,
        *,
        key: Callable[[Any], str] = str,
        unkey: Callable[[str], Any] | None = None,
        encode: Callable[[Any], Any] | None = None,
        decode: Callable[[Any], Any] | None = None,
    ) -> DocMap[Any, Any]:
        m: DocMap[Any, Any] = DocMap(self, kind, codec(value_type, encode, decode), key, unkey)
        self.maps.append(m)
        return m

    def cell(
        self,
        kind: str,
        value_type: Any,
        default: Any = None,
        *,
        encode: Callable[[Any], Any] | None = None,
        decode: Callable[[Any], Any] | None = None,
    ) -> Cell[Any]:
        """A one-value document; ``default`` makes the value when none is stored (a
        callable such as ``list`` or ``int``, else the value itself)."""
        factory = default if callable(default) else (lambda: default)
        c: Cell[Any] = Cell(self, kind, codec(value_type, encode, decode), factory)
        self.maps.append(c._map)
        return c

    def changes(self) -> dict[tuple[str, str], bytes | None]:
        out: dict[tuple[str, str], bytes | None] = {}
        for m in self.maps:
            out.update(m.changes())
        return out

    def written(self, docs: Mapping[tuple[str, str], bytes | None]) -> None:
        """The documents are stored: they are what the store holds now."""
        for m in self.maps:
            m.written(docs)
        self.reset = False

    def forget(self) -> None:
        """Drop what is in memory (a failed write: the store holds the truth)."""
        for m in self.maps:
            m.forget()
        self.complete = self.store is None
