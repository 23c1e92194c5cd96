"""The command's entry point, :func:`main`: parse the command line, run the subcommand's handler,
turn what it raises into one ``ipevidence: error: ...`` line and an exit code."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from .common import Console, Context, ExitCode, _discard_stream, exit_code_for
from .parser import build_parser


@contextlib.contextmanager
def _library_warnings(console: Console) -> Iterator[None]:
    """The library's warnings (a cache that cannot be written, ...) as one ``ipevidence:
    warning:`` line each, without the Python source location."""
    with warnings.catch_warnings():

        def show(message: Warning | str, category: type[Warning], *_args: Any, **_kw: Any) -> None:
            console.warn(str(message))

        warnings.showwarning = show
        yield


def _exit_now_if_threads_linger(code: int, grace: float = 0.5) -> None:
    """After Ctrl-C: if worker threads (a download blocked in a read, up to its read timeout)
    are still running after ``grace`` seconds, leave at once (``os._exit``) instead of letting
    the interpreter join them at exit. Every file the library writes is written atomically, so
    nothing partial is visible; a leftover temporary is removed by the next run."""
    import threading
    import time

    deadline = time.monotonic() + grace
    others = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
    for t in others:
        t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in others):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (``python -m ipevidence`` passes it to sys.exit)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else ExitCode.USAGE
    console = Console(quiet=args.quiet)
    ctx = Context(args, console)
    try:
        with _library_warnings(console):
            code = int(args.handler(ctx))
        console.flush()
        return code
    except KeyboardInterrupt:
        print("ipevidence: interrupted", file=sys.stderr)
        _exit_now_if_threads_linger(ExitCode.INTERRUPTED)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # written past the Console (a progress bar): stop quietly
        _discard_stream(sys.stdout)
        _discard_stream(sys.stderr)
        return ExitCode.BROKEN_PIPE
    except Exception as exc:
        code = exit_code_for(exc)
        if args.debug:
            import traceback

            traceback.print_exc()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if code == ExitCode.INTERNAL:
            message = f"internal error ({type(exc).__name__}: {message}); rerun with --debug and report it"
        elif code == ExitCode.USAGE:
            parser_usage = f"usage: ipevidence {args.command} ..."
            print(parser_usage, file=sys.stderr)
        print(f"ipevidence: error: {message}", file=sys.stderr)
        return code
