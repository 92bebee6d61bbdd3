"""The `npusim` entry point: the static verb table matches the verb modules, and start-up
stays light (`--help` and `--version` import no verb, no numpy, no pydantic, no rich; importing
`simulator` imports none of the API). Start-up *time* is measured by
benchmarks/bench_startup.py, not here."""

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import simulator
import simulator.cli
from simulator.cli.main import VERBS, build_parser, main

CHECKOUT = Path(simulator.__file__).resolve().parents[1]
#: Modules whose import is what start-up must avoid for --help and --version.
HEAVY = ("numpy", "pydantic", "pydantic_core", "rich", "simpy", "yaml", "onnx")


def _modules_after(code: str) -> set[str]:
    """The modules imported by running `code` in a fresh interpreter on this checkout."""
    script = (f"import sys\n{code}\nimport json\n"
              "sys.__stderr__.write('\\nMODULES ' + json.dumps(sorted(sys.modules)))\n")
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    proc = subprocess.run([sys.executable, "-c", script], cwd=CHECKOUT, env=env,
                          capture_output=True, text=True, timeout=120)
    marker = proc.stderr.rfind("\nMODULES ")
    assert marker >= 0, proc.stderr
    return set(json.loads(proc.stderr[marker + len("\nMODULES "):]))


def _entry_point(*args: str) -> str:
    # what the `npusim` console script runs
    return ("from simulator.cli import main\n"
            f"try:\n    main({list(args)!r})\nexcept SystemExit:\n    pass")


def _top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.mark.parametrize("args", [("--help",), ("--version",), ()])
def test_help_and_version_import_nothing_heavy(args):
    modules = _modules_after(_entry_point(*args))
    assert not _top(modules) & set(HEAVY), sorted(_top(modules) & set(HEAVY))
    assert {m for m in modules if m.startswith("simulator")} == {
        "simulator", "simulator.cli", "simulator.cli.main"}


def test_import_simulator_is_lazy():
    modules = _modules_after("import simulator\nassert simulator.__version__")
    assert {m for m in modules if m.startswith("simulator")} == {"simulator"}
    modules = _modules_after("from simulator import simulate, load_arch")
    assert "simulator.api" in modules


def test_list_builds_no_model_and_needs_no_numpy():
    modules = _modules_after(_entry_point("list"))
    assert not {"numpy", "pydantic", "simpy"} & _top(modules)
    assert "simulator.api" not in modules


def test_verb_help_imports_only_that_verb():
    modules = _modules_after(_entry_point("sweep", "--help"))
    verbs = {m for m in modules if m.startswith("simulator.cli.")} - {"simulator.cli.main"}
    assert verbs == {"simulator.cli.sweep"}


def test_the_verb_table_lists_every_verb_module_with_its_own_help():
    listed = {module for _, module, _ in VERBS}
    found = {f"simulator.cli.{info.name}" for info in pkgutil.iter_modules(simulator.cli.__path__)
             if hasattr(importlib.import_module(f"simulator.cli.{info.name}"), "register")}
    assert listed == found
    # the help `npusim --help` shows without importing a module is the one the module registers
    parser = build_parser("*")
    sub = next(a for a in parser._actions if a.dest == "command")
    registered = {action.dest: action.help for action in sub._choices_actions}
    assert registered == {name: help_text for name, _, help_text in VERBS}
    assert [name for name, _, _ in VERBS] == sorted(name for name, _, _ in VERBS)


def test_lazy_attributes():
    from simulator.api import simulate
    from simulator.core.errors import NpusimError

    assert simulator.simulate is simulate and simulator.NpusimError is NpusimError
    assert {"simulate", "load_arch", "load_workload", "NpusimError"} <= set(dir(simulator))
    with pytest.raises(AttributeError, match="no attribute 'simulte'"):
        simulator.simulte  # noqa: B018


def test_dispatch_and_errors(capsys):
    assert main([]) == 2                              # no verb: help, status 2
    assert "COMMAND" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["bogus"])
    assert info.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
    assert main(["run", "tpu_v9", "resnet50"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("npusim: error: tpu_v9: no bundled arch or file named 'tpu_v9'")
    assert "\n" not in err
    assert main(["list"]) == 0
    assert "tpu_sram_pe" in capsys.readouterr().out


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"npusim {simulator.__version__}"
    from simulator.api import __version__
    assert __version__ == simulator.__version__
