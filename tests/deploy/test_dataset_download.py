"""The demo's dataset download, against a local HTTP server serving zips built from the sample."""

import functools
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from cinecluster.dataset import EXPECTED, DatasetError, fetch_sample

# figures of ml-latest-small itself (counts, user and movie ids, titles)
pytestmark = pytest.mark.real_sample


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sample_data: Path) -> Iterator[tuple[str, list[str]]]:
    """Base URL of a server holding good.zip, truncated.zip, short.zip; and its request log."""
    root = tmp_path_factory.mktemp("www")
    good = root / "good.zip"
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in [*EXPECTED, "README.txt"]:
            archive.write(sample_data / file, f"ml-latest-small/{file}")
    data = good.read_bytes()
    (root / "truncated.zip").write_bytes(data[: len(data) // 2])
    with zipfile.ZipFile(root / "short.zip", "w") as archive:  # a whole zip, but ratings lost a row
        for file in EXPECTED:
            content = (sample_data / file).read_text(encoding="utf-8")
            if file == "ratings.csv":
                content = content[: content.rstrip("\n").rfind("\n") + 1]
            archive.writestr(f"ml-latest-small/{file}", content)
    hits: ClassVar[list[str]] = []
    handler = type("Handler", (_CountingHandler,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_download_verifies_caches_and_reuses(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, hits = served
    before = len(hits)
    data_dir = fetch_sample(f"{base}/good.zip", tmp_path)
    assert sorted(p.name for p in data_dir.glob("*.csv")) == sorted(EXPECTED)
    ratings = (data_dir / "ratings.csv").read_text(encoding="utf-8").splitlines()
    assert len(ratings) == 1 + 100_836
    assert len(hits) == before + 1
    # Second call: served from the cache, no request (even with an unreachable URL).
    assert fetch_sample("http://127.0.0.1:9/unreachable.zip", tmp_path) == data_dir
    assert len(hits) == before + 1


def test_cached_zip_is_unpacked_again_without_download(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, hits = served
    data_dir = fetch_sample(f"{base}/good.zip", tmp_path)
    (data_dir / "movies.csv").unlink()
    before = len(hits)
    assert (fetch_sample(f"{base}/good.zip", tmp_path) / "movies.csv").is_file()
    assert len(hits) == before


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("truncated.zip", "incomplete or corrupt: not a readable zip"),
        ("short.zip", "ratings.csv has 100,835 rows, expected 100,836"),
        ("missing.zip", "HTTP 404"),
    ],
)
def test_bad_download_is_one_clear_error_and_caches_nothing(
    served: tuple[str, list[str]], tmp_path: Path, name: str, problem: str
) -> None:
    base, _ = served
    with pytest.raises(DatasetError) as raised:
        fetch_sample(f"{base}/{name}", tmp_path)
    message = str(raised.value)
    assert problem in message
    assert "--data DIR" in message and "--synthetic" in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_unreachable_url_suggests_offline_options(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"could not download .*--data DIR.*--synthetic"):
        fetch_sample("http://127.0.0.1:9/ml-latest-small.zip", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_damaged_cached_zip_is_downloaded_again(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, hits = served
    (tmp_path / "ml-latest-small.zip").write_bytes(b"PK\x03\x04 not really a zip")
    before = len(hits)
    data_dir = fetch_sample(f"{base}/good.zip", tmp_path)
    assert (data_dir / "tags.csv").is_file()
    assert len(hits) == before + 1
