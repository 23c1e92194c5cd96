"""The offline demo: the whole method on a generated archive and the shipped real database.

:func:`run_demo` is what ``ipevidence demo`` runs, on a fresh machine without network:

1. open the shipped IP2Location LITE DB1 (2024-10-01);
2. generate a RIPE-Atlas-like archive with :mod:`ipevidence.synthetic.archive` over an 8-year
   window (only every ``every``-th day is written; the others are absent, as missing days), the
   probes' addresses drawn from the shipped database's own ranges for each probe's country
   (:meth:`RangeTable.ranges_for`), so the real database places most of them correctly. One planted
   case mimics the paper's Italy: a share of Italy's probe addresses is drawn from ranges the
   database gives to France, so the database looks inaccurate for Italy;
3. build the ground truth (:func:`ipevidence.history.build_ground_truth`, default preset, every
   ``every``-th day) and save it beside the report;
4. geolocate it with the shipped database and compute the evidential table (Table 8) under the
   library's default policy, unchanged (``Policy.preset("default")``): the generator places probes in
   population-weighted cities with realistic ISP pools, so valid geography is measured, not waived;
5. assess a few addresses: one the evidence supports (valid), one of the planted country (not
   valid), one of a country without ground truth (insufficient data), a private address (an
   error: it can never be evidence) and a cloud address;
6. write the report (HTML, Markdown, JSON and figures).

The numbers describe a generated archive, never the real accuracy of any database.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from .addresses import format_ipv4
from .defaults import DATABASE_ATTRIBUTION, default_database_path
from .errors import IpEvidenceError
from .jsonutil import canonical_json
from .report.document import ReportFiles, Section, Table, atomic_write_text

__all__ = [
    "DemoCase",
    "DemoConfig",
    "DemoResult",
    "generate_demo_archive",
    "generator_cloud_ranges",
    "run_demo",
]

#: a private address: the demo shows that it is refused, never assessed
PRIVATE_ADDRESS = "192.168.1.20"
#: a country the generator never places probes in, so it has no ground truth
NO_GROUND_TRUTH_COUNTRY = "IS"


def _positive(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, not {value}")


@attrs.frozen
class DemoConfig:
    """The demo's sizes and dates (the defaults finish well within 2 minutes on 2 cores)."""

    output_dir: Path = attrs.field(default=Path("ipevidence-demo"), converter=Path)
    probes: int = attrs.field(default=1500, validator=_positive)
    years: int = attrs.field(default=8, validator=_positive)
    every: int = attrs.field(default=21, validator=_positive)
    seed: int = 7
    #: last archive day: the day before the shipped database's build date
    end: dt.date = dt.date(2024, 9, 30)
    #: the date of the evidence assessed (inside the last year of the window)
    evidence_date: dt.date = dt.date(2024, 6, 1)
    #: the planted case: a share of this country's addresses the database places in another
    misplaced_country: str = "IT"
    misplaced_into: str = "FR"
    misplaced_share: float = 0.08

    @property
    def start(self) -> dt.date:
        return dt.date(self.end.year - self.years + 1, 1, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "probes": self.probes,
            "years": self.years,
            "every": self.every,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "evidence_date": self.evidence_date.isoformat(),
            "misplaced_country": self.misplaced_country,
            "misplaced_into": self.misplaced_into,
            "misplaced_share": self.misplaced_share,
        }


@attrs.frozen
class DemoCase:
    """One address the demo assessed, and what came of it."""

    label: str
    ip: str
    claimed_country: str | None
    outcome: str | None
    located_country: str | None
    error: str | None
    summary: str
    #: the address's ASN given to the assessment (a probe's record, or WHOIS for the cloud case)
    asn: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "ip": self.ip,
            "asn": self.asn,
            "claimed_country": self.claimed_country,
            "outcome": self.outcome,
            "located_country": self.located_country,
            "error": self.error,
        }

    def __str__(self) -> str:
        return f"{self.label}: {self.summary}"


@attrs.frozen
class DemoResult:
    """What the demo produced: the table, the assessed cases, the files, the timings."""

    config: DemoConfig
    archive_days: int
    ground_truth_rows: int
    ground_truth_path: Path
    funnel: Table
    table: Any
    cases: tuple[DemoCase, ...]
    report: ReportFiles
    seconds: dict[str, float]
    #: what the ground truth made of the archive: days used, days not generated, corrupt days named
    archive_note: str = ""
    #: why each country of the table that is not valid is not (criterion, figure, threshold)
    why: Table | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "archive_days": self.archive_days,
            "archive_note": self.archive_note,
            "ground_truth_rows": self.ground_truth_rows,
            "ground_truth": self.ground_truth_path.name,
            "table": self.table.to_dict(),
            "cases": [c.to_dict() for c in self.cases],
            "report": {k: Path(v).name for k, v in self.report.to_dict().items() if isinstance(v, str)},
        }

    def __str__(self) -> str:
        lines = [str(self.funnel)]
        if self.archive_note:
            lines += ["", self.archive_note]
        lines += ["", str(self.table)]
        if self.why is not None:
            lines += ["", str(self.why)]
        lines += ["", "Assessed addresses (outcome, then the one-sentence reason):"]
        lines += [f"  - {c}" for c in self.cases]
        lines += ["", str(self.report), f"ground truth:    {self.ground_truth_path}"]
        return "\n".join(lines)


def _misplaced_ranges(
    backend: Any, country: str, into: str, share: float
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """``country``'s ranges plus ranges of ``into`` holding about ``share`` of the addresses drawn."""
    s, e = backend.ranges_for(country)
    fs, fe = backend.ranges_for(into)
    s64, e64, fs64, fe64 = (np.asarray(x, np.int64) for x in (s, e, fs, fe))
    own = float((e64 - s64 + 1).sum())
    target = own * share / (1.0 - share)
    sizes = fe64 - fs64 + 1
    take = int(np.searchsorted(np.cumsum(sizes), target)) + 1
    starts = np.concatenate([s64, fs64[:take]])
    ends = np.concatenate([e64, fe64[:take]])
    order = np.argsort(starts, kind="stable")
    return starts[order].astype(np.uint32), ends[order].astype(np.uint32)


def _first_address(backend: Any, country: str) -> str:
    """A stable address the database places in ``country`` (inside its first large range)."""
    s, e = backend.ranges_for(country)
    s64, e64 = np.asarray(s, np.int64), np.asarray(e, np.int64)
    big = np.flatnonzero(e64 - s64 >= 255)
    i = int(big[0]) if big.size else 0
    return format_ipv4(np.array([s64[i] + 17], np.uint32))[0]


def _pick_ground_truth_address(
    gt: Any, located: npt.NDArray[np.bytes_], country: str
) -> tuple[str, int | None] | None:
    """The first ground-truth address declared and located in ``country`` (a probe's address) and
    the ASN its probe record gave (None if unknown)."""
    code = country.encode("ascii")
    rows = np.flatnonzero((gt.country == code) & (located == code))
    if rows.size == 0:
        return None
    asn = int(gt.asn[rows[0]])
    return format_ipv4(gt.address[rows[:1]])[0], asn or None


def generate_demo_archive(
    directory: str | Path,
    *,
    start: dt.date,
    end: dt.date,
    every: int = 1,
    probes: int = 300,
    seed: int = 7,
    backend: Any | None = None,
    layout: str = "tree",
    misplaced: tuple[str, str, float] | None = ("IT", "FR", 0.08),
) -> Any:
    """Write a generated archive whose probe addresses come from ``backend``'s ranges (default: the
    shipped database) and return the generator's truth.

    Only every ``every``-th day from ``start`` is written (the others are absent, like missing days);
    one file is corrupt. ``misplaced`` = (country, into, share) draws ``share`` of ``country``'s
    addresses from ranges the database gives to ``into`` (a planted database error); None for none.
    """
    from .archive.source import date_range
    from .backends import open_database
    from .synthetic.archive import SyntheticArchiveConfig, generate_archive

    db: Any = backend if backend is not None else open_database(default_database_path())

    def address_ranges(country: str) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
        if misplaced is not None and country == misplaced[0]:
            return _misplaced_ranges(db, country, misplaced[1], misplaced[2])
        s, e = db.ranges_for(country)
        return np.asarray(s, np.uint32), np.asarray(e, np.uint32)

    wanted = set(date_range(start, end, every))
    skipped = tuple(d for d in date_range(start, end) if d not in wanted)
    return generate_archive(
        directory,
        SyntheticArchiveConfig(
            seed=seed,
            start=start,
            end=end,
            n_probes=probes,
            address_ranges=address_ranges,
            missing_days=skipped,
            corrupt_days=1,
            compresslevel=1,
            layout="flat" if layout == "flat" else "tree",
        ),
    )


def generator_cloud_ranges() -> Any:
    """The generator's cloud prefixes (:data:`ipevidence.synthetic.archive.CLOUD_PROVIDERS`) as
    :class:`~ipevidence.networks.CloudRanges`, one provider each, dated 2022-12-31."""
    from .networks import CloudRanges, ProviderRanges
    from .synthetic.archive import CLOUD_PROVIDERS

    return CloudRanges(
        tuple(
            ProviderRanges.from_prefixes(
                prefixes,
                provider=name,
                published=dt.date(2022, 12, 31),
                name="ipevidence.synthetic.archive.CLOUD_PROVIDERS",
                date_source="the providers' published files of 2022-12-31",
            )
            for name, (_asn, prefixes) in sorted(CLOUD_PROVIDERS.items())
        )
    )


def _case(
    assessor: Any, label: str, ip: str, date: dt.date, claimed: str | None = None, asn: int | None = None
) -> DemoCase:
    try:
        v = assessor.assess(ip, date, claimed_country=claimed, asn=asn)
    except IpEvidenceError as exc:
        return DemoCase(label, ip, claimed, None, None, str(exc), f"{ip} refused: {exc}", asn)
    where = v.located_country or "no country"
    summary = f"{ip} on {date.isoformat()}: placed in {where}, {v.outcome.upper()}. {v.lead_reason()}"
    return DemoCase(label, ip, claimed, v.outcome, v.located_country, None, summary, asn)


def run_demo(config: DemoConfig | None = None, *, log: Callable[[str], None] | None = None) -> DemoResult:
    """Run the whole method offline (see the module documentation) and write the report."""
    from .archive import LocalArchive
    from .assessment import EvidentialAssessor, Policy
    from .backends import open_database
    from .history import build_ground_truth
    from .report.build import assessor_report, outcome_reasons_table, top_countries

    cfg = config or DemoConfig()
    say = log or (lambda _msg: None)
    seconds: dict[str, float] = {}
    out = cfg.output_dir
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    backend: Any = open_database(default_database_path())
    info = backend.describe()
    say(f"database: {info.name} (built {info.build_date.isoformat()}, {info.ranges:,} ranges)")

    start, end = cfg.start, cfg.end
    archive_dir = out / "archive"
    if archive_dir.exists():
        shutil.rmtree(archive_dir)
    n_files = len(range(0, (end - start).days + 1, cfg.every))
    say(
        f"generating an archive of {cfg.probes:,} probes, {start} to {end}, every {cfg.every} days "
        f"({n_files:,} day files) in {archive_dir}"
    )
    truth = generate_demo_archive(
        archive_dir,
        start=start,
        end=end,
        every=cfg.every,
        probes=cfg.probes,
        seed=cfg.seed,
        backend=backend,
        misplaced=(cfg.misplaced_country, cfg.misplaced_into, cfg.misplaced_share),
    )
    seconds["generate"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    say("building the ground truth (daily filter, linking, most distant selection, borders, cloud)")
    # Two parsing threads: on a demo-sized archive they beat a process pool, whose workers would
    # spend seconds importing the library before parsing anything.
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        gt = build_ground_truth(
            LocalArchive(archive_dir),
            start,
            end,
            family=4,
            every=cfg.every,
            cache=None,
            progress=False,
            executor=pool,
        )
    gt_path = gt.save(out / "ground-truth-v4.npz")
    archive_note = _archive_note(gt.provenance, cfg.every)
    seconds["ground_truth"] = time.perf_counter() - t1
    rows = [(s.name, s.rows_in, s.removed, s.rows_out) for s in gt.funnel.steps]
    funnel = Table("Filter funnel (IPv4)", ("step", "in", "removed", "out"), rows)

    t2 = time.perf_counter()
    # the library's default policy, unchanged: the generated probes sit in population-weighted
    # cities with realistic ISP pools, so the valid-geography indicators can pass on their own
    policy = Policy.preset("default")
    # the cloud providers' ranges the generator drew cloud probes from (taken from the providers'
    # published files of 2022-12-31), as an investigator would pass them with 'assess --ranges'
    assessor = EvidentialAssessor(gt, backend, policy=policy, cloud_ranges=generator_cloud_ranges())
    located = assessor.located
    first, last = located.window(cfg.evidence_date.year, assessor.policy.window_years)
    countries = top_countries(located, first, last, n=6)
    if cfg.misplaced_country not in countries:
        countries.append(cfg.misplaced_country)
    table = assessor.table(countries, cfg.evidence_date)
    why = outcome_reasons_table([assessor.evaluate_country(c, first, last) for c in countries])
    outcomes = {row[0]: row[-1] for row in table.rows}
    seconds["table"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    # the valid example: a country whose every criterion passed (informational ones too, such as
    # having no overseas parts), else any valid country
    valid = [c for c in countries if outcomes.get(c) == "valid"]
    clean = [c for c in valid if all(k.passed for k in assessor.evaluate_country(c, first, last).criteria)]
    valid_country = (clean or valid or countries)[0]
    picked = _pick_ground_truth_address(gt, located.located, valid_country)
    valid_ip, valid_asn = picked or (_first_address(backend, valid_country), None)
    # a cloud probe's address and the ASN its record gave (as an investigator would find by WHOIS)
    rec = truth.records
    cloud_rows = np.flatnonzero(rec.cloud & rec.ipv4_valid & (rec.asn_v4 > 0))
    if cloud_rows.size:
        cloud_ip, cloud_asn = format_ipv4(rec.ipv4[cloud_rows[:1]])[0], int(rec.asn_v4[cloud_rows[0]])
    else:
        cloud_ip, cloud_asn = "52.208.0.10", 16509  # Amazon
    cases = [
        _case(assessor, f"a probe address in {valid_country}", valid_ip, cfg.evidence_date, asn=valid_asn),
        _case(
            assessor,
            f"an address in {cfg.misplaced_country} (planted: the database misplaces "
            f"{cfg.misplaced_share:.0%} of its addresses)",
            _first_address(backend, cfg.misplaced_country),
            cfg.evidence_date,
        ),
        _case(
            assessor,
            f"an address in {NO_GROUND_TRUTH_COUNTRY} (no ground truth)",
            _first_address(backend, NO_GROUND_TRUTH_COUNTRY),
            cfg.evidence_date,
        ),
        _case(assessor, "a private address", PRIVATE_ADDRESS, cfg.evidence_date),
        _case(assessor, f"a cloud address (AS{cloud_asn})", cloud_ip, cfg.evidence_date, asn=cloud_asn),
    ]
    seconds["assess"] = time.perf_counter() - t3

    t4 = time.perf_counter()
    about = Section(
        "About this demo",
        paragraphs=(
            "This report was produced by 'ipevidence demo' on a GENERATED archive: its numbers show how "
            "the method works, not how accurate any real database is in any real country.",
            f"The generator wrote {len(truth.files):,} daily archive files for {cfg.probes:,} probes "
            f"({start} to {end}, every {_ordinal(cfg.every)} day, one file deliberately corrupt). Probe "
            f"addresses were drawn from the shipped database's own ranges for each probe's country, "
            f"except that {cfg.misplaced_share:.0%} of {cfg.misplaced_country}'s addresses were drawn "
            f"from ranges the database gives to {cfg.misplaced_into} (a planted database error, like "
            f"the paper's Italy).",
            "Probes sit in GeoNames cities drawn by population (population ** 0.7, at least 15 km from "
            "any other country, a few km of jitter) and use their country's pool of 10-60 ISP networks, "
            "so coverage and network diversity look like a real archive's. The verdicts use the "
            "library's default policy unchanged (recorded under How this was computed), with the cloud "
            "providers' ranges the generator drew cloud probes from.",
        ),
        items=tuple(str(c) for c in cases),
    )
    report = assessor_report(
        assessor,
        cfg.evidence_date,
        countries=countries,
        addresses=[(c.ip, c.claimed_country, c.asn) for c in cases],
        extra_sections=(about,),
        extra_provenance={"demo": cfg.to_dict()},
        title="ipevidence demo: evidential value of IP country location (generated archive)",
    )
    files = report.write(out)
    seconds["report"] = time.perf_counter() - t4
    seconds["total"] = time.perf_counter() - t0
    result = DemoResult(
        config=cfg,
        archive_days=len(truth.files),
        ground_truth_rows=len(gt),
        ground_truth_path=gt_path,
        funnel=funnel,
        table=table,
        cases=tuple(cases),
        report=files,
        seconds={k: round(v, 2) for k, v in seconds.items()},
        archive_note=archive_note,
        why=why,
    )
    atomic_write_text(
        out / "demo.json",
        canonical_json({**result.to_dict(), "attribution": [DATABASE_ATTRIBUTION]}),
    )
    return result


def _archive_note(provenance: Any, every: int) -> str:
    """Archive days used and corrupt (each named with its reason): the generator plants one corrupt
    day, which the ground truth records and skips."""
    if provenance is None:
        return ""
    corrupt = list(provenance.corrupt)
    named = "; ".join(f"{d.day.isoformat()} ({d.reason or 'corrupt'})" for d in corrupt)
    text = (
        f"Archive days: {len(provenance.used):,} used (every {_ordinal(every)} day), "
        f"{len(provenance.missing):,} missing, {len(corrupt):,} corrupt"
    )
    if corrupt:
        text += f": {named}; recorded in the provenance and skipped, never half-read"
    return text + "."


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st, ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
