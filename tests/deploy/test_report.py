"""`cinecluster report` through its entry point: the files, valid PNGs, numbers equal to the database."""

import base64
import re
from pathlib import Path

import matplotlib.image
import pytest
from PIL import Image
from sqlalchemy import create_engine, text

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOTS = ["cluster_sizes.png", "cluster_scatter.png", "cluster_avg_rating.png", "genre_heatmap.png"]


@pytest.fixture
def report_dir(run_cli, clustered_db_url: str, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path / "report"
    result = run_cli("report", "--out", str(out), env={"DATABASE_URL": clustered_db_url})
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == [str(out / name) for name in [*PLOTS, "report.md", "report.html"]]
    return out


def _database_truth(url: str) -> tuple[int, dict[int, tuple[int, float, int, str, int]]]:
    """Active version; per cluster: movies, mean of all ratings, ratings, top genre, its movies.

    Computed straight from the tables, independently of the API's queries the report uses.
    """
    engine = create_engine(url)
    with engine.connect() as conn:
        version = conn.scalar(text("SELECT version FROM active_model"))
        rows = conn.execute(
            text("""
                WITH mc AS (SELECT movie_id, cluster FROM movie_clusters WHERE version = :v),
                sizes AS (SELECT cluster, count(*) AS movies FROM mc GROUP BY cluster),
                rated AS (SELECT mc.cluster, avg(r.rating) AS avg_rating, count(*) AS ratings
                          FROM mc JOIN ratings r USING (movie_id) GROUP BY mc.cluster),
                genre AS (SELECT DISTINCT ON (mc.cluster) mc.cluster, g AS genre, count(*) AS movies
                          FROM mc JOIN movies m USING (movie_id), unnest(m.genres) g
                          GROUP BY mc.cluster, g ORDER BY mc.cluster, count(*) DESC, g)
                SELECT s.cluster, s.movies, r.avg_rating, r.ratings, g.genre, g.movies AS genre_movies
                FROM sizes s JOIN rated r USING (cluster) JOIN genre g USING (cluster)
                ORDER BY s.cluster
            """),
            {"v": version},
        ).all()
    engine.dispose()
    return version, {
        r.cluster: (r.movies, float(r.avg_rating), r.ratings, r.genre, r.genre_movies) for r in rows
    }


def test_files_exist_and_pngs_are_valid_images(report_dir: Path) -> None:
    for name in PLOTS:
        path = report_dir / name
        assert path.read_bytes().startswith(PNG_SIGNATURE), name
        with Image.open(path) as image:
            image.verify()
        pixels = matplotlib.image.imread(path)
        assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 300, name


@pytest.mark.real_sample
def test_report_md_numbers_match_the_database(report_dir: Path, clustered_db_url: str) -> None:
    version, truth = _database_truth(clustered_db_url)
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith(f"# cinecluster report: model version {version}\n")
    rows = re.findall(
        r"^\| (\d+) \| ([\d,]+) \| [\d.]+% \| ([\d.]+) \| ([\d,]+) \| (\S+) (\d+)%", markdown, re.M
    )
    assert len(rows) == len(truth) == 10
    for cluster, movies, avg_rating, ratings, top_genre, share in rows:
        size, mean, count, genre, genre_movies = truth[int(cluster)]
        assert int(movies.replace(",", "")) == size
        assert float(avg_rating) == pytest.approx(mean, abs=0.0005)
        assert int(ratings.replace(",", "")) == count
        assert top_genre == genre
        assert int(share) == round(100 * genre_movies / size)
    assert sum(t[0] for t in truth.values()) == 9_742
    for name in PLOTS:
        assert f"]({name})" in markdown
    for cluster in truth:
        assert f"\n## Cluster {cluster}\n" in markdown


def test_report_html_is_self_contained(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == len(PLOTS)
    assert all(base64.b64decode(data).startswith(PNG_SIGNATURE) for data in images)
    assert not re.search(r'(src|href)="(?!data:)', html), "nothing may be linked from outside the file"
    assert html.count("<h2>Cluster ") == 10


def test_model_metrics_are_reported(report_dir: Path, clustered_db_url: str) -> None:
    engine = create_engine(clustered_db_url)
    with engine.connect() as conn:
        metrics = conn.scalar(text("SELECT metrics FROM model_versions JOIN active_model USING (version)"))
    engine.dispose()
    markdown = (report_dir / "report.md").read_text(encoding="utf-8")
    assert f"| {metrics['inertia']:,.4f} |" in markdown
    assert f"| {metrics['silhouette']:,.4f} |" in markdown
    assert f"| {metrics['davies_bouldin']:,.4f} |" in markdown


def test_without_a_model_is_one_line_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("report", "--out", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: no active model yet; run `cinecluster recluster` first"
    assert not (tmp_path / "r").exists()


def test_out_must_be_a_folder(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "file").write_text("x")
    result = run_cli("report", "--out", str(tmp_path / "file"))
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: --out ")
