"""Every example runs offline on generated data, as a user would run it (a subprocess).

The examples are started together and awaited, so the slowest one sets the test's wall time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ipevidence.defaults import DATABASE_ATTRIBUTION

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

EXPECTED = {
    "quickstart.py": [
        "93.192.0.1 on 2024-06-01: the database places it in DE",
        "outcome: valid",
        "2.16.1.1 (AS20940, Akamai",
        "): not valid",
    ],
    "reproduce_paper.py": [
        "generated a flat archive folder",
        "Evidential data of IP country",
        "Naive methods",
    ],
    "compare_databases.py": ["2 databases, 200000 IPv4 addresses", "moved-ranges-2025-03-01.csv"],
    "tamper_moodle.py": ["Evidence windows", "Planted cases"],
    "dask_ingestion.py": ["cluster: <Client", "ground truth:", "most ground truth:"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str, Path]]:
    """Run every example at once, each in its own empty working directory."""
    procs = {}
    for name in sorted(EXPECTED):
        cwd = tmp_path_factory.mktemp(name.removesuffix(".py"))
        procs[name] = (
            subprocess.Popen(
                [sys.executable, str(EXAMPLES / name)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=cwd,
                env={"PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg", "HOME": str(cwd)},
            ),
            cwd,
        )
    out = {}
    for name, (proc, cwd) in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        out[name] = (proc.returncode, stdout, stderr, cwd)
    return out


def test_every_example_is_listed() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str, runs: dict[str, tuple[int, str, str, Path]]) -> None:
    code, stdout, stderr, cwd = runs[name]
    assert code == 0, stderr[-3000:]
    for text in EXPECTED[name]:
        assert text in stdout, f"{name}: {text!r} not in output"
    if name != "dask_ingestion.py":
        assert DATABASE_ATTRIBUTION in stdout
    if name == "reproduce_paper.py":
        html = (cwd / "reproduce-report" / "report.html").read_text(encoding="utf-8")
        assert "How this was computed" in html


def test_example_usage_message(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "compare_databases.py"), "only-one-argument"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode == 2
    assert "Compare two geolocation databases" in out.stdout
