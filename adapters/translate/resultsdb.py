"""ResultsDB results -> :class:`TestResultReported` (origin ``resultsdb``).

Topics read (bus prefix stripped):

- ``resultsdb.result.new``: the ResultsDB API v2 result object ``{id,
  testcase{name}, outcome, note, ref_url, groups, submit_time, data{key:
  [values]}}`` (data values are lists; the first value is used). The object is kept
  whole as the fact's ``record``: Greenwave's verbose answers give it as ResultsDB does.
- ``taskotron.result.new``: the Taskotron-compatible body ``{"task": {item,
  type, name}, "result": {id, outcome, submit_time, log_url, ...}}``, still
  published by ResultsDB.

The subject follows Greenwave's conventions: ``type`` + ``item`` from the
data, else ``original_spec_nvr`` (a koji build) or ``productmd.compose.id``
(a compose). ``nvr`` is set for koji builds (and from ``nvr`` /
``original_spec_nvr`` in the data). An outcome outside ``domain.facts.OUTCOMES``
is kept as ``NEEDS_INSPECTION`` with a problem noted.

:func:`subject_from_item` is shared with the WaiverDB and Greenwave translators.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relengotron.adapters.translate.base import Envelope, Translation, as_str
from relengotron.domain.facts import (
    COMPOSE,
    KOJI_BUILD,
    NEEDS_INSPECTION,
    OUTCOMES,
    TestResultReported,
)

FAMILY = "resultsdb"
TOPICS = ("resultsdb.result.new", "taskotron.result.new")

# Legacy subject type spellings -> Greenwave's.
_TYPE_ALIASES = {"brew-build": KOJI_BUILD, "koji-build": KOJI_BUILD}


def first(value: Any) -> Any:
    """ResultsDB data values are lists; the first element, or the value itself."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def subject_from_item(item: Any) -> tuple[str, str] | None:
    """``{"type", "item"}`` / ``{"original_spec_nvr"}`` / ``{"productmd.compose.id"}``
    (values may be lists) -> ``(subject_type, subject_identifier)``."""
    if not isinstance(item, Mapping):
        return None
    subject_type = as_str(first(item.get("type")))
    identifier = as_str(first(item.get("item")))
    if subject_type and identifier:
        return _TYPE_ALIASES.get(subject_type, subject_type), identifier
    nvr = as_str(first(item.get("original_spec_nvr")))
    if nvr:
        return KOJI_BUILD, nvr
    compose = as_str(first(item.get("productmd.compose.id")))
    if compose:
        return COMPOSE, compose
    return None


def outcome_of(value: Any, problems: list[str]) -> str:
    outcome = (as_str(value) or "").upper()
    if outcome in OUTCOMES:
        return outcome
    problems.append(f"unknown outcome {value!r}; kept as {NEEDS_INSPECTION}")
    return NEEDS_INSPECTION


def _not_object(body: Any) -> Translation:
    return Translation(family=FAMILY, problems=(f"body is {type(body).__name__}, not an object",))


def _v2(body: Mapping[str, Any]) -> Translation:
    problems: list[str] = []
    raw = body.get("data")
    data: dict[str, Any] = dict(raw) if isinstance(raw, Mapping) else {}
    testcase_obj = body.get("testcase")
    testcase = (
        as_str(testcase_obj.get("name"))
        if isinstance(testcase_obj, Mapping)
        else as_str(testcase_obj)
    )
    subject = subject_from_item(data)
    if testcase is None or subject is None:
        what = "testcase" if testcase is None else "subject (data item/type)"
        return Translation(family=FAMILY, problems=(f"result has no {what}",))
    nvr = as_str(first(data.get("nvr"))) or as_str(first(data.get("original_spec_nvr")))
    if nvr is None and subject[0] == KOJI_BUILD:
        nvr = subject[1]
    result_id = body.get("id")
    fact = TestResultReported(
        subject_type=subject[0],
        subject_identifier=subject[1],
        testcase=testcase,
        outcome=outcome_of(body.get("outcome"), problems),
        origin="resultsdb",
        scenario=as_str(first(data.get("scenario"))),
        result_id=str(result_id) if result_id is not None else None,
        ref_url=as_str(body.get("ref_url")),
        note=as_str(body.get("note")),
        nvr=nvr,
        data={k: first(v) for k, v in data.items()},
        record=dict(body),
    )
    return Translation(family=FAMILY, facts=(fact,), problems=tuple(problems))


def _taskotron(body: Mapping[str, Any]) -> Translation:
    task = body.get("task")
    result = body.get("result")
    if not isinstance(task, Mapping) or not isinstance(result, Mapping):
        return Translation(family=FAMILY, problems=("taskotron body has no task/result objects",))
    problems: list[str] = []
    testcase = as_str(task.get("name"))
    subject = subject_from_item(task)
    if testcase is None or subject is None:
        return Translation(family=FAMILY, problems=("taskotron task has no name or item/type",))
    result_id = result.get("id")
    fact = TestResultReported(
        subject_type=subject[0],
        subject_identifier=subject[1],
        testcase=testcase,
        outcome=outcome_of(result.get("outcome"), problems),
        origin="resultsdb",
        result_id=str(result_id) if result_id is not None else None,
        ref_url=as_str(result.get("log_url")) or as_str(result.get("ref_url")),
        nvr=subject[1] if subject[0] == KOJI_BUILD else None,
        data={k: v for k, v in task.items() if k != "name"},
    )
    return Translation(family=FAMILY, facts=(fact,), problems=tuple(problems))


def translate(envelope: Envelope, suffix: str) -> Translation | None:
    """Translate ``resultsdb.result.new`` / ``taskotron.result.new``; else None."""
    if suffix not in TOPICS:
        return None
    body = envelope.body
    if not isinstance(body, Mapping):
        return _not_object(body)
    if isinstance(body.get("task"), Mapping) and "result" in body:
        return _taskotron(body)
    return _v2(body)
