"""The ``demo`` command: the whole method offline on a generated archive."""

from __future__ import annotations

from ..defaults import DATABASE_ATTRIBUTION
from .common import Context, ExitCode, UsageError


def cmd_demo(ctx: Context) -> int:
    """Run the offline demo: generated archive, shipped database, table, verdicts, report."""
    from .._io import check_output_dir
    from ..demo import DemoConfig, run_demo

    a = ctx.args
    if ctx.args.database or getattr(ctx.args, "database_dir", None):
        raise UsageError("the demo always uses the shipped database (omit --database and --database-dir)")
    check_output_dir(a.output)
    defaults = DemoConfig()
    try:
        config = DemoConfig(
            output_dir=a.output,
            probes=a.probes if a.probes is not None else defaults.probes,
            years=a.years,
            every=a.every if a.every is not None else defaults.every,
            seed=a.seed,
        )
    except ValueError as exc:
        message = str(exc)
        if message.split(" ", 1)[0] in ("probes", "years", "every", "seed"):
            message = "--" + message  # name the option the user typed
        raise UsageError(message) from None
    result = run_demo(config, log=ctx.console.info)
    ctx.console.result(str(result))
    ctx.console.info("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items()))
    ctx.console.result("")
    ctx.console.result(
        "The numbers above come from a GENERATED archive: they show the method, not the real "
        "accuracy of any database."
    )
    ctx.console.result(DATABASE_ATTRIBUTION)
    return ExitCode.OK
