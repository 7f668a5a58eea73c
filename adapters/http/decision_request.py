"""Greenwave's decision request body: validation and parsing (``greenwave/decision.py``).

``parse_request(data) -> DecisionRequest`` checks what Greenwave checks, in its order and
with its messages, raising :class:`DecisionRequestError` (status 400 or 415); ``decide``
answers a request body with a :class:`~projections.decision_api.DecisionService`. Used
by ``POST /api/v1.0/decision`` and the ``decision`` command. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from relengotron.domain.facts import SUBJECT_TYPE_ALIASES
from relengotron.policies.spec import PassingTestCaseRule, Policy, PolicySet, RemoteRule
from relengotron.projections.decision_api import DecisionService
from relengotron.projections.decision_request import (
    ON_DEMAND_CONTEXT,
    DecisionRequest,
    DecisionRequestError,
)

__all__ = [
    "ITEM_KEYS",
    "ON_DEMAND_ID",
    "SUBJECT_ALIASES",
    "decide",
    "parse_request",
    "parse_when",
]

#: Greenwave's subject type aliases (one table: ``domain.facts``).
SUBJECT_ALIASES = SUBJECT_TYPE_ALIASES
#: Greenwave's ``item_key`` of subject types: the key that names the subject on its own.
ITEM_KEYS = (("koji_build", "original_spec_nvr"), ("compose", "productmd.compose.id"))
ON_DEMAND_ID = ON_DEMAND_CONTEXT
_WHEN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})?$")


def decide(service: DecisionService, data: Any, now: datetime | None = None) -> dict[str, Any]:
    """Greenwave's response to a request body; raises :class:`DecisionRequestError`."""
    return service.decide(parse_request(data), now)


def _bad(message: str) -> DecisionRequestError:
    return DecisionRequestError(400, message)


def parse_when(text: str) -> datetime:
    """Greenwave's ``%Y-%m-%dT%H:%M:%S.%f``, also without the fraction and with a time zone
    (``Z`` or ``+HH:MM``). Naive times are UTC. Raises ValueError."""
    if not _WHEN.match(text):
        raise ValueError(text)
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# ------------------------------------------------------------------ requests


def _subject(type_: str, item: str) -> tuple[str, str]:
    return SUBJECT_ALIASES.get(type_, type_), item


def _subject_from_data(data: Mapping[str, Any]) -> tuple[str, str]:
    """Greenwave's ``create_subject_from_data``."""
    type_id = data.get("type")
    if type_id is not None and not isinstance(type_id, str):
        raise _bad("Could not detect subject_identifier.")
    wanted = SUBJECT_ALIASES.get(type_id, type_id) if type_id else None
    for subject_type, key in ITEM_KEYS:
        if wanted and wanted != subject_type:
            continue
        item = data.get(key)
        if item and isinstance(item, str):
            return subject_type, item
    item = data.get("item")
    if type_id and item and isinstance(item, str):
        return _subject(type_id, item)
    raise _bad("Could not detect subject_identifier.")


def _subjects(data: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    if "subject" in data:
        subjects = data["subject"]
        if (
            not isinstance(subjects, list)
            or not subjects
            or not all(isinstance(entry, dict) for entry in subjects)
        ):
            raise _bad("Invalid subject, must be a list of dicts")
        return tuple(_subject_from_data(entry) for entry in subjects)
    if "subject_type" not in data:
        raise _bad('Missing required "subject_type" parameter')
    if "subject_identifier" not in data:
        raise _bad('Missing required "subject_identifier" parameter')
    type_, ident = data["subject_type"], data["subject_identifier"]
    if not isinstance(type_, str) or not type_:
        raise _bad('Invalid "subject_type" parameter, must be a non-empty string')
    if not isinstance(ident, str) or not ident:
        raise _bad('Invalid "subject_identifier" parameter, must be a non-empty string')
    return (_subject(type_, ident),)


def _glob_literal(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _string_list(data: Mapping[str, Any], key: str, what: str) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(f"Failed to parse on demand policy: {what} must be a list of strings")
    return tuple(value)


def _on_demand(
    data: Mapping[str, Any], product_version: str, subjects: Sequence[tuple[str, str]]
) -> PolicySet:
    """Greenwave's ``OnDemandPolicy``: the request's rules as one policy per subject type."""
    rules_data = data["rules"]
    if not isinstance(rules_data, list):
        raise _bad("Failed to parse on demand policy: rules must be a list")
    rules: list[PassingTestCaseRule | RemoteRule] = []
    for i, rule in enumerate(rules_data):
        where = f"Failed to parse on demand policy: rule {i + 1}"
        if not isinstance(rule, dict):
            raise _bad(f"{where} must be an object")
        tag = rule.get("type", rule.get("rule"))
        if tag == "RemoteRule":
            rules.append(_remote_rule(where, rule))
            continue
        if tag != "PassingTestCaseRule":
            raise _bad(
                f"{where}: rule type {tag!r} is not supported here"
                " (supported: PassingTestCaseRule, RemoteRule)"
            )
        unknown = sorted(set(rule) - {"type", "rule", "test_case_name", "scenario"})
        if unknown:
            raise _bad(f"{where}: unknown key(s) {', '.join(unknown)}")
        name, scenario = rule.get("test_case_name"), rule.get("scenario")
        if not isinstance(name, str) or not name:
            raise _bad(f"{where}: test_case_name must be a non-empty string")
        if scenario is not None and not isinstance(scenario, str):
            raise _bad(f"{where}: scenario must be a string")
        rules.append(PassingTestCaseRule(name, scenario))
    packages = _string_list(data, "packages", "packages")
    excluded = _string_list(data, "excluded_packages", "excluded_packages")
    types = dict.fromkeys(t for t, _ in subjects)
    return PolicySet(
        tuple(
            Policy(
                id=ON_DEMAND_ID,
                product_versions=(_glob_literal(product_version),),
                decision_contexts=(ON_DEMAND_CONTEXT,),
                subject_type=t,
                rules=tuple(rules),
                packages=packages,
                excluded_packages=excluded,
            )
            for t in types
        )
    )


def _remote_rule(where: str, rule: Mapping[str, Any]) -> RemoteRule:
    """Greenwave's ``RemoteRule`` in an on-demand policy: ``sources``, ``required``."""
    unknown = sorted(set(rule) - {"type", "rule", "sources", "required"})
    if unknown:
        raise _bad(f"{where}: unknown key(s) {', '.join(unknown)}")
    sources, required = rule.get("sources"), rule.get("required", False)
    if sources is not None and (
        not isinstance(sources, list) or not all(isinstance(v, str) for v in sources)
    ):
        raise _bad(f"{where}: sources must be a list of strings")
    if not isinstance(required, bool):
        raise _bad(f"{where}: required must be a boolean")
    return RemoteRule(sources=None if sources is None else tuple(sources), required=required)


def _ids(data: Mapping[str, Any], key: str) -> frozenset[str]:
    value = data.get(key)
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in value
    ):
        raise _bad(f"Invalid {key}, must be a list of ids")
    return frozenset(str(v) for v in value)


def parse_request(data: Any) -> DecisionRequest:
    """Validate a decision request as Greenwave does (same order, same messages)."""
    if not data or not isinstance(data, dict):
        raise DecisionRequestError(415, "No JSON payload in request")
    product_version = data.get("product_version")
    if not product_version:
        raise _bad("Missing required product version")
    if not isinstance(product_version, str):
        raise _bad("Invalid product version, must be a string")
    context, rules = data.get("decision_context"), data.get("rules")
    if not context and not rules:
        raise _bad("Either decision_context or rules is required.")
    if context and rules:
        raise _bad("Cannot have both decision_context and rules")

    on_demand = None
    if rules:
        subjects = _subjects(data)
        on_demand = _on_demand(data, product_version, subjects)
        contexts: tuple[str, ...] = (ON_DEMAND_CONTEXT,)
        label = ON_DEMAND_CONTEXT
    elif isinstance(context, str):
        contexts, label = (context,), context
    elif isinstance(context, list) and all(isinstance(c, str) and c for c in context):
        contexts = tuple(dict.fromkeys(context))
        label = " ".join(context)  # as Greenwave names them in its 404
    else:
        raise _bad("Invalid decision_context, must be a string or a list of strings")

    verbose = data.get("verbose", False)
    if not isinstance(verbose, bool):
        raise _bad("Invalid verbose flag, must be a bool")
    ignore_results, ignore_waivers = _ids(data, "ignore_result"), _ids(data, "ignore_waiver")
    when = data.get("when")
    when_dt = None
    if when:
        try:
            when_dt = parse_when(when) if isinstance(when, str) else None
        except ValueError:
            when_dt = None
        if when_dt is None:
            raise _bad('Invalid "when" parameter, must be in ISO8601 format')
    if not rules:
        subjects = _subjects(data)
    return DecisionRequest(
        product_version=product_version,
        contexts=contexts,
        context_label=label,
        subjects=subjects,
        verbose=verbose,
        ignore_results=ignore_results,
        ignore_waivers=ignore_waivers,
        when=when_dt,
        on_demand=on_demand,
    )
