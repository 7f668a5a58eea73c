"""Artifact kinds: what a repo, an ostree, a qcow2 image or a container is to the engine.

A kind is a plugin (entry point group ``relengotron.artifacts``, see ``registry``): it
says how its content travels (``propagates``: artifacts built from it contain its
content; ``contains_tags``: it contains every build tagged into its ``tags``), which
packages are its top level for depsolving, what its definitions need beyond the common
fields (``validate``), and how each compose backend is asked for a compose of it
(``koji_task``, ``odcs_request``, ``command_env``).

``data`` is a normalized definition (every field present, see ``definitions``); its
``compose["backend"]`` is None unless the definition pins a backend (the site's
``[compose.kinds]``, else the kind's ``default_backend``, decides then). ``order`` is a
compose order: ``{"compose": "<artifact>#<n>", "artifact", "kind", "backend",
"definition": data, "changes": [{"nvr", "package", "was"}], "push"}``.

Koji hub methods of the image kinds (``compose.method``), as the hub plugins take them:

* ``osbuildImage(name, version, distro, image_types, target, arches, opts)`` (koji-osbuild)
* ``kiwiBuild(target, arches, desc_url, desc_path, profile=, version=, ...)`` (kiwi plugin)
* ``buildImageOz(name, version, arches, target, inst_tree, opts)`` (koji, ImageFactory)
* ``buildContainer(src, target, opts)`` (koji-containerbuild, OSBS)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

BACKENDS = ("koji", "odcs", "command")
KojiCall = tuple[str, list[Any], dict[str, Any]]

# compose options every kind understands
_COMMON_OPTIONS = frozenset({"backend", "tag", "odcs", "env"})
# and the image kinds
_IMAGE_OPTIONS = _COMMON_OPTIONS | {
    "method", "target", "name", "version", "opts", "distro", "image_types",
    "description_url", "description_path", "profile", "inst_tree", "source", "git_branch",
    "scratch", "ref",
}  # fmt: skip
_STR_OPTIONS = (
    "tag", "method", "target", "name", "version", "distro", "description_url",
    "description_path", "profile", "inst_tree", "source", "git_branch", "ref",
)  # fmt: skip
_BOOL_OPTIONS = ("scratch", "src", "debuginfo", "separate_src")
_MAP_OPTIONS = ("opts", "odcs", "env")


def _compose(data: Mapping[str, Any]) -> Mapping[str, Any]:
    compose = data.get("compose")
    return compose if isinstance(compose, Mapping) else {}


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _changes(order: Mapping[str, Any]) -> list[str]:
    return [str(c["nvr"]) for c in order.get("changes") or () if c.get("nvr")]


class ArtifactKind:
    """The base of every kind; subclasses set the class variables and override hooks."""

    name: ClassVar[str] = ""
    propagates: ClassVar[bool] = False
    contains_tags: ClassVar[bool] = False
    default_backend: ClassVar[str] = "koji"
    compose_options: ClassVar[frozenset[str]] = _COMMON_OPTIONS

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # ------------------------------------------------------------ definitions

    def validate(self, data: Mapping[str, Any]) -> list[str]:
        """Problems of a normalized definition for this kind, each starting with the
        field it concerns (``"tags: ..."``), so the loader can point at its line."""
        problems: list[str] = []
        compose = _compose(data)
        for key in sorted(set(compose) - self.compose_options):
            allowed = ", ".join(sorted(self.compose_options))
            problems.append(f"compose: unknown option `{key}` for kind {self.name}; "
                            f"allowed: {allowed}")  # fmt: skip
        if compose.get("backend") is not None and compose["backend"] not in BACKENDS:
            problems.append(f"compose: `backend` must be one of {', '.join(BACKENDS)}")
        for key in _STR_OPTIONS:
            if key in compose and not (isinstance(compose[key], str) and compose[key].strip()):
                problems.append(f"compose: `{key}` must be a non-empty string")
        for key in _BOOL_OPTIONS:
            if key in compose and not isinstance(compose[key], bool):
                problems.append(f"compose: `{key}` must be true or false")
        for key in _MAP_OPTIONS:
            if key in compose and not isinstance(compose[key], Mapping):
                problems.append(f"compose: `{key}` must be a mapping")
        env = compose.get("env")
        if isinstance(env, Mapping) and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            problems.append("compose: `env` must map names to strings")
        if data.get("bodhi") and not self.contains_tags:
            problems.append(f"bodhi: only repo artifacts are composed by Bodhi, not {self.name}")
        return problems

    def top_level(self, data: Mapping[str, Any]) -> list[str]:
        """The packages whose dependency closure the artifact contains."""
        return list(data.get("packages") or [])

    # ------------------------------------------------------------ compose backends

    def koji_task(self, data: Mapping[str, Any], order: Mapping[str, Any]) -> KojiCall:
        """The hub method creating the compose task, its arguments and keywords."""
        raise NotImplementedError(f"kind {self.name} cannot be composed by koji")

    def odcs_tag(self, data: Mapping[str, Any]) -> str:
        """The koji tag an ODCS compose of this artifact is made from."""
        compose = _compose(data)
        tags = data.get("tags") or []
        return str(compose.get("tag") or (tags[0] if tags else data["release"]))

    def odcs_request(self, data: Mapping[str, Any], order: Mapping[str, Any]) -> dict[str, Any]:
        """The body of ``POST /api/1/composes/``: a repository of the artifact's packages
        from its tag (the whole tag for a repo), or of the changed builds when
        ``compose.odcs.source_type`` is ``build``."""
        extra = dict(_compose(data).get("odcs") or {})
        source_type = str(extra.pop("source_type", "tag"))
        arches = list(data.get("arches") or [])
        source: dict[str, Any] = {"type": source_type, "source": self.odcs_tag(data)}
        if source_type == "build":
            source["builds"] = _changes(order)
        packages = self.top_level(data)
        if packages:
            source["packages"] = packages
        for key in ("sigkeys", "koji_event", "multilib_arches", "lookaside_repos"):
            if key in extra:
                source[key] = extra.pop(key)
        source["arches"] = arches
        body: dict[str, Any] = {"source": source, "arches": arches, "label": order["compose"]}
        body.update(extra)  # flags, seconds_to_live, ...
        return body

    def command_env(self, data: Mapping[str, Any], order: Mapping[str, Any]) -> dict[str, str]:
        """Extra environment for the command backend (RELENGOTRON_COMPOSE and the like
        are set by the backend itself)."""
        env = {
            "RELENGOTRON_RELEASE": str(data.get("release", "")),
            "RELENGOTRON_ARCHES": " ".join(data.get("arches") or []),
            "RELENGOTRON_PACKAGES": " ".join(self.top_level(data)),
            "RELENGOTRON_REPOSITORIES": " ".join(data.get("repositories") or []),
            "RELENGOTRON_BUILT_FROM": " ".join(data.get("built_from") or []),
        }
        env.update({str(k): str(v) for k, v in (_compose(data).get("env") or {}).items()})
        return env


class RepoKind(ArtifactKind):
    """A package repository: every build tagged into its tags (koji ``newRepo``), or a
    Bodhi push of a release's updates. Its content does not propagate: what is built
    from a repo holds only the closure of its own packages."""

    name = "repo"
    propagates = False
    contains_tags = True
    default_backend = "koji"
    compose_options = _COMMON_OPTIONS | {"src", "debuginfo", "separate_src"}

    def validate(self, data: Mapping[str, Any]) -> list[str]:
        problems = super().validate(data)
        tags, compose = data.get("tags") or [], _compose(data)
        tag = compose.get("tag")
        if not tags and not data.get("bodhi"):
            problems.append("tags: a repo needs the koji tags it is composed from (or bodhi)")
        elif compose.get("backend") == "koji" and not tags and tag is None:
            problems.append("compose: the koji backend makes a repo of a tag: give tags")
        if data.get("packages"):
            problems.append("packages: a repo has no package list: it contains every build "
                            "tagged into its tags")  # fmt: skip
        if data.get("built_from"):
            problems.append("built_from: a repo is composed from tags, not built from "
                            "artifacts (use repositories)")  # fmt: skip
        if tag is not None and tags and tag not in tags:
            problems.append(f"compose: `tag` {tag!r} is not one of the repo's tags")
        return problems

    def top_level(self, data: Mapping[str, Any]) -> list[str]:
        return []

    def koji_task(self, data: Mapping[str, Any], order: Mapping[str, Any]) -> KojiCall:
        compose, tags = _compose(data), data.get("tags") or []
        tag = compose.get("tag") or (tags[0] if tags else None)
        if not tag:
            raise ValueError(f"repo {data.get('name')} has no koji tag to regenerate")
        kwargs = {k: bool(compose[k]) for k in ("src", "debuginfo", "separate_src") if k in compose}
        return "newRepo", [tag], kwargs

    def command_env(self, data: Mapping[str, Any], order: Mapping[str, Any]) -> dict[str, str]:
        env = super().command_env(data, order)
        env["RELENGOTRON_TAGS"] = " ".join(data.get("tags") or [])
        bodhi = data.get("bodhi") or {}
        if bodhi:
            env["RELENGOTRON_BODHI_RELEASE"] = str(bodhi.get("release", ""))
            env["RELENGOTRON_BODHI_REQUEST"] = str(bodhi.get("request", ""))
        if order.get("push"):
            env["RELENGOTRON_PUSH"] = str(order["push"])
        return env


# ---------------------------------------------------------------- image kinds


def _image_args(data: Mapping[str, Any], order: Mapping[str, Any]) -> dict[str, Any]:
    compose = _compose(data)
    return {
        "name": str(compose.get("name") or data["name"]),
        "version": str(compose.get("version") or data["release"]),
        "target": str(compose.get("target") or data["release"]),
        "arches": list(data.get("arches") or []),
        "opts": dict(compose.get("opts") or {}),
        "compose": compose,
    }


def _osbuild(a: dict[str, Any], image_types: list[str]) -> tuple[list[Any], dict[str, Any]]:
    c = a["compose"]
    types = list(c.get("image_types") or image_types)
    return [a["name"], a["version"], c["distro"], types, a["target"], a["arches"]], {
        "opts": a["opts"]
    }


def _kiwi(a: dict[str, Any], _: list[str]) -> tuple[list[Any], dict[str, Any]]:
    c = a["compose"]
    kwargs: dict[str, Any] = {"version": a["version"], **a["opts"]}
    if c.get("profile"):
        kwargs["profile"] = c["profile"]
    if "scratch" in c:
        kwargs["scratch"] = bool(c["scratch"])
    return [a["target"], a["arches"], c["description_url"], c["description_path"]], kwargs


def _oz(a: dict[str, Any], _: list[str]) -> tuple[list[Any], dict[str, Any]]:
    c = a["compose"]
    args = [a["name"], a["version"], a["arches"], a["target"], c["inst_tree"]]
    return args, {"opts": a["opts"]}


def _container(a: dict[str, Any], _: list[str]) -> tuple[list[Any], dict[str, Any]]:
    c = a["compose"]
    opts = {"arch_override": " ".join(a["arches"]), **a["opts"]}
    if c.get("git_branch"):
        opts["git_branch"] = c["git_branch"]
    if "scratch" in c:
        opts["scratch"] = bool(c["scratch"])
    return [c["source"], a["target"]], {"opts": opts}


_Builder = Callable[[dict[str, Any], list[str]], tuple[list[Any], dict[str, Any]]]
# method -> (argument builder, compose options it needs)
KOJI_IMAGE_METHODS: dict[str, tuple[_Builder, tuple[str, ...]]] = {
    "osbuildImage": (_osbuild, ("distro",)),
    "kiwiBuild": (_kiwi, ("description_url", "description_path")),
    "buildImageOz": (_oz, ("inst_tree",)),
    "buildContainer": (_container, ("source",)),
}


class _ImageKind(ArtifactKind):
    """Shared by the image kinds: a koji image task, ODCS package repos, command env."""

    propagates = True
    contains_tags = False
    default_backend = "koji"
    compose_options = _IMAGE_OPTIONS
    default_method: ClassVar[str] = "osbuildImage"
    image_types: ClassVar[tuple[str, ...]] = ()
    needs_parent: ClassVar[bool] = True

    def method(self, data: Mapping[str, Any]) -> str:
        return str(_compose(data).get("method") or self.default_method)

    def validate(self, data: Mapping[str, Any]) -> list[str]:
        problems = super().validate(data)
        compose = _compose(data)
        if data.get("tags"):
            problems.append(f"tags: only repo artifacts are composed from tags; "
                            f"{_a(self.name)} is composed from repositories")  # fmt: skip
        if self.needs_parent and not (data.get("repositories") or data.get("built_from")):
            problems.append(f"repositories: {_a(self.name)} needs repositories or built_from")
        types = compose.get("image_types")
        if types is not None and not (
            isinstance(types, list) and types and all(isinstance(t, str) for t in types)
        ):
            problems.append("compose: `image_types` must be a non-empty list of strings")
        if compose.get("backend") == "koji":  # (when pinned: else checked when composing)
            method = self.method(data)
            if method not in KOJI_IMAGE_METHODS:
                known = ", ".join(sorted(KOJI_IMAGE_METHODS))
                problems.append(f"compose: unknown koji method `{method}`; known: {known}")
            else:
                for key in KOJI_IMAGE_METHODS[method][1]:
                    if not compose.get(key):
                        problems.append(f"compose: koji method {method} needs `{key}`")
        return problems

    def koji_task(self, data: Mapping[str, Any], order: Mapping[str, Any]) -> KojiCall:
        method = self.method(data)
        if method not in KOJI_IMAGE_METHODS:
            raise ValueError(f"unknown koji image method {method!r}")
        builder, needs = KOJI_IMAGE_METHODS[method]
        missing = [k for k in needs if not _compose(data).get(k)]
        if missing:
            raise ValueError(f"koji method {method} needs compose option(s) {', '.join(missing)}")
        args, kwargs = builder(_image_args(data, order), list(self.image_types))
        return method, args, kwargs

    def command_env(self, data: Mapping[str, Any], order: Mapping[str, Any]) -> dict[str, str]:
        env = super().command_env(data, order)
        a = _image_args(data, order)
        env.update(RELENGOTRON_IMAGE_NAME=a["name"], RELENGOTRON_IMAGE_VERSION=a["version"],
                   RELENGOTRON_TARGET=a["target"])  # fmt: skip
        return env


class OstreeKind(_ImageKind):
    """An ostree commit (rpm-ostree compose tree / osbuild ``iot-commit``) of its
    treefile's packages; images built from it contain it."""

    name = "ostree"
    default_method = "osbuildImage"
    image_types = ("iot-commit",)

    def validate(self, data: Mapping[str, Any]) -> list[str]:
        problems = super().validate(data)
        if not data.get("repositories"):
            problems.append("repositories: an ostree is composed from repositories")
        return problems

    def ref(self, data: Mapping[str, Any]) -> str:
        return str(_compose(data).get("ref") or (data.get("match") or {}).get("ostree_ref") or "")

    def koji_task(self, data: Mapping[str, Any], order: Mapping[str, Any]) -> KojiCall:
        method, args, kwargs = super().koji_task(data, order)
        ref = self.ref(data)
        if method == "osbuildImage" and ref:
            kwargs["opts"] = {"ostree": {"ref": ref}, **kwargs["opts"]}
        return method, args, kwargs

    def command_env(self, data: Mapping[str, Any], order: Mapping[str, Any]) -> dict[str, str]:
        return {**super().command_env(data, order), "RELENGOTRON_OSTREE_REF": self.ref(data)}


class Qcow2Kind(_ImageKind):
    """A disk image (kiwi by default, or osbuild ``qcow2``/``iot-qcow2-image``)."""

    name = "qcow2"
    default_method = "kiwiBuild"
    image_types = ("qcow2",)


class ContainerKind(_ImageKind):
    """A container image (OSBS ``buildContainer`` by default); layered images built
    from a base image contain it."""

    name = "container"
    default_method = "buildContainer"
    image_types = ("container",)


__all__ = [
    "BACKENDS",
    "KOJI_IMAGE_METHODS",
    "ArtifactKind",
    "ContainerKind",
    "OstreeKind",
    "Qcow2Kind",
    "RepoKind",
]
