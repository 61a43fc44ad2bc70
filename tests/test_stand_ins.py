"""The stand-ins a capture puts in place of torch._dynamo, symbolic_shapes and sympy
(archcalc/frontends/stand_ins.py): right answers on plain values, the real module for anything
else, and nothing left behind."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_plain_values_get_the_real_answers_without_the_import():
    out = run(
        """
        import sys, torch
        from archcalc.frontends.stand_ins import light_torch_imports
        with light_torch_imports():
            from torch.fx.experimental.symbolic_shapes import expect_true, guard_or_false, sym_and, sym_eq
            print(expect_true(True), guard_or_false(False), sym_and(True, False), sym_eq((2, 3), torch.Size([2, 3])))
            print("sympy" in sys.modules and type(sys.modules["sympy"]).__name__, "torch._dynamo" in sys.modules)
        print("after", "sympy" in sys.modules, "torch._dynamo" in sys.modules, "_dynamo" in vars(torch))
        """
    )
    assert out.splitlines() == ["True False False True", "module True", "after False False False"]


def test_anything_else_loads_the_real_module_once():
    out = run(
        """
        import sys, torch
        from archcalc.frontends.stand_ins import light_torch_imports

        class Odd:
            def __bool__(self):
                return True

        with light_torch_imports():
            from torch.fx.experimental.symbolic_shapes import guard_or_false
            try:
                guard_or_false(Odd())  # not a plain value: the real helper decides (and refuses it)
            except AssertionError as error:
                print("real:", error)
            from torch._dynamo import config  # a real attribute: the real module
            print(type(config).__name__)
        print("after", type(sys.modules["torch.fx.experimental.symbolic_shapes"]).__name__, "torch._dynamo" in sys.modules)
        """
    )
    lines = out.splitlines()
    assert lines[0].startswith("real: Expected bool")
    assert lines[1] == "ConfigModuleInstance" and lines[2] == "after module True"
