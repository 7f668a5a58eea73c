"""The decision API's signing answers: as the decider recorded them.

The read models do not fold koji's signatures per key; as for batch checks, the API
re-answers a ``!SignedRule`` from the latest recorded gate decision of the build
(type and detail as recorded). No recorded answer: unsigned (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from relengotron.policies.answers import SIGNED, UNSIGNED
from relengotron.policies.snapshot import SigningView
from relengotron.policies.spec import Policy, SignedRule

__all__ = ["recorded_signing", "signing_keys"]


def signing_keys(policies: Iterable[Policy]) -> frozenset[str]:
    """The keys the policies' ``!SignedRule``s ask for (lower case)."""
    return frozenset(
        r.sigkey.lower() for p in policies for r in p.rules if isinstance(r, SignedRule)
    )


def recorded_signing(body: Mapping[str, Any], keys: frozenset[str]) -> tuple[SigningView, ...]:
    """One view per signing requirement of a recorded decision body, for ``keys``."""
    views = []
    for r in [*body.get("satisfied_requirements", ()), *body.get("unsatisfied_requirements", ())]:
        key = str(r.get("testcase") or "").removeprefix("signed-with:")
        if r.get("type") in (SIGNED, UNSIGNED) and key in keys:
            detail = r.get("detail")
            answer = (str(r["type"]), detail if isinstance(detail, str) else None)
            event = r.get("event")
            views.append(
                SigningView(key, event=event if isinstance(event, str) else None, answer=answer)
            )
    return tuple(views)
