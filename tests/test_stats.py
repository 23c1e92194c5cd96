"""Proportion intervals, likelihood ratios and the ENFSI verbal scale, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sst

from ipevidence.stats import (
    likelihood_ratio,
    proportion_interval,
    proportion_intervals,
    rule_of_three_upper,
    verbal_scale,
)


def wilson_by_hand(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    z = {0.95: 1.959963984540054, 0.99: 2.5758293035489004}[level]
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(3898, 4200), (1, 2), (81, 263), (499, 500), (12, 1000)])
@pytest.mark.parametrize("level", [0.95, 0.99])
def test_wilson_matches_the_formula(k: int, n: int, level: float) -> None:
    iv = proportion_interval(k, n, "wilson", level)
    lo, hi = wilson_by_hand(k, n, level)
    assert iv.low == pytest.approx(lo, abs=1e-12)
    assert iv.high == pytest.approx(hi, abs=1e-12)
    assert iv.estimate == k / n


def test_wilson_known_published_value() -> None:
    # Newcombe (1998), Table I example: 81/263 -> 0.2553 to 0.3662 (score interval without correction).
    iv = proportion_interval(81, 263)
    assert (round(iv.low or 0, 4), round(iv.high or 0, 4)) == (0.2553, 0.3662)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (3, 17), (950, 1000), (4, 4200)])
@pytest.mark.parametrize("method", ["wilson", "clopper-pearson"])
def test_matches_scipy_binomtest(k: int, n: int, method: str) -> None:
    ref = sst.binomtest(k, n).proportion_ci(0.95, method="exact" if method == "clopper-pearson" else "wilson")
    iv = proportion_interval(k, n, method)
    assert iv.low == pytest.approx(ref.low, abs=1e-10)
    assert iv.high == pytest.approx(ref.high, abs=1e-10)


def test_clopper_pearson_edges_by_hand() -> None:
    # 0 of n: upper = 1 - (alpha/2)^(1/n); n of n: lower = (alpha/2)^(1/n).
    iv0 = proportion_interval(0, 10, "clopper-pearson")
    assert iv0.low == 0.0
    assert iv0.high == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-10)
    ivn = proportion_interval(10, 10, "clopper-pearson")
    assert ivn.high == 1.0
    assert ivn.low == pytest.approx(0.025 ** (1 / 10), rel=1e-10)


def test_jeffreys_by_hand() -> None:
    iv = proportion_interval(7, 40, "jeffreys")
    assert iv.low == pytest.approx(sst.beta.ppf(0.025, 7.5, 33.5))
    assert iv.high == pytest.approx(sst.beta.ppf(0.975, 7.5, 33.5))
    assert proportion_interval(0, 40, "jeffreys").low == 0.0
    assert proportion_interval(40, 40, "jeffreys").high == 1.0


def test_no_trials_gives_no_interval_not_a_crash() -> None:
    iv = proportion_interval(0, 0)
    assert iv.estimate is None
    assert iv.low is None
    assert iv.high is None
    assert "no data" in str(iv)
    lo, hi = proportion_intervals([0, 5], [0, 10])
    assert math.isnan(lo[0])
    assert math.isnan(hi[0])
    assert not math.isnan(lo[1])


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="counts"):
        proportion_interval(5, 4)
    with pytest.raises(ValueError, match="method"):
        proportion_interval(1, 4, "wald")
    with pytest.raises(ValueError, match="level"):
        proportion_interval(1, 4, "wilson", 1.0)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 100_000),
    frac=st.floats(0, 1),
    method=st.sampled_from(["wilson", "clopper-pearson", "jeffreys"]),
)
def test_interval_properties(n: int, frac: float, method: str) -> None:
    k = round(n * frac)
    iv = proportion_interval(k, n, method)
    p99 = proportion_interval(k, n, method, 0.99)
    assert iv.low is not None
    assert iv.high is not None
    assert p99.low is not None
    assert p99.high is not None
    assert 0.0 <= iv.low <= k / n <= iv.high <= 1.0
    assert p99.low <= iv.low + 1e-12
    assert p99.high >= iv.high - 1e-12


def test_vectorised_equals_scalar() -> None:
    ks = np.array([0, 3, 50, 99, 100])
    ns = np.array([100, 100, 100, 100, 100])
    lo, hi = proportion_intervals(ks, ns, "clopper-pearson")
    for k, n, a, b in zip(ks, ns, lo, hi, strict=True):
        iv = proportion_interval(int(k), int(n), "clopper-pearson")
        assert iv.low == pytest.approx(a)
        assert iv.high == pytest.approx(b)


def test_rule_of_three() -> None:
    assert rule_of_three_upper(1000) == pytest.approx(-math.log(0.05) / 1000)
    assert rule_of_three_upper(1000) == pytest.approx(0.0029957, rel=1e-4)  # about 3 / n
    assert rule_of_three_upper(1) == 1.0
    with pytest.raises(ValueError, match="trial"):
        rule_of_three_upper(0)


@pytest.mark.parametrize(
    ("lr", "words"),
    [
        (1.0, "do not support"),
        (1.99, "do not support"),
        (2.0, "weak support for H"),
        (9.99, "weak support for H"),
        (10.0, "moderate support for H"),
        (99.9, "moderate support for H"),
        (100.0, "moderately strong support for H"),
        (1_000.0, "strong support for H"),
        (9_999.0, "strong support for H"),
        (10_000.0, "very strong support for H"),
        (999_999.0, "very strong support for H"),
        (1_000_000.0, "extremely strong support for H"),
        (math.inf, "extremely strong support for H"),
        (None, "extremely strong support for H"),
        (0.51, "do not support"),
        (0.5, "weak support for the alternative"),
        (0.1, "moderate support for the alternative"),
        (0.0999, "moderate support for the alternative"),
        (0.01, "moderately strong support for the alternative"),
        (1e-4, "very strong support for the alternative"),
        (1e-6, "extremely strong support for the alternative"),
        (0.0, "extremely strong support for the alternative"),
    ],
)
def test_verbal_scale_bands_and_edges(lr: float | None, words: str) -> None:
    assert words in verbal_scale(lr, "H")
    if words.startswith("weak support for H"):
        assert not verbal_scale(lr, "H").startswith("moderate")


def test_verbal_scale_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        verbal_scale(-1.0)
    with pytest.raises(ValueError, match="non-negative"):
        verbal_scale(math.nan)


def test_lr_by_hand_pooled() -> None:
    # P(E|Hp) = 950/1000; alternatives 10/2000 and 30/3000 pooled: 40/5000.
    lr = likelihood_ratio(950, 1000, [10, 30], [2000, 3000], hp="H")
    assert lr.value == pytest.approx(0.95 / 0.008)
    num = proportion_interval(950, 1000)
    den = proportion_interval(40, 5000)
    assert num.low is not None
    assert num.high is not None
    assert den.low is not None
    assert den.high is not None
    assert lr.conservative == pytest.approx(num.low / den.high)
    assert lr.low == pytest.approx(num.low / den.high)
    assert lr.high == pytest.approx(num.high / den.low)
    assert lr.value is not None
    assert lr.high is not None
    assert lr.conservative < lr.value < lr.high
    assert lr.alternatives == (("alt0", 0.4), ("alt1", 0.6))
    assert lr.verbal == "moderate support for H"  # conservative ~ 88 (point ~ 119)
    point = likelihood_ratio(950, 1000, [10, 30], [2000, 3000], hp="H", basis="point")
    assert point.verbal == "moderately strong support for H"
    assert point.reported == point.value


def test_lr_by_hand_user_weights() -> None:
    lr = likelihood_ratio(
        90, 100, [10, 0], [100, 50], weights=[3, 1], alternative_names=["AT", "CH"], basis="point"
    )
    # Denominator 0.75 * 0.1 + 0.25 * 0 = 0.075.
    assert lr.value == pytest.approx(0.9 / 0.075)
    # Two alternatives: each bound at the Bonferroni level 1 - 0.05 / 2 = 0.975, so the weighted
    # sums hold at one-sided 97.5 % each; a zero count is bounded by the method's own (Wilson) bound.
    a = proportion_interval(10, 100, "wilson", 0.975)
    ch = proportion_interval(0, 50, "wilson", 0.975)
    assert a.high is not None
    assert a.low is not None
    assert ch.high is not None
    assert lr.denominator.high == pytest.approx(0.75 * a.high + 0.25 * ch.high)
    assert lr.denominator.low == pytest.approx(0.75 * a.low)
    assert lr.alternatives == (("AT", 0.75), ("CH", 0.25))
    assert lr.level == pytest.approx(0.90)
    assert lr.conservative_level == 0.95
    assert "moderate support" in lr.verbal  # point 12


def test_lr_zero_false_positives_never_divides_by_zero() -> None:
    lr = likelihood_ratio(990, 1000, [0], [5000])
    assert lr.value is None  # unbounded point estimate
    assert lr.high is None
    num = proportion_interval(990, 1000)
    assert num.low is not None
    wilson_zero = proportion_interval(0, 5000).high  # the policy's own bound, 3.84 / (n + 3.84)
    assert wilson_zero is not None
    assert wilson_zero == pytest.approx(1.959963984540054**2 / (5000 + 1.959963984540054**2))
    assert lr.conservative == pytest.approx(num.low / wilson_zero)
    assert math.isfinite(lr.conservative)
    assert lr.basis == "conservative"
    # a zero-count rule can only make the bound MORE conservative: the larger bound is taken
    r3 = likelihood_ratio(990, 1000, [0], [5000], zero_count="rule-of-three")
    assert r3.conservative == pytest.approx(lr.conservative)  # 3.69/n (one-sided 97.5 %) < 3.84/(n+3.84)
    small = likelihood_ratio(990, 1000, [0], [10], zero_count="rule-of-three")
    assert small.denominator.high == pytest.approx(-math.log(0.025) / 10)  # 0.369 > Wilson's 0.277
    jeff = likelihood_ratio(990, 1000, [0], [5000], zero_count="jeffreys")
    assert jeff.conservative == pytest.approx(lr.conservative)  # Jeffreys (~2.5/n) is below Wilson
    cp = likelihood_ratio(990, 1000, [0], [5000], method="clopper-pearson")
    cp_num = proportion_interval(990, 1000, "clopper-pearson")
    assert cp_num.low is not None
    assert cp.conservative == pytest.approx(cp_num.low / (1 - 0.025 ** (1 / 5000)))  # the user's method
    assert "unbounded" in str(lr)
    assert lr.to_dict()["value"] is None


def test_lr_numerator_zero_supports_the_alternative() -> None:
    lr = likelihood_ratio(0, 1000, [500], [1000])
    assert lr.value == 0.0
    assert lr.low == 0.0
    # the cautious end below 1 is the interval's UPPER end: Wilson upper of 0/1000 over the Wilson
    # lower of 500/1000, about 1/122, so not "extremely strong" support for the alternative
    assert lr.high is not None
    assert lr.conservative == lr.high
    assert 100 < 1 / lr.conservative < 1000
    assert lr.verbal.startswith("moderately strong support for the alternative")


def test_conservative_lr_is_the_interval_end_closest_to_one() -> None:
    from ipevidence.stats import conservative_lr

    assert conservative_lr(250.0, 900.0) == 250.0
    assert conservative_lr(250.0, None) == 250.0
    assert conservative_lr(0.001, 0.004) == 0.004
    assert conservative_lr(0.5, 3.0) == 1.0  # the interval contains 1: no support either way
    assert conservative_lr(0.5, None) == 1.0


def test_lr_input_errors() -> None:
    with pytest.raises(ValueError, match="Hp"):
        likelihood_ratio(0, 0, [1], [2])
    with pytest.raises(ValueError, match="alternative"):
        likelihood_ratio(1, 2, [0], [0])
    with pytest.raises(ValueError, match="weight"):
        likelihood_ratio(1, 2, [0, 1], [3, 4], weights=[1])
    with pytest.raises(ValueError, match="zero-count"):
        likelihood_ratio(1, 2, [0], [3], zero_count="laplace")
    with pytest.raises(ValueError, match="zero"):
        likelihood_ratio(1, 2, [0, 1], [3, 4], weights=[0, 0])


def test_directed_rounding_never_flatters() -> None:
    from ipevidence.stats import percent_down, round_directed

    assert percent_down(0.99996) == 99.99  # never shown as 100.00
    assert percent_down(0.9871) == 98.71  # an exact figure is not pushed a step down
    assert percent_down(None) is None
    assert round_directed(4.001, 2, "up") == 4.01
    assert round_directed(4.0, 2, "up") == 4.0
    assert round_directed(2.345, 1, "nearest") == 2.3
    with pytest.raises(ValueError, match="direction"):
        round_directed(1.0, 2, "sideways")


def test_criterion_text_is_rounded_against_passing() -> None:
    from ipevidence.assessment import Criterion

    fails = Criterion("hist_min", "accuracy", "Hist min", 0.949996, 0.95, ">=", False, unit="%")
    assert fails.figure_text() == "94.99 %"  # not "95.00 %" next to a threshold of 95.00 %
    over = Criterion("border", "geography", "border share", 0.100004, 0.10, "<=", False, unit="%")
    assert over.figure_text() == "10.01 %"
