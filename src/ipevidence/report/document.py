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
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas() needs pandas: pip install 'ipevidence[pandas]'") from exc
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "paragraphs": list(self.paragraphs),
            "items": list(self.items),
            "tables": [t.to_dict() for t in self.tables],
            "figures": [f.to_dict() for f in self.figures],
            "preformatted": self.preformatted,
        }


#: a list of records longer than this is summarised in the HTML/Markdown (always whole in the JSON)
MAX_PROVENANCE_ROWS = 5000


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
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:62rem;margin:2rem auto;
padding:0 1rem;color:#1d232a;line-height:1.45}
h1{font-size:1.7rem;border-bottom:2px solid #345;padding-bottom:.3rem}
h2{font-size:1.3rem;margin-top:2.2rem;border-bottom:1px solid #ccd}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #c8ccd2;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#eef1f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1.2rem 0}figure img{max-width:100%;border:1px solid #dde}
figcaption{font-size:.85rem;color:#445}
pre{background:#f5f6f8;padding:.7rem;overflow-x:auto;font-size:.8rem;border:1px solid #dde}
.note{font-size:.85rem;color:#445}
.notes{background:#fff6e0;border-left:4px solid #e0a800;padding:.5rem 1rem}
footer{margin-top:3rem;font-size:.8rem;color:#556;border-top:1px solid #ccd;padding-top:.5rem}
"""


@attrs.frozen
class Report:
    """A whole report: sections, warnings, the full provenance, and the data attributions.

    The section "How this was computed" is always appended from ``provenance`` when rendering.
    """

    title: str
    sections: tuple[Section, ...] = attrs.field(converter=_sections)
    provenance: Mapping[str, Any] = attrs.field(factory=dict)
    notes: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    attribution: tuple[str, ...] = attrs.field(default=(DATABASE_ATTRIBUTION,), converter=_strs)
    generator: str = f"ipevidence {__version__}"

    def _attribution_lines(self) -> tuple[str, ...]:
        return self.attribution or (NO_ATTRIBUTION_NOTE,)

    @property
    def figures(self) -> tuple[Figure, ...]:
        return tuple(f for s in self.sections for f in s.figures)

    @property
    def tables(self) -> tuple[Table, ...]:
        return tuple(t for s in self.sections for t in s.tables)

    def provenance_section(self) -> Section:
        rows: list[tuple[Cell, ...]] = []
        tables: list[Table] = []
        _provenance_parts("", to_jsonable(self.provenance), rows, tables)
        return Section(
            title="How this was computed",
            paragraphs=(
                "Everything needed to reproduce this report: the library version, the method preset and "
                "every parameter, the archive days used, missing and corrupt (with each file's SHA-256 in "
                "the JSON report), the filter funnel, and the geolocation database's file name, SHA-256 "
                "and build date. The same inputs and parameters give byte-identical JSON.",
            ),
            tables=((Table("Provenance", ("item", "value"), rows),) if rows else ()) + tuple(tables),
        )

    def _all_sections(self) -> tuple[Section, ...]:
        return (*self.sections, self.provenance_section())

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "generator": self.generator,
            "notes": list(self.notes),
            "sections": [s.to_dict() for s in self.sections],
            "provenance": to_jsonable(self.provenance),
            "attribution": list(self.attribution),
        }

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    # ----------------------------------------------------------------- Markdown
    def to_markdown(self, *, figure_dir: str = "figures") -> str:
        m = _md_escape
        out = [f"# {m(self.title)}", "", f"*Generated by {m(self.generator)}.*", ""]
        if self.notes:
            out += ["> **Notes**", ">"] + [f"> - {m(n)}" for n in self.notes] + [""]
        for sec in self._all_sections():
            out += [f"## {m(sec.title)}", ""]
            for p in sec.paragraphs:
                out += [m(p), ""]
            if sec.items:
                out += [f"- {m(it)}" for it in sec.items] + [""]
            if sec.preformatted:
                # inside a fence Markdown is literal: only controls need neutralising, line by line
                pre = "\n".join(_safetext.plain(x) for x in sec.preformatted.rstrip("\n").split("\n"))
                out += [_fence(pre), pre, _fence(pre), ""]
            for t in sec.tables:
                out += [t.to_markdown(), ""]
            for f in sec.figures:
                out += [f"![{m(f.title)}]({figure_dir}/{f.file_name})", ""]
                if f.caption:
                    out += [f"*{m(f.caption)}*", ""]
        out += ["## Data attribution", ""] + [f"- {m(a)}" for a in self._attribution_lines()] + [""]
        return "\n".join(out).rstrip("\n") + "\n"

    # --------------------------------------------------------------------- HTML
    def to_html(self) -> str:
        e = html.escape
        out = [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(self.title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            f"<h1>{e(self.title)}</h1>",
            f'<p class="note">Generated by {e(self.generator)}.</p>',
        ]
        if self.notes:
            out.append('<div class="notes"><strong>Notes</strong><ul>')
            out += [f"<li>{e(n)}</li>" for n in self.notes]
            out.append("</ul></div>")
        out.append(self._body_html())
        out.append("<footer><p><strong>Data attribution</strong></p><ul>")
        # attribution URLs are plain text on purpose: the file links to nothing outside itself
        out += [f"<li>{e(a)}</li>" for a in self._attribution_lines()]
        out += ["</ul></footer>", "</body>", "</html>"]
        return "\n".join(out) + "\n"

    def _body_html(self) -> str:
        e = html.escape
        out: list[str] = []
        for sec in self._all_sections():
            out.append("<section>")
            out.append(f"<h2>{e(sec.title)}</h2>")
            out += [f"<p>{e(p)}</p>" for p in sec.paragraphs]
            if sec.items:
                out.append("<ul>" + "".join(f"<li>{e(it)}</li>" for it in sec.items) + "</ul>")
            if sec.preformatted:
                out.append(f"<pre>{e(sec.preformatted)}</pre>")
            out += [t.to_html() for t in sec.tables]
            for f in sec.figures:
                out.append(
                    f'<figure><img alt="{e(f.title)}" src="{f.data_uri()}">'
                    f"<figcaption><strong>{e(f.title)}.</strong> {e(f.caption)}</figcaption></figure>"
                )
            out.append("</section>")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        return f"<div><h1>{html.escape(self.title)}</h1>{self._body_html()}</div>"

    def __str__(self) -> str:
        p = _safetext.plain
        lines = [p(self.title), "=" * len(p(self.title))]
        lines += [f"note: {p(n)}" for n in self.notes]
        for sec in self.sections:
            lines += ["", p(sec.title), "-" * len(p(sec.title))]
            lines += [p(x) for x in sec.paragraphs]
            lines += [f"  - {p(it)}" for it in sec.items]
            if sec.preformatted:
                lines += [p(x) for x in sec.preformatted.rstrip("\n").split("\n")]
            for t in sec.tables:
                lines += ["", str(t)]
            lines += [f"[figure: {p(f.title)}]" for f in sec.figures]
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
