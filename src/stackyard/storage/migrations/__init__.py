"""Alembic migrations, applied by `stackyard db upgrade` and on `stackyard serve`."""
