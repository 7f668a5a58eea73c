"""Koji (``buildsys.*``) messages -> build, tag, signing, repo and task facts.

Topics read (bus prefix stripped):

- ``buildsys.build.state.change`` -> :class:`BuildStateChanged` (with the SCM
  URL the build came from and the dist-git change parsed from it)
- ``buildsys.tag`` / ``buildsys.untag`` -> :class:`BuildTagged` / :class:`BuildUntagged`
- ``buildsys.rpm.sign`` -> :class:`BuildSigned`
- ``buildsys.repo.init`` / ``buildsys.repo.done`` -> :class:`KojiRepoChanged`
- ``buildsys.task.state.change`` -> :class:`KojiTaskChanged`
- ``buildsys.package.list.change`` -> :class:`KojiPackageListChanged`

Any other ``buildsys.*`` topic is recognized and ignored. Messages from a koji
instance other than ``primary`` (the old secondary arch hubs: ``s390``,
``ppc``, ``arm``) are ignored; a body without ``instance`` is from primary.
Both the fedmsg-era bodies (no ``task``/``epoch``, ``info`` dicts) and the
koji-fedoramessaging-messages bodies are read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from relengotron.adapters.translate.base import (
    Envelope,
    Translation,
    as_int,
    as_str,
    change_from_scm_url,
    get_path,
    make_nvr,
)
from relengotron.domain.facts import (
    BUILD_STATES,
    BuildSigned,
    BuildStateChanged,
    BuildTagged,
    BuildUntagged,
    Fact,
    KojiPackageListChanged,
    KojiRepoChanged,
    KojiTaskChanged,
)

FAMILY = "koji"
_PREFIX = "buildsys."

# koji.TASK_STATES
TASK_STATES = {0: "FREE", 1: "OPEN", 2: "CLOSED", 3: "CANCELED", 4: "ASSIGNED", 5: "FAILED"}

Handler = Callable[[Mapping[str, Any], list[str]], list[Fact]]


def _state(value: Any, names: Mapping[int, str], what: str, problems: list[str]) -> str | None:
    """A koji state as its name, from an int, a digit string or a name."""
    if value is None or value == "":
        return None
    number = as_int(value)
    if number is not None:
        if number in names:
            return names[number]
        problems.append(f"unknown {what} {value!r}")
        return str(number)
    name = str(value).strip().upper()
    if name not in names.values():
        problems.append(f"unknown {what} {value!r}")
    return name


def _nvr(body: Mapping[str, Any], problems: list[str]) -> str | None:
    nvr = make_nvr(body.get("name"), body.get("version"), body.get("release"))
    if nvr is None:
        nvr = as_str(body.get("nvr"))
    if nvr is None:
        problems.append("no build name/version/release")
    return nvr


def _scm_source(body: Mapping[str, Any]) -> str | None:
    """The SCM URL a build was made from, when the message says."""
    candidates = [body.get("source"), get_path(body, "build", "source")]
    for request in (get_path(body, "task", "request"), body.get("request")):
        if isinstance(request, list) and request:
            candidates.append(request[0])
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip().startswith("git"):
            return candidate.strip()
    return None


def _build_state(body: Mapping[str, Any], problems: list[str]) -> list[Fact]:
    nvr = _nvr(body, problems)
    state = _state(body.get("new"), BUILD_STATES, "build state", problems)
    if state is None:
        problems.append("no new build state")
    if nvr is None or state is None:
        return []
    source = _scm_source(body)
    task_id = as_int(body.get("task_id"))
    if task_id is None:
        task_id = as_int(get_path(body, "task", "id"))
    return [
        BuildStateChanged(
            nvr=nvr,
            state=state,
            old_state=_state(body.get("old"), BUILD_STATES, "build state", problems),
            build_id=as_int(body.get("build_id")),
            task_id=task_id,
            owner=as_str(body.get("owner")),
            epoch=as_int(body.get("epoch")),
            source=source,
            change=change_from_scm_url(source),
        )
    ]


def _tagging(untag: bool) -> Handler:
    def handle(body: Mapping[str, Any], problems: list[str]) -> list[Fact]:
        nvr = _nvr(body, problems)
        tag = as_str(body.get("tag"))
        if tag is None:
            problems.append("no tag")
        if nvr is None or tag is None:
            return []
        cls = BuildUntagged if untag else BuildTagged
        return [
            cls(
                nvr=nvr,
                tag=tag,
                build_id=as_int(body.get("build_id")),
                user=as_str(body.get("user")),
                owner=as_str(body.get("owner")),
            )
        ]

    return handle


def _rpm_sign(body: Mapping[str, Any], problems: list[str]) -> list[Fact]:
    build = body.get("build")
    rpm = body.get("rpm") if isinstance(body.get("rpm"), Mapping) else body.get("info")
    nvr = None
    if isinstance(build, Mapping):
        nvr = make_nvr(build.get("name"), build.get("version"), build.get("release"))
        nvr = nvr or as_str(build.get("nvr"))
    if nvr is None:
        # Old bodies only carry the rpm (often a subpackage): its name is not the build's.
        build_id = as_int(get_path(body, "build", "id")) or as_int(get_path(rpm, "build_id"))
        problems.append(f"rpm.sign names no build NVR (build_id {build_id})")
        return []
    sigkey = as_str(body.get("sigkey"))
    if sigkey is None:
        sigkey = as_str(get_path(rpm, "sigkey"))
    rpm_name = None
    if isinstance(rpm, Mapping):
        rpm_nvr = make_nvr(rpm.get("name"), rpm.get("version"), rpm.get("release"))
        arch = as_str(rpm.get("arch"))
        if rpm_nvr and arch:
            rpm_name = f"{rpm_nvr}.{arch}"
    return [BuildSigned(nvr=nvr, sigkey=sigkey, rpm=rpm_name)]


def _repo(state: str) -> Handler:
    def handle(body: Mapping[str, Any], problems: list[str]) -> list[Fact]:
        tag = as_str(body.get("tag"))
        if tag is None:
            problems.append("no tag")
            return []
        return [KojiRepoChanged(tag=tag, repo_id=as_int(body.get("repo_id")), state=state)]

    return handle


def _task_state(body: Mapping[str, Any], problems: list[str]) -> list[Fact]:
    raw_info = body.get("info")
    info: Mapping[str, Any] = raw_info if isinstance(raw_info, Mapping) else {}
    task_id = as_int(body.get("id"))
    if task_id is None:
        task_id = as_int(info.get("id"))
    state = _state(body.get("new"), TASK_STATES, "task state", problems)
    if state is None:
        state = _state(info.get("state"), TASK_STATES, "task state", problems)
    if task_id is None or state is None:
        problems.append("no task id or new task state")
        return []
    owner = body.get("owner")
    return [
        KojiTaskChanged(
            task_id=task_id,
            state=state,
            old_state=_state(body.get("old"), TASK_STATES, "task state", problems),
            method=as_str(body.get("method")) or as_str(info.get("method")),
            # info.owner is a numeric user id; only a name is an owner
            owner=as_str(owner) if isinstance(owner, str) else None,
            parent=as_int(info.get("parent")) if info else as_int(body.get("parent")),
        )
    ]


def _package_list(body: Mapping[str, Any], problems: list[str]) -> list[Fact]:
    tag = as_str(body.get("tag"))
    package = as_str(body.get("package"))
    if tag is None or package is None:
        problems.append("no tag or package")
        return []
    return [
        KojiPackageListChanged(
            tag=tag,
            package=package,
            action=as_str(body.get("action")),
            owner=as_str(body.get("owner")),
        )
    ]


_HANDLERS: dict[str, Handler] = {
    "build.state.change": _build_state,
    "tag": _tagging(untag=False),
    "untag": _tagging(untag=True),
    "rpm.sign": _rpm_sign,
    "repo.init": _repo("init"),
    "repo.done": _repo("done"),
    "task.state.change": _task_state,
    "package.list.change": _package_list,
}


def translate(envelope: Envelope, suffix: str) -> Translation | None:
    """Translate a ``buildsys.*`` message; None for any other topic."""
    if not suffix.startswith(_PREFIX):
        return None
    body = envelope.body
    if not isinstance(body, Mapping):
        return Translation(
            family=FAMILY, problems=(f"body is {type(body).__name__}, not an object",)
        )
    instance = as_str(body.get("instance"))
    if instance is not None and instance != "primary":
        return Translation(family=FAMILY, ignored=f"koji instance {instance} is not primary")
    handler = _HANDLERS.get(suffix[len(_PREFIX) :])
    if handler is None:
        return Translation(family=FAMILY, ignored="not used")
    problems: list[str] = []
    facts = handler(body, problems)
    return Translation(family=FAMILY, facts=tuple(facts), problems=tuple(problems))
