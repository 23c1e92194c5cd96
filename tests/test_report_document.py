"""The report document model: tables, figures, HTML (well-formed, self-contained), Markdown, JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipevidence.defaults import DATABASE_ATTRIBUTION
from ipevidence.report import (
    Figure,
    NaiveComparison,
    Report,
    Section,
    Table,
    YearSeries,
    accuracy_figure,
    coverage_map_figure,
    lr_figure,
    naive_methods_figure,
    table_from_records,
)
from ipevidence.report.document import PNG_SIGNATURE, format_cell

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Checker(HTMLParser):
    """Checks nesting and collects every src/href."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.images = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for k, v in attrs:
            if k in ("src", "href") and v is not None:
                self.urls.append(v)
        if tag == "img":
            self.images += 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def check_html(text: str) -> _Checker:
    """Assert the HTML is well-formed and links to nothing outside itself; return the checker."""
    c = _Checker()
    c.feed(text)
    c.close()
    assert not c.errors, c.errors
    assert not c.stack, f"unclosed tags {c.stack}"
    for url in c.urls:
        assert url.startswith("data:") or url.startswith("#"), f"external reference {url[:60]}"
    assert "<link" not in text.lower()
    return c


def _sample_report(with_figures: bool = True) -> Report:
    series = [
        YearSeries("DE", (2016, 2017, 2018), (0.97, 0.99, 0.96), (0.95, 0.98, 0.93), (0.985, 0.995, 0.98)),
        YearSeries("IT", (2016, 2017, 2018), (0.93, None, 0.97), (0.9, None, 0.95), (0.96, None, 0.985)),
    ]
    figs: list[Figure] = []
    if with_figures:
        f = accuracy_figure(series)
        assert f is not None
        figs.append(f)
    t = Table(
        "Table 8 <evidential>",
        ("country", "Hist min", "Hist all", "addresses", "valid"),
        [("DE", 0.96, 0.973, 12345, "yes"), ("IT | x", 0.93, None, 99, "no")],
        note="intervals: Wilson 95 %",
    )
    return Report(
        title="Evidence & report",
        sections=[Section("Tables", paragraphs=["A <b>paragraph</b> & more."], tables=[t], figures=figs)],
        provenance={"library_version": "0.1", "database": {"name": "X.BIN", "sha256": "ab" * 32}, "days": []},
        notes=["a note"],
    )


def test_table_renders_in_every_form() -> None:
    t = Table("T", ("a", "b"), [("x", 1.23456), (None, 123456)])
    md = t.to_markdown()
    assert "| a | b |" in md
    assert "| x | 1.23 |" in md
    assert "| – | 123,456 |" in md
    assert t.to_dict() == {
        "title": "T",
        "columns": ["a", "b"],
        "rows": [["x", 1.23456], [None, 123456]],
        "note": "",
    }
    assert "<caption>T</caption>" in t._repr_html_()
    text = str(t)
    assert text.splitlines()[0] == "T"
    assert "123,456" in text


def test_table_rejects_ragged_rows() -> None:
    with pytest.raises(ValueError, match="row 0 has 1 cells"):
        Table("T", ("a", "b"), [("x",)])


def test_table_to_pandas() -> None:
    df = Table("T", ("a", "b"), [("x", 1), ("y", 2)]).to_pandas()
    assert list(df.columns) == ["a", "b"]
    assert df["b"].sum() == 3


def test_table_from_records() -> None:
    t = table_from_records("R", [{"a": 1, "b": np.float64(0.5)}, {"a": 2, "b": None}])
    assert t.columns == ("a", "b")
    assert t.rows == ((1, 0.5), (2, None))


def test_format_cell() -> None:
    assert format_cell(None) == "–"
    assert format_cell(float("nan")) == "–"
    assert format_cell(0.95) == "0.95"
    assert format_cell(12) == "12"
    assert format_cell(4273) == "4,273"
    assert format_cell(1234567) == "1,234,567"
    assert format_cell(True) == "yes"


def test_html_is_well_formed_self_contained_and_attributed() -> None:
    r = _sample_report()
    text = r.to_html()
    c = check_html(text)
    assert c.images == 1
    assert "&lt;b&gt;paragraph&lt;/b&gt; &amp; more." in text
    assert "How this was computed" in text
    assert "ab" * 32 in text
    assert DATABASE_ATTRIBUTION in text
    # the report has no wall-clock time: rendering twice gives the same bytes
    assert _sample_report().to_html() == text


def test_markdown_and_json_carry_the_same_content(tmp_path: Path) -> None:
    r = _sample_report()
    md = r.to_markdown()
    assert md.startswith("# Evidence & report\n")
    assert "## How this was computed" in md
    assert "![Accuracy per year](figures/accuracy-per-year.png)" in md
    assert "IT \\| x" in md
    assert DATABASE_ATTRIBUTION in md
    data = json.loads(r.to_json())
    assert data["attribution"] == [DATABASE_ATTRIBUTION]
    assert data["sections"][0]["tables"][0]["rows"][0] == ["DE", 0.96, 0.973, 12345, "yes"]
    assert data["sections"][0]["figures"][0]["file"] == "figures/accuracy-per-year.png"
    assert data["provenance"]["database"]["name"] == "X.BIN"


def test_write_is_complete_and_atomic(tmp_path: Path) -> None:
    files = _sample_report().write(tmp_path / "out")
    assert files.html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert files.markdown.exists()
    assert files.json.exists()
    assert len(files.figures) == 1
    png = files.figures[0].read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 5000
    assert not [p for p in (tmp_path / "out").rglob("*.tmp")]
    assert "HTML report" in str(files)


def test_figures_are_valid_pngs() -> None:
    years = (2015, 2016, 2017, 2018)
    naive = naive_methods_figure(
        NaiveComparison(
            "IT", years, (0.96, 0.93, 0.95, 0.97), (0.98, 0.98, 0.99, 0.98), 0.99, "2018", 0.97, "DE"
        )
    )
    lr = lr_figure(
        [YearSeries("IT", years, (50.0, 300.0, 2e4, 1e3), (20, 100, 1e4, 400), (80, 600, 5e4, 3e3))]
    )
    from shapely.geometry import MultiPolygon, Polygon

    border = MultiPolygon(
        [Polygon([(6, 45), (14, 45), (14, 55), (6, 55)]), Polygon([(0, 0), (1, 0), (1, 1)])]
    )
    rng = np.random.default_rng(1)
    cov = coverage_map_figure("DE", rng.uniform(46, 54, 300), rng.uniform(7, 13, 300), border=border)
    cov_plain = coverage_map_figure("ZZ", [1.0, float("nan")], [2.0, 3.0])
    for f in (naive, lr, cov, cov_plain):
        assert f is not None
        assert f.png.startswith(PNG_SIGNATURE)
        assert len(f.png) > 5000
    assert cov is not None
    assert cov.name == "coverage-de"


def test_report_without_matplotlib_says_so() -> None:
    """With matplotlib unavailable the figure functions return None and nothing crashes."""
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from ipevidence.report import accuracy_figure, YearSeries, plots_available\n"
        "assert not plots_available()\n"
        "assert accuracy_figure([YearSeries('DE', (2020,), (0.9,))]) is None\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_figure_rejects_non_png() -> None:
    with pytest.raises(ValueError, match="not PNG"):
        Figure("x", "X", b"GIF89a")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(max_size=12), st.one_of(st.none(), st.integers(-(10**9), 10**9), st.floats())),
        max_size=6,
    ),
    st.text(max_size=30),
)
def test_any_text_gives_well_formed_html(rows: list[tuple[str, int | float | None]], title: str) -> None:
    r = Report(
        title=title, sections=[Section(title, paragraphs=[title], tables=[Table(title, ("k", "v"), rows)])]
    )
    check_html(r.to_html())
    json.loads(r.to_json())
