"""``!SignedRule`` (issue 20): every rpm signed with the release's key, else ``unsigned``
(pending: hold, never quarantine); loaded from our policy dialect beside Greenwave's."""

from __future__ import annotations

from pathlib import Path

import pytest

from relengotron.adapters.rules.policy_loader import load_policy_set
from relengotron.policies.answers import SIGNED, UNSIGNED
from relengotron.policies.engine import evaluate
from relengotron.policies.snapshot import ResultView, SigningView
from relengotron.policies.spec import (
    PassingTestCaseRule,
    PolicyError,
    SignedRule,
    policy_set_from_canonical,
)
from relengotron.projections.decision_signing import recorded_signing
from relengotron.projections.folds.requirement_states import requirement_state
from tests.unit.test_policy_engine import NVR, TC, policy, pset, snap

KEY = "e99d6ad1"
RPMS = (f"{NVR}.src", f"{NVR}.noarch")


def passed() -> ResultView:
    return ResultView(TC, "PASSED", "koji_build", NVR, "r/1", 1, result_id=1)


def decide(view: SigningView | None, results: tuple[ResultView, ...] = ()):
    rules = (PassingTestCaseRule(TC), SignedRule(KEY.upper()))
    return evaluate(pset(policy(*rules)), snap(results=results, signing=(view,) if view else ()))


def signing_req(decision):
    reqs = (*decision.satisfied_requirements, *decision.unsatisfied_requirements)
    [req] = [r for r in reqs if r.testcase == f"signed-with:{KEY}"]
    return req


@pytest.mark.parametrize(
    ("view", "detail"),
    [
        (None, "signing not requested"),
        (SigningView(KEY, None, (), "requested"), "yet (signing requested)"),
        (SigningView(KEY, (), (), "requested"), "koji lists no rpms"),
        (SigningView(KEY, RPMS, (RPMS[0],)), f"1 of 2 rpms not signed with key {KEY}: {RPMS[1]}"),
        # a signature of an rpm koji did not list counts for nothing
        (SigningView(KEY, RPMS, (RPMS[0], "other-1-1.x86_64")), RPMS[1]),
    ],
)
def test_anything_short_of_every_rpm_signed_is_unsigned_and_holds(
    view: SigningView | None, detail: str
) -> None:
    decision = decide(view, (passed(),))
    req = signing_req(decision)
    assert req.type == UNSIGNED
    assert detail in (req.detail or "")
    assert decision.verdict == "hold"
    assert not decision.policies_satisfied
    assert requirement_state(req.as_dict()) == "unsigned"


def test_every_rpm_signed_with_the_key_satisfies() -> None:
    decision = decide(SigningView(KEY, RPMS, RPMS), (passed(),))
    req = signing_req(decision)
    assert req.type == SIGNED
    assert req.detail == f"all 2 rpms signed with key {KEY}"
    assert decision.verdict == "promote"
    assert decision.summary == "All required tests (1 total) have passed or been waived"
    assert requirement_state(req.as_dict()) == "passed"


def test_a_failing_test_still_quarantines_an_unsigned_build() -> None:
    failed = ResultView(TC, "FAILED", "koji_build", NVR, "r/1", 1, result_id=1)
    decision = decide(None, (failed,))
    assert decision.verdict == "quarantine"
    assert decision.summary == ("1 build signature pending. Of 1 required test, 1 test failed")


def test_another_keys_view_does_not_count() -> None:
    decision = decide(SigningView("deadbeef", RPMS, RPMS), (passed(),))
    assert signing_req(decision).type == UNSIGNED


def test_the_rule_in_our_yaml_dialect(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(
        "--- !Policy\nid: signed\nproduct_versions: [fedora-rawhide]\n"
        "decision_context: rawhide_pending\nsubject_type: koji_build\n"
        "rules:\n  - !SignedRule {sigkey: e99d6ad1}\n"
    )
    loaded = load_policy_set(tmp_path)
    assert loaded.policies[0].rules == (SignedRule("e99d6ad1"),)
    canonical = [p.canonical() for p in loaded.policies]
    assert canonical[0]["rules"] == [{"rule": "SignedRule", "sigkey": "e99d6ad1"}]
    assert policy_set_from_canonical(canonical).content_hash == loaded.content_hash
    f.write_text(f.read_text().replace("sigkey", "key"))
    with pytest.raises(PolicyError):
        load_policy_set(tmp_path)


def test_the_api_answers_as_the_decider_recorded() -> None:
    decision = decide(SigningView(KEY, RPMS, RPMS[:1]), (passed(),))
    body = decision.as_dict()
    views = recorded_signing(body, frozenset({KEY}))
    again = evaluate(
        pset(policy(PassingTestCaseRule(TC), SignedRule(KEY))),
        snap(results=(passed(),), signing=views),
    )
    assert signing_req(again) == signing_req(decision)
    assert recorded_signing(body, frozenset({"other"})) == ()
