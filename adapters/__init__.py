"""Adapters: everything that touches the world (messages, stores, koji, HTTP, CLI)."""
