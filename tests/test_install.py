"""npusim as a user gets it: a wheel built from this checkout, installed into a fresh venv (no
system site-packages; dependencies from the package index pip is configured with), run from a
directory outside the checkout. Catches data that do not ship, or that are looked for beside
the source tree, which no in-tree test can see.

It takes about 30 s (building the wheel and installing numpy, pydantic, simpy, rich and PyYAML
into the venv dominate). Deselect it while iterating with `-m "not install"`; CI runs it, and
it never skips: a failure to build or install is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.install

CHECKOUT = Path(__file__).resolve().parents[1]
#: Not needed to build the wheel, and possibly large or stale (an old build/lib would leak
#: deleted modules into the wheel).
_NOT_COPIED = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__",
                                     ".venv", "venv", ".pytest_cache", ".hypothesis", "reports",
                                     "out", "plots", "*.sqlite", "*.pyc")
_TIMEOUT_S = 600


def _run(cmd: list[str | Path], cwd: Path, env: dict[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=_TIMEOUT_S)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
                    f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc


def _pip_has_python_option() -> bool:
    """pip >= 22.3 can install into another interpreter's environment (`pip --python`), which
    saves bootstrapping pip into the venv."""
    version = _run([sys.executable, "-m", "pip", "--version"], CHECKOUT).stdout.split()[1]
    return tuple(int(p) for p in re.findall(r"\d+", version)[:2]) >= (22, 3)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """Build the wheel, make the venv, install; return the paths and the environment to run in."""
    work = tmp_path_factory.mktemp("install")
    source = work / "source"
    shutil.copytree(CHECKOUT, source, symlinks=True, ignore=_NOT_COPIED)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", work / "dist",
          source], work)
    (wheel,) = (work / "dist").glob("npusim-*.whl")

    env_dir = work / "venv"
    with_pip = not _pip_has_python_option()
    venv.create(env_dir, with_pip=with_pip, system_site_packages=False, clear=True)
    python = env_dir / "bin" / "python"
    pip = [python, "-m", "pip"] if with_pip else [sys.executable, "-m", "pip", "--python", python]
    # --no-compile: byte-compiling all of numpy is most of an install's time; the modules a run
    # imports are compiled on first use
    _run([*pip, "install", "--no-compile", "--disable-pip-version-check", wheel], work)

    # nothing of the checkout on the path; bytecode written on first import (the install
    # skipped compiling), so later runs do not compile numpy again
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH",
                        "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(env_dir)
    elsewhere = work / "elsewhere"  # a working directory with nothing of the checkout in it
    elsewhere.mkdir()
    return {"python": python, "npusim": env_dir / "bin" / "npusim", "env": env,
            "cwd": elsewhere, "site": env_dir}


def _npusim(installed: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run([installed["npusim"], *args], installed["cwd"], installed["env"], check=check)


def _python(installed: dict, code: str) -> str:
    return _run([installed["python"], "-c", code], installed["cwd"], installed["env"]).stdout


def test_the_venv_runs_the_installed_wheel_not_the_checkout(installed):
    out = _python(installed, "import sys, simulator\n"
                  "from simulator.io.bundled import data_root\n"
                  "print(simulator.__file__); print(data_root()); print(sys.flags.no_site)")
    package, data, _ = out.splitlines()
    assert Path(package).is_relative_to(installed["site"]), package
    assert Path(data).is_relative_to(installed["site"]), data
    assert not Path(data, "arch_configs").is_symlink()   # the wheel holds copies, not links
    assert not Path(package).is_relative_to(CHECKOUT)


def test_version_and_help(installed):
    assert _npusim(installed, "--version").stdout.strip() == "npusim 0.1.0"
    assert "sweep-report" in _npusim(installed, "--help").stdout


def test_list_shows_bundled_archs_workloads_and_sweeps(installed):
    out = _npusim(installed, "list").stdout
    for title in ("Architectures", "Workloads", "Sweeps"):
        assert title in out
    for name in ("tpu_v1", "eie", "bpu", "edge_32x32", "eyeriss", "resnet50", "mobilenet_v2",
                 "eie_benchmarks", "tpu_sram_pe"):
        assert re.search(rf"\b{name}\b", out), name
    assert "unreadable" not in out


def test_run_tpu_v1_resnet50_matches_the_checkout(installed):
    from simulator import simulate

    result = json.loads(_npusim(installed, "run", "tpu_v1", "resnet50", "--format", "json").stdout)
    here = simulate("tpu_v1", "resnet50")
    assert result["totals"]["cycles"] == here.totals.cycles
    assert result["totals"]["energy_pj"] == pytest.approx(here.totals.energy_pj, rel=1e-12)
    assert len(result["layers"]) == 72


def test_run_eie_on_its_benchmarks(installed):
    result = json.loads(_npusim(installed, "run", "eie", "eie_benchmarks", "--format",
                                "json").stdout)
    assert result["arch"]["kind"] == "sparse"
    assert len(result["layers"]) == 9
    assert all(layer["cycles"] > 0 for layer in result["layers"])


def test_run_bpu_on_mobilenet_v2(installed):
    result = json.loads(_npusim(installed, "run", "bpu", "mobilenet_v2", "--format",
                                "json").stdout)
    assert result["arch"]["kind"] == "tensorcore"
    assert result["totals"]["cycles"] > 0 and result["totals"]["energy_pj"] > 0


def test_bundled_sweep_runs_and_reports(installed):
    # the first 16 of its 64 rows (4 array sizes x 8 unified-buffer sizes x 2 workloads), in
    # worker processes as by default, which must find the installed data too
    out = _npusim(installed, "sweep", "tpu_sram_pe", "-o", "x.sqlite", "-q", "--workers", "2",
                  "--limit", "16")
    assert out.stderr == ""
    report = _npusim(installed, "sweep-report", "x.sqlite").stdout
    assert re.search(r"\b16 evaluated rows, 0 failed\b", report), report[:300]
    assert "Pareto" in report


def test_every_bundled_arch_workload_and_sweep_loads_and_runs(installed):
    # every arch runs a network, every network runs on an arch, every sweep validates (every
    # point of it is checked against the arch model): all from the installed data
    script = """
from simulator import load_arch, load_workload, simulate
from simulator.dse.spec import load_sweep
from simulator.io.bundled import catalogue, resolve_sweep
cat = catalogue()
archs = [e.name for e in cat["archs"]]
for name in archs:
    arch = load_arch(name)
    net = "lstm_lm" if arch.kind == "sparse" else "squeezenet"
    assert simulate(arch, load_workload(net)).totals.cycles > 0, name
for entry in cat["workloads"]:
    assert simulate(load_arch("edge_32x32"), load_workload(entry.name)).totals.cycles > 0
for entry in cat["sweeps"]:
    assert load_sweep(resolve_sweep(entry.name)).points, entry.name
from simulator.io.llm import load_llm
from simulator.llm.build import decode_workload
assert {"gpt2_small", "llama3_2_1b", "llama2_7b"} <= {e.name for e in cat["llms"]}
for entry in cat["llms"]:
    assert decode_workload(load_llm(entry.name), 8).params == load_llm(entry.name).params
print(len(archs), len(cat["workloads"]), len(cat["sweeps"]))
"""
    archs, workloads, sweeps = map(int, _python(installed, script).split())
    assert archs >= 6 and workloads >= 10 and sweeps >= 1


def test_bad_input_names_the_installed_file_and_exits_2(installed):
    proc = _npusim(installed, "run", "tpu_v1", "resnet50", "--set", "array.rowz=128", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert re.fullmatch(r"npusim: error: \S*simulator/data/arch_configs/tpu_v1\.yaml: field "
                        r"'array\.rowz': unknown field .*", line), line
