"""An in-memory ReadModel (``projections.queries.ReadModel``) for API tests.

Results and waivers carry the time their message was sent; ``when`` hides those sent
after it, as the SQL read model does. Positions grow with every fact added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from relengotron.policies.snapshot import ResultView, WaiverView, public_id
from relengotron.projections.folds.greenwave_records import (
    VALUE_CHARS,
    data_rows,
    result_record,
    submit_sort_time,
    waiver_record,
)
from relengotron.projections.queries import SubjectFacts, flaky_rows

Subject = tuple[str, str]


def _t(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _visible(at: str | None, when: str | None) -> bool:
    return when is None or at is None or _t(at) <= _t(when)


@dataclass
class _Subject:
    first_seen: str | None = None
    package: str | None = None
    results: list[tuple[ResultView, dict[str, Any]]] = field(default_factory=list)
    waivers: list[tuple[WaiverView, str, dict[str, Any]]] = field(default_factory=list)


class FakeReadModel:
    def __init__(self) -> None:
        self._position = 0
        self.subjects: dict[Subject, _Subject] = {}
        self.builds: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.decision_rows: list[dict[str, Any]] = []
        self.action_rows: dict[str, list[dict[str, Any]]] = {}
        self.message_rows: dict[str, dict[str, Any]] = {}
        self.broken = False  # position() raises: the store cannot be read
        self.calls: list[str] = []

    def _next(self) -> int:
        self._position += 1
        return self._position

    def _subject(self, subject_type: str, identifier: str, at: str | None) -> _Subject:
        s = self.subjects.setdefault((subject_type, identifier), _Subject())
        if at is not None and (s.first_seen is None or _t(at) < _t(s.first_seen)):
            s.first_seen = at
        return s

    # ---------------------------------------------------------------- building

    def health(self) -> dict[str, Any]:
        return {
            "head": self._position,
            "followers": {"readmodels": {"position": self._position, "lag": 0}},
            "outbox": {"pending": 1, "oldest_requested_at": "2024-03-01T12:00:00+00:00"},
            "messages": len(self.message_rows),
        }

    def seen(self, subject_type: str, identifier: str, at: str, package: str | None = None) -> None:
        self._subject(subject_type, identifier, at).package = package

    def add_result(
        self,
        subject_type: str,
        identifier: str,
        testcase: str,
        outcome: str,
        *,
        at: str,
        scenario: str | None = None,
        result_id: str | int | None = None,
        system_architecture: str | None = None,
        system_variant: str | None = None,
        origin: str = "resultsdb",
        record: dict[str, Any] | None = None,
    ) -> ResultView:
        """A result as the read model gives it (its verbose record built by the same
        code as the SQL read model's, from an event-shaped state)."""
        position = self._next()
        if result_id is None and origin == "resultsdb":
            result_id = str(1000 + position)
        event = f"result-{position}/1"
        data = {
            k: v
            for k, v in (
                ("system_architecture", system_architecture),
                ("system_variant", system_variant),
            )
            if v is not None
        }
        state = {
            "subject_type": subject_type,
            "subject_identifier": identifier,
            "testcase": testcase,
            "outcome": outcome,
            "origin": origin,
            "scenario": scenario,
            "result_id": result_id,
            "data": data,
            "at": at,
            "msg": f"msg-{position}",
            "record": record,
        }
        view = ResultView(
            testcase=testcase,
            outcome=outcome,
            subject_type=subject_type,
            subject_identifier=identifier,
            event=event,
            position=position,
            scenario=scenario,
            result_id=public_id(result_id, event),
            at=at,
            system_architecture=system_architecture,
            system_variant=system_variant,
        )
        rec = result_record(state, event)
        self._subject(subject_type, identifier, at).results.append((view, rec))
        return view

    def add_waiver(
        self,
        subject_type: str,
        identifier: str,
        testcase: str,
        *,
        at: str,
        waived: bool = True,
        scenario: str | None = None,
        product_version: str | None = None,
        waiver_id: str | int | None = None,
        username: str = "alice",
        comment: str = "known issue",
    ) -> WaiverView:
        position = self._next()
        waiver_id = waiver_id or str(500 + position)
        event = f"waiver-{position}/1"
        view = WaiverView(
            testcase=testcase,
            waived=waived,
            subject_type=subject_type,
            subject_identifier=identifier,
            event=event,
            position=position,
            scenario=scenario,
            waiver_id=public_id(waiver_id, event),
            product_version=product_version,
            username=username,
            comment=comment,
        )
        state = {
            "testcase": testcase,
            "waived": waived,
            "waiver_id": waiver_id,
            "scenario": scenario,
            "product_version": product_version,
            "username": username,
            "comment": comment,
            "at": at,
            "msg": f"msg-{position}",
        }
        record = waiver_record(state, subject_type, identifier, event)
        self._subject(subject_type, identifier, at).waivers.append((view, at, record))
        return view

    def add_decision(self, nvr: str, decision: dict[str, Any], *, at: str) -> dict[str, Any]:
        position = self._next()
        row = {
            "nvr": nvr,
            "context": decision.get("decision_context"),
            "verdict": decision.get("verdict"),
            "previous": None,
            "at": at,
            "position": position,
            "event": f"gate-{position}/1",
            "trigger": f"msg-{position}",
            "policy_set_hash": decision.get("policy_set_hash"),
            "summary": decision.get("summary"),
            "decision": decision,
        }
        self.decision_rows.append(row)
        return row

    # ---------------------------------------------------------------- the port

    def position(self) -> int:
        if self.broken:
            raise RuntimeError("the store cannot be read")
        return self._position

    def subject_facts(
        self, subjects: Sequence[Subject], when: str | None = None, *, records: bool = False
    ) -> dict[Subject, SubjectFacts]:
        self.calls.append("subject_facts")
        out: dict[Subject, SubjectFacts] = {}
        for key in subjects:
            s = self.subjects.get(key)
            if s is None:
                out[key] = SubjectFacts(*key)
                continue
            results = [(v, r) for v, r in s.results if _visible(v.at, when)]
            waivers = [(v, r) for v, at, r in s.waivers if _visible(at, when)]
            out[key] = SubjectFacts(
                subject_type=key[0],
                subject_identifier=key[1],
                known=True,
                first_seen=s.first_seen,
                package=s.package,
                results=tuple(v for v, _ in results),
                waivers=tuple(v for v, _ in waivers),
                result_records=tuple(r for _, r in results),
                waiver_records=tuple(r for _, r in waivers),
            )
        return out

    def result_records(
        self,
        contains: Sequence[Sequence[str]] = (),
        *,
        data: Mapping[str, Sequence[str]] | None = None,
        testcases: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        self.calls.append("result_records")
        found = sorted(
            ((v.position, r) for s in self.subjects.values() for v, r in s.results),
            key=lambda x: x[0],
        )
        out = []
        for _, record in found:
            text = orjson.dumps(record).decode()
            if testcases is not None and record["testcase"]["name"] not in testcases:
                continue
            values = {(r["key"], r["value"]) for r in data_rows(0, record)}
            wanted = (data or {}).items()
            if not all(any((k, v[:VALUE_CHARS]) in values for v in vs) for k, vs in wanted):
                continue
            if all(any(c in text for c in group) for group in contains):
                out.append(record)
        return out

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
        self.calls.append("result_page")
        found = sorted(
            ((v.position, r) for s in self.subjects.values() for v, r in s.results),
            key=lambda x: x[0],
        )
        rows = []
        for position, r in found:
            t = submit_sort_time(r)
            if r["outcome"] == "INVALID" or (outcomes is not None and r["outcome"] not in outcomes):
                continue
            if testcases is not None and r["testcase"]["name"] not in testcases:
                continue
            if since[0] is not None and (t is None or t < since[0]):
                continue
            if since[1] is not None and (t is None or t > since[1]):
                continue
            rows.append((t, position, r))
        if order != "log":
            rows.sort(key=lambda x: (x[0] is not None, x[0] or "", x[1]), reverse=True)
            if order == "asc":
                rows.reverse()
        return [r for _, _, r in rows[offset : offset + limit]]

    def build(self, nvr: str) -> dict[str, Any] | None:
        return self.builds.get(nvr)

    def build_history(self, nvr: str) -> list[dict[str, Any]]:
        return list(self.history.get(nvr, []))

    def flaky(self) -> list[dict[str, Any]]:
        return flaky_rows(h for rows in self.history.values() for h in rows)

    def decisions(
        self, nvr: str | None = None, *, limit: int = 50, when: str | None = None
    ) -> list[dict[str, Any]]:
        self.calls.append("decisions")
        rows = [
            r
            for r in self.decision_rows
            if (nvr is None or r["nvr"] == nvr) and _visible(r["at"], when)
        ]
        return sorted(rows, key=lambda r: r["position"], reverse=True)[:limit]

    def builds_by_gate(self, gate: str, *, limit: int = 200) -> list[dict[str, Any]]:
        return [b for b in self.builds.values() if b.get("gate") == gate][:limit]

    def actions(self, nvr: str) -> list[dict[str, Any]]:
        return list(self.action_rows.get(nvr, []))

    def messages(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {k: self.message_rows[k] for k in keys if k in self.message_rows}
