"""The audit reads work on both stores (SQLite and PostgreSQL): log positions,
explain, as-of, and verify (whose replay store is always a temporary SQLite file)."""

from __future__ import annotations

from relengotron.adapters import bootstrap
from relengotron.adapters.audit import audit, audit_asof, audit_verify
from relengotron.adapters.ingest.envelope import to_envelope
from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.adapters.services import inputs
from relengotron.domain.application import RelengApp
from tests.messages import Bus

NVR = "vim-9.1-1.fc44"


def test_audit_on_each_store(store: RelengApp) -> None:
    cfg = bootstrap.settings(None)
    bus = Bus()
    msgs = [bus.built(NVR), bus.tagged(NVR), bus.stage(NVR, "FAILURE"), bus.rpmdeplint(NVR)]
    inputs.sync_policies(store, cfg)
    store.record([to_incoming(to_envelope(m)) for m in msgs])
    assert inputs.sync_policies(store, cfg) is None  # already in force
    bootstrap.decider(store, cfg).run()

    x = audit.explain(store, cfg, NVR)
    assert x is not None
    assert [m["key"] for m in x["messages"]] == [m["id"] for m in msgs]
    assert all(isinstance(m["position"], int) for m in x["messages"])
    assert x["decisions"][-1]["verdict"] == "quarantine"
    assert x["decisions"][-1]["policy_activation"]["topic"] == "relengotron.policy.activated"
    assert len(x["policy_activations"]) == 1

    early = audit_asof.as_of(store, cfg, msgs[1]["headers"]["sent-at"], [NVR])
    assert early["builds"][0]["decision"]["verdict"] == "hold"
    assert early["policy_set_hash"] == x["policy_activations"][0]["policy_set_hash"]

    report = audit_verify.verify(store, cfg)
    assert report["identical"], report["differences"]
    assert report["activations"] == 1 and report["policy_note"] is None


def test_a_replay_decider_that_fails_says_why(tmp_path) -> None:
    """The replay's decider process (adapters/audit/replay_decider.py) cannot open its
    store: the replay stops with the decider's own error, not a broken pipe."""
    import pytest

    from relengotron.adapters.audit.replay_decider import DecideApart, ReplayDeciderFailed

    cfg = bootstrap.settings(None)
    apart = DecideApart(f"sqlite:///{tmp_path / 'missing.db'}", bootstrap.policy_set(cfg), cfg)
    try:
        with pytest.raises(ReplayDeciderFailed, match="no store at"):
            for _ in range(1000):  # the first sends may go out before it fails
                apart.recorded()
            apart.catch_up()
    finally:
        apart.close()


def test_the_replays_decider_keeps_its_view_in_memory(tmp_path) -> None:
    """The replay's store is thrown away: its decider writes no view to tables (about
    a fifth of deciding), and decides as the decider of a store does."""
    from pathlib import Path

    from sqlalchemy import inspect, text

    from relengotron.adapters.audit.replay_decider import DecideHere
    from relengotron.adapters.ingest.ingest import ingest_files
    from relengotron.adapters.store.store import open_app

    sample = Path(__file__).resolve().parents[2] / "config/examples/sample-stream.jsonl"
    cfg = bootstrap.settings(None)
    apps = [open_app(f"sqlite:///{tmp_path / name}") for name in ("replay.db", "store.db")]
    try:
        for app in apps:
            ingest_files(app, [str(sample)])
        replay, store = apps
        deciding = DecideHere(replay, bootstrap.policy_set(cfg), cfg)
        deciding.catch_up()
        bootstrap.decider(store, cfg, bootstrap.policy_set(cfg)).run()
        engine = replay.recorder.datastore.engine  # type: ignore[attr-defined]
        if inspect(engine).has_table("relengotron_view_docs"):
            with engine.connect() as conn:
                docs = conn.execute(text("SELECT COUNT(*) FROM relengotron_view_docs"))
                assert docs.scalar() == 0
        decided = [
            [(n.topic, n.originator_id) for n in app.recorder.select_notifications(1, 10**6)]
            for app in apps
        ]
        assert decided[0] == decided[1]  # the same events, in the same order
    finally:
        for app in apps:
            app.close()
