"""The torch builder, op by op: small graphs whose every layer is checked against torch.

For each case the spec is built into a module and run once; for every row of
the report, the hooked output shape, the module's parameters and buffers must
equal ours, and the ``fvcore`` / ``torch`` conventions must equal fvcore's
``FlopCountAnalysis`` and torch's ``FlopCounterMode`` on that module.
"""

from __future__ import annotations

import logging
import textwrap
import warnings

import pytest

from archcalc.analysis import analyze_graph
from archcalc.errors import LayerError
from archcalc.ir import INPUT, GraphBuilder
from archcalc.layers import all_families, all_ops
from archcalc.spec import load_spec_text

torch = pytest.importorskip("torch")
fvcore_nn = pytest.importorskip("fvcore.nn")

from torch.utils.flop_counter import FlopCounterMode

from archcalc.torch_builder import build_module, supported_ops

torch.set_num_threads(2)

#: name -> (input as a spec writes it, layers as YAML)
CASES = {
    "conv_groups_dilation_stride": ("17x17x4", "- conv: {filters: 8, kernel: 3, stride: 2, pad: 2, dilation: 2, groups: 2}"),
    "conv_rect_kernel_no_bias": ("9x12x3", "- conv: {filters: 5, kernel: [3, 5], stride: [1, 2], pad: [1, 0], bias: false}"),
    "conv_same_even_kernel": ("10x11x3", "- conv: {filters: 6, kernel: 4, pad: same, dilation: 1}"),
    "conv_same_dilated": ("10x10x3", "- conv: {filters: 6, kernel: 2, pad: same, dilation: 3}"),
    "conv_depthwise_multiplier": ("8x8x4", "- conv: {kernel: 3, pad: 1, depthwise: true, multiplier: 2}"),
    "convtranspose": (
        "7x7x4",
        "- convtranspose: {filters: 6, kernel: 3, stride: 2, pad: 1, output_padding: 1, groups: 2}",
    ),
    "convtranspose_dilated": ("5x6x3", "- convtranspose: {filters: 4, kernel: [2, 3], stride: [3, 1], dilation: 2}"),
    "maxpool_ceil_pad": ("15x15x3", "- maxpool: {kernel: 3, stride: 2, pad: 1, ceil_mode: true}"),
    "maxpool_ceil_drops_last_window": ("6x6x2", "- maxpool: {kernel: 2, stride: 2, pad: 1, ceil_mode: true}"),
    "maxpool_dilation": ("12x12x2", "- maxpool: {kernel: 2, stride: 1, dilation: 3}"),
    "avgpool_ceil_pad": ("14x13x3", "- avgpool: {kernel: 3, stride: 2, pad: 1, ceil_mode: true, count_include_pad: false}"),
    "adaptive_avgpool": ("10x13x3", "- adaptive_avgpool: [3, 5]"),
    "adaptive_maxpool": ("9x9x3", "- adaptive_maxpool: 4"),
    "global_pools": ("6x5x3", "- concat: [[global_avgpool], [global_maxpool]]"),
    "upsample_nearest": ("5x7x3", "- upsample: 2"),
    "upsample_bilinear_size": ("5x7x3", "- upsample: {size: [8, 9], mode: bilinear}"),
    "concat": (
        "8x8x3",
        """\
        - concat:
            - [conv: {filters: 4, kernel: 1}]
            - [conv: {filters: 2, kernel: 3, pad: 1}, relu]
            - [maxpool: {kernel: 3, stride: 1, pad: 1}]
            - []
        """,
    ),
    "mul_broadcast_squeeze_excitation": (
        "6x6x8",
        """\
        - mul:
            - []
            - [global_avgpool, conv: {filters: 2, kernel: 1}, relu, conv: {filters: 8, kernel: 1}, sigmoid]
        """,
    ),
    "add_residual": (
        "6x6x4",
        """\
        - residual:
            body: [conv: {filters: 8, kernel: 3, stride: 2, pad: 1, bias: false}, batchnorm]
            shortcut: projection
        """,
    ),
    "linear_flattening_an_image": ("4x5x3", "- linear: {units: 7, flatten: true}\n- linear: {units: 2, flatten: true}"),
    "linear_on_image_and_sequence": ("4x5x3", "- linear: 7\n- reshape: [12, 7]\n- linear: {units: 2, bias: false}"),
    "layernorm_sequence": ("10x6", "- layernorm\n- layernorm: {dims: 2, affine: false}"),
    "layernorm_image": ("5x5x4", "- layernorm: {dims: 3}"),
    "batchnorm_image": ("5x5x4", "- batchnorm\n- batchnorm: {affine: false, eps: 0.001}"),
    "batchnorm_vector_and_sequence": ("12", "- batchnorm\n- reshape: [3, 4]\n- batchnorm: {track_running_stats: false}"),
    "lrn": ("7x7x6", "- lrn: {size: 3, alpha: 0.001, beta: 0.5, k: 2}"),
    "softmax": ("4x6", "- softmax: 1\n- softmax: 0\n- flatten\n- softmax"),
    "reshape_flatten": ("4x6x2", "- reshape: [6, -1]\n- flatten\n- reshape: [3, 4, 4]"),
    "activations": (
        "3x4x2",
        "- relu\n- relu6\n- leakyrelu: 0.2\n- sigmoid\n- tanh\n- gelu\n- silu\n- hardswish",
    ),
    "dropout_identity": ("10", "- dropout: 0.3\n- identity\n- linear: 4"),
}


def _matmul_broadcast():
    builder = GraphBuilder("matmul", (2, 5, 4))
    builder.add("b", "reshape", {"shape": [1, 4, 10]}, (INPUT,))
    builder.add("product", "matmul", {}, (INPUT, "b"))
    return builder.build()


def _attention_heads():
    builder = GraphBuilder("attention", (4, 6, 8))
    builder.add("k", "linear", {"units": 8}, (INPUT,))
    builder.add("v", "linear", {"units": 5}, (INPUT,))
    builder.add("attn", "attention", {"causal": True}, (INPUT, "k", "v"))
    return builder.build()


def _attention_grouped_query():
    builder = GraphBuilder("gqa", (4, 6, 8))
    builder.add("k", "reshape", {"shape": [2, 12, 8]}, (INPUT,))
    builder.add("v", "linear", {"units": 5, "bias": False}, ("k",))
    builder.add("attn", "attention", {"scale": 0.5}, (INPUT, "k", "v"))
    return builder.build()


def _grid_sample():
    """An image sampled at a grid made from the image itself (the YAML format wires one input)."""
    builder = GraphBuilder("grid", (3, 6, 6))
    builder.add("points", "reshape", {"shape": [6, 9, 2]}, (INPUT,))
    builder.add("sampled", "grid_sample", {"mode": "bilinear", "align_corners": False}, (INPUT, "points"))
    return builder.build()


#: every family's own examples (archcalc/layers/<family>.py, ``Family.examples``) are cases too
CASES.update(
    {f"{name}:{case}": example for name, family in all_families().items() for case, example in family.examples.items()}
)

#: ops the YAML format cannot wire (several inputs): name -> (op, graph maker)
GRAPH_CASES = {
    "matmul_broadcast": ("matmul", _matmul_broadcast),
    "attention_heads": ("attention", _attention_heads),
    "attention_grouped_query": ("attention", _attention_grouped_query),
    "grid_sample": ("grid_sample", _grid_sample),
}


def spec_text(input_text: str, layers: str) -> str:
    body = textwrap.indent(textwrap.dedent(layers), "  ")
    return f"name: case\ninput: {input_text}\nlayers:\n{body}\n"


def graph_of(case: str):
    return load_spec_text(spec_text(*CASES[case]))


def fvcore_blind_spot(node) -> bool:
    """A conv built with ``padding="same"`` (the uneven pads of ``pad: same`` with an even
    effective kernel): torch traces it as ``aten::_convolution_mode``, for which fvcore 0.1.5
    has no handle (``fvcore/nn/flop_count.py`` handles ``aten::_convolution`` only), so
    fvcore counts it as 0 and lists it as unsupported."""
    pads = node.attrs.get("pad", ())
    return node.op == "conv" and any(before != after for before, after in pads)


def run_and_check(graph, batch: int = 2) -> list[str]:
    """Run the built module with hooks and the two flop counters; return the differences."""
    torch.manual_seed(0)
    module = build_module(graph)
    leaves = dict(module.named_modules())
    seen: dict[str, list[tuple[int, ...]]] = {}
    handles = [
        leaves[node.name].register_forward_hook(
            lambda _m, _i, out, name=node.name: seen.setdefault(name, []).append(tuple(out.shape))
        )
        for node in graph.nodes
    ]
    if graph.input_dtype in ("int64", "int32"):  # token ids: 0 and 1 are rows of every table
        x = torch.randint(0, 2, (batch, *graph.input_shape), dtype=getattr(torch, graph.input_dtype))
    else:
        x = torch.randn(batch, *graph.input_shape)
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter, warnings.catch_warnings():
            # torch warns that an even kernel with padding="same" pads a copy of the input
            warnings.filterwarnings("ignore", message="Using padding='same'")
            module(x)
    finally:
        for handle in handles:
            handle.remove()
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        fvcore_total = (
            fvcore_nn.FlopCountAnalysis(module, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False).total()
        )
    problems = []
    for row in analyze_graph(graph, batch=batch).rows:
        leaf = leaves[row.name]
        shapes = seen.get(row.name, [])
        if shapes != [(batch, *row.output_shape)]:
            problems.append(f"{row.name}: shape {row.output_shape}, torch saw {shapes}")
        params = sum(p.numel() for p in leaf.parameters(recurse=False))
        if params != row.weights + row.biases:
            problems.append(f"{row.name}: params {row.weights}+{row.biases}, torch {params}")
        buffers = sum(b.numel() for b in leaf.buffers(recurse=False))
        if buffers != row.buffers:
            problems.append(f"{row.name}: buffers {row.buffers}, torch {buffers}")
    fvcore_rows = analyze_graph(graph, batch=batch, convention="fvcore").rows
    ours_fvcore = sum(row.flops for row in fvcore_rows if not fvcore_blind_spot(graph.node(row.name)))
    if ours_fvcore != fvcore_total:
        problems.append(f"fvcore total: ours {ours_fvcore}, fvcore {fvcore_total}")
    ours_torch = analyze_graph(graph, batch=batch, convention="torch").totals.flops
    if ours_torch != counter.get_total_flops():
        problems.append(f"torch total: ours {ours_torch}, FlopCounterMode {counter.get_total_flops()}")
    return problems


@pytest.mark.parametrize("case", sorted(CASES))
def test_case_matches_torch(case):
    problems = run_and_check(graph_of(case))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", sorted(GRAPH_CASES))
def test_multi_input_case_matches_torch(case):
    op, make = GRAPH_CASES[case]
    if op not in all_ops():
        pytest.skip(f"the '{op}' rule is not registered in archcalc.layers")
    problems = run_and_check(make())
    assert not problems, "\n".join(problems)


def buildable_ops() -> set[str]:
    """Every registered op but those that only the live-module capture produces (no spec writes them)."""
    return {op for op, rule in all_ops().items() if rule.provides("to_torch")}


def test_cases_cover_every_op():
    covered = {node.op for case in CASES for node in graph_of(case).nodes}
    covered |= {op for op, _ in GRAPH_CASES.values() if op in all_ops()}
    assert covered == buildable_ops(), f"ops without a builder test: {sorted(buildable_ops() - covered)}"


def test_builder_knows_every_op():
    assert buildable_ops() <= set(supported_ops())


def test_module_is_in_eval_mode_and_names_nest():
    graph = graph_of("add_residual")
    module = build_module(graph)
    assert not any(m.training for m in module.modules())
    names = dict(module.named_modules())
    assert {node.name for node in graph.nodes} <= set(names)
    assert isinstance(names["downsample.0"], torch.nn.Conv2d)
    assert isinstance(names["downsample"], torch.nn.Module) and not list(names["downsample"].parameters(recurse=False))


def test_same_padding_matches_explicit_uneven_padding():
    graph = graph_of("conv_same_even_kernel")
    conv = build_module(graph).get_submodule(graph.nodes[0].name)
    assert conv.padding == "same"
    x = torch.randn(1, 3, 10, 11)
    top, bottom = graph.nodes[0].attrs["pad"][0]
    left, right = graph.nodes[0].attrs["pad"][1]
    padded = torch.nn.functional.pad(x, (left, right, top, bottom))
    expected = torch.nn.functional.conv2d(padded, conv.weight, conv.bias)
    torch.testing.assert_close(conv(x), expected)


def test_node_name_that_is_also_a_scope():
    builder = GraphBuilder("nested", (3, 8, 8))
    builder.add("block", "conv", {"filters": 4, "kernel": 3, "pad": 1}, (INPUT,))
    builder.add("block.act", "relu", {}, ("block",))
    builder.add("block.inner.conv", "conv", {"filters": 2, "kernel": 1}, ("block.act",))
    graph = builder.build()
    assert not run_and_check(graph)
    names = dict(build_module(graph).named_modules())
    assert isinstance(names["block"], torch.nn.Conv2d)
    assert isinstance(names["block.act"], torch.nn.ReLU)


def test_uneven_pool_padding_is_a_clear_error():
    builder = GraphBuilder("uneven", (3, 8, 8))
    builder.add("pool", "maxpool", {"kernel": 2, "stride": 1, "pad": "same"}, (INPUT,))
    with pytest.raises(LayerError, match="pool"):
        build_module(builder.build())


def test_reserved_name_is_a_clear_error():
    builder = GraphBuilder("reserved", (3, 8, 8))
    builder.add("forward", "relu", {}, (INPUT,))
    with pytest.raises(LayerError, match="forward"):
        build_module(builder.build())


def test_device_and_dtype():
    module = build_module(graph_of("batchnorm_image"), device="cpu", dtype="float64")
    assert {p.dtype for p in module.parameters()} == {torch.float64}
    out = module(torch.randn(1, 4, 5, 5, dtype=torch.float64))
    assert out.dtype == torch.float64

