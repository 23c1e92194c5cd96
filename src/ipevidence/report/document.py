"""The report document model: tables, figures, sections, and their HTML, Markdown and JSON forms.

A :class:`Report` is plain data. It renders to one self-contained HTML file (inline CSS, figures
embedded as base64 PNG, no external URL), to Markdown (figures as files beside it) and to canonical
JSON (the same content, figures named by file and SHA-256). The same report always renders to the
same bytes: no wall-clock time is written into it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .. import _io, _safetext
from .._format import Cell, format_cell
from .._version import __version__
from ..defaults import DATABASE_ATTRIBUTION
from ..jsonutil import canonical_json, to_jsonable

__all__ = [
    "Block",
    "Cell",
    "Figure",
    "Report",
    "ReportFiles",
    "Section",
    "Table",
    "atomic_write_bytes",
    "atomic_write_text",
    "format_cell",
]


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: the footer when no attribution is known for the data used
NO_ATTRIBUTION_NOTE = (
    "No attribution is recorded for the database used here; follow the licence of that database."
)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then os.replace.

    Missing parent directories are created; the file gets mode 0644 (a report is meant to be shared).
    """
    _io.atomic_write_bytes(path, data, make_parents=True)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomic UTF-8 text write (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _md_escape(text: str) -> str:
    # text from input files (database names, notes, addresses asked about) reaches Markdown through
    # here: controls, bidi overrides and newlines become visible escapes, markup is backslash-escaped
    return _safetext.markdown(text)


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text`` (so the text cannot close it)."""
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _strs(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _rows(rows: Iterable[Iterable[Cell]]) -> tuple[tuple[Cell, ...], ...]:
    return tuple(tuple(r) for r in rows)


def _tables(values: Iterable[Table]) -> tuple[Table, ...]:
    return tuple(values)


def _figures(values: Iterable[Figure]) -> tuple[Figure, ...]:
    return tuple(values)


def _sections(values: Iterable[Section]) -> tuple[Section, ...]:
    return tuple(values)


def _blocks(values: Iterable[Block]) -> tuple[Block, ...]:
    return tuple(values)


def _pairs(values: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in values)


@attrs.frozen
class Block:
    """A structured block rendered by its owner (a verdict): the same content as trusted, escaped
    HTML (``html``, written as it is), Markdown, plain text and JSON-ready ``data``.

    The owner escapes every input-derived text in ``html`` and ``markdown``; :meth:`Report.to_html`
    writes ``html`` unchanged, so only library renderers (``Verdict.to_html_block``) make blocks.
    """

    kind: str
    html: str
    markdown: str
    text: str
    data: Mapping[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "data": to_jsonable(dict(self.data))}


@attrs.frozen
class Table:
    """A titled table of plain cells (str, int, float or None), with an optional note under it."""

    title: str
    columns: tuple[str, ...] = attrs.field(converter=_strs)
    rows: tuple[tuple[Cell, ...], ...] = attrs.field(converter=_rows)
    note: str = ""

    def __attrs_post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.title!r}: row {i} has {len(row)} cells, expected {len(self.columns)}"
                )

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [list(r) for r in to_jsonable(self.rows)],
            "note": self.note,
        }

    def to_markdown(self, *, heading_level: int = 3) -> str:
        lines = [f"{'#' * heading_level} {_md_escape(self.title)}", ""] if self.title else []
        lines.append("| " + " | ".join(_md_escape(c) for c in self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        for row in self.rows:
            lines.append("| " + " | ".join(_md_escape(format_cell(v)) for v in row) + " |")
        if self.note:
            lines += ["", _md_escape(self.note)]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        out = ["<table>"]
        if self.title:
            out.append(f"<caption>{html.escape(self.title)}</caption>")
        out.append(
            "<thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in self.columns) + "</tr></thead>"
        )
        out.append("<tbody>")
        for row in self.rows:
            cells = []
            for v in row:
                cls = ' class="num"' if isinstance(v, int | float) and not isinstance(v, bool) else ""
                cells.append(f"<td{cls}>{html.escape(format_cell(v))}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
        if self.note:
            out.append(f'<p class="note">{html.escape(self.note)}</p>')
        return "\n".join(out)

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_pandas(self) -> Any:
        """The table as a pandas DataFrame (pandas is optional: ``pip install ipevidence[pandas]``)."""
        from .._optional import import_pandas

        pd = import_pandas("Table.to_pandas()")
        return pd.DataFrame([list(r) for r in self.rows], columns=list(self.columns))

    def __str__(self) -> str:
        plain = _safetext.plain
        cells = [[plain(c) for c in self.columns]]
        cells += [[plain(format_cell(v)) for v in row] for row in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.columns))]
        # numbers are right-aligned; a column of words (a rule, a reason) reads left-aligned
        numeric = [
            i > 0 and all(isinstance(row[i], int | float) or row[i] is None for row in self.rows)
            for i in range(len(self.columns))
        ]
        lines = [plain(self.title)] if self.title else []
        for j, r in enumerate(cells):
            line = "  ".join(
                c.rjust(w) if numeric[i] else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
            lines.append(line.rstrip())
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
        if self.note:
            lines.append(plain(self.note))
        return "\n".join(lines)


@attrs.frozen
class Figure:
    """A rendered figure: PNG bytes with a file stem, a title and a caption."""

    name: str
    title: str
    png: bytes = attrs.field(repr=False)
    caption: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.png.startswith(PNG_SIGNATURE):
            raise ValueError(f"figure {self.name!r} is not PNG data")

    @property
    def file_name(self) -> str:
        return f"{self.name}.png"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.png).hexdigest()

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "caption": self.caption,
            "file": f"figures/{self.file_name}",
            "sha256": self.sha256,
            "bytes": len(self.png),
        }

    def _repr_png_(self) -> bytes:
        return self.png


@attrs.frozen
class Section:
    """A report section: paragraphs, a bullet list, tables, figures and optional preformatted text."""

    title: str
    paragraphs: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    items: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    tables: tuple[Table, ...] = attrs.field(default=(), converter=_tables)
    figures: tuple[Figure, ...] = attrs.field(default=(), converter=_figures)
    preformatted: str = ""
    #: structured blocks (verdicts), rendered before the tables
    blocks: tuple[Block, ...] = attrs.field(default=(), converter=_blocks)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "title": self.title,
            "paragraphs": list(self.paragraphs),
            "items": list(self.items),
            "tables": [t.to_dict() for t in self.tables],
            "figures": [f.to_dict() for f in self.figures],
            "preformatted": self.preformatted,
        }
        if self.blocks:
            out["blocks"] = [b.to_dict() for b in self.blocks]
        return out


#: a list of records longer than this is summarised in the HTML/Markdown (always whole in the JSON)
MAX_PROVENANCE_ROWS = 5000


def _css_string(text: str) -> str:
    """``text`` as a CSS string literal: every character but letters, digits and spaces escaped as
    ``\\HHHHHH`` plus the space that ends an escape (so no input can close the string, the rule or
    the style element)."""
    out = []
    for ch in text:
        if ch.isascii() and (ch.isalnum() or ch == " "):
            out.append(ch)
        else:
            out.append(f"\\{ord(ch):06x} ")  # the space ends the escape and is consumed by it
    return '"' + "".join(out) + '"'


def _scalar_text(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, list | tuple):
        text = ", ".join(str(v) for v in value) if value else "(none)"
        if len(text) > 300:
            text = text[:300] + f"… ({len(value)} entries, all listed in the JSON report)"
        return text
    return str(value)


def _is_flat(value: Any) -> bool:
    return not isinstance(value, Mapping) and not (
        isinstance(value, list | tuple) and any(isinstance(v, Mapping | list | tuple) for v in value)
    )


def _provenance_parts(prefix: str, value: Any, items: list[tuple[Cell, ...]], tables: list[Table]) -> None:
    """Split a provenance mapping into (dotted key, text) rows and one table per list of flat records."""
    if isinstance(value, Mapping):
        for k in sorted(value, key=str):
            _provenance_parts(f"{prefix}.{k}" if prefix else str(k), value[k], items, tables)
    elif isinstance(value, list | tuple) and value and all(isinstance(v, Mapping) for v in value):
        flat = all(_is_flat(x) for v in value for x in v.values())
        if flat and len(value) <= MAX_PROVENANCE_ROWS:
            columns: list[str] = []
            for v in value:
                columns += [str(k) for k in v if str(k) not in columns]
            rows = [tuple(_scalar_text(v.get(c)) for c in columns) for v in value]
            tables.append(Table(prefix, columns, rows))
        else:
            items.append((prefix, f"{len(value)} entries (all listed in the JSON report)"))
    else:
        items.append((prefix, _scalar_text(value)))


@attrs.frozen
class ReportFiles:
    """Where :meth:`Report.write` put the report."""

    html: Path
    markdown: Path
    json: Path
    figures: tuple[Path, ...]
    #: the set's SHA-256 manifest (``sha256sum`` format), written last: see :meth:`Report.write`
    manifest: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "html": str(self.html),
            "markdown": str(self.markdown),
            "json": str(self.json),
            "figures": [str(p) for p in self.figures],
            "manifest": str(self.manifest) if self.manifest is not None else None,
        }

    def __str__(self) -> str:
        lines = [
            f"HTML report:     {self.html}",
            f"Markdown report: {self.markdown}",
            f"JSON report:     {self.json}",
        ]
        if self.figures:
            lines.append(f"figures:         {len(self.figures)} PNG files in {self.figures[0].parent}")
        if self.manifest is not None:
            lines.append(f"SHA-256 manifest: {self.manifest} (written last; sha256sum -c checks the set)")
        return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;max-width:62rem;
margin:2rem auto;padding:0 1rem;color:#1d232a;line-height:1.45}
h1{font-size:1.7rem;border-bottom:2px solid #345;padding-bottom:.3rem}
h2{font-size:1.3rem;margin-top:2.2rem;border-bottom:1px solid #ccd}
h3{font-size:1.1rem;margin:1.4rem 0 .4rem}
p,li,dd,td,th,caption,figcaption{overflow-wrap:break-word}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem;max-width:100%}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #c8ccd2;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#eef1f5}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.sign{text-align:center;white-space:nowrap}
figure{margin:1.2rem 0}figure img{max-width:100%;border:1px solid #dde}
figcaption{font-size:.85rem;color:#445}
pre{background:#f5f6f8;padding:.7rem;font-size:.8rem;border:1px solid #dde;white-space:pre-wrap;
overflow-wrap:anywhere}
.note{font-size:.85rem;color:#445}
.notes{background:#fff6e0;border-left:4px solid #e0a800;padding:.5rem 1rem}
.case{border:1px solid #345;padding:.4rem .8rem;margin:1rem 0}
.case dl,.verdict-facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.3rem 0}
.case dt,.verdict-facts dt{font-weight:600}.case dd,.verdict-facts dd{margin:0}
.hash{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.85em;overflow-wrap:anywhere}
.verdict{border:1px solid #c8ccd2;border-left:6px solid #888;padding:.2rem 1rem .6rem;margin:1.2rem 0}
.verdict-valid{border-left-color:#2a7a3a}.verdict-not-valid{border-left-color:#b00020}
.verdict-insufficient-data{border-left-color:#c88a00}
.verdict-reason{font-size:1.02rem}
.verdict table.criteria{width:100%}
td.result-pass{color:#1f5f2c}td.result-fail{color:#a0001c;font-weight:600}td.result-flag{color:#8a5a00}
details.provenance>summary{cursor:pointer;font-weight:600}
footer{margin-top:3rem;font-size:.8rem;color:#556;border-top:1px solid #ccd;padding-top:.5rem}
@page{size:A4;margin:18mm 14mm 18mm 14mm;
@bottom-right{content:"Page " counter(page) " of " counter(pages);font-size:8pt;color:#556}}
@media print{
body{max-width:none;margin:0;padding:0;font-size:9.5pt;line-height:1.35}
h1{font-size:16pt}h2{font-size:13pt;break-after:avoid}h3{font-size:11pt;break-after:avoid}
section+section{break-before:page}
table{font-size:8.5pt;page-break-inside:auto}
thead{display:table-header-group}
tr,figure,.case,.verdict-facts dt,.verdict-facts dd,caption{break-inside:avoid}
caption{break-after:avoid}
figure img{max-height:150mm;width:auto;max-width:100%}
figure{break-inside:avoid}
.verdict{border-left-width:4px;padding:0 .6rem .3rem;margin:.6rem 0}
.verdict+.verdict{break-before:page}
.verdict h3{margin:.5rem 0 .2rem}.verdict p{margin:.3rem 0}.verdict ul{margin:.2rem 0}
.verdict table.criteria{font-size:7.8pt;margin:.4rem 0}
.verdict table.criteria td,.verdict table.criteria th{padding:.1rem .35rem}
.verdict-facts{font-size:8.3pt;gap:.1rem .8rem}
.verdict-reason{font-size:10pt}
.note,figcaption,footer{font-size:8pt}
td.num,td.sign{white-space:nowrap}
details.provenance>summary{list-style:none}
a{color:inherit;text-decoration:none}
}
"""


def _days_text(records: Any, limit: int = 8) -> str:
    if not isinstance(records, list | tuple) or not records:
        return ""
    parts = []
    for r in records[:limit]:
        if isinstance(r, Mapping):
            reason = r.get("reason")
            parts.append(f"{r.get('day')}" + (f" ({reason})" if reason else ""))
        else:
            parts.append(str(r))
    more = f" and {len(records) - limit} more" if len(records) > limit else ""
    return ", ".join(parts) + more


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def provenance_summary(provenance: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The short "How this was computed" of a report's provenance: library, archive days used,
    missing and corrupt, ground truth, database (name, build date, SHA-256), method and intervals.
    Keys a provenance lacks are left out; the full provenance stays in the appendix and the JSON."""
    prov = to_jsonable(dict(provenance))
    rows: list[tuple[str, str]] = []
    if prov.get("library_version"):
        rows.append(("Software", f"ipevidence {prov['library_version']}"))
    gt = prov.get("ground_truth")
    if isinstance(gt, Mapping):
        arch = gt.get("archive")
        if isinstance(arch, Mapping):
            missing = arch.get("days_missing") or []
            corrupt = arch.get("days_corrupt") or []
            text = (
                f"{arch.get('days_used', 0):,} used, {len(missing):,} missing, {len(corrupt):,} corrupt, "
                f"from {arch.get('start')} to {arch.get('end')} ({arch.get('source')})"
            )
            if corrupt:
                text += f"; corrupt: {_days_text(corrupt)}"
            if missing:
                text += f"; missing: {_days_text(missing)}"
            rows.append(("Archive days", text + ". Each file's SHA-256 is in the appendix and the JSON."))
        years = gt.get("years") or []
        span = f", {years[0]}-{years[1]}" if len(years) == 2 else ""
        raw = gt.get("parameters")
        params: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        every = params.get("every")
        sampled = f", every {_ordinal(every)} archive day" if isinstance(every, int) and every > 1 else ""
        rows.append(
            (
                "Ground truth",
                f"{gt.get('rows', 0):,} IPv{gt.get('family', '?')} addresses{span}; preset "
                f"{params.get('preset', '?')}, de-duplication {params.get('dedup', '?')}{sampled}",
            )
        )
    db = prov.get("database")
    if isinstance(db, Mapping):
        rows.append(
            ("Database", f"{db.get('name')}, built {db.get('build_date')}, SHA-256 {db.get('sha256')}")
        )
    policy = prov.get("policy")
    method = []
    if isinstance(policy, Mapping) and policy.get("name"):
        method.append(f"policy preset {policy['name']}")
    if prov.get("evidence_date"):
        method.append(f"evidence date {prov['evidence_date']}")
    window = prov.get("window")
    if isinstance(window, list) and len(window) == 2:
        method.append(f"window {window[0]}-{window[1]}")
    if isinstance(prov.get("threshold"), int | float):
        method.append(f"threshold {100 * prov['threshold']:g} %")
    iv = prov.get("intervals")
    if isinstance(iv, Mapping) and iv.get("method"):
        method.append(f"{100 * float(iv.get('level', 0.95)):g} % {iv['method']} intervals")
    if prov.get("not_located"):
        method.append(f"not-located addresses {prov['not_located']}d")
    if method:
        rows.append(("Method", "; ".join(method)))
    return rows


@attrs.frozen
class Report:
    """A whole report: sections, warnings, the full provenance, and the data attributions.

    Rendering appends "How this was computed" (a short summary from ``provenance`` plus the
    ``summary`` rows the builder adds, e.g. the parameters that differ from the preset) and an
    appendix with the full provenance (collapsed in HTML; whole in the JSON). ``case_id`` and
    ``examiner`` are printed in a header (and in the page margin on paper) only when given.
    """

    title: str
    sections: tuple[Section, ...] = attrs.field(converter=_sections)
    provenance: Mapping[str, Any] = attrs.field(factory=dict)
    notes: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    attribution: tuple[str, ...] = attrs.field(default=(DATABASE_ATTRIBUTION,), converter=_strs)
    generator: str = f"ipevidence {__version__}"
    summary: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)
    case_id: str | None = None
    examiner: str | None = None

    def _attribution_lines(self) -> tuple[str, ...]:
        return self.attribution or (NO_ATTRIBUTION_NOTE,)

    @property
    def figures(self) -> tuple[Figure, ...]:
        return tuple(f for s in self.sections for f in s.figures)

    @property
    def tables(self) -> tuple[Table, ...]:
        return tuple(t for s in self.sections for t in s.tables)

    def summary_rows(self) -> list[tuple[str, str]]:
        """The rows of "How this was computed" (see :func:`provenance_summary`)."""
        return [*provenance_summary(self.provenance), *self.summary]

    def _case_rows(self) -> list[tuple[str, str]]:
        """The case fields given, controls and bidi overrides shown as visible escapes (they are
        typed by a user, but may be pasted from anywhere)."""
        rows = []
        if self.case_id:
            rows.append(("Case reference", _safetext.plain(self.case_id)))
        if self.examiner:
            rows.append(("Examiner", _safetext.plain(self.examiner)))
        return rows

    def provenance_section(self) -> Section:
        """The short "How this was computed" section (the full list is :meth:`appendix_section`)."""
        return Section(
            title="How this was computed",
            paragraphs=(
                "A summary of what another expert needs to reproduce this report. The appendix lists "
                "the full provenance (every parameter, every archive day with its file's SHA-256, the "
                "filter funnel); the JSON report holds it whole. The same inputs and parameters give "
                "byte-identical JSON.",
            ),
            tables=(Table("", ("item", "value"), self.summary_rows()),),
        )

    def appendix_section(self) -> Section:
        """The full provenance as tables (the HTML shows it collapsed)."""
        rows: list[tuple[Cell, ...]] = []
        tables: list[Table] = []
        _provenance_parts("", to_jsonable(self.provenance), rows, tables)
        return Section(
            title="Appendix: full provenance",
            paragraphs=(
                "Every recorded item: the library version, the method preset and every parameter, the "
                "archive days used, missing and corrupt with each file's SHA-256, the filter funnel, "
                "and the geolocation database's file name, SHA-256 and build date.",
            ),
            tables=((Table("Provenance", ("item", "value"), rows),) if rows else ()) + tuple(tables),
        )

    def _all_sections(self) -> tuple[Section, ...]:
        return (*self.sections, self.provenance_section())

    def to_dict(self) -> dict[str, Any]:
        out = {
            "title": self.title,
            "generator": self.generator,
            "notes": list(self.notes),
            "sections": [s.to_dict() for s in self.sections],
            "how_computed": [list(r) for r in self.summary_rows()],
            "provenance": to_jsonable(self.provenance),
            "attribution": list(self.attribution),
        }
        if self.case_id or self.examiner:
            out["case"] = {"case_id": self.case_id, "examiner": self.examiner}
        return out

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    # ----------------------------------------------------------------- Markdown
    def _section_markdown(self, sec: Section, figure_dir: str) -> list[str]:
        m = _md_escape
        out = [f"## {m(sec.title)}", ""]
        for p in sec.paragraphs:
            out += [m(p), ""]
        if sec.items:
            out += [f"- {m(it)}" for it in sec.items] + [""]
        if sec.preformatted:
            # inside a fence Markdown is literal: only controls need neutralising, line by line
            pre = "\n".join(_safetext.plain(x) for x in sec.preformatted.rstrip("\n").split("\n"))
            out += [_fence(pre), pre, _fence(pre), ""]
        for b in sec.blocks:
            out += [b.markdown.rstrip("\n"), ""]
        for t in sec.tables:
            out += [t.to_markdown(), ""]
        for f in sec.figures:
            out += [f"![{m(f.title)}]({figure_dir}/{f.file_name})", ""]
            if f.caption:
                out += [f"*{m(f.caption)}*", ""]
        return out

    def to_markdown(self, *, figure_dir: str = "figures") -> str:
        m = _md_escape
        out = [f"# {m(self.title)}", ""]
        out += [f"**{m(k)}:** {m(v)}  " for k, v in self._case_rows()]
        if self._case_rows():
            out.append("")
        out += [f"*Generated by {m(self.generator)}.*", ""]
        if self.notes:
            out += ["> **Notes**", ">"] + [f"> - {m(n)}" for n in self.notes] + [""]
        for sec in self._all_sections():
            out += self._section_markdown(sec, figure_dir)
        out += ["## Data attribution", ""] + [f"- {m(a)}" for a in self._attribution_lines()] + [""]
        out += self._section_markdown(self.appendix_section(), figure_dir)
        return "\n".join(out).rstrip("\n") + "\n"

    # --------------------------------------------------------------------- HTML
    def _page_css(self) -> str:
        """The page margin's case line on paper (only when a case reference or examiner is given)."""
        rows = self._case_rows()
        if not rows:
            return ""
        text = " \u00b7 ".join(f"{k}: {v}" for k, v in rows)
        return f"@page{{@top-left{{content:{_css_string(text)};font-size:8pt;color:#556}}}}"

    def to_html(self) -> str:
        e = html.escape
        out = [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(self.title)}</title>",
            f"<style>{_CSS}{self._page_css()}</style>",
            "</head>",
            "<body>",
            f"<h1>{e(self.title)}</h1>",
        ]
        case = self._case_rows()
        if case:
            out.append('<div class="case"><dl>')
            out += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in case]
            out.append("</dl></div>")
        out.append(f'<p class="note">Generated by {e(self.generator)}.</p>')
        if self.notes:
            out.append('<div class="notes"><strong>Notes</strong><ul>')
            out += [f"<li>{e(n)}</li>" for n in self.notes]
            out.append("</ul></div>")
        out.append(self._body_html())
        out.append("<footer><p><strong>Data attribution</strong></p><ul>")
        # attribution URLs are plain text on purpose: the file links to nothing outside itself
        out += [f"<li>{e(a)}</li>" for a in self._attribution_lines()]
        out.append("</ul></footer>")
        out.append(self._appendix_html())
        out += ["</body>", "</html>"]
        return "\n".join(out) + "\n"

    @staticmethod
    def _section_html(sec: Section) -> list[str]:
        e = html.escape
        out = [f"<h2>{e(sec.title)}</h2>"]
        out += [f"<p>{e(p)}</p>" for p in sec.paragraphs]
        if sec.items:
            out.append("<ul>" + "".join(f"<li>{e(it)}</li>" for it in sec.items) + "</ul>")
        if sec.preformatted:
            out.append(f"<pre>{e(sec.preformatted)}</pre>")
        out += [b.html for b in sec.blocks]
        out += [t.to_html() for t in sec.tables]
        for f in sec.figures:
            out.append(
                f'<figure><img alt="{e(f.title)}" src="{f.data_uri()}">'
                f"<figcaption><strong>{e(f.title)}.</strong> {e(f.caption)}</figcaption></figure>"
            )
        return out

    def _body_html(self) -> str:
        out: list[str] = []
        for sec in self._all_sections():
            out += ["<section>", *self._section_html(sec), "</section>"]
        return "\n".join(out)

    def _appendix_html(self) -> str:
        sec = self.appendix_section()
        n = sum(len(t.rows) for t in sec.tables)
        e = html.escape
        return "\n".join(
            [
                '<section class="appendix">',
                f"<h2>{e(sec.title)}</h2>",
                *(f"<p>{e(p)}</p>" for p in sec.paragraphs),
                '<details class="provenance">',
                f"<summary>{n:,} rows in {len(sec.tables)} tables (collapsed; open to read them here, or "
                "read the JSON report)</summary>",
                *(t.to_html() for t in sec.tables),
                "</details>",
                "</section>",
            ]
        )

    def _repr_html_(self) -> str:
        return f"<div><h1>{html.escape(self.title)}</h1>{self._body_html()}</div>"

    def __str__(self) -> str:
        p = _safetext.plain
        lines = [p(self.title), "=" * len(p(self.title))]
        lines += [f"{k}: {p(v)}" for k, v in self._case_rows()]
        lines += [f"note: {p(n)}" for n in self.notes]
        for sec in self.sections:
            lines += ["", p(sec.title), "-" * len(p(sec.title))]
            lines += [p(x) for x in sec.paragraphs]
            lines += [f"  - {p(it)}" for it in sec.items]
            if sec.preformatted:
                lines += [p(x) for x in sec.preformatted.rstrip("\n").split("\n")]
            for b in sec.blocks:
                lines += ["", *(p(x) for x in b.text.rstrip("\n").split("\n"))]
            for t in sec.tables:
                lines += ["", str(t)]
            lines += [f"[figure: {p(f.title)}]" for f in sec.figures]
        lines += ["", "How this was computed", "-" * 21]
        lines += [f"{k}: {p(v)}" for k, v in self.summary_rows()]
        lines += ["", *(p(a) for a in self.attribution)]
        return "\n".join(lines)

    # -------------------------------------------------------------------- files
    def write(self, out_dir: str | os.PathLike[str], *, stem: str = "report") -> ReportFiles:
        """Write ``stem.html`` (self-contained), ``stem.md``, ``stem.json``, ``figures/*.png`` and
        the manifest ``stem.sha256`` as ONE set (:func:`ipevidence._io.write_file_set`): a new
        folder appears whole; in an existing folder the manifest is written last, so a set whose
        manifest is missing or does not match (``sha256sum -c stem.sha256``) is incomplete.
        Everything is rendered before the first file is touched."""
        out = Path(out_dir)
        files: dict[str, bytes] = {f"figures/{f.file_name}": f.png for f in self.figures}
        files[f"{stem}.html"] = self.to_html().encode("utf-8")
        files[f"{stem}.md"] = self.to_markdown().encode("utf-8")
        files[f"{stem}.json"] = self.to_json().encode("utf-8")
        _io.write_file_set(out, files, manifest=f"{stem}.sha256")
        return ReportFiles(
            html=out / f"{stem}.html",
            markdown=out / f"{stem}.md",
            json=out / f"{stem}.json",
            figures=tuple(out / "figures" / f.file_name for f in self.figures),
            manifest=out / f"{stem}.sha256",
        )


def table_from_records(
    title: str, records: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, note: str = ""
) -> Table:
    """A :class:`Table` from a list of mappings (columns: the given ones, else the first record's keys)."""
    cols = tuple(columns) if columns is not None else (tuple(records[0]) if records else ())
    rows: list[tuple[Cell, ...]] = []
    for r in records:
        row: list[Cell] = []
        for c in cols:
            v = to_jsonable(r.get(c))
            row.append(v if v is None or isinstance(v, str | int | float) else str(v))
        rows.append(tuple(row))
    return Table(title, cols, tuple(rows), note)
