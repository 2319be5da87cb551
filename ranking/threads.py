"""Independent pieces of numpy and scipy work on threads: their kernels release the GIL, so
threads share the cores without copying the data (processes would). Used by the recluster's
heaviest steps (CINECLUSTER_RECLUSTER_THREADS); the results are the same for any number."""

import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")


def map_in_threads(work: Callable[[T], R], items: Sequence[T], threads: int, name: str) -> list[R]:
    """[work(item) for item in items], in order, `threads` at a time (one: in this thread)."""
    if threads > 1 and len(items) > 1:
        with ThreadPoolExecutor(min(threads, len(items)), thread_name_prefix=name) as pool:
            return list(pool.map(work, items))
    return [work(item) for item in items]


def even_spans(n: int, parts: int) -> list[tuple[int, int]]:
    """0..n cut into `parts` contiguous (first, end) ranges of about equal length, none empty."""
    edges = np.linspace(0, n, max(parts, 1) + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]
