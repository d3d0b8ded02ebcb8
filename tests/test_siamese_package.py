"""kerasbench.siamese as a package: layout, re-exports, registered names, old files load."""

import ast
import json
import re
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasbench.io
from kerasbench import siamese

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kerasbench" / "siamese"
MODULES = sorted(PACKAGE.glob("*.py"))
OLD_MODULE = "kerasbench.siamese"  # where the classes lived before the package split


def test_the_package_has_one_module_per_concern():
    assert {path.stem for path in MODULES} == {
        "__init__", "layers_and_loss", "model", "pairs", "thresholds", "verifier"}


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_modules_are_small_and_use_public_keras_only(path):
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 450
    imported = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)
    assert not [name for name in imported if name.startswith("keras.src")]
    assert "keras.src" not in source and "layers.Lambda" not in source


def test_every_public_name_is_re_exported():
    for name in siamese.__all__:
        assert hasattr(siamese, name), name
    # Every name the project reads off the package (studies, engine, tests, notebooks,
    # benchmarks).
    used = set()
    files = [*ROOT.glob("kerasbench/studies/**/*.py"), *ROOT.glob("kerasbench/engine/*.py"),
             *ROOT.glob("tests/*.py"),
             *ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("benchmarks/*.py")]
    for file in files:
        # (a file path such as kerasbench/engine/siamese.py is not a name read off it)
        used |= set(re.findall(r"(?<!/)\bsiamese\.([A-Za-z_]\w*)\b(?![\"'])",
                               file.read_text(encoding="utf-8")))
    missing = sorted(name for name in used if not hasattr(siamese, name))
    assert not missing, f"kerasbench.siamese lacks {missing}"
    assert "FaceVerifier" in used and "PAIR_CLASS_NAMES" in used


def test_registered_names_do_not_depend_on_the_module():
    for cls in (siamese.EuclideanDistance, siamese.ContrastiveLoss, siamese.PairAccuracy):
        name = f"kerasbench>{cls.__name__}"
        assert keras.saving.get_registered_name(cls) == name
        assert keras.saving.get_registered_object(name) is cls


def _tiny_siamese():
    first, second = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    embed = keras.layers.Dense(3, name="embed")
    distance = siamese.EuclideanDistance(name="distance")([embed(first), embed(second)])
    model = keras.Model([first, second], distance)
    return siamese.compile_siamese(model, optimizer="sgd", learning_rate=0.01, margin=1.5)


def _rewrite_module(path: Path) -> None:
    """Make a ``.keras`` file look written before the split: module ``kerasbench.siamese``."""
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    config = entries["config.json"].decode("utf-8")
    new_module = '"module": "kerasbench.siamese.layers_and_loss"'
    assert new_module in config
    entries["config.json"] = config.replace(new_module, f'"module": "{OLD_MODULE}"').encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def test_a_model_saved_before_the_split_loads(tmp_path):
    model = _tiny_siamese()
    rng = np.random.default_rng(0)
    first, second = rng.normal(size=(6, 4)).astype("float32"), rng.normal(size=(6, 4)).astype("float32")
    model.fit((first, second), np.array([1, 0] * 3, "float32"), epochs=1, verbose=0)
    path = tmp_path / "old.keras"
    model.save(path)
    _rewrite_module(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict_on_batch([first, second]),
                               model.predict_on_batch([first, second]), rtol=1e-6)
    assert isinstance(loaded.loss, siamese.ContrastiveLoss) and loaded.loss.margin == 1.5
    assert isinstance(loaded.get_layer("distance"), siamese.EuclideanDistance)


def _tiny_embedding():
    inputs = keras.Input((6, 6, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    outputs = keras.layers.UnitNormalization()(keras.layers.Dense(4)(pooled))
    return keras.Model(inputs, outputs)


def test_a_verifier_folder_written_before_loads(tmp_path):
    embedding = _tiny_embedding()
    folder = tmp_path / "verifier"
    folder.mkdir()
    embedding.save(folder / siamese.EMBEDDING_FILE)
    # verifier.json as the first format wrote it (no identification_threshold key yet).
    (folder / siamese.VERIFIER_FILE).write_text(json.dumps({
        "format": 1, "threshold": 0.6, "image_size": [6, 6],
        "labels": {"same_person": 1, "different_person": 0},
        "decision": "same person when distance <= threshold", "metadata": {"epochs": 50}}))
    loaded = siamese.FaceVerifier.load(folder)
    assert loaded.threshold == 0.6 and loaded.identification_threshold is None
    assert loaded.metadata == {"epochs": 50} and loaded.image_size == (6, 6) and loaded.l2_normalize
    images = np.random.default_rng(1).uniform(0, 255, (3, 6, 6, 3)).astype("float32")
    np.testing.assert_allclose(loaded.embed(images), embedding.predict_on_batch(images), rtol=1e-5)


def test_verifier_save_is_atomic(tmp_path, monkeypatch):
    folder = tmp_path / "verifier"
    siamese.FaceVerifier(_tiny_embedding(), threshold=0.4).save(folder)
    written = json.loads((folder / siamese.VERIFIER_FILE).read_text())
    assert written["format"] == siamese.VERIFIER_FORMAT and written["threshold"] == 0.4

    def interrupted(payload, stream, **options):
        stream.write('{"format": 1, "thresh')
        raise KeyboardInterrupt

    monkeypatch.setattr(kerasbench.io.json, "dump", interrupted)
    with pytest.raises(KeyboardInterrupt):
        siamese.FaceVerifier(_tiny_embedding(), threshold=0.9).save(folder)
    monkeypatch.undo()
    assert siamese.FaceVerifier.load(folder).threshold == 0.4  # the old file, whole
    assert sorted(path.name for path in folder.iterdir()) == [siamese.EMBEDDING_FILE,
                                                              siamese.VERIFIER_FILE]
