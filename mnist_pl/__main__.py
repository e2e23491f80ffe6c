"""``python -m mnist_pl``: run the CLI; a data problem the user can fix ends in one line, not a traceback."""

import sys

from mnist_pl.cli import MNISTCLI
from mnist_pl.data import DataError


def main() -> None:
    try:
        MNISTCLI()
    except DataError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
