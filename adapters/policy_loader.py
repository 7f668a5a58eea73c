"""Greenwave-dialect policy files -> :class:`policies.spec.PolicySet`.

Each ``*.yaml``/``*.yml`` file of a directory (sorted by name; hidden files skipped) holds
one or more YAML documents, each a policy tagged ``--- !Policy``. Documents are composed
into nodes (never constructed), so every error names its file and line: syntax errors,
unknown or unsupported keys and rule tags, missing keys, wrong value types, both
``decision_context`` and ``decision_contexts``, documents without ``!Policy``, duplicate
policy ids, and an empty or missing directory. Greenwave keys and tags we do not
implement are errors, never silently ignored.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from adapters.remote_rule_yaml import read_remote_rule_node
from policies.spec import (
    OBSOLETE_RULE_TAGS,
    POLICY_FIELDS,
    RULE_FIELDS,
    UNSUPPORTED_POLICY_KEYS,
    UNSUPPORTED_RULE_KEYS,
    UNSUPPORTED_RULE_TAGS,
    Policy,
    PolicyError,
    PolicySet,
    Rule,
    rule_class,
)

__all__ = ["POLICY_SUFFIXES", "load_policy_set", "load_policy_text"]

POLICY_SUFFIXES = (".yaml", ".yml")

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_KINDS = {
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:timestamp": "a date",
}


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return _KINDS.get(node.tag, "a string" if node.tag == _STR else f"a {node.tag} value")


def _allowed(keys: frozenset[str]) -> str:
    return ", ".join(sorted(keys))


class _Reader:
    """Reads the composed documents of one file."""

    def __init__(self, name: str, error_source: str):
        self.name = name  # for Policy.source
        self.error_source = error_source  # for errors

    def error(self, message: str, node: yaml.Node | None = None) -> PolicyError:
        return PolicyError(message, self.error_source, None if node is None else _line(node))

    # ---------------------------------------------------------------- documents

    def documents(self, text: str) -> list[yaml.Node]:
        try:
            return [doc for doc in yaml.compose_all(text, Loader=yaml.SafeLoader) if doc]
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            context = exc.context
            if context and exc.context_mark is not None and exc.context_mark is not mark:
                context = f"{context} (line {int(exc.context_mark.line) + 1})"
            problem = ", ".join(p for p in (context, exc.problem) if p) or str(exc)
            line = None if mark is None else int(mark.line) + 1
            raise PolicyError(f"YAML syntax error: {problem}", self.error_source, line) from exc
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, max(exc.position, 0)) + 1
            raise PolicyError(f"YAML error: {exc.reason}", self.error_source, line) from exc
        except yaml.YAMLError as exc:
            raise PolicyError(f"YAML error: {exc}", self.error_source) from exc

    def policies(self, text: str) -> list[Policy]:
        found: list[Policy] = []
        for doc in self.documents(text):
            if doc.tag == _NULL and isinstance(doc, yaml.ScalarNode) and not doc.value:
                continue  # an empty document (e.g. a trailing ---)
            found.append(self.policy(doc))
        return found

    # ---------------------------------------------------------------- values

    def mapping(self, node: yaml.MappingNode, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        fields: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:
                raise self.error(f"{what} keys must be strings, got {_kind(key_node)}", key_node)
            key = key_node.value
            if key in fields:
                first = _line(fields[key][0])
                raise self.error(
                    f"duplicate key `{key}` in {what} (first on line {first})", key_node
                )
            fields[key] = (key_node, value_node)
        return fields

    def check_keys(
        self,
        fields: dict[str, tuple[yaml.Node, yaml.Node]],
        node: yaml.Node,
        what: str,
        spec: tuple[frozenset[str], frozenset[str]],
        unsupported: dict[str, str],
    ) -> None:
        required, optional = spec
        for key, (key_node, _) in fields.items():
            if key in unsupported:
                raise self.error(
                    f"`{key}` in {what} is not supported: {unsupported[key]}", key_node
                )
            if key not in required and key not in optional:
                raise self.error(
                    f"unknown key `{key}` in {what}; allowed keys: {_allowed(required | optional)}",
                    key_node,
                )
        missing = sorted(required - fields.keys())
        if missing:
            names = ", ".join(f"`{k}`" for k in missing)
            raise self.error(f"{what} is missing required key(s) {names}", node)

    def string(self, node: yaml.Node, key: str, optional: bool = False) -> str | None:
        if optional and isinstance(node, yaml.ScalarNode) and node.tag == _NULL:
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            hint = " (quote it)" if isinstance(node, yaml.ScalarNode) else ""
            raise self.error(f"`{key}` must be a string, got {_kind(node)}{hint}", node)
        if not node.value.strip():
            raise self.error(f"`{key}` must not be empty", node)
        return str(node.value)

    def required_string(self, node: yaml.Node, key: str) -> str:
        value = self.string(node, key)
        assert value is not None
        return value

    def string_list(self, node: yaml.Node, key: str, non_empty: bool) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(
                f"`{key}` must be a list of strings, got {_kind(node)}"
                + (
                    f" (write `{key}: [{node.value}]`)" if isinstance(node, yaml.ScalarNode) else ""
                ),
                node,
            )
        if non_empty and not node.value:
            raise self.error(f"`{key}` must not be an empty list", node)
        return tuple(self.required_string(item, f"{key} item") for item in node.value)

    # ---------------------------------------------------------------- policy

    def policy(self, node: yaml.Node) -> Policy:
        if node.tag != "!Policy":
            if node.tag == _MAP:
                raise self.error(
                    "document is not tagged !Policy (start it with `--- !Policy`)", node
                )
            raise self.error(
                f"expected a `--- !Policy` document, got {node.tag} {_kind(node)}", node
            )
        if not isinstance(node, yaml.MappingNode):
            raise self.error(f"!Policy must be a mapping, got {_kind(node)}", node)
        fields = self.mapping(node, "!Policy")
        self.check_keys(fields, node, "!Policy", POLICY_FIELDS, UNSUPPORTED_POLICY_KEYS)

        if "decision_context" in fields and "decision_contexts" in fields:
            second = max(fields["decision_context"][0], fields["decision_contexts"][0], key=_line)
            raise self.error(
                "give either `decision_context` (one) or `decision_contexts` (a list), not both",
                second,
            )
        if "decision_context" in fields:
            contexts: tuple[str, ...] = (
                self.required_string(fields["decision_context"][1], "decision_context"),
            )
        elif "decision_contexts" in fields:
            contexts = self.string_list(fields["decision_contexts"][1], "decision_contexts", True)
        else:
            raise self.error("!Policy needs `decision_context` or `decision_contexts`", node)

        rules_node = fields["rules"][1]
        if not isinstance(rules_node, yaml.SequenceNode):
            raise self.error(
                f"`rules` must be a list of rules, got {_kind(rules_node)}", rules_node
            )

        def opt_list(key: str) -> tuple[str, ...]:
            return self.string_list(fields[key][1], key, False) if key in fields else ()

        return Policy(
            id=self.required_string(fields["id"][1], "id"),
            product_versions=self.string_list(
                fields["product_versions"][1], "product_versions", True
            ),
            decision_contexts=contexts,
            subject_type=self.required_string(fields["subject_type"][1], "subject_type"),
            rules=tuple(self.rule(r) for r in rules_node.value),
            packages=opt_list("packages"),
            excluded_packages=opt_list("excluded_packages"),
            source=f"{self.name}:{_line(node)}",
        )

    def rule(self, node: yaml.Node) -> Rule:
        known = ", ".join(f"!{t}" for t in sorted(RULE_FIELDS))
        if not node.tag.startswith("!"):
            raise self.error(f"a rule needs a tag, one of {known}; got {_kind(node)}", node)
        tag = node.tag[1:]
        if tag in UNSUPPORTED_RULE_TAGS:
            raise self.error(f"!{tag} is not supported here: {UNSUPPORTED_RULE_TAGS[tag]}", node)
        if tag in OBSOLETE_RULE_TAGS:
            raise self.error(f"!{tag} is obsolete: {OBSOLETE_RULE_TAGS[tag]}", node)
        if tag == "RemoteRule":  # its keys are not strings: adapters/remote_rule_yaml.py
            return read_remote_rule_node(node, self.error)
        cls = rule_class(tag)
        if cls is None:
            raise self.error(f"unknown rule tag !{tag}; known rule tags: {known}", node)
        if not isinstance(node, yaml.MappingNode):
            raise self.error(f"!{tag} must be a mapping, e.g. !{tag} {{key: value}}", node)
        fields = self.mapping(node, f"!{tag}")
        required, _ = RULE_FIELDS[tag]
        self.check_keys(
            fields, node, f"!{tag}", RULE_FIELDS[tag], UNSUPPORTED_RULE_KEYS.get(tag, {})
        )
        values = {
            key: self.string(value, key, optional=key not in required)
            for key, (_, value) in fields.items()
        }
        rule: Rule = cls(**values)
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


def load_policy_text(text: str, source: str = "<string>") -> tuple[Policy, ...]:
    """The policies of one YAML text; ``source`` names it in errors and ``Policy.source``."""
    reader = _Reader(source, source)
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
