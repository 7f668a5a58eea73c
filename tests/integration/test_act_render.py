"""``relengotron act`` renders every kind of action the outbox can hold.

Kinds (``domain.outbox``, ``projections.processes.composer``): ``koji.move``,
``bus.publish``, ``compose.request``, ``push.release``. The rows come from the
real effector (no koji, no bus, no compose backend configured), as ``act`` sees them.
"""

from __future__ import annotations

import pytest

from relengotron.adapters import bootstrap
from relengotron.adapters.cli.cli_gating import render_act
from relengotron.adapters.settings import Settings
from relengotron.adapters.store.store import open_app
from relengotron.domain.outbox import BUS_PUBLISH, KOJI_MOVE, Action
from relengotron.projections.processes.composer import COMPOSE_REQUEST, PUSH_RELEASE

ACTIONS = [
    ("move:bash-5.3-1.fc44", KOJI_MOVE,
     {"nvr": "bash-5.3-1.fc44", "from_tag": "f44-pending", "to_tag": "f44"}),
    ("notice:bash", BUS_PUBLISH, {"kind": "build.promoted", "body": {"nvr": "bash-5.3-1.fc44"}}),
    ("compose:rawhide-repo#3", COMPOSE_REQUEST,
     {"compose": "rawhide-repo#3", "artifact": "rawhide-repo", "kind": "repo",
      "backend": "koji", "definition": {}, "changes": [], "push": None, "reasons": []}),
    ("push:f44-updates#2:release", PUSH_RELEASE,
     {"push": "f44-updates#2", "composes": [], "builds": []}),
]  # fmt: skip


@pytest.fixture
def outbox(tmp_path):
    app = open_app(f"sqlite:///{tmp_path / 'act.db'}")
    app.save(
        *(Action(key, kind, params, None, "test", None, None) for key, kind, params in ACTIONS)
    )
    return app


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "act"])
def test_every_action_kind_renders(outbox, dry_run):
    report = bootstrap.effector(outbox, Settings()).run(dry_run=dry_run)
    rows = report.done + report.pending
    assert {r["kind"] for r in rows} == {KOJI_MOVE, BUS_PUBLISH, COMPOSE_REQUEST, PUSH_RELEASE}
    text = render_act(report, verbose=True)
    lines = text.splitlines()
    assert any("move bash-5.3-1.fc44 f44-pending -> f44" in line for line in lines), text
    assert any("publish build.promoted" in line for line in lines), text
    assert any("compose rawhide-repo#3" in line and "koji" in line for line in lines), text
    assert any("release push f44-updates#2" in line for line in lines), text
    assert "None" not in text
    short = render_act(report)  # the bus messages counted, the rest named
    assert "1 publish " in short.splitlines()[0], short
    assert "publish build.promoted" not in short
    assert "move bash-5.3-1.fc44 f44-pending -> f44" in short
    assert "compose rawhide-repo#3" in short and "release push f44-updates#2" in short


def test_an_unknown_kind_still_renders():
    row = {"action": "x:1", "kind": "future.thing", "outcome": "not-configured", "detail": "?"}
    from relengotron.adapters.effects.effector import ActReport

    text = render_act(ActReport(dry_run=True, pending=[row]))
    assert "future.thing x:1" in text
