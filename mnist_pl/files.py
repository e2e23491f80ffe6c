"""How the app writes files: whole or not at all, never over another's.

A file is written under a temporary name beside its own (``beside``) and renamed into place once whole
(and checked, where its writer checks it): a crash, a kill or a failed check leaves the previous file or
none, never half of one. ``publish`` renames without taking a name another process wrote meanwhile, and
``free_path`` finds a name not taken. The folders made for a file that then fails are given back
(``missing_folders``, ``remove_empty``).
"""

import contextlib
import errno
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path


@contextlib.contextmanager
def beside(path: Path) -> Iterator[Path]:
    """A temporary name next to ``path`` to write it under, removed on the way out whatever happens
    (renamed to ``path``, it is gone already; hard-linked there by ``publish``, it is removed here).

    Next to it, not in the system's temp dir: a rename within one folder is atomic, a move from another
    filesystem a copy. Hidden, and of this process and thread: two writers at once (two fits decompressing
    the same file) each write their own. Not ``mkstemp``'s: its files are private to their owner.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_native_id()}.tmp")
    try:
        yield tmp
    finally:
        if os.path.lexists(tmp):  # not made (a read-only filesystem refuses to unlink even no file), or renamed
            tmp.unlink()


def publish(tmp: Path, path: Path, overwrite: bool) -> None:
    """``tmp`` renamed to ``path``; without ``overwrite``, FileExistsError where ``path`` exists.

    Not a rename alone: export's ``main`` checks for an existing file before the export's 10-20 s (predict
    finds a free name for its CSV), and a rename then replaced a file another export (or predict)
    wrote meanwhile (both said "wrote"). A hard link
    fails where the name is taken; a file system without links is checked just before the rename.
    """
    if overwrite:
        tmp.replace(path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        if path.exists():
            raise FileExistsError(path) from None
        tmp.replace(path)


def free_path(path: Path) -> Path:
    """``path``, or ``stem-1.suffix``, ``stem-2.suffix``, ... if taken: nothing is ever overwritten."""
    candidate, n = path, 0
    while os.path.lexists(candidate):  # a link to nowhere holds its name too
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def file_above(path: Path) -> Path | None:
    """The first of ``path``'s parents that is a file, if one is: nothing can be written below it, and
    the error of making a folder there would not name it."""
    return next((parent for parent in path.parents if parent.is_file()), None)


def unset_variable(path: str) -> str | None:
    """The first ``$VAR`` or ``${VAR}`` of ``path`` that is not set, which ``os.path.expandvars`` leaves as written
    (the runs went to a folder named "$RUNS"); None where all are set, or a file or folder so named is there."""
    variables = re.finditer(r"\$(?:(\w+)|\{([^}]*)\})", path, re.ASCII)  # as expandvars: $RUNé is $RUN, then é
    unset = next((v[0] for v in variables if (v[1] or v[2]) not in os.environ), None)
    return None if os.path.exists(os.path.expanduser(os.path.expandvars(path))) else unset


def no_space(err: BaseException | None) -> OSError | None:
    """The full disk (or quota, or file size limit) under ``err``, if one is: torch.save raises a
    RuntimeError of its own over its write's OSError, TensorBoard's writer its thread's OSError again."""
    seen = set()
    while err is not None and id(err) not in seen:  # a chain may loop (raise e from e)
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return err
        seen.add(id(err))
        err = err.__cause__ or (None if err.__suppress_context__ else err.__context__)
    return None


def cannot_write(folder: Path) -> str | None:
    """Why no file can be written in ``folder`` (or, not there yet, in the folder it would be made in), or None."""
    nearest = next(each for each in (folder.absolute(), *folder.absolute().parents) if each.exists())
    try:  # os.access says yes to root on a read-only mount: try it
        tempfile.TemporaryFile(dir=nearest).close()
    except OSError as err:
        return err.strerror
    return None


def missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, deepest first: the ones
    ``folder.mkdir(parents=True)`` makes, for ``remove_empty`` to give back if what goes there fails."""
    return [each for each in (folder, *folder.parents) if not each.exists()]


def remove_empty(folders: Iterable[Path]) -> None:
    """``folders`` removed, deepest first, where empty: a failed command leaves no folder it made, and
    keeps one that something else was put in meanwhile."""
    for folder in sorted(folders, key=lambda each: len(each.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty
            folder.rmdir()
