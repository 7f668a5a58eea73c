"""ResultsDB's read API over a store: the queries Greenwave sends, and a page of results.

    python bench/resultsdb.py [--builds 1000] [--tests 10] [--repeat 20]

Records ``builds * tests`` ResultsDB results (``resultsdb.result.new``, each build's
``dist.test<k>`` with ``type``/``item``/``system_architecture`` data) into a fresh
SQLite store through the real ingest path, brings the read models up to date, and times
through the HTTP app (FastAPI's test client, in process): Greenwave's two koji_build
queries (``greenwave/resources.py``: ``/results/latest`` with ``_distinct_on``, one by
``type=koji_build,brew-build&item``, one by ``original_spec_nvr``), a first page of
``/results`` without filters, and a page of one testcase. Each figure is the median of
``--repeat`` requests, in milliseconds. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from relengotron.adapters import bootstrap
from relengotron.adapters.http.app import create_app
from relengotron.adapters.services import inputs
from relengotron.adapters.settings import Settings
from relengotron.adapters.store.readmodel_queries import SQLReadModel
from relengotron.adapters.store.store import open_app
from relengotron.policies.spec import PolicySet
from tests.messages import PREFIX, Bus, write

DISTINCT_ON = "scenario,system_architecture,system_variant"


def messages(builds: int, tests: int) -> list[dict[str, object]]:
    bus, out, rid = Bus(), [], 1
    for b in range(builds):
        nvr = f"pkg{b:06d}-1.0-1.fc44"
        for t in range(tests):
            data = {"item": [nvr], "type": ["koji_build"], "system_architecture": ["x86_64"]}
            when = bus.t.strftime("%Y-%m-%dT%H:%M:%S.%f")
            body = {"id": rid, "outcome": "PASSED", "testcase": {"name": f"dist.test{t}"},
                    "data": data, "submit_time": when}  # fmt: skip
            out.append(bus.msg(f"{PREFIX}.resultsdb.result.new", body))
            rid += 1
    return out


def median_ms(call: Callable[[], int], repeat: int) -> tuple[float, int]:
    times, found = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        found = call()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 2), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=1000)
    parser.add_argument("--tests", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = open_app(f"sqlite:///{Path(tmp) / 'store.db'}")
        cfg = Settings()
        path = write(Path(tmp) / "in.jsonl", messages(args.builds, args.tests))
        started = time.perf_counter()
        inputs.ingest(app, [str(path)], cfg=cfg)
        bootstrap.projector(app, cfg).run()
        recorded = time.perf_counter() - started
        client = TestClient(create_app(SQLReadModel.of(app, cfg.gating), PolicySet(()), token=None))
        nvr = f"pkg{args.builds // 2:06d}-1.0-1.fc44"

        def get(url: str, **params: object) -> Callable[[], int]:
            def call() -> int:
                r = client.get(url, params=params)
                assert r.status_code == 200, r.text
                return len(r.json()["data"])

            return call

        latest = "/api/v2.0/results/latest"
        figures = {
            "greenwave_item_ms": get(
                latest, type="koji_build,brew-build", item=nvr, _distinct_on=DISTINCT_ON
            ),
            "greenwave_original_spec_nvr_ms": get(
                latest, original_spec_nvr=nvr, _distinct_on=DISTINCT_ON
            ),
            "page_no_filter_ms": get("/api/v2.0/results", limit=20),
            "page_one_testcase_ms": get("/api/v2.0/results", testcases="dist.test3"),
        }
        out: dict[str, object] = {"results": args.builds * args.tests,
                                  "record_and_project_s": round(recorded, 1)}  # fmt: skip
        for name, call in figures.items():
            ms, found = median_ms(call, args.repeat)
            print(f"{name:32} {ms:8.2f} ms  ({found} results)")
            out[name] = ms
        app.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
