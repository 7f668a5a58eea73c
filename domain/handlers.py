"""From facts to aggregate events: which aggregates a fact touches, and what it records there."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from domain import facts as f
from domain import ids
from domain.artifacts import Artifact, ComposeRun
from domain.koji import KojiTag, KojiTask
from domain.overrides import GateOverride, override_id
from domain.policyset import LOG_NAME, PolicyLog, policy_log_id
from domain.push import Push
from domain.subjects import Build, Change, Subject, Update, subject_class
from domain.unit_of_work import UnitOfWork


def _subject(uow: UnitOfWork, subject_type: str, identifier: str) -> Subject:
    cls = subject_class(subject_type)
    return cast(
        Subject,
        uow.get_or_create(
            ids.subject_id(subject_type, identifier), lambda: cls(subject_type, identifier)
        ),
    )


def _build(uow: UnitOfWork, nvr: str) -> Build:
    return cast(Build, _subject(uow, f.KOJI_BUILD, nvr))


def _change(uow: UnitOfWork, key: f.ChangeKey) -> Change:
    ident = ids.change_identifier(key.namespace, key.repo, key.rev)
    return cast(Change, _subject(uow, f.DIST_GIT_COMMIT, ident))


def _change_str(key: f.ChangeKey | None) -> str | None:
    return ids.change_identifier(key.namespace, key.repo, key.rev) if key else None


def targets(fact: f.Fact) -> list[UUID]:
    """The aggregates a fact will touch, to load them all in one query."""
    out: list[UUID] = []
    if isinstance(fact, f.BuildStateChanged):
        out.append(ids.build_id(fact.nvr))
        if fact.change is not None:
            out.append(ids.change_id(fact.change.namespace, fact.change.repo, fact.change.rev))
    elif isinstance(fact, f.BuildTagged | f.BuildUntagged | f.BuildSigned):
        out.append(ids.build_id(fact.nvr))
    elif isinstance(fact, f.ChangePushed):
        out.append(ids.change_id(fact.change.namespace, fact.change.repo, fact.change.rev))
    elif isinstance(fact, f.TestResultReported):
        out.append(ids.subject_id(fact.subject_type, fact.subject_identifier))
        if fact.nvr:
            out.append(ids.build_id(fact.nvr))
        if fact.change is not None:
            out.append(ids.change_id(fact.change.namespace, fact.change.repo, fact.change.rev))
    elif isinstance(fact, f.WaiverRecorded | f.GreenwaveDecisionObserved):
        out.append(ids.subject_id(fact.subject_type, fact.subject_identifier))
    elif isinstance(fact, f.BodhiUpdateChanged):
        out.append(ids.subject_id(f.BODHI_UPDATE, fact.alias))
    elif isinstance(fact, f.BodhiComposeChanged):
        out.append(ids.push_id(fact.compose))
    elif isinstance(fact, f.KojiRepoChanged | f.KojiPackageListChanged):
        out.append(ids.tag_id(fact.tag))
    elif isinstance(fact, f.KojiTaskChanged):
        out.append(ids.task_id(fact.task_id))
    elif isinstance(fact, f.ArtifactDefined | f.ArtifactRetired):
        out.append(ids.artifact_id(fact.name))
    elif isinstance(fact, f.ManifestLearned):
        out.append(ids.artifact_id(fact.artifact))
    elif isinstance(fact, f.ComposeStatusChanged):
        out.append(ids.compose_run_id(fact.ref))
    elif isinstance(fact, f.PolicySetActivated):
        out.append(policy_log_id())
    elif isinstance(fact, f.GateOverridden):
        out.append(override_id(fact.context, fact.nvr))
    return out


def apply_fact(uow: UnitOfWork, fact: f.Fact, msg: str, at: str | None) -> None:
    if isinstance(fact, f.BuildStateChanged):
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
    elif isinstance(fact, f.BuildTagged):
        _build(uow, fact.nvr).tag(
            msg=msg, at=at, tag=fact.tag, build_id=fact.build_id, user=fact.user, owner=fact.owner
        )
    elif isinstance(fact, f.BuildUntagged):
        _build(uow, fact.nvr).untag(
            msg=msg, at=at, tag=fact.tag, build_id=fact.build_id, user=fact.user, owner=fact.owner
        )
    elif isinstance(fact, f.BuildSigned):
        _build(uow, fact.nvr).sign(msg=msg, at=at, sigkey=fact.sigkey, rpm=fact.rpm)
    elif isinstance(fact, f.ChangePushed):
        _change(uow, fact.change).push(
            msg=msg,
            at=at,
            branch=fact.branch,
            agent=fact.agent,
            summary=fact.summary,
            files=list(fact.files),
        )
    elif isinstance(fact, f.TestResultReported):
        _apply_result(uow, fact, msg, at)
    elif isinstance(fact, f.WaiverRecorded):
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
    elif isinstance(fact, f.BodhiUpdateChanged):
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
    elif isinstance(fact, f.BodhiComposeChanged):
        push = uow.get_or_create(ids.push_id(fact.compose), lambda: Push(fact.compose))
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
    elif isinstance(fact, f.GreenwaveDecisionObserved):
        _subject(uow, fact.subject_type, fact.subject_identifier).observe_greenwave_decision(
            msg=msg,
            at=at,
            decision_context=fact.decision_context,
            product_version=fact.product_version,
            policies_satisfied=fact.policies_satisfied,
            summary=fact.summary,
            unsatisfied=list(fact.unsatisfied),
        )
    elif isinstance(fact, f.KojiRepoChanged):
        tag = uow.get_or_create(ids.tag_id(fact.tag), lambda: KojiTag(fact.tag))
        tag.change_repo(msg=msg, at=at, repo_id=fact.repo_id, state=fact.state)
    elif isinstance(fact, f.KojiPackageListChanged):
        tag = uow.get_or_create(ids.tag_id(fact.tag), lambda: KojiTag(fact.tag))
        tag.change_package_list(
            msg=msg, at=at, package=fact.package, action=fact.action, owner=fact.owner
        )
    elif isinstance(fact, f.KojiTaskChanged):
        task = uow.get_or_create(ids.task_id(fact.task_id), lambda: KojiTask(fact.task_id))
        task.change_state(
            msg=msg,
            at=at,
            state=fact.state,
            old_state=fact.old_state,
            method=fact.method,
            owner=fact.owner,
            parent=fact.parent,
        )
    elif isinstance(fact, f.ArtifactDefined | f.ArtifactRetired | f.ManifestLearned):
        _apply_artifact(uow, fact, msg, at)
    elif isinstance(fact, f.ComposeStatusChanged):
        run = cast(
            ComposeRun,
            uow.get_or_create(ids.compose_run_id(fact.ref), lambda: ComposeRun(fact.ref)),
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
    elif isinstance(fact, f.PolicySetActivated):
        log = uow.get_or_create(policy_log_id(), lambda: PolicyLog(LOG_NAME))
        log.activate(
            msg=msg,
            at=at,
            policy_set_hash=fact.policy_set_hash,
            policies=[dict(p) for p in fact.policies],
            source=fact.source,
            username=fact.username,
        )
    elif isinstance(fact, f.GateOverridden):
        override = uow.get_or_create(
            override_id(fact.context, fact.nvr), lambda: GateOverride(fact.context, fact.nvr)
        )
        override.record(
            msg=msg, at=at, action=fact.action, reason=fact.reason, username=fact.username
        )
    else:  # pragma: no cover - a new fact type without a handler is a programming error
        raise TypeError(f"no handler for fact {type(fact).__name__}")


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
