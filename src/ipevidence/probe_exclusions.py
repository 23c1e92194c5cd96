"""Published lists of RIPE Atlas probes that likely misreport their location (METHOD.md section 5).

Independent work ("Trust, but verify: operator-reported geolocation", 2024) publishes, twice a
month, the ids of Atlas probes whose reported location is contradicted by latency measurements.
Two formats are read:

* a plain list: one probe id per line (``probe_ids_YYYYMMDD.txt`` up to 2025-11-01); blank lines
  and ``#`` comments are ignored;
* a CSV with a header ``probe_id,violates_ark,violates_rootdns,...`` (from 2025-11-15): a probe is
  excluded when ANY of the selected methods flags it (``methods``, default both, ``ark`` and
  ``rootdns``); rows flagged by none are counted, not excluded.

A list is dated by the list: the date given by the caller, else the ``YYYYMMDD`` in the
publisher's file name (the files carry no date inside), else undated. The ids feed the build's
``exclude_probes`` input (:func:`ipevidence.history.build_ground_truth`,
``ipevidence build --exclude-probes FILE``).

Licence: the lists are for academic, research and non-profit use only (University of
California); ipevidence never ships them. A user obtains them from the authors' repository (see
docs/databases.md) and passes the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import attrs

from .errors import RangeFileError
from .provenance import sha256_file

__all__ = ["EXCLUSION_METHODS", "ProbeExclusionList", "merge_exclusions", "read_probe_exclusions"]

#: the flag columns of the CSV format, by method name
EXCLUSION_METHODS: Final = {"ark": "violates_ark", "rootdns": "violates_rootdns"}
_NAME_DATE: Final = re.compile(r"(20\d\d)(\d\d)(\d\d)")
_TRUE: Final = frozenset({"true", "1", "yes", "t"})
_FALSE: Final = frozenset({"false", "0", "no", "f", ""})


class ProbeListError(RangeFileError):
    """A probe exclusion list that cannot be read (a line that is not a probe id, a CSV without
    ``probe_id``, an unknown flag value)."""


@attrs.frozen
class ProbeExclusionList:
    """The probe ids of one exclusion list, with where and when the list came from."""

    name: str
    sha256: str
    date: dt.date | None
    format: str  # "ids" or "csv"
    ids: tuple[int, ...]
    methods: tuple[str, ...] = ()
    not_flagged: int = 0  # CSV rows flagged by none of the selected methods

    def __len__(self) -> int:
        return len(self.ids)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "date": None if self.date is None else self.date.isoformat(),
            "format": self.format,
            "probes": len(self.ids),
            "methods": list(self.methods),
            "not_flagged": self.not_flagged,
        }

    def __str__(self) -> str:
        when = self.date.isoformat() if self.date else "undated"
        how = f", flagged by {' or '.join(self.methods)}" if self.methods else ""
        return f"probe exclusion list {self.name} ({when}, {self.format}{how}): {len(self.ids):,} probes"


def _date_from_name(name: str) -> dt.date | None:
    m = _NAME_DATE.search(name)
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _flag(value: str, where: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ProbeListError(f"{where}: {value!r} is not a true/false flag")


def _probe_id(text: str, where: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ProbeListError(f"{where}: {text.strip()!r} is not a probe id") from None
    if not 0 < value < 2**31:
        raise ProbeListError(f"{where}: probe id {value} is out of range")
    return value


def read_probe_exclusions(
    path: str | os.PathLike[str],
    *,
    date: dt.date | None = None,
    methods: Sequence[str] = ("ark", "rootdns"),
) -> ProbeExclusionList:
    """Read a plain id list or the CSV format (detected by its ``probe_id`` header)."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProbeListError(f"{p}: cannot read the probe list: {exc}") from None
    unknown = sorted(set(methods) - set(EXCLUSION_METHODS))
    if unknown or not methods:
        raise ValueError(
            f"methods must be a non-empty subset of {sorted(EXCLUSION_METHODS)}, not {list(methods)}"
        )
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
    ids: set[int] = set()
    not_flagged = 0
    if first.split(",")[0].strip().lower() == "probe_id":
        fmt = "csv"
        reader = csv.DictReader(io.StringIO(text))
        fields = reader.fieldnames or []
        missing = [EXCLUSION_METHODS[m] for m in methods if EXCLUSION_METHODS[m] not in fields]
        if missing:
            raise ProbeListError(f"{p.name}: the CSV has no column {', '.join(missing)}")
        for k, row in enumerate(reader, start=2):
            where = f"{p.name} line {k}"
            pid = _probe_id(row.get("probe_id") or "", where)
            if any(_flag(row.get(EXCLUSION_METHODS[m]) or "", where) for m in methods):
                ids.add(pid)
            else:
                not_flagged += 1
        used: tuple[str, ...] = tuple(methods)
    else:
        fmt = "ids"
        used = ()
        for k, line in enumerate(lines, start=1):
            item = line.split("#", 1)[0].strip()
            if item:
                ids.add(_probe_id(item, f"{p.name} line {k}"))
    return ProbeExclusionList(
        name=p.name,
        sha256=sha256_file(p),
        date=date if date is not None else _date_from_name(p.name),
        format=fmt,
        ids=tuple(sorted(ids)),
        methods=used,
        not_flagged=not_flagged,
    )


def merge_exclusions(lists: Iterable[ProbeExclusionList]) -> tuple[int, ...]:
    """The union of several lists' ids, sorted (for ``exclude_probes``)."""
    out: set[int] = set()
    for lst in lists:
        out.update(lst.ids)
    return tuple(sorted(out))
