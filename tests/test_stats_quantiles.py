"""The quantiles behind every interval (issue 15, finding 11: importing scipy cost more than a whole
``ipevidence assess``).

* The beta quantiles (Clopper-Pearson, Jeffreys) are ``scipy.special.betaincinv``: bit for bit what
  ``scipy.stats.beta.ppf`` gives, scipy imported on first use only.
* The normal and Student-t quantiles of the default path are :mod:`ipevidence._quantiles` (numpy and
  the standard library): checked here against scipy, the independent reference, to a relative
  1e-12 over the whole range an interval can ask for (degrees of freedom 1 to 10^9, probabilities
  1e-12 to 1 - 1e-12), with a hypothesis property test and the edge cases.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sst

from ipevidence import _quantiles, stats

RTOL = 1e-12


def _rel_err(mine: np.ndarray, ref: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.abs(ref), 1e-3)  # near the centre t ~ 0: absolute error on a 1e-3 scale
    return np.asarray(np.abs(mine - ref) / scale, dtype=np.float64)


def test_beta_quantiles_are_bit_identical_to_scipy_stats() -> None:
    rng = np.random.default_rng(15)
    q = np.concatenate([rng.uniform(0, 1, 5000), [0.025, 0.975, 0.05, 0.95, 0.0125, 0.9875]])
    a = np.concatenate([rng.uniform(1e-3, 1e6, 5000), [0.5, 1e-300, 3.0, 4.0, 1.0, 12.5]])
    b = np.concatenate([rng.uniform(1e-3, 1e6, 5000), [10.5, 7.0, 1e-300, 2.0, 1.0, 0.5]])
    assert np.array_equal(stats.beta_ppf(q, a, b), sst.beta.ppf(q, a, b), equal_nan=True)


def test_t_quantiles_match_scipy_over_the_whole_range() -> None:
    rng = np.random.default_rng(2026)
    dfs = np.concatenate(
        [
            np.arange(1, 301, dtype=np.float64),
            np.unique(np.round(10 ** rng.uniform(0, 9, 2000))),
            rng.uniform(1, 50, 200),  # non-integer degrees of freedom
            [9999.0, 10000.0, 10001.0, 1e5, 1e7, 1e9],
        ]
    )
    qs = np.concatenate(
        [
            [1e-12, 1e-9, 1e-6, 1e-3, 0.01, 0.025, 0.05, 0.1, 0.3, 0.49, 0.51, 0.7, 0.9, 0.95],
            [0.975, 0.99, 0.999, 1 - 1e-6, 1 - 1e-9, 1 - 1e-12, 1 - 0.05 / 400, 0.05 / 400],
            rng.uniform(0, 1, 30),
        ]
    )
    q, df = np.meshgrid(qs, dfs)
    mine = stats.t_ppf(q, df)
    ref = sst.t.ppf(q, df)
    err = _rel_err(mine, ref)
    worst = int(np.argmax(err))
    assert err.max() < RTOL, (q.flat[worst], df.flat[worst], mine.flat[worst], ref.flat[worst])


@settings(max_examples=300, deadline=None)
@given(
    q=st.floats(min_value=1e-10, max_value=1 - 1e-10),
    df=st.one_of(
        st.integers(min_value=1, max_value=10**8).map(float), st.floats(min_value=0.5, max_value=1e6)
    ),
)
def test_t_quantile_property(q: float, df: float) -> None:
    got = stats.t_ppf(q, df)
    assert isinstance(got, float)
    ref = float(sst.t.ppf(q, df))
    assert abs(got - ref) <= RTOL * max(abs(ref), 1e-3)
    assert np.sign(got) == np.sign(q - 0.5)
    upper = float(sst.t.ppf(1 - q, df))  # the other tail (1 - q rounds: compare with scipy there too)
    assert abs(stats.t_ppf(1 - q, df) - upper) <= RTOL * max(abs(upper), 1e-3)


def test_t_and_normal_edges() -> None:
    assert abs(stats.t_ppf(0.975, 1) - 12.706204736174698) < 1e-11  # closed forms for 1 and 2
    assert abs(stats.t_ppf(0.975, 2) - 4.302652729749464) < 1e-12
    got = stats.t_ppf([0.0, 1.0, 0.5, -0.1, 1.1, np.nan], 3.0)
    assert got[0] == -np.inf
    assert got[1] == np.inf
    assert got[2] == 0.0
    assert np.isnan(got[3:]).all()
    assert np.isnan(stats.t_ppf(0.9, [0.0, -1.0, np.nan])).all()
    assert stats.t_ppf(np.zeros((2, 3)) + 0.975, 10.0).shape == (2, 3)
    assert stats.norm_ppf(0.0) == -np.inf
    assert stats.norm_ppf(1.0) == np.inf
    assert np.isnan(stats.norm_ppf([-0.5, 1.5, np.nan])).all()


def test_normal_quantiles_match_scipy() -> None:
    rng = np.random.default_rng(7)
    q = np.concatenate([rng.uniform(0, 1, 5000), [1e-300, 1e-15, 1e-9, 0.025, 0.975, 1 - 1e-15]])
    assert np.max(_rel_err(stats.norm_ppf(q), sst.norm.ppf(q))) < 1e-14


def test_intervals_agree_with_scipy_for_every_method() -> None:
    k = np.array([0, 1, 5, 50, 99, 100, 3, 997])
    n = np.array([100, 100, 100, 100, 100, 100, 4, 1000])
    for level in (0.9, 0.95, 0.99):
        alpha = 1 - level
        low, high = stats.proportion_intervals(k, n, "clopper-pearson", level)
        exp_low = np.where(k == 0, 0.0, sst.beta.ppf(alpha / 2, np.maximum(k, 1e-300), n - k + 1.0))
        exp_high = np.where(k == n, 1.0, sst.beta.ppf(1 - alpha / 2, k + 1.0, np.maximum(n - k, 1e-300)))
        assert np.array_equal(low, exp_low)
        assert np.array_equal(high, exp_high)
        low, high = stats.proportion_intervals(k, n, "jeffreys", level)
        assert np.array_equal(low, np.where(k == 0, 0.0, sst.beta.ppf(alpha / 2, k + 0.5, n - k + 0.5)))
        assert np.array_equal(high, np.where(k == n, 1.0, sst.beta.ppf(1 - alpha / 2, k + 0.5, n - k + 0.5)))
        z = sst.norm.ppf(1 - alpha / 2)
        low, _high = stats.proportion_intervals(k, n, "wilson", level)
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        expected = np.where(k == 0, 0.0, np.clip(centre - half, 0, 1))
        np.testing.assert_allclose(low, expected, rtol=1e-14, atol=0)


def test_clustered_counts_agree_with_the_scipy_t_quantiles() -> None:
    """The Korn-Graubard factor with our t quantiles equals the one with scipy's to 1e-12."""
    rng = np.random.default_rng(11)
    n = rng.integers(2, 200_000, 400).astype(np.float64)
    k_c = np.maximum(1.0, np.floor(n / rng.integers(1, 60, 400)))
    k_s = np.floor(n * rng.uniform(0, 1, 400))
    rss = n * rng.uniform(0.01, 5.0, 400)
    deff, n_eff, _ = stats.effective_counts(k_s, n, k_c, rss, 0.95, sum_sq_trials=n * (n / k_c))
    t_n = sst.t.ppf(0.975, np.maximum(n - 1, 1))
    t_k = sst.t.ppf(0.975, np.maximum(k_c - 1, 1))
    mine_t_n = stats.t_ppf(0.975, np.maximum(n - 1, 1))
    mine_t_k = stats.t_ppf(0.975, np.maximum(k_c - 1, 1))
    assert np.max(_rel_err(mine_t_n, t_n)) < RTOL
    assert np.max(_rel_err(mine_t_k, t_k)) < RTOL
    assert np.isfinite(n_eff).all()
    assert (deff >= 1.0 - 1e-12).all()


def test_the_default_path_imports_no_scipy() -> None:
    code = (
        "import sys, ipevidence.stats as s; s.proportion_intervals([1], [10]); "
        "s.effective_counts([5], [100], [10], [3.0], sum_sq_trials=[1000]); "
        "print(sorted(m for m in sys.modules if m.startswith('scipy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
    assert _quantiles.__doc__ is not None
    assert "1e-12" in _quantiles.__doc__
