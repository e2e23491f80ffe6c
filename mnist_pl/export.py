"""``python -m mnist_pl export``: a checkpoint as a model that runs without Lightning (ONNX, torch.export's
``.pt2`` or TorchScript).

The exported model takes what an image loader gives: float pixels in [0, 1], shape (N, 1, 28, 28),
white digit on black (``mnist_pl.images.to_mnist`` makes any picture so, divided by 255), any N.
Normalisation is built in, and it returns the log-probabilities of the 10 classes, exactly
what the ``MNISTClassifier`` returns. After writing, the file is loaded back by its own runtime
(onnxruntime, ``torch.export.load``, ``torch.jit.load``) and checked against the Lightning model on
the 10,000 test images.
LightningCLI's subcommands are Trainer methods, so this one has a small parser of its own.
"""

import argparse
import contextlib
import io
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import numpy as np
import torch
import torch.nn.functional as F
from jsonargparse import ArgumentError
from torch import Tensor, nn

from mnist_pl.checkpoints import check_readable, refuse_an_export
from mnist_pl.data import MNISTDataModule, trained_settings
from mnist_pl.errors import UserError, reported
from mnist_pl.files import beside, cannot_write, file_above, missing_folders, publish, remove_empty
from mnist_pl.model import MNISTClassifier
from mnist_pl.nets import LeNet
from mnist_pl.parser import given_again, globbed, model_not_rebuilt, near_option, option_of_a_file
from mnist_pl.signals import ctrl_c_at_once_after, stopped_in_one_line

# The names each format's files go by, the default first: another (a run's .ckpt or .yaml) was written
# over with --overwrite.
NAMED = {"onnx": (".onnx",), "pt2": (".pt2",), "torchscript": (".pt", ".pth", ".torchscript")}
SUFFIX = {fmt: suffixes[0] for fmt, suffixes in NAMED.items()}


def floats(pixels: Tensor) -> Tensor:
    """The pixels as float32, refused unless floats: 8-bit levels (0-255) would run, 255 times too bright.
    (numpy's float64, from a TorchScript file, ended in a 50-line traceback; ONNX's input is typed.)"""
    if not pixels.is_floating_point():
        raise ValueError("pixels are floats in [0, 1]: divide 8-bit levels by 255")
    return pixels.float()


class Deployable(nn.Module):
    """Pixels in [0, 1] -> log-probabilities: the network with its normalisation and ``MNISTClassifier.forward``.

    It holds the plain network, not the LightningModule, whose trainer-bound attributes cannot be traced.
    """

    def __init__(self, net: nn.Module, mean: float, std: float) -> None:
        super().__init__()
        self.net, self.mean, self.std, self.floats = net, mean, std, floats

    def forward(self, pixels: Tensor) -> Tensor:
        return F.log_softmax(self.net((self.floats(pixels) - self.mean) / self.std), dim=1)


def load_model(ckpt_path: Path, data_dir: str) -> tuple[MNISTClassifier, MNISTDataModule, str | None]:
    """The model, its data module (dataset and normalisation as trained) and the precision its run
    tested in, from a checkpoint alone."""
    # The checkpoint records the data module's settings (dataset, mean, std).
    checkpoint = check_readable(ckpt_path)
    keep = {k: v for k, v in trained_settings(checkpoint, ckpt_path).items() if k in ("dataset", "mean", "std")}
    # Written by a module built in Python, it names no network: the default one, as the CLI builds it.
    given = {} if "net" in checkpoint.get("hyper_parameters", {}) else {"net": LeNet()}
    try:
        # Not compiled (configure_model would compile a --model.compile run's network): torch.jit cannot trace that.
        model = MNISTClassifier.load_from_checkpoint(
            ckpt_path, map_location="cpu", weights_only=True, compile=False, **given
        )
    except ArgumentError as err:  # jsonargparse's, building the network it names: a traceback of 90 lines
        raise UserError(model_not_rebuilt(ckpt_path, err)) from err
    except UserError as err:
        if not given:
            raise
        # The model's own message suggests --config and --model.net, which export has not.
        raise UserError(
            f"--ckpt_path {ckpt_path}: it names no network (saved from a module built in Python) and holds other "
            "weights than LeNet: export takes checkpoints of `python -m mnist_pl fit` runs, or of a module built "
            "with LeNet"
        ) from err
    model = model.eval().to(memory_format=torch.contiguous_format)
    return model, MNISTDataModule(data_dir, **keep), checkpoint.get("precision")


def write(
    deployable: Deployable, fmt: str, path: Path, overwrite: bool = False, check: Callable[[Path], None] | None = None
) -> None:
    """The file, written under a temporary name, ``check``-ed there, and renamed: never half an export, or
    one that failed its check, where one is expected."""
    example, batch = torch.rand(2, 1, 28, 28), torch.export.Dim("batch")
    with beside(path) as tmp:
        if fmt == "onnx":
            program = torch.onnx.export(
                deployable,
                (example,),
                dynamo=True,
                input_names=["pixels"],
                output_names=["log_probs"],
                dynamic_shapes=({0: batch},),
                verbose=False,
            )
            program.save(str(tmp))
        elif fmt == "pt2":  # its input is typed float32, as ONNX's: uint8 or float64 pixels are refused
            # Saved in memory (1.7 MB for LeNet), then written: onto a full disk torch's archive writer failed
            # again in its destructor, and the process aborted in a C++ stack trace.
            archive = io.BytesIO()
            torch.export.save(torch.export.export(deployable, (example,), dynamic_shapes=({0: batch},)), archive)
            tmp.write_bytes(archive.getbuffer())
        else:
            # A trace runs a Python check once and keeps none of it; a scripted function's call is kept.
            # (ONNX needs none: its input is typed float.)
            deployable.floats = torch.jit.script(floats)
            with open(tmp, "wb") as file:  # an unwritable path: OSError here, not torch's RuntimeError
                torch.jit.save(torch.jit.trace(deployable, example), file)
        if check is not None:
            check(tmp)
        publish(tmp, path, overwrite)


def runner(fmt: str, path: Path) -> Callable[[Tensor], Tensor]:
    """A function pixels -> log-probabilities that runs the exported file by its own runtime."""
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda pixels: torch.from_numpy(session.run(None, {"pixels": pixels.numpy()})[0])
    if fmt == "pt2":
        with open(path, "rb") as file:  # by name, torch warns of one not ending in .pt2: the check's temporary file
            program = torch.export.load(file).module()
        return lambda pixels: program(pixels).detach()
    scripted = torch.jit.load(str(path))
    return lambda pixels: scripted(pixels).detach()


def predictions(model: MNISTClassifier, dm: MNISTDataModule, autocast: torch.dtype | None = None) -> Tensor:
    """The Lightning model's log-probabilities of the test split, fed as in training (normalised by
    the data module), in float32 or under the autocast of a run's mixed precision."""
    dm.setup("test")
    with torch.no_grad(), torch.autocast("cpu", dtype=autocast or torch.bfloat16, enabled=autocast is not None):
        return torch.cat([model(dm.normalize(chunk)).float() for chunk in dm.test_set.images.split(1000)])


def verify(expected: Tensor, run: Callable[[Tensor], Tensor], dm: MNISTDataModule) -> tuple[int, int, float]:
    """(images with the same class, images, largest log-probability difference) over the test split."""
    pixels = dm.test_set.images.unsqueeze(1).float().div(255)
    got = torch.cat([run(chunk) for chunk in pixels.split(1000)])
    same = int((got.argmax(1) == expected.argmax(1)).sum())
    return same, len(pixels), float((got - expected).abs().max())


class _Parser(argparse.ArgumentParser):
    """Its errors as the other subcommands print theirs: the usage, where the options are, one ``error:`` line."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"tip: For details of accepted options run: {self.prog} --help\nerror: {message}\n")


def _misnamed(output: Path, fmt: str) -> str:
    """Why ``output`` is no name for a ``fmt`` export, and the name to give it."""
    # "m.onnx." has a dot too many (its suffix is "" before Python 3.14, "." since): advised as m.onnx.
    # ".onnx" alone is a hidden file of no suffix: "name it .onnx.onnx" was the advice.
    name = Path(output.name.rstrip("."))
    suffix, kind = name.suffix.lower(), " or ".join(NAMED[fmt])
    if suffix in NAMED[fmt]:
        return f"the {fmt} export is a {kind} file: name it {name}"
    if named_as := next((other for other, suffixes in NAMED.items() if suffix in suffixes), None):
        # a file that the other format's tools would try to open, and fail on
        return (
            f"{name.suffix} is the {named_as} suffix, and this is the {fmt} export: "
            f"name it {name.with_suffix(SUFFIX[fmt])}, or give --format {named_as}"
        )
    if suffix:
        return (
            f"the {fmt} export is a {kind} file, and this name is another kind's (a checkpoint, a config): "
            f"name it {name.with_suffix(SUFFIX[fmt])}"
        )
    return f"the {fmt} export is a {kind} file: name it {'model' if name.name[:1] in ('', '.') else name}{SUFFIX[fmt]}"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    """The options, with argparse's errors printed as the other subcommands print theirs."""
    # No abbreviations, as in the main CLI: --ckpt would be taken for --ckpt_path.
    # A one-line usage, as the other subcommands print (argparse's lists every option over 4 lines).
    parser = _Parser(
        prog="python -m mnist_pl export",
        usage="%(prog)s --ckpt_path CKPT [options] (--help lists them)",
        description="A checkpoint as a model that runs without Lightning (ONNX, torch.export's .pt2 or "
        "TorchScript), checked on the 10,000 test images: it takes float pixels in [0, 1], (N, 1, 28, 28), and "
        "returns the log-probabilities of the 10 classes, (N, 10).",
        allow_abbrev=False,
    )
    parser.add_argument(
        "--ckpt_path", type=Path, help="the .ckpt file to export, e.g. logs/lenet/version_0/checkpoints/best.ckpt"
    )
    parser.add_argument(
        "--format",
        choices=sorted(SUFFIX),
        default="onnx",
        help="onnx (default), pt2 (torch.export's ExportedProgram, for PyTorch) or torchscript (deprecated by PyTorch)",
    )
    parser.add_argument(
        "--output",
        help="the file to write, named for its format (.onnx; .pt2; .pt, .pth or .torchscript); default: the "
        "checkpoint's name with that suffix, beside it (best.ckpt: best.onnx)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    parser.add_argument(
        "--data.data_dir",
        dest="data_dir",
        default="data",
        help="the datasets' folder, as fit's (default: data): the export is checked on the test images of the "
        "checkpoint's dataset",
    )
    args, unknown = parser.parse_known_args(argv)
    line = sys.argv[1:] if argv is None else argv
    if unknown:  # before a missing --ckpt_path: --ckpt is the mistake, not the missing option
        typed = next((word.partition("=")[0] for word in unknown if word.startswith("--")), "")
        near = near_option(typed, [option for option in parser._option_string_actions if option.startswith("--")])
        fix = f"{typed} here is {near}" if near else ""
        if typed == "--config":  # test's way with a recipe's runs (--config ... --ckpt_path best)
            fix = "export takes none, the checkpoint holds its settings: give --ckpt_path, a .ckpt file of a run"
        if not typed and (option := option_of_a_file(unknown[0], parser.prog, line)):
            fix = f"give it as {option} {unknown[0]}"
        glob = globbed(" ".join(unknown), line)
        parser.error(glob or f"unrecognized arguments: {' '.join(unknown)}" + (f": {fix}" if fix else ""))
    if refused := given_again(line, ("--ckpt_path", "--output")):
        parser.error(refused)
    if args.ckpt_path is None:
        parser.error("the following arguments are required: --ckpt_path")
    return args


def _checkpoint_path(ckpt_path: Path) -> Path:
    """``--ckpt_path`` with its ``~`` expanded, refused where it cannot name a checkpoint file."""
    ckpt_path = Path(os.path.expanduser(ckpt_path))  # no shell expands ~ after "=": --ckpt_path=~/x
    if not ckpt_path.name or ckpt_path.is_dir():  # "" is Path("."): no name for the default output
        raise UserError(f"--ckpt_path '{ckpt_path}' is no file: give a .ckpt file, e.g. checkpoints/best.ckpt of a run")
    if str(ckpt_path) in ("best", "last") and not ckpt_path.exists():  # test's words for a recipe's newest run
        raise UserError(
            f"--ckpt_path {ckpt_path}: export needs a checkpoint file (it knows no recipe's runs): "
            "give logs/<name>/version_N/checkpoints/best.ckpt (or last.ckpt)"
        )
    refuse_an_export(ckpt_path)  # before its default output, model.onnx for model.onnx, is "the checkpoint itself"
    return ckpt_path


def _output_path(args: argparse.Namespace) -> Path:
    """Where the export goes, refused before the 10-20 s of exporting where it could not or should not go."""
    if args.output == "":  # Path("") is the current folder
        raise UserError(f"--output is empty: give a file name, e.g. model{SUFFIX[args.format]}")
    output = (
        args.ckpt_path.with_suffix(SUFFIX[args.format])
        if args.output is None
        else Path(os.path.expanduser(args.output))
    )
    if output.is_dir() or (args.output and args.output.endswith(("/", os.sep))):  # Path() drops the "/" of "new/"
        example = output / f"model{SUFFIX[args.format]}"
        raise UserError(f"--output {args.output or output} is a folder: give a file name, e.g. {example}")
    if file := file_above(output):
        raise UserError(f"--output {output}: {file} is a file, not a folder: give another --output")
    if why := cannot_write(output.parent):  # as _write_output would say it, after the export
        raise UserError(f"--output {output}: cannot be written ({why}): give another --output")
    if output.exists() and output.resolve() == args.ckpt_path.resolve():
        raise UserError(f"--output {output} is the checkpoint itself: give another --output")
    if output.suffix.lower() not in NAMED[args.format]:  # m.PT is a .pt file too
        raise UserError(f"--output {output}: {_misnamed(output, args.format)}")
    if (output.exists() or output.is_symlink()) and not args.overwrite:  # a link to a missing file too
        raise UserError(f"--output {output} exists: give another --output, or --overwrite to replace it")
    return output


@contextlib.contextmanager
def _one_torchscript_note(fmt: str) -> Iterator[None]:
    """For a TorchScript export, one note in place of torch's warning at each of trace, save and load (six
    lines); the warning filters as they were afterwards, whatever the format."""
    with warnings.catch_warnings():
        if fmt == "torchscript":
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)
            print(
                "note: PyTorch deprecates TorchScript (torch.jit) in favour of torch.export (--format pt2); "
                "torch.jit.load of the file warns so",
                file=sys.stderr,
            )
        yield


def _check(
    written: Path, model: MNISTClassifier, dm: MNISTDataModule, fmt: str, output: Path, precision: str | None
) -> None:
    """The written file run by its own runtime on the test images, refused unless it agrees with the network."""
    try:
        expected = predictions(model, dm)
        same, total, diff = verify(expected, runner(fmt, written), dm)
    except OSError as err:  # not the output's: "cannot be written" below would say it was
        raise UserError(f"{output}: cannot check it on the test images ({err}): nothing written") from err
    print(f"checked on the {total:,} test images: same class for {same:,}, largest difference {diff:.1e}")
    if same != total or not np.isfinite(diff) or diff > 1e-4:
        raise UserError(
            f"{output}: the export differs from the checkpoint's model (nothing written): report this as a bug"
        )
    _note_run_precision(model, dm, expected, precision, total)


def _note_run_precision(
    model: MNISTClassifier, dm: MNISTDataModule, expected: Tensor, precision: str | None, total: int
) -> None:
    """For a run in mixed precision, how many classes the export shares with the run's own test and predict."""
    # A bf16 run's test and predict round to bf16 what the export computes in float32: "the
    # same class for 10,000" read as theirs, where one image of fast.yaml's differed.
    if autocast := {"bf16": torch.bfloat16, "16": torch.float16}.get(str(precision).split("-")[0]):
        as_run = int((predictions(model, dm, autocast).argmax(1) == expected.argmax(1)).sum())
        print(
            f"note: its run tests and predicts in {precision}, the export computes in float32: "
            f"the same class for {as_run:,} of the {total:,} test images",
            file=sys.stderr,
        )


def _write_output(
    deployable: Deployable, fmt: str, output: Path, overwrite: bool, check: Callable[[Path], None]
) -> None:
    """``write`` into a folder made for it (given back if it fails or is stopped), its errors as one line that
    says what to do."""
    made = missing_folders(output.parent)
    try:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            write(deployable, fmt, output, overwrite, check)
        except FileExistsError as err:
            raise UserError(
                f"--output {output} was written while this export ran (another export?): "
                "give another --output, or --overwrite to replace it"
            ) from err
        except OSError as err:  # a file where its folder should be, no permission, a full disk
            why = err.strerror or err
            raise UserError(f"--output {output}: cannot be written ({why}): give another --output") from err
    except BaseException:  # those, a failed check, Ctrl-C, SIGTERM
        remove_empty(made)
        raise


def main(argv: list[str] | None = None) -> None:
    """Every refusal before the 10-20 s of exporting; the file checked before it takes its name."""
    args = _arguments(argv)
    args.ckpt_path = _checkpoint_path(args.ckpt_path)
    output = _output_path(args)
    with stopped_in_one_line("export"):
        model, dm, precision = load_model(args.ckpt_path, args.data_dir)
        dm.prepare_data()  # the test images of the check, before a file is written that could not be checked
        deployable = Deployable(model.net, dm.mean, dm.std).eval()
        with _one_torchscript_note(args.format):
            _write_output(
                deployable,
                args.format,
                output,
                args.overwrite,
                lambda written: _check(written, model, dm, args.format, output, precision),
            )
    print(f"wrote {output} ({args.format}): float pixels in [0, 1], (N, 1, 28, 28) -> log-probabilities (N, 10)")


if __name__ == "__main__":  # python -m mnist_pl.export: as `python -m mnist_pl export`, its errors in one line
    with ctrl_c_at_once_after(), reported():
        main()
