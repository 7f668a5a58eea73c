"""The common ground of our fedora-messaging schemas: ``RelengotronMessage`` (create,
validate, the properties FMN reads, the text form), topic names, the JSON Schema
builders the message modules share, and ``create_from`` (a kind's class from a registry).
The messages themselves are in ``adapters.messaging.schemas`` (gating) and
``adapters.messaging.push_schemas`` (pushes), ``adapters.messaging.sync_schemas``
(mirror syncs)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self

import jsonschema.exceptions
from fedora_messaging import message as fm
from fedora_messaging.exceptions import ValidationError

DEFAULT_PREFIX = "relengotron"
_DRAFT = "http://json-schema.org/draft-04/schema#"
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


def _obj(props: dict[str, Any], optional: Iterable[str] = (), **extra: Any) -> dict[str, Any]:
    """An object schema: every property required unless optional; extra keys allowed."""
    required = [key for key in props if key not in set(optional)]
    return {**extra, "type": "object", "required": required, "properties": props} | {
        "additionalProperties": True
    }


def _body_schema(
    name: str, description: str, props: dict[str, Any], optional: Iterable[str] = ()
) -> dict[str, Any]:
    meta = {"$schema": _DRAFT, "id": f"urn:relengotron:message-schema:{name}"}
    return _obj(props, optional, **meta, description=description)


def _enum(*values: str | None) -> dict[str, Any]:
    return {"type": ["string", "null"] if None in values else "string", "enum": list(values)}


_TEXT: dict[str, Any] = {"type": "string", "minLength": 1}
_OPT_TEXT: dict[str, Any] = {"type": ["string", "null"], "minLength": 1}


def topic_for(suffix: str, prefix: str = DEFAULT_PREFIX) -> str:
    """``<prefix>.<suffix>``; the prefix is dot-separated words without AMQP wildcards."""
    if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix):
        raise ValueError(f"invalid topic prefix {prefix!r}: use dot-separated words, no wildcards")
    topic = f"{prefix}.{suffix}"
    if len(topic.encode()) > 255:
        raise ValueError(f"topic {topic!r} is longer than the AMQP limit of 255 bytes")
    return topic


def _unique(items: Iterable[Any]) -> list[str]:
    return list(dict.fromkeys(i for i in items if isinstance(i, str) and i))


class RelengotronMessage(fm.Message):
    """Common behaviour of releng-o-tron messages (not registered: use a subclass)."""

    TOPIC_SUFFIX: ClassVar[str] = ""
    #: Koji web UI used for ``url``; override in a subclass for another Koji instance.
    KOJI_WEB_URL: ClassVar[str] = "https://koji.fedoraproject.org/koji"

    @classmethod
    def create(cls, body: Mapping[str, Any], *, prefix: str = DEFAULT_PREFIX) -> Self:
        """A validated message on ``<prefix>.<TOPIC_SUFFIX>`` (the body is deep-copied).

        Raises:
            ValueError: the prefix is not a valid topic prefix.
            fedora_messaging.exceptions.ValidationError: the body does not match the schema,
                has keys the schema does not define, or breaks a cross-field rule.
        """
        topic = topic_for(cls.TOPIC_SUFFIX, prefix)
        data = copy.deepcopy(dict(body))
        msg = cls(body=data, topic=topic, severity=cls.severity_for(data))
        try:
            msg.validate()
        except jsonschema.exceptions.ValidationError as exc:
            raise ValidationError(exc) from exc
        problems = cls.semantic_problems(data)
        unknown = sorted(set(data) - set(cls.body_schema["properties"]))
        if unknown:
            problems.insert(0, f"keys not in the schema: {unknown}")
        if problems:
            raise ValidationError(f"{cls.__name__}: {'; '.join(problems)}")
        return msg

    @classmethod
    def severity_for(cls, body: Mapping[str, Any]) -> int:
        """The fedora-messaging severity for a body (FMN notifies WARNING+ by default)."""
        return cls.severity

    @classmethod
    def semantic_problems(cls, body: Mapping[str, Any]) -> list[str]:
        """Cross-field rules JSON Schema draft 4 cannot express (checked by ``create``)."""
        return []

    @property
    def app_name(self) -> str:
        return "relengotron"

    @property
    def agent_name(self) -> str:
        return "relengotron"

    def _get(self, key: str, default: Any = "?") -> Any:
        value = self.body.get(key)
        return default if value is None else value

    def _map(self, key: str) -> Mapping[str, Any]:
        value = self.body.get(key)
        return value if isinstance(value, Mapping) else {}

    @property
    def usernames(self) -> list[str]:
        """The build owner, if known: FMN notifies them (empty when the owner is null)."""
        return _unique([self.body.get("owner")])

    @property
    def packages(self) -> list[str]:
        return _unique([self.body.get("package")])

    @property
    def _nvr(self) -> str | None:
        nvr = self.body.get("nvr")
        return nvr if isinstance(nvr, str) and nvr else None

    @property
    def url(self) -> str | None:
        """The build in the Koji web UI, when the message is about one build."""
        if not self._nvr:
            return None
        return f"{self.KOJI_WEB_URL}/search?terms={self._nvr}&type=build&match=exact"

    def _lines(self) -> list[str]:
        """The summary, then one line per body key (requirements listed one per line)."""
        lines = [self.summary, ""]
        for key in self.body_schema["properties"]:
            value, label = self.body.get(key), key.replace("_", " ").capitalize()
            if key.endswith("_requirements"):
                reqs = [r for r in value or [] if isinstance(r, Mapping)]
                lines.append(f"{label}: {len(reqs) or 'none'}")
                lines += [f"  - {', '.join(f'{k}={v}' for k, v in r.items())}" for r in reqs]
            elif isinstance(value, list):
                lines.append(f"{label}: {', '.join(map(str, value)) or 'none'}")
            elif isinstance(value, bool):
                lines.append(f"{label}: {'yes' if value else 'no'}")
            elif not isinstance(value, Mapping):
                lines.append(f"{label}: {'-' if value is None else value}")
        return lines

    def __str__(self) -> str:
        return "\n".join(self._lines())


def create_from(
    registry: Mapping[str, type[RelengotronMessage]],
    kind: str,
    body: Mapping[str, Any],
    prefix: str = DEFAULT_PREFIX,
) -> RelengotronMessage:
    """A validated message of ``kind``, looked up in ``registry``."""
    try:
        cls = registry[kind]
    except KeyError:
        known = sorted(registry)
        raise ValueError(f"unknown message kind {kind!r}; known kinds: {known}") from None
    return cls.create(body, prefix=prefix)
