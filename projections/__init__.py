"""Read models built from the event log, each tracking its position; the decider."""
