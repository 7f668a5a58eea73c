"""A decision's fingerprints hash each requirement's fields; stored decisions keep their
fingerprints, so the fields must come out exactly as ``dataclasses.asdict`` gave them
(``policies/decision.py`` copies them shallowly, which is cheaper)."""

from __future__ import annotations

import json
from dataclasses import asdict, fields

from hypothesis import given
from hypothesis import strategies as st

from relengotron.policies.answers import Requirement
from relengotron.policies.decision import _fields

text = st.none() | st.text(max_size=8)
ident = st.none() | st.integers() | st.text(max_size=8)


def _by_asdict(r: Requirement) -> dict[str, object]:
    out = asdict(r)
    if not out["invalid"]:
        del out["invalid"]
    for key in ("system_architecture", "system_variant", "source", "sources", "rerun_deadline"):
        if out[key] is None:
            del out[key]
    return out


@given(
    st.builds(
        Requirement,
        type=st.sampled_from(
            ["test-result-passed", "test-result-missing", "failed-fetch-gating-yaml"]
        ),
        subject_type=st.just("koji_build"),
        subject_identifier=st.text(min_size=1, max_size=8),
        testcase=text,
        scenario=text,
        result_id=ident,
        waiver_id=ident,
        policy_id=text,
        event=text,
        detail=text,
        invalid=st.booleans(),
        system_architecture=text,
        system_variant=text,
        source=text,
        sources=st.none() | st.tuples(st.text(max_size=5), st.text(max_size=5)),
        rerun_deadline=text,
    )
)
def test_fields_hash_as_asdict_did(r: Requirement) -> None:
    def canonical(d: dict[str, object]) -> str:
        return json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    assert canonical(_fields(r)) == canonical(_by_asdict(r))
    assert len(fields(Requirement)) == 16  # a new field: check it is flat, then count it
