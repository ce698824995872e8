"""Persistence: SQLAlchemy tables, engine set-up, secret encryption and migrations."""
