"""A corpus of malformed inputs: each one ends in a short error and exit status 2, never a
traceback, a hang or exit status 1.

Specs, command-line arguments, answer files and module files (``file.py:Class`` with broken
code). For each case, one test asserts: exit status 2; at most 3 lines on stderr, starting with
``error:``; no traceback and no exception escaping the command; the file named, and its line
where the case has one (``name.yaml:4``).

A case is ``Case(id, args, files, line)``: ``args`` are the command line, where ``{dir}`` is the
folder holding ``files`` (name -> text or bytes); ``where`` is the file the error must name
(default: the first of ``files`` that ``args`` mention) and ``line`` its line.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import pytest


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    files: dict[str, str | bytes] = field(default_factory=dict)
    line: int | None = None
    where: str | None = None
    stdin: str | None = None

    def file_named(self) -> str | None:
        if self.where is not None:
            return self.where
        mentioned = [name for name in self.files if any(name in arg for arg in self.args)]
        return mentioned[0] if mentioned else None


def spec(id: str, text: str, line: int | None, *args: str, input: str | None = None) -> Case:
    """A spec file ``bad.yaml`` (dedented) analysed with ``args``; the error names ``line``."""
    extra = ("--input", input) if input else ()
    return Case(f"spec-{id}", ("{dir}/bad.yaml", *extra, *args), {"bad.yaml": textwrap.dedent(text).lstrip("\n")},
                line)


def layers(id: str, body: str, line: int | None, input: str = "8x8x3") -> Case:
    """A spec whose layers are ``body`` (YAML lines, dedented): the first layer is line 3."""
    text = f"input: {input}\nlayers:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ") + "\n"
    return Case(f"layer-{id}", ("{dir}/bad.yaml",), {"bad.yaml": text}, line)


def cli(id: str, *args: str) -> Case:
    return Case(f"cli-{id}", tuple(args))


def answers(id: str, name: str, text: str | bytes, line: int | None = None, *args: str) -> Case:
    content = textwrap.dedent(text).lstrip("\n") if isinstance(text, str) else text
    return Case(f"answers-{id}", ("check", f"{{dir}}/{name}", "--model", "lenet5", *args), {name: content}, line)


def module(id: str, code: str, line: int | None, attribute: str = "Net", *args: str, input: str = "8x8x3") -> Case:
    return Case(f"module-{id}", (f"{{dir}}/net.py:{attribute}", "--input", input, *args),
                {"net.py": textwrap.dedent(code).lstrip("\n")}, line)


CONV = "- conv: {filters: 4, kernel: 3}"

SPECS = [
    # -- the file itself ------------------------------------------------------------
    Case("spec-empty", ("{dir}/bad.yaml",), {"bad.yaml": ""}),
    Case("spec-only-comments", ("{dir}/bad.yaml",), {"bad.yaml": "# nothing here\n"}),
    Case("spec-latin1", ("{dir}/bad.yaml",), {"bad.yaml": "name: caf\xe9\ninput: 8x8x3\nlayers: [relu]\n".encode("latin-1")}, 1),
    Case("spec-latin1-line-3", ("{dir}/bad.yaml",), {"bad.yaml": "input: 8x8x3\nlayers:\n  - relu  # \xe9t\xe9\n".encode("latin-1")}, 3),
    Case("spec-binary", ("{dir}/bad.yaml",), {"bad.yaml": bytes(range(256)) * 4}),
    Case("spec-utf16", ("{dir}/bad.yaml",), {"bad.yaml": "input: 8x8x3\nlayers: [relu]\n".encode("utf-16")}),
    Case("spec-nul-bytes", ("{dir}/bad.yaml",), {"bad.yaml": b"input: 8x8x3\nlayers: [relu]\n\x00\x00\n"}),
    Case("spec-is-a-directory", ("{dir}/sub.yaml",), {"sub.yaml/keep": "x"}, where="sub.yaml"),
    spec("a-list", "- conv: {filters: 4, kernel: 3}\n", 1),
    spec("a-scalar", "just words\n", None),
    spec("a-number", "42\n", None),
    # -- YAML syntax --------------------------------------------------------------------
    spec("unclosed-brace", "input: 8x8x3\nlayers:\n  - conv: {filters: 4, kernel: 3\n", 4),
    spec("unclosed-bracket", "input: 8x8x3\nlayers: [relu, conv: {filters: 2, kernel: 1}\n", 3),
    spec("tab-indent", "input: 8x8x3\nlayers:\n\t- relu\n", 3),
    spec("unclosed-quote", "input: '8x8x3\nlayers: [relu]\n", 3),
    spec("bad-indent", "input: 8x8x3\nlayers:\n  - relu\n - relu\n", 4),
    spec("python-tag", "input: 8x8x3\nlayers: !!python/object:os.system [relu]\n", 2),
    spec("duplicate-key", "input: 8x8x3\nlayers: [relu]\nlayers: [relu]\n", 3),
    spec("duplicate-arg", "input: 8x8x3\nlayers:\n  - conv: {filters: 4, filters: 5, kernel: 3}\n", 3),
    spec("deep-nesting", "input: 8x8x3\nlayers: " + "[" * 3000 + "]" * 3000 + "\n", None),
    # -- top level ----------------------------------------------------------------------
    spec("no-layers", "input: 8x8x3\n", 1),
    spec("empty-layers", "input: 8x8x3\nlayers: []\n", 1),
    spec("layers-a-mapping", "input: 8x8x3\nlayers: {relu: 1}\n", 1),
    spec("layers-a-string", "input: 8x8x3\nlayers: relu\n", 1),
    spec("unknown-top-key", "input: 8x8x3\nlayer: [relu]\nlayers: [relu]\n", 2),
    spec("no-input", "layers: [relu]\n", 1),
    spec("input-words", "input: big\nlayers: [relu]\n", 1),
    spec("input-zero", "input: 0x8x3\nlayers: [relu]\n", 1),
    spec("input-negative", "input: [-8, 8, 3]\nlayers: [relu]\n", 1),
    spec("input-five-numbers", "input: 1x2x3x4x5\nlayers: [relu]\n", 1),
    spec("input-float", "input: 8.5x8x3\nlayers: [relu]\n", 1),
    spec("input-mapping-unknown", "input: {shape: 8x8x3, order: hwc}\nlayers: [relu]\n", 1),
    spec("input-layout-unknown", "input: {shape: 8x8x3, layout: whc}\nlayers: [relu]\n", 1),
    spec("input-list-of-words", "input: [a, b, c]\nlayers: [relu]\n", 1),
    spec("input-bool", "input: true\nlayers: [relu]\n", 1),
    spec("vars-a-list", "input: 8x8x3\nvars: [1, 2]\nlayers: [relu]\n", None),
    spec("input-notes-a-list", "input: 8x8x3\ninput_notes: [a]\nlayers: [relu]\n", 2),
    spec("input-notes-bad-key", "input: 8x8x3\ninput_notes: {big: note}\nlayers: [relu]\n", 2),
    spec("blocks-a-list", "input: 8x8x3\nblocks: [a, b]\nlayers: [relu]\n", 2),
]

LAYERS = [
    # -- entries ------------------------------------------------------------------------
    layers("a-number", "- 5", 3),
    layers("a-null", "-", 3),
    layers("two-keys", "- conv: {filters: 4}\n  relu: {}", 3),
    layers("unknown-type", "- convolve: {filters: 4}", 3),
    layers("unknown-type-bare", "- rleu", 3),
    layers("unknown-argument", "- conv: {filters: 4, kernal: 3}", 3),
    layers("missing-argument", "- conv: {kernel: 3}", 3),
    layers("args-a-list", "- conv: [4, 3]", 3),
    layers("args-a-string", "- relu: fast", 3),
    layers("group-unknown-key", "- {layers: [relu], times: 2}", 3),
    layers("group-layers-not-list", "- {name: g, layers: relu}", 3),
    layers("duplicate-name", "- conv: {name: a, filters: 4, kernel: 1}\n- conv: {name: a, filters: 4, kernel: 1}", 4),
    # -- convolution arguments --------------------------------------------------------------
    layers("kernel-zero", "- conv: {filters: 4, kernel: 0}", 3),
    layers("kernel-negative", "- conv: {filters: 4, kernel: -3}", 3),
    layers("kernel-words", "- conv: {filters: 4, kernel: big}", 3),
    layers("kernel-three-numbers", "- conv: {filters: 4, kernel: [3, 3, 3]}", 3),
    layers("kernel-fraction", "- conv: {filters: 4, kernel: 2.5}", 3),
    layers("kernel-bool", "- conv: {filters: 4, kernel: true}", 3),
    layers("kernel-mapping", "- conv: {filters: 4, kernel: {h: 3}}", 3),
    layers("kernel-too-large", "- conv: {filters: 4, kernel: 9}", 3),
    layers("kernel-huge", "- conv: {filters: 4, kernel: 100000000000000000000}", 3),
    layers("filters-zero", "- conv: {filters: 0, kernel: 3}", 3),
    layers("filters-negative", "- conv: {filters: -4, kernel: 3}", 3),
    layers("filters-words", "- conv: {filters: many, kernel: 3}", 3),
    layers("filters-fraction", "- conv: {filters: 4.5, kernel: 3}", 3),
    layers("stride-zero", "- conv: {filters: 4, kernel: 3, stride: 0}", 3),
    layers("stride-negative", "- conv: {filters: 4, kernel: 3, stride: -1}", 3),
    layers("pad-negative", "- conv: {filters: 4, kernel: 3, pad: -1}", 3),
    layers("pad-words", "- conv: {filters: 4, kernel: 3, pad: lots}", 3),
    layers("pad-same-stride-2", "- conv: {filters: 4, kernel: 3, stride: 2, pad: same}", 3),
    layers("dilation-zero", "- conv: {filters: 4, kernel: 3, dilation: 0}", 3),
    layers("groups-zero", "- conv: {filters: 4, kernel: 3, groups: 0}", 3),
    layers("groups-not-dividing", "- conv: {filters: 4, kernel: 3, groups: 2}", 3),
    layers("depthwise-and-groups", "- conv: {kernel: 3, depthwise: true, groups: 2}", 3),
    layers("multiplier-zero", "- conv: {kernel: 3, depthwise: true, multiplier: 0}", 3),
    layers("convtranspose-pad-same", "- convtranspose: {filters: 4, kernel: 3, pad: same}", 3),
    layers("convtranspose-output-padding", "- convtranspose: {filters: 4, kernel: 3, stride: 1, output_padding: 2}", 3),
    layers("convtranspose-negative-size", "- convtranspose: {filters: 4, kernel: 1, pad: 5}", 3),
    layers("conv-on-vector", "- flatten\n- conv: {filters: 4, kernel: 1}", 4),
    # -- pooling --------------------------------------------------------------------------
    layers("maxpool-zero", "- maxpool: 0", 3),
    layers("maxpool-negative", "- maxpool: -2", 3),
    layers("maxpool-stride-zero", "- maxpool: {kernel: 2, stride: 0}", 3),
    layers("maxpool-dilation-zero", "- maxpool: {kernel: 2, dilation: 0}", 3),
    layers("maxpool-pad-too-large", "- maxpool: {kernel: 2, pad: 2}", 3),
    layers("maxpool-too-large", "- maxpool: 16", 3),
    layers("avgpool-zero", "- avgpool: 0", 3),
    layers("avgpool-words", "- avgpool: wide", 3),
    layers("adaptive-zero", "- adaptive_avgpool: 0", 3),
    layers("adaptive-words", "- adaptive_avgpool: small", 3),
    layers("pool-on-vector", "- flatten\n- maxpool: 2", 4),
    layers("global-pool-on-vector", "- flatten\n- global_avgpool", 4),
    # -- dense, norm, shape ops -------------------------------------------------------------
    layers("linear-zero", "- flatten\n- linear: 0", 4),
    layers("linear-words", "- flatten\n- linear: many", 4),
    layers("linear-no-units", "- flatten\n- linear", 4),
    layers("linear-flatten-words", "- linear: {units: 4, flatten: 7}", None),
    layers("dropout-words", "- dropout: half", 3),
    layers("dropout-above-one", "- dropout: 2", 3),
    layers("reshape-wrong-size", "- reshape: [5, 5]", 3),
    layers("reshape-two-minus-ones", "- reshape: [-1, -1]", 3),
    layers("reshape-words", "- reshape: [a, b]", 3),
    layers("reshape-zero", "- reshape: [0, 192]", 3),
    layers("softmax-axis", "- softmax: 7", 3),
    layers("leakyrelu-words", "- leakyrelu: steep", 3),
    layers("upsample-zero", "- upsample: 0", 3),
    layers("upsample-mode", "- upsample: {scale: 2, mode: cubic}", 3),
    layers("upsample-both", "- upsample: {scale: 2, size: [4, 4]}", 3),
    layers("lrn-size-zero", "- lrn: {size: 0}", 3),
    layers("batchnorm-unknown", "- batchnorm: {momentun: 0.1}", 3),
    layers("layernorm-dims", "- layernorm: {dims: 5}", 3),
    # -- merges and residuals ------------------------------------------------------------------
    layers("concat-one-path", "- concat: [[relu]]", 3),
    layers("concat-path-not-list", "- concat: [relu, relu]", 3),
    layers("concat-mismatch", "- concat:\n    - [conv: {filters: 4, kernel: 3}]\n    - [conv: {filters: 4, kernel: 1}]", 3),
    layers("add-mismatch", "- add:\n    - [conv: {filters: 5, kernel: 1}]\n    - []", 3),
    layers("residual-no-body", "- residual: {shortcut: identity}", 3),
    layers("residual-not-mapping", "- residual: [relu]", 3),
    layers("residual-unknown-key", "- residual: {body: [relu], skip: true}", 3),
    layers("residual-bad-shortcut", "- residual: {body: [relu], shortcut: sideways}", 3),
    layers("residual-identity-mismatch", "- residual: {body: [conv: {filters: 5, kernel: 1}], shortcut: identity}", 3),
    layers("residual-projection-impossible", "- residual: {body: [flatten, linear: 4], shortcut: projection}", 3),
    # -- repeats and expressions -------------------------------------------------------------
    layers("repeat-billion", "- repeat: 1000000000\n  layers: [relu]", 3),
    layers("repeat-nested-million", "- repeat: 1000\n  layers:\n    - repeat: 1000\n      layers: [relu]", 6),
    layers("repeat-empty-nested", "- repeat: 100000\n  layers:\n    - repeat: 100000\n      layers: []", 5),
    layers("repeat-negative", "- repeat: -1\n  layers: [relu]", 3),
    layers("repeat-words", "- repeat: often\n  layers: [relu]", 3),
    layers("repeat-fraction", "- repeat: 2.5\n  layers: [relu]", 3),
    layers("expr-unknown-variable", "- conv: {filters: $width, kernel: 3}", 3),
    layers("expr-division-by-zero", "- conv: {filters: '$in_channels / 0', kernel: 3}", 3),
    layers("expr-power-tower", "- conv: {filters: '$ 10 ** 10 ** 10', kernel: 3}", 3),
    layers("expr-attribute", "- conv: {filters: '$in_channels.real', kernel: 3}", 3),
    layers("expr-call", "- conv: {filters: '$ open(1)', kernel: 3}", 3),
    layers("expr-syntax", "- conv: {filters: '$in_channels +* 2', kernel: 3}", 3),
    layers("expr-subscript", "- conv: {filters: '$in_channels[0]', kernel: 3}", 3),
    layers("expr-lambda", "- conv: {filters: '$ (lambda: 1)()', kernel: 3}", 3),
    layers("expr-string-times", "- conv: {filters: '$ \"a\" * 1000000000', kernel: 3}", 3),
    layers("expr-huge-product", "- conv: {filters: '$ 4294967296 * 4294967296 * 4294967296', kernel: 3}", 3),
    layers("expr-comprehension", "- conv: {filters: '$ [x for x in [1]]', kernel: 3}", 3),
    layers("expr-round-words", "- conv: {filters: '$ round(\"a\")', kernel: 3}", 3),
    layers("expr-min-empty", "- conv: {filters: '$ min()', kernel: 3}", 3),
    layers("if-unknown-variable", "- {if: '$deep', layers: [relu]}", 3),
]

BLOCKS = [
    spec("block-includes-itself", """
        input: 8x8x3
        blocks:
          loop:
            layers: [relu, loop: {}]
        layers:
          - loop
        """, 4),
    spec("blocks-include-each-other", """
        input: 8x8x3
        blocks:
          a:
            layers: [b]
          b:
            layers: [a]
        layers:
          - a
        """, 6),
    spec("block-three-cycle", """
        input: 8x8x3
        blocks:
          a: [b]
          b: [c]
          c: [relu, a]
        layers: [a]
        """, 5),
    spec("block-named-like-a-layer", """
        input: 8x8x3
        blocks:
          conv: [relu]
        layers: [relu]
        """, 3),
    spec("block-without-layers", """
        input: 8x8x3
        blocks:
          stage: {args: [c]}
        layers: [relu]
        """, 3),
    spec("block-unknown-key", """
        input: 8x8x3
        blocks:
          stage: {layers: [relu], params: [c]}
        layers: [relu]
        """, 3),
    spec("block-args-a-number", """
        input: 8x8x3
        blocks:
          stage: {args: 3, layers: [relu]}
        layers: [relu]
        """, 3),
    spec("block-unknown-argument", """
        input: 8x8x3
        blocks:
          stage: {args: {c: 4}, layers: [conv: {filters: $c, kernel: 1}]}
        layers:
          - stage: {channels: 8}
        """, 5),
    spec("block-missing-argument", """
        input: 8x8x3
        blocks:
          stage: {args: [c], layers: [conv: {filters: $c, kernel: 1}]}
        layers:
          - stage
        """, 5),
    spec("block-args-a-list", """
        input: 8x8x3
        blocks:
          stage: {args: [c], layers: [conv: {filters: $c, kernel: 1}]}
        layers:
          - stage: [8]
        """, 5),
    spec("block-sees-no-caller-variables", """
        input: 8x8x3
        blocks:
          inner: [conv: {filters: $c, kernel: 1}]
          outer: {args: [c], layers: [inner]}
        layers:
          - outer: {c: 4}
        """, 3),
]

CLI = [
    cli("unknown-model", "vgg17"),
    cli("missing-spec", "missing.yaml"),
    cli("input-empty", "vgg16", "--input", ""),
    cli("input-words", "vgg16", "--input", "big"),
    cli("input-trailing-x", "vgg16", "--input", "224x"),
    cli("input-zero", "vgg16", "--input", "0x0x3"),
    cli("input-negative", "vgg16", "--input", "-224x224x3"),
    cli("input-five", "vgg16", "--input", "1x2x3x4x5"),
    cli("input-float", "vgg16", "--input", "224.5x224x3"),
    cli("input-channels", "vgg16", "--input", "224x224x4"),
    cli("input-too-small", "vgg16", "--input", "16x16x3"),
    cli("input-huge-number", "lenet5", "--input", "9" * 400),
    cli("batch-zero", "vgg16", "--batch", "0"),
    cli("batch-negative", "vgg16", "--batch", "-4"),
    cli("batch-words", "vgg16", "--batch", "some"),
    cli("dtype", "vgg16", "--dtype", "float8"),
    cli("convention", "vgg16", "--convention", "gflops"),
    cli("convention-switch", "vgg16", "--convention", "flops+speed"),
    cli("include", "vgg16", "--include", "weights"),
    cli("exclude", "vgg16", "--exclude", "everything"),
    cli("format", "vgg16", "--format", "pdf"),
    cli("output-missing-folder", "lenet5", "-o", "/nonexistent/folder/out.json"),
    cli("depth-zero", "vgg16", "--depth", "0"),
    cli("only-no-match", "lenet5", "--explain", "--only", "nothing*"),
    cli("explain-csv", "lenet5", "--explain", "--format", "csv"),
    cli("sweep-no-values", "lenet5", "--sweep", "batch"),
    cli("sweep-empty", "lenet5", "--sweep", "batch="),
    cli("sweep-words", "lenet5", "--sweep", "batch=a,b"),
    cli("sweep-unknown-axis", "lenet5", "--sweep", "colour=1,2"),
    cli("sweep-bad-input", "lenet5", "--sweep", "input=abc,def"),
    cli("sweep-and-explain", "lenet5", "--sweep", "batch=1,2", "--explain"),
    cli("layout-without-input", "vgg16", "--layout", "nhwc"),
    cli("layout-unknown", "vgg16", "--input", "224x224x3", "--layout", "whc"),
    cli("unknown-option", "vgg16", "--inptu", "224x224x3"),
    cli("extra-argument", "vgg16", "resnet50"),
    cli("module-without-input", "net.py:Net"),
    cli("module-missing-file", "missing.py:Net", "--input", "8x8x3"),
    cli("module-not-python", "model.txt:Net", "--input", "8x8x3"),
    cli("module-torchvision-no-name", "torchvision:", "--input", "8x8x3"),
    cli("arg-without-equals", "lenet5", "--arg", "width"),
    # archcalc layer
    cli("layer-unknown-type", "layer", "convolve", "--input", "8x8x3"),
    cli("layer-no-input", "layer", "conv", "--filters", "4", "--kernel", "3"),
    cli("layer-kernel-words", "layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "big"),
    cli("layer-kernel-three", "layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "3x3x3"),
    cli("layer-kernel-zero", "layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "0"),
    cli("layer-filters-zero", "layer", "conv", "--input", "8x8x3", "--filters", "0", "--kernel", "3"),
    cli("layer-filters-words", "layer", "conv", "--input", "8x8x3", "--filters", "x", "--kernel", "3"),
    cli("layer-stride-zero", "layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "3", "--stride", "0"),
    cli("layer-pad-negative", "layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "3", "--pad", "-1"),
    cli("layer-missing-filters", "layer", "conv", "--input", "8x8x3", "--kernel", "3"),
    cli("layer-kernel-too-large", "layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "11"),
    cli("layer-set-without-equals", "layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "3", "--set", "bias"),
    cli("layer-set-unknown", "layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "3", "--set", "colour=red"),
    cli("layer-set-bad-yaml", "layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "3", "--set", "pad=[1,"),
    cli("layer-units-zero", "layer", "fc", "--input", "784", "--units", "0"),
    cli("layer-fc-no-units", "layer", "fc", "--input", "784"),
    cli("layer-per-position-conv", "layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "3", "--per-position"),
    cli("layer-separable-no-filters", "layer", "separable", "--input", "8x8x3", "--kernel", "3"),
    cli("layer-answer-no-equals", "layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "3", "--answer", "6x6x4"),
    cli("layer-answer-unknown", "layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "3", "--answer", "colour=red"),
    cli("layer-answer-empty", "layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "3", "--answer", "params="),
    cli("layer-maxpool-on-vector", "layer", "maxpool", "--input", "784", "--kernel", "2"),
    cli("layer-input-hw", "layer", "conv", "--input", "8x8", "--filters", "4", "--kernel", "3"),
    cli("layer-explain-csv", "layer", "conv", "--input", "8x8x3", "--filters", "4", "--kernel", "3", "--explain", "-f", "csv"),
    # compare, check, verify
    cli("compare-unknown", "compare", "vgg16", "vgg17"),
    cli("compare-bad-input", "compare", "lenet5", "alexnet", "--input", "abc"),
    cli("compare-format", "compare", "lenet5", "alexnet", "--format", "pdf"),
    cli("check-missing", "check", "missing.csv", "--model", "lenet5"),
    cli("check-format", "check", "missing.csv", "--format", "pdf"),
    cli("verify-unknown", "verify", "vgg17"),
    cli("verify-bad-input", "verify", "lenet5", "--input", "abc"),
]

ANSWERS = [
    answers("empty", "a.csv", ""),
    answers("whitespace", "a.md", "   \n\n  \n"),
    answers("binary", "a.csv", bytes(range(256)) * 4),
    answers("latin1", "a.csv", "layer,params\nconv1,156 \xe9\n".encode("latin-1")),
    answers("yaml-syntax", "a.yaml", "layers:\n  - {name: conv1, params: 156\n", 3),
    answers("yaml-scalar", "a.yaml", "just words\n"),
    answers("yaml-rows-not-list", "a.yaml", "layers: {conv1: 156}\n", 1),
    answers("yaml-row-not-mapping", "a.yaml", "layers:\n  - 156\n", 2),
    answers("yaml-totals-list", "a.yaml", "layers: [{name: conv1, params: 156}]\ntotals: [1, 2]\n", 2),
    answers("yaml-convention", "a.yaml", "convention: gigaflops\nlayers: [{name: conv1, params: 156}]\n", 1),
    answers("yaml-batch", "a.yaml", "batch: many\nlayers: [{name: conv1, params: 156}]\n", 1),
    answers("csv-no-answers", "a.csv", "colour,taste\nred,sweet\n"),
    answers("csv-too-many-cells", "a.csv", "layer,params\nconv1,1,792,3\n", 2),
    answers("csv-declared-convention", "a.csv", "# convention: warp\nlayer,params\nconv1,156\n", 1),
    answers("markdown-no-separator", "a.md", "| layer | params |\n| conv1 | 156 |\n"),
    answers("markdown-no-table", "a.md", "# My answers\n\nconv1 has 156 parameters.\n"),
    answers("latex-no-end", "a.tex", "\\begin{tabular}{lr}\nlayer & params \\\\\nconv1 & 156 \\\\\n"),
    answers("latex-no-rows", "a.tex", "\\begin{tabular}{lr}\n\\toprule\n\\bottomrule\n\\end{tabular}\n"),
    answers("unsure-rows", "a.csv", "shape,params\n30x30x3,1\n29x29x3,2\n7x7x7,3\n"),
    Case("answers-declared-unknown-model", ("check", "{dir}/a.md"),
         {"a.md": "Model: lenet6\n\n| layer | params |\n| --- | --- |\n| conv1 | 156 |\n"}, where="lenet6"),
    Case("answers-no-model", ("check", "{dir}/a.csv"), {"a.csv": "layer,params\nconv1,156\n"}),
    Case("answers-folder-empty", ("check", "{dir}/folder"), {"folder/readme.pdf": "x"}, where="folder"),
    Case("answers-stdin-empty", ("check", "-", "--model", "lenet5"), stdin=""),
    Case("answers-stdin-words", ("check", "-", "--model", "lenet5"), stdin="nothing to grade here\n"),
]

MODULES = [
    module("syntax-error", "import torch\nclass Net(torch.nn.Module):\n    def __init__(self)\n        pass\n", 3),
    module("indentation-error", "import torch\nclass Net(torch.nn.Module):\n  def forward(self, x):\n      return x\n    y = 1\n", 5),
    module("import-error", "import torch\nimport not_a_module_at_all\n", 2),
    module("name-error-at-import", "import torch\nundefined_name + 1\n", 2),
    module("exception-at-import", "raise ValueError('boom at import')\n", 1),
    module("sys-exit-at-import", "import sys\nsys.exit(3)\n", 2),
    module("missing-class", "import torch\nclass Model(torch.nn.Module):\n    pass\n", None),
    module("not-callable", "NET = 5\n", None, "NET"),
    module("not-a-module", "class Net:\n    def __init__(self):\n        pass\n", None),
    module("factory-returns-none", "def Net():\n    return None\n", None),
    module("constructor-raises", """
        import torch
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                raise RuntimeError("cannot build")
        """, 5),
    module("constructor-needs-argument", """
        import torch
        class Net(torch.nn.Module):
            def __init__(self, width):
                super().__init__()
                self.conv = torch.nn.Conv2d(3, width, 3)
            def forward(self, x):
                return self.conv(x)
        """, None),
    module("constructor-unknown-argument", """
        import torch
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = torch.nn.Conv2d(3, 4, 3)
            def forward(self, x):
                return self.conv(x)
        """, None, "Net", "--arg", "width=8"),
    module("forward-raises", """
        import torch
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = torch.nn.Conv2d(3, 4, 3)
            def forward(self, x):
                raise ValueError("no forward today")
        """, 7),
    module("forward-wrong-channels", """
        import torch
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = torch.nn.Conv2d(5, 4, 3)
            def forward(self, x):
                return self.conv(x)
        """, None),  # found from the first conv before running: --input is what is wrong
    module("forward-shape-mismatch", """
        import torch
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(10, 4)
            def forward(self, x):
                return self.fc(x.flatten(1))
        """, 7),
    module("forward-recursion", """
        import torch
        class Net(torch.nn.Module):
            def forward(self, x):
                return self(x)
        """, 4),
    module("forward-missing", """
        import torch
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = torch.nn.Conv2d(3, 4, 3)
        """, None),
    module("forward-two-inputs", """
        import torch
        class Net(torch.nn.Module):
            def forward(self, x, y):
                return x + y
        """, None),
    module("forward-name-error", """
        import torch
        class Net(torch.nn.Module):
            def forward(self, x):
                return x * undefined_scale
        """, 4),
    module("kernel-too-large", """
        import torch
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = torch.nn.Conv2d(3, 4, 11)
            def forward(self, x):
                return self.conv(x)
        """, 7),
    module("arg-bad-literal", """
        import torch
        class Net(torch.nn.Module):
            def __init__(self, width=4):
                super().__init__()
                self.conv = torch.nn.Conv2d(3, int(width), 3)
            def forward(self, x):
                return self.conv(x)
        """, 5, "Net", "--arg", "width=wide"),
    module("input-zero-axis", """
        import torch
        class Net(torch.nn.Module):
            def forward(self, x):
                return x
        """, None, "Net", input="8x0"),
]

CASES = SPECS + LAYERS + BLOCKS + CLI + ANSWERS + MODULES


def test_the_corpus_is_large_and_ids_are_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 150


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_malformed_input_fails_cleanly(case, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from archcalc.cli import app, normalize_argv

    for name, content in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    args = [arg.replace("{dir}", str(tmp_path)) for arg in case.args]
    result = CliRunner().invoke(app, normalize_argv(args), input=case.stdin)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"an exception escaped: {result.exception!r}") from result.exception
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = stderr.strip().splitlines()
    assert 1 <= len(lines) <= 3, stderr
    named = case.file_named()
    if named is not None:
        assert named in stderr, stderr
        if case.line is not None:
            assert f"{named}:{case.line}" in stderr, stderr
