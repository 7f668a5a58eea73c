"""The decision of one evaluation: its verdict and requirements, its JSON and fingerprints.

The JSON is Greenwave's decision plus our keys (``verdict``, ``policy_set_hash``,
``used_events``, the subject); the fingerprints say whether a decision changed. The
requirements themselves are :mod:`policies.answers`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from relengotron.policies.answers import GATING_YAML_ERRORS, Requirement

__all__ = ["VERDICTS", "Decision"]

VERDICTS = ("promote", "waived", "hold", "quarantine")
_LATER_KEYS = frozenset(
    {"system_architecture", "system_variant", "source", "sources", "rerun_deadline"}
)

_FIELD_NAMES = tuple(f.name for f in fields(Requirement))


def _fields(r: Requirement) -> dict[str, Any]:
    """The fields a fingerprint hashes. The keys added later (``invalid``, the system
    architecture and variant) only when set: decisions recorded before they existed keep
    their fingerprints (no new decision just because the code learned them)."""
    # Every field is flat (text, numbers, a tuple of text): a shallow copy hashes as
    # ``dataclasses.asdict`` does (tests/unit/test_decision_fields.py), at a fifth of the cost.
    out = {name: getattr(r, name) for name in _FIELD_NAMES}
    if not out["invalid"]:
        del out["invalid"]
    for key in _LATER_KEYS:
        if out[key] is None:
            del out[key]
    return out


@dataclass(frozen=True)
class Decision:
    verdict: str  # one of VERDICTS
    policies_satisfied: bool
    summary: str
    satisfied_requirements: tuple[Requirement, ...]
    unsatisfied_requirements: tuple[Requirement, ...]
    applicable_policies: tuple[str, ...]
    policy_set_hash: str
    used_events: tuple[str, ...]  # sorted unique refs of the views that answered
    subject_type: str
    subject_identifier: str
    product_version: str
    decision_context: str

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; expected one of {VERDICTS}")

    def as_dict(self) -> dict[str, Any]:
        """Greenwave's decision JSON plus ``verdict``, ``policy_set_hash``, ``used_events``
        and the subject, product version and decision context."""
        return {
            "policies_satisfied": self.policies_satisfied,
            "summary": self.summary,
            "satisfied_requirements": [r.as_dict() for r in self.satisfied_requirements],
            "unsatisfied_requirements": [r.as_dict() for r in self.unsatisfied_requirements],
            "applicable_policies": list(self.applicable_policies),
            "verdict": self.verdict,
            "policy_set_hash": self.policy_set_hash,
            "used_events": list(self.used_events),
            "subject_type": self.subject_type,
            "subject_identifier": self.subject_identifier,
            "product_version": self.product_version,
            "decision_context": self.decision_context,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """The inverse of :meth:`as_dict`."""
        return cls(
            verdict=data["verdict"],
            policies_satisfied=bool(data["policies_satisfied"]),
            summary=data["summary"],
            satisfied_requirements=tuple(
                Requirement.from_dict(r) for r in data["satisfied_requirements"]
            ),
            unsatisfied_requirements=tuple(
                Requirement.from_dict(r) for r in data["unsatisfied_requirements"]
            ),
            applicable_policies=tuple(data["applicable_policies"]),
            policy_set_hash=data["policy_set_hash"],
            used_events=tuple(data.get("used_events", ())),
            subject_type=data["subject_type"],
            subject_identifier=data["subject_identifier"],
            product_version=data["product_version"],
            decision_context=data["decision_context"],
        )

    def fingerprint(self) -> str:
        """``sha256:<hex>`` of what says whether the decision changed: verdict,
        policies_satisfied, summary, every field of every requirement, applicable
        policies and the policy set hash (not used_events)."""
        doc = {
            "verdict": self.verdict,
            "policies_satisfied": self.policies_satisfied,
            "summary": self.summary,
            "satisfied_requirements": [_fields(r) for r in self.satisfied_requirements],
            "unsatisfied_requirements": [_fields(r) for r in self.unsatisfied_requirements],
            "applicable_policies": list(self.applicable_policies),
            "policy_set_hash": self.policy_set_hash,
        }
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()

    def state_fingerprint(self) -> str:
        """Like ``fingerprint`` but blind to the evidence (result, waiver and event ids,
        details): a re-run that passes again, or a second waiver of a test already
        waived, does not change the decision. The decider records a new decision
        only when this changes."""
        evidence = {"result_id", "waiver_id", "event", "detail"}

        def state(r: Requirement) -> dict[str, Any]:
            # A gating.yaml answer's detail is its state (why the file cannot be used:
            # not fetched yet, the fetch error, the parse error), not evidence.
            kept = evidence - {"detail"} if r.type in GATING_YAML_ERRORS else evidence
            return {k: v for k, v in _fields(r).items() if k not in kept}

        doc = {
            "verdict": self.verdict,
            "policies_satisfied": self.policies_satisfied,
            "summary": self.summary,
            "satisfied_requirements": [state(r) for r in self.satisfied_requirements],
            "unsatisfied_requirements": [state(r) for r in self.unsatisfied_requirements],
            "applicable_policies": list(self.applicable_policies),
            "policy_set_hash": self.policy_set_hash,
        }
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
