"""Pasted model summaries, recognised by their look, read into an AnswerSheet.

* **Keras** ``model.summary()``: ``Layer (type)  Output Shape  Param #`` with rows
  ``conv2d_1 (Conv2D)  (None, 54, 54, 96)  34944``; Keras 2 (underscores and
  ``=`` rules, long type names wrapped onto the next line) and Keras 3 (box
  drawing). Shapes are ``(None, H, W, C)``; ``Param #`` counts weights and
  biases, and for BatchNormalization also the moving mean and variance
  (non-trainable). Totals: ``Total params: 61,706 (241.04 KB)``, trainable,
  non-trainable.
* **torchsummary** (``torchsummary.summary``): rows ``Conv2d-1  [-1, 64, 224, 224]  1,792``,
  then totals and ``Input size (MB)``, ``Forward/backward pass size (MB)``
  (2 x the outputs of every listed layer, float32), ``Params size (MB)``,
  ``Estimated Total Size (MB)``; its MB are 2^20 bytes.
* **torchinfo** (``torchinfo.summary``): a tree ``├─Conv2d: 1-1  [1, 6, 28, 28]  156``
  (``--`` for none), optional columns (``Mult-Adds``, ``Kernel Shape``, ...);
  container rows are skipped. ``Total mult-adds`` and the ``Mult-Adds``
  column count MACs plus one add per bias (convention ``macs+bias``);
  ``Forward/backward pass size`` is 2 x the outputs of the layers that have
  parameters; its MB are 10^6 bytes.
"""

from __future__ import annotations

import re

from archcalc.errors import SourceLocation
from archcalc.grading.answers import AnswerCell, AnswerError, AnswerRow, AnswerSheet

_BOX = "│┃║|"
_RULE = re.compile(r"^[\s_=\-─━┏┓┗┛┡┩└┘┌┐├┤┬┴┼╇╈╋┳┻╭╮╯╰═]*$")
_KERAS_SHAPE = r"\[?\((?:None|\d+)?(?:,\s*(?:None|\d+))*,?\)\]?|multiple|\[\(.*?\)\]"
_KERAS_ROW = re.compile(rf"^\s*(?P<left>\S.*?)\s+(?P<shape>{_KERAS_SHAPE})\s+(?P<params>\d[\d,]*)(?:\s+(?P<rest>.*))?$")
_TOTALS = re.compile(
    r"^\s*(?P<key>Total params|Trainable params|Non-trainable params)\s*:\s*(?P<value>[\d,.]+\s*\w?)"
    r"(?:\s*\((?P<memory>[^)]*)\))?"
)
_SIZES = re.compile(
    r"^\s*(?P<key>Input size|Forward/backward pass size|Params size|Estimated Total Size)\s*\((?P<unit>\w+)\)\s*:"
    r"\s*(?P<value>[\d.,]+)"
)
_MULT_ADDS = re.compile(r"^\s*Total mult-adds\s*\((?:Units\.)?(?P<unit>\w+)\)\s*:\s*(?P<value>[\d.,]+)")
_TORCHSUMMARY_ROW = re.compile(r"^\s*(?P<kind>[A-Za-z_][\w.]*)-(?P<index>\d+)\s+(?P<shape>\[.*\])\s+(?P<params>[\d,]+|--)\s*$")
_TORCHINFO_UNITS = {"megabytes": "M", "gigabytes": "G", "terabytes": "T", "kilobytes": "K", "none": "", "m": "M",
                    "g": "G", "t": "T", "k": "K"}
_TOTAL_QUANTITY = {
    "Total params": "params",
    "Trainable params": "trainable_params",
    "Non-trainable params": "non_trainable_params",
    "Input size": "input_memory",
    "Forward/backward pass size": "pass_memory",
    "Params size": "param_memory",
    "Estimated Total Size": "total_memory",
}


def detect_summary(text: str) -> str | None:
    """``keras``, ``torchsummary`` or ``torchinfo`` when ``text`` looks like one's output."""
    if re.search(r"Layer \(type(?::depth-idx| \(var_name\))", text) or re.search(r"^[│\s]*[├└]─[A-Za-z]", text, re.MULTILINE):
        return "torchinfo"
    if "Layer (type)" not in text and "Total params" not in text:
        return None
    if re.search(r"^\s*[A-Za-z_]\w*-\d+\s+\[", text, re.MULTILINE):
        return "torchsummary"
    if re.search(r"\(None[,)]", text) or "Model: " in text:
        return "keras"
    if "Total mult-adds" in text:
        return "torchinfo"
    return None


def read_summary(text: str, source: str) -> AnswerSheet | None:
    """The AnswerSheet of a pasted Keras / torchsummary / torchinfo summary, or None."""
    kind = detect_summary(text)
    if kind == "keras":
        return read_keras(text, source)
    if kind == "torchsummary":
        return read_torchsummary(text, source)
    if kind == "torchinfo":
        return read_torchinfo(text, source)
    return None


def _totals(lines: list[str]) -> tuple[list[AnswerCell], str | None]:
    """Totals and size lines common to the three tools (MB read both ways when graded)."""
    cells: list[AnswerCell] = []
    convention = None
    for number, line in enumerate(lines, start=1):
        match = _TOTALS.match(line)
        if match:
            quantity = _TOTAL_QUANTITY[match["key"]]
            cells.append(AnswerCell(quantity, match["value"].strip(), "", number))
            if match["memory"] and quantity == "params":
                cells.append(AnswerCell("param_memory", match["memory"].strip(), "", number))
            continue
        match = _SIZES.match(line)
        if match:
            unit = match["unit"]
            cells.append(AnswerCell(_TOTAL_QUANTITY[match["key"]], match["value"], unit, number))
            continue
        match = _MULT_ADDS.match(line)
        if match:
            unit = _TORCHINFO_UNITS.get(match["unit"].lower(), match["unit"])
            cells.append(AnswerCell("flops", match["value"], unit, number))
            convention = "macs+bias"
    return cells, convention


# -- Keras ------------------------------------------------------------------------


def _strip_box(line: str) -> str:
    return "".join(" " if ch in _BOX else ch for ch in line)


def read_keras(text: str, source: str) -> AnswerSheet:
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if "Layer (type)" in ln), -1) + 1
    # text that starts under "Output Shape" or further right continues another column
    # (a long "Connected to" list), not the layer's name
    shape_column = lines[start - 1].find("Output Shape") if start > 0 else -1
    rows: list[tuple[int, str, str, str]] = []  # line, left text, shape, params
    for index in range(start, len(lines)):
        raw = lines[index]
        if re.match(r"^\s*(Total|Trainable|Non-trainable|Optimizer) params", raw):
            break
        line = _strip_box(raw)
        if _RULE.match(line):
            continue
        match = _KERAS_ROW.match(line)
        if match:
            rows.append((index + 1, match["left"].strip(), match["shape"], match["params"]))
        elif rows and (shape_column < 0 or len(line) - len(line.lstrip()) < shape_column):
            # a wrapped name or type: "max_pooling2d (MaxPooling" + "2D)"
            first = line.strip().split("  ")[0].strip()
            number, left, shape, params = rows[-1]
            joiner = "" if left.count("(") > left.count(")") else " "
            rows[-1] = (number, left + joiner + first, shape, params)
    answers: list[AnswerRow] = []
    for number, left, shape, params in rows:
        name, kind = _keras_name_type(left)
        cells = [AnswerCell("params", params, "", number)]
        if shape != "multiple":
            cells.insert(0, AnswerCell("shape", shape, "", number))
        answers.append(AnswerRow(left, name, kind, tuple(cells), number))
    totals, _ = _totals(lines)
    return AnswerSheet(source, "keras", tuple(answers), tuple(totals), tool="keras")


def _keras_name_type(left: str) -> tuple[str | None, str | None]:
    match = re.fullmatch(r"(?P<name>\S+)\s*\((?P<kind>[^()]*)\)?", left.strip())
    if match:
        return match["name"], match["kind"].strip() or None
    return left.strip() or None, None


# -- torchsummary -----------------------------------------------------------------


def read_torchsummary(text: str, source: str) -> AnswerSheet:
    lines = text.splitlines()
    answers: list[AnswerRow] = []
    for number, line in enumerate(lines, start=1):
        match = _TORCHSUMMARY_ROW.match(line)
        if not match:
            continue
        label = f"{match['kind']}-{match['index']}"
        cells = (AnswerCell("shape", match["shape"], "", number), AnswerCell("params", match["params"], "", number))
        answers.append(AnswerRow(label, None, match["kind"], cells, number))
    totals, _ = _totals(lines)
    return AnswerSheet(source, "torchsummary", tuple(answers), tuple(totals), tool="torchsummary")


# -- torchinfo --------------------------------------------------------------------

_TORCHINFO_COLUMNS = {
    "Output Shape": "shape",
    "Param #": "params",
    "Mult-Adds": "flops",
}
_TREE = "│├└─ "


def read_torchinfo(text: str, source: str) -> AnswerSheet:
    lines = text.splitlines()
    header_index = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("Layer (type")), None)
    if header_index is None:
        raise AnswerError("this looks like a torchinfo summary but has no 'Layer (type...)' heading line",
                          location=SourceLocation(source, None))
    header = lines[header_index]
    starts = [(m.start(), m.group(0)) for m in re.finditer(r"\S+(?: \S+)*", header)]
    # the first column is "Layer (type...)" which contains single spaces too
    columns = [(pos, name) for pos, name in starts if not name.startswith("Layer")]
    parsed: list[tuple[int, int, str, dict[str, str]]] = []  # line, depth, first column, cells
    for index in range(header_index + 1, len(lines)):
        line = lines[index]
        if line.startswith("Total params"):
            break
        if _RULE.match(line):
            continue
        first_end = columns[0][0] if columns else len(line)
        first = line[:first_end].rstrip()
        cells: dict[str, str] = {}
        for number, (pos, name) in enumerate(columns):
            end = columns[number + 1][0] if number + 1 < len(columns) else len(line)
            cells[name] = line[pos:end].strip()
        stripped = first.lstrip(_TREE)
        prefix = len(first) - len(stripped)
        depth_match = re.search(r":\s*(\d+)-\d+", stripped)
        depth = int(depth_match.group(1)) if depth_match else (prefix + 1) // 6 + (1 if prefix else 0)
        parsed.append((index + 1, depth, stripped.strip(), cells))
    answers: list[AnswerRow] = []
    for position, (number, depth, first, cells) in enumerate(parsed):
        following = parsed[position + 1][1] if position + 1 < len(parsed) else -1
        if depth == 0 or following > depth or "(recursive)" in first:
            continue  # the model itself, a container, or a repeated module
        kind, name = _torchinfo_kind_name(first)
        answer_cells = []
        for column, quantity in _TORCHINFO_COLUMNS.items():
            if cells.get(column):
                answer_cells.append(AnswerCell(quantity, cells[column], "", number))
        answers.append(AnswerRow(first, name, kind, tuple(answer_cells), number))
    totals, convention = _totals(lines)
    if any(c.quantity == "flops" for r in answers for c in r.cells):
        convention = "macs+bias"
    return AnswerSheet(source, "torchinfo", tuple(answers), tuple(totals), convention=convention, tool="torchinfo")


def _torchinfo_kind_name(first: str) -> tuple[str | None, str | None]:
    """``Conv2d: 1-1`` -> (Conv2d, None); ``Conv2d (conv1)`` -> (Conv2d, conv1)."""
    match = re.match(r"(?P<kind>[A-Za-z_][\w.]*)(?:\s*\((?P<name>[^)]*)\))?(?:\s*:\s*\d+-\d+)?", first)
    if not match:
        return None, None
    return match["kind"], (match["name"] or None)
