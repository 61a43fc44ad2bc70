"""Quiet, readable output: intended roundings print nothing, mistyped commands get a
suggestion, hints match the mistake."""

from __future__ import annotations

import textwrap

import pytest

import archcalc
from archcalc.errors import SpecError
from archcalc.spec import load_spec_text

STANDARD = [("resnet18", "224x224x3"), ("resnet50", "224x224x3"), ("resnet152", "224x224x3"),
            ("alexnet", "224x224x3")]


@pytest.mark.parametrize("model, size", STANDARD)
def test_standard_models_print_no_warning(model, size, run_cli):
    # (224 - 7 + 2*3)/2 + 1 = 112.5 in the ResNets, (224 - 11 + 2*2)/4 + 1 = 55.25 in AlexNet: intended
    result = run_cli(model, "--input", size)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "as the network intends (-v lists them)" in result.stdout
    verbose = run_cli(model, "--input", size, "-v")
    assert "note:" in verbose.stderr and "warning:" not in verbose.stderr
    # a zoo file is named by its place in the package, not the install path
    assert "archcalc/specs/" in verbose.stderr and "site-packages" not in verbose.stderr


@pytest.mark.parametrize("args", [
    ["compare", "resnet50", "alexnet", "--input", "224x224x3"],
    ["resnet50", "--sweep", "batch=1,2"],
    ["resnet50", "--format", "json"],
    ["resnet50", "--explain", "--only", "conv1"],
])
def test_every_command_is_as_quiet(args, run_cli):
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_json_keeps_intended_roundings_apart():
    data = archcalc.analyze("resnet50", "224x224x3").to_dict()
    assert data["warnings"] == []
    # conv1, maxpool and the first 3x3 conv and projection of layers 2 to 4
    assert len(data["intended_floors"]) == 8
    assert "112.5" in data["intended_floors"][0]


def test_an_input_the_network_does_not_intend_still_warns(run_cli):
    # vgg16 declares no floors: 225 gives (225 - 2)/2 + 1 = 112.5 at the first pool
    result = run_cli("vgg16", "--input", "225x225x3")
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "112.5" in result.stderr


def spec(text: str, **kwargs):
    return load_spec_text(textwrap.dedent(text), "inline.yaml", **kwargs)


def test_floors_patterns_and_all():
    text = """
        input: 7x7x1
        floors: {floors}
        layers:
          - conv: {{name: a, filters: 1, kernel: 3, stride: 3}}
          - conv: {{name: b, filters: 1, kernel: 1, stride: 2}}
    """
    # a: (7 - 3)/3 + 1 = 2.33 -> 2; b: (2 - 1)/2 + 1 = 1.5 -> 1
    only_a = spec(text.format(floors="[a]"))
    assert [(w.layer, w.intended) for w in only_a.warnings] == [("a", True), ("b", False)]
    every = spec(text.format(floors="all"))
    assert all(w.intended for w in every.warnings) and len(every.warnings) == 2
    with pytest.raises(SpecError, match="floors: 'c' names no layer") as info:
        spec(text.format(floors="[c]"))
    assert "inline.yaml:3" in str(info.value)
    with pytest.raises(SpecError, match="floors: takes"):
        spec(text.format(floors="[1, 2]"))


def test_strict_still_refuses_an_intended_rounding(run_cli):
    result = run_cli("resnet50", "--strict")
    assert result.exit_code == 2 and "112.5" in result.stderr


@pytest.mark.parametrize("typed, meant", [
    (["compre", "alexnet", "vgg16"], "compare"),
    (["verfy", "lenet5"], "verify"),
    (["lyer", "conv", "--input", "32x32x3"], "layer"),
    (["chek", "answers.csv"], "check"),
])
def test_mistyped_command_gets_a_suggestion(typed, meant, capsys):
    from archcalc.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(typed)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"did you mean '{meant}'?" in err and "unexpected extra argument" not in err
    assert len(err.strip().splitlines()) <= 2


def test_a_model_named_like_a_command_is_still_a_model(tmp_path, monkeypatch, capsys):
    from archcalc.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "lyer").mkdir()  # an existing path is never taken for a typo
    with pytest.raises(SystemExit):
        main(["lyer"])
    assert "did you mean" not in capsys.readouterr().err


def test_a_missing_file_named_like_a_command_is_a_missing_file(capsys):
    from archcalc.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["check.yaml"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "no such spec file: check.yaml" in err and "did you mean" not in err


def test_vector_input_to_an_image_network_says_so(run_cli):
    result = run_cli("vgg16", "--input", "224")
    assert result.exit_code == 2
    assert "flatten" not in result.stderr
    assert "e.g. 224x224x3" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2


def test_wrong_channel_count_reads_as_a_sentence(run_cli):
    result = run_cli("lenet5", "--input", "32x32x3")
    assert result.exit_code == 2
    assert ("--input '32x32x3' has 3 channels (read as H x W x C), but the network takes 1 input channel"
            in result.stderr)
    assert "did you mean --input 32x32x1?" in result.stderr


def test_a_conv_after_a_flatten_gets_the_layer_order_hint():
    with pytest.raises(archcalc.LayerError) as info:
        spec("""
            input: 8x8x3
            layers: [flatten, conv: {filters: 4, kernel: 3}]
        """)
    assert info.value.hint.startswith("check the layer order")
