"""Push coordination (a part of the composer): one Bodhi batch from repos to release.

Bodhi sends one message listing the updates of a push (``bodhi.compose.start``
or ``compose.composing`` with ``updates``) and waits. We then

1. ``repos`` — compose the push's repositories (the repository artifacts whose
   ``bodhi`` section names this push's compose);
2. ``artifacts`` — compose the artifacts the push's builds affect, each after
   its parents;
3. ``tests`` — wait for the ``tests`` each artifact definition requires to pass
   on its new compose (CI results about the compose);
4. ``release`` — request the configured release step ("sync bits live");
5. ``done`` — publish ``push.completed`` so Bodhi can finish the push.

A failure stops the push at its stage with the reason (and ``push.stopped`` is
published); ``relengotron push ID`` shows where it stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from domain import ids
from domain.composing import COMPOSED, PushRun
from domain.facts import FAILED, INFO, NEEDS_INSPECTION, PASSED
from domain.outbox import BUS_PUBLISH
from projections.artifacts import ComposeState, PushState
from projections.gating import package_of
from projections.graph import BuildChange
from projections.outbox import request

if TYPE_CHECKING:
    from projections.composer import Composer

OPENING = {"compose.start", "compose.composing", "mashtask.start", "mashtask.mashing"}
_PASS = {PASSED, INFO}
_FAIL = {FAILED, NEEDS_INSPECTION, "ERROR"}


def repositories_for(self: Composer, compose: str, release: Any, request: Any) -> list[str]:
    """Repository artifacts a Bodhi compose (``f40-updates-testing``) goes into."""
    v = self.view
    out = []
    for name in v.active():
        d = v.definitions[name]
        bodhi = d.data.get("bodhi") or {}
        if not bodhi or not self.config.traits(d.kind).contains_tags:
            continue
        rel = str(bodhi.get("release") or "").lower()
        req = str(bodhi.get("request") or "")
        names = {bodhi.get("repo")} | {
            f"{rel}-updates" if req == "stable" else f"{rel}-updates-{req}",
        }
        if compose in names or (rel and rel == str(release or "").lower() and req == request):
            out.append(name)
    return out


def builds_of(self: Composer, updates: list[str]) -> tuple[list[str], list[str]]:
    """The builds of a push's updates (aliases we saw, or NVRs), and problems."""
    builds: dict[str, None] = {}
    problems = []
    for u in updates:
        known = self.view.updates.get(u)
        if known:
            builds.update(dict.fromkeys(known))
            continue
        nvrs = [t for t in u.replace(",", " ").split() if package_of(t)]
        if nvrs:
            builds.update(dict.fromkeys(nvrs))
        else:
            problems.append(f"update {u}: no builds known (no update message seen)")
    return list(builds), problems


def on_push_message(
    self: Composer, m: Mapping[str, Any], trigger: str | None, at: str | None
) -> None:
    if m["phase"] not in OPENING or not m["updates"]:
        return
    v = self.view
    runs = v.push_runs.get(m["compose"], [])
    if runs and _open(v.pushes[runs[-1]]):
        return  # the same push announced again
    key = f"{m['compose']}#{len(runs) + 1}"
    builds, problems = builds_of(self, m["updates"])
    run = PushRun(
        key, m["release"], m["request"], list(m["updates"]), builds, problems, trigger, at
    )
    self._add(run)
    self.report.pushes.append({"push": key, "stage": "repos", "builds": builds})
    repos = repositories_for(self, m["compose"], m["release"], m["request"])
    if not repos:
        _stop(self, run, "repos", f"no repository artifact for bodhi compose {m['compose']}",
              trigger, at)  # fmt: skip
        return
    if not builds:
        _stop(self, run, "repos", "; ".join(problems) or "the push has no builds", trigger, at)
        return
    changes = [BuildChange(n, package_of(n) or n) for n in builds]
    keys = self.plan(changes, {}, key, repos, trigger, at)
    detail = f"composing {', '.join(repos)}; {len(keys) - len(repos)} affected artifact(s) after"
    run.advance(stage="repos", detail=detail, composes=keys, trigger=trigger, at=at)
    self._fold(run)


def _open(p: PushState) -> bool:
    return p.stopped is None and p.stage != "done"


def _run(self: Composer, key: str) -> PushRun:
    run = self._get(ids.push_run_id(key))
    self.view._names[run.id] = key
    return cast(PushRun, run)


def _stop(
    self: Composer, run: PushRun, stage: str, reason: str, trigger: str | None, at: str | None
) -> None:
    run.stop(stage=stage, reason=reason, trigger=trigger, at=at)
    self._fold(run)
    self.report.pushes.append({"push": run.key, "stopped": stage, "reason": reason})
    _announce(self, run.key, "push.stopped", {"stage": stage, "reason": reason}, trigger, at)


def _advance(
    self: Composer, run: PushRun, stage: str, detail: str, trigger: str | None, at: str | None
) -> None:
    run.advance(stage=stage, detail=detail, composes=[], trigger=trigger, at=at)
    self._fold(run)
    self.report.pushes.append({"push": run.key, "stage": stage, "detail": detail})


def advance(self: Composer, trigger: str | None, at: str | None) -> None:
    """Move every open push as far as its composes, tests and release allow."""
    from projections.composer import PUSH_RELEASE, carried

    v = self.view
    for p in [p for p in v.pushes_open() if p.composes]:
        run = _run(self, p.key)
        composes = [v.composes[k] for k in p.composes]
        broken = [c for c in composes if c.state in ("failed", "cancelled")]
        if broken:
            c = broken[0]
            _stop(self, run, p.stage, f"compose {c.key} {c.state}: {c.detail or ''}".rstrip(": "),
                  trigger, at)  # fmt: skip
            continue
        repos = [c for c in composes if self.config.traits(c.kind).contains_tags]
        if p.stage == "repos" and all(c.state == COMPOSED for c in repos):
            _advance(self, run, "artifacts", f"repositories composed: {_keys(repos)}", trigger, at)
        if p.stage == "artifacts" and all(c.state == COMPOSED for c in composes):
            _advance(self, run, "tests", f"artifacts composed: {_keys(composes)}", trigger, at)
        if p.stage == "tests":
            failed, missing = _tests(self, composes)
            if failed:
                _stop(self, run, "tests", failed, trigger, at)
                continue
            if missing:
                continue
            _advance(self, run, "release", "every required test passed", trigger, at)
            if not self.config.release_configured:
                _stop(self, run, "release", "no release step is configured ([push] release)",
                      trigger, at)  # fmt: skip
                continue
            body = {"push": p.key, "composes": p.composes, "builds": carried(v, p.composes)}
            request(self, f"push:{p.key}:release", PUSH_RELEASE, body, None, "release", trigger, at)
        if p.stage == "release":
            a = v.actions.get(f"push:{p.key}:release")
            if a is None or not a.done:
                continue
            if a.outcome != "released":
                _stop(self, run, "release", f"release step {a.outcome}: {a.detail}", trigger, at)
                continue
            _advance(self, run, "done", a.detail or "released", trigger, at)
            done: dict[str, Any] = {
                "builds": p.builds,
                "composes": _summary(v.composes, p.composes),
            }
            _announce(self, p.key, "push.completed", done, trigger, at)


def _tests(self: Composer, composes: list[ComposeState]) -> tuple[str | None, bool]:
    """(the first failure, whether any required result is still missing)."""
    missing = False
    for c in composes:
        for testcase, outcome in self.view.test_outcomes(c.key).items():
            if outcome in _FAIL:
                return f"{testcase} {outcome} on {c.artifact} ({c.ref or c.key})", missing
            if outcome not in _PASS:
                missing = True
    return None, missing


def _keys(composes: list[ComposeState]) -> str:
    return ", ".join(c.key for c in composes) or "none"


def _summary(composes: Mapping[str, ComposeState], keys: list[str]) -> list[dict[str, Any]]:
    return [
        {"compose": k, "artifact": composes[k].artifact, "ref": composes[k].ref,
         "location": composes[k].location}
        for k in keys
    ]  # fmt: skip


def _announce(
    self: Composer, push: str, kind: str, body: dict[str, Any], trigger: str | None, at: Any
) -> None:
    request(
        self,
        f"push:{push}:{kind}",
        BUS_PUBLISH,
        {"kind": kind, "body": {"push": push, **body, "at": at}},
        None,
        kind,
        trigger,
        at,
    )
