"""The ``datacur`` command line: a root typer app joined from one module per command group.

Each module in ``COMMAND_MODULES`` exposes ``register(app: typer.Typer) -> None``. Modules
are imported here (statically), but heavy libraries (TensorFlow, cleanlab) are imported inside the
commands, so ``datacur --help`` stays fast.
"""

from __future__ import annotations

import os
import signal
import sys
from types import ModuleType
from typing import Annotated

import typer

from datacur.cli._common import DatacurGroup

# TensorFlow's C++ start-up chatter (oneDNN notices, absl warnings) is not for users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

# Imported after the environment defaults above, which some of them read at import time.
from datacur.cli import (
    apply_cmd,
    augment_cmd,
    cap_cmd,
    check_cmd,
    compare_cmd,
    evaluate_cmd,
    fidelity_cmd,
    leaderboard_cmd,
    mix_cmd,
    models_cmd,
    noise_cmd,
    report_cmd,
    review_cmd,
    runs_cmd,
    score_cmd,
    shift_cmd,
    show_cmd,
    sweep_cmd,
    synth_cmd,
)

COMMAND_MODULES: tuple[ModuleType, ...] = (
    evaluate_cmd,
    leaderboard_cmd,
    models_cmd,
    cap_cmd,
    check_cmd,
    noise_cmd,
    apply_cmd,
    review_cmd,
    augment_cmd,
    mix_cmd,
    compare_cmd,
    report_cmd,
    sweep_cmd,
    fidelity_cmd,
    synth_cmd,
    show_cmd,
    shift_cmd,
    score_cmd,
    runs_cmd,
)
"""Every command group, in the order ``--help`` lists them; each has ``register(app)``.
Imported statically, so type checkers and "find references" follow them."""


def build_app() -> typer.Typer:
    """Build the root app with every command group registered."""
    app = typer.Typer(
        name="datacur",
        cls=DatacurGroup,
        help=(
            "Curate datasets for a fixed model: synthesise, augment, mix, find noise, review, "
            "cap and score dataset variants of handwritten Roman numerals."
        ),
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
        add_completion=False,
        rich_markup_mode="markdown",
    )
    app.callback()(_root)
    for module in COMMAND_MODULES:
        module.register(app)
    return app


def _version_callback(value: bool) -> None:
    if value:
        from datacur import __version__

        typer.echo(f"datacur {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
    follow_links: Annotated[
        bool,
        typer.Option(
            "--follow-links",
            help="Follow symbolic links in variants and folders when they stay inside them "
            "(default: refuse every link). Same as DATACUR_FOLLOW_LINKS=1.",
        ),
    ] = False,
) -> None:
    """Curate datasets for a fixed model (DCAI 2021 Roman numerals).

    Build variants with synth, augment and mix; find problems with check and noise; fix
    them with review and apply; keep under the cap; score with evaluate; compare with
    leaderboard, compare and report.
    """
    if follow_links:  # an environment variable, so worker processes see it too
        from datacur.variant import FOLLOW_LINKS_ENV

        os.environ[FOLLOW_LINKS_ENV] = "1"


TENSORFLOW_COMMANDS = frozenset({"noise", "sweep"})
"""Commands that train models: TensorFlow is imported quietly before they run (not for
``--help``, nor for ``noise --no-model``, which trains nothing and must start in a second).
``evaluate`` imports it itself, once its inputs are checked; ``score`` too, once it has
forked the workers that fingerprint the test images meanwhile (issue 27's 15 s)."""


_HANDLER_PID = os.getpid()
"""The process whose SIGTERM means "stop the command" (set again when main() installs it)."""


def _interrupt_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (``kill``, a job scheduler, a closing terminal) takes the Ctrl-C path: worker
    processes are terminated, partial output is removed and no traceback is printed.

    In a forked child that has not yet dropped the handler (see :func:`_default_sigterm`),
    end at once as the default action would: an exception there can be swallowed by an
    at-fork hook and leave the child running while its pool waits for it.
    """
    if os.getpid() != _HANDLER_PID:
        os._exit(128 + signum)
    _INTERRUPT_RECEIVED.append(signum)
    raise KeyboardInterrupt


_INTERRUPT_RECEIVED: list[int] = []
"""Signals that asked the command to stop (SIGINT, SIGTERM), in the order they came."""


def _interrupt_on_sigint(signum: int, frame: object) -> None:
    """Ctrl-C raises KeyboardInterrupt as usual, but is also noted: when it lands inside
    TensorFlow's C++ (tracing, an op's Python callback), TensorFlow can turn it into
    another exception, and that one must still read as an interruption, not a crash."""
    _INTERRUPT_RECEIVED.append(signum)
    signal.default_int_handler(signum, frame)  # type: ignore[arg-type]


def _default_sigterm() -> None:
    """In a forked child (``multiprocessing.Pool`` in mix and noise), SIGTERM is how its pool
    stops it: keep the default action there (end at once), not the CLI's handler."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else argv
    global _HANDLER_PID
    _HANDLER_PID = os.getpid()
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    signal.signal(signal.SIGINT, _interrupt_on_sigint)
    os.register_at_fork(after_in_child=_default_sigterm)
    try:
        if _needs_tensorflow(args):
            from datacur._tf import import_tensorflow_quietly

            import_tensorflow_quietly(announce=True)
        build_app()(args=argv, prog_name="datacur")
    except SystemExit as done:
        if done.code in (0, None) and args[:1] == ["score"] and "tensorflow" in sys.modules:
            # Everything is written and closed; skip TensorFlow's module teardown (~1 s
            # of score's 15 s budget, issue 27). Only a real process gets here, not tests.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        raise
    except KeyboardInterrupt:
        _abort()
    except Exception:
        if _INTERRUPT_RECEIVED:  # an interruption TensorFlow re-raised as something else
            _abort()
        raise


def _needs_tensorflow(args: list[str]) -> bool:
    if not args or args[0] not in TENSORFLOW_COMMANDS or "--help" in args:
        return False
    return not (args[0] == "noise" and "--no-model" in args)


def _abort() -> None:
    sys.stderr.write("Aborted.\n")
    sys.exit(130)
