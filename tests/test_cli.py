"""The ``kerasbench`` command as a user runs it: a subprocess in a fresh folder."""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from kerasbench import html_report
from kerasbench.records import RunRecord
from kerasbench.store import RunStore

SUBCOMMANDS = ("list", "run", "check-data", "weights", "report", "kernel")


def cli(*args, cwd, env=None, timeout=300):
    """Run ``kerasbench ARGS`` in ``cwd``; returns the CompletedProcess (text)."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_HOME": str(cwd / ".keras")}
    environment.pop("KERASBENCH_DATA_ROOT", None)
    environment.pop("KERASBENCH_WEIGHTS_DIR", None)
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "kerasbench.cli", *map(str, args)], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=timeout)


def toy_notebooks(root: Path, body: str = "") -> Path:
    """``root/notebooks/toy.ipynb`` (+ profiles demo/test/bad) writing one run record."""
    notebooks = root / "notebooks"
    (notebooks / "profiles" / "toy").mkdir(parents=True)
    parameters = nbformat.v4.new_code_cell(
        'profile = "demo"\ndata_dir = None\noutput_dir = "results/demo/toy"\nepochs = 1\n'
        'fail = False')
    parameters.metadata["tags"] = ["parameters"]
    code = body or (
        "from pathlib import Path\n"
        "from kerasbench.records import RunRecord\n"
        "from kerasbench.store import RunStore\n"
        "if fail:\n    raise RuntimeError('toy failure in cell')\n"
        "assert Path.cwd() == Path(output_dir), (Path.cwd(), output_dir)\n"
        "record = RunRecord(study='toy', experiment='e1', config={'epochs': epochs},\n"
        "                   dataset_fingerprint='toy', protocol_version='1',\n"
        "                   metrics={'test': {'accuracy': 0.5}}, demo=True,\n"
        "                   environment={'device': 'CPU'})\n"
        "RunStore(Path(output_dir) / 'records' / 'runs').write(record)\n"
        "print('epochs', epochs, 'data_dir', data_dir)")
    notebook = nbformat.v4.new_notebook(cells=[parameters, nbformat.v4.new_code_cell(code)])
    notebook.metadata["kernelspec"] = {"name": "kerasbench", "display_name": "Python (kerasbench)",
                                       "language": "python"}
    nbformat.write(notebook, notebooks / "toy.ipynb")
    (notebooks / "profiles" / "toy" / "demo.yaml").write_text("epochs: 2\n")
    (notebooks / "profiles" / "toy" / "test.yaml").write_text("epochs: 3\n")
    (notebooks / "profiles" / "toy" / "bad.yaml").write_text("fail: true\n")
    return notebooks


# --------------------------------------------------------------------------- help, list


def test_help_of_every_subcommand(tmp_path):
    result = cli("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in SUBCOMMANDS:
        assert name in result.stdout
        assert "KERASBENCH_DATA_ROOT" in result.stdout
        sub = cli(name, "--help", cwd=tmp_path)
        assert sub.returncode == 0, sub.stderr
        assert sub.stdout.startswith(f"usage: kerasbench {name}")
    assert "--log-output" in cli("run", "--help", cwd=tmp_path).stdout
    assert "--sys-prefix" in cli("kernel", "install", "--help", cwd=tmp_path).stdout


def test_list_names_every_study_profile_and_its_data(tmp_path):
    from kerasbench.studies import STUDIES

    data_root = tmp_path / "datasets"
    (data_root / "covid19-radiography-database").mkdir(parents=True)
    result = cli("list", cwd=tmp_path, env={"KERASBENCH_DATA_ROOT": str(data_root),
                                            "DATA_DIR": ""})
    assert result.returncode == 0, result.stderr
    for name in STUDIES:
        assert name in result.stdout
    assert f"found: {data_root / 'covid19-radiography-database'}" in result.stdout
    assert "NOT FOUND" in result.stdout  # the other studies' paper data is not there
    assert f"{tmp_path / 'results'}/<profile>/<study>/" in result.stdout


def test_no_study_notebooks_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli("list", cwd=tmp_path, env={"KERASBENCH_NOTEBOOKS": str(tmp_path / "empty")})
    assert result.returncode == 2
    assert "no study notebooks found" in result.stderr
    result = cli("run", "--all", cwd=tmp_path,
                 env={"KERASBENCH_NOTEBOOKS": str(tmp_path / "empty")})
    assert result.returncode == 2 and "no study notebooks found" in result.stderr


# --------------------------------------------------------------------------- run


def test_run_toy_study_writes_to_results_of_the_current_folder(tmp_path):
    notebooks = toy_notebooks(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    result = cli("run", "toy", "--profile", "test", "-p", "epochs=7", cwd=work,
                 env={"KERASBENCH_NOTEBOOKS": str(notebooks)})
    assert result.returncode == 0, result.stdout + result.stderr
    output = work / "results" / "test" / "toy"
    assert (output / "toy.ipynb").exists()
    records = RunStore(output / "records" / "runs").records()
    assert [record.config for record in records] == [{"epochs": 7}]  # -p beats the profile
    assert "[1/1] toy: ok" in result.stdout

    other = tmp_path / "elsewhere"
    result = cli("run", "toy", "--output-dir", other, "--log-output", cwd=work,
                 env={"KERASBENCH_NOTEBOOKS": str(notebooks)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert (other / "demo" / "toy" / "toy.ipynb").exists()
    assert "epochs 2" in result.stdout  # --log-output streams the cell's output


def test_jobs_run_studies_in_parallel_processes(tmp_path):
    import shutil

    notebooks = toy_notebooks(tmp_path)
    shutil.copyfile(notebooks / "toy.ipynb", notebooks / "toy2.ipynb")
    shutil.copytree(notebooks / "profiles" / "toy", notebooks / "profiles" / "toy2")
    env = {"KERASBENCH_NOTEBOOKS": str(notebooks)}
    result = cli("run", "toy", "toy2", "--profile", "test", "--jobs", "2", cwd=tmp_path,
                 env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    for study in ("toy", "toy2"):
        records = RunStore(tmp_path / "results" / "test" / study / "records" / "runs").records()
        assert [record.config for record in records] == [{"epochs": 3}]
        assert f"[{study}] [1/1] {study}: ok" in result.stdout
    assert "2 studies ran in" in result.stdout and "(2 at a time)" in result.stdout

    # One study fails: the other still runs, the exit status is 1 and the failure named.
    (notebooks / "profiles" / "toy2" / "test.yaml").write_text("fail: true\n")
    result = cli("run", "toy", "toy2", "--profile", "test", "--jobs", "2", cwd=tmp_path,
                 env=env)
    assert result.returncode == 1
    assert "1 of 2 studies failed" in result.stderr and "toy2" in result.stderr
    assert "toy failure in cell" in result.stdout  # the child's error, relayed
    assert cli("run", "toy", "--jobs", "0", cwd=tmp_path, env=env).returncode == 2


def test_interrupted_jobs_stop_their_children_and_say_how_to_go_on(tmp_path):
    import shutil
    import signal
    import time

    notebooks = toy_notebooks(tmp_path, body="import time\ntime.sleep(120)")
    shutil.copyfile(notebooks / "toy.ipynb", notebooks / "toy2.ipynb")
    shutil.copytree(notebooks / "profiles" / "toy", notebooks / "profiles" / "toy2")
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
                   "KERASBENCH_NOTEBOOKS": str(notebooks)}
    parent = subprocess.Popen(
        [sys.executable, "-m", "kerasbench.cli", "run", "toy", "toy2", "--jobs", "2"],
        cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        deadline = time.time() + 120
        started = lambda: len(list((tmp_path / "results" / "demo").glob("*/toy*.ipynb")))  # noqa: E731
        while started() < 2 and time.time() < deadline:
            time.sleep(0.5)
        assert started() == 2, "the two studies did not start"
        parent.send_signal(signal.SIGINT)
        out, err = parent.communicate(timeout=90)
    finally:
        parent.kill()
    assert parent.returncode == 130, out + err
    assert "interrupted: toy, toy2 stopped" in err and "run the same command again" in err


def test_failed_run_exits_nonzero_and_names_the_notebook(tmp_path):
    notebooks = toy_notebooks(tmp_path)
    result = cli("run", "toy", "--profile", "bad", cwd=tmp_path,
                 env={"KERASBENCH_NOTEBOOKS": str(notebooks)})
    executed = tmp_path / "results" / "bad" / "toy" / "toy.ipynb"
    assert result.returncode == 1
    assert "FAILED" in result.stderr and "toy failure in cell" in result.stderr
    assert str(executed) in result.stderr
    assert "toy failure in cell" in executed.read_text()  # kept with the error visible


def test_unknown_parameter_or_study_stops_before_anything_runs(tmp_path):
    notebooks = toy_notebooks(tmp_path)
    env = {"KERASBENCH_NOTEBOOKS": str(notebooks)}
    result = cli("run", "toy", "-p", "epochz=3", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "epochz" in result.stderr and "toy.ipynb does not declare" in result.stderr
    assert not (tmp_path / "results").exists()
    result = cli("run", "nosuch", cwd=tmp_path, env=env)
    assert result.returncode == 2 and "unknown study 'nosuch'" in result.stderr
    result = cli("run", "toy", "--profile", "nope", cwd=tmp_path, env=env)
    assert result.returncode == 2 and "profiles for toy: ['bad', 'demo', 'test']" in result.stderr
    result = cli("run", "toy", "-p", "novalue", cwd=tmp_path, env=env)
    assert result.returncode == 2 and "NAME=VALUE" in result.stderr


@pytest.mark.slow
def test_run_covid_xray_test_profile_then_report(tmp_path):
    result = cli("run", "covid_xray", "--profile", "test", cwd=tmp_path, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = tmp_path / "results" / "test" / "covid_xray"
    assert (output / "covid_xray.ipynb").exists()
    assert list((output / "records").rglob("*.json"))
    assert list((output / "tables").glob("*.csv")) and list((output / "figures").glob("*.png"))
    result = cli("report", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "results" / "test" / "report.html").read_text()
    assert "Paper vs this run" in page and "data:image/png;base64," in page
    assert "covid_xray" in page and "could not be built" not in page


# --------------------------------------------------------------------------- check-data


def _image(path: Path, colour) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(sum(map(ord, str(path)))).normal(0, 20, (16, 16, 3))
    pixels = np.clip(np.array(colour) + noise, 0, 255)
    Image.fromarray(pixels.astype("uint8")).save(path)


def test_check_data_reports_the_index_and_what_was_left_out(tmp_path):
    data = tmp_path / "xray"
    for number in range(10):
        _image(data / "COVID" / f"{number}.png", (200, 40, 40))
        _image(data / "Normal" / f"{number}.png", (40, 40, 200))
    _image(data / "COVID" / "masks" / "m0.png", (0, 0, 0))  # excluded by the profile
    (data / "Normal" / "notes.txt").write_text("not an image")
    (data / "Normal" / ".DS_Store").write_bytes(b"\0")
    (data / "COVID" / "broken.png").write_bytes(b"not a png")
    result = cli("check-data", "covid_xray", data, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "classes (2): COVID, Normal" in out
    assert "train" in out and "test" in out and "total" in out
    assert "not an image (.txt): 1 (Normal/notes.txt)" in out
    assert "hidden entry: 1" in out
    assert "in an excluded folder (exclude_folders): 1 (COVID/masks/m0.png)" in out
    assert "unreadable image: 1 (COVID/broken.png)" in out
    assert "ready" in out and "more than one split" not in out
    assert "max_per_class=" in out  # the paper profile subsamples afterwards

    other = cli("check-data", "down_syndrome", data, cwd=tmp_path)  # positive class absent
    assert other.returncode == 1 and "positive_class ['down_syndrome']" in other.stdout
    missing = cli("check-data", "covid_xray", tmp_path / "nowhere", cwd=tmp_path)
    assert missing.returncode == 1 and "does not exist" in missing.stdout
    (tmp_path / "empty").mkdir()
    empty = cli("check-data", "down_syndrome", tmp_path / "empty", cwd=tmp_path)
    assert empty.returncode == 1 and "cannot be used" in empty.stdout


# --------------------------------------------------------------------------- weights, kernel


def test_weights_lists_files_where_looked_and_sha256(tmp_path):
    import hashlib

    weights = tmp_path / "weights" / "nested"
    weights.mkdir(parents=True)
    payload = b"fake resnet50 weights"
    (weights / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(payload)
    result = cli("weights", "down_syndrome", "covid_xray", "--profile", "paper", "--check",
                 "--offline", cwd=tmp_path, env={"KERASBENCH_WEIGHTS_DIR": str(tmp_path / "weights")})
    out = result.stdout
    assert "KERASBENCH_WEIGHTS_DIR" in out and "Keras cache" in out
    line = next(row for row in out.splitlines() if row.startswith("down_syndrome  paper"))
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in line and "present" in line
    assert hashlib.sha256(payload).hexdigest() in out
    line = next(row for row in out.splitlines() if row.startswith("covid_xray     paper"))
    assert "inception_v3" in line and "missing" in line
    assert result.returncode == 1  # --check --offline: InceptionV3's file is missing


def test_keras_cache_folder_matches_the_library(monkeypatch, tmp_path):
    from kerasbench.backbones.weights import keras_cache_folder as library
    from kerasbench.cli.common import keras_cache_folder

    assert keras_cache_folder() == library()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert keras_cache_folder() == library() == tmp_path / "models"


def test_weights_dir_files_are_linked_into_the_keras_cache(monkeypatch, tmp_path):
    from kerasbench.cli.common import link_weights_into_cache

    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "a_notop.h5").write_bytes(b"x")
    (tmp_path / "w" / "readme.txt").write_text("x")
    monkeypatch.setenv("KERASBENCH_WEIGHTS_DIR", str(tmp_path / "w"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert link_weights_into_cache(log=lambda _: None) == [tmp_path / "kh" / "models" / "a_notop.h5"]
    assert (tmp_path / "kh" / "models" / "a_notop.h5").read_bytes() == b"x"
    assert link_weights_into_cache(log=lambda _: None) == []  # already there


def test_kernel_install_registers_this_python(tmp_path):
    result = cli("kernel", "install", "--prefix", tmp_path / "prefix", "--name", "kb-test",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    spec = json.loads((tmp_path / "prefix" / "share" / "jupyter" / "kernels" / "kb-test"
                       / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable


# --------------------------------------------------------------------------- report


def _records(folder: Path, study: str, demo: bool = True) -> None:
    store = RunStore(folder / "records" / "runs")
    for rate in (0.01, 0.001):
        store.write(RunRecord(study=study, experiment="sweep", config={"learning_rate": rate},
                              dataset_fingerprint="abc", protocol_version="1",
                              metrics={"test": {"accuracy": 0.5 + rate}}, demo=demo,
                              environment={"device": "CPU"}))


def _fake_study(name: str, broken: str | None = None):
    """A study module whose verbs read the records like the real ones do."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    def compare_with_paper(records, context):
        if broken == "compare":
            raise RuntimeError("mid-refactor: compare_with_paper is broken")
        return pd.DataFrame({"paper": [0.9], "this run": [records[0].metric("test", "accuracy")]},
                            index=[f"{name} accuracy"])

    def tables(records, context):
        return {"runs": pd.DataFrame([record.to_row() for record in records])}

    def figures(records, context):
        path = context.figure("accuracy")
        figure, axis = plt.subplots(figsize=(2, 2))
        axis.bar([0, 1], [record.metric("test", "accuracy") for record in records])
        figure.savefig(path)
        plt.close(figure)
        return {"accuracy": path}

    module = types.ModuleType(f"kerasbench.studies.{name}")
    module.compare_with_paper, module.tables, module.figures = compare_with_paper, tables, figures
    return module


def test_report_has_every_study_comparison_table_and_survives_a_broken_study(
        tmp_path, monkeypatch):
    from kerasbench.studies import base

    names = ["study_a", "study_b", "study_c"]
    studies = dict(base.STUDIES)
    for name in names:
        studies[name] = base.StudyInfo(name, f"{name} title", f"{name}.ipynb")
        broken = "compare" if name == "study_c" else None
        monkeypatch.setitem(sys.modules, f"kerasbench.studies.{name}", _fake_study(name, broken))
        _records(tmp_path / "results" / "demo" / name, name)
    monkeypatch.setattr(base, "STUDIES", studies)
    monkeypatch.setattr("kerasbench.studies.STUDIES", studies)
    (tmp_path / "results" / "demo" / "study_b" / "records" / "runs" / "junk.json").write_text("{}")

    written = html_report.write_reports(tmp_path / "results", log=lambda _: None)
    page_path, sections = written["demo"]
    page = page_path.read_text()
    assert page_path == tmp_path / "results" / "demo" / "report.html"
    assert {s.study: s.status for s in sections} == {
        "study_a": "ok", "study_b": "partial", "study_c": "failed"}
    for name in ("study_a", "study_b"):
        assert f"{name} accuracy" in page  # its comparison table
    assert page.count("data:image/png;base64,") == 3
    assert "mid-refactor: compare_with_paper is broken" in page
    assert "could not be built" in page and "not a kerasbench run record" in page
    assert "Demo data" in page
    assert "<script" not in page and "src=\"http" not in page  # self-contained


def test_report_command_on_a_study_whose_verbs_fail(tmp_path):
    # Records too thin for the COVID study's tables: its section may fail, the page not.
    _records(tmp_path / "results" / "test" / "covid_xray", "covid_xray", demo=False)
    result = cli("report", "results", "--strict", cwd=tmp_path)
    page = tmp_path / "results" / "test" / "report.html"
    assert page.exists(), result.stderr
    assert "covid_xray" in page.read_text() and "2 finished record(s)" in page.read_text()
    failed = "could not build: test/covid_xray" in result.stderr
    assert result.returncode == (1 if failed else 0)
    assert ("could not be built" in page.read_text()) == failed
    nothing = cli("report", tmp_path / "nothing", cwd=tmp_path)
    assert nothing.returncode == 1 and "no run records" in nothing.stderr


def test_python_dash_m_kerasbench_is_the_command():
    """What `kerasbench run --workers` launches in each chief and worker process."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "kerasbench", "run", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "--workers" in done.stdout
