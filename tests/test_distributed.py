"""Runs over workers (KerasTuner's distributed mode) and training over devices
(tf.distribute), on this machine's CPUs and 127.0.0.1 only, every subprocess bounded.

The subprocesses run this file as a script (``python tests/test_distributed.py MODE ...``):
``grid`` (a toy grid: chief or worker by KerasTuner's variables), ``mirrored`` (one device
vs MirroredStrategy over two logical CPU devices) and ``multi_worker`` (one task of a
two-process MultiWorkerMirroredStrategy cluster).
"""

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve()
SPACE = {"a": [1, 2, 3], "b": [10, 20, 30]}
DISTRIBUTED_VARIABLES = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT",
                         "TF_CONFIG", "KERASBENCH_DISTRIBUTION")
pytestmark = pytest.mark.distributed


def toy_spec(point):
    from kerasbench.engine import RunSpec

    return RunSpec(study="toy", experiment="grid", config=dict(point),
                   dataset_fingerprint="toy-data", protocol_version="1")


def toy_metrics(point):
    return {"validation": {"macro_f1": (point["a"] * 100 + point["b"]) / 1000},
            "test": {"accuracy": point["a"] / (point["a"] + point["b"])}}


def toy_work(log: Path, barrier: Path | None = None):
    """Milliseconds of 'training'; logs start/end per run; waits (bounded) until both
    workers are up before its first trial, so both take part; TOY_KILL=tuner0:2 makes
    that worker SIGKILL itself in the middle of its 2nd trial."""
    from kerasbench.engine import TrainResult
    from kerasbench.engine.distributed import tuner_id

    calls = []

    def work(spec, point):
        me = tuner_id() or "single"
        calls.append(spec.run_id)
        if barrier is not None and len(calls) == 1:
            deadline = time.time() + 60
            while len(list(barrier.glob("up-*"))) < 2 and time.time() < deadline:
                time.sleep(0.05)
        with open(log, "a") as handle:
            handle.write(f"start {spec.run_id} {me}\n")
        kill = os.environ.get("TOY_KILL", "")
        if kill and kill.split(":")[0] == me and len(calls) == int(kill.split(":")[1]):
            os.kill(os.getpid(), 9)  # a real SIGKILL mid-trial: no cleanup, no report
        time.sleep(float(os.environ.get("TOY_SLEEP", "0.2")))
        with open(log, "a") as handle:
            handle.write(f"end {spec.run_id} {me}\n")
        return TrainResult(metrics=toy_metrics(point), extra={"by": me})

    return work


def clean_env(**extra) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in DISTRIBUTED_VARIABLES}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", KERASBENCH_POLL_S="0.1",
               PYTHONPATH=str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", ""), **extra)
    return env


def records_by_id(folder: Path) -> dict:
    from kerasbench.store import RunStore

    return {record.run_id: record for record in RunStore(folder).records()}


# --------------------------------------------------------------------------- the oracle


def test_oracle_queues_phases_requeues_silent_workers_and_ignores_stale_trials(tmp_path):
    """The chief's oracle, in-process: IDLE for a phase not opened, tasks in order, a lost
    worker's trial back to the queue after the lease, STOPPED only when all have ended."""
    from keras_tuner.engine.trial import TrialStatus

    from kerasbench.engine.distributed.chief import make_oracle

    oracle, _ = make_oracle("token", 0.3, tmp_path)
    assert oracle.create_trial("tuner0+p1").status == TrialStatus.IDLE  # not opened yet
    oracle.open_phase("p1", ["x", "y"])
    first = oracle.create_trial("tuner0+p1")
    second = oracle.create_trial("tuner1+p1")
    assert [first.hyperparameters.values["task"], second.hyperparameters.values["task"]] == ["x", "y"]
    assert oracle.create_trial("tuner2+p1").status == TrialStatus.IDLE  # all running
    assert oracle.create_trial("tuner0+p1").trial_id == first.trial_id  # same tuner: same trial
    time.sleep(0.2)
    oracle.get_trial(f"{second.trial_id}@token")  # tuner1's heartbeat; tuner0 stays silent
    time.sleep(0.2)
    again = oracle.create_trial("tuner2+p1")  # tuner0's lease ran out: x goes to tuner2
    assert again.hyperparameters.values["task"] == "x" and again.trial_id != first.trial_id
    assert oracle.events.get_nowait()[0] == "lost"
    for trial in (second, again):
        trial.status = TrialStatus.COMPLETED
        oracle.update_trial(trial.trial_id, {"run_ended": 1.0})
        oracle.end_trial(trial)
    stale = oracle.create_trial("tuner9+p1")
    assert stale.status == TrialStatus.STOPPED and oracle.snapshot("p1").done
    assert oracle.snapshot("p1").completed == {"x", "y"}
    # A late report from the lost worker, and one from an earlier chief: no effect.
    first.status = TrialStatus.COMPLETED
    oracle.end_trial(first)
    foreign = oracle.trials[again.trial_id]
    foreign.hyperparameters.values["chief"] = "earlier-chief"
    oracle.end_trial(foreign)
    assert oracle.snapshot("p1").completed == {"x", "y"}
    assert [oracle.events.get_nowait()[0] for _ in range(2)] == ["ended", "ended"]
    assert oracle.events.empty()


def test_a_failed_task_stops_new_trials_and_ends_the_phase(tmp_path):
    from keras_tuner.engine.trial import TrialStatus

    from kerasbench.engine.distributed.chief import make_oracle

    oracle, _ = make_oracle("t", 60, tmp_path)
    oracle.open_phase("p", ["a", "b", "c"])
    trial = oracle.create_trial("tuner0+p")
    running = oracle.create_trial("tuner1+p")
    trial.status = TrialStatus.FAILED
    oracle.end_trial(trial)
    assert oracle.create_trial("tuner0+p").status == TrialStatus.IDLE  # b still runs
    running.status = TrialStatus.COMPLETED
    oracle.update_trial(running.trial_id, {"run_ended": 1.0})
    oracle.end_trial(running)
    state = oracle.snapshot("p")
    assert state.done and state.failed == {"a"} and state.queue == ["c"]
    assert oracle.create_trial("tuner0+p").status == TrialStatus.STOPPED


# --------------------------------------------------------------------------- grids


def single_process_grid(folder: Path, log: Path):
    from kerasbench.engine.grid import run_grid
    from kerasbench.store import RunStore

    return run_grid(SPACE, toy_spec, toy_work(log), RunStore(folder), progress=False)


def test_grid_over_a_chief_and_two_workers_writes_the_single_process_records(
        tmp_path, monkeypatch):
    from kerasbench.engine import execute
    from kerasbench.engine.distributed import launch_local_workers
    from kerasbench.store import RunStore

    for name in DISTRIBUTED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    single = single_process_grid(tmp_path / "single", tmp_path / "single.log")
    # Two points already finished in the shared store: never redone.
    shared = RunStore(tmp_path / "shared")
    for point in ({"a": 1, "b": 10}, {"a": 3, "b": 30}):
        execute(toy_spec(point), shared, lambda point=point: toy_work(tmp_path / "pre.log")(
            toy_spec(point), point))
    before = {run_id: record.created_at for run_id, record in records_by_id(shared.folder).items()}
    log = tmp_path / "calls.log"
    code = launch_local_workers(
        [sys.executable, str(THIS), "grid", str(shared.folder), str(log), str(tmp_path)], 2,
        env=clean_env(TOY_SLEEP="0.3"), timeout=240, grace=30)
    assert code == 0
    distributed = records_by_id(shared.folder)
    assert set(distributed) == {record.run_id for record in single.records}
    for record in single.records:
        other = distributed[record.run_id]
        assert other.metrics == record.metrics and other.config == record.config
        assert other.finished and other.status == "finished"
    assert {k: distributed[k].created_at for k in before} == before
    lines = log.read_text().split()
    ends = Counter(lines[i + 1] for i in range(0, len(lines), 3) if lines[i] == "end")
    assert sorted(ends) == sorted(set(distributed) - set(before)) and set(ends.values()) == {1}
    assert {distributed[k].extra["by"] for k in ends} == {"tuner0", "tuner1"}
    summary = json.loads((tmp_path / "chief.json").read_text())
    assert sorted(summary["computed"]) == sorted(ends) and sorted(summary["skipped"]) == sorted(before)


def test_a_worker_killed_mid_trial_loses_nothing(tmp_path):
    """tuner0 SIGKILLs itself in the middle of its 2nd trial; after the lease its trial goes
    to tuner1, and every point ends exactly once."""
    from kerasbench.engine.distributed import launch_local_workers

    log = tmp_path / "calls.log"
    code = launch_local_workers(
        [sys.executable, str(THIS), "grid", str(tmp_path / "records"), str(log), str(tmp_path)],
        2, env=clean_env(TOY_SLEEP="0.3", TOY_KILL="tuner0:2", KERASBENCH_LEASE_S="3"),
        timeout=240, grace=20)
    assert code == 0
    records = records_by_id(tmp_path / "records")
    assert len(records) == 9 and all(record.finished for record in records.values())
    lines = [line.split() for line in log.read_text().splitlines()]
    killed = [run for kind, run, who in lines if kind == "start" and who == "tuner0"][1]
    ends = Counter(run for kind, run, _ in lines if kind == "end")
    assert set(ends) == set(records) and set(ends.values()) == {1}
    assert records[killed].extra["by"] == "tuner1"
    assert "silent" in (tmp_path / "chief.out").read_text()


# --------------------------------------------------------------------------- devices


def make_images(folder: Path, size: int = 16) -> Path:
    """Two colour classes of 16x16 PNGs (10/4/4 per class in train/validation/test)."""
    import numpy as np
    from PIL import Image

    generator = np.random.default_rng(0)
    for split, count in (("train", 10), ("validation", 4), ("test", 4)):
        for label, colour in enumerate(((200, 30, 30), (30, 30, 200))):
            target = folder / split / f"class{label}"
            target.mkdir(parents=True)
            for number in range(count):
                pixels = np.clip(np.array(colour) + generator.normal(0, 40, (size, size, 3)), 0, 255)
                Image.fromarray(pixels.astype("uint8")).save(target / f"{number}.png")
    return folder


TINY = {"backbone": "squeezenet1_1", "image_size": 32, "batch_size": 8, "epochs": 2,
        "head": "logits", "trainable": "all", "learning_rate": 1e-3, "seed": 7}


def run_script(args, timeout, **env):
    return subprocess.run([sys.executable, str(THIS), *map(str, args)], env=clean_env(**env),
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def test_mirrored_strategy_on_two_cpu_devices_matches_one_device(tmp_path):
    """Same seeded run on one device ("auto" on a CPU) and on MirroredStrategy over two
    logical CPUs, global batches of 8 (8, 8, 4 per epoch; each split evenly over the two
    replicas): the same epochs' orders, weights within 1e-5, training and validation losses
    within 1e-5 (relative), identical test predictions (seen: 4e-7 on weights). The same
    for the frozen-backbone probe and for a Siamese training (batches of 16 pairs)."""
    import numpy as np

    out = tmp_path / "mirrored.json"
    done = run_script(["mirrored", make_images(tmp_path / "images"), out], timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    one, two = result["none"], result["mirrored"]
    assert one["distribution"]["replicas"] == 1 and one["distribution"]["kind"] == "none"
    assert two["distribution"] == {**two["distribution"], "kind": "mirrored", "replicas": 2,
                                   "strategy": "MirroredStrategy", "global_batch": 8,
                                   "per_replica_batch": 4}
    # "auto" stays out of the config (run identities unchanged); "mirrored" enters it.
    assert two["config_has_distribution"] and not one["config_has_distribution"]
    np.testing.assert_allclose(one["loss"], two["loss"], rtol=1e-5)
    np.testing.assert_allclose(one["val_loss"], two["val_loss"], rtol=1e-5)
    assert max(abs(a - b) for a, b in zip(one["weights"], two["weights"])) < 1e-5
    assert one["predictions"] == two["predictions"]
    assert abs(one["test"]["loss"] - two["test"]["loss"]) < 1e-5
    # The frozen-backbone probe (plain path), the Siamese training and a plain
    # keras.utils.PyDataset without an output_signature, same tolerances.
    for path in ("probe", "siamese", "py_dataset"):
        alone, mirrored = result[f"{path}_none"], result[f"{path}_mirrored"]
        assert mirrored["distribution"]["kind"] == "mirrored", path
        assert mirrored["distribution"]["replicas"] == 2, path
        assert alone["distribution"]["kind"] == "none", path
        assert len(alone["loss"]) == 2, path
        np.testing.assert_allclose(alone["loss"], mirrored["loss"], rtol=1e-5, err_msg=path)
        assert max(abs(a - b) for a, b in zip(alone["weights"], mirrored["weights"])) < 1e-5
        np.testing.assert_allclose(alone["scores"], mirrored["scores"], atol=1e-5,
                                   err_msg=path)
    # Cached features: extraction and head stay on one device, and the record says so.
    cached = result["probe_cached_mirrored"]
    assert cached["kind"] == "none" and cached["setting"] == "mirrored"


def test_multi_worker_strategy_with_two_local_processes_trains_once(tmp_path):
    """Two processes form a MultiWorkerMirroredStrategy cluster from TF_CONFIG on
    127.0.0.1, train one short run together; only the chief writes its record."""
    from kerasbench.engine.distributed import free_port

    images = make_images(tmp_path / "images")
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    processes = []
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            [sys.executable, str(THIS), "multi_worker", images, tmp_path / "records",
             tmp_path / f"task{index}.json"], env=clean_env(TF_CONFIG=config), cwd=REPO_ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [process.communicate(timeout=240)[0] for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert [process.returncode for process in processes] == [0, 0], outputs[0][-3000:]
    tasks = [json.loads((tmp_path / f"task{index}.json").read_text()) for index in range(2)]
    assert [task["writes_records"] for task in tasks] == [True, False]
    assert all(task["replicas"] == 2 and task["global_batch"] == 8 for task in tasks)
    records = records_by_id(tmp_path / "records")
    assert len(records) == 1
    record = next(iter(records.values()))
    assert record.finished and record.extra["distribution"]["kind"] == "multi_worker"
    assert record.config["distribution"] == "multi_worker"


# --------------------------------------------------------------------------- subprocesses


def main_grid(store_folder, log, barrier):
    from kerasbench.engine import distributed
    from kerasbench.engine.grid import run_grid
    from kerasbench.store import RunStore

    barrier = Path(barrier)
    if distributed.is_worker():
        (barrier / f"up-{distributed.tuner_id()}").touch()
    outcome = run_grid(SPACE, toy_spec, toy_work(Path(log), barrier), RunStore(store_folder),
                       progress=True)
    assert len(outcome.records) == 9
    if distributed.is_worker():
        return  # workers build no tables
    (barrier / "chief.json").write_text(json.dumps({"computed": outcome.computed,
                                                   "skipped": outcome.skipped}))


def main_mirrored(images, out):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]  # before TensorFlow initialises
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np

    from kerasbench.data.index import index_folder
    from kerasbench.engine import resolve_config, train_classifier

    index, result = index_folder(images), {}
    for setting, name in (("auto", "none"), ("mirrored", "mirrored")):
        config = {**TINY, "epochs": 3, "distribution": setting}
        trained = train_classifier(config, index)
        result[name] = {
            "distribution": trained.extra["distribution"], "loss": trained.history["loss"],
            "val_loss": trained.history["val_loss"],
            "weights": np.concatenate([w.ravel() for w in trained.model.get_weights()]).tolist(),
            "predictions": trained.predictions["test"].y_pred.tolist(),
            "test": trained.metrics["test"],
            "config_has_distribution": "distribution" in resolve_config(config)}
    result.update(mirrored_probe(index, Path(out).parent))
    result.update(mirrored_siamese(Path(out).parent))
    result.update(mirrored_py_dataset())
    Path(out).write_text(json.dumps(result))


def _weights(model):
    import numpy as np

    return np.concatenate([w.ravel() for w in model.get_weights()]).tolist()


def mirrored_probe(index, folder):
    from kerasbench.engine.feature_cache import FeatureCache
    from kerasbench.engine.probe import train_probe

    frames = {split: index.split(split) for split in ("train", "validation", "test")}
    settings = {"backbone": "squeezenet1_1", "weights": None, "image_size": 32,
                "batch_size": 8, "learning_rate": 1e-2, "epochs": 2, "seed": 5,
                "evaluate": ("test",)}
    result = {}
    for setting in ("none", "mirrored"):
        trained = train_probe(frames, index.class_names, distribution=setting, **settings)
        result[f"probe_{setting}"] = {
            "distribution": trained.extra["distribution"], "loss": trained.history["loss"],
            "weights": _weights(trained.model),
            "scores": trained.predictions["test"].probabilities.ravel().tolist()}
    cached = train_probe(frames, index.class_names, distribution="mirrored",
                         cache=FeatureCache(folder / "features", verbose=False), **settings)
    result["probe_cached_mirrored"] = cached.extra["distribution"]
    return result


def mirrored_py_dataset():
    """A Dense model fitted on a ``keras.utils.PyDataset`` that has no output_signature
    (fit_replicated reads its first batch for the shapes), on one device and mirrored."""
    import keras
    import numpy as np

    from kerasbench.engine.fitting import fit_model, resolve_distribution

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            generator = np.random.default_rng(0)
            self.x = generator.normal(size=(40, 6)).astype("float32")
            self.y = (self.x[:, 0] > 0).astype("float32")

        def __len__(self):
            return 5

        def __getitem__(self, number):
            return self.x[number * 8:(number + 1) * 8], self.y[number * 8:(number + 1) * 8]

    result = {}
    for setting in ("none", "mirrored"):
        distribution = resolve_distribution(setting)
        keras.utils.set_random_seed(1)
        with distribution.scope():
            model = keras.Sequential([keras.Input((6,)),
                                      keras.layers.Dense(1, activation="sigmoid")])
            model.compile(optimizer="sgd", loss="binary_crossentropy")
        outcome = fit_model(model, Batches(), epochs=2)
        result[f"py_dataset_{setting}"] = {
            "distribution": distribution.describe(8), "loss": outcome["history"]["loss"],
            "weights": _weights(model), "scores": model.predict(Batches().x, verbose=0).ravel().tolist()}
    return result


def mirrored_siamese(folder):
    from tiny_faces import tiny_faces

    from kerasbench.engine.execute import RunSpec
    from kerasbench.engine.siamese import resolve_config, train_pair_runs
    from kerasbench.studies import faces
    from kerasbench.studies.faces.protocol import run_config

    _, data = tiny_faces(folder, image_size=32)
    (planned,) = faces.configs(optimizers=["sgd"], learning_rates=[0.01], epochs=[2],
                               paper_epochs=None, seeds=[3], embedding_dim=16,
                               pairs_per_person=4, batch_size=16, squeezenet_version="1.1")
    result = {}
    for setting in ("none", "mirrored"):
        config = resolve_config({**run_config(planned, data), "distribution": setting})
        spec = RunSpec(study="faces", experiment=planned.experiment, config=config,
                       dataset_fingerprint=data.fingerprint(), protocol_version="test")
        (trained,) = train_pair_runs([spec], data, save_verifiers="none",
                                     latency_repeats=1).values()
        result[f"siamese_{setting}"] = {
            "distribution": trained.extra["distribution"], "loss": trained.history["loss"],
            "weights": _weights(trained.model),
            "scores": trained.extra["pair_distances"]["test"]["distance"]}
    return result


def main_multi_worker(images, records, out):
    from kerasbench.engine.fitting import strategy_for

    strategy_for("multi_worker")  # first: before TensorFlow runs anything
    from kerasbench.data.index import index_folder
    from kerasbench.engine import run_classification
    from kerasbench.store import RunStore

    outcome = run_classification({**TINY, "epochs": 1, "distribution": "multi_worker"},
                                 index_folder(images), RunStore(records))
    Path(out).write_text(json.dumps(outcome.record.extra["distribution"]))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    mode, *arguments = sys.argv[1:]
    if mode == "grid" and os.environ.get("KERASTUNER_TUNER_ID") == "chief":
        # The chief's own output, for the test to read (the launcher relays it too).
        sys.stdout = open(Path(arguments[2]) / "chief.out", "w", buffering=1)  # noqa: SIM115
    {"grid": main_grid, "mirrored": main_mirrored,
     "multi_worker": main_multi_worker}[mode](*arguments)
