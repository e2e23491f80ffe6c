"""``python -m mnist_pl``: run the CLI; a problem the user can fix ends in one line, not a traceback."""

import os
import signal
import sys
from pathlib import Path

# A DDP process Lightning's launcher started (this command again, by the mnist_pl process that marked it, with a
# LOCAL_RANK) leaves Ctrl-C, and SIGTERM until Lightning's handler takes it, to rank 0: a process group's signal
# reaches rank 0 too, which stops the stage and kills this process once it has joined torch's rendezvous. Killed by
# the signal as it started, this process left rank 0 in the rendezvous, deaf to signals, until Lightning's watcher
# killed it: status 137, not a word, its run dir left behind. (Not a rank another launcher started, SLURM's or one's
# own, which ends by the signal as before: with no rank 0 of its own to end it, it waited in the rendezvous; a review.)
# Run as the program: imported (a test's run in its own process), it changes nothing.
if __name__ == "__main__":
    if os.environ.get("LOCAL_RANK", "0") != "0" and os.environ.get("MNIST_PL_PROCESS") == str(os.getppid()):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["MNIST_PL_PROCESS"] = str(os.getpid())  # what the processes it starts see

try:  # torch and Lightning take seconds to import: a Ctrl-C then ended in a traceback of 60 lines
    from mnist_pl import export
    from mnist_pl.cli import MNISTCLI
    from mnist_pl.errors import reported
    from mnist_pl.parser import MNISTArgumentParser
    from mnist_pl.signals import ctrl_c_at_once_after
    from mnist_pl.trainer import end_process_group
except KeyboardInterrupt:
    # One write of the whole line, as errors._fail's: under DDP every rank says it.
    said = next((w for w in sys.argv[1:2] if w in ("fit", "validate", "test", "predict", "export")), "mnist_pl")
    print(f"error: {said}: stopped by Ctrl-C as it started, nothing written: run it again", file=sys.stderr, flush=True)
    sys.exit(1)

DESCRIPTION = (
    "Train, test and inspect CNN classifiers for MNIST (FashionMNIST, KMNIST too). Start with: python -m mnist_pl "
    "fit --config configs/lenet.yaml (it trains, tests its best epoch and keeps the run in logs/lenet/version_N); "
    "then test or predict --config configs/lenet.yaml --ckpt_path best. The recipes: configs/README.md. One more "
    "subcommand: export (a checkpoint as ONNX, torch.export's .pt2 or TorchScript; python -m mnist_pl export "
    "--help). Also: python -m mnist_pl.table (the recipes' accuracy), python -m mnist_pl.bench (speed)."
)


def main() -> None:
    try:
        with reported():
            if sys.argv[1:2] == ["export"]:
                export.main(sys.argv[2:])
            else:
                # argparse names the program after sys.argv[0]: "__main__.py" under `python -m`. Each parser
                # of this run takes the name, jsonargparse's class help's too (this run's only: tests run main()).
                if Path(sys.argv[0]).name == "__main__.py":
                    MNISTArgumentParser.default_prog = "python -m mnist_pl"
                MNISTCLI(parser_kwargs={"description": DESCRIPTION})
    finally:
        MNISTArgumentParser.default_prog = None
        end_process_group()  # gloo's, as soon as the run ends (trainer.py)


def run() -> None:
    """``python -m mnist_pl`` and the ``mnist-pl`` command: ``main`` as the process's program (tests run ``main``)."""
    with ctrl_c_at_once_after():
        main()


if __name__ == "__main__":
    run()
