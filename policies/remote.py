"""Greenwave's ``RemoteRule``, made pure: the package's own gating.yaml, as recorded.

Mirrors ``greenwave/policies.py`` (``RemoteRule._get_sub_policies``, ``check``,
``matches``, ``_remote_urls``, ``RemotePolicy``) and ``greenwave/resources.py``
(``retrieve_scm_from_koji_build``): the URL templates (the rule's ``sources``, else the
ones configured for the subject type) are filled from the build's dist-git source and
tried in order; the first file that exists counts. Nothing is fetched here: the files
come in the snapshot (``RemoteRuleInput.files``), recorded by the adapter that fetched
them. A URL with no recorded file, or whose fetch failed, answers
``failed-fetch-gating-yaml`` (unsatisfied: the gate stays closed until the file is known).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

from relengotron.domain.facts import canonical_subject_type
from relengotron.policies.answers import (
    GATING_YAML_FAILED_FETCH,
    GATING_YAML_FETCHED,
    GATING_YAML_INVALID,
    GATING_YAML_MISSING,
    Requirement,
)
from relengotron.policies.snapshot import (
    REMOTE_ABSENT,
    REMOTE_ERROR,
    REMOTE_FOUND,
    RemoteFileView,
    Snapshot,
)
from relengotron.policies.spec import Policy, RemoteRule

__all__ = ["ANY_CONTEXT", "RemoteOutcome", "remote_outcome", "remote_urls", "scm_from_source_url"]

NOT_FETCHED = "the remote rule file has not been fetched yet"
# ``Snapshot.asked_contexts`` of an on-demand policy (Greenwave's ``OnDemandPolicy``): the
# file's policies are chosen by product version, whatever their decision contexts.
ANY_CONTEXT = "\x00any-context"
SOURCE_UNKNOWN = "the build's dist-git source is not known yet"
_PKG_PLACEHOLDERS = ("{pkg_name}", "{pkg_namespace}", "{rev}")


def scm_from_source_url(source: str) -> tuple[str, str, str]:
    """(namespace, name, rev) of a koji build's ``source`` (e.g.
    ``git+https://src.fedoraproject.org/rpms/bash.git#1a2b...``), as Greenwave's
    ``retrieve_scm_from_koji_build``. Raises ValueError with Greenwave's reason."""
    if not source:
        raise ValueError('expected SCM URL in "source" attribute')
    base, _, rev = source.partition("#")
    path = re.sub(r"^[a-z+]+://[^/]*", "", base)
    parts = path.rsplit("/", 2)
    namespace = parts[-2] if len(parts) >= 3 else ""
    if not rev:
        raise ValueError(
            f'Failed to parse SCM URL "{source}" (missing URL fragment with SCM revision'
            " information)"
        )
    name = re.sub(r"\.git$", "", path.split("/")[-1])
    return namespace, name, rev


def remote_urls(rule: RemoteRule, snapshot: Snapshot) -> tuple[list[str], str | None]:
    """The URLs to try, in order, and an error when the source is needed but unknown."""
    remote = snapshot.remote
    templates = rule.sources if rule.sources is not None else (remote.templates if remote else ())
    urls: list[str] = []
    for template in templates:
        params: dict[str, str] = {}
        if any(p in template for p in _PKG_PLACEHOLDERS):
            if remote is None or remote.scm is None:
                if remote is not None and remote.no_source:
                    continue  # Greenwave's NoSourceException: this template is skipped
                return urls, (remote.source_error if remote else None) or SOURCE_UNKNOWN
            namespace, name, rev = remote.scm
            if namespace == "containers":
                name = re.sub("-container$", "", name)
            params.update(
                pkg_namespace=f"{namespace}/" if namespace else "", pkg_name=name, rev=rev
            )
        if "{subject_id}" in template:
            sid = snapshot.subject_identifier
            params["subject_id"] = sid[7:] if sid.startswith("sha256:") else sid
        try:
            urls.append(template.format(**params))
        except (KeyError, IndexError, ValueError) as exc:
            return urls, f"bad remote rule URL template {template!r}: {exc}"
    return urls, None


@dataclass(frozen=True)
class RemoteOutcome:
    """What one RemoteRule gives: its own answers and the sub-policies that apply."""

    answers: tuple[Requirement, ...]
    sub_policies: tuple[Policy, ...]  # already filtered by the parent's decision contexts
    file: RemoteFileView | None = None  # the file used, for explain

    @property
    def failed(self) -> bool:
        return any(not a.satisfied for a in self.answers)


def _latest_file(snapshot: Snapshot, url: str) -> RemoteFileView | None:
    files = [f for f in (snapshot.remote.files if snapshot.remote else ()) if f.url == url]
    return max(files, key=lambda f: f.position, default=None)


def _answer(
    snapshot: Snapshot, policy: Policy, type_: str, testcase: str, **kw: object
) -> Requirement:
    return Requirement(
        type=type_,
        subject_type=snapshot.subject_type,
        subject_identifier=snapshot.subject_identifier,
        testcase=testcase,
        policy_id=policy.id,
        **kw,  # type: ignore[arg-type]
    )


def remote_outcome(rule: RemoteRule, policy: Policy, snapshot: Snapshot) -> RemoteOutcome:
    """Greenwave's ``RemoteRule._get_sub_policies`` on the recorded files."""
    urls, error = remote_urls(rule, snapshot)
    found: RemoteFileView | None = None
    if error is None:
        for url in urls:
            view = _latest_file(snapshot, url)
            if view is None or view.status == REMOTE_ERROR:
                why = (
                    NOT_FETCHED if view is None else f"Failed to get remote policies: {view.error}"
                )
                tried = tuple(urls[: urls.index(url) + 1])
                answer = _answer(
                    snapshot,
                    policy,
                    GATING_YAML_FAILED_FETCH,
                    GATING_YAML_FAILED_FETCH,
                    sources=tried,
                    detail=why,
                    event=view.event if view else None,
                )
                return RemoteOutcome((answer,), (), view)
            if view.status == REMOTE_FOUND:
                found = view
                break
            assert view.status == REMOTE_ABSENT, view.status
    if error is not None:
        answer = _answer(
            snapshot,
            policy,
            GATING_YAML_FAILED_FETCH,
            GATING_YAML_FAILED_FETCH,
            sources=tuple(urls),
            detail=error,
        )
        return RemoteOutcome((answer,), ())
    if found is None:
        if not rule.required:
            return RemoteOutcome((), ())
        missing = _answer(
            snapshot, policy, GATING_YAML_MISSING, GATING_YAML_MISSING, sources=tuple(urls)
        )
        return RemoteOutcome((missing,), ())
    answers = [
        _answer(
            snapshot,
            policy,
            GATING_YAML_FETCHED,
            GATING_YAML_FETCHED,
            source=found.url,
            event=found.event,
        )
    ]
    if found.error is not None:
        answers.append(
            _answer(
                snapshot,
                policy,
                GATING_YAML_INVALID,
                GATING_YAML_INVALID,
                source=found.url,
                detail=found.error,
                event=found.event,
            )
        )
        return RemoteOutcome(tuple(answers), (), found)
    if ANY_CONTEXT in snapshot.asked_contexts:  # OnDemandPolicy.matches_sub_policy
        version = snapshot.product_version
        subs = tuple(
            p for p in found.policies if any(fnmatchcase(version, v) for v in p.product_versions)
        )
    else:  # Policy.matches_sub_policy: a decision context in common with the parent
        parents = set(policy.decision_contexts)
        subs = tuple(p for p in found.policies if parents.intersection(p.decision_contexts))
    return RemoteOutcome(tuple(answers), subs, found)


def sub_policy_matches(sub: Policy, snapshot: Snapshot) -> bool:
    """``RemotePolicy.matches``: context, product version (fnmatch), subject type (``*``
    = any; an alias, ``brew-build``, is its type); remote policies hold no RemoteRule, so
    their rules always match."""
    contexts = snapshot.asked_contexts or (snapshot.decision_context,)
    return (
        (ANY_CONTEXT in contexts or any(c in sub.decision_contexts for c in contexts))
        and any(fnmatchcase(snapshot.product_version, p) for p in sub.product_versions)
        and (
            sub.subject_type == "*"
            or canonical_subject_type(sub.subject_type)
            == canonical_subject_type(snapshot.subject_type)
        )
    )


def rule_matches(rule: RemoteRule, policy: Policy, snapshot: Snapshot) -> bool:
    """``RemoteRule.matches``: the parent policy applies when the file is missing (and
    not required), when fetching or reading it failed, or when one of its policies
    matches the decision asked."""
    outcome = remote_outcome(rule, policy, snapshot)
    if not outcome.answers or outcome.failed:
        return True
    return any(sub_policy_matches(sub, snapshot) for sub in outcome.sub_policies)
