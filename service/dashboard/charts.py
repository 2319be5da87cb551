"""Charts drawn on the server as SVG geometry (no JavaScript): the templates draw the shapes."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str  # x axis label
    value: float


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    bottom: int
    points: list[Point]
    y_ticks: list[tuple[float, str]]  # (y position, label)

    @property
    def path(self) -> str:
        return " ".join(f"{'M' if i == 0 else 'L'}{p.x:.1f},{p.y:.1f}" for i, p in enumerate(self.points))


STEPS = (0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0)


def _axis(value: float) -> tuple[float, float]:
    """A round top and tick step for a 0-based axis holding `value`, at most 5 intervals."""
    step = next((s for s in STEPS if value <= 5 * s), STEPS[-1])
    return max(step, step * -(-value // step)), step


def line_chart(values: list[tuple[str, float]], width: int = 480, height: int = 200) -> LineChart:
    """`(label, value)` pairs in order, e.g. NDCG@10 per model version, on a 0-based y axis."""
    left, right, top, bottom = 48, 16, 12, 28
    inner_w, inner_h = width - left - right, height - top - bottom
    y_max, y_step = _axis(max((v for _, v in values), default=0.0) * 1.1 or 0.1)
    step = inner_w / max(len(values) - 1, 1)
    points = [
        Point(
            x=left + (i * step if len(values) > 1 else inner_w / 2),
            y=top + inner_h * (1 - value / y_max),
            label=label,
            value=value,
        )
        for i, (label, value) in enumerate(values)
    ]
    ticks = [
        (top + inner_h * (1 - i * y_step / y_max), f"{i * y_step:.3f}".rstrip("0").rstrip("."))
        for i in range(round(y_max / y_step) + 1)
    ]
    return LineChart(width, height, left, height - bottom, points, ticks)
