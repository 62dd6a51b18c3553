"""What a process started from a terminal has that one started by a test runner may not."""

from __future__ import annotations

import signal


def ctrl_c_as_in_a_terminal() -> None:
    """A ``preexec_fn``: SIGINT back to its default in the child, so that Python turns Ctrl-C into
    ``KeyboardInterrupt`` there. A runner started in the background of a shell without job control
    (``cmd &``, ``nohup``) ignores SIGINT, every child inherits that, and Python then leaves it
    ignored: a test sending Ctrl-C would wait for nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
