"""The benchmarks' arithmetic: the FLOP count against a count by hand, the alternatives
against NumPy, the profile's rows (the timings themselves are not tested)."""
import importlib.util
from pathlib import Path

import pytest

from models import build_axial_network


def load_speed_module():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"
    spec = importlib.util.spec_from_file_location("speed", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_flops_of_the_paper_network_match_a_hand_count():
    # Multiply-adds per modality, forward: conv1 11³·5³·1·32, conv2 5³·3³·32·64,
    # conv3 1·5³·64·128, and the decoder mirrors them (transposed: input positions).
    conv1, conv2, conv3 = 11 ** 3 * 125 * 32, 125 * 27 * 32 * 64, 125 * 64 * 128
    forward = 2 * (conv1 + conv2 + conv3) * 2  # FLOPs, encoder + decoder
    per_modality = 3 * forward - 2 * conv1  # no input gradient for the patch-facing layer
    speed = load_speed_module()
    for modality_count in (2, 3):
        network = build_axial_network([f"m{m}" for m in range(modality_count)])
        assert speed.training_flops_per_sample(network) == modality_count * per_modality


def load_benchmark(name):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_matrix_product_alternatives_compute_the_layers_sums():
    """benchmarks/layer_alternatives.py times these in place of the network's layers: both
    must give the convolution's sums, checked against NumPy's einsum."""
    import numpy as np
    import tensorflow as tf
    alternatives = load_benchmark("layer_alternatives")
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(5, 5, 5, 3, 4)).astype("float32")
    encoder_map = rng.normal(size=(2, 5, 5, 5, 3)).astype("float32")
    expected = np.einsum("ndhwc,dhwck->nk", encoder_map, kernel).reshape(2, 1, 1, 1, 4)
    for compute in (alternatives.convolution, alternatives.convolution_as_matrix_product):
        np.testing.assert_allclose(compute(tf, encoder_map, kernel), expected, rtol=1e-4, atol=1e-4)
    representation = rng.normal(size=(2, 1, 1, 1, 4)).astype("float32")
    expected = np.einsum("nk,dhwck->ndhwc", representation.reshape(2, 4), kernel)
    for compute in (alternatives.transposed_convolution, alternatives.transposed_as_matrix_product):
        np.testing.assert_allclose(compute(tf, representation, kernel), expected, rtol=1e-4,
                                   atol=1e-4)


@pytest.mark.slow
def test_the_step_profile_has_every_layer_and_sums_to_the_step():
    """benchmarks/profile_step.py: one row per layer of an encoder and a decoder, the
    pieces between them, and a remainder that makes the shares add up to the step."""
    profile = load_benchmark("profile_step")
    filters = (2, 4, 8)
    rows, step, fit_step = profile.profile_network(filters, 2, repeats=1)
    network = build_axial_network(["m0", "m1"], normalization=True, filters=filters)
    layers = [layer.name.replace("_m0", "") for model in ("encoder_m0", "decoder_m0")
              for layer in network.get_layer(model).layers[1:]]
    named = [row[0].split(" ")[0] for row in rows[:len(layers)]]
    assert [n for n in named if not n.startswith("reshape")] == [
        n for n in layers if not n.startswith("reshape")]  # Keras numbers the reshape layers
    assert {row[1] for row in rows} >= {"convolution", "transposed convolution",
                                         "batch normalization", "leaky ReLU", "optimizer",
                                         "mean and losses", "input pipeline"}
    assert step > 0 and fit_step > 0
    # The table against shares computed here from hand-made timings: each piece's share
    # of the step, the input pipeline outside the step, the remainder and the kinds.
    made = [("conv_1", "convolution", 2.0, 3.0), ("bn_1", "batch normalization", 1.0, 0.5),
            ("conv_2", "convolution", 0.5, 1.0), ("loader", "input pipeline", 4.0, 0.0)]
    lines = profile.table_lines("hand-made", made, 10.0, 12.5)
    assert "| conv_1 | convolution | 2.00 | 3.00 | 50.0 % |" in lines
    assert "| bn_1 | batch normalization | 1.00 | 0.50 | 15.0 % |" in lines
    assert "| loader | input pipeline | 4.00 | 0.00 |  |" in lines
    assert ("| not attributed (train_step − pieces) | overlap and overhead | 2.00 | | 20.0 % |"
            in lines)
    assert any(line.startswith("| fit − train_step") and "| 2.50 |" in line and "25.0 %" in line
               for line in lines)
    assert "| convolution | 2.50 | 4.00 | 65.0 % |" in lines  # the two convolutions together


def test_processes_side_by_side_report_their_own_figures_and_a_failure_by_command():
    """benchmarks/speed.py adds up processes run together: each one's name=value lines are
    read back as its own; a process that fails is named with its error output."""
    import sys
    speed = load_speed_module()
    commands = [[sys.executable, "-c", f"print('train_samples_per_s={rate}')"]
                for rate in (193.7, 195.1)]
    figures = speed.side_by_side(commands)
    assert [f["train_samples_per_s"] for f in figures] == [193.7, 195.1]
    with pytest.raises(RuntimeError, match="boom"):
        speed.side_by_side([[sys.executable, "-c", "import sys; sys.exit('boom')"]])


def test_both_versions_of_the_last_layer_equal_keras_transposed_convolution_and_gradients():
    """The decoders' last layer under arithmetic versions 3 (benchmarks/last_layer_forward.py)
    and 4 (models.fast_layers.one_channel_transposed): the same output and gradients as
    Keras's Conv3DTranspose (TensorFlow's conv3d_transpose) to float32 round-off, on a map
    and a kernel whose three axes all differ in length (an axis mixed up anywhere would
    show), and version 4's forward pass against NumPy's sum over every voxel and offset."""
    import numpy as np
    import tensorflow as tf
    from models.fast_layers import one_channel_transposed
    last_layer = load_benchmark("last_layer_forward")
    rng = np.random.default_rng(3)
    inputs = tf.constant(rng.normal(size=(2, 4, 6, 7, 3)).astype("float32"))
    kernel = tf.constant(rng.normal(size=(2, 3, 5, 1, 3)).astype("float32"))
    output_shape = [2, 4 + 2 - 1, 6 + 3 - 1, 7 + 5 - 1, 1]
    upstream = tf.constant(rng.normal(size=output_shape).astype("float32"))

    def keras_own(x, w):
        return tf.nn.conv3d_transpose(x, w, output_shape, strides=[1] * 5, padding="VALID")
    results = []
    for compute in (keras_own, last_layer.version_3(tf), one_channel_transposed):
        with tf.GradientTape() as tape:
            tape.watch([inputs, kernel])
            outputs = compute(inputs, kernel)
        results.append([outputs, *tape.gradient(outputs, [inputs, kernel],
                                                output_gradients=upstream)])
    for expected, *versions in zip(*results):
        for version in versions:
            assert version.shape == expected.shape
            np.testing.assert_allclose(version.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    expected = np.zeros(output_shape[:4], np.float32)
    for a, b, c in np.ndindex(2, 3, 5):
        expected[:, a:a + 4, b:b + 6, c:c + 7] += np.einsum(
            "ndhwc,c->ndhw", inputs.numpy(), kernel.numpy()[a, b, c, 0])
    np.testing.assert_allclose(results[2][0].numpy()[..., 0], expected, rtol=1e-5, atol=1e-5)
