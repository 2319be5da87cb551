"""Alembic revisions: the schema's only owner. See docs/schema.md."""
