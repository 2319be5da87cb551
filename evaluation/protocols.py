"""`cinecluster evaluate --protocol all`: the three splits in one command, and one comparison.

Each protocol is a full evaluation of its own (evaluation/run.py: its own scratch database,
load and recluster of its training part); the comparison puts the user-list strategies' NDCG@k
(relevant = held-out rating >= 4) and coverage side by side, one column pair per protocol.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from evaluation.run import Report, evaluate
from ranking.split import PROTOCOLS

ALL = "all"
CHOICES = (*PROTOCOLS, ALL)
RELEVANCE = "rating>=4"


def chosen(protocol: str) -> tuple[str, ...]:
    """The protocols a --protocol value runs, in table order."""
    return PROTOCOLS if protocol == ALL else (protocol,)


def evaluate_protocols(
    server_url: str,
    data: Path,
    protocols: tuple[str, ...],
    progress: Callable[[str], None],
    **options: Any,
) -> list[Report]:
    """One evaluation per protocol; progress lines name the protocol when there are several."""
    reports = []
    for protocol in protocols:

        def said(message: str, protocol: str = protocol) -> None:
            progress(message if len(protocols) == 1 else f"{protocol}: {message}")

        reports.append(evaluate(server_url, data, progress=said, protocol=protocol, **options))
    return reports


def comparison(reports: list[Report]) -> list[dict[str, Any]]:
    """Per user-list strategy, in table order: {"strategy", "seeds", protocol: {"ndcg", "coverage"}},
    each metric {"mean", "std"} (std over the seeds of a randomised strategy, else 0)."""
    names = [row.name for row in reports[0].rows]
    table: list[dict[str, Any]] = []
    for name in names:
        entry: dict[str, Any] = {"strategy": name}
        for report in reports:
            row = next(row for row in report.rows if row.name == name)
            entry["seeds"] = row.seeds
            entry[report.protocol] = {
                metric: {"mean": round(mean, 4), "std": round(std, 4)}
                for metric, (mean, std) in row.results[RELEVANCE].items()
                if metric in ("ndcg", "coverage")
            }
        table.append(entry)
    return table
