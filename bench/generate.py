"""Realistic message streams for benchmarks and the demo: real shapes, generated values.

Each generated message follows a body shape seen on the Fedora bus (see
``../shared/corpus``): koji build state changes and tags, dist-git pushes, CI
pipeline stages, ResultsDB results, WaiverDB waivers, Bodhi updates.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

PREFIX = "org.fedoraproject.prod"
CI_PREFIX = "org.centos.prod.ci.pipeline.allpackages-build"


def _msg(topic: str, body: dict[str, Any], when: datetime, rng: random.Random) -> dict[str, Any]:
    return {
        "topic": topic,
        "body": body,
        "headers": {"sent-at": when.isoformat(), "fedora_messaging_severity": 20},
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    }


def stream(
    n: int, *, seed: int = 7, packages: int = 5000, duplicates: float = 0.02
) -> Iterator[dict[str, Any]]:
    """``n`` messages, a fraction of them redeliveries of earlier ones."""
    rng = random.Random(seed)
    t = datetime(2026, 11, 1, tzinfo=UTC)
    recent: list[dict[str, Any]] = []
    produced = 0
    while produced < n:
        t += timedelta(seconds=rng.random() * 2)
        if recent and rng.random() < duplicates:
            yield rng.choice(recent)
            produced += 1
            continue
        pkg = f"pkg{rng.randrange(packages)}"
        ver = f"{rng.randrange(1, 9)}.{rng.randrange(20)}"
        rel = f"{rng.randrange(1, 30)}.fc44"
        nvr = f"{pkg}-{ver}-{rel}"
        rev = f"{rng.getrandbits(160):040x}"
        owner = f"user{rng.randrange(800)}"
        kind = rng.random()
        if kind < 0.12:
            body = {
                "commit": {
                    "namespace": "rpms",
                    "repo": pkg,
                    "rev": rev,
                    "branch": "rawhide",
                    "agent": owner,
                    "username": owner,
                    "summary": f"Update to {ver}",
                    "message": f"Update to {ver}\n",
                    "email": f"{owner}@fedoraproject.org",
                    "stats": {
                        "files": {
                            f"{pkg}.spec": {"additions": 3, "deletions": 1, "lines": 4},
                            "sources": {"additions": 1, "deletions": 1, "lines": 2},
                        },
                        "total": {"additions": 4, "deletions": 2, "files": 2, "lines": 6},
                    },
                    "path": f"/srv/git/repositories/rpms/{pkg}.git",
                    "seen": False,
                }
            }
            m = _msg(f"{PREFIX}.git.receive", body, t, rng)
        elif kind < 0.35:
            new = rng.choice([0, 1, 1, 1, 3])
            body = {
                "build_id": rng.randrange(10**6, 3 * 10**6),
                "old": 0 if new else None,
                "new": new,
                "name": pkg,
                "version": ver,
                "release": rel,
                "epoch": None,
                "owner": owner,
                "attribute": "state",
                "instance": "primary",
                "task_id": rng.randrange(10**8),
                "request": [
                    f"git+https://src.fedoraproject.org/rpms/{pkg}.git#{rev}",
                    "rawhide",
                    {},
                ],
                "base_url": "https://koji.fedoraproject.org",
                "url": "https://koji.fedoraproject.org/koji/buildinfo?buildID=1",
            }
            m = _msg(f"{PREFIX}.buildsys.build.state.change", body, t, rng)
        elif kind < 0.55:
            tag = rng.choice(
                ["rawhide-pending", "rawhide-pending", "f44-updates-candidate", "rawhide"]
            )
            body = {
                "build_id": rng.randrange(10**6, 3 * 10**6),
                "name": pkg,
                "version": ver,
                "release": rel,
                "tag": tag,
                "tag_id": 1234,
                "user": "bodhi",
                "owner": owner,
                "instance": "primary",
                "base_url": "https://koji.fedoraproject.org",
            }
            m = _msg(
                f"{PREFIX}.buildsys.{rng.choice(['tag', 'tag', 'tag', 'untag'])}", body, t, rng
            )
        elif kind < 0.80:
            stage = rng.choice(["package", "package.test.functional", "image", "image.test.smoke"])
            state = rng.choice(["queued", "running", "complete", "complete"])
            status = rng.choice(["SUCCESS", "SUCCESS", "SUCCESS", "FAILURE", "UNSTABLE"])
            topic = f"{CI_PREFIX}.{stage}.{state}"
            body = {
                "CI_TYPE": "custom",
                "build_id": str(rng.randrange(10**5)),
                "username": "fedora-atomic",
                "rev": rev,
                "namespace": "rpms",
                "repo": pkg,
                "branch": "rawhide",
                "nvr": nvr,
                "original_spec_nvr": nvr,
                "CI_NAME": "upstream-fedora-pipeline-build",
                "build_url": f"https://jenkins.example/job/x/{rng.randrange(10**5)}/",
                "topic": topic,
                "status": status,
                "test_guidance": "''",
                "ref": "fedora/rawhide/x86_64/atomic-host",
                "message-content": "",
            }
            m = _msg(topic, body, t, rng)
        elif kind < 0.93:
            outcome = rng.choice(["PASSED", "PASSED", "FAILED", "INFO", "NEEDS_INSPECTION"])
            body = {
                "id": rng.randrange(10**7),
                "outcome": outcome,
                "note": "",
                "testcase": {
                    "name": rng.choice(
                        [
                            "dist.rpmdeplint",
                            "dist.abicheck",
                            "fedora-ci.koji-build.tier0.functional",
                        ]
                    ),
                    "ref_url": "https://x",
                },
                "ref_url": "https://ci.example/run/1",
                "groups": [],
                "submit_time": t.isoformat(),
                "data": {"item": [nvr], "type": ["koji_build"], "arch": ["x86_64"]},
            }
            m = _msg(f"{PREFIX}.resultsdb.result.new", body, t, rng)
        elif kind < 0.96:
            body = {
                "id": rng.randrange(10**6),
                "subject_type": "koji_build",
                "subject_identifier": nvr,
                "subject": {"type": "koji_build", "item": nvr},
                "testcase": "dist.rpmdeplint",
                "product_version": "fedora-rawhide",
                "username": owner,
                "comment": "known issue",
                "waived": True,
                "timestamp": t.isoformat(),
                "proxied_by": None,
            }
            m = _msg(f"{PREFIX}.waiverdb.waiver.new", body, t, rng)
        else:
            alias = f"FEDORA-2026-{rng.getrandbits(40):010x}"
            body = {
                "update": {
                    "alias": alias,
                    "title": nvr,
                    "builds": [{"nvr": nvr}],
                    "status": "pending",
                    "request": "testing",
                    "release": {"name": "F44"},
                    "user": {"name": owner},
                },
                "agent": owner,
            }
            m = _msg(f"{PREFIX}.bodhi.update.request.testing", body, t, rng)
        recent.append(m)
        if len(recent) > 2000:
            recent.pop(0)
        produced += 1
        yield m
