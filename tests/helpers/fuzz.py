"""Running the real CLI on fuzzed inputs, under a memory and a time cap, and judging the outcome.

`CliWorker` is a child process forked from the test process (so it starts in milliseconds with
everything imported) whose address space is capped at its current size plus `MEMORY_CAP_BYTES`
(RLIMIT_AS) and whose every command has `TIME_CAP_S` (SIGALRM). It runs `simulator.cli.main`
in-process on the argv it is sent and answers (exit status, stdout, stderr, seconds); a command
that blows the memory cap ends in MemoryError (an internal error, exit 1), one that blows the
time cap is reported as a timeout, one that kills the child (a segfault) as a crash.

`judge` says what is wrong with an outcome (None: nothing): exit 0 with physics that hold, or
exit 2 with exactly one `npusim: error:` line; never exit 1, a traceback, a timeout or a crash.

Profiles (HYPOTHESIS_PROFILE, registered in tests/conftest.py): `ci` (default) runs each fuzz
test on a small, fixed (derandomized) set of examples; `thorough` runs 25 times as many, random.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import multiprocessing
import os
import resource
import signal
import time
import traceback
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, settings

MEMORY_CAP_BYTES = 2 * 2**30
TIME_CAP_S = 30
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
SCALE = 25 if PROFILE == "thorough" else 1


def fuzz_settings(examples: int, shrink: bool = True) -> settings:
    """Settings of a fuzz test: `examples` in the ci profile (derandomized, so CI is
    reproducible), 25 times as many random ones in the thorough profile. `shrink=False` for a
    test expected to fail (an xfail for another owner's engine): no time spent minimising."""
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if shrink else [])
    return settings(max_examples=examples * SCALE, deadline=None, derandomize=PROFILE == "ci",
                    database=None if PROFILE == "ci" else settings.default.database,
                    phases=phases,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@dataclass
class Outcome:
    code: int | str  # exit status, or "timeout" / "crash"
    out: str
    err: str
    seconds: float


class _TimeCap(BaseException):
    """Raised by SIGALRM in the worker (a BaseException, so the CLI's last line of defence,
    which catches Exception, does not turn it into an exit status)."""


def _address_space_bytes() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0  # pragma: no cover


def _serve(conn, memory_cap: int, time_cap: float) -> None:  # pragma: no cover - in the child
    from simulator.cli.main import main

    limit = _address_space_bytes() + memory_cap
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def alarm(*_: Any) -> None:
        raise _TimeCap()

    signal.signal(signal.SIGALRM, alarm)
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        argv, cwd, env = request
        out, err = io.StringIO(), io.StringIO()
        old_cwd, old_env = os.getcwd(), {k: os.environ.get(k) for k in env}
        started = time.perf_counter()
        code: int | str
        try:
            os.chdir(cwd)
            os.environ.update(env)
            signal.setitimer(signal.ITIMER_REAL, time_cap)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
        except _TimeCap:
            code = "timeout"
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException:  # noqa: BLE001 - reported, never swallowed silently
            code = "escaped"
            err.write(traceback.format_exc()[-4000:])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            os.chdir(old_cwd)
            for key, value in old_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        conn.send((code, out.getvalue()[-2_000_000:], err.getvalue()[-20_000:],
                   time.perf_counter() - started))


class CliWorker:
    """A forked, memory- and time-capped process running `npusim` commands in-process."""

    def __init__(self, memory_cap: int = MEMORY_CAP_BYTES, time_cap: float = TIME_CAP_S) -> None:
        self.memory_cap, self.time_cap = memory_cap, time_cap
        self._start()

    def _start(self) -> None:
        context = multiprocessing.get_context("fork")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, self.memory_cap,
                                                            self.time_cap), daemon=True)
        self.process.start()
        child.close()

    def run(self, argv: list[str], cwd: str, env: dict[str, str] | None = None) -> Outcome:
        started = time.perf_counter()
        try:
            self.conn.send((argv, cwd, env or {}))
            if not self.conn.poll(self.time_cap + 30):
                raise TimeoutError
            code, out, err, seconds = self.conn.recv()
        except (EOFError, OSError, TimeoutError) as exc:
            self.close(kill=True)
            self._start()
            status = "timeout" if isinstance(exc, TimeoutError) else "crash"
            return Outcome(status, "", f"worker {status} (exit {self.process.exitcode})",
                           time.perf_counter() - started)
        return Outcome(code, out, err, seconds)

    def close(self, kill: bool = False) -> None:
        try:
            if not kill:
                self.conn.send(None)
        except OSError:
            pass
        self.process.join(1 if not kill else 0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


# ---- judging outcomes -------------------------------------------------------------------------
def error_path_problem(outcome: Outcome) -> str | None:
    """Exit 0, or exit 2 with exactly one `npusim: error:` line; anything else is a finding."""
    if outcome.code == 0:
        return None
    lines = outcome.err.splitlines()
    if outcome.code == 2 and len(lines) == 1 and lines[0].startswith("npusim: error: ") \
            and "Traceback" not in outcome.err:
        return None
    return f"exit {outcome.code}: {outcome.err.strip()[:600]}"


REL = 1e-9


def physics_problems(result: dict) -> list[str]:
    """What is unphysical in a `--format json` result: utilization outside [0, 1], fewer cycles
    than the compute bound (MACs / peak MACs per cycle) or than the DRAM bound (DRAM bytes /
    bytes per cycle), per layer and in total; energy not positive or not the sum of its parts;
    latency not cycles / clock."""
    problems: list[str] = []
    clock_hz = result["arch"]["clock_mhz"] * 1e6
    roof = result["roofline"]
    peak_macs = roof["peak_ops_per_s"] / 2 / clock_hz
    # JSON has no infinity: an ideal memory's bandwidth (.inf) is written as null
    bytes_per_cycle = (roof["dram_bytes_per_s"] or math.inf) / clock_hz
    totals = result["totals"]
    entries = [(f"layer {l['name']}", l) for l in result["layers"]] + [("total", totals)]
    for where, item in entries:
        cycles, util = item["cycles"], item["utilization"]
        if not 0 <= util <= 1 + REL:
            problems.append(f"{where}: utilization {util}")
        if item["macs"] and cycles < item["macs"] / peak_macs * (1 - REL) - 1e-6:
            problems.append(f"{where}: {cycles} cycles < compute bound "
                            f"{item['macs'] / peak_macs:.6g}")
        dram = item["dram_read_bytes"] + item["dram_write_bytes"]
        if math.isfinite(bytes_per_cycle) and cycles < dram / bytes_per_cycle * (1 - 1e-6) - 1:
            problems.append(f"{where}: {cycles} cycles < DRAM bound "
                            f"{dram / bytes_per_cycle:.6g} ({dram} B)")
        parts = sum(item["energy_breakdown_pj"].values())
        if item["energy_pj"] < 0 or not math.isclose(parts, item["energy_pj"], rel_tol=1e-6,
                                                      abs_tol=1e-6):
            problems.append(f"{where}: energy {item['energy_pj']} != sum of parts {parts}")
        if not math.isclose(item["latency_s"], cycles / clock_hz, rel_tol=1e-9, abs_tol=1e-15):
            problems.append(f"{where}: latency {item['latency_s']} != cycles / clock")
    layer_energy = sum(l["energy_pj"] for l in result["layers"])
    if not math.isclose(layer_energy, totals["energy_pj"], rel_tol=1e-6, abs_tol=1e-6):
        problems.append(f"total energy {totals['energy_pj']} != sum of layers {layer_energy}")
    if totals["energy_pj"] <= 0 and any(l["macs"] or l["dram_read_bytes"]
                                        for l in result["layers"]):
        problems.append(f"total energy {totals['energy_pj']} is not positive")
    return problems


def parse_json(outcome: Outcome) -> dict:
    return json.loads(outcome.out)
