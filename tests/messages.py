"""Real-shaped bus messages for gating scenarios (shapes as in ../shared/corpus).

``Bus`` hands out messages with increasing send times and unique ids, the way
they would arrive from the Fedora bus.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PREFIX = "org.fedoraproject.prod"
# What a valid Fedora CI message (the spec's JSON Schema) needs about its sender.
CI_CONTACT = {
    "name": "Fedora CI",
    "team": "Fedora CI",
    "docs": "https://docs.fedoraproject.org/en-US/ci/",
    "email": "ci@lists.fedoraproject.org",
}
CI_PREFIX = "org.centos.prod.ci.pipeline.allpackages-build"
BATCH_TESTCASE = "fedora-ci.koji-build-group.integrity.functional"


def split_nvr(nvr: str) -> tuple[str, str, str]:
    name, version, release = nvr.rsplit("-", 2)
    return name, version, release


def rpm_build(nvr: str, task_id: int = 1) -> dict[str, Any]:
    """The spec's rpm-build artifact (``koji-build``) for an NVR."""
    return {
        "type": "koji-build",
        "id": task_id,
        "component": split_nvr(nvr)[0],
        "issuer": "packager",
        "nvr": nvr,
        "scratch": False,
    }


class Bus:
    def __init__(self, start: datetime | None = None, step: timedelta = timedelta(seconds=30)):
        self.t = start or datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
        self.step = step
        self.ids = itertools.count(1)
        self.build_ids: dict[str, int] = {}

    def msg(self, topic: str, body: dict[str, Any]) -> dict[str, Any]:
        self.t += self.step
        return {
            "topic": topic,
            "body": body,
            "headers": {"sent-at": self.t.isoformat()},
            "id": f"test-{next(self.ids):06d}",
        }

    def later(self, delta: timedelta) -> None:
        self.t += delta

    def build_id(self, nvr: str) -> int:
        return self.build_ids.setdefault(nvr, 3_000_000 + len(self.build_ids))

    # ------------------------------------------------------------------ koji

    def built(self, nvr: str, owner: str = "packager") -> dict[str, Any]:
        name, version, release = split_nvr(nvr)
        return self.msg(
            f"{PREFIX}.buildsys.build.state.change",
            {
                "build_id": self.build_id(nvr),
                "name": name,
                "version": version,
                "release": release,
                "epoch": None,
                "owner": owner,
                "attribute": "state",
                "instance": "primary",
                "old": 0,
                "new": 1,
                "task_id": 140_000_000 + self.build_id(nvr),
            },
        )

    def tagged(self, nvr: str, tag: str = "rawhide-pending", owner: str = "packager") -> Any:
        return self._tag("tag", nvr, tag, owner)

    def untagged(self, nvr: str, tag: str = "rawhide-pending", owner: str = "packager") -> Any:
        return self._tag("untag", nvr, tag, owner)

    def _tag(self, what: str, nvr: str, tag: str, owner: str) -> dict[str, Any]:
        name, version, release = split_nvr(nvr)
        return self.msg(
            f"{PREFIX}.buildsys.{what}",
            {
                "build_id": self.build_id(nvr),
                "name": name,
                "version": version,
                "release": release,
                "tag": tag,
                "tag_id": 4711,
                "user": "kojira" if what == "tag" else "releng",
                "owner": owner,
                "instance": "primary",
            },
        )

    # -------------------------------------------------------------------- CI

    def stage(self, nvr: str, status: str, stage: str = "package.test.functional") -> Any:
        """A legacy all-packages pipeline stage completing (SUCCESS, UNSTABLE, FAILURE)."""
        name, _, _ = split_nvr(nvr)
        topic = f"{CI_PREFIX}.{stage}.complete"
        return self.msg(
            topic,
            {
                "CI_TYPE": "custom",
                "build_id": "42",
                "username": "fedora-atomic",
                "rev": f"kojitask-{140_000_000 + self.build_id(nvr)}",
                "namespace": "rpms",
                "repo": name,
                "branch": "rawhide",
                "nvr": nvr,
                "CI_NAME": "upstream-fedora-pipeline-build",
                "build_url": "https://jenkins-continuous-infra.apps.ci.centos.org/job/x/42/",
                "topic": topic,
                "status": status,
            },
        )

    def rpmdeplint(
        self, nvr: str, outcome: str = "PASSED", arch: str | None = None
    ) -> dict[str, Any]:
        data = {"item": [nvr], "type": ["koji_build"]}
        if arch is not None:
            data["system_architecture"] = [arch]
        return self.msg(
            f"{PREFIX}.resultsdb.result.new",
            {
                "id": 50_000_000 + next(self.ids),
                "outcome": outcome,
                "testcase": {"name": "dist.rpmdeplint"},
                "data": data,
                "ref_url": "https://example.org/rpmdeplint",
            },
        )

    def passing(self, nvr: str) -> list[dict[str, Any]]:
        """Everything one build needs from CI to pass on its own."""
        return [self.stage(nvr, "SUCCESS"), self.rpmdeplint(nvr)]

    def group_check(
        self,
        group: str,
        nvrs: list[str],
        result: str,
        *,
        suspects: list[str] | None = None,
        testcase: str = BATCH_TESTCASE,
    ) -> dict[str, Any]:
        """A Fedora CI messages spec result about a koji-build-group."""
        namespace, type_, category = testcase.rsplit(".", 2)
        test: dict[str, Any] = {
            "namespace": namespace,
            "type": type_,
            "category": category,
            "result": result,
        }
        if suspects:
            test["suspects"] = suspects
        state = "error" if result == "error" else "complete"
        return self.msg(
            f"{PREFIX}.ci.koji-build-group.test.{state}",
            {
                "contact": CI_CONTACT,
                "run": {"url": "https://ci.example.org/run/1", "log": "https://ci.example.org/l"},
                "artifact": {
                    "type": "koji-build-group",
                    "id": group,
                    "builds": [rpm_build(n) for n in nvrs],
                },
                "pipeline": {"id": f"pipeline-{group}", "name": "integrity"},
                "test": test,
                "system": [
                    {"os": "fedora-44", "provider": "testing-farm", "architecture": "x86_64"}
                ],
                "generated_at": self.t.isoformat(),
                "version": "1.1.14",
            },
        )

    def waiver(self, nvr: str, testcase: str, waived: bool = True) -> dict[str, Any]:
        return self.msg(
            f"{PREFIX}.waiverdb.waiver.new",
            {
                "id": next(self.ids),
                "subject_type": "koji_build",
                "subject_identifier": nvr,
                "testcase": testcase,
                "waived": waived,
                "product_version": "fedora-rawhide",
                "username": "releng",
                "comment": "known flake",
            },
        )

    # ------------------------------------------------------------ composes

    def pungi(self, compose_id: str, status: str, location: str | None = None) -> dict[str, Any]:
        body = {"compose_id": compose_id, "status": status}
        if location:
            body["location"] = location
        return self.msg(f"{PREFIX}.pungi.compose.status.change", body)

    def compose_status(self, ref: str, status: str, **extra: Any) -> dict[str, Any]:
        """Our own ``relengotron.compose.status`` (a backend that reports that way)."""
        return self.msg("relengotron.compose.status", {"ref": ref, "status": status, **extra})

    def compose_result(self, compose_id: str, testcase: str, result: str) -> dict[str, Any]:
        """A Fedora CI spec result about a productmd compose (testcase: ns.type.category)."""
        namespace, kind, category = testcase.rsplit(".", 2)
        return self.msg(
            f"{PREFIX}.ci.productmd-compose.test.complete",
            {
                "contact": CI_CONTACT,
                "run": {"url": f"https://ci.example.org/{compose_id}/{testcase}",
                        "log": f"https://ci.example.org/{compose_id}/{testcase}/log"},
                "system": [{"provider": "openqa", "architecture": "x86_64"}],
                "artifact": {"type": "productmd-compose", "id": compose_id,
                             "compose_type": "nightly"},
                "pipeline": {"id": f"p-{compose_id}-{testcase}", "name": testcase},
                "test": {"type": kind, "category": category, "namespace": namespace,
                         "result": result},
                "generated_at": self.t.isoformat(),
                "version": "1.1.14",
            },
        )  # fmt: skip

    def update(self, alias: str, builds: list[str], request: str = "testing") -> dict[str, Any]:
        return self.msg(
            f"{PREFIX}.bodhi.update.request.{request}",
            {
                "update": {
                    "alias": alias,
                    "builds": [{"nvr": b} for b in builds],
                    "status": "pending",
                    "request": request,
                    "release": {"name": "F40"},
                    "user": {"name": "packager"},
                    "title": " ".join(builds),
                },
                "agent": "packager",
            },
        )

    def push(self, repo: str, updates: list[str]) -> dict[str, Any]:
        """Bodhi starts composing a repository for a batch of updates."""
        return self.msg(
            f"{PREFIX}.bodhi.compose.composing",
            {"repo": repo, "ctype": "rpm", "agent": "bodhi", "updates": updates},
        )


def write(path: Path, messages: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(m) + "\n" for m in messages))
    return path
