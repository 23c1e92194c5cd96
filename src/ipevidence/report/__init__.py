"""Reports: tables, figures and whole documents rendered as self-contained HTML, Markdown and JSON.

* :mod:`.document`: the document model (:class:`Table`, :class:`Figure`, :class:`Section`,
  :class:`Report`) and its renderers;
* :mod:`.figures`: the paper's figures, improved (matplotlib, a dependency, imported lazily);
* :mod:`.build`: turning the library's results (ground truth, accuracy, verdicts, tamper findings)
  into a :class:`Report`.
"""

from .document import Figure, Report, ReportFiles, Section, Table, table_from_records
from .figures import (
    NO_PLOTS_NOTE,
    NaiveComparison,
    YearSeries,
    accuracy_figure,
    coverage_map_figure,
    lr_figure,
    naive_methods_figure,
    plots_available,
)

__all__ = [
    "NO_PLOTS_NOTE",
    "Figure",
    "NaiveComparison",
    "Report",
    "ReportFiles",
    "Section",
    "Table",
    "YearSeries",
    "accuracy_figure",
    "coverage_map_figure",
    "lr_figure",
    "naive_methods_figure",
    "plots_available",
    "table_from_records",
]
