"""Atomic outputs and their locks.

Every output, store or table, is written under ``<path>.partial`` and moved into place once
complete (:func:`atomic_output`), so an interrupted job never leaves something that looks finished.
While it writes, the job holds an exclusive OS lock on that output (:func:`claim_output`), so a
second writer (a re-run started while a killed run's job still lives) fails at once instead of
writing into the same partial store.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import time
from pathlib import Path

from .errors import OutputBusyError

# output (absolute path) -> [file descriptor of its lock, claims by this process]
_CLAIMED: dict[Path, list[int]] = {}


def lock_path(path: str | Path) -> Path:
    """The lock file of an output: ``.<name>.lock`` beside it (kept, never deleted: deleting a
    lock file another process has open would let two writers lock two different files)."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def claim_output(path: str | Path) -> None:
    """Hold an exclusive lock on writing ``path`` until :func:`release_output` (or the process
    ends: the kernel releases the lock of a dead process, ``kill -9`` included).

    An ``flock`` on the output's lock file: a second process that claims the same output while
    the first lives gets :class:`OutputBusyError` at once, naming the holder, and never touches
    the output. Claims by one process nest. On a cluster the lock needs a file system with
    working ``flock`` (NFSv4, Lustre mounted with ``flock``), as Snakemake's own locks do.
    """
    key = Path(path).absolute()
    if key in _CLAIMED:
        _CLAIMED[key][1] += 1
        return
    lock = lock_path(key)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 256, 0).decode(errors="replace").strip() or "a process that did not say"
        os.close(fd)
        raise OutputBusyError(
            f"{path} is being written by another process ({holder}); a second writer would corrupt it. "
            "Wait for that process to end, or stop it, then run again."
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
    _CLAIMED[key] = [fd, 1]


def release_output(path: str | Path) -> None:
    """Give up one claim of ``path`` (:func:`claim_output`); the lock goes with the last."""
    key = Path(path).absolute()
    held = _CLAIMED.get(key)
    if held is None:
        return
    held[1] -= 1
    if held[1] == 0:
        del _CLAIMED[key]
        os.close(held[0])  # closing the descriptor releases the flock


def partial_path(path: str | Path) -> Path:
    """Where an output (store or file) is written while its job runs."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def remove_path(path: Path) -> None:
    """Remove a file, a link or a folder, if there is one."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def publish(written: str | Path, path: str | Path) -> Path:
    """Move a finished output from where it was written to ``path``, replacing what was there."""
    written, path = Path(written), Path(path)
    remove_path(path)
    os.replace(written, path)
    return path


@contextlib.contextmanager
def atomic_output(path: str | Path):
    """Yield where to write ``path`` (a file or a folder); move it into place when the block ends.

    The output is written at ``<path>.partial`` (a leftover there is removed first) and renamed to
    ``path`` only if the block completes, so a killed or failing step never leaves an output that
    looks finished. The one way outputs are written here: stores, Parquet and result tables.
    """
    path = Path(path)
    claim_output(path)
    try:
        written = partial_path(path)
        remove_path(written)
        path.parent.mkdir(parents=True, exist_ok=True)
        yield written
        publish(written, path)
    finally:
        release_output(path)
