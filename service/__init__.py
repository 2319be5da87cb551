"""The FastAPI service: answers from the cluster tables in PostgreSQL."""
