"""How much of the log a piece of code reads: SQLite's own count of its work, and
messages that add to the log without opening a gate or requesting an action."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event


def sqlite_work(app: Any, run: Callable[[], Any]) -> int:
    """SQLite's own count of the work ``run()`` makes it do (virtual machine steps, in
    hundreds, over every connection the run uses)."""
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return 0  # go on

    def counting(dbapi_connection: Any, *args: Any) -> None:
        dbapi_connection.set_progress_handler(tick, 100)

    engine = app.recorder.datastore.engine
    event.listen(engine, "checkout", counting)
    try:
        run()
    finally:
        event.remove(engine, "checkout", counting)
    return steps[0]


def result_line(i: int) -> str:
    """A ResultsDB result of a build never tagged (no gate, no action): a JSON line."""
    body = {
        "data": {"item": [f"other{i}-1.0-1.fc44"], "type": ["koji_build"]},
        "id": 52000000 + i,
        "outcome": "PASSED",
        "ref_url": f"https://ci.example/{i}",
        "submit_time": "2026-11-21T09:06:10+00:00",
        "testcase": {"name": "dist.rpmdeplint"},
    }
    topic = "org.fedoraproject.prod.resultsdb.result.new"
    return json.dumps({"id": f"result-{i}", "topic": topic, "body": body})


def lines_file(tmp_path: Path, lines: list[str]) -> Path:
    f = tmp_path / f"part-{len(list(tmp_path.iterdir()))}.jsonl"
    f.write_text("\n".join(lines) + "\n")
    return f
