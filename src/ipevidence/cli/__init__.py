"""The ``ipevidence`` command.

Subcommands: ``fetch``, ``build``, ``table``, ``assess``, ``triage``, ``tamper``, ``report``, ``demo``. Global
options (``--database``, ``--ground-truth``, ``--cache-dir``, ``--quiet``, ``--debug``) may be given
before or after the subcommand. Results go to standard output; progress, warnings and errors go to
standard error. An error is one line ``ipevidence: error: ...`` without a traceback unless
``--debug``. Exit codes (:class:`ExitCode`) are stable so scripts can rely on them.

What lives where (heavy modules are imported only inside the commands, and a command's module
only when that command runs, so starting is fast):

- :mod:`.run`: :func:`main`, the entry point (parse, dispatch, error -> one line and an exit code);
- :mod:`.parser`: :func:`build_parser`, every option and the parsers of option values;
- :mod:`.common`: :class:`ExitCode` and :func:`exit_code_for`, :class:`Console`, :func:`require`,
  :class:`Context` (database or catalogue, ground truth, cache directory), shared helpers;
- :mod:`.archive`: ``fetch`` and ``build``;
- :mod:`.assess`: ``table``, ``assess`` and ``report``;
- :mod:`.triage`: ``triage``;
- :mod:`.tamper`: ``tamper``;
- :mod:`.staleness`: ``staleness``;
- :mod:`.demo`: ``demo``.
"""

from __future__ import annotations

from .common import ExitCode, FeatureUnavailableError, exit_code_for
from .parser import build_parser
from .parser import parse_asn as parse_asn
from .run import main

__all__ = ["ExitCode", "FeatureUnavailableError", "build_parser", "exit_code_for", "main"]
