"""Statistics for evidence: proportion intervals, likelihood ratios and the ENFSI verbal scale.

Everything here is a pure function of counts (no ground truth, no database), so an expert can check
every figure by hand:

* :func:`proportion_interval` / :func:`proportion_intervals` (vectorised): the Wilson score interval
  (the default), the exact Clopper-Pearson interval (via ``scipy.stats.beta``) and the Jeffreys
  interval, all two-sided at a configurable ``level``; a proportion of nothing (``n == 0``) has no
  interval (NaN), never a division by zero;
* :func:`rule_of_three_upper`: the one-sided upper bound of a proportion when nothing was observed;
* :func:`likelihood_ratio`: LR = P(E | Hp) / P(E | Hd) from counts, with an interval and the
  conservative LR (the interval's end closest to 1, :func:`conservative_lr`);
* :func:`verbal_scale`: the ENFSI (2015) verbal equivalents, with the reciprocal wording below 1.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, Final, Literal

import attrs
import numpy as np
import numpy.typing as npt
from scipy import stats as _sst

__all__ = [
    "INTERVAL_METHODS",
    "VERBAL_BANDS",
    "Interval",
    "IntervalMethod",
    "LikelihoodRatio",
    "ZeroCountMethod",
    "conservative_lr",
    "likelihood_ratio",
    "percent_down",
    "proportion_interval",
    "proportion_intervals",
    "round_directed",
    "rule_of_three_upper",
    "verbal_scale",
]


def round_directed(value: float, decimals: int, direction: str = "nearest") -> float:
    """``value`` rounded to ``decimals`` places ``"down"``, ``"up"`` or to the ``"nearest"``.

    Figures shown to a court are rounded against the conclusion they could support: accuracies
    and lower bounds down, upper bounds up. Binary representation error (98.71 held as
    98.70999...) is removed first, so an exact figure is not pushed a step.
    """
    factor = float(10**decimals)
    scaled = round(value * factor, 6)
    if direction == "down":
        return math.floor(scaled) / factor
    if direction == "up":
        return math.ceil(scaled) / factor
    if direction != "nearest":
        raise ValueError(f"direction must be 'down', 'up' or 'nearest', not {direction!r}")
    return round(value, decimals)


def percent_down(value: float | None, decimals: int = 2) -> float | None:
    """A proportion as a percentage rounded DOWN (99.996 % is shown as 99.99 %, never 100.00 %)."""
    return None if value is None else round_directed(100 * value, decimals, "down")


IntervalMethod = Literal["wilson", "clopper-pearson", "jeffreys"]
ZeroCountMethod = Literal["jeffreys", "rule-of-three"]
INTERVAL_METHODS: Final[tuple[str, ...]] = ("wilson", "clopper-pearson", "jeffreys")


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must lie strictly between 0 and 1, not {level!r}")


@functools.lru_cache(maxsize=64)
def _z(level: float) -> float:
    """The two-sided standard normal quantile of a confidence level (cached: scipy calls are slow)."""
    return float(_sst.norm.ppf(1.0 - (1.0 - level) / 2.0))


def proportion_intervals(
    successes: npt.ArrayLike,
    trials: npt.ArrayLike,
    method: str = "wilson",
    level: float = 0.95,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Vectorised two-sided intervals ``(low, high)`` of proportions ``successes / trials``.

    ``method`` is ``"wilson"`` (score interval, default), ``"clopper-pearson"`` (exact, from the
    beta distribution) or ``"jeffreys"`` (equal-tailed Beta(k+1/2, n-k+1/2) interval; its lower
    bound is 0 at k = 0 and its upper bound 1 at k = n). Where ``trials`` is 0 both bounds are NaN.
    """
    _check_level(level)
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    k, n = np.broadcast_arrays(k, n)
    if np.any(k < 0) or np.any(n < 0) or np.any(k > n):
        raise ValueError("counts must satisfy 0 <= successes <= trials")
    alpha = 1.0 - level
    empty = n == 0
    safe_n = np.where(empty, 1.0, n)
    if method == "wilson":
        z = _z(level)
        p = k / safe_n
        denom = 1.0 + z * z / safe_n
        centre = (p + z * z / (2.0 * safe_n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / safe_n + z * z / (4.0 * safe_n * safe_n)) / denom
        low = np.clip(centre - half, 0.0, 1.0)
        high = np.clip(centre + half, 0.0, 1.0)
        # Exact edges: the score interval contains 0 when k = 0 and 1 when k = n.
        low = np.where(k == 0, 0.0, low)
        high = np.where(k == n, 1.0, high)
    elif method == "clopper-pearson":
        with np.errstate(invalid="ignore"):
            low = np.where(k == 0, 0.0, _sst.beta.ppf(alpha / 2.0, np.maximum(k, 1e-300), n - k + 1.0))
            high = np.where(k == n, 1.0, _sst.beta.ppf(1.0 - alpha / 2.0, k + 1.0, np.maximum(n - k, 1e-300)))
    elif method == "jeffreys":
        low = np.where(k == 0, 0.0, _sst.beta.ppf(alpha / 2.0, k + 0.5, n - k + 0.5))
        high = np.where(k == n, 1.0, _sst.beta.ppf(1.0 - alpha / 2.0, k + 0.5, n - k + 0.5))
    else:
        raise ValueError(f"unknown interval method {method!r}: expected one of {', '.join(INTERVAL_METHODS)}")
    low = np.where(empty, np.nan, low).astype(np.float64)
    high = np.where(empty, np.nan, high).astype(np.float64)
    return low, high


@attrs.frozen
class Interval:
    """A proportion with its two-sided confidence interval and the counts behind it."""

    successes: int
    trials: int
    low: float | None
    high: float | None
    method: str
    level: float

    @property
    def estimate(self) -> float | None:
        return self.successes / self.trials if self.trials else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "successes": self.successes,
            "trials": self.trials,
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "method": self.method,
            "level": self.level,
        }

    def __str__(self) -> str:
        if self.estimate is None or self.low is None or self.high is None:
            return f"no data (0 of 0; {self.method})"
        return (
            f"{percent_down(self.estimate):.2f} % ({self.successes:,} of {self.trials:,}; "
            f"{100 * self.level:g} % {self.method} interval {percent_down(self.low):.2f}-"
            f"{round_directed(100 * self.high, 2, 'up'):.2f} %)"
        )


def _none_if_nan(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def proportion_interval(successes: int, trials: int, method: str = "wilson", level: float = 0.95) -> Interval:
    """The :class:`Interval` of one proportion (see :func:`proportion_intervals`)."""
    low, high = proportion_intervals(successes, trials, method, level)
    return Interval(
        successes=int(successes),
        trials=int(trials),
        low=_none_if_nan(float(low)),
        high=_none_if_nan(float(high)),
        method=method,
        level=level,
    )


def rule_of_three_upper(trials: int, level: float = 0.95) -> float:
    """One-sided upper bound of a proportion after 0 successes in ``trials``: -ln(1 - level) / n.

    At 95 % this is the classical "rule of three", about 3 / n (capped at 1).
    """
    _check_level(level)
    if trials <= 0:
        raise ValueError("the rule of three needs at least one trial")
    return min(1.0, -math.log(1.0 - level) / trials)


# ENFSI Guideline for evaluative reporting (2015): verbal equivalents of likelihood ratios. Bands are
# lower-inclusive: an LR of exactly 10 is "moderate", of exactly 1,000,000 "extremely strong".
VERBAL_BANDS: Final[tuple[tuple[float, str], ...]] = (
    (1_000_000.0, "extremely strong support"),
    (10_000.0, "very strong support"),
    (1_000.0, "strong support"),
    (100.0, "moderately strong support"),
    (10.0, "moderate support"),
    (2.0, "weak support"),
)
_NO_SUPPORT: Final = "the findings do not support one proposition over the other"


def verbal_scale(lr: float | None, proposition: str = "the prosecution proposition") -> str:
    """The ENFSI (2015) verbal equivalent of a likelihood ratio.

    From 2 upward: weak (2-10), moderate (10-100), moderately strong (100-1,000), strong
    (1,000-10,000), very strong (10,000-1,000,000) and extremely strong (from 1,000,000) support
    for ``proposition``; below 1 the same words for the alternative, applied to 1 / LR; between 1/2
    and 2 (exclusive) no support for either. ``None`` or infinity (unbounded, nothing observed
    against) is extremely strong support; 0 is extremely strong support for the alternative.
    """
    if lr is None or math.isinf(lr):
        return f"extremely strong support for {proposition}"
    if math.isnan(lr) or lr < 0:
        raise ValueError(f"a likelihood ratio is a non-negative number, not {lr!r}")
    if lr >= 1.0:
        target, value = proposition, lr
    else:
        target = "the alternative proposition"
        value = math.inf if lr == 0.0 else 1.0 / lr
    for edge, words in VERBAL_BANDS:
        if value >= edge:
            return f"{words} for {target}"
    return _NO_SUPPORT


def conservative_lr(low: float, high: float | None) -> float:
    """The end of an LR interval closest to 1: the weakest claim the data support either way.

    When the whole interval lies above 1 this is its lower end, the lower bound of the numerator
    over the upper bound of the denominator (METHOD.md section 9); when it lies below 1 it is the
    upper end, so support for the ALTERNATIVE is not overstated either; an interval that contains 1
    gives 1 (no support). ``high`` None means unbounded.
    """
    if low >= 1.0:
        return low
    if high is not None and high <= 1.0:
        return high
    return 1.0


@attrs.frozen
class LikelihoodRatio:
    """LR = P(E | Hp) / P(E | Hd) with its interval, conservative value and verbal equivalent.

    ``value`` is the point estimate, ``None`` when nothing supporting the alternative was observed
    (the point estimate is unbounded); ``low``/``high`` combine the two proportions' bounds
    (``high`` is ``None`` when unbounded); ``conservative`` is the end of that interval closest to
    1 (see :func:`conservative_lr`), always finite. ``verbal`` words the value selected by ``basis``.
    """

    numerator: Interval
    denominator: Interval
    value: float | None
    low: float
    high: float | None
    conservative: float
    basis: str
    verbal: str
    zero_count: str
    hp: str
    hd: str
    observation: str
    alternatives: tuple[tuple[str, float], ...] = ()
    alternatives_without_data: tuple[str, ...] = ()

    @property
    def reported(self) -> float | None:
        """The LR the verbal scale words: the conservative value or the point estimate."""
        return self.conservative if self.basis == "conservative" else self.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "hp": self.hp,
            "hd": self.hd,
            "observation": self.observation,
            "numerator": self.numerator.to_dict(),
            "denominator": self.denominator.to_dict(),
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "conservative": self.conservative,
            "basis": self.basis,
            "verbal": self.verbal,
            "zero_count": self.zero_count,
            "alternatives": [[c, w] for c, w in self.alternatives],
            "alternatives_without_data": list(self.alternatives_without_data),
        }

    def __str__(self) -> str:
        return (
            f"LR {_fmt_lr(self.value)} (interval {_fmt_lr(self.low)} to {_fmt_lr(self.high)}; "
            f"conservative {_fmt_lr(self.conservative)}): {self.verbal}"
        )


def _fmt_lr(x: float | None) -> str:
    """A likelihood ratio for reading: thousands separators, three significant digits when small."""
    if x is None or math.isinf(x):
        return "unbounded"
    if x == 0:
        return "0"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 0.001:
        return f"{x:.3g}"
    return f"{x:.3e}"


def _upper_zero(successes: int, trials: int, level: float, zero_count: str, method: str) -> float:
    """Upper bound of a proportion; a zero count uses the Jeffreys or rule-of-three bound."""
    if successes == 0:
        if zero_count == "rule-of-three":
            return rule_of_three_upper(trials, level)
        if zero_count == "jeffreys":
            alpha = 1.0 - level
            return float(_sst.beta.ppf(1.0 - alpha / 2.0, 0.5, trials + 0.5))
        raise ValueError(f"unknown zero-count method {zero_count!r}: 'jeffreys' or 'rule-of-three'")
    high = proportion_intervals(successes, trials, method, level)[1]
    return float(high)


def likelihood_ratio(
    hp_successes: int,
    hp_trials: int,
    hd_successes: Sequence[int] | int,
    hd_trials: Sequence[int] | int,
    *,
    weights: Sequence[float] | None = None,
    method: str = "wilson",
    level: float = 0.95,
    zero_count: str = "jeffreys",
    basis: str = "conservative",
    hp: str = "Hp",
    hd: str = "Hd",
    observation: str = "E",
    alternative_names: Sequence[str] = (),
    alternatives_without_data: Sequence[str] = (),
) -> LikelihoodRatio:
    """LR of an observation from counts.

    The numerator P(E | Hp) is ``hp_successes / hp_trials``. The denominator P(E | Hd) is a
    weighted mixture over the alternatives ``sum_j w_j * k_j / n_j``; without ``weights`` the
    alternatives are pooled (weights proportional to ``n_j``, i.e. ``sum k_j / sum n_j``), which
    makes the denominator one proportion with an exact interval. With user weights (normalised to
    sum 1) the denominator's bounds are the weighted sums of each alternative's bounds.

    ``basis`` is ``"conservative"`` or ``"point"``: which LR the verbal scale words (a point
    estimate that is unbounded falls back to the conservative LR).
    """
    if hp_trials <= 0:
        raise ValueError("the numerator needs ground truth for Hp (hp_trials > 0)")
    ks = [int(hd_successes)] if isinstance(hd_successes, int) else [int(x) for x in hd_successes]
    ns = [int(hd_trials)] if isinstance(hd_trials, int) else [int(x) for x in hd_trials]
    if len(ks) != len(ns) or not ks:
        raise ValueError("hd_successes and hd_trials must be equally long and non-empty")
    if any(n <= 0 for n in ns):
        raise ValueError("every alternative needs ground truth (trials > 0)")
    if basis not in ("conservative", "point"):
        raise ValueError(f"basis must be 'conservative' or 'point', not {basis!r}")
    num = proportion_interval(hp_successes, hp_trials, method, level)
    assert num.low is not None  # hp_trials > 0
    assert num.high is not None
    if weights is None:
        k_all, n_all = sum(ks), sum(ns)
        den = proportion_interval(k_all, n_all, method, level)
        den_point = k_all / n_all
        assert den.low is not None
        den_low = den.low
        den_high = _upper_zero(k_all, n_all, level, zero_count, method) if k_all == 0 else den.high
        w = [n / n_all for n in ns]
    else:
        if len(weights) != len(ks):
            raise ValueError("one weight per alternative is needed")
        total = float(sum(weights))
        if total <= 0 or any(x < 0 for x in weights):
            raise ValueError("weights must be non-negative and not all zero")
        w = [float(x) / total for x in weights]
        lows, highs = proportion_intervals(ks, ns, method, level)
        ups = [
            _upper_zero(k, n, level, zero_count, method) if k == 0 else float(h)
            for k, n, h in zip(ks, ns, highs, strict=True)
        ]
        den_point = sum(wi * k / n for wi, k, n in zip(w, ks, ns, strict=True))
        den_low = float(sum(wi * float(lo) for wi, lo in zip(w, lows, strict=True)))
        den_high = float(sum(wi * u for wi, u in zip(w, ups, strict=True)))
        den = Interval(
            successes=sum(ks),
            trials=sum(ns),
            low=den_low,
            high=den_high,
            method=f"weighted {method}",
            level=level,
        )
    assert den_high is not None
    den_iv = attrs.evolve(den, high=den_high)
    value = None if den_point == 0 else (num.successes / num.trials) / den_point
    low = num.low / den_high
    high = None if den_low == 0 else num.high / den_low
    conservative = conservative_lr(low, high)
    reported = conservative if basis == "conservative" or value is None else value
    names = tuple(alternative_names) if alternative_names else tuple(f"alt{i}" for i in range(len(ks)))
    return LikelihoodRatio(
        numerator=num,
        denominator=den_iv,
        value=value,
        low=low,
        high=high,
        conservative=conservative,
        basis=basis if value is not None else "conservative",
        verbal=verbal_scale(reported, hp),
        zero_count=zero_count,
        hp=hp,
        hd=hd,
        observation=observation,
        alternatives=tuple(zip(names, (round(x, 12) for x in w), strict=True)),
        alternatives_without_data=tuple(alternatives_without_data),
    )
