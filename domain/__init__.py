"""The domain: aggregates, their past-tense events, value types and ids.

Imports nothing but the standard library and ``eventsourcing``.
"""
