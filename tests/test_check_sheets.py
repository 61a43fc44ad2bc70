"""Reading answer sheets: YAML, CSV, Markdown, and pasted Keras / torchsummary / torchinfo summaries."""

from pathlib import Path

import pytest

from archcalc.grading import AnswerError, read_answers, read_answers_text
from archcalc.grading.matching import answer_family
from archcalc.grading.sheets import column_quantity, declared_convention
from archcalc.grading.summaries import detect_summary

DATA = Path(__file__).parent / "data" / "answers"


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Output shape", ("shape", "", None)),
        ("Param #", ("params", "", None)),
        ("# Params", ("params", "", None)),
        ("Memory (MB)", ("memory", "MB", None)),
        ("memory (elements)", ("memory", "elements", None)),
        ("GFLOPs", ("flops", "G", None)),
        ("FLOPs [textbook]", ("flops", "", "textbook")),
        ("Mult-Adds", ("macs", "", None)),
        ("Receptive field", ("rf", "", None)),
        ("non_trainable_params", ("non_trainable_params", "", None)),
        ("Layer (type)", ("name_type", "", None)),
        ("colour", (None, "", None)),
    ],
)
def test_column_headings(heading, expected):
    assert column_quantity(heading) == expected


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("flops", "flops"),
        ("macs+bias", "macs+bias"),
        ("FLOPs = 2 x MACs + bias", "textbook"),
        ("FLOPs = 2 x MACs", "flops"),
        ("mult-adds", "macs"),
        ("PyTorch's flop counter", "torch"),
        ("something else", None),
    ],
)
def test_declared_conventions(text, name):
    assert declared_convention(text) == name


@pytest.mark.parametrize(
    ("kind", "family"),
    [
        ("Conv2D", "conv"),
        ("Conv2d-4", "conv"),
        ("CONV3-64", "conv"),
        ("conv2d_1", "conv"),
        ("MaxPooling2D", "pool"),
        ("MaxPool2d-5", "pool"),
        ("POOL2", "pool"),
        ("AdaptiveAvgPool2d", "pool"),
        ("GlobalAveragePooling2D", "pool"),
        ("Dense", "linear"),
        ("FC", "linear"),
        ("fc6", "linear"),
        ("Linear-32", "linear"),
        ("BatchNormalization", "norm"),
        ("ReLU-2", "activation"),
        ("Activation", "activation"),
        ("Flatten", "flatten"),
        ("Dropout", "dropout"),
        ("InputLayer", "input"),
        ("ZeroPadding2D", "padding"),
        ("Cropping2D", None),
    ],
)
def test_kinds_as_written_map_to_families(kind, family):
    assert answer_family(kind) == family


@pytest.mark.parametrize(
    ("name", "tool"),
    [
        ("keras_lenet5.txt", "keras"),
        ("keras3_lenet5_typos.txt", "keras"),
        ("keras_vgg16.txt", "keras"),
        ("torchsummary_vgg16.txt", "torchsummary"),
        ("torchinfo_lenet5.txt", "torchinfo"),
        ("torchinfo_vgg16.txt", "torchinfo"),
        ("cs231n_vgg16.md", None),
        ("lenet5_typos.csv", None),
    ],
)
def test_summaries_are_recognised(name, tool):
    assert detect_summary((DATA / name).read_text()) == tool


def test_keras_rows_and_totals():
    sheet = read_answers(DATA / "keras_small_bn.txt")
    assert [(r.name, r.kind) for r in sheet.rows] == [
        ("input_1", "InputLayer"),
        ("conv2d", "Conv2D"),
        ("batch_normalization", "BatchNormalization"),
        ("activation", "Activation"),
        ("global_average_pooling2d", "GlobalAveragePooling2D"),
        ("dense", "Dense"),
    ]
    assert {c.quantity: c.text for c in sheet.totals} == {
        "params": "682",
        "trainable_params": "650",
        "non_trainable_params": "32",
    }


def test_torchsummary_rows_and_sizes():
    sheet = read_answers(DATA / "torchsummary_vgg16.txt")
    assert len(sheet.rows) == 38
    first = sheet.rows[0]
    assert first.label == "Conv2d-1" and [c.text for c in first.cells] == ["[-1, 64, 224, 224]", "1,792"]
    sizes = {c.quantity: (c.text, c.unit) for c in sheet.totals}
    assert sizes["pass_memory"] == ("218.59", "MB")
    assert sizes["total_memory"] == ("746.96", "MB")


def test_torchinfo_skips_containers_and_reads_extra_columns():
    sheet = read_answers(DATA / "torchinfo_vgg16.txt")
    assert sheet.tool == "torchinfo" and sheet.convention == "macs+bias"
    assert len(sheet.rows) == 40  # the model row and the Scope containers are skipped
    assert {c.quantity for c in sheet.rows[0].cells} == {"shape", "params", "flops"}
    assert any(c.quantity == "flops" and c.unit == "G" for c in sheet.totals)  # Total mult-adds (G)


def test_markdown_metadata_and_totals_row():
    sheet = read_answers(DATA / "lenet5_rounded.md")
    assert sheet.format == "md" and sheet.convention == "flops"
    assert len(sheet.rows) == 7
    assert {c.quantity for c in sheet.totals} == {"params", "flops", "memory"}


def test_csv_comment_metadata():
    text = "# model: vgg16\n# convention: textbook\n# batch: 2\nlayer,params\nconv1,1792\n"
    sheet = read_answers_text(text, "a.csv", ".csv")
    assert (sheet.model, sheet.convention, sheet.batch) == ("vgg16", "textbook", 2)


def test_yaml_flat_mapping_of_totals():
    sheet = read_answers_text("params: 138M\nflops: 15.5G\n", "a.yaml", ".yaml")
    assert {c.quantity: c.text for c in sheet.totals} == {"params": "138M", "flops": "15.5G"}


def test_yaml_lists_become_shapes():
    sheet = read_answers_text("layers:\n  - {name: conv1, shape: [28, 28, 6]}\n", "a.yaml", ".yaml")
    assert sheet.rows[0].cells[0].text == "28x28x6"


@pytest.mark.parametrize(
    ("text", "suffix", "message"),
    [
        ("", ".yaml", "empty"),
        ("just words", ".md", "no Markdown table"),
        ("layers: 3\n", ".yaml", "must be a list"),
        ("layers: [1, 2]\n", ".yaml", "must be a mapping"),
        ("a: [1,\n", ".yaml", "YAML syntax error"),
    ],
)
def test_unreadable_answers_raise_answer_errors(text, suffix, message):
    with pytest.raises(AnswerError, match=message):
        read_answers_text(text, "answers" + suffix, suffix)
