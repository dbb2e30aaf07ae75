"""``python -m reportlib`` is the ``reportlib`` command."""

import sys

from reportlib.cli import main

sys.exit(main())
