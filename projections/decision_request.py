"""The decision request the decision API answers (``projections.decision_api``): a
Greenwave ``POST /api/v1.0/decision`` body once checked. Reading and validating the body
is the HTTP adapter's (``adapters.http.decision_request``; the CLI ``decision`` command
uses it too); the service consumes only this typed request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from relengotron.policies.spec import PolicySet

__all__ = ["ON_DEMAND_CONTEXT", "DecisionRequest", "DecisionRequestError"]

#: The decision context (and policy id) of an on-demand policy (the request's own rules).
ON_DEMAND_CONTEXT = "on-demand-policy"


class DecisionRequestError(Exception):
    """A request Greenwave would refuse: ``status`` (400, 404, 415) and its message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class DecisionRequest:
    product_version: str
    contexts: tuple[str, ...]  # the decision contexts asked about (on-demand: its own)
    context_label: str  # how the request named them, for messages
    subjects: tuple[tuple[str, str], ...]
    verbose: bool = False
    ignore_results: frozenset[str] = frozenset()
    ignore_waivers: frozenset[str] = frozenset()
    when: datetime | None = None
    on_demand: PolicySet | None = None
