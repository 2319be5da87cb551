"""Loaders: stream MovieLens CSV files into PostgreSQL with COPY, validated, in one transaction."""
