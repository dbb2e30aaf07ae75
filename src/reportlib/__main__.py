"""``python -m reportlib`` is the ``reportlib`` command."""

from reportlib.cli import console

console()
