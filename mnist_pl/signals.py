"""How a stage ends on Ctrl-C or SIGTERM: in one line that says what was kept, never in a traceback.

SIGTERM (a preemption, ``docker stop``, ``kill``) and a first Ctrl-C stop a ``fit`` after the
batch in progress, or at the end of the validation in progress, with ``last.ckpt`` written there
(``checkpoints.RunCheckpoint``), and its last line is the command that resumes it. A second
Ctrl-C stops at once. Before Lightning's own handlers are in place (a stage's first moments: data
set up, checkpoint read) the app's handlers stop the stage at once, its run dir given back.
``validate``/``test``/``predict`` stop the same way, with no results, and ``export`` with no file.
Under DDP the ranks agree on a SIGTERM where all of them are (``_SigtermAgreed``), and rank 0 says it.
"""

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import lightning as L
from lightning.fabric.utilities.rank_zero import rank_prefixed_message
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.strategies.launchers import _SubprocessScriptLauncher
from lightning.pytorch.trainer.states import TrainerStatus

from mnist_pl import runs
from mnist_pl.checkpoints import RunCheckpoint, accumulating
from mnist_pl.errors import UserError

log = logging.getLogger("lightning.pytorch.trainer.connectors.signal_connector")  # Lightning's SIGTERM line's
_RANK_ZERO_LOG = logging.getLogger("lightning.pytorch.utilities.rank_zero")  # rank_zero_info's


class InterruptedRunError(UserError):
    """Ctrl-C or SIGTERM (``by``) stopped a stage; the message says what was kept and how to go on."""

    def __init__(self, message: str, by: str) -> None:
        super().__init__(message)
        self.by = by


def _signal(trainer: L.Trainer) -> str:
    return "SIGTERM" if trainer.received_sigterm else "Ctrl-C"


def _stop_of_a_peer(trainer: L.Trainer) -> SystemExit | None:
    """Under DDP a stage stopped says so in rank 0 alone: each rank printed the line, two ran into one, and
    a Ctrl-C's peers, which Lightning kills, are gone. Its peers exit with status 1 without a word."""
    return SystemExit(1) if trainer.global_rank != 0 else None


class _SigtermAgreed(L.Callback):
    """Under DDP, a SIGTERM any rank got is taken by every rank at the same point of a fit.

    Lightning 2.6's handler broadcasts to the other ranks from inside itself, wherever each rank's handler
    happens to run: a peer's broadcast met another collective (the gradients' all-reduce, Lightning's
    per-step broadcast). Of 4 LeNet fits on 2 CPU processes whose process group got a SIGTERM (SLURM,
    ``kill -- -PGID``), 1 hung for good and 1 ended in a gloo traceback; with DataLoader workers an audit
    saw 3 hangs in 5 (Lightning-AI/pytorch-lightning#20806). Here the handler only notes the signal (rank
    0 still forwards it to the processes it started), and the ranks agree on it where all are: after a
    training step, before ``RunCheckpoint`` saves the step they stop at (one reduction of one number;
    Lightning's broadcast already syncs every DDP step), at a validation's end, and as the fit returns.
    Not after a step a validation follows (stopped in it, the epoch was lost: the validation's end
    decides), nor between accumulated batches, a validation's end among them (their gradients are in no
    checkpoint). A SIGTERM in a ``validate``, ``test`` or ``predict`` lets it end: its ranks' batch counts
    may differ.
    """

    def __init__(self, trainer: L.Trainer) -> None:
        self.noted, self.connector = False, trainer._signal_connector

    def note(self, signum: int, frame: FrameType | None) -> None:
        trainer = self.connector.trainer
        log.info(rank_prefixed_message(f"Received SIGTERM: {signum}", trainer.local_rank))  # Lightning's line
        if not self.noted and trainer.strategy.launcher is not None:
            trainer.strategy.launcher.kill(signum)
        self.noted = True

    def agree(self, trainer: L.Trainer) -> bool:
        """Whether any rank got a SIGTERM; if so, Lightning's loops stop every rank at their next check."""
        if trainer.strategy.reduce_boolean_decision(self.noted, all=False):
            self.connector.received_sigterm = True
        return self.connector.received_sigterm

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: object) -> None:
        loop = trainer.fit_loop.epoch_loop
        if not loop._should_check_val_fx(trainer.fit_loop._data_fetcher) and not loop._should_accumulate():
            self.agree(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # The sanity check's too: a fit then stops before its first step. Not after a batch of gradients
        # accumulated for a later step: agreed here, the checkpoint had them in no state (a review); at that step.
        if trainer.state.fn == "fit" and not accumulating(trainer):
            self.agree(trainer)


@contextlib.contextmanager
def sigterm_agreed(trainer: L.Trainer) -> Iterator[_SigtermAgreed | None]:
    """``_SigtermAgreed`` in place of Lightning's SIGTERM handler, under DDP."""
    if trainer.world_size == 1:
        yield None
        return
    agreed = _SigtermAgreed(trainer)
    trainer.callbacks.insert(0, agreed)  # before RunCheckpoint's hook
    trainer._signal_connector._sigterm_notifier_fn = agreed.note  # read as Lightning registers its handlers
    try:
        yield agreed
    finally:
        del trainer._signal_connector._sigterm_notifier_fn
        trainer.callbacks.remove(agreed)


def evaluate(
    trainer: L.Trainer, stage: str, claimed: Path | None = None, again: str = "run it again", **kwargs
) -> None:
    """``trainer.validate``/``test``/``predict``; Ctrl-C or SIGTERM end in one line and a non-zero
    status (Lightning exits with 0 after SIGTERM, without a word), the run dir given back. (Under DDP a
    SIGTERM lets the stage end: ``_SigtermAgreed``.)"""

    def stopped(by: str) -> InterruptedRunError:
        return InterruptedRunError(f"{stage}: stopped by {by} before it ended, with no results: {again}", by)

    try:
        with (
            SigtermBeforeLightning(trainer, stopped),
            CtrlCOnceUnderDdp(trainer, stopped),
            sigterm_agreed(trainer),
            runs.given_back_on_failure(trainer, claimed),
        ):
            getattr(trainer, stage)(**kwargs)
    except SystemExit:
        if not trainer.interrupted:
            raise
        raise _stop_of_a_peer(trainer) or stopped(_signal(trainer)) from None


class _Sigterm(BaseException):
    """A SIGTERM unwinding a stage without a Trainer, as Ctrl-C's KeyboardInterrupt does: not an Exception,
    which torch takes for its own failure: torch.onnx for a way of capturing the model that failed (it
    tried the next, or wrapped it in a traceback of 60 lines), the checkpoint's reader for a damaged file."""


@contextlib.contextmanager
def stopped_in_one_line(stage: str, kept: str = "nothing written") -> Iterator[None]:
    """Ctrl-C or SIGTERM in a stage without a Trainer (``export``; the table and the bench between and around
    their fits) end it in one line and status 1, its temporary file removed as the error unwinds. Ctrl-C ended
    in a traceback of 40 lines; Python's default for SIGTERM killed the process without a word and left the
    temporary file, full size (the bench's whole fit: its process, running on alone). A fit inside takes a
    Ctrl-C itself, in its own line."""

    def stopped(by: str) -> InterruptedRunError:
        return InterruptedRunError(f"{stage}: stopped by {by} before it ended, {kept}: run it again", by)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise _Sigterm

    own = signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_sigterm) if own else None
    try:
        yield
    except KeyboardInterrupt:
        raise stopped("Ctrl-C") from None
    except _Sigterm:
        raise stopped("SIGTERM") from None
    except InterruptedRunError as err:  # a fit inside (the table's, the bench's) that its own handlers stopped
        raise stopped(err.by) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _lightning_has_the_signals(trainer: L.Trainer) -> bool:
    """Whether Lightning's SIGTERM handler is in place: from a stage's start (data set up, model
    built, checkpoint restored) to its end. Meanwhile it keeps the handlers it replaced."""
    return bool(trainer._signal_connector._original_handlers)


class _OwnHandler:
    """``handle`` for ``signum`` inside the ``with`` block, the handler before it restored after.

    Only where the signal has Python's own handler (not one ignored in a background job, nor the
    caller's), in the main thread, which alone can set a handler, and in the runs ``handles`` says (by
    default a one-process run: under DDP each process would see the signal at another batch, and Lightning's
    handler stops the others).
    ``stopped(name)``: the error that ends a stage the signal stops before Lightning's handlers are in place,
    or None where the stage goes on to a point where it stops.
    """

    signum: signal.Signals
    python_default: object

    def __init__(self, trainer: L.Trainer, stopped: Callable[[str], BaseException | None]) -> None:
        self.trainer, self.stopped = trainer, stopped
        self.previous: signal.Handlers | None = None

    def __enter__(self) -> "_OwnHandler":
        own = signal.getsignal(self.signum) is self.python_default
        if own and self.handles() and threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(self.signum, self.handle)
        return self

    def handles(self) -> bool:
        return self.trainer.world_size == 1

    def handle(self, signum: int, frame: FrameType | None) -> None:
        raise NotImplementedError

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(self.signum, self.previous)


class SigtermBeforeLightning(_OwnHandler):
    """A SIGTERM in a stage's first seconds, before Lightning's handler is in place, ends the stage
    at once. Python's default killed the process there without a word, leaving a half-made run dir
    (or, in a resume, an event file that hid the run's later points). Under DDP, once Lightning runs the
    stage, it is Lightning's KeyboardInterrupt, whose handler ends the processes it started: rank 0 died
    of the signal without a word, and they ran on, printing gloo's errors about it (an audit)."""

    signum, python_default = signal.SIGTERM, signal.SIG_DFL
    interrupted = False  # under DDP: ended as Lightning's KeyboardInterrupt

    def handles(self) -> bool:
        # Not ddp_spawn's or ddp_fork's: they run the stage in processes of their own, Lightning's handlers in
        # them alone, and the main process would take a SIGTERM after epochs for one before the first step.
        return super().handles() or isinstance(self.trainer.strategy.launcher, _SubprocessScriptLauncher)

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if _lightning_has_the_signals(self.trainer):  # called by Lightning's handler, after its own: its loops stop
            return
        self.trainer._signal_connector.received_sigterm = True  # the fit's last line names the signal
        if self.trainer.world_size > 1 and self.trainer.state.status == TrainerStatus.RUNNING:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # rank 0 passes the group's SIGTERM on: taken once
            _RANK_ZERO_LOG.addFilter(self._no_ctrl_c_line)  # "Detected KeyboardInterrupt", of a SIGTERM
            self.interrupted = True
            raise KeyboardInterrupt
        if (stop := self.stopped("SIGTERM")) is not None:
            raise stop

    @staticmethod
    def _no_ctrl_c_line(record: logging.LogRecord) -> bool:
        return "Detected KeyboardInterrupt" not in str(record.msg)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        _RANK_ZERO_LOG.removeFilter(self._no_ctrl_c_line)


class CtrlCOnceUnderDdp(_OwnHandler):
    """Under DDP, a first Ctrl-C is Lightning's KeyboardInterrupt (it ends the other processes), and the
    later ones are ignored from that moment. Lightning ignores them only once its handler runs, after the
    interrupt has unwound its loops (data workers joined): a second Ctrl-C in between (pressed again, or
    ``timeout``'s) ended in a traceback, and 2 stops of 18 in an audit hung (rank 1 in a broadcast, for good)."""

    signum, python_default = signal.SIGINT, signal.default_int_handler

    def handles(self) -> bool:
        return self.trainer.world_size > 1

    fired = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        # Once only: Lightning's teardown puts back the handlers it found, this one among them (a review).
        if self.fired:
            return
        self.fired = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt


class CtrlCAsSigterm(_OwnHandler):
    """In a fit, a first Ctrl-C stops it as SIGTERM does: after the batch in progress, or at the
    end of the validation in progress, checkpointed there. Lightning stops at once, in the middle
    of a step if need be, and the steps since the last checkpoint (up to an epoch's) were trained
    again. A second Ctrl-C stops at once."""

    signum, python_default = signal.SIGINT, signal.default_int_handler
    pressed = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        # A second one, where Lightning's teardown put this handler back (as the run's pictures are drawn): it
        # was taken for a first, and swallowed, though the first had said "Ctrl-C again: at once" (a review).
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # Before Lightning's handlers are in place, its start would clear the flag set below, and
        # the fit trained on to its end: no batch is in progress, so it stops at once (after its last, once
        # the run's pictures are drawn).
        if not _lightning_has_the_signals(self.trainer):
            if (stop := self.stopped("Ctrl-C")) is not None:
                raise stop
            return
        checkpoint = self.trainer.checkpoint_callback
        if isinstance(checkpoint, RunCheckpoint):
            checkpoint.request_stop(self.trainer)  # held to the validation's end, where it holds stops back
        else:
            self.trainer._signal_connector.received_sigterm = True  # what Lightning's SIGTERM handler sets
        when = (
            "this validation"
            if isinstance(checkpoint, RunCheckpoint) and checkpoint.defers_stops(self.trainer)
            else "this batch"
        )
        print(f"\nCtrl-C: stopping after {when} (Ctrl-C again: at once)", file=sys.stderr)


def fit(trainer: L.Trainer, model: L.LightningModule, claimed: Path | None = None, **kwargs) -> None:
    """``trainer.fit``; Ctrl-C or SIGTERM end in one line saying how to resume, and a non-zero status.

    Lightning stops at the end of the current batch (SIGTERM and, here, a first Ctrl-C:
    ``SIGTERMException``, which exits with status 0; ``checkpoints.RunCheckpoint`` saves
    ``last.ckpt`` there, and holds a stop during a validation until its end, where it saves) or
    at once (a second Ctrl-C: ``sys.exit(1)``, possibly in the middle of a step, so no checkpoint
    is written then: the steps since ``last.ckpt``, written at the end of every epoch and after
    every validation, are lost). The resume from ``last.ckpt`` is exact.
    ``claimed``: the run dir ``place_run`` made for this fit, if it made one.
    """
    ckpt_path = kwargs.get("ckpt_path")
    start = runs.checkpoint_step(Path(ckpt_path)) if ckpt_path and Path(ckpt_path).is_file() else 0

    def stopped(by: str) -> InterruptedRunError | None:
        """A signal before Lightning's handlers are in place: before the first step, nothing is kept; after
        the last, as the run's pictures are drawn (Lightning's handlers gone), the fit stops once they are
        (it stopped at once, in Lightning's KeyboardInterrupt, and left them undrawn)."""
        if trainer.global_step not in (0, start):
            return None
        return InterruptedRunError(f"fit: stopped by {by} before its first step, nothing kept: run it again", by)

    try:
        with (
            SigtermBeforeLightning(trainer, stopped) as sigterm,
            sigterm_agreed(trainer) as agreed,
            CtrlCAsSigterm(trainer, stopped) as ctrl_c,
            CtrlCOnceUnderDdp(trainer, stopped),
            runs.given_back_on_failure(trainer, claimed, start),
            runs.held(trainer),
        ):
            if agreed is not None and trainer._val_check_time_interval is not None:
                raise UserError(
                    f"--trainer.val_check_interval {trainer._val_check_time_interval:g} s: a time, under DDP: each "
                    "process reads its own clock, and they would validate at different steps, each waiting for the "
                    "others for good: give a number or fraction of batches"
                )
            trainer.fit(model, **kwargs)
            # A SIGTERM after the last validation (the curves drawn): every rank stops here, its test not run.
            if agreed is not None and agreed.agree(trainer):
                raise _stop_of_a_peer(trainer) or InterruptedRunError(stopped_fit(trainer, "SIGTERM"), "SIGTERM")
            # One after Lightning's last look, as its loop ended or the pictures were drawn: its test not run (it
            # ran, and the fit ended with status 0).
            if ctrl_c.pressed or trainer.received_sigterm:
                by = "Ctrl-C" if ctrl_c.pressed else "SIGTERM"
                raise InterruptedRunError(stopped_fit(trainer, by), by)
    except SystemExit:
        if not trainer.interrupted:
            raise
        if sigterm.interrupted and trainer.global_step in (0, start):  # one process's line; it said "nothing to resume"
            raise _stop_of_a_peer(trainer) or stopped("SIGTERM") from None
        by = "Ctrl-C" if ctrl_c.pressed else _signal(trainer)
        # A new run with no step trained (its sanity check, Lightning's handlers in place): "before an epoch ended:
        # nothing to resume", where every other stop before the first step says this (an audit). A resume's line
        # names the checkpoint it goes on from.
        if trainer.global_step == 0:
            raise _stop_of_a_peer(trainer) or stopped(by) from None
        raise _stop_of_a_peer(trainer) or InterruptedRunError(stopped_fit(trainer, by), by) from None


@contextlib.contextmanager
def _ctrl_c_let_go() -> Iterator[None]:
    """A Ctrl-C in the block is let go: the stage has stopped, and says so once its line is composed (last.ckpt read
    back for its step: milliseconds). A second Ctrl-C then ended in a KeyboardInterrupt traceback, without the line
    (an audit: pressed 30 ms after the first). The handler before it is back after."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def ctrl_c_at_once_after() -> Iterator[None]:
    """``python -m``'s programs run in the block: once it has ended (its last line said), a Ctrl-C ends the process
    at once, as a first one's line promised ("Ctrl-C again: at once"). Python's handler raised it in an atexit hook
    of torch's: "Exception ignored in atexit callback" and a traceback (an audit: 1 double press in 8)."""
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL)


@_ctrl_c_let_go()
def stopped_fit(trainer: L.Trainer, by: str) -> str:
    """What a fit stopped by ``by`` (a signal, a full disk) kept, and the command that goes on from it."""
    # Once an epoch ends, Lightning counts the next as current: "in epoch 1" named an epoch no batch of which ran.
    epochs = trainer.fit_loop.epoch_progress.current
    between = epochs.started == epochs.completed and trainer.current_epoch > 0
    at = f"{'after' if between else 'in'} epoch {trainer.current_epoch - between} at step {trainer.global_step}"
    # Lightning names a checkpoint before it writes it: a write cut short (a second Ctrl-C, the file-size limit) left
    # none, and the line named a best.ckpt never written, or the last.ckpt's file in a traceback (an audit, a review).
    checkpoint = trainer.checkpoint_callback
    last, best = (getattr(checkpoint, name, "") for name in ("last_model_path", "best_model_path"))
    last, best = (path if path and Path(path).is_file() else "" for path in (last, best))
    if not last and best:
        off = " (--checkpoint.save_last false)" * (getattr(checkpoint, "save_last", None) is False)
        return f"fit: stopped by {by} {at}: no last.ckpt to resume from{off}; its best checkpoint is {best}"
    if not last:
        return f"fit: stopped by {by} before an epoch ended: nothing to resume, run it again"
    config = next((c.config_filename for c in trainer.callbacks if isinstance(c, SaveConfigCallback)), None)
    again = f"--config {Path(runs.own_log_dir(trainer)) / config} " if config else ""
    if getattr(trainer.checkpoint_callback, "save_weights_only", False):  # refused as a fit's --ckpt_path
        return (
            f"fit: stopped by {by} {at}: its checkpoints hold the weights alone (--checkpoint.save_weights_only), "
            f"which no fit resumes: test one with python -m mnist_pl test {again}--ckpt_path {best or last}"
        )
    saved = runs.checkpoint_step(Path(last))
    # In the last epoch's validation, or after it (drawing the curves): the resume line was
    # refused, as a fit of that checkpoint would train nothing.
    if runs.trained_to_its_end(trainer) and saved == trainer.global_step:
        return (
            f"fit: stopped by {by} after its last epoch, all of it checkpointed ({last}): nothing to resume; "
            f"test it with python -m mnist_pl test {again}--ckpt_path {best or last}"
        )
    lost = (
        "checkpointed there"
        if saved == trainer.global_step
        else f"the steps after its last checkpoint (step {saved}) are lost"
    )
    return f"fit: stopped by {by} {at}; {lost}: resume with python -m mnist_pl fit {again}--ckpt_path {last}"
