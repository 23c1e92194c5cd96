"""A small fixed-seed run of benchmarks/coverage.py: the intervals hold on clustered ground truths.

The full table (2,000 replications per cell, 104 cells) is in docs/assessment.md; this version
runs a subset in a few seconds. The truth is the generator's; the contrast interval (independent
Wilson) is written out in the benchmark with numpy.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def coverage() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "ipevidence_coverage_benchmark", ROOT / "benchmarks" / "coverage.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # attrs classes need their module importable
    spec.loader.exec_module(module)
    return module


def test_generator_is_what_it_claims(coverage: ModuleType) -> None:
    rng = np.random.default_rng(3)
    sizes = coverage.probe_sizes(rng, 200, 5000, 25.0)
    assert np.all(sizes.sum(axis=1) == 5000)
    live = sizes[sizes > 0]
    assert abs(live.mean() - 25.0) < 1.5  # geometric, mean 25 (the last probe of each row is cut)
    errors = coverage.probe_errors(rng, sizes, 0.05, 0.2)
    assert np.all(errors <= sizes)
    assert abs(errors.sum() / sizes.sum() - 0.05) < 0.005
    # intra-probe correlation: the per-probe error shares vary far more than binomially
    big = sizes >= 20
    share = errors[big] / sizes[big]
    assert share.var() > 3 * 0.05 * 0.95 / 20  # Beta part rho * p(1 - p) = 0.0095 on top


def test_intervals_cover_in_every_cell(coverage: ModuleType) -> None:
    reps = 300
    se = math.sqrt(0.95 * 0.05 / reps)
    acc, lrs = coverage.run(
        reps,
        seed=7,
        rhos=(0.0, 0.2, 0.5),
        totals=(50, 1_000, 20_000),
        accuracies=(0.95, 0.99),
        lr_totals=(500, 5_000),
        lr_cases=((0.95, 0.01),),
    )
    assert len(acc) == 18
    assert len(lrs) == 6
    for c in acc:
        assert c.coverage >= 0.95 - 2 * se, c
        assert c.low_above <= 0.025 + 2 * math.sqrt(0.025 * 0.975 / reps), c
    for c in lrs:
        assert c.exceed <= 0.05 + 2 * se, c
    # the old independent Wilson interval fails once probes are correlated ...
    strong = [c for c in acc if c.rho == 0.5 and c.total >= 1_000]
    assert all(c.wilson_coverage < 0.6 for c in strong)
    assert all(c.wilson_low_above > 0.2 for c in strong)
    # ... and so does the old independent LR bound
    assert max(c.naive_exceed for c in lrs if c.rho == 0.5) > 0.3
    text = coverage.accuracy_markdown(acc)
    assert text.count("| yes |") == 18
