"""Keras files (.keras, .h5, model.json) read from their saved config: parameters equal Keras' own
model.summary() and count_params() (trainable and not), every layer's output shape equals Keras', and MACs follow
the dot-product formula written out here; bad files get one or two lines."""

from __future__ import annotations

import json
import os
import re
import warnings
import zipfile
from math import prod

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
L = keras.layers

from archcalc.api import analyze  # noqa: E402


def trainable(model) -> int:
    return sum(prod(w.shape) for w in model.trainable_weights)


def non_trainable(model) -> int:
    return sum(prod(w.shape) for w in model.non_trainable_weights)


def course_vgg():
    """The VGG-style network a course deck builds in Keras."""
    return keras.Sequential([
        keras.Input((64, 64, 3)),
        L.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        L.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
        L.MaxPooling2D(2, name="pool1"),
        L.Conv2D(32, 3, padding="same", activation="relu", name="conv3"),
        L.MaxPooling2D(2, name="pool2"),
        L.Flatten(name="flatten"),
        L.Dense(64, activation="relu", name="fc1"),
        L.Dropout(0.5, name="drop"),
        L.Dense(10, activation="softmax", name="fc2"),
    ], name="course_vgg")


def residual_functional():
    inp = keras.Input((32, 32, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu")(inp)
    y = L.Conv2D(8, 3, strides=2, padding="same")(x)  # TF "same" at stride 2: padded 0 before, 1 after
    y = L.BatchNormalization()(y)
    z = L.MaxPooling2D()(x)
    s = L.GlobalAveragePooling2D()(L.Add()([y, z]))
    return keras.Model(inp, L.Dense(10, activation="softmax")(s), name="residual")


def recurrent():
    return keras.Sequential([keras.Input((12,), dtype="int32"), L.Embedding(100, 16), L.LSTM(8, return_sequences=True),
                             L.GRU(6), L.Dense(3)], name="recurrent")


def separable():
    return keras.Sequential([keras.Input((15, 15, 4)), L.SeparableConv2D(8, 3, strides=2, padding="same"),
                             L.DepthwiseConv2D(3, depth_multiplier=2), L.ZeroPadding2D(1),
                             L.AveragePooling2D(2, padding="same"), L.Conv2DTranspose(4, 2, strides=2),
                             L.UpSampling2D(), L.Flatten(), L.Dense(5)], name="separable")


def two_inputs():
    a, b = keras.Input((8,)), keras.Input((4,))
    merged = L.Concatenate()([L.Dense(6)(a), L.Dense(6)(b)])
    return keras.Model([a, b], L.Dense(1)(merged), name="two_inputs")


def sequence():
    return keras.Sequential([keras.Input((6, 10)), L.LayerNormalization(), L.Dense(4), L.SimpleRNN(5), L.Dense(2)],
                            name="sequence")


def text_conv():
    return keras.Sequential([keras.Input((40,), dtype="int32"), L.Embedding(500, 16),
                             L.Conv1D(12, 5, activation="relu"), L.MaxPooling1D(2),
                             L.Conv1D(8, 3, strides=2, padding="same"), L.GlobalMaxPooling1D(), L.Dense(2)],
                            name="text_conv")


MODELS = {"text_conv": text_conv, "course_vgg": course_vgg, "residual": residual_functional, "recurrent": recurrent,
          "separable": separable, "two_inputs": two_inputs, "sequence": sequence}


def save(model, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(str(path))
    return str(path)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_parameters_equal_keras_count_params(name, suffix, tmp_path):
    model = MODELS[name]()
    report = analyze(save(model, tmp_path / f"model{suffix}"))
    assert report.totals.params == trainable(model)
    batchnorms = [layer for layer in model.layers if isinstance(layer, L.BatchNormalization)]
    # Keras' non-trainable weights are the moving mean and variance; archcalc's buffers add
    # torch's num_batches_tracked, one per BatchNorm
    assert report.totals.buffers - len(batchnorms) == non_trainable(model)
    assert report.totals.params + non_trainable(model) == model.count_params()
    assert report.output_shape == tuple(model.output_shape[1:])
    printed: list[str] = []
    model.summary(print_fn=lambda line, **_: printed.append(line))
    summary = "\n".join(printed)
    assert re.search(r"Trainable params: ([\d,]+)", summary).group(1) == f"{report.totals.params:,}"
    assert re.search(r"Total params: ([\d,]+)", summary).group(1) == f"{model.count_params():,}"


def test_every_layer_shape_equals_keras_and_macs_follow_the_formula(tmp_path):
    model = course_vgg()
    report = analyze(save(model, tmp_path / "vgg.keras"))
    for layer in model.layers:
        keras_shape = tuple(layer.output.shape[1:])
        ours = report.row(layer.name).output_shape
        assert (ours[1:] + ours[:1] if len(ours) == 3 else ours) == keras_shape, layer.name
        assert report.row(layer.name).params == layer.count_params(), layer.name
    # conv MACs = H * W * Cout * (k * k * Cin); dense = in * out
    expected = (64 * 64 * 16 * 9 * 3 + 64 * 64 * 16 * 9 * 16 + 32 * 32 * 32 * 9 * 16
                + 16 * 16 * 32 * 64 + 64 * 10)
    assert report.totals.macs == expected


def test_tf_same_padding_at_stride_two(tmp_path):
    model = residual_functional()
    report = analyze(save(model, tmp_path / "res.keras"))
    conv = next(layer for layer in model.layers if isinstance(layer, L.Conv2D) and layer.strides == (2, 2))
    assert report.row(f"{conv.name}.pad").output_shape == (8, 33, 33)  # 32 + 0 before + 1 after
    assert report.row(conv.name).output_shape == (8, 16, 16)


def test_model_json_and_input_override(tmp_path):
    model = course_vgg()
    path = tmp_path / "model.json"
    path.write_text(model.to_json())
    report = analyze(str(path))
    assert report.totals.params == model.count_params()
    bigger = analyze(str(path), "64x64x3")
    assert bigger.totals.macs == report.totals.macs


def test_a_keras_2_functional_json(tmp_path):
    """tf.keras 2.x writes ``batch_input_shape`` and inbound nodes as [[name, node, tensor, kwargs]];
    the counts are written out: conv (3*3*3 + 1) * 8, a 1 x 1 conv 3 * 4, dense (12 + 1) * 5."""
    layers = [
        {"class_name": "InputLayer", "name": "image", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 16, 16, 3], "dtype": "float32", "name": "image"}},
        {"class_name": "Conv2D", "name": "conv", "inbound_nodes": [[["image", 0, 0, {}]]],
         "config": {"name": "conv", "filters": 8, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
                    "activation": "relu", "use_bias": True, "data_format": "channels_last", "dilation_rate": [1, 1]}},
        {"class_name": "Conv2D", "name": "side", "inbound_nodes": [[["image", 0, 0, {}]]],
         "config": {"name": "side", "filters": 4, "kernel_size": [1, 1], "strides": [1, 1], "padding": "valid",
                    "activation": "linear", "use_bias": False}},
        {"class_name": "Concatenate", "name": "merge", "inbound_nodes": [[["conv", 0, 0, {}], ["side", 0, 0, {}]]],
         "config": {"name": "merge", "axis": -1}},
        {"class_name": "GlobalAveragePooling2D", "name": "gap", "inbound_nodes": [[["merge", 0, 0, {}]]],
         "config": {"name": "gap"}},
        {"class_name": "Dense", "name": "out", "inbound_nodes": [[["gap", 0, 0, {}]]],
         "config": {"name": "out", "units": 5, "activation": "softmax", "use_bias": True}},
    ]
    config = {"class_name": "Functional", "config": {"name": "keras2", "layers": layers,
                                                     "input_layers": [["image", 0, 0]],
                                                     "output_layers": [["out", 0, 0]]},
              "keras_version": "2.15.0", "backend": "tensorflow"}
    path = tmp_path / "keras2.json"
    path.write_text(json.dumps(config))
    report = analyze(str(path))
    assert report.row("merge").output_shape == (12, 16, 16)
    assert report.totals.params == (3 * 3 * 3 + 1) * 8 + 3 * 4 + (12 + 1) * 5
    assert report.totals.macs == 16 * 16 * 8 * 27 + 16 * 16 * 4 * 3 + 12 * 5


def test_cli_prints_the_keras_layout(tmp_path, run_cli):
    path = save(course_vgg(), tmp_path / "vgg.keras")
    result = run_cli(path, "--exact")
    assert result.exit_code == 0, result.output
    assert "64x64x16" in result.stdout and f"{course_vgg().count_params():,}" in result.stdout


def test_bad_keras_files_get_one_or_two_lines(tmp_path, run_cli):
    with zipfile.ZipFile(tmp_path / "noconfig.keras", "w") as archive:
        archive.writestr("metadata.json", "{}")
    (tmp_path / "text.keras").write_text("not a zip")
    good = save(course_vgg(), tmp_path / "good.keras")
    (tmp_path / "truncated.keras").write_bytes(open(good, "rb").read()[:200])
    (tmp_path / "text.h5").write_text("not hdf5")
    config = json.loads(zipfile.ZipFile(good).read("config.json"))
    config["config"]["layers"][2]["class_name"] = "MysteryLayer"
    (tmp_path / "unknown.json").write_text(json.dumps(config))
    cases = {"noconfig.keras": "without config.json", "text.keras": "not a .keras file",
             "truncated.keras": "not a .keras file", "text.h5": "not an HDF5 file",
             "unknown.json": "'MysteryLayer' is not known"}
    for name, fragment in cases.items():
        result = run_cli(str(tmp_path / name))
        assert result.exit_code == 2, (name, result.output)
        assert result.stderr.startswith("error: ") and fragment in result.stderr, (name, result.stderr)
        assert len(result.stderr.strip().splitlines()) <= 2, result.stderr
