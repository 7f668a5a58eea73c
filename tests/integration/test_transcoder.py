"""The orjson transcoder reads and writes eventsourcing's JSON format exactly.

Every state of the old-store fixtures (written by ``JSONTranscoder``) decodes to the
same value with :class:`OrjsonTranscoder`; what it writes decodes to the same value
with both; and the states ``orjson`` alone would get wrong (integers beyond 64 bits,
NaN, lone surrogates, ``_type_`` objects nested or as data) read as ``json`` reads them.
Every application ``open_app`` opens uses it.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex

from relengotron.adapters.store.store import open_app
from relengotron.adapters.store.transcoder import OrjsonTranscoder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STORES = sorted(FIXTURES.glob("*.db"))
UID = UUID("12345678-1234-5678-1234-567812345678")


def _transcoders() -> tuple[OrjsonTranscoder, JSONTranscoder]:
    fast, reference = OrjsonTranscoder(), JSONTranscoder()
    for t in (fast, reference):
        for transcoding in (UUIDAsHex(), DatetimeAsISO(), DecimalAsStr()):
            t.register(transcoding)  # as eventsourcing's Application registers them
    return fast, reference


def test_every_application_uses_it(tmp_path: Path) -> None:
    app = open_app(f"sqlite:///{tmp_path / 's.db'}")
    assert type(app.mapper.transcoder) is OrjsonTranscoder
    assert app.mapper.transcoder.names.keys() >= {"uuid_hex", "datetime_iso", "decimal_str"}


@pytest.mark.parametrize("store", STORES, ids=lambda p: p.name)
def test_old_stores_read_the_same(store: Path) -> None:
    fast, reference = _transcoders()
    con = sqlite3.connect(store)
    try:
        states = [bytes(r[0]) for r in con.execute("SELECT state FROM relengotron_events")]
    finally:
        con.close()
    assert states
    for state in states:
        value = reference.decode(state)
        assert fast.decode(state) == value
        assert reference.decode(fast.encode(value)) == value


ODD: list[Any] = [
    {"timestamp": datetime(2026, 12, 6, 8, 0, tzinfo=UTC), "msg": "k", "n": [1, 2.5, None]},
    {"u": UID, "d": Decimal("1.10"), "nested": [{"at": datetime(2026, 1, 1, tzinfo=UTC)}]},
    {"big": 2**70, "small": -(2**63) - 1, "text": "é\u2028\U0001f600"},
    {"looks": {"_type_": "uuid_hex", "_data_": UID.hex}, "word": "_type_", "_type_": 1},
    {"deep": {"a": {"_type_": "decimal_str", "_data_": "2"}}, "t": {"x": [{"_type_": 3}]}},
    {1: "int key", "f": 1e16, "g": -0.0},
    [{"_type_": "uuid_hex", "_data_": UID.hex}],
]


@pytest.mark.parametrize("value", ODD, ids=[str(i) for i in range(len(ODD))])
def test_odd_values_round_trip_as_with_json(value: Any) -> None:
    fast, reference = _transcoders()
    written = reference.encode(value)
    assert fast.decode(written) == reference.decode(written)
    mine = fast.encode(value)
    assert reference.decode(mine) == reference.decode(written)
    assert fast.decode(mine) == reference.decode(written)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":NaN,"b":-Infinity}',
        b'{"a":123456789012345678901234567890}',
        b'{"a":-9223372036854775809}',
        b'{"a":"\\ud800"}',
        b'{"a":{"_type_":"datetime_iso","_data_":"2026-01-01T00:00:00+00:00"},"b":"x"}',
    ],
)
def test_what_orjson_reads_otherwise_is_read_by_json(raw: bytes) -> None:
    fast, reference = _transcoders()
    got, want = fast.decode(raw), reference.decode(raw)
    assert repr(got) == repr(want)
    assert [type(v) for v in got.values()] == [type(v) for v in want.values()]


def test_an_unregistered_type_is_refused_as_json_refuses_it() -> None:
    fast, reference = _transcoders()
    with pytest.raises(TypeError) as mine:
        fast.encode({"x": object()})
    with pytest.raises(TypeError) as theirs:
        reference.encode({"x": object()})
    assert type(mine.value) is type(theirs.value)
