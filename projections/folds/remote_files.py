"""Which remote rule files (gating.yaml) a build's decision needs, and the ones recorded.

The decider and the fetcher (``adapters/remote_rule_fetch.py``) ask the same question:
for this build, under this policy set, which URLs does a ``RemoteRule`` read? The build's
dist-git source is the change linked to it (its ``source`` URL, a ``git.receive``); the
files are what ``RemoteRuleFile.Fetched`` events recorded (``GatingView.remote_files``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import Any

from relengotron.policies.answers import GATING_YAML_FAILED_FETCH
from relengotron.policies.decision import Decision
from relengotron.policies.remote import (
    NOT_FETCHED,
    SOURCE_UNKNOWN,
    remote_urls,
    scm_from_source_url,
)
from relengotron.policies.snapshot import RemoteFileView, RemoteRuleInput, Snapshot
from relengotron.policies.spec import PolicySet, RemoteRule, policy_set_from_canonical

__all__ = [
    "awaits_remote_file",
    "decode_files",
    "encode_files",
    "file_view",
    "needed_urls",
    "remote_rules",
    "scm_of_change",
    "source_input",
    "with_remote_files",
]


def awaits_remote_file(decision: Decision) -> bool:
    """The decision lacks a gating.yaml never fetched, or the build's source never asked
    of koji (not one that failed: that is decided, held)."""
    return any(
        r.type == GATING_YAML_FAILED_FETCH and r.detail in (NOT_FETCHED, SOURCE_UNKNOWN)
        for r in decision.unsatisfied_requirements
    )


def scm_of_change(change: str | None) -> tuple[str, str, str] | None:
    """(namespace, name, rev) of a change identifier ``rpms/bash#<rev>``."""
    if not change or "#" not in change:
        return None
    path, _, rev = change.partition("#")
    namespace, _, name = path.rpartition("/")
    return (namespace, name, rev) if name and rev else None


def remote_rules(policy_set: PolicySet, snapshot: Snapshot) -> list[RemoteRule]:
    """The RemoteRules of the policies that could apply to the snapshot."""
    return [
        rule
        for policy in policy_set.policies
        if policy.subject_type == snapshot.subject_type
        and snapshot.decision_context in policy.decision_contexts
        and any(fnmatchcase(snapshot.product_version, p) for p in policy.product_versions)
        and _allowed(policy.packages, policy.excluded_packages, snapshot.package)
        for rule in policy.rules
        if isinstance(rule, RemoteRule)
    ]


def _allowed(packages: tuple[str, ...], excluded: tuple[str, ...], package: str | None) -> bool:
    """A policy whose allowlist leaves the package out, or that excludes it, reads no file."""
    if not package:
        return True
    if any(fnmatchcase(package, p) for p in excluded):
        return False
    return not packages or any(fnmatchcase(package, p) for p in packages)


def needed_urls(policy_set: PolicySet, snapshot: Snapshot) -> list[list[str]]:
    """For each RemoteRule that could apply, its URLs in the order Greenwave tries them."""
    chains: list[list[str]] = []
    for rule in remote_rules(policy_set, snapshot):
        urls, error = remote_urls(rule, snapshot)
        if error is None and urls and urls not in chains:
            chains.append(urls)
    return chains


def with_remote_files(
    snapshot: Snapshot,
    policy_set: PolicySet,
    templates: tuple[str, ...],
    change: str | None,
    files: Mapping[str, list[RemoteFileView]],
    observed: tuple[str | None, str | None] | None = None,
) -> Snapshot:
    """The snapshot with what its RemoteRules read: the source (the change linked to the
    build, else koji's ``getBuild`` answer, ``observed``: (source, error)) and the
    recorded files."""
    if not remote_rules(policy_set, snapshot):
        return snapshot
    source = source_input(templates, change, observed)
    base = replace(snapshot, remote=source)
    wanted = {url for chain in needed_urls(policy_set, base) for url in chain}
    recorded = tuple(f for url in sorted(wanted) for f in files.get(url, ()))
    return replace(snapshot, remote=replace(source, files=recorded))


def source_input(
    templates: tuple[str, ...],
    change: str | None,
    observed: tuple[str | None, str | None] | None,
) -> RemoteRuleInput:
    """Greenwave's ``retrieve_scm_from_koji``: a build without a source skips the
    templates that need one; a source without a commit is an error."""
    scm = scm_of_change(change)
    if scm is not None or observed is None:
        return RemoteRuleInput(templates=templates, scm=scm)
    source, error = observed
    if error is not None:
        return RemoteRuleInput(templates=templates, source_error=error)
    if not source:
        return RemoteRuleInput(templates=templates, no_source=True)
    try:
        return RemoteRuleInput(templates=templates, scm=scm_from_source_url(source))
    except ValueError as exc:
        return RemoteRuleInput(templates=templates, source_error=str(exc))


def file_view(e: Any, position: int, event: str) -> RemoteFileView:
    """A ``RemoteRuleFile.Fetched`` event as the engine reads it. Stored policies that
    cannot be read back (a store edited by hand) make the file invalid, never valid."""
    error = e.error
    policies: tuple[Any, ...] = ()
    if e.status == "found" and e.policies is not None:
        try:
            policies = policy_set_from_canonical(list(e.policies)).policies
        except ValueError as exc:
            error = f"the recorded policies cannot be read: {exc}"
    return RemoteFileView(
        url=e.url,
        status=e.status,
        event=event,
        position=position,
        content_hash=e.content_hash,
        policies=policies,
        error=error,
    )


def encode_files(files: list[RemoteFileView]) -> list[dict[str, Any]]:
    """Recorded files as documents of a stored view (their policies in canonical form)."""
    return [
        {
            "url": f.url,
            "status": f.status,
            "event": f.event,
            "position": f.position,
            "content_hash": f.content_hash,
            "policies": [p.canonical() for p in f.policies],
            "error": f.error,
        }
        for f in files
    ]


def decode_files(docs: list[dict[str, Any]]) -> list[RemoteFileView]:
    """The files of ``encode_files`` again, their policies read as when recorded."""
    out = []
    for d in docs:
        policies = policy_set_from_canonical(d["policies"]).policies if d["policies"] else ()
        out.append(RemoteFileView(**{**d, "policies": policies}))
    return out
