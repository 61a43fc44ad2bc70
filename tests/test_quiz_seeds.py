"""The course exercises ``archcalc quiz`` was asked to regenerate, against their published numbers.

Expected values are the courses' own (written out here, with their arithmetic), never
archcalc's output: CS231n's "ten 5x5 filters on 32x32x3" and its VGG-16 table, the Keras
VGG-16 summary, EECS 498's AlexNet table at 227x227, a dense layer of 256 units on 28x28x1,
and the naive Inception module's 854M multiply-adds. Where a published table rounds, the
published text is graded by ``archcalc check`` against the regenerated exercise's header.
"""

from __future__ import annotations

import archcalc
from archcalc.grading import grade_sheet, read_answers_text
from archcalc.quiz import QuizOptions, make_quiz
from archcalc.quiz.markdown import render


def one(kind: str, **options):
    [variant] = make_quiz(kind, QuizOptions(**options))
    return variant


def answers(variant, label: str) -> dict:
    row = next(r for r in variant.rows if r.label == label)
    return {q: a.value for q, a in row.answers.items()}


def published_grades_right(variant, rows: list[tuple[str, dict[str, str]]], headings: dict[str, str]) -> None:
    """A Markdown table of the published values under the variant's header, graded by check."""
    header = render(variant, key=False).split("## Exercise")[0]
    columns = list(headings)
    lines = ["| Layer | " + " | ".join(headings[c] for c in columns) + " |",
             "|" + " --- |" * (len(columns) + 1)]
    for label, values in rows:
        lines.append(f"| {label} | " + " | ".join(values.get(c, "") for c in columns) + " |")
    sheet = read_answers_text(header + "\n" + "\n".join(lines) + "\n", "published.md", ".md")
    report = archcalc.analyze(sheet.model, sheet.input, convention=sheet.convention)
    result = grade_sheet(sheet, report)
    wrong = [(r.label, c.quantity, c.written, c.expected) for r in result.rows for c in r.cells if c.status.value != "right"]
    wrong += [("total", c.quantity, c.written, c.expected) for c in result.totals if c.status.value != "right"]
    assert not wrong
    assert result.right == sum(len(v) for _, v in rows)


def test_ten_5x5_filters_on_32x32x3():
    """CS231n: 32x32x3, ten 5x5 filters, stride 1, pad 2: output 32x32x10, (5*5*3 + 1)*10 = 760 parameters."""
    conv = answers(one("conv", classic=True), "conv")
    assert conv["shape"] == (10, 32, 32)
    assert conv["params"] == (5 * 5 * 3 + 1) * 10 == 760
    assert conv["macs"] == 32 * 32 * 10 * 5 * 5 * 3
    assert conv["rf"] == (5, 5)


def test_256_units_on_28x28x1_flattened_first():
    """A fully connected layer of 256 units on 28x28x1: (28*28*1 + 1)*256 = 200,960 parameters."""
    variant = one("dense", classic=True)
    fc = answers(variant, "fc")
    assert fc["params"] == (28 * 28 + 1) * 256 == 200_960
    assert fc["macs"] == 28 * 28 * 256
    assert fc["shape"] == (256,)
    assert "flatten" in variant.model  # flattened first, whatever `archcalc layer fc` does


def test_naive_inception_854M_and_the_bottleneck():
    """CS231n's naive Inception module on 28x28x256: 128 1x1, 192 3x3 and 96 5x5 convolutions
    and a 3x3 pool give 28x28x(128+192+96+256) = 28x28x672 and 854M multiply-adds. The 1x1
    bottleneck version (64 1x1 before the 3x3 and the 5x5, 64 after the pool) gives 28x28x480;
    the slide's total of 358M does not match its own terms, which sum to 271M."""
    variant = one("compare", classic=True)
    naive, bottleneck = answers(variant, "naive"), answers(variant, "bottleneck")
    naive_macs = 28 * 28 * 128 * 1 * 1 * 256 + 28 * 28 * 192 * 3 * 3 * 256 + 28 * 28 * 96 * 5 * 5 * 256
    assert naive["macs"] == naive_macs == 854_196_224
    assert naive["shape"] == (672, 28, 28)
    slide_terms = [28 * 28 * 64 * 1 * 1 * 256, 28 * 28 * 64 * 1 * 1 * 256, 28 * 28 * 128 * 1 * 1 * 256,
                   28 * 28 * 192 * 3 * 3 * 64, 28 * 28 * 96 * 5 * 5 * 64, 28 * 28 * 64 * 1 * 1 * 256]
    assert bottleneck["macs"] == sum(slide_terms) == 271_351_808
    assert bottleneck["shape"] == (480, 28, 28)
    published_grades_right(variant, [("naive", {"shape": "28x28x672", "macs": "854M"})],
                           {"shape": "Output shape", "macs": "MACs"})


#: CS231n, "Convolutional Neural Networks": VGGNet in detail (memory as elements, weights without biases)
CS231N_VGG = [
    ("INPUT", "224x224x3", "224*224*3=150K", "0"),
    ("CONV3-64", "224x224x64", "224*224*64=3.2M", "(3*3*3)*64 = 1,728"),
    ("CONV3-64", "224x224x64", "224*224*64=3.2M", "(3*3*64)*64 = 36,864"),
    ("POOL2", "112x112x64", "112*112*64=800K", "0"),
    ("CONV3-128", "112x112x128", "112*112*128=1.6M", "(3*3*64)*128 = 73,728"),
    ("CONV3-128", "112x112x128", "112*112*128=1.6M", "(3*3*128)*128 = 147,456"),
    ("POOL2", "56x56x128", "56*56*128=400K", "0"),
    ("CONV3-256", "56x56x256", "56*56*256=800K", "(3*3*128)*256 = 294,912"),
    ("CONV3-256", "56x56x256", "56*56*256=800K", "(3*3*256)*256 = 589,824"),
    ("CONV3-256", "56x56x256", "56*56*256=800K", "(3*3*256)*256 = 589,824"),
    ("POOL2", "28x28x256", "28*28*256=200K", "0"),
    ("CONV3-512", "28x28x512", "28*28*512=400K", "(3*3*256)*512 = 1,179,648"),
    ("CONV3-512", "28x28x512", "28*28*512=400K", "(3*3*512)*512 = 2,359,296"),
    ("CONV3-512", "28x28x512", "28*28*512=400K", "(3*3*512)*512 = 2,359,296"),
    ("POOL2", "14x14x512", "14*14*512=100K", "0"),
    ("CONV3-512", "14x14x512", "14*14*512=100K", "(3*3*512)*512 = 2,359,296"),
    ("CONV3-512", "14x14x512", "14*14*512=100K", "(3*3*512)*512 = 2,359,296"),
    ("CONV3-512", "14x14x512", "14*14*512=100K", "(3*3*512)*512 = 2,359,296"),
    ("POOL2", "7x7x512", "7*7*512=25K", "0"),
    ("FC", "1x1x4096", "4096", "7*7*512*4096 = 102,760,448"),
    ("FC", "1x1x4096", "4096", "4096*4096 = 16,777,216"),
    ("FC", "1x1x1000", "1000", "4096*1000 = 4,096,000"),
]


def test_cs231n_vgg16_table():
    variant = one("table", model="vgg16", style="cs231n", classic=True)
    rows = [r for r in variant.rows if r.label != "total"]
    assert len(rows) == len(CS231N_VGG)
    published = []
    for row, (kind, shape, memory, weights) in zip(rows, CS231N_VGG):
        published.append((row.label, {"shape": shape, "memory": memory, "weights": weights}))
        assert row.answers["weights"].value == int(weights.split("=")[-1].replace(",", ""))
    assert answers(variant, "features.stage1.conv1")["memory"] == 224 * 224 * 64
    published.append(("total", {"weights": "138M"}))  # "TOTAL params: 138M parameters"
    published_grades_right(variant, published, {"shape": "Output", "memory": "Memory (elements)",
                                                "weights": "Weights"})


#: keras.applications.VGG16(include_top=True).summary(): output shapes and Param #
KERAS_VGG16 = [
    ("(None, 224, 224, 3)", 0), ("(None, 224, 224, 64)", 1792), ("(None, 224, 224, 64)", 36928),
    ("(None, 112, 112, 64)", 0), ("(None, 112, 112, 128)", 73856), ("(None, 112, 112, 128)", 147584),
    ("(None, 56, 56, 128)", 0), ("(None, 56, 56, 256)", 295168), ("(None, 56, 56, 256)", 590080),
    ("(None, 56, 56, 256)", 590080), ("(None, 28, 28, 256)", 0), ("(None, 28, 28, 512)", 1180160),
    ("(None, 28, 28, 512)", 2359808), ("(None, 28, 28, 512)", 2359808), ("(None, 14, 14, 512)", 0),
    ("(None, 14, 14, 512)", 2359808), ("(None, 14, 14, 512)", 2359808), ("(None, 14, 14, 512)", 2359808),
    ("(None, 7, 7, 512)", 0), ("(None, 25088)", 0), ("(None, 4096)", 102764544), ("(None, 4096)", 16781312),
    ("(None, 1000)", 4097000),
]


def test_keras_vgg16_table():
    variant = one("table", model="vgg16", style="keras", classic=True)
    rows = [r for r in variant.rows if r.label != "total"]
    assert [(r.answers["shape"].text, r.answers["params"].value) for r in rows] == KERAS_VGG16
    assert answers(variant, "total")["params"] == 138_357_544  # "Total params: 138,357,544"


def test_eecs498_alexnet_table_at_227():
    """EECS 498 (Lecture 8) AlexNet at 227x227: memory in KB, params in thousands, "flop" in
    millions of multiply-adds. Its 56 -> 27 pooling floors, so the exercise needs --allow-floor."""
    variant = one("table", model="alexnet", style="eecs498", input="227x227x3", allow_floor=True)
    conv1 = answers(variant, "features.conv1")
    assert conv1["shape"] == (64, 56, 56)
    assert conv1["memory"] == 64 * 56 * 56 * 4  # 784 KB
    published = [
        ("features.conv1", {"shape": "64x56x56", "memory": "784", "params": "23", "flops": "73"}),
        ("features.maxpool1", {"shape": "64x27x27", "memory": "182", "params": "0", "flops": "0"}),
        ("features.conv2", {"shape": "192x27x27", "memory": "547", "params": "307", "flops": "224"}),
        ("features.maxpool2", {"shape": "192x13x13", "memory": "127", "params": "0", "flops": "0"}),
        ("features.conv3", {"shape": "384x13x13", "memory": "254", "params": "664", "flops": "112"}),
        ("features.conv4", {"shape": "256x13x13", "memory": "169", "params": "885"}),
        ("features.conv5", {"shape": "256x13x13", "memory": "169", "params": "590", "flops": "100"}),
        ("features.maxpool3", {"shape": "256x6x6", "memory": "36", "params": "0", "flops": "0"}),
        ("flatten1", {"shape": "9216", "memory": "36", "params": "0", "flops": "0"}),
        ("classifier.linear1", {"shape": "4096", "memory": "16", "flops": "38"}),
        ("classifier.linear2", {"shape": "4096", "memory": "16", "flops": "17"}),
        ("classifier.linear3", {"shape": "1000", "memory": "4", "flops": "4"}),
    ]
    published_grades_right(variant, published, {"shape": "Output (C x H x W)", "memory": "Memory (KB)",
                                                "params": "Params (K)", "flops": "FLOPs (M)"})


def test_alexnet_paper_at_227_fits_without_the_floor():
    """The 2012 paper's AlexNet (96 filters of 11x11, stride 4, no padding) fits 227x227 exactly: 55x55x96."""
    variant = one("table", model="alexnet_paper", input="227x227x3")
    assert answers(variant, "features.conv1")["shape"] == (96, 55, 55)
