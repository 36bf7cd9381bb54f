"""Starting Vigil does not load the batch-matching and PDF libraries it rarely needs.

Splink, DuckDB, pandas and Arrow serve ``vigil link …`` only, and fpdf2 a case's meeting pack;
loaded at start they cost each web process about 100 MB and seconds of start-up. They are
imported where they are used, and this test keeps it so."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("splink", "duckdb", "pandas", "pyarrow", "fpdf")


def test_the_command_line_and_the_web_app_start_without_the_batch_libraries() -> None:
    probe = (
        "import sys, vigil.cli, vigil.web.app\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == []


def test_the_batch_commands_and_the_pack_still_find_them_when_run() -> None:
    probe = (
        "import sys\n"
        "from vigil.linkage.matching import batch\n"
        "from vigil.cases import pack_pdf\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == list(HEAVY)
