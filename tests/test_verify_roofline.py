"""The roofline arithmetic on hand-worked layers, rank correlation on textbook data, the peaks table.

No torch needed except for the on-the-spot benchmark. Every expected number is written out
from the formula (or taken from the cited source), never from our own output.
"""

from __future__ import annotations

import textwrap

import pytest

from archcalc.analysis import analyze_graph
from archcalc.spec import load_spec_text
from archcalc.verify.peaks import KNOWN_GPUS, DevicePeaks, lookup_gpu, measure_peaks
from archcalc.verify.roofline import (
    RooflinePoint,
    layer_bytes,
    layer_flops,
    pearson,
    ranks,
    spearman,
)

SPEC = """\
name: resnet_stage1_conv
input: 56x56x64
layers:
  - conv: {filters: 64, kernel: 3, pad: 1, bias: false}
  - relu
"""

# a 3x3 convolution 64 -> 64 on 56x56 (ResNet's stage 1), batch 1, float32, no bias
CONV_FLOPS = 2 * (64 * 56 * 56) * (64 * 3 * 3)  # 2 FLOPs per MAC, n = Cin*k*k per output
assert CONV_FLOPS == 231_211_008
CONV_BYTES = (64 * 56 * 56 + 64 * 56 * 56 + 64 * 64 * 3 * 3) * 4  # input + output + weights, 4 B each
assert CONV_BYTES == 1_753_088

# NVIDIA T4 datasheet: 8.1 TFLOP/s FP32, 320 GB/s
T4 = DevicePeaks("T4", 8.1, 8.1, 8.1, 65.0, 320.0, "NVIDIA T4 datasheet")
# a made-up device whose ridge point (1000e12 / 2000e9 = 500 FLOP/B) is above the conv's intensity
STEEP = DevicePeaks("steep", 1000.0, 1000.0, 1000.0, 1000.0, 2000.0, "test")


@pytest.fixture(scope="module")
def rows():
    report = analyze_graph(load_spec_text(textwrap.dedent(SPEC)), batch=1, dtype="float32")
    return {row.op: row for row in report.rows}


def conv_point(rows, peaks: DevicePeaks) -> RooflinePoint:
    row = rows["conv"]
    nbytes = layer_bytes(row.input_shapes, row.output_shape, 1, 4, row.weights + row.biases + row.buffers)
    return RooflinePoint(layer_flops(row.ops), nbytes, peaks.flops_per_s("float32", dot=True), peaks.bandwidth)


def test_conv_flops_bytes_and_intensity(rows):
    point = conv_point(rows, T4)
    assert point.flops == CONV_FLOPS
    assert point.bytes == CONV_BYTES
    assert point.intensity == pytest.approx(231_211_008 / 1_753_088)
    assert point.intensity == pytest.approx(131.888, abs=1e-3)  # FLOP per byte


def test_conv_is_compute_bound_below_the_ridge(rows):
    point = conv_point(rows, T4)
    assert point.ridge == pytest.approx(8.1e12 / 320e9)  # 25.3 FLOP/B
    assert point.intensity > point.ridge
    assert point.bound == "compute"
    assert point.seconds == pytest.approx(CONV_FLOPS / 8.1e12)  # 28.5 us
    assert point.attainable_flops == pytest.approx(8.1e12)


def test_conv_is_memory_bound_above_the_ridge(rows):
    point = conv_point(rows, STEEP)
    assert point.ridge == pytest.approx(500.0)
    assert point.bound == "memory"
    assert point.seconds == pytest.approx(CONV_BYTES / 2000e9)  # 0.877 us
    assert point.attainable_flops == pytest.approx(CONV_FLOPS / CONV_BYTES * 2000e9)  # I x W, under the roof


def test_relu_is_memory_bound_everywhere(rows):
    row = rows["relu"]
    elements = 64 * 56 * 56
    assert layer_flops(row.ops) == elements  # one comparison per element
    nbytes = layer_bytes(row.input_shapes, row.output_shape, 1, 4)
    assert nbytes == 2 * elements * 4
    for _, peaks in KNOWN_GPUS:
        point = RooflinePoint(elements, nbytes, peaks.flops_per_s("float32", dot=False), peaks.bandwidth)
        assert point.intensity == pytest.approx(0.125)
        assert point.bound == "memory"


def test_batch_and_dtype_scale_activations_not_weights(rows):
    row = rows["conv"]
    weights = row.weights
    assert layer_bytes(row.input_shapes, row.output_shape, 8, 2, weights) == (
        8 * 2 * 64 * 56 * 56 + 64 * 64 * 9
    ) * 2
    assert layer_bytes(row.input_shapes, row.output_shape, 8, 2, weights, view=True) == 0


def test_nothing_to_do_is_neither_bound():
    point = RooflinePoint(0, 0, 1e12, 1e11)
    assert point.bound == "none" and point.seconds == 0 and point.intensity is None


def test_spearman_wikipedia_example():
    # Wikipedia, "Spearman's rank correlation coefficient", example: IQ and hours of TV per week
    iq = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110]
    tv = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17]
    assert spearman(iq, tv) == pytest.approx(-29 / 165)


def test_spearman_with_ties_scipy_docstring_example():
    # scipy.stats.spearmanr documentation: spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) -> 0.8207826816681233
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(0.8207826816681233)


def test_spearman_edge_cases():
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1], [2]) is None
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    assert pearson([1, 2], [1, 2, 3]) is None


def test_fractional_ranks():
    assert ranks([10, 20, 20, 30]) == [1, 2.5, 2.5, 4]
    assert ranks([3, 1, 2]) == [3, 1, 2]


@pytest.mark.parametrize(
    ("device_name", "expected", "bandwidth"),
    [
        ("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM", 3350),
        ("NVIDIA H100 PCIe", "NVIDIA H100 PCIe", 2000),
        ("NVIDIA H200", "NVIDIA H200 SXM", 4800),
        ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB SXM", 2039),
        ("NVIDIA A100 80GB PCIe", "NVIDIA A100 80GB PCIe", 1935),
        ("NVIDIA A100-SXM4-40GB", "NVIDIA A100 40GB", 1555),
        ("NVIDIA L4", "NVIDIA L4", 300),
        ("NVIDIA L40S", "NVIDIA L40S", 864),  # NVIDIA L40S datasheet: 864 GB/s GDDR6
        ("Tesla T4", "NVIDIA T4", 320),
        ("NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090", 1008),
    ],
)
def test_known_gpus(device_name, expected, bandwidth):
    peaks = lookup_gpu(device_name)
    assert peaks is not None and peaks.name == expected
    assert peaks.bandwidth_gbs == bandwidth
    assert peaks.source and not peaks.measured


@pytest.mark.parametrize("device_name", ["NVIDIA L40", "NVIDIA GeForce RTX 3090", "AMD Instinct MI300X", "cpu"])
def test_unknown_devices_are_measured_not_guessed(device_name):
    assert lookup_gpu(device_name) is None


def test_which_peak_a_layer_gets():
    h100 = lookup_gpu("NVIDIA H100 80GB HBM3")
    assert h100.flops_per_s("float32", dot=True, tf32_allowed=False) == pytest.approx(67e12)
    assert h100.flops_per_s("float32", dot=True, tf32_allowed=True) == pytest.approx(494.7e12)
    assert h100.flops_per_s("bfloat16", dot=True) == pytest.approx(989.4e12)
    assert h100.flops_per_s("float16", dot=True) == pytest.approx(989.4e12)
    assert h100.flops_per_s("bfloat16", dot=False) == pytest.approx(67e12)
    assert h100.bandwidth == pytest.approx(3.35e12)


def test_table_is_dense_and_ordered():
    for _, peaks in KNOWN_GPUS:
        assert 0 < peaks.fp32 <= peaks.tf32 <= peaks.bf16 or peaks.name == "NVIDIA T4"
        assert peaks.fp16 >= peaks.fp32 and peaks.bandwidth_gbs > 100


def test_measured_peaks_on_cpu():
    pytest.importorskip("torch")
    peaks = measure_peaks("cpu", "float32", "this CPU", matmul_size=128, copy_mib=4, repeats=2)
    assert peaks.measured and peaks.fp32 > 0 and peaks.bandwidth_gbs > 0
    assert peaks.fp32 == peaks.tf32 == peaks.bf16 == peaks.fp16
    assert "measured" in peaks.source
