"""Decider throughput: deciding after every message, against folding the same log.

    python bench/decide.py [--n 20000[,200000]] [--db URL]

Records N generated messages (mixed families; builds tagged into rawhide-pending,
CI results, waivers) without deciding, then times (1) folding the whole log into
the gating view (the baseline: reading and decoding, no policy work) and (2) a
decider run from position 0 (fold + evaluate after every message + record the
decisions and outbox actions), then (3) a decider resumed from the view in the
tables after 100 more messages (median of 3). With several sizes, the resumes are
compared: the same time at 20,000 and 200,000 messages. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import stream

from relengotron.adapters.ingest.ingest import ingest_files
from relengotron.adapters.rules.policy_loader import load_policy_set
from relengotron.adapters.settings import DEFAULT_POLICIES
from relengotron.adapters.store.store import open_app
from relengotron.adapters.store.view_store import SQLViewStore
from relengotron.projections.config import GatingConfig
from relengotron.projections.processes.decider import Decider


def measure(n: int, db: str | None, tmp: Path, rounds: int = 3) -> dict[str, Any]:
    src = tmp / f"in-{n}.jsonl"
    src.write_text("".join(json.dumps(m) + "\n" for m in stream(n)))
    app = open_app(db or f"sqlite:///{tmp / f'store-{n}.db'}")
    ingest_files(app, [str(src)])
    decider = Decider(app, load_policy_set(DEFAULT_POLICIES), GatingConfig())
    t0 = time.perf_counter()
    decider.read_view()
    fold = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = decider.run()
    decide = time.perf_counter() - t0
    # Later runs (e.g. the next ``ingest``): from the view in the tables. The first one
    # folds the log into them (the run above kept its view in memory only).
    views = SQLViewStore(app.recorder)
    Decider(app, decider.policies, GatingConfig(), views=views).run()
    resumes = []
    for r in range(rounds):
        more = tmp / f"more-{n}-{r}.jsonl"
        more.write_text("".join(json.dumps(m) + "\n" for m in stream(100, seed=99 + r)))
        ingest_files(app, [str(more)])
        t0 = time.perf_counter()
        Decider(app, decider.policies, GatingConfig(), views=views).run()
        resumes.append(time.perf_counter() - t0)
    resumed = statistics.median(resumes)
    print(f"messages:        {n:,}")
    print(f"events read:     {report.read:,}")
    gates = len(decider.view.gates)
    print(f"candidates:      {gates:,} gates, {report.evaluated:,} evaluations")
    print(f"decisions:       {len(report.decisions):,}, actions requested {report.actions:,}")
    print(f"fold only:       {fold:.2f} s ({report.read / fold:,.0f} events/s)")
    print(f"decide:          {decide:.2f} s ({n / decide:,.0f} msgs/s)")
    print(f"100 more, resumed from the view in the tables: {resumed:.3f} s (median of {rounds})")
    app.close()
    return {
        "n": n,
        "fold_events_per_s": round(report.read / fold),
        "decide_events_per_s": round(report.read / decide),
        "decide_msgs_per_s": round(n / decide),
        "ratio": round(fold / decide, 3),
        "resumed_run_s": round(resumed, 4),
        "resumed_vs_full_fold": round(resumed / fold, 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--n",
        default="20000",
        help="messages; several, comma-separated (e.g. 20000,200000), compare their resumes",
    )
    ap.add_argument("--db", help="store URL (default: a fresh SQLite file per size)")
    args = ap.parse_args()
    sizes = [int(x) for x in args.n.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(n, args.db, Path(tmp)) for n in sizes]
    out: dict[str, Any] = dict(results[-1])
    if len(results) > 1:
        out["sizes"] = results
        # The same resume at every size: the view is read entry by entry, not whole.
        out["resume_ratio_largest_vs_smallest"] = round(
            results[-1]["resumed_run_s"] / results[0]["resumed_run_s"], 3
        )
        print(f"resume at {sizes[-1]:,} vs {sizes[0]:,}: "
              f"x{out['resume_ratio_largest_vs_smallest']}")  # fmt: skip
    print(json.dumps(out))


if __name__ == "__main__":
    main()
