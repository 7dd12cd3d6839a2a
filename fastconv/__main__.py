"""Command line: ``python -m fastconv --info`` (and the ``fastconv`` script)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastconv", description=__doc__)
    parser.add_argument("--info", action="store_true", help="print build and machine facts")
    args = parser.parse_args(argv)
    import fastconv

    if args.info:
        fastconv.info()
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
