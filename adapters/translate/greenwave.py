"""Greenwave decisions -> :class:`GreenwaveDecisionObserved`.

Topics read (bus prefix stripped): ``greenwave.decision.update`` and the
doubled ``greenwave.greenwave.decision.update`` some 2017 deployments sent.
Body: ``{decision_context, product_version, subject_type, subject_identifier,
subject: [{type, item}], policies_satisfied, summary, applicable_policies,
satisfied_requirements, unsatisfied_requirements, previous}``. 2017 bodies
lack ``subject_type``/``subject_identifier`` (the subject is read from
``subject[0]`` or a legacy ``subject`` dict) and spell the verdict
``policies_satisified``. ``unsatisfied`` lists the testcases of the
unsatisfied requirements (``testcase`` or ``item.testcase``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relengotron.adapters.translate.base import Envelope, Translation, as_str, get_path
from relengotron.adapters.translate.resultsdb import subject_from_item
from relengotron.domain.facts import GreenwaveDecisionObserved

FAMILY = "greenwave"
TOPICS = ("greenwave.decision.update", "greenwave.greenwave.decision.update")


def _subject(body: Mapping[str, Any]) -> tuple[str, str] | None:
    subject_type = as_str(body.get("subject_type"))
    identifier = as_str(body.get("subject_identifier"))
    if subject_type and identifier:
        return subject_type, identifier
    subject = body.get("subject")
    if isinstance(subject, list):
        subject = subject[0] if subject else None
    return subject_from_item(subject)


def _unsatisfied(requirements: Any) -> tuple[str, ...]:
    if not isinstance(requirements, list):
        return ()
    out: list[str] = []
    for requirement in requirements:
        testcase = as_str(get_path(requirement, "testcase")) or as_str(
            get_path(requirement, "item", "testcase")
        )
        if testcase:
            out.append(testcase)
    return tuple(out)


def _decision(body: Mapping[str, Any]) -> Translation:
    subject = _subject(body)
    context = as_str(body.get("decision_context"))
    satisfied = body.get("policies_satisfied", body.get("policies_satisified"))
    problems = []
    if subject is None:
        problems.append("decision names no subject")
    if context is None:
        problems.append("decision has no decision_context")
    if not isinstance(satisfied, bool):
        problems.append(f"policies_satisfied is {satisfied!r}, not a boolean")
    if subject is None or context is None or not isinstance(satisfied, bool):
        return Translation(family=FAMILY, problems=tuple(problems))
    fact = GreenwaveDecisionObserved(
        subject_type=subject[0],
        subject_identifier=subject[1],
        decision_context=context,
        product_version=as_str(body.get("product_version")),
        policies_satisfied=satisfied,
        summary=as_str(body.get("summary")),
        unsatisfied=_unsatisfied(body.get("unsatisfied_requirements")),
    )
    return Translation(family=FAMILY, facts=(fact,))


def translate(envelope: Envelope, suffix: str) -> Translation | None:
    """Translate a Greenwave decision; None for any other topic."""
    if suffix not in TOPICS:
        return None
    body = envelope.body
    if not isinstance(body, Mapping):
        return Translation(
            family=FAMILY, problems=(f"body is {type(body).__name__}, not an object",)
        )
    return _decision(body)
