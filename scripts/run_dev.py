#!/usr/bin/env python3
"""Run the processes of a Procfile together (`make run` uses Procfile.dev) and stop them cleanly.

Why not honcho or foreman: they stop a process by sending SIGTERM to its whole process group.
qcluster's own worker processes then receive the signal at the same moment as their parent,
and the cluster hangs on shutdown until it is SIGKILLed. Here each process gets SIGTERM on its
main pid only (qcluster then stops its workers itself, in about two seconds); whatever is still
alive after the grace period is killed with its whole group, so nothing is left behind.

Usage: run_dev.py [Procfile]   (stdlib only; output is passed through as it is)
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

GRACE_SECONDS = 20


def read_procfile(path: Path) -> list[tuple[str, list[str]]]:
    entries = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        if not command.strip():
            raise SystemExit(f"{path}: line {raw!r} is not 'name: command'")
        entries.append((name.strip(), shlex.split(command)))
    if not entries:
        raise SystemExit(f"{path}: no processes")
    return entries


def say(message: str) -> None:
    print(f"[run] {message}", file=sys.stderr, flush=True)


def main() -> int:
    procfile = Path(sys.argv[1] if len(sys.argv) > 1 else "Procfile.dev")
    processes: dict[str, subprocess.Popen] = {}
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        if stopping:
            # A second Ctrl-C means "now": kill every group without waiting.
            say(f"{signal.Signals(signum).name} received again, killing")
            for process in processes.values():
                _kill_group(process)
            return
        say(f"{signal.Signals(signum).name} received, stopping")
        stopping = True

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)

    # Each process leads its own session, so a Ctrl-C in the terminal reaches only this
    # runner, which then stops the processes in order instead of all at once.
    exit_code = 0
    for name, argv in read_procfile(procfile):
        try:
            processes[name] = subprocess.Popen(argv, start_new_session=True)  # noqa: S603 (our Procfile)
        except OSError as exc:
            say(f"{name} could not start: {exc}")
            exit_code, stopping = 1, True
            break
        say(f"{name} started (pid {processes[name].pid}): {' '.join(argv)}")

    while not stopping:
        for name, process in processes.items():
            code = process.poll()
            if code is not None:
                say(f"{name} exited with code {code}, stopping the others")
                exit_code = code or 1
                stopping = True
                break
        else:
            time.sleep(0.2)

    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)

    deadline = time.monotonic() + GRACE_SECONDS
    for name, process in processes.items():
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
            say(f"{name} stopped")
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop within {GRACE_SECONDS} s, killing it")
            _kill_group(process)
        process.wait()
        # The group may hold children that outlived their parent; none may stay behind.
        _kill_group(process)
    return exit_code


def _kill_group(process: subprocess.Popen) -> None:
    # SIGKILL cannot be ignored; what is left afterwards are zombies for init to reap.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
