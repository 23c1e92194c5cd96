"""Accuracy, confusion matrix and likelihood ratios on a known error model, checked by hand."""

from __future__ import annotations

import collections
import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipevidence.accuracy import (
    LocatedGroundTruth,
    Table,
    address_table,
    database_accuracy_table,
    naive_methods_table,
)
from ipevidence.addresses import format_ipv4, format_ipv6
from ipevidence.errors import (
    FamilyMismatchError,
    InvalidParameterError,
    OutsideGroundTruthError,
    UnknownCountryError,
)
from ipevidence.jsonutil import canonical_json
from ipevidence.stats import clustered_interval, proportion_interval
from ipevidence.synthetic.errormodel import Cell, build_case

CELLS = [
    Cell("IT", 2015, 1000, {"FR": 20}, not_located=5),
    Cell("IT", 2016, 800, {"FR": 60, "CH": 12, "NL": 8}),
    Cell("FR", 2015, 2000, {"IT": 10}),
    Cell("FR", 2016, 2000, {"IT": 30}, not_located=20),
    Cell("CH", 2016, 500),
    Cell("DE", 2016, 3000, {"NL": 30}),
]


@pytest.fixture(scope="module")
def lgt() -> LocatedGroundTruth:
    case = build_case(CELLS, seed=7)
    # the paper's independent counts: every figure below is checked against plain Wilson by hand
    return LocatedGroundTruth.from_backend(case.ground_truth, case.backend, clustering="none")


def test_backend_answers_exactly_as_the_model_says() -> None:
    case = build_case(CELLS, seed=7)
    gt = case.ground_truth
    located = case.backend.lookup(gt.address)
    pairs = collections.Counter(zip(gt.country.tolist(), gt.years.tolist(), located.tolist(), strict=True))
    assert pairs[(b"IT", 2016, b"FR")] == 60
    assert pairs[(b"IT", 2015, b"")] == 5
    assert pairs[(b"IT", 2015, b"IT")] == 975
    assert pairs[(b"DE", 2016, b"NL")] == 30
    # Scalar lookups agree with the column.
    ips = format_ipv4(gt.address[:50])
    for ip, code in zip(ips, located[:50].tolist(), strict=True):
        assert case.backend.country(ip) == (code.decode() or None)
    assert case.backend.country("1.1.1.1") is None
    info = case.backend.describe()
    assert info.build_date == dt.date(2022, 12, 31)
    assert info.families == frozenset({4})
    assert len(info.sha256) == 64


def test_country_year_accuracy_by_hand(lgt: LocatedGroundTruth) -> None:
    it = lgt.country_accuracy("it", 2015, 2016)
    y15, y16 = it.years
    assert (y15.addresses, y15.located, y15.correct, y15.not_located) == (1000, 995, 975, 5)
    assert (y16.addresses, y16.located, y16.correct) == (800, 800, 720)
    assert y15.accuracy.estimate == pytest.approx(975 / 995)
    assert y15.accuracy_all.estimate == pytest.approx(975 / 1000)
    ref = proportion_interval(975, 995)
    assert (y15.accuracy.low, y15.accuracy.high) == (ref.low, ref.high)
    # Hist all and Hist min.
    assert (it.hist_all.addresses, it.hist_all.located, it.hist_all.correct) == (1800, 1795, 1695)
    assert it.hist_all.accuracy.estimate == pytest.approx(1695 / 1795)
    assert it.hist_min == pytest.approx(0.9)
    assert it.hist_min_year == 2016
    assert it.hist_min_low == proportion_interval(720, 800).low
    assert it.hist_min_low_year == 2016
    # Not located counted as wrong.
    wrong = lgt.country_accuracy("IT", 2015, 2016, "wrong")
    assert wrong.hist_all.selected("wrong").estimate == pytest.approx(1695 / 1800)
    assert wrong.hist_min == pytest.approx(0.9)


def test_clopper_pearson_engine() -> None:
    case = build_case(CELLS, seed=7)
    cp = LocatedGroundTruth.from_backend(
        case.ground_truth, case.backend, method="clopper-pearson", level=0.99, clustering="none"
    )
    iv = cp.country_accuracy("FR", 2016, 2016).years[0].accuracy
    ref = proportion_interval(1950, 1980, "clopper-pearson", 0.99)
    assert (iv.low, iv.high, iv.method, iv.level) == (ref.low, ref.high, "clopper-pearson", 0.99)


def test_years_without_data_and_unknown_countries(lgt: LocatedGroundTruth) -> None:
    ch = lgt.country_accuracy("CH", 2015, 2016)
    assert ch.years[0].addresses == 0
    assert ch.years[0].accuracy.estimate is None
    assert ch.hist_min == 1.0  # the year without data is skipped, and visible in .years
    es = lgt.country_accuracy("ES", 2015, 2016)  # known code, no ground truth at all
    assert es.addresses == 0
    assert es.hist_min is None
    assert es.hist_all.accuracy.estimate is None
    with pytest.raises(UnknownCountryError):
        lgt.country_accuracy("QQ", 2015, 2016)
    with pytest.raises(ValueError, match="not_located"):
        lgt.country_accuracy("IT", 2015, 2016, "ignore")


def test_global_accuracy_by_hand(lgt: LocatedGroundTruth) -> None:
    g15, g16 = lgt.global_accuracy(2015, 2016)
    assert (g15.addresses, g15.located, g15.correct) == (3000, 2995, 975 + 1990)
    assert (g16.addresses, g16.located, g16.correct) == (6300, 6280, 720 + 1950 + 500 + 2970)
    assert g16.accuracy.estimate == pytest.approx(6140 / 6280)
    assert lgt.global_accuracy(2030, 2030)[0].addresses == 0


def test_confusion_matrix_by_hand(lgt: LocatedGroundTruth) -> None:
    cm = lgt.confusion(2015, 2016)
    assert cm.declared == ("CH", "DE", "FR", "IT")
    assert cm.located == ("", "CH", "DE", "FR", "IT", "NL")
    assert cm.count("IT", "IT") == 1695
    assert cm.count("IT", "FR") == 80
    assert cm.count("IT", "CH") == 12
    assert cm.count("IT", "NL") == 8
    assert cm.count("IT", None) == 5
    assert cm.count("FR", "IT") == 40
    assert cm.count("FR", None) == 20
    assert cm.count("DE", "NL") == 30
    assert cm.count("CH", "CH") == 500
    assert cm.count("ES", "IT") == 0
    assert cm.row_total("IT") == 1800
    assert int(cm.counts.sum()) == 9300
    d = cm.to_dict()
    assert d["counts"]["IT"] == {"CH": 12, "FR": 80, "IT": 1695, "NL": 8, "not located": 5}
    one = lgt.confusion(2016, 2016)
    assert one.count("IT", "FR") == 60
    assert "IT" in cm.to_markdown()
    assert cm.to_pandas().loc["IT", "FR"] == 80


def test_confusion_equals_a_plain_count() -> None:
    case = build_case(CELLS, seed=3)
    gt = case.ground_truth
    located = case.backend.lookup(gt.address)
    lgt = LocatedGroundTruth(gt, located)
    plain = collections.Counter(zip(gt.country.tolist(), located.tolist(), strict=True))
    cm = lgt.confusion(2015, 2016)
    for (dec, loc), n in plain.items():
        assert cm.count(dec.decode(), loc.decode() or None) == n


def test_likelihood_ratio_by_hand(lgt: LocatedGroundTruth) -> None:
    lr = lgt.likelihood_ratio("IT", "IT", 2015, 2016)
    assert lr is not None
    # P(db says IT | IT) = 1695 / 1800 (not-located rows are an outcome too).
    assert lr.numerator.successes == 1695
    assert lr.numerator.trials == 1800
    # Alternatives weighted by ground truth: CH 0/500, DE 0/3000, FR 40/4000 -> pooled 40/7500.
    assert (lr.denominator.successes, lr.denominator.trials) == (40, 7500)
    assert lr.value == pytest.approx((1695 / 1800) / (40 / 7500))
    num, den = proportion_interval(1695, 1800), proportion_interval(40, 7500)
    assert num.low is not None
    assert den.high is not None
    assert lr.conservative == pytest.approx(num.low / den.high)
    assert dict(lr.alternatives) == pytest.approx({"CH": 500 / 7500, "DE": 3000 / 7500, "FR": 4000 / 7500})
    assert "moderately strong support" in lr.verbal


def test_likelihood_ratio_user_alternatives_and_zero_false_positives(lgt: LocatedGroundTruth) -> None:
    lr = lgt.likelihood_ratio("IT", "IT", 2015, 2016, alternatives={"CH": 1, "DE": 1, "ES": 5})
    assert lr is not None
    assert lr.alternatives_without_data == ("ES",)
    assert lr.value is None  # neither CH nor DE is ever placed in IT
    assert lr.high is None
    assert lr.conservative > 0
    assert "unbounded" in str(lr)
    # Observed a different country than Hp: the LR favours the alternative.
    lr_fr = lgt.likelihood_ratio("IT", "FR", 2015, 2016)
    assert lr_fr is not None
    assert lr_fr.value == pytest.approx((80 / 1800) / (3940 / 7500))  # FR placed in FR: 1990 + 1950
    assert "support for the proposition that the device was in another country (pooled)" in lr_fr.verbal
    # Not located as the observation.
    lr_nl = lgt.likelihood_ratio("IT", None, 2015, 2016)
    assert lr_nl is not None
    assert lr_nl.numerator.successes == 5
    assert lr_nl.denominator.successes == 20
    # No ground truth for Hp, or for every alternative: no LR, no crash.
    assert lgt.likelihood_ratio("ES", "IT", 2015, 2016) is None
    assert lgt.likelihood_ratio("IT", "IT", 2015, 2016, alternatives={"ES": 1}) is None
    with pytest.raises(InvalidParameterError, match="own alternatives"):
        lgt.likelihood_ratio("IT", "IT", 2015, 2016, alternatives={"IT": 1})


def test_windows(lgt: LocatedGroundTruth) -> None:
    assert lgt.window(2016, 8) == (2015, 2016)
    assert lgt.window(2016, 1) == (2016, 2016)
    with pytest.raises(OutsideGroundTruthError, match="2015-2016"):
        lgt.window(2017, 8)
    with pytest.raises(OutsideGroundTruthError):
        lgt.window(2014, 8)


def test_rows_of(lgt: LocatedGroundTruth) -> None:
    gt = lgt.ground_truth
    rows = lgt.rows_of("FR", 2016, 2016)
    expect = np.flatnonzero((gt.country == b"FR") & (gt.years == 2016))
    assert np.array_equal(np.sort(rows), expect)
    assert lgt.rows_of("ES", 2015, 2016).size == 0


def test_tables(lgt: LocatedGroundTruth) -> None:
    t = address_table(lgt, ["IT", "FR", "CH"], 2015, 2016)
    assert t.columns == ("Country", "2015", "2016", "Total")
    assert t.rows == (("IT", 1000, 800, 1800), ("FR", 2000, 2000, 4000), ("CH", 0, 500, 500))
    md = t.to_markdown()
    assert "| IT | 1,000 | 800 | 1,800 |" in md
    assert "<td>1,800</td>" in t._repr_html_()
    frame = t.to_pandas()
    assert frame.shape == (3, 4)
    assert canonical_json(t.to_dict()) == canonical_json(t.to_dict())
    assert "IT" in str(t)
    # Table 7 with two databases: the second places everything correctly.
    gt = lgt.ground_truth
    perfect = LocatedGroundTruth(gt, gt.country.copy())
    t7 = database_accuracy_table({"model": lgt, "perfect": perfect}, ["IT", "FR"], 2015, 2016)
    assert t7.rows[0] == ("model", round(100 * 1695 / 1795, 2), round(100 * 3940 / 3980, 2))
    assert t7.rows[1] == ("perfect", 100.0, 100.0)
    ca = lgt.country_accuracy("IT", 2015, 2016)
    assert ca.table().rows[1][4] == 90.0


def test_naive_methods(lgt: LocatedGroundTruth) -> None:
    t = naive_methods_table(lgt, "IT", 2016, observed_year=2015, other_country="FR")
    rows = {r[0]: r for r in t.rows}
    own = 0.9
    glob = 6140 / 6280
    single = 975 / 995
    cross = 1950 / 1980
    assert rows["evidential (the country, the year)"][2] == 90.0
    assert rows["(i) global accuracy"][4] == round(100 * (glob - own), 2)
    assert rows["(ii) single observation"][4] == round(100 * (single - own), 2)
    assert rows["(iii) cross country"][4] == round(100 * (cross - own), 2)
    assert all(r[4] > 0 for r in t.rows[1:])  # every naive method overstates Italy in 2016


def test_ipv6_case() -> None:
    case = build_case(CELLS[:2], family=6, seed=1)
    gt = case.ground_truth
    assert gt.address.dtype == np.dtype("S16")
    lgt = LocatedGroundTruth.from_backend(gt, case.backend)
    assert lgt.country_accuracy("IT", 2015, 2016).hist_all.correct == 1695
    ip = format_ipv6(gt.address[:1])[0]
    assert case.backend.country(ip) in {"IT", "FR", "CH", "NL", None}
    with pytest.raises(FamilyMismatchError):
        case.backend.lookup(np.array([1], dtype=np.uint32))
    v4 = build_case(CELLS[:1], family=4)
    with pytest.raises(FamilyMismatchError, match="IPv4"):
        LocatedGroundTruth.from_backend(v4.ground_truth, case.backend)


def test_shape_mismatch_is_an_error() -> None:
    case = build_case(CELLS[:1])
    with pytest.raises(ValueError, match="shape"):
        LocatedGroundTruth(case.ground_truth, np.zeros(3, "S2"))


def test_cells_validate() -> None:
    with pytest.raises(ValueError, match="more misplaced"):
        Cell("IT", 2016, 10, {"FR": 11})
    with pytest.raises(ValueError, match="itself"):
        Cell("IT", 2016, 10, {"IT": 1})
    with pytest.raises(UnknownCountryError):
        Cell("XX", 2016, 10)
    with pytest.raises(ValueError, match="once"):
        build_case([Cell("IT", 2016, 1), Cell("IT", 2016, 2)])


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["AT", "BE", "CZ"]),
            st.integers(2014, 2017),
            st.integers(0, 60),
            st.integers(0, 10),
            st.integers(0, 5),
        ),
        min_size=1,
        max_size=8,
        unique_by=lambda t: (t[0], t[1]),
    )
)
def test_accuracy_equals_the_generated_counts(spec: list[tuple[str, int, int, int, int]]) -> None:
    cells = []
    for country, year, n, wrong, nl in spec:
        wrong = min(wrong, n)
        nl = min(nl, n - wrong)
        cells.append(Cell(country, year, n, {"PL": wrong} if wrong else {}, not_located=nl))
    if sum(c.addresses for c in cells) == 0:
        return
    case = build_case(cells, seed=len(cells))
    lgt = LocatedGroundTruth.from_backend(case.ground_truth, case.backend)
    for c in cells:
        ya = lgt.country_accuracy(c.country, c.year, c.year).years[0]
        assert (ya.addresses, ya.correct, ya.not_located) == (c.addresses, c.correct, c.not_located)
        if c.addresses:
            assert lgt.confusion(c.year, c.year).count(c.country, "PL") == c.wrong


def test_table_rendering_of_cells() -> None:
    t = Table("T", ("a", "b", "c", "d"), ((None, True, 1.5, "x"),), notes=("n",))
    assert "| \u2013 | yes | 1.50 | x |" in t.to_markdown()
    assert t.to_dict() == {
        "title": "T",
        "columns": ["a", "b", "c", "d"],
        "rows": [[None, True, 1.5, "x"]],
        "notes": ["n"],
    }


def test_clustered_engine_equals_per_probe_counts_done_by_hand() -> None:
    """The default engine (clustering by probe) gives, per year and window, exactly the interval of
    the per-probe counts, aggregated here with plain Python from the ground-truth rows."""
    case = build_case(CELLS, seed=7, addresses_per_probe=7)
    gt = case.ground_truth
    located = case.backend.lookup(gt.address)
    lgt = LocatedGroundTruth(gt, located)
    assert lgt.clustering == "probe"
    per_probe: dict[tuple[int, int], list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    for pid, country, year, loc in zip(
        gt.probe_id.tolist(), gt.country.tolist(), gt.years.tolist(), located.tolist(), strict=True
    ):
        if country == b"IT":
            row = per_probe[(int(year), int(pid))]
            row[0] += 1
            row[1] += loc != b""
            row[2] += loc == b"IT"
    it = lgt.country_accuracy("IT", 2015, 2016)
    for ya in it.years:
        probes = [v for (y, _), v in sorted(per_probe.items()) if y == ya.year]
        ref = clustered_interval([v[2] for v in probes], [v[1] for v in probes])
        ref_all = clustered_interval([v[2] for v in probes], [v[0] for v in probes])
        assert ya.accuracy == ref
        assert ya.accuracy_all == ref_all
        assert ya.accuracy.clusters == len(probes)
    window: dict[int, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    for (_, pid), v in per_probe.items():
        for j in range(3):
            window[pid][j] += v[j]
    ref = clustered_interval([v[2] for v in window.values()], [v[1] for v in window.values()])
    assert it.hist_all.accuracy == ref
    assert it.hist_all.accuracy.design_effect > 1.0  # misplaced rows sit together on probes
    table = it.table()
    assert table.columns[-3:] == ("Probes", "Design effect", "Effective n")
    assert table.rows[-1][-3] == ref.clusters
    assert "design effect" in str(it.hist_all.accuracy)


def test_one_address_per_probe_engine_equals_the_paper_counts() -> None:
    case = build_case(CELLS, seed=7, addresses_per_probe=1)
    located = case.backend.lookup(case.ground_truth.address)
    clustered = LocatedGroundTruth(case.ground_truth, located)
    plain = LocatedGroundTruth(case.ground_truth, located, clustering="none")
    a = clustered.country_accuracy("IT", 2015, 2016).hist_all.accuracy
    b = plain.country_accuracy("IT", 2015, 2016).hist_all.accuracy
    assert a.design_effect == 1.0
    assert a.low == pytest.approx(b.low, abs=1e-12)
    assert a.high == pytest.approx(b.high, abs=1e-12)
    g1, g2 = clustered.global_accuracy(2016, 2016)[0].accuracy, plain.global_accuracy(2016, 2016)[0].accuracy
    assert g1.low == pytest.approx(g2.low, abs=1e-12)
    assert g1.clusters == g1.trials


def test_network_accuracy_by_hand() -> None:
    case = build_case(CELLS, seed=7, addresses_per_probe=5)
    gt = case.ground_truth
    located = case.backend.lookup(gt.address)
    lgt = LocatedGroundTruth(gt, located)
    asn = int(gt.asn[np.flatnonzero(gt.country == b"IT")[0]])
    mask = (gt.country == b"IT") & (gt.asn == asn)
    net = lgt.network_accuracy("IT", asn, 2015, 2016)
    assert net.asn == asn
    assert net.addresses == int(mask.sum())
    assert net.located == int((mask & (located != b"")).sum())
    assert net.correct == int((mask & (located == b"IT")).sum())
    probes = np.unique(gt.probe_id[mask & (located != b"")])
    assert net.accuracy.clusters == probes.size
    assert net.to_dict()["asn"] == asn
    assert f"AS{asn}" in str(net)
    one_year = lgt.network_accuracy("IT", asn, 2016, 2016)
    assert one_year.addresses == int((mask & (gt.years == 2016)).sum())
    none = lgt.network_accuracy("IT", 64_512, 2015, 2016)
    assert none.addresses == 0
    assert none.accuracy.estimate is None
    with pytest.raises(InvalidParameterError):
        lgt.network_accuracy("IT", 0, 2015, 2016)
