"""The jinja2 environment over the packaged `templates/` folder.

Templates ship inside the wheel as `provisioner.templates`, so an installed mtasts renders
the same files as a checkout. Autoescaping is off: the outputs are wire formats (policy
bodies, zone files, JavaScript, Markdown), each escaped by the code that fills them.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import jinja2


def templates_dir() -> Path:
    return Path(str(files("provisioner.templates")))


def template_environment(*, newline_sequence: str = "\n") -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        newline_sequence=newline_sequence,  # type: ignore[arg-type]
        undefined=jinja2.StrictUndefined,
    )
