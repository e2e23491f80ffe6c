"""Errors a user can fix. `python -m mnist_pl` (its table and bench too) prints them in one line, exit status 1."""

import contextlib
import errno
import os
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path

import lightning
from lightning.fabric.utilities.exceptions import MisconfigurationException
from tqdm import tqdm

from mnist_pl.files import no_space


class UserError(RuntimeError):
    """A problem the user can fix: the message names the thing and the fix, no traceback.

    ``of_the_class``: the message (``--model.net X: ...``) is about the class its option names, not
    that class's arguments, which may come from elsewhere: a config file that names the class is
    where the value came from, and the CLI names it (``configs/minimal.yaml: model.net X: ...``).
    """

    def __init__(self, message: str, of_the_class: bool = False) -> None:
        super().__init__(message)
        self.of_the_class = of_the_class


_LIGHTNING = Path(lightning.__file__).resolve().parent  # not any folder named lightning: a checkout in one


def _raised_by_lightning(err: BaseException) -> bool:
    """Whether Lightning's own code raised ``err``: its checks of the settings it is given."""
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and _LIGHTNING in Path(frames[-1].filename).resolve().parents


def _fail(message: str) -> None:
    # A progress bar still drawn (Lightning's, when a loop raised) leaves its line open: the error
    # started on it, where `grep '^error:'` and a reader missed it.
    new_line = "\n" * any(not bar.disable for bar in list(tqdm._instances))
    # One write of the whole line: under DDP every rank says it, and sys.exit(message) or print() write
    # the newline apart, so two ranks' lines ran into one ("...an epoch's enderror: ...").
    sys.stderr.write(f"{new_line}error: {message}\n")
    sys.stderr.flush()
    sys.exit(1)


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """A problem the user can fix ends in one ``error:`` line and status 1, not a traceback."""
    previous = threading.excepthook

    def full_disk_said_once(args: threading.ExceptHookArgs) -> None:
        # TensorBoard's writer thread raises a full disk again in the run's next write, where it is said in
        # one line: the thread's traceback came first, 17 lines. (By name: importing tensorboard costs 40 ms.)
        if type(args.thread).__name__ != "_AsyncWriterThread" or no_space(args.exc_value) is None:
            previous(args)

    threading.excepthook = full_disk_said_once
    try:
        yield
    # Lightning's own word for a setting it cannot run with (no GPU backend, more devices than
    # the machine has, ...): the user's to fix, so one line like ours, not a traceback.
    except (UserError, MisconfigurationException) as err:
        _fail(str(err))
    # A pipe's reader that ended (| head): a traceback, and Python's own again as stdout flushed at exit.
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # as Python's docs advise (signal, SIGPIPE)
        _fail(
            "its output was closed as it printed (the reader of a pipe ended, such as head): let the reader read "
            "to the end, or send the output to a file (> out.txt)"
        )
    # A path past the system's 255 bytes a name: pathlib's exists() and is_file() raise for it where they return
    # False for a missing file, in many places: a config, a checkpoint, inline YAML taken for a file's name.
    except OSError as err:
        if err.errno != errno.ENAMETOOLONG:
            raise
        name = str(err.filename)
        _fail(f"{name[:60]}{'...' * (len(name) > 60)}: {err.strerror}: give a shorter name (255 bytes a name at most)")
    # Lightning says the same in a ValueError (--trainer.num_nodes 0, an unknown strategy, a
    # val_check_interval past the epoch), a TypeError (--trainer.devices -2 on the CPU) or an
    # ImportError (accelerator tpu without torch_xla). Raised anywhere else, these are bugs:
    # their traceback stays.
    except (ValueError, TypeError, ImportError) as err:
        if not _raised_by_lightning(err):
            raise
        _fail(" ".join(str(err).split()))
    finally:
        threading.excepthook = previous
