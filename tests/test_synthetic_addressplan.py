"""The generator's address plan matches no real database (issue 15, finding 8): the code warns when
it is used, and the shipped database's ranges give meaningful accuracies instead."""

from __future__ import annotations

import datetime as dt
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ipevidence.accuracy import LocatedGroundTruth
from ipevidence.archive import LocalArchive
from ipevidence.backends import open_database
from ipevidence.defaults import default_database_path
from ipevidence.history import build_ground_truth
from ipevidence.synthetic.addressplan import PlanAddressWarning, shipped_address_ranges
from ipevidence.synthetic.archive import SyntheticArchiveConfig, generate_archive

START, END = dt.date(2023, 1, 1), dt.date(2023, 1, 20)


def _accuracy(folder: Path) -> dict[str, float]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        gt = build_ground_truth(LocalArchive(folder), START, END, cache=None, progress=False, executor=pool)
    located = LocatedGroundTruth.from_backend(gt, open_database(default_database_path()))
    out = {}
    for c in ("DE", "US"):
        estimate = located.country_accuracy(c, 2023, 2023).hist_all.selected("exclude").estimate
        assert estimate is not None
        out[c] = estimate
    return out


def test_the_plan_warns_and_gives_meaningless_numbers(tmp_path: Path) -> None:
    config = SyntheticArchiveConfig(seed=3, start=START, end=END, n_probes=400)
    with pytest.warns(PlanAddressWarning, match="no real geolocation database matches"):
        generate_archive(tmp_path / "plan", config)
    acc = _accuracy(tmp_path / "plan")
    assert acc["DE"] < 0.5  # what the warning is about: the shipped database places the plan elsewhere


def test_shipped_ranges_give_meaningful_numbers_without_a_warning(tmp_path: Path) -> None:
    config = SyntheticArchiveConfig(
        seed=3, start=START, end=END, n_probes=400, address_ranges=shipped_address_ranges()
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlanAddressWarning)
        generate_archive(tmp_path / "shipped", config)
    acc = _accuracy(tmp_path / "shipped")
    assert acc["DE"] > 0.95
    assert acc["US"] > 0.95
