"""ml-latest-small for the demo: downloaded once from GroupLens, checked whole, cached per user.

A download is trusted only after the zip opens and holds the four CSV files with the expected
headers and row counts; until then it lives under a temporary name, so an interrupted or
corrupt download never poisons the cache.
"""

import csv
import io
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
from pathlib import Path

import platformdirs

from cinecluster.errors import UserError
from cinecluster.settings import get_settings

NAME = "ml-latest-small"
TIMEOUT_S = 30

# file -> (header, data rows) of the published ml-latest-small (README.txt of the dataset).
EXPECTED: dict[str, tuple[list[str], int]] = {
    "movies.csv": (["movieId", "title", "genres"], 9_742),
    "ratings.csv": (["userId", "movieId", "rating", "timestamp"], 100_836),
    "tags.csv": (["userId", "movieId", "tag", "timestamp"], 3_683),
    "links.csv": (["movieId", "imdbId", "tmdbId"], 9_742),
}


class DatasetError(UserError):
    """The sample could not be obtained; the message tells the user the two ways around it."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(
            f"{problem}; pass --data DIR (a folder with MovieLens CSV files) or --synthetic to run offline"
        )


def default_cache_dir() -> Path:
    with warnings.catch_warnings():  # platformdirs may warn about an unset XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_cache_dir("cinecluster"))


def verify_zip(path: Path) -> None:
    """Raise ValueError unless `path` is a whole ml-latest-small zip."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"not a readable zip file ({error})") from None
    with archive:
        members = {Path(name).name: name for name in archive.namelist() if not name.endswith("/")}
        for file, (header, rows) in EXPECTED.items():
            if file not in members:
                raise ValueError(f"{file} is missing from the archive")
            try:
                with archive.open(members[file]) as raw:
                    reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
                    found_header = next(reader, None)
                    found_rows = sum(1 for _ in reader)
            except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError, csv.Error) as error:
                raise ValueError(f"{file} cannot be read ({error})") from None
            if found_header != header:
                raise ValueError(f"{file} has header {found_header}, expected {header}")
            if found_rows != rows:
                raise ValueError(f"{file} has {found_rows:,} rows, expected {rows:,}")


def _extract(zip_path: Path, target: Path) -> None:
    """Unpack the four CSV files (flattened) into `target`, atomically by rename."""
    staging = Path(tempfile.mkdtemp(prefix=f".{NAME}-", dir=target.parent))
    with zipfile.ZipFile(zip_path) as archive:
        for name in archive.namelist():
            if Path(name).name in EXPECTED or Path(name).name == "README.txt":
                with archive.open(name) as source, open(staging / Path(name).name, "wb") as sink:
                    shutil.copyfileobj(source, sink)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def _download(url: str, destination: Path) -> None:
    print(f"downloading {url}", file=sys.stderr)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(destination, "wb") as sink:
            shutil.copyfileobj(response, sink)
    except urllib.error.HTTPError as error:
        raise DatasetError(f"could not download {url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise DatasetError(f"could not download {url} ({reason})") from None


def fetch_sample(url: str | None = None, cache_dir: Path | None = None) -> Path:
    """Directory holding ml-latest-small's CSV files: from the cache, else downloaded and checked."""
    url = url or get_settings().dataset_url
    cache_dir = cache_dir or default_cache_dir()
    zip_path = cache_dir / f"{NAME}.zip"
    data_dir = cache_dir / NAME
    if data_dir.is_dir() and all((data_dir / file).is_file() for file in EXPECTED):
        return data_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    if zip_path.is_file():
        try:
            verify_zip(zip_path)
        except ValueError:
            zip_path.unlink()  # a damaged cache entry is dropped and downloaded again
    if not zip_path.is_file():
        partial = zip_path.with_suffix(".zip.part")
        try:
            _download(url, partial)
            try:
                verify_zip(partial)
            except ValueError as error:
                raise DatasetError(f"the download from {url} is incomplete or corrupt: {error}") from None
            partial.replace(zip_path)
        finally:
            partial.unlink(missing_ok=True)
    _extract(zip_path, data_dir)
    return data_dir
