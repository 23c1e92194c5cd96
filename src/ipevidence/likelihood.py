"""Likelihood ratios for country-location evidence, with stated levels and an explicit Hd.

LR = P(E | Hp) / P(E | Hd) with E "the database places the address in D" (D may be "not
located"). Both probabilities are proportions of ground-truth addresses, each with an interval
from the policy's method (cluster-aware when the intervals are: see :mod:`ipevidence.stats`).

Levels (Bonferroni; docs/assessment.md, "Intervals and likelihood ratios"). With marginal
intervals at two-sided level 1 - alpha (each bound a one-sided 1 - alpha/2 bound):

* the LR interval ``[low, high]`` = [L1 / U2, U1 / L2] holds at two-sided level >= 1 - 2 alpha
  (``LikelihoodRatio.level``, 90 % for 95 % marginals);
* the conservative LR (the end of that interval closest to 1) is a one-sided bound at level
  >= 1 - alpha (``LikelihoodRatio.conservative_level``, 95 %): it overstates the support, for Hp
  above 1 or for the alternative below 1, with probability at most alpha;
* a weighted mixture of J alternatives takes each alternative's bounds at level 1 - alpha / J, so
  the mixture's bounds (weighted sums) hold at 1 - alpha/2 each by the union bound.

Zero counts are bounded by the interval's OWN method on its (effective) counts; a ``zero_count``
rule (``"jeffreys"`` or ``"rule-of-three"``) can only raise that bound (the larger is taken).

:class:`EvidenceLR` is the result of ``LocatedGroundTruth.evidence_lr``: the LR against each
alternative country (mode ``"each"``, the default; the headline is the weakest, named), against a
user-weighted mixture (``"weighted"``) or against the ground-truth-weighted pool of every other
country (``"pooled"``, where RIPE Atlas deploys probes), with Hp and Hd stated in words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final, Literal

import attrs

from .stats import Interval, conservative_lr, proportion_interval, verbal_scale
from .stats import beta_ppf as _beta_ppf

__all__ = [
    "HD_MODES",
    "ZERO_COUNT_RULES",
    "EvidenceLR",
    "HdMode",
    "LikelihoodRatio",
    "likelihood_ratio",
    "likelihood_ratio_from_intervals",
    "zero_count_upper",
]

HdMode = Literal["each", "weighted", "pooled"]
HD_MODES: Final[tuple[str, ...]] = ("each", "weighted", "pooled")
#: ``"method"``: the interval method's own bound (default); the others may only raise it
ZERO_COUNT_RULES: Final[tuple[str, ...]] = ("method", "jeffreys", "rule-of-three")


def _fmt_lr(x: float | None, direction: str = "nearest") -> str:
    """A likelihood ratio for reading: thousands separators, three significant digits when small.

    ``direction`` ``"down"``/``"up"`` rounds against a claim (a lower bound is never shown larger
    than it is, an upper bound never smaller); ``"to1"`` rounds toward 1 (the conservative LR).
    """
    if x is None or math.isinf(x):
        return "unbounded"
    if x == 0:
        return "0"
    if direction == "to1":
        direction = "down" if x >= 1 else "up"
    digits = 0 if x >= 100 else 2 - math.floor(math.log10(x))
    if direction != "nearest":
        scaled = round(x * 10.0**digits, 6)
        scaled = math.floor(scaled) if direction == "down" else math.ceil(scaled)
        x = scaled / 10.0**digits
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 0.001:
        return f"{x:.3g}"
    return f"{x:.3e}"


def _window(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def _pct_level(level: float) -> str:
    return f"{round(100 * level, 6):g} %"


@attrs.frozen
class LikelihoodRatio:
    """LR = P(E | Hp) / P(E | Hd) with its interval, conservative value and verbal equivalent.

    ``value`` is the point estimate, ``None`` when nothing supporting the alternative was observed
    (unbounded, or ``undefined`` when nothing supporting either was: 0 / 0); ``low``/``high`` the
    interval at two-sided ``level`` (``high`` None when unbounded); ``conservative`` the end of
    that interval closest to 1 (see :func:`~ipevidence.stats.conservative_lr`), a one-sided bound
    at ``conservative_level``, always finite. ``verbal`` words the value selected by ``basis``.
    ``alternatives`` are the alternative countries with their weights in Hd (one, weight 1, for an
    LR against one country).
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
    level: float = 0.90
    conservative_level: float = 0.95

    @property
    def reported(self) -> float | None:
        """The LR the verbal scale words: the conservative value or the point estimate."""
        return self.conservative if self.basis == "conservative" else self.value

    @property
    def alternative(self) -> str | None:
        """The alternative country when Hd is one country, else None."""
        return self.alternatives[0][0] if len(self.alternatives) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "hp": self.hp,
            "hd": self.hd,
            "observation": self.observation,
            "numerator": self.numerator.to_dict(),
            "denominator": self.denominator.to_dict(),
            "value": self.value,
            "undefined": self.undefined,
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "conservative": self.conservative,
            "conservative_level": self.conservative_level,
            "basis": self.basis,
            "verbal": self.verbal,
            "zero_count": self.zero_count,
            "alternatives": [[c, w] for c, w in self.alternatives],
            "alternatives_without_data": list(self.alternatives_without_data),
        }

    @property
    def undefined(self) -> bool:
        """True when neither Hp's nor Hd's ground truth ever shows the observation (0 / 0)."""
        return self.value is None and self.numerator.successes == 0

    def __str__(self) -> str:
        point = "undefined (0 of both)" if self.undefined else _fmt_lr(self.value)
        return (
            f"LR {point} ({_pct_level(self.level)} interval {_fmt_lr(self.low, 'down')} to "
            f"{_fmt_lr(self.high, 'up')}; conservative {_fmt_lr(self.conservative, 'to1')}, a one-sided "
            f"{_pct_level(self.conservative_level)} bound): {self.verbal}"
        )


def zero_count_upper(interval: Interval, rule: str = "method") -> float | None:
    """The upper bound of ``interval``, raised by a zero-count ``rule`` when nothing was observed.

    ``"method"`` keeps the interval's own bound. ``"jeffreys"`` (Beta(1/2, n + 1/2) quantile) and
    ``"rule-of-three"`` (-ln(alpha/2) / n) are computed on the interval's effective trials at the
    same one-sided level as the interval's upper end (1 - alpha/2), and the LARGER bound is
    returned: a rule can make a zero count more conservative, never less.
    """
    if rule not in ZERO_COUNT_RULES:
        raise ValueError(f"unknown zero-count rule {rule!r}: expected one of {', '.join(ZERO_COUNT_RULES)}")
    high = interval.high
    if high is None or interval.successes != 0 or rule == "method":
        return high
    n_eff = interval.effective_n
    if n_eff <= 0:
        return high
    one_sided = 1.0 - (1.0 - interval.level) / 2.0
    if rule == "jeffreys":
        other = float(_beta_ppf(one_sided, 0.5, n_eff + 0.5))
    else:
        other = min(1.0, -math.log(1.0 - one_sided) / n_eff)
    return max(high, other)


def _bonferroni_level(level: float, alternatives: int) -> float:
    return 1.0 - (1.0 - level) / alternatives


def likelihood_ratio_from_intervals(
    numerator: Interval,
    denominators: Sequence[Interval],
    *,
    weights: Sequence[float] | None = None,
    zero_count: str = "method",
    basis: str = "conservative",
    hp: str = "Hp",
    hd: str = "Hd",
    observation: str = "E",
    alternative_names: Sequence[str] = (),
    alternatives_without_data: Sequence[str] = (),
    proposition: str | None = None,
    alternative_proposition: str = "the alternative proposition",
) -> LikelihoodRatio:
    """The LR from the interval of P(E | Hp) and the interval(s) of P(E | Hd).

    One denominator: Hd is one proportion (one country, or a pool computed by the caller as ONE
    proportion). Several: a mixture with ``weights`` (normalised to sum 1; required), and every
    denominator's interval must be at the Bonferroni level 1 - (1 - level) / J of the numerator's
    ``level``. The LR interval is stated at 1 - 2 (1 - level), its conservative end at ``level``
    one-sided (module docstring). ``proposition`` (default ``hp``) and ``alternative_proposition``
    are the words of the verbal scale.
    """
    if numerator.trials <= 0 or numerator.low is None or numerator.high is None:
        raise ValueError("the numerator needs ground truth for Hp (trials > 0)")
    if not denominators:
        raise ValueError("at least one alternative is needed")
    if any(d.trials <= 0 or d.low is None or d.high is None for d in denominators):
        raise ValueError("every alternative needs ground truth (trials > 0)")
    if basis not in ("conservative", "point"):
        raise ValueError(f"basis must be 'conservative' or 'point', not {basis!r}")
    n_alt = len(denominators)
    if weights is None:
        if n_alt != 1:
            raise ValueError("several alternatives need weights (or pool them into one proportion first)")
        w = [1.0]
    else:
        if len(weights) != n_alt:
            raise ValueError("one weight per alternative is needed")
        if any(not math.isfinite(x) or x < 0 for x in weights):
            raise ValueError("weights must be finite and non-negative")
        total = float(sum(weights))
        if total <= 0:
            raise ValueError("weights must not all be zero")
        w = [float(x) / total for x in weights]
    level = numerator.level
    want = _bonferroni_level(level, n_alt)
    for d in denominators:
        if abs(d.level - want) > 1e-12:
            raise ValueError(
                f"with {n_alt} alternative(s) each denominator interval must be at level {want:g} "
                f"(Bonferroni for a numerator at {level:g}), not {d.level:g}"
            )
    num_high = zero_count_upper(numerator, zero_count)
    assert num_high is not None
    highs = [zero_count_upper(d, zero_count) for d in denominators]
    den_point = sum(wi * (d.successes / d.trials) for wi, d in zip(w, denominators, strict=True))
    den_low = float(sum(wi * (d.low or 0.0) for wi, d in zip(w, denominators, strict=True)))
    den_high = float(sum(wi * (h or 0.0) for wi, h in zip(w, highs, strict=True)))
    if n_alt == 1:
        den_iv = attrs.evolve(denominators[0], high=den_high)
    else:
        clusters = [d.clusters for d in denominators]
        den_iv = Interval(
            successes=sum(d.successes for d in denominators),
            trials=sum(d.trials for d in denominators),
            low=den_low,
            high=den_high,
            method=f"weighted {denominators[0].method}",
            level=level,
            design_effect=1.0,
            effective_trials=None,
            clusters=None if any(c is None for c in clusters) else sum(c or 0 for c in clusters),
            clustering=denominators[0].clustering,
        )
    p1 = numerator.successes / numerator.trials
    value = None if den_point == 0 else p1 / den_point
    low = numerator.low / den_high if den_high > 0 else math.inf
    high = None if den_low == 0 else num_high / den_low
    conservative = conservative_lr(low, high)
    use_basis = basis if value is not None else "conservative"
    reported = conservative if use_basis == "conservative" else value
    names = tuple(alternative_names) if alternative_names else tuple(f"alt{i}" for i in range(n_alt))
    if len(names) != n_alt:
        raise ValueError("one name per alternative is needed")
    return LikelihoodRatio(
        numerator=numerator,
        denominator=den_iv,
        value=value,
        low=low,
        high=high,
        conservative=conservative,
        basis=use_basis,
        verbal=verbal_scale(reported, proposition or hp, alternative_proposition),
        zero_count=zero_count,
        hp=hp,
        hd=hd,
        observation=observation,
        alternatives=tuple(zip(names, (round(x, 12) for x in w), strict=True)),
        alternatives_without_data=tuple(alternatives_without_data),
        level=1.0 - 2.0 * (1.0 - level),
        conservative_level=level,
    )


def likelihood_ratio(
    hp_successes: int,
    hp_trials: int,
    hd_successes: Sequence[int] | int,
    hd_trials: Sequence[int] | int,
    *,
    weights: Sequence[float] | None = None,
    method: str = "wilson",
    level: float = 0.95,
    zero_count: str = "method",
    basis: str = "conservative",
    hp: str = "Hp",
    hd: str = "Hd",
    observation: str = "E",
    alternative_names: Sequence[str] = (),
    alternatives_without_data: Sequence[str] = (),
) -> LikelihoodRatio:
    """LR of an observation from counts of INDEPENDENT trials (no clustering).

    The numerator P(E | Hp) is ``hp_successes / hp_trials`` with its ``method`` interval at
    ``level``. Without ``weights`` the alternatives are pooled into one proportion
    ``sum k_j / sum n_j``; with ``weights`` (normalised) the denominator is ``sum w_j k_j / n_j`` with
    each alternative's bounds at the Bonferroni level. Cluster-aware LRs come from
    ``LocatedGroundTruth.evidence_lr`` (or :func:`likelihood_ratio_from_intervals` on
    :func:`~ipevidence.stats.clustered_interval` results).
    """
    if hp_trials <= 0:
        raise ValueError("the numerator needs ground truth for Hp (hp_trials > 0)")
    ks = [int(hd_successes)] if isinstance(hd_successes, int) else [int(x) for x in hd_successes]
    ns = [int(hd_trials)] if isinstance(hd_trials, int) else [int(x) for x in hd_trials]
    if len(ks) != len(ns) or not ks:
        raise ValueError("hd_successes and hd_trials must be equally long and non-empty")
    if any(n <= 0 for n in ns):
        raise ValueError("every alternative needs ground truth (trials > 0)")
    num = proportion_interval(hp_successes, hp_trials, method, level)
    if weights is None:
        dens = [proportion_interval(sum(ks), sum(ns), method, level)]
        names = tuple(alternative_names)
        shown = tuple(n / sum(ns) for n in ns)
        lr = likelihood_ratio_from_intervals(
            num,
            dens,
            zero_count=zero_count,
            basis=basis,
            hp=hp,
            hd=hd,
            observation=observation,
            alternative_names=("pooled",),
            alternatives_without_data=alternatives_without_data,
        )
        labels = names if names else tuple(f"alt{i}" for i in range(len(ks)))
        if len(labels) != len(ks):
            raise ValueError("one name per alternative is needed")
        return attrs.evolve(lr, alternatives=tuple(zip(labels, (round(x, 12) for x in shown), strict=True)))
    if len(weights) != len(ks):
        raise ValueError("one weight per alternative is needed")
    lvl = _bonferroni_level(level, len(ks))
    dens = [proportion_interval(k, n, method, lvl) for k, n in zip(ks, ns, strict=True)]
    return likelihood_ratio_from_intervals(
        num,
        dens,
        weights=weights,
        zero_count=zero_count,
        basis=basis,
        hp=hp,
        hd=hd,
        observation=observation,
        alternative_names=alternative_names,
        alternatives_without_data=alternatives_without_data,
    )


@attrs.frozen
class EvidenceLR:
    """Likelihood ratios of one observation against an explicit alternative hypothesis.

    ``mode`` ``"each"``: one LR per alternative country with at least ``min_addresses``
    ground-truth addresses in ``first``..``last`` (``per_alternative``, weakest first); the
    ``headline`` is the weakest, the one with the smallest reported LR, i.e. the least support for
    Hp (below 1: the strongest support for that alternative), and ``weakest_against`` names it.
    When the weakest supports an alternative (conservative LR below 1) the headline is recomputed
    with every bound at 1 - alpha / J (J alternatives), so that picking the most favourable
    alternative does not overstate the support for it (a simultaneous 1 - alpha bound); above 1
    no adjustment is needed (the smallest conservative LR is a 1 - alpha bound for the smallest
    true LR).
    ``"weighted"``: the headline is the LR against the user's weighted mixture (``weights``);
    ``per_alternative`` then holds each named country's own LR for information. ``"pooled"``: the
    headline is the LR against every other country weighted by its ground truth.
    ``alternatives_without_data`` lists the named or candidate alternatives left out for too little
    ground truth (never silently). ``hp``/``hd`` state the propositions in words. ``headline`` is
    None when no alternative has enough ground truth.
    """

    hp_country: str
    observed: str | None
    mode: str
    headline: LikelihoodRatio | None
    weakest_against: str | None
    per_alternative: tuple[LikelihoodRatio, ...]
    alternatives_without_data: tuple[str, ...]
    min_addresses: int
    first: int
    last: int
    hp: str
    hd: str
    observation: str
    basis: str = "conservative"
    weights: tuple[tuple[str, float], ...] = ()
    level: float = 0.90
    conservative_level: float = 0.95

    @property
    def verbal(self) -> str:
        """The headline in words, naming the weakest alternative in mode ``"each"``."""
        h = self.headline
        if h is None:
            return (
                f"no likelihood ratio: no alternative country has at least {self.min_addresses:,} "
                f"ground-truth addresses in {_window(self.first, self.last)}"
            )
        if self.mode != "each" or self.weakest_against is None:
            return h.verbal
        reported = h.reported
        if len(self.per_alternative) == 1:
            return (
                f"{h.verbal} (against {self.weakest_against}, the only alternative with enough ground truth)"
            )
        if reported is None or reported >= 2.0:
            return (
                f"at least {h.verbal} against each of the {len(self.per_alternative)} alternative "
                f"countries with enough ground truth (weakest against {self.weakest_against})"
            )
        return f"{h.verbal} (the weakest alternative for {self.hp_country} is {self.weakest_against})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "hp_country": self.hp_country,
            "observed": self.observed,
            "observation": self.observation,
            "mode": self.mode,
            "hp": self.hp,
            "hd": self.hd,
            "first": self.first,
            "last": self.last,
            "min_addresses": self.min_addresses,
            "basis": self.basis,
            "level": self.level,
            "conservative_level": self.conservative_level,
            "weights": [[c, w] for c, w in self.weights],
            "headline": None if self.headline is None else self.headline.to_dict(),
            "weakest_against": self.weakest_against,
            "verbal": self.verbal,
            "per_alternative": [lr.to_dict() for lr in self.per_alternative],
            "alternatives_without_data": list(self.alternatives_without_data),
        }

    def __str__(self) -> str:
        lines = [f"Hp: {self.hp}.", f"Hd: {self.hd}.", f"E: {self.observation}."]
        if self.headline is None:
            lines.append(self.verbal + ".")
        else:
            lines.append(f"{self.headline}.")
            if self.mode == "each":
                lines.append(f"In words: {self.verbal}.")
            if len(self.per_alternative) > 1 or self.mode == "weighted":
                parts = [
                    f"{lr.alternative}: {'undefined' if lr.undefined else _fmt_lr(lr.value)} "
                    f"(conservative {_fmt_lr(lr.conservative, 'to1')})"
                    for lr in self.per_alternative
                ]
                lines.append("Against each alternative: " + "; ".join(parts) + ".")
        if self.alternatives_without_data:
            lines.append(
                f"Left out for fewer than {self.min_addresses:,} ground-truth addresses in "
                f"{_window(self.first, self.last)}: {', '.join(self.alternatives_without_data)}."
            )
        return "\n".join(lines)
