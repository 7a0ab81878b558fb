"""Entry point of `segaudit`: builds the parser from each command group and maps errors to exit codes.

Exit codes: 0 success, 1 gate failed, 2 bad input or usage (the message names the file, row or field),
3 internal error (a bug: one line on the console, the traceback in a log file), 130 interrupted (Ctrl-C),
143 terminated (SIGTERM). Both interruptions unwind like Ctrl-C, so every staged output is removed on the way.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from segaudit.app.cli import (
    audit_command,
    card_command,
    data_commands,
    demo_command,
    docs_command,
    dp_audit_command,
    fairness_command,
    gate_command,
    mask_ap_command,
    model_commands,
    privacy_command,
    quantize_command,
)
from segaudit.audit import __version__
from segaudit.core.errors import InputError, PartialFailure

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_PARTIAL_FAILURE = 4  # e.g. k of K shadow models failed for good; a rerun resumes
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it unwinds like Ctrl-C and staging is cleaned up (by default
    SIGTERM ends the process on the spot, leaving staged files behind)."""


def _terminated_in(pid: int):  # noqa: ANN202
    def handler(signum: int, frame: object) -> None:
        if os.getpid() != pid:  # a forked child (a pool worker) inherited the handler: end as SIGTERM would,
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not unwind while it may hold a lock shared with
            os.kill(os.getpid(), signal.SIGTERM)  # its siblings (Pool.terminate sends SIGTERM to its workers)
            return
        raise Terminated()
    return handler


@contextlib.contextmanager
def _sigterm_unwinds():
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminated_in(os.getpid()))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segaudit",
        description="Fairness, privacy and documentation audits for human-segmentation models, "
        "with the models they audit.",
        epilog="Every command has --help. Exit codes: 0 ok, 1 gate failed, 2 bad input or usage, 3 internal "
        "error (a bug; the traceback is written to a log file named on the console).",
    )
    parser.add_argument("--version", action="version", version=f"segaudit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    data_commands.register(commands)
    model_commands.register(commands)
    fairness_command.register(commands)
    quantize_command.register(commands)
    audit_command.register(commands)
    demo_command.register(commands)
    gate_command.register(commands)
    card_command.register(commands)
    privacy_command.register(commands)
    dp_audit_command.register(commands)
    mask_ap_command.register(commands)
    docs_command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for provenance: the command as it was given
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s" if args.verbose else "%(message)s")
    try:
        with _sigterm_unwinds():
            return int(args.handler(args) or 0)
    except InputError as error:
        print(f"segaudit: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PartialFailure as error:
        print(f"segaudit: error: {error}", file=sys.stderr)
        return EXIT_PARTIAL_FAILURE
    except OSError as error:
        if error.filename is None:  # no file named: not something the user can fix by pointing elsewhere
            return _internal_error(args.argv, error)
        print(f"segaudit: error: {error.filename}: {error.strerror or error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as interruption:
        how = "terminated" if isinstance(interruption, Terminated) else "interrupted"
        print(f"segaudit: {how}; nothing half-written was kept", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(interruption, Terminated) else EXIT_INTERRUPTED
    except Exception as error:  # a bug, not the user's input: one line here, the details in a log
        return _internal_error(args.argv, error)


def _internal_error(argv: Sequence[str], error: BaseException) -> int:
    log = write_crash_log(argv, error)
    print(f"segaudit: internal error ({type(error).__name__}: {error}); this is a bug in segaudit, not in "
          f"your input. The traceback is in {log}", file=sys.stderr)
    return EXIT_INTERNAL


def write_crash_log(argv: Sequence[str], error: BaseException) -> Path:
    """The traceback and the command line in a new file under the temporary folder; returns its path."""
    handle, name = tempfile.mkstemp(prefix=f"segaudit-crash-{time.strftime('%Y%m%dT%H%M%S')}-", suffix=".log")
    with open(handle, "w", encoding="utf-8") as log:
        log.write(f"segaudit {__version__}\ncommand: segaudit {' '.join(argv)}\n\n")
        log.write("".join(traceback.format_exception(error)))
    return Path(name)


if __name__ == "__main__":
    sys.exit(main())
