"""Options shared by several commands."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

SetOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override one spec value by its dotted path, e.g. --set model.attention.variant=complex "
        "--set train.steps=500 (repeatable; values are YAML: 500, 3e-4, true, null). "
        "Checked like the file.",
        show_default=False,
    ),
]
"""`--set KEY=VALUE`, repeatable: see light_llm.schemas.overrides."""
