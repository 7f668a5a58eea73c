"""What an evaluation answers: the requirement types, requirements and their one-line summary.

Requirement JSON mirrors Greenwave's answers (``greenwave/policies.py``, ``to_json``), and
the summary mirrors Greenwave's ``summarize_answers`` wording. Our own requirement types
(``batch-*``) and keys (``policy_id``, ``event``, ``detail``) are added only when set.
Nothing here ever parses a summary: it is for people. The decision that holds them is
:mod:`policies.decision`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BATCH_INNOCENT",
    "BATCH_PENDING",
    "BATCH_RECHECK_PENDING",
    "BATCH_UNRESOLVED",
    "EXCLUDED",
    "GATING_YAML_ERRORS",
    "GATING_YAML_FAILED_FETCH",
    "GATING_YAML_FETCHED",
    "GATING_YAML_INVALID",
    "GATING_YAML_MISSING",
    "SATISFIED_TYPES",
    "SIGNED",
    "TEST_ERRORED",
    "TEST_ERRORED_WAIVED",
    "TEST_FAILED",
    "TEST_FAILED_WAIVED",
    "TEST_MISSING",
    "TEST_MISSING_WAIVED",
    "TEST_PASSED",
    "UNSATISFIED_TYPES",
    "UNSIGNED",
    "WAIVABLE_TYPES",
    "Requirement",
    "no_applicable_policies_summary",
    "summarize",
]

# Greenwave's answer types. An incomplete result (QUEUED, RUNNING) is, as in Greenwave,
# "test-result-missing" that carries the result's id and event.
TEST_PASSED = "test-result-passed"
TEST_FAILED = "test-result-failed"
TEST_ERRORED = "test-result-errored"
TEST_MISSING = "test-result-missing"
TEST_FAILED_WAIVED = TEST_FAILED + "-waived"
TEST_ERRORED_WAIVED = TEST_ERRORED + "-waived"
TEST_MISSING_WAIVED = TEST_MISSING + "-waived"
EXCLUDED = "excluded"
# Greenwave's RemoteRule answers (greenwave/policies.py FetchedRemoteRuleYaml,
# MissingRemoteRuleYaml, InvalidRemoteRuleYaml, FailedFetchRemoteRuleYaml): not tests.
GATING_YAML_FETCHED = "fetched-gating-yaml"
GATING_YAML_MISSING = "missing-gating-yaml"
GATING_YAML_INVALID = "invalid-gating-yaml"
GATING_YAML_FAILED_FETCH = "failed-fetch-gating-yaml"
_GATING_YAML_TEXT = {
    GATING_YAML_MISSING: "error{s} due to missing remote rule file",
    GATING_YAML_INVALID: "error{s} due to invalid remote rule file",
    GATING_YAML_FAILED_FETCH: "error{s} while trying to fetch remote rule file",
}
#: The gating.yaml answers that say the file cannot be used (all unsatisfied).
GATING_YAML_ERRORS = frozenset(_GATING_YAML_TEXT)
# Ours: the batch integrity check.
BATCH_INNOCENT = "batch-innocent"
BATCH_PENDING = "batch-bisection-pending"
BATCH_UNRESOLVED = "batch-unresolved"
# Cleared by a bisection, awaiting the re-check of the rest after quarantine.
BATCH_RECHECK_PENDING = "batch-recheck-pending"
# Ours: signing (``!SignedRule``). Not tests: the summary counts them apart.
SIGNED = "signed"
UNSIGNED = "unsigned"

SATISFIED_TYPES = frozenset(
    {
        TEST_PASSED,
        TEST_FAILED_WAIVED,
        TEST_ERRORED_WAIVED,
        TEST_MISSING_WAIVED,
        EXCLUDED,
        BATCH_INNOCENT,
        GATING_YAML_FETCHED,
        SIGNED,
    }
)
UNSATISFIED_TYPES = frozenset(
    {
        TEST_FAILED,
        TEST_ERRORED,
        TEST_MISSING,
        BATCH_PENDING,
        BATCH_RECHECK_PENDING,
        BATCH_UNRESOLVED,
        UNSIGNED,
    }
    | _GATING_YAML_TEXT.keys()
)
#: Unsatisfied type -> its satisfied type once a waiver applies.
WAIVABLE_TYPES: dict[str, str] = {
    TEST_FAILED: TEST_FAILED_WAIVED,
    TEST_ERRORED: TEST_ERRORED_WAIVED,
    TEST_MISSING: TEST_MISSING_WAIVED,
}
_ITEM_TYPES = frozenset({TEST_FAILED, TEST_ERRORED, TEST_MISSING})  # Greenwave's legacy "item"
_ERROR_REASON_TYPES = frozenset({TEST_ERRORED, TEST_ERRORED_WAIVED})
# Subject types whose Greenwave ``item_dict`` names the subject by one key
# (conf/subject_types/compose.yaml); the others are ``{"type", "item"}``.
_ITEM_KEY = {"compose": "productmd.compose.id"}


def subject_dict(subject_type: str, identifier: str) -> dict[str, str]:
    """Greenwave's ``Subject.to_dict()``: the legacy ``item`` of a requirement."""
    key = _ITEM_KEY.get(subject_type)
    if key is not None:
        return {key: identifier}
    return {"type": subject_type, "item": identifier}


@dataclass(frozen=True)
class Requirement:
    """One answer of one rule (or an ``excluded`` answer of a whole policy)."""

    type: str
    subject_type: str
    subject_identifier: str
    testcase: str | None
    scenario: str | None = None
    result_id: int | str | None = None
    waiver_id: int | str | None = None
    policy_id: str | None = None  # the policy that asked for it
    event: str | None = None  # event of the result/waiver/batch view that answered
    detail: str | None = None
    # Ours: no valid result, only invalid messages (a CI message that failed its spec's
    # JSON Schema; ``event`` is the latest of them, ``detail`` its errors). The type stays
    # Greenwave's ``test-result-missing``: Greenwave never sees such a message (ResultsDB
    # does not store it), so it answers "missing", and Bodhi reads the type.
    invalid: bool = False
    # Greenwave's other keys of a result (``DISTINCT_LATEST_RESULTS_ON``).
    system_architecture: str | None = None
    system_variant: str | None = None
    # Greenwave's ``source``: the URL of the remote rule file (gating.yaml) whose policy
    # asked for it; ``sources``: the URLs tried for a missing or unfetched file.
    source: str | None = None
    sources: tuple[str, ...] | None = None
    # Ours: a rerun of this failed/errored test was asked for and is awaited until this
    # time (the build is held, not quarantined, meanwhile).
    rerun_deadline: str | None = None

    @property
    def satisfied(self) -> bool:
        return self.type in SATISFIED_TYPES

    @property
    def incomplete(self) -> bool:
        """A QUEUED/RUNNING result: Greenwave's type is still ``test-result-missing``."""
        return self.type == TEST_MISSING and self.event is not None and not self.invalid

    def as_dict(self) -> dict[str, Any]:
        """Greenwave-shaped JSON (``greenwave/policies.py`` ``to_json`` of its answers),
        plus ``policy_id``, ``event``, ``detail`` when set. ``source`` is the remote rule
        file (gating.yaml) a requirement came from, as in Greenwave; else null."""
        data: dict[str, Any] = {"type": self.type}
        if self.type in _GATING_YAML_TEXT or self.type == GATING_YAML_FETCHED:
            return self._gating_yaml_dict(data)
        if self.type == EXCLUDED:
            data["subject_identifier"] = self.subject_identifier
            data["policy"] = self.policy_id
            data["source"] = self.source
            data["subject_type"] = self.subject_type  # not in Greenwave's: needed to re-read
        else:
            data["testcase"] = self.testcase
            data["subject_type"] = self.subject_type
            data["subject_identifier"] = self.subject_identifier
            data["source"] = self.source
            data["scenario"] = self.scenario
            if self.result_id is not None or not self.type.startswith(TEST_MISSING):
                data["result_id"] = self.result_id
            if self.result_id is not None:  # about a result: its data keys, as Greenwave
                data["system_architecture"] = self.system_architecture
                data["system_variant"] = self.system_variant
            if self.type in _ERROR_REASON_TYPES:
                data["error_reason"] = None
            if self.type in _ITEM_TYPES:
                data["item"] = subject_dict(self.subject_type, self.subject_identifier)
            if self.waiver_id is not None:
                data["waiver_id"] = self.waiver_id
            if self.policy_id is not None:
                data["policy_id"] = self.policy_id
        if self.event is not None:
            data["event"] = self.event
        if self.detail is not None:
            data["detail"] = self.detail
        if self.invalid:
            data["invalid"] = True
        if self.rerun_deadline is not None:
            data["rerun_deadline"] = self.rerun_deadline
        return data

    def _gating_yaml_dict(self, data: dict[str, Any]) -> dict[str, Any]:
        """Greenwave's RemoteRule answers, key for key; ``detail`` is Greenwave's
        ``details`` (invalid) or ``error`` (failed fetch)."""
        data["testcase"] = self.testcase
        data["subject_type"] = self.subject_type
        data["subject_identifier"] = self.subject_identifier
        if self.type in (GATING_YAML_FETCHED, GATING_YAML_INVALID):
            if self.type == GATING_YAML_INVALID:
                data["scenario"] = None
            data["source"] = self.source
            if self.type == GATING_YAML_INVALID:
                data["details"] = self.detail
        else:
            data["scenario"] = None
            data["sources"] = list(self.sources or ())
            if self.type == GATING_YAML_FAILED_FETCH:
                data["error"] = self.detail
        if self.policy_id is not None:
            data["policy_id"] = self.policy_id
        if self.event is not None:
            data["event"] = self.event
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Requirement:
        """The inverse of :meth:`as_dict`."""
        item = data.get("item") or {}
        sources = data.get("sources")
        detail = data.get("detail", data.get("details", data.get("error")))
        policy_id = data["policy"] if data.get("type") == EXCLUDED else data.get("policy_id")
        return cls(
            type=data["type"],
            subject_type=data.get("subject_type") or item.get("type", ""),
            subject_identifier=data["subject_identifier"],
            testcase=data.get("testcase"),
            scenario=data.get("scenario"),
            result_id=data.get("result_id"),
            waiver_id=data.get("waiver_id"),
            policy_id=policy_id,
            event=data.get("event"),
            detail=detail,
            invalid=bool(data.get("invalid", False)),
            system_architecture=data.get("system_architecture"),
            system_variant=data.get("system_variant"),
            source=data.get("source"),
            sources=None if sources is None else tuple(sources),
            rerun_deadline=data.get("rerun_deadline"),
        )


# ------------------------------------------------------------------ summary

_SUMMARY_TEXT: dict[str, str] = {
    TEST_FAILED: "test{s} failed",
    TEST_ERRORED: "test{s} errored",
    BATCH_PENDING: "test{s} awaiting batch bisection",
    BATCH_RECHECK_PENDING: "test{s} awaiting a re-check after quarantine",
    BATCH_UNRESOLVED: "test{s} unresolved after batch bisection",
}
_MISSING_TEXT = "result{s} missing"
_INCOMPLETE_TEXT = "test{s} incomplete"
_UNEXPECTED_TEXT = "unexpected unsatisfied requirement{s}"
_UNSIGNED_TEXT = "build signature{s} pending"


def _sformat(text: str, number: int) -> str:
    return text.format(num=number, s="s" if number != 1 else "")


def summarize(requirements: Iterable[Requirement]) -> str:
    """Greenwave's ``summarize_answers``: e.g. ``All required tests (2 total) have passed or
    been waived``, ``Of 3 required tests, 1 result missing, 1 test failed``, ``No tests
    are required``. ``excluded`` answers are not tests; unknown unsatisfied types are
    counted apart, as Greenwave counts its non-test answers."""
    test_msgs: dict[str, int] = defaultdict(int)
    non_test_msgs: dict[str, int] = defaultdict(int)
    test_count = 0
    for req in requirements:
        if req.type in (EXCLUDED, GATING_YAML_FETCHED, SIGNED):
            continue
        if req.type == UNSIGNED:
            non_test_msgs[_UNSIGNED_TEXT] += 1
            continue
        if req.type in _GATING_YAML_TEXT:
            non_test_msgs[_GATING_YAML_TEXT[req.type]] += 1
        elif req.satisfied:
            test_count += 1
        elif req.type == TEST_MISSING:
            test_msgs[_INCOMPLETE_TEXT if req.incomplete else _MISSING_TEXT] += 1
            test_count += 1
        elif req.type in _SUMMARY_TEXT:
            test_msgs[_SUMMARY_TEXT[req.type]] += 1
            test_count += 1
        else:
            non_test_msgs[_UNEXPECTED_TEXT] += 1

    text = ""
    if non_test_msgs:
        text = ", ".join(
            _sformat(f"{{num}} {msg}", num) for msg, num in sorted(non_test_msgs.items())
        )
    if test_msgs:
        tests = _sformat("Of {num} required test{s}, ", test_count)
        tests += ", ".join(
            _sformat(f"{{num}} {msg}", num) for msg, num in sorted(test_msgs.items())
        )
        text = f"{text}. {tests}" if text else tests
    if text:
        return text
    if test_count:
        return f"All required tests ({test_count} total) have passed or been waived"
    return "No tests are required"


def no_applicable_policies_summary(
    subject_type: str, decision_context: str, product_version: str
) -> str:
    """Greenwave's error text when no policy applies."""
    return (
        f"Found no applicable policies for {subject_type} subjects "
        f"at gating point(s) {decision_context} in {product_version}"
    )
