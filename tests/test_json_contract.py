"""`--format json` is a documented, stable contract (docs/json-format.md)."""

from __future__ import annotations

import json

REQUIRED_TOP = {"model", "input_shape", "batch", "dtype", "convention", "layers", "totals"}
REQUIRED_LAYER = {
    "name", "type", "output_shape", "weights", "biases", "buffers", "params", "activation_elements",
    "activation_bytes", "macs", "flops", "rf_size", "rf_jump", "rf_start",
}
REQUIRED_TOTALS = {
    "params", "trainable_params", "weights", "biases", "buffers", "param_bytes", "activation_bytes",
    "peak_activation_bytes", "macs", "flops",
}


def test_json_has_the_contract_keys(run_cli):
    result = run_cli("vgg16", "--input", "224x224x3", "--format", "json", "--batch", "2", "-c", "flops")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert REQUIRED_TOP <= set(data)
    assert data["input_shape"] == [3, 224, 224]
    assert data["batch"] == 2 and data["dtype"] == "float32" and data["convention"] == "flops"
    assert REQUIRED_TOTALS <= set(data["totals"])
    for layer in data["layers"]:
        assert REQUIRED_LAYER <= set(layer)
        assert all(len(layer[k]) == 2 for k in ("rf_size", "rf_jump", "rf_start"))
        assert layer["params"] == layer["weights"] + layer["biases"]
    first = data["layers"][0]
    assert first["output_shape"] == [64, 224, 224]
    assert first["activation_elements"] == 2 * 64 * 224 * 224
    # published: VGG-16 has 138,357,544 parameters (torchvision docs)
    assert data["totals"]["params"] == 138_357_544
    assert data["totals"]["flops"] == 2 * data["totals"]["macs"]
    assert sum(layer["macs"] for layer in data["layers"]) == data["totals"]["macs"]
