"""What the chief, the workers and the launcher share: KerasTuner's variables, settings
read from the environment, and the gRPC readiness check."""

from __future__ import annotations

import os
import threading

from kerasbench.errors import ConfigError

ID_VARIABLE, IP_VARIABLE, PORT_VARIABLE = (
    "KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
SWITCH_VARIABLE = "KERASBENCH_DISTRIBUTED"
OBJECTIVE = "run_ended"  # what a trial reports: the records, not KerasTuner, hold the metrics
local = threading.local()  # local.in_trial: a worker executing a trial runs things here


class RunsFailed(RuntimeError):
    """A distributed phase ended with runs not finished (their failed records are in the
    store; the next call runs them again)."""

    def __init__(self, message: str, failed=()):
        super().__init__(message)
        self.failed = list(failed)


class ChiefUnavailable(RuntimeError):
    """No chief answered at ``KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT`` in time."""


def number(name: str, default: float) -> float:
    """A float setting from the environment (``default`` when unset or empty)."""
    value = os.environ.get(name, "").strip()
    try:
        return float(value) if value else default
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None


def role() -> str | None:
    """``"chief"``, ``"worker"`` or ``None`` (one process), from KerasTuner's variables
    (KerasTuner's rule: an id containing ``chief`` is the chief)."""
    if os.environ.get(SWITCH_VARIABLE, "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    if not os.environ.get(IP_VARIABLE):
        return None
    if not os.environ.get(PORT_VARIABLE) or not os.environ.get(ID_VARIABLE):
        raise ConfigError(f"{IP_VARIABLE} is set: set {PORT_VARIABLE} and {ID_VARIABLE} "
                          "(chief, tuner0, tuner1, ...) too, or unset it for one process")
    return "chief" if "chief" in os.environ[ID_VARIABLE] else "worker"


def tuner_id() -> str:
    return os.environ.get(ID_VARIABLE, "")


def address() -> str:
    """Where the chief listens, as a client dials it."""
    host = os.environ[IP_VARIABLE]
    if host in ("0.0.0.0", "::", "[::]", ""):
        host = "127.0.0.1"
    return f"{host}:{os.environ[PORT_VARIABLE]}"


def channel_ready(target: str, timeout: float) -> bool:
    """Whether a gRPC server answers at ``target`` within ``timeout`` seconds."""
    import grpc

    channel = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        return True
    except grpc.FutureTimeoutError:
        return False
    finally:
        channel.close()
