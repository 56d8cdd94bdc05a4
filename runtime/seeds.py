"""One ``--seed`` for every random source: Python, NumPy and Keras at the start of each
network's training, and a derived seed for each purpose (a subject's sampling, a
unit's network, a forest), so that adding a purpose never shifts another's numbers."""
import hashlib
import json


def derived_seed(seed, *parts):
    """A seed in [0, 2^32) for one purpose, from the run's seed and the purpose's name."""
    digest = hashlib.sha256(json.dumps([seed, *parts], default=str).encode()).hexdigest()
    return int(digest[:8], 16)


def seed_everything(seed):
    """Python, NumPy and Keras (TensorFlow) random sources from one number."""
    import keras  # here, so that the module stays importable before TensorFlow starts
    keras.utils.set_random_seed(seed % 2 ** 32)  # also seeds Python's random and NumPy
