"""One evaluated strategy's scores, and their JSON form: shared by the run and its variants."""

from dataclasses import dataclass, field

METRICS = ("precision", "recall", "ndcg", "hit_rate", "coverage")


@dataclass
class Row:
    """One strategy: per relevance definition, metric -> (mean, std over seeds)."""

    name: str
    seeds: int
    seconds: float
    results: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)


def row_dict(row: Row) -> dict[str, object]:
    return {
        "name": row.name,
        "seeds": row.seeds,
        "seconds": round(row.seconds, 2),
        "users": row.users,
        **{
            relevance: {
                metric: {"mean": round(mean, 4), "std": round(std, 4)}
                for metric, (mean, std) in values.items()
            }
            for relevance, values in row.results.items()
        },
    }
