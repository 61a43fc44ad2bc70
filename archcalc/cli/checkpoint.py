"""``archcalc FILE.safetensors|.gguf|model.safetensors.index.json [--config config.json]``: a
checkpoint's header (tensors, dtypes, parameters per module prefix), never its weights."""

from __future__ import annotations

from pathlib import Path

from archcalc.cli.app import write_output
from archcalc.errors import InputError


def show_checkpoint(model: str, config: str | None, fmt: str, output: Path | None, *, depth: int | None,
                    exact: bool, verbose: bool) -> None:
    from archcalc.frontends.checkpoints import read_checkpoint
    from archcalc.render.checkpoint import checkpoint_json, checkpoint_lines

    checkpoint = read_checkpoint(model)
    match = None
    if config is not None:
        from archcalc.frontends.checkpoint_config import match_config

        match = match_config(checkpoint, config)
    if fmt == "json":
        write_output(checkpoint_json(checkpoint, match), output, what="json")
    elif fmt == "table":
        write_output("\n".join(checkpoint_lines(checkpoint, match, depth=depth, exact=exact, verbose=verbose)),
                     output, what="table")
    else:
        raise InputError(f"a checkpoint prints as the table or json, not {fmt}")
