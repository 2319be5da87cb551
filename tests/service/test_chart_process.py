"""Charts drawn in a child process: the same picture the report draws, cached by its data, and a
one-line error when the child draws nothing."""

import pytest

from service import chart_process, plots
from service.chart_process import ChartCache, ChartFailed

SIZES = [[0, 120], [1, 80], [2, 45]]


def test_the_child_draws_what_the_report_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    children: list[str] = []
    draw_in_child = chart_process._draw_in_child

    def counted(kind: str, version: int, payload: bytes) -> bytes:
        children.append(kind)
        return draw_in_child(kind, version, payload)

    monkeypatch.setattr(chart_process, "_draw_in_child", counted)
    cache = ChartCache()
    png = cache.png("distribution", 3, SIZES)
    assert png == plots.distribution_png([(0, 120), (1, 80), (2, 45)], 3)  # Agg is deterministic
    assert cache.png("distribution", 3, SIZES) is png
    assert children == ["distribution"]  # the second answer came from memory
    cache.png("distribution", 3, [*SIZES, [3, 1]])  # new data (a movie added): drawn again
    cache.png("distribution", 4, SIZES)  # another version: drawn again
    assert children == ["distribution"] * 3


def test_a_child_that_fails_gives_its_last_error_line() -> None:
    with pytest.raises(ChartFailed, match=r"^ValueError: unknown chart 'pie'$"):
        ChartCache().png("pie", 1, [])
