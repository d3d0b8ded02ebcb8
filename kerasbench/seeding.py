"""One seeding function for Python, NumPy, Keras/TensorFlow and tf.data shuffles."""

import os
import random

import numpy as np


def set_seed(seed: int, deterministic: bool = False) -> int:
    """Seed every random source a run uses and return the seed.

    ``deterministic=True`` also asks TensorFlow for deterministic kernels, which makes
    repeated runs bit-identical at some speed cost (and raises for ops that have no
    deterministic implementation).
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    import keras
    import tensorflow as tf

    seed = int(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return seed
