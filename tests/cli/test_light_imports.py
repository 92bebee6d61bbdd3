"""Every `cli/<verb>.py` is light at import: registering its parser (what `npusim --help`
builds) imports argparse and the standard library only; numpy, pydantic, rich, the API, the
models, dse and report are imported inside the functions that run the verb."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import simulator

PACKAGE = Path(simulator.__file__).resolve().parent

#: Verbs whose module another change owns (`list`: the bundled-data / fast-start work).
NOT_YET: set[str] = set()

_PROBE = r"""
import argparse, importlib, json, pkgutil, sys, types
from pathlib import Path
root = Path(sys.argv[1])
# stand-ins for the package __init__ files, so only the verb modules themselves are measured
for name, path in (("simulator", root), ("simulator.cli", root / "cli")):
    module = types.ModuleType(name)
    module.__path__ = [str(path)]
    sys.modules[name] = module
before = set(sys.modules)
sub = argparse.ArgumentParser().add_subparsers()
verbs = []
for info in sorted(pkgutil.iter_modules([str(root / "cli")]), key=lambda m: m.name):
    if info.name in ("main", "common") or info.name in json.loads(sys.argv[2]):
        continue
    importlib.import_module(f"simulator.cli.{info.name}").register(sub)
    verbs.append(info.name)
print(json.dumps({"verbs": verbs, "imported": sorted(set(sys.modules) - before)}))
"""

HEAVY = ("numpy", "pydantic", "rich", "yaml", "simpy", "onnx", "matplotlib")


def test_registering_every_verb_imports_nothing_heavy():
    out = subprocess.run([sys.executable, "-c", _PROBE, str(PACKAGE), json.dumps(sorted(NOT_YET))],
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    assert {"run", "compare", "sweep", "sweep_report", "sparse_study",
            "import_onnx"} <= set(data["verbs"])
    ours = [m for m in data["imported"] if m.startswith("simulator.")]
    assert ours == sorted(f"simulator.cli.{v}" for v in data["verbs"] + ["common"])
    assert [m for m in data["imported"] if m.split(".")[0] in HEAVY] == []


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_nothing_below_the_commands_imports_them():
    """Reports, dse, the API and the models never import `simulator.cli`; one verb module never
    imports another (shared helpers live in cli/common.py)."""
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        cli_imports = {m for m in _imported_modules(path) if m.startswith("simulator.cli")}
        if rel.startswith("cli/"):
            allowed = {"simulator.cli.common"} | ({"simulator.cli.main"}
                                                   if rel == "cli/__init__.py" else set())
            assert cli_imports <= allowed, rel
        elif rel != "__main__.py":
            assert not cli_imports, rel


def test_one_form_of_install_hint():
    """Every hint for an optional extra reads `pip install 'npusim[EXTRA]'` (issue 13), and
    names an extra that pyproject.toml defines."""
    import re
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    hints = []
    for path in sorted((root / "simulator").rglob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "pip install" in line:
                hints.append((path.name, line))
    assert hints
    for name, line in hints:
        found = re.findall(r"pip install (\S+)", line)
        assert found and all(re.fullmatch(r"'npusim\[(\w+)\]'[`\"),.:;]*", f) for f in found), \
            f"{name}: {line.strip()}"
        for f in found:
            assert re.match(r"'npusim\[(\w+)\]'", f).group(1) in extras, f"{name}: {line.strip()}"
