"""The accuracy table, run as a user runs it, on short fits (options it does not know go to every fit)."""

import argparse
import functools
import re
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
from conftest import REPO, child_env

# Imported here, not in a test: Lightning's log handler takes the sys.stderr of its import, which in a
# test is capsys's, closed after it ("--- Logging error ---" in the next test's output).
from mnist_pl import table
from mnist_pl.errors import UserError

# Fits of a batch, where the table takes the command (a check that failed: the fits of the last values given).
SHORT = ["--trainer.limit_train_batches=1", "--trainer.limit_val_batches=1", "--trainer.limit_test_batches=1"]


@pytest.mark.slow  # four short fits, each tested on the whole test set: about 30 s
def test_table_rows_match_the_runs_it_printed(tmp_path) -> None:
    short = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=150", "--trainer.limit_val_batches=2"]
    command = [sys.executable, "-m", "mnist_pl.table", "--configs", "minimal", "twoconv", "--seeds", "0", "1"]
    result = subprocess.run(
        [*command, f"--data.data_dir={REPO / 'data'}", *short],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Its fits' runs are where their last lines say (they were in a folder removed when each fit ended).
    saved = re.findall(r"^Run saved in (\S+):", result.stderr, re.M)
    assert len(saved) == 4 and all((tmp_path / run / "checkpoints" / "best.ckpt").is_file() for run in saved)
    out = result.stdout
    assert f"options: --data.data_dir={REPO / 'data'} {' '.join(short)}" in out
    for name, params in (("minimal", "6,422"), ("twoconv", "1,007,590")):
        accs = [float(a) for a in re.findall(rf"^{name} seed [01]: ([\d.]+)% in \d+ s", out, re.M)]
        assert len(accs) == 2 and min(accs) > 30, out  # both seeds ran, well above chance (10%)
        row = re.search(rf"^\| {name} \| (.+) \|$", out, re.M)
        assert row, out
        count, epochs, _, acc, reference, reached = row.group(1).split(" | ")
        assert (count, epochs) == (params, "1")
        mean, low, high = map(float, re.fullmatch(r"([\d.]+) \(([\d.]+)-([\d.]+)\)", acc).groups())
        assert (low, high) == (min(accs), max(accs)) and mean == pytest.approx(sum(accs) / 2, abs=0.006)
        if name == "minimal":
            assert reference.startswith("95.00") and reached == ("yes" if low >= 95 else "no")
        else:  # no published figure: the table says so instead of comparing with a guess
            assert "no published figure" in reference and reached == "-"


@pytest.mark.slow  # a short fit
def test_the_epochs_column_is_what_the_fits_trained(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """It was the config's max_epochs: 3 for a fit max_steps ended after 4 steps of an epoch of 10."""
    limits = ["--trainer.limit_train_batches=10", "--trainer.limit_val_batches=1", "--trainer.limit_test_batches=1"]
    args = ["table", "--configs", "minimal", "--seeds", "0", f"--data.data_dir={REPO / 'data'}", *limits]
    steps = ["--trainer.max_epochs=3", "--trainer.max_steps=4", f"--save_dir={tmp_path}"]
    with mock.patch.object(sys, "argv", [*args, *steps]):
        table.main()
    row = re.search(r"^\| minimal \| ([^|]+) \| ([^|]+) \|", capsys.readouterr().out, re.M)
    assert row and row.group(2) == "0.4", row


def test_a_config_that_is_not_there_is_named_with_those_that_are(capsys: pytest.CaptureFixture[str]) -> None:
    with mock.patch.object(sys, "argv", ["table", "--configs", "lenet", "nosuch"]), pytest.raises(SystemExit) as exit_:
        table.main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m mnist_pl.table ")
    assert "invalid choice: 'nosuch' (choose from 'best', 'bncnn', 'example', 'fast', 'lenet'," in err


@pytest.mark.parametrize(
    "given, instead",
    [
        (["--seed_everything=7"], "--seeds"),  # its rows said seeds 0 and 1: both ran seed 7
        (["--config", "configs/lenet.yaml"], "--configs"),  # the minimal row showed LeNet's parameters
        (["--trainer.logger.init_args.save_dir=elsewhere"], "--save_dir"),  # its last line named logs/table
        (["--test_after_fit=false"], "the test accuracy is the table's"),  # rows of nan
        # A row of "seed 0" of a resumed run; the second seed refused; a last line naming runs not kept.
        (["--ckpt_path", "logs/t/minimal/version_0/checkpoints/last.ckpt"], "each fit trains from the start"),
        (["--trainer.logger.init_args.version=99"], "each fit has a run of its own"),
        (["--trainer.logger.init_args", '{"save_dir": "elsewhere"}'], "--save_dir"),
        (["--trainer.fast_dev_run=true"], "--trainer.limit_train_batches"),
        (["--trainer.logger+=CSVLogger"], "each fit logs to TensorBoard in --save_dir"),  # its save_dir refused
        (["--print_config"], "python -m mnist_pl fit --config configs/NAME.yaml --print_config"),  # no table, status 0
    ],
)
def test_an_option_the_table_sets_itself_is_refused(given: list[str], instead: str, capsys) -> None:
    with mock.patch.object(sys, "argv", ["table", "--configs", "minimal", *given]), pytest.raises(SystemExit) as exit_:
        table.main()
    assert exit_.value.code == 2
    usage, last = capsys.readouterr().err.strip().splitlines()  # a usage of one line, as fit's (it took four)
    assert usage.startswith("usage: python -m mnist_pl.table [--configs NAME ...]")
    assert (
        last.startswith(f"python -m mnist_pl.table: error: {given[0].split('=')[0]}: the table sets it")
        and instead in last
    )


@pytest.mark.parametrize("given, meant", [("--seed", "--seeds"), ("--save", "--save_dir")])
def test_a_mistyped_option_of_the_tables_own_names_it(given: str, meant: str, capsys) -> None:
    """It went to every fit, whose error named the fit's usage and help."""
    with mock.patch.object(sys, "argv", ["table", "--configs", "minimal", given, "0"]), pytest.raises(SystemExit):
        table.main()
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"python -m mnist_pl.table: error: {given}: not an option of the table: {given} here is {meant}"


@pytest.mark.parametrize("option", [["--save_dir", "logs/t"], ["--trainer.max_epochs=1"]])  # a fit's, with its value
def test_a_config_name_without_its_option_is_named_with_it(
    capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    """It went to the first fit, whose three lines named its own usage and help: "unrecognized arguments: lenet"."""
    argv = ["table", "--configs", "minimal", *option, "lenet"]
    with mock.patch.object(sys, "argv", argv), pytest.raises(SystemExit) as exit_:
        table.main()
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "python -m mnist_pl.table: error: lenet: a config's name, given apart from --configs: put it there "
        "(--configs minimal lenet)"
    )


def test_fits_that_a_time_limit_ends_are_ranked() -> None:
    """No epoch limit, but max_time: they end (a mutation audit: refusing them failed no test)."""
    trainer = SimpleNamespace(max_epochs=-1, max_steps=-1, max_time="00:00:05:00", limit_val_batches=None)
    table._refuse_what_the_table_cannot_rank(trainer, {"val_size": 5000})
    with pytest.raises(UserError, match="never end"):
        table._refuse_what_the_table_cannot_rank(SimpleNamespace(**{**vars(trainer), "max_time": None}), {})


@pytest.mark.parametrize("given, meant", [("--seed", "--seeds"), ("--repeat", "--repeats")])
def test_a_mistyped_option_of_the_bench_names_it(given: str, meant: str, capsys: pytest.CaptureFixture[str]) -> None:
    from mnist_pl import bench

    with mock.patch.object(sys, "argv", ["bench", given, "1"]), pytest.raises(SystemExit) as exit_:
        bench.main()
    assert exit_.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"python -m mnist_pl.bench: error: unrecognized arguments: {given} 1: {given} here is {meant}"


def test_a_setting_a_fit_refuses_ends_the_table_in_one_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    # It ended in the fit's traceback: the table builds its fits in this process, outside main()'s handling.
    args = ["table", "--configs", "minimal", "--seeds", "0", f"--data.data_dir={REPO / 'README.md'}"]
    with mock.patch.object(sys, "argv", [*args, f"--save_dir={tmp_path}"]), pytest.raises(SystemExit) as exit_:
        table.main()
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"error: --data.data_dir {REPO / 'README.md'} is a file: give the folder that holds MNIST/raw"
    )


@pytest.mark.parametrize(
    "skips, said",
    [
        # TrainClock's AttributeError, a traceback, after the fit; then, after a whole fit, every option named
        (
            "--trainer.limit_train_batches=0",
            "--trainer.limit_train_batches 0: the fit would train nothing: give a number of batches, or a fraction "
            "of them (1.0: all)",
        ),
        ("--trainer.max_epochs=0", "--trainer.max_epochs 0: the fit would train nothing: give 1 or more"),
        (
            "--trainer.max_steps=0",
            "--trainer.max_steps 0: the fit would train nothing: give 1 or more, or -1 (no limit)",
        ),
        # Trained without an end (an audit's: epoch 77 when killed), no table ever printed
        (
            "--trainer.max_epochs=-1",
            "--trainer.max_epochs -1: the table's fits would never end: give a number of epochs (or "
            "--trainer.max_steps, --trainer.max_time)",
        ),
        # Tested its last weights, where the table says the best checkpoint's, a warning on stderr alone
        (
            "--trainer.limit_val_batches=0",
            "--trainer.limit_val_batches 0: the table tests each fit's best checkpoint, which validation chooses: "
            "give 1 or more batches",
        ),
        # The fit's own words asked for limit_val_batches 0 as well, which the table refuses
        (
            "--data.val_size=0",
            "--data.val_size 0: the table tests each fit's best checkpoint, which validation chooses: give a "
            "val_size, such as 5000",
        ),
        # A row of "nan (nan-nan)", exit status 0: the fit's own refusal, before it trains
        (
            "--trainer.limit_test_batches=0",
            "--trainer.limit_test_batches 0: the test that ends the fit would run no batch: give a number of "
            "batches, or --test_after_fit false",
        ),
    ],
    ids=["no training", "no epoch", "no step", "no end", "no validation", "no validation images", "no test"],
)
def test_a_fit_that_trains_or_tests_nothing_ends_the_table_before_any_fit(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], skips: str, said: str
) -> None:
    def fit(*args: object, **kwargs: object) -> None:
        raise AssertionError("a fit ran")

    monkeypatch.setattr(table, "app_fit", fit)
    args = ["table", "--configs", "minimal", "--seeds", "0", f"--data.data_dir={REPO / 'data'}"]
    with (
        mock.patch.object(sys, "argv", [*args, "--trainer.limit_val_batches=1", skips, f"--save_dir={tmp_path}"]),
        pytest.raises(SystemExit) as exit_,
    ):
        table.main()
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"error: {said}"


@pytest.mark.parametrize(
    "save_dir, said",
    [
        ("", "--save_dir is empty: give a folder, such as logs/table"),
        (
            "$NO_SUCH_VARIABLE/t",
            "--save_dir $NO_SUCH_VARIABLE/t: $NO_SUCH_VARIABLE is not set: set it, or give the folder itself",
        ),
        ("~nosuchuser/t", "--save_dir ~nosuchuser/t: ~nosuchuser is no user's home folder here: check the path"),
    ],
)
def test_a_save_dir_of_no_folder_is_refused_under_its_own_name(save_dir: str, said: str, capsys) -> None:
    """Refused by the fit, in the words of its option --trainer.logger.init_args.save_dir, which the table
    refuses (an audit); an unset variable under the fit's usage line, status 2."""
    args = ["table", "--configs", "minimal", f"--save_dir={save_dir}"]
    with mock.patch.object(sys, "argv", args), pytest.raises(SystemExit) as exit_:
        table.main()
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"python -m mnist_pl.table: error: {said}"


def test_a_save_dir_that_cannot_be_written_is_refused_before_the_fits(tmp_path, capsys) -> None:
    # The fit's own error named --trainer.logger.init_args.save_dir, which the table refuses.
    (tmp_path / "file").write_text("not a folder")
    args = ["table", "--configs", "minimal", f"--save_dir={tmp_path / 'file'}"]
    with mock.patch.object(sys, "argv", args), pytest.raises(SystemExit) as exit_:
        table.main()
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"python -m mnist_pl.table: error: --save_dir {tmp_path / 'file'}: cannot be written (Not a directory): "
        "give another one"
    )


def test_a_bench_of_no_runs_is_refused_before_it_starts(capsys: pytest.CaptureFixture[str]) -> None:
    # --repeats 0 ended in a traceback after the half-minute warm-up.
    from mnist_pl import bench

    with mock.patch.object(sys, "argv", ["bench", "--repeats", "0"]), pytest.raises(SystemExit) as exit_:
        bench.main()
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("argument --repeats: expected an int > 0, got 0")


@pytest.mark.parametrize("program", ["bench", "table"])
def test_a_seed_numpy_cannot_take_is_refused_before_any_fit(program: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The bench trained for minutes before its fast.yaml fits met it; the table, after the seeds before
    # it, or under the name --seed_everything, which it does not take.
    from mnist_pl import bench, table

    main = {"bench": bench.main, "table": table.main}[program]
    with mock.patch.object(sys, "argv", [program, "--seeds", "0", "-1"]), pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .endswith("argument --seeds: expected an int from 0 to 4294967295, got -1")
    )


@pytest.mark.parametrize(
    "given, said",
    [
        (["--seeds", "0", "0"], "--seeds 0 0: 0 twice"),
        (["--configs", "minimal", "lenet", "minimal"], "--configs minimal"),
        # argparse kept the last: the table of lenet alone, minimal's fits not made, without a word.
        (["--configs", "minimal", "--configs", "lenet", "--seeds", "0", *SHORT], "--configs given twice"),
        (["--configs", "minimal", "--seeds", "0", "--seeds=1", *SHORT], "--seeds given twice"),
    ],
)
def test_a_seed_or_config_given_twice_is_refused(
    given: list[str], said: str, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    """The same fit trained twice, its seed range one number, or two equal rows (an audit)."""
    argv = ["table", *given, f"--save_dir={tmp_path}"]
    with mock.patch.object(sys, "argv", argv), pytest.raises(SystemExit) as exit_:
        table.main()
    assert exit_.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"python -m mnist_pl.table: error: {said}") and last.endswith("each once"), last


@pytest.mark.parametrize(
    ("given", "said"), [(["0", "0"], "--seeds 0 0: 0 twice"), (["1", "--seeds=2"], "--seeds given")]
)
def test_the_bench_refuses_a_seed_or_seeds_given_twice(
    given: list[str], said: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the table does: the bench trained seed 0 twice, or seed 2 alone, without a word (an audit)."""
    from mnist_pl import bench

    monkeypatch.setattr(bench, "_bench", lambda args: pytest.fail(f"the bench ran, seeds {args.seeds}"))
    with mock.patch.object(sys, "argv", ["bench", "--seeds", *given]), pytest.raises(SystemExit) as exit_:
        bench.main()
    assert exit_.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"python -m mnist_pl.bench: error: {said}") and last.endswith("each once"), last


def trained(epochs: int) -> SimpleNamespace:
    """What the table reads of a trainer that trained ``epochs`` epochs of 5 steps."""
    return SimpleNamespace(global_step=5 * epochs, num_training_batches=5, accumulate_grad_batches=1)


def test_the_reference_column_says_yes_only_where_every_seed_reached_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table's own arithmetic, on accuracies given (the slow test above runs real fits): seeds at 94%
    and 96% against the minimal recipe's 95% is a "no", though the mean and the best reach it."""
    accs, seeds = iter([0.94, 0.96]), []
    cli = SimpleNamespace(model=SimpleNamespace(net=torch.nn.Linear(3, 2)), trainer=trained(epochs=1))

    def app_fit(config: str, seed: str, *args: str, **kwargs: str) -> tuple:
        seeds.append(seed)
        return SimpleNamespace(seconds=2.0), next(accs), cli

    monkeypatch.setattr(table, "app_fit", app_fit)
    table._table(argparse.Namespace(configs=["minimal"], seeds=[0, 1], save_dir="logs/table"), [])
    row = re.search(r"^\| minimal \| (.+) \|$", capsys.readouterr().out, re.M).group(1).split(" | ")
    assert row == ["8", "1", "2 s", "95.00 (94.00-96.00)", "95.00 (beginner tutorials, 1 epoch)", "no"]
    assert seeds == ["--seed_everything=0", "--seed_everything=1"]  # each fit its own seed


def test_the_seeds_times_are_averaged_and_their_epochs_ordered(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The train time is the seeds' mean, not the first seed's; their epochs go from fewest to most (sorted
    as text, 10 came before 9); an epoch of accumulated batches counts optimizer steps (a mutation audit)."""
    fits = iter([(2.0, trained(epochs=10)), (4.0, trained(epochs=9))])

    def app_fit(*args: str, **kwargs: str) -> tuple:
        seconds, trainer = next(fits)
        return (
            SimpleNamespace(seconds=seconds),
            0.95,
            SimpleNamespace(model=SimpleNamespace(net=torch.nn.Linear(3, 2)), trainer=trainer),
        )

    monkeypatch.setattr(table, "app_fit", app_fit)
    table._table(argparse.Namespace(configs=["minimal"], seeds=[0, 1], save_dir="logs/table"), [])
    row = re.search(r"^\| minimal \| (.+) \|$", capsys.readouterr().out, re.M).group(1).split(" | ")
    assert row[1:3] == ["9-10", "3 s"], row
    accumulated = SimpleNamespace(global_step=3, num_training_batches=5, accumulate_grad_batches=2)
    assert table._epochs_trained(accumulated) == 1.0  # 3 optimizer steps an epoch of 5 batches


def test_a_seed_that_reached_the_reference_exactly_reached_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """9,930 of 10,000 test images right is 99.30% as shown, a float32 0.99299997 as the metric computes it:
    "no" against bncnn's 99.30 (an audit)."""
    accs = iter([torch.tensor(9930 / 10000).item(), torch.tensor(9950 / 10000).item()])
    cli = SimpleNamespace(model=SimpleNamespace(net=torch.nn.Linear(3, 2)), trainer=trained(epochs=10))
    monkeypatch.setattr(table, "app_fit", lambda *args, **kwargs: (SimpleNamespace(seconds=2.0), next(accs), cli))
    table._table(argparse.Namespace(configs=["bncnn"], seeds=[0, 1], save_dir="logs/table"), [])
    row = re.search(r"^\| bncnn \| (.+) \|$", capsys.readouterr().out, re.M).group(1).split(" | ")
    assert row[3:] == ["99.40 (99.30-99.50)", "99.30 (BatchNorm CNN tutorials)", "yes"]


def test_an_option_one_recipe_refuses_ends_the_table_before_any_fit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """minimal's network has a width, LeNet's none: the table ended at LeNet's first fit, after minimal's fits
    had run (in a full table, hours), with no table printed (an audit)."""

    def fit(*args: object, **kwargs: object) -> None:
        raise AssertionError("a fit ran")

    monkeypatch.setattr(table, "app_fit", fit)
    args = ["table", "--configs", "minimal", "lenet", "--seeds", "0", "--model.net.init_args.width=4"]
    with mock.patch.object(sys, "argv", args), pytest.raises(SystemExit) as exit_:
        table.main()
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: --model.net.init_args.width: mnist_pl.nets.LeNet takes no argument 'width': fix the option "
        "(--model.net.help mnist_pl.nets.LeNet lists them)"
    )


@pytest.mark.slow  # a process of its own, two short fits: about 20 s each
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_table_stopped_by_a_signal_says_so_in_one_line(tmp_path, signum: signal.Signals) -> None:
    """Sent as its first fit ended, it lands as the second starts or trains: SIGTERM as a fit started killed
    the table without a word; a Ctrl-C said "mnist_pl: ... nothing written", or the fit's resume line."""
    runs = tmp_path / "runs"
    short = ["--trainer.limit_train_batches=5", "--trainer.limit_val_batches=1", "--trainer.limit_test_batches=1"]
    command = [
        sys.executable,
        "-m",
        "mnist_pl.table",
        "--configs",
        "minimal",
        "--seeds",
        "0",
        "1",
        f"--save_dir={runs}",
    ]
    with subprocess.Popen(
        [*command, f"--data.data_dir={REPO / 'data'}", *short],
        cwd=tmp_path,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=functools.partial(signal.signal, signal.SIGINT, signal.SIG_DFL),  # a background job ignores it
    ) as table_run:
        assert table_run.stdout.readline().startswith("minimal seed 0: ")  # flushed as each fit ends
        table_run.send_signal(signum)
        _, err = table_run.communicate(timeout=600)
    assert table_run.returncode == 1 and "Traceback" not in err, err[-3000:]
    assert err.strip().splitlines()[-1] == (
        f"error: table: stopped by {'SIGTERM' if signum == signal.SIGTERM else 'Ctrl-C'} before it ended, no table "
        f"printed (its fits' runs so far in {runs}): "
        "run it again"
    )
