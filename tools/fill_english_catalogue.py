"""Make the English catalogue's translations equal to its source text.

English is the source language, so its catalogue mirrors the source strings; keeping it
complete lets a test prove that every string exists in both catalogues.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po


def main(path: str) -> None:
    po = Path(path)
    with po.open("rb") as handle:
        catalogue = read_po(handle, locale="en")
    for message in catalogue:
        if message.id:
            message.string = message.id
            message.flags.discard("fuzzy")
    with po.open("wb") as handle:
        write_po(handle, catalogue, omit_header=False, sort_output=True, width=100)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "src/vigil/translations/en/LC_MESSAGES/messages.po")
