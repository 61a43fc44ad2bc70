"""The command line: ``archcalc MODEL --input 224x224x3`` and its subcommands.

Thin by design: each command parses its options, calls the library and
renders. User errors (:class:`archcalc.errors.ArchcalcError`) print in one or
two lines and exit with status 2; a traceback is a bug. Each command lives in
its own module, which registers itself on :data:`app` when imported.

:func:`main` imports only the module of the command it runs (the main job,
``archcalc vgg16``, never loads ``check`` or ``verify``); ``archcalc --help``
and ``from archcalc.cli import app`` load them all.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types

#: command name -> the module of archcalc.cli that registers it
COMMAND_MODULES = {
    "analyze": "analyze",
    "list": "analyze",
    "layers": "analyze",
    "check": "check",
    "compare": "compare",
    "layer": "layer",
    "llm": "llm",
    "quiz": "quiz",
    "verify": "verify",
}
#: the command that runs when the first word is not a command (``archcalc vgg16``)
DEFAULT_COMMAND = "analyze"


def load_commands(names=None):
    """Register the commands ``names`` (all when None) and return the typer app."""
    modules = sorted({COMMAND_MODULES[n] for n in (names or COMMAND_MODULES)})
    for module in modules:
        importlib.import_module(f"{__name__}.{module}")
    return importlib.import_module(f"{__name__}.app").app


def command_names() -> set[str]:
    return set(COMMAND_MODULES)


def normalize_argv(argv: list[str]) -> list[str]:
    """``archcalc vgg16 ...`` means ``archcalc analyze vgg16 ...``."""
    if argv and argv[0] not in COMMAND_MODULES and not argv[0].startswith("-"):
        return [DEFAULT_COMMAND, *argv]
    return argv


def mistyped_command(argv: list[str]) -> str | None:
    """The command a first word that is no command, model, file or module target was
    probably meant to be (``compre`` -> ``compare``), or None."""
    if not argv or argv[0] in COMMAND_MODULES or argv[0].startswith("-"):
        return None
    word = argv[0]
    if any(mark in word for mark in "./:\\"):  # a path or a module target, never a command
        return None
    import difflib
    from pathlib import Path

    close = difflib.get_close_matches(word.lower(), sorted(COMMAND_MODULES), n=1, cutoff=0.6)
    if not close:
        return None
    from archcalc.frontends import is_module_target
    from archcalc.zoo import zoo_path

    if zoo_path(word) is not None or Path(word).exists() or is_module_target(word):
        return None
    return close[0]


#: the cyclic garbage collector's thresholds in a command-line run (Python's own: 700, 10, 10)
GC_THRESHOLDS = (20_000, 20, 20)


@contextlib.contextmanager
def collector_paused(paused: bool):
    """The cyclic garbage collector off inside the block when ``paused`` (and on before it), on again
    after it. For a YAML spec's analysis and its rendering (:func:`archcalc.api.reads_as_spec`)
    only: pure Python whose objects (graph, report, lines) live to the run's end, and whose garbage
    is freed by reference counts; a collection there finds nothing to free, yet walks every object
    alive, about 8% of a 100,000-layer table (``benchmarks/bench_hostile_sizes.py``). Its garbage in
    cycles, if any, is bounded by the spec's size (100,000 layers at most) and collected after the
    block. A live module's run keeps the collector: a forward's exception tracebacks and the
    capture's records can hold real tensors in cycles, which must be freed while it runs."""
    import gc

    if not paused or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def main(argv: list[str] | None = None) -> None:
    """The command line. Ctrl-C ends any run at once with one line and status 130 (what a shell
    gives a process that SIGINT ended), whatever the model's forward was doing.

    A run builds its objects (graph, report, table lines) and keeps them to its end; at Python's
    thresholds the collector walked them over and over, a quarter of the time of a 100,000-layer
    table (``benchmarks/bench_hostile_sizes.py``). A collection every 20,000 new objects instead of
    700 takes that away and keeps what garbage waits for the collector small."""
    import gc

    gc.set_threshold(*GC_THRESHOLDS)
    try:
        _main(argv)
    except KeyboardInterrupt:
        sys.stderr.write("archcalc: interrupted\n")
        raise SystemExit(130) from None


def _main(argv: list[str] | None = None) -> None:
    raw = list(sys.argv[1:] if argv is None else argv)
    meant = mistyped_command(raw)
    if meant is not None:
        from archcalc.cli.main_job import print_error
        from archcalc.errors import InputError

        print_error(InputError(f"no command or model named '{raw[0]}'; did you mean '{meant}'?",
                               hint=f"archcalc {meant} --help; archcalc list shows the models"))
        raise SystemExit(2)
    args = normalize_argv(raw)
    from archcalc.cli.main_job import plain_arguments, run

    plain = plain_arguments(args)
    if plain is not None:  # the main job, without typer (same output: tests/test_cli_main_job.py)
        raise SystemExit(run(**plain))
    app = load_commands([args[0]] if args and args[0] in COMMAND_MODULES else None)
    app(args=args, prog_name="archcalc")


class _Package(types.ModuleType):
    """``archcalc.cli.app`` is the typer application with every command loaded (as it always
    was), whatever was imported first: importing the submodule ``archcalc.cli.app`` makes the
    import system bind that name to the module, which the setter declines."""

    @property
    def app(self):
        return load_commands()

    @app.setter
    def app(self, value) -> None:
        pass


sys.modules[__name__].__class__ = _Package


__all__ = ["app", "main", "normalize_argv"]
