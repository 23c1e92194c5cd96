"""Rendering of a :class:`~.analysis.TamperReport` as deterministic JSON and as Markdown.

This module knows the report only through the :class:`RenderableReport` protocol, so it imports
nothing from :mod:`.analysis` (which imports it): no mutual import. Every text that came from a log
(account, service and event names, source file names, explanations quoting them) goes through
:func:`ipevidence._safetext.markdown` in Markdown: control characters, newlines and bidi overrides
become visible escapes and Markdown/HTML markup is backslash-escaped. JSON keeps the exact values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .._safetext import markdown
from .._version import __version__
from ..jsonutil import canonical_json

__all__ = ["RenderableReport", "render_json", "render_markdown"]


class RenderableReport(Protocol):
    """What the renderers need of a :class:`~.analysis.TamperReport`."""

    @property
    def parameters(self) -> Any: ...
    @property
    def databases(self) -> Sequence[Any]: ...
    @property
    def sources(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def findings(self) -> Sequence[Any]: ...
    @property
    def void_windows(self) -> Sequence[Any]: ...
    @property
    def accounts(self) -> Sequence[str]: ...

    def summary(self) -> dict[str, Any]: ...
    def windows(self, account: str | None = None) -> Sequence[Any]: ...
    def timeline(self, account: str) -> Sequence[Any]: ...
    def to_dict(self, *, timelines: bool = True, windows: bool = True) -> dict[str, Any]: ...


def render_json(report: RenderableReport, *, timelines: bool = True, windows: bool = True) -> str:
    """Canonical JSON (sorted keys; the same inputs give the same bytes), with the library version."""
    data = report.to_dict(timelines=timelines, windows=windows)
    data["library_version"] = __version__
    return canonical_json(data)


def _cell(text: object) -> str:
    return markdown(text)


def render_markdown(report: RenderableReport, *, timelines: bool = True) -> str:
    """A Markdown report: summary, parameters, databases, findings, void windows, per-account detail."""
    s = report.summary()
    p = report.parameters
    out: list[str] = ["# Tampered evidence analysis", ""]
    out.append(str(report))
    out += ["", "## Parameters", ""]
    out.append(f"- maximum speed: {p.max_speed_kmh:g} km/h")
    out.append(f"- cross-service window: {p.cross_service_window_s} s")
    out.append(f"- evidence window: {p.window_s} s (aligned to the Unix epoch, UTC)")
    out.append(f"- private/reserved addresses flagged: {'yes' if p.expect_public else 'no'}")
    out.append(f"- cloud/hosting ASNs: {', '.join(str(a) for a in sorted(p.hosting_asns)) or 'none'}")
    out.append(f"- network lists: {', '.join(p.networks) or 'none'}")
    out.append(f"- country distance: {p.distance}; margin {p.distance_margin_km:g} km")
    out.append(
        "- distance territory: "
        + (
            "main territories (overseas parts and distant exclaves left out)"
            if p.distance_territory == "main"
            else "whole countries (overseas parts included)"
        )
    )
    out.append(f"- ipevidence {__version__}")
    out += [
        "",
        "## Databases",
        "",
        "| file | kind | build date | SHA-256 | entries located with it |",
        "|---|---|---|---|---|",
    ]
    per_db = s["entries_per_database"]
    for d in report.databases:
        out.append(
            f"| {_cell(d.name)} | {_cell(d.kind)} | {d.build_date.isoformat()} | `{d.sha256}` | "
            f"{per_db.get(d.name, 0)} |"
        )
    if s["entries_database_after"]:
        out.append("")
        out.append(
            f"{s['entries_database_after']} entries predate every database and were geolocated with the "
            f"earliest one (built after them)."
        )
    if report.sources:
        out += [
            "",
            "## Sources",
            "",
            "| source | format | lines | entries | malformed | not entries | encoding | bytes replaced |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for src in report.sources:
            ign = sum(src["not_entries"].values())
            out.append(
                f"| {_cell(src['source'])} | {src['format']} | {src['lines']} | {src['entries']} | "
                f"{src['malformed']} | {ign} | {_cell(src.get('encoding') or '-')} | "
                f"{src.get('replaced_bytes', 0)} |"
            )
        for src in report.sources:
            if src["malformed"]:
                lines = ", ".join(str(x) for x in src["malformed_lines"])
                more = " ..." if src["malformed"] > len(src["malformed_lines"]) else ""
                out.append(f"\nMalformed lines in {_cell(src['source'])}: {lines}{more}")
            if src.get("replaced_bytes"):
                out.append(
                    f"\n{src['replaced_bytes']} bytes of {_cell(src['source'])} are not valid "
                    f"{_cell(src.get('encoding'))} and were read as U+FFFD: an account name may be split "
                    f"in two; give the file's encoding."
                )
    out += ["", "## Findings", ""]
    if not report.findings:
        out += ["No finding: nothing in these entries makes their country location evidence void.", ""]
    for f in report.findings:
        out.append(f"### {f.id}: {f.kind.replace('_', ' ')} ({_cell(f.account)})")
        out.append("")
        out.append(_cell(f.explanation))
        out.append("")
        out.append("| time | service | event | address | country | network | line |")
        out.append("|---|---|---|---|---|---|---|")
        for e in f.entries:
            out.append(
                f"| {e.entry.timestamp.isoformat()} | {_cell(e.entry.service)} | {_cell(e.entry.event)} | "
                f"{_cell(e.entry.address)} | {e.country or '-'} | {_cell(e.network or '')} | {e.entry.line} |"
            )
        out.append("")
    out += ["## Evidence windows", ""]
    out.append(
        f"{s['windows']} account windows: {s['windows_stand']} stand, {s['windows_void']} void, "
        f"{s['windows_no_evidence']} without located entries."
    )
    void = report.void_windows
    if void:
        out += [
            "",
            "| account | window start (UTC) | entries | countries | void because |",
            "|---|---|---|---|---|",
        ]
        for w in void:
            out.append(
                f"| {_cell(w.account)} | {w.start.isoformat()} | {w.entries} | "
                f"{_cell(', '.join(w.countries) or '-')} | {_cell('; '.join(w.reasons))} |"
            )
    if timelines:
        out += ["", "## Accounts", ""]
        for a in report.accounts:
            out.append(f"### {_cell(a)}")
            out.append("")
            for w in report.windows(a):
                out.append(f"- {_cell(str(w))}")
            out.append("")
            out.append("| time | service | event | address | country | database | line |")
            out.append("|---|---|---|---|---|---|---|")
            for e in report.timeline(a):
                db = (e.database or "-") + (" (built after)" if e.database_after else "")
                out.append(
                    f"| {e.entry.timestamp.isoformat()} | {_cell(e.entry.service)} | "
                    f"{_cell(e.entry.event)} | {_cell(e.entry.address)} | {e.country or '-'} | {_cell(db)} | "
                    f"{e.entry.line} |"
                )
            out.append("")
    return "\n".join(out).rstrip() + "\n"
