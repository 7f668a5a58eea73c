"""A composer that stops after an intermediate commit resumes to the same log (issue 14).

The composer, like the decider, commits what it records with its tracked position
every ``page_size`` events it reads, and its own events (composes planned, changes
added, compose requests) are stored after input it had not read yet: after *every*
koji move the decider requested in a bulk run. A process that died after such a commit
used to fold the log as it lies on restart, without the composes it had planned: the
next promotion planned ``rawhide-repo#1`` a second time (the store refused the
duplicate aggregate, the composer failed three times and gave up).

Placing its own events needs their round named uniquely: a decision of the composer
after an input message and one after the decider's round for that message both named
the message (``trigger``). Rounds are now named ``input:<message>`` and
``decider:<message>`` (``projections.processes.composer``; an outcome's was already unique).

The run stops where a kill would stop it (the composer's ``progress`` callback, its
public hook, raises after the n-th page; what was committed stays, as after a SIGKILL),
and a new composer resumes. Every aggregate's event stream must equal a clean run's.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from relengotron.adapters import bootstrap
from relengotron.adapters.artifacts.artifact_sync import sync_definitions
from relengotron.adapters.ingest.ingest import ingest_files
from relengotron.adapters.store.store import open_app
from relengotron.adapters.store.view_store import SQLViewStore
from relengotron.projections.processes.composer import Composer
from relengotron.projections.processes.decider import Decider
from relengotron.projections.processes.rounds import DECIDER_ROUND, is_legacy_trigger
from tests.crashing import (
    activate_policies,
    crash_definitions,
    differences,
    event_streams,
    gating_story,
    normalized,
    write_jsonl,
)
from tests.live import write_policies, write_settings

PAGE = 10  # events read between the composer's commits (production: 1000)

# The gating story's packages (crashNN) into the promoted tag's repository, and images
# built from it (a child waits for its parent's compose; each absorbs later changes).
DEFINITIONS = crash_definitions(range(7), range(7, 14))


class Stop(Exception):
    """The process is gone (what was committed stays)."""


def write_artifact_settings(tmp_path: Path, definitions: str = DEFINITIONS) -> Path:
    config = write_settings(
        tmp_path / "relengotron.toml", "http://127.0.0.1:9/kojihub", write_policies(tmp_path)
    )
    (tmp_path / "artifacts").mkdir(exist_ok=True)
    (tmp_path / "artifacts" / "crash.yaml").write_text(definitions)
    config.write_text(config.read_text() + f'\n[artifacts]\ndefinitions = "{tmp_path}/artifacts"\n')
    return config


def _prepare(db: str, config: Path, messages: Path) -> None:
    """Definitions synced (their time is the wall clock's: done once, the store copied),
    the story ingested and decided: the composer's input."""
    app = open_app(db)
    try:
        cfg = bootstrap.settings(str(config))
        activate_policies(app, config)
        view = Composer(app, bootstrap.composer_config(cfg)).read_view()
        sync_definitions(app, view, cfg.artifacts, bootstrap.kinds())
        ingest_files(app, [str(messages)], batch_size=40)
        Decider(app, bootstrap.policy_set(cfg), cfg.gating).run()
    finally:
        app.close()


def _compose(db: str, config: Path, stop_after: int | None) -> int:
    """Run the composer; stop after ``stop_after`` pages and resume. Pages read."""
    app = open_app(db)
    try:
        composer_config = bootstrap.composer_config(bootstrap.settings(str(config)))
        pages = [0]

        def progress(read: int, _: int) -> None:
            pages[0] += 1
            if stop_after is not None and pages[0] > stop_after:
                raise Stop

        def composer(progress: Callable[[int, int], None] | None = None) -> Composer:
            return Composer(
                app,
                composer_config,
                page_size=PAGE,
                progress=progress,
                views=SQLViewStore(app.recorder),
            )

        try:
            composer(progress).run()
        except Stop:
            assert app.tracked_position("composer") > 0  # something was committed
            composer().run()
        return pages[0]
    finally:
        app.close()


@pytest.mark.parametrize("when", [0.1, 0.35, 0.6, 0.85])
def test_a_composer_resumed_after_an_intermediate_commit_records_the_clean_log(
    tmp_path: Path, when: float
) -> None:
    config = write_artifact_settings(tmp_path)
    messages = write_jsonl(tmp_path / "story.jsonl", gating_story(seed=14))
    clean_db, crashed_db = f"sqlite:///{tmp_path / 'clean.db'}", f"sqlite:///{tmp_path / 'c.db'}"
    _prepare(clean_db, config, messages)
    for suffix in ("", "-wal", "-shm"):  # the store as it lies, written-ahead log too
        if (tmp_path / f"clean.db{suffix}").exists():
            shutil.copy(tmp_path / f"clean.db{suffix}", tmp_path / f"c.db{suffix}")
    pages = _compose(clean_db, config, None)
    assert pages >= 10, pages
    _compose(crashed_db, config, max(1, int(pages * when)))

    clean, crashed = normalized(event_streams(clean_db)), normalized(event_streams(crashed_db))
    topics = [t for stream in clean.values() for _, t, _ in stream]
    # The composer did real work: composes planned, and later promotions absorbed.
    assert topics.count("domain.composing:ArtifactCompose.Planned") >= 3, topics
    assert topics.count("domain.composing:ArtifactCompose.ChangesAdded") >= 3, topics
    assert clean == crashed, differences(clean, crashed)


def test_a_store_written_before_rounds_were_named_keeps_working(tmp_path: Path) -> None:
    """The committed store was written by the code before rounds were named (its
    composer's triggers are bare message keys; ``tests/fixtures/make_store_before_
    composer_rounds.py``). Its read view is the one that code had, and the story goes
    on in it: a composer stopped after an intermediate commit resumes to the log of
    one that was not."""
    from tests.fixtures import make_store_before_composer_rounds as old

    fixture = json.loads(old.JSON.read_text())
    config = write_artifact_settings(tmp_path, fixture["definitions"])
    composer_config = bootstrap.composer_config(bootstrap.settings(str(config)))
    second = write_jsonl(tmp_path / "second.jsonl", fixture["second_half"])
    dbs = [f"sqlite:///{tmp_path / name}" for name in ("clean.db", "c.db")]
    for name in ("clean.db", "c.db"):
        shutil.copy(old.DB, tmp_path / name)
    app = open_app(dbs[0])
    try:
        legacy = [
            state["trigger"]
            for stream in event_streams(dbs[0]).values()
            for _, topic, state in stream
            if topic.startswith("domain.composing:")
        ]
        assert legacy and all(is_legacy_trigger(t) for t in legacy), legacy
        assert old.composes(Composer(app, composer_config).read_view()) == fixture["composes"]
    finally:
        app.close()

    for db in dbs:
        app = open_app(db)
        try:
            ingest_files(app, [str(second)], batch_size=40)
            cfg = bootstrap.settings(str(config))
            Decider(app, bootstrap.policy_set(cfg), cfg.gating).run()
        finally:
            app.close()
    pages = _compose(dbs[0], config, None)
    assert pages >= 4, pages
    _compose(dbs[1], config, pages // 2)
    clean, crashed = normalized(event_streams(dbs[0])), normalized(event_streams(dbs[1]))
    assert clean == crashed, differences(clean, crashed)
    new = [
        (topic, state)
        for stream in clean.values()
        for _, topic, state in stream
        if topic.startswith("domain.composing:") and not is_legacy_trigger(state["trigger"])
    ]
    # The story went on: later promotions joined the waiting composes, named by round.
    assert any(t.endswith("ChangesAdded") for t, _ in new), new
    assert all(s["trigger"].startswith(DECIDER_ROUND) for t, s in new if "Changes" in t), new
