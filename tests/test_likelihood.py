"""Cluster-aware intervals and likelihood ratios with an explicit Hd, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sst

from ipevidence.accuracy import LocatedGroundTruth
from ipevidence.errors import InvalidParameterError, UnknownCountryError
from ipevidence.jsonutil import canonical_json
from ipevidence.likelihood import EvidenceLR, likelihood_ratio_from_intervals, zero_count_upper
from ipevidence.stats import clustered_interval, clustered_intervals, effective_counts, proportion_interval
from ipevidence.synthetic.errormodel import Cell, build_case

Z = 1.959963984540054

# ---------------------------------------------------------------------------------------------
# intervals
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (3, 17), (950, 1000), (4, 4200), (4810, 5000)])
@pytest.mark.parametrize("method", ["wilson", "clopper-pearson"])
def test_one_address_per_probe_equals_scipy(k: int, n: int, method: str) -> None:
    y = np.r_[np.ones(k, dtype=np.int64), np.zeros(n - k, dtype=np.int64)]
    iv = clustered_interval(y, np.ones(n, dtype=np.int64), method)
    ref = sst.binomtest(k, n).proportion_ci(0.95, method="exact" if method == "clopper-pearson" else "wilson")
    assert iv.design_effect == 1.0
    assert iv.effective_trials == n
    assert iv.clusters == n
    assert iv.low == pytest.approx(ref.low, abs=1e-12)
    assert iv.high == pytest.approx(ref.high, abs=1e-12)


def test_design_effect_by_hand() -> None:
    # Four probes of 10 addresses, 10, 8, 10 and 4 correct: K = 32, n = 40, p = 0.8.
    y, m = [10, 8, 10, 4], [10, 10, 10, 10]
    rss = (10 - 8) ** 2 + 0**2 + (10 - 8) ** 2 + (4 - 8) ** 2  # 24
    var_c = 4 / 3 * rss / 40**2  # 0.02
    var_srs = 0.8 * 0.2 / 39
    deff_raw = var_c / var_srs  # 4.875
    # Korn-Graubard degrees of freedom: k - 1 = 3 probes against n - 1 = 39 addresses
    factor = (sst.t.ppf(0.975, 39) / sst.t.ppf(0.975, 3)) ** 2
    no_floor = clustered_intervals(y, m, min_icc=0.0).interval(0)
    assert no_floor.effective_trials == pytest.approx(40 / deff_raw * factor, rel=1e-12)
    assert no_floor.design_effect == pytest.approx(deff_raw / factor, rel=1e-12)
    n_eff = 40 / deff_raw * factor
    lo, hi = _wilson(0.8 * n_eff, n_eff)
    assert no_floor.low == pytest.approx(lo, abs=1e-12)
    assert no_floor.high == pytest.approx(hi, abs=1e-12)
    # the default floor: intra-probe correlation at least 0.5, deff >= 1 + 0.5 (sum m^2 / n - 1) = 5.5
    iv = clustered_interval(y, m)
    assert iv.effective_trials == pytest.approx(40 / 5.5 * factor, rel=1e-12)
    assert iv.clusters == 4
    assert str(iv).endswith(
        f"design effect {40 / iv.effective_n:.1f}, effective n {iv.effective_n:.0f}, 4 probes)"
    )


def _wilson(k: float, n: float) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return centre - half, centre + half


def test_no_variation_counts_each_probe_as_one_trial() -> None:
    iv = clustered_interval([25, 30, 5], [25, 30, 5])  # 60 of 60 correct, 3 probes
    assert iv.effective_trials == 3
    assert iv.low == pytest.approx(3 / (3 + Z * Z), abs=1e-12)  # Wilson lower bound of 3 of 3
    zero = clustered_interval([0, 0, 0, 0], [100, 200, 50, 10])
    assert zero.effective_trials == 4
    assert zero.high == pytest.approx(Z * Z / (4 + Z * Z), abs=1e-12)
    one = clustered_interval([5], [10])  # one probe, variation inside it: one trial
    assert one.effective_trials == 1.0
    assert clustered_interval([], []).low is None


def test_effective_counts_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="clusters"):
        effective_counts(3, 5, 6, 0.0)
    with pytest.raises(ValueError, match="per-cluster"):
        clustered_interval([3], [2])
    with pytest.raises(ValueError, match="min_icc"):
        clustered_intervals([1], [2], min_icc=1.5)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 60), st.floats(0, 1)), min_size=1, max_size=40),
    st.sampled_from(["wilson", "clopper-pearson", "jeffreys"]),
)
def test_cluster_aware_interval_is_never_narrower(probes: list[tuple[int, float]], method: str) -> None:
    m = np.array([a for a, _ in probes], dtype=np.int64)
    y = np.array([round(a * f) for a, f in probes], dtype=np.int64)
    iv = clustered_interval(y, m, method)
    plain = proportion_interval(int(y.sum()), int(m.sum()), method)
    assert iv.low is not None
    assert plain.low is not None
    assert iv.high is not None
    assert plain.high is not None
    assert iv.low <= plain.low + 1e-12
    assert iv.high >= plain.high - 1e-12
    assert iv.design_effect >= 1.0
    assert iv.effective_n <= iv.trials


# ---------------------------------------------------------------------------------------------
# the likelihood ratio
# ---------------------------------------------------------------------------------------------


def test_zero_count_is_bounded_by_the_methods_own_bound_on_effective_counts() -> None:
    num = proportion_interval(990, 1000)
    den = clustered_interval([0] * 8, [50] * 8)  # nothing placed in C by 8 probes of 50 addresses
    assert den.effective_trials == 8
    lr = likelihood_ratio_from_intervals(num, [den])
    assert lr.denominator.high == pytest.approx(Z * Z / (8 + Z * Z), abs=1e-12)  # Wilson 0 of 8
    assert num.low is not None
    assert lr.denominator.high is not None
    assert lr.conservative == pytest.approx(num.low / lr.denominator.high)
    # a rule may only raise it: rule of three at one-sided 97.5 % on 8 effective trials
    assert zero_count_upper(den, "rule-of-three") == pytest.approx(max(-math.log(0.025) / 8, den.high or 0))
    assert zero_count_upper(den, "jeffreys") == den.high  # Jeffreys is below Wilson here: not taken
    cp = clustered_interval([0] * 8, [50] * 8, "clopper-pearson")
    assert cp.high == pytest.approx(1 - 0.025 ** (1 / 8), rel=1e-10)


def test_levels_are_stated_and_bonferroni_is_enforced() -> None:
    num = proportion_interval(95, 100)
    den = proportion_interval(5, 100)
    lr = likelihood_ratio_from_intervals(num, [den])
    assert lr.level == pytest.approx(0.90)
    assert lr.conservative_level == 0.95
    assert "90 % interval" in str(lr)
    assert "one-sided 95 % bound" in str(lr)
    assert lr.to_dict()["conservative_level"] == 0.95
    with pytest.raises(ValueError, match="Bonferroni"):
        likelihood_ratio_from_intervals(num, [den, den], weights=[1, 1])
    with pytest.raises(ValueError, match="weights"):
        likelihood_ratio_from_intervals(num, [den, den])
    half = proportion_interval(5, 100, "wilson", 0.975)
    ok = likelihood_ratio_from_intervals(num, [half, half], weights=[1, 3])
    assert ok.alternatives == (("alt0", 0.25), ("alt1", 0.75))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 200), st.integers(1, 200), st.integers(0, 200), st.integers(1, 200))
def test_conservative_lr_is_never_further_from_one_than_the_point(k1: int, n1: int, k2: int, n2: int) -> None:
    k1, k2 = min(k1, n1), min(k2, n2)
    lr = likelihood_ratio_from_intervals(proportion_interval(k1, n1), [proportion_interval(k2, n2)])
    assert math.isfinite(lr.conservative)
    assert lr.low <= (lr.value if lr.value is not None else math.inf)
    if lr.value is not None and lr.value > 0:
        assert abs(math.log(lr.conservative)) <= abs(math.log(lr.value)) + 1e-12
    if lr.value is not None and lr.high is not None:
        assert lr.low <= lr.value <= lr.high


# ---------------------------------------------------------------------------------------------
# an explicit Hd on a ground truth
# ---------------------------------------------------------------------------------------------

CELLS = [
    Cell("CH", 2016, 1000, {"AT": 30}),
    Cell("AT", 2016, 2000, {"DE": 10}),
    Cell("DE", 2016, 3000, {"AT": 6}),
    Cell("IT", 2016, 1500),
    Cell("FR", 2016, 40, {"AT": 1}),
]


@pytest.fixture(scope="module")
def lgt() -> LocatedGroundTruth:
    case = build_case(CELLS, seed=11, addresses_per_probe=5)
    return LocatedGroundTruth.from_backend(case.ground_truth, case.backend)


def test_claimed_ch_database_at(lgt: LocatedGroundTruth) -> None:
    ev = lgt.evidence_lr("CH", "AT", 2016, 2016, min_addresses=100)
    assert isinstance(ev, EvidenceLR)
    assert ev.mode == "each"
    assert ev.alternatives_without_data == ("FR",)  # 40 addresses < 100: listed, not silent
    by = {lr.alternative: lr for lr in ev.per_alternative}
    assert set(by) == {"AT", "DE", "IT"}
    at = by["AT"]
    assert at.value == pytest.approx((30 / 1000) / (1990 / 2000))  # about 0.03: supports AT
    assert at.numerator.successes == 30
    assert at.numerator.clustering == "probe"
    assert by["DE"].value == pytest.approx((30 / 1000) / (6 / 3000))
    assert by["IT"].value is None  # no Italian address placed in AT: unbounded
    assert ev.weakest_against == "AT"
    assert ev.per_alternative[0] is at  # weakest first
    assert at.conservative < 1
    # AT was picked as the most favourable of 3 alternatives: the headline's bounds are at
    # 1 - 0.05 / 3 each, so the support it reports for AT holds simultaneously at 95 %
    h = ev.headline
    assert h is not None
    assert h.alternative == "AT"
    assert h.numerator.level == pytest.approx(1 - 0.05 / 3)
    assert h.denominator.level == pytest.approx(1 - 0.05 / 3)
    assert h.level == pytest.approx(1 - 0.1 / 3)
    assert h.conservative_level == 0.95
    assert at.conservative < h.conservative < 1  # closer to 1 than the single comparison
    assert h.value == at.value
    assert "adjusted for choosing it among 3" in ev.hd
    assert "the proposition that the device was in AT" in ev.verbal
    assert ev.hp == "the device was in CH"
    assert "each of the 3 countries with at least 100 ground-truth addresses in 2016" in ev.hd
    assert "the weakest, AT, is reported" in ev.hd
    assert canonical_json(ev.to_dict()) == canonical_json(ev.to_dict())
    assert "Hd: the device was in another country" in str(ev)
    # cached per (window, observation): the same object again
    assert lgt.evidence_lr("CH", "AT", 2016, 2016, min_addresses=100) is ev


def test_support_for_hp_names_the_weakest(lgt: LocatedGroundTruth) -> None:
    ev = lgt.evidence_lr("DE", "DE", 2016, 2016, min_addresses=100)
    assert ev is not None
    assert ev.headline is not None
    by = {lr.alternative: lr for lr in ev.per_alternative}
    # CH (200 probes) and IT (300 probes) never place an address in DE: a zero count is bounded by
    # Wilson's 0-of-k upper bound with k = probes (each probe one trial), so the alternative with
    # fewer probes is the weaker one.
    num = by["CH"].numerator
    assert num.low is not None
    for code, probes in (("CH", 200), ("IT", 300)):
        den = by[code].denominator
        assert (den.successes, den.clusters, den.effective_trials) == (0, probes, probes)
        assert by[code].conservative == pytest.approx(num.low / (Z * Z / (probes + Z * Z)), rel=1e-12)
    assert by["CH"].conservative < by["IT"].conservative
    reported = [lr.conservative for lr in ev.per_alternative]
    assert reported == sorted(reported)
    assert ev.weakest_against == ev.per_alternative[0].alternative
    assert ev.headline is ev.per_alternative[0]
    assert ev.verbal.startswith("at least ")
    assert f"(weakest against {ev.weakest_against})" in ev.verbal


def test_named_alternatives_without_ground_truth_are_listed(lgt: LocatedGroundTruth) -> None:
    ev = lgt.evidence_lr("CH", "AT", 2016, 2016, alternatives=["AT", "LI", "ES"], min_addresses=100)
    assert ev is not None
    assert ev.alternatives_without_data == ("ES", "LI")
    assert [lr.alternative for lr in ev.per_alternative] == ["AT"]
    only = "the only named alternative with at least 100 ground-truth addresses in 2016"
    assert ev.hd == f"the device was in AT ({only})"
    nothing = lgt.evidence_lr("CH", "AT", 2016, 2016, alternatives=["LI"], min_addresses=100)
    assert nothing is not None
    assert nothing.headline is None
    assert "no likelihood ratio" in nothing.verbal
    assert lgt.evidence_lr("ES", "AT", 2016, 2016) is None  # no ground truth for Hp


def test_hp_among_the_alternatives_and_bad_weights_are_typed_errors(lgt: LocatedGroundTruth) -> None:
    with pytest.raises(InvalidParameterError, match="CH is the claimed country"):
        lgt.evidence_lr("CH", "AT", 2016, 2016, alternatives=["AT", "ch"])
    with pytest.raises(InvalidParameterError, match="all zero"):
        lgt.evidence_lr("CH", "AT", 2016, 2016, alternatives={"AT": 0, "DE": 0}, mode="weighted")
    with pytest.raises(InvalidParameterError, match="non-negative"):
        lgt.evidence_lr("CH", "AT", 2016, 2016, alternatives={"AT": -1}, mode="weighted")
    with pytest.raises(InvalidParameterError, match="mode"):
        lgt.evidence_lr("CH", "AT", 2016, 2016, mode="everything")
    with pytest.raises(UnknownCountryError):
        lgt.evidence_lr("CH", "AT", 2016, 2016, alternatives=["QQ"])
    with pytest.raises(ValueError, match="own alternatives"):  # still a ValueError for old callers
        lgt.likelihood_ratio("CH", "AT", 2016, 2016, alternatives={"CH": 1})


def test_weighted_and_pooled_modes(lgt: LocatedGroundTruth) -> None:
    ev = lgt.evidence_lr("CH", "AT", 2016, 2016, alternatives={"AT": 0.7, "DE": 0.3}, mode="weighted")
    assert ev is not None
    assert ev.hd == "the device was in AT (weight 0.7) or DE (0.3)"
    assert ev.weights == (("AT", 0.7), ("DE", 0.3))
    h = ev.headline
    assert h is not None
    assert h.value == pytest.approx((30 / 1000) / (0.7 * 1990 / 2000 + 0.3 * 6 / 3000))
    assert h.denominator.level == pytest.approx(0.95)
    assert h.level == pytest.approx(0.90)
    pooled = lgt.evidence_lr("CH", "AT", 2016, 2016, mode="pooled", min_addresses=100)
    assert pooled is not None
    assert pooled.headline is not None
    assert "where RIPE Atlas deploys probes" in pooled.hd
    assert pooled.headline.denominator.trials == 2000 + 3000 + 1500
    assert pooled.headline.value == pytest.approx((30 / 1000) / ((1990 + 6) / 6500))
    # the older interface: pooled over every other country with any ground truth
    old = lgt.likelihood_ratio("CH", "AT", 2016, 2016)
    assert old is not None
    assert old.denominator.trials == 2000 + 3000 + 1500 + 40


def test_nothing_observed_either_way_is_undefined_not_unbounded(lgt: LocatedGroundTruth) -> None:
    ev = lgt.evidence_lr("CH", None, 2016, 2016, min_addresses=100)  # nobody is ever "not located"
    assert ev is not None
    h = ev.headline
    assert h is not None
    assert h.undefined
    assert h.value is None
    assert h.conservative == 1.0
    assert "LR undefined (0 of both)" in str(h)
    assert "do not support" in h.verbal
    assert h.to_dict()["undefined"] is True


def test_shown_figures_are_rounded_against_the_claim() -> None:
    # conservative 99.97 must not be shown as "100" (the next verbal band)
    lr = likelihood_ratio_from_intervals(proportion_interval(95, 100), [proportion_interval(5, 100)])
    text = str(lr)
    assert lr.conservative < 100
    from ipevidence.likelihood import _fmt_lr

    assert _fmt_lr(99.97, "to1") == "99.9"
    assert _fmt_lr(99.97) == "100"
    assert _fmt_lr(0.012345, "to1") == "0.0124"  # below 1: toward 1, i.e. up
    assert _fmt_lr(1234.9, "down") == "1,234"
    assert "90 % interval" in text


def test_lr_intervals_equal_per_probe_counts_done_by_hand() -> None:
    """The engine's sparse sums give the same intervals as the per-probe counts, for every country,
    for the observed country's own rows (counted by their failures) and for the pooled mixture."""
    case = build_case(CELLS, seed=5, addresses_per_probe=9)
    gt = case.ground_truth
    rng = np.random.default_rng(5)
    located = gt.country.copy()
    u = rng.random(len(gt))
    located[u < 0.05] = b"AT"
    located[(u >= 0.05) & (u < 0.07)] = b""
    located[(u >= 0.07) & (u < 0.075)] = b"CH"
    lgt = LocatedGroundTruth(gt, located)

    def by_hand(country: bytes, obs: bytes) -> tuple[list[int], list[int]]:
        rows = gt.country == country
        probes = np.unique(gt.probe_id[rows])
        y = [int(np.sum(rows & (gt.probe_id == p) & (located == obs))) for p in probes]
        m = [int(np.sum(rows & (gt.probe_id == p))) for p in probes]
        return y, m

    for obs in ("AT", "CH", None):
        ev = lgt.evidence_lr("IT", obs, 2016, 2016, min_addresses=100)
        assert ev is not None
        code = (obs or "").encode()
        y, m = by_hand(b"IT", code)
        num = clustered_interval(y, m)
        for lr in ev.per_alternative:
            assert lr.numerator.low == pytest.approx(num.low, abs=1e-9)
            assert lr.numerator.design_effect == pytest.approx(num.design_effect, rel=1e-9)
            assert lr.alternative is not None
            yd, md = by_hand(lr.alternative.encode(), code)
            den = clustered_interval(yd, md)
            assert lr.denominator.successes == den.successes
            assert lr.denominator.clusters == den.clusters
            assert lr.denominator.low == pytest.approx(den.low, abs=1e-9)
            assert lr.denominator.high == pytest.approx(den.high, abs=1e-9)
        pooled = lgt.evidence_lr("IT", obs, 2016, 2016, min_addresses=100, mode="pooled")
        assert pooled is not None
        assert pooled.headline is not None
        ys: list[int] = []
        ms: list[int] = []
        for c in (b"AT", b"CH", b"DE"):
            yc, mc = by_hand(c, code)
            ys += yc
            ms += mc
        ref = clustered_interval(ys, ms)
        got = pooled.headline.denominator
        assert (got.successes, got.trials, got.clusters) == (ref.successes, ref.trials, ref.clusters)
        assert got.low == pytest.approx(ref.low, abs=1e-9)
        assert got.design_effect == pytest.approx(ref.design_effect, rel=1e-9)


def test_vectorised_alternative_intervals_equal_the_one_at_a_time_computation() -> None:
    """The LR engine computes every country's interval of one observation in one vectorised call;
    each equals the interval computed alone from the same sums, exactly."""
    cells = [
        Cell(c, y, 300 + 17 * i, {"DE": 3 + i, "FR": i} if c not in ("DE", "FR") else {"IT": 2 + i})
        for i, c in enumerate(("DE", "FR", "IT", "AT", "CH", "NL", "BE", "PL"))
        for y in range(2019, 2023)
    ]
    case = build_case(cells, seed=4, addresses_per_probe=7)
    lgt = LocatedGroundTruth.from_backend(case.ground_truth, case.backend)
    checked = 0
    for obs in ("DE", "IT", ""):
        placed = lgt._placed(2019, 2022, obs)
        assert placed.rss is not None
        assert placed.smm is not None
        for level in (0.95, 0.9875):
            for i in range(1, len(lgt.codes)):
                alone = lgt._from_sums(
                    int(placed.successes[i]),
                    int(placed.trials[i]),
                    float(placed.clusters[i]),
                    float(placed.rss[i]),
                    float(placed.smm[i]),
                    level,
                )
                assert lgt._interval_of(placed, i, level) == alone
                checked += 1
    assert checked == 3 * 2 * 8
