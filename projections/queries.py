"""The read side's port: what the decision API, the web page and the audit commands ask.

``ReadModel`` is implemented over SQL tables kept by the projector
(``adapters.readmodels``) and, in tests, by in-memory fakes. Everything it returns
is plain data: views the policy engine takes (``ResultView``, ``WaiverView``) and
JSON-able dicts. Times are ISO 8601 strings of *message* time (when the message
was sent), the clock decisions use; ``when`` filters on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from relengotron.policies.snapshot import ResultView, WaiverView

__all__ = ["ReadModel", "SubjectFacts", "flaky_rows"]

Subject = tuple[str, str]  # (subject_type, subject_identifier)


@dataclass(frozen=True)
class SubjectFacts:
    """Everything recorded about one subject up to a time (or up to now)."""

    subject_type: str
    subject_identifier: str
    known: bool = False  # any event about the subject at all
    first_seen: str | None = None  # message time of the first event about the subject
    package: str | None = None  # koji builds: the package name
    # When the subject was created (koji's build ``creation_time``, for rules with
    # ``valid_since``/``valid_until``): for a koji build, the send time of its first
    # BUILDING message (``gating_state.creation_time``); None: unknown (dated rules count).
    created: str | None = None
    results: tuple[ResultView, ...] = ()
    waivers: tuple[WaiverView, ...] = ()
    # ResultsDB's and WaiverDB's records for ``verbose`` answers (a dict or its JSON
    # text; ``projections.folds.greenwave_records``), in the order of the views above; empty
    # unless asked for.
    result_records: tuple[dict[str, Any] | str, ...] = field(default=(), compare=False)
    waiver_records: tuple[dict[str, Any] | str, ...] = field(default=(), compare=False)


class ReadModel(Protocol):
    def position(self) -> int:
        """The last log position the read models have folded."""
        ...

    def subject_facts(
        self, subjects: Sequence[Subject], when: str | None = None, *, records: bool = False
    ) -> dict[Subject, SubjectFacts]:
        """Results and waivers of each subject (only those sent at or before ``when``);
        with ``records``, their ResultsDB/WaiverDB records too."""
        ...

    def build(self, nvr: str) -> dict[str, Any] | None:
        """A build: ``nvr``, ``package``, ``owner``, ``koji_id``, ``state`` (koji state),
        ``change``, ``tags`` (list), ``gate`` (candidate|promoted|quarantined|held|waived|
        obsoleted|untagged|None), ``verdict``, ``decided_at``, ``decision`` (the recorded
        Greenwave-shaped decision), ``first_seen``, ``updated_at``; None if unknown."""
        ...

    def build_history(self, nvr: str) -> list[dict[str, Any]]:
        """What happened to a build, oldest first: ``position``, ``at``, ``kind``
        (state, tagged, untagged, result, waiver, opened, decided, withdrawn, reopened,
        action-requested, action-completed, action-cancelled, signed, rerun-requested,
        flaky), ``summary`` (for people),
        ``msg`` (input message key or None), ``event`` (event ref), ``data`` (dict)."""
        ...

    def decisions(
        self, nvr: str | None = None, *, limit: int = 50, when: str | None = None
    ) -> list[dict[str, Any]]:
        """Recorded gate decisions, newest first: ``nvr``, ``context``, ``verdict``,
        ``previous``, ``at``, ``position``, ``event``, ``trigger``, ``policy_set_hash``,
        ``summary``, ``decision`` (full body)."""
        ...

    def builds_by_gate(self, gate: str, *, limit: int = 200) -> list[dict[str, Any]]:
        """Builds whose gate state is ``gate`` (e.g. candidate, quarantined), newest first,
        shaped as :meth:`build`."""
        ...

    def flaky(self) -> list[dict[str, Any]]:
        """Tests found flaky (failed, then passed on a rerun asked for), one row per test
        case, most first: ``testcase``, ``count`` (reruns it passed on), ``builds``."""
        ...

    def actions(self, nvr: str) -> list[dict[str, Any]]:
        """Outbox actions about a build, oldest first: ``key``, ``kind``, ``params``,
        ``reason``, ``requested_at``, ``outcome``, ``detail``, ``done_at``."""
        ...

    def health(self) -> dict[str, Any]:
        """How far behind the log each follower is: ``head`` (the log's last position),
        ``followers`` (name -> {position, lag}; the decider's and the composer's lag is
        input messages recorded after their position, the read models' lag is events),
        ``outbox`` ({pending, oldest_requested_at}), ``messages`` (recorded)."""
        ...

    def result_records(
        self,
        contains: Sequence[Sequence[str]] = (),
        *,
        data: Mapping[str, Sequence[str]] | None = None,
        testcases: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The ResultsDB records of recorded results (``projections.folds.greenwave_records``),
        oldest first. Narrowed, never exactly (callers check what they asked): ``contains``,
        only records whose JSON text holds, for each group, one of its strings; ``data``,
        only those with, for each key, one of these values (the first ``VALUE_CHARS``
        characters); ``testcases``, only results of these testcases."""
        ...

    def result_page(
        self,
        *,
        testcases: Sequence[str] | None = None,
        outcomes: Sequence[str] | None = None,
        since: tuple[str | None, str | None] = (None, None),
        order: str = "desc",
        offset: int = 0,
        limit: int = 20,
    ) -> list[dict[str, Any]]:
        """Exactly: the ResultsDB records of results of these testcases and outcomes (None:
        any; never ``INVALID``) submitted within ``since`` (sortable text, both ends
        included, as ``greenwave_records.submit_sort_time`` writes it), in ``order``:
        ``desc`` newest ``submit_time`` first (then the later recorded; no time last),
        ``asc`` the reverse, ``log`` as recorded; ``limit`` of them from ``offset``."""
        ...

    def messages(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Input messages by key: ``key``, ``topic``, ``family``, ``status``, ``at``,
        ``position``."""
        ...


def flaky_rows(history: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``ReadModel.flaky`` from a build history's ``flaky`` rows (``Gate.FlakyFound``)."""
    found: dict[str, dict[str, Any]] = {}
    for h in history:
        data = h.get("data") or {}
        testcase = data.get("testcase")
        if h.get("kind") != "flaky" or not isinstance(testcase, str):
            continue
        row = found.setdefault(testcase, {"testcase": testcase, "count": 0, "builds": []})
        row["count"] += 1
        if h["nvr"] not in row["builds"]:
            row["builds"].append(h["nvr"])
    return sorted(found.values(), key=lambda r: (-r["count"], r["testcase"]))
