"""Remote rule files (a package's ``gating.yaml``) as they were fetched: the log, not the
network, is what decisions read, so a replay decides exactly as the original run did.

One aggregate per URL (the URL names the repository and the commit: a newer commit's
file is another URL, so another aggregate). Each fetch is one ``Fetched`` event: the
file's bytes (base64) and hash, or ``absent`` (404), or ``error`` (timeout, 5xx: nothing
known, the gate stays closed); and, for a file found, its policies already read (the
``PolicySet`` canonical form of Greenwave's ``RemotePolicy``) or why it could not be read.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from relengotron.domain import ids
from relengotron.domain.stored import StoredAggregate

# The stored event topics are a schema, named once in domain.topics.

# Fetched.status values (policies/snapshot.py REMOTE_* read them).
FOUND = "found"
ABSENT = "absent"
ERROR = "error"
STATUSES = (FOUND, ABSENT, ERROR)


def remote_rule_file_id(url: str) -> UUID:
    return uuid5(ids.NAMESPACE, f"remote-rule-file:{url}")


class RemoteRuleFile(StoredAggregate):
    @staticmethod
    def create_id(url: str) -> UUID:
        return remote_rule_file_id(url)

    @event("Seen")
    def __init__(self, url: str) -> None:
        self.url = url
        self.status: str | None = None
        self.content_hash: str | None = None

    @event("Fetched")
    def record_fetch(
        self,
        url: str,
        at: str,
        status: str,
        content_b64: str | None,
        content_hash: str | None,
        error: str | None,
        policies: list[dict[str, Any]] | None,
        attempts: int,
        subjects: list[str],
        after: int,
    ) -> None:
        """``at``: when it was fetched; ``subjects``: the builds that asked for it;
        ``after``: the log position the decider had decided up to when it asked (the
        fetches of one run share it: a replay decides them together, as the run did;
        -1: asked for by the decision API, outside a decide run);
        ``error``: the fetch error (status error) or why the file cannot be read
        (status found, ``policies`` None: Greenwave's invalid-gating-yaml details)."""
        if status not in STATUSES:
            raise ValueError(f"unknown remote rule file status {status!r}")
        self.status = status
        self.content_hash = content_hash


def build_source_id(nvr: str) -> UUID:
    return uuid5(ids.NAMESPACE, f"build-source:{nvr}")


class BuildSource(StoredAggregate):
    """A build's SCM source as koji's ``getBuild`` answered it, asked when no message gave
    it (Greenwave's ``retrieve_koji_build_source``): the dist-git commit a RemoteRule reads."""

    @staticmethod
    def create_id(nvr: str) -> UUID:
        return build_source_id(nvr)

    @event("Seen")
    def __init__(self, nvr: str) -> None:
        self.nvr = nvr

    @event("Observed")
    def observe(self, nvr: str, at: str, source: str | None, error: str | None, after: int) -> None:
        """``source``: koji's answer (None: the build has none); ``error``: koji could
        not be asked or does not know the build (nothing known: asked again later);
        ``after``: as ``RemoteRuleFile.Fetched``."""
