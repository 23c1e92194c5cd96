"""The ``staleness`` command: accuracy of every database build of a catalogue on every
ground-truth year."""

from __future__ import annotations

from pathlib import Path

from ..defaults import attribution_for
from .common import Context, ExitCode, UsageError, parse_countries, require


def cmd_staleness(ctx: Context) -> int:
    """Print (and write) the staleness table of the ground truth against a catalogue of builds."""
    a = ctx.args
    if not ctx.database_files and not getattr(a, "database_dir", None):
        raise UsageError("staleness needs databases: --database-dir DIR or --database FILE (repeatable)")
    staleness = require("ipevidence.staleness")
    catalog = ctx.open_catalog()
    ground_truth = ctx.load_ground_truth()
    named = parse_countries(a.countries)
    table = staleness.staleness_table(ground_truth, catalog, countries=named or None)
    if a.json:
        ctx.console.result(table.to_json().rstrip("\n"))
    else:
        ctx.console.result(str(catalog))
        for country in ["*", *named]:
            ctx.console.result("")
            ctx.console.result(str(table.table(country, not_located=a.not_located)))
    if a.output:
        out = Path(a.output)
        out.mkdir(parents=True, exist_ok=True)
        written = [table.write_json(out / "staleness.json")]
        from ..report.staleness_figures import staleness_age_figure, staleness_heatmap

        countries = ["*", *named]
        figures = [staleness_heatmap(table, c, not_located=a.not_located) for c in countries]
        figures.append(staleness_age_figure(table, countries, not_located=a.not_located))
        from .._io import atomic_write_bytes

        for fig in figures:
            if fig is not None:
                atomic_write_bytes(out / fig.file_name, fig.png)
                written.append(out / fig.file_name)
        if any(f is None for f in figures):
            ctx.console.warn("figures not drawn: matplotlib cannot be imported (pip install matplotlib)")
        ctx.console.info("written: " + ", ".join(str(w) for w in written))
    ctx.console.attribution(sorted({line for e in catalog.entries for line in attribution_for(e.info)}))
    return ExitCode.OK
