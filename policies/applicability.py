"""Which policies apply to a subject (Greenwave's ``Policy.matches`` and package lists).

A policy applies when its subject type, one of its decision contexts and one of its
product version patterns (fnmatch) match, and its ``packages`` allowlist (if any) names
the package; ``excluded_packages`` wins over ``packages`` (the engine answers one
satisfied ``excluded``). Pure.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from relengotron.domain.facts import canonical_subject_type
from relengotron.policies.remote import rule_matches
from relengotron.policies.snapshot import Snapshot
from relengotron.policies.spec import Policy, PolicySet, RemoteRule

__all__ = ["allowed", "applicable", "excluded"]


def _matches(policy: Policy, snapshot: Snapshot) -> bool:
    # Greenwave's SubjectType.matches: a type matches its id and its aliases (the subject
    # type definitions, config/subject_types; brew-build is koji_build).
    subject_type = canonical_subject_type(snapshot.subject_type)
    return (
        any(canonical_subject_type(t) == subject_type for t in policy.all_subject_types)
        and snapshot.decision_context in policy.decision_contexts
        and any(fnmatchcase(snapshot.product_version, p) for p in policy.product_versions)
    )


def excluded(policy: Policy, package: str | None) -> bool:
    return bool(package) and any(fnmatchcase(package or "", p) for p in policy.excluded_packages)


def allowed(policy: Policy, package: str | None) -> bool:
    # As in Greenwave, a subject without a package name is not filtered by package.
    if not package or not policy.packages or excluded(policy, package):
        return True
    return any(fnmatchcase(package, p) for p in policy.packages)


def applicable(policy_set: PolicySet, snapshot: Snapshot) -> tuple[Policy, ...]:
    """The policies that apply to the snapshot, in policy set order."""
    return tuple(
        policy
        for policy in policy_set.policies
        if _matches(policy, snapshot)
        and allowed(policy, snapshot.package)
        and _rules_match(policy, snapshot)
    )


def _rules_match(policy: Policy, snapshot: Snapshot) -> bool:
    """Greenwave's ``Policy.matches`` asks its rules: only a RemoteRule can say no."""
    return not policy.rules or any(
        not isinstance(rule, RemoteRule) or rule_matches(rule, policy, snapshot)
        for rule in policy.rules
    )
