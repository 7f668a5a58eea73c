"""Artifact graph: build time and ``affected()`` latency at Fedora scale.

    python bench/graph.py [--packages 60000] [--artifacts 500] [--queries 200] [--seed 1]
                          [--no-solv] [--profile] [--gc-freeze] [--untagged]

Generates (seeded) a distribution: ``--packages`` source packages whose popularity
is skewed (a core like glibc and bash in nearly every artifact, a long tail in few
or none) and ``--artifacts`` artifacts in three levels:

1. repositories (~4%): ``contains_tags``, ``propagates=False``, three tags each;
2. OSTrees, containers, live and cloud images (~66%) composed from a repository
   (rawhide, the first, feeds over a third of them), with manifests of 1,000-5,000
   packages (a few lagging a release behind);
3. images built from a level-2 artifact (the rest), ``propagates``, whose
   manifests are their parent's plus 20-200 packages of their own.

Times building the ``ArtifactGraph`` (``define`` + ``set_manifest`` for all) and
``affected()`` for batches of 1, 10 and 300 changed builds (new NVRs of packages
drawn like real update batches: the tail more often than the core, but the core
not rarely; all tagged into one tag of one repository, chosen with the same skew as
the artifacts' repositories), reporting p50/p99/max.

The baseline, timed in the same run, is the same package -> artifacts lookup on
plain dicts (``dict[str, set[str]]`` built the same way, NVR comparison, tag ->
repositories, the repositories each artifact draws from, and a children dict for
propagation): the answer set without the graph library, order, reasons or waits.
Both answer sets are checked equal. Collections (``gc``) during the queries are
counted and timed: with a million-edge graph in the heap, a full (gen2) collection
is the usual outlier.

Then ``bench_solv()`` from ``bench/graph_solv.py`` if it is there (``--no-solv``
skips it). Last line: JSON.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import json
import pstats
import random
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from graph_data import Distribution, change_batches, generate

from relengotron.projections.folds.graph import ArtifactGraph, BuildChange

SIZES = (1, 10, 300)
TARGET_P99_MS_10 = 10.0
BUDGET_S = 60.0  # per batch size and implementation, before lowering the query count
MIN_QUERIES = 50


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---------------------------------------------------------------- the two implementations


def build_graph(dist: Distribution) -> ArtifactGraph:
    g = ArtifactGraph()
    for node in dist.nodes:
        g.define(node)
    for name, packages in dist.manifests.items():
        g.set_manifest(name, packages, "koji")
    g.rank()  # the order is computed once, on first use
    return g


@dataclass
class DictIndex:
    """The baseline: package -> artifacts on plain dicts."""

    containing: dict[str, set[str]]
    manifests: dict[str, dict[str, str | None]]
    by_tag: dict[str, set[str]]
    repos: set[str]
    children: dict[str, list[str]]  # of propagating artifacts only
    sources: dict[str, frozenset[str]]  # artifact -> the repositories it draws from

    @classmethod
    def build(cls, dist: Distribution) -> DictIndex:
        containing: dict[str, set[str]] = {}
        manifests: dict[str, dict[str, str | None]] = {}
        for name, packages in dist.manifests.items():
            manifests[name] = dict(packages)
            for p in packages:
                containing.setdefault(p, set()).add(name)
        by_tag: dict[str, set[str]] = {}
        children: dict[str, list[str]] = {}
        propagating = {n.name for n in dist.nodes if n.propagates}
        for node in dist.nodes:
            for t in node.tags if node.contains_tags else ():
                by_tag.setdefault(t, set()).add(node.name)
            for parent, _ in node.parents:
                if parent in propagating:
                    children.setdefault(parent, []).append(node.name)
        repos = {n.name for n in dist.nodes if n.contains_tags}
        parents = {n.name: [p for p, _ in n.parents] for n in dist.nodes}
        sources: dict[str, frozenset[str]] = {}

        def draws_from(name: str) -> frozenset[str]:
            if name not in sources:
                found: set[str] = set()
                for p in parents.get(name, ()):
                    found |= draws_from(p) | ({p} if p in repos else set())
                sources[name] = frozenset(found)
            return sources[name]

        for node in dist.nodes:
            draws_from(node.name)
        return cls(containing, manifests, by_tag, repos, children, sources)

    def affected(self, changes: Sequence[BuildChange]) -> set[str]:
        hit: set[str] = set()
        reached: dict[str, set[str]] = {}
        for c in changes:
            into = self.repos if c.tag is None else self.by_tag.get(c.tag, set())
            reached.setdefault(c.nvr, set()).update(into)
            hit |= into
        for c in changes:
            into = reached[c.nvr]
            for art in self.containing.get(c.package, ()):
                if self.manifests[art][c.package] != c.nvr:
                    sources = self.sources[art]
                    if not sources or not sources.isdisjoint(into):
                        hit.add(art)
        todo = list(hit)
        while todo:
            for child in self.children.get(todo.pop(), ()):
                if child not in hit:
                    hit.add(child)
                    todo.append(child)
        return hit


# ---------------------------------------------------------------- timing


class GCWatch:
    """Collections (by generation) and the time they took, while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.counts = [0, 0, 0]
        self.ms = [0.0, 0.0, 0.0]
        self._t0 = 0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if not self.on:
            return
        if phase == "start":
            self._t0 = time.perf_counter_ns()
        else:
            gen = info["generation"]
            self.counts[gen] += 1
            self.ms[gen] += (time.perf_counter_ns() - self._t0) / 1e6

    def reset(self) -> None:
        self.counts = [0, 0, 0]
        self.ms = [0.0, 0.0, 0.0]

    def line(self) -> str:
        return ", ".join(f"gen{g} {self.counts[g]}x {self.ms[g]:.1f} ms" for g in range(3))


def time_queries(
    fn: Callable[[list[BuildChange]], Any],
    batches: list[list[BuildChange]],
    keep: Callable[[Any], frozenset[str]],
) -> tuple[list[float], list[frozenset[str]]]:
    """Per-query wall time in ms, and ``keep`` of each answer (only that is kept, so that
    the answers do not pile up in the heap the collector scans); stops early (at
    MIN_QUERIES or more) past the budget."""
    times: list[float] = []
    answers: list[frozenset[str]] = []
    started = time.perf_counter()
    for batch in batches:
        t0 = time.perf_counter_ns()
        answer = fn(batch)
        times.append((time.perf_counter_ns() - t0) / 1e6)
        answers.append(keep(answer))
        del answer
        if len(times) >= MIN_QUERIES and time.perf_counter() - started > BUDGET_S:
            break
    return times, answers


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def summary(times: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(times, 0.50), 3),
        "p99_ms": round(percentile(times, 0.99), 3),
        "max_ms": round(max(times), 3),
        "mean_ms": round(statistics.fmean(times), 3),
    }


def run_solv(args: argparse.Namespace) -> dict[str, float] | None:
    if args.no_solv:
        print("solv:            skipped (--no-solv)")
        return None
    if not (Path(__file__).resolve().parent / "graph_solv.py").exists():
        print("solv:            bench/graph_solv.py is missing")
        return None
    try:
        mod = importlib.import_module("graph_solv")
        bench_solv = mod.bench_solv
    except Exception as exc:
        print(f"solv:            bench/graph_solv.py does not import: {exc!r}")
        return None
    try:
        result: dict[str, float] = bench_solv(
            n_packages=args.packages, n_artifacts=args.artifacts, seed=args.seed, workdir=None
        )
    except Exception:
        print("solv:            bench_solv() failed:")
        traceback.print_exc(file=sys.stdout)
        return None
    print(
        "solv:            "
        + ", ".join(
            f"{k} {v:,.3f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in result.items()
        )
    )
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=60_000)
    ap.add_argument("--artifacts", type=int, default=500)
    ap.add_argument("--queries", type=int, default=200, help="per batch size")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-solv", action="store_true", help="skip bench/graph_solv.py")
    ap.add_argument("--profile", action="store_true", help="cProfile the 10-build queries")
    ap.add_argument(
        "--untagged",
        action="store_true",
        help="builds of unknown tag (they reach every repository: the heaviest case)",
    )
    ap.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() once the graph is built (what a long-running service could do)",
    )
    args = ap.parse_args()

    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    dist = generate(args.packages, args.artifacts, rng)
    gen_s = time.perf_counter() - t0
    rss_gen = rss_mb()
    batches = {
        size: change_batches(dist, size, args.queries, rng, untagged=args.untagged)
        for size in SIZES
    }

    t0 = time.perf_counter()
    graph = build_graph(dist)
    build_s = time.perf_counter() - t0
    rss_graph = rss_mb()
    t0 = time.perf_counter()
    index = DictIndex.build(dist)
    base_build_s = time.perf_counter() - t0
    edges = graph.graph.number_of_edges()
    art_edges = sum(len(n.parents) for n in dist.nodes)
    in_manifests = len(index.containing)
    sizes = [len(m) for m in dist.manifests.values()]

    print(f"packages:        {args.packages:,} ({in_manifests:,} in some manifest)")
    print(
        f"artifacts:       {len(dist.nodes):,} ({len(dist.repos)} repositories); "
        f"manifests {min(sizes):,}-{max(sizes):,} packages, mean {statistics.fmean(sizes):,.0f}"
    )
    print(f"edges:           {edges:,} ({art_edges:,} artifact -> artifact)")
    print(f"generated in:    {gen_s:.2f} s")
    print(
        f"build:           {build_s:.2f} s; plain dicts {base_build_s:.2f} s "
        f"(ratio {build_s / base_build_s:.1f}x)"
    )

    if args.gc_freeze:
        gc.collect()
        gc.freeze()
        print(f"gc.freeze():     {gc.get_freeze_count():,} objects no longer scanned")
    watch = GCWatch()
    results: dict[str, Any] = {}
    for size in SIZES:
        watch.reset()
        watch.on = True
        graph_times, answers = time_queries(
            graph.affected, batches[size], lambda out: frozenset(a.artifact for a in out)
        )
        watch.on = False
        base_times, base_answers = time_queries(
            index.affected, batches[size][: len(graph_times)], frozenset
        )
        n = min(len(graph_times), len(base_times))
        for got, want in zip(answers[:n], base_answers[:n], strict=True):
            if got != want:
                raise SystemExit(f"graph and baseline disagree for a batch of {size}")
        g_sum, b_sum = summary(graph_times), summary(base_times)
        mean_affected = statistics.fmean(len(a) for a in answers)
        del answers, base_answers
        ratio = g_sum["p50_ms"] / b_sum["p50_ms"] if b_sum["p50_ms"] else float("inf")
        print(
            f"affected({size:>3}):   {len(graph_times)} queries, p50 {g_sum['p50_ms']:.2f} ms, "
            f"p99 {g_sum['p99_ms']:.2f} ms, max {g_sum['max_ms']:.2f} ms, "
            f"mean {mean_affected:.1f} affected"
        )
        print(f"  collections:   {watch.line()}")
        print(
            f"  plain dicts:   p50 {b_sum['p50_ms']:.3f} ms, p99 {b_sum['p99_ms']:.3f} ms, "
            f"max {b_sum['max_ms']:.3f} ms  (graph/dicts at p50: {ratio:.1f}x)"
        )
        results[str(size)] = {
            **{k: v for k, v in g_sum.items() if k != "mean_ms"},
            "mean_affected": round(mean_affected, 1),
            "queries": len(graph_times),
            "baseline_p50_ms": b_sum["p50_ms"],
            "baseline_p99_ms": b_sum["p99_ms"],
            "ratio_p50": round(ratio, 2),
            "gc_gen2": watch.counts[2],
            "gc_gen2_ms": round(watch.ms[2], 1),
        }

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for batch in batches[10]:
            graph.affected(batch)
        prof.disable()
        print(f"profile of {len(batches[10])} affected() calls with 10 builds:")
        pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(15)

    met = results["10"]["p99_ms"] <= TARGET_P99_MS_10
    print(
        f"target:          p99 for 10 builds <= {TARGET_P99_MS_10:g} ms: "
        + ("met" if met else "MISSED")
    )
    peak_before_solv = rss_mb()
    solv = run_solv(args)
    print(
        f"peak RSS:        {rss_gen:,.0f} MB after generating, {rss_graph:,.0f} MB after the "
        f"graph, {peak_before_solv:,.0f} MB before solv, {rss_mb():,.0f} MB at the end"
    )
    gc.collect()
    print(
        json.dumps(
            {
                "packages": args.packages,
                "artifacts": len(dist.nodes),
                "edges": edges,
                "build_s": round(build_s, 3),
                "baseline_build_s": round(base_build_s, 3),
                "queries": results,
                "target_p99_ms_10": TARGET_P99_MS_10,
                "gc_freeze": args.gc_freeze,
                "untagged": args.untagged,
                "met": met,
                "peak_rss_mb": round(rss_mb(), 1),
                "peak_rss_mb_before_solv": round(peak_before_solv, 1),
                "solv": solv,
            }
        )
    )


if __name__ == "__main__":
    main()
