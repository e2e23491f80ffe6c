"""The optimizer and learning-rate schedule a config names: checked before a fit, built by the model.

torch checks their settings only as it builds them (a traceback once the run dir exists), some
never (a negative decay factor, a period of 0), and Lightning steps a schedule per epoch unless
told otherwise. ``refuse_bad_settings`` runs before the fit, in one line per mistake;
``lr_scheduler_config`` is ``configure_optimizers``' schedule, laid over the run's own steps.
"""

import inspect
import math
from typing import TYPE_CHECKING, Any

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_warn

from mnist_pl.errors import UserError
from mnist_pl.trainer import no_validation

if TYPE_CHECKING:  # the model imports this module
    from mnist_pl.model import MNISTClassifier


def refuse_bad_settings(model: "MNISTClassifier") -> None:
    """The model's optimizer and schedule settings that torch would refuse in a traceback after the run
    dir exists, or take without a word."""
    settings = getattr(model.optimizer, "keywords", {})
    # YAML's .inf and .nan are floats, which the parser takes: torch trained on them until the loss was nan.
    for what, given in (("optimizer", settings), ("scheduler", getattr(model.scheduler, "keywords", {}))):
        built = _class(getattr(model, what))
        for key, value in given.items():
            if any(isinstance(each, float) and not math.isfinite(each) for each in _listed(value)):
                raise UserError(f"--model.{what}.init_args.{key} {_as_given(value)}: expected a finite float")
            # null (or ~) for a setting that has a value by default: torch's TypeError in a traceback (a review).
            default = _default(built, key)
            if value is None and default is not None:
                fix = "give one" if default is inspect.Parameter.empty else f"give one, such as its default, {default}"
                raise UserError(f"--model.{what}.init_args.{key} null: {built.__name__} needs a value: {fix}")
    # lr 0 passes torch's check but trains nothing.
    if isinstance(lr := settings.get("lr"), float | int) and lr <= 0:
        raise UserError(f"--model.optimizer.init_args.lr {lr}: must be > 0: give a positive learning rate")
    # torch checks momentum >= 0 alone: at 1 the loss went to nan in the first epoch.
    if isinstance(momentum := settings.get("momentum"), float | int) and momentum >= 1:
        raise UserError(
            f"--model.optimizer.init_args.momentum {momentum}: at 1 or more the velocity never fades and the weights "
            "diverge: give 0 <= momentum < 1 (0.9 is usual)"
        )
    try:
        built = model.optimizer(model.parameters())  # torch.optim checks lr < 0, betas, ... here
    except ValueError as err:
        message = f"--model.optimizer: {err}: give a valid value in the config or on the command line"
        if "only supports 2D parameters" in str(err):  # torch.optim.Muon: its settings cannot help
            cls = _class(model.optimizer)
            message = (
                f"--model.optimizer {cls.__module__}.{cls.__name__}: {err}: the network's convolutions and biases "
                "are not 2D: give another optimizer, such as torch.optim.AdamW"
            )
        raise UserError(message) from err
    if isinstance(built, torch.optim.LBFGS) and model.hparams.channels_last:
        raise UserError(
            "--model.optimizer torch.optim.LBFGS flattens gradients with view(), which channels-last weights "
            "refuse: add --model.channels_last false"
        )
    # Both failed in the first step, in a traceback.
    search = built.defaults.get("line_search_fn") if isinstance(built, torch.optim.LBFGS) else None
    if search not in (None, "strong_wolfe"):
        raise UserError(
            f"--model.optimizer.init_args.line_search_fn {search}: LBFGS knows strong_wolfe alone: give strong_wolfe, "
            "or null (none)"
        )
    if isinstance(built, torch.optim.SparseAdam):
        raise UserError(
            "--model.optimizer torch.optim.SparseAdam: takes sparse gradients, which no network here makes: "
            "give torch.optim.Adam"
        )
    kind = _class(model.scheduler)
    if kind is not None and "schedulers" in _arguments(kind):  # the optimizer was taken for them
        raise UserError(
            f"--model.scheduler {kind.__name__}: it chains schedules built on the model's optimizer, which no config "
            "can give: give one schedule (OneCycleLR warms up, then decays)"
        )
    given = getattr(model.scheduler, "keywords", {})
    # torch takes any: a negative one turned the lr negative, gradient ascent, without a word.
    if isinstance(gamma := given.get("gamma"), int | float) and gamma <= 0:
        raise UserError(
            f"--model.scheduler.init_args.gamma {gamma}: the lr is multiplied by it: give a factor > 0 "
            "(below 1 to decay)"
        )
    # Periods the schedulers divide by: 0 passes their constructors and ends the first epoch in
    # a ZeroDivisionError.
    for name in ("step_size", "T_max", "T_0", "step_size_up"):
        if isinstance(given.get(name), int) and given[name] < 1:
            raise UserError(f"--model.scheduler.init_args.{name} {given[name]}: a period of 0 or less: give 1 or more")
    # The lrs a schedule goes to: below 0, gradient ascent without a word (a cosine's eta_min -1: lr -0.495).
    for name in ("eta_min", "base_lr", "min_lr", "max_lr"):
        if isinstance(lr := given.get(name), int | float) and (lr < 0 or (lr == 0 and name == "max_lr")):
            raise UserError(
                f"--model.scheduler.init_args.{name} {lr}: an lr the schedule goes to: give "
                + ("more than 0" if name == "max_lr" else "0 or more")
            )


def lr_scheduler_config(model: "MNISTClassifier", optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Lightning's lr scheduler config for ``model``'s ``scheduler``: given the run's steps where it
    takes ``total_steps``, stepped per batch where it is laid over steps, refused where it cannot run."""
    scheduler = model.scheduler
    steps = _takes_total_steps(scheduler)
    given = _the_runs_total_steps(model.trainer, scheduler) if steps else {}
    # torch checks a schedule's settings (pct_start, factor, ...) only as it is built: a traceback.
    try:
        built = scheduler(optimizer, **given)
    except ValueError as err:
        fix = "give a valid value in the config or on the command line"
        if "cycle_momentum" in str(err):  # a one-cycle schedule over Adadelta, Adagrad, ...: cycle the lr alone
            fix = "give --model.scheduler.init_args.cycle_momentum false, or an optimizer with momentum or betas"
        raise UserError(f"--model.scheduler: {err}: {fix}") from err
    _refuse_a_schedule_checkpoints_cannot_hold(built)
    # A schedule over steps (given total_steps, or holding them: a lambda's OneCycleLR), or one torch
    # steps after every batch (CyclicLR): after every batch.
    per_batch = steps or hasattr(built, "total_steps") or isinstance(built, torch.optim.lr_scheduler.CyclicLR)
    config = {"scheduler": built, "interval": "step" if per_batch else "epoch"}
    if isinstance(built, torch.optim.lr_scheduler.ReduceLROnPlateau):
        _configure_the_plateau(model, config)
    _warn_of_a_cosine_shorter_than_the_run(built, model.trainer.max_epochs)
    return config


def _arguments(scheduler: LRSchedulerCallable) -> set[str]:
    """The arguments ``scheduler`` is built with. It is a class, a partial or a lambda; jsonargparse's partial
    holds every init argument of the class as a keyword, around a function of (*args, **kwargs)."""
    try:
        parameters = inspect.signature(scheduler).parameters
    except (TypeError, ValueError):  # a callable without a signature Python can read
        parameters = {}
    return {*getattr(scheduler, "keywords", {}), *parameters}


def _default(cls: type | None, key: str) -> Any:
    """The default of ``cls``'s argument ``key`` (``inspect.Parameter.empty`` where it has none); None where
    unknown."""
    try:
        parameter = inspect.signature(cls).parameters.get(key) if cls is not None else None
    except (TypeError, ValueError):  # a class without a signature Python can read
        return None
    return None if parameter is None else parameter.default


def _class(scheduler: LRSchedulerCallable | OptimizerCallable | None) -> type | None:
    """The class ``scheduler`` (or an optimizer) builds: itself, a partial's function, or (jsonargparse's
    partial) among its arguments."""
    for candidate in (scheduler, getattr(scheduler, "func", None), *getattr(scheduler, "args", ())):
        if isinstance(candidate, type):
            return candidate
    return None


def _takes_total_steps(scheduler: LRSchedulerCallable) -> bool:
    """Whether ``scheduler`` is built with ``total_steps``."""
    return "total_steps" in _arguments(scheduler)


def _the_runs_total_steps(trainer: L.Trainer, scheduler: LRSchedulerCallable) -> dict[str, int]:
    """The ``total_steps`` to build a schedule laid out over the run's steps with: the run's, unless the
    user gave their own, which the run must not outlast (torch's ValueError once it ends, mid-epoch)."""
    keywords = getattr(scheduler, "keywords", {})
    total_steps, own = trainer.estimated_stepping_batches, keywords.get("total_steps")
    if total_steps == float("inf"):
        raise UserError(
            "--model.scheduler: this schedule is laid out over the run's steps (total_steps), and the run "
            "has no end: give --trainer.max_epochs or --trainer.max_steps"
        )
    if own is not None and own < total_steps:
        raise UserError(
            f"--model.scheduler.init_args.total_steps {own}: this run takes {int(total_steps)} steps, "
            "and the schedule would end before it: leave it out (the run's own)"
        )
    # OneCycleLR's other way to say it (the run's total_steps took their place, the config keeping them).
    epochs, per_epoch = keywords.get("epochs"), keywords.get("steps_per_epoch")
    if own is None and isinstance(epochs, int) and isinstance(per_epoch, int):
        if epochs * per_epoch < total_steps:
            raise UserError(
                f"--model.scheduler.init_args.epochs {epochs} x steps_per_epoch {per_epoch}: the schedule ends after "
                f"{epochs * per_epoch} steps, this run takes {int(total_steps)}: leave them out (the run's own)"
            )
        return {}
    return {} if own is not None else {"total_steps": int(total_steps)}


def _refuse_a_schedule_checkpoints_cannot_hold(built: torch.optim.lr_scheduler.LRScheduler) -> None:
    """torch saves a LambdaLR's lr_lambda and a CyclicLR's scale_fn by their __dict__: a built-in one
    (math.exp) failed the first checkpoint in a traceback, an epoch in."""
    try:
        built.state_dict()
    except AttributeError as err:
        if "__dict__" not in str(err):
            raise
        function = "lr_lambda" if hasattr(built, "lr_lambdas") else "scale_fn"
        raise UserError(
            f"--model.scheduler {type(built).__name__}: cannot be saved in a checkpoint ({err}): "
            f"give its {function} as a function written in Python, not a built-in such as math.exp"
        ) from err


def _configure_the_plateau(model: "MNISTClassifier", config: dict[str, Any]) -> None:
    """Lightning steps a plateau schedule with a logged value: the one Lightning's own subclass names,
    else val/loss."""
    built = config["scheduler"]
    monitor = config["monitor"] = getattr(built, "monitor", "val/loss")
    # Its default mode, min, on an accuracy cut the lr each time the accuracy rose, without a word.
    if built.mode != (best := model.best_mode(monitor, built.mode)):
        raise UserError(
            f"--model.scheduler {type(built).__name__} monitors {monitor} in mode {built.mode}: it would cut "
            f"the lr as {monitor} improves: give --model.scheduler.init_args.mode {best}"
        )
    if monitor.startswith("val/"):
        _step_with_the_validations(model.trainer, config)


def _warn_of_a_cosine_shorter_than_the_run(built: torch.optim.lr_scheduler.LRScheduler, epochs: int | None) -> None:
    """T_max is a separate setting from max_epochs; changing only the second is easy."""
    t_max = getattr(built, "T_max", None)
    if isinstance(t_max, int) and epochs is not None and t_max < epochs:
        rank_zero_warn(
            f"--model.scheduler.init_args.T_max {t_max} < --trainer.max_epochs {epochs}: the cosine lr "
            f"rises again after epoch {t_max}; give T_max {epochs} to anneal over the whole run"
        )


def _step_with_the_validations(trainer: L.Trainer, config: dict[str, Any]) -> None:
    """A plateau schedule on a val/ metric steps after the epochs that validate. Lightning steps it after
    every epoch and ended the first one without a validation in a MisconfigurationException (val/loss
    "not available"), after training it."""
    if trainer.limit_val_batches == 0:
        off, fix = no_validation(trainer)
        raise UserError(
            f"--model.scheduler {type(config['scheduler']).__name__} watches {config['monitor']}, and {off}: {fix}, "
            "or another schedule"
        )
    # Lightning validates after epoch e where (e + 1) % check_val_every_n_epoch == 0, and steps a
    # schedule where (e + 1) % frequency == 0: the same epochs, with the value of the epoch's last
    # validation (patience counts such epochs).
    every, name = trainer.check_val_every_n_epoch, type(config["scheduler"]).__name__
    if every is None:  # validations every val_check_interval steps, across epochs' ends
        raise UserError(
            f"--model.scheduler {name} watches {config['monitor']} once per epoch, and "
            "--trainer.check_val_every_n_epoch null validates at steps across epochs: give it a number of epochs"
        )
    if trainer._val_check_time_interval is not None:  # Lightning's: validations by the clock
        raise UserError(
            f"--model.scheduler {name} watches {config['monitor']} once per epoch, and a --trainer.val_check_interval "
            "of time validates by the clock, not at epochs' ends: give it a number or fraction of batches"
        )
    config["frequency"] = every


def refuse_a_schedule_the_run_outlasts(trainer: L.Trainer) -> None:
    """At every fit's start: a new run's schedule is built for its steps, a resumed run's is the checkpoint's,
    and torch ends a one-cycle run past its last step in a ValueError, mid-epoch."""
    steps = trainer.estimated_stepping_batches
    for config in trainer.lr_scheduler_configs:
        total = getattr(config.scheduler, "total_steps", None)
        if isinstance(total, int) and total < steps:
            raise UserError(
                f"--model.scheduler: the checkpoint's {type(config.scheduler).__name__} ends after {total} steps, "
                f"this run takes {int(steps)}: resume with the run's own --trainer.max_epochs, "
                "or start a new run for more epochs"
            )


# How torch runs a step, not which optimizer it is or what it learns with: torch versions add them.
_HOW_IT_STEPS = {"foreach", "maximize", "capturable", "differentiable", "fused"}
# Adam's and AdamW's one difference in torch 2.x, which older versions' checkpoints lack: compared where both have it.
_DECOUPLED = "decoupled_weight_decay"
# What schedules add to a param group (the lr before them, OneCycleLR's and CyclicLR's bounds): not settings.
_ADDED_BY_SCHEDULES = {"initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"}
# What a schedule moves as it runs: a checkpoint holds where it got to, not what the optimizer was built with.
_SCHEDULED = {"lr", "momentum", "betas"}


def refuse_another_optimizer(
    model: "MNISTClassifier", checkpoint: dict[str, Any], ckpt_path: str, in_python: bool = False
) -> None:
    """A fit from a checkpoint whose optimizer nothing else checks (the CLI's, of a module built in Python; from
    Python, any): the one configured must be the one whose state it holds. Lightning loads that state into whichever
    is configured: another class ended in a traceback (Adam's KeyError 'step') or trained on (AdamW's state in RAdam),
    another lr was the checkpoint's without a word, while the run's config.yaml said the one given. ``in_python``:
    the fix in Python's words. A subclass's own configure_optimizers builds an optimizer of its own, not
    ``model.optimizer``: not checked. Its schedule too (``_refuse_another_schedule``)."""
    states = checkpoint.get("optimizer_states") or [{}]
    own = type(model).configure_optimizers.__qualname__ != "MNISTClassifier.configure_optimizers"
    if own or len(states) != 1 or not states[0].get("param_groups"):
        return
    built = model.optimizer(model.parameters())
    ours = {key: value for key, value in built.defaults.items() if key not in _HOW_IT_STEPS}
    left_out = _HOW_IT_STEPS | _ADDED_BY_SCHEDULES | {"params"}
    group, schedules = states[0]["param_groups"][0], checkpoint.get("lr_schedulers") or []
    held = {key: value for key, value in group.items() if key not in left_out}
    as_held = dict(held)  # the class its settings name is told by AdamW's decoupled_weight_decay too
    if _DECOUPLED not in held or _DECOUPLED not in ours:
        held.pop(_DECOUPLED, None)
        ours.pop(_DECOUPLED, None)
    kind = type(built)
    name = f"{'torch.optim' if hasattr(torch.optim, kind.__name__) else kind.__module__}.{kind.__name__}"
    trained = _trained_with("optimizer", checkpoint)
    if ours.keys() != held.keys() or (trained and trained[0].rsplit(".", 1)[-1] != kind.__name__):
        option = "MNISTClassifier's optimizer" if in_python else "--model.optimizer"
        named = trained or _torch_optimizer_of(as_held)
        what, fix = _the_one_held("optimizer", "another optimizer", held, named, in_python)
        raise UserError(f"{option} {name}: {ckpt_path} holds the state of {what}: {fix}")
    # A schedule that starts from the optimizer's lr keeps the lr it was built with as the group's initial_lr (another
    # lr under a StepLR was the checkpoint's without a word, an audit); a one-cycle or cyclic one sets the lr and
    # momentum (or betas) itself, and ReduceLROnPlateau keeps no initial_lr: those are not compared.
    if "initial_lr" in group:
        held["lr"] = group["initial_lr"]
    if any("cycle_momentum" in state for state in schedules):  # OneCycleLR's, CyclicLR's
        scheduled = _SCHEDULED
    else:
        scheduled = {"lr"} if schedules and "initial_lr" not in group else set()
    if differ := [key for key in ours if key not in scheduled and not _same(ours[key], held[key])]:
        raise _other_settings("optimizer", ours, held, differ, ckpt_path, in_python)
    _refuse_another_schedule(model, checkpoint, ckpt_path, in_python)


def _refuse_another_schedule(
    model: "MNISTClassifier", checkpoint: dict[str, Any], ckpt_path: str, in_python: bool
) -> None:
    """A schedule's state with none configured was dropped without a word (Lightning zips the two lists), one
    configured where the checkpoint holds none started from its beginning in the middle of the run, and a setting
    given that the state holds (StepLR's step_size) was the state's (an audit). A setting given as its class's
    default, or None (filled in by the run: OneCycleLR's total_steps), is not compared: jsonargparse gives every
    default, and a state holds some as derived (CyclicLR's scale_mode)."""
    held = checkpoint.get("lr_schedulers") or []
    state = {
        key: value
        for key, value in (held[0] if held else {}).items()
        if not key.startswith("_")
        and key not in ("base_lrs", "last_epoch", "verbose")
        and isinstance(value, int | float | str)
    }
    kind = _class(model.scheduler)
    if held and model.scheduler is not None:  # the settings given that its state holds: load_state_dict replaced them
        defaults = {key: p.default for key, p in inspect.signature(kind).parameters.items()} if kind else {}
        given = {
            key: value
            for key, value in getattr(model.scheduler, "keywords", {}).items()
            if value is not None and not (key in defaults and _same(value, defaults[key]))
        }
        if differ := [key for key, value in given.items() if key in state and not _same(value, state[key])]:
            raise _other_settings("scheduler", given, state, differ, ckpt_path, in_python)
        return
    if not held and model.scheduler is None:
        return
    option = "MNISTClassifier's scheduler" if in_python else "--model.scheduler"
    if held:
        what, fix = _the_one_held("scheduler", "a schedule", state, _trained_with("scheduler", checkpoint), in_python)
        raise UserError(
            f"{option} {'None' if in_python else 'null'}: {ckpt_path} holds the state of {what}, which a fit without "
            f"one drops: {fix}"
        )
    name = f"{kind.__module__}.{kind.__name__}" if kind is not None else repr(model.scheduler)
    new_run = (
        "fit the loaded weights as a new run, without ckpt_path" if in_python else "train a new run without --ckpt_path"
    )
    raise UserError(
        f"{option} {name}: {ckpt_path} was trained without a schedule, and a fit from it goes on as it was trained: "
        f"leave it out (or {new_run})"
    )


def _trained_with(what: str, checkpoint: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The class path and settings of the ``what`` (optimizer, scheduler) a CLI run's checkpoint names; None for
    one built in Python."""
    trained = checkpoint.get("hyper_parameters", {}).get(what)
    if not isinstance(trained, dict) or "class_path" not in trained:
        return None
    settings = trained.get("init_args") or {}
    return trained["class_path"], {key: value for key, value in settings.items() if key not in _HOW_IT_STEPS}


def _torch_optimizer_of(state: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The torch.optim class whose settings are the ones ``state`` holds, where one alone is (SGD's momentum,
    dampening and nesterov are its own), and those of them that are not its defaults: a checkpoint of a module
    built in Python names no class, and the fix named none. None where none fits (a user's own optimizer)."""
    fits = {}
    for kind in vars(torch.optim).values():
        if not isinstance(kind, type) or not issubclass(kind, torch.optim.Optimizer) or kind is torch.optim.Optimizer:
            continue
        built = kind([torch.zeros(2, 2, requires_grad=True)]).defaults  # its defaults (AdamW's decoupling too)
        defaults = {key: value for key, value in built.items() if key not in _HOW_IT_STEPS}
        if defaults.keys() == state.keys() and _same(defaults.get(_DECOUPLED), state.get(_DECOUPLED)):
            fits[kind] = {key: value for key, value in state.items() if not _same(value, defaults[key])}
    if len(fits) != 1:
        return None
    [(kind, settings)] = fits.items()
    return f"torch.optim.{kind.__name__}", settings


def _the_one_held(
    what: str, one: str, state: dict[str, Any], named: tuple[str, dict[str, Any]] | None, in_python: bool
) -> tuple[str, str]:
    """What a checkpoint holds the state of (``one``: "another optimizer", "a schedule"), and the fix that gives
    the ``what`` (optimizer, scheduler): by the class and settings ``named``, a CLI run's (a partial of its state's
    settings failed: a schedule's state holds values its class takes no argument for) or the torch.optim class its
    state's settings name, else by its state's settings."""
    if named is not None:
        name, settings = named
        if in_python:
            given = [f"{key}={value!r}" for key, value in settings.items() if value is not None]
            held = f"{name} ({', '.join(given)})" if given else name
            return held, f"give it, {what}=functools.partial({', '.join([name, *given])})"
        given = "".join(
            f" --model.{what}.{key} {_as_given(value)}" for key, value in settings.items() if value is not None
        )
        held = ", ".join(f"{key} {_as_given(value)}" for key, value in state.items())
        return f"{name} ({held})", f"give it, --model.{what} {name.removeprefix('torch.optim.')}{given}"
    if in_python:
        held = ", ".join(f"{key}={value!r}" for key, value in state.items())
        return f"{one} (its state holds {held})", "give the one it was trained with, and those settings"
    held = ", ".join(f"{key} {_as_given(value)}" for key, value in state.items())
    return f"{one} ({held})", f"give the one it was trained with, --model.{what} and its settings"


def _other_settings(
    what: str, ours: dict[str, Any], theirs: dict[str, Any], differ: list[str], ckpt_path: str, in_python: bool
) -> UserError:
    """The refusal of the ``what`` (optimizer, scheduler) settings ``differ``, ``ours`` given, ``theirs`` held."""
    them = "it" if len(differ) == 1 else "them"
    if in_python:
        return UserError(
            f"MNISTClassifier's {what} {differ[0]}={ours[differ[0]]!r}: {ckpt_path} was trained with "
            + ", ".join(f"{key}={theirs[key]!r}" for key in differ)
            + f", and a fit from it goes on with {them}: give "
            + ", ".join(f"{key}={theirs[key]!r}" for key in differ)
            + f" in the {what}'s functools.partial"
        )
    return UserError(
        f"--model.{what}.init_args.{differ[0]} {_as_given(ours[differ[0]])}: {ckpt_path} was trained with "
        + ", ".join(f"{key} {_as_given(theirs[key])}" for key in differ)
        + f", and a fit from it goes on with {them}: give "
        + " ".join(f"--model.{what}.init_args.{key} {_as_given(theirs[key])}" for key in differ)
    )


def _same(a: Any, b: Any) -> bool:
    """Equal as settings: 0 and 0.0 (a config's, torch's default), (0.9, 0.999) and [0.9, 0.999]."""
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _listed(value: Any) -> list[Any]:
    """A setting's values: Adam's betas are two."""
    return list(value) if isinstance(value, tuple | list) else [value]


def _as_given(value: Any) -> str:
    """``value`` as a command line gives it: ``false``, ``[0.9,0.999]``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple | list):
        return f"[{','.join(_as_given(each) for each in value)}]"
    return str(value)
