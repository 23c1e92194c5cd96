"""How a table cell is shown, in every rendering (text, Markdown, HTML) of every table.

One rule for the whole library, so Table 8 reads the same in a terminal, a notebook and a report.
"""

from __future__ import annotations

__all__ = ["Cell", "format_cell"]

Cell = str | int | float | None


def format_cell(value: Cell) -> str:
    """None as an en dash; booleans as yes/no; floats with two decimals (99.40, 100.00), thousands
    separated from 1,000 and three significant digits below 0.01 (a small likelihood ratio);
    integers with thousands separators."""
    if value is None:
        return "\u2013"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return "\u2013"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if value == 0 or abs(value) >= 0.01:
            return f"{value:.2f}"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
