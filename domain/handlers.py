"""From facts to aggregate events: which aggregates a fact touches, and what it records there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, cast
from uuid import UUID

from relengotron.domain import facts as f
from relengotron.domain import ids
from relengotron.domain.artifacts import Artifact, ComposeRun
from relengotron.domain.koji import KojiTag, KojiTask
from relengotron.domain.message import InboundMessage
from relengotron.domain.overrides import GateOverride, override_id
from relengotron.domain.policyset import LOG_NAME, PolicyLog, policy_log_id
from relengotron.domain.push import Push
from relengotron.domain.subjects import Build, Change, Subject, Update, subject_class
from relengotron.domain.unit_of_work import UnitOfWork


def _subject(uow: UnitOfWork, subject_type: str, identifier: str) -> Subject:
    cls = subject_class(subject_type)
    return cast(
        Subject,
        uow.get_or_create(ids.subject_id(subject_type, identifier), cls, subject_type, identifier),
    )


def _build(uow: UnitOfWork, nvr: str) -> Build:
    return cast(Build, _subject(uow, f.KOJI_BUILD, nvr))


def _change(uow: UnitOfWork, key: f.ChangeKey) -> Change:
    ident = ids.change_identifier(key.namespace, key.repo, key.rev)
    return cast(Change, _subject(uow, f.DIST_GIT_COMMIT, ident))


def _change_str(key: f.ChangeKey | None) -> str | None:
    return ids.change_identifier(key.namespace, key.repo, key.rev) if key else None


# -------------------------------------------------------------- the aggregates

# The aggregates no handler reads or asks anything of, only appends to: written as
# streams of events without the aggregates (``domain.unit_of_work.Appends``). An
# aggregate whose state a handler reads (``Artifact``) must not be listed here.
APPEND_ONLY: frozenset[type] = frozenset(
    {Subject, Build, Change, Update, Push, KojiTag, KojiTask, ComposeRun, PolicyLog}
    | {GateOverride, InboundMessage}
)


def _change_ids(key: f.ChangeKey | None) -> list[UUID]:
    return [ids.change_id(key.namespace, key.repo, key.rev)] if key is not None else []


def _build_state_targets(fact: f.BuildStateChanged) -> list[UUID]:
    return [ids.build_id(fact.nvr), *_change_ids(fact.change)]


def _result_targets(fact: f.TestResultReported) -> list[UUID]:
    out = [ids.subject_id(fact.subject_type, fact.subject_identifier)]
    if fact.nvr:
        out.append(ids.build_id(fact.nvr))
    return out + _change_ids(fact.change)


# ------------------------------------------------------------------ the events


def _apply_build_state(
    uow: UnitOfWork, fact: f.BuildStateChanged, msg: str, at: str | None
) -> None:
    build = _build(uow, fact.nvr)
    build.change_state(
        msg=msg,
        at=at,
        state=fact.state,
        old_state=fact.old_state,
        build_id=fact.build_id,
        task_id=fact.task_id,
        owner=fact.owner,
        epoch=fact.epoch,
        source=fact.source,
        change=_change_str(fact.change),
    )
    if fact.change is not None and fact.state == "COMPLETE":
        _change(uow, fact.change).link_build(msg=msg, at=at, nvr=fact.nvr)


def _apply_tagged(uow: UnitOfWork, fact: f.BuildTagged, msg: str, at: str | None) -> None:
    _build(uow, fact.nvr).tag(
        msg=msg, at=at, tag=fact.tag, build_id=fact.build_id, user=fact.user, owner=fact.owner
    )


def _apply_untagged(uow: UnitOfWork, fact: f.BuildUntagged, msg: str, at: str | None) -> None:
    _build(uow, fact.nvr).untag(
        msg=msg, at=at, tag=fact.tag, build_id=fact.build_id, user=fact.user, owner=fact.owner
    )


def _apply_signed(uow: UnitOfWork, fact: f.BuildSigned, msg: str, at: str | None) -> None:
    _build(uow, fact.nvr).sign(msg=msg, at=at, sigkey=fact.sigkey, rpm=fact.rpm)


def _apply_rerun(uow: UnitOfWork, fact: f.TestRerunRequested, msg: str, at: str | None) -> None:
    _build(uow, fact.nvr).request_rerun(
        msg=msg,
        at=at,
        testcase=fact.testcase,
        scenario=fact.scenario,
        reason=fact.reason,
        username=fact.username,
    )


def _apply_change_pushed(uow: UnitOfWork, fact: f.ChangePushed, msg: str, at: str | None) -> None:
    _change(uow, fact.change).push(
        msg=msg,
        at=at,
        branch=fact.branch,
        agent=fact.agent,
        summary=fact.summary,
        files=list(fact.files),
    )


def _apply_waiver(uow: UnitOfWork, fact: f.WaiverRecorded, msg: str, at: str | None) -> None:
    extra = {"record": dict(fact.record)} if fact.record is not None else {}
    _subject(uow, fact.subject_type, fact.subject_identifier).record_waiver(
        msg=msg,
        at=at,
        testcase=fact.testcase,
        waived=fact.waived,
        waiver_id=fact.waiver_id,
        scenario=fact.scenario,
        product_version=fact.product_version,
        username=fact.username,
        comment=fact.comment,
        **extra,
    )


def _apply_update(uow: UnitOfWork, fact: f.BodhiUpdateChanged, msg: str, at: str | None) -> None:
    cast(Update, _subject(uow, f.BODHI_UPDATE, fact.alias)).change(
        msg=msg,
        at=at,
        action=fact.action,
        builds=list(fact.builds),
        status=fact.status,
        request=fact.request,
        release=fact.release,
        user=fact.user,
        title=fact.title,
    )


def _apply_push(uow: UnitOfWork, fact: f.BodhiComposeChanged, msg: str, at: str | None) -> None:
    push = uow.get_or_create(ids.push_id(fact.compose), Push, fact.compose)
    push.progress(
        msg=msg,
        at=at,
        phase=fact.phase,
        updates=list(fact.updates),
        release=fact.release,
        request=fact.request,
        success=fact.success,
        agent=fact.agent,
    )


def _apply_greenwave(
    uow: UnitOfWork, fact: f.GreenwaveDecisionObserved, msg: str, at: str | None
) -> None:
    _subject(uow, fact.subject_type, fact.subject_identifier).observe_greenwave_decision(
        msg=msg,
        at=at,
        decision_context=fact.decision_context,
        product_version=fact.product_version,
        policies_satisfied=fact.policies_satisfied,
        summary=fact.summary,
        unsatisfied=list(fact.unsatisfied),
    )


def _apply_repo(uow: UnitOfWork, fact: f.KojiRepoChanged, msg: str, at: str | None) -> None:
    tag = uow.get_or_create(ids.tag_id(fact.tag), KojiTag, fact.tag)
    tag.change_repo(msg=msg, at=at, repo_id=fact.repo_id, state=fact.state)


def _apply_package_list(
    uow: UnitOfWork, fact: f.KojiPackageListChanged, msg: str, at: str | None
) -> None:
    tag = uow.get_or_create(ids.tag_id(fact.tag), KojiTag, fact.tag)
    tag.change_package_list(
        msg=msg, at=at, package=fact.package, action=fact.action, owner=fact.owner
    )


def _apply_task(uow: UnitOfWork, fact: f.KojiTaskChanged, msg: str, at: str | None) -> None:
    task = uow.get_or_create(ids.task_id(fact.task_id), KojiTask, fact.task_id)
    task.change_state(
        msg=msg,
        at=at,
        state=fact.state,
        old_state=fact.old_state,
        method=fact.method,
        owner=fact.owner,
        parent=fact.parent,
    )


def _apply_compose(uow: UnitOfWork, fact: f.ComposeStatusChanged, msg: str, at: str | None) -> None:
    run = cast(
        ComposeRun,
        uow.get_or_create(ids.compose_run_id(fact.ref), ComposeRun, fact.ref),
    )
    run.change_status(
        msg=msg,
        at=at,
        status=fact.status,
        origin=fact.origin,
        artifact=fact.artifact,
        compose=fact.compose,
        target=fact.target,
        location=fact.location,
        detail=fact.detail,
    )


def _apply_policies(uow: UnitOfWork, fact: f.PolicySetActivated, msg: str, at: str | None) -> None:
    log = uow.get_or_create(policy_log_id(), PolicyLog, LOG_NAME)
    log.activate(
        msg=msg,
        at=at,
        policy_set_hash=fact.policy_set_hash,
        policies=[dict(p) for p in fact.policies],
        source=fact.source,
        username=fact.username,
    )


def _apply_override(uow: UnitOfWork, fact: f.GateOverridden, msg: str, at: str | None) -> None:
    override = uow.get_or_create(
        override_id(fact.context, fact.nvr), GateOverride, fact.context, fact.nvr
    )
    override.record(msg=msg, at=at, action=fact.action, reason=fact.reason, username=fact.username)


def _apply_result(uow: UnitOfWork, fact: f.TestResultReported, msg: str, at: str | None) -> None:
    kwargs: dict[str, Any] = dict(
        msg=msg,
        at=at,
        subject_type=fact.subject_type,
        subject_identifier=fact.subject_identifier,
        testcase=fact.testcase,
        outcome=fact.outcome,
        origin=fact.origin,
        scenario=fact.scenario,
        result_id=fact.result_id,
        ref_url=fact.ref_url,
        note=fact.note,
        nvr=fact.nvr,
        change=_change_str(fact.change),
        stage=fact.stage,
        pipeline_id=fact.pipeline_id,
        covered_nvrs=list(fact.covered_nvrs),
        suspect_nvrs=list(fact.suspect_nvrs),
        data=dict(fact.data),
    )
    if fact.record is not None:
        kwargs["record"] = dict(fact.record)
    subject = _subject(uow, fact.subject_type, fact.subject_identifier)
    subject.record_result(**kwargs)
    # The same result in the stream of the build and of the change it names,
    # when those are not the subject itself: each stream tells its whole story.
    if fact.nvr and not (fact.subject_type == f.KOJI_BUILD and fact.subject_identifier == fact.nvr):
        _build(uow, fact.nvr).record_result(**kwargs)
    if fact.change is not None and fact.subject_type != f.DIST_GIT_COMMIT:
        _change(uow, fact.change).record_result(**kwargs)


def _apply_artifact(
    uow: UnitOfWork,
    fact: f.ArtifactDefined | f.ArtifactRetired | f.ManifestLearned,
    msg: str,
    at: str | None,
) -> None:
    """Definitions and manifests: only what really changed becomes an event."""
    name = fact.artifact if isinstance(fact, f.ManifestLearned) else fact.name
    artifact = cast(Artifact | None, uow.get(ids.artifact_id(name)))
    if isinstance(fact, f.ArtifactDefined):
        if artifact is None:
            uow.add(
                Artifact(
                    msg=msg,
                    at=at,
                    name=fact.name,
                    kind=fact.kind,
                    definition=dict(fact.definition),
                    digest=fact.digest,
                    source=fact.source,
                )
            )
        elif artifact.digest != fact.digest or artifact.retired:
            artifact.redefine(
                msg=msg,
                at=at,
                kind=fact.kind,
                definition=dict(fact.definition),
                digest=fact.digest,
                source=fact.source,
            )
    elif artifact is None:
        return  # retiring or describing an artifact never defined: nothing to record
    elif isinstance(fact, f.ArtifactRetired):
        if not artifact.retired:
            artifact.retire(msg=msg, at=at, reason=fact.reason)
    elif artifact.manifests.get(fact.source) != fact.digest:
        artifact.learn_manifest(
            msg=msg,
            at=at,
            source=fact.source,
            packages=dict(fact.packages),
            ref=fact.ref,
            rpms=fact.rpms,
            digest=fact.digest,
        )


class FactHandler(NamedTuple):
    """What one kind of fact touches (to load it all in one query) and records there."""

    targets: Callable[[Any], list[UUID]]
    apply: Callable[[UnitOfWork, Any, str, str | None], None]


# The one handler table of facts, keyed by fact class.
FACT_HANDLERS: dict[type, FactHandler] = {
    f.BuildStateChanged: FactHandler(_build_state_targets, _apply_build_state),
    f.BuildTagged: FactHandler(lambda fact: [ids.build_id(fact.nvr)], _apply_tagged),
    f.BuildUntagged: FactHandler(lambda fact: [ids.build_id(fact.nvr)], _apply_untagged),
    f.BuildSigned: FactHandler(lambda fact: [ids.build_id(fact.nvr)], _apply_signed),
    f.TestRerunRequested: FactHandler(lambda fact: [ids.build_id(fact.nvr)], _apply_rerun),
    f.ChangePushed: FactHandler(lambda fact: _change_ids(fact.change), _apply_change_pushed),
    f.TestResultReported: FactHandler(_result_targets, _apply_result),
    f.WaiverRecorded: FactHandler(
        lambda fact: [ids.subject_id(fact.subject_type, fact.subject_identifier)], _apply_waiver
    ),
    f.GreenwaveDecisionObserved: FactHandler(
        lambda fact: [ids.subject_id(fact.subject_type, fact.subject_identifier)], _apply_greenwave
    ),
    f.BodhiUpdateChanged: FactHandler(
        lambda fact: [ids.subject_id(f.BODHI_UPDATE, fact.alias)], _apply_update
    ),
    f.BodhiComposeChanged: FactHandler(lambda fact: [ids.push_id(fact.compose)], _apply_push),
    f.KojiRepoChanged: FactHandler(lambda fact: [ids.tag_id(fact.tag)], _apply_repo),
    f.KojiPackageListChanged: FactHandler(lambda fact: [ids.tag_id(fact.tag)], _apply_package_list),
    f.KojiTaskChanged: FactHandler(lambda fact: [ids.task_id(fact.task_id)], _apply_task),
    f.ArtifactDefined: FactHandler(lambda fact: [ids.artifact_id(fact.name)], _apply_artifact),
    f.ArtifactRetired: FactHandler(lambda fact: [ids.artifact_id(fact.name)], _apply_artifact),
    f.ManifestLearned: FactHandler(lambda fact: [ids.artifact_id(fact.artifact)], _apply_artifact),
    f.ComposeStatusChanged: FactHandler(
        lambda fact: [ids.compose_run_id(fact.ref)], _apply_compose
    ),
    f.PolicySetActivated: FactHandler(lambda fact: [policy_log_id()], _apply_policies),
    f.GateOverridden: FactHandler(
        lambda fact: [override_id(fact.context, fact.nvr)], _apply_override
    ),
}


def targets(fact: f.Fact) -> list[UUID]:
    """The aggregates a fact will touch, to load them all in one query."""
    handler = FACT_HANDLERS.get(type(fact))
    return handler.targets(fact) if handler is not None else []


def apply_fact(uow: UnitOfWork, fact: f.Fact, msg: str, at: str | None) -> None:
    """Record a fact on the aggregates it is about."""
    handler = FACT_HANDLERS.get(type(fact))
    if handler is None:  # a new fact type without a handler is a programming error
        raise TypeError(f"no handler for fact {type(fact).__name__}")
    handler.apply(uow, fact, msg, at)
