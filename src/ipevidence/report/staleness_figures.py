"""Figures of the staleness table (:mod:`ipevidence.staleness`), drawn with matplotlib.

* :func:`staleness_heatmap`: accuracy of each database build (rows, in build-date order) on the
  ground truth of each year (columns), for one country or all countries pooled;
* :func:`staleness_age_figure`: accuracy against the database's age in years (ground-truth year
  minus build year): positive ages are builds OLDER than the rows ("forward": an investigator's
  database applied to later evidence), negative ages builds LATER than the rows ("backward": a
  recent database judging older evidence, as the paper did). Every cell is a faint dot; the line
  is the weakest cell of each age (lowest lower bound) with its interval, the figure
  :meth:`~ipevidence.staleness.StalenessTable.accuracy_at_age` gives a verdict.

matplotlib is imported lazily (as in :mod:`.figures`); both functions return None without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .document import Figure
from .figures import _pyplot, _to_png

if TYPE_CHECKING:
    from ..staleness import StalenessTable

__all__ = ["staleness_age_figure", "staleness_heatmap"]


def _label(country: str) -> str:
    return "all countries" if country == "*" else country


def staleness_heatmap(
    table: StalenessTable,
    country: str = "*",
    *,
    not_located: str = "exclude",
    name: str | None = None,
) -> Figure | None:
    """Heatmap of accuracy (%) per build (rows) x ground-truth year (columns), values annotated."""
    plt = _pyplot()
    if plt is None:
        return None
    m = table.matrix(country, not_located=not_located) * 100
    builds = [f"{b.build_date.isoformat()} {b.kind}" for b in table.builds]
    fig, ax = plt.subplots(
        figsize=(max(4.5, 1.1 * len(table.years) + 3.5), max(3.0, 0.38 * len(builds) + 1.5))
    )
    finite = m[np.isfinite(m)]
    lo = float(np.floor(finite.min())) if finite.size else 0.0
    image = ax.imshow(np.ma.masked_invalid(m), aspect="auto", cmap="viridis", vmin=min(lo, 95.0), vmax=100.0)
    ax.set_xticks(range(len(table.years)), [str(y) for y in table.years])
    ax.set_yticks(range(len(builds)), builds, fontsize=8)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if np.isfinite(m[i, j]):
                ax.text(j, i, f"{m[i, j]:.1f}", ha="center", va="center", fontsize=7, color="w")
    ax.set_xlabel("ground-truth year")
    ax.set_ylabel("database build")
    title = f"Accuracy of each build on each year ({_label(country)})"
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="accuracy (%)")
    caption = (
        "Each cell: the share of the year's ground-truth rows of "
        f"{_label(country)} that the build places in the declared country (not-located rows "
        f"{not_located}d). Cells below the diagonal of time are builds older than the rows."
    )
    slug = "all" if country == "*" else country.lower()
    return Figure(name=name or f"staleness-heatmap-{slug}", title=title, png=_to_png(fig), caption=caption)


def staleness_age_figure(
    table: StalenessTable,
    countries: Sequence[str] = ("*",),
    *,
    not_located: str = "exclude",
    threshold: float = 0.95,
    name: str = "staleness-age",
) -> Figure | None:
    """Accuracy (%) against the build's age in years, forward (>0) and backward (<0)."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ages = table.ages()
    for country in countries:
        xs, ys, lows, highs = [], [], [], []
        dots_x, dots_y = [], []
        for age in ages:
            res = table.accuracy_at_age(country, age, not_located=not_located)
            for c in res.cells:
                e = c.selected(not_located).estimate
                if e is not None:
                    dots_x.append(age)
                    dots_y.append(100 * e)
            iv = res.interval
            if iv is not None and iv.estimate is not None:
                xs.append(age)
                ys.append(100 * iv.estimate)
                lows.append(100 * (iv.low if iv.low is not None else iv.estimate))
                highs.append(100 * (iv.high if iv.high is not None else iv.estimate))
        (line,) = ax.plot(xs, ys, marker="o", label=f"{_label(country)}: weakest cell of each age")
        ax.fill_between(xs, lows, highs, color=line.get_color(), alpha=0.18)
        ax.scatter(dots_x, dots_y, s=10, color=line.get_color(), alpha=0.35)
    ax.axvline(0, color="#444", linewidth=0.8)
    ax.axhline(
        threshold * 100, color="#b00", linestyle="--", linewidth=1.1, label=f"{threshold:.0%} threshold"
    )
    ax.set_xlabel("age of the build (ground-truth year - build year); < 0: build later than the rows")
    ax.set_ylabel("accuracy (%)")
    if ages:
        ax.set_xticks(list(ages))
    title = "Accuracy against the age of the database"
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    caption = (
        "Right of zero (forward): builds older than the evidence, what an investigator had; left of "
        "zero (backward): later builds judging earlier rows. Dots are single (build, year) cells; "
        "the line is the weakest cell of each age with its confidence interval."
    )
    return Figure(name=name, title=title, png=_to_png(fig), caption=caption)
