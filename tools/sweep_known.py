"""The xfail table of the transformers sweep, from what the sweep observed.

    python tests/hf_sweep.py > sweep.jsonl          # one JSON line per model type
    python tools/sweep_known.py sweep.jsonl > tests/hf_sweep_known.py

Each failing (model type, aspect) becomes an entry whose reason names the cause, grouped as in
issue 16 (C5: the output shape is the last op, not what forward returns; a whole-batch
capture keeps the batch axis; FLOPs under- or over-counted; "not called" said of modules that
ran; warnings on exact models; archcalc failed), followed by the first problem observed.
"""

from __future__ import annotations

import json
import re
import sys

HEADER = '''"""Failures of the current live capture observed in the transformers sweep: (model type,
aspect) -> the cause. tests/test_hf_sweep.py marks them ``xfail(strict=False)``; an XPASS
means the capture now gets it right: remove the entry. Made by tools/sweep_known.py from the
output of ``python tests/hf_sweep.py`` (one JSON line per model type)."""

# fmt: off
KNOWN: dict[tuple[str, str], str] = {'''


def shape_cause(problem: str) -> str:
    match = re.match(r"batch (\d): output_shape \[(.*?)\] vs torch (\S+) \[(.*?)\]", problem)
    if not match:
        return f"wrong outputs ({problem})"
    batch, got, _, want = match.groups()
    got_shape = [int(x) for x in got.split(", ") if x]
    want_shape = [int(x) for x in want.split(", ") if x]
    if "(the shape of " in problem:
        return f"C5: output_shape is another output, not the first forward returns ({problem})"
    if got_shape[:1] == [int(batch)] and got_shape[1:] == want_shape:
        return f"whole-batch capture: output_shape keeps the batch axis ({problem})"
    if len(got_shape) < len(want_shape) or (got_shape[1:] == want_shape[1:] and got_shape[0] != want_shape[0]):
        return f"C5: output_shape is the last op (a pooler or side branch), not the first output ({problem})"
    return f"wrong output shape ({problem})"


def cause(aspect: str, problems: list[str]) -> str:
    problem = problems[0]
    if "archcalc failed" in problem:
        return "archcalc failed: " + re.sub(r"^.*?archcalc failed(?: at batch \d)?: ", "", problem)[:160]
    if aspect == "shape":
        return shape_cause(problem)
    if aspect == "flops":
        return ("FLOPs under-counted: " if "(-" in problem else "FLOPs over-counted: ") + problem[:140]
    if aspect == "not_called":
        return "'not called' said of modules that ran or were read: " + problem.removeprefix("said never called: ")[:140]
    if aspect == "warnings":
        return "warning on an exact model: " + problem.removeprefix("warnings on an exact model: ")[:140]
    if aspect == "unchanged":
        return "the model is changed by the analysis: " + problem[:140]
    return problem[:160]


def main() -> None:
    records = {}
    for path in sys.argv[1:]:
        with open(path) as lines:
            for line in lines:
                record = json.loads(line)
                records[record["type"]] = record
    print(HEADER)
    for model_type in sorted(records):
        record = records[model_type]
        for aspect, problems in (record.get("problems") or {}).items():
            if problems:
                print(f"    ({model_type!r}, {aspect!r}): {cause(aspect, problems)!r},")
    print("}")
    print("# fmt: on")


if __name__ == "__main__":
    main()
