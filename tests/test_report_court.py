"""The report a court reads (issue 15): verdicts as structured blocks, reasons next to every
decision, a short "How this was computed" with the full provenance in a collapsed appendix, and
case fields printed only when given. Known answers on an exact error model: IT is placed in FR for
7 % of its addresses (not valid), DE and FR never misplaced."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from ipevidence.assessment import EvidentialAssessor, Policy
from ipevidence.report.build import assessor_report, outcome_reasons_table, preset_differences
from ipevidence.report.document import Report, provenance_summary
from ipevidence.synthetic.errormodel import Cell, build_case
from ipevidence.verdict import STRONG_LR, Verdict
from test_report_document import check_html

DATE = dt.date(2022, 6, 1)


@pytest.fixture(scope="module")
def assessor() -> EvidentialAssessor:
    cells = []
    for y in range(2015, 2023):
        cells.append(Cell("DE", y, 1200))
        cells.append(Cell("IT", y, 300, misplaced=(("FR", 21),)))
        cells.append(Cell("FR", y, 900))
    case = build_case(cells, seed=5, build_date=dt.date(2022, 3, 1))
    return EvidentialAssessor(case.ground_truth, case.backend)


@pytest.fixture(scope="module")
def report(assessor: EvidentialAssessor) -> Report:
    it_ip = _address_of(assessor, "IT")
    return assessor_report(
        assessor,
        DATE,
        countries=["DE", "IT", "FR"],
        addresses=[it_ip, "10.1.2.3"],
        figures=False,
        case_id="K-17 </style><script>alert(1)</script>\"'",
        examiner="Dr. Ada <b>Example</b>",
    )


def _address_of(assessor: EvidentialAssessor, country: str) -> str:
    from ipevidence.addresses import format_ipv4

    gt = assessor.located.ground_truth
    rows = [i for i, c in enumerate(gt.country.tolist()) if c == country.encode()]
    return str(format_ipv4(gt.address[rows[:1]])[0])


def test_verdicts_are_structured_blocks_not_preformatted(
    report: Report, assessor: EvidentialAssessor
) -> None:
    page = report.to_html()
    check_html(page)
    assert "<pre>" not in page
    verdicts = report.provenance["verdicts"]
    assert len(verdicts) == 1
    v = verdicts[0]
    assert v["outcome"] == "not valid"
    # outcome and its one-sentence reason come before the criteria table, inside one block
    block = page[page.index('<article class="verdict verdict-not-valid">') :]
    block = block[: block.index("</article>")]
    assert block.index("NOT VALID") < block.index("Reason:") < block.index('<table class="criteria">')
    assert f"<caption>Criteria ({len(v['criteria'])})</caption>" in block
    for name in ("Likelihood ratio", "Window", "Network", "Database"):
        assert f"<dt>{name}</dt>" in block
    assert "Hp = the device was in IT" in block
    # the private address is listed with its reason right after the verdicts, before Table 8
    assert page.index("Addresses that cannot be assessed") < page.index("Evidential value per country")
    assert "10.1.2.3" in page


def test_table8_says_why_a_country_is_not_valid(report: Report, assessor: EvidentialAssessor) -> None:
    first, last = assessor.located.window(DATE.year, assessor.policy.window_years)
    evaluations = [assessor.evaluate_country(c, first, last) for c in ("DE", "IT", "FR")]
    outcomes = {ev.country: ev.outcome for ev in evaluations}
    assert outcomes["IT"] == "not valid"
    why = outcome_reasons_table(evaluations)
    assert why is not None
    # every failing required criterion, and every one that could not be measured
    it_failing = [c for c in evaluations[1].criteria if c.failed or (c.required and c.passed is None)]
    assert any(c.failed for c in it_failing)
    rows = [r for r in why.rows if r[0] == "IT"]
    assert [r[2] for r in rows] == [c.description for c in it_failing]
    for r, c in zip(rows, it_failing, strict=True):
        assert r[3:] == (c.figure_text(), c.sign_text(), c.threshold_text(), c.status())
    assert not [r for r in why.rows if r[0] in {c for c, o in outcomes.items() if o == "valid"}]
    # the same table in the report, under Table 8
    table8 = next(s for s in report.sections if s.title.startswith("Evidential value per country"))
    assert [t.title for t in table8.tables][1].startswith("Why:")


def test_how_this_was_computed_is_short_and_the_appendix_collapsed(report: Report) -> None:
    page = report.to_html()
    body, appendix = page.split('<section class="appendix">')
    assert "How this was computed" in body
    assert '<details class="provenance">' in appendix
    # the full provenance is only in the collapsed appendix (and the JSON)
    assert "interval" in body
    assert "<caption>Provenance</caption>" not in body
    assert "<caption>Provenance</caption>" in appendix
    rows = dict(report.summary_rows())
    db = report.provenance["database"]
    assert rows["Database"] == f"{db['name']}, built {db['build_date']}, SHA-256 {db['sha256']}"
    assert rows["Differs from the presets"] == "nothing: every parameter is the named preset's"
    data = json.loads(report.to_json())
    assert data["how_computed"] == [list(r) for r in report.summary_rows()]
    assert data["provenance"] == json.loads(json.dumps(report.provenance))


def test_archive_days_and_differences_from_the_preset() -> None:
    prov: dict[str, Any] = {
        "ground_truth": {
            "rows": 10,
            "family": 4,
            "years": [2020, 2021],
            "parameters": {"preset": "default", "dedup": "first-seen", "every": 3},
            "archive": {
                "days_used": 5,
                "days_missing": ["2020-01-02"],
                "days_corrupt": [{"day": "2020-01-03", "reason": "truncated bzip2 stream"}],
                "start": "2020-01-01",
                "end": "2021-12-31",
                "source": "local folder",
            },
        }
    }
    rows = dict(provenance_summary(prov))
    assert rows["Archive days"].startswith("5 used, 1 missing, 1 corrupt, from 2020-01-01 to 2021-12-31")
    assert "corrupt: 2020-01-03 (truncated bzip2 stream); missing: 2020-01-02" in rows["Archive days"]
    assert (
        rows["Ground truth"]
        == "10 IPv4 addresses, 2020-2021; preset default, de-duplication first-seen, every 3rd archive day"
    )
    policy = Policy.preset("default", threshold=0.9, window_years=6)
    changed = preset_differences(policy, {"preset": "default", "every": 3, "dedup": "first-seen"})
    assert changed == [
        "policy threshold: 0.9 (preset: 0.95)",
        "policy window_years: 6 (preset: 8)",
        "ground truth every: 3 (preset: 1)",
    ]


def test_case_fields_printed_only_when_given_and_escaped(
    report: Report, assessor: EvidentialAssessor
) -> None:
    page = report.to_html()
    assert "<script>" not in page
    assert "&lt;/style&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<dd>Dr. Ada &lt;b&gt;Example&lt;/b&gt;</dd>" in page
    style = page[page.index("<style>") : page.index("</style>")]
    assert "@top-left" in style
    assert "<" not in style.split("@top-left", 1)[1]  # the case line is CSS-escaped whole
    assert report.to_dict()["case"]["examiner"] == "Dr. Ada <b>Example</b>"
    assert "**Case reference:** K-17" in report.to_markdown()
    plain = assessor_report(assessor, DATE, countries=["DE"], figures=False)
    assert "Case reference" not in plain.to_html()
    assert "@top-left" not in plain.to_html()
    assert "case" not in plain.to_dict()


def test_not_valid_with_strong_lr_says_how_both_are_true(assessor: EvidentialAssessor) -> None:
    verdict = assessor.assess(_address_of(assessor, "IT"), DATE)
    assert verdict.outcome == "not valid"
    assert verdict.likelihood_ratio is not None
    head = verdict.likelihood_ratio.headline
    strong = attrs.evolve(
        verdict,
        likelihood_ratio=attrs.evolve(
            verdict.likelihood_ratio, headline=attrs.evolve(head, conservative=500.0)
        ),
    )
    weak = attrs.evolve(
        verdict,
        likelihood_ratio=attrs.evolve(
            verdict.likelihood_ratio, headline=attrs.evolve(head, conservative=5.0)
        ),
    )
    note = strong.lr_conflict_note()
    assert note is not None
    assert note.startswith("Both can be true")
    assert note in str(strong)
    assert note in strong.to_markdown()
    assert strong.to_dict() == verdict.to_dict() | {"likelihood_ratio": strong.likelihood_ratio.to_dict()}
    assert weak.lr_conflict_note() is None
    assert 500.0 >= STRONG_LR > 5.0


def test_verdict_to_pandas_without_pandas_names_the_extra(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "from ipevidence.verdict import Verdict\n"
        "from ipevidence.report import Table\n"
        "for call in (lambda: Verdict.to_pandas(None), lambda: Table('t', ('a',), ()).to_pandas()):\n"
        "    try:\n"
        "        call()\n"
        "    except ModuleNotFoundError as exc:\n"
        "        print(exc.name, '|', exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "pandas | Verdict.to_pandas() needs pandas, which is not installed: pip install 'ipevidence[pandas]'",
        "pandas | Table.to_pandas() needs pandas, which is not installed: pip install 'ipevidence[pandas]'",
    ]


def test_verdict_type_is_the_public_one() -> None:
    assert Verdict.__module__ == "ipevidence.verdict"


def test_hostile_names_in_a_verdict_block_stay_inert(assessor: EvidentialAssessor) -> None:
    """Text from input files (an AS name from IP-to-ASN data, a database file name) cannot forge
    markup in the verdict's HTML block, its Markdown or its text."""
    from ipevidence.report.build import verdict_block

    verdict = assessor.assess(_address_of(assessor, "IT"), DATE)
    evil = "Evil | Corp\n# Forged heading <script>x</script> *bold* \u202e"
    bad = attrs.evolve(verdict, asn=64500, network={**verdict.network, "as_name": evil})
    block = verdict_block(bad)
    assert "<script>" not in block.html
    assert "Evil | Corp\\n# Forged heading &lt;script&gt;x&lt;/script&gt; *bold* \\u202e" in block.html
    assert "\u202e" not in block.html  # a bidi override could reorder what a reader sees
    md_line = next(line for line in block.markdown.splitlines() if "Evil" in line)
    # shown as typed, escapes visible (a backslash is itself escaped), nothing Markdown would act on
    assert r"Evil \| Corp\\n# Forged heading \<script>x\</script> \*bold\* \\u202e" in md_line
    assert "\n# Forged" not in block.markdown
    assert "\u202e" not in block.markdown


def test_case_fields_with_controls_are_shown_not_obeyed() -> None:
    from ipevidence.report.document import Section

    r = Report("T", [Section("S", paragraphs=("p",))], case_id="K\u202e71-K\nX", examiner="A\x1b[31mB")
    page = r.to_html()
    style = page[page.index("<style>") : page.index("</style>")]
    for text in (page, r.to_markdown(), str(r)):
        assert "\u202e" not in text
        assert "\x1b" not in text
    assert "<dd>K\\u202e71-K\\nX</dd>" in page
    # in the page margin the same visible escapes, CSS-escaped character by character
    assert "\\00005c u202e" in style
