"""kerasbench.siamese: distance, contrastive loss, pairs, thresholds, the verifier."""

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from kerasbench import siamese
from kerasbench.siamese import DIFFERENT_PERSON, SAME_PERSON

IMAGE_SIZE = 40  # the smallest round size SqueezeNet 1.0 builds at (its minimum is 35)


def _loss(margin, first, second, labels):
    distance = siamese.EuclideanDistance()([np.asarray(first, "float32"),
                                             np.asarray(second, "float32")])
    return float(siamese.ContrastiveLoss(margin=margin)(np.asarray(labels, "float32"), distance))


# --------------------------------------------------------------------------- loss, distance


def test_label_convention():
    assert (SAME_PERSON, DIFFERENT_PERSON) == (1, 0)
    assert siamese.PAIR_CLASS_NAMES[SAME_PERSON] == "same"
    assert siamese.PAIR_CLASS_NAMES[DIFFERENT_PERSON] == "different"


def test_identical_embeddings_same_person_cost_nothing():
    embedding = [[0.3, -0.2, 0.9]]
    assert _loss(1.0, embedding, embedding, [SAME_PERSON]) == pytest.approx(0.0, abs=1e-6)


def test_identical_embeddings_different_people_cost_margin_squared():
    embedding = [[0.3, -0.2, 0.9]]
    for margin in (1.0, 2.5):
        assert _loss(margin, embedding, embedding, [DIFFERENT_PERSON]) == pytest.approx(
            margin**2, rel=1e-3)


def test_far_apart_different_people_cost_nothing():
    assert _loss(1.0, [[0.0, 0.0]], [[3.0, 4.0]], [DIFFERENT_PERSON]) == 0.0


def test_loss_is_the_batch_mean_of_the_formula():
    rng = np.random.default_rng(0)
    first, second = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    labels = np.array([1, 0, 1, 0, 0, 1])
    distance = np.sqrt(((first - second) ** 2).sum(axis=1))
    margin = 2.0
    expected = np.mean(labels * distance**2 + (1 - labels) * np.maximum(margin - distance, 0) ** 2)
    assert _loss(margin, first, second, labels) == pytest.approx(expected, rel=1e-5)


def test_distance_values_and_shape():
    distance = siamese.EuclideanDistance()([np.array([[0.0, 0.0], [1.0, 1.0]], "float32"),
                                            np.array([[3.0, 4.0], [1.0, 1.0]], "float32")])
    assert tuple(distance.shape) == (2, 1)
    np.testing.assert_allclose(np.asarray(distance).ravel(),
                               [5.0, np.sqrt(siamese.DISTANCE_EPSILON)], rtol=1e-5)


def test_gradient_is_finite_at_zero_distance():
    first = tf.Variable([[0.5, -1.0, 2.0]])
    second = tf.Variable([[0.5, -1.0, 2.0]])
    layer, loss = siamese.EuclideanDistance(), siamese.ContrastiveLoss(margin=1.0)
    for label in (SAME_PERSON, DIFFERENT_PERSON):
        with tf.GradientTape() as tape:
            value = loss(tf.constant([float(label)]), layer([first, second]))
        gradients = tape.gradient(value, [first, second])
        for gradient in gradients:
            assert gradient is not None and np.all(np.isfinite(gradient.numpy()))


def test_invalid_margin_and_epsilon_are_refused():
    with pytest.raises(ValueError, match="margin"):
        siamese.ContrastiveLoss(margin=0)
    with pytest.raises(ValueError, match="epsilon"):
        siamese.EuclideanDistance(epsilon=0)
    with pytest.raises(ValueError, match="two embedding"):
        siamese.EuclideanDistance()(np.zeros((1, 2), "float32"))


def test_pair_accuracy_metric():
    metric = siamese.PairAccuracy(threshold=0.5)
    metric.update_state(np.array([1, 0, 1, 0]), np.array([[0.1], [0.9], [0.7], [0.2]]))
    assert float(metric.result()) == pytest.approx(0.5)


# --------------------------------------------------------------------------- model


def _small_embedding(**kwargs):
    options = {"image_size": IMAGE_SIZE, "embedding_dim": 8}
    options.update(kwargs)
    return siamese.build_embedding_network("1.0", **options)


def test_branches_share_one_embedding_network():
    embedding = _small_embedding()
    model = siamese.build_siamese_model(embedding)
    assert model.count_params() == embedding.count_params()
    images = np.random.default_rng(0).uniform(0, 255, (3, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    outputs = embedding.predict_on_batch(images)
    np.testing.assert_allclose(np.linalg.norm(outputs, axis=1), 1.0, rtol=1e-5)
    distance = model.predict_on_batch([images, images[::-1]])
    np.testing.assert_allclose(distance.ravel(), siamese.pair_distances(outputs, [0, 1, 2], [2, 1, 0]),
                               rtol=1e-4, atol=1e-5)


def test_embedding_options():
    assert siamese.squeezenet_backbone_name("1.1") == "squeezenet1_1"
    assert siamese.squeezenet_backbone_name(1.0) == "squeezenet1_0"
    with pytest.raises(ValueError, match="squeezenet_version"):
        siamese.squeezenet_backbone_name("2.0")
    plain = _small_embedding(embedding_dim=None, l2_normalize=False)
    assert plain.output_shape == (None, 512)
    with pytest.raises(ValueError, match="embedding_dim"):
        _small_embedding(embedding_dim=0)


def test_trained_model_saves_loads_and_gives_the_same_distances(tmp_path):
    model = siamese.build_siamese_model(_small_embedding())
    siamese.compile_siamese(model, optimizer="sgd", learning_rate=0.01, margin=1.0)
    rng = np.random.default_rng(1)
    first = rng.uniform(0, 255, (8, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    second = rng.uniform(0, 255, (8, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    labels = np.array([1, 0] * 4, "float32")
    model.fit((first, second), labels, epochs=1, batch_size=4, verbose=0)
    path = tmp_path / "siamese.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict_on_batch([first, second]),
                               model.predict_on_batch([first, second]), rtol=1e-5, atol=1e-6)
    assert isinstance(loaded.loss, siamese.ContrastiveLoss) and loaded.loss.margin == 1.0
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in loaded._flatten_layers())


# --------------------------------------------------------------------------- pairs


def _people(count=4, per=5):
    return np.repeat(np.arange(count), per)


def test_sample_pairs_is_balanced_correct_and_seeded():
    labels = _people()
    pairs = siamese.sample_pairs(labels, 6, seed=3)
    assert len(pairs) == 4 * 6
    assert (pairs["label"] == SAME_PERSON).sum() == (pairs["label"] == DIFFERENT_PERSON).sum()
    same_person = labels[pairs["index_a"]] == labels[pairs["index_b"]]
    np.testing.assert_array_equal(same_person, pairs["label"] == SAME_PERSON)
    same = pairs[pairs["label"] == SAME_PERSON]
    assert (same["index_a"] != same["index_b"]).all()
    # No repeated same pair while a person has enough distinct pairs (5 images: 10 pairs).
    keys = {tuple(sorted(pair)) for pair in same[["index_a", "index_b"]].to_numpy()}
    assert len(keys) == len(same)
    pd.testing.assert_frame_equal(pairs, siamese.sample_pairs(labels, 6, seed=3))
    assert not pairs.equals(siamese.sample_pairs(labels, 6, seed=4))


def test_sample_pairs_refuses_what_cannot_be_balanced():
    with pytest.raises(ValueError, match="even"):
        siamese.sample_pairs(_people(), 5, seed=0)
    with pytest.raises(ValueError, match="two people"):
        siamese.sample_pairs(np.zeros(5), 4, seed=0)
    with pytest.raises(ValueError, match="fewer than 2 images"):
        siamese.sample_pairs(np.array([0, 0, 1]), 4, seed=0)


def test_sample_pairs_repeats_only_when_a_person_runs_out():
    pairs = siamese.sample_pairs(_people(count=3, per=2), 8, seed=0)
    assert (pairs["label"] == SAME_PERSON).sum() == 12


def test_pairs_file_round_trip_and_reuse(tmp_path):
    root = tmp_path / "faces"
    paths = [str(root / f"s{person}" / f"{image}.pgm") for person in range(3) for image in range(4)]
    labels = np.repeat(np.arange(3), 4)
    file = tmp_path / "pairs" / "test_pairs.csv"
    pairs, created = siamese.load_or_sample_pairs(file, paths, labels, pairs_per_person=4,
                                                  seed=0, root=root)
    assert created and file.exists()
    table = pd.read_csv(file)
    assert list(table.columns) == ["path_a", "path_b", "label"]
    assert table["path_a"].iloc[0].startswith("s")  # stored relative to the data root
    again, created_again = siamese.load_or_sample_pairs(file, paths, labels, pairs_per_person=4,
                                                        seed=99, root=root)
    assert not created_again
    pd.testing.assert_frame_equal(pairs, again)
    with pytest.raises(ValueError, match="not in this split"):
        siamese.read_pairs(file, paths[:4], root=root)
    with pytest.raises(ValueError, match="disagree"):
        siamese.read_pairs(file, paths, root=root, person_labels=np.arange(12))


def test_pair_batches_resample_each_epoch_reproducibly():
    images = np.arange(12, dtype="float32").reshape(12, 1, 1, 1) * np.ones((1, 4, 4, 3), "float32")
    labels = _people(3, 4)

    def epochs(count):
        batches = siamese.PairBatches(images, person_labels=labels, pairs_per_person=4,
                                      batch_size=5, shuffle=True, seed=7)
        seen = []
        for _ in range(count):
            seen.append([batches[i] for i in range(len(batches))])
            batches.on_epoch_end()
        return seen

    first_run, second_run = epochs(2), epochs(2)
    assert len(first_run[0]) == 3  # 12 pairs in batches of 5
    (first, second), batch_labels = first_run[0][0]
    assert first.shape == (5, 4, 4, 3) and batch_labels.dtype == np.float32
    truth = labels[first[:, 0, 0, 0].astype(int)] == labels[second[:, 0, 0, 0].astype(int)]
    np.testing.assert_array_equal(truth, batch_labels == SAME_PERSON)
    for epoch in range(2):
        for (inputs, targets), (other_inputs, other_targets) in zip(first_run[epoch],
                                                                    second_run[epoch]):
            np.testing.assert_array_equal(inputs[0], other_inputs[0])
            np.testing.assert_array_equal(inputs[1], other_inputs[1])
            np.testing.assert_array_equal(targets, other_targets)
    assert not np.array_equal(first_run[0][0][0][0], first_run[1][0][0][0])


def test_pair_batches_fixed_pairs_and_augmentation():
    images = np.zeros((4, 6, 6, 3), "float32")
    pairs = pd.DataFrame({"index_a": [0, 1], "index_b": [2, 3], "label": [1, 0]})
    calls = []

    def augmentation(batch, training):
        calls.append(training)
        return batch + 1.0

    batches = siamese.PairBatches(images, pairs, batch_size=8, augmentation=augmentation)
    (first, second), labels = batches[0]
    assert calls == [True, True] and first.min() == 1.0 and list(labels) == [1.0, 0.0]
    with pytest.raises(ValueError, match="either fixed pairs"):
        siamese.PairBatches(images)
    with pytest.raises(ValueError, match="indices"):
        siamese.PairBatches(images, pairs.assign(index_b=[2, 9]))


# --------------------------------------------------------------------------- threshold, scores


def test_choose_threshold_separates_separable_pairs():
    distances = np.array([0.1, 0.2, 0.3, 0.8, 0.9, 1.0])
    labels = np.array([1, 1, 1, 0, 0, 0])
    threshold = siamese.choose_threshold(distances, labels)
    assert 0.3 < threshold < 0.8
    result = siamese.evaluate_pairs(distances, labels, threshold)
    assert result["accuracy"] == 1.0 and result["roc_auc"] == 1.0 and result["eer"] == 0.0
    assert result["per_class"]["same"]["f1"] == 1.0 and not result["collapsed"]
    assert result["confusion_matrix"] == [[3, 0], [0, 3]]


def test_choose_threshold_criteria_differ_on_imbalanced_pairs():
    distances = np.array([0.1, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1])
    labels = np.array([1, 1, 0, 0, 0, 0, 0, 0])
    balanced = siamese.choose_threshold(distances, labels, "balanced_accuracy")
    assert 0.5 < balanced < 0.6
    with pytest.raises(ValueError, match="criterion"):
        siamese.choose_threshold(distances, labels, "f1")
    with pytest.raises(ValueError, match="both"):
        siamese.choose_threshold(distances, np.ones(8))
    with pytest.raises(ValueError, match="NaN"):
        siamese.choose_threshold([np.nan, 1.0], [1, 0])


def test_collapse_is_reported():
    distances = np.full(6, 0.2)
    labels = np.array([1, 1, 1, 0, 0, 0])
    threshold = siamese.choose_threshold(distances, labels)
    result = siamese.evaluate_pairs(distances, labels, threshold)
    assert result["collapsed"] and result["roc_auc"] == 0.5


# --------------------------------------------------------------------------- verifier


@pytest.fixture(scope="module")
def verifier_parts(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("people")
    rng = np.random.default_rng(5)
    people = {}
    for person in ("alice", "bob", "carol"):
        base = rng.uniform(0, 255, (48, 44))
        files = []
        for image in range(3):
            pixels = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype("uint8")
            path = folder / person / f"{image}.pgm"
            path.parent.mkdir(exist_ok=True)
            Image.fromarray(pixels).save(path)
            files.append(str(path))
        people[person] = files
    keras.utils.set_random_seed(0)
    return folder, people, _small_embedding()


def test_verify_accepts_paths_and_arrays(verifier_parts):
    from PIL import Image

    _, people, embedding = verifier_parts
    verifier = siamese.FaceVerifier(embedding, threshold=0.5)
    path_a, path_b = people["alice"][0], people["bob"][0]
    distance, decision, threshold = verifier.verify(path_a, path_b)
    assert threshold == 0.5 and decision in (SAME_PERSON, DIFFERENT_PERSON)
    grey = np.asarray(Image.open(path_a), dtype="float32")  # (48, 44): another size, grey
    from_arrays = verifier.verify(grey, path_b)
    assert from_arrays.distance == pytest.approx(distance, rel=1e-3, abs=1e-4)
    same = verifier.verify(path_a, path_a)
    assert same.distance == pytest.approx(np.sqrt(siamese.DISTANCE_EPSILON), abs=1e-3)
    assert same.same_person
    with pytest.raises(FileNotFoundError):
        verifier.verify(path_a, path_a + ".missing")
    with pytest.raises(ValueError, match="image array"):
        verifier.verify(np.zeros((4, 4, 2)), path_a)


def test_verifier_save_load_keeps_threshold_and_distances(verifier_parts, tmp_path):
    _, people, embedding = verifier_parts
    verifier = siamese.FaceVerifier(embedding, threshold=0.42, metadata={"note": "test"})
    verifier.save(tmp_path / "verifier")
    loaded = siamese.FaceVerifier.load(tmp_path / "verifier")
    assert loaded.threshold == 0.42 and loaded.metadata == {"note": "test"}
    assert loaded.image_size == (IMAGE_SIZE, IMAGE_SIZE)
    a, b = people["alice"][0], people["carol"][1]
    assert loaded.verify(a, b).distance == pytest.approx(verifier.verify(a, b).distance, rel=1e-5)
    with pytest.raises(FileNotFoundError, match="verifier.json"):
        siamese.FaceVerifier.load(tmp_path / "nowhere")


def test_enroll_and_identify(verifier_parts):
    folder, people, embedding = verifier_parts
    verifier = siamese.FaceVerifier(embedding, threshold=1e-3)
    gallery = verifier.enroll(folder, method="nearest")
    assert gallery.people == ["alice", "bob", "carol"] and len(gallery.names) == 9
    # An enrolled image is at distance ~0 from itself: identified even at a tiny threshold.
    answer = verifier.identify(people["bob"][1], gallery)
    assert answer.name == "bob" and answer.known
    # A small threshold turns everything else into "unknown"; the nearest person is still given.
    stranger = np.full((IMAGE_SIZE, IMAGE_SIZE, 3), 128.0, "float32")
    result = verifier.identify(stranger, gallery)
    assert result.name == siamese.UNKNOWN and result.nearest in gallery.people
    mean_gallery = siamese.FaceVerifier(embedding, threshold=2.0).enroll(
        {name: files[:2] for name, files in people.items()}, method="mean")
    assert len(mean_gallery.names) == 3
    np.testing.assert_allclose(np.linalg.norm(mean_gallery.embeddings, axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="method"):
        verifier.enroll(folder, method="vote")
    with pytest.raises(ValueError, match="at least one image"):
        verifier.enroll({"dave": []})


def test_identification_summary():
    results = [siamese.Identification("a", 0.1, "a", 0.5), siamese.Identification("unknown", 0.9, "b", 0.5),
               siamese.Identification("a", 0.2, "a", 0.5), siamese.Identification("unknown", 0.8, "a", 0.5)]
    summary = siamese.identification_summary(["a", "b", "c", "c"], results, enrolled=["a", "b"])
    assert summary["identification_rate"] == 0.5 and summary["false_rejections"] == 0.5
    assert summary["rejection_rate"] == 0.5 and summary["false_accepts"] == 0.5


def test_measure_latency(verifier_parts):
    _, people, embedding = verifier_parts
    verifier = siamese.FaceVerifier(embedding, threshold=0.5)
    images = verifier.prepare(people["alice"] + people["bob"])
    latency = siamese.measure_latency(verifier, people["alice"][0], people["bob"][0],
                                      batch_images=images, repeats=2)
    assert 0 < latency["single_pair_seconds"] < 5.0
    assert latency["batch_pairs"] == 3 and latency["pairs_per_second"] > 0


def test_train_siamese_evaluates_at_each_requested_epoch():
    from kerasbench.engine.siamese import train_siamese

    images = np.random.default_rng(2).uniform(0, 255, (8, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    batches = siamese.PairBatches(images, person_labels=_people(2, 4), pairs_per_person=4,
                                  batch_size=8, shuffle=True, seed=0)
    model = siamese.build_siamese_model(_small_embedding())
    siamese.compile_siamese(model, optimizer="sgd", learning_rate=0.01)
    outcome = train_siamese(model, batches, epochs=[1, 3], evaluate=lambda epoch: epoch * 10)
    assert outcome["checkpoints"] == {1: 10, 3: 30}
    assert len(outcome["history"]["loss"]) == 3 and "accuracy" in outcome["history"]
    # The engine's standard callbacks ran too (the epoch timer's column).
    assert len(outcome["history"]["epoch_seconds"]) == 3
    assert outcome["training_seconds"][1] <= outcome["training_seconds"][3]
    with pytest.raises(ValueError, match="positive integers"):
        train_siamese(model, batches, epochs=[0])
    assert not hasattr(siamese, "train_siamese")  # the engine owns training


def test_choose_identification_threshold_separates_genuine_and_impostors():
    genuine, impostor = np.array([0.1, 0.2, 0.25, 0.3]), np.array([0.6, 0.7, 0.9])
    threshold = siamese.choose_identification_threshold(genuine, impostor)
    assert 0.3 < threshold < 0.6
    # A false-accept target: at most a third of the impostors accepted.
    loose = siamese.choose_identification_threshold(genuine, impostor, target=1 / 3)
    assert 0.6 < loose < 0.7
    assert siamese.choose_identification_threshold(genuine, impostor, target=0.0) == pytest.approx(0.45)
    with pytest.raises(ValueError):
        siamese.choose_identification_threshold([], impostor)
    with pytest.raises(ValueError):
        siamese.choose_identification_threshold(genuine, impostor, target=1.5)


def test_identification_threshold_saved_and_used(verifier_parts, tmp_path):
    folder, people, embedding = verifier_parts
    verifier = siamese.FaceVerifier(embedding, threshold=2.5, identification_threshold=1e-3)
    assert verifier.open_set_threshold == 1e-3
    verifier.save(tmp_path / "verifier")
    loaded = siamese.FaceVerifier.load(tmp_path / "verifier")
    assert loaded.threshold == 2.5 and loaded.identification_threshold == 1e-3
    gallery = loaded.enroll({name: files[:2] for name, files in people.items()}, method="nearest")
    # Beyond 1e-3 (an image not in the gallery): unknown, although the verification
    # threshold (2.5 > any unit-sphere distance) would accept it.
    result = loaded.identify(people["alice"][2], gallery)
    assert result.name == siamese.UNKNOWN and result.threshold == 1e-3
    assert loaded.verify(people["alice"][2], people["bob"][0]).same_person
    # None falls back to the verification threshold.
    fallback = siamese.FaceVerifier(embedding, threshold=2.5)
    assert fallback.identify(people["alice"][2], gallery).name == "alice"
    fallback.save(tmp_path / "plain")
    assert siamese.FaceVerifier.load(tmp_path / "plain").identification_threshold is None


def test_identification_threshold_from_people_is_seeded(verifier_parts):
    folder, people, embedding = verifier_parts
    verifier = siamese.FaceVerifier(embedding, threshold=1.0)
    genuine, impostor = siamese.identification_distances(verifier, folder, gallery_images=2,
                                                         rounds=3, seed=1)
    # 3 people, two enrolled per round (1 probe each), one stranger (3 images).
    assert genuine.shape == (6,) and impostor.shape == (9,)
    first = siamese.identification_threshold_from_people(verifier, folder, gallery_images=2, seed=1)
    again = siamese.identification_threshold_from_people(verifier, folder, gallery_images=2, seed=1)
    assert first == again and np.isfinite(first)
    with pytest.raises(ValueError, match="at least two people"):
        siamese.identification_distances(verifier, {"a": people["alice"]}, gallery_images=2)


# --------------------------------------------------------------------------- performance


def test_mixed_precision_keeps_embeddings_distances_and_loss_float32(tmp_path):
    """Under bfloat16 the SqueezeNet computes in bfloat16; embeddings, distances and the
    loss stay float32, the model trains and saves/loads."""
    from kerasbench.performance import choose_policy

    policy = choose_policy("squeezenet1_0", mixed_precision=True, jit_compile=False,
                           augment_on_device=False)
    assert policy.compute_dtype == "bfloat16"
    embedding = siamese.build_embedding_network("1.0", image_size=IMAGE_SIZE, weights=None,
                                                embedding_dim=8, policy=policy)
    backbone = embedding.get_layer(index=1)
    assert backbone.dtype_policy.compute_dtype == "bfloat16"
    model = siamese.build_siamese_model(embedding)
    assert keras.config.dtype_policy().name == "float32"  # the scope was left
    assert model.get_layer("distance").compute_dtype == "float32"
    siamese.compile_siamese(model, optimizer="sgd", learning_rate=0.01)
    rng = np.random.default_rng(2)
    first = rng.uniform(0, 255, (4, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    second = rng.uniform(0, 255, (4, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    labels = np.array([1, 0, 1, 0], "float32")
    history = model.fit((first, second), labels, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert embedding.predict_on_batch(first).dtype == np.float32
    distances = model.predict_on_batch([first, second])
    assert distances.dtype == np.float32 and np.isfinite(distances).all()
    path = tmp_path / "mixed.keras"
    model.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path).predict_on_batch([first, second]),
                               distances, rtol=1e-5, atol=1e-6)


def test_augmentation_inside_the_siamese_model_acts_in_training_only():
    from kerasbench.pipeline import Augmentation

    embedding = _small_embedding()
    augmentation = Augmentation.from_image_data_generator(horizontal_flip=True,
                                                          width_shift_range=0.2, seed=3)
    model = siamese.build_siamese_model(embedding, augmentation=augmentation)
    plain = siamese.build_siamese_model(embedding)
    images = np.random.default_rng(4).uniform(0, 255, (6, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    # Inference: no augmentation, the same distances as the model without it.
    np.testing.assert_allclose(model([images, images], training=False),
                               plain([images, images], training=False), rtol=1e-5, atol=1e-6)
    # Training: the two branches transform the same images independently.
    augmented = np.asarray(model([images, images], training=True)).ravel()
    assert (augmented > 1e-3).any()
