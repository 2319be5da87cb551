"""Read and write queries: plain functions taking a SQLAlchemy Connection."""
