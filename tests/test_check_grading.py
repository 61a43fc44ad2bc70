"""Grading answer sheets and pasted summaries, cell by cell, against hand arithmetic.

LeNet-5 (tests/data/answers/specs/lenet5.yaml, input 32x32x1), worked out by hand:

    conv1  5x5, 6 filters     28x28x6   weights 5*5*1*6 = 150, biases 6, params 156
                              MACs 28*28*6 * 5*5*1 = 117,600
    pool1  2x2/2              14x14x6
    conv2  5x5, 16 filters    10x10x16  weights 5*5*6*16 = 2,400, biases 16, params 2,416
                              MACs 10*10*16 * 5*5*6 = 240,000
    pool2  2x2/2              5x5x16
    fc1    400 -> 120         params 400*120 + 120 = 48,120,  MACs 48,000
    fc2    120 -> 84          params 120*84 + 84 = 10,164,    MACs 10,080
    fc3    84 -> 10           params 84*10 + 10 = 850,        MACs 840
    total params 61,706; MACs 416,520; bias adds 4,704 + 1,600 + 120 + 84 + 10 = 6,518

VGG-16: 138,357,544 parameters (Simonyan & Zisserman; torchvision), 1,792 in the first conv.
"""

from pathlib import Path

import pytest

import archcalc
from archcalc.grading import (
    AnswerError,
    Status,
    grade_answers,
    grade_sheet,
    read_answers,
    read_answers_text,
)

DATA = Path(__file__).parent / "data" / "answers"
LENET = str(DATA / "specs" / "lenet5.yaml")


@pytest.fixture(scope="module")
def lenet():
    return archcalc.analyze(LENET)


@pytest.fixture(scope="module")
def vgg16():
    return archcalc.analyze("vgg16", "224x224x3")


def grade(name: str, report, convention=None):
    return grade_sheet(read_answers(DATA / name), report, convention)


def verdicts(result) -> dict[tuple[str, str], str]:
    """(row label, quantity) -> verdict; totals under the label 'total'."""
    table = {}
    for row in result.rows:
        for cell in row.cells:
            table[(row.label, cell.quantity)] = cell.status.value
    for cell in result.totals:
        table[("total", cell.quantity)] = cell.status.value
    return table


def cell(result, label: str, quantity: str):
    rows = [r for r in result.rows if r.label == label] if label != "total" else []
    cells = rows[0].cells if rows else result.totals
    return next(c for c in cells if c.quantity == quantity)


# -- answer tables -----------------------------------------------------------------------


def test_correct_yaml_sheet_is_all_right(lenet):
    result = grade("lenet5_correct.yaml", lenet)
    assert result.convention.name == "textbook" and "declared" in result.convention_from
    # 7 rows with 8 + 5 + 8 + 3 + 7 + 4 + 4 cells, and 7 totals
    assert (result.right, result.wrong, result.not_checkable) == (46, 0, 0)
    assert result.score == 1.0 and result.all_right
    assert [r.layer for r in result.rows] == ["conv1", "maxpool1", "conv2", "maxpool2", "fc1", "fc2", "fc3"]
    assert [r.matched_by for r in result.rows] == ["name", "order", "name", "order", "name", "name", "name"]


def test_typos_in_a_row_and_in_the_total_are_wrong_and_explained(lenet):
    result = grade("lenet5_typos.csv", lenet)
    wrong = {key for key, value in verdicts(result).items() if value == "wrong"}
    assert wrong == {("conv2 (conv)", "shape"), ("fc1 (linear)", "macs"), ("total", "params")}
    assert result.right == 27 and result.not_checkable == 0
    shape = cell(result, "conv2 (conv)", "shape")
    assert shape.expected.startswith("10x10x16")  # (14 - 5)/1 + 1 = 10, 16 filters
    assert shape.derivation, "a wrong cell carries its derivation"
    assert cell(result, "fc1 (linear)", "macs").expected == "48,000"  # 400 * 120
    assert cell(result, "total", "params").expected == "61,706"
    # memory (bytes) column: conv1 28*28*6 * 4 B = 18,816
    assert cell(result, "conv1 (conv)", "memory").status is Status.RIGHT


def test_rounded_markdown_sheet_is_right_and_names_both_memory_readings(lenet):
    result = grade("lenet5_rounded.md", lenet)
    assert result.convention.name == "flops"  # "Convention: FLOPs = 2 x MACs"
    assert (result.right, result.wrong) == (31, 0)
    # conv1 output 4,704 elements * 4 B = 18,816 B = 18.8 kB (decimal), 18.38 KiB (binary)
    assert "decimal" in cell(result, "conv1", "memory").note
    # conv2 output 1,600 * 4 = 6,400 B = 6.25 KiB exactly (binary)
    assert "binary" in cell(result, "conv2", "memory").note
    # all outputs: 4,704*2 + 1,176 + 1,600*2 + 400*2 + 120*2 + 84*2 + 10 = 15,002 elements
    # = 60,008 B = 58.60 KiB (binary) but 60.0 kB (decimal)
    assert "binary" in cell(result, "total", "memory").note
    # 2 x 416,520 = 833,040 = 0.83M
    assert "rounded" in cell(result, "total", "flops").note


def test_a_plain_number_that_equals_weights_only_is_wrong_not_rounded(lenet):
    # fc1: 48,000 weights + 120 biases; "48,000" is the classic forgotten bias, not "48,120 to 1,000"
    result = grade_answers(lenet, {"params": "48,000"}, layer="fc1")
    verdict = result.cells[0]
    assert verdict.status is Status.WRONG and "weights only" in verdict.note
    # written as 48.1K it is a rounded answer, and right
    assert grade_answers(lenet, {"params": "48.1K"}, layer="fc1").all_right


def test_cs231n_vgg16_table_counts_weights_only(vgg16):
    """The CS231n notes count no biases: (3*3*3)*64 = 1,728 where VGG-16 has 1,792."""
    result = grade("cs231n_vgg16.md", vgg16)
    table = verdicts(result)
    params = [r for r in result.rows if r.label.startswith(("CONV", "FC"))]
    assert len(params) == 16
    for row in params:
        verdict = next(c for c in row.cells if c.quantity == "params")
        assert verdict.status is Status.WRONG and "weights only" in verdict.note
    assert cell(result, "CONV3-64", "params").expected == "1,792"  # (3*3*3 + 1) * 64
    # every shape and every per-layer memory is right (3.2M for 224*224*64 = 3,211,264)
    assert all(v == "right" for (label, q), v in table.items() if q in ("shape", "memory") and label != "total")
    assert table[("total", "params")] == "right"  # 138M for 138,357,544
    assert table[("total", "memory")] == "wrong"  # "24M * 4 bytes ~= 96MB": not the sum of the outputs
    assert result.rows[0].layer == "(input)"  # the INPUT row is graded against the input, 224*224*3 = 150K
    assert (result.right, result.wrong, result.not_checkable) == (51, 17, 0)


# -- conventions ------------------------------------------------------------------------

#: LeNet-5 FLOPs by hand: per conv/linear output n = 25, 150, 400, 120, 84 and one bias each
CONVENTION_TOTALS = {
    "macs": 416_520,
    "fvcore": 416_520,  # MACs; fvcore does not count max pooling or ReLU
    "flops": 833_040,  # 2 x MACs
    "torch": 833_040,
    "textbook": 839_558,  # 2 x MACs + 6,518 bias adds
    # n mul + (n-1) add + 1 bias add = 2n per output, plus 1 comparison per ReLU output
    # (4,704 + 1,600 + 120 + 84) and 3 per max-pool output ((1,176 + 400) * 3)
    "exact": 833_040 + 6_508 + 4_728,
}


@pytest.mark.parametrize("name", sorted(CONVENTION_TOTALS))
def test_each_convention_sheet_is_right_under_its_declared_convention(lenet, name):
    result = grade(f"conventions/lenet5_{name}.yaml", lenet)
    assert result.convention.name == name
    assert result.all_right and result.wrong == 0 and result.right == len(result.cells)
    assert cell(result, "total", "flops").expected.startswith(f"{CONVENTION_TOTALS[name]:,}")


@pytest.mark.parametrize("name", sorted(set(CONVENTION_TOTALS) - {"textbook"}))
def test_a_sheet_graded_under_another_convention_is_wrong_and_named(lenet, name):
    result = grade(f"conventions/lenet5_{name}.yaml", lenet, convention="textbook")
    total = cell(result, "total", "flops")
    assert total.status is Status.WRONG
    assert f"[{name}" in total.note, total.note  # the declared convention is named first
    assert "expected 2 x MACs + bias adds [textbook]" in total.note
    assert all(c.status is Status.WRONG for c in result.cells)


def test_pytorch_counter_is_recognised_by_its_words(lenet):
    result = grade("conventions/lenet5_torch.yaml", lenet, convention="textbook")
    note = cell(result, "conv1 (conv)", "flops").note
    assert note.startswith("matches 2 x MACs, no bias adds (PyTorch's counter)")


def test_flops_answer_under_default_macs_names_the_convention_it_used(lenet):
    # conv1: 2 * 117,600 = 235,200 (FLOPs = 2 x MACs) where MACs are expected
    result = grade_answers(lenet, {"flops": "235,200"}, "macs", layer="conv1")
    assert not result.all_right
    assert "flops" in result.cells[0].note and "expected MACs" in result.cells[0].note


# -- pasted summaries --------------------------------------------------------------------


def test_keras_summary_of_lenet_is_right(lenet):
    result = grade("keras_lenet5.txt", lenet)
    assert result.format == "keras"
    assert [r.layer for r in result.rows] == ["conv1", "maxpool1", "conv2", "maxpool2", "flatten1", "fc1", "fc2", "fc3"]
    # the wrapped names "max_pooling2d (MaxPooling2D" + ")" are joined
    assert result.rows[1].label == "max_pooling2d (MaxPooling2D)"
    assert result.rows[3].label == "max_pooling2d_1 (MaxPooling2D)"
    assert (result.right, result.wrong) == (19, 0)


def test_keras3_summary_with_typos(lenet):
    result = grade("keras3_lenet5_typos.txt", lenet)
    wrong = {key for key, value in verdicts(result).items() if value == "wrong"}
    assert wrong == {("dense (Dense)", "shape"), ("dense_1 (Dense)", "params"), ("total", "params")}
    assert "weights only" in cell(result, "dense_1 (Dense)", "params").note  # 120*84 = 10,080
    # "(241.04 KB)": 61,706 * 4 B = 246,824 B = 241.04 KiB (binary)
    memory = cell(result, "total", "param_memory")
    assert memory.status is Status.RIGHT and "binary" in memory.note
    assert result.right == 17


def test_keras_counts_batchnorm_moving_statistics_as_parameters():
    report = archcalc.analyze(str(DATA / "specs" / "small_bn.yaml"))
    result = grade("keras_small_bn.txt", report)
    # conv 3*3*3*16 + 16 = 448; BN 4 * 16 = 64 in Keras (gamma, beta, moving mean, variance);
    # dense 16*10 + 10 = 170; total 682, of which 2 * 16 = 32 non-trainable
    assert result.all_right and result.right == 15
    assert "moving mean and variance" in cell(result, "batch_normalization (BatchNormalization)", "params").note
    assert "moving mean" in cell(result, "total", "non_trainable_params").note
    # the wrapped "global_average_pooling2d (G" + "lobalAveragePooling2D)"
    assert any(r.label == "global_average_pooling2d (GlobalAveragePooling2D)" for r in result.rows)


def test_keras_functional_summary_with_connected_to_column():
    report = archcalc.analyze(str(DATA / "specs" / "small_bn.yaml"))
    result = grade("keras_functional_small_bn.txt", report)
    # the wrapped "'conv2d[0][0]']" of the Connected-to column is not part of a layer's name
    assert [r.label for r in result.rows][3] == "activation (Activation)"
    assert result.all_right and result.right == 15


def test_a_student_table_counting_moving_statistics_is_wrong():
    report = archcalc.analyze(str(DATA / "specs" / "small_bn.yaml"))
    verdict = grade_answers(report, {"params": "64"}, layer="bn").cells[0]
    assert verdict.status is Status.WRONG and "moving mean and variance" in verdict.note


def test_keras_vgg16_summary_is_right(vgg16):
    result = grade("keras_vgg16.txt", vgg16)
    assert result.all_right
    assert result.rows[0].layer == "(input)"
    assert cell(result, "total", "params").expected == "138,357,544"
    assert cell(result, "block1_conv1 (Conv2D)", "params").expected == "1,792"  # (3*3*3 + 1) * 64


def test_torchsummary_vgg16_is_right_including_its_size_totals(vgg16):
    """The VGG-16 of the torchsummary README (no AdaptiveAvgPool2d row): 218.59 MB forward/backward
    = 2 * 28,650,984 outputs * 4 B / 2^20; 527.79 MB = 138,357,544 * 4 / 2^20."""
    result = grade("torchsummary_vgg16.txt", vgg16)
    assert result.format == "torchsummary"
    assert result.all_right and result.right == 83  # 38 rows * 2 + 7 totals
    assert "binary" in cell(result, "total", "pass_memory").note
    assert "binary" in cell(result, "total", "param_memory").note
    assert cell(result, "total", "total_memory").status is Status.RIGHT


def test_torchsummary_with_typos(lenet):
    result = grade("torchsummary_lenet5_typos.txt", lenet)
    wrong = {key for key, value in verdicts(result).items() if value == "wrong"}
    assert wrong == {("Conv2d-4", "shape"), ("Linear-8", "params"), ("total", "params"), ("total", "trainable_params")}
    assert "weights only" in cell(result, "Linear-8", "params").note
    # Forward/backward pass size 0.11 MB = 2 * 15,002 * 4 B / 2^20
    assert cell(result, "total", "pass_memory").status is Status.RIGHT
    assert result.right == 27


def test_torchinfo_summaries_generated_by_torchinfo_are_right(lenet, vgg16):
    for name, report, cells in (
        ("torchinfo_lenet5.txt", lenet, 12 * 2 + 8),
        ("torchinfo_lenet5_mult_adds.txt", lenet, 12 * 3 + 8),
        # 13 conv, 13 ReLU, 5 max pool, avgpool, flatten, 3 linear, 2 ReLU, 2 dropout
        ("torchinfo_vgg16.txt", vgg16, 40 * 3 + 8),
    ):
        result = grade(name, report)
        assert result.format == "torchinfo"
        assert result.convention.name == "macs+bias", "torchinfo's mult-adds count one add per bias"
        assert result.all_right and result.right == cells, (name, result.wrong)


def test_torchinfo_mult_adds_under_macs_name_torchinfo(vgg16):
    result = grade("torchinfo_vgg16.txt", vgg16, convention="macs")
    first = cell(result, "Conv2d: 3-1", "flops")
    # torchinfo: (3*3*3*64 + 64) * 224*224 = 89,915,392; MACs 1,728 * 50,176 = 86,704,128
    assert first.written == "89,915,392" and first.expected == "86,704,128"
    assert first.status is Status.WRONG and "torchinfo" in first.note


def test_torchinfo_var_names_match_layers_by_name(lenet):
    result = grade("torchinfo_lenet5_mult_adds.txt", lenet)
    assert all(r.matched_by == "name" for r in result.rows)


# -- memory: other dtypes and batches ---------------------------------------------------------


def test_memory_right_for_another_dtype_is_named(lenet):
    # conv1 output 4,704 elements: 9,408 B in float16, 18,816 B in float32
    verdict = grade_answers(lenet, {"memory": "9,408 B"}, layer="conv1").cells[0]
    assert verdict.status is Status.WRONG and "float16" in verdict.note


def test_memory_right_for_batch_one_is_named():
    report = archcalc.analyze(LENET, batch=8)
    verdict = grade_answers(report, {"memory": "18,816 B"}, layer="conv1").cells[0]
    assert verdict.status is Status.WRONG and "batch 1" in verdict.note
    assert grade_answers(report, {"memory": "150,528 B"}, layer="conv1").all_right  # 8 * 18,816


def test_memory_right_for_another_batch_is_named(lenet):
    # conv1 output 4,704 elements per sample; 32 samples: 150,528 elements, 602,112 B
    for text in ("150,528", "602,112 B", "602.1 KB"):
        verdict = grade_answers(lenet, {"memory": text}, layer="conv1").cells[0]
        assert verdict.status is Status.WRONG and "batch of 32" in verdict.note, (text, verdict.note)
    # too coarse to tell a batch size: 5M is simply wrong
    # 28*28*6 = 4,704 elements is 5K to one digit: 5M is off by 1000, and said so
    assert grade_answers(lenet, {"memory": "5M"}, layer="conv1").cells[0].note == \
        "off by 1000 (M for K); expected the output in elements"


def test_memory_as_elements_or_bytes(lenet):
    assert grade_answers(lenet, {"memory": "4704"}, layer="conv1").all_right
    both = grade_answers(lenet, {"memory": "18816"}, layer="conv1").cells[0]
    assert both.status is Status.RIGHT and "bytes" in both.note


# -- grade_answers: questions without a model file -------------------------------------------


@pytest.fixture(scope="module")
def conv_question(tmp_path_factory):
    spec = tmp_path_factory.mktemp("q") / "question.yaml"
    spec.write_text("name: question\ninput: 32x32x3\nlayers:\n  - conv: {filters: 10, kernel: 5, pad: 2}\n")
    return archcalc.analyze(str(spec))


def test_grade_answers_for_a_single_conv(conv_question):
    """32x32x3, ten 5x5 filters, stride 1, pad 2: (32 - 5 + 2*2)/1 + 1 = 32; params (5*5*3 + 1) * 10
    = 760; MACs 32*32*10 * 75 = 768,000; textbook FLOPs 2 * 768,000 + 10,240 bias adds = 1,546,240;
    receptive field 5."""
    answers = {"shape": "32x32x10", "params": "760", "weights": "750", "biases": "10", "macs": "768,000",
               "flops": "1,546,240", "memory": "10,240", "rf": "5"}
    result = grade_answers(conv_question, answers, "textbook")
    assert result.all_right and result.right == 8, [(c.quantity, c.note) for c in result.cells]


def test_grade_answers_wrong_cells_carry_the_derivation(conv_question):
    result = grade_answers(conv_question, {"shape": "28x28x10", "params": "750"}, "macs")
    shape, params = result.cells
    assert shape.status is Status.WRONG and shape.expected.startswith("32x32x10")
    assert params.status is Status.WRONG and "weights only" in params.note
    assert any("760" in str(step.value) or "760" in step.substituted for step in params.derivation)


def test_grade_answers_rejects_unknown_quantities(conv_question):
    with pytest.raises(AnswerError, match="unknown quantity 'volume'"):
        grade_answers(conv_question, {"volume": "3"})


def test_grade_answers_with_the_single_layer_calculator():
    single = pytest.importorskip("archcalc.single_layer")
    # 32x32x3, 16 filters 3x3: 30x30x16, params 3*3*3*16 + 16 = 448
    report = single.analyze_layer("conv2d", "32x32x3", {"filters": 16, "kernel": 3})
    assert grade_answers(report, {"shape": "30x30x16", "params": "448"}).all_right


# -- matching -----------------------------------------------------------------------------


def test_unmatched_rows_are_reported_not_dropped(lenet):
    text = "layer,type,params\nconv1,conv,156\npad,ZeroPadding2D,0\nfc9,linear,1\nfc8,linear,2\nfc7,linear,3\nfc6,linear,4\n"
    result = grade_sheet(read_answers_text(text, "sheet.csv", ".csv"), lenet)
    labels = [r.label for r in result.unmatched_rows]
    assert labels == ["pad (ZeroPadding2D)", "fc6 (linear)"]  # LeNet has three linear layers
    assert all(c.status is Status.NOT_CHECKABLE for r in result.unmatched_rows for c in r.cells)


def test_rows_without_kinds_match_by_position(lenet):
    text = "shape\n28x28x6\n28x28x6\n14x14x6\n"
    result = grade_sheet(read_answers_text(text, "sheet.csv", ".csv"), lenet)
    assert [r.layer for r in result.rows] == ["conv1", "relu1", "maxpool1"]
    assert result.all_right
