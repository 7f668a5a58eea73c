"""Release lifecycle commands: ``release branch|eol VERSION`` and ``ostree promote|tag|
archive|gc``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from relengotron.adapters import bootstrap
from relengotron.adapters.cli.cli_errors import EXIT_OK, EXIT_PROBLEM, UsageError

RUN_HELP = "print the plan (and what is recorded of each step); change nothing"


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("release", help="a new release branched, or a release's End Of Life")
    p.add_argument("operation", choices=("branch", "eol"))
    p.add_argument("version", metavar="VERSION", help="the release's number (45)")
    p.add_argument("--dry-run", action="store_true", help=RUN_HELP)
    common(p)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("ostree", help="OSTree refs: promote, tag, archive, gc")
    p.add_argument("operation", choices=("promote", "tag", "archive", "gc"))
    p.add_argument("ref", nargs="?", metavar="REF",
                   help="promote: the ref (or commit) to promote; tag: the tag's name; "
                        "archive: the prefix of the refs (fedora/43)")  # fmt: skip
    p.add_argument("--to", metavar="REF", help="promote: the ref fast-forwarded")
    p.add_argument("--ref", dest="source", metavar="REF", help="tag: the ref (or commit) tagged")
    p.add_argument("--keep", type=int, default=3, metavar="N",
                   help="gc: commits kept per ref (default 3)")  # fmt: skip
    p.add_argument("--repo", metavar="DIR", help="the repository ([release.ostree] repo)")
    p.add_argument("--archive-repo", metavar="DIR",
                   help="archive: where refs go ([release.ostree] archive_repo)")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="say what would change; change nothing")
    common(p)
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int | None:
    if args.command == "release":
        return cmd_release(args)
    if args.command == "ostree":
        return cmd_ostree(args)
    return None


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, default=str) if args.json else text)


def cmd_release(args: argparse.Namespace) -> int:
    from relengotron.adapters.services import lifecycle

    cfg = bootstrap.settings(args.config)
    app = bootstrap.application(args.db, cfg)
    try:
        report = lifecycle.run_operation(app, cfg, args.operation, args.version,
                                         dry_run=args.dry_run)  # fmt: skip
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    what = {"branch": "Branch", "eol": "End Of Life"}[args.operation]
    head = f"{what} of release {args.version}"
    if args.dry_run:
        head += " (dry run: the plan; nothing changed)"
    elif report.resumed:
        head += " (resumed)"
    lines = [head + ":"]
    for i, s in enumerate(report.steps, 1):
        detail = f" — {s['detail']}" if s.get("detail") else ""
        lines.append(f"{i:>3}. [{s['status']}] {s['system']:<9} {s['summary']}{detail}")
    if report.stopped:
        lines.append(f"Stopped at {report.stopped}\nFix the cause and run the same command "
                     "again: it resumes at this step.")  # fmt: skip
    elif report.finished:
        lines.append("All steps done.")
    _print(args, report.as_json(), "\n".join(lines))
    return EXIT_PROBLEM if report.stopped else EXIT_OK


def cmd_ostree(args: argparse.Namespace) -> int:
    from relengotron.adapters.lifecycle.ostree import OstreeError, Repo
    from relengotron.adapters.services import ostree

    cfg = bootstrap.settings(args.config)
    repo_path = args.repo or cfg.release.ostree_repo
    if not repo_path:
        raise UsageError("no repository: --repo DIR or [release.ostree] repo")
    repo = Repo(repo_path)
    if not repo.exists():
        raise UsageError(f"{repo} is not an OSTree repository")
    app = bootstrap.application(args.db, cfg)
    op = args.operation
    try:
        if op == "promote":
            if not args.ref or not args.to:
                raise UsageError("promote needs REF and --to REF")
            row = ostree.promote(app, cfg, repo, args.ref, args.to, dry_run=args.dry_run)
        elif op == "tag":
            if not args.ref or not args.source:
                raise UsageError("tag needs NAME and --ref REF")
            row = ostree.tag(app, repo, args.ref, args.source, dry_run=args.dry_run)
        elif op == "archive":
            target = args.archive_repo or cfg.release.ostree_archive_repo
            if not args.ref or not target:
                raise UsageError("archive needs PREFIX and --archive-repo DIR "
                                 "([release.ostree] archive_repo)")  # fmt: skip
            row = ostree.archive(app, repo, args.ref, Repo(target), dry_run=args.dry_run)
        else:
            row = ostree.gc(app, repo, args.keep, dry_run=args.dry_run)
    except ostree.Refused as exc:
        _print(args, {"operation": op, "outcome": "refused", "detail": str(exc)},
               f"ostree {op}: refused: {exc}")  # fmt: skip
        return EXIT_PROBLEM
    except OstreeError as exc:
        _print(args, {"operation": op, "outcome": "failed", "detail": str(exc)},
               f"ostree {op}: failed (the action stays pending; run again): {exc}")  # fmt: skip
        return EXIT_PROBLEM
    text = f"ostree {op}: {row['outcome']}: {row['detail']}"
    for ref, commits in (row.get("would_go") or {}).items():
        text += "".join(f"\n  {ref}: {c}" for c in commits)
    for ref in row.get("refs") or []:
        text += f"\n  {ref}"
    _print(args, row, text)
    return EXIT_OK
