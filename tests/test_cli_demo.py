"""``ipevidence demo`` as a user runs it (smaller sizes), then the other commands on its output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ipevidence.cli import ExitCode
from ipevidence.defaults import DATABASE_ATTRIBUTION
from ipevidence.report.document import PNG_SIGNATURE
from test_cli import run
from test_report_document import check_html


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    cwd = tmp_path_factory.mktemp("demo")
    out = run("demo", "--probes", "700", "--years", "3", "--every", "30", cwd=cwd, timeout=300)
    assert out.returncode == ExitCode.OK, out.stderr
    return cwd / "ipevidence-demo", out.stdout, out.stderr


def test_demo_prints_the_funnel_table_and_verdicts(demo: tuple[Path, str, str]) -> None:
    _, stdout, stderr = demo
    assert "Filter funnel (IPv4)" in stdout
    assert "Evidential data of IP country location evidence dated to 2024 (2022-2024)" in stdout
    assert "Country location evidence: VALID." in stdout
    assert "Country location evidence: INSUFFICIENT DATA." in stdout
    assert "Country location evidence: NOT VALID." in stdout  # the cloud address
    assert "192.168.1.20 refused" in stdout
    assert "GENERATED archive" in stdout
    assert stdout.rstrip().endswith(DATABASE_ATTRIBUTION)
    assert "generating an archive of 700 probes" in stderr
    assert "Traceback" not in stderr


def test_demo_writes_a_self_contained_report(demo: tuple[Path, str, str]) -> None:
    out_dir, _, _ = demo
    html = (out_dir / "report.html").read_text(encoding="utf-8")
    checker = check_html(html)
    assert "http://" not in html.replace(DATABASE_ATTRIBUTION, "")
    assert checker.images >= 4
    assert "How this was computed" in html
    assert "About this demo" in html
    figures = sorted((out_dir / "figures").glob("*.png"))
    assert {f.name for f in figures} >= {"accuracy-per-year.png", "naive-methods.png", "lr-per-year.png"}
    assert any(f.name.startswith("coverage-") for f in figures)
    for f in figures:
        data = f.read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert len(data) > 5000
    report = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    prov = report["provenance"]
    assert prov["demo"]["probes"] == 700
    assert prov["database"]["name"] == "IP2LOCATION-LITE-DB1-2024-10-01.BIN"
    assert prov["policy"]["geography_required"] is False
    archive = prov["ground_truth"]["archive"]
    assert len(archive["days_corrupt"]) == 1
    assert archive["days_used"] > 25
    assert report["attribution"] == [DATABASE_ATTRIBUTION]
    summary = json.loads((out_dir / "demo.json").read_text(encoding="utf-8"))
    assert [c["outcome"] for c in summary["cases"]][3] is None
    assert summary["cases"][3]["error"].startswith("'192.168.1.20'")


def test_other_commands_use_the_demo_ground_truth(demo: tuple[Path, str, str]) -> None:
    out_dir, _, _ = demo
    gt = str(out_dir / "ground-truth-v4.npz")
    table = run("--ground-truth", gt, "table", "US", "DE", "--date", "2024-06-01", "--json", "-q")
    assert table.returncode == ExitCode.OK, table.stderr
    rows = json.loads(table.stdout)["table"]["rows"]
    assert [r[0] for r in rows] == ["US", "DE"]
    # the default policy (geography required) is stricter than the demo's on generated probes
    verdict = run("--ground-truth", gt, "assess", "2.56.243.17", "--date", "2024-06-01", "--json", "-q")
    assert verdict.returncode == ExitCode.INSUFFICIENT_DATA
    assert json.loads(verdict.stdout)["located_country"] == "IS"


def test_demo_rejects_bad_sizes(tmp_path: Path) -> None:
    out = run("demo", "--probes", "0", "-o", str(tmp_path / "d"))
    assert out.returncode == ExitCode.USAGE
    assert "probes must be at least 1" in out.stderr
