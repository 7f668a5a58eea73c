"""What the decision API's RemoteRules read: the build's dist-git source and the
gating.yaml files recorded in the log, fetched (and recorded) the first time a decision
needs one (``adapters/rules/remote_rule_fetch.py``). Point reads of two aggregates per subject:
the build's events (its ``source``) and each file's ``RemoteRuleFile`` stream."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from relengotron.adapters.rules.remote_rule_fetch import fetch, record
from relengotron.adapters.settings import Settings
from relengotron.domain import ids, topics
from relengotron.domain.application import RelengApp
from relengotron.domain.remote_rules import ABSENT, FOUND, build_source_id, remote_rule_file_id
from relengotron.domain.topics import topic_of
from relengotron.policies.remote import remote_urls
from relengotron.policies.snapshot import RemoteFileView, RemoteRuleInput, Snapshot
from relengotron.policies.spec import PolicySet, RemoteRule
from relengotron.projections.folds.remote_files import file_view, source_input

__all__ = ["StoreRemoteRules"]


class StoreRemoteRules:
    """``DecisionService(remote=...)``: ``fetch`` False only reads what is recorded."""

    def __init__(self, app: RelengApp, cfg: Settings, *, fetch: bool = True) -> None:
        self.app = app
        self.cfg = cfg
        self.fetch = fetch

    def _change(self, subject: Snapshot) -> str | None:
        if subject.subject_type != "koji_build":
            return None
        change = None
        for e in self.app.events.get(ids.build_id(subject.subject_identifier)):
            change = getattr(e, "change", None) or change
        return change

    def _observed(self, subject: Snapshot) -> tuple[str | None, str | None] | None:
        """koji's answer for the build's source, when a decide run asked it."""
        seen = None
        e: Any
        for e in self.app.events.get(build_source_id(subject.subject_identifier)):
            if topic_of(e) == topics.BUILD_SOURCE_OBSERVED:
                seen = (e.source, e.error)
        return seen

    def _files(self, url: str) -> list[RemoteFileView]:
        events: list[Any] = list(self.app.events.get(remote_rule_file_id(url)))
        return [
            file_view(e, e.originator_version, f"{e.originator_id}/{e.originator_version}")
            for e in events
            if topic_of(e) == topics.REMOTE_RULE_FILE_FETCHED
        ]

    def __call__(self, subject: Snapshot, policy_set: PolicySet) -> RemoteRuleInput | None:
        rules = [r for p in policy_set.policies for r in p.rules if isinstance(r, RemoteRule)]
        if not rules:
            return None
        templates = self.cfg.gating.remote_rule_templates
        base = source_input(templates, self._change(subject), self._observed(subject))
        probe = replace(subject, remote=base)
        files: list[RemoteFileView] = []
        for rule in dict.fromkeys(rules):
            urls, error = remote_urls(rule, probe)
            for url in urls if error is None else ():
                found = self._files(url)
                status = found[-1].status if found else None
                if status not in (FOUND, ABSENT) and self.fetch:
                    outcome = fetch(url, self.cfg.remote_rules)
                    record(self.app, url, outcome, [subject.subject_identifier], _now(), -1)
                    found = self._files(url)
                    status = outcome.status
                files.extend(found)
                if status != ABSENT:  # Greenwave's order: the next URL only after a 404
                    break
        return replace(base, files=tuple(files))


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()
