"""`cinecluster synth`: MovieLens-shaped files with structure worth clustering.

- movies: made-up but real-looking titles with years, 1-4 genres drawn with MovieLens'
  genre frequencies, a few '(no genres listed)'; ids from 1 with gaps, like MovieLens.
- popularity: Zipf-like over movies, so a few movies collect most ratings.
- users: each prefers a few genres (a Dirichlet mix), draws most of their movies from those
  genres and rates them higher, so a user's liked movies concentrate in their genres.
- ratings: 0.5-star grid with MovieLens' rating distribution, one per (user, movie); rows are
  ordered by (userId, movieId) like MovieLens; within a user, timestamps increase down the
  file, and users' first ratings increase with userId.
- tags: about 4% of ratings carry a tag from a vocabulary tied to the movie's genres.

Everything is vectorised numpy, generated per chunk of users and appended to the files, so
memory stays bounded whatever the size; the same arguments and seed give identical files.
"""

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cinecluster.errors import UserError
from loaders import csvbytes
from loaders.synth_vocab import GENRE_TAGS, GENRE_WEIGHTS, GENRES, RATING_SHARES, titles

CHUNK_RATINGS = 1_000_000  # ratings generated per chunk of users: bounds memory
FIRST_TS = 789_652_009  # 1995-01-09, MovieLens' first rating
LAST_TS = 1_574_327_703  # 2019-11-21, ML-25M's last rating
TAG_SHARE = 0.04
ANY = len(GENRES)  # the extra "any movie" pool: exploration and '(no genres listed)' movies


@dataclass(frozen=True)
class SynthSummary:
    movies: int
    users: int
    ratings: int
    tags: int
    out: Path


def synthesize(out: Path, users: int, movies: int, ratings: int, seed: int = 0) -> SynthSummary:
    """Write movies.csv, ratings.csv and tags.csv into `out`."""
    if min(users, movies, ratings) < 1:
        raise UserError("--users, --movies and --ratings must be positive")
    cap = max(1, movies // 2)  # nobody rates more than half the catalogue
    if ratings > users * cap:
        raise UserError(
            f"{ratings} ratings do not fit {users} users x {cap} movies each (half the catalogue)"
        )
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    catalogue = _Catalogue(rng, movies)
    catalogue.write(rng, out / "movies.csv")
    crowd = _Crowd(rng, users, ratings, cap)
    tags = _write_ratings_and_tags(rng, catalogue, crowd, out)
    return SynthSummary(movies, users, ratings, tags, out)


class _Catalogue:
    def __init__(self, rng: np.random.Generator, size: int) -> None:
        self.size = size
        # id 1 always exists, as in MovieLens, so examples such as /movie/1 work on any synth output
        rest = np.sort(rng.choice(np.arange(2, size * 3 + 2), size - 1, replace=False))
        self.ids = np.concatenate(([1], rest))
        # genres: 1-4 per movie without replacement, weighted by MovieLens frequencies (Gumbel top-k)
        count = rng.choice([1, 2, 3, 4], size, p=[0.45, 0.33, 0.16, 0.06])
        keys = np.log(GENRE_WEIGHTS) + rng.gumbel(size=(size, len(GENRES)))
        rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
        self.genres = rank < count[:, None]  # (movies, genres) bool
        self.genres[rng.random(size) < 0.03] = False  # '(no genres listed)'
        self.genre_count = self.genres.sum(axis=1)
        popularity = 1.0 / np.arange(1, size + 1) ** 1.1  # Zipf over a random popularity rank
        self.popularity = popularity[rng.permutation(size)]
        self.quality = rng.normal(0.0, 0.5, size) + 0.15 * np.log(self.popularity / self.popularity.mean())
        self.pools = [np.flatnonzero(self.genres[:, g]) for g in range(len(GENRES))] + [np.arange(size)]
        self.cumulative = [np.cumsum(self.popularity[pool]) for pool in self.pools]

    def draw(self, rng: np.random.Generator, pool: int, n: int) -> np.ndarray:
        """`n` movie indices from one genre pool, by popularity (with replacement)."""
        members, cumulative = self.pools[pool], self.cumulative[pool]
        if members.size == 0:
            members, cumulative = self.pools[ANY], self.cumulative[ANY]
        picks = np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right")
        return members[np.minimum(picks, members.size - 1)]

    def write(self, rng: np.random.Generator, path: Path) -> None:
        years = np.clip(2019 - np.floor(rng.exponential(16.0, self.size)), 1902, 2019).astype(int)
        with_year = rng.random(self.size) > 0.01
        with path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(["movieId", "title", "genres"])
            for index, title in enumerate(titles(rng, self.size)):
                if with_year[index]:
                    title += f" ({years[index]})"
                names = [GENRES[g] for g in np.flatnonzero(self.genres[index])]
                writer.writerow(
                    [int(self.ids[index]), title, "|".join(sorted(names)) or "(no genres listed)"]
                )


class _Crowd:
    def __init__(self, rng: np.random.Generator, size: int, ratings: int, cap: int) -> None:
        self.size = size
        # genre preferences: a sparse Dirichlet (a few favourite genres) mixed with the global taste
        favourite = rng.dirichlet(np.full(len(GENRES), 0.15), size)
        taste = 0.8 * favourite + 0.1 * GENRE_WEIGHTS / GENRE_WEIGHTS.sum()
        self.pool_shares = np.hstack([taste, np.full((size, 1), 0.10)])  # + the "any movie" pool
        self.pool_shares /= self.pool_shares.sum(axis=1, keepdims=True)
        self.bias = rng.normal(0.0, 0.4, size)
        self.counts = _activity(rng, size, ratings, cap)
        start = FIRST_TS + (LAST_TS - FIRST_TS) * 0.97 * np.arange(size) / size
        self.start = start + rng.uniform(0, 86_400, size)
        self.span = np.minimum(rng.exponential(365 * 86_400.0, size), LAST_TS - self.start)


def _activity(rng: np.random.Generator, users: int, ratings: int, cap: int) -> np.ndarray:
    """Ratings per user: at least 20 (as in MovieLens) when possible, heavy-tailed, summing exactly."""
    floor = min(20, ratings // users, cap)
    counts = np.full(users, floor, dtype=np.int64)
    weights = rng.lognormal(0.0, 1.2, users)
    remaining = ratings - counts.sum()
    while remaining > 0:
        open_ = counts < cap
        share = np.where(open_, weights, 0.0)
        counts += rng.multinomial(remaining, share / share.sum())
        counts = np.minimum(counts, cap)
        remaining = ratings - counts.sum()
    return counts


def _write_ratings_and_tags(rng: np.random.Generator, catalogue: _Catalogue, crowd: _Crowd, out: Path) -> int:
    thresholds: np.ndarray | None = None
    grid = [f"{(step + 1) / 2:.1f}".encode() for step in range(10)]
    vocabulary = sorted({tag for tags in GENRE_TAGS.values() for tag in tags})
    tag_code = {tag: code for code, tag in enumerate(vocabulary)}
    # per genre pool (the last: no genre) a row of tag codes, padded by repeating the first
    lists = [[tag_code[t] for t in GENRE_TAGS[genre]] for genre in (*GENRES, "")]
    width = max(map(len, lists))
    genre_tags = np.array([codes + codes[:1] * (width - len(codes)) for codes in lists])
    genre_tag_count = np.array([len(codes) for codes in lists])
    tags_written = 0
    with (out / "ratings.csv").open("wb") as ratings_file, (out / "tags.csv").open("wb") as tags_file:
        ratings_file.write(b"userId,movieId,rating,timestamp\n")
        tags_file.write(b"userId,movieId,tag,timestamp\n")
        for first, last in _chunks(crowd.counts):
            users, movies = _pairs(rng, catalogue, crowd, first, last)
            latent = _latent(rng, catalogue, crowd, users, movies)
            if thresholds is None:  # calibrated once, on the first chunk: MovieLens' star shares
                thresholds = np.quantile(latent, np.cumsum(RATING_SHARES)[:-1])
            stars = np.searchsorted(thresholds, latent)
            ts = _timestamps(rng, crowd, users)
            user_ids = users + 1
            ratings_file.write(
                csvbytes.lines(
                    csvbytes.int_field(user_ids),
                    csvbytes.int_field(catalogue.ids[movies]),
                    csvbytes.text_field(stars, grid),
                    csvbytes.int_field(ts),
                )
            )
            tagged = np.sort(rng.choice(users.size, int(users.size * TAG_SHARE), replace=False))
            first_genre = np.where(
                catalogue.genre_count[movies[tagged]] > 0,
                catalogue.genres[movies[tagged]].argmax(axis=1),
                ANY,
            )
            pick = (rng.random(first_genre.size) * genre_tag_count[first_genre]).astype(np.int64)
            codes = genre_tags[first_genre, pick]
            tags_file.write(
                csvbytes.lines(
                    csvbytes.int_field(user_ids[tagged]),
                    csvbytes.int_field(catalogue.ids[movies[tagged]]),
                    csvbytes.text_field(codes, [tag.encode() for tag in vocabulary]),
                    csvbytes.int_field(ts[tagged] + rng.integers(1, 600, tagged.size)),
                )
            )
            tags_written += tagged.size
    return tags_written


def _chunks(counts: np.ndarray) -> list[tuple[int, int]]:
    """User ranges holding about CHUNK_RATINGS ratings each."""
    ends = np.searchsorted(np.cumsum(counts), np.arange(CHUNK_RATINGS, counts.sum(), CHUNK_RATINGS))
    bounds = [0, *sorted(set(int(e) + 1 for e in ends if e + 1 < counts.size)), counts.size]
    return list(itertools.pairwise(bounds))


def _pairs(
    rng: np.random.Generator, catalogue: _Catalogue, crowd: _Crowd, first: int, last: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, movie) index pairs, exactly counts[u] per user, sorted by user then movie id."""
    users = np.arange(first, last)
    need = crowd.counts[first:last].copy()
    keys = np.empty(0, dtype=np.int64)
    for _attempt in range(8):  # by taste: genre pools by the user's shares, movies by popularity
        per_pool = rng.multinomial(need, crowd.pool_shares[first:last])
        drawn_users = [np.repeat(users, per_pool[:, p]) for p in range(per_pool.shape[1])]
        drawn = [catalogue.draw(rng, p, int(per_pool[:, p].sum())) for p in range(per_pool.shape[1])]
        new = np.concatenate(drawn_users) * catalogue.size + np.concatenate(drawn)
        # each user drew exactly need[u] candidates, so the union never exceeds counts[u]
        keys = _distinct(np.concatenate([keys, new]))
        need = crowd.counts[first:last] - np.bincount(keys // catalogue.size - first, minlength=users.size)
        if not need.any():
            break
    # heavy users who exhausted their favourite genres: any movie, uniformly; a user holds at
    # most half the catalogue, so each round at least halves what is missing
    for _attempt in range(64):
        if not need.any():
            break
        new = np.repeat(users, need) * catalogue.size + rng.integers(0, catalogue.size, int(need.sum()))
        keys = _distinct(np.concatenate([keys, new]))
        need = crowd.counts[first:last] - np.bincount(keys // catalogue.size - first, minlength=users.size)
    if need.any():
        raise RuntimeError("could not draw distinct movies; lower --ratings")
    return keys // catalogue.size, keys % catalogue.size


def _distinct(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct keys (np.unique's hash path in numpy 2.x is far slower on these)."""
    keys.sort()
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))]


def _latent(
    rng: np.random.Generator, catalogue: _Catalogue, crowd: _Crowd, users: np.ndarray, movies: np.ndarray
) -> np.ndarray:
    """How much a user likes a movie: quality + user bias + genre affinity + noise."""
    affinity = np.zeros(users.size)
    for genre in range(len(GENRES)):
        affinity += crowd.pool_shares[users, genre] * catalogue.genres[movies, genre]
    affinity /= np.maximum(catalogue.genre_count[movies], 1)
    return catalogue.quality[movies] + crowd.bias[users] + 4.0 * affinity + rng.normal(0.0, 0.7, users.size)


def _timestamps(rng: np.random.Generator, crowd: _Crowd, users: np.ndarray) -> np.ndarray:
    """Increasing down each user's rows, within the user's active span."""
    # rows are grouped by user: sorting user + offset (offset in [0, 1)) sorts within each user
    offsets = np.sort(users + rng.random(users.size) * 0.999) - users
    return (crowd.start[users] + offsets * crowd.span[users]).astype(np.int64)
