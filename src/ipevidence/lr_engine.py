"""The likelihood-ratio engine of :class:`~ipevidence.accuracy.LocatedGroundTruth` (METHOD.md
section 10): :meth:`~LikelihoodRatioEngine.evidence_lr` (an LR per alternative country, weighted
or pooled, against an explicit Hd) and :meth:`~LikelihoodRatioEngine.likelihood_ratio`, with their
per-window machinery: the window's probe-table rows, the sufficient statistics of the share of
each declared country's rows placed in one answer (:class:`_Placed`), and every country's
cluster-aware interval of one observation computed in one vectorised call (:meth:`_interval_of`).

:class:`LikelihoodRatioEngine` is a base class of :class:`~ipevidence.accuracy.LocatedGroundTruth`
and works on its counts, probe table and cache (declared below); it is not used on its own. The
LR arithmetic on two intervals and the result types (:class:`~ipevidence.likelihood.EvidenceLR`,
:class:`~ipevidence.likelihood.LikelihoodRatio`) are :mod:`ipevidence.likelihood`; the accuracy
tables are :mod:`ipevidence.accuracy` and :mod:`ipevidence.accuracy_results`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import numpy.typing as npt

from .countries import normalize_country
from .errors import InvalidParameterError
from .likelihood import (
    HD_MODES,
    ZERO_COUNT_RULES,
    EvidenceLR,
    LikelihoodRatio,
    likelihood_ratio_from_intervals,
)
from .stats import (
    Interval,
    effective_counts,
    proportion_interval,
    proportion_intervals,
)

__all__ = ["LikelihoodRatioEngine"]


def _count_words(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"the one {noun}" if n == 1 else f"the {n:,} {plural}"


def _each_words(n: int, named: bool, enough: str) -> str:
    noun = "named alternative" if named else "country"
    if n == 0:
        return f"but no {'other country' if noun == 'country' else noun} has {enough}"
    if n == 1:
        return f"the one {noun} with {enough}"
    return f"each of {_count_words(n, noun)} with {enough} taken separately"


@attrs.frozen(eq=False)
class _Placed:
    """Per declared country, the sufficient statistics of the share of its rows placed in one
    answer: successes, trials, clusters (probes), and when clustered the residual sum of squares
    about its own proportion, the sum of m^2 and the sum of y * m over its probes."""

    successes: npt.NDArray[np.float64]
    trials: npt.NDArray[np.float64]
    clusters: npt.NDArray[np.float64]
    rss: npt.NDArray[np.float64] | None
    smm: npt.NDArray[np.float64] | None
    ym: npt.NDArray[np.float64] | None


class LikelihoodRatioEngine:
    """Likelihood ratios of a located ground truth; the base class of
    :class:`~ipevidence.accuracy.LocatedGroundTruth`, which provides the attributes declared here."""

    codes: tuple[str, ...]
    first_year: int
    method: str
    level: float
    clustering: str
    min_icc: float
    _index: dict[str, int]
    _cache: dict[tuple[Any, ...], Any]

    if TYPE_CHECKING:

        @property
        def _probe_table(self) -> dict[str, npt.NDArray[np.int64]]: ...

        def window_counts(self, first: int, last: int) -> npt.NDArray[np.int64]: ...

    def _window_probes(self, first: int, last: int) -> dict[str, npt.NDArray[Any]]:
        """The window's probe-table rows and per-country probe sums (cached per window).

        Clusters are (declared country, probe) pairs. Per row of the window: ``pair``, ``dec``
        (sorted), ``loc``, ``count``; per pair: ``m`` (addresses in the window); per country:
        ``clusters`` (pairs with addresses in the window), ``smm`` (sum of m^2) and ``starts``
        (where each country's rows begin).
        """
        key = ("wprobes", first, last)
        if key not in self._cache:
            t = self._probe_table
            nc = len(self.codes)
            year_pos = t["year"] + self.first_year
            sel = np.flatnonzero((year_pos >= first) & (year_pos <= last))
            pair, cnt, dec = t["pair"][sel], t["count"][sel], t["dec"][sel]
            pair_dec = t["pair_dec"]
            m = np.bincount(pair, weights=cnt, minlength=pair_dec.size).astype(np.int64)
            mf = m.astype(np.float64)
            self._cache[key] = {
                "pair": pair,
                "dec": dec,
                "loc": t["loc"][sel],
                "count": cnt,
                "m": m,
                "pair_dec": pair_dec,
                "clusters": np.bincount(pair_dec, weights=(m > 0), minlength=nc).astype(np.int64),
                "smm": np.bincount(pair_dec, weights=mf * mf, minlength=nc),
                "starts": np.searchsorted(dec, np.arange(nc + 1)).astype(np.int64),
            }
        return self._cache[key]  # type: ignore[no-any-return]

    def _placed(self, first: int, last: int, obs: str) -> _Placed:
        """Per declared country: sufficient statistics of the share of its window rows placed in
        ``obs``, clustered by probe (cached per window and observation).

        Only the rows that are the minority outcome are touched: rows placed in ``obs`` from other
        countries, and rows of ``obs``'s own country placed elsewhere; every other pair contributes
        through the per-country sum of m^2. So the cost is the number of misplaced rows, not of
        probes.
        """
        key = ("placed", first, last, obs)
        if key in self._cache:
            return self._cache[key]  # type: ignore[no-any-return]
        counts = self.window_counts(first, last)
        oi = self._index.get(obs)
        nc = len(self.codes)
        n = counts.sum(axis=1).astype(np.float64)
        k_s = (counts[:, oi] if oi is not None else np.zeros(nc, dtype=np.int64)).astype(np.float64)
        if self.clustering != "probe":
            result = _Placed(k_s, n, n, None, None, None)
            self._cache[key] = result
            return result
        w = self._window_probes(first, last)
        pair, loc, cnt, m, pair_dec = w["pair"], w["loc"], w["count"], w["m"], w["pair_dec"]
        smm = np.asarray(w["smm"], dtype=np.float64)
        p = k_s / np.where(n > 0, n, 1.0)
        mf = m.astype(np.float64)
        rss = p * p * smm  # every pair at y = 0; corrected below for the pairs with y > 0
        ym = np.zeros(nc)  # sum of y * m per country
        if oi is not None:
            own = slice(int(w["starts"][oi]), int(w["starts"][oi + 1]))
            hit = np.flatnonzero(loc == oi)
            hit = hit[(hit < own.start) | (hit >= own.stop)]
            up, inv = np.unique(pair[hit], return_inverse=True)
            yv = np.bincount(inv.ravel(), weights=cnt[hit], minlength=up.size)
            pd, pm = pair_dec[up], mf[up]
            pp = p[pd]
            rss += np.bincount(pd, weights=yv * (yv - 2.0 * pp * pm), minlength=nc)
            ym += np.bincount(pd, weights=yv * pm, minlength=nc)
            # the observed country's own rows: count its failures (placed elsewhere) instead
            rows = np.arange(own.start, own.stop)
            miss = rows[loc[own] != oi]
            uf, finv = np.unique(pair[miss], return_inverse=True)
            fv = np.bincount(finv.ravel(), weights=cnt[miss], minlength=uf.size)
            fm = mf[uf]
            q = 1.0 - p[oi]
            rss[oi] = q * q * smm[oi] + float(np.sum(fv * (fv - 2.0 * q * fm)))
            ym[oi] = smm[oi] - float(np.sum(fv * fm))
        result = _Placed(k_s, n, w["clusters"].astype(np.float64), np.maximum(rss, 0.0), smm, ym)
        self._cache[key] = result
        return result

    def _interval_of(self, placed: _Placed, i: int, level: float | None = None) -> Interval:
        """The interval of country index ``i`` at ``level`` (default the engine's).

        The intervals of every country of one :class:`_Placed` are computed in one vectorised call
        the first time one of them is asked for at a level (the same element-wise arithmetic as
        :meth:`_from_sums`, so the same values), then read from the arrays."""
        lvl = self.level if level is None else level
        k, n = int(placed.successes[i]), int(placed.trials[i])
        if placed.rss is None or placed.smm is None:
            return proportion_interval(k, n, self.method, lvl)
        key = ("placed-intervals", id(placed), lvl)
        hit = self._cache.get(key)
        if hit is None:
            deff, n_eff, k_eff = effective_counts(
                placed.successes, placed.trials, placed.clusters, placed.rss, lvl, placed.smm, self.min_icc
            )
            low, high = proportion_intervals(k_eff, n_eff, self.method, lvl)
            # the _Placed is kept in the entry so that its id cannot be reused while cached
            hit = (placed, deff, n_eff, low, high)
            self._cache[key] = hit
        _, deff_a, n_eff_a, low_a, high_a = hit
        return self._clustered_interval(
            k, n, int(placed.clusters[i]), deff_a[i], n_eff_a[i], low_a[i], high_a[i], lvl
        )

    def _from_sums(self, k: int, n: int, clusters: float, rss: float, smm: float, level: float) -> Interval:
        deff, n_eff, k_eff = effective_counts(k, n, clusters, rss, level, smm, self.min_icc)
        low, high = proportion_intervals(k_eff, n_eff, self.method, level)
        return self._clustered_interval(k, n, int(clusters), deff, n_eff, low, high, level)

    def _clustered_interval(
        self, k: int, n: int, clusters: int, deff: Any, n_eff: Any, low: Any, high: Any, level: float
    ) -> Interval:
        """An :class:`Interval` clustered by probe from its computed parts (NaN bounds: None)."""
        lo, hi = float(low), float(high)
        return Interval(
            successes=k,
            trials=n,
            low=None if math.isnan(lo) else lo,
            high=None if math.isnan(hi) else hi,
            method=self.method,
            level=level,
            design_effect=float(deff),
            effective_trials=float(n_eff),
            clusters=clusters,
            clustering="probe",
        )

    def _pooled_interval(self, first: int, last: int, obs: str, members: Sequence[int]) -> Interval:
        """One proportion over the rows of every country in ``members`` (clustered by probe)."""
        placed = self._placed(first, last, obs)
        idx = np.asarray(members, dtype=np.int64)
        k = int(placed.successes[idx].sum())
        n = int(placed.trials[idx].sum())
        if placed.rss is None or placed.smm is None or placed.ym is None:
            return proportion_interval(k, n, self.method, self.level)
        # Pool the per-country sums about the pooled proportion P:
        # sum (y - P m)^2 = sum (y - p_c m)^2 + 2 (p_c - P)(sum y m - p_c sum m^2) + (p_c - P)^2 sum m^2
        big_p = k / n if n else 0.0
        p_c = placed.successes[idx] / np.where(placed.trials[idx] > 0, placed.trials[idx], 1.0)
        d = p_c - big_p
        smm = placed.smm[idx]
        rss = float(np.sum(placed.rss[idx] + 2.0 * d * (placed.ym[idx] - p_c * smm) + d * d * smm))
        return self._from_sums(
            k, n, float(placed.clusters[idx].sum()), max(rss, 0.0), float(smm.sum()), self.level
        )

    def evidence_lr(
        self,
        country: str,
        observed: str | None,
        first: int,
        last: int,
        *,
        alternatives: Mapping[str, float] | Sequence[str] | None = None,
        mode: str = "each",
        min_addresses: int = 1000,
        basis: str = "conservative",
        zero_count: str = "method",
    ) -> EvidenceLR | None:
        """Likelihood ratios that the database says ``observed`` (None = not located) given the
        device in ``country`` (Hp), against an explicit Hd (see :class:`~ipevidence.likelihood.EvidenceLR`).

        ``mode`` ``"each"`` (default): one LR per alternative country with at least
        ``min_addresses`` ground-truth rows in the window (all such countries, or only the named
        ``alternatives``); the headline is the weakest. ``"weighted"``: the mixture of the named
        ``alternatives`` with their weights (a mapping; a plain sequence means equal weights),
        normalised. ``"pooled"``: every other country with enough ground truth, weighted by its
        ground truth. Alternatives named or found with too little ground truth are listed in
        ``alternatives_without_data``. Returns None when ``country`` has no ground truth in the
        window. Raises :class:`~ipevidence.errors.InvalidParameterError` when Hp is among the
        alternatives, weights are negative or all zero, or the mode is unknown;
        :class:`~ipevidence.errors.UnknownCountryError` for an unknown code.
        """
        code = normalize_country(country)
        obs = "" if not observed else normalize_country(observed)
        if mode not in HD_MODES:
            raise InvalidParameterError(f"mode must be one of {', '.join(HD_MODES)}, not {mode!r}")
        if basis not in ("conservative", "point"):
            raise InvalidParameterError(f"basis must be 'conservative' or 'point', not {basis!r}")
        if zero_count not in ZERO_COUNT_RULES:
            raise InvalidParameterError(
                f"zero_count must be one of {', '.join(ZERO_COUNT_RULES)}, not {zero_count!r}"
            )
        if min_addresses < 1:
            raise InvalidParameterError("min_addresses must be at least 1")
        named: list[tuple[str, float]] | None = None
        if alternatives is not None:
            if mode == "pooled":
                raise InvalidParameterError(
                    "mode 'pooled' uses every other country; it takes no alternatives"
                )
            items = (
                [(k, float(v)) for k, v in alternatives.items()]
                if isinstance(alternatives, Mapping)
                else [(str(k), 1.0) for k in alternatives]
            )
            merged: dict[str, float] = {}
            for k, w in items:
                a = normalize_country(k)
                if a == code:
                    raise InvalidParameterError(
                        f"{a} is the claimed country (Hp) and cannot also be among its own alternatives (Hd)"
                    )
                if not np.isfinite(w) or w < 0:
                    raise InvalidParameterError(f"the weight of {a} must be a finite non-negative number")
                merged[a] = merged.get(a, 0.0) + w
            if not merged:
                raise InvalidParameterError("an empty list of alternatives; give at least one country")
            if mode == "weighted" and sum(merged.values()) <= 0:
                raise InvalidParameterError(
                    "the alternatives' weights are all zero; give at least one positive"
                )
            named = sorted(merged.items())
        elif mode == "weighted":
            raise InvalidParameterError("mode 'weighted' needs named alternatives with weights")
        frozen_named = tuple(named) if named else None
        key = ("evidence", code, obs, first, last, frozen_named, mode, min_addresses, basis, zero_count)
        if key in self._cache:
            return self._cache[key]  # type: ignore[no-any-return]
        result = self._evidence_lr(code, obs, first, last, named, mode, min_addresses, basis, zero_count)
        self._cache[key] = result
        return result

    def _evidence_lr(
        self,
        code: str,
        obs: str,
        first: int,
        last: int,
        named: list[tuple[str, float]] | None,
        mode: str,
        min_addresses: int,
        basis: str,
        zero_count: str,
    ) -> EvidenceLR | None:
        m = self.window_counts(first, last)
        totals = m.sum(axis=1)
        ci = self._index.get(code)
        if ci is None or int(totals[ci]) == 0:
            return None
        window = f"{first}-{last}" if first != last else str(first)
        if named is None:
            present = [i for i in range(1, len(self.codes)) if i != ci and totals[i] > 0]
            candidates = [(self.codes[i], 1.0) for i in present]
        else:
            candidates = named
        kept: list[tuple[str, float, int]] = []
        without: list[str] = []
        for a, w in candidates:
            i = self._index.get(a)
            if i is None or int(totals[i]) < min_addresses:
                without.append(a)
            elif mode != "weighted" or w > 0:
                kept.append((a, w, i))
        hp = f"the device was in {code}"
        observation = (
            f"the database places the address in {obs}" if obs else "the database cannot place the address"
        )
        prop = f"the proposition that {hp}"
        enough = f"at least {min_addresses:,} ground-truth address{'es' * (min_addresses != 1)} in {window}"
        placed = self._placed(first, last, obs)
        num = self._interval_of(placed, ci)

        def one(a: str, i: int, numerator: Interval = num, level: float | None = None) -> LikelihoodRatio:
            return likelihood_ratio_from_intervals(
                numerator,
                [self._interval_of(placed, i, level)],
                zero_count=zero_count,
                basis=basis,
                hp=hp,
                hd=f"the device was in {a}",
                observation=observation,
                alternative_names=(a,),
                proposition=prop,
                alternative_proposition=f"the proposition that the device was in {a}",
            )

        def order(lr: LikelihoodRatio) -> tuple[float, float, str]:
            rep = lr.reported
            return (
                math.inf if rep is None else rep,
                math.inf if lr.value is None else lr.value,
                lr.alternative or "",
            )

        singles = sorted((one(a, i) for a, _, i in kept), key=order)
        headline: LikelihoodRatio | None = None
        weakest: str | None = None
        weights: tuple[tuple[str, float], ...] = ()
        if mode == "each":
            sep = ": " if kept else ", "
            hd = f"the device was in another country{sep}{_each_words(len(kept), named is not None, enough)}"
            if singles:
                headline = singles[0]
                if headline.conservative < 1.0 and len(kept) > 1:
                    # Support for an ALTERNATIVE, and that alternative was picked as the most
                    # favourable of len(kept): every bound at 1 - alpha / J (Bonferroni), so the
                    # reported support for the picked alternative holds simultaneously at 1 - alpha.
                    lvl = 1.0 - (1.0 - self.level) / len(kept)
                    num_b = self._interval_of(placed, ci, lvl)
                    adjusted = sorted((one(a, i, num_b, lvl) for a, _, i in kept), key=order)
                    headline = attrs.evolve(adjusted[0], conservative_level=self.level)
                weakest = headline.alternative
                if len(kept) == 1:
                    only = "named alternative" if named is not None else "other country"
                    hd = f"the device was in {weakest} (the only {only} with {enough})"
                else:
                    hd += f"; the weakest, {weakest}, is reported"
                if headline is not singles[0]:
                    hd += (
                        f" (its bounds adjusted for choosing it among {len(kept)}: a simultaneous "
                        f"{100 * self.level:g} % bound)"
                    )
            if named is not None and len(kept) > 1:
                hd += f" (alternatives: {', '.join(a for a, _, _ in kept)})"
        elif mode == "weighted":
            total = sum(w for _, w, _ in kept)
            weights = tuple((a, round(w / total, 12)) for a, w, _ in kept) if total > 0 else ()
            mixture = "the device was in " + " or ".join(
                f"{a} (weight {w:.3g})" if j == 0 else f"{a} ({w:.3g})" for j, (a, w) in enumerate(weights)
            )
            hd = mixture
            if without:
                hd += (
                    f"; {', '.join(without)} named but with fewer than {min_addresses:,} ground-truth "
                    f"addresses in {window}, left out and the other weights renormalised"
                )
            if kept:
                lvl = 1.0 - (1.0 - self.level) / len(kept)
                dens = [self._interval_of(placed, i, lvl) for _, _, i in kept]
                headline = likelihood_ratio_from_intervals(
                    num,
                    dens,
                    weights=[w for _, w, _ in kept],
                    zero_count=zero_count,
                    basis=basis,
                    hp=hp,
                    hd=hd,
                    observation=observation,
                    alternative_names=[a for a, _, _ in kept],
                    alternatives_without_data=without,
                    proposition=prop,
                    alternative_proposition=f"the proposition that {mixture}",
                )
        else:
            hd = (
                f"the device was in another country: {_count_words(len(kept), 'country')} with {enough}, "
                "weighted by their ground truth, i.e. by where RIPE Atlas deploys probes"
                if kept
                else f"the device was in another country, but no other country has {enough}"
            )
            if kept:
                den = self._pooled_interval(first, last, obs, [i for _, _, i in kept])
                n_all = sum(int(totals[i]) for _, _, i in kept)
                lr = likelihood_ratio_from_intervals(
                    num,
                    [den],
                    zero_count=zero_count,
                    basis=basis,
                    hp=hp,
                    hd=hd,
                    observation=observation,
                    alternative_names=("pooled",),
                    alternatives_without_data=without,
                    proposition=prop,
                    alternative_proposition="the proposition that the device was in another country (pooled)",
                )
                weights = tuple((a, round(int(totals[i]) / n_all, 12)) for a, _, i in kept)
                headline = attrs.evolve(lr, alternatives=weights)
        return EvidenceLR(
            hp_country=code,
            observed=obs or None,
            mode=mode,
            headline=headline,
            weakest_against=weakest,
            per_alternative=tuple(singles) if mode != "pooled" else (),
            alternatives_without_data=tuple(without),
            min_addresses=min_addresses,
            first=first,
            last=last,
            hp=hp,
            hd=hd,
            observation=observation,
            basis=basis,
            weights=weights,
            level=1.0 - 2.0 * (1.0 - self.level),
            conservative_level=self.level,
        )

    def likelihood_ratio(
        self,
        country: str,
        observed: str | None,
        first: int,
        last: int,
        *,
        alternatives: Mapping[str, float] | None = None,
        zero_count: str = "method",
        basis: str = "conservative",
    ) -> LikelihoodRatio | None:
        """The older interface: the headline LR of :meth:`evidence_lr` in mode ``"pooled"`` (no
        ``alternatives``: every other country with ground truth, weighted by its ground truth) or
        ``"weighted"`` (the named ``alternatives`` with their weights), with no minimum of
        addresses. Prefer :meth:`evidence_lr` (mode ``"each"`` is the defensible default).
        ``zero_count`` ``"jeffreys"``/``"rule-of-three"`` may only raise a zero count's bound.
        """
        ev = self.evidence_lr(
            country,
            observed,
            first,
            last,
            alternatives=alternatives,
            mode="pooled" if alternatives is None else "weighted",
            min_addresses=1,
            basis=basis,
            zero_count=zero_count,
        )
        return None if ev is None else ev.headline
