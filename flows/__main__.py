"""``python -m flows`` is the ``recon`` command."""

import sys

from flows.cli import main

sys.exit(main())
