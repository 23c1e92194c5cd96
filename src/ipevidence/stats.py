"""Statistics for evidence: proportion intervals, likelihood ratios and the ENFSI verbal scale.

Everything here is a pure function of counts (no ground truth, no database), so an expert can check
every figure by hand:

* :func:`proportion_interval` / :func:`proportion_intervals` (vectorised): the Wilson score interval
  (the default), the exact Clopper-Pearson interval (beta quantiles from ``scipy.special``,
  imported only when asked for) and the Jeffreys interval, all two-sided at a configurable
  ``level``; the normal and Student-t quantiles of the default path come from
  :mod:`ipevidence._quantiles` (numpy only: importing scipy costs more than a whole verdict;
  checked against scipy to a relative 1e-12); a proportion of nothing (``n == 0``) has no interval
  (NaN), never a division by zero;
* :func:`clustered_intervals` / :func:`clustered_interval`: the same intervals when one probe gives
  many addresses (a ratio-estimator design effect over probes with a Korn-Graubard
  degrees-of-freedom correction, :func:`effective_counts`); exactly the plain interval when every
  probe gives one address;
* :func:`rule_of_three_upper`: the one-sided upper bound of a proportion when nothing was observed;
* :func:`conservative_lr`: the end of a likelihood-ratio interval closest to 1 (the likelihood
  ratio itself lives in :mod:`ipevidence.likelihood`; ``LikelihoodRatio`` and
  ``likelihood_ratio`` are re-exported here for older callers);
* :func:`verbal_scale`: the ENFSI (2015) verbal equivalents, with the reciprocal wording below 1.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs
import numpy as np
import numpy.typing as npt

from . import _quantiles

if TYPE_CHECKING:
    from .likelihood import LikelihoodRatio, likelihood_ratio

__all__ = [
    "CLUSTERINGS",
    "DEFAULT_MIN_ICC",
    "INTERVAL_METHODS",
    "VERBAL_BANDS",
    "ClusteredIntervals",
    "Clustering",
    "Interval",
    "IntervalMethod",
    "LikelihoodRatio",
    "ZeroCountMethod",
    "beta_ppf",
    "clustered_interval",
    "clustered_intervals",
    "conservative_lr",
    "effective_counts",
    "likelihood_ratio",
    "norm_ppf",
    "percent_down",
    "proportion_interval",
    "proportion_intervals",
    "round_directed",
    "rule_of_three_upper",
    "t_ppf",
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
ZeroCountMethod = Literal["method", "jeffreys", "rule-of-three"]
INTERVAL_METHODS: Final[tuple[str, ...]] = ("wilson", "clopper-pearson", "jeffreys")


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must lie strictly between 0 and 1, not {level!r}")


def beta_ppf(q: npt.ArrayLike, a: npt.ArrayLike, b: npt.ArrayLike) -> Any:
    """Quantile ``q`` of Beta(a, b): ``scipy.special.betaincinv`` (what ``scipy.stats.beta.ppf``
    computes, value for value; scipy is imported on the first call, by the Clopper-Pearson and
    Jeffreys intervals only)."""
    from scipy import special

    return special.betaincinv(a, b, q)


def t_ppf(q: npt.ArrayLike, df: npt.ArrayLike) -> Any:
    """Quantile ``q`` of Student's t with ``df`` degrees of freedom (:func:`ipevidence._quantiles.t_ppf`;
    ``scipy.stats.t.ppf`` to a relative 1e-12, tests/test_stats_quantiles.py)."""
    return _quantiles.t_ppf(q, df)


def norm_ppf(q: npt.ArrayLike) -> Any:
    """Quantile ``q`` of the standard normal (:meth:`statistics.NormalDist.inv_cdf`;
    ``scipy.stats.norm.ppf`` to a relative 1e-15)."""
    return _quantiles.norm_ppf(q)


@functools.lru_cache(maxsize=64)
def _z(level: float) -> float:
    """The two-sided standard normal quantile of a confidence level (cached)."""
    return float(norm_ppf(1.0 - (1.0 - level) / 2.0))


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
            low = np.where(k == 0, 0.0, beta_ppf(alpha / 2.0, np.maximum(k, 1e-300), n - k + 1.0))
            high = np.where(k == n, 1.0, beta_ppf(1.0 - alpha / 2.0, k + 1.0, np.maximum(n - k, 1e-300)))
    elif method == "jeffreys":
        low = np.where(k == 0, 0.0, beta_ppf(alpha / 2.0, k + 0.5, n - k + 0.5))
        high = np.where(k == n, 1.0, beta_ppf(1.0 - alpha / 2.0, k + 0.5, n - k + 0.5))
    else:
        raise ValueError(f"unknown interval method {method!r}: expected one of {', '.join(INTERVAL_METHODS)}")
    low = np.where(empty, np.nan, low).astype(np.float64)
    high = np.where(empty, np.nan, high).astype(np.float64)
    return low, high


@attrs.frozen
class Interval:
    """A proportion with its two-sided confidence interval and the counts behind it.

    ``successes`` / ``trials`` are the raw counts (addresses). When the interval accounts for
    clustering (``clustering == "probe"``), ``clusters`` is the number of probes behind the counts,
    ``effective_trials`` the number of independent trials the counts are worth and
    ``design_effect`` = ``trials / effective_trials`` (1 when every probe gave one address); the
    base ``method`` was then applied to ``successes / design_effect`` of ``effective_trials``.
    Without clustering the three keep their defaults (1.0, None, None).
    """

    successes: int
    trials: int
    low: float | None
    high: float | None
    method: str
    level: float
    design_effect: float = 1.0
    effective_trials: float | None = None
    clusters: int | None = None
    clustering: str = "none"

    @property
    def estimate(self) -> float | None:
        return self.successes / self.trials if self.trials else None

    @property
    def effective_n(self) -> float:
        """The trials the interval was computed on (``trials`` when clustering is not applied)."""
        return float(self.trials) if self.effective_trials is None else self.effective_trials

    def to_dict(self) -> dict[str, Any]:
        return {
            "successes": self.successes,
            "trials": self.trials,
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "method": self.method,
            "level": self.level,
            "clustering": self.clustering,
            "clusters": self.clusters,
            "design_effect": self.design_effect,
            "effective_trials": self.effective_trials,
        }

    def design_text(self) -> str:
        """``"design effect 3.2, effective n 1,560, 210 probes"`` (empty without clustering)."""
        if self.clustering == "none":
            return ""
        clusters = "" if self.clusters is None else f", {self.clusters:,} probe{'s' * (self.clusters != 1)}"
        return f"design effect {self.design_effect:,.1f}, effective n {self.effective_n:,.0f}{clusters}"

    def __str__(self) -> str:
        if self.estimate is None or self.low is None or self.high is None:
            return f"no data (0 of 0; {self.method})"
        design = self.design_text()
        return (
            f"{percent_down(self.estimate):.2f} % ({self.successes:,} of {self.trials:,}; "
            f"{100 * self.level:g} % {self.method} interval {percent_down(self.low):.2f}-"
            f"{round_directed(100 * self.high, 2, 'up'):.2f} %{'; ' + design if design else ''})"
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


# --------------------------------------------------------------------------------------------
# Cluster-aware intervals (many addresses per probe)
# --------------------------------------------------------------------------------------------

Clustering = Literal["probe", "none"]
#: the intra-probe correlation the design effect is never assumed to be below (see effective_counts)
DEFAULT_MIN_ICC: Final = 0.5
CLUSTERINGS: Final[tuple[str, ...]] = ("probe", "none")


def _check_clustering(clustering: str) -> None:
    if clustering not in CLUSTERINGS:
        raise ValueError(f"clustering must be 'probe' or 'none', not {clustering!r}")


@attrs.frozen(eq=False)
class ClusteredIntervals:
    """Cluster-aware intervals of several proportions at once (the columns of :func:`clustered_intervals`).

    Per proportion: raw ``successes`` and ``trials``, the number of non-empty ``clusters``, the
    applied ``design_effect`` (``trials / effective_trials``), ``effective_trials`` and the
    interval ``low``/``high`` (NaN without trials) of ``method`` at two-sided ``level``.
    """

    successes: npt.NDArray[np.int64]
    trials: npt.NDArray[np.int64]
    clusters: npt.NDArray[np.int64]
    design_effect: npt.NDArray[np.float64]
    effective_trials: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    method: str
    level: float

    def __len__(self) -> int:
        return int(self.trials.shape[0])

    def interval(self, i: int) -> Interval:
        """The :class:`Interval` of proportion ``i`` (``clustering == "probe"``)."""
        n = int(self.trials[i])
        return Interval(
            successes=int(self.successes[i]),
            trials=n,
            low=_none_if_nan(float(self.low[i])),
            high=_none_if_nan(float(self.high[i])),
            method=self.method,
            level=self.level,
            design_effect=float(self.design_effect[i]) if n else 1.0,
            effective_trials=float(self.effective_trials[i]),
            clusters=int(self.clusters[i]),
            clustering="probe",
        )


def effective_counts(
    successes: npt.ArrayLike,
    trials: npt.ArrayLike,
    clusters: npt.ArrayLike,
    residual_ss: npt.ArrayLike,
    level: float = 0.95,
    sum_sq_trials: npt.ArrayLike | None = None,
    min_icc: float = DEFAULT_MIN_ICC,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``(design_effect, effective_trials, effective_successes)`` of clustered proportions.

    Inputs per proportion: ``successes`` K = sum of y_i and ``trials`` n = sum of m_i over its
    ``clusters`` (k non-empty probes, probe i giving m_i addresses of which y_i succeed), and
    ``residual_ss`` = sum_i (y_i - p m_i)^2 with p = K / n. The rules (docs/assessment.md,
    "Intervals and likelihood ratios"):

    * k == n (every probe one address): design effect exactly 1, effective counts K of n;
    * p == 0 or p == 1 (no variation observed, the design effect cannot be estimated): every probe
      counts as ONE trial, effective n = k (valid whatever the correlation: the chance that k
      probes show no error at all is at most (1 - error rate)^k);
    * k == 1 otherwise: one probe, one trial (effective n = 1);
    * otherwise the ratio-estimator design effect deff = var_c / var_srs, var_c =
      k/(k-1) * residual_ss / n^2, var_srs = p(1-p)/(n-1), never below the design effect of an
      intra-probe correlation ``min_icc``, 1 + min_icc * (sum_sq_trials / n - 1) (sum_sq_trials =
      sum of m_i^2; so never below 1), and the Korn-Graubard (1998) degrees-of-freedom correction:
      effective n = n / deff * (t_{n-1} / t_{k-1})^2 with t_d the two-sided ``level`` quantile of
      Student's t with d degrees of freedom.

    The floor exists because a sample that happens to contain none of the rare bad probes shows a
    small between-probe variance exactly when its estimate is too high: with a heavy-tailed
    per-probe error (correlation 0.2-0.5) the estimated design effect alone covered the truth only
    80-93 % of the time in ``benchmarks/coverage.py``; with the default floor of 0.5 every cell holds.
    ``sum_sq_trials`` None means every m_i is 1 (no floor).

    The returned design effect is the applied one, ``n / effective n``; effective successes are
    p times effective n (K exactly when the design effect is 1).
    """
    _check_level(level)
    k_s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    k_c = np.asarray(clusters, dtype=np.float64)
    rss = np.asarray(residual_ss, dtype=np.float64)
    ssq = n if sum_sq_trials is None else np.asarray(sum_sq_trials, dtype=np.float64)
    if not 0.0 <= min_icc <= 1.0:
        raise ValueError(f"min_icc must lie in [0, 1], not {min_icc!r}")
    k_s, n, k_c, rss, ssq = np.broadcast_arrays(k_s, n, k_c, rss, ssq)
    if np.any(k_c > n) or np.any((n > 0) & (k_c < 1)):
        raise ValueError("every proportion with trials needs 1 <= clusters <= trials")
    safe_n = np.where(n > 0, n, 1.0)
    p = k_s / safe_n
    alpha = 1.0 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        var_c = k_c / (k_c - 1.0) * rss / (safe_n * safe_n)
        var_srs = p * (1.0 - p) / (safe_n - 1.0)
        floor = 1.0 + min_icc * np.maximum(ssq / safe_n - 1.0, 0.0)
        deff_raw = np.maximum(floor, var_c / var_srs)
        t_n = t_ppf(1.0 - alpha / 2.0, np.maximum(n - 1.0, 1.0))
        t_k = t_ppf(1.0 - alpha / 2.0, np.maximum(k_c - 1.0, 1.0))
        df_factor = np.where(k_c >= n, 1.0, (t_n / t_k) ** 2)
        n_eff = safe_n / deff_raw * df_factor
    single = k_c >= n  # every cluster gives exactly one trial
    degenerate = (k_s == 0) | (k_s == n)
    n_eff = np.where(degenerate, k_c, np.where(k_c <= 1, 1.0, n_eff))
    n_eff = np.where(single, n, n_eff)
    n_eff = np.where(n > 0, np.minimum(n_eff, n), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        deff = np.where(single | (n == 0), 1.0, n / np.where(n_eff > 0, n_eff, 1.0))
    k_eff = np.where(single, k_s, p * n_eff)
    return deff.astype(np.float64), n_eff.astype(np.float64), k_eff.astype(np.float64)


def clustered_intervals(
    cluster_successes: npt.ArrayLike,
    cluster_trials: npt.ArrayLike,
    group: npt.ArrayLike | None = None,
    groups: int | None = None,
    *,
    method: str = "wilson",
    level: float = 0.95,
    min_icc: float = DEFAULT_MIN_ICC,
) -> ClusteredIntervals:
    """Cluster-aware intervals from per-cluster counts, vectorised over proportions.

    ``cluster_successes`` y_i and ``cluster_trials`` m_i are per cluster (probe); ``group`` (ints
    in ``0..groups-1``, default all 0) says which proportion each cluster belongs to. Clusters
    with m_i == 0 are ignored. The effective counts follow :func:`effective_counts`; then the
    base ``method`` (Wilson, Clopper-Pearson or Jeffreys) gives the two-sided interval at
    ``level`` on the effective counts. With one trial per cluster this is exactly
    :func:`proportion_intervals` of the raw counts.
    """
    y = np.asarray(cluster_successes, dtype=np.int64).ravel()
    m = np.asarray(cluster_trials, dtype=np.int64).ravel()
    if y.shape != m.shape:
        raise ValueError("cluster_successes and cluster_trials must have the same length")
    if np.any(y < 0) or np.any(y > m):
        raise ValueError("per-cluster counts must satisfy 0 <= successes <= trials")
    g = np.zeros(y.shape[0], dtype=np.int64) if group is None else np.asarray(group, dtype=np.int64).ravel()
    if g.shape != y.shape:
        raise ValueError("group must give one proportion index per cluster")
    ng = int(groups) if groups is not None else (int(g.max()) + 1 if g.size else 1)
    if g.size and (g.min() < 0 or g.max() >= ng):
        raise ValueError("group indices must lie in 0..groups-1")
    k_s = np.bincount(g, weights=y, minlength=ng)
    n = np.bincount(g, weights=m, minlength=ng)
    k_c = np.bincount(g, weights=(m > 0).astype(np.float64), minlength=ng)
    p = k_s / np.where(n > 0, n, 1.0)
    resid = y - p[g] * m
    rss = np.bincount(g, weights=resid * resid, minlength=ng)
    ssq = np.bincount(g, weights=m.astype(np.float64) ** 2, minlength=ng)
    deff, n_eff, k_eff = effective_counts(k_s, n, k_c, rss, level, ssq, min_icc)
    low, high = proportion_intervals(k_eff, n_eff, method, level)
    return ClusteredIntervals(
        successes=k_s.astype(np.int64),
        trials=n.astype(np.int64),
        clusters=k_c.astype(np.int64),
        design_effect=deff,
        effective_trials=n_eff,
        low=low,
        high=high,
        method=method,
        level=level,
    )


def clustered_interval(
    cluster_successes: npt.ArrayLike,
    cluster_trials: npt.ArrayLike,
    method: str = "wilson",
    level: float = 0.95,
    *,
    min_icc: float = DEFAULT_MIN_ICC,
) -> Interval:
    """The cluster-aware :class:`Interval` of one proportion from per-probe counts.

    >>> iv = clustered_interval([10, 8, 10, 4], [10, 10, 10, 10])
    >>> (iv.successes, iv.trials, iv.clusters)
    (32, 40, 4)
    """
    return clustered_intervals(
        cluster_successes, cluster_trials, method=method, level=level, min_icc=min_icc
    ).interval(0)


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


def verbal_scale(
    lr: float | None,
    proposition: str = "the prosecution proposition",
    alternative: str = "the alternative proposition",
) -> str:
    """The ENFSI (2015) verbal equivalent of a likelihood ratio.

    From 2 upward: weak (2-10), moderate (10-100), moderately strong (100-1,000), strong
    (1,000-10,000), very strong (10,000-1,000,000) and extremely strong (from 1,000,000) support
    for ``proposition``; below 1 the same words for ``alternative``, applied to 1 / LR; between 1/2
    and 2 (exclusive) no support for either. ``None`` or infinity (unbounded, nothing observed
    against) is extremely strong support; 0 is extremely strong support for the alternative.
    """
    if lr is None or (math.isinf(lr) and lr > 0):
        return f"extremely strong support for {proposition}"
    if math.isnan(lr) or lr < 0:
        raise ValueError(f"a likelihood ratio is a non-negative number, not {lr!r}")
    if lr >= 1.0:
        target, value = proposition, lr
    else:
        target = alternative
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


def __getattr__(name: str) -> Any:
    """``LikelihoodRatio`` and ``likelihood_ratio`` moved to :mod:`ipevidence.likelihood`."""
    if name in ("LikelihoodRatio", "likelihood_ratio"):
        from . import likelihood

        return getattr(likelihood, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
