"""Reports built from real library results: a ground truth with a known error model (paper-shaped)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ipevidence.accuracy import LocatedGroundTruth
from ipevidence.defaults import DATABASE_ATTRIBUTION
from ipevidence.report import Report
from ipevidence.report.build import (
    accuracy_series,
    as_report_table,
    evidence_report,
    lr_series,
    naive_comparison,
    top_countries,
)
from ipevidence.report.document import NO_ATTRIBUTION_NOTE, PNG_SIGNATURE
from ipevidence.synthetic.errormodel import Cell, build_case
from test_report_document import check_html


@pytest.fixture(scope="module")
def located() -> LocatedGroundTruth:
    cells = []
    for y in range(2015, 2023):
        cells.append(Cell("IT", y, 1000, {"FR": 80 if y == 2016 else 20}))
        cells.append(Cell("DE", y, 2000, {"NL": 10}, not_located=2))
        cells.append(Cell("FR", y, 500, {"BE": 5}))
    case = build_case(cells, seed=3)
    return LocatedGroundTruth.from_backend(case.ground_truth, case.backend)


@pytest.fixture(scope="module")
def report(located: LocatedGroundTruth) -> Report:
    return evidence_report(located, evidence_date=dt.date(2022, 5, 1), countries=["it", "DE"])


def test_series_carry_the_known_answers(located: LocatedGroundTruth) -> None:
    it = accuracy_series(located, ["IT"], 2015, 2022)[0]
    assert it.years == tuple(range(2015, 2023))
    assert it.values[1] == pytest.approx(0.92)
    assert it.values[0] == pytest.approx(0.98)
    assert it.lower is not None
    assert it.upper is not None
    assert it.lower[1] is not None
    assert it.lower[1] < 0.92 < (it.upper[1] or 0)
    de = accuracy_series(located, ["DE"], 2015, 2022, not_located="wrong")[0]
    assert de.values[0] == pytest.approx(1990 / 2000 - 2 / 2000)
    assert top_countries(located, 2015, 2022, n=2) == ["DE", "IT"]
    lr = lr_series(located, ["IT"], 2016, 2016)[0]
    assert lr.values[0] is not None
    assert lr.values[0] > 1
    naive = naive_comparison(located, "IT", 2015, 2022, other_country="DE")
    assert naive.single_year == pytest.approx(0.98)
    assert naive.other_country == pytest.approx((16000 - 80 - 16) / (16000 - 16))


def test_report_has_the_paper_tables_and_figures(report: Report) -> None:
    titles = [t.title for t in report.tables]
    assert any(t.startswith("Ground-truth addresses per country and year") for t in titles)
    assert any(t.startswith("Accuracy (%) of IP country location per database") for t in titles)
    assert any(t.startswith("Naive methods") for t in titles)
    assert any(t.startswith("Likelihood ratio") for t in titles)
    addresses = next(t for t in report.tables if t.title.startswith("Ground-truth addresses"))
    assert addresses.rows[0] == ("IT", *([1000] * 8), 8000)
    names = {f.name for f in report.figures}
    assert {"accuracy-per-year", "naive-methods", "lr-per-year", "coverage-it", "coverage-de"} <= names
    for f in report.figures:
        assert f.png.startswith(PNG_SIGNATURE)
        assert len(f.png) > 5000
    prov = report.provenance
    assert prov["window"] == [2015, 2022]
    assert prov["database"]["name"] == "synthetic-error-model"
    assert prov["countries"] == ["IT", "DE"]


def test_report_files(report: Report, located: LocatedGroundTruth, tmp_path: Path) -> None:
    files = report.write(tmp_path)
    html = files.html.read_text(encoding="utf-8")
    c = check_html(html)
    assert c.images == len(report.figures)
    assert report.attribution == ()  # a synthetic database needs none
    assert NO_ATTRIBUTION_NOTE in html
    assert DATABASE_ATTRIBUTION not in html
    assert "How this was computed" in html
    data = json.loads(files.json.read_text(encoding="utf-8"))
    assert data["provenance"]["ground_truth"]["rows"] == 28000
    md = files.markdown.read_text(encoding="utf-8")
    for f in files.figures:
        assert f"figures/{f.name}" in md
        assert f.read_bytes().startswith(PNG_SIGNATURE)
    # same inputs, same bytes
    again = evidence_report(located, evidence_date=dt.date(2022, 5, 1), countries=["it", "DE"])
    assert again.to_json() == files.json.read_text(encoding="utf-8")
    assert again.to_html() == html  # figures included: PNGs carry no date or software metadata


def test_accuracy_table_converts(located: LocatedGroundTruth) -> None:
    t = as_report_table(located.country_accuracy("IT", 2015, 2022).table())
    assert t.columns[0] == "Year"
    assert t.rows[1][0] == "2016"
    assert "wilson" in t.note


def test_report_without_figures(located: LocatedGroundTruth) -> None:
    r = evidence_report(located, evidence_date=dt.date(2020, 1, 1), figures=False, window_years=3)
    assert r.figures == ()
    assert r.provenance["window"] == [2018, 2020]
    check_html(r.to_html())


def test_report_without_matplotlib_renders_and_says_so(tmp_path: Path) -> None:
    """matplotlib is an optional extra: without it the whole report still renders, without figures."""
    import subprocess
    import sys

    code = (
        "import sys, datetime as dt; sys.modules['matplotlib'] = None\n"
        "from ipevidence.accuracy import LocatedGroundTruth\n"
        "from ipevidence.report import NO_PLOTS_NOTE\n"
        "from ipevidence.report.build import evidence_report\n"
        "from ipevidence.synthetic.errormodel import Cell, build_case\n"
        "case = build_case([Cell('DE', y, 200) for y in range(2019, 2023)], seed=1)\n"
        "lgt = LocatedGroundTruth.from_backend(case.ground_truth, case.backend)\n"
        "r = evidence_report(lgt, evidence_date=dt.date(2022, 1, 1))\n"
        "assert r.figures == () and NO_PLOTS_NOTE in r.notes, r.notes\n"
        f"files = r.write({str(tmp_path)!r})\n"
        "assert files.figures == ()\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "matplotlib, a dependency of ipevidence, cannot be imported" in html
    check_html(html)
