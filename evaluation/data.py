"""Reading the evaluation's input files and writing the training split for the real loader.

The ratings file is read once into numpy arrays (the split needs every user's order); memory
grows with the number of ratings, so `evaluate` is meant for ml-latest-small-sized data.
Tags are not loaded: their timestamps could leak the held-out period into tag features.
"""

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cinecluster.errors import UserError
from loaders.files import Kind, locate
from ranking.split import split


@dataclass
class Holdout:
    """Held-out ratings per user, and the training pairs (for the numpy item-kNN reference)."""

    relevant: dict[int, set[int]]  # rating >= 4
    any_rating: dict[int, set[int]]
    train_users: np.ndarray
    train_movies: np.ndarray
    test_rows: int


def prepare(
    data: Path, holdout: float, out: Path, protocol: str = "temporal", seed: int = 0
) -> tuple[dict[Kind, Path], Holdout]:
    """Split data/ratings.csv by the protocol (ranking/split.py); write out/ratings.csv
    (training) and copy movies/links."""
    files = locate(data, {"movies": None, "ratings": None, "tags": None, "links": None})
    if "ratings" not in files or "movies" not in files:
        raise UserError(f"{data} must hold movies.csv and ratings.csv")
    try:
        ratings = pd.read_csv(
            files["ratings"],
            usecols=["userId", "movieId", "rating", "timestamp"],
            dtype={"userId": "int64", "movieId": "int64", "rating": "float64", "timestamp": "int64"},
        )
    except (ValueError, KeyError) as error:
        raise UserError(f"{files['ratings']}: expected userId,movieId,rating,timestamp ({error})") from None
    users, movies = ratings["userId"].to_numpy(), ratings["movieId"].to_numpy()
    stars, stamps = ratings["rating"].to_numpy(), ratings["timestamp"].to_numpy()
    del ratings
    test = split(protocol, users, movies, stamps, holdout, seed)
    out.mkdir(parents=True, exist_ok=True)
    train_path = out / "ratings.csv"
    with train_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["userId", "movieId", "rating", "timestamp"])
        keep = ~test
        writer.writerows(zip(users[keep], movies[keep], stars[keep], stamps[keep], strict=True))
    copied: dict[Kind, Path] = {}
    for kind in ("movies", "links"):  # the loader's order: movies before what refers to them
        if kind in files:
            copied[kind] = out / f"{kind}.csv"
            shutil.copyfile(files[kind], copied[kind])
    copied["ratings"] = train_path
    relevant: dict[int, set[int]] = {}
    any_rating: dict[int, set[int]] = {}
    for user, movie, star in zip(users[test], movies[test], stars[test], strict=True):
        any_rating.setdefault(int(user), set()).add(int(movie))
        if star >= 4.0:
            relevant.setdefault(int(user), set()).add(int(movie))
    return copied, Holdout(relevant, any_rating, users[~test], movies[~test], int(test.sum()))
