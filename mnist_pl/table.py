"""The accuracy table: ``python -m mnist_pl.table``. Trains each recipe in configs/ on several seeds.

Per config it prints parameters, epochs, training time (mean over seeds), test accuracy of the best
checkpoint as mean and spread (min-max) over the seeds, and the accuracy its tutorial or the
literature reports. Every figure comes from this one run on this machine. Options the table does
not know go to every fit: ``--configs bncnn --trainer.precision=bf16-mixed``.
"""

import argparse
import difflib
import io
import math
import os
import statistics
import sys
import time
from pathlib import Path

try:  # torch and Lightning take seconds to import: a Ctrl-C then ended in a traceback (as __main__.py says)
    import lightning as L
    import yaml
    from jsonargparse import Namespace

    from mnist_pl.bench import CONFIGS, app_cli, app_fit, machine, numpy_seed, refuse_repeats
    from mnist_pl.errors import UserError, reported
    from mnist_pl.files import cannot_write, unset_variable
    from mnist_pl.signals import ctrl_c_at_once_after, stopped_in_one_line
    from mnist_pl.trainer import refuse_bad_settings
except KeyboardInterrupt:
    if __name__ != "__main__":
        raise
    sys.exit("error: table: stopped by Ctrl-C as it started, nothing written: run it again")

# Accuracy each recipe's source reports (or the target it must reach), in %; None where none is known.
REFERENCE: dict[str, tuple[float | None, str]] = {
    "minimal": (95.0, "beginner tutorials, 1 epoch"),
    "lenet": (99.0, "PyTorch MNIST example (LeNet-style)"),
    "twoconv": (None, "no published figure for this recipe known"),
    "bncnn": (99.3, "BatchNorm CNN tutorials"),
    "example": (99.1, "pytorch/examples mnist, 14 epochs"),
    "fast": (99.0, "99% in one epoch"),
    "best": (99.65, "target; best single CNN published ~99.8"),
}


_SET_HERE = {
    "--seed_everything": "give --seeds",
    "--config": "give --configs",
    "-c": "give --configs",
    "--trainer.logger": "give --save_dir",
    # Its save_dir was asked for, and refused when given (an audit).
    "--trainer.logger+": "leave it out: each fit logs to TensorBoard in --save_dir",
    "--trainer.logger.init_args.save_dir": "give --save_dir",
    "--trainer.logger.save_dir": "give --save_dir",
    "--test_after_fit": "leave it out: the test accuracy is the table's",
    # Each run is the table's own, a fresh fit of its seed: a checkpoint's resume was a row of "seed 0", a chosen
    # version stopped the second seed, a debugging run kept none of the runs its last line named.
    "--ckpt_path": "leave it out: each fit trains from the start",
    "--trainer.logger.init_args": "give --save_dir",
    "--trainer.logger.init_args.version": "leave it out: each fit has a run of its own",
    "--trainer.logger.version": "leave it out: each fit has a run of its own",
    "--trainer.fast_dev_run": "give --trainer.limit_train_batches for short fits",
    "--print_config": "run python -m mnist_pl fit --config configs/NAME.yaml --print_config",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_pl.table",
        # One line, as fit's, above an error: argparse's own listed every config twice, over four lines.
        usage="%(prog)s [--configs NAME ...] [--seeds SEED ...] [--save_dir DIR] [fit options]",
        description=__doc__.splitlines()[0].replace("``", "") + " About 2 hours on 2 CPU cores for all of them.",
        epilog="Any other option goes to every fit, e.g. --trainer.precision=bf16-mixed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        allow_abbrev=False,
    )
    names = sorted(path.stem for path in CONFIGS.glob("*.yaml"))
    parser.add_argument("--configs", nargs="+", default=list(REFERENCE), choices=names, help="config names in configs/")
    parser.add_argument("--seeds", type=numpy_seed, nargs="+", default=[0, 1, 2], help="a fit of each config per seed")
    parser.add_argument("--save_dir", default="logs/table", help="where the fits' runs are kept")
    # Any other option goes to every fit, e.g. --trainer.precision=bf16-mixed.
    args, overrides = parser.parse_known_args()
    # A config twice made two equal rows.
    refuse_repeats(parser, {"--configs": args.configs, "--seeds": args.seeds})
    # Set by the table for every fit: given again, its rows named other seeds, recipes or folders than the fits'.
    own = [option for option in parser._option_string_actions if option.startswith("--") and option != "--help"]
    for i, word in enumerate(overrides):
        before = overrides[i - 1] if i else ""
        # Not the value of the option before it: a config meant for --configs (the fit said "unrecognized arguments").
        if word in names and not (before.startswith("--") and "=" not in before):
            configs = " ".join([*args.configs, word])
            parser.error(f"{word}: a config's name, given apart from --configs: put it there (--configs {configs})")
    for key in (word.split("=")[0] for word in overrides):
        if instead := _SET_HERE.get(key):
            parser.error(f"{key}: the table sets it for every fit: {instead}")
        # A fit's options are dotted (--trainer.max_epochs): --seed went to the fit, which named only itself.
        if key.startswith("--") and "." not in key and (near := difflib.get_close_matches(key, own, n=1, cutoff=0.75)):
            parser.error(f"{key}: not an option of the table: {key} here is {near[0]}")
    # Found by the first fit, whose error named --trainer.logger.init_args.save_dir, which the table refuses.
    if not args.save_dir:
        parser.error("--save_dir is empty: give a folder, such as logs/table")
    if unset := unset_variable(args.save_dir):
        parser.error(f"--save_dir {args.save_dir}: {unset} is not set: set it, or give the folder itself")
    save_dir = Path(os.path.expanduser(os.path.expandvars(args.save_dir)))  # as the fits take it
    if str(save_dir).startswith("~"):  # left as given: no such user
        parser.error(f"--save_dir {args.save_dir}: {save_dir.parts[0]} is no user's home folder here: check the path")
    if why := cannot_write(save_dir):
        parser.error(f"--save_dir {save_dir}: cannot be written ({why}): give another one")
    with reported(), stopped_in_one_line("table", f"no table printed (its fits' runs so far in {save_dir})"):
        _parse_every_fit(args, overrides)
        _table(args, overrides)


def _parse_every_fit(args: argparse.Namespace, overrides: list[str]) -> None:
    """Each config's settings with the options, parsed before the first fit as ``--print_config`` parses them
    (0.3 s each, nothing written; the checks of classes as they are built come at each fit): an option one
    recipe does not take (``--model.net.init_args.width 4``: LeNet has no width) ended the table at that
    recipe's first fit, after the fits before it (in a full table, hours), no table printed. So do the
    trainer settings a fit refuses, and those of fits the table cannot time or rank."""
    for name in args.configs:
        options = [f"--seed_everything={args.seeds[0]}", *overrides, "--print_config"]
        printed = io.StringIO()
        try:
            app_cli(f"{name}.yaml", *options, save_dir=args.save_dir, stdout=printed)
        except SystemExit as err:  # 0: printed, as asked
            if err.code:
                raise
        settings = yaml.safe_load(printed.getvalue())
        trainer = Namespace(**settings["trainer"])  # its settings' dicts, as the fit reads
        refuse_bad_settings(trainer, "fit", test_after_fit=True)
        _refuse_what_the_table_cannot_rank(trainer, settings["data"])


def _refuse_what_the_table_cannot_rank(trainer: Namespace, data: dict) -> None:
    """Fits that never end (an audit's, killed at epoch 77), or test their last weights where the table says
    the best checkpoint's. (Those that train nothing, refuse_bad_settings refuses for any fit.)"""
    if trainer.max_epochs == -1 and trainer.max_steps in (None, -1) and trainer.max_time is None:
        raise UserError(
            "--trainer.max_epochs -1: the table's fits would never end: give a number of epochs (or "
            "--trainer.max_steps, --trainer.max_time)"
        )
    if trainer.limit_val_batches == 0:
        raise UserError(
            "--trainer.limit_val_batches 0: the table tests each fit's best checkpoint, which validation chooses: "
            "give 1 or more batches"
        )
    if data["val_size"] == 0:  # the fit would ask for limit_val_batches 0, refused above
        raise UserError(
            "--data.val_size 0: the table tests each fit's best checkpoint, which validation chooses: give a "
            "val_size, such as 5000"
        )


def _epochs_trained(trainer: L.Trainer) -> float:
    """Epochs the fit trained, a part of one where max_steps or max_time ended it: the config's max_epochs
    was the table's column, and a fit stopped early (EarlyStopping, 3 steps) was said to train all of them."""
    per_epoch = math.ceil(trainer.num_training_batches / trainer.accumulate_grad_batches)
    return trainer.global_step / per_epoch


def _table(args: argparse.Namespace, overrides: list[str]) -> None:
    rows = []
    for name in args.configs:
        runs = []
        start = time.perf_counter()
        for seed in args.seeds:
            clock, acc, cli = app_fit(f"{name}.yaml", f"--seed_everything={seed}", *overrides, save_dir=args.save_dir)
            seconds = clock.seconds
            runs.append((seconds, acc * 100, _epochs_trained(cli.trainer)))
            so_far = time.perf_counter() - start
            print(f"{name} seed {seed}: {acc:.2%} in {seconds:.0f} s ({so_far:.0f} s so far)", flush=True)  # | tee
        params = sum(p.numel() for p in cli.model.net.parameters())
        accs = [acc for _, acc, _ in runs]
        epochs = sorted({f"{trained:.1f}".removesuffix(".0") for _, _, trained in runs}, key=float)
        epochs_span = epochs[0] if len(epochs) == 1 else f"{epochs[0]}-{epochs[-1]}"  # 7-9: early stops by seed
        reference, source = REFERENCE.get(name, (None, "not in the table's list"))
        rows.append(
            (
                name,
                f"{params:,}",
                epochs_span,
                f"{statistics.mean(s for s, _, _ in runs):.0f} s",
                f"{statistics.mean(accs):.2f} ({min(accs):.2f}-{max(accs):.2f})",
                source if reference is None else f"{reference:.2f} ({source})",
                # As shown: 9,930 right of 10,000 is a float32 0.99299997, which fell short of 99.30.
                "-" if reference is None else "yes" if round(min(accs), 2) >= reference else "no",
            )
        )
    header = (
        "config",
        "params",
        "epochs",
        "train time",
        f"test acc % over seeds {args.seeds}",
        "reference %",
        "all seeds >= ref",
    )
    print(f"\n{machine()}" + (f" | options: {' '.join(overrides)}" if overrides else ""))
    print(f"Its fits' runs: tensorboard --logdir {args.save_dir}\n")
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    with ctrl_c_at_once_after():
        main()
