"""Koji objects other than builds: tags (repos, package lists) and tasks."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from relengotron.domain import ids
from relengotron.domain.stored import StoredAggregate


class KojiTag(StoredAggregate):
    @staticmethod
    def create_id(name: str) -> UUID:
        return ids.tag_id(name)

    @event("Seen")
    def __init__(self, name: str) -> None:
        self.name = name
        self.repo_id: int | None = None

    @event("RepoChanged")
    def change_repo(self, msg: str, at: str | None, repo_id: int | None, state: str) -> None:
        if state == "done" and repo_id is not None:
            self.repo_id = repo_id

    @event("PackageListChanged")
    def change_package_list(
        self, msg: str, at: str | None, package: str, action: str | None, owner: str | None
    ) -> None:
        pass


class KojiTask(StoredAggregate):
    @staticmethod
    def create_id(task_id: int) -> UUID:
        return ids.task_id(task_id)

    @event("Seen")
    def __init__(self, task_id: int) -> None:
        self.task_id = task_id
        self.state: str | None = None

    @event("StateChanged")
    def change_state(
        self,
        msg: str,
        at: str | None,
        state: str,
        old_state: str | None,
        method: str | None,
        owner: str | None,
        parent: int | None,
    ) -> None:
        self.state = state
