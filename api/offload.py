"""Running CPU-bound or blocking work (decoding images, writing and fsyncing the inputs) off
the event loop when the API serves with gevent.

Under gevent every request of a process shares one OS thread, so a second of decoding or a
slow fsync would stall every other request of that process; a real thread from gevent's pool
does not (Pillow decodes and the kernel syncs without the GIL). Without gevent (tests, the
development server) it runs in place.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def off_loop(work: Callable[[], T]) -> T:
    """``work()``, in a real OS thread when the process is gevent-patched."""
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("threading"):
        import gevent

        return gevent.get_hub().threadpool.apply(work)
    return work()
