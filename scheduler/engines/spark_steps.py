"""The recluster's ratings-sized steps on Apache Spark; the driver keeps what grows with movies.

What runs where (docs/scaling.md):
- the ratings are read once per run, out of PostgreSQL in `spark_partitions` slices of user ids
  (JDBC, in parallel) and kept hash-partitioned by user: every partition holds whole users;
- movie_features: Spark counts and sums the ratings per movie; the driver COPYs those movies-sized
  aggregates into a temporary table and the features SQL (scheduler/features.py) does the rest;
- item_neighbours: liked pairs (the API's rule), holdout pairs left out, each user's latest
  TABLE_CAP; every partition counts its users' co-likes with scipy, Spark sums them per movie pair
  and keeps each movie's TOP_N cosines;
- item_weights: likes per movie and the Gram matrix of the most-liked movies, a dense block per
  partition (scheduler/item_model.py gram) summed by the driver, which does the EASE solve;
- item_successors: a window per user in (ts, movie id) order, F.lead for the next WINDOW
  ratings (every rating holds a position; only covered movies outside the holdout are ends),
  Spark sums the step weights per movie pair; the driver fills the covered x covered grid and
  keeps each movie's successors (scheduler/sequence.py), as in process;
- user_recommendations: each partition ranks its users with ranking/users.py (the item weights
  and successors broadcast) and COPYs their lists into a staging table on its own connection;
  the run's transaction checks the counts and attaches that table as the version's partition,
  so the driver never holds the lists (at 1B ratings: ~650M entries).
The numpy functions are the in-process engine's own, so the two engines share one definition of
every model; tests/scheduler/test_spark_engine.py checks they agree. Everything else goes back by
COPY in the run's transaction (same version, lock, run record and activation as the local engine).

Snapshot: the ratings are read by other connections than the run's, so the stored rankings carry
the snapshot taken just *before* the read: a change committed during the read then counts as
"after the run" and that user gets the live ranking (safe side).
"""

import time
import warnings

import numpy as np
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from sqlalchemy import Connection, Engine, text

from cinecluster.settings import Settings
from ranking import TOP_N
from ranking.liked import liked_sql
from scheduler.co_likes import TABLE_CAP
from scheduler.copyio import copy_columns
from scheduler.engines import spark_partitions as parts
from scheduler.engines.spark_session import (
    executor_database_url,
    get_session,
    jdbc_target,
    spark_errors,
    stop_session,
)
from scheduler.features import FeatureMatrix, FeatureOptions, rebuild_features
from scheduler.holdout_sample import sample_ratings, sample_users
from scheduler.item_model import ItemModelParams, LikedCounts, item_model_step
from scheduler.item_tables import ItemTable, run_log_popularity, write_item_table
from scheduler.quality import holdout_step
from scheduler.sequence import STEP_WEIGHTS, WINDOW, SuccessorCounts, successors_step
from scheduler.user_lists import record_snapshot
from scheduler.versions import WriteContext, WriteStep, attach_partition, create_for_version

# pyspark 4.3 warns about pandas 3 on every toPandas (its own calls; the results are checked by
# tests/scheduler/test_spark_engine.py): noise in the run's output
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
warnings.filterwarnings("ignore", message="The copy keyword is deprecated", module=r"pyspark\.")

AGGREGATES = "spark_movie_aggregates"  # temporary, dropped at the run's commit
# + version: the stored rankings as the executors write them, until the run attaches the table
STAGED_LISTS = "spark_lists_v"
_STAGED_TABLES = text(
    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE :p"
)


class SparkRun:
    """One run on Spark: the session (started on first use), the ratings, what the steps pass on."""

    def __init__(self, master: str, database_url: str, settings: Settings) -> None:
        self.master = master
        self.settings = settings
        self.partitions = settings.spark_partitions
        self.jdbc_url, self.jdbc_properties = jdbc_target(database_url, settings.spark_jdbc_url)
        self.executor_url = executor_database_url(database_url, settings.spark_jdbc_url)
        self._spark: SparkSession | None = None
        self._ratings: DataFrame | None = None
        self._train: DataFrame | None = None  # liked pairs minus the holdout: the item models' data
        self._hidden: DataFrame | None = None  # the holdout sample's hidden (user_id, movie index) pairs
        self.snapshot = ""
        self._staged_on: Engine | None = None  # where user_lists_step made its staging table

    @property
    def spark(self) -> SparkSession:
        if self._spark is None:
            self._spark = get_session(self.master, self.settings)
        return self._spark

    def close(self) -> None:
        """Drop the run's cached data and an unattached staging table (the run failed); stop the
        session unless the settings keep it."""
        if self._staged_on is not None:
            self.drop_staged(self._staged_on)
        for frame in (self._train, self._ratings):
            if frame is not None:
                with spark_errors("unpersist"):
                    frame.unpersist()
        if not self.settings.spark_keep_session:
            stop_session()

    # -- the ratings ---------------------------------------------------------------------------

    def ratings(self) -> DataFrame:
        if self._ratings is None:
            raise RuntimeError("the Spark engine reads the ratings in rebuild_features, first")
        return self._ratings

    def _read_ratings(self, conn: Connection) -> DataFrame:
        """user_id, movie_id, rating, ts; slices of user ids read in parallel, whole users per partition."""
        self.snapshot = conn.execute(text("SELECT pg_current_snapshot()::text")).scalar_one()
        low, high = conn.execute(text("SELECT min(user_id), max(user_id) FROM ratings")).one()
        frame = self.spark.read.jdbc(
            self.jdbc_url,
            "ratings",
            column="user_id",
            lowerBound=low or 0,
            upperBound=(high or 0) + 1,
            numPartitions=self.partitions if low is not None else 1,
            properties={**self.jdbc_properties, "fetchsize": "10000"},
        )
        frame = frame.select("user_id", "movie_id", "rating", "ts").repartition(self.partitions, "user_id")
        return frame.persist(StorageLevel.MEMORY_AND_DISK)

    # -- movie_features ------------------------------------------------------------------------

    def rebuild_features(self, conn: Connection, options: FeatureOptions) -> FeatureMatrix:
        """scheduler.features.rebuild_features over Spark's count and sum per movie."""
        with spark_errors("movie aggregates"):
            self._ratings = self._read_ratings(conn)
            per_movie = (
                self._ratings.groupBy("movie_id")
                .agg(F.count(F.lit(1)).alias("n"), F.sum("rating").alias("total"))  # float sums: exact
                .toPandas()
            )
        conn.execute(text(f"CREATE TEMPORARY TABLE {AGGREGATES} (movie_id int4, n int8, total float8)"))
        copy_columns(
            conn,
            AGGREGATES,
            ["movie_id", "n", "total"],
            [
                ("int4", per_movie["movie_id"].to_numpy(np.int32)),
                ("int8", per_movie["n"].to_numpy(np.int64)),
                ("float8", per_movie["total"].to_numpy(np.float64)),
            ],
        )
        features = rebuild_features(conn, options, aggregates=AGGREGATES)
        conn.execute(text(f"DROP TABLE {AGGREGATES}"))
        return features

    # -- write steps ---------------------------------------------------------------------------

    def write_steps(self, params: ItemModelParams) -> list[WriteStep]:
        """scheduler.steps.default_write_steps with the ratings-sized work on Spark."""
        return [
            self.co_likes_step,
            item_model_step(params, counts=self._liked_counts),
            successors_step(counts=self._successor_counts),
            holdout_step,
            self.user_lists_step,
        ]

    def co_likes_step(self, conn: Connection, context: WriteContext) -> None:
        """scheduler.co_likes.co_likes_step: item_neighbours, the holdout sample, the training pairs."""
        start = time.perf_counter()
        ids = context.features.movie_ids
        with spark_errors("co-likes"):
            index = self.spark.createDataFrame(
                [(int(m), i) for i, m in enumerate(ids)], "movie_id int, movie int"
            )
            liked = _liked(self.ratings()).join(F.broadcast(index), "movie_id")
            users = liked.select("user_id").distinct().toPandas()["user_id"].to_numpy(np.int64)
            sample = sample_ratings(conn, sample_users(np.sort(users)), ids)
            held_out = zip(sample.user[sample.test], sample.movie[sample.test], strict=True)
            hidden = self.spark.createDataFrame(
                [(int(u), int(m)) for u, m in held_out], "user_id int, movie int"
            )
            self._hidden = hidden  # the next-movie counts leave them out too (_successor_counts)
            train = liked.join(F.broadcast(hidden), ["user_id", "movie"], "left_anti")
            self._train = train.select("user_id", "movie", "ts").persist(StorageLevel.MEMORY_AND_DISK)
            latest = Window.partitionBy("user_id").orderBy(F.desc("ts"), F.desc("movie"))
            capped = (
                self._train.withColumn("position", F.row_number().over(latest))
                .where(F.col("position") <= TABLE_CAP)
                .select("user_id", "movie")
            ).persist(StorageLevel.MEMORY_AND_DISK)
            table = _top_neighbours(capped, len(ids), self.partitions)
            pairs = capped.count()
            capped.unpersist()
        context.holdout_sample = sample
        log_pop = run_log_popularity(conn, context)
        rows = write_item_table(conn, context.version, ids, table, context.fit.labels, log_pop)
        context.item_similarity = table.as_matrix(len(ids))
        context.metrics["engine"] = {"name": "spark", "master": self.master, "partitions": self.partitions}
        context.metrics["item_neighbours"] = {
            "rows": rows,
            "liked_pairs": int(pairs),
            "seconds": round(time.perf_counter() - start, 2),
        }

    def _liked_counts(self, context: WriteContext) -> LikedCounts | None:
        if self._train is None:
            return None
        return SparkLikedCounts(self._train, len(context.features.movie_ids), self.partitions)

    def _successor_counts(self, conn: Connection, context: WriteContext) -> SuccessorCounts:
        """scheduler.sequence.successor_counts on Spark (successors_step's hook)."""
        if self._hidden is None:
            raise RuntimeError("successors_step runs after co_likes_step (it needs the holdout sample)")
        ids, hidden = context.features.movie_ids, self._hidden
        return lambda covered: _successor_grid(self.ratings(), hidden, ids, covered)

    def user_lists_step(self, conn: Connection, context: WriteContext) -> None:
        """scheduler.user_lists.user_lists_step, every partition's users ranked where they are and
        COPYed by the executor into a staging table, which the run's transaction then attaches."""
        if context.item_weights is None:
            raise RuntimeError("user_lists_step runs after item_model_step (it needs the item weights)")
        start = time.perf_counter()
        ids = context.features.movie_ids
        version = context.version
        staging = f"{STAGED_LISTS}{int(version)}"
        # Executors write over their own connections, so the table is committed before they start.
        self._staged_on = conn.engine
        self.drop_staged(conn.engine)
        with conn.engine.begin() as side:
            # with the key: each task's DELETE is a lookup, and a duplicate row cannot get in
            create_for_version(side, "user_recommendations", version, staging, indexes=True)
        target = parts.ListsTarget(self.executor_url, staging, version)
        with spark_errors("user rankings"):
            shared = self.spark.sparkContext.broadcast(
                (
                    ids,
                    context.item_weights,
                    context.fit.labels,
                    run_log_popularity(conn, context),
                    context.item_successors,
                )
            )
            columns = self.ratings().select(
                "user_id",
                "movie_id",
                (F.col("rating") * 2).cast("short").alias("half_stars"),
                F.unix_micros("ts").alias("micros"),
            )
            written = columns.mapInArrow(
                lambda batches: parts.rank_and_write_partition(batches, shared, target), parts.WRITTEN_SCHEMA
            ).toPandas()
            shared.unpersist()
        users, entries = int(written["users"].sum()), int(written["entries"].sum())
        stored = conn.execute(
            text(f"SELECT count(*), coalesce(sum(cardinality(movie_ids)), 0) FROM {staging}")
        ).one()
        if tuple(stored) != (users, entries):  # a task's rows lost or written twice: never serve them
            raise RuntimeError(
                f"{staging} holds {stored[0]} lists ({stored[1]} entries);"
                f" the executors wrote {users} ({entries})"
            )
        attach_partition(conn, "user_recommendations", version, staging)
        record_snapshot(conn, version, self.snapshot)
        context.metrics["user_recommendations"] = {
            "users": users,
            "entries": entries,
            "seconds": round(time.perf_counter() - start, 2),
        }

    @staticmethod
    def drop_staged(engine: Engine) -> None:
        """Drop the staging tables of runs that did not attach theirs (failed, or killed)."""
        with engine.begin() as side:
            names = side.execute(_STAGED_TABLES, {"p": STAGED_LISTS.replace("_", r"\_") + "%"}).scalars()
            for name in list(names):
                side.execute(text(f"DROP TABLE IF EXISTS {name}"))


def _liked(ratings: DataFrame) -> DataFrame:
    """(user_id, movie_id, ts seconds) of the liked ratings: >= 4 or >= the user's own mean
    (ranking/liked.py, the same SQL text as in PostgreSQL; float sums of half stars are exact,
    so is the mean's compare)."""
    mean = F.avg("rating").over(Window.partitionBy("user_id"))
    return (
        ratings.withColumn("mean", mean)
        .where(F.expr(liked_sql("rating", "mean")))
        .select("user_id", "movie_id", F.unix_seconds("ts").alias("ts"))
    )


def _top_neighbours(capped: DataFrame, n_movies: int, partitions: int) -> ItemTable:
    """scheduler.co_likes.top_neighbours: Spark sums the partitions' co-likes per movie pair
    (shuffled by movie), then each partition keeps its movies' TOP_N with co_likes.top_of_block."""
    k = min(TOP_N, n_movies - 1)
    if k < 1:
        return _neighbours([])
    counted = capped.groupBy("movie").agg(F.count(F.lit(1)).alias("n")).toPandas()
    norms = np.zeros(n_movies)
    norms[counted["movie"].to_numpy(np.int64)] = np.sqrt(counted["n"].to_numpy(np.float64))
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    shared = capped.sparkSession.sparkContext.broadcast(inverse)
    top = (
        capped.repartition(partitions, "user_id")
        .mapInArrow(lambda batches: parts.co_likes_partition(batches, n_movies), parts.CO_SCHEMA)
        .repartition(partitions, "a")
        .mapInArrow(lambda batches: parts.top_partition(batches, shared, k, n_movies), parts.TOP_SCHEMA)
        .toPandas()
    )
    shared.unpersist()
    columns = [top[c].to_numpy() for c in ("movie", "rank", "neighbour", "sim", "co")]
    return _neighbours([tuple(columns)]) if len(top) else _neighbours([])


def _neighbours(parts: list[tuple[np.ndarray, ...]]) -> ItemTable:
    """One ItemTable, ordered by movie then rank as the in-process table is."""
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return ItemTable(empty, empty, empty, np.empty(0, np.float32), np.empty(0, np.int32))
    movie, rank, neighbour, sim, co = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = np.lexsort((rank, movie))
    return ItemTable(
        movie[order].astype(np.int64),
        rank[order].astype(np.int64),
        neighbour[order].astype(np.int64),
        sim[order].astype(np.float32),
        co[order].astype(np.int32),
    )


def _successor_grid(
    ratings: DataFrame, hidden: DataFrame, ids: np.ndarray, covered: np.ndarray
) -> np.ndarray:
    """count[a, b] of scheduler.sequence.successor_counts: each user's ratings in (ts, movie id)
    order, every one holding a position (unknown and uncovered movies too); a rating is an end
    of a pair only as a covered movie outside the holdout (`hidden`: user_id, movie index).
    Spark sums STEP_WEIGHTS per pair (multiples of 2^-10: exact in any order); the driver fills
    the dense grid from the nonzero pairs."""
    width = len(covered)
    grid = np.zeros((width, width))
    if width == 0:
        return grid
    with spark_errors("successor counts"):
        spark = ratings.sparkSession
        local = spark.createDataFrame(
            [(int(ids[m]), int(m), i) for i, m in enumerate(covered)], "movie_id int, movie int, local int"
        )
        # distinct: two held-out unknown movies may share an index, and a duplicate row would
        # take a position of its own
        marked = hidden.distinct().withColumn("hidden", F.lit(True))
        end = F.when(F.col("hidden").isNull(), F.col("local"))  # null: never an end
        rated = (
            ratings.select("user_id", "movie_id", "ts")
            .join(F.broadcast(local), "movie_id", "left")
            .join(F.broadcast(marked), ["user_id", "movie"], "left")
            .select("user_id", "movie_id", "ts", end.alias("a"))
        )
        order = Window.partitionBy("user_id").orderBy("ts", "movie_id")
        following = F.array(*(F.lead("a", step).over(order) for step in range(1, WINDOW + 1)))
        weight = F.array(*(F.lit(float(w)) for w in STEP_WEIGHTS))
        summed = (
            rated.select("a", following.alias("following"))
            .where(F.col("a").isNotNull())
            .select("a", F.posexplode("following").alias("step", "b"))
            .where(F.col("b").isNotNull())
            .groupBy("a", "b")
            .agg(F.sum(F.element_at(weight, F.col("step") + 1)).alias("count"))
            .toPandas()
        )
    a, b = summed["a"].to_numpy(np.int64), summed["b"].to_numpy(np.int64)
    grid[a, b] = summed["count"].to_numpy(np.float64)
    return grid


class SparkLikedCounts:
    """scheduler.item_model.LikedCounts over the training pairs on Spark."""

    def __init__(self, train: DataFrame, n_movies: int, partitions: int) -> None:
        self.train = train
        self.n_movies = n_movies
        self.partitions = partitions

    def likes(self) -> np.ndarray:
        with spark_errors("likes per movie"):
            counted = self.train.groupBy("movie").agg(F.count(F.lit(1)).alias("n")).toPandas()
        likes = np.zeros(self.n_movies, dtype=np.int64)
        likes[counted["movie"].to_numpy(np.int64)] = counted["n"].to_numpy(np.int64)
        return likes

    def gram(self, covered: np.ndarray) -> np.ndarray:
        """XᵀX of the covered columns: each partition's block (exact counts, scheduler/item_model.py
        gram), summed per movie pair by Spark; the driver only fills the dense matrix."""
        n = len(covered)
        total = np.zeros((n, n))
        with spark_errors("Gram matrix"):
            spark = self.train.sparkSession
            position = spark.createDataFrame(
                [(int(m), i) for i, m in enumerate(covered)], "movie int, position int"
            )
            inside = self.train.join(F.broadcast(position), "movie").select("user_id", "position")
            summed = (
                inside.repartition(self.partitions, "user_id")
                .mapInArrow(lambda batches: parts.gram_partition(batches, n), parts.CO_SCHEMA)
                .groupBy("a", "b")
                .agg(F.sum("co").alias("co"))
                .toPandas()
            )
        a, b = summed["a"].to_numpy(np.int64), summed["b"].to_numpy(np.int64)
        total[a, b] = summed["co"].to_numpy(np.float64)
        total[b, a] = total[a, b]  # the upper triangle came over; the Gram is symmetric
        return total
