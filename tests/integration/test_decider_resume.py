"""A decider that stops after an intermediate commit resumes to the same log (issue 14, 5).

The decider commits its decisions with its tracked position every ``page_size`` events
it reads. Its own events are stored after *all* the input a bulk ingest wrote, so when
a process died after such a commit, the next one folded the log as it lies: the input
up to the tracked position without the gates it had opened meanwhile. A newer build
tagged into the pending tag then found no older open gate: the older build was never
withdrawn as obsoleted and stayed a candidate (held, still movable).

Here the run stops where a kill would stop it (the decider's ``progress`` callback, its
public hook, raises after the n-th page; what was committed stays, as after a SIGKILL),
and a new decider resumes. Every aggregate's event stream must equal a clean run's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters import bootstrap
from relengotron.adapters.ingest.ingest import ingest_files
from relengotron.adapters.store.store import open_app
from relengotron.adapters.store.view_store import SQLViewStore
from relengotron.projections.processes.decider import Decider
from tests.crashing import (
    activate_policies,
    differences,
    event_streams,
    gating_story,
    normalized,
    write_jsonl,
)
from tests.live import write_policies, write_settings

PAGE = 20  # events read between the decider's commits (production: 1000)


class Stop(Exception):
    """The process is gone (what was committed stays)."""


def _run(db: str, config: Path, messages: Path, stop_after: int | None) -> int:
    """Ingest and decide; stop after ``stop_after`` pages and resume. Pages read."""
    app = open_app(db)
    try:
        activate_policies(app, config)
        ingest_files(app, [str(messages)], batch_size=40)
        cfg = bootstrap.settings(str(config))
        policies = bootstrap.policy_set(cfg)
        pages = [0]

        def progress(read: int, _: int) -> None:
            pages[0] += 1
            if stop_after is not None and pages[0] > stop_after:
                raise Stop

        decider = Decider(
            app,
            policies,
            cfg.gating,
            page_size=PAGE,
            progress=progress,
            views=SQLViewStore(app.recorder),
        )
        try:
            decider.run()
            return pages[0]
        except Stop:
            assert app.tracked_position("decider") > 0  # something was committed
            Decider(
                app, policies, cfg.gating, page_size=PAGE, views=SQLViewStore(app.recorder)
            ).run()
            return pages[0]
    finally:
        app.close()


@pytest.mark.parametrize("when", [0.1, 0.35, 0.6, 0.85])
def test_a_decider_resumed_after_an_intermediate_commit_records_the_clean_log(
    tmp_path: Path, when: float
) -> None:
    config = write_settings(
        tmp_path / "relengotron.toml", "http://127.0.0.1:9/kojihub", write_policies(tmp_path)
    )
    story = gating_story(seed=14)
    messages = write_jsonl(tmp_path / "story.jsonl", story)
    clean_db, crashed_db = f"sqlite:///{tmp_path / 'clean.db'}", f"sqlite:///{tmp_path / 'c.db'}"
    pages = _run(clean_db, config, messages, None)
    assert pages >= 10, pages
    _run(crashed_db, config, messages, max(1, int(pages * when)))

    clean, crashed = normalized(event_streams(clean_db)), normalized(event_streams(crashed_db))
    withdrawn = _withdrawals(clean)
    assert withdrawn.get("obsoleted", 0) >= 3, withdrawn  # the story obsoletes builds
    assert withdrawn.get("untagged", 0) >= 1, withdrawn
    assert clean == crashed, differences(clean, crashed)


def _withdrawals(streams: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for stream in streams.values():
        for _, topic, state in stream:
            if topic == "domain.gating:Gate.Withdrawn":
                out[state["reason"]] = out.get(state["reason"], 0) + 1
    return out


def test_a_refolded_view_takes_each_gates_events_in_their_order(tmp_path: Path) -> None:
    """Found by test_readmodels' hypothesis run while placing own events: the first own
    event of a group, met where the log holds it, was folded after the later ones
    (``Gate.Decided`` before ``Gate.Opened``: a gate without an NVR)."""
    from relengotron.adapters.ingest.envelope import to_envelope
    from relengotron.adapters.ingest.ingest import to_incoming
    from tests.messages import Bus

    config = write_settings(
        tmp_path / "relengotron.toml", "http://127.0.0.1:9/kojihub", write_policies(tmp_path)
    )
    cfg = bootstrap.settings(str(config))
    policies = bootstrap.policy_set(cfg)
    bus, nvr = Bus(), "bash-5.3-1.fc44"
    app = open_app(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        app.record([to_incoming(to_envelope(m)) for m in (bus.built(nvr), bus.tagged(nvr))])
        Decider(app, policies, cfg.gating).run()
        view = Decider(app, policies, cfg.gating).read_view()
    finally:
        app.close()
    assert set(view.gates) == {nvr}
    assert view.gates[nvr].verdict == "hold"
