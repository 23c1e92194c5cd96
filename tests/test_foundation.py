from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipevidence import addresses as A
from ipevidence.countries import (
    NOT_LOCATED,
    country_name,
    encode_countries,
    known_mask,
    normalize_country,
    numeric_to_alpha2,
)
from ipevidence.errors import InvalidAddressError, IpEvidenceError, ReservedAddressError, UnknownCountryError
from ipevidence.jsonutil import canonical_json


def test_countries_known_and_unknown() -> None:
    assert normalize_country(" de ") == "DE"
    assert normalize_country("XK") == "XK"
    assert country_name("CZ").startswith("Czech")
    assert numeric_to_alpha2(250) == "FR"
    with pytest.raises(UnknownCountryError) as exc:
        normalize_country("ZZ")
    assert isinstance(exc.value, ValueError)
    assert isinstance(exc.value, IpEvidenceError)
    col = encode_countries(["de", "ZZ", None, "fr"])
    assert col[2] == NOT_LOCATED
    assert known_mask(col).tolist() == [True, False, False, True]


def test_require_global() -> None:
    assert str(A.require_global("8.8.8.8")) == "8.8.8.8"
    with pytest.raises(ReservedAddressError, match="private"):
        A.require_global("10.1.2.3")
    with pytest.raises(ReservedAddressError, match="documentation"):
        A.require_global("2001:db8::1")
    with pytest.raises(InvalidAddressError):
        A.require_global("999.1.1.1")


# Python's own tables changed between releases (192.0.0.0/24 and 2001::/23 exceptions); ours
# follows the current IANA registries, so compare only outside the blocks whose status moved.
_MOVED_V4 = [ipaddress.IPv4Network(n) for n in ("192.0.0.0/24", "192.88.99.0/24")]


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_global_mask_v4_matches_ipaddress(value: int) -> None:
    addr = ipaddress.IPv4Address(value)
    if any(addr in n for n in _MOVED_V4):
        return
    expected = addr.is_global and not addr.is_multicast
    assert bool(A.global_mask_v4(np.array([value], dtype=np.uint32))[0]) == expected
    assert (A.non_global_reason(addr) is None) == expected


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_global_mask_v6_matches_scalar(value: int) -> None:
    addr = ipaddress.IPv6Address(value)
    col = A.int_to_ipv6([value])
    assert bool(A.global_mask_v6(col)[0]) == (A.non_global_reason(addr) is None)
    assert A.format_ipv6(col) == [str(addr)]


def test_address_columns_round_trip() -> None:
    col, ok = A.ipv4_column(["1.2.3.4", None, "1.2.3", "300.1.1.1", 5, "255.255.255.255"])
    assert ok.tolist() == [True, False, False, False, False, True]
    assert A.format_ipv4(col[ok]) == ["1.2.3.4", "255.255.255.255"]
    col6, ok6 = A.ipv6_column(["2a00::1", "x", None])
    assert ok6.tolist() == [True, False, False]
    assert A.format_ipv6(col6[:1]) == ["2a00::1"]


def test_canonical_json_is_stable() -> None:
    a = canonical_json({"b": 1, "a": [np.int64(2), float("nan")], "c": {3, 1}})
    b = canonical_json({"c": {1, 3}, "a": [2, float("nan")], "b": 1})
    assert a == b
    assert '"a": [\n    2,\n    null' in a
