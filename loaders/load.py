"""One load: every file COPYed, cleaned and moved in ONE transaction, or nothing at all."""

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from loaders.files import Kind, SourceFile, read_header
from loaders.move import Mode, move
from loaders.ratings import replace_clean_ratings, replace_plain_ratings
from loaders.rules import DROPPED, DUPLICATE
from loaders.stage import Reason, Stage, classify, drop_stage, stage_file
from loaders.standardized import refuse_standardized
from loaders.triggers import without_trigger

# The trigger that notes whose ratings an INSERT changed (for the stored rankings)
NOTE_INSERTS = "ratings_note_inserts"
# Sorting 25M staged rows and building the key in memory instead of in temp files.
SESSION_SETTINGS = ("SET LOCAL work_mem = '256MB'", "SET LOCAL maintenance_work_mem = '1GB'")


@dataclass
class FileReport:
    kind: Kind
    path: str
    read: int  # data rows in the file
    loaded: int  # distinct good rows: what the table now holds from this file
    written: int  # rows inserted or updated (unchanged rows are not written again)
    deleted: int  # movies absent from a replace-mode movies file (their ratings and tags go too)
    dropped: dict[str, int] = field(default_factory=dict)  # silent cleaning, as the pipeline did
    rejected: dict[str, Reason] = field(default_factory=dict)  # reported; --strict fails on them

    @property
    def rejected_count(self) -> int:
        return sum(reason.count for reason in self.rejected.values())


@dataclass
class LoadSummary:
    mode: Mode
    files: list[FileReport]
    committed: bool = True

    @property
    def rejected_count(self) -> int:
        return sum(report.rejected_count for report in self.files)

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "committed": self.committed,
            "rejected": self.rejected_count,
            "files": [asdict(report) for report in self.files],
        }


class _StrictRollback(Exception):
    """Raised inside the transaction to roll it back when --strict finds rejected rows."""


def load_files(
    engine: Engine,
    files: dict[Kind, Path],
    mode: Mode = "replace",
    strict: bool = False,
    on_bytes: Callable[[int], None] = lambda _n: None,
) -> LoadSummary:
    """Load `files` (kind -> path) in one transaction; headers are checked before any write."""
    sources = [read_header(kind, path) for kind, path in files.items()]
    summary = LoadSummary(mode, [])
    try:
        with engine.begin() as conn:
            for setting in SESSION_SETTINGS:
                conn.execute(text(setting))
            if mode == "replace":
                # emptied first so that deleting absent movies does not cascade row by row
                for source in sources:
                    if source.kind != "movies":
                        conn.execute(text(f"TRUNCATE {source.kind}"))
            # TRUNCATE retired every stored ranking (a trigger, revision 0006): noting each user of
            # the new rows as changed would copy every row once more, for nothing
            untracked = mode == "replace" and "ratings" in files
            with without_trigger(conn, "ratings", NOTE_INSERTS) if untracked else nullcontext():
                for source in sources:
                    report = _load_plain(conn, source, mode, on_bytes)
                    if report is None:
                        stage = stage_file(conn, source, on_bytes)
                        report = _load_one(conn, source, stage, mode)
                        drop_stage(conn, stage)
                    summary.files.append(report)
            if strict and summary.rejected_count:
                raise _StrictRollback
            analyze_loaded(conn, summary)
    except _StrictRollback:
        summary.committed = False
    return summary


# Tables a movies file can change besides its own: deleting an absent movie cascades to them
_CASCADED = ("links", "ratings", "tags")


def analyze_loaded(conn: Connection, summary: LoadSummary) -> None:
    """ANALYZE every table the load changed, in its transaction (a sample of ~30,000 rows: about
    a second at 25M ratings). Autovacuum may take minutes to come by after a bulk load, and until
    then the planner sees no statistics: the API's live ranking was planned for an empty
    `ratings` and paid for JIT compilation on every request (1.5 s each at 25M)."""
    tables: set[str] = {report.kind for report in summary.files}
    if any(report.kind == "movies" and report.deleted for report in summary.files):
        tables.update(_CASCADED)
    for table in sorted(tables):
        conn.execute(text(f"ANALYZE {table}"))


def _load_plain(
    conn: Connection, source: SourceFile, mode: Mode, on_bytes: Callable[[int], None]
) -> FileReport | None:
    """A plain, clean ratings file in replace mode, without staging; None: stage it instead."""
    if source.kind != "ratings" or mode != "replace":
        return None
    loaded = replace_plain_ratings(conn, source, on_bytes)
    if loaded is None:
        return None
    return FileReport(source.kind, str(source.path), loaded, loaded, loaded, 0)


def _load_one(conn: Connection, source: SourceFile, stage: Stage, mode: Mode) -> FileReport:
    read = stage.rows
    if source.kind == "ratings" and mode == "replace":
        loaded = replace_clean_ratings(conn, stage)
        if loaded is not None:
            return FileReport(source.kind, str(source.path), read, loaded, loaded, 0)
    reasons = classify(conn, source, stage)
    if source.kind == "ratings" and reasons:
        refuse_standardized(conn, source, stage)
    moved = move(conn, source, stage, mode, any_bad=bool(reasons))
    bad = sum(reason.count for reason in reasons.values())
    before_dedup = moved.before_dedup if moved.before_dedup is not None else read - bad
    reasons = dict(sorted(reasons.items()))
    dropped = {name: reason.count for name, reason in reasons.items() if name in DROPPED}
    if before_dedup > moved.distinct:
        dropped[DUPLICATE] = before_dedup - moved.distinct
    rejected = {name: reason for name, reason in reasons.items() if name not in DROPPED}
    return FileReport(
        source.kind, str(source.path), read, moved.distinct, moved.written, moved.deleted, dropped, rejected
    )
