"""A heartbeat for long benchmark phases: a line on stderr when a phase starts and every few seconds after.

``make bench`` runs for minutes; a phase that takes longer than a few seconds (a viewmaker step under
load, a 1000-setting flow) would otherwise leave the terminal silent. The beat comes from a daemon
thread that sleeps between lines (torch and numpy release the GIL while they compute), so the timed
code runs unchanged; the lines go to stderr, leaving the printed tables on stdout as they were.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator

EVERY_S = 4.0
"""Seconds between two lines of a running phase."""


@contextlib.contextmanager
def heartbeat(what: str, every: float = EVERY_S) -> Iterator[None]:
    """Say ``what`` on stderr now, then every ``every`` seconds until the block ends."""
    print(f"# {what}", file=sys.stderr, flush=True)
    stop = threading.Event()
    start = time.perf_counter()

    def beat() -> None:
        while not stop.wait(every):
            print(f"#   ... {what}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

    thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
