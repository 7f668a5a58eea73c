"""The one builder of the policy input (``policies.snapshot.Snapshot``).

The decider (its folded view, ``projections.folds.gating``), ``relengotron evaluate``, replay
(a decider over a replayed log) and the decision API (the SQL read models,
``projections.queries``) all give the engine what they know about a subject as
:class:`~projections.queries.SubjectFacts`; :func:`policy_input` turns that into the
``Snapshot`` the engine evaluates. Whatever one side adds to the input, the other gets
too: they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from relengotron.policies.snapshot import (
    BatchView,
    RemoteRuleInput,
    RerunView,
    SigningView,
    Snapshot,
)
from relengotron.projections.queries import SubjectFacts

__all__ = ["koji_package", "policy_input"]


def koji_package(nvr: str) -> str | None:
    """The package name of a koji build's NVR (None when it is not name-version-release)."""
    parts = nvr.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else None


def policy_input(
    facts: SubjectFacts,
    *,
    product_version: str,
    decision_context: str,
    batch: Sequence[BatchView] = (),
    remote: RemoteRuleInput | None = None,
    asked_contexts: Sequence[str] = (),
    signing: Sequence[SigningView] = (),
    reruns: Sequence[RerunView] = (),
) -> Snapshot:
    """The engine's input for one subject: its facts under a product version and decision
    context, with the batch statuses the caller resolved (the decider folds them; the
    decision API reads them from the latest recorded decision), the recorded gating.yaml
    files a RemoteRule reads (``remote``) and, for a request naming several decision
    contexts (or an on-demand policy), the contexts asked. A koji build whose
    facts name no package is known by its NVR's name, as Greenwave does."""
    package = facts.package
    if not package and facts.subject_type == "koji_build":
        package = koji_package(facts.subject_identifier)
    return Snapshot(
        subject_type=facts.subject_type,
        subject_identifier=facts.subject_identifier,
        package=package,
        product_version=product_version,
        decision_context=decision_context,
        results=tuple(facts.results),
        waivers=tuple(facts.waivers),
        batch=tuple(batch),
        # None (unknown, e.g. no BUILDING message): dated rules count (fail closed).
        subject_time=facts.created,
        remote=remote,
        asked_contexts=tuple(asked_contexts),
        signing=tuple(signing),
        reruns=tuple(reruns),
    )
