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

    With ``announce``, a terminal shows "Loading TensorFlow..." while the import runs (it
    takes seconds, and fd 2 is muted meanwhile, so no spinner can run); the line is erased
    afterwards. Nothing is written when stderr is not a terminal.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    announce = announce and sys.stderr.isatty()
    if announce:
        sys.stderr.write("Loading TensorFlow...\r")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import keras  # noqa: F401  (imports tensorflow as its backend)
                import tensorflow
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
        if announce:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
    return tensorflow
