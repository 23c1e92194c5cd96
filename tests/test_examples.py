"""Every example runs offline on generated data, as a user would run it (a subprocess), and does
what its documentation claims: each example has a check of its claims (not only of some text).

The examples are started together and awaited, so the slowest one sets the test's wall time.
"""

from __future__ import annotations

import hashlib
import itertools
import re
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

FUNNEL_LINE = re.compile(r"^\s+(\w+)\s+in\s+([\d,]+)\s+removed\s+([\d,]+)$", re.MULTILINE)


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def funnel_rows_out(stdout: str) -> int:
    """The rows left by the printed filter funnel: the last step's rows in minus rows removed,
    after checking that every step starts with what the one before left."""
    steps = [(name, _int(rows_in), _int(removed)) for name, rows_in, removed in FUNNEL_LINE.findall(stdout)]
    assert len(steps) >= 8, stdout[:2000]
    for (_n1, in1, rm1), (name, in2, _rm2) in itertools.pairwise(steps):
        assert in2 == in1 - rm1, f"funnel step {name} starts with {in2}, not {in1 - rm1}"
    return steps[-1][1] - steps[-1][2]


def check_quickstart(stdout: str, cwd: Path) -> None:
    """Claims: a German (Deutsche Telekom) address is valid evidence, its network identified by the
    shipped IP-to-ASN data, every required criterion passing; an Akamai address is not valid."""
    first = stdout.split("\n\n", 1)[0]
    assert (
        "93.192.0.1 on 2024-06-01: the database places it in DE (Germany). Country location evidence: VALID."
        in first
    )
    assert "Every required criterion passed." in first
    assert "AS3320 (Deutsche Telekom AG), ASN from shipped IP-to-ASN table" in first
    criteria = [line for line in stdout.splitlines() if line.startswith("  - [")]
    assert len(criteria) >= 10
    assert not [line for line in criteria if line.endswith((" - FAIL", " - insufficient"))]
    assert "outcome: valid" in stdout
    assert re.search(r"^2\.16\.1\.1 \(AS20940, Akamai[^)]*\): not valid$", stdout, re.MULTILINE), stdout[
        -500:
    ]


def check_reproduce_paper(stdout: str, cwd: Path) -> None:
    """Claims: the reference preset's and the default policy's Table 8 on the same ground truth, the
    ground truth built through the printed funnel, the naive methods, and a report written."""
    rows = funnel_rows_out(stdout)
    assert f"ground truth: {rows:,} IPv4 rows" in stdout
    assert re.search(r"archive days: \d+ used, 0 missing, 1 corrupt", stdout)
    assert "Policy reference: threshold 95 % on point estimates" in stdout
    assert "Policy default: threshold 95 % on lower bounds" in stdout
    assert stdout.count("Evidential data of IP country location evidence dated to 2024 (2022-2024)") == 2
    assert "Naive methods for evidence in" in stdout
    out = cwd / "reproduce-report"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "How this was computed" in html
    assert "Appendix: full provenance" in html
    manifest = (out / "report.sha256").read_text(encoding="utf-8").splitlines()
    for line in manifest:  # sha256sum -c: every file of the set is what the manifest says
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name


def check_compare_databases(stdout: str, cwd: Path) -> None:
    """Claims: the shipped database against a build five months later with 3 % of its ranges moved
    to another country: both locate every address; they agree on most, not all."""
    assert "2 databases, 200000 IPv4 addresses" in stdout
    assert "IP2LOCATION-LITE-DB1-2024-10-01.BIN: ip2location-bin, built 2024-10-01" in stdout
    assert "moved-ranges-2025-03-01.csv: csv-ranges, built 2025-03-01" in stdout
    assert stdout.count("located 200000 (100.0%)") == 2
    m = re.search(r"agree (\d+) of 200000 located by both \(([\d.]+)%\)", stdout)
    assert m, stdout
    assert 90.0 <= float(m.group(2)) < 100.0
    pairs = re.findall(r"^\s+([A-Z]{2}) -> ([A-Z]{2}): (\d+)$", stdout, re.MULTILINE)
    assert pairs
    assert all(a != b for a, b, _n in pairs)
    shown = sum(int(n) for *_ab, n in pairs)
    assert shown <= 200000 - int(m.group(1))


def check_tamper_moodle(stdout: str, cwd: Path) -> None:
    """Claims: the planted VPN hop, cloud address, credentials sharing and private address are
    found at the lines where they were planted; the neighbour hop and the flight are not; nothing
    else is found."""
    assert "moodle-logs.csv: 529 lines, 528 entries, 0 malformed" in stdout
    assert "4 findings (1 impossible travel, 1 cross-service, 1 hosting/VPN, 1 non-public)" in stdout
    cases = {
        m.group(1): (m.group(2), m.group(3))
        for m in re.finditer(r"^  - (\w+) \(\S+; planted at ([^)]*)\): (.*)$", stdout, re.MULTILINE)
    }
    assert set(cases) == {
        "vpn_hop",
        "neighbour_hop",
        "plausible_flight",
        "cloud_address",
        "credentials_sharing",
        "private_address",
    }
    kinds = {
        "vpn_hop": "impossible_travel",
        "cloud_address": "hosting_address",
        "credentials_sharing": "cross_service",
        "private_address": "non_public_address",
    }
    for scenario, (planted, result) in cases.items():
        if scenario in kinds:
            # found, at exactly the planted file lines (a cross-service finding names all three)
            m = re.fullmatch(r"found: F\d+ (\w+) at (.*)", result)
            assert m, (scenario, result)
            assert m.group(1) == kinds[scenario]
            assert set(m.group(2).split(", ")) <= set(planted.split(", "))
        else:
            assert result == "not found, as it must not be", (scenario, result)
    assert "0 findings outside the planted cases; every planted case as expected" in stdout


def check_dask_ingestion(stdout: str, cwd: Path) -> None:
    """Claims: days parsed on a local Dask cluster of 2 worker processes, the ground truth built
    through the printed funnel, the countries with the most ground truth listed largest first."""
    assert re.search(r"cluster: <Client: 'tcp://127\.0\.0\.1:\d+' processes=2", stdout)
    rows = funnel_rows_out(stdout)
    assert re.search(rf"ground truth: {rows:,} IPv4 rows in [\d.]+ s", stdout)
    m = re.search(r"most ground truth: (.*)$", stdout, re.MULTILINE)
    assert m
    counts = [int(x.split()[1]) for x in m.group(1).split(", ")]
    assert len(counts) == 5
    assert counts == sorted(counts, reverse=True)
    assert sum(counts) <= rows


CHECKS = {
    "quickstart.py": check_quickstart,
    "reproduce_paper.py": check_reproduce_paper,
    "compare_databases.py": check_compare_databases,
    "tamper_moodle.py": check_tamper_moodle,
    "dask_ingestion.py": check_dask_ingestion,
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
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED) == sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str, runs: dict[str, tuple[int, str, str, Path]]) -> None:
    code, stdout, stderr, cwd = runs[name]
    assert code == 0, stderr[-3000:]
    for text in EXPECTED[name]:
        assert text in stdout, f"{name}: {text!r} not in output"
    if name != "dask_ingestion.py":
        assert DATABASE_ATTRIBUTION in stdout
    CHECKS[name](stdout, cwd)


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
