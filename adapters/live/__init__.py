"""Live operation: consuming from the bus, and the followers of a live store."""
