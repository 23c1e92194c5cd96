"""The ``ipevidence`` command driven as a user would: a subprocess, real files, exit codes, output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ipevidence.cli import ExitCode, exit_code_for
from ipevidence.defaults import DATABASE_ATTRIBUTION
from ipevidence.errors import (
    ArchiveCorruptError,
    DatabaseFormatError,
    GroundTruthFormatError,
    InvalidAddressError,
    OutsideGroundTruthError,
    ReservedAddressError,
    UnknownCountryError,
)


def run(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ipevidence", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg", "HOME": str(cwd or Path.cwd())},
    )


def test_help_lists_every_subcommand_and_the_attribution() -> None:
    out = run("--help")
    assert out.returncode == 0
    for name in ("fetch", "build", "table", "assess", "tamper", "report", "demo"):
        assert name in out.stdout
    assert DATABASE_ATTRIBUTION in " ".join(out.stdout.split())
    assert "Exit codes" in out.stdout


def test_version() -> None:
    out = run("--version")
    assert out.returncode == 0
    assert out.stdout.startswith("ipevidence ")


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("frobnicate",),
        ("assess", "8.8.8.8"),
        ("assess", "8.8.8.8", "--date", "2021-13-01"),
        ("tamper", "x.log", "--format", "nope"),
        ("build", "2020-01-01"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    out = run(*args)
    assert out.returncode == ExitCode.USAGE
    assert "usage:" in out.stderr
    assert "Traceback" not in out.stderr


def test_global_options_after_the_subcommand(tmp_path: Path) -> None:
    out = run("assess", "8.8.8.8", "--date", "2021-01-01", "--database", str(tmp_path / "none.bin"))
    assert out.returncode == ExitCode.DATA_ERROR
    assert out.stderr.strip().splitlines()[-1].startswith("ipevidence: error: ")
    assert "none.bin" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_ground_truth_is_one_clear_line(tmp_path: Path) -> None:
    out = run("assess", "8.8.8.8", "--date", "2021-01-01", "--ground-truth", str(tmp_path / "gt.npz"))
    assert out.returncode == ExitCode.DATA_ERROR
    lines = out.stderr.strip().splitlines()
    assert lines[-1] == f"ipevidence: error: {tmp_path / 'gt.npz'}: no such ground-truth file"
    assert "Traceback" not in out.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    out = run("--debug", "assess", "8.8.8.8", "--date", "2021-01-01", "--ground-truth", str(tmp_path / "gt"))
    assert out.returncode == ExitCode.DATA_ERROR
    assert "Traceback" in out.stderr


def test_exit_code_mapping() -> None:
    assert exit_code_for(InvalidAddressError("x")) == ExitCode.INPUT_ERROR
    assert exit_code_for(ReservedAddressError("10.0.0.1", "private")) == ExitCode.INPUT_ERROR
    assert exit_code_for(UnknownCountryError("QQ")) == ExitCode.INPUT_ERROR
    assert exit_code_for(OutsideGroundTruthError("2030")) == ExitCode.INPUT_ERROR
    assert exit_code_for(DatabaseFormatError("bad")) == ExitCode.DATA_ERROR
    assert exit_code_for(GroundTruthFormatError("bad")) == ExitCode.DATA_ERROR
    assert exit_code_for(ArchiveCorruptError("bad")) == ExitCode.DATA_ERROR
    assert exit_code_for(FileNotFoundError("x")) == ExitCode.DATA_ERROR
    assert exit_code_for(KeyboardInterrupt()) == ExitCode.INTERRUPTED
    assert exit_code_for(ZeroDivisionError()) == ExitCode.INTERNAL
