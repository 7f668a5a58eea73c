"""The composer re-derives the same plans whatever its run boundaries.

The same inputs (artifact definitions, the decider's promote moves and their
outcomes, compose statuses, a Bodhi push) are recorded in two stores: in one
the composer runs after every few inputs, in the other once at the end. The
events it records (compose plans, requests, outcomes, push stages and the
outbox actions it asks for) must be the same, field for field, aggregate by
aggregate.
"""

from __future__ import annotations

from typing import Any

import pytest

from relengotron.adapters.store.store import open_app
from relengotron.domain import facts as f
from relengotron.domain.application import RelengApp
from relengotron.domain.outbox import Action
from relengotron.domain.values import IncomingMessage
from relengotron.projections.config import ComposerConfig, KindTraits
from relengotron.projections.processes.composer import Composer

CONFIG = ComposerConfig(
    promoted_tag="rawhide",
    kinds=(
        ("repo", KindTraits(propagates=False, contains_tags=True, backend="command")),
        ("ostree", KindTraits(backend="command")),
        ("qcow2", KindTraits(backend="command")),
    ),
    release_configured=True,
)
T0 = "2026-11-20T09:{:02d}:00+00:00"
F40_STABLE = {"release": "F40", "request": "stable"}


def _defined(name: str, kind: str, **data: Any) -> f.ArtifactDefined:
    return f.ArtifactDefined(name, kind, f"sha256:{name}", definition=data)


def inputs() -> list[Any]:
    """A night: definitions, two promotion rounds, composes finishing, one failing, a push."""
    moves = [
        (n, trigger)
        for n, trigger in (
            ("bash-5.3-1.fc44", "m-check-1"),
            ("vim-9.1-1.fc44", "m-check-1"),
            ("systemd-258-1.fc44", "m-check-2"),
        )
    ]
    return [
        [
            _defined("rawhide-repo", "repo", tags=["rawhide"]),
            _defined("iot", "ostree", repositories=["rawhide-repo"], packages=["bash", "systemd"]),
            _defined("iot-qcow2", "qcow2", built_from=["iot"]),
            _defined("cloud", "qcow2", repositories=["rawhide-repo"], packages=["vim"]),
            _defined("f40-repo", "repo", tags=["f40-updates"], bodhi=F40_STABLE),
            _defined("f40-cloud", "qcow2", repositories=["f40-repo"], packages=["bash"]),
        ],
        ("requested", moves[:2]),
        ("completed", moves[:2]),
        [f.ComposeStatusChanged("x:1", "FINISHED", "relengotron", compose="rawhide-repo#1")],
        ("requested", moves[2:]),
        [f.ComposeStatusChanged("x:2", "FAILED", "relengotron", compose="cloud#1")],
        [f.ComposeStatusChanged("x:3", "FINISHED", "relengotron", compose="iot#1")],
        ("completed", moves[2:]),
        [f.BodhiUpdateChanged("FEDORA-1", "request.stable", builds=("bash-5.3-1.fc40",))],
        [f.BodhiComposeChanged("f40-updates", "compose.composing", updates=("FEDORA-1",))],
        [f.ComposeStatusChanged("x:4", "FINISHED", "relengotron", compose="f40-repo#1")],
        [f.ComposeStatusChanged("x:5", "FINISHED", "relengotron", compose="rawhide-repo#2")],
        [f.ComposeStatusChanged("x:6", "FINISHED", "relengotron", compose="f40-cloud#1")],
    ]


def _move(nvr: str, trigger: str, at: str) -> Action:
    """A promote move as the decider requests it (after the message ``trigger``)."""
    params = {"nvr": nvr, "to_tag": "rawhide", "from_tag": "rawhide-pending",
              "package": nvr.rsplit("-", 2)[0]}  # fmt: skip
    return Action(f"gate-{nvr}:move", "koji.move", params, None, "promote", trigger, at)


def record(app: RelengApp, step: Any, i: int) -> None:
    if isinstance(step, tuple):
        what, moves = step
        if what == "requested":
            app.save(*[_move(nvr, trigger, T0.format(i)) for nvr, trigger in moves])
            return
        actions = [app.repository.get(_move(nvr, trigger, "").id) for nvr, trigger in moves]
        for a in actions:  # the effector's outcome
            a.complete(at=T0.format(i), outcome="moved", detail="ok", result={})
        app.save(*actions)
        return
    msg = IncomingMessage(key=f"m{i}", topic="test", body={"i": i}, sent_at=T0.format(i),
                          status="recognized", facts=tuple(step))  # fmt: skip
    app.record([msg])


def composer_events(app: RelengApp) -> list[tuple[str, dict[str, Any]]]:
    out = []
    after = 0
    while page := app.recorder.select_notifications(start=after + 1, limit=500):
        for n in page:
            e = app.mapper.to_domain_event(n)
            name = type(e).__qualname__
            own = type(e).__module__ == "relengotron.domain.composing" or (
                name == "Action.Requested" and e.key.startswith(("compose:", "push:"))
            )
            if own:
                fields = {k: v for k, v in vars(e).items() if k not in ("timestamp",)}
                out.append((name, fields))
        after = page[-1].id
    # Each aggregate's own history, in order; how one transaction interleaves the
    # events of several aggregates is not part of what is decided.
    return sorted(out, key=lambda x: (str(x[1]["originator_id"]), x[1]["originator_version"]))


@pytest.mark.parametrize("every", [1, 2, 5, 100])
def test_plans_do_not_depend_on_run_boundaries(tmp_path: Any, every: int) -> None:
    steps = inputs()
    stores = {}
    for label, stride in (("once", len(steps)), ("often", every)):
        app = open_app(f"sqlite:///{tmp_path / label}.db")
        for i, step in enumerate(steps, 1):
            record(app, step, i)
            if i % stride == 0:
                Composer(app, CONFIG).run()
        Composer(app, CONFIG).run()
        stores[label] = composer_events(app)
    once, often = stores["once"], stores["often"]
    kinds = [name for name, _ in once]
    # The night really happened: plans, requests, a failure, a push to its release.
    outcomes = [e["outcome"] for name, e in once if name == "ArtifactCompose.Finished"]
    assert "failed" in outcomes and outcomes.count("composed") >= 4
    assert kinds.count("PushRun.Advanced") >= 3
    assert once == often


def test_resuming_from_a_saved_view_gives_the_same_view(tmp_path: Any) -> None:
    from relengotron.adapters.store.view_store import SQLViewStore

    app = open_app(f"sqlite:///{tmp_path / 's.db'}")
    steps = inputs()
    for i, step in enumerate(steps, 1):
        record(app, step, i)
        if i in (3, 7):
            Composer(app, CONFIG, views=SQLViewStore(app.recorder)).run()
    saved = Composer(app, CONFIG, views=SQLViewStore(app.recorder))
    assert saved._start_view()[1] > 0
    fresh = Composer(app, CONFIG).read_view()
    resumed = saved.read_view()
    assert {k: vars(c) for k, c in resumed.composes.items()} == {
        k: vars(c) for k, c in fresh.composes.items()
    }
    assert resumed.graph.manifests == fresh.graph.manifests
