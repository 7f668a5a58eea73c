"""The demo's bundled streams are exactly what bench/demo_streams.py makes (no hand edits),
and the demo shows promotions, a waiver, a quarantine and a bisection with reasons."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "generator"),
    [("sample-stream.jsonl", "demo_stream"), ("sample-bisection.jsonl", "demo_bisection_stream")],
)
def test_sample_streams_are_generated(name, generator):
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import demo_streams
    finally:
        sys.path.remove(str(REPO / "bench"))
    messages = getattr(demo_streams, generator)()
    expected = "".join(json.dumps(m, sort_keys=True) + "\n" for m in messages)
    assert (REPO / "config" / "examples" / name).read_text() == expected


def _state(out: str, nvr: str) -> tuple[str, str]:
    match = re.search(rf"^  {re.escape(nvr)}\s+(\S+)\s+(\S+)", out, re.M)
    assert match, f"{nvr} not listed"
    return match.group(1), match.group(2)


def test_demo_runs(tmp_path, capsys):
    from relengotron.adapters.cli.main import main

    assert main(["demo", "--db", f"sqlite:///{tmp_path / 'demo.db'}"]) == 0
    out = capsys.readouterr().out
    assert "0 new, 72 duplicate, 0 events written, 0 decision change(s)" in out
    assert "1 x org.fedoraproject.prod.fedocal.meeting.new" in out
    # bash opts in through its own gating.yaml (a file:// dist-git beside the store)
    gating_yaml = tmp_path / "demo-dist-git" / "bash-5.3-1.fc44" / "gating.yaml"
    assert f"bash-5.3-1.fc44 opted in through its own gating.yaml: {gating_yaml.as_uri()}" in out
    # Night one: four pass, systemd's failure is waived, vim's is real.
    for nvr in ("bash-5.3-1.fc44", "glibc-2.42-3.fc44", "openssl-3.5.2-1.fc44"):
        assert _state(out, nvr) == ("candidate", "promote")
    assert _state(out, "systemd-258-2.fc44") == ("waived", "waived")
    assert _state(out, "vim-9.1.1800-1.fc44") == ("quarantined", "quarantine")
    assert "waived org.centos.prod.ci.pipeline.allpackages-build.package.test.functional" in out
    # Night two: the bisection finds rpm in two rounds; the other three are cleared.
    assert "round 2: CI checks rawhide-pending-20261121.0/b/b ['rpm-6.0.1-1.fc44']: failed" in out
    assert "round 3" not in out
    assert _state(out, "rpm-6.0.1-1.fc44") == ("quarantined", "quarantine")
    for nvr in ("gcc-15.2.1-4.fc44", "dnf5-5.3.0-1.fc44", "python-requests-2.32.5-2.fc44"):
        assert _state(out, nvr) == ("candidate", "promote")
    assert "move rpm-6.0.1-1.fc44" in out and "-> rawhide-badnewsbears" in out
