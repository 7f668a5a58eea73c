"""The names of the composer's decision rounds, as its events' ``trigger`` holds them.

The composer decides after each group of the log it reads, and names the group in
what it records, so a restarted composer folds each of its events right after that
group (``projections.processes.follower``), wherever the log holds the event. The name must be
unique in the log:

* ``input:<message key>`` — after an input message;
* ``decider:<message key>`` — after the decider's round for that message (the
  decider's events name the bare message key);
* ``<action id>/<version>`` — after an effector outcome (its event ref).

Stores written before rounds were named hold the bare message key for both of the
first two: such a trigger is ambiguous (``is_legacy_trigger``) and the event stays
where the log holds it, as that code folded it.
"""

from __future__ import annotations

from uuid import UUID

INPUT_ROUND = "input:"
DECIDER_ROUND = "decider:"


def is_legacy_trigger(trigger: str) -> bool:
    """A trigger written before rounds were named: a bare message key."""
    if trigger.startswith((INPUT_ROUND, DECIDER_ROUND)):
        return False
    head, _, version = trigger.rpartition("/")
    return not (version.isdigit() and _is_uuid(head))


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True
