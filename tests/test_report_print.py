"""The report on paper: headless Chromium prints the demo's HTML report to PDF (A4) and ``pdftotext``
shows that every verdict's full reason and every criterion row is there, nothing clipped.

Needs Debian's ``chromium`` and ``poppler-utils`` (``.ci/run`` installs them); a missing tool FAILS
with a message saying what to install: the printed report is the document an expert files, so it
is never skipped.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ipevidence.demo import DemoConfig, run_demo
from ipevidence.verdict import Criterion

INSTALL = "apt-get install -y --no-install-recommends chromium poppler-utils"


def _tool(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(f"{' or '.join(names)} is not installed; the print test needs it: {INSTALL}")


def print_pdf(html: Path, pdf: Path) -> None:
    """Print ``html`` to ``pdf`` with headless Chromium (no browser header or footer: the report's
    own page margin carries the page numbers and case reference)."""
    chromium = _tool("chromium", "chromium-browser", "google-chrome")
    profile = pdf.parent / f".chromium-{pdf.stem}"
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf}",
            html.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert pdf.is_file(), proc.stderr[-2000:]
    shutil.rmtree(profile, ignore_errors=True)


def pdf_text(pdf: Path) -> str:
    proc = subprocess.run(
        [_tool("pdftotext"), "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def pdf_pages(pdf: Path) -> int:
    proc = subprocess.run([_tool("pdfinfo"), str(pdf)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    match = re.search(r"^Pages:\s+(\d+)", proc.stdout, re.MULTILINE)
    assert match, proc.stdout
    return int(match.group(1))


def squash(text: str) -> str:
    """Text compared without layout or case: no whitespace, no hyphens (pdftotext joins a word broken at a
    line end by dropping the hyphen, e.g. '2017-' + '2024' -> '20172024')."""
    return re.sub(r"[\s\-\u00ad\u2010\u2011]+", "", text).lower()


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, int, Path]:
    out = tmp_path_factory.mktemp("print") / "demo"
    result = run_demo(DemoConfig(output_dir=out))
    pdf = out / "report.pdf"
    print_pdf(result.report.html, pdf)
    data = json.loads(result.report.json.read_text(encoding="utf-8"))
    return data, pdf_text(pdf), pdf_pages(pdf), out


def test_every_verdict_reason_and_criterion_is_on_paper(
    printed: tuple[dict[str, Any], str, int, Path],
) -> None:
    data, text, _pages, _out = printed
    verdicts = data["provenance"]["verdicts"]
    assert len(verdicts) >= 4  # valid, not valid, insufficient data, cloud (the private one is refused)
    assert {v["outcome"] for v in verdicts} == {"valid", "not valid", "insufficient data"}
    flat = squash(text)
    for v in verdicts:
        assert squash(f"{v['ip']} on {v['date']}: the database places it in") in flat
        assert squash(f"Country location evidence: {v['outcome'].upper()}.") in flat
        assert v["reasons"], v["ip"]
        for reason in v["reasons"]:  # the full text of every reason, the one-sentence reason first
            assert squash(reason) in flat, f"{v['ip']}: reason clipped or missing: {reason!r}"
        for row in v["criteria"]:
            c = Criterion(**row)
            cells = [c.description, c.figure_text(), c.status()]
            if c.threshold is not None:
                cells += [c.sign_text(), c.threshold_text()]
            for cell in cells:
                assert squash(cell) in flat, f"{v['ip']}: criterion {c.name}: {cell!r} not on paper"
        db = v["provenance"]["database"]
        assert squash(f"Database {db['name']}, built {db['build_date']}") in flat


def test_page_count_is_sane_and_pages_are_numbered(printed: tuple[dict[str, Any], str, int, Path]) -> None:
    data, text, pages, _out = printed
    # a verdict per page, the tables, seven figures and a collapsed provenance: tens of pages at most
    assert 8 <= pages <= 40, pages
    assert f"Page 1 of {pages}" in text
    assert f"Page {pages} of {pages}" in text
    # the provenance is a summary plus a collapsed appendix, not 134 SHA-256 rows on paper
    days = data["provenance"]["ground_truth"]["archive"]["days"]
    assert len(days) > 100
    on_paper = sum(1 for d in days if d["sha256"] in text)
    assert on_paper == 0, f"{on_paper} archive-day hashes printed; the appendix should be collapsed"
    assert "How this was computed" in text
    assert "1 corrupt" in text
    assert "2024-04-21" in text


def test_case_reference_is_printed_only_when_given(
    printed: tuple[dict[str, Any], str, int, Path], tmp_path: Path
) -> None:
    _data, text, _pages, out = printed
    assert "Case reference" not in text
    assert "Examiner" not in text
    report_dir = tmp_path / "case"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ipevidence",
            "--quiet",
            "--ground-truth",
            str(out / "ground-truth-v4.npz"),
            "report",
            "DE",
            "IT",
            "--date",
            "2024-06-01",
            "--no-figures",
            "--case-id",
            "CASE 2024/117",
            "--examiner",
            "Dr. A. Example",
            "-o",
            str(report_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    pdf = tmp_path / "case.pdf"
    print_pdf(report_dir / "report.html", pdf)
    case_text = pdf_text(pdf)
    pages = pdf_pages(pdf)
    assert "Case reference" in case_text
    assert "CASE 2024/117" in case_text
    assert "Dr. A. Example" in case_text
    # the page margin repeats the case line on every page
    assert case_text.count("Case reference: CASE 2024/117 · Examiner: Dr. A. Example") == pages
    data = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert data["case"] == {"case_id": "CASE 2024/117", "examiner": "Dr. A. Example"}
