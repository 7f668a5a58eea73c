"""JSON Schemas of the API's bodies, for the OpenAPI document (the decision route reads
its raw body, so FastAPI cannot derive them)."""

from __future__ import annotations

from typing import Any

from relengotron.projections.folds.requirement_states import STATES

ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}},
}

_STRINGS = {"type": "array", "items": {"type": "string"}}
_IDS = {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}

DECISION_REQUEST: dict[str, Any] = {
    "type": "object",
    "description": "Greenwave's decision request. Give decision_context or rules, and the "
    "subject as subject_type + subject_identifier or as a `subject` list.",
    "required": ["product_version"],
    "properties": {
        "product_version": {"type": "string", "example": "fedora-40"},
        "decision_context": {
            "anyOf": [{"type": "string"}, _STRINGS],
            "example": ["bodhi_update_push_stable_critpath", "bodhi_update_push_stable"],
        },
        "subject_type": {"type": "string", "example": "koji_build"},
        "subject_identifier": {"type": "string", "example": "bodhi-5.1.1-1.fc32"},
        "subject": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"type": {"type": "string"}, "item": {"type": "string"}},
            },
        },
        "verbose": {"type": "boolean"},
        "when": {"type": "string", "example": "2024-03-01T10:00:00.000000"},
        "ignore_result": _IDS,
        "ignore_waiver": _IDS,
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "test_case_name"],
                "properties": {
                    "type": {"type": "string", "enum": ["PassingTestCaseRule"]},
                    "test_case_name": {"type": "string"},
                    "scenario": {"type": ["string", "null"]},
                },
            },
        },
        "packages": _STRINGS,
        "excluded_packages": _STRINGS,
    },
}

REQUIREMENT: dict[str, Any] = {
    "type": "object",
    "required": ["type", "subject_identifier", "state"],
    "properties": {
        "type": {"type": "string", "example": "test-result-passed"},
        "state": {"type": "string", "enum": list(STATES)},
        "testcase": {"type": ["string", "null"]},
        "subject_type": {"type": "string"},
        "subject_identifier": {"type": "string"},
        "scenario": {"type": ["string", "null"]},
        "system_architecture": {"type": ["string", "null"]},
        "system_variant": {"type": ["string", "null"]},
        "source": {"type": ["string", "null"]},
        "item": {"type": "object"},
        "error_reason": {"type": ["string", "null"]},
        "result_id": {"type": ["integer", "string", "null"]},  # strings: recorded before
        "waiver_id": {"type": ["integer", "string", "null"]},
        "policy_id": {"type": "string"},
        "event": {"type": "string"},
        "detail": {"type": "string"},
        # Ours: only invalid CI messages, no valid result (state "invalid")
        "invalid": {"type": "boolean"},
    },
}

DECISION_RESPONSE: dict[str, Any] = {
    "type": "object",
    "required": [
        "policies_satisfied",
        "summary",
        "satisfied_requirements",
        "unsatisfied_requirements",
    ],
    "properties": {
        "policies_satisfied": {"type": "boolean"},
        "summary": {"type": "string"},
        "satisfied_requirements": {"type": "array", "items": REQUIREMENT},
        "unsatisfied_requirements": {"type": "array", "items": REQUIREMENT},
        "applicable_policies": _STRINGS,
        "results": {"type": "array", "items": {"type": "object"}},
        "waivers": {"type": "array", "items": {"type": "object"}},
    },
}

POLICIES: dict[str, Any] = {
    "type": "object",
    "required": ["policies"],
    "properties": {
        "policies": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "product_versions", "decision_contexts", "subject_type"],
                "properties": {
                    "id": {"type": "string"},
                    "product_versions": _STRINGS,
                    "decision_context": {"type": ["string", "null"]},
                    "decision_contexts": _STRINGS,
                    "subject_type": {"type": "string"},
                    "subject_types": _STRINGS,
                    "rules": {"type": "array", "items": {"type": "object"}},
                    "packages": _STRINGS,
                    "excluded_packages": _STRINGS,
                },
            },
        }
    },
}

ABOUT: dict[str, Any] = {
    "type": "object",
    "required": ["version", "policy_set_hash"],
    "properties": {
        "version": {"type": "string"},
        "policy_set_hash": {"type": "string"},
        "position": {"type": ["integer", "null"]},
    },
}


def listing(key: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [key],
        "properties": {key: {"type": "array", "items": {"type": "object"}}},
    }


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "Invalid request", 401: "Missing or wrong bearer token",
            403: "Writes are disabled", 404: "Not found", 413: "Request body too large",
            415: "Not JSON",
            503: "The store cannot be read, or the read models did not catch up in time "
                 "(Retry-After says when to ask again)"}  # fmt: skip
    return {c: {"description": text[c], **json_content(ERROR)} for c in codes}
