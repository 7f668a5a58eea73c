"""The demo's two nights of rawhide, in real message shapes (config/examples/).

``make demo`` ingests the files these functions wrote; a test checks that the
files are exactly what they make (no hand edits). Regenerate with::

    python bench/demo_streams.py
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from generate import CI_PREFIX, PREFIX, _msg

EXAMPLES = Path(__file__).resolve().parents[1] / "config" / "examples"


def _integrity_check(
    group: str, run: int, builds: list[tuple[str, int, str]], result: str, when: datetime
) -> Any:
    """The nightly integrity check of the pending tag as a whole (Fedora CI messages
    spec, a koji-build-group result, valid under the spec's JSON Schema). ``builds``:
    (NVR, koji task id, owner)."""
    return {
        "contact": {
            "name": "Fedora CI",
            "team": "Fedora CI",
            "docs": "https://docs.fedoraproject.org/en-US/ci/",
            "email": "ci@lists.fedoraproject.org",
        },
        "run": {
            "url": f"https://osci.example.org/integrity/{run}",
            "log": f"https://osci.example.org/integrity/{run}/console",
        },
        "artifact": {
            "type": "koji-build-group",
            "id": group,
            "builds": [
                {
                    "type": "koji-build",
                    "id": task,
                    "component": nvr.rsplit("-", 2)[0],
                    "issuer": owner,
                    "nvr": nvr,
                    "scratch": False,
                }
                for nvr, task, owner in builds
            ],
        },
        "system": [{"os": "fedora-44", "provider": "testing-farm", "architecture": "x86_64"}],
        "pipeline": {"id": f"integrity-{run}", "name": "rawhide-pending integrity"},
        "test": {
            "namespace": "fedora-ci.koji-build-group",
            "type": "integrity",
            "category": "functional",
            "result": result,
        },
        "generated_at": when.isoformat(),
        "version": "1.1.14",
    }


def demo_stream() -> list[dict[str, Any]]:
    """The demo's rawhide story, in real message shapes (see config/examples/).

    Six packages are pushed to dist-git, built, tagged into rawhide-pending and
    tested by the all-packages CI pipeline and ResultsDB; one fails and is
    waived, one fails for real; a Bodhi update, a Greenwave decision, a
    redelivered message and a topic nobody translates complete the picture.
    """
    rng = random.Random(44)
    t = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    out: list[dict[str, Any]] = []

    def add(topic: str, body: dict[str, Any]) -> dict[str, Any]:
        nonlocal t
        t += timedelta(seconds=37)
        m = _msg(topic, body, t, rng)
        out.append(m)
        return m

    pkgs = [
        ("bash", "5.3", "1.fc44"),
        ("glibc", "2.42", "3.fc44"),
        ("python3.14", "3.14.1", "1.fc44"),
        ("systemd", "258", "2.fc44"),
        ("openssl", "3.5.2", "1.fc44"),
        ("vim", "9.1.1800", "1.fc44"),
    ]
    verdict = {
        "bash": "SUCCESS",
        "glibc": "SUCCESS",
        "python3.14": "SUCCESS",
        "systemd": "FAILURE",
        "openssl": "SUCCESS",
        "vim": "FAILURE",
    }
    for i, (name, ver, rel) in enumerate(pkgs):
        nvr = f"{name}-{ver}-{rel}"
        rev = f"{rng.getrandbits(160):040x}"
        owner = ["kdudka", "fweimer", "churchyard", "zbyszek", "sahana", "zdohnal"][i]
        add(
            f"{PREFIX}.git.receive",
            {
                "commit": {
                    "namespace": "rpms",
                    "repo": name,
                    "rev": rev,
                    "branch": "rawhide",
                    "agent": owner,
                    "username": owner,
                    "summary": f"Update to {ver}",
                    "message": f"Update to {ver}\n",
                    "stats": {
                        "files": {
                            f"{name}.spec": {"additions": 4, "deletions": 2, "lines": 6},
                            "sources": {"additions": 1, "deletions": 1, "lines": 2},
                        },
                        "total": {"additions": 5, "deletions": 3, "files": 2, "lines": 8},
                    },
                    "path": f"/srv/git/repositories/rpms/{name}.git",
                    "seen": False,
                }
            },
        )
        build = {
            "build_id": 2900000 + i,
            "name": name,
            "version": ver,
            "release": rel,
            "epoch": None,
            "owner": owner,
            "attribute": "state",
            "instance": "primary",
            "task_id": 139000000 + i,
            "request": [f"git+https://src.fedoraproject.org/rpms/{name}.git#{rev}", "rawhide", {}],
            "base_url": "https://koji.fedoraproject.org",
        }
        add(f"{PREFIX}.buildsys.build.state.change", {**build, "old": None, "new": 0})
        add(f"{PREFIX}.buildsys.build.state.change", {**build, "old": 0, "new": 1})
        add(
            f"{PREFIX}.buildsys.tag",
            {
                "build_id": 2900000 + i,
                "name": name,
                "version": ver,
                "release": rel,
                "tag": "rawhide-pending",
                "tag_id": 4711,
                "user": "kojira",
                "owner": owner,
                "instance": "primary",
            },
        )
        for stage in ("package", "package.test.functional"):
            for state in ("queued", "running", "complete"):
                topic = f"{CI_PREFIX}.{stage}.{state}"
                status = (
                    verdict[name] if (state == "complete" and stage != "package") else "SUCCESS"
                )
                add(
                    topic,
                    {
                        "CI_TYPE": "custom",
                        "build_id": str(5100 + i),
                        "username": "fedora-atomic",
                        "rev": f"kojitask-{139000000 + i}",
                        "namespace": "rpms",
                        "repo": name,
                        "branch": "rawhide",
                        "nvr": nvr,
                        "original_spec_nvr": nvr,
                        "CI_NAME": "upstream-fedora-pipeline-build",
                        "build_url": f"https://jenkins-continuous-infra.apps.ci.centos.org/job/"
                        f"upstream-fedora-pipeline-build/{5100 + i}/",
                        "topic": topic,
                        "status": status,
                        "test_guidance": "''",
                        "ref": "fedora/rawhide/x86_64/atomic-host",
                        "message-content": "",
                    },
                )
        add(
            f"{PREFIX}.resultsdb.result.new",
            {
                "id": 41000000 + i,
                "outcome": "PASSED",
                "note": "",
                "testcase": {
                    "name": "dist.rpmdeplint",
                    "ref_url": "https://docs.fedoraproject.org/",
                },
                "ref_url": f"https://taskotron.fedoraproject.org/artifacts/{i}",
                "groups": [],
                "submit_time": t.isoformat(),
                "data": {"item": [nvr], "type": ["koji_build"], "arch": ["x86_64"]},
            },
        )
    # The nightly integrity check of the pending tag as a whole (Fedora CI
    # messages spec, koji-build-group): it passes for the six builds.
    owners = ["kdudka", "fweimer", "churchyard", "zbyszek", "sahana", "zdohnal"]
    builds = [
        (f"{name}-{ver}-{rel}", 139000000 + i, owners[i]) for i, (name, ver, rel) in enumerate(pkgs)
    ]
    add(
        f"{PREFIX}.ci.koji-build-group.test.complete",
        _integrity_check("rawhide-pending-20261120.0", 812, builds, "passed", t),
    )
    add(
        f"{PREFIX}.waiverdb.waiver.new",
        {
            "id": 9001,
            "subject_type": "koji_build",
            "subject_identifier": "systemd-258-2.fc44",
            "subject": {"type": "koji_build", "item": "systemd-258-2.fc44"},
            "testcase": f"{CI_PREFIX}.package.test.functional.complete",
            "product_version": "fedora-rawhide",
            "username": "zbyszek",
            "comment": "Flaky test in the CI image, tracked upstream",
            "waived": True,
            "timestamp": t.isoformat(),
            "proxied_by": None,
        },
    )
    add(
        f"{PREFIX}.bodhi.update.request.testing",
        {
            "update": {
                "alias": "FEDORA-2026-5e1ac3b7d2",
                "title": "openssl-3.5.2-1.fc44",
                "builds": [{"nvr": "openssl-3.5.2-1.fc44"}],
                "status": "pending",
                "request": "testing",
                "release": {"name": "F44"},
                "user": {"name": "sahana"},
            },
            "agent": "sahana",
        },
    )
    add(
        f"{PREFIX}.greenwave.decision.update",
        {
            "subject_type": "koji_build",
            "subject_identifier": "openssl-3.5.2-1.fc44",
            "subject": [{"item": "openssl-3.5.2-1.fc44", "type": "koji_build"}],
            "decision_context": "bodhi_update_push_testing",
            "product_version": "fedora-44",
            "policies_satisfied": True,
            "summary": "All required tests passed",
            "applicable_policies": ["taskotron_release_critical_tasks_for_testing"],
            "satisfied_requirements": [
                {"testcase": "dist.rpmdeplint", "type": "test-result-passed", "result_id": 41000004}
            ],
            "unsatisfied_requirements": [],
        },
    )
    out.append(dict(out[3]))  # a redelivery of the first tag message
    add(f"{PREFIX}.fedocal.meeting.new", {"meeting": {"meeting_name": "Release readiness"}})
    return out


def demo_bisection_stream() -> list[dict[str, Any]]:
    """The demo's second night: four builds pass their own tests, the integrity
    check of the batch fails, and nobody says which build broke it."""
    rng = random.Random(45)
    t = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
    out: list[dict[str, Any]] = []

    def add(topic: str, body: dict[str, Any]) -> None:
        nonlocal t
        t += timedelta(seconds=41)
        out.append(_msg(topic, body, t, rng))

    pkgs = [
        ("gcc", "15.2.1", "4.fc44", "jakub"),
        ("rpm", "6.0.1", "1.fc44", "pmatilai"),
        ("dnf5", "5.3.0", "1.fc44", "jmracek"),
        ("python-requests", "2.32.5", "2.fc44", "torsava"),
    ]
    nvrs = []
    for i, (name, ver, rel, owner) in enumerate(pkgs):
        nvr = f"{name}-{ver}-{rel}"
        nvrs.append(nvr)
        build = {
            "build_id": 2910000 + i,
            "name": name,
            "version": ver,
            "release": rel,
            "epoch": None,
            "owner": owner,
            "instance": "primary",
        }
        add(
            f"{PREFIX}.buildsys.build.state.change",
            {**build, "attribute": "state", "old": 0, "new": 1, "task_id": 139100000 + i},
        )
        add(f"{PREFIX}.buildsys.tag", {**build, "tag": "rawhide-pending", "tag_id": 4711,
                                       "user": "kojira"})  # fmt: skip
        topic = f"{CI_PREFIX}.package.test.functional.complete"
        add(
            topic,
            {
                "CI_TYPE": "custom",
                "build_id": str(5200 + i),
                "username": "fedora-atomic",
                "rev": f"kojitask-{139100000 + i}",
                "namespace": "rpms",
                "repo": name,
                "branch": "rawhide",
                "nvr": nvr,
                "CI_NAME": "upstream-fedora-pipeline-build",
                "build_url": f"https://jenkins-continuous-infra.apps.ci.centos.org/job/"
                f"upstream-fedora-pipeline-build/{5200 + i}/",
                "topic": topic,
                "status": "SUCCESS",
            },
        )
        add(
            f"{PREFIX}.resultsdb.result.new",
            {
                "id": 41100000 + i,
                "outcome": "PASSED",
                "testcase": {"name": "dist.rpmdeplint"},
                "ref_url": f"https://taskotron.fedoraproject.org/artifacts/n{i}",
                "data": {"item": [nvr], "type": ["koji_build"]},
            },
        )
    add(
        f"{PREFIX}.ci.koji-build-group.test.complete",
        _integrity_check(
            "rawhide-pending-20261121.0",
            813,
            [(n, 139100000 + i, pkgs[i][3]) for i, n in enumerate(nvrs)],
            "failed",
            t,
        ),
    )
    return out


def main() -> None:
    for name, messages in (
        ("sample-stream.jsonl", demo_stream()),
        ("sample-bisection.jsonl", demo_bisection_stream()),
    ):
        text = "".join(json.dumps(m, sort_keys=True) + "\n" for m in messages)
        (EXAMPLES / name).write_text(text)


if __name__ == "__main__":
    main()
