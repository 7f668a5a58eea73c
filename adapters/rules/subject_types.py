"""Greenwave's subject type definitions (``config/subject_types/*.yaml``) -> values.

Fedora's Greenwave reads Greenwave's own ``conf/subject_types`` (fedora-infra/ansible
``roles/openshift-apps/greenwave/templates/settings.py``: ``SUBJECT_TYPES_DIR =
'/src/conf/subject_types'``); ``config/subject_types`` ships the same definitions. Read as
Greenwave's ``greenwave/subjects/subject_type.py`` ``SubjectType`` reads them: every
document is a ``!SubjectType`` mapping (tagged or not), ``id`` is required, the other keys
are optional and typed; keys it does not know are ignored, as there.

What we use: ``id`` and ``aliases`` (a policy or a subject naming an alias means the type:
``domain.facts.SUBJECT_TYPE_ALIASES``), ``ignore_missing_policy`` (the decision API answers
"no policy" without an error: ``projections.decision_api.IGNORE_MISSING_POLICY``); the tests
check those tables against these files. The rest (ResultsDB queries, product versions
from koji build targets) is kept as data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "SUBJECT_TYPES_DIR",
    "SubjectType",
    "SubjectTypeError",
    "alias_table",
    "load_subject_types",
]

#: The shipped definitions.
SUBJECT_TYPES_DIR = Path(__file__).resolve().parents[2] / "config" / "subject_types"


class SubjectTypeError(ValueError):
    """A subject type file that cannot be used: ``FILE: message``."""


@dataclass(frozen=True)
class SubjectType:
    id: str
    aliases: tuple[str, ...] = ()
    item_key: str | None = None
    is_koji_build: bool = False
    is_nvr: bool | None = None
    ignore_missing_policy: bool = False
    product_version: str | None = None
    source: str = ""

    def matches(self, name: str) -> bool:
        """Greenwave's ``SubjectType.matches``: the id or one of the aliases."""
        return name == self.id or name in self.aliases


# Greenwave's SubjectType.safe_yaml_attributes: key -> expected Python type.
_TYPES: dict[str, type | tuple[type, ...]] = {
    "id": (str, int, float, bool),  # SafeYAMLString: any scalar, read as text
    "aliases": list,
    "item_key": (str, int, float, bool),
    "is_koji_build": bool,
    "is_nvr": bool,
    "ignore_missing_policy": bool,
    "product_version_match": list,
    "product_version_from_koji_build_target": list,
    "product_version": (str, int, float, bool),
    "item_dict": dict,
    "result_queries": list,
}


def _one(data: Any, source: str) -> SubjectType:
    if not isinstance(data, dict):
        raise SubjectTypeError(f"{source}: Expected mapping for !SubjectType tagged object")
    label = f"SubjectType {data.get('id')!r}"
    if data.get("id") is None:
        raise SubjectTypeError(f"{source}: {label}: Attribute 'id' is required")
    for key, kind in _TYPES.items():
        value = data.get(key)
        if value is not None and not isinstance(value, kind):
            raise SubjectTypeError(f"{source}: {label}: Attribute {key!r} has the wrong type")
    aliases = data.get("aliases") or []
    if not all(isinstance(a, str) for a in aliases):
        raise SubjectTypeError(f"{source}: {label}: Attribute 'aliases': Expected list of str")

    def text(key: str) -> str | None:
        value = data.get(key)
        return None if value is None else str(value)

    return SubjectType(
        id=str(data["id"]),
        aliases=tuple(aliases),
        item_key=text("item_key"),
        is_koji_build=bool(data.get("is_koji_build", False)),
        is_nvr=data.get("is_nvr"),
        ignore_missing_policy=bool(data.get("ignore_missing_policy", False)),
        product_version=text("product_version"),
        source=source,
    )


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads a ``!SubjectType`` document as a plain mapping."""


def _mapping(loader: _Loader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.MappingNode)
    return loader.construct_mapping(node)


def load_subject_types(directory: str | Path = SUBJECT_TYPES_DIR) -> tuple[SubjectType, ...]:
    """Every subject type of every ``*.yaml`` file of ``directory``, files in name order."""
    path = Path(directory)
    if not path.is_dir():
        raise SubjectTypeError(f"{path}: not a directory of subject type definitions")
    _Loader.add_constructor("!SubjectType", _mapping)  # idempotent
    found: list[SubjectType] = []
    for file in sorted(path.glob("*.yaml")):
        try:
            docs = list(yaml.load_all(file.read_text(encoding="utf-8"), Loader=_Loader))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise SubjectTypeError(f"{file}: {exc}") from exc
        found.extend(_one(doc, file.name) for doc in docs)
    return tuple(found)


def alias_table(types: tuple[SubjectType, ...]) -> dict[str, str]:
    """alias -> subject type id."""
    return {alias: t.id for t in types for alias in t.aliases}
