"""``python -m iochost``: the same command line as the ``iochost`` script."""
import sys

from .cli import main

sys.exit(main())
