"""Exports that run without Lightning and agree with the checkpoint on all 10,000 test images."""

import argparse
import errno
import hashlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from conftest import REPO, child_env, full_disk, run_main, write_onnx_model

from mnist_pl import export
from mnist_pl.data import STATS, MNISTDataModule
from mnist_pl.errors import UserError
from mnist_pl.files import publish
from mnist_pl.model import MNISTClassifier
from mnist_pl.nets import LeNet, MinimalCNN


def test_export_refuses_a_file_that_is_not_a_checkpoint(tmp_path: Path) -> None:
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"an ONNX file, say")
    result = run_main("export", f"--ckpt_path={onnx}", f"--output={tmp_path / 'out.onnx'}", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: --ckpt_path {onnx}: not a readable checkpoint")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    # No abbreviations, as in the main CLI: --ckpt is not taken for --ckpt_path.
    abbreviated = run_main("export", f"--ckpt={onnx}", cwd=tmp_path)
    assert abbreviated.returncode == 2
    assert abbreviated.stderr.strip().splitlines() == [  # as the other subcommands print their errors
        "usage: python -m mnist_pl export --ckpt_path CKPT [options] (--help lists them)",
        "tip: For details of accepted options run: python -m mnist_pl export --help",
        f"error: unrecognized arguments: --ckpt={onnx}: --ckpt here is --ckpt_path",  # was: --ckpt_path is required
    ]


def test_export_refuses_an_exported_model(tmp_path: Path) -> None:
    """An .onnx given for its checkpoint: its default output, model.onnx, was "the checkpoint itself", and
    another --output led to "not a readable checkpoint"."""
    onnx = tmp_path / "model.onnx"
    write_onnx_model(onnx)
    result = run_main("export", f"--ckpt_path={onnx}", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] == (
        f"error: --ckpt_path {onnx}: an exported ONNX model, not a checkpoint: give the .ckpt it was exported from"
    ), result.stderr[-2000:]
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_export_names_the_option_a_misspelt_one_meant(tmp_path: Path) -> None:
    """As the other subcommands do, by spelling: not the PyTorch example's flags, which are theirs."""
    for words, said in (
        (["--ckpt_pth=m.ckpt"], "--ckpt_pth=m.ckpt: --ckpt_pth here is --ckpt_path"),
        (["--ckpt_path=m.ckpt", "--fromat", "pt2"], "--fromat pt2: --fromat here is --format"),
        (["--ckpt_path=m.ckpt", "--epochs", "3"], "--epochs 3"),
        # An unquoted glob, which the shell expanded (an audit).
        (
            ["--ckpt_path", "a.ckpt", "b.ckpt"],
            "b.ckpt: 1 file, as the shell expands an unquoted glob: --ckpt_path takes one checkpoint",
        ),
    ):
        result = run_main("export", *words, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.strip().splitlines()[-1] == (
            f"error: unrecognized arguments: {said}"
        ), result.stderr[-2000:]
    # The last was taken, without a word (an audit), as predict's (test_a_file_option_given_twice_is_refused).
    for words, said in (
        (["--ckpt_path=a.ckpt", "--ckpt_path", "b.ckpt"], "--ckpt_path given twice (a.ckpt, then b.ckpt)"),
        (["--ckpt_path=m.ckpt", "--output=a.onnx", "--output", "b.onnx"], "--output given twice (a.onnx, then b.onnx)"),
    ):
        result = run_main("export", *words, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.strip().splitlines()[-1] == (
            f"error: {said}: only the last would be used: give one"
        ), result.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []


def test_export_takes_no_runs_best_or_last(tmp_path: Path) -> None:
    """test's words for a recipe's newest run (with its --config, which export has not): "no such file"."""
    for which in ("best", "last"):
        result = run_main("export", f"--ckpt_path={which}", cwd=tmp_path)
        assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] == (
            f"error: --ckpt_path {which}: export needs a checkpoint file (it knows no recipe's runs): "
            "give logs/<name>/version_N/checkpoints/best.ckpt (or last.ckpt)"
        ), result.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []


def test_export_with_a_recipes_config_says_it_takes_none(tmp_path: Path) -> None:
    """test's way with a recipe's runs, copied (an audit): "unrecognized arguments", without a fix."""
    result = run_main("export", "--config", "configs/lenet.yaml", "--ckpt_path", "best", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1] == (
        "error: unrecognized arguments: --config configs/lenet.yaml: export takes none, the checkpoint holds its "
        "settings: give --ckpt_path, a .ckpt file of a run"
    ), result.stderr[-2000:]


@pytest.mark.slow  # a process of its own (its files' size limited): the default suite's time
def test_an_export_onto_a_full_disk_is_one_line(trained_run: Path, tmp_path: Path) -> None:
    """.pt2 (an audit, on a full 1 MB tmpfs): a 56-line traceback, then torch's archive writer failed again in
    its destructor and the process aborted (status 134) in a C++ stack trace. ONNX said it in one line."""
    output = tmp_path / "new" / "m.pt2"
    args = [f"--ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", "--format=pt2", f"--output={output}"]
    command = [sys.executable, "-m", "mnist_pl", "export", *args, f"--data.data_dir={REPO / 'data'}"]
    result = subprocess.run(
        command, cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=600, preexec_fn=full_disk(2**16)
    )
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] == (
        f"error: --output {output}: cannot be written (File too large): give another --output"
    ), result.stderr[-3000:]
    assert list(tmp_path.iterdir()) == []  # its folder given back


@pytest.mark.slow  # a process of its own for a __main__ block: the default suite's time
def test_python_m_mnist_pl_export_runs_the_export_command(tmp_path: Path) -> None:
    """``python -m mnist_pl.export``, the module run as a script, did nothing and exited 0, even for --help.
    (One process: the export itself, and its --help, are checked in this one.)"""
    missing = tmp_path / "missing.ckpt"
    command = [sys.executable, "-m", "mnist_pl.export", f"--ckpt_path={missing}"]
    refused = subprocess.run(command, cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=600)
    assert refused.returncode == 1 and refused.stderr.strip().splitlines() == [
        f"error: --ckpt_path {missing}: no such file: give the path of a .ckpt file"
    ], refused.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []


def test_an_export_never_replaces_a_file_written_while_it_ran(tmp_path: Path) -> None:
    """The check for an existing --output comes 10-20 s before the write; a rename replaced what another
    export had written meanwhile, and both said they wrote it."""
    path = tmp_path / "best.pt"
    path.write_bytes(b"the other export's model")
    with pytest.raises(FileExistsError):
        export.write(export.Deployable(LeNet(), 0.1307, 0.3081).eval(), "torchscript", path)
    assert path.read_bytes() == b"the other export's model" and [p.name for p in tmp_path.iterdir()] == ["best.pt"]
    export.write(export.Deployable(LeNet(), 0.1307, 0.3081).eval(), "torchscript", path, overwrite=True)
    assert torch.jit.load(path)(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def test_a_file_system_without_links_never_has_a_file_replaced_either(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a hard link is refused (EPERM: FAT, some network shares), the name is checked just before the
    rename: a mutation audit's rename without that check replaced the other writer's file."""

    def no_links(source: object, target: object) -> None:
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr(os, "link", no_links)
    path, tmp = tmp_path / "m.pt", tmp_path / ".m.pt.tmp"
    path.write_bytes(b"the other writer's")
    tmp.write_bytes(b"ours")
    with pytest.raises(FileExistsError):
        publish(tmp, path, overwrite=False)
    assert path.read_bytes() == b"the other writer's"
    path.unlink()
    publish(tmp, path, overwrite=False)
    assert path.read_bytes() == b"ours" and not tmp.exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_an_export_stopped_by_a_signal_says_so_in_one_line_and_leaves_no_file(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: signal.Signals
) -> None:
    """Stopped as its file was checked: Ctrl-C ended in a traceback of 40 lines, SIGTERM killed it without a
    word and left the temporary file, full size, beside the checkpoint (an audit). The folders made for its
    --output were left, empty (another audit)."""
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the process's own: the export takes it

    def stopped(*args: object) -> None:
        signal.raise_signal(signum)  # Python's default of SIGINT: a KeyboardInterrupt, here

    monkeypatch.setattr(export, "_check", stopped)
    args = [f"--ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", f"--data.data_dir={REPO / 'data'}"]
    name = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}[signum]
    with pytest.raises(UserError, match=rf"^export: stopped by {name} before it ended, nothing written: run it again$"):
        export.main([*args, "--format=torchscript", f"--output={tmp_path / 'new' / 'models' / 'm.pt'}"])
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.parametrize("inside", ["torch.load", "torch.export.export"])
def test_an_export_stopped_inside_torch_says_so(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inside: str
) -> None:
    """A SIGTERM while torch ran: torch.onnx took it, raised in its capture of the model, for a way of capturing
    that failed, tried the next and wrote the file, status 0; in torch.load it was "not a readable checkpoint",
    of a good one (an audit)."""
    module, name = inside.rsplit(".", 1)
    real = getattr(sys.modules[module], name)

    def stopped(*args: object, **kwargs: object) -> object:
        signal.raise_signal(signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(sys.modules[module], name, stopped)
    output = tmp_path / "m.onnx"
    args = [f"--ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", f"--data.data_dir={REPO / 'data'}"]
    with pytest.raises(UserError, match=r"^export: stopped by SIGTERM before it ended, nothing written: run it again$"):
        export.main([*args, "--format=onnx", f"--output={output}"])
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_an_export_that_fails_its_check_is_not_written(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The exported file run by its runtime, 0.001 off the network's log-probabilities (its check's
    # limit is 1e-4). It was checked where it was published, and stayed there after "the export differs". (A
    # default test: a limit of 1e-2 passed every other one, a mutation audit.)
    real, ran = export.runner, []

    def off_by_a_little(fmt: str, path: Path) -> Callable[[torch.Tensor], torch.Tensor]:
        ran.append(Path(path))
        run = real(fmt, path)
        return lambda pixels: run(pixels) + 1e-3

    monkeypatch.setattr(export, "runner", off_by_a_little)
    output = tmp_path / "m.onnx"
    args = [f"--ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", f"--data.data_dir={REPO / 'data'}"]
    result = run_main("export", *args, f"--output={output}", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] == (
        f"error: {output}: the export differs from the checkpoint's model (nothing written): report this as a bug"
    ), result.stderr[-2000:]
    assert "largest difference 1.0e-03" in result.stdout
    assert len(ran) == 1 and ran[0] != output and list(tmp_path.iterdir()) == []


def test_exports_refuse_8_bit_pixels(tmp_path: Path) -> None:
    """Pixels are floats in [0, 1]; a TorchScript trace took uint8 levels (0-255) silently, 255 times too bright."""
    levels = torch.full((1, 1, 28, 28), 255, dtype=torch.uint8)
    export.write(export.Deployable(LeNet(), 0.1307, 0.3081).eval(), "torchscript", tmp_path / "m.pt")
    scripted = torch.jit.load(tmp_path / "m.pt")
    assert scripted(levels.float() / 255).shape == (1, 10)
    # numpy's float64 ended in a 50-line traceback ("expected scalar type Double but found Float").
    assert torch.equal(scripted(levels.double() / 255), scripted(levels.float() / 255))
    with pytest.raises(Exception, match=re.escape("pixels are floats in [0, 1]: divide 8-bit levels by 255")):
        scripted(levels)
    export.write(export.Deployable(LeNet(), 0.1307, 0.3081).eval(), "onnx", tmp_path / "m.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match=r"expected: \(tensor\(float\)\)"):
        session.run(None, {"pixels": levels.numpy()})
    export.write(export.Deployable(LeNet(), 0.1307, 0.3081).eval(), "pt2", tmp_path / "m.pt2")
    program = torch.export.load(tmp_path / "m.pt2").module()
    assert program(levels.float() / 255).shape == (1, 10)
    with pytest.raises(RuntimeError, match="dtype mismatch! Expected: Float, Got: unsigned char"):
        program(levels)


def test_export_without_the_test_images_writes_no_unchecked_file(trained_run: Path, tmp_path: Path) -> None:
    ckpt, output = trained_run / "checkpoints" / "best.ckpt", tmp_path / "model.onnx"
    not_a_folder = f"--data.data_dir={REPO / 'README.md'}"
    result = run_main("export", f"--ckpt_path={ckpt}", f"--output={output}", not_a_folder, cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] == (
        f"error: --data.data_dir {REPO / 'README.md'} is a file: give the folder that holds MNIST/raw"
    ), result.stderr[-2000:]
    assert not output.exists()


def test_export_to_a_folder_or_under_a_file_is_one_line(trained_run: Path, tmp_path: Path) -> None:
    ckpt, data = trained_run / "checkpoints" / "best.ckpt", f"--data.data_dir={REPO / 'data'}"
    (tmp_path / "afile").write_text("not a folder")
    for output, expected in (
        (tmp_path, f"--output {tmp_path} is a folder: give a file name, e.g. {tmp_path / 'model.onnx'}"),
        (tmp_path / "afile" / "m.onnx", f"--output {tmp_path / 'afile' / 'm.onnx'}: {tmp_path / 'afile'} is a file"),
        (
            tmp_path / "m.pt",
            f"--output {tmp_path / 'm.pt'}: .pt is the torchscript suffix, and this is the onnx export: "
            "name it m.onnx, or give --format torchscript",
        ),
    ):
        result = run_main("export", f"--ckpt_path={ckpt}", f"--output={output}", "--overwrite", data, cwd=tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert result.stderr.strip().splitlines()[-1].startswith(f"error: {expected}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    (tmp_path / "dangling.onnx").symlink_to(tmp_path / "gone.onnx")  # was said written meanwhile by another export
    result = run_main("export", f"--ckpt_path={ckpt}", f"--output={tmp_path / 'dangling.onnx'}", data, cwd=tmp_path)
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: --output {tmp_path / 'dangling.onnx'} exists")
    result = run_main("export", "--ckpt_path=", data, cwd=tmp_path)  # was a ValueError: '.' has an empty name
    assert result.stderr.strip().splitlines()[-1].startswith("error: --ckpt_path '.' is no file: give a .ckpt file")
    # Without --output, beside the checkpoint (each test above gives one), whatever the current folder.
    for format, name in (("onnx", "best.onnx"), ("pt2", "best.pt2"), ("torchscript", "best.pt")):
        default = argparse.Namespace(ckpt_path=ckpt, output=None, format=format, overwrite=True)
        assert export._output_path(default) == ckpt.parent / name


def test_export_refuses_edited_checkpoints_and_names_fixes_it_takes(trained_run: Path, tmp_path: Path) -> None:
    """Each was a traceback; or a suggestion export has no option for (--config, --model.net); or, with
    std 0, a model of NaNs written and called a bug; or a name such as ``.onnx.onnx``."""
    checkpoint = torch.load(trained_run / "checkpoints" / "best.ckpt", weights_only=True)
    built_in_python = {**checkpoint, "hyper_parameters": {}}  # another network than LeNet, named nowhere
    built_in_python["state_dict"] = {f"net.{k}": v for k, v in MinimalCNN().state_dict().items()}
    data = checkpoint["datamodule_hyper_parameters"]
    own_net = {"class_path": "my_nets_x.Net", "init_args": {}}  # of the user's module, not on this Python's path
    edited = {
        "EMNIST.ckpt": {**checkpoint, "datamodule_hyper_parameters": {**data, "dataset": "EMNIST"}},
        "std0.ckpt": {**checkpoint, "datamodule_hyper_parameters": {**data, "std": 0.0}},
        "minimal.ckpt": built_in_python,
        "own.ckpt": {**checkpoint, "hyper_parameters": {**checkpoint["hyper_parameters"], "net": own_net}},
    }
    for name, contents in edited.items():
        torch.save(contents, tmp_path / name)
    best, out = trained_run / "checkpoints" / "best.ckpt", tmp_path / "out"
    for args, expected in (
        ([tmp_path / "EMNIST.ckpt"], "its data setting dataset 'EMNIST' is none mnist_pl writes (the file was"),
        ([tmp_path / "std0.ckpt"], "its data setting std 0.0 is none mnist_pl writes"),
        (
            [tmp_path / "minimal.ckpt"],
            "it names no network (saved from a module built in Python) and holds other weights than LeNet: "
            "export takes checkpoints of `python -m mnist_pl fit` runs, or of a module built with LeNet",
        ),
        (  # a traceback of 90 lines
            [tmp_path / "own.ckpt"],
            "its network my_nets_x.Net cannot be imported (No module named 'my_nets_x'): make its module importable",
        ),
        ([best, f"--output={out}/"], f"--output {out}/ is a folder: give a file name, e.g. {out / 'model.onnx'}"),
        ([best, "--output="], "--output is empty: give a file name, e.g. model.onnx"),  # was: beside the checkpoint
        (
            [best, f"--output={out / '.onnx'}"],
            f"--output {out / '.onnx'}: the onnx export is a .onnx file: name it model.onnx",
        ),
        # A dot too many: "name it m.onnx..onnx" was the advice.
        (
            [best, f"--output={out / 'm.onnx.'}"],
            f"--output {out / 'm.onnx.'}: the onnx export is a .onnx file: name it m.onnx",
        ),
        ([best, f"--output={out / 'm.'}"], f"--output {out / 'm.'}: the onnx export is a .onnx file: name it m.onnx"),
    ):
        with pytest.raises(UserError) as err:
            export.main([f"--ckpt_path={args[0]}", *args[1:], f"--data.data_dir={REPO / 'data'}"])
        assert expected in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(edited)


@pytest.mark.slow  # an edge of the paths export takes: the default suite's time
def test_export_reads_and_writes_tilde_paths_in_the_home_folder(
    trained_run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recwarn: pytest.WarningsRecorder,
    capsys: pytest.CaptureFixture,
) -> None:
    """``--ckpt_path=~/...`` was "no such file", and ``--output=~/m.pt`` a folder named "~" in the current
    one; ``m.PT`` was "another kind's" file. torch's three warnings that torch.jit is deprecated (six lines)
    are one note."""
    home, here = tmp_path / "home", tmp_path / "here"
    home.mkdir(), here.mkdir()
    (home / "best.ckpt").write_bytes((trained_run / "checkpoints" / "best.ckpt").read_bytes())
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(here)
    export.main(
        ["--ckpt_path=~/best.ckpt", "--output=~/m.PT", "--format=torchscript", f"--data.data_dir={REPO / 'data'}"]
    )
    assert not [w for w in recwarn if "torch.jit" in str(w.message)]
    assert capsys.readouterr().err.splitlines() == [
        "note: PyTorch deprecates TorchScript (torch.jit) in favour of torch.export (--format pt2); "
        "torch.jit.load of the file warns so"
    ]
    assert torch.jit.load(home / "m.PT")(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    assert list(here.iterdir()) == []


@pytest.mark.parametrize(
    "fmt", ["onnx", *(pytest.param(fmt, marks=pytest.mark.slow) for fmt in ("pt2", "torchscript"))]
)
def test_export_matches_the_lightning_model(trained_run: Path, tmp_path: Path, fmt: str) -> None:
    # A run of its own normalisation: with the default one, an export that built in the default matched too.
    checkpoint = torch.load(trained_run / "checkpoints" / "best.ckpt", weights_only=True)
    checkpoint["datamodule_hyper_parameters"].update(mean=0.5, std=0.5)
    ckpt, output = tmp_path / "own_stats.ckpt", tmp_path / f"model.{fmt}"
    torch.save(checkpoint, ckpt)
    args = (
        "export",
        f"--ckpt_path={ckpt}",
        f"--format={fmt}",
        f"--output={output}",
        f"--data.data_dir={REPO / 'data'}",
    )
    result = run_main(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    checked = re.search(r"same class for ([0-9,]+), largest difference ([0-9.e+-]+)", result.stdout)
    assert checked.group(1) == "10,000" and float(checked.group(2)) <= 1e-4
    assert "note: its run" not in result.stderr  # a float32 run's: no other precision to compare with

    # Run it here too, by its own runtime, from uint8 images as a deployer has them.
    dm = MNISTDataModule(data_dir=str(REPO / "data"), mean=0.5, std=0.5)
    dm.setup("test")
    images = dm.test_set.images[:256]
    pixels = images.unsqueeze(1).float().div(255)
    if fmt == "onnx":
        session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
        got = torch.from_numpy(session.run(None, {"pixels": pixels.numpy()})[0])
    elif fmt == "pt2":
        got = torch.export.load(str(output)).module()(pixels)
    else:
        got = torch.jit.load(str(output))(pixels)
    model = MNISTClassifier.load_from_checkpoint(ckpt, map_location="cpu", weights_only=True).eval()
    with torch.no_grad():
        expected = model(dm.normalize(images))
    assert torch.equal(got.argmax(1), expected.argmax(1))
    assert np.allclose(got.detach().numpy(), expected.numpy(), atol=1e-4)

    # A second export to the same path refuses and leaves the first one as it was.
    before = hashlib.md5(output.read_bytes()).hexdigest()
    again = run_main(*args, cwd=tmp_path)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.strip().splitlines()[-1] == (
        f"error: --output {output} exists: give another --output, or --overwrite to replace it"
    )
    assert hashlib.md5(output.read_bytes()).hexdigest() == before


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_a_checkpoint_of_a_compiled_network_exports(trained_run: Path, tmp_path: Path) -> None:
    # Rebuilt as trained (--model.compile true), the network was compiled, and torch.jit refused to trace it.
    checkpoint = torch.load(trained_run / "checkpoints" / "best.ckpt", weights_only=True)
    checkpoint["hyper_parameters"]["compile"] = True
    torch.save(checkpoint, tmp_path / "compiled.ckpt")
    output = tmp_path / "model.pt"
    args = [f"--ckpt_path={tmp_path / 'compiled.ckpt'}", "--format=torchscript", f"--output={output}"]
    result = run_main("export", *args, f"--data.data_dir={REPO / 'data'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "same class for 10,000" in result.stdout
    # The run's weights in it (export checks it against the model it loaded: a new network would pass that).
    model = MNISTClassifier.load_from_checkpoint(trained_run / "checkpoints" / "best.ckpt", map_location="cpu").eval()
    pixels, (mean, std) = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0)), STATS["MNIST"]
    with torch.no_grad():
        assert torch.allclose(torch.jit.load(str(output))(pixels), model((pixels - mean) / std), atol=1e-5)


def test_export_never_writes_over_its_checkpoint(trained_run: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "model.ckpt"  # a copy: the shared run's checkpoint stays whole whatever happens here
    ckpt.write_bytes((trained_run / "checkpoints" / "best.ckpt").read_bytes())
    before = hashlib.md5(ckpt.read_bytes()).hexdigest()
    data = f"--data.data_dir={REPO / 'data'}"
    result = run_main("export", f"--ckpt_path={ckpt}", f"--output={ckpt}", "--overwrite", data, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: --output {ckpt} is the checkpoint itself: give another --output"
    )
    assert hashlib.md5(ckpt.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ckpt"]

    # Nor over another run's files: --overwrite replaced a run's last.ckpt and config.yaml with the model.
    for name in ("last.ckpt", "config.yaml"):
        other = tmp_path / "other" / name
        other.parent.mkdir(exist_ok=True)
        other.write_bytes(ckpt.read_bytes())
        result = run_main("export", f"--ckpt_path={ckpt}", f"--output={other}", "--overwrite", data, cwd=tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert result.stderr.strip().splitlines()[-1] == (
            f"error: --output {other}: the onnx export is a .onnx file, and this name is another kind's "
            f"(a checkpoint, a config): name it {other.stem}.onnx"
        )
        assert hashlib.md5(other.read_bytes()).hexdigest() == before


@pytest.mark.slow  # a bf16 fit and its export, beside the fp32 exports of the default suite
def test_an_export_of_a_bf16_run_says_how_its_classes_compare_with_the_runs(trained_run: Path, tmp_path: Path) -> None:
    """fast.yaml's runs test and predict in bf16-mixed, the export in float32: "same class for 10,000" read as
    theirs, where one image of 10,000 differed."""
    checkpoint = torch.load(trained_run / "checkpoints" / "best.ckpt", weights_only=True)
    checkpoint["precision"] = "bf16-mixed"
    torch.save(checkpoint, tmp_path / "bf16.ckpt")
    data = f"--data.data_dir={REPO / 'data'}"
    result = run_main("export", f"--ckpt_path={tmp_path / 'bf16.ckpt'}", data, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    model = MNISTClassifier.load_from_checkpoint(tmp_path / "bf16.ckpt", map_location="cpu", weights_only=True).eval()
    dm = MNISTDataModule(data_dir=str(REPO / "data"))
    dm.setup("test")
    with torch.no_grad():
        fp32 = model(dm.normalize(dm.test_set.images)).argmax(1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model(dm.normalize(dm.test_set.images)).argmax(1)
    same = int((fp32 == bf16).sum())
    assert (
        "note: its run tests and predicts in bf16-mixed, the export computes in float32: "
        f"the same class for {same:,} of the 10,000 test images"
    ) in result.stderr
