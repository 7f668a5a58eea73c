"""The policy engine and invalid inputs (issue 15, deviation 9): the result of a Fedora CI
message that failed its spec's JSON Schema (outcome ``INVALID``) is no result.

Greenwave never sees such a message: ResultsDB does not store it (resultsdb-updater and
the UMB validators reject it), so Greenwave answers from the valid results alone, and
"missing" (``test-result-missing``, no ``result_id``) when there is none
(greenwave/policies.py ``TestResultMissing``). We answer the same type, marked ``invalid``
with the schema errors as detail, so a person sees why the result is missing; Bodhi reads
only the type (bodhi/server/models.py ``Update.test_gating_status``: ``test-result-missing``
without ``result_id`` is "waiting", then "failed").
"""

from __future__ import annotations

from dataclasses import asdict

from relengotron.domain.facts import INVALID
from relengotron.policies.answers import TEST_FAILED, TEST_MISSING, TEST_PASSED, Requirement
from relengotron.policies.checks import OUTCOME_INVALID
from relengotron.policies.decision import Decision
from relengotron.policies.engine import evaluate
from relengotron.policies.spec import PassingTestCaseRule
from tests.unit.test_policy_engine import NVR, TC, policy, pset, result, snap, waiver

ERRORS = (
    "invalid CI message (koji-build.test.complete (0.2.x/1.x)): 'contact' is a required property"
)


def bad(position: int, **kw: object):
    """An invalid message's result, as the translator records it (no result id)."""
    return result(INVALID, position, result_id=None, note=ERRORS, **kw)


def decide(*results, waivers=()) -> Decision:
    return evaluate(
        pset(policy(PassingTestCaseRule(TC))),
        snap(results=tuple(results), waivers=tuple(waivers)),
    )


def test_the_engine_and_the_domain_spell_invalid_alike() -> None:
    assert OUTCOME_INVALID == INVALID


def test_only_an_invalid_message_is_missing_and_says_why() -> None:
    d = decide(bad(5))
    assert not d.policies_satisfied
    assert d.verdict == "hold"  # fail closed, not a failure of the build
    (req,) = d.unsatisfied_requirements
    assert (req.type, req.invalid, req.result_id) == (TEST_MISSING, True, None)
    assert req.detail == ERRORS
    assert req.event == "r5/1"  # the message, for the audit trail
    assert not req.incomplete  # not "queued/running": nothing is under way
    assert d.summary == "Of 1 required test, 1 result missing"  # Greenwave's words
    assert d.used_events == ("r5/1",)
    data = req.as_dict()
    assert data["invalid"] is True and data["type"] == TEST_MISSING
    assert "result_id" not in data  # as Greenwave's missing answer
    assert Requirement.from_dict(data) == req


def test_an_invalid_pass_never_turns_a_failure_into_a_pass() -> None:
    d = decide(result("FAILED", 1), bad(2))
    assert d.verdict == "quarantine"
    (req,) = d.unsatisfied_requirements
    assert (req.type, req.invalid, req.event) == (TEST_FAILED, False, "r1/1")


def test_an_invalid_message_does_not_undo_a_valid_pass() -> None:
    d = decide(result("PASSED", 1), bad(2))
    assert d.policies_satisfied and d.verdict == "promote"
    (req,) = d.satisfied_requirements
    assert (req.type, req.invalid) == (TEST_PASSED, False)


def test_a_valid_result_after_an_invalid_message_answers() -> None:
    assert decide(bad(1), result("PASSED", 2)).verdict == "promote"
    assert decide(bad(1), result("RUNNING", 2)).unsatisfied_requirements[0].incomplete


def test_invalid_in_a_scenario_with_valid_results_elsewhere_is_not_asked() -> None:
    """A rule without scenario answers for the scenarios of the valid results only, as
    Greenwave (which never saw the invalid message) would."""
    d = decide(result("PASSED", 1, scenario="x86_64"), bad(2, scenario="ppc64le"))
    assert d.policies_satisfied
    assert [r.scenario for r in d.satisfied_requirements] == ["x86_64"]


def test_a_waiver_waives_the_missing_result() -> None:
    d = decide(bad(1), waivers=(waiver(2),))
    assert d.policies_satisfied and d.verdict == "waived"
    (req,) = d.satisfied_requirements
    assert req.type == TEST_MISSING + "-waived"


def test_fingerprints_of_decisions_without_invalid_do_not_change() -> None:
    """Decisions recorded before ``invalid`` existed keep their fingerprints, so the
    decider does not re-decide every open build after an upgrade (it compares the
    stored fingerprint, domain/gating.py ``Gate.fingerprint``)."""
    d = decide(result("FAILED", 1), result("PASSED", 2, testcase="other"))
    old = Decision.from_dict(d.as_dict())  # read back as a stored decision is
    assert all("invalid" not in r.as_dict() for r in old.unsatisfied_requirements)
    # The fingerprint as the code before this change computed it: asdict of each
    # requirement, which had no ``invalid`` field (nor the system architecture and
    # variant, which the Greenwave-parity change added beside it).
    # Nor ``source``/``sources`` (RemoteRule, issue 16), nor ``rerun_deadline`` (issue 20).
    import hashlib
    import json

    def legacy(r: Requirement) -> dict[str, object]:
        fields = asdict(r)
        later = ("system_architecture", "system_variant", "source", "sources", "rerun_deadline")
        for key in ("invalid", *later):
            del fields[key]
        return fields

    doc = {
        "verdict": d.verdict,
        "policies_satisfied": d.policies_satisfied,
        "summary": d.summary,
        "satisfied_requirements": [legacy(r) for r in d.satisfied_requirements],
        "unsatisfied_requirements": [legacy(r) for r in d.unsatisfied_requirements],
        "applicable_policies": list(d.applicable_policies),
        "policy_set_hash": d.policy_set_hash,
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert d.fingerprint() == "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    assert old.fingerprint() == d.fingerprint()
    assert old.state_fingerprint() == d.state_fingerprint()
    # ... and an invalid answer is a different state (the decider records it).
    assert decide(bad(1)).state_fingerprint() != decide().state_fingerprint()


def test_subject_mismatch_still_ignored() -> None:
    other = result(INVALID, 1, subject_identifier=NVR + "x")
    (req,) = decide(other).unsatisfied_requirements
    assert not req.invalid  # another subject's invalid message says nothing here
