"""Regenerate the torchinfo fixtures (run by hand, not by pytest):

    python tests/data/answers/generate_torchinfo.py

Each text is what the installed torchinfo prints for a torch module built from a
spec with archcalc.torch_builder.build_module; the graded values come from torchinfo.
"""

from pathlib import Path

from torchinfo import summary

from archcalc.spec import load_spec
from archcalc.torch_builder import build_module

HERE = Path(__file__).parent


def main() -> None:
    lenet = build_module(load_spec(HERE / "specs" / "lenet5.yaml"))
    text = str(summary(lenet, input_size=(1, 1, 32, 32), verbose=0))
    (HERE / "torchinfo_lenet5.txt").write_text(text + "\n", encoding="utf-8")
    text = str(summary(lenet, input_size=(1, 1, 32, 32), col_names=("output_size", "num_params", "mult_adds"),
                       row_settings=("var_names",), verbose=0))
    (HERE / "torchinfo_lenet5_mult_adds.txt").write_text(text + "\n", encoding="utf-8")
    vgg = build_module(load_spec(Path(__file__).parents[3] / "archcalc" / "specs" / "vgg16.yaml"))
    text = str(summary(vgg, input_size=(1, 3, 224, 224), col_names=("input_size", "output_size", "num_params",
                                                                     "kernel_size", "mult_adds"), verbose=0))
    (HERE / "torchinfo_vgg16.txt").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
