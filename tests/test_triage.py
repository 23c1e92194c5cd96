"""assess_many: the same outcome, reason, figures and likelihood ratio as assess() for every case.

The differential test judges more than 10,000 generated cases (IPv4 and IPv6, eight years and the
years around them, claims right and wrong, caller ASNs and none, bad addresses, dates, ASNs and
claims) with assess_many and one by one with EvidentialAssessor.assess(), and compares every case.
The ground truths and the database come from ipevidence.synthetic.errormodel (a known error model).
The generated addresses (11.0.0.0/8) were not announced before 2021, so without a caller's ASN the
default policy's network check (shipped data) cannot tell their network: cases with and without
ASNs are both needed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ipevidence import assess_many as public_assess_many
from ipevidence.addresses import format_ipv4, format_ipv6
from ipevidence.assessment import EvidentialAssessor, Policy, Verdict
from ipevidence.countries import COUNTRY_DTYPE
from ipevidence.errors import (
    FamilyMismatchError,
    InvalidAddressError,
    InvalidEvidenceDateError,
    InvalidParameterError,
    OutsideGroundTruthError,
    ReservedAddressError,
    UnknownCountryError,
)
from ipevidence.groundtruth import Funnel, FunnelStep
from ipevidence.provenance import DatabaseInfo
from ipevidence.synthetic.errormodel import Cell, ErrorModelBackend, ErrorModelCase, build_case
from ipevidence.triage import (
    CANNOT_ASSESS,
    COLUMNS,
    OUTCOMES,
    REASONS,
    Triage,
    TriageResult,
    assess_many,
    reason_code,
)

YEARS = range(2015, 2023)
ISP = 8447  # A1 Telekom Austria: a residential ISP in no hosting set
CLOUD = 16509  # Amazon: in every hosting set

FUNNEL4 = Funnel(
    family=4,
    steps=(
        FunnelStep("connected", "probes connected that day", 20_000, 1_000),
        FunnelStep("border", "coordinates outside the declared country", 19_000, 380),
    ),
)
FUNNEL6 = Funnel(
    family=6, steps=(FunnelStep("border", "coordinates outside the declared country", 9_000, 90),)
)


def cells4() -> list[Cell]:
    out = []
    for y in YEARS:
        out.append(Cell("DE", y, 700, {"AT": 3, "NL": 2}, not_located=1))
        out.append(Cell("AT", y, 400, {"DE": 4}))
        out.append(Cell("IT", y, 300, {"FR": 30 if y == 2018 else 3}))
        out.append(Cell("FR", y, 350, {"BE": 2}))
        out.append(Cell("BE", y, 130, {"NL": 5}))
        if y >= 2019:
            out.append(Cell("NL", y, 260, {"DE": 1}))
    out.append(Cell("CH", 2022, 60))
    return out


def cells6() -> list[Cell]:
    out = []
    for y in range(2018, 2023):
        out.append(Cell("DE", y, 500, {"AT": 5}))
        out.append(Cell("US", y, 450, {"CA": 2}, not_located=2))
        out.append(Cell("CA", y, 120, {"US": 10}))
    return out


class TwoFamilies:
    """A GeoBackend of two error models, one per address family."""

    def __init__(self, v4: ErrorModelBackend, v6: ErrorModelBackend) -> None:
        self.v4, self.v6 = v4, v6
        self.build_date = v4.build_date
        self.families = frozenset({4, 6})

    def lookup(self, addresses: Any) -> Any:
        col = np.asarray(addresses)
        return (self.v6 if col.dtype.kind == "S" else self.v4).lookup(col)

    def country(self, ip: str) -> str | None:
        return (self.v6 if ipaddress.ip_address(ip).version == 6 else self.v4).country(ip)

    def describe(self) -> DatabaseInfo:
        i = self.v4.describe()
        return DatabaseInfo(i.kind, "two-families", i.sha256, i.build_date, i.ranges, self.families)


@pytest.fixture(scope="module")
def world() -> tuple[ErrorModelCase, ErrorModelCase, TwoFamilies]:
    c4 = build_case(cells4(), seed=5, funnel=FUNNEL4)
    c6 = build_case(cells6(), family=6, seed=6, funnel=FUNNEL6)
    return c4, c6, TwoFamilies(c4.backend, c6.backend)


def generated_cases(c4: ErrorModelCase, c6: ErrorModelCase, n: int, seed: int) -> dict[str, list[Any]]:
    """``n`` cases of every kind (see the module docstring)."""
    rng = np.random.default_rng(seed)
    a4 = format_ipv4(c4.ground_truth.address[rng.choice(len(c4.ground_truth), n)])
    a6 = format_ipv6(c6.ground_truth.address[rng.choice(len(c6.ground_truth), n)])
    odd: list[Any] = [
        "10.1.2.3",
        "192.168.0.1",
        "100.64.0.9",
        "127.0.0.1",
        "224.0.0.1",
        "203.0.113.7",
        "255.255.255.255",
        "0.0.0.0",
        "fe80::1%eth0",
        "fc00::1",
        "2001:db8::1",
        "::ffff:11.0.0.5",
        "not an address",
        "1.2.3",
        "01.2.3.4",
        "",
        None,
        12345,
        b"11.0.0.1",
        " 11.0.0.7 ",
        "11.255.255.1",  # global, not in the database
        "2a00:1450::1",  # global IPv6, not in the database
        "8.8.8.8",
        "1.1.1.1",
        ipaddress.ip_address("11.0.0.9"),
    ]
    addresses: list[Any] = []
    for i in range(n):
        r = rng.random()
        if r < 0.6:
            addresses.append(a4[i])
        elif r < 0.85:
            addresses.append(a6[i])
        else:
            addresses.append(odd[int(rng.integers(len(odd)))])
    years = rng.integers(2012, 2026, n)
    months = rng.integers(1, 13, n)
    days = rng.integers(1, 29, n)
    dates: list[Any] = []
    for y, m, d in zip(years.tolist(), months.tolist(), days.tolist(), strict=True):
        r = rng.random()
        if r < 0.5:
            dates.append(f"{y}-{m:02d}-{d:02d}")
        elif r < 0.7:
            dates.append(dt.date(y, m, d))
        elif r < 0.85:
            dates.append(dt.datetime(y, m, d, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))))
        elif r < 0.95:
            dates.append(f"{y}-{m:02d}-{d:02d}T12:00:00+02:00")
        else:
            dates.append(["2022-13-01", "yesterday", None, 20220101, ""][int(rng.integers(5))])
    claims_pool: list[Any] = [None] * 6 + ["DE", "AT", "IT", "US", "CA", "de", " fr ", "", "XX", "EU", 7]
    claims = [claims_pool[int(k)] for k in rng.integers(len(claims_pool), size=n)]
    asn_pool: list[Any] = [None] * 5 + [ISP, ISP, 200_001, CLOUD, 13335, 0, -5, 2**32, "AS1", True, 1.5]
    asns = [asn_pool[int(k)] for k in rng.integers(len(asn_pool), size=n)]
    return {"addresses": addresses, "dates": dates, "claims": claims, "asns": asns}


_EXPECTED_CODE = (
    (ReservedAddressError, "not_global_address"),
    (InvalidAddressError, "invalid_address"),
    (InvalidEvidenceDateError, "invalid_date"),
    (InvalidParameterError, "invalid_asn"),
    (FamilyMismatchError, "no_ground_truth_for_family"),
    (UnknownCountryError, "unknown_claimed_country"),
    (OutsideGroundTruthError, "date_outside_ground_truth"),
)


def expected_refusal(exc: Exception) -> str:
    for kind, code in _EXPECTED_CODE:
        if isinstance(exc, kind):
            return code
    raise AssertionError(f"assess() raised an unexpected {type(exc).__name__}: {exc}")


def figure(v: Verdict, name: str) -> float | None:
    for c in v.criteria:
        if c.name == name:
            return None if c.figure is None else float(c.figure)
    return None


def family_of(value: Any) -> int:
    try:
        return ipaddress.ip_address(value.strip() if isinstance(value, str) else value).version
    except (ValueError, TypeError, AttributeError):
        return 4


def compare(
    result: TriageResult, data: dict[str, list[Any]], assessors: dict[int, EvidentialAssessor]
) -> int:
    """Compare every case with assess(); returns the number of cases compared."""
    recs = list(result)
    assert len(recs) == len(data["addresses"])
    mismatches: list[str] = []
    for i, rec in enumerate(recs):
        ip, date, claim, asn = data["addresses"][i], data["dates"][i], data["claims"][i], data["asns"][i]
        fam = family_of(ip)
        a = assessors.get(fam, assessors[4])
        try:
            v = a.assess(ip, date, claim, asn=asn)
        except Exception as exc:
            want = ("cannot be assessed", expected_refusal(exc))
            if (rec.outcome, rec.reason) != want:
                mismatches.append(
                    f"{i} {ip!r} {date!r} {claim!r} {asn!r}: {rec.outcome}/{rec.reason} != {want}"
                )
            continue
        lr = v.likelihood_ratio
        head = None if lr is None else lr.headline
        rep = None if head is None else (float("inf") if head.reported is None else head.reported)
        got = (
            rec.outcome,
            rec.reason,
            rec.located_country,
            rec.accuracy,
            rec.accuracy_min,
            rec.likelihood_ratio,
            rec.lr_verbal,
            rec.lr_weakest_against,
            rec.asn,
            rec.hosting,
            (rec.window_first, rec.window_last),
            abs(rec.database_age_days) if rec.database_age_days is not None else None,
            rec.date,
        )
        want_tuple = (
            v.outcome,
            reason_code(v.criteria),
            v.located_country,
            figure(v, "hist_all"),
            figure(v, "hist_min"),
            rep,
            None if lr is None else lr.verbal,
            None if lr is None else lr.weakest_against,
            v.asn,
            v.network.get("provider"),
            v.window,
            v.database_gap_days,
            v.date,
        )
        if got != want_tuple:
            mismatches.append(f"{i} {ip!r} {date!r} {claim!r} {asn!r}:\n  got  {got}\n  want {want_tuple}")
    assert not mismatches, f"{len(mismatches)} cases differ; first:\n" + "\n".join(mismatches[:5])
    return len(recs)


@pytest.mark.slow
def test_differential_10000_cases_default_policy(
    world: tuple[ErrorModelCase, ErrorModelCase, TwoFamilies],
) -> None:
    c4, c6, db = world
    data = generated_cases(c4, c6, 10_500, seed=1)
    result = assess_many(
        data["addresses"],
        data["dates"],
        claimed_countries=data["claims"],
        asns=data["asns"],
        ground_truth=[c4.ground_truth, c6.ground_truth],
        database=db,
    )
    assessors = {4: EvidentialAssessor(c4.ground_truth, db), 6: EvidentialAssessor(c6.ground_truth, db)}
    assert compare(result, data, assessors) >= 10_000
    # every kind of case occurred
    outcomes = set(result.outcome_texts().tolist())
    assert outcomes == set(OUTCOMES)
    codes = set(result.reason_codes().tolist())
    for code in (
        "valid",
        "not_located",
        "cloud_or_hosting",
        "claim_mismatch",
        "network_not_checked",
        "window_too_short",
        "invalid_address",
        "not_global_address",
        "invalid_date",
        "invalid_asn",
        "unknown_claimed_country",
        "date_outside_ground_truth",
    ):
        assert code in codes, code


def test_differential_reference_policy_and_ipv4_only(
    world: tuple[ErrorModelCase, ErrorModelCase, TwoFamilies],
) -> None:
    """The reference preset (no network data, no LR) and IPv6 cases without an IPv6 ground truth."""
    c4, c6, db = world
    data = generated_cases(c4, c6, 2_500, seed=2)
    result = assess_many(
        data["addresses"],
        data["dates"],
        claimed_countries=data["claims"],
        asns=data["asns"],
        ground_truth=c4.ground_truth,
        database=db,
        policy="reference",
    )
    compare(result, data, {4: EvidentialAssessor(c4.ground_truth, db, "reference")})
    v6 = [i for i, a in enumerate(data["addresses"]) if isinstance(a, str) and a.startswith("2a00:0:0:aa")]
    codes = result.reason_codes()
    # refused for the family, unless refused earlier for the date or the ASN (assess()'s order)
    assert v6
    assert {codes[i] for i in v6} == {"no_ground_truth_for_family", "invalid_date", "invalid_asn"}


def test_differential_network_required_and_named_alternatives(
    world: tuple[ErrorModelCase, ErrorModelCase, TwoFamilies],
) -> None:
    c4, c6, db = world
    policy = Policy.preset(
        "default", network_required=True, min_network_addresses=5, lr_alternatives=("AT", "NL")
    )
    data = generated_cases(c4, c6, 2_000, seed=3)
    engine = Triage([c4.ground_truth, c6.ground_truth], db, policy)
    result = engine.run(data["addresses"], data["dates"], claimed_countries=data["claims"], asns=data["asns"])
    assessors = {
        4: EvidentialAssessor(c4.ground_truth, db, policy),
        6: EvidentialAssessor(c6.ground_truth, db, policy),
    }
    compare(result, data, assessors)
    # the own network's ground truth decides here: too thin (an ISP outside it) or below the threshold
    assert {"network_accuracy_not_measured", "network_accuracy_below"} <= set(result.reason_codes().tolist())


def test_differential_with_a_catalogue_each_case_uses_its_build(
    world: tuple[ErrorModelCase, ErrorModelCase, TwoFamilies], tmp_path: Path
) -> None:
    """With dated builds, each case is judged with the build the rule picks for its date (as
    'ipevidence assess' does: catalog.at(date) and the catalogue for the database criterion)."""
    from ipevidence.backends import open_database
    from ipevidence.catalog import DatabaseCatalog

    c4, c6, _db = world
    gt = c4.ground_truth
    good = c4.backend.lookup(gt.address)
    stale = good.copy()
    stale[np.flatnonzero(gt.country == b"DE")[::8]] = b"AT"
    old = c4.write_bin(tmp_path / "old.BIN", located=stale, build_date=dt.date(2017, 6, 1))
    new = c4.write_bin(tmp_path / "new.BIN", located=good, build_date=dt.date(2021, 1, 15))
    catalog = DatabaseCatalog.from_paths([old, new])
    data = generated_cases(c4, c6, 1_500, seed=4)
    result = assess_many(
        data["addresses"],
        data["dates"],
        claimed_countries=data["claims"],
        asns=data["asns"],
        ground_truth=gt,
        database=catalog,
    )
    assessors = {
        entry.build_date: EvidentialAssessor(gt, open_database(entry.path), catalog=catalog)
        for entry in catalog.entries
    }
    builds = result.column("database_build_date")
    reasons = result.reason_codes()
    checked = 0
    for i, rec in enumerate(result):
        if rec.reason == "no_database_for_date":
            assert rec.date is not None
            assert rec.date < dt.date(2017, 6, 1)
            continue
        if builds[i] is None:
            assert rec.outcome == CANNOT_ASSESS
            continue
        chosen = catalog.entry_at(rec.date).build_date  # type: ignore[arg-type]
        assert builds[i] == chosen
        sub = {k: [v[i]] for k, v in data.items()}
        one = TriageResult.take(result, np.asarray([i]))
        compare(one, sub, {4: assessors[chosen]})
        checked += 1
    assert checked > 500
    assert "no_database_for_date" in set(reasons.tolist())


def test_columns_from_numpy_and_pandas(world: tuple[ErrorModelCase, ErrorModelCase, TwoFamilies]) -> None:
    pd = pytest.importorskip("pandas")
    c4, _c6, db = world
    ips = format_ipv4(c4.ground_truth.address[:200])
    frame = pd.DataFrame(
        {
            "ip": ips,
            "when": pd.to_datetime(["2022-03-01"] * 200),
            "asn": pd.array([ISP if i % 2 else None for i in range(200)], dtype="Int64"),
            "claim": [None if i % 3 else "DE" for i in range(200)],
        }
    )
    a = assess_many(
        frame["ip"],
        frame["when"],
        claimed_countries=frame["claim"],
        asns=frame["asn"],
        ground_truth=c4.ground_truth,
        database=db,
    )
    b = assess_many(
        np.asarray(ips),
        np.full(200, np.datetime64("2022-03-01")),
        claimed_countries=[None if i % 3 else "DE" for i in range(200)],
        asns=np.asarray([float(ISP) if i % 2 else np.nan for i in range(200)]),
        ground_truth=c4.ground_truth,
        database=db,
    )
    assert [r.to_dict() for r in a] == [r.to_dict() for r in b]
    df = a.to_pandas()
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == 200
    assert set(df["outcome"].cat.categories) == set(OUTCOMES)


def test_to_arrow_needs_the_extra_or_works(world: tuple[ErrorModelCase, ErrorModelCase, TwoFamilies]) -> None:
    c4, _c6, db = world
    res = assess_many(
        ["11.0.0.1", "bogus"], ["2022-01-01", "2022-01-01"], ground_truth=c4.ground_truth, database=db
    )
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"ipevidence\[arrow\]"):
            res.to_arrow()
        return
    table = res.to_arrow()
    assert table.num_rows == 2
    assert table.column_names == list(COLUMNS)


def test_records_summary_and_order(world: tuple[ErrorModelCase, ErrorModelCase, TwoFamilies]) -> None:
    c4, c6, db = world
    data = generated_cases(c4, c6, 600, seed=9)
    res = assess_many(
        data["addresses"],
        data["dates"],
        claimed_countries=data["claims"],
        asns=data["asns"],
        ground_truth=[c4.ground_truth, c6.ground_truth],
        database=db,
    )
    recs = list(res)
    assert [r.address for r in recs] == data["addresses"]  # the address as given, in input order
    s = res.summary()
    assert s.total == 600
    totals = s.totals()
    assert sum(totals[o] for o in OUTCOMES) == 600
    rows = s.rows()
    assert rows[-1]["country"] is None  # not located last
    for row in rows:
        assert (
            row["cases"]
            == row["valid"] + row["not_valid"] + row["insufficient_data"] + row["cannot_be_assessed"]
        )
        assert sum(row["not_valid_by_reason"].values()) == row["not_valid"]
    assert "Triage summary" in str(s)
    assert s.to_markdown().startswith("# Triage summary")
    assert "<table>" in s.to_html()
    assert s.to_json() == s.to_json()
    # the order: by located country, then valid before insufficient before not valid before cannot
    srt = res.sorted()
    loc = [r.located_country or "~~" for r in srt]
    assert loc == sorted(loc)
    rank = {"valid": 0, "insufficient data": 1, "not valid": 2, "cannot be assessed": 3}
    for a, b in zip(list(srt)[:-1], list(srt)[1:], strict=True):
        if a.located_country == b.located_country:
            assert rank[a.outcome] <= rank[b.outcome]


def test_reason_codes_are_a_stable_documented_list() -> None:
    codes = [r.code for r in REASONS]
    assert len(codes) == len(set(codes))
    # the first codes keep their positions (numeric codes in stored results)
    assert codes[:4] == ["valid", "not_located", "cloud_or_hosting", "claim_mismatch"]
    doc = (Path(__file__).parent.parent / "docs" / "triage.md").read_text("utf-8")
    for code in codes:
        assert f"`{code}`" in doc, f"{code} is not documented in docs/triage.md"
    for r in REASONS:
        assert r.outcome in OUTCOMES


def test_every_criterion_of_a_verdict_has_a_code(
    world: tuple[ErrorModelCase, ErrorModelCase, TwoFamilies],
) -> None:
    from ipevidence.triage_result import _FAILED

    c4, _c6, db = world
    v = EvidentialAssessor(c4.ground_truth, db).assess("11.0.0.1", "2022-05-01", "DE", asn=ISP)
    for c in v.criteria:
        assert c.name in _FAILED, c.name


def test_bad_calls_raise_but_bad_cases_do_not(
    world: tuple[ErrorModelCase, ErrorModelCase, TwoFamilies],
) -> None:
    c4, _c6, db = world
    with pytest.raises(InvalidParameterError, match="dates has 1 values for 2"):
        assess_many(["11.0.0.1", "11.0.0.2"], ["2022-01-01"], ground_truth=c4.ground_truth, database=db)
    res = assess_many(
        [None, [1, 2], {"a": 1}], [None, object(), "x"], ground_truth=c4.ground_truth, database=db
    )
    assert res.reason_codes().tolist() == ["invalid_address"] * 3
    assert public_assess_many is assess_many
    assert np.asarray(res.located).dtype == COUNTRY_DTYPE
