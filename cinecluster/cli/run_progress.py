"""The recluster run's steps on a terminal: one rich progress line per step, with its time."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from scheduler.progress import Listener, StepUpdate


class StepDisplay:
    """A progress listener (scheduler.progress): a new line when a step begins, its bar filled
    when the next begins; a step that reports its share done moves its bar."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None
        self.step: str | None = None

    def __call__(self, update: "StepUpdate") -> None:
        if update.finished:
            if update.ok and self.task is not None:
                self.progress.update(self.task, completed=1)
            return
        if update.step != self.step:
            if self.task is not None:
                self.progress.update(self.task, completed=1)
            self.step = update.step
            self.task = self.progress.add_task(f"[{update.index}/{update.count}] {update.step}", total=1)
        elif update.fraction is not None and self.task is not None:
            self.progress.update(self.task, completed=update.fraction)


@contextmanager
def step_display(enabled: bool) -> Iterator[list["Listener"]]:
    """Listeners for run_recluster: the display on stderr when `enabled` (a terminal), else none."""
    if not enabled:
        yield []
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        yield [StepDisplay(progress)]
