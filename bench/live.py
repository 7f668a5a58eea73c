"""Live throughput and latency: RabbitMQ -> ``relengotron consume`` -> PostgreSQL.

    python bench/live.py [--n 20000] [--workers 1,2,4] [--rate 100] [--seconds 30]
                         [--latency-workers 1,4] [--no-followers-too] [--py-spy PATH]

Real services on this machine: RabbitMQ on 127.0.0.1:5672 (a vhost of its own,
made with ``rabbitmqctl`` and deleted at the end) and PostgreSQL on 127.0.0.1:5432
(a fresh database per run, dropped after it). Messages are ``generate.stream``'s
(real body shapes, builds tagged into rawhide-pending, CI results, 2 % redeliveries),
published with pika to ``amq.topic`` as fedora-messaging puts them on the wire
(``message_id`` = the message id, JSON body, fedora-messaging's headers), into the
queue ``relengotron`` declared with the consumers' own arguments. In the same run:

1. baseline: a plain pika consumer (no processing, one ack per message, prefetch 25)
   drains a backlog of N messages from that queue: rows/s the broker gives here;
   and publish -> receive latency of that consumer at ``--rate`` msgs/s.
2. throughput: a backlog of N messages, then K ``relengotron consume`` processes
   (K in ``--workers``; a fresh database each) as deployed: followers on, so the
   worker holding the leader lock also decides, composes, acts and projects.
   Timed from the first to the last commit of an ``InboundMessage.Received`` event
   (their event timestamps) until every distinct id is recorded; msgs/s counts the
   distinct messages (redeliveries are taken off the queue too, not counted). Then
   how long after the last commit the decider had decided on everything (its tracked
   position). With ``--no-followers-too``, the same with ``--no-followers``.
3. latency: K consumers (``--latency-workers``), followers on, ``--rate`` msgs/s for
   ``--seconds`` s; latency = the timestamp of each ``Gate.Opened`` / ``Gate.Decided``
   event minus the publish time (wall clock, same machine) of its ``trigger``,
   collected once the decider has caught up; also publish -> Received committed.

The store is read by position (each poll reads only the rows since the last), so
polling costs the machine little. CPU seconds of the consumers, PostgreSQL and
RabbitMQ are read from /proc during each throughput run. ``--py-spy PATH`` samples
the first consumer of the 1-worker throughput run (GIL holders, 20 s) and prints
where its CPU goes. Everything is bounded in time and cleaned up in ``finally``
(consumers terminated, vhost deleted, databases dropped). A service restarted by
someone else during the run ends it with an error: the figures would be wrong.

The last line is JSON: ``n``, ``distinct``, ``baseline_rows_per_s``,
``throughput_msgs_per_s`` and ``ratio_to_baseline`` per worker count (followers on),
``throughput_no_followers_msgs_per_s``, ``decided_after_s``,
``throughput_decided_msgs_per_s`` (from the first commit until every message was decided
on), ``parallel`` and ``prefetch`` (the workers' settings), ``cpu_s``, ``peak_rss_mb``
(the largest consumer's VmHWM), the latency of the first ``--latency-workers`` count
(``latency_p50_ms``, ``latency_p99_ms``,
``latency_max_ms``, ``decisions_measured``: gate events timed), ``latency_by_workers``,
``baseline_latency_p50_ms``/``p99_ms`` and ``targets_met``: ``throughput`` (>= 1,000
msgs/s with 4 workers, followers on) and ``latency`` (p99 < 500 ms in every latency run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_broker import (
    WORKER_PREFETCH,
    Wire,
    drain_plain,
    pct,
    plain_latency,
    private_vhost,
    wait_until,
    wires,
)
from live_procs import PROFILE, CpuMeter, profile_summary, py_spy
from live_store import Store, event_time, fresh_database
from live_workers import Setup

TARGET_RATE, TARGET_P99_MS = 1000.0, 500.0


# ------------------------------------------------------------------------ the runs


def wait_decided(store: Store, timeout: float) -> float | None:
    """Until the decider has decided on every message recorded so far (its tracked
    position reached the last subject event); then the gate events are all there.
    The wall-clock time it got there (None: not within ``timeout``)."""
    deadline = time.monotonic() + timeout
    target = store.last_input()
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.errors.UndefinedTable):
            if store.decided_up_to() >= target:
                done = time.time()
                store.poll()
                return done
        time.sleep(0.25)
    store.poll()
    return None


def wait_recorded(store: Store, keys: set[str], timeout: float) -> dict[str, float]:
    """Until every key in ``keys`` is recorded; their Received timestamps."""
    deadline = time.monotonic() + timeout
    while True:
        store.poll()
        if keys <= store.received.keys():
            return {k: store.received[k] for k in keys}
        if time.monotonic() > deadline:
            n = len(keys & store.received.keys())
            raise SystemExit(f"only {n:,}/{len(keys):,} recorded after {timeout:.0f} s")
        time.sleep(0.25)


def throughput(setup: Setup, batch: list[Wire], k: int, followers: str, timeout: float,
               spy: str | None) -> dict[str, Any]:  # fmt: skip
    keys = {w.key for w in batch}
    setup.broker.reset()
    setup.broker.publish_backlog(batch)
    with fresh_database() as db:
        store = Store(db)
        try:
            t0 = time.monotonic()
            setup.start(db, k, followers)
            consumers = list(setup.consumers)  # the followers' processes are metered too
            meter = CpuMeter(consumers)
            spying = None
            if spy:
                wait_until("the consumer", consumers[0].ready, 120)
                spying = py_spy(spy, consumers[0].pid, 20, PROFILE)
            times = wait_recorded(store, keys, timeout)
            wall = time.monotonic() - t0
            cpu = meter.stop()
            first, last = min(times.values()), max(times.values())
            result: dict[str, Any] = {
                "workers": k,
                "followers": followers,
                "recorded": len(keys),
                "seconds": round(last - first, 3),
                "msgs_per_s": round(len(keys) / (last - first), 1),
                "wall_s": round(wall, 1),
                "cpu_s": cpu,
            }
            if followers != "none":
                decided = wait_decided(store, timeout)
                result["followers_ran"] = store.activations > 0
                result["gate_events"] = len(store.gates)
                result["decided_after_s"] = None if decided is None else round(decided - last, 1)
                # From the first commit until every message was decided on.
                result["decided_msgs_per_s"] = (
                    None if decided is None else round(len(keys) / (decided - first), 1)
                )
            # The largest consumer's peak memory (VmHWM), read before they stop.
            result["peak_rss_mb"] = meter.peak_rss_mb()
            if spying is not None:
                spying.wait(60)
                result["profile"] = profile_summary(PROFILE)
        finally:
            codes = setup.stop_all()
            store.close()
        result["exit_codes"] = codes
    return result


def latency(setup: Setup, batch: list[Wire], k: int, rate: float,
            timeout: float) -> dict[str, Any]:  # fmt: skip
    setup.broker.reset()
    with fresh_database() as db:
        store = Store(db)
        try:
            consumers = setup.start(db, k, followers="in-worker")
            wait_until("the consumers", lambda: all(c.ready() for c in consumers), 120)
            # The leader's first round records the policy activation (and builds its views).
            with contextlib.suppress(SystemExit):
                wait_until("the leader's first round", lambda: bool(store.poll()), 60)
            sent = setup.broker.publish_paced(batch, rate)
            recorded = wait_recorded(store, set(sent), timeout)
            decided = wait_decided(store, timeout)
            gates, followed = store.gates, store.activations > 0
        finally:
            codes = setup.stop_all()
            store.close()
    ms = [(event_time(s) - sent[s["trigger"]]) * 1000 for s in gates if s.get("trigger") in sent]
    rec = [(recorded[key] - sent[key]) * 1000 for key in sent]
    return {
        "workers": k,
        "followers_ran": followed,
        "caught_up": decided is not None,
        "published": len(batch),
        "gate_events": len(gates),
        "measured": len(ms),
        "p50_ms": round(pct(ms, 50), 1) if ms else None,
        "p99_ms": round(pct(ms, 99), 1) if ms else None,
        "max_ms": round(max(ms), 1) if ms else None,
        "record_p50_ms": round(pct(rec, 50), 1),
        "record_p99_ms": round(pct(rec, 99), 1),
        "record_max_ms": round(max(rec), 1),
        "exit_codes": codes,
    }


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def _workers(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000, help="backlog size")
    ap.add_argument("--workers", default="1,2,4", help="consumer counts for throughput")
    ap.add_argument("--rate", type=float, default=100.0, help="msgs/s for the latency runs")
    ap.add_argument("--seconds", type=int, default=30, help="length of each latency run")
    ap.add_argument("--latency-workers", default="1,4", help="consumer counts for latency")
    ap.add_argument("--no-followers-too", action="store_true",
                    help="also measure throughput with --no-followers")  # fmt: skip
    ap.add_argument("--followers-apart-too", action="store_true",
                    help="also measure throughput with the followers in processes of their own "
                         "(workers --no-followers, act --follow, project --follow)")  # fmt: skip
    ap.add_argument("--timeout", type=float, default=900, help="seconds allowed per run")
    ap.add_argument(
        "--parallel",
        type=int,
        help="[consumer_config] parallel of each worker (default: consume's own)",
    )
    ap.add_argument("--prefetch", type=int, default=WORKER_PREFETCH,
                    help="[qos] prefetch_count of each consumer of the workers")  # fmt: skip
    ap.add_argument("--py-spy", help="py-spy executable: profile the 1-worker run's consumer")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks
    if not shutil.which("rabbitmqctl"):
        raise SystemExit("rabbitmqctl is needed (a vhost of our own per run)")
    exe = str(Path(sys.executable).parent / "relengotron")
    ks, lks = _workers(args.workers), _workers(args.latency_workers)
    backlog = wires(args.n, seed=1)
    paced = wires(round(args.rate * args.seconds), seed=2)
    distinct = len({w.key for w in backlog})
    runs: list[dict[str, Any]] = []
    lat: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="relengotron-live-") as tmpdir, \
            private_vhost() as broker:  # fmt: skip
        setup = Setup(broker, Path(tmpdir), exe, parallel=args.parallel, prefetch=args.prefetch)
        try:
            broker.reset()
            pub_s = broker.publish_backlog(backlog)
            base_s = drain_plain(broker, len(backlog), args.timeout)
            base_rate = len(backlog) / base_s
            print(f"baseline:   published {len(backlog):,} in {pub_s:.1f} s; plain pika "
                  f"drained them in {base_s:.2f} s = {base_rate:,.0f} msgs/s")  # fmt: skip
            broker.reset()
            base_ms = plain_latency(broker, paced, args.rate)
            print(f"baseline:   publish -> plain pika receipt at {args.rate:.0f} msgs/s: "
                  f"p50 {pct(base_ms, 50):.1f} ms, p99 {pct(base_ms, 99):.1f} ms")  # fmt: skip
            modes = ["in-worker"]
            modes += ["apart"] if args.followers_apart_too else []
            modes += ["none"] if args.no_followers_too else []
            tags = {"in-worker": "followers in a worker", "apart": "followers apart",
                    "none": "--no-followers"}  # fmt: skip
            for followers in modes:
                for k in ks:
                    spy = args.py_spy if k == 1 and followers == "in-worker" else None
                    r = throughput(setup, backlog, k, followers, args.timeout, spy)
                    runs.append(r)
                    tag = tags[followers]
                    print(f"throughput: {k} worker(s), {tag}: {r['recorded']:,} recorded in "
                          f"{r['seconds']:.1f} s = {r['msgs_per_s']:,.0f} msgs/s "
                          f"({r['msgs_per_s'] / base_rate:.3f} x baseline); CPU s: "
                          f"{r['cpu_s']}; peak memory of a consumer "
                          f"{r['peak_rss_mb']:,.0f} MiB")  # fmt: skip
                    if followers != "none" and r["followers_ran"]:
                        after, both = r["decided_after_s"], r["decided_msgs_per_s"]
                        print(f"            followers: {r['gate_events']:,} gate events; the "
                              "decider had decided on every message "
                              + ("NOT within the time allowed" if after is None
                                 else f"{after:.1f} s after the last commit (recorded and "
                                      f"decided: {both:,.0f} msgs/s)"))  # fmt: skip
                    elif followers != "none" and not r["followers_ran"]:
                        print("            NO FOLLOWER RAN (no policy activation recorded): "
                              "recording only")  # fmt: skip
                    for line in r.pop("profile", []):
                        print(f"            {line}")
            for k in lks:
                r = latency(setup, paced, k, args.rate, args.timeout)
                lat.append(r)
                print(f"latency:    {k} worker(s), {args.rate:.0f} msgs/s for {args.seconds} s: "
                      f"publish -> gate event p50 {_ms(r['p50_ms'])}, p99 {_ms(r['p99_ms'])}, "
                      f"max {_ms(r['max_ms'])} over {r['measured']:,} events; "
                      f"publish -> recorded p50 {_ms(r['record_p50_ms'])}, "
                      f"p99 {_ms(r['record_p99_ms'])}")  # fmt: skip
                if not r["followers_ran"]:
                    print("            NO FOLLOWER RAN (no policy activation recorded): "
                          "no decisions to time")  # fmt: skip
        finally:
            setup.stop_all()
    on = {r["workers"]: r for r in runs if r["followers"] == "in-worker"}
    apart = {r["workers"]: r for r in runs if r["followers"] == "apart"}
    off = {r["workers"]: r for r in runs if r["followers"] == "none"}
    first = lat[0] if lat else {}
    print(
        json.dumps(
            {
                "n": args.n,
                "distinct": distinct,
                "baseline_rows_per_s": round(base_rate),
                "throughput_msgs_per_s": {str(k): r["msgs_per_s"] for k, r in on.items()},
                "ratio_to_baseline": {
                    str(k): round(r["msgs_per_s"] / base_rate, 3) for k, r in on.items()
                },
                "throughput_followers_apart_msgs_per_s": {
                    str(k): r["msgs_per_s"] for k, r in apart.items()
                },
                "decided_after_s_followers_apart": {
                    str(k): r["decided_after_s"] for k, r in apart.items()
                },
                "throughput_no_followers_msgs_per_s": {
                    str(k): r["msgs_per_s"] for k, r in off.items()
                },
                "decided_after_s": {str(k): r["decided_after_s"] for k, r in on.items()},
                "throughput_decided_msgs_per_s": {
                    str(k): r["decided_msgs_per_s"] for k, r in on.items()
                },
                "parallel": args.parallel,
                "prefetch": args.prefetch,
                "cpu_s": {str(k): r["cpu_s"] for k, r in on.items()},
                "peak_rss_mb": {str(k): r["peak_rss_mb"] for k, r in on.items()},
                "latency_workers": first.get("workers"),
                "latency_p50_ms": first.get("p50_ms"),
                "latency_p99_ms": first.get("p99_ms"),
                "latency_max_ms": first.get("max_ms"),
                "decisions_measured": first.get("measured"),
                "latency_by_workers": {
                    str(r["workers"]): {
                        x: r[x] for x in ("p50_ms", "p99_ms", "max_ms", "measured", "record_p99_ms")
                    }
                    for r in lat
                },
                "baseline_latency_p50_ms": round(pct(base_ms, 50), 2),
                "baseline_latency_p99_ms": round(pct(base_ms, 99), 2),
                "targets_met": {
                    # With the followers running (in a worker or apart), 4 workers.
                    "throughput": any(
                        r["workers"] == 4 and r["msgs_per_s"] >= TARGET_RATE
                        for r in runs
                        if r["followers"] != "none" and r.get("decided_after_s") is not None
                    ),
                    "latency": bool(lat)
                    and all(r["p99_ms"] is not None and r["p99_ms"] < TARGET_P99_MS for r in lat),
                },
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except (psycopg.OperationalError, pika.exceptions.AMQPError) as exc:
        # Everything was cleaned up on the way out; a restarted service spoils the figures.
        raise SystemExit(f"live bench: a service went away during the run: {exc!r}") from exc
