"""A store written by main before the release lifecycle (issue 21) takes a lifecycle
run's events beside its own and keeps replaying identically."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from relengotron.adapters.cli.main import main
from relengotron.adapters.store.store import open_app
from relengotron.domain import ids, topics

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store_main_20261206.db"


def test_an_old_store_takes_a_release_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copyfile(FIXTURE, tmp_path / "old.db")
    url = f"sqlite:///{tmp_path / 'old.db'}"
    (tmp_path / "empty.toml").write_text("")  # no koji hub: the first step fails, recorded
    capsys.readouterr()
    code = main(["release", "branch", "45", "--db", url, "--config",
                 str(tmp_path / "empty.toml"), "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["stopped"] == "koji.tag:f45: koji is not configured ([koji] hub)"
    app = open_app(url)
    try:
        events = app.recorder.select_events(ids.release_run_id("branch:45"))
        assert [e.topic for e in events] == [topics.RELEASE_RUN_PLANNED,
                                             topics.RELEASE_RUN_STEP_FAILED]  # fmt: skip
        run = app.repository.get(ids.release_run_id("branch:45"))
        assert run.release == "45" and run.failed == {"koji.tag:f45": out["stopped"][14:]}
    finally:
        app.close()
    code = main(["replay", "--verify", "--no-progress", "--db", url, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["identical"] is True and report["differences"] == []
