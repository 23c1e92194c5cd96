"""Triage's per-country summary: cases per located country and reason code.

:class:`TriageSummary` (made by :meth:`~ipevidence.triage.result.TriageResult.summary`) counts
cases per located country and reason code, and writes them as text, Markdown, HTML and canonical
JSON with the provenance. The reason codes are :mod:`ipevidence.triage.reasons`; the per-case
results are :mod:`ipevidence.triage.result` (which re-exports :class:`TriageSummary`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final

import attrs
import numpy as np
import numpy.typing as npt

from .._version import __version__
from ..countries import country_name
from ..jsonutil import canonical_json, to_jsonable
from ..verdict import INSUFFICIENT, NOT_VALID, VALID
from .reasons import _CODE, _OUTCOME, CANNOT_ASSESS, OUTCOMES, REASONS

if TYPE_CHECKING:
    from .result import TriageResult

__all__ = ["TriageSummary"]


def _s2_text(code: bytes) -> str:
    return code.decode("ascii") if code else ""


_NOT_LOCATED_LABEL: Final = "not located"


@attrs.frozen(eq=False)
class TriageSummary:
    """Cases per located country and reason code (``counts[i, j]``: country ``countries[i]``,
    reason :data:`REASONS` ``[j]``); ``""`` is "not located" (which includes every case that was
    not geolocated: not an address, private space, ...). Summaries of parts of one run add up
    (:meth:`merge`); ``provenance`` says what produced them."""

    countries: tuple[str, ...]
    counts: npt.NDArray[np.int64]
    provenance: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def of(cls, result: TriageResult, provenance: Mapping[str, Any] | None = None) -> TriageSummary:
        codes, inverse = np.unique(result.located, return_inverse=True)
        counts = np.zeros((len(codes), len(REASONS)), np.int64)
        np.add.at(counts, (inverse.reshape(-1), result.reason.astype(np.intp)), 1)
        return cls(
            tuple(_s2_text(c) for c in codes.tolist()),
            counts,
            dict(result.provenance if provenance is None else provenance),
        )

    def merge(self, other: TriageSummary) -> TriageSummary:
        """The summary of both parts (provenance of ``self``)."""
        names = sorted(set(self.countries) | set(other.countries))
        pos = {c: i for i, c in enumerate(names)}
        counts = np.zeros((len(names), len(REASONS)), np.int64)
        for src in (self, other):
            for i, c in enumerate(src.countries):
                counts[pos[c]] += src.counts[i]
        return attrs.evolve(self, countries=tuple(names), counts=counts)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def by_outcome(self) -> npt.NDArray[np.int64]:
        """Cases per country (rows) and outcome (columns, :data:`OUTCOMES`)."""
        out = np.zeros((len(self.countries), len(OUTCOMES)), np.int64)
        for j, r in enumerate(REASONS):
            out[:, _OUTCOME[r.outcome]] += self.counts[:, j]
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One dictionary per country, largest first (not located last): cases, valid, not valid
        (with the count per reason), insufficient data (per reason), cannot be assessed (per reason)."""
        outcomes = self.by_outcome()
        order = sorted(
            range(len(self.countries)),
            key=lambda i: (self.countries[i] == "", -int(self.counts[i].sum()), self.countries[i]),
        )
        out = []
        for i in order:
            per = {r.code: int(self.counts[i, j]) for j, r in enumerate(REASONS) if self.counts[i, j]}
            out.append(
                {
                    "country": self.countries[i] or None,
                    "name": country_name(self.countries[i]) if self.countries[i] else _NOT_LOCATED_LABEL,
                    "cases": int(self.counts[i].sum()),
                    "valid": int(outcomes[i, _OUTCOME[VALID]]),
                    "not_valid": int(outcomes[i, _OUTCOME[NOT_VALID]]),
                    "insufficient_data": int(outcomes[i, _OUTCOME[INSUFFICIENT]]),
                    "cannot_be_assessed": int(outcomes[i, _OUTCOME[CANNOT_ASSESS]]),
                    "not_valid_by_reason": {
                        k: v for k, v in per.items() if REASONS[_CODE[k]].outcome == NOT_VALID
                    },
                    "insufficient_by_reason": {
                        k: v for k, v in per.items() if REASONS[_CODE[k]].outcome == INSUFFICIENT
                    },
                    "cannot_be_assessed_by_reason": {
                        k: v for k, v in per.items() if REASONS[_CODE[k]].outcome == CANNOT_ASSESS
                    },
                }
            )
        return out

    def totals(self) -> dict[str, int]:
        outcomes = self.by_outcome().sum(axis=0)
        return {"cases": self.total, **{o: int(outcomes[i]) for i, o in enumerate(OUTCOMES)}}

    def to_dict(self) -> dict[str, Any]:
        data = {
            "totals": self.totals(),
            "countries": self.rows(),
            "reasons": [r.to_dict() for r in REASONS],
            "provenance": dict(self.provenance),
        }
        out: dict[str, Any] = to_jsonable(data)
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        """Canonical JSON (sorted keys): byte-identical for the same inputs."""
        return canonical_json(self.to_dict(), indent=indent)

    def _table_rows(self, limit: int | None = None) -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = []
        data = self.rows()
        for row in data[:limit] if limit else data:
            nv = ", ".join(
                f"{k} {v:,}" for k, v in sorted(row["not_valid_by_reason"].items(), key=lambda kv: -kv[1])
            )
            ins = ", ".join(
                f"{k} {v:,}" for k, v in sorted(row["insufficient_by_reason"].items(), key=lambda kv: -kv[1])
            )
            cba = ", ".join(
                f"{k} {v:,}"
                for k, v in sorted(row["cannot_be_assessed_by_reason"].items(), key=lambda kv: -kv[1])
            )
            rows.append(
                (
                    row["country"] or "--",
                    row["name"],
                    f"{row['cases']:,}",
                    f"{row['valid']:,}",
                    f"{row['not_valid']:,}" + (f" ({nv})" if nv else ""),
                    f"{row['insufficient_data']:,}" + (f" ({ins})" if ins else ""),
                    f"{row['cannot_be_assessed']:,}" + (f" ({cba})" if cba else ""),
                )
            )
        return rows

    _HEAD: ClassVar[tuple[str, ...]] = (
        "Country",
        "Name",
        "Cases",
        "Valid",
        "Not valid (by reason)",
        "Insufficient data",
        "Cannot be assessed",
    )

    def _lead(self) -> list[str]:
        t = self.totals()
        lines = [
            f"{t['cases']:,} cases: {t[VALID]:,} valid, {t[NOT_VALID]:,} not valid, "
            f"{t[INSUFFICIENT]:,} insufficient data, {t[CANNOT_ASSESS]:,} cannot be assessed; "
            f"{sum(1 for c in self.countries if c):,} located countries."
        ]
        reading = self.provenance.get("input")
        if isinstance(reading, Mapping) and reading.get("malformed_lines"):
            shown = ", ".join(str(x) for x in list(reading.get("malformed_line_numbers", []))[:10])
            more = " ..." if int(reading["malformed_lines"]) > 10 else ""
            lines.append(
                f"{int(reading['malformed_lines']):,} malformed lines in the case file were not cases "
                f"(lines {shown}{more})."
            )
        return lines

    def __str__(self) -> str:
        head = self._HEAD
        rows = self._table_rows()
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
        lines = ["Triage summary per located country", *self._lead(), ""]
        lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        for row in rows:
            lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
        lines += ["", *self._footer()]
        return "\n".join(lines)

    def _footer(self) -> list[str]:
        prov = self.provenance
        out = []
        policy = prov.get("policy")
        if isinstance(policy, Mapping):
            out.append(
                f"Policy {policy.get('name')} (ipevidence {prov.get('library_version', __version__)})."
            )
        for db in prov.get("databases", []) or []:
            if isinstance(db, Mapping):
                out.append(
                    f"Database {db.get('name')} (built {db.get('build_date')}, SHA-256 {db.get('sha256')}): "
                    f"{int(db.get('cases', 0)):,} cases."
                )
        out.append("Countries, not regions: a valid case says the device was in that country, nothing finer.")
        return out

    def to_markdown(self, figure: str | None = None) -> str:
        """Markdown; ``figure`` is the file name of the bar chart to show (None: none)."""
        out = ["# Triage summary", "", *self._lead(), ""]
        if figure:
            out += [f"![Cases per located country, by outcome]({figure})", ""]
        out.append("| " + " | ".join(self._HEAD) + " |")
        out.append("|" + "---|" * len(self._HEAD))
        for row in self._table_rows():
            out.append("| " + " | ".join(str(x).replace("|", "\\|") for x in row) + " |")
        out += ["", "Reason codes: see docs/triage.md.", ""]
        out += [f"_{line}_" for line in self._footer()]
        return "\n".join(out) + "\n"

    def to_html(self, figure_uri: str | None = None) -> str:
        """A self-contained HTML page; ``figure_uri`` a data URI of the bar chart (None: none)."""
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in row) + "</tr>"
            for row in self._table_rows()
        )
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._HEAD)
        lead = "".join(f"<p>{html.escape(x)}</p>" for x in self._lead())
        fig = (
            f'<figure><img alt="Cases per located country, by outcome" src="{figure_uri}">'
            "<figcaption>Cases per located country, by outcome</figcaption></figure>"
            if figure_uri
            else ""
        )
        foot = "".join(f"<p><em>{html.escape(x)}</em></p>" for x in self._footer())
        codes = "".join(
            f"<tr><td><code>{html.escape(r.code)}</code></td><td>{html.escape(r.outcome)}</td>"
            f"<td>{html.escape(r.meaning)}</td></tr>"
            for r in REASONS
        )
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Triage summary</title>'
            "<style>body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse}"
            "td,th{border:1px solid #bbb;padding:.2em .5em;text-align:left}img{max-width:100%}</style>"
            f"</head><body><h1>Triage summary</h1>{lead}{fig}<table><thead><tr>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table><h2>Reason codes</h2><table><thead><tr><th>Code</th>"
            f"<th>Outcome</th><th>Meaning</th></tr></thead><tbody>{codes}</tbody></table>{foot}</body></html>\n"
        )
