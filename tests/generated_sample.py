"""A small MovieLens-format sample the suite generates when ml-latest-small is not at hand.

`cinecluster synth`'s generator at a size that loads and clusters in seconds, plus a links.csv
(synth writes none), so every file kind the loader knows is exercised. Deterministic: the same
files on every machine, so a failure on this data reproduces anywhere.
"""

from pathlib import Path

from loaders.synth import synthesize

SIZE = {"users": 300, "movies": 1_500, "ratings": 30_000, "seed": 7}


def write_sample(out: Path) -> Path:
    """Write movies.csv, ratings.csv, tags.csv and links.csv into `out` and return it."""
    synthesize(out, **SIZE)
    lines = (out / "movies.csv").read_text(encoding="utf-8").splitlines()[1:]
    with (out / "links.csv").open("w", encoding="utf-8") as links:
        links.write("movieId,imdbId,tmdbId\n")
        for line in lines:
            movie_id = int(line.split(",", 1)[0])
            # made-up ids in the shapes MovieLens uses: imdb with leading zeros, tmdb plain
            links.write(f"{movie_id},{movie_id * 7 + 100_000:07d},{movie_id * 3 + 1}\n")
    return out
