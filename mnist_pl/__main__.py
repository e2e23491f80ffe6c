"""``python -m mnist_pl``: run the CLI; a problem the user can fix ends in one line, not a traceback."""

import sys

from mnist_pl.cli import MNISTCLI
from mnist_pl.errors import UserError


def main() -> None:
    try:
        MNISTCLI()
    except UserError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
