"""Reading composed YAML nodes with errors that name their file and line: the scalar,
list, date and mapping readers of the policy loader (``adapters.rules.policy_loader``),
with Greenwave's own reason appended where it refuses the same file."""

from __future__ import annotations

from datetime import UTC

import dateutil.parser
import yaml

from relengotron.policies.spec import PolicyError

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


def _gw(reason: str) -> str:
    """Greenwave's own words for a file it refuses too (greenwave/safe_yaml.py,
    greenwave/policies.py), appended to ours. Within our own rule tags (which Greenwave
    does not know) the label is empty and nothing is appended."""
    return "" if reason.startswith(_OURS) else f" [Greenwave: {reason}]"


_OURS = "\0ours"  # the label of our own rule tags: no Greenwave reason


class NodeReader:
    """Reads the composed documents of one file: YAML, then typed values of its nodes."""

    def __init__(self, name: str, error_source: str, ignore_unknown: bool = False):
        self.name = name  # for Policy.source
        self.error_source = error_source  # for errors
        # Greenwave ignores keys it does not know; we refuse them in our own policy files
        # (a typo must not pass unnoticed) unless asked to read as Greenwave does.
        self.ignore_unknown = ignore_unknown

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
        label: str,
        order: tuple[str, ...] = (),
    ) -> None:
        required, optional = spec
        for key, (key_node, _) in fields.items():
            if key in unsupported:
                raise self.error(
                    f"`{key}` in {what} is not supported: {unsupported[key]}", key_node
                )
            if key not in required and key not in optional and not self.ignore_unknown:
                raise self.error(
                    f"unknown key `{key}` in {what}; allowed keys: {_allowed(required | optional)}"
                    " (Greenwave would ignore it)",
                    key_node,
                )
        missing = sorted(required - fields.keys())
        if missing:
            names = ", ".join(f"`{k}`" for k in missing)
            first = next((k for k in order if k in missing), missing[0])
            raise self.error(
                f"{what} is missing required key(s) {names}"
                + _gw(f"{label}: Attribute {first!r} is required"),
                node,
            )

    def string(self, node: yaml.Node, key: str, label: str, optional: bool = False) -> str | None:
        """A string value. As Greenwave (``SafeYAMLString``), any scalar is read as its
        text (``id: 42`` is "42"); null or empty is absent when optional, else an error."""
        if not isinstance(node, yaml.ScalarNode):
            found = "mapping" if isinstance(node, yaml.MappingNode) else "sequence"
            raise self.error(
                f"`{key}` must be a string, got {_kind(node)}"
                + _gw(f"{label}: Attribute {key!r}: expected a scalar node, but found {found}"),
                node,
            )
        if optional and node.tag == _NULL:
            return None
        if not node.value.strip():
            raise self.error(f"`{key}` must not be empty", node)
        return str(node.value)

    def required_string(self, node: yaml.Node, key: str, label: str) -> str:
        value = self.string(node, key, label)
        assert value is not None
        return value

    def string_list(self, node: yaml.Node, key: str, label: str) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode):
            found = "mapping" if isinstance(node, yaml.MappingNode) else "scalar"
            raise self.error(
                f"`{key}` must be a list of strings, got {_kind(node)}"
                + (f" (write `{key}: [{node.value}]`)" if isinstance(node, yaml.ScalarNode) else "")
                + _gw(f"{label}: Attribute {key!r}: expected a sequence node, but found {found}"),
                node,
            )
        for item in node.value:
            if not isinstance(item, yaml.ScalarNode) or item.tag != _STR:
                raise self.error(
                    f"`{key}` items must be strings, got {_kind(item)}"
                    + (" (quote it)" if isinstance(item, yaml.ScalarNode) else "")
                    + _gw(f"{label}: Attribute {key!r}: Expected list of str objects"),
                    item,
                )
            if not item.value.strip():
                raise self.error(f"`{key}` items must not be empty", item)
        return tuple(str(item.value) for item in node.value)

    def datetime(self, node: yaml.Node, key: str, label: str) -> str:
        """Greenwave's ``SafeYAMLDateTime``: dateutil reads the scalar's text (``False``,
        ``~`` or nothing is no date); no zone means UTC. Kept as ISO 8601 in UTC."""
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(f"`{key}` must be a date/time, got {_kind(node)}", node)
        text = str(node.value)
        try:
            when = dateutil.parser.parse(text)
        except (ValueError, OverflowError) as exc:
            raise self.error(
                f"`{key}` is not a date/time: {text!r}"
                + _gw(
                    f"{label}: Attribute {key!r}: Could not parse string as date/time, got: {text}"
                ),
                node,
            ) from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.astimezone(UTC).isoformat()
