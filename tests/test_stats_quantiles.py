"""The quantiles behind every interval come from ``scipy.special`` (issue 15, finding 11: importing
``scipy.stats`` cost about 0.4 s of every ``ipevidence assess``). They must be the very values
``scipy.stats`` gives, bit for bit, so no interval, bound or verdict changes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from scipy import stats as sst

from ipevidence import stats


def test_quantiles_are_bit_identical_to_scipy_stats() -> None:
    rng = np.random.default_rng(15)
    q = np.concatenate([rng.uniform(0, 1, 5000), [0.025, 0.975, 0.05, 0.95, 0.0125, 0.9875]])
    a = np.concatenate([rng.uniform(1e-3, 1e6, 5000), [0.5, 1e-300, 3.0, 4.0, 1.0, 12.5]])
    b = np.concatenate([rng.uniform(1e-3, 1e6, 5000), [10.5, 7.0, 1e-300, 2.0, 1.0, 0.5]])
    assert np.array_equal(stats.beta_ppf(q, a, b), sst.beta.ppf(q, a, b), equal_nan=True)
    df = rng.uniform(1, 1e5, 5000)
    assert np.array_equal(stats.t_ppf(q[:5000], df), sst.t.ppf(q[:5000], df))
    assert np.array_equal(stats.norm_ppf(q), sst.norm.ppf(q))


def test_intervals_unchanged_for_every_method() -> None:
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
        assert np.array_equal(low, np.where(k == 0, 0.0, np.clip(centre - half, 0, 1)))


def test_importing_stats_does_not_import_scipy_stats() -> None:
    code = "import sys, ipevidence.stats; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"
