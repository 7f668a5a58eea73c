"""``relengotron demo``: the main job on the embedded default, with bundled streams.

Night one (``config/examples/sample-stream.jsonl``, real message shapes): six
builds land in rawhide-pending, CI tests them one by one and as a batch; one
failure is waived, one is real. The stream is ingested twice (redelivery is
harmless) and the gating decisions are shown with their reasons.

Night two (``sample-bisection.jsonl``): four builds pass on their own but the
batch integrity check fails. The decider bisects; a simulated CI answers each
check request (``rpm`` is the culprit) until the culprit is found.

No koji and no broker are needed: the koji moves and bus messages wait in the
outbox, where ``relengotron act`` (with ``[koji] hub`` set) carries them out.
Then (``adapters.demo.demo_artifacts``) the artifact definitions are recorded, the
demo plays koji and the compose backends, and the composer's plan for the
promoted batch unfolds: affected artifacts, parents first.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from relengotron.adapters import bootstrap
from relengotron.adapters.effects.effector import pending_actions
from relengotron.adapters.ingest.envelope import to_envelope
from relengotron.adapters.ingest.ingest import render_summary, to_incoming
from relengotron.adapters.services import decisions, inputs
from relengotron.adapters.services.status import build_status
from relengotron.adapters.store.store import DEFAULT_DIR, normalize_url
from relengotron.domain.application import RelengApp
from relengotron.domain.outbox import KOJI_MOVE
from relengotron.projections.processes.decider import Decider

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
SAMPLE = EXAMPLES / "sample-stream.jsonl"
BISECTION = EXAMPLES / "sample-bisection.jsonl"
CULPRIT = "rpm-6.0.1-1.fc44"


def _fresh_sqlite(url: str) -> None:
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def run_demo(db: str | None, *, fresh: bool = True) -> int:
    url = normalize_url(db or f"sqlite:///{Path.cwd() / DEFAULT_DIR / 'demo.db'}")
    if fresh:
        _fresh_sqlite(url)
    cfg = bootstrap.settings(None)
    app = bootstrap.application(url)
    decider = bootstrap.decider(app, cfg)
    print(f"== Store: {url}")
    print(f"== Policies: {cfg.policies} (hash {decider.policies.content_hash[:19]}...)")
    if inputs.sync_policies(app, cfg, decider.policies, username="demo"):
        print("   recorded in the log as relengotron.policy.activated (replays use it)")
    from relengotron.adapters.demo.demo_artifacts import record_definitions, run_artifacts

    record_definitions(app, cfg)
    print(f"== Night one: ingesting {SAMPLE.name} (real message shapes from the Fedora bus)\n")
    summary = inputs.ingest(app, [str(SAMPLE)])
    print(render_summary(summary))
    report = decisions.run_decider(app, cfg, decider)
    print(f"\nDecider: {len(report.decisions)} decision change(s) while reading the stream.")
    print("\n== The same file again: every message is a redelivery, nothing changes")
    again = inputs.ingest(app, [str(SAMPLE)])
    report = decisions.run_decider(app, cfg, decider)
    print(
        f"   {again.new} new, {again.duplicate} duplicate, {again.events} events written, "
        f"{len(report.decisions)} decision change(s)"
    )
    print("\n== rawhide-pending after night one")
    _show_gate(decider, cfg.gating.pending_tag, reasons=True)

    print(f"\n== Night two: ingesting {BISECTION.name}: the batch integrity check fails")
    inputs.ingest(app, [str(BISECTION)])
    decisions.run_decider(app, cfg, decider)
    _simulate_ci(app, cfg, decider)
    print("\n== rawhide-pending after night two")
    _show_gate(decider, cfg.gating.pending_tag, reasons=True, only=_nvrs(BISECTION))

    print("\n== The outbox: koji moves waiting for `relengotron act` ([koji] hub)")
    for a in pending_actions(app):
        if a.kind == KOJI_MOVE:
            p = a.params
            print(f"  move {p['nvr']:<30} {p['from_tag']} -> {p['to_tag']}")
    print()
    run_artifacts(app, cfg)
    _gating_yaml_night(url)
    print("\nTry:")
    print(f"  relengotron status --db {url} vim-9.1.1800-1.fc44")
    print(f"  relengotron status --db {url} systemd-258-2.fc44 --json")
    print(f"  relengotron artifacts --db {url}")
    print(f"  relengotron affected --db {url} glibc-2.43-1.fc44 kernel")
    print(f"  relengotron graph --db {url} --format svg -o artifacts.svg")
    print(f"  relengotron explain --db {url} vim-9.1.1800-1.fc44")
    print(f"  relengotron replay --db {url} --verify")
    _show_api(app, cfg, url)
    return 0


def _show_api(app: RelengApp, cfg: Any, url: str) -> None:
    """Bring the read models up to date and show how to ask the decision API."""
    report = bootstrap.projector(app, cfg).run()
    print(
        f"\n== Read models: {report.events:,} events projected "
        f"(position {report.position:,}; `relengotron project` keeps them current)"
    )
    host, port = cfg.api.host, cfg.api.port
    base = f"http://{host}:{port}"
    request = {
        "product_version": cfg.gating.product_version,
        "decision_context": cfg.gating.decision_context,
        "subject_type": "koji_build",
        "subject_identifier": "vim-9.1.1800-1.fc44",
    }
    print("\n== The decision API and the page")
    print(f"  relengotron serve --db {url}")
    print(f"  then open {base}/   (pending batch, decisions, quarantine, artifact graph)")
    print("  and ask for a decision as Bodhi asks Greenwave:")
    print(
        f"  curl -s -X POST {base}/api/v1.0/decision -H 'Content-Type: application/json' "
        f"-d '{json.dumps(request)}'"
    )


# One package opts in to more gating through its own gating.yaml (Greenwave's RemoteRule).
# The demo needs no network: its "dist-git" is a local directory read through file://
# URLs, one file per build (Greenwave's ``{subject_id}`` placeholder); the other packages
# have none, which adds nothing.
OPT_IN = "bash-5.3-1.fc44"
DEMO_GATING_YAML = """\
# bash's own gating.yaml: rpmdeplint must pass before bash leaves rawhide-pending.
--- !Policy
product_versions: [fedora-*]
decision_context: rawhide_pending
subject_type: koji_build
rules:
  - !PassingTestCaseRule {test_case_name: dist.rpmdeplint}
"""


def _with_package_gating(cfg: Any, dist_git: Path) -> Any:
    """The shipped policies plus a parent ``!RemoteRule`` whose files live in
    ``dist_git`` (written here); the settings to decide with them."""
    from dataclasses import replace

    from relengotron.adapters.settings import DEFAULT_POLICIES

    policies = dist_git / "policies"
    policies.mkdir(parents=True, exist_ok=True)
    for f in sorted(DEFAULT_POLICIES.glob("*.yaml")):
        (policies / f.name).write_text(f.read_text())
    (dist_git / OPT_IN).mkdir(exist_ok=True)
    (dist_git / OPT_IN / "gating.yaml").write_text(DEMO_GATING_YAML)
    template = f"{dist_git.resolve().as_uri()}/{{subject_id}}/gating.yaml"
    (policies / "zz-package-gating-yaml.yaml").write_text(
        "--- !Policy\nid: package_gating_yaml\nproduct_versions: [fedora-*]\n"
        "decision_context: rawhide_pending\nsubject_type: koji_build\npackages: [bash]\n"
        f'rules:\n  - !RemoteRule {{sources: ["{template}"]}}\n'
    )
    return replace(cfg, policies=policies)


def _gating_yaml_night(url: str) -> None:
    """Night one again, in a store of its own, under the shipped policies plus a parent
    ``!RemoteRule``: bash's own gating.yaml is read, recorded and decided with. (Its own
    store: the main demo store keeps the shipped policy set, so `act` and `decide` on it
    with the default settings change nothing.)"""
    beside = Path(url[len("sqlite:///") :]).parent if url.startswith("sqlite:///") else None
    where = beside or Path.cwd() / DEFAULT_DIR
    dist_git = where / "demo-dist-git"
    cfg = _with_package_gating(bootstrap.settings(None), dist_git)
    store = f"sqlite:///{where / 'demo-gating-yaml.db'}"
    _fresh_sqlite(store)
    app = bootstrap.application(store)
    decider = bootstrap.decider(app, cfg)
    inputs.sync_policies(app, cfg, decider.policies, username="demo")
    print(f"\n== Package-owned gating: {OPT_IN} opts in through its own gating.yaml")
    print(f"   policies: {cfg.policies} (the shipped ones and a parent !RemoteRule)")
    inputs.ingest(app, [str(SAMPLE)])
    decisions.run_decider(app, cfg, decider)
    gate = decider.read_view().gates.get(OPT_IN)
    decision = (gate.decision if gate is not None else None) or {}
    print(f"  {OPT_IN:<30} {decision.get('verdict', '-'):<11} {decision.get('summary', '')}")
    for r in decision.get("satisfied_requirements", []):
        if r["type"] == "fetched-gating-yaml":
            print(f"      {OPT_IN} opted in through its own gating.yaml: {r['source']}")
            print("      (fetched once and recorded in the log: replay reads it from there)")
    print(f"  relengotron explain --db {store} {OPT_IN}")
    print(f"  relengotron replay --db {store} --verify")


def _nvrs(path: Path) -> set[str]:
    import json

    out = set()
    for line in path.read_text().splitlines():
        m = json.loads(line)
        if m["topic"].endswith("buildsys.tag"):
            b = m["body"]
            out.add(f"{b['name']}-{b['version']}-{b['release']}")
    return out


def _show_gate(
    decider: Decider, pending: str, *, reasons: bool, only: set[str] | None = None
) -> None:
    view = decider.read_view()
    for nvr in sorted(view.gates):
        if only is not None and nvr not in only:
            continue
        s = build_status(view, nvr, pending)
        if s is None:
            continue
        d = s["decision"] or {}
        verdict = d.get("verdict", "-")
        print(f"  {nvr:<30} {s['state']:<12} {verdict:<11} {d.get('summary', '')}")
        if not reasons:
            continue
        for r in d.get("unsatisfied_requirements", []):
            print(f"      NOT {r['type']}: {r.get('testcase')}  {r.get('detail') or ''}".rstrip())
        for r in d.get("satisfied_requirements", []):
            if r["type"].endswith("-waived"):
                print(f"      waived {r.get('testcase')} (waiver {r.get('waiver_id')})")


def _simulate_ci(app: RelengApp, cfg: Any, decider: Decider) -> None:
    """Play the CI system: answer each check request; the group with the culprit fails."""
    answered: set[str] = set()
    while True:
        requests = [
            a.params["body"]
            for a in pending_actions(app)
            if a.params.get("kind") == "batch.check.requested"
            and a.params["body"]["artifact"]["id"] not in answered
        ]
        if not requests:
            return
        messages = []
        for body in requests:
            group = body["artifact"]["id"]
            nvrs = [b["nvr"] for b in body["artifact"]["builds"]]
            result = "failed" if CULPRIT in nvrs else "passed"
            round_ = body["bisection"]["round"]
            print(f"  round {round_}: CI checks {group} {nvrs}: {result}")
            messages.append(_answer(body, result))
            answered.add(group)
        app.record([to_incoming(to_envelope(m), source="demo CI") for m in messages])
        decisions.run_decider(app, cfg, decider)


def _answer(request: dict[str, Any], result: str) -> dict[str, Any]:
    group = request["artifact"]["id"]
    sent = datetime.fromisoformat(request["generated_at"]) + timedelta(minutes=20)
    namespace, type_, category = request["testcase"].rsplit(".", 2)
    return {
        "topic": "org.fedoraproject.prod.ci.koji-build-group.test.complete",
        "id": f"demo-ci-{group}",
        "headers": {"sent-at": sent.isoformat()},
        "body": {
            # A valid Fedora CI message (the spec's schema): an invalid one counts for nothing.
            "contact": {
                "name": "demo CI",
                "team": "demo",
                "docs": "https://ci.example.org/docs",
                "email": "ci@example.org",
            },
            "run": {
                "url": f"https://ci.example.org/{group}",
                "log": f"https://ci.example.org/{group}/log",
            },
            "artifact": _spec_artifact(request["artifact"]),
            "pipeline": {"id": f"demo-{group}", "name": "integrity (simulated)"},
            "test": {
                "namespace": namespace,
                "type": type_,
                "category": category,
                "result": result,
            },
            "system": [{"os": "fedora-44", "provider": "demo", "architecture": "x86_64"}],
            "generated_at": sent.isoformat(),
            "version": "1.1.14",
        },
    }


def _spec_artifact(artifact: dict[str, Any]) -> dict[str, Any]:
    """Our request's group, as the spec's rpm-build-group: every build a full rpm-build
    (our request may leave the koji task id and the issuer unknown)."""
    builds = [
        {**b, "id": b.get("id") or 1, "issuer": b.get("issuer") or "unknown"}
        for b in artifact.get("builds", [])
    ]
    return {k: v for k, v in {**artifact, "builds": builds}.items() if v is not None}
