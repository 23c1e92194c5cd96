"""Verdicts that never overstate (issue 11): the window's length, clear failures on thin data,
unplaceable addresses, the explicit alternative hypothesis, the network checked by default, the
network's own ground truth, typed errors for bad dates and AS numbers, and the command line."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest

from ipevidence.addresses import format_ipv4
from ipevidence.assessment import EvidentialAssessor, Policy, Verdict, assess, clear_assessor_cache
from ipevidence.cli import main
from ipevidence.errors import (
    InvalidEvidenceDateError,
    InvalidParameterError,
    IpEvidenceError,
    UnknownCountryError,
)
from ipevidence.groundtruth import Funnel, FunnelStep
from ipevidence.synthetic.errormodel import Cell, ErrorModelCase, build_case

YEARS = range(2015, 2023)
ISP_ASN = 3320  # Deutsche Telekom: a residential ISP, in no hosting set

FUNNEL = Funnel(
    family=4,
    steps=(
        FunnelStep("connected", "probes connected that day", 20_000, 1_000),
        FunnelStep("border", "coordinates outside the declared country", 19_000, 380),
    ),
)


def make_cells() -> list[Cell]:
    cells = []
    for y in YEARS:
        # Germany: 99.5 % every year, a few placed in Austria.
        cells.append(Cell("DE", y, 2000, {"AT": 10}))
        # Austria: 98 %, many of its misplaced addresses in Germany; Switzerland placed in Austria.
        cells.append(Cell("AT", y, 1000, {"DE": 20}))
        cells.append(Cell("CH", y, 800, {"AT": 40, "DE": 8}))
    # Poland: only two years, half of it wrong: thin but clearly bad.
    cells.append(Cell("PL", 2021, 60, {"DE": 30}))
    cells.append(Cell("PL", 2022, 60, {"DE": 30}))
    # Liechtenstein: one year, a handful of addresses (an alternative without enough ground truth).
    cells.append(Cell("LI", 2022, 12, {"CH": 1}))
    return cells


@pytest.fixture(scope="module")
def case() -> ErrorModelCase:
    return build_case(make_cells(), seed=5, funnel=FUNNEL, addresses_per_probe=4)


def ip_of(case: ErrorModelCase, country: str, located: str | None, year: int = 2022) -> str:
    gt = case.ground_truth
    loc = case.backend.lookup(gt.address)
    mask = (gt.country == country.encode()) & (gt.years == year)
    mask &= loc == (located or "").encode()
    return format_ipv4(gt.address[np.flatnonzero(mask)[:1]])[0]


def crit(v: Verdict, name: str) -> tuple[object, bool | None, bool]:
    for c in v.criteria:
        if c.name == name:
            return c.figure, c.passed, c.required
    raise AssertionError(f"no criterion {name}")


def test_a_window_shorter_than_the_policy_minimum_is_insufficient(case: ErrorModelCase) -> None:
    assessor = EvidentialAssessor(case.ground_truth, case.backend)
    v = assessor.assess(ip_of(case, "DE", "DE", 2016), "2016-06-01")
    assert v.window == (2015, 2016)
    assert crit(v, "window_years") == (2, False, True)
    assert v.outcome == "insufficient data"
    assert any("window 2015-2016" in r for r in v.reasons)
    assert "Ground-truth window: 2015-2016 (2 years)" in str(v)
    # The same evidence four years in: the window is long enough and Germany is valid.
    # The generated addresses (11.0.0.0/8) were not announced in 2018, so the caller gives the ASN
    # (AS3320, a residential ISP) as from WHOIS; without it the network cannot be checked.
    later = assessor.assess(ip_of(case, "DE", "DE", 2018), "2018-06-01", asn=ISP_ASN)
    assert later.window == (2015, 2018)
    assert crit(later, "window_years")[1] is True
    assert later.outcome == "valid", later.reasons
    # The reference preset keeps the paper's minimums (one year suffices).
    ref = EvidentialAssessor(case.ground_truth, case.backend, "reference")
    assert crit(ref.assess(ip_of(case, "DE", "DE", 2016), "2016-06-01"), "window_years")[1] is True


def test_a_clear_failure_on_thin_data_is_not_valid(case: ErrorModelCase) -> None:
    assessor = EvidentialAssessor(case.ground_truth, case.backend)
    v = assessor.assess(ip_of(case, "PL", "PL"), "2022-03-01")
    # 120 addresses (fewer than the 1,000 the policy wants), half of them wrong: the upper
    # confidence bound is far below 95 %, so this is a negative finding, not "insufficient data".
    assert crit(v, "addresses_total")[1] is False
    upper, passed, required = crit(v, "accuracy_upper")
    assert passed is False
    assert required
    assert isinstance(upper, float)
    assert upper < 0.8
    assert v.outcome == "not valid"
    assert any("clearly below" in r for r in v.reasons)
    assert not any("not a negative finding" in r for r in v.reasons)


def test_an_unplaceable_address_reports_no_lr_support(case: ErrorModelCase) -> None:
    gt = case.ground_truth
    # An address the database does not know: beyond the generated ones.
    unknown = format_ipv4(np.array([int(gt.address.max()) + 1000], dtype=np.uint32))[0]
    assert case.backend.country(unknown) is None
    v = EvidentialAssessor(gt, case.backend).assess(unknown, "2022-03-01", claimed_country="DE")
    assert v.outcome == "not valid"
    assert v.likelihood_ratio is None
    assert v.lr_note is not None
    assert "no country" in v.lr_note
    assert "support" not in " ".join(v.reasons).replace("no likelihood", "")
    assert v.to_dict()["likelihood_ratio"] is None
    assert "not computed" in v.to_dict()["likelihood_ratio_note"]


def test_hd_is_each_alternative_and_the_headline_is_the_weakest(case: ErrorModelCase) -> None:
    assessor = EvidentialAssessor(case.ground_truth, case.backend)
    # Claimed CH, the database says AT.
    v = assessor.assess(ip_of(case, "CH", "AT"), "2022-03-01", claimed_country="CH")
    lr = v.likelihood_ratio
    assert lr is not None
    against = {
        x.hd_country if hasattr(x, "hd_country") else x.alternatives[0][0]: x for x in lr.per_alternative
    }
    # Every country with at least 1,000 addresses in 2015-2022 other than CH; LI (12) and PL (120)
    # lack ground truth and are listed, never silently dropped.
    assert set(against) == {"AT", "DE"}
    assert {"LI", "PL"} <= set(lr.alternatives_without_data)
    # By hand: P(db says AT | CH) = 320/6400; P(AT | AT) = 7840/8000, P(AT | DE) = 80/16000.
    assert against["AT"].value == pytest.approx((320 / 6400) / (7840 / 8000))
    assert against["DE"].value == pytest.approx((320 / 6400) / (80 / 16000))
    # The headline is the weakest: against AT the observation supports Hd (LR < 1).
    assert lr.weakest_against == "AT"
    assert lr.headline is not None
    assert lr.headline.value == against["AT"].value
    for text in (str(v), v.to_markdown(), v._repr_html_(), v.to_json()):
        assert "the device was in CH" in text
        assert "AT" in text
    data = json.loads(v.to_json())
    assert data["likelihood_ratio"]["weakest_against"] == "AT"


def test_named_alternatives_weighted_and_hp_among_them(case: ErrorModelCase) -> None:
    weighted = Policy.preset("default", lr_hd="weighted", lr_alternatives={"AT": 0.7, "DE": 0.3})
    v = EvidentialAssessor(case.ground_truth, case.backend, weighted).assess(
        ip_of(case, "CH", "AT"), "2022-03-01", claimed_country="CH"
    )
    lr = v.likelihood_ratio
    assert lr is not None
    assert lr.mode == "weighted"
    den = 0.7 * (7840 / 8000) + 0.3 * (80 / 16000)
    assert lr.headline.value == pytest.approx((320 / 6400) / den)
    assert "AT" in lr.hd
    assert "0.7" in lr.hd
    # Hp named among the alternatives: removed from Hd with a note, never a crash.
    with_hp = Policy.preset("default", lr_alternatives=["CH", "AT"])
    v2 = EvidentialAssessor(case.ground_truth, case.backend, with_hp).assess(
        ip_of(case, "CH", "AT"), "2022-03-01", claimed_country="CH"
    )
    assert v2.likelihood_ratio is not None
    assert [x for x in v2.likelihood_ratio.alternatives_without_data if x == "CH"] == []
    assert any("removed from Hd" in r for r in v2.reasons)
    # An alternative without ground truth is listed.
    v3 = EvidentialAssessor(
        case.ground_truth, case.backend, Policy.preset("default", lr_alternatives=["AT", "FR"])
    ).assess(ip_of(case, "CH", "AT"), "2022-03-01", claimed_country="CH")
    assert "FR" in v3.likelihood_ratio.alternatives_without_data
    # Bad alternatives are typed errors at the policy.
    with pytest.raises(InvalidParameterError, match="all zero"):
        Policy.preset("default", lr_hd="weighted", lr_alternatives={"AT": 0, "DE": 0})
    with pytest.raises(InvalidParameterError, match="every alternative or to none"):
        Policy.preset("default", lr_alternatives=[("AT", 1.0), ("DE", None)])
    with pytest.raises(UnknownCountryError):
        Policy.preset("default", lr_alternatives=["XX"])


def test_the_network_is_checked_by_default_with_shipped_data(case: ErrorModelCase) -> None:
    assessor = EvidentialAssessor(case.ground_truth, case.backend)
    # Google's resolver, an AWS address and an Akamai address, with no ASN argument.
    for ip, provider in (("8.8.8.8", "Google"), ("52.95.110.1", "Amazon"), ("2.16.1.1", "Akamai")):
        v = assessor.assess(ip, "2022-03-01")
        assert v.outcome == "not valid", (ip, v.reasons)
        assert crit(v, "cloud_hosting")[1] is False
        assert provider in str(v.network["provider"]), v.network
        assert v.network["asn_source"], v.network
        assert provider in str(v)
        # the shipped table nearest 2022 is GeoLite2 ASN of 2019-12-24 (CC BY-SA 4.0): its
        # attribution goes wherever the verdict is shown
        assert v.network["asn_source_date"] == "2019-12-24"
        assert any("GeoLite2" in line for line in v.data_attribution())
    # A caller's ASN wins and the verdict says so.
    v = assessor.assess(ip_of(case, "DE", "DE"), "2022-03-01", asn=3320)
    assert v.asn == 3320
    assert "given" in str(v.network["asn_source"])
    assert v.outcome == "valid", v.reasons


def test_the_networks_own_ground_truth_is_reported(case: ErrorModelCase) -> None:
    gt = case.ground_truth
    assessor = EvidentialAssessor(gt, case.backend)
    ip = ip_of(case, "DE", "DE")
    rows = np.flatnonzero(gt.country == b"DE")
    asn = int(np.bincount(gt.asn[rows]).argmax())
    v = assessor.assess(ip, "2022-03-01", asn=asn)
    na = v.network_accuracy
    assert na is not None
    assert na.addresses == int((gt.asn[rows] == asn).sum())
    assert crit(v, "network_accuracy")[2] is False  # informational by default
    # A network with no ground truth in the country: said plainly.
    thin = assessor.assess(ip, "2022-03-01", asn=64_496)
    assert thin.network_accuracy is not None
    assert thin.network_accuracy.addresses == 0
    assert any("measured on other networks" in r for r in thin.reasons)
    assert thin.outcome == "valid"
    # As a criterion it makes such a verdict insufficient, never valid on an unmeasured figure.
    strict = EvidentialAssessor(gt, case.backend, Policy.preset("default", network_required=True))
    assert strict.assess(ip, "2022-03-01", asn=64_496).outcome == "insufficient data"


@pytest.mark.parametrize("bad", ["garbage", "2022-13-01", "", None, 20220101, 3.5])
def test_a_date_that_is_not_a_date_is_a_typed_error(case: ErrorModelCase, bad: object) -> None:
    assessor = EvidentialAssessor(case.ground_truth, case.backend)
    with pytest.raises(InvalidEvidenceDateError) as info:
        assessor.assess(ip_of(case, "DE", "DE"), bad)  # type: ignore[arg-type]
    assert isinstance(info.value, IpEvidenceError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [True, 1.5, 0, -1, 2**32, 99_999_999_999_999, "3320"])
def test_an_asn_out_of_range_is_a_typed_error(case: ErrorModelCase, bad: object) -> None:
    assessor = EvidentialAssessor(case.ground_truth, case.backend)
    with pytest.raises(InvalidParameterError):
        assessor.assess(ip_of(case, "DE", "DE"), "2022-03-01", asn=bad)  # type: ignore[arg-type]


def test_cli_alternatives(case: ErrorModelCase, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt_path = tmp_path / "gt.npz"
    case.ground_truth.save(gt_path)
    db = case.write_bin(tmp_path / "db.BIN", build_date=dt.date(2022, 12, 31))
    ip = ip_of(case, "CH", "AT")
    base = ["--ground-truth", str(gt_path), "--database", str(db), "assess", ip, "--date", "2022-03-01"]
    code = main([*base, "--country", "CH", "--alternatives", "AT=0.7,DE=0.3", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # not valid: the database says AT, not the claimed CH
    assert out["likelihood_ratio"]["mode"] == "weighted"
    assert out["likelihood_ratio"]["weakest_against"] is None
    code = main([*base, "--country", "CH", "--alternatives", "AT,DE", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["likelihood_ratio"]["mode"] == "each"
    assert out["likelihood_ratio"]["weakest_against"] == "AT"
    assert out["provenance"]["policy"]["lr_alternatives"] == [["AT", None], ["DE", None]]
    assert main([*base, "--alternatives", "AT=x"]) == 2  # a usage error
    assert "not a weight" in capsys.readouterr().err


def test_one_call_assess_validates_like_the_assessor(case: ErrorModelCase) -> None:
    clear_assessor_cache()
    with pytest.raises(InvalidEvidenceDateError):
        assess("8.8.8.8", "yesterday", ground_truth=case.ground_truth, database=case.backend)
    v = assess("8.8.8.8", "2022-01-01", ground_truth=case.ground_truth, database=case.backend)
    assert v.outcome == "not valid"
    assert v.network["is_cloud"]
    assert not math.isnan(float(v.database_gap_days))


def test_the_database_criterion_is_measured_on_a_catalogue(case: ErrorModelCase, tmp_path: Path) -> None:
    from ipevidence.backends import open_database
    from ipevidence.catalog import DatabaseCatalog

    gt = case.ground_truth
    good = case.backend.lookup(gt.address)
    # An older build, right on the addresses of its own time, that misplaces every 10th German
    # address of 2022 in Austria (addresses moved after it was built).
    stale = good.copy()
    de = np.flatnonzero((gt.country == b"DE") & (gt.years == 2022))[::10]
    stale[de] = b"AT"
    old = case.write_bin(tmp_path / "old.BIN", located=stale, build_date=dt.date(2020, 6, 1))
    new = case.write_bin(tmp_path / "new.BIN", located=good, build_date=dt.date(2022, 1, 15))
    catalog = DatabaseCatalog.from_paths([old, new])
    placed = (gt.country == b"DE") & (stale == b"DE") & (gt.years == 2022)
    ip = format_ipv4(gt.address[np.flatnonzero(placed)[:1]])[0]
    # The investigator used the 2020 build for 2022 evidence: builds two years older than their
    # evidence place Germany about 90 % right (the 2020 build on the 2022 rows): not valid.
    used_old = EvidentialAssessor(gt, open_database(old), catalog=catalog).assess(
        ip, "2022-03-01", asn=ISP_ASN
    )
    figure, passed, required = crit(used_old, "database_age_accuracy")
    rows_2022 = (gt.country == b"DE") & (gt.years == 2022)
    by_hand = float(np.mean(stale[rows_2022] == b"DE"))
    assert required
    assert passed is False
    assert isinstance(figure, float)
    assert figure < by_hand < 0.95  # a lower bound under the point estimate
    assert used_old.outcome == "not valid"
    assert "database_gap_days" not in {c.name for c in used_old.criteria}
    # The 2022 build for 2022 evidence (age 0): measured on the same build's 2022 rows, it passes.
    used_new = EvidentialAssessor(gt, open_database(new), catalog=catalog).assess(
        ip, "2022-03-01", asn=ISP_ASN
    )
    assert crit(used_new, "database_age_accuracy")[1] is True
    assert used_new.outcome == "valid", used_new.reasons
    # Without a catalogue the flat gap flag stays, advisory.
    flat = EvidentialAssessor(gt, open_database(old)).assess(ip, "2022-03-01", asn=ISP_ASN)
    assert crit(flat, "database_gap_days")[2] is False


def test_the_report_follows_the_policy_for_the_lr(case: ErrorModelCase) -> None:
    from ipevidence.report.build import assessor_report

    weighted = Policy.preset("default", lr_hd="weighted", lr_alternatives={"AT": 0.7, "DE": 0.3})
    assessor = EvidentialAssessor(case.ground_truth, case.backend, weighted)
    report = assessor_report(assessor, dt.date(2022, 3, 1), countries=["CH"], figures=False)
    section = next(s for s in report.sections if s.title == "Likelihood ratio")
    row = section.tables[0].rows[0]
    verdict = assessor.assess(ip_of(case, "CH", "CH"), "2022-03-01", asn=ISP_ASN)
    head = verdict.likelihood_ratio.headline
    assert row[0] == "CH"
    assert row[1] == "weighted mixture"
    assert row[2] == pytest.approx(head.value)
    assert row[5] == pytest.approx(head.conservative)
    assert any("AT (weight 0.7" in p or ("AT" in p and "0.7" in p) for p in section.paragraphs)
    # The reference preset reports no LR: no LR section at all.
    ref = EvidentialAssessor(case.ground_truth, case.backend, "reference")
    plain = assessor_report(ref, dt.date(2022, 3, 1), countries=["CH"], figures=False)
    assert "Likelihood ratio" not in [s.title for s in plain.sections]
