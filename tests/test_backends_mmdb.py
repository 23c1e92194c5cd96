"""MaxMind DB: MaxMind's official test databases (known answers, the broken one), the real DB-IP
Lite file against per-address maxminddb lookups, IPinfo-style and generated files, the npz cache."""

from __future__ import annotations

import bisect
import datetime as dt
import gc
import gzip
import ipaddress
import time
import tracemalloc
from pathlib import Path
from typing import Any

import maxminddb
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import shared_file
from ipevidence.addresses import format_ipv4, format_ipv6, int_to_ipv6
from ipevidence.backends import MMDBBackend, country_of_record, open_database
from ipevidence.backends import mmdb as mmdb_module
from ipevidence.backends.writers import write_mmdb
from ipevidence.countries import is_known_country
from ipevidence.errors import DatabaseFormatError, FamilyMismatchError, InvalidAddressError

TEST_DBS = ["GeoIP2-Country-Test.mmdb", "GeoLite2-Country-Test.mmdb"]


def official(reader: Any, ips: list[str], field: str = "country") -> list[str]:
    out = []
    for ip in ips:
        code = country_of_record(reader.get(ip), field)  # type: ignore[arg-type]
        out.append(code if code and is_known_country(code) else "")
    return out


@pytest.fixture(scope="module")
def dbip(tmp_path_factory: pytest.TempPathFactory) -> tuple[MMDBBackend, Path, Path]:
    gz = shared_file("mmdb/dbip-country-lite-2025-07.mmdb.gz")
    tmp = tmp_path_factory.mktemp("dbip")
    plain = tmp / "dbip-country-lite-2025-07.mmdb"
    plain.write_bytes(gzip.decompress(gz.read_bytes()))
    cache = tmp / "cache"
    backend = open_database(gz, cache_dir=cache)
    assert isinstance(backend, MMDBBackend)
    return backend, plain, cache


# --- MaxMind's official test databases --------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "country", "registered"),
    [
        ("2.125.160.216", "GB", "FR"),
        ("81.2.69.160", "GB", "US"),
        ("89.160.20.112", "SE", "DE"),
        ("216.160.83.56", "US", "GB"),
        ("67.43.156.1", "BT", "RO"),
        ("2001:218::1", "JP", "JP"),
        ("2a02:cf40::1", "NO", "NO"),
        ("1.2.3.4", None, None),
        ("2001:480::1", None, None),
    ],
)
def test_known_answers_geoip2_country_test(ip: str, country: str | None, registered: str | None) -> None:
    path = shared_file("mmdb/GeoIP2-Country-Test.mmdb")
    assert MMDBBackend(path).country(ip) == country
    assert MMDBBackend(path, country_field="registered_country").country(ip) == registered


@pytest.mark.parametrize("name", TEST_DBS)
def test_test_databases_match_maxminddb_on_every_network(name: str) -> None:
    path = shared_file(f"mmdb/{name}")
    reader = maxminddb.open_database(str(path))
    v4: list[int] = []
    v6: list[int] = []
    for net, _ in reader:
        for addr in (net.network_address, net.broadcast_address):
            for d in (-1, 0, 1):
                x = int(addr) + d
                if net.version == 4 and 0 <= x < 2**32:
                    v4.append(x)
                elif net.version == 6 and 0 <= x < 2**128:
                    v6.append(x)
    assert v4
    assert v6
    assert MMDBBackend(path).networks == sum(1 for _ in reader)  # aliases not counted twice
    for field in ("country", "registered_country"):
        b = MMDBBackend(path, country_field=field)
        col4 = np.array(v4, np.uint32)
        assert [c.decode() for c in b.lookup(col4).tolist()] == official(reader, format_ipv4(col4), field)
        col6 = int_to_ipv6(v6)
        assert [c.decode() for c in b.lookup(col6).tolist()] == official(reader, format_ipv6(col6), field)


def test_metadata_and_provenance() -> None:
    path = shared_file("mmdb/GeoLite2-Country-Test.mmdb")
    b = MMDBBackend(path)
    meta = maxminddb.open_database(str(path)).metadata()
    assert b.build_date == dt.datetime.fromtimestamp(meta.build_epoch, dt.timezone.utc).date()
    assert b.database_type == "GeoLite2-Country"
    info = b.describe()
    assert info.kind == "mmdb"
    assert info.name == "GeoLite2-Country-Test.mmdb"
    assert info.families == frozenset({4, 6})
    assert info.ranges == len(b.table) > 0


def test_broken_test_database_raises_database_format_error() -> None:
    start = time.perf_counter()
    with pytest.raises(DatabaseFormatError):
        open_database(shared_file("mmdb/GeoIP2-City-Test-Broken-Double-Format.mmdb"))
    with pytest.raises(DatabaseFormatError):
        MMDBBackend(shared_file("mmdb/GeoIP2-City-Test-Broken-Double-Format.mmdb"))
    assert time.perf_counter() - start < 10


def test_asn_database_is_not_a_country_database() -> None:
    with pytest.raises(DatabaseFormatError, match="not a country"):
        MMDBBackend(shared_file("mmdb/GeoLite2-ASN-Test.mmdb"))


def test_truncated_and_garbage_files(tmp_path: Path) -> None:
    data = shared_file("mmdb/GeoLite2-Country-Test.mmdb").read_bytes()
    for i, blob in enumerate([data[: len(data) // 3], data[:100] + data[-200:], b"\0" * 500]):
        p = tmp_path / f"bad{i}.mmdb"
        p.write_bytes(blob)
        with pytest.raises(DatabaseFormatError):
            MMDBBackend(p)


# --- the real DB-IP Lite file -----------------------------------------------------------------


def test_dbip_provenance(dbip: tuple[MMDBBackend, Path, Path]) -> None:
    backend, _, _ = dbip
    info = backend.describe()
    assert backend.build_date == dt.date(2025, 7, 1)
    assert info.name == "dbip-country-lite-2025-07.mmdb.gz"
    assert "gzip" in info.description
    assert backend.families == frozenset({4, 6})
    assert backend.database_type == "DBIP-Country-Lite"
    assert backend.country("8.8.8.8") == "US"


def test_dbip_matches_maxminddb_per_address(dbip: tuple[MMDBBackend, Path, Path]) -> None:
    backend, plain, _ = dbip
    reader = maxminddb.open_database(str(plain))
    rng = np.random.default_rng(7)
    v4 = rng.integers(0, 2**32, 60_000, dtype=np.uint64).astype(np.uint32)
    fr = backend.table.family(4)
    pick = rng.integers(0, len(fr), 10_000)
    v4 = np.concatenate([v4, fr.starts[pick], fr.ends[pick], fr.starts[pick] - 1, fr.ends[pick] + 1])
    assert [c.decode() for c in backend.lookup(v4).tolist()] == official(reader, format_ipv4(v4))
    raw = rng.integers(0, 256, (60_000, 16), dtype=np.uint8)
    raw[:30_000, 0] = 0x20 + raw[:30_000, 0] % 16  # mostly 2000::/3, where the data is
    raw[30_000:35_000, :10] = 0  # IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d
    raw[30_000:32_500, 10:12] = 0xFF
    raw[32_500:35_000, 10:12] = 0
    raw[35_000:37_000, :2] = [0x20, 0x02]  # 6to4 alias
    col = raw.view("S16").reshape(-1)
    f6 = backend.table.family(6)
    pick6 = rng.integers(0, len(f6), 10_000)
    col = np.concatenate([col, f6.starts[pick6], f6.ends[pick6]])
    assert [c.decode() for c in backend.lookup(col).tolist()] == official(reader, format_ipv6(col))


def _boundaries_v4(fr: Any) -> npt.NDArray[np.uint32]:
    """Every range start and end, and the address just outside each range where that is not the
    neighbouring range's own boundary (a gap)."""
    s, e = fr.starts.astype(np.int64), fr.ends.astype(np.int64)
    after = e[:-1] + 1
    gap = after != s[1:]
    outside = np.concatenate([after[gap], s[1:][gap] - 1, s[:1] - 1, e[-1:] + 1])
    outside = outside[(outside >= 0) & (outside < 2**32)]
    return np.concatenate([s, e, outside]).astype(np.uint32)


def _boundaries_v6(fr: Any) -> npt.NDArray[np.bytes_]:
    s = [int.from_bytes(bytes(x).ljust(16, b"\0"), "big") for x in fr.starts.tolist()]
    e = [int.from_bytes(bytes(x).ljust(16, b"\0"), "big") for x in fr.ends.tolist()]
    outside = [a + 1 for a, b in zip(e[:-1], s[1:], strict=True) if a + 1 != b]
    outside += [b - 1 for a, b in zip(e[:-1], s[1:], strict=True) if a + 1 != b]
    outside += [x for x in (s[0] - 1, e[-1] + 1) if 0 <= x < 2**128]
    return int_to_ipv6(s + e + outside)


def test_dbip_every_range_boundary_matches_maxminddb(dbip: tuple[MMDBBackend, Path, Path]) -> None:
    """The tree-walk flattening against the per-address path (maxminddb's own lookups) at every
    start and end of the flattened tables, and just outside every range that borders a gap."""
    backend, plain, _ = dbip
    reader = maxminddb.open_database(str(plain))
    col4 = _boundaries_v4(backend.table.family(4))
    assert len(col4) > 2 * 347_000
    assert [c.decode() for c in backend.lookup(col4).tolist()] == official(reader, format_ipv4(col4))
    col6 = _boundaries_v6(backend.table.family(6))
    assert len(col6) > 2 * 246_000
    assert [c.decode() for c in backend.lookup(col6).tolist()] == official(reader, format_ipv6(col6))


def test_dbip_first_open_memory_and_time(dbip: tuple[MMDBBackend, Path, Path]) -> None:
    """Issue 3: the first open (flattening the tree, no cache) peaks at most at 3x the file size."""
    _, plain, _ = dbip
    size = plain.stat().st_size
    gc.collect()
    tracemalloc.start()
    try:
        start = time.perf_counter()
        b = MMDBBackend(plain)
        took = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert b.networks == 1_225_315
    assert peak <= 3 * size, f"peak {peak / size:.2f}x the file size"
    assert took < 10  # < 1 s unloaded (benchmarks/lookup.py); tracemalloc and a shared machine slow it


def test_dbip_cache_reopens_identically(dbip: tuple[MMDBBackend, Path, Path]) -> None:
    backend, _, cache = dbip
    files = list(cache.glob("mmdb-*.npz"))
    assert len(files) == 1
    again = open_database(shared_file("mmdb/dbip-country-lite-2025-07.mmdb.gz"), cache_dir=cache)
    assert isinstance(again, MMDBBackend)
    assert again.describe() == backend.describe()
    for fam in (4, 6):
        a, b = backend.table.family(fam), again.table.family(fam)
        assert np.array_equal(a.starts, b.starts)
        assert np.array_equal(a.ends, b.ends)
        assert np.array_equal(a.countries, b.countries)
    with np.load(files[0], allow_pickle=False) as z:  # plain arrays, no pickles
        assert all(z[k].dtype != object for k in z.files)


def test_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    path = shared_file("mmdb/GeoLite2-Country-Test.mmdb")
    first = MMDBBackend(path, cache_dir=tmp_path)
    (npz,) = tmp_path.glob("*.npz")
    npz.write_bytes(b"garbage")
    second = MMDBBackend(path, cache_dir=tmp_path)
    assert second.lookup(first.table.family(4).starts).tolist() == first.table.family(4).countries.tolist()


# --- generated files: IPinfo-style flat fields, record sizes, IPv4-only trees -----------------


NETWORKS: list[tuple[str, dict[str, Any]]] = [
    ("1.0.0.0/24", {"country": "AU", "country_name": "Australia"}),  # IPinfo free "country" layout
    ("8.8.8.0/24", {"country_code": "US", "country": "United States", "asn": "AS15169"}),  # IPinfo Lite
    ("8.8.9.0/24", {"country": {"iso_code": "US"}, "registered_country": {"iso_code": "CA"}}),
    ("9.9.9.0/24", {"country": "EU"}),  # not a country
    ("2001:4860::/32", {"country": "US"}),
    ("2a00:1450::/29", {"country": "IE"}),
]


@pytest.mark.parametrize("record_size", [24, 28, 32])
@pytest.mark.parametrize("ip_version", [4, 6])
def test_generated_ipinfo_style_files(tmp_path: Path, record_size: int, ip_version: int) -> None:
    nets = [n for n in NETWORKS if ip_version == 6 or ":" not in n[0]]
    path = tmp_path / "ipinfo.mmdb"
    write_mmdb(path, nets, ip_version=ip_version, record_size=record_size, build_date=dt.date(2024, 3, 1))
    b = open_database(path)
    assert isinstance(b, MMDBBackend)
    assert b.build_date == dt.date(2024, 3, 1)
    assert b.country("1.0.0.77") == "AU"
    assert b.country("8.8.8.8") == "US"
    assert b.country("8.8.9.1") == "US"
    assert b.country("9.9.9.9") is None
    assert b.nonstandard_codes == {"EU": 1}
    reader = maxminddb.open_database(str(path))
    rng = np.random.default_rng(record_size)
    v4 = np.concatenate(
        [
            rng.integers(0, 2**32, 500, dtype=np.uint64).astype(np.uint32),
            np.array([16777216, 134744319], np.uint32),
        ]
    )
    v4 = np.concatenate([v4, np.arange(16777216 - 3, 16777216 + 3, dtype=np.uint32)])
    assert [c.decode() for c in b.lookup(v4).tolist()] == official(reader, format_ipv4(v4))
    if ip_version == 6:
        assert b.families == frozenset({4, 6})
        assert b.country("2001:4860::1") == "US"
        assert b.country("2a00:1457:ffff::1") == "IE"
        assert b.country("::1.0.0.9") == "AU"  # IPv4 lives under ::/96
        ints = [
            int(ipaddress.ip_address(x)) for x in ("2001:4860::", "2001:485f:ffff:ffff:ffff:ffff:ffff:ffff")
        ]
        col = int_to_ipv6(ints + [int(x) << 64 for x in rng.integers(0, 2**63, 300)])
        assert [c.decode() for c in b.lookup(col).tolist()] == official(reader, format_ipv6(col))
    else:
        assert b.families == frozenset({4})
        with pytest.raises(FamilyMismatchError):
            b.country("2001:4860::1")
    with pytest.raises(InvalidAddressError):
        b.country("nonsense")
    reg = MMDBBackend(path, country_field="registered_country")
    assert reg.country("8.8.9.1") == "CA"
    assert reg.country("1.0.0.1") is None


def test_country_of_record_layouts() -> None:
    assert country_of_record({"country": {"iso_code": "DE"}}) == "DE"
    assert country_of_record({"country": "DE"}) == "DE"
    assert country_of_record({"country": "Germany", "country_code": "DE"}) == "DE"
    assert country_of_record({"registered_country": {"iso_code": "FR"}}, "registered_country") == "FR"
    assert country_of_record({"country": "DE"}, "registered_country") is None
    assert country_of_record(None) is None
    assert country_of_record({"country": {"names": {}}}) is None


# --- property: random databases written to the specification ----------------------------------


@st.composite
def cidr_sets(draw: st.DrawFn) -> list[tuple[str, dict[str, Any]]]:
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.booleans()):
            net: ipaddress.IPv4Network | ipaddress.IPv6Network = ipaddress.ip_network(
                (draw(st.integers(0, 2**32 - 1)), draw(st.integers(4, 32))), strict=False
            )
        else:
            net = ipaddress.ip_network(
                (draw(st.integers(0x2000 << 112, (0x4000 << 112) - 1)), draw(st.integers(8, 128))),
                strict=False,
            )
        if not any(net.version == o.version and net.overlaps(o) for o in nets):
            nets.append(net)
    codes = st.sampled_from(["DE", "FR", "US", "ZZ", "CZ"])
    return [(str(n), {"country": {"iso_code": draw(codes)}}) for n in nets]


@settings(max_examples=40, deadline=None)
@given(nets=cidr_sets(), record_size=st.sampled_from([24, 28, 32]))
def test_random_databases_match_maxminddb_and_bisect(
    tmp_path_factory: pytest.TempPathFactory, nets: list[tuple[str, dict[str, Any]]], record_size: int
) -> None:
    path = tmp_path_factory.mktemp("prop") / "p.mmdb"
    write_mmdb(path, nets, record_size=record_size)
    b = MMDBBackend(path)
    reader = maxminddb.open_database(str(path))
    probes4: list[int] = [0, 2**32 - 1]
    probes6: list[int] = [0, 2**128 - 1]
    ref4: list[tuple[int, int, str]] = []
    for cidr, rec in nets:
        n = ipaddress.ip_network(cidr)
        lo, hi = int(n.network_address), int(n.broadcast_address)
        (probes4 if n.version == 4 else probes6).extend(x for x in (lo - 1, lo, hi, hi + 1) if x >= 0)
        if n.version == 4:
            ref4.append((lo, hi, rec["country"]["iso_code"]))
    col4 = np.array([p for p in probes4 if p < 2**32], np.uint32)
    col6 = int_to_ipv6([p for p in probes6 if p < 2**128])
    got4 = [c.decode() for c in b.lookup(col4).tolist()]
    assert got4 == official(reader, format_ipv4(col4))
    assert [c.decode() for c in b.lookup(col6).tolist()] == official(reader, format_ipv6(col6))
    ref4.sort()
    starts = [r[0] for r in ref4]
    for ip, g in zip(col4.tolist(), got4, strict=True):  # a plain bisect over the same networks
        i = bisect.bisect_right(starts, ip) - 1
        want = ref4[i][2] if i >= 0 and ip <= ref4[i][1] else ""
        assert g == (want if is_known_country(want) else "")


# --- the tree walk: slicing, record sizes, malformed trees --------------------------------------


@pytest.mark.parametrize("name", TEST_DBS)
def test_walk_slicing_does_not_change_the_tables(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wide frontier is walked as consecutive slices; tiny slice limits give the same tables."""
    path = shared_file(f"mmdb/{name}")
    whole = MMDBBackend(path)
    monkeypatch.setattr(mmdb_module, "_SPLIT_NODES", 2)
    monkeypatch.setattr(mmdb_module, "_SPLIT_ENTRIES", 3)
    sliced = MMDBBackend(path)
    assert sliced.networks == whole.networks
    assert sliced.nonstandard_codes == whole.nonstandard_codes
    for fam in (4, 6):
        a, b = whole.table.family(fam), sliced.table.family(fam)
        assert len(a) > 5
        assert np.array_equal(a.starts, b.starts)
        assert np.array_equal(a.ends, b.ends)
        assert np.array_equal(a.countries, b.countries)


def _patched(tmp_path: Path, record_size: int, patch: dict[tuple[int, int], int]) -> Path:
    """An IPv4 database whose record (node, side) values are overwritten by ``patch``."""
    path = tmp_path / f"patched-{record_size}.mmdb"
    write_mmdb(path, NETWORKS[:4], ip_version=4, record_size=record_size)
    nc = maxminddb.open_database(str(path)).metadata().node_count
    data = bytearray(path.read_bytes())
    for (node, side), value in patch.items():
        value = value if value >= 0 else nc - value  # negative: past node_count
        width = record_size // 4
        base = node * width
        if record_size == 32:
            data[base + 4 * side : base + 4 * side + 4] = value.to_bytes(4, "big")
        elif record_size == 24:
            data[base + 3 * side : base + 3 * side + 3] = value.to_bytes(3, "big")
        else:
            data[base + 4 * side : base + 4 * side + 3] = (value & 0xFFFFFF).to_bytes(3, "big")
            nib = value >> 24
            data[base + 3] = (
                (data[base + 3] & 0x0F) | (nib << 4) if side == 0 else (data[base + 3] & 0xF0) | nib
            )
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("record_size", [24, 28, 32])
@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({(1, 0): 0, (1, 1): 0}, "deeper|visits"),  # a cycle back to the root
        ({(1, 0): 1, (1, 1): 1}, "deeper|visits"),  # a node that is its own children (2**depth paths)
        ({(0, 1): -5}, "outside the data section"),  # a pointer into the 16-byte separator
        ({(0, 1): -(1 << 23)}, "outside the data section"),  # a pointer past the end of the file
    ],
)
def test_malformed_trees_raise_quickly(
    tmp_path: Path, record_size: int, patch: dict[tuple[int, int], int], message: str
) -> None:
    path = _patched(tmp_path, record_size, patch)
    start = time.perf_counter()
    with pytest.raises(DatabaseFormatError, match=message):
        MMDBBackend(path)
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("record_size", [24, 28, 32])
def test_patched_writer_roundtrip_is_sound(tmp_path: Path, record_size: int) -> None:
    """The patching helper itself: rewriting a record with its own value changes nothing."""
    path = tmp_path / "plain.mmdb"
    write_mmdb(path, NETWORKS[:4], ip_version=4, record_size=record_size)
    reader = maxminddb.open_database(str(path))
    nc = reader.metadata().node_count
    same = _patched(tmp_path, record_size, {})
    assert same.read_bytes() == path.read_bytes()
    b = MMDBBackend(same)
    assert b.country("8.8.8.8") == "US"
    assert nc > 2
