"""A reader of the events of a few topics that goes on where it stopped.

Each call gives the events of its topics recorded since the previous call, and goes on
next time from the log's head it read up to, not from the last event of its topics: a
scan for rare events (a requested action, a finished compose) read again, every round,
all that was recorded since the last one (issue 18). ``after`` moves past an event only
once the caller has taken it, so a call that stops half-way goes on from there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from eventsourcing.persistence import Notification

from relengotron.domain.application import RelengApp


class LogScan:
    def __init__(self, topics: Iterable[str]) -> None:
        self.topics = tuple(topics)
        self.after = 0  # the log is read up to here

    def __call__(self, app: RelengApp) -> Iterator[Notification]:
        head = app.log_head()
        for n in app.since(self.after, self.topics, head):
            yield n
            self.after = n.id
        self.after = max(self.after, head)
