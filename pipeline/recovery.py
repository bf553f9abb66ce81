"""Recovery after a killed run: ``python -m pipeline recover`` (``make run`` calls it first).

After ``kill -9`` of Snakemake, three things are left: Snakemake's lock on the working directory
(the next run would ask for ``--unlock``), outputs it marked incomplete (``make run`` passes
``--rerun-incomplete``), and the jobs it had started, which keep running as orphans. This module
looks at the processes of this host whose working directory is this one:

- a live Snakemake there: another run is going on; nothing is touched and the command fails,
  naming it;
- orphaned steps (``python -m pipeline <step>``) whose Snakemake is gone: each is stopped
  (SIGTERM, then SIGKILL): what they wrote is incomplete to Snakemake and would be recomputed
  anyway, training and item stores resume from their last checkpoint, and the locks they hold on
  their outputs (:func:`pipeline.store.claim_output`) go with them;
- then a lock Snakemake left is removed (as ``snakemake --unlock`` would).

On a cluster, jobs run on other hosts and are not seen here; their outputs' locks still keep a
second writer out (the step fails at once, naming the holder).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def _processes_in(workdir: Path) -> list[tuple[int, list[str]]]:
    """(pid, command line) of this host's processes whose working directory is ``workdir``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if Path(os.readlink(entry / "cwd")).resolve() != workdir:
                continue
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:  # gone, or not ours to read
            continue
        found.append((int(entry.name), [a for a in argv if a]))
    return found


def _is_snakemake(argv: list[str]) -> bool:
    return any(Path(a).name == "snakemake" for a in argv[:2]) or (argv[1:3] == ["-m", "snakemake"])


def _is_step(argv: list[str]) -> bool:
    return len(argv) >= 4 and argv[1:3] == ["-m", "pipeline"] and argv[3] not in ("plan", "recover")


def _stop(pid: int, grace: float = 10.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def recover(workdir: str | Path = ".") -> list[str]:
    """Make ``workdir`` ready for a new run after a killed one; returns what was done, in words.

    Raises
    ------
    RuntimeError
        When a Snakemake still runs in ``workdir`` (its pid named).
    """
    workdir = Path(workdir).resolve()
    processes = _processes_in(workdir)
    running = [pid for pid, argv in processes if _is_snakemake(argv)]
    if running:
        raise RuntimeError(
            f"snakemake is running in {workdir} (pid {', '.join(map(str, running))}); "
            "wait for it to end, or stop it, before starting another run here"
        )
    done = []
    for pid, argv in processes:
        if _is_step(argv):
            _stop(pid)
            done.append(f"stopped pid {pid} ({argv[3]}), a job of a run that was killed: its output is recomputed or resumed")
    locks = workdir / ".snakemake" / "locks"
    if locks.is_dir() and any(locks.iterdir()):
        for lock in locks.iterdir():
            lock.unlink()
        done.append("removed the lock a killed snakemake left (no snakemake runs here)")
    return done


def main(argv: list[str]) -> int:
    try:
        done = recover(argv[0] if argv else ".")
    except RuntimeError as error:
        print(f"recover: {error}")
        return 1
    for line in done:
        print(f"recover: {line}")
    return 0
