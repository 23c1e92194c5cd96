"""Hypothesis properties of linking and the most distant address selection, checked against a
plain-Python model of the method (dicts over the daily observations)."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import assert_same_columns
from ipevidence.countries import encode_countries
from ipevidence.groundtruth import GroundTruth
from ipevidence.history import DailyRecords, link_days, select_most_distant, unreliable_probes

D0 = np.datetime64("2021-03-01", "D")
Obs = tuple[int, int, int, str]  # probe, day index, address, country

observations = st.lists(
    st.tuples(
        st.integers(1, 4),  # probe
        st.integers(0, 12),  # day
        st.integers(1, 4),  # address (few values: many repeats and returns)
        st.sampled_from(["DE", "DE", "DE", "AT"]),
    ),
    max_size=60,
    # one record per probe and day, as in the archive
    unique_by=lambda o: (o[0], o[1]),
)


def to_days(obs: list[Obs]) -> list[DailyRecords]:
    by_day: dict[int, list[Obs]] = {}
    for o in obs:
        by_day.setdefault(o[1], []).append(o)
    keys = list(by_day)
    out = []
    for d in keys:
        items = by_day[d]
        n = len(items)
        out.append(
            DailyRecords(
                4,
                np.array([o[0] for o in items], np.int32),
                np.array([o[2] for o in items], np.uint32) + np.uint32(0x08000000),
                encode_countries([o[3] for o in items]),
                np.full(n, 50.0),
                np.full(n, 10.0),
                np.full(n, 64500, np.uint32),
                np.full(n, D0 + d),
            )
        )
    return out


def rows_of(gt: GroundTruth) -> list[tuple[int, int, int, int, int]]:
    off = D0.astype(np.int64)
    return sorted(
        zip(
            gt.probe_id.tolist(),
            (gt.address - np.uint32(0x08000000)).tolist(),
            (gt.date.astype(np.int64) - off).tolist(),
            (gt.first_seen.astype(np.int64) - off).tolist(),
            (gt.last_seen.astype(np.int64) - off).tolist(),
            strict=False,
        )
    )


def model_runs(obs: list[Obs]) -> list[tuple[int, int, int, int]]:
    """(probe, address, first day, last day) of every run of consecutive observations."""
    runs: list[list[int]] = []
    for p, d, a, _ in sorted(obs):
        if runs and runs[-1][0] == p and runs[-1][1] == a:
            runs[-1][3] = d
        else:
            runs.append([p, a, d, d])
    return [(r[0], r[1], r[2], r[3]) for r in runs]


@settings(max_examples=150, deadline=None)
@given(observations)
def test_first_seen_one_row_per_probe_address(obs: list[Obs]) -> None:
    gt = select_most_distant(link_days(to_days(obs)), "first-seen")
    pairs = list(zip(gt.probe_id.tolist(), gt.address.tolist(), strict=False))
    assert len(pairs) == len(set(pairs))
    model: dict[tuple[int, int], list[int]] = {}
    for p, d, a, _ in obs:
        model.setdefault((p, a), []).append(d)
    assert rows_of(gt) == sorted((p, a, min(ds), min(ds), max(ds)) for (p, a), ds in model.items())
    last = select_most_distant(link_days(to_days(obs)), "last-seen")
    assert rows_of(last) == sorted((p, a, max(ds), min(ds), max(ds)) for (p, a), ds in model.items())


@settings(max_examples=150, deadline=None)
@given(observations)
def test_per_run_never_merges_non_consecutive_runs(obs: list[Obs]) -> None:
    gt = select_most_distant(link_days(to_days(obs)), "per-run")
    assert rows_of(gt) == sorted((p, a, f, f, la) for p, a, f, la in model_runs(obs))
    # no two rows of a probe that follow each other in time share an address
    for p in np.unique(gt.probe_id):
        sub = gt.select(gt.probe_id == p)
        order = np.argsort(sub.date, kind="stable")
        addr = sub.address[order]
        assert not np.any(addr[1:] == addr[:-1])
        # runs do not overlap in time
        assert np.all(sub.first_seen[order][1:] > sub.last_seen[order][:-1])


@settings(max_examples=100, deadline=None)
@given(observations, st.randoms(use_true_random=False), st.integers(1, 9))
def test_results_do_not_depend_on_feeding_order(obs: list[Obs], rnd: object, chunk: int) -> None:
    import random

    assert isinstance(rnd, random.Random)
    reference = link_days(to_days(obs))
    shuffled_obs = list(obs)
    rnd.shuffle(shuffled_obs)
    days = to_days(shuffled_obs)
    rnd.shuffle(days)
    other = link_days(days, chunk_rows=chunk)  # small chunks: many compactions and merges
    assert_same_columns(reference, other)
    for policy in ("first-seen", "per-run", "last-seen"):
        a, b = select_most_distant(reference, policy), select_most_distant(other, policy)
        assert rows_of(a) == rows_of(b)
        assert np.array_equal(a.address, b.address)
        assert np.array_equal(a.date, b.date)
    assert unreliable_probes(reference).tolist() == unreliable_probes(other).tolist()


@settings(max_examples=100, deadline=None)
@given(observations)
def test_unreliable_probes_match_the_daily_model(obs: list[Obs]) -> None:
    countries: dict[int, set[str]] = {}
    for p, _, _, c in obs:
        countries.setdefault(p, set()).add(c)
    expected = sorted(p for p, cs in countries.items() if len(cs) > 1)
    assert unreliable_probes(link_days(to_days(obs))).tolist() == expected
    hist = link_days(to_days(obs))
    assert hist.records == len(obs)
    assert hist.days == len({d for _, d, _, _ in obs})


def test_day_arithmetic_sanity() -> None:
    assert str(D0 + 3) == (dt.date(2021, 3, 4)).isoformat()


duplicated_observations = st.lists(
    st.tuples(st.integers(1, 3), st.integers(0, 6), st.integers(1, 3), st.sampled_from(["DE", "AT"])),
    max_size=40,
)


@settings(max_examples=100, deadline=None)
@given(duplicated_observations, st.randoms(use_true_random=False))
def test_same_day_duplicates_are_ordered_deterministically(obs: list[Obs], rnd: object) -> None:
    """Several records of one probe on one day (not seen in the real archive): the slow sort path
    orders them by address, then content, so the result is still the model's and order-free."""
    import random

    assert isinstance(rnd, random.Random)
    hist = link_days(to_days(obs))
    assert rows_of(select_most_distant(hist, "per-run")) == sorted(
        (p, a, f, f, la) for p, a, f, la in model_runs(obs)
    )
    shuffled = list(obs)
    rnd.shuffle(shuffled)
    other = link_days(to_days(shuffled), chunk_rows=3)
    assert_same_columns(hist, other)
