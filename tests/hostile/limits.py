"""Helpers of the hostile-input tests: run a child Python under a memory limit (resource.setrlimit).

A test file in tests/hostile imports them as ``from limits import run_limited, run_cli_limited``.
They were first in tests/hostile/conftest.py, which was removed: a second module named ``conftest``
replaces tests/conftest.py in ``sys.modules`` when pytest loads it, so the many test files that do
``from conftest import shared_file`` failed to import whenever tests/hostile was collected first."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

#: The memory bound every hostile case runs under (address space of the child process).
MEMORY_LIMIT = 1536 * 2**20

_PRELUDE = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
"""


@dataclass(frozen=True)
class Limited:
    """What a limited child process did: its exit code, standard output and standard error."""

    returncode: int
    stdout: str
    stderr: str


def run_limited(
    code: str,
    *,
    cwd: Path | None = None,
    limit: int = MEMORY_LIMIT,
    timeout: float = 120.0,
    args: tuple[str, ...] = (),
) -> Limited:
    """Run Python ``code`` in a fresh interpreter whose address space is capped at ``limit`` bytes."""
    script = _PRELUDE.format(limit=limit) + textwrap.dedent(code)
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Limited(proc.returncode, proc.stdout, proc.stderr)


def run_cli_limited(
    argv: list[str], *, cwd: Path | None = None, limit: int = MEMORY_LIMIT, timeout: float = 120.0
) -> Limited:
    """Run the ``ipevidence`` command (``python -m ipevidence``) under the memory limit."""
    code = "import sys\nfrom ipevidence.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return run_limited(code, cwd=cwd, limit=limit, timeout=timeout, args=tuple(argv))
