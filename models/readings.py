"""The readings of what the paper leaves open, each a named choice (docs/design.md, Decisions).

- which networks normalize every feature vector before the mean (§II-C);
- the encoder's last block, which yields the representation (the lost Fig. 2);
- how modality dropout draws "a random subset of 1 to M input modalities" (§II-B).
"""
import numpy as np

# Which networks normalize every feature vector (§II-C) before the mean:
VECTOR_NORMALIZATION_SCOPES = {
    "never": "no network (the model before §II-C was implemented)",
    "unless-per-feature": "every network without per-feature normalization, at every alpha, "
                          "baselines included (default: §II-D presents per-feature "
                          "normalization as the step that replaces it)",
    "with-similarity": "networks without per-feature normalization and with alpha > 0 (the "
                       "paper's stated motive is the similarity term)",
    "always": "every network, before per-feature normalization where that is on",
}
# The encoder's last block, which yields the representation (the lost Fig. 2 would say):
LAST_BLOCKS = {"bn-lrelu": "convolution, batch normalization, leaky ReLU (default: as every "
                           "other block)",
               "lrelu": "convolution, leaky ReLU", "linear": "convolution only"}
# Modality dropout's draw of "a random subset of 1 to M input modalities" (§II-B):
DROPOUT_DISTRIBUTIONS = {
    "uniform-subsets": "uniform over the 2^M - 1 non-empty subsets (default)",
    "uniform-count": "a uniform number of modalities 1..M, then a uniform subset of that size"}


def uses_vector_normalization(scope, per_feature_normalization, alpha):
    """Whether a network with these settings normalizes its feature vectors (§II-C)."""
    if isinstance(scope, bool):
        return scope
    if scope not in VECTOR_NORMALIZATION_SCOPES:
        raise ValueError(f"unknown feature-vector normalization scope {scope!r}; choose from "
                         f"{', '.join(VECTOR_NORMALIZATION_SCOPES)}")
    return {"never": False, "always": True,
            "unless-per-feature": not per_feature_normalization,
            "with-similarity": not per_feature_normalization and alpha > 0}[scope]


def dropout_subset_weights(distribution, modality_count):
    """Weights of the 2^M − 1 non-empty subsets (ordered as ``all_nonempty_subsets``)."""
    sizes = all_nonempty_subsets(modality_count).sum(axis=1).astype(int)
    if distribution == "uniform-subsets":
        return np.ones(len(sizes))
    if distribution == "uniform-count":  # P(size k) = 1/M, shared by the C(M, k) subsets
        subsets_of_size = np.bincount(sizes, minlength=modality_count + 1)
        return 1.0 / (modality_count * subsets_of_size[sizes])
    raise ValueError(f"unknown dropout distribution {distribution!r}; choose from "
                     f"{', '.join(DROPOUT_DISTRIBUTIONS)}")


def all_nonempty_subsets(modality_count):
    """The 2^M − 1 non-empty modality masks, row k = binary digits of k + 1."""
    codes = np.arange(1, 2 ** modality_count)
    return ((codes[:, None] >> np.arange(modality_count)) & 1).astype("float32")
