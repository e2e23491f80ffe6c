"""``python -m mnist_pl``: run the CLI; a problem the user can fix ends in one line, not a traceback."""

import sys
import traceback
from pathlib import Path

from lightning.fabric.utilities.exceptions import MisconfigurationException

from mnist_pl import export
from mnist_pl.cli import MNISTCLI
from mnist_pl.errors import UserError

DESCRIPTION = (
    "Train, test and inspect CNN classifiers for MNIST. One more subcommand: "
    "export (a checkpoint as ONNX or TorchScript; python -m mnist_pl export --help)."
)


def _raised_by_lightning(err: BaseException) -> bool:
    """Whether Lightning's own code raised ``err``: its checks of the settings it is given."""
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and "/lightning/" in Path(frames[-1].filename).as_posix()


def _fail(message: str) -> None:
    # One write of the whole line: under DDP every rank says it, and sys.exit(message) writes the
    # newline apart, so two ranks' lines ran into one ("...an epoch's enderror: ...").
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def main() -> None:
    try:
        if sys.argv[1:2] == ["export"]:
            export.main(sys.argv[2:])
        else:
            # argparse names the program after sys.argv[0]: "__main__.py" under `python -m`.
            prog = "python -m mnist_pl" if Path(sys.argv[0]).name == "__main__.py" else None
            MNISTCLI(parser_kwargs={"description": DESCRIPTION, "prog": prog})
    # Lightning's own word for a setting it cannot run with (no GPU backend, more devices than
    # the machine has, ...): the user's to fix, so one line like ours, not a traceback.
    except (UserError, MisconfigurationException) as err:
        _fail(str(err))
    # Lightning says the same in a ValueError (--trainer.num_nodes 0, an unknown strategy, a
    # val_check_interval past the epoch), a TypeError (--trainer.devices -2 on the CPU) or an
    # ImportError (accelerator tpu without torch_xla). Raised anywhere else, these are bugs:
    # their traceback stays.
    except (ValueError, TypeError, ImportError) as err:
        if not _raised_by_lightning(err):
            raise
        _fail(" ".join(str(err).split()))


if __name__ == "__main__":
    main()
