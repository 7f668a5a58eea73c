"""Signing, as the gating view folds it: koji's signatures and our signing requests.

A ``Build.Signed`` event (koji's ``buildsys.rpm.sign``) adds the rpm to the build's
rpms signed with that key; the outcome of our ``sign.request`` action names every rpm
of the build as koji listed them (``ActionState.result``). From both,
:func:`signing_views` gives the engine one ``SigningView`` per key a policy asks for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from relengotron.domain.outbox import SIGN_REQUEST
from relengotron.policies.snapshot import SigningView
from relengotron.projections.folds.records import ActionState, ref

if TYPE_CHECKING:
    from relengotron.projections.folds.gating import GatingView

__all__ = ["on_build_signed", "sign_action", "signing_views"]


def on_build_signed(view: GatingView, e: Any, position: int) -> None:
    nvr = view._nvr(e)
    if nvr is None or not e.rpm:
        return  # an rpm.sign that names no rpm signs nothing we can count
    b = view.build(nvr)
    key = (e.sigkey or "").lower()
    signed = b.signatures.setdefault(key, [])
    if e.rpm not in signed:
        signed.append(e.rpm)
    b.signed_by = ref(e)
    view.dirty.add(nvr)


def sign_action(view: GatingView, nvr: str, sigkey: str) -> ActionState | None:
    """The latest signing request for the build and key that was not cancelled."""
    found = None
    for a in view.actions_for(nvr):
        if (
            a.kind == SIGN_REQUEST
            and str(a.params.get("sigkey", "")).lower() == sigkey
            and a.outcome != "cancelled"
        ):
            found = a
    return found


def signing_views(view: GatingView, nvr: str, sigkeys: tuple[str, ...]) -> tuple[SigningView, ...]:
    b = view.builds.get(nvr)
    out = []
    for key in sorted({k.lower() for k in sigkeys}):
        signed = tuple(sorted((b.signatures.get(key) if b else None) or ()))
        a = sign_action(view, nvr, key)
        rpms: tuple[str, ...] | None = None
        if a is None:
            state = "not-requested"
        elif not a.done:
            state = "requested"
        elif a.outcome == "requested":
            state = "requested"
            listed = (a.result or {}).get("rpms")
            rpms = tuple(str(r) for r in listed) if isinstance(listed, list) else None
        else:
            state = f"{a.outcome}: {a.detail or ''}".rstrip(": ")
        event = b.signed_by if b else None
        out.append(SigningView(key, rpms, signed, state, event))
    return tuple(out)
