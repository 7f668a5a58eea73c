"""What a ``!SignedRule`` answers: every rpm of the build signed with the release's key.

Ours (Greenwave has no signing rule). Fail closed: a build whose rpms koji has not
listed yet, that lists none, or with any rpm not signed with the key is ``unsigned``
(pending, never a failure: the verdict is ``hold``); only when koji's ``rpm.sign``
messages name every listed rpm with the key is it ``signed``.
"""

from __future__ import annotations

from relengotron.policies.answers import SIGNED, UNSIGNED, Requirement
from relengotron.policies.snapshot import SigningView, Snapshot
from relengotron.policies.spec import Policy, SignedRule

__all__ = ["check_signed", "signing_testcase", "unsigned_rpms"]

_SHOWN = 5  # rpms named in a detail


def signing_testcase(rule: SignedRule | str) -> str:
    """The requirement's test case name: ``signed-with:<sigkey>``."""
    key = rule.sigkey if isinstance(rule, SignedRule) else rule
    return f"signed-with:{key.lower()}"


def unsigned_rpms(view: SigningView) -> tuple[str, ...] | None:
    """The build's rpms not signed with the view's key (None: rpms not listed yet)."""
    if view.rpms is None:
        return None
    signed = set(view.signed)
    return tuple(r for r in view.rpms if r not in signed)


def _detail(view: SigningView | None, sigkey: str) -> tuple[str, str]:
    if view is None:
        return UNSIGNED, f"not signed with key {sigkey}: signing not requested"
    if view.answer is not None:
        return view.answer[0], view.answer[1] or ""
    missing = unsigned_rpms(view)
    if missing is None:
        return UNSIGNED, f"not signed with key {sigkey} yet (signing {view.state})"
    if not view.rpms:
        return UNSIGNED, f"not signed with key {sigkey}: koji lists no rpms for the build"
    if missing:
        named = ", ".join(missing[:_SHOWN]) + (", ..." if len(missing) > _SHOWN else "")
        total = len(view.rpms)
        return UNSIGNED, f"{len(missing)} of {total} rpms not signed with key {sigkey}: {named}"
    return SIGNED, f"all {len(view.rpms)} rpms signed with key {sigkey}"


def check_signed(rule: SignedRule, snapshot: Snapshot, policy: Policy) -> Requirement:
    sigkey = rule.sigkey.lower()
    view = next((v for v in snapshot.signing if v.sigkey.lower() == sigkey), None)
    type_, detail = _detail(view, sigkey)
    return Requirement(
        type=type_,
        subject_type=snapshot.subject_type,
        subject_identifier=snapshot.subject_identifier,
        testcase=signing_testcase(sigkey),
        policy_id=policy.id,
        event=view.event if view is not None else None,
        detail=detail,
    )
