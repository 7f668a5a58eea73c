"""WaiverDB waivers -> :class:`WaiverRecorded`.

Topic read (bus prefix stripped): ``waiverdb.waiver.new``. Body: ``{id,
subject_type, subject_identifier, subject{type, item}, testcase, waived,
scenario, product_version, username, proxied_by, comment, timestamp}``.

The subject comes from ``subject_type``/``subject_identifier`` (2018+), else
from the legacy ``subject`` dict (``{"type", "item"}``,
``{"original_spec_nvr"}`` or ``{"productmd.compose.id"}``). The 2017 waivers
that only name a ResultsDB ``result_id`` are recorded with subject type
``resultsdb_result`` and the result id as identifier (with a problem noted:
their testcase is unknown). A subject type alias (``brew-build``) is recorded as
the type it stands for (``koji_build``), as WaiverDB stores it and Greenwave
matches it (``conf/subject_types/koji_build.yaml``). The body is kept whole as the
fact's ``record`` (Greenwave's verbose answers give WaiverDB's waiver as is; not for
our own ``relengotron.waiver.new``, which lacks some of WaiverDB's fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relengotron.adapters.translate.base import Envelope, Translation, as_str
from relengotron.adapters.translate.resultsdb import subject_from_item
from relengotron.domain.facts import WaiverRecorded, canonical_subject_type

FAMILY = "waiverdb"
TOPIC = "waiverdb.waiver.new"
# Waivers given with ``relengotron waive`` (same body shape as WaiverDB's).
LOCAL_TOPIC = "relengotron.waiver.new"
RESULT_SUBJECT = "resultsdb_result"


def _waiver(body: Mapping[str, Any], *, from_waiverdb: bool) -> Translation:
    problems: list[str] = []
    subject_type = as_str(body.get("subject_type"))
    identifier = as_str(body.get("subject_identifier"))
    if subject_type is None or identifier is None:
        subject = subject_from_item(body.get("subject"))
        if subject is not None:
            subject_type, identifier = subject
        elif as_str(body.get("result_id")) is not None:
            subject_type, identifier = RESULT_SUBJECT, str(as_str(body.get("result_id")))
            problems.append("waiver names only a result_id; subject and testcase unknown")
        else:
            return Translation(family=FAMILY, problems=("waiver names no subject",))
    subject_type = canonical_subject_type(subject_type)
    testcase = as_str(body.get("testcase"))
    if testcase is None:
        if subject_type != RESULT_SUBJECT:
            problems.append("waiver names no testcase")
        testcase = ""
    waived = body.get("waived")
    if not isinstance(waived, bool):
        problems.append(f"waived is {waived!r}, not a boolean; taken as true")
        waived = True
    waiver_id = body.get("id")
    fact = WaiverRecorded(
        subject_type=subject_type,
        subject_identifier=identifier,
        testcase=testcase,
        waived=waived,
        waiver_id=str(waiver_id) if waiver_id is not None else None,
        scenario=as_str(body.get("scenario")),
        product_version=as_str(body.get("product_version")),
        username=as_str(body.get("username")),
        comment=as_str(body.get("comment")),
        # WaiverDB's waiver as published; ours (relengotron.waiver.new) has not all of
        # WaiverDB's fields: its record is rebuilt in their shape when it is shown.
        record=dict(body) if from_waiverdb else None,
    )
    return Translation(family=FAMILY, facts=(fact,), problems=tuple(problems))


def translate(envelope: Envelope, suffix: str) -> Translation | None:
    """Translate ``waiverdb.waiver.new`` (and our own ``relengotron.waiver.new``)."""
    if suffix not in (TOPIC, LOCAL_TOPIC):
        return None
    body = envelope.body
    if not isinstance(body, Mapping):
        return Translation(
            family=FAMILY, problems=(f"body is {type(body).__name__}, not an object",)
        )
    return _waiver(body, from_waiverdb=suffix == TOPIC)
