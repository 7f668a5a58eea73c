"""Greenwave's gating.yaml validation: ``POST /api/v1.0/validate-gating-yaml`` and
``relengotron validate-gating-yaml FILE``. Expected answers from greenwave/api_v1.py
(``validate_gating_yaml_post``: 400 {"message": <SafeYAMLError>} for a refused file or
"No policies defined"; 200 {"message": "All OK"} or the parent-policy warning) and
greenwave/policies.py (RemotePolicy, ``_missing_decision_contexts_in_parent_policies``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from relengotron.adapters.cli.main import main
from relengotron.adapters.http.app import create_app
from relengotron.adapters.rules.policy_loader import load_policy_set
from relengotron.policies.spec import PolicySet
from tests.fakes import FakeReadModel

FEDORA = Path(__file__).resolve().parents[1] / "fixtures" / "fedora-greenwave"
URL = "/api/v1.0/validate-gating-yaml"
GOOD = """\
--- !Policy
product_versions: [fedora-*]
decision_context: bodhi_update_push_stable
subject_type: koji_build
rules:
  - !PassingTestCaseRule {test_case_name: fedora-ci.koji-build.tier0.functional}
"""


@pytest.fixture(scope="module")
def fedora() -> PolicySet:
    return load_policy_set(FEDORA)


@pytest.fixture
def client(fedora: PolicySet) -> TestClient:
    return TestClient(create_app(FakeReadModel(), lambda: fedora, token=None))


def test_api_all_ok(client: TestClient) -> None:
    r = client.post(URL, content=GOOD)
    assert (r.status_code, r.json()) == (200, {"message": "All OK"})


def test_api_refused_and_warned(client: TestClient) -> None:
    r = client.post(URL, content="")
    assert (r.status_code, r.json()) == (400, {"message": "No policies defined"})
    r = client.post(URL, content="--- !Policy\nid: x\ndecision_context: a\n")
    assert (r.status_code, r.json()) == (
        400,
        {"message": "Policy 'x': Attribute 'rules' is required"},
    )
    r = client.post(URL, content=GOOD.replace("bodhi_update_push_stable", "nowhere"))
    assert r.status_code == 200
    assert r.json()["message"] == (
        "Greenwave could not find a parent policy(ies) for following decision context(s): "
        "nowhere. Please change your policy so that it will match a decision context in "
        "the parent policies."
    )


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "gating.yaml"
    good.write_text(GOOD)
    bad = tmp_path / "bad.yaml"
    bad.write_text("--- !Policy\nrules: []\n")
    common = ["--policies", str(FEDORA)]
    assert main(["validate-gating-yaml", str(good), *common]) == 0
    assert capsys.readouterr().out.strip() == "All OK"
    assert main(["validate-gating-yaml", str(bad), *common, "--json"]) == 1
    assert capsys.readouterr().out.strip() == (
        '{"message": "Policy \'untitled\': No decision contexts provided"}'
    )
    assert main(["validate-gating-yaml", str(tmp_path / "none.yaml"), *common]) == 2
    assert "cannot read" in capsys.readouterr().err
