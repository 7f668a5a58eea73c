"""Reading package-owned ``gating.yaml`` files and ``!RemoteRule`` rules, as Greenwave.

Mirrors ``greenwave/policies.py`` (``RemotePolicy``, ``RemoteRule``) and
``greenwave/safe_yaml.py``: every document is a ``!Policy`` (an untagged one is taken as
one); ``id`` is optional, ``product_versions`` defaults to ``["*"]``, ``subject_type`` to
``*`` (any); ``decision_context`` or ``decision_contexts`` (one of them) and ``rules`` are
required; a RemoteRule inside is refused. Errors carry Greenwave's wording (``Policy
'untitled': Attribute 'rules' is required``, ``YAML Parser Error: ...``) because packagers
read them in Bodhi. Also: ``validate_gating_yaml`` (Greenwave's
``POST /api/v1.0/validate-gating-yaml``) and the ``!RemoteRule`` reader of the policy loader.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from typing import Any

import dateutil.parser
import yaml

from relengotron.policies.spec import (
    OBSOLETE_RULE_TAGS,
    PassingTestCaseRule,
    Policy,
    RemoteRule,
    Rule,
)

__all__ = [
    "ALL_OK",
    "GatingYamlError",
    "gating_yaml_check",
    "load_remote_policies",
    "read_remote_rule_node",
    "validate_gating_yaml",
]

ALL_OK = "All OK"


class GatingYamlError(ValueError):
    """A gating.yaml Greenwave would refuse; ``str()`` is Greenwave's message."""


class _Tagged:
    def __init__(self, tag: str, fields: dict[str, Any]):
        self.tag = tag
        self.fields = fields


class _Loader(yaml.SafeLoader):
    """Every root document is a ``!Policy`` mapping (Greenwave's root tag handling)."""

    def get_node(self) -> yaml.Node | None:
        node = super().get_node()
        if node is not None:
            node.tag = "!Policy"
            if not isinstance(node, yaml.MappingNode):
                raise GatingYamlError("Expected mapping for !Policy tagged object")
        return node


def _construct_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> _Tagged:
    if isinstance(node, yaml.MappingNode):
        return _Tagged(
            suffix, {str(k): v for k, v in loader.construct_mapping(node, deep=True).items()}
        )
    if isinstance(node, yaml.ScalarNode) and not node.value:
        return _Tagged(suffix, {})  # `- !RemoteRule` alone: every attribute optional
    raise yaml.constructor.ConstructorError(
        None, None, f"expected a mapping for !{suffix}", node.start_mark
    )


_Loader.add_multi_constructor("!", _construct_tagged)


def _string(label: str, fields: dict[str, Any], key: str, required: bool) -> str | None:
    value = fields.get(key)
    if value is None:
        if required:
            raise GatingYamlError(f"{label}: Attribute {key!r} is required")
        return None
    if isinstance(value, dict | list | _Tagged):
        raise GatingYamlError(f"{label}: Attribute {key!r}: expected a scalar node")
    return str(value)


def _list(label: str, fields: dict[str, Any], key: str, kind: type) -> list[Any] | None:
    value = fields.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise GatingYamlError(f"{label}: Attribute {key!r}: expected a sequence node")
    if not all(isinstance(v, kind) for v in value):
        raise GatingYamlError(
            f"{label}: Attribute {key!r}: Expected list of {kind.__name__} objects"
        )
    return value


def _rule(label: str, item: _Tagged) -> Rule:
    if item.tag in OBSOLETE_RULE_TAGS:
        raise GatingYamlError(f"{label}: Attribute 'rules': !{item.tag} is obsolete")
    if item.tag == "RemoteRule":
        raise GatingYamlError(f"{label}: RemoteRule is not allowed in remote policies")
    if item.tag != "PassingTestCaseRule":
        raise GatingYamlError(
            f"{label}: Attribute 'rules': !{item.tag} is not supported here;"
            " gating.yaml takes !PassingTestCaseRule"
        )
    rule_label = f"{label}: Attribute 'rules': PassingTestCaseRule"
    name = _string(rule_label, item.fields, "test_case_name", True)
    scenario = _string(rule_label, item.fields, "scenario", False)
    return PassingTestCaseRule(
        test_case_name=name or "",
        scenario=scenario,
        valid_since=_datetime(rule_label, item.fields, "valid_since"),
        valid_until=_datetime(rule_label, item.fields, "valid_until"),
    )


def _datetime(label: str, fields: dict[str, Any], key: str) -> str | None:
    """Greenwave's ``SafeYAMLDateTime``: dateutil reads the value's text; no zone means
    UTC. Kept as ISO 8601 in UTC, as the policy loader keeps it."""
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, dict | list | _Tagged):
        raise GatingYamlError(f"{label}: Attribute {key!r}: expected a scalar node")
    try:
        when = dateutil.parser.parse(str(value))
    except (ValueError, OverflowError) as exc:
        raise GatingYamlError(
            f"{label}: Attribute {key!r}: Could not parse string as date/time, got: {value}"
        ) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat()


def _policy(fields: dict[str, Any]) -> list[Policy]:
    """One RemotePolicy; a ``subject_types`` list is one policy per type here."""
    policy_id = _string("Policy 'untitled'", fields, "id", False) or ""
    label = f"Policy {policy_id or 'untitled'!r}"
    versions = _list(label, fields, "product_versions", str)
    subject_type = _string(label, fields, "subject_type", False)
    subject_types = _list(label, fields, "subject_types", str)
    context = _string(label, fields, "decision_context", False)
    contexts = _list(label, fields, "decision_contexts", str)
    items = _list(label, fields, "rules", _Tagged)
    if items is None:
        raise GatingYamlError(f"{label}: Attribute 'rules' is required")
    if any(item.tag == "RemoteRule" for item in items):  # RemotePolicy.validate, first
        raise GatingYamlError(f"{label}: RemoteRule is not allowed in remote policies")
    rules = tuple(_rule(label, item) for item in items)
    if subject_type is not None and subject_types:
        raise GatingYamlError(
            f'{label}: Both properties "subject_types" and "subject_type" were set'
        )
    if not context and not contexts:
        raise GatingYamlError(f"{label}: No decision contexts provided")
    if context and contexts:
        raise GatingYamlError(
            f'{label}: Both properties "decision_contexts" and "decision_context" were set'
        )
    return [
        Policy(
            id=policy_id,
            product_versions=tuple(versions if versions is not None else ["*"]),
            decision_contexts=tuple(contexts or [context or ""]),
            subject_type=one,
            rules=rules,
            packages=tuple(_list(label, fields, "packages", str) or ()),
            excluded_packages=tuple(_list(label, fields, "excluded_packages", str) or ()),
        )
        for one in (subject_types or [subject_type or "*"])
    ]


def load_remote_policies(text: str | bytes) -> tuple[Policy, ...]:
    """The policies of a gating.yaml. Raises :class:`GatingYamlError` (Greenwave's words)."""
    try:
        docs = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise GatingYamlError(f"YAML Parser Error: {exc}") from exc
    return tuple(p for doc in docs if isinstance(doc, _Tagged) for p in _policy(doc.fields))


def missing_parent_contexts(policies: Iterable[Policy], parents: Iterable[Policy]) -> list[str]:
    """Greenwave's ``_missing_decision_contexts_in_parent_policies``."""
    known = {c for p in parents for c in p.decision_contexts}
    return sorted({c for p in policies for c in p.decision_contexts} - known)


def validate_gating_yaml(text: str | bytes, parents: Iterable[Policy]) -> tuple[bool, str]:
    """(valid, message), as Greenwave's ``validate_gating_yaml_post``: a refused file is
    not valid (Greenwave answers 400); a file naming a decision context no parent policy
    has is answered 200 with the warning, as Greenwave does, but is not valid here."""
    try:
        policies = load_remote_policies(text)
    except GatingYamlError as exc:
        return False, str(exc)
    if not policies:
        return False, "No policies defined"
    missing = missing_parent_contexts(policies, parents)
    if missing:
        return False, (
            "Greenwave could not find a parent policy(ies) for following decision context(s):"
            f" {', '.join(missing)}. Please change your policy so that it will match a"
            " decision context in the parent policies."
        )
    return True, ALL_OK


def gating_yaml_check(body: bytes, parents: Iterable[Policy]) -> tuple[int, str]:
    """(HTTP status, message) of Greenwave's ``POST /api/v1.0/validate-gating-yaml``: 400
    for a file it refuses (or no policies), else 200 with ``All OK`` or the warning about
    decision contexts no parent policy has."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return 400, f"The file is not UTF-8: {exc}"
    valid, message = validate_gating_yaml(text, parents)
    if valid or message.startswith("Greenwave could not find a parent policy"):
        return 200, message
    return 400, message


def read_remote_rule_node(node: yaml.Node, error: Any) -> RemoteRule:
    """A ``!RemoteRule`` of a parent policy file: ``sources`` (a list of URL templates)
    and ``required`` (a boolean), both optional. ``error(message, node)`` makes the
    loader's :class:`PolicyError`."""
    if isinstance(node, yaml.ScalarNode) and not node.value:
        return RemoteRule()
    if not isinstance(node, yaml.MappingNode):
        raise error("!RemoteRule must be a mapping, e.g. !RemoteRule {required: true}", node)
    sources: tuple[str, ...] | None = None
    required = False
    for key_node, value in node.value:
        key = key_node.value
        if key == "sources":
            if not isinstance(value, yaml.SequenceNode) or not all(
                isinstance(v, yaml.ScalarNode) and v.tag.endswith(":str") for v in value.value
            ):
                raise error("`sources` of !RemoteRule must be a list of URL templates", value)
            sources = tuple(v.value for v in value.value)
        elif key == "required":
            if value.tag != "tag:yaml.org,2002:bool":
                raise error("`required` of !RemoteRule must be true or false", value)
            required = value.value.lower() in ("true", "yes", "on")
        else:
            raise error(
                f"unknown key `{key}` in !RemoteRule; allowed keys: required, sources", key_node
            )
    return RemoteRule(sources=sources, required=required)
