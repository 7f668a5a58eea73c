"""Artifact commands: artifacts, affected, graph, push, manifest."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relengotron.adapters import bootstrap
from relengotron.adapters.cli.cli_errors import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE
from relengotron.adapters.cli.subjects import check_nvr_or_package
from relengotron.adapters.services import decisions
from relengotron.adapters.services.artifacts import artifact_row, push_status
from relengotron.adapters.settings import Settings
from relengotron.projections.folds.artifacts import ArtifactView
from relengotron.projections.folds.graph import BuildChange, explain


class ArtifactUsageError(Exception):
    """Bad arguments found after parsing (an unknown artifact or push): exit 2."""


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("artifacts", help="artifacts: manifest source, last compose, state")
    p.add_argument("action", nargs="?", choices=("list", "sync"), default="list",
                   help="list (default), or sync: record changed definitions")  # fmt: skip
    p.add_argument("--dir", metavar="DIR", help="definitions for sync ([artifacts] definitions)")
    common(p)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("affected", help="the artifacts changed builds or packages affect")
    p.add_argument("items", nargs="+", metavar="NVR|PACKAGE")
    p.add_argument("--tag", metavar="TAG", help="the tag the builds go into (default: promoted)")
    common(p)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("graph", help="the artifact dependency graph (json, dot or svg)")
    p.add_argument("--artifact", metavar="NAME", help="only this artifact and its relatives")
    p.add_argument("--format", choices=("json", "dot", "svg"), default="dot")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    common(p)

    p = sub.add_parser("push", help="a Bodhi push's progress through its stages")
    p.add_argument("push", metavar="ID", help="<bodhi compose>#<n>, or a compose for its latest")
    common(p)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("manifest", help="learn artifact manifests (depsolve or rpms.json)")
    p.add_argument("how", choices=("solve", "load"))
    p.add_argument("--repo", metavar="DIR|URL", help="solve: repository (repodata) to solve in")
    p.add_argument("--arch", metavar="ARCH", help="architecture (solve default: x86_64)")
    p.add_argument("--artifact", action="append", default=[], metavar="NAME",
                   help="only these artifacts (load: exactly one)")  # fmt: skip
    p.add_argument("--weak-deps", action="store_true", help="solve: include Recommends")
    p.add_argument("--rpms-json", metavar="FILE|URL", help="load: a compose's rpms.json")
    p.add_argument("--variant", metavar="VARIANT", help="load: only this variant")
    common(p)
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int | None:
    handler = {
        "artifacts": cmd_artifacts,
        "affected": cmd_affected,
        "graph": cmd_graph,
        "push": cmd_push,
        "manifest": cmd_manifest,
    }.get(args.command)
    if handler is None:
        return None
    try:
        return handler(args)
    except ArtifactUsageError as exc:
        print(f"relengotron {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _view(args: argparse.Namespace, *, create: bool = False) -> tuple[Settings, Any, ArtifactView]:
    """Settings, store and the composer's view; read-only commands create no store."""
    cfg = bootstrap.settings(args.config)
    app = bootstrap.application(args.db, cfg, create=create)
    decisions.decide_all(app, cfg)  # never answer from a stale view
    return cfg, app, bootstrap.composer(app, cfg).read_view()


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, default=str) if getattr(args, "json", False) else text)


# ---------------------------------------------------------------- artifacts


def cmd_artifacts(args: argparse.Namespace) -> int:
    if args.action == "sync":
        from relengotron.adapters.artifacts.artifact_sync import sync_definitions
        from relengotron.adapters.artifacts.definitions import DefinitionError

        cfg = bootstrap.settings(args.config)
        app = bootstrap.application(args.db, cfg)
        view = bootstrap.composer(app, cfg).read_view()
        directory = Path(args.dir) if args.dir else cfg.artifacts
        try:
            report = sync_definitions(app, view, directory, bootstrap.kinds())
        except DefinitionError as exc:
            print(f"relengotron artifacts sync: {exc}", file=sys.stderr)
            return EXIT_USAGE
        decisions.decide_all(app, cfg)
        data = report.as_json()
        text = (
            f"Artifact definitions from {directory}: {len(report.defined)} new, "
            f"{len(report.redefined)} changed, {len(report.retired)} retired, "
            f"{len(report.unchanged)} unchanged."
        )
        for label, names in (("new", report.defined), ("changed", report.redefined),
                             ("retired", report.retired)):  # fmt: skip
            text += "".join(f"\n  {label:<8} {n}" for n in names)
        _print(args, data, text)
        return EXIT_OK
    _, _, view = _view(args)
    rows = [artifact_row(view, name) for name in view.active()]
    lines = [f"{'ARTIFACT':<28} {'KIND':<10} {'MANIFEST':<22} {'STATE':<10} LAST COMPOSE"]
    for r in rows:
        m = f"{r['manifest_source'] or '-'} ({r['packages']})"
        last = r["last_compose"]
        last_text = f"{last['compose']} {last['state']}" if last else "-"
        if r["last_composed"] and (not last or r["last_composed"]["compose"] != last["compose"]):
            last_text += f" (last composed: {r['last_composed']['compose']})"
        lines.append(f"{r['name']:<28} {r['kind']:<10} {m:<22} {r['state']:<10} {last_text}")
    if not rows:
        lines.append("(no artifacts defined: relengotron artifacts sync)")
    _print(args, {"artifacts": rows}, "\n".join(lines))
    return EXIT_OK


# ---------------------------------------------------------------- affected


def _change(item: str, tag: str) -> BuildChange:
    parts = item.rsplit("-", 2)
    if len(parts) == 3 and parts[1][:1].isdigit():
        return BuildChange(item, parts[0], tag)
    return BuildChange(f"{item} (any new build)", item, tag)


def cmd_affected(args: argparse.Namespace) -> int:
    for item in args.items:
        check_nvr_or_package(item)
    cfg, _, view = _view(args)
    tag = args.tag or cfg.gating.promoted_tag
    changes = [_change(i, tag) for i in args.items]
    affected = view.graph.affected(changes)
    data: dict[str, Any] = {
        "changes": [{"nvr": c.nvr, "package": c.package, "tag": c.tag} for c in changes],
        "affected": [a.as_dict() for a in affected],
        "unaffected": [n for n in view.active() if n not in {a.artifact for a in affected}],
    }
    lines = [f"{len(affected)} artifact(s) affected, parents first:"]
    for i, a in enumerate(affected, 1):
        after = f"  (after {', '.join(a.waits_for)})" if a.waits_for else ""
        lines.append(f"{i:>3}. {a.artifact} [{a.kind}]{after}")
        lines += [f"       - {line}" for line in explain(a.reasons)]
    if data["unaffected"]:
        lines.append(f"Not affected: {', '.join(data['unaffected'])}")
    _print(args, data, "\n".join(lines))
    return EXIT_OK


# ---------------------------------------------------------------- graph


def cmd_graph(args: argparse.Namespace) -> int:
    _, _, view = _view(args)
    if args.artifact and args.artifact not in view.graph.nodes:  # a question: "unknown"
        known = ", ".join(sorted(view.graph.nodes)) or "none"
        print(f"relengotron graph: unknown artifact {args.artifact!r} (known: {known})",
              file=sys.stderr)  # fmt: skip
        return EXIT_PROBLEM
    if args.format == "json":
        out: str | bytes = json.dumps(view.graph.as_json(args.artifact), indent=2) + "\n"
    else:
        out = view.graph.to_dot(args.artifact)
    if args.format == "svg":
        dot = shutil.which("dot")
        if dot is None:
            raise ArtifactUsageError("--format svg needs Graphviz's dot (apt install graphviz)")
        done = subprocess.run([dot, "-Tsvg"], input=str(out).encode(), capture_output=True)
        if done.returncode != 0:
            print(f"relengotron graph: dot failed: {done.stderr.decode()}", file=sys.stderr)
            return EXIT_PROBLEM
        out = done.stdout
    if args.output:
        Path(args.output).write_bytes(out if isinstance(out, bytes) else out.encode())
    elif isinstance(out, bytes):
        sys.stdout.buffer.write(out)
    else:
        sys.stdout.write(out)
    return EXIT_OK


# ---------------------------------------------------------------- push


def cmd_push(args: argparse.Namespace) -> int:
    _, _, view = _view(args)
    key = args.push
    if key not in view.pushes and view.push_runs.get(key):
        key = view.push_runs[key][-1]
    p = view.pushes.get(key)
    if p is None:  # a question about something nothing is known about: the answer is no
        known = ", ".join(sorted(view.pushes)) or "none"
        _print(args, {"push": args.push, "known": False}, f"no push {args.push!r} (known: {known})")
        return EXIT_PROBLEM
    s = push_status(view, p)
    lines = [f"Push {p.key}: {s['state']} at stage {p.stage}"]
    if p.stopped:
        lines.append(f"  stopped: {p.stopped}")
    lines.append(f"  builds: {', '.join(p.builds) or '-'}")
    lines += [f"  problem: {x}" for x in p.problems]
    for c in s["composes"]:
        t = s["tests"].get(c["compose"]) or {}
        tests = ", ".join(f"{k}={v or 'pending'}" for k, v in t.items())
        lines.append(f"  {c['compose']:<32} {c['state']:<10} {c['ref'] or ''} {tests}".rstrip())
    lines.append("  history:")
    lines += [f"    {h['at'] or '-'}  {h['stage']:<9} {h['detail']}" for h in p.history]
    _print(args, s, "\n".join(lines))
    return EXIT_PROBLEM if p.stopped else EXIT_OK


# ---------------------------------------------------------------- manifest


def cmd_manifest(args: argparse.Namespace) -> int:
    from relengotron.adapters.artifacts import artifact_sync
    from relengotron.adapters.artifacts.manifests import ManifestError

    cfg, app, view = _view(args, create=True)
    try:
        if args.how == "solve":
            if not args.repo:
                raise ArtifactUsageError("solve needs --repo DIR|URL")
            unknown = [a for a in args.artifact if a not in view.definitions]
            if unknown:
                raise ArtifactUsageError(f"unknown artifact(s): {', '.join(unknown)}")
            report = artifact_sync.solve_manifests(
                app, view, bootstrap.kinds(), args.repo, arch=args.arch or "x86_64",
                only=args.artifact, weak_deps=args.weak_deps,
            )  # fmt: skip
            decisions.decide_all(app, cfg)
            lines = [f"{args.repo}: {report.packages:,} packages; "
                     f"{report.recorded} manifest(s) recorded"]  # fmt: skip
            for name, a in report.artifacts.items():
                miss = f", missing: {', '.join(a['missing'])}" if a["missing"] else ""
                lines.append(f"  {name:<28} {a['packages']:>5} source packages "
                             f"({a['rpms']} rpms){miss}")  # fmt: skip
            _print(args, report.as_json(), "\n".join(lines))
            return EXIT_OK
        if len(args.artifact) != 1 or not args.rpms_json:
            raise ArtifactUsageError("load needs exactly one --artifact and --rpms-json FILE|URL")
        name = args.artifact[0]
        if name not in view.definitions:
            raise ArtifactUsageError(f"unknown artifact {name!r}")
        manifest, recorded = artifact_sync.load_compose_manifest(
            app, name, args.rpms_json, variant=args.variant, arch=args.arch
        )
        decisions.decide_all(app, cfg)
        data = {"artifact": name, "packages": len(manifest.packages),
                "rpms": len(manifest.rpms), "recorded": recorded}  # fmt: skip
        _print(args, data, f"{name}: {len(manifest.packages)} source packages "
                           f"({len(manifest.rpms)} rpms) from {args.rpms_json}; "
                           f"{'recorded' if recorded else 'unchanged'}")  # fmt: skip
        return EXIT_OK
    except ManifestError as exc:  # the repository or rpms.json named cannot be used
        print(f"relengotron manifest: {exc}", file=sys.stderr)
        return EXIT_USAGE
