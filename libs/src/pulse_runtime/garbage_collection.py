"""How the services' processes collect cyclic garbage (ADR 16).

CPython's default young-generation threshold (700 allocations) suits small scripts. In a server
a burst of short-lived objects — ten thousand sockets' pongs arriving together, one message per
socket — outlives a dozen young collections before it dies, so it is promoted to the oldest
generation as if it were long-lived; once those promotions reach a quarter of the heap, a full
collection walks every object of every open socket. With ten thousand sockets that is a pause
of more than half a second, every half minute, even though nothing changes.

A higher young threshold lets such a burst die young. What the process holds from its start
(modules, classes, the app) is moved out of the collector's sight once started, so a full
collection, when the heap really grows, walks only what came since.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_collector() -> None:
    """Before the service starts: fewer, larger young collections."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def settle_after_start() -> None:
    """Once started: collect once, then exempt what survived from later collections."""
    gc.collect()
    gc.freeze()
