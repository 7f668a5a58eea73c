"""A save that fails for another reason than a conflict (the store locked or down)
leaves the application as it was: the aggregates it loaded are not kept in the cache,
so the next attempt starts from the store and writes the right versions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError

from relengotron.adapters.ingest.envelope import to_envelope
from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.adapters.store.store import open_app
from relengotron.domain import ids
from tests.messages import Bus


def test_a_failed_save_does_not_leave_changed_aggregates_in_the_cache(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    app = open_app(f"sqlite:///{db}")
    bus = Bus()
    nvr = "bash-5.3-1.fc44"
    app.record([to_incoming(to_envelope(bus.built(nvr, "p")))])
    versions_before = [e.originator_version for e in app.events.get(ids.build_id(nvr))]
    # Another writer holds the store past the busy timeout: this save fails.
    app.recorder.datastore.engine.dispose()  # type: ignore[attr-defined]
    holder = sqlite3.connect(db, timeout=30, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OperationalError):
            app.record([to_incoming(to_envelope(bus.tagged(nvr, owner="p")))])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    cached = app.cache_get(ids.build_id(nvr))
    assert cached is None or cached.version == len(versions_before)
    # The same message again, once the store is back: recorded with the next version.
    outcome = app.record([to_incoming(to_envelope(bus.tagged(nvr, owner="p")))])
    assert outcome.recorded
    versions = [e.originator_version for e in app.events.get(ids.build_id(nvr))]
    assert versions == list(range(1, len(versions_before) + 2))
