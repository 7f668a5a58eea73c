"""Push coordination (the composer's ``Pushes``): one Bodhi batch from repos to release.

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

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Protocol, cast

from relengotron.domain import ids
from relengotron.domain.composing import COMPOSED, PushRun
from relengotron.domain.facts import FAILED, INFO, NEEDS_INSPECTION, PASSED
from relengotron.domain.outbox import BUS_PUBLISH
from relengotron.projections.config import ComposerConfig
from relengotron.projections.folds.artifacts import ArtifactView, ComposeState, PushState
from relengotron.projections.folds.gating import package_of
from relengotron.projections.folds.graph import BuildChange
from relengotron.projections.processes.follower import Host
from relengotron.projections.processes.outbox import PUSH_RELEASE, Outbox

OPENING = {"compose.start", "compose.composing", "mashtask.start", "mashtask.mashing"}
_PASS = {PASSED, INFO}
_FAIL = {FAILED, NEEDS_INSPECTION, "ERROR"}

# The composer's ``plan``: plan composes of what changes affect (changes, koji moves by
# build, push, repositories, trigger, at); the keys of the composes planned.
Plan = Callable[
    [Iterable[BuildChange], Mapping[str, str], str | None, Collection[str] | None, str | None,
     str | None],
    list[str],
]  # fmt: skip


class PushLog(Protocol):
    """The part of the composer's report the pushes keep: how each push moved."""

    pushes: list[dict[str, Any]]


class Pushes:
    """Moves the composer's pushes through their stages."""

    def __init__(
        self, host: Host[ArtifactView, ComposerConfig, PushLog], outbox: Outbox, plan: Plan
    ) -> None:
        self.host = host
        self.outbox = outbox
        self.plan = plan

    def repositories_for(self, compose: str, release: Any, request: Any) -> list[str]:
        """Repository artifacts a Bodhi compose (``f40-updates-testing``) goes into."""
        v = self.host.view
        out = []
        for name in v.active():
            d = v.definitions[name]
            bodhi = d.data.get("bodhi") or {}
            if not bodhi or not self.host.config.traits(d.kind).contains_tags:
                continue
            rel = str(bodhi.get("release") or "").lower()
            req = str(bodhi.get("request") or "")
            names = {bodhi.get("repo")} | {
                f"{rel}-updates" if req == "stable" else f"{rel}-updates-{req}",
            }
            if compose in names or (rel and rel == str(release or "").lower() and req == request):
                out.append(name)
        return out

    def builds_of(self, updates: list[str]) -> tuple[list[str], list[str]]:
        """The builds of a push's updates (aliases we saw, or NVRs), and problems."""
        builds: dict[str, None] = {}
        problems = []
        for u in updates:
            known = self.host.view.updates.get(u)
            if known:
                builds.update(dict.fromkeys(known))
                continue
            nvrs = [t for t in u.replace(",", " ").split() if package_of(t)]
            if nvrs:
                builds.update(dict.fromkeys(nvrs))
            else:
                problems.append(f"update {u}: no builds known (no update message seen)")
        return list(builds), problems

    def on_message(self, m: Mapping[str, Any], trigger: str | None, at: str | None) -> None:
        """Open a push that a Bodhi message announces, and plan its composes."""
        if m["phase"] not in OPENING or not m["updates"]:
            return
        host = self.host
        v = host.view
        runs = v.push_runs.get(m["compose"], [])
        if runs and _open(v.pushes[runs[-1]]):
            return  # the same push announced again
        key = f"{m['compose']}#{len(runs) + 1}"
        builds, problems = self.builds_of(m["updates"])
        run = PushRun(
            key, m["release"], m["request"], list(m["updates"]), builds, problems, trigger, at
        )
        host.add(run)
        host.report.pushes.append({"push": key, "stage": "repos", "builds": builds})
        repos = self.repositories_for(m["compose"], m["release"], m["request"])
        if not repos:
            self._stop(run, "repos", f"no repository artifact for bodhi compose {m['compose']}",
                       trigger, at)  # fmt: skip
            return
        if not builds:
            self._stop(run, "repos", "; ".join(problems) or "the push has no builds", trigger, at)
            return
        changes = [BuildChange(n, package_of(n) or n) for n in builds]
        keys = self.plan(changes, {}, key, repos, trigger, at)
        detail = (
            f"composing {', '.join(repos)}; {len(keys) - len(repos)} affected artifact(s) after"
        )
        run.advance(stage="repos", detail=detail, composes=keys, trigger=trigger, at=at)
        host.fold(run)

    def advance(self, trigger: str | None, at: str | None) -> None:
        """Move every open push as far as its composes, tests and release allow."""
        v = self.host.view
        config = self.host.config
        for p in [p for p in v.pushes_open() if p.composes]:
            run = self._run(p.key)
            composes = [v.composes[k] for k in p.composes]
            broken = [c for c in composes if c.state in ("failed", "cancelled")]
            if broken:
                c = broken[0]
                why = f"compose {c.key} {c.state}: {c.detail or ''}".rstrip(": ")
                self._stop(run, p.stage, why, trigger, at)
                continue
            repos = [c for c in composes if config.traits(c.kind).contains_tags]
            if p.stage == "repos" and all(c.state == COMPOSED for c in repos):
                why = f"repositories composed: {_keys(repos)}"
                self._advance(run, "artifacts", why, trigger, at)
            if p.stage == "artifacts" and all(c.state == COMPOSED for c in composes):
                self._advance(run, "tests", f"artifacts composed: {_keys(composes)}", trigger, at)
            if p.stage == "tests":
                failed, missing = self._tests(composes)
                if failed:
                    self._stop(run, "tests", failed, trigger, at)
                    continue
                if missing:
                    continue
                self._advance(run, "release", "every required test passed", trigger, at)
                if not config.release_configured:
                    self._stop(run, "release", "no release step is configured ([push] release)",
                               trigger, at)  # fmt: skip
                    continue
                body = {"push": p.key, "composes": p.composes, "builds": carried(v, p.composes)}
                self.outbox.request(
                    f"push:{p.key}:release", PUSH_RELEASE, body, None, "release", trigger, at
                )
            if p.stage == "release":
                a = v.actions.get(f"push:{p.key}:release")
                if a is None or not a.done:
                    continue
                if a.outcome != "released":
                    why = f"release step {a.outcome}: {a.detail}"
                    self._stop(run, "release", why, trigger, at)
                    continue
                self._advance(run, "done", a.detail or "released", trigger, at)
                done: dict[str, Any] = {
                    "builds": p.builds,
                    "composes": _summary(v.composes, p.composes),
                }
                self._announce(p.key, "push.completed", done, trigger, at)

    def _run(self, key: str) -> PushRun:
        run = self.host.get(ids.push_run_id(key))
        self.host.view.name(run.id, key)
        return cast(PushRun, run)

    def _stop(
        self, run: PushRun, stage: str, reason: str, trigger: str | None, at: str | None
    ) -> None:
        run.stop(stage=stage, reason=reason, trigger=trigger, at=at)
        self.host.fold(run)
        self.host.report.pushes.append({"push": run.key, "stopped": stage, "reason": reason})
        self._announce(run.key, "push.stopped", {"stage": stage, "reason": reason}, trigger, at)

    def _advance(
        self, run: PushRun, stage: str, detail: str, trigger: str | None, at: str | None
    ) -> None:
        run.advance(stage=stage, detail=detail, composes=[], trigger=trigger, at=at)
        self.host.fold(run)
        self.host.report.pushes.append({"push": run.key, "stage": stage, "detail": detail})

    def _tests(self, composes: list[ComposeState]) -> tuple[str | None, bool]:
        """(the first failure, whether any required result is still missing)."""
        missing = False
        for c in composes:
            for testcase, outcome in self.host.view.test_outcomes(c.key).items():
                if outcome in _FAIL:
                    return f"{testcase} {outcome} on {c.artifact} ({c.ref or c.key})", missing
                if outcome not in _PASS:
                    missing = True
        return None, missing

    def _announce(
        self, push: str, kind: str, body: dict[str, Any], trigger: str | None, at: Any
    ) -> None:
        self.outbox.request(
            f"push:{push}:{kind}",
            BUS_PUBLISH,
            {"kind": kind, "body": {"push": push, **body, "at": at}},
            None,
            kind,
            trigger,
            at,
        )


def carried(view: ArtifactView, keys: Iterable[str]) -> list[str]:
    """Every build the composes carry, in order."""
    seen: dict[str, None] = {}
    for k in keys:
        for nvr in view.composes[k].changes:
            seen[nvr] = None
    return list(seen)


def _open(p: PushState) -> bool:
    return p.stopped is None and p.stage != "done"


def _keys(composes: list[ComposeState]) -> str:
    return ", ".join(c.key for c in composes) or "none"


def _summary(composes: Mapping[str, ComposeState], keys: list[str]) -> list[dict[str, Any]]:
    return [
        {"compose": k, "artifact": composes[k].artifact, "ref": composes[k].ref,
         "location": composes[k].location}
        for k in keys
    ]  # fmt: skip
