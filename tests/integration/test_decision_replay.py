"""Decisions are a pure function of the event sequence.

The same messages, recorded in a fresh store with other batch sizes and the
decider run at other moments, give the same decisions, the same bisection
steps and the same outbox requests, event for event.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relengotron.adapters.ingest.envelope import to_envelope
from relengotron.adapters.ingest.ingest import to_incoming
from relengotron.adapters.rules.policy_loader import load_policy_set
from relengotron.adapters.settings import DEFAULT_POLICIES
from relengotron.adapters.store.store import open_app
from relengotron.adapters.store.view_store import SQLViewStore
from relengotron.domain.application import RelengApp
from relengotron.projections.config import GatingConfig
from relengotron.projections.processes.decider import Decider
from tests.messages import Bus

NVRS = ["bash-5.3-1.fc44", "bash-5.3-2.fc44", "vim-9.1-1.fc44", "glibc-2.42-1.fc44"]
STAGE = "org.centos.prod.ci.pipeline.allpackages-build.package.test.functional.complete"
POLICIES = load_policy_set(DEFAULT_POLICIES)
CONFIG = GatingConfig(max_rounds=2, bisection_timeout_hours=0.05)

nvr = st.sampled_from(NVRS)
operation = st.one_of(
    st.tuples(st.just("tag"), nvr),
    st.tuples(st.just("untag"), nvr),
    st.tuples(st.just("stage"), nvr, st.sampled_from(["SUCCESS", "FAILURE", "UNSTABLE"])),
    st.tuples(st.just("rpmdeplint"), nvr, st.sampled_from(["PASSED", "FAILED", "ERROR"])),
    # Results apart by architecture (Greenwave's latest per system_architecture).
    st.tuples(
        st.just("rpmdeplint-arch"),
        nvr,
        st.sampled_from(["PASSED", "FAILED"]),
        st.sampled_from(["x86_64", "ppc64le"]),
    ),
    st.tuples(
        st.just("group"),
        st.lists(nvr, min_size=1, max_size=4, unique=True),
        st.sampled_from(["passed", "failed", "error"]),
        st.booleans(),
    ),
    st.tuples(st.just("waive"), nvr, st.sampled_from([STAGE, "dist.rpmdeplint"]), st.booleans()),
)


# Every kind of decision: promotions, a quarantine, a failing batch bisected, a waiver,
# an obsoleted build (other tests use it too).
SCENARIO: list[tuple[Any, ...]] = [
    ("tag", NVRS[0]),
    ("tag", NVRS[2]),
    ("tag", NVRS[3]),
    ("stage", NVRS[0], "SUCCESS"),
    ("rpmdeplint", NVRS[0], "PASSED"),
    ("stage", NVRS[2], "FAILURE"),
    ("rpmdeplint", NVRS[2], "PASSED"),
    ("stage", NVRS[3], "SUCCESS"),
    ("rpmdeplint", NVRS[3], "PASSED"),
    ("group", [NVRS[0], NVRS[2], NVRS[3]], "failed", False),
    ("waive", NVRS[2], STAGE, True),
    ("tag", NVRS[1]),
]


def messages(ops: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    bus = Bus()
    out: list[dict[str, Any]] = []
    groups = 0
    for op in ops:
        kind = op[0]
        if kind == "tag":
            out += [bus.built(op[1]), bus.tagged(op[1])]
        elif kind == "untag":
            out.append(bus.untagged(op[1]))
        elif kind == "stage":
            out.append(bus.stage(op[1], op[2]))
        elif kind == "rpmdeplint":
            out.append(bus.rpmdeplint(op[1], op[2]))
        elif kind == "rpmdeplint-arch":
            out.append(bus.rpmdeplint(op[1], op[2], arch=op[3]))
        elif kind == "group":
            groups += 1
            suspects = op[1][:1] if op[3] and op[2] == "failed" else None
            out.append(bus.group_check(f"check-{groups}", op[1], op[2], suspects=suspects))
        else:
            out.append(bus.waiver(op[1], op[2], op[3]))
    return out


def run(
    store: Path | RelengApp,
    msgs: list[dict[str, Any]],
    cuts: list[int],
    *,
    snapshots: bool = False,
) -> RelengApp:
    """Record ``msgs`` in batches ending at ``cuts``, deciding after each batch (resuming
    from the saved view of the previous run when ``snapshots``)."""
    app = store if isinstance(store, RelengApp) else open_app(f"sqlite:///{store}")
    views = SQLViewStore(app.recorder) if snapshots else None
    incoming = [to_incoming(to_envelope(m)) for m in msgs]
    start = 0
    for end in [*sorted(set(cuts)), len(incoming)]:
        if end > start:
            app.record(incoming[start:end])
            Decider(app, POLICIES, CONFIG, page_size=7, views=views).run()
            start = end
    return app


def derived(app: RelengApp) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the decider wrote, per aggregate, in version order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    topics = (
        [f"domain.gating:Gate.{n}" for n in ("Opened", "Decided", "Withdrawn", "Reopened")]
        + [f"domain.gating:Bisection.{n}" for n in ("Started", "HalvesRequested", "FellBack")]
        + ["domain.outbox:Action.Requested", "domain.outbox:Action.Cancelled"]
    )
    for n in app.recorder.select_notifications(start=1, limit=1_000_000, topics=topics):
        e = app.mapper.to_domain_event(n)
        state = {
            k: v
            for k, v in vars(e).items()
            if k not in ("timestamp", "originator_topic", "originator_id")
        }
        out.setdefault(str(n.originator_id), []).append((n.topic, repr(sorted(state.items()))))
    return out


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    ops=st.lists(operation, min_size=1, max_size=14),
    cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=5),
)
def test_same_events_same_decisions_whatever_the_batching(
    ops: list[tuple[Any, ...]], cuts: list[int]
) -> None:
    msgs = messages(ops)
    with tempfile.TemporaryDirectory() as tmp:
        one_batch = derived(run(Path(tmp) / "a.db", msgs, []))
        batched = derived(run(Path(tmp) / "b.db", msgs, cuts, snapshots=True))
        one_by_one = derived(run(Path(tmp) / "c.db", msgs, list(range(1, len(msgs)))))
    assert batched == one_batch
    assert one_by_one == one_batch


def test_replay_of_a_recorded_history_gives_identical_decisions(
    tmp_path: Path, store: RelengApp
) -> None:
    """A scenario with every kind of decision, replayed into a fresh store (SQLite and
    PostgreSQL: the replay store is the parametrized ``store`` fixture)."""
    msgs = messages(SCENARIO)
    first = derived(run(tmp_path / "a.db", msgs, [3, 9, 10]))
    assert isinstance(store, RelengApp)
    again = derived(run(store, msgs, [2, 5, 11], snapshots=True))
    assert first == again
    verdicts = [t for events in first.values() for t in events if t[0].endswith("Gate.Decided")]
    assert verdicts, "the scenario must produce decisions"
    assert any(t[0].endswith("Bisection.HalvesRequested") for e in first.values() for t in e)
    # The view saved by the last run, plus the rest folded, equals a fold from scratch.
    fresh = Decider(store, POLICIES, CONFIG).read_view()
    saved = Decider(store, POLICIES, CONFIG, views=SQLViewStore(store.recorder))
    assert saved._start_view()[1] > 0
    assert _comparable(saved.read_view()) == _comparable(fresh)


def _comparable(view: Any) -> dict[str, Any]:
    return {
        "gates": {k: vars(v) for k, v in view.gates.items()},
        "actions": {k: vars(v) for k, v in view.actions.items()},
        "builds": {
            k: (sorted(v.tags), len(v.results), len(v.waivers)) for k, v in view.builds.items()
        },
        "checks": {k: len(v) for k, v in view.checks.items()},
        "now": view.now,
    }
