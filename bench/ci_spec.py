"""Translation throughput of Fedora CI spec messages (what JSON Schema validation costs).

    python bench/ci_spec.py [--n 20000] [--invalid 0.1]

Generates N ``ci.koji-build.test.complete`` / ``ci.koji-build-group.test.complete``
messages (real shapes: the Fedora CI Jenkins template filled in; a fraction made
invalid by dropping ``contact``), translates each through the real router
(``adapters.translate.translate``), and prints msgs/s. Run it on two checkouts to compare
(the script needs nothing newer than the router). ``bench/ingest.py`` has no spec
messages in its stream, so it does not see this cost.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relengotron.adapters.translate import Envelope, translate

PREFIX = "org.fedoraproject.prod.ci"
CONTACT = {
    "name": "Fedora CI",
    "team": "Fedora CI",
    "docs": "https://docs.fedoraproject.org/en-US/ci/",
    "email": "ci@lists.fedoraproject.org",
    "irc": "#fedora-ci",
}


def _build(rng: random.Random, i: int) -> dict[str, Any]:
    name = f"pkg{rng.randrange(5000)}"
    return {
        "type": "koji-build",
        "id": 100000000 + i,
        "issuer": "packager",
        "component": name,
        "nvr": f"{name}-1.{i}-1.fc44",
        "scratch": False,
        "source": f"git+https://src.fedoraproject.org/rpms/{name}.git#{i:040x}",
    }


def message(rng: random.Random, i: int, invalid: bool) -> Envelope:
    group = rng.random() < 0.2
    artifact: dict[str, Any] = _build(rng, i)
    if group:
        artifact = {
            "type": "koji-build-group",
            "id": f"side-tag-{i}",
            "builds": [_build(rng, i * 10 + k) for k in range(rng.randrange(1, 8))],
        }
    body: dict[str, Any] = {
        "contact": CONTACT,
        "run": {"url": f"https://ci.example.org/{i}", "log": f"https://ci.example.org/{i}/log"},
        "artifact": artifact,
        "pipeline": {"id": f"p-{i}", "name": "tier0"},
        "test": {
            "category": "functional",
            "namespace": "fedora-ci." + artifact["type"],
            "type": "tier0",
            "result": rng.choice(["passed", "passed", "passed", "failed", "info"]),
        },
        "system": [{"os": "fedora-44", "provider": "testing-farm", "architecture": "x86_64"}],
        "generated_at": "2026-11-20T09:00:00Z",
        "version": "1.1.14",
    }
    if invalid:
        del body["contact"]
    topic = f"{PREFIX}.{artifact['type']}.test.complete"
    return Envelope(topic=topic, body=body, msg_id=str(i))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--invalid", type=float, default=0.1)
    args = ap.parse_args()
    rng = random.Random(7)
    envelopes = [message(rng, i, rng.random() < args.invalid) for i in range(args.n)]
    translate(envelopes[0])  # load and compile once, outside the timing
    t0 = time.perf_counter()
    facts = 0
    for e in envelopes:
        facts += len(translate(e).facts)
    dt = time.perf_counter() - t0
    out = {"n": args.n, "msgs_per_s": round(args.n / dt, 1), "seconds": round(dt, 3)}
    print(f"ci spec translate: {out['msgs_per_s']:,} msgs/s ({facts} facts)")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
