"""``python -m mnist_pl``: run the CLI; a problem the user can fix ends in one line, not a traceback."""

import sys
from pathlib import Path

from mnist_pl import export
from mnist_pl.cli import MNISTCLI
from mnist_pl.errors import reported

DESCRIPTION = (
    "Train, test and inspect CNN classifiers for MNIST. One more subcommand: "
    "export (a checkpoint as ONNX or TorchScript; python -m mnist_pl export --help)."
)


def main() -> None:
    with reported():
        if sys.argv[1:2] == ["export"]:
            export.main(sys.argv[2:])
        else:
            # argparse names the program after sys.argv[0]: "__main__.py" under `python -m`.
            prog = "python -m mnist_pl" if Path(sys.argv[0]).name == "__main__.py" else None
            MNISTCLI(parser_kwargs={"description": DESCRIPTION, "prog": prog})


if __name__ == "__main__":
    main()
