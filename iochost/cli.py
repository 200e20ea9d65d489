"""The ``iochost`` command line: argument parsing only; each verb calls into the layers."""
from __future__ import annotations

import argparse
import sys

from . import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="iochost", description=__doc__)
    parser.add_argument("--version", action="version", version=f"iochost {__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
