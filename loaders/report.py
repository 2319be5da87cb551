"""The load summary for people (a rich table) and for machines (JSON)."""

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from loaders.load import LoadSummary


def print_json(summary: LoadSummary) -> None:
    print(json.dumps(summary.as_dict(), indent=2))


def print_table(summary: LoadSummary, console: Console) -> None:
    state = "loaded" if summary.committed else "NOT loaded (rolled back)"
    table = Table(title=f"cinecluster load ({summary.mode} mode): {state}", title_justify="left")
    for column in ("file", "read", "loaded", "written", "deleted", "dropped", "rejected (example lines)"):
        table.add_column(
            column, justify="right" if column in {"read", "loaded", "written", "deleted"} else "left"
        )
    for report in summary.files:
        dropped = "\n".join(f"{name}: {count:,}" for name, count in report.dropped.items()) or "-"
        rejected = (
            "\n".join(
                f"{name}: {reason.count:,} ({', '.join(map(str, reason.lines))})"
                for name, reason in report.rejected.items()
            )
            or "-"
        )
        table.add_row(
            Path(report.path).name,  # the full path is in --json
            f"{report.read:,}",
            f"{report.loaded:,}",
            f"{report.written:,}",
            f"{report.deleted:,}",
            dropped,
            rejected,
        )
    console.print(table)
