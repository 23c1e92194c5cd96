"""Review fixes: the figures a reader compares agree, the wording never overstates.

Known answers on an exact error model (ipevidence.synthetic.errormodel): IT has 93 of 100 addresses
right in most years and 87 of 100 in 2019, so its yearly figures need rounding.
"""

from __future__ import annotations

import datetime as dt

import pytest

from ipevidence.assessment import EvidentialAssessor, Verdict
from ipevidence.backends import open_database
from ipevidence.defaults import default_database_path
from ipevidence.report.build import assessor_report
from ipevidence.report.document import Table, format_cell
from ipevidence.stats import percent_down
from ipevidence.synthetic.errormodel import Cell, build_case

DATE = dt.date(2022, 6, 1)


@pytest.fixture(scope="module")
def assessor() -> EvidentialAssessor:
    cells = []
    for y in range(2015, 2023):
        cells.append(Cell("DE", y, 1200))
        cells.append(Cell("IT", y, 300, misplaced=(("FR", 39 if y == 2019 else 21),)))
        cells.append(Cell("FR", y, 900))
    case = build_case(cells, seed=5, build_date=dt.date(2022, 3, 1))
    return EvidentialAssessor(case.ground_truth, case.backend)


def test_per_year_tables_round_as_table_8(assessor: EvidentialAssessor) -> None:
    """Table 8's Hist min low is the lowest 'Low %' of the per-year table, to the last digit."""
    table8 = {r[0]: r for r in assessor.table(["DE", "IT"], DATE).rows}
    for code in ("DE", "IT"):
        acc = assessor.located.country_accuracy(code, 2015, 2022)
        rows = acc.table().rows
        years, everything = rows[:-1], rows[-1]
        assert table8[code][3] == min(r[5] for r in years)  # Hist min low
        assert table8[code][1] == min(r[4] for r in years)  # Hist min
        assert table8[code][2] == everything[4]  # Hist all
        assert table8[code][4] == everything[5]  # Hist all low
        for r, y in zip(years, acc.years, strict=True):
            iv = y.selected("exclude")
            assert r[4] == percent_down(iv.estimate)
            assert r[5] == percent_down(iv.low)
            assert iv.high is not None
            assert r[6] >= 100 * iv.high
    it_2019 = assessor.located.country_accuracy("IT", 2019, 2019).hist_all.accuracy
    assert it_2019.successes == 261
    assert it_2019.trials == 300


def test_lr_wording_names_the_proposition(assessor: EvidentialAssessor) -> None:
    lr = assessor.located.likelihood_ratio("DE", "DE", 2015, 2022)
    assert lr is not None
    assert lr.verbal.endswith("support for the proposition that the device was in DE")
    assert lr.hp == "the device was in DE"  # the JSON field is unchanged


def test_insufficient_data_is_not_worded_as_a_failure(assessor: EvidentialAssessor) -> None:
    shipped = EvidentialAssessor(assessor.located.ground_truth, open_database(default_database_path()))
    verdict = shipped.assess("2.56.243.17", DATE)  # the shipped database says Iceland: no ground truth
    assert verdict.outcome == "insufficient data"
    text = str(verdict)
    assert "placed IS ground truth correctly" not in text
    assert "There is no ground truth of IS in 2015-2022" in text
    assert "insufficient data, not a negative finding" in text
    assert "(None)" not in text
    assert "None)" not in text
    data_lines = [line for line in text.splitlines() if line.startswith("  - [data]")]
    assert data_lines
    assert all(line.endswith(("- insufficient", "- pass")) for line in data_lines)
    assert any(line.endswith("- insufficient") for line in data_lines)
    assert "FAIL" not in "\n".join(data_lines)


def test_verdict_to_pandas(assessor: EvidentialAssessor) -> None:
    verdict: Verdict = assessor.assess("2.16.1.1", DATE)
    frame = verdict.to_pandas()
    assert list(frame.columns) == [
        "group",
        "criterion",
        "figure",
        "threshold",
        "comparison",
        "required",
        "result",
    ]
    assert len(frame) == len(verdict.criteria)
    assert list(frame["result"]) == [c.status() for c in verdict.criteria]


def test_verdict_html_shows_reasons_and_comparison_signs(assessor: EvidentialAssessor) -> None:
    """``_repr_html_`` (and the report's block): outcome and one-sentence reason first, every other
    reason, and each criterion's figure, sign and threshold in their own cells (finding 5)."""
    import html as html_mod

    verdict: Verdict = assessor.assess("2.16.1.1", DATE)
    page = verdict._repr_html_()
    assert verdict.reasons
    lead = verdict.lead_reason()
    assert f"<strong>Reason:</strong> {html_mod.escape(lead)}</p>" in page
    assert page.index("Reason:") < page.index('<table class="criteria">')
    for reason in verdict.reasons[1:]:
        assert html_mod.escape(reason[0].upper() + reason[1:]) in page
    signs = {">=": "\u2265", "<=": "\u2264", "==": "="}
    for c in verdict.criteria:
        if c.threshold is None:
            continue
        row = (
            f'<td class="num">{html_mod.escape(c.figure_text())}</td>'
            f'<td class="sign">{signs[c.comparison]}</td>'
            f'<td class="num">{html_mod.escape(c.threshold_text())}</td>'
        )
        assert row in page, c.name


def test_report_tables_show_two_decimals_like_the_text() -> None:
    assert format_cell(99.4) == "99.40"
    assert format_cell(100.0) == "100.00"
    assert format_cell(0.0) == "0.00"
    assert format_cell(0.00431) == "0.00431"
    assert format_cell(20369.2) == "20,369"
    t = Table("T", ("step", "in", "rule"), [("status", 10, "a long rule"), ("x", 1234, "b")])
    lines = str(t).splitlines()
    assert lines[1] == "step       in  rule"
    assert lines[3] == "status     10  a long rule"  # words left-aligned, numbers right-aligned
    assert lines[4] == "x       1,234  b"


def test_report_verdicts_keep_the_asn_and_name_a_refused_address_once(assessor: EvidentialAssessor) -> None:
    report = assessor_report(
        assessor,
        DATE,
        countries=["DE"],
        addresses=[("2.16.1.1", None, 3320), "192.168.1.20"],
        figures=False,
    )
    verdicts = report.provenance["verdicts"]
    assert verdicts[0]["asn"] == 3320
    refused = next(s for s in report.sections if s.title == "Addresses that cannot be assessed")
    assert refused.items == ("'192.168.1.20': not a globally routable address (private)",)
