"""Starting Vigil does not load the batch-matching and PDF libraries it rarely needs.

Splink, DuckDB, pandas and Arrow serve ``vigil link …`` only, and fpdf2 a case's meeting pack;
loaded at start they cost each web process about 100 MB and seconds of start-up. They are
imported where they are used, and this test keeps it so."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("splink", "duckdb", "pandas", "pyarrow", "fpdf")


@pytest.mark.slow  # a fresh interpreter imports the whole app
def test_the_app_starts_without_the_batch_libraries_and_their_users_still_find_them() -> None:
    probe = (
        "import sys, vigil.cli, vigil.web.app\n"
        f"heavy = {HEAVY!r}\n"
        "print(' '.join(m for m in heavy if m in sys.modules))\n"
        "from vigil.linkage.matching import batch\n"
        "from vigil.cases import pack_pdf\n"
        "print(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(  # a fresh interpreter: this one has imported them all already
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    at_start, when_used = done.stdout.split("\n")[:2]
    assert at_start.split() == []
    assert when_used.split() == list(HEAVY)
