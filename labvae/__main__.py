"""`python -m labvae`: see labvae.cli."""

import sys

from .cli import main

sys.exit(main())
