"""A decision round made only of effector outcomes records nothing (issue 14).

The decider groups its input by message; an effector outcome (``Action.Completed``)
carries no message and joins the group before it. When the decider reads outcomes and
nothing else (``act`` ran after the last ``decide``), its round is named after the last
message, whose own round was decided long before: anything recorded there would be
placed after that message on a refold (``projections.processes.follower``), not after the
outcomes that caused it. That is sound only if such a round records nothing. Outcomes
of every shape are read here: moves into the promoted tag (the gate is promoted and
leaves the candidates), into the quarantine tag (the gate stays a candidate and is
evaluated again: the same fingerprint), and failed moves (nothing changes).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from relengotron.adapters import bootstrap
from relengotron.adapters.ingest.ingest import ingest_files
from relengotron.adapters.store.store import open_app
from relengotron.projections.processes.composer import Composer
from relengotron.projections.processes.decider import Decider
from tests.crashing import (
    activate_policies,
    event_streams,
    gating_story,
    last_position,
    story_nvrs,
    write_jsonl,
)
from tests.integration.test_composer_resume import write_artifact_settings
from tests.live import new_hub


def test_a_round_of_outcomes_only_records_nothing(tmp_path: Path) -> None:
    story = gating_story(seed=14)
    hub = new_hub(story_nvrs(story))
    db = f"sqlite:///{tmp_path / 'store.db'}"
    try:
        config = write_artifact_settings(tmp_path)
        config.write_text(config.read_text().replace("http://127.0.0.1:9/kojihub", hub.url))
        cfg = bootstrap.settings(str(config))
        hub.fail_next("moveBuild", times=2, fault_code=1000, message="no such build")
        app = open_app(db)
        try:
            activate_policies(app, config)
            ingest_files(app, [str(write_jsonl(tmp_path / "story.jsonl", story))], batch_size=40)
            decider = Decider(app, bootstrap.policy_set(cfg), cfg.gating)
            decider.run()
            Composer(app, bootstrap.composer_config(cfg)).run()
            acted = bootstrap.effector(app, cfg).run()
            before = last_position(db)
            report = Decider(app, bootstrap.policy_set(cfg), cfg.gating).run()
            after = last_position(db)
        finally:
            app.close()
    finally:
        hub.stop()
    outcomes: Counter[str] = Counter()
    for stream in event_streams(db).values():
        moves = [s for _, t, s in stream if t == "domain.outbox:Action.Requested"]
        for _, topic, state in stream:
            if (
                topic == "domain.outbox:Action.Completed"
                and moves
                and "to_tag" in moves[0]["params"]
            ):
                outcomes[f"{moves[0]['params']['to_tag']} {state['outcome']}"] += 1
    # Every shape of outcome was read, and the round evaluated the candidates again.
    assert outcomes[f"{cfg.gating.promoted_tag} moved"] >= 3, (outcomes, acted.as_json())
    assert outcomes[f"{cfg.gating.quarantine_tag} moved"] >= 1, outcomes
    assert any(k.endswith("failed") for k in outcomes), outcomes
    assert report.read >= sum(outcomes.values()), report.as_json()
    assert report.evaluated >= 1, report.as_json()
    assert (report.decisions, report.actions, report.bisections) == ([], 0, 0), report.as_json()
    assert after == before  # nothing recorded
