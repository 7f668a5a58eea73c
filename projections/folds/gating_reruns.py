"""Reruns, as the gating view folds them: asked for, awaited, answered, flaky.

A ``Build.RerunRequested`` event (``relengotron rerun``) is awaited until its deadline
(message time + ``rerun_timeout_hours``); the first newer complete result of the test
(and scenario, when the rerun names one) answers it. A test whose result before the
request had failed (any outcome that is not PASSED or INFO) and that passes on the
rerun is *flaky*: counted per test case, over every build.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from relengotron.policies.snapshot import RerunView, ResultView
from relengotron.projections.folds.gating_state import BuildState, RerunState
from relengotron.projections.folds.records import ref
from relengotron.projections.folds.view_docs import Docs

if TYPE_CHECKING:
    from relengotron.projections.folds.gating import GatingView

__all__ = ["Reruns"]

_PASSED = ("PASSED", "INFO")
_NO_ANSWER = ("QUEUED", "RUNNING", "INVALID")  # not (yet) a result of the rerun


def plus_hours(at: str | None, hours: float) -> str | None:
    """``at`` (ISO time) plus ``hours``; None when there is no such time (no start, an
    endless timeout, a time that does not parse): a deadline that never comes."""
    if at is None or math.isinf(hours):
        return None
    try:
        return (datetime.fromisoformat(at) + timedelta(hours=hours)).isoformat()
    except ValueError:
        return None


def _matches(rerun: RerunState, result: ResultView) -> bool:
    return rerun.testcase == result.testcase and rerun.scenario in (None, result.scenario)


class Reruns:
    def __init__(self, docs: Docs) -> None:
        # testcase -> the reruns (their events) it failed before and passed on (flaky),
        # as the decider recorded them (``Gate.FlakyFound``)
        self.flaky = docs.map("flaky", list[str])
        # (deadline, nvr) of reruns still awaited, oldest deadline first
        self._due = docs.cell("rerun_deadlines", list[tuple[str, str]], list)
        # What the next decision round publishes and records (cleared by settle(); never
        # stored): reruns asked for; (nvr, rerun, the failed result's event, the passing
        # one's) of tests found flaky.
        self.requested: list[tuple[str, RerunState]] = []
        self.found: list[tuple[str, RerunState, str | None, str]] = []

    def on_requested(self, view: GatingView, e: Any, position: int) -> None:
        nvr = view._nvr(e)
        if nvr is None:
            return
        rerun = RerunState(
            testcase=e.testcase,
            event=ref(e),
            position=position,
            scenario=e.scenario,
            at=e.at,
            deadline=plus_hours(e.at, view.config.rerun_timeout_hours),
            reason=e.reason,
            username=e.username,
            msg=e.msg,
        )
        view.build(nvr).reruns.append(rerun)
        if rerun.deadline is not None:
            self._due.value = sorted([*self._due.value, (rerun.deadline, nvr)])
        self.requested.append((nvr, rerun))
        view.dirty.add(nvr)

    def on_result(self, view: GatingView, nvr: str, result: ResultView) -> None:
        """A new result of the build: does it answer a rerun, and was the test flaky?"""
        b = view.build(nvr)
        if result.outcome in _NO_ANSWER:
            return
        for rerun in b.reruns:
            if rerun.answered_by is not None or result.position <= rerun.position:
                continue
            if not _matches(rerun, result):
                continue
            rerun.answered_by, rerun.outcome = result.event, result.outcome
            before = [
                r
                for r in b.results
                if r.position < rerun.position
                and _matches(rerun, r)
                and r.outcome not in _NO_ANSWER
            ]
            last = max(before, key=lambda r: r.position) if before else None
            if last is not None and last.outcome not in _PASSED and result.outcome in _PASSED:
                rerun.flaky = True
                self.found.append((nvr, rerun, last.event, result.event))

    def on_flaky_found(self, view: GatingView, e: Any, position: int) -> None:
        """The decider recorded a flaky test (``Gate.FlakyFound``): count it, once."""
        found = self.flaky.get(e.testcase) or []
        if e.rerun not in found:
            self.flaky[e.testcase] = [*found, e.rerun]

    def due(self, now: str | None) -> list[str]:
        """The builds whose awaited reruns' deadlines have passed by ``now`` (each once)."""
        if now is None or not self._due.value:
            return []
        passed = [(d, n) for d, n in self._due.value if d < now]
        if passed:
            self._due.value = [(d, n) for d, n in self._due.value if d >= now]
        return sorted({n for _, n in passed})

    @staticmethod
    def views(b: BuildState | None, now: str | None) -> tuple[RerunView, ...]:
        """The build's reruns no result answered yet, for the engine."""
        if b is None:
            return ()
        return tuple(
            RerunView(
                testcase=r.testcase,
                event=r.event,
                position=r.position,
                scenario=r.scenario,
                requested_at=r.at,
                deadline=r.deadline,
                username=r.username,
                expired=bool(now and r.deadline and r.deadline < now),
            )
            for r in b.reruns
            if r.answered_by is None
        )

    def flaky_counts(self, testcases: list[str] | None = None) -> dict[str, int]:
        """Per test case, how many reruns it passed on after failing (flaky)."""
        names = testcases if testcases is not None else list(self.flaky)
        return {t: len(self.flaky.get(t) or ()) for t in names if self.flaky.get(t)}
