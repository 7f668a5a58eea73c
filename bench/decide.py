"""Decider throughput: deciding after every message, against folding the same log.

    python bench/decide.py [--n 20000] [--db URL]

Records N generated messages (mixed families; builds tagged into rawhide-pending,
CI results, waivers) without deciding, then times (1) folding the whole log into
the gating view (the baseline: reading and decoding, no policy work) and (2) a
decider run from position 0 (fold + evaluate after every message + record the
decisions and outbox actions). Last line: JSON with both rates and their ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import stream

from adapters.ingest.ingest import ingest_files
from adapters.rules.policy_loader import load_policy_set
from adapters.settings import DEFAULT_POLICIES
from adapters.store.store import open_app
from adapters.view_store import SQLViewStore
from projections.config import GatingConfig
from projections.decider import Decider


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--db", help="store URL (default: a fresh SQLite file)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        src.write_text("".join(json.dumps(m) + "\n" for m in stream(args.n)))
        app = open_app(args.db or f"sqlite:///{Path(tmp) / 'store.db'}")
        ingest_files(app, [str(src)])
        decider = Decider(app, load_policy_set(DEFAULT_POLICIES), GatingConfig())
        t0 = time.perf_counter()
        decider.read_view()
        fold = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = decider.run()
        decide = time.perf_counter() - t0
        # A later run (e.g. the next ``ingest``): from the view saved by this one.
        views = SQLViewStore(app.recorder)
        Decider(app, decider.policies, GatingConfig(), snapshots=views).run()  # saves it
        more = Path(tmp) / "more.jsonl"
        more.write_text("".join(json.dumps(m) + "\n" for m in stream(100, seed=99)))
        ingest_files(app, [str(more)])
        t0 = time.perf_counter()
        Decider(app, decider.policies, GatingConfig(), snapshots=views).run()
        resumed = time.perf_counter() - t0
    print(f"messages:        {args.n:,}")
    print(f"events read:     {report.read:,}")
    gates = len(decider.view.gates)
    print(f"candidates:      {gates:,} gates, {report.evaluated:,} evaluations")
    print(f"decisions:       {len(report.decisions):,}, actions requested {report.actions:,}")
    print(f"fold only:       {fold:.2f} s ({report.read / fold:,.0f} events/s)")
    print(f"decide:          {decide:.2f} s ({args.n / decide:,.0f} msgs/s)")
    print(f"100 more, resumed from the saved view: {resumed:.2f} s")
    print(
        json.dumps(
            {
                "n": args.n,
                "fold_events_per_s": round(report.read / fold),
                "decide_events_per_s": round(report.read / decide),
                "decide_msgs_per_s": round(args.n / decide),
                "ratio": round(fold / decide, 3),
                "resumed_run_s": round(resumed, 3),
                "resumed_vs_full_fold": round(resumed / fold, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
