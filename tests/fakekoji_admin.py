"""The tag administration calls of the fake koji hub, as koji's hub names them
(koji's ``kojihub``: ``getTag``, ``createTag(name, parent=None, arches=None, perm=None,
locked=False, maven_support=False, maven_include_all=False, extra=None)``,
``editTag2(tagInfo, **kwargs)``, ``getInheritanceData(tag)``,
``getBuildTarget(info)``, ``createBuildTarget(name, build_tag, dest_tag)``,
``deleteBuildTarget(buildTargetInfo)``, ``getAllPerms``; ``koji lock-tag`` sends
``editTag2(id, perm_id=<id of the permission>)``, koji_cli/commands.py
``handle_lock_tag``; ``getTag`` answers ``perm_id`` and ``perm``, the permission's
name). Mixed into ``tests.fakekoji.FakeKojiHub``."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

GENERIC = 1000
PERMS = {1: "admin", 2: "build", 3: "repo", 4: "tag"}  # koji's permissions table (some)
Fault = xmlrpc.client.Fault


class KojiAdminMixin:
    _lock: Any
    _tags: dict[str, int]
    _tagged: dict[str, set[str]]

    @property
    def _tag_info(self) -> dict[str, dict[str, Any]]:
        return self.__dict__.setdefault("_tag_info_", {})

    @property
    def _targets(self) -> dict[str, dict[str, Any]]:
        return self.__dict__.setdefault("_targets_", {})

    def tag_info(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._api_getTag(name)

    def target_names(self) -> list[str]:
        with self._lock:
            return sorted(self._targets)

    def _info(self, name: str) -> dict[str, Any]:
        tag_id = self._tags[name]
        info = self._tag_info.setdefault(name, {"parents": [], "perm": None, "locked": False,
                                                "arches": None})  # fmt: skip
        return {"id": tag_id, "name": name, "perm": PERMS.get(info["perm"]),
                "perm_id": info["perm"], "arches": info["arches"],
                "locked": info["locked"], "maven_support": False, "maven_include_all": False,
                "extra": {}}  # fmt: skip

    def _resolve_tag(self, info: Any) -> str | None:
        return next((n for n, i in self._tags.items() if info in (n, i)), None)

    def _api_getTag(self, tagInfo: Any, strict: bool = False, **_: Any) -> Any:
        name = self._resolve_tag(tagInfo)
        if name is None:
            if strict:
                raise Fault(GENERIC, f"No such tagInfo: {tagInfo!r}")
            return None
        return self._info(name)

    def _api_createTag(self, name: str, parent: Any = None, arches: Any = None,
                       perm: Any = None, locked: bool = False, maven_support: bool = False,
                       maven_include_all: bool = False, extra: Any = None) -> int:  # fmt: skip
        if name in self._tags:
            raise Fault(GENERIC, f"A tag with the name {name!r} already exists")
        parent_name = None
        if parent is not None:
            parent_name = self._resolve_tag(parent)
            if parent_name is None:
                raise Fault(GENERIC, f"Parent tag {parent!r} not found")
        self._tagged.setdefault(name, set())
        tag_id = self._tags.setdefault(name, 100 + len(self._tags))
        perm_id = {v: k for k, v in PERMS.items()}.get(perm, perm)
        self._tag_info[name] = {"parents": [parent_name] if parent_name else [], "perm": perm_id,
                                "locked": locked, "arches": arches}  # fmt: skip
        return tag_id

    def _api_editTag2(self, tagInfo: Any, **kwargs: Any) -> None:
        name = self._resolve_tag(tagInfo)
        if name is None:
            raise Fault(GENERIC, f"No such tagInfo: {tagInfo!r}")
        self._info(name)
        info = self._tag_info[name]
        for key in ("locked", "arches"):
            if key in kwargs:
                info[key] = kwargs[key]
        for key in ("perm", "perm_id"):  # the hub takes a permission's id or name
            if key in kwargs:
                perm = kwargs[key]
                ids = {v: k for k, v in PERMS.items()}
                if perm is not None and perm not in PERMS and perm not in ids:
                    raise Fault(GENERIC, f"No such permission: {perm!r}")
                info["perm"] = ids.get(perm, perm)

    def _api_getAllPerms(self) -> list[dict[str, Any]]:
        return [{"id": i, "name": n, "description": None} for i, n in PERMS.items()]

    def _api_getInheritanceData(self, tag: Any, event: Any = None) -> list[dict[str, Any]]:
        name = self._resolve_tag(tag)
        if name is None:
            raise Fault(GENERIC, f"No such tagInfo: {tag!r}")
        parents = self._tag_info.get(name, {}).get("parents", [])
        return [{"parent_id": self._tags[p], "name": p, "priority": i * 10, "maxdepth": None,
                 "intransitive": False, "noconfig": False, "pkg_filter": "",
                 "child_id": self._tags[name]} for i, p in enumerate(parents)]  # fmt: skip

    def _api_getBuildTarget(self, info: Any, event: Any = None, strict: bool = False) -> Any:
        found = next((t for t in self._targets.values() if info in (t["id"], t["name"])), None)
        if found is None and strict:
            raise Fault(GENERIC, f"No such build target: {info!r}")
        return dict(found) if found else None

    def _api_createBuildTarget(self, name: str, build_tag: Any, dest_tag: Any) -> None:
        if name in self._targets:
            raise Fault(GENERIC, f"A build target with the name {name!r} already exists")
        b, d = self._resolve_tag(build_tag), self._resolve_tag(dest_tag)
        if b is None or d is None:
            raise Fault(GENERIC, f"No such tag: {build_tag if b is None else dest_tag!r}")
        self._targets[name] = {"id": 700 + len(self._targets), "name": name,
                               "build_tag": self._tags[b], "build_tag_name": b,
                               "dest_tag": self._tags[d], "dest_tag_name": d}  # fmt: skip

    def _api_deleteBuildTarget(self, buildTargetInfo: Any) -> None:
        found = self._api_getBuildTarget(buildTargetInfo, strict=True)
        del self._targets[found["name"]]
