"""The read models' fold of input: messages, subjects (builds, changes, updates),
their koji states and tags, test results and waivers."""

from __future__ import annotations

from typing import Any

from relengotron.domain import ids
from relengotron.domain.facts import canonical_subject_type
from relengotron.projections.folds.gating_state import creation_time
from relengotron.projections.folds.greenwave_records import (
    arch_and_variant,
    data_rows,
    result_record,
    submit_sort_time,
    waiver_record,
)
from relengotron.projections.folds.readmodel_core import FoldCore
from relengotron.projections.folds.readmodel_rows import event_ref


class SubjectFold(FoldCore):
    """Rows from input events; ``ReadModelFold`` adds what the decider recorded."""

    # -- messages

    def _on_inbound_message_received(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        self.changes.add(
            "messages",
            {
                "key": s["key"],
                "position": position,
                "topic": s["topic"],
                "family": s.get("family"),
                "status": s.get("status"),
                "at": s.get("sent_at"),
            },
        )

    # -- subjects

    def _on_subject_seen(self, position: int, oid: bytes, version: int, s: dict[str, Any]) -> None:
        self._name(oid, "subject", s["subject_type"], s["identifier"])

    def _on_build_seen(self, position: int, oid: bytes, version: int, s: dict[str, Any]) -> None:
        self._name(oid, "build", s["subject_type"], s["identifier"])
        self._touch(self._build(s["identifier"]), position, None)

    def _on_build_state_changed(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        nvr = self._nvr_of(oid)
        if nvr is None:
            return
        b = self._build(nvr)
        b["state"] = s["state"]
        b["owner"] = s.get("owner") or b["owner"]
        if s.get("build_id") is not None:
            b["koji_id"] = s["build_id"]
        b["change"] = s.get("change") or b["change"]
        b["created"] = creation_time(b["created"], s["state"], s.get("at"))
        self._touch(b, position, s.get("at"))
        was = f" (was {s['old_state']})" if s.get("old_state") else ""
        self._history(
            nvr, position, oid, version, s.get("at"), "state",
            f"koji build {s['state']}{was}", s.get("msg"),
            {"state": s["state"], "build_id": s.get("build_id"), "task_id": s.get("task_id")},
        )  # fmt: skip

    def _on_build_tagged(self, position: int, oid: bytes, version: int, s: dict[str, Any]) -> None:
        nvr = self._nvr_of(oid)
        if nvr is None:
            return
        b = self._build(nvr)
        if s["tag"] not in b["tags"]:
            b["tags"] = [*b["tags"], s["tag"]]
        b["owner"] = s.get("owner") or b["owner"]
        if s["tag"] == self.config.promoted_tag and b["gate"] is not None:
            b["promoted"] = True
            self._settle_gate(b)
        self._touch(b, position, s.get("at"))
        by = f" by {s['user']}" if s.get("user") else ""
        self._history(
            nvr, position, oid, version, s.get("at"), "tagged",
            f"tagged into {s['tag']}{by}", s.get("msg"), {"tag": s["tag"], "user": s.get("user")},
        )  # fmt: skip

    def _on_build_untagged(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        nvr = self._nvr_of(oid)
        if nvr is None:
            return
        b = self._build(nvr)
        b["tags"] = [t for t in b["tags"] if t != s["tag"]]
        self._touch(b, position, s.get("at"))
        by = f" by {s['user']}" if s.get("user") else ""
        self._history(
            nvr, position, oid, version, s.get("at"), "untagged",
            f"untagged from {s['tag']}{by}", s.get("msg"), {"tag": s["tag"], "user": s.get("user")},
        )  # fmt: skip

    def _on_build_signed(self, position: int, oid: bytes, version: int, s: dict[str, Any]) -> None:
        nvr = self._nvr_of(oid)
        if nvr is not None:
            self._history(
                nvr, position, oid, version, s.get("at"), "signed",
                f"signed with key {s.get('sigkey') or '?'}", s.get("msg"), {"rpm": s.get("rpm")},
            )  # fmt: skip

    def _on_build_rerun_requested(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        nvr = self._nvr_of(oid)
        if nvr is not None:
            scenario = f" ({s['scenario']})" if s.get("scenario") else ""
            self._history(
                nvr, position, oid, version, s.get("at"), "rerun-requested",
                f"rerun of {s['testcase']}{scenario} asked by {s.get('username') or 'someone'}: "
                f"{s.get('reason')}", s.get("msg"),
                {"testcase": s["testcase"], "scenario": s.get("scenario"),
                 "username": s.get("username"), "reason": s.get("reason")},
            )  # fmt: skip

    def _on_change_build_linked(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        name = self._known(oid)
        change = name[2] if name is not None else None
        b = self._build(s["nvr"])
        b["change"] = b["change"] or change
        self._touch(b, position, s.get("at"))
        self._history(
            s["nvr"], position, oid, version, s.get("at"), "linked",
            f"built from dist-git change {change}", s.get("msg"), {"change": change},
        )  # fmt: skip

    def _on_subject_result_recorded(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        typ, ident = s["subject_type"], s["subject_identifier"]
        ref = event_ref(oid, version)
        if ids.subject_id(typ, ident).bytes == oid:  # once: from the subject's own stream
            raw = s.get("data")
            data: dict[str, Any] = raw if isinstance(raw, dict) else {}
            arch, variant = arch_and_variant(data)
            record = result_record(s, ref)
            self.changes.add(
                "results",
                {
                    "position": position,
                    "subject_type": typ,
                    "subject_identifier": ident,
                    "testcase": s["testcase"],
                    "scenario": s.get("scenario"),
                    "outcome": s["outcome"],
                    "result_id": s.get("result_id"),
                    "stage": s.get("stage"),
                    "pipeline": data.get("pipeline"),
                    "ref_url": s.get("ref_url"),
                    "note": s.get("note"),
                    "origin": s.get("origin"),
                    "at": s.get("at"),
                    "msg": s.get("msg"),
                    "event": ref,
                    "system_architecture": arch,
                    "system_variant": variant,
                    "record": record,
                    "submit_time": submit_sort_time(record),
                },
            )
            for row in data_rows(position, record):
                self.changes.add("result_data", row)
        nvr = self._nvr_of(oid)
        if nvr is not None:
            about = "" if (typ, ident) == ("koji_build", nvr) else f" (about {typ} {ident})"
            scenario = f" [{s['scenario']}]" if s.get("scenario") else ""
            self._touch(self._build(nvr), position, s.get("at"))
            self._history(
                nvr, position, oid, version, s.get("at"), "result",
                f"{s['testcase']}{scenario}: {s['outcome']}{about}", s.get("msg"),
                {"testcase": s["testcase"], "outcome": s["outcome"], "scenario": s.get("scenario"),
                 "result_id": s.get("result_id"), "ref_url": s.get("ref_url")},
            )  # fmt: skip

    def _on_subject_waiver_recorded(
        self, position: int, oid: bytes, version: int, s: dict[str, Any]
    ) -> None:
        name = self._known(oid)
        if name is None or name[0] not in ("build", "subject"):
            return
        # An alias (a brew-build waiver stored before translation named the type it
        # stands for) is the subject type it stands for, as in Greenwave.
        typ, ident = canonical_subject_type(name[1]), name[2]
        ref = event_ref(oid, version)
        self.changes.add(
            "waivers",
            {
                "position": position,
                "subject_type": typ,
                "subject_identifier": ident,
                "testcase": s["testcase"],
                "scenario": s.get("scenario"),
                "waived": bool(s["waived"]),
                "waiver_id": s.get("waiver_id"),
                "product_version": s.get("product_version"),
                "username": s.get("username"),
                "comment": s.get("comment"),
                "at": s.get("at"),
                "msg": s.get("msg"),
                "event": ref,
                "record": waiver_record(s, typ, ident, ref),
            },
        )
        if name[0] == "build":
            what = "waived" if s["waived"] else "waiver revoked for"
            self._touch(self._build(ident), position, s.get("at"))
            self._history(
                ident, position, oid, version, s.get("at"), "waiver",
                f"{what} {s['testcase']} by {s.get('username') or '?'}: {s.get('comment') or ''}",
                s.get("msg"), {"testcase": s["testcase"], "waived": bool(s["waived"]),
                               "waiver_id": s.get("waiver_id")},
            )  # fmt: skip
