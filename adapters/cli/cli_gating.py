"""Gating commands: decide, act, status, waive, evaluate."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any

from relengotron.adapters import bootstrap
from relengotron.adapters.cli import progress
from relengotron.adapters.cli.cli_errors import EXIT_OK, EXIT_PROBLEM, UsageError
from relengotron.adapters.cli.subjects import check_nvr, unknown_build, warn
from relengotron.adapters.cli.summaries import render_act, render_decisions, render_row
from relengotron.adapters.effects.effector import ActReport
from relengotron.adapters.ingest.collector import fewer_collections
from relengotron.adapters.koji.koji_values import FAILED, TRANSIENT
from relengotron.adapters.services import decisions, inputs
from relengotron.adapters.services.status import build_status, waiver_warnings
from relengotron.adapters.settings import Settings
from relengotron.domain.outbox import SIGN_REQUEST
from relengotron.policies.decision import Decision
from relengotron.policies.engine import evaluate
from relengotron.projections.decision_signing import signing_keys
from relengotron.projections.folds.gating_signing import signing_views
from relengotron.projections.folds.remote_files import with_remote_files
from relengotron.projections.policy_input import policy_input

__all__ = ["add_parsers", "render_act", "render_decisions", "render_row", "run"]


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("decide", help="bring decisions up to date with the log (ingest does this)")
    common(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--verbose", action="store_true", help="list every decision change")
    progress.add_option(p)

    p = sub.add_parser("act", help="carry out pending koji moves and bus messages")
    common(p)
    p.add_argument("--dry-run", action="store_true", help="show what would be done; change nothing")
    p.add_argument("--json", action="store_true", help="print what was done as JSON")
    p.add_argument("--verbose", action="store_true", help="list every action")
    p.add_argument(
        "--follow",
        action="store_true",
        help="keep deciding and acting as the log grows (one process per store leads)",
    )
    p.add_argument(
        "--interval", type=float, default=1.0, metavar="S", help="--follow: seconds between rounds"
    )

    p = sub.add_parser("status", help="a build's gating state, tags and latest decision")
    p.add_argument("nvr", metavar="NVR")
    common(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("waive", help="record a waiver for a build's test case")
    p.add_argument("nvr", metavar="NVR")
    p.add_argument("testcase", metavar="TESTCASE")
    p.add_argument("--reason", required=True, metavar="TEXT", help="why (kept with the waiver)")
    p.add_argument("--scenario", metavar="S", help="waive only this scenario")
    p.add_argument("--username", metavar="USER", help="who waives (default: $USER)")
    p.add_argument("--revoke", action="store_true", help="revoke an earlier waiver instead")
    common(p)
    p.add_argument("--json", action="store_true", help="print the resulting status as JSON")

    p = sub.add_parser("evaluate", help="dry-run a policy directory against current state")
    p.add_argument("nvr", metavar="NVR")
    p.add_argument("--policies", required=True, metavar="DIR", help="policy directory to try")
    p.add_argument(
        "--product-version",
        metavar="PV",
        help="the product version to decide for (default: [gating] product_version)",
    )
    p.add_argument("--context", metavar="CONTEXT",
                   help="the decision context (default: [gating] decision_context)")  # fmt: skip
    common(p)
    p.add_argument("--json", action="store_true", help="print the decision as JSON")


def run(args: argparse.Namespace) -> int | None:
    handler = {
        "decide": cmd_decide,
        "act": cmd_act,
        "status": cmd_status,
        "waive": cmd_waive,
        "evaluate": cmd_evaluate,
    }.get(args.command)
    return handler(args) if handler else None


def _setup(args: argparse.Namespace, *, create: bool = True) -> tuple[Settings, Any]:
    cfg = bootstrap.settings(args.config)
    return cfg, bootstrap.application(args.db, cfg, create=create)


# ------------------------------------------------------------------ decide / act


def cmd_decide(args: argparse.Namespace) -> int:
    cfg, app = _setup(args)
    with fewer_collections():  # bulk work: catching up may fold the whole log
        with progress.bar_for(args, "decide", unit="events") or _nothing() as bar:
            report = decisions.decide(app, cfg, progress=bar)
        bootstrap.projector(app, cfg).run()  # the read models reflect the new decisions
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        print(render_decisions(report, verbose=args.verbose))
    return EXIT_OK


def _nothing() -> Any:
    import contextlib

    return contextlib.nullcontext(None)


def cmd_act(args: argparse.Namespace) -> int:
    cfg, app = _setup(args)
    if args.follow:
        return _act_follow(app, cfg, args)
    decisions.decide(app, cfg)  # never act on a stale outbox
    report = bootstrap.effector(app, cfg).run(dry_run=args.dry_run)
    print(json.dumps(report.as_json()) if args.json else render_act(report, verbose=args.verbose))
    return EXIT_PROBLEM if act_failed(report) else EXIT_OK


def act_failed(report: ActReport) -> bool:
    """Exit 1: an action failed for good, koji's login failed, or an action could not
    be carried out this time (koji or a backend unreachable: it stays pending, the next
    ``act`` tries again). Pending for want of configuration is not a failure."""
    return bool(
        report.errors
        or any(r["outcome"] == FAILED for r in report.done)
        or any(r["outcome"] == TRANSIENT for r in report.pending)
    )


def _act_follow(app: Any, cfg: Settings, args: argparse.Namespace) -> int:
    """Decide, plan composes and act, while this process leads: a round every
    ``--interval`` seconds, and (PostgreSQL) as soon as a worker commits."""
    import signal
    import threading

    from relengotron.adapters.live.followers import Followers

    if args.dry_run or args.interval <= 0:
        raise UsageError("--follow takes no --dry-run and a positive --interval")
    followers = Followers(app, cfg, interval=args.interval, project=False)
    halt = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: halt.set())
    print(f"relengotron act: following the log (pid {os.getpid()})", flush=True)
    followers.start()
    try:
        while followers.is_alive() and not halt.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        followers.stop()
    stats = followers.stats.as_json()
    print(json.dumps(stats) if args.json else f"relengotron act: stopped ({stats})")
    return EXIT_OK


# ------------------------------------------------------------------ status


def cmd_status(args: argparse.Namespace) -> int:
    check_nvr(args.nvr)
    cfg, app = _setup(args, create=False)
    view = bootstrap.decider(app, cfg).read_view()
    status = build_status(view, args.nvr, cfg.gating.pending_tag)
    if status is None:
        return unknown_build(args.nvr, app, args.json, state=None)
    print(json.dumps(status, default=str) if args.json else render_status(status))
    return EXIT_OK


def render_status(s: dict[str, Any]) -> str:
    lines = [f"{s['nvr']}: {s['state'] or 'not a gating candidate'}"]
    if s["owner"]:
        lines.append(f"  owner:  {s['owner']}")
    lines.append(f"  tags:   {', '.join(s['tags']) or '(none seen)'}")
    if s["withdrawn"]:
        lines.append(f"  left the gate: {s['withdrawn']['reason']}: {s['withdrawn']['detail']}")
    d = s["decision"]
    if d:
        lines.append(f"  decision ({s['decided_at']}): {d['verdict']} — {d['summary']}")
        lines.append(f"  policies: {', '.join(d.get('applicable_policies', [])) or '(none)'}")
        lines += _render_requirements(d)
    for a in s["actions"]:
        what = (
            f"sign with key {a.get('sigkey')}"
            if a["kind"] == SIGN_REQUEST
            else f"move {a['from_tag']} -> {a['to_tag']}"
        )
        lines.append(f"  {what}: {a['status']}  {a['detail'] or ''}".rstrip())
    for r in s.get("reruns", ()):
        scenario = f" ({r['scenario']})" if r["scenario"] else ""
        until = f" until {r['deadline']}" if r["state"] == "requested" else f": {r['outcome']}"
        lines.append(
            f"  rerun of {r['testcase']}{scenario} by {r['username']}: {r['state']}{until}"
        )
    for testcase, count in (s.get("flaky") or {}).items():
        lines.append(f"  flaky: {testcase} passed on {count} rerun(s) after failing")
    for c in s.get("rechecks", ()):
        gave_up = f" (gave up: {c['fallback']})" if c["fallback"] else ""
        lines.append(
            f"  re-check {c['group']} of {len(c['builds'])} build(s): {c['outcome']}{gave_up}"
        )
    for h in s.get("hints", ()):
        lines.append(f"  to do about {h['testcase']}: " + "  or  ".join(h["do"]))
    for g in s.get("signing", ()):
        unsigned = g["unsigned"]
        done = "rpms not listed yet" if unsigned is None else f"{len(unsigned)} rpm(s) unsigned"
        lines.append(f"  signing with {g['sigkey']}: {g['request']}, {done}")
    return "\n".join(lines)


def _render_requirements(d: dict[str, Any]) -> list[str]:
    out = []
    for mark, key in (("ok ", "satisfied_requirements"), ("NOT", "unsatisfied_requirements")):
        for r in d.get(key, []):
            name = r.get("testcase") or "-"
            extra = r.get("detail") or r.get("result_id") or r.get("waiver_id") or ""
            out.append(f"    {mark} {r['type']:<30} {name}  {extra}".rstrip())
    return out


# ------------------------------------------------------------------ waive / evaluate


def cmd_waive(args: argparse.Namespace) -> int:
    import getpass

    check_nvr(args.nvr)
    cfg, app = _setup(args)
    problems = waiver_warnings(bootstrap.decider(app, cfg).read_view(), args.nvr, args.testcase)
    inputs.sync_policies(app, cfg)
    waiver_id = inputs.record_waiver(
        app,
        cfg,
        subject_identifier=args.nvr,
        testcase=args.testcase,
        scenario=args.scenario,
        waived=not args.revoke,
        username=args.username or getpass.getuser(),
        comment=args.reason,
    )
    decider = bootstrap.decider(app, cfg)
    decider.run()  # leaves its view, folded to the end of the log
    status = build_status(decider.view, args.nvr, cfg.gating.pending_tag)
    if args.json:
        print(json.dumps({"waiver_id": waiver_id, "status": status}, default=str))
    else:
        verb = "Revoked the waiver of" if args.revoke else "Waived"
        print(f"{verb} {args.testcase} for {args.nvr} ({waiver_id}).")
        if status:
            print(render_status(status))
    for problem in problems:  # said once the waiver is recorded and decided with
        warn("waive", problem)
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    check_nvr(args.nvr)
    cfg = bootstrap.settings(args.config)
    policies = bootstrap.policy_set(cfg, args.policies)  # the directory tried first
    app = bootstrap.application(args.db, cfg, create=False)
    view = bootstrap.decider(app, cfg, policies).read_view()
    build = view.builds.get(args.nvr)
    if build is None and args.nvr not in view.gates:
        return unknown_build(args.nvr, app, args.json)
    snapshot = with_remote_files(  # the gating.yaml files recorded, never fetched here
        policy_input(
            view.subject_facts(args.nvr),
            product_version=args.product_version or cfg.gating.product_version,
            decision_context=args.context or cfg.gating.decision_context,
            batch=view.batch_views(args.nvr),
            signing=signing_views(view, args.nvr, tuple(signing_keys(policies.policies))),
        ),
        policies,
        cfg.gating.remote_rule_templates,
        build.change if build else None,
        view.remote_files,
    )
    decision: Decision = evaluate(policies, snapshot)
    out = decision.as_dict()
    if not out.get("applicable_policies"):  # as decision: Greenwave's 404, not a "no"
        raise UsageError(out["summary"])
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.nvr} against {args.policies} (nothing recorded):")
        print(f"  {out['verdict']} — {out['summary']}")
        print(f"  policies: {', '.join(out.get('applicable_policies', [])) or '(none)'}")
        print("\n".join(_render_requirements(out)))
    return EXIT_OK if out.get("policies_satisfied") else EXIT_PROBLEM
