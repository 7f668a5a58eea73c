"""One distribution namespace: the design's folders are imported as ``relengotron.*``.

A module imported as ``domain.x`` beside ``relengotron.domain.x`` would be a second copy
of the same code with its own classes: events of one would not be found by the folds of
the other. So nothing of ours imports the old top-level names, and the stored topics
(which keep the old module paths, see ``domain.stored``) resolve to the one copy.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

from eventsourcing.utils import get_topic, resolve_topic

import relengotron

REPO = Path(__file__).resolve().parents[2]
OLD = ("domain", "policies", "projections", "adapters")


def test_importing_every_module_imports_no_old_top_level_package() -> None:
    # A fresh interpreter: this test process may hold anything.
    code = (
        "import importlib, pkgutil, sys, relengotron\n"
        "for m in pkgutil.walk_packages(relengotron.__path__, 'relengotron.'):\n"
        "    importlib.import_module(m.name)\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {OLD!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_stored_topics_keep_the_old_module_paths() -> None:
    from relengotron.domain import gating, message, subjects

    assert get_topic(message.InboundMessage.Received) == "domain.message:InboundMessage.Received"
    assert get_topic(subjects.Build) == "domain.subjects:Build"
    # An event class eventsourcing redefines in a subclass aggregate has its own topic.
    assert get_topic(subjects.Build.ResultRecorded) == "domain.subjects:Build.ResultRecorded"
    assert get_topic(subjects.Subject.ResultRecorded) == "domain.subjects:Subject.ResultRecorded"
    assert resolve_topic("domain.gating:Gate.Decided") is gating.Gate.Decided


def test_every_aggregate_and_event_topic_is_its_path_without_the_namespace() -> None:
    from eventsourcing.domain import Aggregate, CanMutateAggregate

    from relengotron.domain.stored import StoredAggregate

    seen = 0
    for info in pkgutil.iter_modules(relengotron.domain.__path__, "relengotron.domain."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if not (
                isinstance(obj, type) and issubclass(obj, Aggregate)
            ) or not obj.__module__.startswith("relengotron."):
                continue
            if obj is StoredAggregate:
                continue
            assert issubclass(obj, StoredAggregate), obj
            classes = [obj] + [
                v for k, v in vars(obj).items()
                if isinstance(v, type) and issubclass(v, CanMutateAggregate) and k != "Event"
            ]  # fmt: skip
            for cls in classes:
                topic = get_topic(cls)
                assert topic == f"{cls.__module__.removeprefix('relengotron.')}:{cls.__qualname__}"
                assert resolve_topic(topic) is cls
                seen += 1
    assert seen > 60
