"""The policy model: Greenwave's ``!Policy`` documents as frozen values.

Reading YAML is the loader's job (``adapters/rules/policy_loader.py``); this module only says
what a policy is, which keys each YAML tag takes (``RULE_FIELDS``, ``POLICY_FIELDS``),
which Greenwave keys and tags are deliberately not supported, and how a policy set is
hashed. Pure: standard library only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

__all__ = [
    "GREENWAVE_RULE_TAGS",
    "OBSOLETE_RULE_TAGS",
    "POLICY_FIELDS",
    "RULE_DATETIME_FIELDS",
    "RULE_FIELDS",
    "UNSUPPORTED_POLICY_KEYS",
    "UNSUPPORTED_RULE_KEYS",
    "UNSUPPORTED_RULE_TAGS",
    "BatchIntegrityRule",
    "PassingPipelineStageRule",
    "PassingTestCaseRule",
    "Policy",
    "PolicyError",
    "PolicySet",
    "RemoteRule",
    "Rule",
    "SignedRule",
    "policy_set_from_canonical",
]


@dataclass(frozen=True)
class PassingTestCaseRule:
    """Greenwave's rule: the latest result of ``test_case_name`` (per scenario) passed,
    or its failure/absence is waived. YAML: ``!PassingTestCaseRule {test_case_name: X}``."""

    test_case_name: str
    scenario: str | None = None
    # Greenwave's dated rules: the rule counts only for subjects created at or after
    # ``valid_since`` and before ``valid_until`` (ISO 8601, UTC; the creation time comes
    # in with the snapshot, never from a clock).
    valid_since: str | None = None
    valid_until: str | None = None


@dataclass(frozen=True)
class PassingPipelineStageRule:
    """Ours: like :class:`PassingTestCaseRule`, but results are chosen by the legacy CI
    pipeline ``stage`` (and ``pipeline`` when given) instead of by test case name.
    YAML: ``!PassingPipelineStageRule {stage: package.test.functional, pipeline: X}``."""

    stage: str  # matches ResultView.stage
    pipeline: str | None = None  # matches ResultView.pipeline when given
    scenario: str | None = None


@dataclass(frozen=True)
class BatchIntegrityRule:
    """Ours: the build is not to blame for a failing koji-build-group integrity check.
    YAML: ``!BatchIntegrityRule {test_case_name: X}``. With ``recheck: after-quarantine``,
    the builds a bisection cleared pass only when the rest of the batch, checked again
    after the suspects left the pending tag, passes (a repeat failure bisects again)."""

    test_case_name: str  # matches BatchView.testcase
    recheck: str | None = None  # RECHECK_AFTER_QUARANTINE, or None (cleared by a half)


@dataclass(frozen=True)
class RemoteRule:
    """Greenwave's rule: the package's own ``gating.yaml`` (its ``!Policy`` documents)
    adds requirements. ``sources``: URL templates tried in order (Greenwave's
    placeholders ``{pkg_namespace}``, ``{pkg_name}``, ``{rev}``, ``{subject_id}``);
    None = the configured ones. ``required``: no file is a ``missing-gating-yaml``
    requirement. YAML: ``!RemoteRule {}``. Evaluated by ``policies/remote.py``."""

    sources: tuple[str, ...] | None = None
    required: bool = False


@dataclass(frozen=True)
class SignedRule:
    """Ours: every rpm of the build is signed with the release's key before it may be
    promoted; until then the requirement is pending (``unsigned``) and a signing request
    goes out. ``sigkey``: koji's sigkey, the key id in lower case hex (e.g. ``a15b79cc``).
    YAML: ``!SignedRule {sigkey: a15b79cc}``. Evaluated by ``policies/signing.py``."""

    sigkey: str


Rule = PassingTestCaseRule | PassingPipelineStageRule | BatchIntegrityRule | RemoteRule | SignedRule

_RULE_CLASSES: dict[str, type[Any]] = {
    "PassingTestCaseRule": PassingTestCaseRule,
    "PassingPipelineStageRule": PassingPipelineStageRule,
    "BatchIntegrityRule": BatchIntegrityRule,
    "RemoteRule": RemoteRule,
    "SignedRule": SignedRule,
}

#: YAML tag name (without ``!``) -> (required keys, optional keys). All values are strings.
RULE_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "PassingTestCaseRule": (
        frozenset({"test_case_name"}),
        frozenset({"scenario", "valid_since", "valid_until"}),
    ),
    "PassingPipelineStageRule": (frozenset({"stage"}), frozenset({"pipeline", "scenario"})),
    "BatchIntegrityRule": (frozenset({"test_case_name"}), frozenset({"recheck"})),
    "SignedRule": (frozenset({"sigkey"}), frozenset()),
    # Not strings: a list of strings and a boolean (read by adapters/rules/remote_rule_yaml.py).
    "RemoteRule": (frozenset(), frozenset({"sources", "required"})),
}

#: ``!BatchIntegrityRule`` ``recheck``: its one value.
RECHECK_AFTER_QUARANTINE = "after-quarantine"

#: The rule tags that are Greenwave's (the others are ours).
GREENWAVE_RULE_TAGS: frozenset[str] = frozenset({"PassingTestCaseRule", "RemoteRule"})

#: Rule keys whose value is a date/time (Greenwave's ``SafeYAMLDateTime``), per rule tag.
RULE_DATETIME_FIELDS: frozenset[str] = frozenset({"valid_since", "valid_until"})
#: Optional rule keys left out of a rule's JSON when not given (older sets keep their hash).
_OMITTED_WHEN_NONE = RULE_DATETIME_FIELDS | {"recheck"}

#: ``!Policy`` keys (Greenwave's ``Policy.safe_yaml_attributes``): (required, optional).
#: Exactly one of ``decision_context`` (a string) and ``decision_contexts`` (a list), and
#: one of ``subject_type`` and ``subject_types``, must be given; the loader checks that.
#: ``relevance_key``/``relevance_value`` are read and have no effect, as in Greenwave
#: (unused since Greenwave 0.8).
POLICY_FIELDS: tuple[frozenset[str], frozenset[str]] = (
    frozenset({"id", "product_versions", "rules"}),
    frozenset(
        {
            "decision_context",
            "decision_contexts",
            "subject_type",
            "subject_types",
            "packages",
            "excluded_packages",
            "relevance_key",
            "relevance_value",
        }
    ),
)

#: Keys Greenwave no longer reads (it ignores them, so a policy using them gates more than
#: its author meant): an error here, with the reason.
UNSUPPORTED_POLICY_KEYS: dict[str, str] = {
    "blacklist": (
        "dropped in Greenwave 2.2.0, which ignores it (nothing is excluded); use excluded_packages"
    ),
    "whitelist": "not a Greenwave key (Greenwave ignores it); use packages",
}

#: Greenwave rule keys we do not implement, per rule tag.
UNSUPPORTED_RULE_KEYS: dict[str, dict[str, str]] = {}

#: Greenwave rule tags we do not implement.
UNSUPPORTED_RULE_TAGS: dict[str, str] = {}

#: Rule tags Greenwave itself rejects as obsolete, with its advice (``ObsoleteRule``).
OBSOLETE_RULE_TAGS: dict[str, str] = {
    "PackageSpecificBuild": 'Please use the "packages" allowlist instead.',
    "FedoraAtomicCi": 'Please use the "packages" allowlist instead.',
}


def rule_class(tag: str) -> type[Any] | None:
    """The rule class for a YAML tag name (without ``!``), or None."""
    return _RULE_CLASSES.get(tag)


def rule_tag(rule: Rule) -> str:
    """The YAML tag name (without ``!``) of a rule."""
    return type(rule).__name__


def rule_as_dict(rule: Rule) -> dict[str, Any]:
    """Greenwave's rule JSON shape: ``{"rule": <tag>, <field>: <value>, ...}``."""
    data: dict[str, Any] = {"rule": rule_tag(rule)}
    data.update(vars(rule))
    if isinstance(rule, RemoteRule) and rule.sources is not None:
        data["sources"] = list(rule.sources)
    for key in _OMITTED_WHEN_NONE:  # only when given: older policy sets keep their hash
        if data.get(key, "") is None:
            del data[key]
    return data


@dataclass(frozen=True)
class Policy:
    id: str
    product_versions: tuple[str, ...]  # fnmatch wildcards, e.g. "fedora-*"
    decision_contexts: tuple[str, ...]  # YAML: decision_context (one) or decision_contexts
    subject_type: str  # YAML subject_type, or the first of subject_types
    rules: tuple[Rule, ...]
    packages: tuple[str, ...] = ()  # fnmatch on Snapshot.package; empty = all
    excluded_packages: tuple[str, ...] = ()
    source: str = ""  # "file.yaml:LINE", for messages only (not part of the hash)
    # YAML subject_types (Greenwave: a policy for several subject types); empty when the
    # policy gave one subject_type.
    subject_types: tuple[str, ...] = ()

    @property
    def all_subject_types(self) -> tuple[str, ...]:
        """Every subject type the policy names (Greenwave's ``all_subject_types``)."""
        return self.subject_types or (self.subject_type,)

    def canonical(self) -> dict[str, Any]:
        """Everything that decides what the policy does, as JSON-able data (no source)."""
        return {
            "id": self.id,
            "product_versions": list(self.product_versions),
            "decision_contexts": list(self.decision_contexts),
            "subject_type": self.subject_type,
            "rules": [rule_as_dict(rule) for rule in self.rules],
            "packages": list(self.packages),
            "excluded_packages": list(self.excluded_packages),
        } | ({"subject_types": list(self.subject_types)} if self.subject_types else {})


@dataclass(frozen=True)
class PolicySet:
    policies: tuple[Policy, ...]

    @cached_property  # the set is frozen: hashed once (it was once per decision)
    def content_hash(self) -> str:
        """``sha256:<hex>`` of the canonical JSON of the policies, in order, without their
        sources: the same policies give the same hash, any change in meaning another."""
        doc = {"format": 1, "policies": [policy.canonical() for policy in self.policies]}
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()

    def by_id(self, policy_id: str) -> Policy | None:
        for policy in self.policies:
            if policy.id == policy_id:
                return policy
        return None


class PolicyError(ValueError):
    """A policy file that cannot be used. ``str()`` is ``FILE:LINE: message``."""

    def __init__(self, message: str, source: str | None = None, line: int | None = None):
        self.message = message
        self.source = source
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.source is None:
            return self.message
        if self.line is None:
            return f"{self.source}: {self.message}"
        return f"{self.source}:{self.line}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.source, self.line))


def policy_set_from_canonical(policies: Any) -> PolicySet:
    """The inverse of ``[p.canonical() for p in policy_set.policies]``: the same content
    hash. Raises :class:`PolicyError` naming what is wrong with malformed data."""
    if not isinstance(policies, list | tuple):
        raise PolicyError(f"policies must be a list, not {type(policies).__name__}")
    return PolicySet(tuple(_policy_from_canonical(i, p) for i, p in enumerate(policies)))


def _strings(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where} must be a list of strings")
    return tuple(value)


def _policy_from_canonical(index: int, data: Any) -> Policy:
    where = f"policies[{index}]"
    if not isinstance(data, dict):
        raise PolicyError(f"{where} must be an object")
    required = {"id", "product_versions", "decision_contexts", "subject_type", "rules"}
    missing = sorted(required - data.keys())
    if missing:
        raise PolicyError(f"{where} lacks {', '.join(missing)}")
    unknown = sorted(data.keys() - required - {"packages", "excluded_packages", "subject_types"})
    if unknown:
        raise PolicyError(f"{where} has unknown keys {', '.join(unknown)}")
    if not isinstance(data["id"], str) or not isinstance(data["subject_type"], str):
        raise PolicyError(f"{where}: id and subject_type must be strings")
    if not isinstance(data["rules"], list | tuple):
        raise PolicyError(f"{where}.rules must be a list")
    rules = tuple(
        _rule_from_canonical(f"{where}.rules[{n}]", r) for n, r in enumerate(data["rules"])
    )
    return Policy(
        id=data["id"],
        product_versions=_strings(f"{where}.product_versions", data["product_versions"]),
        decision_contexts=_strings(f"{where}.decision_contexts", data["decision_contexts"]),
        subject_type=data["subject_type"],
        rules=rules,
        packages=_strings(f"{where}.packages", data.get("packages", [])),
        excluded_packages=_strings(f"{where}.excluded_packages", data.get("excluded_packages", [])),
        subject_types=_strings(f"{where}.subject_types", data.get("subject_types", [])),
    )


def _rule_from_canonical(where: str, data: Any) -> Rule:
    if not isinstance(data, dict) or not isinstance(data.get("rule"), str):
        raise PolicyError(f"{where} must be an object with a 'rule' tag")
    tag = data["rule"]
    if tag == "RemoteRule":
        return _remote_rule_from_canonical(where, data)
    cls = rule_class(tag)
    if cls is None:
        raise PolicyError(f"{where}: unknown rule {tag!r}")
    required, optional = RULE_FIELDS[tag]
    fields = {k: v for k, v in data.items() if k != "rule"}
    if not required <= fields.keys() or not fields.keys() <= required | optional:
        raise PolicyError(
            f"{where}: {tag} takes {sorted(required)} and optionally {sorted(optional)}"
        )
    if not all(v is None or isinstance(v, str) for v in fields.values()):
        raise PolicyError(f"{where}: {tag} fields must be strings")
    rule = cast(Rule, cls(**fields))
    problem = rule_problem(rule)
    if problem:
        raise PolicyError(f"{where}: {problem}")
    return rule


def rule_problem(rule: Rule) -> str | None:
    """What is wrong with a rule's values (their types are checked by the readers)."""
    if isinstance(rule, BatchIntegrityRule) and rule.recheck not in (
        None,
        RECHECK_AFTER_QUARANTINE,
    ):
        return (
            f"BatchIntegrityRule recheck must be {RECHECK_AFTER_QUARANTINE!r}, not {rule.recheck!r}"
        )
    return None


def _remote_rule_from_canonical(where: str, data: dict[str, Any]) -> RemoteRule:
    unknown = sorted(data.keys() - {"rule", "sources", "required"})
    sources = data.get("sources")
    if unknown or not isinstance(data.get("required", False), bool):
        raise PolicyError(f"{where}: RemoteRule takes sources (a list) and required (a boolean)")
    return RemoteRule(
        sources=None if sources is None else _strings(f"{where}.sources", sources),
        required=data.get("required", False),
    )
