"""What the batch commands promise before any engine is loaded: their defaults and the error
a person can fix. Kept apart from ``batch`` so that ``vigil`` starts without importing
Splink, DuckDB, pandas and Arrow, which only ``vigil link …`` needs."""

from __future__ import annotations

DEFAULT_MEMORY_LIMIT = "3GB"
"""DuckDB's working memory (it spills to a temp directory beyond it): with Python, Arrow
and the output this keeps a million-person dedupe well under 6 GB."""
DEFAULT_MIN_PROBABILITY = 0.01
"""Pairs scored below this are not written: the file holds candidates, not every pair."""


class InputError(ValueError):
    """Input a person cannot fix by retrying: wrong file, missing columns, duplicate ids."""
