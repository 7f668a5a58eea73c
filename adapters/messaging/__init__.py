"""Outgoing messages: fedora-messaging schemas (``schemas``) and publishers (``publisher``).

Kept empty on purpose: importing the package must not import fedora-messaging, load its
configuration or touch a broker.
"""
