"""koji's part: the release's tags, their inheritance and build targets (branch); the
tags locked and the build targets dropped (End Of Life).

Calls as koji's hub names them (``koji.ClientSession`` over XML-RPC; hub.py's
``getTag``, ``createTag(name, parent=None, arches=None, ...)``,
``getInheritanceData``/``setInheritanceData``, ``getBuildTarget``,
``createBuildTarget(name, build_tag, dest_tag)``, ``deleteBuildTarget(id)``,
``getAllPerms``, ``editTag2(tagInfo, perm_id=...)``: what ``koji lock-tag`` does
with its default permission ``admin``, in koji_cli/commands.py ``handle_lock_tag``;
``koji add-tag --parent --arches`` is ``createTag``, ``koji add-target`` is
``createBuildTarget``, ``koji remove-target`` is ``deleteBuildTarget(target['id'])``).
Every step reads before it writes.
"""

from __future__ import annotations

from typing import Any

from relengotron.adapters.lifecycle.steps import (
    ALREADY,
    BRANCH,
    DONE,
    Outcome,
    Release,
    Step,
    StepError,
    StepPlugin,
)

LOCK_PERM = "admin"


def tag_tree(r: Release) -> list[tuple[str, str | None, bool]]:
    """(tag, parent, is a build tag) of a release, parents first: Fedora's layout plus
    our gating tags (pending, quarantine)."""
    f = r.tag
    return [
        (f, None, False),
        (f"{f}-updates", f, False),
        (f"{f}-updates-candidate", f"{f}-updates", False),
        (f"{f}-updates-pending", f"{f}-updates", False),
        (f"{f}-updates-testing", f"{f}-updates", False),
        (f"{f}-updates-testing-pending", f"{f}-updates-testing", False),
        (f"{f}-signing-pending", f"{f}-updates-testing", False),
        (f"{f}-pending", f"{f}-updates", False),
        (f"{f}-quarantine", f"{f}-updates", False),
        (f"{f}-override", f"{f}-updates", False),
        (f"{f}-build", f"{f}-override", True),
    ]


def targets(r: Release) -> list[tuple[str, str, str]]:
    """(target, build tag, destination tag) of a release: the End of Life SOP removes
    ``fN`` and ``fN-updates-candidate`` (docs.pagure.org/releng/sop_end_of_life.html)."""
    f = r.tag
    return [(t, f"{f}-build", f"{f}-updates-candidate")
            for t in (f, f"{f}-candidate", f"{f}-updates-candidate")]  # fmt: skip


class KojiSteps(StepPlugin):
    name = "koji"
    order = 10

    def plan(self, release: Release) -> list[Step]:
        arches = " ".join(release.settings.arches)
        if release.operation == BRANCH:
            steps = [
                Step(f"koji.tag:{t}", self.name,
                     f"create tag {t}" + (f" inheriting {p}" if p else "")
                     + (f" (arches {arches})" if build else ""),
                     {"tag": t, "parent": p, "arches": arches if build else None})
                for t, p, build in tag_tree(release)
            ]  # fmt: skip
            steps += [
                Step(f"koji.target:{n}", self.name, f"create build target {n}: {b} -> {d}",
                     {"target": n, "build_tag": b, "dest_tag": d})
                for n, b, d in targets(release)
            ]  # fmt: skip
            return steps
        steps = [
            Step(f"koji.drop-target:{n}", self.name, f"delete build target {n}", {"target": n})
            for n, _, _ in targets(release)
        ]
        steps += [
            Step(f"koji.lock:{t}", self.name, f"lock tag {t} (permission {LOCK_PERM})",
                 {"tag": t, "perm": LOCK_PERM})
            for t, _, _ in tag_tree(release)
        ]  # fmt: skip
        return steps

    def session(self) -> Any:
        gw = self.context.koji()
        if gw is None:
            raise StepError("koji is not configured ([koji] hub)")
        return gw.session()

    def apply(self, step: Step, release: Release) -> Outcome:
        kind = step.id.split(":", 1)[0]
        handler = {
            "koji.tag": self._tag,
            "koji.target": self._target,
            "koji.drop-target": self._drop_target,
            "koji.lock": self._lock,
        }[kind]
        return handler(self.session(), step.params)

    def _tag(self, s: Any, p: dict[str, Any]) -> Outcome:
        tag, parent = p["tag"], p.get("parent")
        info = s.getTag(tag)
        if info is None:
            tag_id = s.createTag(tag, parent=parent, arches=p.get("arches"))
            return Outcome(DONE, f"created {tag}", {"tag_id": tag_id})
        if parent:
            parents = [i.get("name") for i in s.getInheritanceData(tag) or []]
            if parent not in parents:
                raise StepError(
                    f"tag {tag} exists and does not inherit {parent} "
                    f"(inherits {', '.join(map(str, parents)) or 'nothing'}): not ours to change"
                )
        return Outcome(ALREADY, f"{tag} exists", {"tag_id": info["id"]})

    def _target(self, s: Any, p: dict[str, Any]) -> Outcome:
        name, build, dest = p["target"], p["build_tag"], p["dest_tag"]
        info = s.getBuildTarget(name)
        if info is None:
            s.createBuildTarget(name, build, dest)
            return Outcome(DONE, f"created target {name}")
        if (info.get("build_tag_name"), info.get("dest_tag_name")) != (build, dest):
            raise StepError(
                f"build target {name} exists with {info.get('build_tag_name')} -> "
                f"{info.get('dest_tag_name')}, not {build} -> {dest}"
            )
        return Outcome(ALREADY, f"target {name} exists")

    def _drop_target(self, s: Any, p: dict[str, Any]) -> Outcome:
        info = s.getBuildTarget(p["target"])
        if info is None:
            return Outcome(ALREADY, f"no build target {p['target']}")
        s.deleteBuildTarget(info["id"])
        return Outcome(DONE, f"deleted target {p['target']}", {"target_id": info["id"]})

    def _lock(self, s: Any, p: dict[str, Any]) -> Outcome:
        """``koji lock-tag TAG`` (koji_cli/commands.py ``handle_lock_tag``): the
        permission's id from ``getAllPerms``; nothing when the tag requires it already."""
        info = s.getTag(p["tag"])
        if info is None:
            return Outcome(ALREADY, f"no tag {p['tag']}: nothing to lock")
        perm_ids = {x["name"]: x["id"] for x in s.getAllPerms()}
        if p["perm"] not in perm_ids:
            raise StepError(f"koji has no permission {p['perm']!r}")
        if info.get("locked") or info.get("perm_id") == perm_ids[p["perm"]]:
            return Outcome(ALREADY, f"{p['tag']} locked already")
        s.editTag2(info["id"], perm_id=perm_ids[p["perm"]])
        return Outcome(DONE, f"locked {p['tag']}")
