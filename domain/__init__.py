"""The domain: aggregates, their past-tense events, value types and ids.

Imports nothing but the standard library and ``eventsourcing``.
"""

import sys

from eventsourcing.utils import register_topic

# Stored topics name modules without the distribution namespace (``domain.subjects:...``,
# see ``domain.stored``): eventsourcing resolves such a topic through this package, so an
# old store reads the same whichever module of ours was imported first. Registering a
# name is all this does; a second, stray ``domain`` package would fail here, loudly.
register_topic("domain", sys.modules[__name__])
