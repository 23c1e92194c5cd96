"""Cloud/hosting ASN sets, providers' range files and pyasn IP-to-ASN tables, on the real files in
../shared/data (cloud-ranges-*, pyasn) and against the pyasn package itself."""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyasn
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import shared_file
from ipevidence.addresses import int_to_ipv6, ipv4_column, ipv6_column
from ipevidence.errors import InvalidAddressError, RangeFileError
from ipevidence.networks import (
    DEFAULT_CLOUD_ASNS,
    EXTENDED_HOSTING_ASNS,
    AsnTable,
    CloudRanges,
    NetworkClass,
    ProviderRanges,
    classify_address,
    cloud_asn_mask,
)

CR22 = "cloud-ranges-2022-12-31/"


def v4(*addrs: str) -> np.ndarray:
    col, ok = ipv4_column(addrs)
    assert ok.all()
    return col


def v6(*addrs: str) -> np.ndarray:
    col, ok = ipv6_column(addrs)
    assert ok.all()
    return col


# ------------------------------------------------------------------------------ ASN sets


def test_asn_sets() -> None:
    for asn in (16509, 14618, 15169, 396982, 8075, 14061):
        assert asn in DEFAULT_CLOUD_ASNS
    for asn in (16276, 24940, 63949, 20473, 31898, 45102, 132203, 13335, 9009, 60781, 51167, 12876):
        assert asn in EXTENDED_HOSTING_ASNS
    assert set(DEFAULT_CLOUD_ASNS) <= set(EXTENDED_HOSTING_ASNS)
    col = np.array([16509, 0, 3320, 14061, 24940], dtype=np.uint32)
    assert cloud_asn_mask(col).tolist() == [True, False, False, True, False]
    assert cloud_asn_mask(col, EXTENDED_HOSTING_ASNS).tolist() == [True, False, False, True, True]
    assert cloud_asn_mask(col, [3320, 0]).tolist() == [False, False, True, False, False]
    assert cloud_asn_mask(np.zeros(0, np.uint32)).shape == (0,)


# ------------------------------------------------------------------------------ range files


def test_aws_ranges() -> None:
    r = ProviderRanges.load(shared_file(CR22 + "aws-ip-ranges.json"))
    assert r.format == "aws"
    assert r.provider == "Amazon Web Services"
    assert r.published == dt.date(2022, 12, 30)
    assert "createDate" in r.date_source
    assert r.prefixes_v4 == 6967
    assert r.prefixes_v6 > 1000
    assert r.rejected == 0
    assert r.contains(v4("3.2.34.1", "3.5.140.255", "8.8.8.8", "3.2.37.64")).tolist() == [
        True,
        True,
        False,
        False,
    ]
    assert r.contains(v6("2600:1ff2:4000::1", "2001:db8::1")).tolist() == [True, False]
    assert "3.2.34.63" in r
    assert "3.2.34.64" not in r
    assert r.families == frozenset({4, 6})
    assert len(r.sha256) == 64
    assert r.name == "aws-ip-ranges.json"
    json.dumps(r.describe())
    assert "2022-12-30" in str(r)


def test_google_digitalocean_oracle_ranges() -> None:
    g = ProviderRanges.load(shared_file(CR22 + "google-cloud-ip-ranges.json"))
    assert g.format == "google"
    assert g.published == dt.date(2022, 12, 31)
    assert g.contains(v4("34.80.0.1", "34.82.0.0", "1.1.1.1")).tolist() == [True, True, False]
    assert "2600:1900:4030::5" in g

    do = ProviderRanges.load(shared_file(CR22 + "digitalocean.csv"))
    assert do.format == "digitalocean"
    assert do.published is None
    assert "no date" in do.date_source
    assert do.contains(v4("5.101.96.1", "37.139.8.9", "5.101.95.255")).tolist() == [True, True, False]
    dated = ProviderRanges.load(shared_file(CR22 + "digitalocean.csv"), published=dt.date(2022, 12, 31))
    assert dated.published == dt.date(2022, 12, 31)
    assert dated.date_source.startswith("argument")

    o = ProviderRanges.load(shared_file(CR22 + "oracle-cloud-ip-ranges.json"))
    assert o.format == "oracle"
    assert o.published == dt.date(2022, 12, 19)
    assert o.contains(v4("129.146.0.1", "129.80.0.1", "129.81.0.0")).tolist() == [True, True, False]
    assert o.prefixes_v6 == 0
    assert o.families == frozenset({4})


def test_azure_2025_service_tags() -> None:
    a = ProviderRanges.load(shared_file("cloud-ranges-2025-07-22/microsoft-azure-ip-ranges.json"))
    assert a.format == "azure"
    assert a.provider == "Microsoft Azure"
    assert a.published is None
    assert "changeNumber 363" in a.date_source
    assert a.version == "changeNumber 363"
    assert a.contains(v4("4.145.74.53", "13.66.143.221", "8.8.8.8")).tolist() == [True, True, False]
    assert a.prefixes_v6 > 1000
    b = ProviderRanges.load(
        shared_file("cloud-ranges-2025-07-22/microsoft-azure-ip-ranges.json"), published=dt.date(2025, 7, 22)
    )
    assert b.published == dt.date(2025, 7, 22)


def _brute_force_sample(r: ProviderRanges, prefixes: list[str]) -> None:
    """Membership of addresses around every 40th prefix equals a plain ipaddress check."""
    nets = [ipaddress.ip_network(p, strict=False) for p in prefixes]
    nets4 = [n for n in nets if n.version == 4]
    probes: list[int] = []
    for n in nets4[::40]:
        a, b = int(n.network_address), int(n.broadcast_address)
        probes += [a, b, max(a - 1, 0), min(b + 1, 2**32 - 1)]
    col = np.asarray(probes, dtype=np.uint32)
    want = [any(ipaddress.IPv4Address(p) in m for m in nets4 if m.num_addresses >= 1) for p in probes]
    assert r.contains(col).tolist() == want


def test_range_files_equal_a_plain_ipaddress_check() -> None:
    aws = json.loads(shared_file(CR22 + "aws-ip-ranges.json").read_text())
    p_aws = [x["ip_prefix"] for x in aws["prefixes"]]
    _brute_force_sample(ProviderRanges.load(shared_file(CR22 + "aws-ip-ranges.json")), p_aws)
    ora = json.loads(shared_file(CR22 + "oracle-cloud-ip-ranges.json").read_text())
    p_ora = [c["cidr"] for r in ora["regions"] for c in r["cidrs"]]
    _brute_force_sample(ProviderRanges.load(shared_file(CR22 + "oracle-cloud-ip-ranges.json")), p_ora)


def test_html_error_page_rejected() -> None:
    path = shared_file(CR22 + "microsoft-azure-ip-ranges.json")
    with pytest.raises(RangeFileError, match=r"HTML page .*404.*download") as exc:
        ProviderRanges.load(path)
    assert isinstance(exc.value, ValueError)
    with pytest.raises(RangeFileError, match="HTML"):
        ProviderRanges.load(path, provider="azure")


def test_bad_range_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("  \n")
    with pytest.raises(RangeFileError, match="empty"):
        ProviderRanges.load(empty)
    trunc = tmp_path / "trunc.json"
    trunc.write_text('{"createDate": "2022-12-30-21-43-08", "prefixes": [')
    with pytest.raises(RangeFileError, match="not valid JSON"):
        ProviderRanges.load(trunc)
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(RangeFileError, match="no known provider format"):
        ProviderRanges.load(other)
    with pytest.raises(RangeFileError, match="cannot read"):
        ProviderRanges.load(tmp_path / "absent.json")
    notcsv = tmp_path / "words.csv"
    notcsv.write_text("hello,world\nfoo,bar\n")
    with pytest.raises(RangeFileError):
        ProviderRanges.load(notcsv)
    mixed = tmp_path / "geofeed.csv"
    mixed.write_text(
        "# comment\n192.0.2.0/24,NL,,,\nnot-a-prefix,NL,,,\n2001:db8::/32,NL,,,\n10.0.0.0/33,NL\n"
    )
    r = ProviderRanges.load(mixed, published=dt.date(2024, 1, 1))
    assert (r.prefixes_v4, r.prefixes_v6, r.rejected) == (1, 1, 2)
    assert r.rejected_examples == ("not-a-prefix", "10.0.0.0/33")
    single = ProviderRanges.from_prefixes(["1.2.3.4", "2001:db8::1"], provider="x")
    assert single.contains(v4("1.2.3.4", "1.2.3.5")).tolist() == [True, False]
    with pytest.raises(ValueError, match="published 2022-12-30"):
        ProviderRanges.load(shared_file(CR22 + "aws-ip-ranges.json"), published=dt.date(2023, 1, 1))
    with pytest.raises(ValueError, match="unknown provider format"):
        ProviderRanges.load(mixed, provider="ibm")


def test_gzipped_range_file(tmp_path: Path) -> None:
    src = shared_file(CR22 + "google-cloud-ip-ranges.json").read_bytes()
    gz = tmp_path / "cloud.json.gz"
    gz.write_bytes(gzip.compress(src))
    assert ProviderRanges.load(gz).published == dt.date(2022, 12, 31)


def assert_contains_brute_force(
    nets: Sequence[ipaddress.IPv4Network] | Sequence[ipaddress.IPv6Network],
    probes: list[int],
    address: Callable[[int], ipaddress.IPv4Address | ipaddress.IPv6Address],
    column: Callable[[list[int]], npt.NDArray[Any]],
) -> ProviderRanges:
    """ProviderRanges.contains of ``nets`` (probed also at every prefix's first and last address)
    agrees with testing every network one by one; returns the ranges."""
    probes = probes + [int(n.network_address) for n in nets] + [int(n.broadcast_address) for n in nets]
    r = ProviderRanges.from_prefixes([str(n) for n in nets], provider="x")
    got = r.contains(column(probes)).tolist()
    want = [any(address(p) in n for n in nets) for p in probes]
    assert got == want
    return r


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(8, 32)), min_size=0, max_size=25),
    st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=50),
)
def test_merged_v4_table_equals_brute_force(prefixes: list[tuple[int, int]], probes: list[int]) -> None:
    nets = [ipaddress.IPv4Network((a, n), strict=False) for a, n in prefixes]
    # probe just past the end of every prefix too
    probes = probes + [min(int(n.broadcast_address) + 1, 2**32 - 1) for n in nets]
    r = assert_contains_brute_force(
        nets, probes, ipaddress.IPv4Address, lambda p: np.asarray(p, dtype=np.uint32)
    )
    assert (r.v4_starts[1:] > r.v4_ends[:-1]).all()


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**128 - 1), st.integers(16, 128)), min_size=1, max_size=15),
    st.lists(st.integers(0, 2**128 - 1), min_size=1, max_size=20),
)
def test_merged_v6_table_equals_brute_force(prefixes: list[tuple[int, int]], probes: list[int]) -> None:
    nets = [ipaddress.IPv6Network((a, n), strict=False) for a, n in prefixes]
    assert_contains_brute_force(nets, probes, ipaddress.IPv6Address, int_to_ipv6)


def test_cloud_ranges_combined() -> None:
    cr = CloudRanges.load(
        [shared_file(CR22 + "aws-ip-ranges.json"), shared_file(CR22 + "google-cloud-ip-ranges.json")]
    )
    col = v4("3.2.34.1", "34.80.0.1", "8.8.8.8")
    assert cr.match(col).tolist() == [0, 1, -1]
    assert cr.lookup(col).tolist() == ["Amazon Web Services", "Google Cloud", ""]
    assert cr.contains(col).tolist() == [True, True, False]
    assert cr.lookup(v6("2600:1900:4030::1")).tolist() == ["Google Cloud"]
    assert len(cr.describe()["providers"]) == 2
    assert "Amazon" in str(cr)
    # the first provider listed wins an overlap
    a = ProviderRanges.from_prefixes(["10.0.0.0/8"], provider="A")
    b = ProviderRanges.from_prefixes(["10.1.0.0/16"], provider="B")
    assert CloudRanges((b, a)).lookup(v4("10.1.2.3", "10.2.0.0")).tolist() == ["B", "A"]
    with pytest.raises(ValueError, match="uint32"):
        cr.match(np.array([1.5]))


# ------------------------------------------------------------------------------ pyasn tables


@pytest.fixture(scope="module")
def asn6() -> AsnTable:
    return AsnTable.load(
        shared_file("pyasn/ipasn6_20151101.dat.gz"), names=shared_file("pyasn/asnames.json.gz")
    )


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> pyasn.pyasn:
    raw = gzip.decompress(shared_file("pyasn/ipasn6_20151101.dat.gz").read_bytes())
    path = tmp_path_factory.mktemp("pyasn") / "ipasn6_20151101.dat"
    path.write_bytes(raw)
    return pyasn.pyasn(str(path))


def test_asn_table_metadata(asn6: AsnTable) -> None:
    assert asn6.date == dt.date(2015, 11, 1)
    assert "header" in asn6.date_source
    assert asn6.prefixes_v4 == 606138
    assert asn6.prefixes_v6 == 27693
    assert asn6.rejected == 0
    assert asn6.families == frozenset({4, 6})
    assert (asn6.v4_starts[1:] > asn6.v4_ends[:-1]).all()
    assert asn6.asn("8.8.8.8") == 15169
    assert asn6.as_name(15169) is not None
    assert "GOOGLE" in (asn6.as_name(15169) or "")
    assert asn6.asn("10.1.1.1") is None
    json.dumps(asn6.describe())
    assert "2015-11-01" in str(asn6)


def test_asn_table_differential_against_pyasn(asn6: AsnTable, official: pyasn.pyasn) -> None:
    rng = np.random.default_rng(1305)
    rand = rng.integers(0, 2**32, 20_000, dtype=np.uint64).astype(np.uint32)
    # prefix edges: the first and last address of random prefixes and their outside neighbours
    pick = rng.integers(0, asn6.v4_starts.size, 2_000)
    s = asn6.v4_starts[pick].astype(np.int64)
    e = asn6.v4_ends[pick].astype(np.int64)
    edges = np.concatenate([s, e, np.maximum(s - 1, 0), np.minimum(e + 1, 2**32 - 1)]).astype(np.uint32)
    col = np.concatenate([rand, edges])
    ours = asn6.lookup(col)
    texts = [str(ipaddress.IPv4Address(int(a))) for a in col.tolist()]
    theirs = np.array([official.lookup(t)[0] or 0 for t in texts], dtype=np.uint32)
    assert np.array_equal(ours, theirs)
    assert np.count_nonzero(ours) > 5_000
    # IPv6: addresses inside announced prefixes and random ones in 2000::/3
    p6 = rng.integers(0, asn6.v6_starts.size, 1_000)
    inside = asn6.v6_starts[p6]
    rnd = [(0x2 << 124) | int(x) for x in rng.integers(0, 2**62, 1_000).tolist()]
    col6 = np.concatenate([inside, int_to_ipv6([r << 2 for r in rnd]), asn6.v6_ends[p6]])
    ours6 = asn6.lookup(col6)
    texts6 = [
        str(ipaddress.IPv6Address(b))
        for b in (col6.tobytes()[i : i + 16] for i in range(0, col6.size * 16, 16))
    ]
    theirs6 = np.array([official.lookup(t)[0] or 0 for t in texts6], dtype=np.uint32)
    assert np.array_equal(ours6, theirs6)


def test_asn_table_longest_prefix_on_a_small_file(tmp_path: Path) -> None:
    f = tmp_path / "custom.dat"
    f.write_text(
        "; IP-ASN32-DAT file\n"
        "10.0.0.0/8\t100\n"
        "10.1.0.0/16\t200\n"
        "10.1.2.0/24\t300\n"
        "10.1.2.0/24\t301\n"  # a duplicate: the last line wins, like pyasn
        "10.200.0.0/16\t100\n"
        "bogus line\n"
        "2001:db8::/32\t64500\n"
        "2001:db8:1::/48\t64501\n"
    )
    t = AsnTable.load(f)
    col = v4("10.0.0.1", "10.1.0.1", "10.1.2.3", "10.1.3.0", "10.255.255.255", "11.0.0.0")
    assert t.lookup(col).tolist() == [100, 200, 301, 200, 100, 0]
    assert t.lookup(v6("2001:db8::1", "2001:db8:1::1", "2001:db8:2::", "2001:db9::")).tolist() == [
        64500,
        64501,
        64500,
        0,
    ]
    assert t.rejected == 1
    assert t.date is None
    assert t.date_source.startswith("none")
    dated = tmp_path / "ipasn_20200102.dat"
    dated.write_text("1.0.0.0/24\t13335\n")
    assert AsnTable.load(dated).date == dt.date(2020, 1, 2)
    html = tmp_path / "page.dat"
    html.write_text("<html><title>404</title></html>")
    with pytest.raises(RangeFileError, match="HTML"):
        AsnTable.load(html)
    none = tmp_path / "none.dat"
    none.write_text("; only a header\n")
    with pytest.raises(RangeFileError, match="not a pyasn"):
        AsnTable.load(none)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32), st.integers(1, 9)), min_size=1, max_size=30
    ),
    st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=30),
)
def test_asn_table_longest_prefix_property(prefixes: list[tuple[int, int, int]], probes: list[int]) -> None:
    import tempfile

    nets = {}
    for a, n, asn in prefixes:
        nets[ipaddress.IPv4Network((a, n), strict=False)] = asn
    probes = probes + [int(n.network_address) for n in nets] + [int(n.broadcast_address) for n in nets]
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "t.dat"
        f.write_text("".join(f"{n}\t{asn}\n" for n, asn in nets.items()))
        t = AsnTable.load(f)
    want = []
    for p in probes:
        best = [(n.prefixlen, asn) for n, asn in nets.items() if ipaddress.IPv4Address(p) in n]
        want.append(max(best)[1] if best else 0)
    assert t.lookup(np.asarray(probes, dtype=np.uint32)).tolist() == want


# ------------------------------------------------------------------------------ one address


def test_classify_address(asn6: AsnTable) -> None:
    aws = ProviderRanges.load(shared_file(CR22 + "aws-ip-ranges.json"))
    g = classify_address("8.8.8.8", asn_table=asn6)
    assert isinstance(g, NetworkClass)
    assert g.is_global
    assert g.asn == 15169
    assert g.provider == "Google"
    assert g.is_cloud
    assert "15169" in (g.reason or "")
    assert "ipasn6_20151101" in (g.asn_source or "")
    priv = classify_address("192.168.1.1", asn_table=asn6)
    assert not priv.is_global
    assert priv.non_global_reason == "private"
    assert not priv.is_evidence_candidate
    assert "not globally routable" in str(priv)
    r = classify_address("3.2.34.1", cloud_ranges=aws)
    assert r.provider == "Amazon Web Services"
    assert "2022-12-30" in (r.reason or "")
    assert r.asn is None
    home = classify_address("2a02:8070::1", asn=3209)
    assert home.family == 6
    assert home.asn == 3209
    assert home.asn_source == "given"
    assert not home.is_cloud
    assert home.is_evidence_candidate
    assert "not in a known cloud" in str(home)
    assert classify_address("5.6.7.8", asn=14061).provider == "DigitalOcean"
    assert classify_address("5.6.7.8", asn=24940, asns=EXTENDED_HOSTING_ASNS).provider == "Hetzner"
    assert classify_address("5.6.7.8", asn=24940, asns=[24940]).provider == "AS24940"
    d = g.to_dict()
    assert d["is_cloud"] is True
    assert g.to_json() == g.to_json()
    with pytest.raises(InvalidAddressError):
        classify_address("not an address")


def test_classify_address_says_whether_a_source_could_answer(asn6: AsnTable) -> None:
    nothing = classify_address("6.0.0.1")
    assert not nothing.checked
    assert nothing.missing == (
        "no ASN was given and no IP-to-ASN table was available and no cloud range files were available"
    )
    assert "network NOT checked" in str(nothing)
    unannounced = classify_address("30.0.0.1", asn_table=asn6)
    assert not unannounced.checked
    assert unannounced.asn_source == "not announced in ipasn6_20151101.dat.gz (2015-11-01)"
    assert unannounced.asn_source_date == dt.date(2015, 11, 1)
    assert (unannounced.missing or "").startswith("the address is not announced in ipasn6_20151101.dat.gz")
    aws = ProviderRanges.load(shared_file(CR22 + "aws-ip-ranges.json"))
    miss = classify_address("6.0.0.1", cloud_ranges=aws)
    assert miss.ranges_checked == ("Amazon Web Services 2022-12-30",)
    assert (miss.missing or "").endswith("lies in no given cloud range file (Amazon Web Services 2022-12-30)")
    hit = classify_address("3.2.34.1", cloud_ranges=aws)
    assert hit.checked
    assert hit.missing is None
    home = classify_address("93.192.0.1", asn_table=asn6)
    assert home.checked
    assert not home.is_cloud
    assert home.to_dict()["checked"] is True
    assert home.to_dict()["asn_source_date"] == "2015-11-01"


def test_ipv6_prefix_parser_agrees_with_ipaddress() -> None:
    good = ["2001:db8::/32", "2001:db8::1/64", "2001:db8::1", "::/0", "::ffff:1.2.3.4/120", "2c0f::/064"]
    bad = ["2001:db8::/129", "2001:db8::/ 64", "2001:db8::/+64", "2001:db8:::/48", "2001:db8::/", "zz::/8"]
    r = ProviderRanges.from_prefixes(good + bad, provider="test")
    assert r.prefixes_v6 == len(good)
    assert r.rejected == len(bad)
    nets = [ipaddress.IPv6Network(p, strict=False) for p in good]
    probes = [int(n.network_address) for n in nets] + [int(n.broadcast_address) for n in nets]
    probes += [int(n.broadcast_address) + 1 for n in nets if int(n.broadcast_address) < 2**128 - 1]
    col = int_to_ipv6(probes)
    expected = [any(p in n for n in nets) for p in (ipaddress.IPv6Address(x) for x in probes)]
    assert r.contains(col).tolist() == expected
