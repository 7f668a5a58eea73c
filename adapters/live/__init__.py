"""Live operation: consuming from the bus, and the followers of a live store.

``consumer`` records each message fedora-messaging hands us, one transaction per
message, before fedora-messaging acknowledges it; ``deadletter`` keeps what
fedora-messaging refuses (bodies that are not valid messages), which the broker
dead-letters to a queue of our own; ``followers`` keep decisions, composes, actions
and read models up to date with the log.
"""
