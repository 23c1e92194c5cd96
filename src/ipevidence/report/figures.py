"""The report's figures, drawn with matplotlib (a normal dependency; the ``[plots]`` extra is
an empty alias kept for old install commands).

matplotlib is imported lazily (only when a figure is drawn), with the non-interactive Agg backend.
Every function returns a :class:`~ipevidence.report.document.Figure`, or None when matplotlib
cannot be imported (a broken or stripped environment): the report then renders without figures
and says so (:data:`NO_PLOTS_NOTE`). The inputs are plain numbers
(years, proportions, interval bounds), so the figures do not depend on how they were computed.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from .document import Figure

__all__ = [
    "NO_PLOTS_NOTE",
    "NaiveComparison",
    "YearSeries",
    "accuracy_figure",
    "coverage_map_figure",
    "lr_figure",
    "naive_methods_figure",
    "plots_available",
]

NO_PLOTS_NOTE = (
    "Figures were not rendered because matplotlib, a dependency of ipevidence, cannot be imported "
    "(reinstall: pip install --force-reinstall matplotlib); every number is in the tables."
)

_DPI = 110


def _pyplot() -> Any | None:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plots_available() -> bool:
    """Whether matplotlib can be imported (figures can be drawn)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _to_png(fig: Any) -> bytes:
    buf = io.BytesIO()
    # no Software/date metadata: the same figure gives the same bytes
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight", metadata={"Software": None})
    fig.clf()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _f64(values: Sequence[float | None] | npt.ArrayLike) -> npt.NDArray[np.float64]:
    return np.array([np.nan if v is None else v for v in np.asarray(values, dtype=object).tolist()], float)


def _ints(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _floats(values: Iterable[float | None]) -> tuple[float | None, ...]:
    return tuple(None if v is None else float(v) for v in values)


def _opt_floats(values: Iterable[float | None] | None) -> tuple[float | None, ...] | None:
    return None if values is None else _floats(values)


@attrs.frozen
class YearSeries:
    """One line of a per-year figure: years, values and (optional) interval bounds, NaN = no data."""

    label: str
    years: tuple[int, ...] = attrs.field(converter=_ints)
    values: tuple[float | None, ...] = attrs.field(converter=_floats)
    lower: tuple[float | None, ...] | None = attrs.field(default=None, converter=_opt_floats)
    upper: tuple[float | None, ...] | None = attrs.field(default=None, converter=_opt_floats)

    def __attrs_post_init__(self) -> None:
        n = len(self.years)
        for name in ("values", "lower", "upper"):
            col = getattr(self, name)
            if col is not None and len(col) != n:
                raise ValueError(f"series {self.label!r}: {name} has {len(col)} values for {n} years")


def accuracy_figure(
    series: Sequence[YearSeries],
    *,
    threshold: float = 0.95,
    title: str = "Accuracy per year",
    name: str = "accuracy-per-year",
) -> Figure | None:
    """Accuracy per year for each country, with its confidence band and the threshold line."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for s in series:
        years = np.asarray(s.years, dtype=float)
        y = _f64(s.values) * 100
        (line,) = ax.plot(years, y, marker="o", label=s.label)
        if s.lower is not None and s.upper is not None:
            ax.fill_between(
                years, _f64(s.lower) * 100, _f64(s.upper) * 100, color=line.get_color(), alpha=0.18
            )
    ax.axhline(
        threshold * 100, color="#b00", linestyle="--", linewidth=1.2, label=f"{threshold:.0%} threshold"
    )
    ax.set_xlabel("year")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    all_years = sorted({y for s in series for y in s.years})
    if all_years:
        ax.set_xticks(all_years)
    lows = [v for s in series for v in (s.lower or s.values) if v is not None and v == v]
    ax.set_ylim(max(0.0, min([threshold * 100 - 5, *(v * 100 - 2 for v in lows)])), 100.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2, loc="lower left")
    caption = (
        "Shaded bands are the 95 % confidence intervals of each yearly proportion; "
        f"the dashed line is the {threshold:.0%} threshold."
    )
    return Figure(name=name, title=title, png=_to_png(fig), caption=caption)


@attrs.frozen
class NaiveComparison:
    """For one country: the evidential figure per year against the naive methods' figures."""

    country: str
    years: tuple[int, ...] = attrs.field(converter=_ints)
    evidential: tuple[float | None, ...] = attrs.field(converter=_floats)
    global_accuracy: tuple[float | None, ...] = attrs.field(converter=_floats)
    single_year: float | None = None
    single_year_label: str = "single year"
    other_country: float | None = None
    other_country_label: str = "another country"


def naive_methods_figure(
    comparison: NaiveComparison,
    *,
    threshold: float = 0.95,
    name: str = "naive-methods",
) -> Figure | None:
    """The paper's Figure 5, improved: the country's own yearly accuracy against the naive figures."""
    plt = _pyplot()
    if plt is None:
        return None
    c = comparison
    years = np.asarray(c.years, dtype=float)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(
        years, _f64(c.evidential) * 100, marker="o", linewidth=2, label=f"{c.country}: per year (evidential)"
    )
    ax.plot(
        years, _f64(c.global_accuracy) * 100, marker="s", linestyle=":", label="naive (i): global accuracy"
    )
    if c.single_year is not None:
        ax.axhline(
            c.single_year * 100, color="#7a4", linestyle="-.", label=f"naive (ii): {c.single_year_label}"
        )
    if c.other_country is not None:
        ax.axhline(
            c.other_country * 100, color="#a47", linestyle="--", label=f"naive (iii): {c.other_country_label}"
        )
    ax.axhline(threshold * 100, color="#b00", linewidth=1, alpha=0.6, label=f"{threshold:.0%} threshold")
    ax.set_xlabel("year")
    ax.set_ylabel("accuracy (%)")
    title = f"Naive methods against the evidential method ({c.country})"
    ax.set_title(title)
    if len(c.years):
        ax.set_xticks(list(c.years))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    caption = (
        "A naive figure that lies above the country's own yearly accuracy overstates the evidence; "
        "the evidential method uses only the country's own figures for the years before the evidence."
    )
    return Figure(name=name, title=title, png=_to_png(fig), caption=caption)


def _polygons(geometry: Any) -> list[Any]:
    kind = getattr(geometry, "geom_type", "")
    if kind == "Polygon":
        return [geometry]
    if kind in ("MultiPolygon", "GeometryCollection"):
        out: list[Any] = []
        for g in geometry.geoms:
            out += _polygons(g)
        return out
    return []


def coverage_map_figure(
    country: str,
    latitude: npt.ArrayLike,
    longitude: npt.ArrayLike,
    *,
    border: Any | None = None,
    country_label: str | None = None,
    name: str | None = None,
) -> Figure | None:
    """Ground-truth locations of one country drawn on its border (a shapely (Multi)Polygon)."""
    plt = _pyplot()
    if plt is None:
        return None
    lat = np.asarray(latitude, dtype=float)
    lon = np.asarray(longitude, dtype=float)
    ok = np.isfinite(lat) & np.isfinite(lon)
    fig, ax = plt.subplots(figsize=(6.5, 6))
    polys = _polygons(border) if border is not None else []
    for p in polys:
        x, y = p.exterior.xy
        ax.fill(x, y, facecolor="#eef2ea", edgecolor="#556", linewidth=0.6)
    ax.scatter(
        lon[ok], lat[ok], s=6, color="#1f5fa8", alpha=0.55, label=f"{int(ok.sum()):,} ground-truth rows"
    )
    if polys:
        # frame the main territory (largest polygon) plus the points, so far overseas parts do not shrink it
        main = max(polys, key=lambda p: p.area)
        x0, y0, x1, y1 = main.bounds
        if ok.any():
            x0, x1 = min(x0, float(np.percentile(lon[ok], 1))), max(x1, float(np.percentile(lon[ok], 99)))
            y0, y1 = min(y0, float(np.percentile(lat[ok], 1))), max(y1, float(np.percentile(lat[ok], 99)))
        pad = 0.05 * max(x1 - x0, y1 - y0, 0.5)
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect(1 / max(np.cos(np.radians(float(np.nanmean(lat[ok])) if ok.any() else 0.0)), 0.2))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    label = country_label or country
    title = f"Ground-truth coverage: {label}"
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    caption = (
        "Each dot is a ground-truth location (a probe's declared coordinates) "
        "on the shipped Natural Earth border."
        if polys
        else "Each dot is a ground-truth location (no border geometry was available to draw)."
    )
    return Figure(name=name or f"coverage-{country.lower()}", title=title, png=_to_png(fig), caption=caption)


def lr_figure(
    series: Sequence[YearSeries],
    *,
    title: str = "Likelihood ratio per year",
    name: str = "lr-per-year",
    columns: int = 3,
) -> Figure | None:
    """Likelihood ratio per year (log scale) with its interval and the ENFSI verbal-scale bands, as
    small multiples: one panel per series (country), sharing both axes, so no line hides another
    and no legend covers the data."""
    plt = _pyplot()
    if plt is None:
        return None
    n = max(1, len(series))
    ncols = max(1, min(columns, n))
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.9 * ncols + 0.9, 2.3 * nrows + 0.6), sharex=True, sharey=True, squeeze=False
    )
    bands: Mapping[str, tuple[float, float]] = {
        "weak": (2, 10),
        "moderate": (10, 100),
        "mod. strong": (100, 1_000),
        "strong": (1_000, 10_000),
        "very strong": (10_000, 1_000_000),
    }
    all_years = sorted({y for s in series for y in s.years})
    finite = [
        v
        for s in series
        for col in (s.values, s.lower or (), s.upper or ())
        for v in col
        if v is not None and v == v and 0 < v < float("inf")
    ]
    top = max([1_000_000.0, *finite]) * 1.5
    for i in range(nrows * ncols):
        ax = axes[i // ncols][i % ncols]
        if i >= len(series):
            ax.set_visible(False)
            continue
        s = series[i]
        for j, (lo, hi) in enumerate(bands.values()):
            ax.axhspan(lo, hi, color="#888", alpha=0.05 + 0.03 * j, linewidth=0)
        ax.axhline(1, color="#b00", linewidth=1, linestyle="--")
        years = np.asarray(s.years, dtype=float)
        y = _f64(s.values)
        if s.lower is not None and s.upper is not None:
            lo_v = np.clip(_f64(s.lower), 1e-3, None)
            hi_v = np.where(np.isfinite(_f64(s.upper)), np.clip(_f64(s.upper), 1e-3, None), top)
            ax.fill_between(years, lo_v, hi_v, color="#1f5fa8", alpha=0.18, linewidth=0)
        ax.plot(years, np.where(y > 0, y, np.nan), marker="o", markersize=3, color="#1f5fa8")
        ax.set_yscale("log")
        ax.set_title(s.label, fontsize=9)
        ax.grid(alpha=0.3, which="major")
        ax.tick_params(labelsize=7)
        if all_years:
            step = max(1, (len(all_years) + 3) // 4)
            ax.set_xticks(all_years[::step])
        if i % ncols == ncols - 1 or i == len(series) - 1:
            for label, (lo, hi) in bands.items():
                ax.text(
                    1.02, np.sqrt(lo * hi), label, transform=ax.get_yaxis_transform(), fontsize=6, va="center"
                )
    axes[0][0].set_ylim(1e-2, top)
    fig.suptitle(title, fontsize=11)
    fig.supxlabel("year", fontsize=8)
    fig.supylabel("likelihood ratio (log scale)", fontsize=8)
    fig.tight_layout()
    caption = (
        "One panel per country. Grey bands mark the ENFSI (2015) verbal scale, the dashed line LR = 1 "
        "(no support); the shaded area is the LR interval (to the top of the panel where unbounded)."
    )
    return Figure(name=name, title=title, png=_to_png(fig), caption=caption)
