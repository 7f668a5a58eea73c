"""One function builds the policy input (``projections.policy_input.policy_input``).

The decider (``relengotron evaluate`` and ``replay --verify`` run the decider's view) and
the decision API must give the engine the same input for the same facts. That is held by
construction: no module but ``projections/policy_input.py`` builds a ``Snapshot``, and
both the decider's view and the decision API call that builder. Read from the source
(no mocks), so a second place that assembles the input fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

from relengotron.policies.snapshot import RemoteRuleInput, ResultView, Snapshot, WaiverView
from relengotron.projections.policy_input import policy_input
from relengotron.projections.queries import SubjectFacts

ROOT = Path(__file__).resolve().parents[2]
BUILDER = "projections/policy_input.py"


def _calls(path: Path, name: str) -> list[int]:
    """Lines where ``path`` calls ``name`` (as ``name(...)`` or ``x.name(...)``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            called = (
                f.id
                if isinstance(f, ast.Name)
                else f.attr
                if isinstance(f, ast.Attribute)
                else None
            )
            if called == name:
                lines.append(node.lineno)
    return lines


def test_only_the_builder_assembles_a_snapshot() -> None:
    found = {}
    for folder in ("projections", "adapters"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            lines = _calls(path, "Snapshot")
            if lines and rel != BUILDER:
                found[rel] = lines
    assert found == {}, f"Snapshot assembled outside {BUILDER}: {found}"
    assert _calls(ROOT / BUILDER, "Snapshot"), "the builder builds it"


def test_decider_and_decision_api_call_the_same_builder() -> None:
    # The decider's view (also what `evaluate` and replay use) and the decision API.
    for rel in ("projections/folds/gating.py", "projections/decision_api.py"):
        assert _calls(ROOT / rel, "policy_input"), f"{rel} does not call policy_input"


def _facts(**kw: object) -> SubjectFacts:
    result = ResultView("dist.rpmdeplint", "PASSED", "koji_build", "foo-1-1.fc40", "e/1", 3)
    waiver = WaiverView("dist.abicheck", True, "koji_build", "foo-1-1.fc40", "e/2", 4)
    return SubjectFacts(
        "koji_build",
        "foo-1-1.fc40",
        results=(result,),
        waivers=(waiver,),
        **kw,  # type: ignore[arg-type]
    )


def test_policy_input_carries_every_fact() -> None:
    facts = _facts(created="2024-03-01T10:00:00+00:00")
    got = policy_input(
        facts, product_version="fedora-40", decision_context="bodhi_update_push_stable"
    )
    assert got == Snapshot(
        subject_type="koji_build",
        subject_identifier="foo-1-1.fc40",
        package="foo",  # from the NVR, as Greenwave does
        product_version="fedora-40",
        decision_context="bodhi_update_push_stable",
        results=facts.results,
        waivers=facts.waivers,
        subject_time="2024-03-01T10:00:00+00:00",
    )


def test_policy_input_keeps_a_package_the_facts_name() -> None:
    got = policy_input(_facts(package="bar"), product_version="p", decision_context="c")
    assert got.package == "bar"
    other = SubjectFacts("compose", "Fedora-40-20240301.n.0")
    assert policy_input(other, product_version="p", decision_context="c").package is None


def test_policy_input_carries_remote_files_and_asked_contexts() -> None:
    # A RemoteRule reads the recorded gating.yaml files and the contexts asked; both
    # sides (decider, decision API) hand them to the builder, which keeps them.
    remote = RemoteRuleInput(templates=("https://src/{pkg_name}/raw/{rev}/f/gating.yaml",))
    got = policy_input(
        _facts(),
        product_version="p",
        decision_context="c",
        remote=remote,
        asked_contexts=["c", "d"],
    )
    assert (got.remote, got.asked_contexts) == (remote, ("c", "d"))
    plain = policy_input(_facts(), product_version="p", decision_context="c")
    assert (plain.remote, plain.asked_contexts) == (None, ())
