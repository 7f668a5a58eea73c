"""The demo's bundled stream is exactly what bench/generate.py makes (no hand edits)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_sample_stream_is_generated():
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from generate import demo_stream
    finally:
        sys.path.remove(str(REPO / "bench"))
    expected = "".join(json.dumps(m, sort_keys=True) + "\n" for m in demo_stream())
    assert (REPO / "config" / "examples" / "sample-stream.jsonl").read_text() == expected


def test_demo_runs(tmp_path, capsys):
    from adapters.cli import main

    assert main(["demo", "--db", f"sqlite:///{tmp_path / 'demo.db'}"]) == 0
    out = capsys.readouterr().out
    assert "0 new, 71 duplicate, 0 events written" in out
    assert "systemd-258-2.fc44" in out and "WaiverRecorded" in out
    assert "1 x org.fedoraproject.prod.fedocal.meeting.new" in out
