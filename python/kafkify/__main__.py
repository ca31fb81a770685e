"""``python -m kafkify``: the same as the ``kafkify`` command."""

import sys

from kafkify.cli import main

sys.exit(main())
