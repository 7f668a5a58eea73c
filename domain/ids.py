"""Deterministic aggregate ids: uuid5 of natural keys.

The same natural key always gives the same id, in every process and every
store, so redelivered messages and replays find the same aggregates.
These functions and the namespace are a stored schema: never change them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid5

NAMESPACE = UUID("6f1d4c1e-7c1a-5b43-9d0e-2f5a3c8b9e71")


@lru_cache(maxsize=65536)
def subject_id(subject_type: str, identifier: str) -> UUID:
    """A test subject: ``koji_build`` + NVR, ``bodhi_update`` + alias, ..."""
    return uuid5(NAMESPACE, f"subject:{subject_type}:{identifier}")


@lru_cache(maxsize=65536)
def build_id(nvr: str) -> UUID:
    return subject_id("koji_build", nvr)


def change_identifier(namespace: str, repo: str, rev: str) -> str:
    """The subject identifier of a dist-git change: ``rpms/bash#<rev>``."""
    return f"{namespace}/{repo}#{rev}"


@lru_cache(maxsize=65536)
def change_id(namespace: str, repo: str, rev: str) -> UUID:
    return subject_id("dist_git_commit", change_identifier(namespace, repo, rev))


@lru_cache(maxsize=65536)
def message_id(key: str) -> UUID:
    """A received message, by its message id (or content hash, see ``content_key``)."""
    return uuid5(NAMESPACE, f"message:{key}")


def rejected_id(raw: str) -> UUID:
    """Rejected input by content alone: how stores before issue 14 named it (read only)."""
    return uuid5(
        NAMESPACE, "rejected:" + hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()
    )


def rejected_line_id(source: str | None, line: int | None, raw: str, original: str | None) -> UUID:
    """One rejected line (or delivery): its place and its exact content. The same line
    read again from the same file is the same record; the same text at another line
    (or in another file) is a record of its own. ``original`` (base64) is the content
    when given, else ``raw``."""
    content = base64.b64decode(original) if original else raw.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(content).hexdigest()
    return uuid5(NAMESPACE, f"rejected-line:{source}:{line}:{digest}")


def tag_id(tag: str) -> UUID:
    return uuid5(NAMESPACE, f"koji-tag:{tag}")


def task_id(task: int) -> UUID:
    return uuid5(NAMESPACE, f"koji-task:{task}")


def push_id(key: str) -> UUID:
    return uuid5(NAMESPACE, f"push:{key}")


def content_key(topic: str, body: Any) -> str:
    """A stable key for a message that carries no id: hash of topic and canonical body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(f"{topic}\n{canonical}".encode()).hexdigest()
    return f"sha256:{digest}"


def gate_id(context: str, nvr: str) -> UUID:
    """One build's way through one gate (a decision context)."""
    return uuid5(NAMESPACE, f"gate:{context}:{nvr}")


def action_id(key: str) -> UUID:
    """An outbox action, by a key derived from what requested it."""
    return uuid5(NAMESPACE, f"action:{key}")


def bisection_id(context: str, group: str) -> UUID:
    """The bisection of one failing batch check."""
    return uuid5(NAMESPACE, f"bisection:{context}:{group}")


def artifact_id(name: str) -> UUID:
    """An artifact (a repository, OSTree, image, container), by its definition's name."""
    return uuid5(NAMESPACE, f"artifact:{name}")


def compose_run_id(ref: str) -> UUID:
    """A compose as its backend reports it, by its backend reference."""
    return uuid5(NAMESPACE, f"compose-run:{ref}")


def artifact_compose_id(key: str) -> UUID:
    """One compose of one artifact that we planned: ``<artifact>#<generation>``."""
    return uuid5(NAMESPACE, f"artifact-compose:{key}")


def push_run_id(key: str) -> UUID:
    """Our coordination of one Bodhi push."""
    return uuid5(NAMESPACE, f"push-run:{key}")


def release_run_id(key: str) -> UUID:
    """One run of a release lifecycle operation: ``branch:45``, ``eol:43``."""
    return uuid5(NAMESPACE, f"release-run:{key}")
