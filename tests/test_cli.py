"""End to end through ``python -m mnist_pl`` as a user types it: in fresh processes where the process
matters (a fit, a test from a checkpoint alone, an error's exit), else through ``main()`` in this one."""

import hashlib
import json
import re
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import QUICK_FIT, REPO, printed, run_cli, run_main
from jsonargparse import Namespace
from lightning.pytorch.callbacks import ModelSummary, TQDMProgressBar
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import mnist_pl.trainer
from mnist_pl import parser
from mnist_pl.cli import MNISTCLI
from mnist_pl.errors import UserError
from mnist_pl.trainer import Trainer

CONFIG = str(REPO / "configs" / "lenet.yaml")
DATA = f"--data.data_dir={REPO / 'data'}"


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def test_a_fit_on_all_60000_images_tests_its_last_weights(tmp_path: Path) -> None:
    """--data.val_size 0 with --trainer.limit_val_batches 0: the classic example's training set, no validation."""
    logs = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}"
    whole = ["--data.val_size=0", "--trainer.limit_val_batches=0", "--trainer.limit_test_batches=2"]
    fit = run_main("fit", f"--config={REPO / 'configs' / 'lenet.yaml'}", DATA, logs, *QUICK_FIT, *whole, cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "no best checkpoint was written (no validation ran" in fit.stderr
    assert float(printed("test/acc", fit.stdout)) > 0.5
    run = tmp_path / "logs" / "lenet" / "version_0"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert (config["data"]["val_size"], config["trainer"]["limit_val_batches"]) == (0, 0)
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"last.ckpt"}
    # Every training image trained on: none left to validate on.
    last = run / "checkpoints" / "last.ckpt"
    for another_split in ([], ["--data.val_size=5000"]):  # said first: else "leave out --data.val_size", then this
        validate = run_main("validate", f"--ckpt_path={last}", DATA, logs, *another_split, cwd=tmp_path)
        assert validate.returncode == 1 and validate.stderr.splitlines()[-1] == (
            f"error: --ckpt_path {last}: trained on all 60,000 training images (--data.val_size 0), it has no "
            f"validation images it did not train on: test it, python -m mnist_pl test --ckpt_path {last}"
        )
    # A fit from it keeps its split: "or a val_size, such as 5000" was refused in turn (a review). The fix given runs.
    lenet, more = f"--config={REPO / 'configs' / 'lenet.yaml'}", [*QUICK_FIT[1:], "--trainer.max_epochs=2"]
    refused = run_main("fit", lenet, f"--ckpt_path={last}", DATA, logs, *more, cwd=tmp_path)
    assert refused.returncode == 1 and refused.stderr.splitlines()[-1] == (
        "error: the checkpoint was trained with --data.val_size 0, no validation images, and a fit from it keeps "
        "that: give --trainer.limit_val_batches 0 as well (a fit without validation, which tests its last weights), "
        "or start a new run with a val_size, such as 5000"
    )
    on = run_main("fit", lenet, f"--ckpt_path={last}", DATA, logs, *more, *whole, cwd=tmp_path)
    assert on.returncode == 0, on.stderr[-3000:]
    # A test's look at it validates nothing: taken (it was refused as a fit's fast_dev_run is).
    look = run_main("test", f"--ckpt_path={last}", DATA, logs, "--trainer.fast_dev_run=true", cwd=tmp_path)
    assert look.returncode == 0, look.stderr[-3000:]


def test_a_time_with_colons_is_no_base_60_number(tmp_path: Path) -> None:
    """YAML 1.1 reads 1:00:00:00 as the number 216000: Lightning took a day's val_check_interval for as many
    batches (an int option, max_epochs 1:30, was 90). As YAML 1.2, a string: a time, or refused as no int."""
    (tmp_path / "day.yaml").write_text("trainer:\n  val_check_interval: 1:00:00:00\n")
    lenet = f"--config={REPO / 'configs' / 'lenet.yaml'}"
    for given in (["--trainer.val_check_interval=1:00:00:00"], [f"--config={tmp_path / 'day.yaml'}"]):
        printed = run_main("fit", lenet, *given, "--print_config", cwd=tmp_path)
        assert printed.returncode == 0, printed.stderr[-3000:]
        assert yaml.safe_load(printed.stdout)["trainer"]["val_check_interval"] == "1:00:00:00"
    refused = run_main("fit", lenet, "--trainer.max_epochs=1:30", "--print_config", cwd=tmp_path)
    assert refused.returncode == 2 and "--trainer.max_epochs" in refused.stderr.splitlines()[-1], refused.stderr
    # The app's own reads of a file, which name it in the line, read it so too: it named the option, untyped.
    (tmp_path / "epochs.yaml").write_text("trainer:\n  max_epochs: 1:30\n")
    refused = run_main("fit", lenet, f"--config={tmp_path / 'epochs.yaml'}", "--print_config", cwd=tmp_path)
    assert refused.stderr.splitlines()[-1].startswith(f"error: {tmp_path / 'epochs.yaml'}: trainer.max_epochs 1:30:")
    # YAML 1.1's base-60 floats as well: 1:30.5 was the lr 90.5.
    refused = run_main("fit", lenet, "--model.optimizer.init_args.lr=1:30.5", "--print_config", cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr  # not "Unexpected import path format: 1:30.5" before it
    assert refused.stderr.splitlines()[-1] == "error: --model.optimizer.init_args.lr 1:30.5: expected float"


def test_fit_checkpoints_logs_and_test_from_checkpoint_alone(trained_run: Path, tmp_path: Path) -> None:
    # trained_run: `python -m mnist_pl fit` of 200 steps in a fresh process (conftest).
    run = trained_run
    assert {"config.yaml", "hparams.yaml"} <= {p.name for p in run.iterdir()}
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}
    stdout = (run.parents[2] / "fit.stdout").read_text()
    fit_acc = printed("test/acc", stdout)
    assert float(fit_acc) > 0.85
    # Its last lines: where the run is, and how to see it.
    # (last.ckpt named too: its one epoch is also the best, and the fit's test read best.ckpt's callback state.)
    assert re.search(
        rf"Run saved in {re.escape(str(run))}: best.ckpt \(val/acc 0\.9\d+\), last.ckpt, config.yaml, results.json",
        stdout,
    )
    assert stdout.rstrip().endswith(f"tensorboard --logdir {run.parents[1]}")
    # Lightning's lines a user cannot act on: its cloud logger's advert, the ModelSummary replaced.
    noise = ("💡 Tip", "Trainer already configured with", "could not find the monitored key")
    stderr = (run.parents[2] / "fit.stderr").read_text()
    assert not [line for line in stderr.splitlines() if line.startswith(noise)]
    # The model summary sizes each layer from one example image: LeNet is 2.3M multiply-adds an image.
    assert re.search(r"net\.features .* \[1, 1, 28, 28\] +\| \[1, 50, 4, 4\]", stderr)
    assert re.search(r"4\.6 M +Total Flops", stderr)

    events = EventAccumulator(str(run))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss_step", "train/loss", "train/acc", "val/loss", "val/acc", "val/acc_best"} <= tags
    assert {"test/acc", "test/loss", "lr-SGD"} <= tags
    assert f"{events.Scalars('test/acc')[0].value:.6f}" == f"{float(fit_acc):.6f}"
    # The test's results for a script, as a test of best.ckpt writes them into its test_0.
    assert json.loads((run / "results.json").read_text()) == {
        "ckpt_path": str(run / "checkpoints" / "best.ckpt"),
        "test/loss": events.Scalars("test/loss")[0].value,
        "test/acc": events.Scalars("test/acc")[0].value,
    }

    # No --config: the network and its settings come back from the checkpoint, in a new process.
    logs = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}"
    test = run_cli("test", f"--ckpt_path={run / 'checkpoints' / 'best.ckpt'}", DATA, logs, cwd=tmp_path)
    assert test.returncode == 0, test.stderr
    assert printed("test/acc", test.stdout) == fit_acc
    assert "random weights" not in test.stderr
    # Where its results and pictures went: a run of its own.
    tested = tmp_path / "logs" / "mnist" / "version_0"
    assert test.stdout.rstrip().endswith(
        f"Its results and pictures are in {tested}: tensorboard --logdir {tested.parents[1]}"
    )
    assert EventAccumulator(str(tested)).Reload().Scalars("test/acc")[0].value == float(fit_acc)

    validate = run_main("validate", f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}", DATA, logs, cwd=tmp_path)
    assert validate.returncode == 0, validate.stderr
    assert printed("val/acc", validate.stdout).startswith("0.9")
    assert "val/acc_best" not in validate.stdout  # the best of a fit's epochs; validate runs one validation


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_fit_without_validation_tests_its_final_weights(tmp_path: Path) -> None:
    # 5 steps end inside the first epoch: no validation, no best.ckpt for the test after fit.
    logs = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}"
    fit = run_main("fit", f"--config={CONFIG}", DATA, logs, "--trainer.max_steps=5", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    # One line, as the errors are (Python's format adds the file, and the line of code that warned).
    warning = (
        "warning: fit: no best checkpoint was written (no validation ran, --checkpoint.save_top_k 0, or "
        "fast_dev_run): testing the final weights"
    )
    assert warning in fit.stderr.splitlines()
    assert "could not find the monitored key" not in fit.stderr  # Lightning's hint at a missing log() call
    checkpoints = tmp_path / "logs" / "lenet" / "version_0" / "checkpoints"
    assert [p.name for p in checkpoints.iterdir()] == ["last.ckpt"]
    # The final weights' score: "above 0.1" let an untrained network's through (an audit's scored 0.087).
    tested = run_main("test", f"--ckpt_path={checkpoints / 'last.ckpt'}", DATA, cwd=tmp_path)
    assert printed("test/acc", fit.stdout) == printed("test/acc", tested.stdout), tested.stderr[-3000:]


def test_batch_limit_1_is_one_batch_and_1_0_all(tmp_path: Path) -> None:
    # Lightning's meaning (an int counts batches, a float is a fraction); parsed float first, 1 was all.
    logs = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}"
    one = ["--trainer.limit_train_batches=1", "--trainer.limit_val_batches=1", "--trainer.limit_test_batches=1"]
    fit = run_main("fit", f"--config={CONFIG}", DATA, logs, "--trainer.max_epochs=2", *one, cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "logs" / "lenet" / "version_0"
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2
    assert "limit_train_batches: 1\n" in (run / "config.yaml").read_text()
    printed = run_main(
        "fit",
        f"--config={CONFIG}",
        "--trainer.limit_val_batches=1.0",
        "--trainer.overfit_batches=1",
        "--print_config",
        cwd=tmp_path,
    )
    assert "limit_val_batches: 1.0\n" in printed.stdout and "overfit_batches: 1\n" in printed.stdout


def test_a_runs_config_from_before_the_trainer_had_its_own_file_still_runs(tmp_path: Path) -> None:
    """Runs before 2026-12-05 saved ``mnist_pl.cli.NoProfiler`` in their config.yaml, which a resume reads."""
    old = tmp_path / "config.yaml"
    old.write_text("trainer:\n  profiler:\n    class_path: mnist_pl.cli.NoProfiler\n")
    printed = run_main("fit", f"--config={CONFIG}", f"--config={old}", "--print_config", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr[-3000:]
    assert yaml.safe_load(printed.stdout)["trainer"]["profiler"]["class_path"].endswith(".NoProfiler")


def test_the_progress_bar_redraws_every_10_steps_unless_given_its_own_rate() -> None:
    # TQDM_MINITERS=10, set on import, raised a refresh_rate 1 given in --trainer.callbacks to 10.
    assert Trainer(logger=False).progress_bar_callback.refresh_rate == 10
    given = TQDMProgressBar(refresh_rate=1)
    assert Trainer(logger=False, callbacks=[given]).progress_bar_callback is given
    assert given.refresh_rate == 1
    assert Trainer(logger=False, enable_progress_bar=False).progress_bar_callback is None
    assert Trainer(barebones=True).progress_bar_callback is None  # Lightning turns the bar off itself


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_a_class_given_on_the_command_line_warns_of_the_values_it_keeps(tmp_path: Path) -> None:
    """jsonargparse keeps the arguments both classes share: AdamW trained with SGD's weight_decay 0, without a word."""
    adamw = ["fit", f"--config={CONFIG}", "--model.optimizer=torch.optim.AdamW", "--print_config"]
    result = run_main(*adamw, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: --model.optimizer")]
    assert warned == [
        "warning: --model.optimizer torch.optim.AdamW keeps lr 0.01, weight_decay 0.0 from the config "
        "(AdamW's own: 0.001, 0.01): give --model.optimizer.init_args.lr and "
        "--model.optimizer.init_args.weight_decay to choose"
    ]
    # Given with some of its arguments, in each form: the others are kept too. lr 0.1 typed so was said to be
    # kept, and with an = no word was said (a review).
    (tmp_path / "adamw.yaml").write_text("class_path: torch.optim.AdamW\ninit_args:\n  lr: 0.1\n")
    inline = "{class_path: torch.optim.AdamW, init_args: {lr: 0.1}}"
    for with_lr in (["--model.optimizer", inline], [f"--model.optimizer={inline}"], ["--model.optimizer=adamw.yaml"]):
        result = run_main("fit", f"--config={CONFIG}", *with_lr, "--print_config", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        assert [line for line in result.stderr.splitlines() if line.startswith("warning: --model.optimizer")] == [
            "warning: --model.optimizer torch.optim.AdamW keeps weight_decay 0.0 from the config (AdamW's own: 0.01): "
            "give --model.optimizer.init_args.weight_decay to choose"
        ], with_lr
    given = ["--model.optimizer.lr=0.01", "--model.optimizer.init_args.weight_decay=0"]
    result = run_main(*adamw, *given, cwd=tmp_path)
    assert result.returncode == 0 and "warning: --model.optimizer" not in result.stderr, result.stderr[-3000:]
    # The config's own class keeps its own values; the last of two given is the one that counts.
    for classes in (
        ["--model.optimizer=torch.optim.SGD"],
        ["--model.optimizer=torch.optim.AdamW", '--model.optimizer={"class_path": "torch.optim.SGD"}'],
    ):
        result = run_main("fit", f"--config={CONFIG}", *classes, "--print_config", cwd=tmp_path)
        assert result.returncode == 0 and "warning: --model.optimizer" not in result.stderr, result.stderr[-3000:]
    # Defaults that are tuples, read back as lists: "keeps scale [0.02, 0.33] ... (RandomErasing's own: (0.02, 0.33))".
    erasing = ["--data.augment=torchvision.transforms.v2.RandomErasing", "--print_config"]
    result = run_main("fit", f"--config={CONFIG}", *erasing, cwd=tmp_path)
    assert result.returncode == 0 and "warning: --data.augment" not in result.stderr, result.stderr[-3000:]


def test_a_number_where_torchvision_types_a_number(tmp_path: Path) -> None:
    """torchvision v2 types RandomRotation's degrees numbers.Number, a class to jsonargparse: 15, as its docs
    write it, was refused "expected a list". Typed, and read back from the config it prints (1e1: YAML's string)."""
    rotation = ["--data.augment=torchvision.transforms.v2.RandomRotation", "--data.augment.degrees=15"]
    result = run_main("fit", f"--config={CONFIG}", *rotation, "--print_config", cwd=tmp_path)
    assert result.returncode == 0 and "    degrees: 15\n" in result.stdout, result.stderr[-3000:]
    (tmp_path / "printed.yaml").write_text(result.stdout.replace("degrees: 15\n", "degrees: 1e1\n"))
    again = run_main("fit", "--config=printed.yaml", "--print_config", cwd=tmp_path)
    assert again.returncode == 0 and "    degrees: 10.0\n" in again.stdout, again.stderr[-3000:]


@pytest.mark.slow  # an edge of the default suite's checks: its time (a slower host took 302 s)
def test_a_class_chosen_in_a_config_file_warns_of_the_values_it_keeps(tmp_path: Path) -> None:
    """A file's Adadelta without its lr trained at Adam's 0.001 (its own: 1.0), or at lenet.yaml's SGD 0.01."""
    (tmp_path / "mine.yaml").write_text("model:\n  optimizer:\n    class_path: torch.optim.Adadelta\n")
    (tmp_path / "sgd.yaml").write_text("model:\n  optimizer:\n    class_path: SGD\n    init_args:\n      lr: 0.1\n")
    (tmp_path / "short.yaml").write_text("model:\n  optimizer: torch.optim.Adadelta\n")  # the class path alone
    expected = {
        ("mine.yaml",): "lr 0.001, eps 1e-08 of the class before it (Adadelta's own: 1.0, 1e-06): give "
        "model.optimizer.init_args.lr and model.optimizer.init_args.eps in the file to choose",
        (str(CONFIG), "mine.yaml"): "lr 0.01 of the class before it (Adadelta's own: 1.0): give "
        "model.optimizer.init_args.lr in the file to choose",
        (str(CONFIG), "sgd.yaml"): None,  # the class of the file before it: its values are meant
        ("short.yaml",): "lr 0.001, eps 1e-08 of the class before it (Adadelta's own: 1.0, 1e-06): give "
        "model.optimizer.init_args.lr and model.optimizer.init_args.eps in the file to choose",
        # Adadelta again after SGD: SGD's lr kept
        ("mine.yaml", "sgd.yaml", "mine.yaml"): "lr 0.1 of the class before it (Adadelta's own: 1.0): give "
        "model.optimizer.init_args.lr in the file to choose",
        (str(CONFIG),): None,
    }
    for configs, kept in expected.items():
        result = run_main("fit", *(f"--config={c}" for c in configs), "--print_config", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        warned = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
        named = configs[-1]
        assert warned == ([f"warning: {named}: model.optimizer torch.optim.Adadelta keeps {kept}"] if kept else [])


@pytest.mark.parametrize(
    "given",
    [
        [f"--config={REPO / 'configs' / 'example.yaml'}"],
        [f"--config={CONFIG}", "--model.optimizer=torch.optim.AdamW", "--model.optimizer.weight_decay=0.01"],
    ],
    ids=["example.yaml's Adadelta", "AdamW typed"],
)
@pytest.mark.parametrize("flags", ["skip_default", "comments", "skip_default,comments"])
def test_a_printed_config_reads_back_as_the_same_config(given: list[str], flags: str, tmp_path: Path) -> None:
    """skip_default left out a chosen class's arguments equal to its own defaults; read back, jsonargparse started
    from the default class (Adam) and kept the values both share: Adadelta's eps came back as Adam's 1e-08.
    comments, LightningCLI's documented flag, was refused ("Invalid option"): it needs ruamel.yaml."""
    printed = run_main("fit", *given, f"--print_config={flags}", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr[-3000:]
    assert ("# " in printed.stdout.partition("\n")[2]) == ("comments" in flags)  # below the version line
    (tmp_path / "printed.yaml").write_text(printed.stdout)
    read_back = run_main("fit", f"--config={tmp_path / 'printed.yaml'}", "--print_config", cwd=tmp_path)
    assert read_back.returncode == 0 and "warning:" not in read_back.stderr, read_back.stderr[-3000:]
    full = run_main("fit", *given, "--print_config", cwd=tmp_path)
    assert yaml.safe_load(read_back.stdout) == yaml.safe_load(full.stdout)


@pytest.mark.parametrize("flag", sorted(parser._THE_EXAMPLES_FLAGS))
def test_each_flag_of_the_pytorch_example_is_named_an_option_the_cli_takes(flag: str, tmp_path: Path) -> None:
    """The hint for it must name an option that exists: a mistyped one would send a newcomer on to another error."""
    meant = parser._THE_EXAMPLES_FLAGS[flag].split(" (")[0]
    if flag == "--save-model":  # nothing to give
        assert meant == "nothing: a fit always saves its checkpoints"
        return
    option, _, value = meant.partition(" ")
    given = [f"{option}={value or {'--ckpt_path': 'null'}.get(option, '2')}"]
    if "scheduler" in option:  # the flag's hint says: with a StepLR
        given = ["--model.scheduler=torch.optim.lr_scheduler.StepLR", "--model.scheduler.step_size=1", *given]
    result = run_main("fit", f"--config={CONFIG}", *given, "--print_config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize(
    "given, refused",
    [
        ({"accumulate_grad_batches": 0}, "--trainer.accumulate_grad_batches 0: must be greater than 0"),
        ({"val_check_interval": 0.0}, "--trainer.val_check_interval 0.0: must be greater than 0"),
        ({"log_every_n_steps": -2}, "--trainer.log_every_n_steps -2: must be 0 or more: give a positive value, or 0"),
        ({"min_epochs": 3, "max_epochs": 3}, None),  # the same: the fit stops there, as asked
        ({"min_steps": 5, "max_steps": -1}, None),  # no max
        # Each at the edge of a refusal (a mutation audit: < made <= refused them unseen)
        ({"limit_test_batches": 0}, None),  # with --test_after_fit false, the fit tests nothing
        ({"limit_train_batches": 1.0}, None),  # all of them
        ({"num_sanity_val_steps": -1}, None),  # every validation batch
        ({"gradient_clip_val": 0}, None),  # no clipping
        ({"log_every_n_steps": 0}, None),  # no per-step values
        ({"logger": Namespace(init_args=Namespace(sub_dir="~/tb"))}, "sub_dir ~/tb: a folder inside each run's dir"),
        ({"logger": Namespace(init_args=Namespace(sub_dir="tb"))}, None),
    ],
)
def test_trainer_settings_refused_and_taken(given: dict, refused: str | None) -> None:
    """Each of them Lightning takes without a word (a log interval of -2 is every other step; 0 divides)."""
    settings = Namespace(accelerator="cpu", **{"logger": False, "max_epochs": 1, **given})
    if refused is None:
        mnist_pl.trainer.refuse_bad_settings(settings, "fit")
    else:
        with pytest.raises(UserError, match=re.escape(refused)):
            mnist_pl.trainer.refuse_bad_settings(settings, "fit")


def test_no_model_summary_means_none() -> None:
    # The config's ModelSummary (max_depth 2) stood in for Lightning's: the summary was printed anyway.
    summary = ModelSummary(max_depth=2)
    assert summary in Trainer(callbacks=[summary], logger=False).callbacks
    trainer = Trainer(callbacks=[summary], enable_model_summary=False, logger=False)
    assert not any(isinstance(c, ModelSummary) for c in trainer.callbacks)


@pytest.mark.slow  # the default suite has test_runs' checks of claim_new_version (its two concurrent fits are slow)
def test_second_fit_gets_its_own_version_and_leaves_the_first_untouched(tmp_path: Path) -> None:
    logs = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}"
    args = (
        "fit",
        f"--config={CONFIG}",
        DATA,
        logs,
        *QUICK_FIT,
        "--trainer.limit_train_batches=5",
        "--test_after_fit=false",
    )
    assert run_cli(*args, cwd=tmp_path).returncode == 0
    first = tmp_path / "logs" / "lenet" / "version_0"
    before = tree_digest(first)
    second = run_cli(*args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "test/acc" not in second.stdout
    assert (tmp_path / "logs" / "lenet" / "version_1" / "checkpoints" / "last.ckpt").exists()
    assert tree_digest(first) == before


def parsers_built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The subcommands whose parsers MNISTCLI builds from now on, in order."""
    made: list[str] = []
    prepare = MNISTCLI._prepare_subcommand_parser

    def recorded(cli: MNISTCLI, klass: type, subcommand: str, **kwargs) -> object:
        made.append(subcommand)
        return prepare(cli, klass, subcommand, **kwargs)

    monkeypatch.setattr(MNISTCLI, "_prepare_subcommand_parser", recorded)
    return made


@pytest.mark.parametrize(
    ("words", "built"),
    [
        (["test", f"--config={CONFIG}", "--print_config"], ["test"]),
        (["--help"], ["fit", "validate", "test", "predict"]),  # listed
        # A file of sections for them all, before the subcommand
        (["-c", "main.yaml", "validate", "--print_config"], ["fit", "validate", "test", "predict"]),
        (["tset", "--print_config"], ["fit", "validate", "test", "predict"]),  # their names in the error
    ],
)
def test_a_command_line_builds_the_parser_of_its_subcommand_alone(
    words: list[str], built: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each subcommand's parser took a fifth of a second to build, and every command built all four."""
    (tmp_path / "main.yaml").write_text("validate:\n  trainer:\n    limit_val_batches: 2\n")
    made = parsers_built(monkeypatch)
    result = run_main(*words, cwd=tmp_path)
    assert made == built
    assert result.returncode == (2 if words[0] == "tset" else 0), result.stderr[-2000:]
    if words[0] == "tset":
        assert result.stderr.strip().splitlines()[-1] == (
            "error: tset is no subcommand: give fit, validate, test, predict or export, then its options"
        )
    if words[0] == "-c":  # the file's section of the subcommand, read by its parser
        assert "limit_val_batches: 2" in result.stdout


def test_an_empty_list_of_args_is_no_words_not_sys_argv(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """MNISTCLI(args=[]) from Python: its own words, none, not the script's, build the four parsers (a mutation
    audit: an empty list read as "not given" built the script's subcommand's alone, unseen)."""
    monkeypatch.setattr(sys, "argv", ["script.py", "fit", "--trainer.max_epochs=1"])
    made = parsers_built(monkeypatch)
    with pytest.raises(SystemExit) as exit_:
        MNISTCLI(args=[])
    assert exit_.value.code == 2
    assert made == ["fit", "validate", "test", "predict"]
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: give a subcommand: fit, validate, test, predict or export"
    )


def test_help_and_print_config(tmp_path: Path) -> None:
    help_ = run_main("--help", cwd=tmp_path)
    assert help_.returncode == 0
    assert all(cmd in help_.stdout for cmd in ("fit", "validate", "test", "predict"))
    assert help_.stdout.startswith("usage: python -m mnist_pl ")  # as it is run, not "__main__.py"
    # export's formats in the README's order: it said "ONNX or TorchScript", leaving out the .pt2 the README advises.
    assert "export (a checkpoint as ONNX, torch.export's .pt2 or TorchScript;" in re.sub(r"\s+", " ", help_.stdout)
    # jsonargparse's help of a class builds a parser of its own, which said "usage: __main__.py".
    class_help = run_main("fit", "--model.net.help=LeNet", cwd=tmp_path)
    assert class_help.returncode == 0 and class_help.stdout.startswith("usage: python -m mnist_pl [--model.net.")
    printed = run_main("fit", f"--config={CONFIG}", "--print_config", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert "class_path: mnist_pl.nets.LeNet" in printed.stdout
    assert "test_after_fit: true" in printed.stdout
    # A recipe is a config for test too: it takes test_after_fit, on which only fit acts.
    assert run_main("test", f"--config={CONFIG}", "--print_config", cwd=tmp_path).returncode == 0
    # Checked as a run is: printed while parsing, it showed a seed the run refuses.
    printed = run_main("fit", f"--config={CONFIG}", "--seed_everything=-1", "--print_config", cwd=tmp_path)
    assert printed.returncode == 2 and printed.stderr.strip().endswith("expected an int from 0 to 4294967295")
    # --trainer.callbacks without += left out the app's own, curves.png and pictures with them, without a word.
    stop = ["--trainer.callbacks.monitor=val/loss", "--print_config"]
    for given, warned in (("--trainer.callbacks=EarlyStopping", True), ("--trainer.callbacks+=EarlyStopping", False)):
        printed = run_main("fit", f"--config={CONFIG}", given, *stop, cwd=tmp_path)
        assert printed.returncode == 0 and "class_path: lightning.pytorch.callbacks.EarlyStopping" in printed.stdout
        assert (
            "warning: --trainer.callbacks replaces the app's callbacks, leaving out ModelSummary, "
            "LearningRateMonitor, ImageLogger" in printed.stderr
        ) == warned, printed.stderr
    # One class alone is a Namespace, not a list: the warning's check ended in a traceback.
    printed = run_main("fit", f"--config={CONFIG}", "--trainer.callbacks=ModelSummary", "--print_config", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert "leaving out LearningRateMonitor, ImageLogger (the learning rate's curve, the run dir's curves.png" in (
        printed.stderr
    ), printed.stderr
    # So does a --trainer value's, inline or a file's; there callbacks+ replaces them too (no warning; a review).
    for key in ("callbacks", "callbacks+"):
        given = f"--trainer={{{key}: [{{class_path: EarlyStopping, init_args: {{monitor: val/loss}}}}]}}"
        printed = run_main("fit", f"--config={CONFIG}", given, "--print_config", cwd=tmp_path)
        assert printed.returncode == 0 and "class_path: mnist_pl.callbacks.ImageLogger" not in printed.stdout
        assert (
            f"warning: --trainer {given.partition('=')[2]}: its callbacks replace the app's callbacks, leaving out "
            "ModelSummary, LearningRateMonitor, ImageLogger (the summary's inner layers, the learning rate's curve, "
            "the run dir's curves.png and pictures): --trainer.callbacks+=X adds X to them" in printed.stderr
        ), printed.stderr
    # So does a config file's trainer.callbacks (the command line's alone was warned about); callbacks+ adds.
    for key, warned in (("callbacks", True), ("callbacks+", False)):
        (tmp_path / "stop.yaml").write_text(f"trainer:\n  {key}:\n    - class_path: EarlyStopping\n")
        stop_file = f"--config={tmp_path / 'stop.yaml'}"
        printed = run_main("fit", f"--config={CONFIG}", stop_file, *stop, cwd=tmp_path)
        assert printed.returncode == 0 and "class_path: lightning.pytorch.callbacks.EarlyStopping" in printed.stdout
        assert ("class_path: mnist_pl.callbacks.ImageLogger" in printed.stdout) != warned  # left out, as warned
        assert (
            f"warning: {tmp_path / 'stop.yaml'}: trainer.callbacks replaces the app's callbacks, leaving out "
            "ModelSummary, LearningRateMonitor, ImageLogger (the summary's inner layers, the learning rate's curve, "
            "the run dir's curves.png and pictures): write callbacks+: in its place to add to them" in printed.stderr
        ) == warned, printed.stderr


@pytest.mark.parametrize("subcommand", ["validate", "test", "predict"])
def test_test_after_fit_typed_for_another_subcommand_is_refused(subcommand: str, tmp_path: Path) -> None:
    """Every subcommand takes it, so that a recipe is a config for each; typed for one but fit, it did nothing."""
    for words in (["--test_after_fit=false"], ["--test_after_fit", "false"]):
        result = run_main(subcommand, f"--config={CONFIG}", *words, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.strip().splitlines()[-1] == (
            f"error: --test_after_fit false: only fit acts on it ({subcommand} runs no fit): leave it out"
        ), result.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []
    # So was --data.predict_path: test tested MNIST's test split, not the folder given, without a word (an audit).
    other = "fit" if subcommand == "predict" else subcommand  # predict's own
    result = run_main(other, f"--config={CONFIG}", "--data.predict_path", "digits", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1] == (
        f"error: --data.predict_path digits: only predict acts on it ({other} runs on the dataset's own split): "
        "leave it out"
    ), result.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []
    # null undoes a recipe's path: harmless, taken (a review).
    printed = run_main(other, f"--config={CONFIG}", "--data.predict_path=null", "--print_config", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr[-2000:]
    # The recipe's own, test_after_fit: true, is taken.
    assert run_main(subcommand, f"--config={CONFIG}", "--print_config", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    "option, values, said",
    [
        (
            "--data.predict_path",
            ["digits/", "digits2/"],
            "twice (digits/, then digits2/): only the last would be used: give one (a folder's subfolders are read "
            "too, or quote a glob)",
        ),
        (
            "--predictions.output",
            ["a.csv", "b.csv"],
            "twice (a.csv, then b.csv): only the last would be used: give one",
        ),
        ("--ckpt_path", ["a", "b", "a"], "3 times (a, then b, then a): only the last would be used: give one"),
    ],
)
def test_a_file_option_given_twice_is_refused(option: str, values: list[str], said: str, tmp_path: Path) -> None:
    """The last was taken: predict of two folders predicted the second alone, and said so nowhere (an audit)."""
    words = [f"{option}={values[0]}", *(word for value in values[1:] for word in (option, value))]
    one = "--trainer.limit_predict_batches=1"  # where the option is not refused: a short predict
    result = run_main("predict", f"--config={CONFIG}", *words, one, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1] == f"error: {option} given {said}", (
        result.stderr[-2000:]
    )
    assert list(tmp_path.iterdir()) == []
    # Typed for another subcommand, that is said first: its fix leaves it out.
    if option == "--data.predict_path":
        result = run_main("test", f"--config={CONFIG}", *words, cwd=tmp_path)
        assert (
            result.stderr.strip()
            .splitlines()[-1]
            .endswith("only predict acts on it (test runs on the dataset's own split): leave it out")
        ), result.stderr[-2000:]


@pytest.mark.parametrize("subcommand", ["fit", "test"])
def test_help_says_what_the_app_takes(subcommand: str, capsys: pytest.CaptureFixture) -> None:
    """Lightning's --ckpt_path help offered "best", "hpc" and "registry" (refused here) and the best
    checkpoint of a previous fit in this process (there is none); --model.net and --data.augment
    listed every torch.nn Module there is, 670 lines each of the 2,050."""
    with pytest.raises(SystemExit) as exit_:
        MNISTCLI(args=[subcommand, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    shown = re.sub(r"\s+", " ", out)
    # An option's help: its lines up to the next option's (help texts name options too).
    options = {
        m[1]: re.sub(r"\s+", " ", m[2]).strip() for m in re.finditer(r"\n  (--\S+ \S+)(.*?)(?=\n  --)", out, re.DOTALL)
    }
    ckpt_path = options["--ckpt_path CKPT_PATH"]
    assert "registry" not in ckpt_path and "hpc" not in ckpt_path
    if subcommand == "fit":
        assert ckpt_path.startswith("resume a run from its checkpoints/last.ckpt, or last: the newest last.ckpt")
    else:
        assert ckpt_path.startswith("the checkpoint file (a .ckpt mnist_pl wrote) whose network to test")
    net = options["--model.net NET"]
    assert "mnist_pl.nets.LeNet" in net and "any torch.nn.Module (--model.net.help CLASS)" in net, net
    augment = options["--data.augment AUGMENT"]
    assert "mnist_pl.augment.RandomAffine" in augment and "any torch.nn.Module" in augment, augment
    assert "torch.nn.Linear" not in shown
    # Lightning's words for options the app sets gave Lightning's defaults: monitor "None", save_last "None".
    monitor = options["--checkpoint.monitor MONITOR"]
    assert monitor.startswith("what ranks the best checkpoint (default val/acc") and "None" not in monitor, monitor


def test_help_is_plain_text(capsys: pytest.CaptureFixture) -> None:
    """Lightning's and torch's docstrings are reStructuredText: fit --help showed 140 ``x`` marks and
    ":paramref:`~lightning.pytorch.trainer.trainer.Trainer.callbacks`" broken over two lines."""
    for args in (
        ["fit", "--help"],
        ["fit", "--model.optimizer.help", "SGD"],
        ["fit", "--trainer.callbacks.help", "ModelCheckpoint"],
    ):
        with pytest.raises(SystemExit) as exit_:
            MNISTCLI(args=args)
        assert exit_.value.code == 0
        shown = re.sub(r"\s+", " ", capsys.readouterr().out)
        assert "``" not in shown and not re.search(r":\w+:`", shown) and ".. note::" not in shown, args
        if args[1] == "--help":
            assert "defined ModelCheckpoint in callbacks. Default: True. (type: Optional[bool]" in shown
            assert "Whether to use torch.inference_mode or torch.no_grad during evaluation" in shown
        elif args[1] == "--trainer.callbacks.help":
            assert "every_n_epochs. Note: When using with manual optimization" in shown
    # A schedule's help listed --model.scheduler.optimizer as required: the model gives it, a config must not.
    with pytest.raises(SystemExit):
        MNISTCLI(args=["fit", "--model.scheduler.help", "StepLR"])
    shown = capsys.readouterr().out
    assert "--model.scheduler.step_size STEP_SIZE" in shown and "optimizer" not in shown.lower(), shown


def test_the_subcommands_are_listed_whole_with_export(capsys: pytest.CaptureFixture) -> None:
    """Lightning lists each subcommand by its docstring's first line, cut mid-sentence ("make sure you
    never run on your"); the main parser's errors named four subcommands, not export."""
    with pytest.raises(SystemExit):
        MNISTCLI(args=["--help"])
    listed = re.sub(r"\s+", " ", capsys.readouterr().out)
    assert " test the loss and accuracy of a checkpoint on the 10,000 test images " in listed
    assert "never run on your" not in listed and "Useful to" not in listed
    # And each subcommand's own help, under its usage line and above its own options; no heading cut short.
    with pytest.raises(SystemExit):
        MNISTCLI(args=["test", "--help"])
    shown, line = capsys.readouterr().out, "the loss and accuracy of a checkpoint on the 10,000 test images"
    assert shown.splitlines()[2] == line and f"\n{line}:\n  --ckpt_path" in shown
    assert "never run on your" not in shown
    headings = [h for h in shown.splitlines() if h.endswith(":") and not h.startswith(" ")]
    assert all(not h.endswith((",:", " and:", " latest:")) for h in headings), headings
    for args, expected in (
        ([], "error: give a subcommand: fit, validate, test, predict or export"),
        (["fitt"], "error: fitt is no subcommand: give fit, validate, test, predict or export, then its options"),
        # The table and the bench are modules of their own (python -m mnist_pl.table): "give fit, ..." sent them away.
        (["table"], "error: table is no subcommand: it is a tool of its own: python -m mnist_pl.table"),
        # An option before the subcommand: its value was taken for the subcommand ("1 is no subcommand").
        (
            ["--trainer.max_epochs", "1", "fit"],
            "error: --trainer.max_epochs is no option here: give the subcommand first, then its options "
            "(fit --trainer.max_epochs 1)",
        ),
    ):
        with pytest.raises(SystemExit) as exit_:
            MNISTCLI(args=args)
        assert exit_.value.code == 2
        assert capsys.readouterr().err.splitlines()[-1] == expected


def test_the_defaults_of_a_fit_without_a_config_seed_it_and_make_it_deterministic(
    capsys: pytest.CaptureFixture,
) -> None:
    """Every recipe sets both; the app's defaults must too, for a run of options alone to repeat exactly."""
    with pytest.raises(SystemExit) as exit_:
        MNISTCLI(args=["fit", "--print_config"])
    assert exit_.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["seed_everything"] == 0 and config["trainer"]["deterministic"] is True


def test_print_config_with_a_checkpoint_shows_the_checkpoints_settings(trained_run: Path, tmp_path: Path) -> None:
    # It showed the app's defaults (Adam 0.001), which the test then replaced with the checkpoint's.
    ckpt = trained_run / "checkpoints" / "best.ckpt"
    # Its data settings too (they showed the defaults), and no "Parsing of ckpt_path hyperparameters
    # failed!": Lightning's own parse of the checkpoint printed and exited before the app's checks.
    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["datamodule_hyper_parameters"].update(mean=0.4, val_size=7000)
    checkpoint["MNISTDataModule"].update(mean=0.4, val_size=7000)
    torch.save(checkpoint, tmp_path / "own.ckpt")
    printed = run_main("test", f"--ckpt_path={tmp_path / 'own.ckpt'}", "--print_config", cwd=tmp_path)
    assert printed.returncode == 0 and "failed" not in printed.stderr, printed.stderr
    config = yaml.safe_load(printed.stdout)
    assert config["model"]["optimizer"] == {
        "class_path": "torch.optim.SGD",
        "init_args": yaml.safe_load((trained_run / "config.yaml").read_text())["model"]["optimizer"]["init_args"],
    }
    assert (config["data"]["mean"], config["data"]["val_size"]) == (0.4, 7000)
    # A setting the checkpoint would replace is refused, as without --print_config (it printed, status 0).
    refused = run_main(
        "test", f"--ckpt_path={ckpt}", "--model.net=mnist_pl.nets.FastCNN", "--print_config", cwd=tmp_path
    )
    assert refused.returncode == 1 and refused.stderr.splitlines()[-1].startswith("error: --model.net"), refused.stderr


def test_a_torchvision_network_is_printed_and_refused_in_one_line(tmp_path: Path) -> None:
    """A builder of untyped **kwargs (torchvision's) is handed the default network's num_classes as
    jsonargparse's PositiveInt, which yaml could not write: a traceback, --print_config's too."""
    printed = run_main("fit", "--model.net=torchvision.models.resnet18", "--print_config", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert yaml.safe_load(printed.stdout)["model"]["net"]["init_args"]["num_classes"] == 10
    logs = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}"
    result = run_main(
        "fit",
        "--model.net=torchvision.models.resnet18",
        "--trainer.max_epochs=1",
        f"--data.data_dir={REPO / 'data'}",
        logs,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.splitlines()[-1].startswith("error: --model.net ResNet: fails on a 1x28x28")
    assert list(tmp_path.iterdir()) == []


def test_missing_data_is_one_clear_line(tmp_path: Path) -> None:
    # Not MNIST, whose files this repository's own copies fill in.
    data = [f"--data.data_dir={tmp_path / 'empty'}", "--data.dataset=FashionMNIST", "--data.download=false"]
    result = run_cli("fit", f"--config={CONFIG}", *data, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "empty/FashionMNIST/raw" in last and "--data.download true" in last


@pytest.mark.slow  # an edge check, 4-6 s: the default suite's time
def test_a_checkpoint_is_evaluated_in_the_precision_it_was_trained_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`test --ckpt_path` of a fast.yaml run, with no config, ran in fp32: another test/acc than the fit's own test."""
    monkeypatch.setattr(mnist_pl.trainer, "native_bf16", lambda: True)  # bf16 wherever this runs
    short = ["--trainer.limit_train_batches=10", "--trainer.limit_val_batches=2", "--trainer.limit_test_batches=3"]
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    fit = MNISTCLI(args=["fit", f"--config={REPO / 'configs' / 'fast.yaml'}", DATA, logs, *short])
    best = tmp_path / "fast" / "version_0" / "checkpoints" / "best.ckpt"
    for subcommand in ("test", "validate"):
        evaluated = MNISTCLI(
            args=[
                subcommand,
                f"--ckpt_path={best}",
                DATA,
                "--trainer.logger=false",
                *short,
                "--trainer.accelerator=cpu",
            ]
        )
        assert evaluated.trainer.precision == "bf16-mixed"
    assert evaluated.trainer.callback_metrics["val/acc"] == fit.trainer.checkpoint_callback.best_model_score
    tested = MNISTCLI(args=["test", f"--ckpt_path={best}", DATA, "--trainer.logger=false", *short])
    assert tested.trainer.callback_metrics["test/acc"] == fit.trainer.callback_metrics["test/acc"]
    # Asked for, another precision is taken as given
    other = MNISTCLI(
        args=["test", f"--ckpt_path={best}", DATA, "--trainer.logger=false", *short, "--trainer.precision=32"]
    )
    assert other.trainer.precision == "32-true"


@pytest.mark.parametrize(
    "capabilities, native",
    [
        ({"avx2": True, "avx512_bf16": False, "amx_bf16": False}, False),  # a CPU without: bf16 emulated
        ({"avx512_bf16": True}, True),
        ({"amx_bf16": True}, True),
        ({"bf16": True}, True),  # Arm's BF16 extension
    ],
)
def test_bf16_is_native_where_the_cpu_says_so(
    capabilities: dict[str, bool], native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test below takes this answer as given, and this CPU has AMX: a CPU without is seen here alone (a test
    audit)."""
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: capabilities)
    assert mnist_pl.trainer.native_bf16() is native


@pytest.mark.parametrize(
    "native, asked, accelerator",
    [
        (False, "bf16-mixed", "cpu"),
        (True, "bf16-mixed", "cpu"),
        (False, "16-mixed", "cpu"),  # Lightning runs 16-mixed as bf16-mixed on a CPU
        (True, "16-mixed", "cpu"),
        # The recipes' accelerator, auto, on a machine without a GPU; bf16-true as bf16-mixed.
        pytest.param(False, "bf16-true", "auto", marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU")),
    ],
    ids=["emulated", "native", "16-emulated", "16-native", "true-auto-emulated"],
)
def test_bf16_runs_only_where_the_cpu_computes_it(
    native: bool,
    asked: str,
    accelerator: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recwarn: pytest.WarningsRecorder,
) -> None:
    # This machine's answer replaced by each of the two: fast.yaml asks for bf16-mixed.
    monkeypatch.setattr(mnist_pl.trainer, "native_bf16", lambda: native)
    run = MNISTCLI(
        args=[
            "fit",
            f"--config={REPO / 'configs' / 'fast.yaml'}",
            DATA,
            f"--trainer.logger.init_args.save_dir={tmp_path}",
            f"--trainer.accelerator={accelerator}",
            f"--trainer.precision={asked}",
            "--trainer.max_steps=2",
            "--trainer.enable_progress_bar=false",
            "--test_after_fit=false",
        ]
    )
    assert run.trainer.precision == (("bf16-mixed" if asked == "16-mixed" else asked) if native else "32-true")
    warned = [w for w in recwarn if "no bf16 instructions" in str(w.message) and "in 32-true instead" in str(w.message)]
    assert len(warned) == (0 if native else 1)
    # Lightning's own "AMP with fp16 is not supported on CPU" went unsaid: the app had replaced the value first.
    fp16 = [w for w in recwarn if "float16 mixed precision runs on a GPU only: running in bf16-mixed" in str(w.message)]
    assert len(fp16) == (asked == "16-mixed" and native)
    assert not [w for w in recwarn if "model summary" in str(w.message)]  # its fp32 weights are counted right
    saved = (tmp_path / "fast" / "version_0" / "config.yaml").read_text()
    assert f"precision: {run.trainer.precision}" in saved  # the config of the run says what ran
