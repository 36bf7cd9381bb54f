"""Alembic migrations; ``vigil db upgrade`` applies them."""
