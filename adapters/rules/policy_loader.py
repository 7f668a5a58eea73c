"""Greenwave-dialect policy files -> :class:`policies.spec.PolicySet`.

Each ``*.yaml``/``*.yml`` file of a directory (sorted by name; hidden files skipped) holds
one or more YAML documents, each a policy (``--- !Policy``; as in Greenwave, whose loader
gives every document that tag, the tag may be left out). Documents are composed into
nodes (never constructed), so every error names its file and line: syntax errors, unknown
or unsupported keys and rule tags, missing keys, wrong value types, both
``decision_context`` and ``decision_contexts`` (or ``subject_type`` and
``subject_types``), non-mapping or empty documents, duplicate policy ids, and an empty or
missing directory. Where Greenwave refuses a file too, its own reason follows ours in
``[Greenwave: ...]`` (greenwave/safe_yaml.py, greenwave/policies.py). Greenwave keys and
tags we do not implement are errors, never silently ignored.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from relengotron.adapters.rules.remote_rule_yaml import read_remote_rule_node
from relengotron.adapters.rules.yaml_nodes import (
    _NULL,
    _OURS,
    NodeReader,
    _gw,
    _kind,
    _line,
)
from relengotron.policies.spec import (
    GREENWAVE_RULE_TAGS,
    OBSOLETE_RULE_TAGS,
    POLICY_FIELDS,
    RULE_DATETIME_FIELDS,
    RULE_FIELDS,
    UNSUPPORTED_POLICY_KEYS,
    UNSUPPORTED_RULE_KEYS,
    UNSUPPORTED_RULE_TAGS,
    Policy,
    PolicyError,
    PolicySet,
    Rule,
    rule_class,
    rule_problem,
)

__all__ = ["POLICY_SUFFIXES", "load_policy_set", "load_policy_text"]

POLICY_SUFFIXES = (".yaml", ".yml")

# The order in which Greenwave's Policy reads its attributes: the first missing one is
# the one its error names.
_POLICY_ORDER = ("id", "product_versions", "rules")


class _Reader(NodeReader):
    """Reads the policies of one file."""

    def policies(self, text: str) -> list[Policy]:
        found: list[Policy] = []
        for doc in self.documents(text):
            if not isinstance(doc, yaml.MappingNode):
                # Greenwave reads every document as a policy, an empty one (a trailing
                # `---`) included, and refuses anything but a mapping.
                what = "an empty document" if doc.tag == _NULL and not doc.value else _kind(doc)
                raise self.error(
                    f"a policy document must be a mapping, got {what}"
                    + _gw("Expected mapping for !Policy tagged object"),
                    doc,
                )
            found.append(self.policy(doc))
        return found

    # ---------------------------------------------------------------- policy

    def policy(self, node: yaml.MappingNode) -> Policy:
        # Greenwave reads every document as a !Policy, tagged or not (its loader gives the
        # root node the tag), so an untagged mapping is a policy.
        fields = self.mapping(node, "!Policy")
        id_node = fields.get("id", (None, None))[1]
        label = (
            f"Policy {id_node.value!r}"
            if isinstance(id_node, yaml.ScalarNode) and id_node.value
            else "Policy 'untitled'"
        )
        self.check_keys(
            fields, node, "!Policy", POLICY_FIELDS, UNSUPPORTED_POLICY_KEYS, label, _POLICY_ORDER
        )
        contexts = self.one_or_many(
            fields, node, label, "decision_context", "decision_contexts", "decision contexts"
        )
        subject_types = self.one_or_many(
            fields, node, label, "subject_type", "subject_types", "subject types"
        )
        rules_node = fields["rules"][1]
        if not isinstance(rules_node, yaml.SequenceNode):
            found = "mapping" if isinstance(rules_node, yaml.MappingNode) else "scalar"
            raise self.error(
                f"`rules` must be a list of rules, got {_kind(rules_node)}"
                + _gw(f"{label}: Attribute 'rules': expected a sequence node, but found {found}"),
                rules_node,
            )
        for key in ("relevance_key", "relevance_value"):  # read, then unused (Greenwave 0.8)
            if key in fields:
                self.string(fields[key][1], key, label, optional=True)

        def opt_list(key: str) -> tuple[str, ...]:
            return self.string_list(fields[key][1], key, label) if key in fields else ()

        return Policy(
            id=self.required_string(fields["id"][1], "id", label),
            product_versions=self.string_list(
                fields["product_versions"][1], "product_versions", label
            ),
            decision_contexts=contexts,
            subject_type=subject_types[0],
            subject_types=subject_types if "subject_types" in fields else (),
            rules=tuple(self.rule(r, label) for r in rules_node.value),
            packages=opt_list("packages"),
            excluded_packages=opt_list("excluded_packages"),
            source=f"{self.name}:{_line(node)}",
        )

    def one_or_many(
        self,
        fields: dict[str, tuple[yaml.Node, yaml.Node]],
        node: yaml.Node,
        label: str,
        one: str,
        many: str,
        what: str,
    ) -> tuple[str, ...]:
        """Greenwave's ``decision_context``/``decision_contexts`` and ``subject_type``/
        ``subject_types``: exactly one of them, not empty."""
        if one in fields and many in fields:
            second = max(fields[one][0], fields[many][0], key=_line)
            raise self.error(
                f"give either `{one}` (one) or `{many}` (a list), not both"
                + _gw(f'{label}: Both properties "{many}" and "{one}" were set'),
                second,
            )
        if one in fields:
            return (self.required_string(fields[one][1], one, label),)
        values = self.string_list(fields[many][1], many, label) if many in fields else ()
        if not values:
            where = fields[many][1] if many in fields else node
            raise self.error(
                f"!Policy needs `{one}` or a non-empty `{many}`"
                + _gw(f"{label}: No {what} provided"),
                where,
            )
        return values

    def rule(self, node: yaml.Node, label: str) -> Rule:
        known = ", ".join(f"!{t}" for t in sorted(RULE_FIELDS))
        in_rules = f"{label}: Attribute 'rules': "
        if not node.tag.startswith("!"):
            raise self.error(
                f"a rule needs a tag, one of {known}; got {_kind(node)}"
                + _gw(in_rules + "Expected list of Rule objects"),
                node,
            )
        tag = node.tag[1:]
        if tag in UNSUPPORTED_RULE_TAGS:
            raise self.error(f"!{tag} is not supported here: {UNSUPPORTED_RULE_TAGS[tag]}", node)
        if tag in OBSOLETE_RULE_TAGS:  # Greenwave's ObsoleteRule message, word for word
            raise self.error(f"!{tag} is obsolete. {OBSOLETE_RULE_TAGS[tag]}", node)
        if tag == "RemoteRule":  # its keys are not strings: adapters/rules/remote_rule_yaml.py
            return read_remote_rule_node(node, self.error)
        cls = rule_class(tag)
        if cls is None:
            raise self.error(
                f"unknown rule tag !{tag}; known rule tags: {known}"
                + _gw(in_rules + f"could not determine a constructor for the tag '!{tag}'"),
                node,
            )
        if not isinstance(node, yaml.MappingNode):
            raise self.error(f"!{tag} must be a mapping, e.g. !{tag} {{key: value}}", node)
        fields = self.mapping(node, f"!{tag}")
        required, _ = RULE_FIELDS[tag]
        rule_label = in_rules + f"YAML object !{tag}" if tag in GREENWAVE_RULE_TAGS else _OURS
        self.check_keys(
            fields,
            node,
            f"!{tag}",
            RULE_FIELDS[tag],
            UNSUPPORTED_RULE_KEYS.get(tag, {}),
            rule_label,
            tuple(sorted(required)),
        )
        values = {
            key: (
                self.datetime(value, key, rule_label)
                if key in RULE_DATETIME_FIELDS
                else self.string(value, key, rule_label, optional=key not in required)
            )
            for key, (_, value) in fields.items()
            if key in required or key in RULE_FIELDS[tag][1]
        }
        rule: Rule = cls(**values)
        problem = rule_problem(rule)
        if problem:
            raise self.error(problem, node)
        return rule


def _check_unique(found: list[Policy], reader: _Reader, seen: dict[str, Policy]) -> None:
    for policy in found:
        if policy.id in seen:
            line = int(policy.source.rsplit(":", 1)[1])
            raise PolicyError(
                f"duplicate policy id `{policy.id}` (first defined at {seen[policy.id].source})",
                reader.error_source,
                line,
            )
        seen[policy.id] = policy


def load_policy_text(
    text: str, source: str = "<string>", *, ignore_unknown_keys: bool = False
) -> tuple[Policy, ...]:
    """The policies of one YAML text; ``source`` names it in errors and ``Policy.source``.
    ``ignore_unknown_keys``: ignore keys Greenwave does not know, as Greenwave does (for
    files written for Greenwave, such as a package's gating.yaml)."""
    reader = _Reader(source, source, ignore_unknown_keys)
    found = reader.policies(text)
    _check_unique(found, reader, {})
    return tuple(found)


def load_policy_set(directory: str | Path) -> PolicySet:
    """Every policy of every ``*.yaml``/``*.yml`` file of ``directory``, files in sorted
    order. Raises :class:`PolicyError` naming file and line."""
    path = Path(directory)
    if not path.exists():
        raise PolicyError("the policy directory does not exist", str(path))
    if not path.is_dir():
        raise PolicyError("not a directory: give the directory holding the policy files", str(path))
    files = sorted(
        p
        for p in path.iterdir()
        if p.suffix in POLICY_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )
    if not files:
        raise PolicyError("no policy files (*.yaml, *.yml) in the policy directory", str(path))

    seen: dict[str, Policy] = {}
    policies: list[Policy] = []
    for file in files:
        reader = _Reader(file.name, str(file))
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"cannot read the policy file: {exc}", str(file)) from exc
        found = reader.policies(text)
        _check_unique(found, reader, seen)
        policies.extend(found)
    if not policies:
        raise PolicyError("the policy files hold no `--- !Policy` documents", str(path))
    return PolicySet(tuple(policies))
