"""Use case: a release lifecycle operation (``branch`` or ``eol``) planned, run, resumed.

The plan is every step plugin's steps in plugin order. A run records the plan once
(``domain.lifecycle.ReleaseRun``), then carries out each step not recorded as done,
recording each outcome as soon as it is known, and stops at the first failure with
its reason. The next run of the same operation and version resumes there, with the
plan as recorded (a plugin changed meanwhile does not change a run under way). A dry
run writes nothing and asks nothing of the world: it prints the plan with what is
recorded of each step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from eventsourcing.application import AggregateNotFoundError

from relengotron.adapters import bootstrap
from relengotron.adapters.lifecycle.steps import (
    BRANCH,
    EOL,
    FAILED,
    Release,
    Step,
    StepError,
    StepPlugin,
    load_plugins,
)
from relengotron.adapters.settings import Settings
from relengotron.domain import ids
from relengotron.domain.lifecycle import ReleaseRun

OPERATIONS = (BRANCH, EOL)


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


class Context:
    """What plugins may use: the release, the settings, the store, koji (made once)."""

    def __init__(self, release: Release, cfg: Settings, app: Any) -> None:
        self.release, self.cfg, self.app = release, cfg, app
        self._koji: Any = None

    def koji(self) -> Any:
        if self._koji is None:
            self._koji = bootstrap.koji_gateway(self.cfg)
        return self._koji


@dataclass
class RunReport:
    key: str
    operation: str
    version: str
    dry_run: bool
    steps: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None  # the reason of the failure the run stopped at
    finished: bool = False
    resumed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"run": self.key, "operation": self.operation, "version": self.version,
                "dry_run": self.dry_run, "resumed": self.resumed, "finished": self.finished,
                "stopped": self.stopped, "steps": self.steps}  # fmt: skip


def release_of(operation: str, version: str, cfg: Settings) -> Release:
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}")
    if not version.isdigit() or int(version) < 2:
        raise ValueError(f"a release version is a number (45), not {version!r}")
    return Release(operation, version, cfg.release, cfg.policies, cfg.artifacts)


def make_plan(plugins: Sequence[StepPlugin], release: Release) -> list[Step]:
    steps = [s for p in plugins for s in p.plan(release)]
    seen: set[str] = set()
    for s in steps:
        if s.id in seen:
            raise ValueError(f"two steps with the id {s.id!r}")
        seen.add(s.id)
    return steps


def run_operation(
    app: Any, cfg: Settings, operation: str, version: str, *, dry_run: bool = False,
    plugin_classes: Sequence[type[StepPlugin]] | None = None,
    clock: Callable[[], str] = utc_now,
) -> RunReport:  # fmt: skip
    release = release_of(operation, version, cfg)
    context = Context(release, cfg, app)
    plugins = [cls(context) for cls in (plugin_classes or load_plugins())]
    key = f"{operation}:{version}"
    report = RunReport(key, operation, version, dry_run)
    try:
        run: ReleaseRun | None = cast(ReleaseRun, app.repository.get(ids.release_run_id(key)))
    except AggregateNotFoundError:
        run = None
    steps = [s.as_dict() for s in make_plan(plugins, release)] if run is None else run.steps
    report.resumed = run is not None
    if dry_run or (run is not None and run.finished):
        for s in steps:
            status = "pending"
            if run is not None and s["id"] in run.done:
                status = run.done[s["id"]]
            elif run is not None and s["id"] in run.failed:
                status = f"failed: {run.failed[s['id']]}"
            report.steps.append({**s, "status": status})
        report.finished = bool(run and run.finished)
        return report
    if run is None:
        run = ReleaseRun(key, operation, version, steps, clock())
        app.save(run)
    by_name = {p.name: p for p in plugins}
    try:
        for s in steps:
            row = {k: s[k] for k in ("id", "system", "summary")}
            if s["id"] in run.done:
                report.steps.append({**row, "status": run.done[s["id"]], "earlier": True})
                continue
            plugin = by_name.get(s["system"])
            try:
                if plugin is None:
                    raise StepError(f"no step plugin {s['system']!r} installed")
                out = plugin.apply(Step.from_dict(s), release)
            except Exception as exc:  # any failure stops the run, recorded with its reason
                reason = str(exc) if isinstance(exc, StepError) else f"{type(exc).__name__}: {exc}"
                run.step_failed(step=s["id"], reason=reason, at=clock())
                app.save(run)
                report.steps.append({**row, "status": FAILED, "detail": reason})
                report.stopped = f"{s['id']}: {reason}"
                return report
            run.step_done(step=s["id"], outcome=out.outcome, detail=out.detail,
                          result=out.result, at=clock())  # fmt: skip
            app.save(run)
            report.steps.append({**row, "status": out.outcome, "detail": out.detail})
        run.finish(at=clock())
        app.save(run)
        report.finished = True
        return report
    finally:
        for p in plugins:
            p.close()
