"""The YAML spec frontend: spec text -> Graph (see docs/spec-format.md)."""

from archcalc.spec.loader import load_spec, load_spec_text

__all__ = ["load_spec", "load_spec_text"]
