"""``ipevidence demo`` as a user runs it (smaller sizes), then the other commands on its output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ipevidence.assessment import Policy
from ipevidence.cli import ExitCode
from ipevidence.defaults import DATABASE_ATTRIBUTION
from ipevidence.jsonutil import canonical_json
from ipevidence.report.document import PNG_SIGNATURE
from test_cli import run
from test_report_document import check_html


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    cwd = tmp_path_factory.mktemp("demo")
    # sizes at which the planted Italian case has enough data (1,000 addresses) to be NOT VALID
    out = run("demo", "--probes", "2000", "--years", "4", "--every", "14", cwd=cwd, timeout=300)
    assert out.returncode == ExitCode.OK, out.stderr
    return cwd / "ipevidence-demo", out.stdout, out.stderr


def test_demo_prints_the_funnel_table_and_verdicts(demo: tuple[Path, str, str]) -> None:
    _, stdout, stderr = demo
    assert "Filter funnel (IPv4)" in stdout
    assert "Evidential data of IP country location evidence dated to 2024 (2021-2024)" in stdout
    cases = stdout.split("Assessed addresses (outcome, then the one-sentence reason):")[1].splitlines()
    summary = json.loads((demo[0] / "demo.json").read_text(encoding="utf-8"))
    # each printed verdict gives its outcome and its one-sentence reason (the verdict's first reason)
    assert ", VALID. Every required criterion passed." in cases[1]
    assert cases[2].startswith("  - an address in IT (planted")
    assert "placed in IT, NOT VALID. Hist min, lowest yearly accuracy" in cases[2]
    assert "the policy requires >= 95.00 %" in cases[2]
    assert ", INSUFFICIENT DATA. Ground-truth addresses of IS" in cases[3]
    assert "192.168.1.20 refused" in cases[4]
    assert "a cloud address" in cases[5]
    assert "NOT VALID. Address in a cloud or hosting network is " in cases[5]
    # the planted corrupt archive day is named with its reason, in the output and in demo.json
    corrupt = [line for line in stdout.splitlines() if line.startswith("Archive days: ")]
    assert len(corrupt) == 1
    assert ", 1 corrupt: 20" in corrupt[0]
    assert "(truncated bzip2 stream" in corrupt[0]
    assert summary["archive_note"] == corrupt[0]
    # Table 8 is followed by why each country that is not valid is not: IT fails on its accuracy
    why = stdout.split("Why: the criteria behind each outcome that is not valid")[1].split("\n\n")[0]
    it_rows = [line.split() for line in why.splitlines() if line.startswith("IT ")]
    assert it_rows
    assert it_rows[0][:5] == ["IT", "not", "valid", "Hist", "min,"]
    assert all(row[-1] in ("FAIL", "measured") for row in it_rows)
    assert "geography_required" not in stdout
    assert "GENERATED archive" in stdout
    assert stdout.rstrip().endswith(DATABASE_ATTRIBUTION)
    assert "generating an archive of 2,000 probes" in stderr
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
    assert prov["demo"]["probes"] == 2000
    assert prov["database"]["name"] == "IP2LOCATION-LITE-DB1-2024-10-01.BIN"
    # the library's default policy, unchanged
    assert prov["policy"] == json.loads(canonical_json(Policy.preset("default").to_dict()))
    assert prov["policy"]["geography_required"] is True
    archive = prov["ground_truth"]["archive"]
    assert len(archive["days_corrupt"]) == 1
    assert archive["days_used"] > 25
    # the database's attribution, and the shipped IP-to-ASN data's (the network check used it)
    assert report["attribution"][0] == DATABASE_ATTRIBUTION
    assert any(line.startswith("IP-to-ASN data") for line in report["attribution"][1:])
    summary = json.loads((out_dir / "demo.json").read_text(encoding="utf-8"))
    assert [c["outcome"] for c in summary["cases"]][3] is None
    assert summary["cases"][3]["error"].startswith("'192.168.1.20'")
    assert [c["outcome"] for c in summary["cases"]] == [
        "valid",
        "not valid",
        "insufficient data",
        None,
        "not valid",
    ]


def test_demo_valid_verdict_passes_every_criterion_of_the_default_policy(demo: tuple[Path, str, str]) -> None:
    """The valid example is valid under the default policy with nothing relaxed: every criterion,
    the valid-geography ones (probes, ASNs, population coverage, border removals) included, passed."""
    out_dir, _, _ = demo
    summary = json.loads((out_dir / "demo.json").read_text(encoding="utf-8"))
    valid_ip, valid_asn = summary["cases"][0]["ip"], summary["cases"][0]["asn"]
    assert isinstance(valid_asn, int)
    assert valid_asn > 0
    # the report's verdict: every criterion measured and passed (the cloud check by the generator's
    # provider ranges, recorded in the provenance)
    report = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    verdicts = {v["ip"]: v for v in report["provenance"]["verdicts"]}
    assert verdicts[valid_ip]["outcome"] == "valid"
    for c in verdicts[valid_ip]["criteria"]:
        # every required criterion measured and passed; informational ones (the ground truth of
        # the address's own network) may be too thin to measure
        assert c["passed"] is True or not c["required"], c
    cloud_ip = summary["cases"][4]["ip"]
    assert verdicts[cloud_ip]["outcome"] == "not valid"
    assert verdicts[cloud_ip]["network"]["is_cloud"] is True
    assert len(report["provenance"]["verdicts"][0]["provenance"]["cloud_ranges"]["providers"]) == 4
    # the demo's own assessment (the probe's ASN given), again from the command line with the default
    # preset and no other option: every criterion measured and passed
    gt = str(out_dir / "ground-truth-v4.npz")
    args = ("--ground-truth", gt, "assess", valid_ip, "--date", "2024-06-01", "--asn", str(valid_asn))
    again = run(*args, "--json", "-q")
    assert again.returncode == ExitCode.OK, again.stderr
    data = json.loads(again.stdout)
    assert data["provenance"]["policy"] == json.loads(canonical_json(Policy.preset("default").to_dict()))
    criteria = {c["name"]: c for c in data["criteria"]}
    geography = {"distinct_probes", "distinct_asns", "population_coverage", "border_removed_share"}
    assert geography <= set(criteria)
    for c in data["criteria"]:
        assert c["passed"] is True or not c["required"], c
    for name in geography:
        assert criteria[name]["required"] is True
    assert criteria["population_coverage"]["figure"] >= 0.5
    assert criteria["distinct_asns"]["figure"] >= 10
    assert criteria["distinct_probes"]["figure"] >= 30
    assert json.loads(again.stdout)["outcome"] == "valid"


def test_other_commands_use_the_demo_ground_truth(demo: tuple[Path, str, str]) -> None:
    out_dir, _, _ = demo
    gt = str(out_dir / "ground-truth-v4.npz")
    table = run("--ground-truth", gt, "table", "US", "DE", "--date", "2024-06-01", "--json", "-q")
    assert table.returncode == ExitCode.OK, table.stderr
    rows = json.loads(table.stdout)["table"]["rows"]
    assert [r[0] for r in rows] == ["US", "DE"]
    # Iceland has no probes: insufficient data, whatever the database says
    verdict = run("--ground-truth", gt, "assess", "2.56.243.17", "--date", "2024-06-01", "--json", "-q")
    assert verdict.returncode == ExitCode.INSUFFICIENT_DATA
    assert json.loads(verdict.stdout)["located_country"] == "IS"


def test_demo_rejects_bad_sizes(tmp_path: Path) -> None:
    out = run("demo", "--probes", "0", "-o", str(tmp_path / "d"))
    assert out.returncode == ExitCode.USAGE
    assert "probes must be at least 1" in out.stderr


def test_help_texts_say_what_the_commands_do(tmp_path: Path) -> None:
    """``demo --help`` lists no option the demo refuses; ``table``/``report --help`` name their
    default countries as docs/cli.md does; ``report`` has the case fields."""
    demo = run("demo", "--help", cwd=tmp_path)
    assert demo.returncode == 0
    assert "--database" not in demo.stdout
    assert "--ground-truth" not in demo.stdout
    refused = run("demo", "--database-dir", str(tmp_path), "-o", str(tmp_path / "d"), cwd=tmp_path)
    assert refused.returncode == ExitCode.USAGE
    assert "the demo always uses the shipped database" in refused.stderr
    table = " ".join(run("table", "--help", cwd=tmp_path).stdout.split())
    assert "default: the ten countries with the most ground truth in the window" in table
    report = " ".join(run("report", "--help", cwd=tmp_path).stdout.split())
    assert "default: the five countries with the most ground truth in the window" in report
    assert "--case-id TEXT" in report
    assert "--examiner TEXT" in report
