"""``relengotron demo``: the main job on the embedded default, with a bundled stream.

Ingests ``config/examples/sample-stream.jsonl`` (real message shapes) into a
fresh SQLite file, twice (the second pass shows redelivery is harmless), and
prints what was recorded per family and per build and change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adapters import bootstrap
from adapters.cli import render_event, render_summary
from adapters.store import DEFAULT_DIR, normalize_url

SAMPLE = Path(__file__).resolve().parents[1] / "config" / "examples" / "sample-stream.jsonl"


def _fresh_sqlite(url: str) -> None:
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def run_demo(db: str | None, *, fresh: bool = True) -> int:
    url = normalize_url(db or f"sqlite:///{Path.cwd() / DEFAULT_DIR / 'demo.db'}")
    if fresh:
        _fresh_sqlite(url)
    app = bootstrap.application(url)
    print(f"== Store: {url}")
    print(f"== Ingesting {SAMPLE.name} (real message shapes from the Fedora bus)\n")
    summary = bootstrap.ingest(app, [str(SAMPLE)])
    print(render_summary(summary))
    print("\n== The same file again: every message is a redelivery, nothing changes")
    again = bootstrap.ingest(app, [str(SAMPLE)])
    print(f"   {again.new} new, {again.duplicate} duplicate, {again.events} events written")

    print("\n== Per build (koji_build subjects)")
    builds = sorted(
        {
            m.get("name", "") + "-" + m.get("version", "") + "-" + m.get("release", "")
            for m in _bodies("org.fedoraproject.prod.buildsys.tag")
        }
    )
    for nvr in builds:
        history = bootstrap.subject_history(app, "koji_build", nvr)
        print(f"\n{nvr}: {len(history)} events")
        for e in history[1:]:
            print(render_event(e, "koji_build", nvr).split("\n")[0])
    print("\n== Per dist-git change")
    for body in _bodies("org.fedoraproject.prod.git.receive"):
        c = body["commit"]
        ident = f"{c['namespace']}/{c['repo']}#{c['rev']}"
        history = bootstrap.subject_history(app, "dist_git_commit", ident)
        names = ", ".join(e["event"].split(".", 1)[-1] for e in history[1:])
        print(f"  {c['namespace']}/{c['repo']}/{c['rev'][:12]}: {names}")
    print("\nTry: relengotron events --db", url, "--subject systemd-258-2.fc44")
    return 0


def _bodies(topic: str) -> list[dict[str, Any]]:
    """The distinct bodies of the sample's messages on ``topic``."""
    out: list[dict[str, Any]] = []
    for line in SAMPLE.read_text().splitlines():
        m = json.loads(line)
        if m["topic"] == topic and m["body"] not in out:
            out.append(m["body"])
    return out
