"""Normal and Student-t quantiles with numpy and the standard library only.

Why not scipy: importing ``scipy.special`` costs 0.1-0.2 s, more than everything else a one-address
verdict does (issue 15: ``ipevidence assess`` as a whole process). The default intervals need only
these two quantiles (the Wilson interval's z and the Korn-Graubard degrees-of-freedom correction's
t); the beta quantiles of the Clopper-Pearson and Jeffreys intervals still come from
``scipy.special``, imported when one of those methods is asked for.

* :func:`norm_ppf`: :meth:`statistics.NormalDist.inv_cdf` (Wichura's AS241, double precision).
* :func:`t_ppf`: exact for 1 and 2 degrees of freedom (closed forms); up to 10,000 degrees of
  freedom a safeguarded Newton iteration on the exact upper tail ``S(t) = I_x(df/2, 1/2) / 2``,
  ``x = df / (df + t^2)``, the regularized incomplete beta function evaluated by its continued
  fraction (modified Lentz) with ``ln B(df/2, 1/2)`` from the Stirling series for large ``df``
  (no cancellation of two large ``lgamma`` values); above 10,000 degrees of freedom the
  Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5, terms to ``df^-4``), whose first omitted
  term is below 1e-15 there.

tests/test_stats_quantiles.py checks both against scipy (``scipy.stats.t.ppf``,
``scipy.stats.norm.ppf``) to a relative 1e-12 over degrees of freedom 1 to 10^9 and probabilities
1e-12 to 1 - 1e-12.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = ["norm_ppf", "t_ppf"]

_NORMAL: Final = NormalDist()
_LN_SQRT_PI: Final = 0.5 * math.log(math.pi)  # lgamma(1/2)
#: above this many degrees of freedom the Cornish-Fisher expansion is used
_CF_DF: Final = 1e4
_TINY: Final = 1e-300
_EPS: Final = 1e-16
#: relative size of the Newton step at which the t quantile is converged
_STEP_TOL: Final = 1e-13


def _inv_cdf(q: float) -> float:
    if math.isnan(q) or q < 0.0 or q > 1.0:
        return math.nan
    if q == 0.0:
        return -math.inf
    if q == 1.0:
        return math.inf
    return _NORMAL.inv_cdf(q)


_INV_CDF: Final = np.frompyfunc(_inv_cdf, 1, 1)


def norm_ppf(q: npt.ArrayLike) -> Any:
    """Quantile ``q`` of the standard normal distribution (-inf at 0, inf at 1, NaN outside [0, 1]);
    a float for a scalar, else a float64 array of ``q``'s shape."""
    arr = np.asarray(q, dtype=np.float64)
    if arr.ndim == 0:
        return float(_inv_cdf(float(arr)))
    values, inverse = np.unique(arr, return_inverse=True)  # levels repeat: solve each once
    return np.asarray(_INV_CDF(values), dtype=np.float64)[inverse.reshape(arr.shape)]


def _log_gamma_ratio(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``ln Gamma(a + 1/2) - ln Gamma(a)`` without the cancellation of two large ``lgamma``
    values: the Stirling series for ``a >= 50`` (error below 1e-20), ``math.lgamma`` below."""
    out = np.empty_like(a)
    big = a >= 50.0
    if np.any(~big):
        small = a[~big]
        out[~big] = [math.lgamma(v + 0.5) - math.lgamma(v) for v in small.tolist()]
    if np.any(big):
        z = a[big]
        h = z + 0.5
        # (h - 1/2) ln h - h - [(z - 1/2) ln z - z] = z ln(1 + 1/(2z)) + (1/2) ln z - 1/2
        main = z * np.log1p(0.5 / z) + 0.5 * np.log(z) - 0.5

        def series(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            x2 = x * x
            return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * x2)) / x2) / x2) / x

        out[big] = main + (series(h) - series(z))
    return out


def _betacf(x: npt.NDArray[np.float64], a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> Any:
    """The continued fraction of the regularized incomplete beta function (modified Lentz),
    vectorised; converges quickly where ``x < (a + 1) / (a + b + 2)``."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < _TINY, _TINY, d)
    d = 1.0 / d
    h = d.copy()
    active = np.ones(x.shape, dtype=np.bool_)
    for m in range(1, 5001):
        m2 = 2.0 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < _TINY, _TINY, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < _TINY, _TINY, c)
        d = 1.0 / d
        h = np.where(active, h * d * c, h)
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < _TINY, _TINY, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < _TINY, _TINY, c)
        d = 1.0 / d
        delta = d * c
        h = np.where(active, h * delta, h)
        active &= np.abs(delta - 1.0) > _EPS
        if not active.any():
            break
    else:  # never seen within the degrees of freedom this path serves (at most 10,000)
        raise ArithmeticError(f"incomplete beta continued fraction did not converge for a={a[active][:3]}")
    return h


def _upper_tail(u: npt.NDArray[np.float64], df: npt.NDArray[np.float64]) -> tuple[Any, Any]:
    """``(S, f)``: the upper tail P(T > u) and the density at ``u >= 0`` of Student's t."""
    a = 0.5 * df
    u2 = u * u
    lbeta = _LN_SQRT_PI - _log_gamma_ratio(a)  # ln B(a, 1/2)
    ln_x = -np.log1p(u2 / df)  # ln(df / (df + u^2))
    with np.errstate(divide="ignore"):
        ln_y = 2.0 * np.log(u) - np.log(df + u2)  # ln(u^2 / (df + u^2)); -inf at u = 0
    # density: (1 + u^2/df)^(-(df+1)/2) / (sqrt(df) B(df/2, 1/2))
    dens = np.exp((a + 0.5) * ln_x - 0.5 * np.log(df) - lbeta)
    front = np.exp(a * ln_x + 0.5 * ln_y - lbeta)
    x = np.exp(ln_x)
    y = -np.expm1(ln_x)
    direct = x < (a + 1.0) / (a + 2.5)
    s = np.empty_like(u)
    if np.any(direct):
        i = direct
        s[i] = 0.5 * front[i] * _betacf(x[i], a[i], np.full(int(i.sum()), 0.5)) / a[i]
    if np.any(~direct):
        i = ~direct
        # I_x(a, 1/2) = 1 - I_y(1/2, a), and I_y(1/2, a) = 2 front CF: S = 0.5 - front CF
        s[i] = 0.5 - front[i] * _betacf(y[i], np.full(int(i.sum()), 0.5), a[i])
    s = np.where(u == 0.0, 0.5, s)
    return s, dens


def _cornish_fisher(z: npt.NDArray[np.float64], df: npt.NDArray[np.float64]) -> Any:
    """Abramowitz & Stegun 26.7.5: the t quantile from the normal quantile ``z``, terms to df^-4."""
    z2 = z * z
    g1 = (z2 + 1.0) * z / 4.0
    g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0
    g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0
    g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0
    return z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df


def _t_upper(p: npt.NDArray[np.float64], df: npt.NDArray[np.float64]) -> Any:
    """``u > 0`` with P(T > u) = ``p`` (0 < p < 1/2) for df of at most :data:`_CF_DF`."""
    z = -norm_ppf(p)
    z = np.asarray(z, dtype=np.float64).reshape(p.shape)
    guess = _cornish_fisher(z, df)
    u = np.where(np.isfinite(guess) & (guess > 0.0), guess, 1.0)
    lo = np.zeros_like(u)
    hi = np.full_like(u, np.inf)
    active = np.ones(u.shape, dtype=np.bool_)
    for _ in range(200):
        s, dens = _upper_tail(u[active], df[active])
        diff = s - p[active]
        ua, la, ha = u[active], lo[active], hi[active]
        la = np.where(diff > 0.0, ua, la)  # S decreasing: S(u) > p means the root is right of u
        ha = np.where(diff <= 0.0, ua, ha)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = diff / dens
            new = ua + step
        # a Newton step this small is converged (quadratically: the error left is far smaller)
        done = (diff == 0.0) | (np.isfinite(step) & (np.abs(step) <= _STEP_TOL * ua))
        inside = np.isfinite(new) & (new > la) & (new < ha)
        fallback = np.where(np.isfinite(ha), 0.5 * (la + ha), 2.0 * ua)
        new = np.where(inside | done, new, fallback)
        u[active], lo[active], hi[active] = np.where(diff == 0.0, ua, new), la, ha
        idx = np.flatnonzero(active)
        active[idx[done]] = False
        if not active.any():
            break
    else:  # a quantile that is not converged is an error, never a silently wrong interval
        raise ArithmeticError(f"t quantile did not converge for p={p[active][:3]}, df={df[active][:3]}")
    return u


#: solved (tail probability, degrees of freedom) -> quantile; intervals ask for the same few
#: levels and probe counts again and again (triage: thousands of windows), so each pair is solved
#: once per process (bounded; a pure function of its key, so caching changes no value)
_T_CACHE: dict[tuple[float, float], float] = {}
_T_CACHE_MAX: Final = 1 << 16


def _t_upper_cached(p: npt.NDArray[np.float64], df: npt.NDArray[np.float64]) -> Any:
    """:func:`_t_upper` for each distinct (p, df) pair not solved before."""
    if p.size and p.min() == p.max():  # one level (the usual call): distinct df only, 1-D
        dfs, inverse = np.unique(df, return_inverse=True)
        uniq = np.stack([np.full(dfs.shape[0], p[0]), dfs], axis=1)
    else:
        uniq, inverse = np.unique(np.stack([p, df], axis=1), axis=0, return_inverse=True)
    values = np.empty(uniq.shape[0], dtype=np.float64)
    keys = [(float(a), float(b)) for a, b in uniq.tolist()]
    todo = [i for i, k in enumerate(keys) if k not in _T_CACHE]
    if todo:
        idx = np.asarray(todo, dtype=np.intp)
        solved = _t_upper(uniq[idx, 0].copy(), uniq[idx, 1].copy())
        if len(_T_CACHE) + len(todo) > _T_CACHE_MAX:
            _T_CACHE.clear()
        for i, v in zip(todo, solved.tolist(), strict=True):
            _T_CACHE[keys[i]] = v
    for i, k in enumerate(keys):
        values[i] = _T_CACHE[k]
    return values[inverse.reshape(-1)]


def t_ppf(q: npt.ArrayLike, df: npt.ArrayLike) -> Any:
    """Quantile ``q`` of Student's t with ``df`` degrees of freedom (vectorised, broadcasting; NaN
    where ``df <= 0`` or ``q`` is outside [0, 1]); a float for scalars, else a float64 array."""
    qa, da = np.broadcast_arrays(np.asarray(q, dtype=np.float64), np.asarray(df, dtype=np.float64))
    shape = qa.shape
    qf, dff = qa.ravel().copy(), da.ravel().copy()
    out = np.full(qf.shape, np.nan)
    with np.errstate(invalid="ignore"):
        ok = (dff > 0.0) & (qf >= 0.0) & (qf <= 1.0)
    out[ok & (qf == 0.0)] = -np.inf
    out[ok & (qf == 1.0)] = np.inf
    out[ok & (qf == 0.5)] = 0.0
    work = ok & (qf > 0.0) & (qf < 1.0) & (qf != 0.5)
    sign = np.where(qf > 0.5, 1.0, -1.0)
    p = np.where(qf > 0.5, 1.0 - qf, qf)  # the smaller tail (exact: 1 - q is exact for q >= 1/2)
    one = work & (dff == 1.0)
    if one.any():
        out[one] = sign[one] / np.tan(np.pi * p[one])
    two = work & (dff == 2.0)
    if two.any():
        pp = p[two]
        out[two] = sign[two] * (1.0 - 2.0 * pp) / np.sqrt(2.0 * pp * (1.0 - pp))
    big = work & (dff > _CF_DF)
    if big.any():
        z = -np.asarray(norm_ppf(p[big]), dtype=np.float64).reshape(-1)
        out[big] = sign[big] * _cornish_fisher(z, dff[big])
    rest = work & ~one & ~two & ~big
    if rest.any():
        out[rest] = sign[rest] * _t_upper_cached(p[rest], dff[rest])
    res = out.reshape(shape)
    return float(res) if res.ndim == 0 else res
