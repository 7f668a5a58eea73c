"""Shared types and helpers for the family translators."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from relengotron.domain.facts import ChangeKey, Fact

# Topic prefixes seen on the Fedora, CentOS CI, Pagure and UMB buses.
_PREFIX = re.compile(
    r"^(?:org\.fedoraproject\.(?:prod|stg|dev)|org\.centos\.(?:prod|stage|stg|dev)"
    r"|io\.pagure\.(?:prod|stg|dev)|VirtualTopic\.eng)\."
)


def strip_prefix(topic: str) -> str:
    """``org.fedoraproject.prod.buildsys.tag`` -> ``buildsys.tag``."""
    return _PREFIX.sub("", topic, count=1)


@dataclass(frozen=True)
class Envelope:
    """A received message, whatever format it came in."""

    topic: str
    body: Any
    headers: Mapping[str, Any] = field(default_factory=dict)
    msg_id: str | None = None
    sent_at: str | None = None  # ISO 8601, UTC, when known

    @property
    def suffix(self) -> str:
        return strip_prefix(self.topic)


@dataclass(frozen=True)
class Translation:
    """What a message means.

    ``family`` is None for a topic no translator knows (unrecognized).
    ``ignored`` gives the reason when a recognized message deliberately yields no
    facts (e.g. a koji instance other than ``primary``). ``problems`` lists what
    could not be read from a recognized body. ``invalid`` says the body failed the
    JSON Schema of its spec (CI messages): ``problems`` lists the schema errors, and no
    fact may count as a result (``domain.facts.INVALID``).
    """

    family: str | None
    facts: tuple[Fact, ...] = ()
    ignored: str | None = None
    problems: tuple[str, ...] = ()
    body_topic: str | None = None  # the topic the body itself claims, when it differs
    invalid: bool = False

    @property
    def recognized(self) -> bool:
        return self.family is not None


# ----------------------------------------------------------------- helpers

_NVR = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+)-(?P<release>[^-]+)$")


def split_nvr(nvr: str) -> tuple[str, str, str] | None:
    """``bash-5.2-1.fc40`` -> ``("bash", "5.2", "1.fc40")``; None if not an NVR."""
    m = _NVR.match(nvr or "")
    if not m:
        return None
    return m.group("name"), m.group("version"), m.group("release")


def make_nvr(name: Any, version: Any, release: Any) -> str | None:
    if not name or version in (None, "") or release in (None, ""):
        return None
    return f"{name}-{version}-{release}"


def as_int(value: Any) -> int | None:
    """Koji and Jenkins send ids as ints or strings; '' and None mean none."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def as_str(value: Any) -> str | None:
    """Strings, with the CI pipeline's empty markers (``''``, ``""``, ``null``) as None."""
    if value is None:
        return None
    s = str(value).strip()
    if s in ("", "''", '""', "null", "None"):
        return None
    return s


_SCM = re.compile(r"^(?:git\+)?(?P<url>[^#?]+)(?:\?[^#]*)?#(?P<rev>[0-9a-fA-F]{7,64})$")


def change_from_scm_url(url: str | None) -> ChangeKey | None:
    """``git+https://src.fedoraproject.org/rpms/bash.git#abc123`` -> rpms/bash/abc123."""
    if not url:
        return None
    m = _SCM.match(url.strip())
    if not m:
        return None
    path = urlsplit(m.group("url")).path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    parts = [p for p in path.split("/") if p]
    # src.fedoraproject.org/rpms/bash, pkgs.fedoraproject.org/git/rpms/bash,
    # /srv/git/repositories/rpms/bash: the last two segments are namespace/repo.
    if len(parts) < 2:
        return None
    return ChangeKey(parts[-2], parts[-1], m.group("rev").lower())


def get_path(obj: Any, *path: str) -> Any:
    """``get_path(body, "a", "b")`` = body["a"]["b"], or None where absent."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj
