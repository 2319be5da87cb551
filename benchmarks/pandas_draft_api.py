"""The data team's draft API (from their hand-over notes), as written:
CSV files loaded into pandas at start-up, every request a scan of the DataFrames.

The benchmark's reference row. Files from PANDAS_DRAFT_DIR: clusters_movies.csv
(movieId,title,genres,cluster, as `cinecluster export-clusters` writes it) and
cleaned_ratings.csv (userId,movieId,rating,timestamp). Started by benchmarks/api.py:
`uvicorn --factory benchmarks.pandas_draft_api:draft_app`.
"""

import os
from pathlib import Path

import pandas as pd
from fastapi import FastAPI


def draft_app() -> FastAPI:
    directory = Path(os.environ["PANDAS_DRAFT_DIR"])
    app = FastAPI()

    # Загружаем данные (their code, unchanged apart from the paths)
    movies_df = pd.read_csv(directory / "clusters_movies.csv")
    ratings_df = pd.read_csv(directory / "cleaned_ratings.csv")

    @app.get("/")
    def home() -> dict[str, str]:
        return {"message": "Recommender System API is running"}

    @app.get("/movie/{movie_id}")
    def get_movie(movie_id: int):  # type: ignore[no-untyped-def]
        movie = movies_df[movies_df["movieId"] == movie_id]
        if movie.empty:
            return {"error": "Movie not found"}
        return movie.to_dict(orient="records")[0]

    @app.get("/recommend/movie/{movie_id}")
    def recommend_movies(movie_id: int, n: int = 5):  # type: ignore[no-untyped-def]
        movie = movies_df[movies_df["movieId"] == movie_id]
        if movie.empty:
            return {"error": "Movie not found"}
        cluster = movie["cluster"].values[0]
        recommendations = movies_df[movies_df["cluster"] == cluster].sample(n)
        return recommendations[["movieId", "title"]].to_dict(orient="records")

    @app.get("/recommend/user/{user_id}")
    def recommend_for_user(user_id: int, n: int = 5):  # type: ignore[no-untyped-def]
        user_ratings = ratings_df[ratings_df["userId"] == user_id]
        if user_ratings.empty:
            return {"error": "User not found"}
        top_cluster = user_ratings.merge(movies_df, on="movieId")["cluster"].value_counts().idxmax()
        recommendations = movies_df[movies_df["cluster"] == top_cluster].sample(n)
        return recommendations[["movieId", "title"]].to_dict(orient="records")

    return app
