"""Start a chief and N workers of one command on this machine (127.0.0.1 only)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence

from kerasbench.engine.distributed.common import ID_VARIABLE, IP_VARIABLE, PORT_VARIABLE

LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]


def visible_gpus(env: Mapping[str, str] | None = None) -> list[str]:
    """GPU ids this machine shows: ``CUDA_VISIBLE_DEVICES`` when set, else ``nvidia-smi``
    (TensorFlow is not imported: it would take GPU memory in the launching process)."""
    env = os.environ if env is None else env
    if "CUDA_VISIBLE_DEVICES" in env:
        return [part.strip() for part in env["CUDA_VISIBLE_DEVICES"].split(",")
                if part.strip() and part.strip() != "-1"]
    try:
        listed = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listed.splitlines() if line.strip()]


def _relay(stream, prefix: str) -> None:
    for line in iter(stream.readline, ""):
        sys.stdout.write(f"[{prefix}] {line}" if not line.startswith(f"[{prefix}]") else line)
        sys.stdout.flush()
    stream.close()


def _stop(process: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM to the process's group (a notebook kernel included), SIGKILL if needed."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            try:  # its children (e.g. a papermill kernel) may outlive it
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            return
        try:
            os.killpg(process.pid, sent)
        except (ProcessLookupError, PermissionError):
            return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue


def launch_local_workers(command: Sequence[str], workers: int, *, port: int | None = None,
                         env: Mapping[str, str] | None = None, timeout: float | None = None,
                         grace: float = 60.0) -> int:
    """Run ``command`` as one chief and ``workers`` workers on 127.0.0.1; the chief's exit code.

    Each process gets KerasTuner's variables (``KERASTUNER_TUNER_ID`` = ``chief``,
    ``tuner0``, ...; ``KERASTUNER_ORACLE_IP`` = 127.0.0.1; ``KERASTUNER_ORACLE_PORT`` =
    ``port`` or a free one) on top of ``os.environ`` and ``env``. With several GPUs visible
    worker ``i`` sees GPU ``i mod n`` only (``CUDA_VISIBLE_DEVICES``) and the chief, which
    trains nothing, none; workers sharing a GPU get ``TF_FORCE_GPU_ALLOW_GROWTH=true``.
    Output lines are prefixed with the process's id. Every process runs in its own session
    and stops with the launcher: after the chief exits the workers have ``grace`` seconds
    to end by themselves; if every worker has failed while the chief still waits, the
    chief is stopped after ``grace`` seconds (exit code 1); after ``timeout`` seconds
    everything is stopped (exit code 124).
    """
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    command = [str(part) for part in command]
    base = {**os.environ, **(env or {}), IP_VARIABLE: LOCALHOST,
            PORT_VARIABLE: str(port or free_port())}
    base.pop("KERASBENCH_DISTRIBUTED", None)
    gpus = visible_gpus(base)
    names = ["chief"] + [f"tuner{i}" for i in range(workers)]
    processes: dict[str, subprocess.Popen] = {}
    print(f"launching 1 chief + {workers} worker(s) on {LOCALHOST}:{base[PORT_VARIABLE]}"
          f"{f', GPUs {gpus}' if gpus else ''}: {' '.join(command)}", flush=True)
    try:
        for position, name in enumerate(names):
            process_env = {**base, ID_VARIABLE: name}
            if gpus:
                if name == "chief":
                    process_env["CUDA_VISIBLE_DEVICES"] = ""
                elif len(gpus) > 1 or workers > 1:
                    process_env["CUDA_VISIBLE_DEVICES"] = gpus[(position - 1) % len(gpus)]
                if name != "chief" and workers > len(gpus):
                    process_env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
            process = subprocess.Popen(command, env=process_env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, bufsize=1,
                                       start_new_session=True)
            processes[name] = process
            threading.Thread(target=_relay, args=(process.stdout, name), daemon=True).start()
        chief = processes["chief"]
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        workers_failed_at = None
        while chief.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                print(f"launch_local_workers: timed out after {timeout} s; stopping all",
                      flush=True)
                return 124
            codes = [processes[name].poll() for name in names[1:]]
            if all(code not in (None, 0) for code in codes):
                workers_failed_at = workers_failed_at or time.monotonic()
                if time.monotonic() - workers_failed_at > grace:
                    print(f"launch_local_workers: every worker failed ({codes}); stopping "
                          "the chief", flush=True)
                    return 1
            time.sleep(0.2)
        end = time.monotonic() + grace
        while any(processes[name].poll() is None for name in names[1:]):
            if time.monotonic() > end or (deadline is not None and time.monotonic() > deadline):
                break
            time.sleep(0.2)
        codes = {name: process.poll() for name, process in processes.items()}
        if any(code != 0 for code in codes.values()):
            note = (" (the chief finished: a worker that failed or was stopped lost nothing, "
                    "its trial went to another worker)" if codes["chief"] == 0 else "")
            print(f"launch_local_workers: exit codes {codes}{note}", flush=True)
        return int(chief.returncode)
    finally:
        for process in processes.values():
            _stop(process)
