"""RangeTable: known answers, validation, and hypothesis tests against a plain bisect reference."""

from __future__ import annotations

import bisect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipevidence.addresses import int_to_ipv6, ipv6_to_int
from ipevidence.backends import FamilyRanges, RangeTable
from ipevidence.backends.ranges import as_address_column, clean_countries
from ipevidence.errors import (
    DatabaseFormatError,
    FamilyMismatchError,
    InvalidAddressError,
    UnknownCountryError,
)

CODES = ["DE", "FR", "US", "-", "ZZ", "CZ"]


def reference(starts: list[int], ends: list[int], codes: list[str], ip: int) -> str:
    """The slow reference: a plain bisect over the same ranges."""
    i = bisect.bisect_right(starts, ip) - 1
    if i < 0 or ip > ends[i]:
        return ""
    c = codes[i]
    return c if c in ("DE", "FR", "US", "CZ") else ""


@st.composite
def ranges_and_queries(draw: st.DrawFn, bits: int) -> tuple[list[int], list[int], list[str], list[int]]:
    top = (1 << bits) - 1
    cuts = sorted(draw(st.sets(st.integers(0, top), min_size=1, max_size=40)))
    starts: list[int] = []
    ends: list[int] = []
    for i, c in enumerate(cuts):
        nxt = cuts[i + 1] - 1 if i + 1 < len(cuts) else top
        end = draw(st.integers(c, nxt))  # gaps allowed
        starts.append(c)
        ends.append(end)
    codes = [draw(st.sampled_from(CODES)) for _ in starts]
    near = [x + d for x in starts + ends for d in (-1, 0, 1) if 0 <= x + d <= top]
    queries = draw(st.lists(st.one_of(st.integers(0, top), st.sampled_from(near)), max_size=60))
    queries += [0, top]
    return starts, ends, codes, queries


@settings(max_examples=150, deadline=None)
@given(ranges_and_queries(32))
def test_v4_lookup_equals_bisect(data: tuple[list[int], list[int], list[str], list[int]]) -> None:
    starts, ends, codes, queries = data
    cc, _ = clean_countries(np.array([c.encode() for c in codes]))
    table = RangeTable(v4=(np.array(starts, np.uint32), np.array(ends, np.uint32), cc))
    got = table.lookup(np.array(queries, dtype=np.uint32)).tolist()
    assert [g.decode() for g in got] == [reference(starts, ends, codes, q) for q in queries]


@settings(max_examples=150, deadline=None)
@given(ranges_and_queries(128))
def test_v6_lookup_equals_bisect(data: tuple[list[int], list[int], list[str], list[int]]) -> None:
    starts, ends, codes, queries = data
    cc, _ = clean_countries(np.array([c.encode() for c in codes]))
    table = RangeTable(v6=(int_to_ipv6(starts), int_to_ipv6(ends), cc))
    got = table.lookup(int_to_ipv6(queries)).tolist()
    assert [g.decode() for g in got] == [reference(starts, ends, codes, q) for q in queries]


@settings(max_examples=100, deadline=None)
@given(ranges_and_queries(128))
def test_merged_ranges_answer_the_same(data: tuple[list[int], list[int], list[str], list[int]]) -> None:
    starts, ends, codes, queries = data
    cc, _ = clean_countries(np.array([c.encode() for c in codes]))
    fr = FamilyRanges(6, int_to_ipv6(starts), int_to_ipv6(ends), cc)
    merged = fr.merged()
    assert len(merged) <= len(fr)
    q = int_to_ipv6(queries)
    assert fr.lookup(q).tolist() == merged.lookup(q).tolist()
    ms, me = ipv6_to_int(merged.starts), ipv6_to_int(merged.ends)
    for i in range(len(ms) - 1):  # joined: no two adjacent ranges of one country remain
        assert not (me[i] + 1 == ms[i + 1] and merged.countries[i] == merged.countries[i + 1])


def test_known_answers_and_gaps() -> None:
    table = RangeTable(
        v4=(
            np.array([10, 20, 30], np.uint32),
            np.array([19, 25, 0xFFFFFFFF], np.uint32),
            np.array([b"DE", b"FR", b""], "S2"),
        )
    )
    got = table.lookup(np.array([0, 9, 10, 19, 20, 25, 26, 29, 30, 0xFFFFFFFF], np.uint32))
    assert got.tolist() == [b"", b"", b"DE", b"DE", b"FR", b"FR", b"", b"", b"", b""]
    assert got.dtype == np.dtype("S2")
    assert len(table) == 3
    assert table.families == frozenset({4})
    assert table.country_counts(4) == {"": 1, "DE": 1, "FR": 1}


def test_ranges_for_joins_adjacent_ranges() -> None:
    table = RangeTable(
        v4=(
            np.array([10, 20, 30, 40], np.uint32),
            np.array([19, 29, 35, 50], np.uint32),
            np.array([b"DE", b"DE", b"FR", b"DE"], "S2"),
        )
    )
    starts, ends = table.ranges_for("de")
    assert starts.tolist() == [10, 40]
    assert ends.tolist() == [29, 50]
    s, e = table.ranges_for("US")
    assert len(s) == 0
    assert len(e) == 0
    with pytest.raises(UnknownCountryError):
        table.ranges_for("XX")
    with pytest.raises(FamilyMismatchError):
        table.ranges_for("DE", family=6)


def test_empty_lookup_and_empty_table() -> None:
    table = RangeTable(v4=(np.zeros(0, np.uint32), np.zeros(0, np.uint32), np.zeros(0, "S2")))
    assert table.lookup(np.array([1, 2], np.uint32)).tolist() == [b"", b""]
    assert table.lookup(np.zeros(0, np.uint32)).shape == (0,)


@pytest.mark.parametrize(
    ("starts", "ends"),
    [([10, 20], [25, 30]), ([20, 10], [25, 15]), ([10], [5])],
)
def test_overlapping_or_unsorted_ranges_are_rejected(starts: list[int], ends: list[int]) -> None:
    with pytest.raises(DatabaseFormatError):
        RangeTable(
            v4=(np.array(starts, np.uint32), np.array(ends, np.uint32), np.array([b"DE"] * len(starts)))
        )


def test_family_mismatch_and_bad_columns() -> None:
    table = RangeTable(v4=(np.array([0], np.uint32), np.array([5], np.uint32), np.array([b"DE"])))
    with pytest.raises(FamilyMismatchError):
        table.lookup(np.zeros(3, "S16"))
    with pytest.raises(InvalidAddressError):
        table.lookup(np.array([1.5, 2.0]))
    with pytest.raises(InvalidAddressError):
        as_address_column(np.array([-1, 3]))
    fam, col = as_address_column(np.array([1, 2], dtype=np.int64))
    assert fam == 4
    assert col.dtype == np.uint32


def test_clean_countries_tallies_vendor_codes() -> None:
    col, bad = clean_countries(np.array([b"de", b"-", b"ZZ", b"", b"US", b"-", b"USA"]))
    assert col.tolist() == [b"DE", b"", b"", b"", b"US", b"", b""]
    assert bad == {"-": 2, "ZZ": 1, "<missing>": 1, "USA": 1}
