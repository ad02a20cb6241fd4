"""Import TensorFlow without its C++ start-up chatter on the terminal.

TensorFlow 2.21 prints absl/oneDNN notices straight to file descriptor 2 while it is
imported, before ``TF_CPP_MIN_LOG_LEVEL`` is consulted. They are noise for a CLI user, so
the import runs with fd 2 pointed at /dev/null; Python-level errors still surface normally
(the exception is raised after fd 2 is restored).
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["import_tensorflow_quietly"]


def import_tensorflow_quietly(*, announce: bool = False) -> Any:
    """Import and return ``tensorflow`` (and Keras), silencing only the import's C++ logs.

    With ``announce`` and a terminal on stderr, a rich spinner "Loading TensorFlow..." runs
    while the import does (seconds to tens of seconds on a loaded machine); it draws on a
    copy of the real stderr, since fd 2 itself is muted meanwhile, and is erased afterwards.
    """
    if "tensorflow" in sys.modules:
        loaded = sys.modules["tensorflow"]
        loaded.get_logger().setLevel("ERROR")
        return loaded
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    announce = announce and sys.stderr.isatty()
    sys.stderr.flush()
    saved = os.dup(2)
    spinner = _start_spinner(saved) if announce else None
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import keras  # noqa: F401  (imports tensorflow as its backend)
                import tensorflow
            finally:
                os.dup2(saved, 2)
    finally:
        if spinner is not None:
            status, stream = spinner
            status.stop()
            stream.close()
        os.close(saved)
    # tf.function's "N out of the last M calls ... triggered retracing" warning appears when
    # one process trains several runs (evaluate --seeds N --jobs 1) and predicts test sets
    # of other sizes: expected here, and no action a user can take.
    tensorflow.get_logger().setLevel("ERROR")
    return tensorflow


def _start_spinner(terminal_fd: int) -> tuple[Any, Any]:
    """A started rich status spinner on its own copy of ``terminal_fd``, and that stream."""
    from rich.console import Console

    stream = os.fdopen(os.dup(terminal_fd), "w")
    status = Console(file=stream, force_terminal=True).status("Loading TensorFlow...")
    status.start()
    return status, stream
