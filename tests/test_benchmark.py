"""The benchmark's FLOP count, against a count by hand (the timings are not tested)."""
import importlib.util
from pathlib import Path

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
