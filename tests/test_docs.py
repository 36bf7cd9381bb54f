"""The README's documentation agrees with the code."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from vigil.cli import app
from vigil.settings import Settings

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_readme_lists_every_setting_with_its_default() -> None:
    table = README.split("<!-- settings-table:start -->")[1].split("<!-- settings-table:end -->")[0]
    documented = dict(re.findall(r"\| `VIGIL_([A-Z_0-9]+)` \| `([^`]*)` \|", table))
    assert set(documented) == {name.upper() for name in Settings.model_fields}
    for name, field in Settings.model_fields.items():
        if name in {"secret_key", "master_keys", "audit_signing_key"}:
            continue
        default = getattr(field.default, "value", field.default)
        assert documented[name.upper()] == str(default), name


def test_readme_lists_every_cli_command() -> None:
    root = get_command(app)
    commands = []
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(command, "commands", None)
        commands += [f"vigil {name} {sub}" for sub in subs] if subs else [f"vigil {name}"]
    for command in commands:
        assert f"`{command}" in README, command
