"""Monte Carlo coverage of the library's intervals and conservative likelihood ratio on clustered data.

Ground truths are generated as RIPE Atlas produces them: probes with geometric numbers of
addresses (mean ``--mean-per-probe``, 25 by default), each probe with its OWN error rate drawn from
a Beta distribution whose intra-probe correlation is rho (rho = 0: every address an independent
trial). For every cell (rho, total addresses, true accuracy) and ``--reps`` replications:

* the library's cluster-aware interval (``ipevidence.stats.clustered_intervals`` on the per-probe
  counts, the computation ``LocatedGroundTruth`` runs per country and window) must cover the true
  accuracy at least at its nominal level (95 %) within Monte Carlo error;
* the old independent Wilson interval (written out here in numpy, not the library's code) is shown
  for contrast;
* "low > p" is how often the lower bound lies ABOVE the true accuracy (the direction that overstates
  evidence; nominal at most 2.5 %).

Likelihood ratios: Hp country with accuracy p1, one alternative country whose addresses the
database places in Hp's country at a clustered false-positive rate f (the same rho); the
conservative LR (``ipevidence.likelihood.likelihood_ratio_from_intervals`` on cluster-aware
intervals) must exceed the true LR p1 / f in at most 5 % of samples (its stated one-sided level).

The truth is known from the generator; nothing here re-runs the library's formula to judge it.
Monte Carlo standard error of a 95 % coverage over R replications: sqrt(0.95 * 0.05 / R); a cell
passes when its coverage is at least 0.95 - 2 standard errors (and its LR exceedance at most
0.05 + 2 standard errors).

Run: ``python benchmarks/coverage.py [--reps 2000] [--seed 20261206] [--mean-per-probe 25]
[--method wilson] [--min-icc 0.5]`` (``--min-icc 0`` shows the estimated design effect alone).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt

from ipevidence.likelihood import likelihood_ratio_from_intervals
from ipevidence.stats import DEFAULT_MIN_ICC, clustered_intervals

RHOS: tuple[float, ...] = (0.0, 0.05, 0.2, 0.5)
TOTALS: tuple[int, ...] = (50, 200, 1_000, 5_000, 20_000, 100_000)
ACCURACIES: tuple[float, ...] = (0.9, 0.95, 0.99)
LR_TOTALS: tuple[int, ...] = (50, 500, 5_000, 50_000)
LR_CASES: tuple[tuple[float, float], ...] = ((0.95, 0.01), (0.99, 0.001))
LEVEL = 0.95
Z975 = 1.959963984540054  # standard normal 97.5 % quantile, for the independent Wilson contrast


def probe_sizes(rng: np.random.Generator, reps: int, total: int, mean: float) -> npt.NDArray[np.int64]:
    """``reps`` x P matrix of addresses per probe (geometric, mean ``mean``), each row summing to
    ``total`` (the last probe cut short; unused probes 0)."""
    p_geo = 1.0 / mean
    n_probes = int(total / mean + 6.0 * math.sqrt(total / mean) + 12)
    sizes = rng.geometric(p_geo, size=(reps, n_probes)).astype(np.int64)
    ends = np.cumsum(sizes, axis=1)
    short = ends[:, -1] < total
    while np.any(short):  # practically never: top up the rows that fell short
        more = rng.geometric(p_geo, size=(reps, n_probes)).astype(np.int64)
        sizes = np.concatenate([sizes, more], axis=1)
        ends = np.cumsum(sizes, axis=1)
        short = ends[:, -1] < total
    starts = ends - sizes
    out: npt.NDArray[np.int64] = np.clip(np.minimum(sizes, total - starts), 0, None)
    return out


def probe_errors(
    rng: np.random.Generator, sizes: npt.NDArray[np.int64], rate: float, rho: float
) -> npt.NDArray[np.int64]:
    """Per probe: how many of its addresses show the event (rate ``rate``, intra-probe correlation rho)."""
    if rho == 0.0:
        q = np.full(sizes.shape, rate)
    else:
        s = (1.0 - rho) / rho
        q = rng.beta(rate * s, (1.0 - rate) * s, size=sizes.shape)
    return rng.binomial(sizes, q).astype(np.int64)


def independent_wilson(k: npt.NDArray[np.float64], n: float) -> tuple[npt.NDArray[np.float64], ...]:
    """The textbook Wilson score interval (addresses as independent trials), written out here."""
    z2 = Z975 * Z975
    p = k / n
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z975 / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return centre - half, centre + half


def _library_intervals(
    correct: npt.NDArray[np.int64], sizes: npt.NDArray[np.int64], method: str, min_icc: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    reps = sizes.shape[0]
    keep = sizes > 0
    group = np.broadcast_to(np.arange(reps)[:, None], sizes.shape)[keep]
    ci = clustered_intervals(
        correct[keep], sizes[keep], group, reps, method=method, level=LEVEL, min_icc=min_icc
    )
    return ci.low, ci.high, ci.design_effect


@attrs.frozen
class AccuracyCell:
    rho: float
    total: int
    accuracy: float
    reps: int
    coverage: float
    low_above: float
    wilson_coverage: float
    wilson_low_above: float
    median_deff: float

    @property
    def ok(self) -> bool:
        return self.coverage >= LEVEL - 2.0 * math.sqrt(LEVEL * (1 - LEVEL) / self.reps)


def accuracy_cell(
    rng: np.random.Generator,
    rho: float,
    total: int,
    accuracy: float,
    reps: int,
    mean: float = 25.0,
    method: str = "wilson",
    chunk: int = 500,
    min_icc: float = DEFAULT_MIN_ICC,
) -> AccuracyCell:
    cover = above = w_cover = w_above = 0
    deffs: list[npt.NDArray[np.float64]] = []
    done = 0
    while done < reps:
        r = min(chunk, reps - done)
        sizes = probe_sizes(rng, r, total, mean)
        correct = sizes - probe_errors(rng, sizes, 1.0 - accuracy, rho)
        low, high, deff = _library_intervals(correct, sizes, method, min_icc)
        cover += int(np.sum((low <= accuracy) & (accuracy <= high)))
        above += int(np.sum(low > accuracy))
        wl, wh = independent_wilson(correct.sum(axis=1).astype(np.float64), float(total))
        w_cover += int(np.sum((wl <= accuracy) & (accuracy <= wh)))
        w_above += int(np.sum(wl > accuracy))
        deffs.append(deff)
        done += r
    return AccuracyCell(
        rho=rho,
        total=total,
        accuracy=accuracy,
        reps=reps,
        coverage=cover / reps,
        low_above=above / reps,
        wilson_coverage=w_cover / reps,
        wilson_low_above=w_above / reps,
        median_deff=float(np.median(np.concatenate(deffs))),
    )


@attrs.frozen
class LrCell:
    rho: float
    total: int
    p1: float
    fp: float
    reps: int
    exceed: float
    naive_exceed: float
    median_conservative: float

    @property
    def true_lr(self) -> float:
        return self.p1 / self.fp

    @property
    def ok(self) -> bool:
        return self.exceed <= (1 - LEVEL) + 2.0 * math.sqrt(LEVEL * (1 - LEVEL) / self.reps)


def lr_cell(
    rng: np.random.Generator,
    rho: float,
    total: int,
    p1: float,
    fp: float,
    reps: int,
    mean: float = 25.0,
    method: str = "wilson",
    min_icc: float = DEFAULT_MIN_ICC,
) -> LrCell:
    """Hp: ``total`` addresses, accuracy p1; Hd: ``total`` addresses, false-positive rate fp."""
    s1 = probe_sizes(rng, reps, total, mean)
    y1 = s1 - probe_errors(rng, s1, 1.0 - p1, rho)
    s2 = probe_sizes(rng, reps, total, mean)
    y2 = probe_errors(rng, s2, fp, rho)  # the alternative's addresses placed in Hp's country
    k1, k2 = s1 > 0, s2 > 0
    g1 = np.broadcast_to(np.arange(reps)[:, None], s1.shape)[k1]
    g2 = np.broadcast_to(np.arange(reps)[:, None], s2.shape)[k2]
    num = clustered_intervals(y1[k1], s1[k1], g1, reps, method=method, level=LEVEL, min_icc=min_icc)
    den = clustered_intervals(y2[k2], s2[k2], g2, reps, method=method, level=LEVEL, min_icc=min_icc)
    true = p1 / fp
    exceed = 0
    cons = np.empty(reps)
    for i in range(reps):
        lr = likelihood_ratio_from_intervals(num.interval(i), [den.interval(i)])
        cons[i] = lr.conservative
        exceed += lr.conservative > true
    # contrast: the same construction with independent Wilson bounds (the old behaviour, written out)
    n1l, _ = independent_wilson(y1.sum(axis=1).astype(np.float64), float(total))
    _, n2h = independent_wilson(y2.sum(axis=1).astype(np.float64), float(total))
    naive = n1l / n2h
    naive_exceed = float(np.mean(naive > true))
    return LrCell(
        rho=rho,
        total=total,
        p1=p1,
        fp=fp,
        reps=reps,
        exceed=exceed / reps,
        naive_exceed=naive_exceed,
        median_conservative=float(np.median(cons)),
    )


def run(
    reps: int,
    seed: int,
    mean: float = 25.0,
    rhos: Sequence[float] = RHOS,
    totals: Sequence[int] = TOTALS,
    accuracies: Sequence[float] = ACCURACIES,
    lr_totals: Sequence[int] = LR_TOTALS,
    lr_cases: Sequence[tuple[float, float]] = LR_CASES,
    method: str = "wilson",
    min_icc: float = DEFAULT_MIN_ICC,
) -> tuple[list[AccuracyCell], list[LrCell]]:
    rng = np.random.default_rng(seed)
    acc = [
        accuracy_cell(rng, rho, n, a, reps, mean, method, min_icc=min_icc)
        for rho in rhos
        for n in totals
        for a in accuracies
    ]
    lrs = [
        lr_cell(rng, rho, n, p1, f, reps, mean, method, min_icc)
        for rho in rhos
        for n in lr_totals
        for p1, f in lr_cases
    ]
    return acc, lrs


def accuracy_markdown(cells: Sequence[AccuracyCell]) -> str:
    lines = [
        "| rho | addresses | accuracy | coverage | low > p | median deff | independent Wilson coverage "
        "| its low > p | ok |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        lines.append(
            f"| {c.rho:g} | {c.total:,} | {c.accuracy:g} | {c.coverage:.3f} | {c.low_above:.3f} | "
            f"{c.median_deff:.2f} | {c.wilson_coverage:.3f} | {c.wilson_low_above:.3f} | "
            f"{'yes' if c.ok else 'NO'} |"
        )
    return "\n".join(lines)


def lr_markdown(cells: Sequence[LrCell]) -> str:
    lines = [
        "| rho | addresses per country | P(E/Hp) | P(E/Hd) | true LR | conservative > true | "
        "median conservative | independent Wilson: > true | ok |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        lines.append(
            f"| {c.rho:g} | {c.total:,} | {c.p1:g} | {c.fp:g} | {c.true_lr:,.0f} | {c.exceed:.3f} | "
            f"{c.median_conservative:,.1f} | {c.naive_exceed:.3f} | {'yes' if c.ok else 'NO'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--mean-per-probe", type=float, default=25.0)
    ap.add_argument("--method", default="wilson", choices=("wilson", "clopper-pearson", "jeffreys"))
    ap.add_argument(
        "--min-icc",
        type=float,
        default=DEFAULT_MIN_ICC,
        help=f"the design effect's floor as an intra-probe correlation (library default {DEFAULT_MIN_ICC})",
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    acc, lrs = run(args.reps, args.seed, args.mean_per_probe, method=args.method, min_icc=args.min_icc)
    secs = time.perf_counter() - t0
    se = math.sqrt(LEVEL * (1 - LEVEL) / args.reps)
    print(
        f"coverage of {100 * LEVEL:g} % {args.method} intervals (min_icc {args.min_icc:g}), "
        f"{args.reps} replications per cell, "
        f"seed {args.seed}, mean {args.mean_per_probe:g} addresses per probe; Monte Carlo standard "
        f"error {se:.4f} (cell passes at coverage >= {LEVEL - 2 * se:.4f}, LR exceedance <= "
        f"{1 - LEVEL + 2 * se:.4f}); {secs:.0f} s\n"
    )
    print(accuracy_markdown(acc))
    print()
    print(lr_markdown(lrs))
    bad = [c for c in acc if not c.ok] + [c for c in lrs if not c.ok]
    print(f"\ncells failing: {len(bad)} of {len(acc) + len(lrs)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
