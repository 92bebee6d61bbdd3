"""Run a sweep: evaluate every (design point, workload) not yet in the store, in parallel.

Execution model:
- The main process validates the whole sweep first (`sweep_spec.load_sweep`), opens the store,
  skips keys already stored and feeds the rest to a backend: in-process (`workers=1`), a
  `ProcessPoolExecutor` (default) or a Dask distributed cluster (`dask=`).
- Work that does not depend on the varied fields is done once per worker: the base arch dict
  and the resolved workloads travel to each worker once (pool initializer / Dask scatter), so a
  point costs one dict copy + arch validation + the engine run.
- Only the main process writes the store, one committed row per finished point, so Ctrl-C or a
  crash loses nothing that reached it. A pool worker gets `POOL_CHUNK` consecutive points at a
  time (neighbouring points share what a worker caches, e.g. the mapper's tiling candidates
  across a bandwidth axis); at most `window` points or chunks are in flight at once.
- An interrupted run (Ctrl-C, or `on_row` raising) cancels the queued points, ends the worker
  processes and waits for them before it returns: nothing runs or is written after it.
- A point the model rejects (`NpusimError`, e.g. a design the engine cannot map) is stored with
  status `invalid`; an unexpected exception with status `error` (retried by `retry_errors`).
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import signal
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from simulator.core.errors import NpusimError
from simulator.core.layers import type_label
from simulator.core.metrics import design_figures, run_figures
from simulator.core.results import RunResult
from simulator.core.workload import Workload
from simulator.dse.orphans import exit_with_parent
from simulator.dse.scheduler import check_scheduler
from simulator.dse.spec import Sweep, apply_point, load_sweep, point_json
from simulator.dse.store import ResultStore
from simulator.kinds.registry import arch_from_dict, chip_area

Evaluate = Callable[[Any, Workload], RunResult]
#: How long `--dask ADDRESS` waits for the scheduler before it gives up.
DASK_CONNECT_TIMEOUT_S = 5
Task = tuple[str, dict[str, Any], str]
#: consecutive points a pool worker evaluates per request: neighbouring points of a sweep
#: differ in its last-varied field only (e.g. DRAM bandwidth), so the worker that gets them
#: re-uses what it cached for the first (the mapper's tiling candidates); a stopped or crashed
#: sweep loses at most the chunks in progress, recomputed on resume
POOL_CHUNK = 10


def default_evaluate(arch: Any, workload: Workload) -> RunResult:
    """The real model: `simulator.api.simulate`."""
    from simulator.api import simulate
    return simulate(arch, workload)


@dataclass
class WorkerContext:
    """What every evaluation needs and no design point changes (shipped once per worker)."""

    base_arch: dict[str, Any]
    workloads: dict[str, Workload]
    evaluate: Evaluate = default_evaluate
    source: str = "<sweep>"


def layer_class(layer: Any) -> str:
    """Utilization class of a layer: its type as reports show it (conv/dw, conv/g and conv/pw
    apart from dense convs; `simulator.core.layers.type_label`)."""
    return type_label(layer)


def utilization_by_class(workload: Workload, result: RunResult) -> dict[str, float]:
    """Cycle-weighted utilization per layer class = sum(MACs) / (peak x sum(cycles)) over the
    class's MAC layers (layer utilization x cycles = MACs / peak)."""
    classes: dict[str, str] | None = None
    busy: dict[str, float] = {}
    cycles: dict[str, float] = {}
    for layer in result.layers:
        values = layer.__dict__  # the fields (a model's attribute reads cost three times more)
        layer_cycles = values["cycles"]
        if values["macs"] <= 0 or layer_cycles <= 0:
            continue
        # api.simulate labels each layer with layer_class of its workload layer already
        cls = values["type_label"]
        if not cls:
            if classes is None:
                classes = {layer.name: layer_class(layer) for layer in workload.layers}
            cls = classes.get(layer.name, layer.type)
        busy[cls] = busy.get(cls, 0.0) + values["utilization"] * layer_cycles
        cycles[cls] = cycles.get(cls, 0.0) + layer_cycles
    return {cls: busy[cls] / cycles[cls] for cls in sorted(busy)}


def evaluate_task(ctx: WorkerContext, task: Task) -> dict[str, Any]:
    """Evaluate one (point, workload) and return its store row (never raises for model errors)."""
    key, point, label = task
    started = time.perf_counter()
    row: dict[str, Any] = {"key": key, "point_json": point_json(point), "workload": label,
                           "status": "ok", "error": ""}
    try:
        arch = arch_from_dict(apply_point(ctx.base_arch, point, ctx.source), ctx.source)
        area = chip_area(arch)
        if area is not None:
            row.update(design_figures(area))
            row["area_breakdown_json"] = json.dumps(area.breakdown_mm2, sort_keys=True)
        workload = ctx.workloads[label]
        result = ctx.evaluate(arch, workload)
        if area is not None and result.totals.area_mm2 is None:
            result.totals.area_mm2 = area.area_mm2
            result.totals.area_breakdown_mm2 = area.breakdown_mm2
        row.update(run_figures(result))
        row["util_by_class_json"] = json.dumps(utilization_by_class(workload, result),
                                               sort_keys=True)
        row["result_json"] = result.model_dump_json()
    except NpusimError as exc:
        row.update(status="invalid", error=exc.one_line())
    except Exception as exc:  # noqa: BLE001 - a model bug must not kill the sweep; stored as error
        row.update(status="error", error=f"{type(exc).__name__}: {exc}")
    row["eval_s"] = time.perf_counter() - started
    return row


# ---- backends ------------------------------------------------------------------------------
_CONTEXT: WorkerContext | None = None
#: allocations between young-generation collections in a sweep worker (CPython's default: 700)
WORKER_GC_THRESHOLD = 20_000


def _init_worker(ctx: WorkerContext) -> None:
    """Process-pool initializer: keep the context; leave Ctrl-C to the main process."""
    global _CONTEXT
    _CONTEXT = ctx
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()  # a killed sweep leaves no orphans (simulator/dse/orphans.py)
    # what the worker holds for the whole sweep (modules, the context) is never garbage: the
    # collector stops re-scanning it after every few thousand allocations of a design point
    gc.freeze()
    # a design point allocates tens of thousands of short-lived containers; collecting the
    # young generation every WORKER_GC_THRESHOLD allocations instead of every 700 makes the
    # older generations' passes (over the mapper's choice cache) rare: -3.6 % instructions a
    # ResNet-50 point (valgrind, 100 points). Only in the sweep's own worker processes.
    gc.set_threshold(WORKER_GC_THRESHOLD, *gc.get_threshold()[1:])


def _pool_task(tasks: list[Task]) -> list[dict[str, Any]]:
    assert _CONTEXT is not None, "worker not initialised"
    return [evaluate_task(_CONTEXT, task) for task in tasks]


def _chunks(tasks: Iterator[Task], size: int) -> Iterator[list[Task]]:
    """Consecutive tasks in lists of `size` (the last one shorter)."""
    while chunk := list(itertools.islice(tasks, size)):
        yield chunk


def _dask_task(ctx: WorkerContext, task: Task) -> dict[str, Any]:
    return evaluate_task(ctx, task)


@dataclass
class SweepSummary:
    """What a run did: rows in the sweep, already stored, computed now, failed."""

    total: int
    skipped: int
    computed: int = 0
    invalid: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    stopped_early: bool = False
    error_samples: list[str] = field(default_factory=list)

    @property
    def points_per_s(self) -> float:
        return self.computed / self.elapsed_s if self.elapsed_s else 0.0


def _drive(pending: set, tasks: Iterator[Any], submit: Callable[[Any], Any],
           wait_any: Callable[[set], set], window: int, handle: Callable[[Any], bool]) -> None:
    """Keep up to `window` tasks (or chunks of tasks) in flight (`pending` may hold some
    already); hand each finished one's row (or rows) to `handle` (which returns False to
    stop)."""
    pending = set(pending)
    while len(pending) < window:
        task = next(tasks, None)
        if task is None:
            break
        pending.add(submit(task))
    try:
        while pending:
            for future in wait_any(pending):
                pending.discard(future)
                if not handle(future.result()):
                    for other in pending:
                        other.cancel()
                    return
                task = next(tasks, None)
                if task is not None:
                    pending.add(submit(task))
    except BaseException:  # Ctrl-C or `handle` raised: nothing queued may start any more
        for other in pending:
            other.cancel()
        raise


def run_sweep(sweep: Sweep | str | Path, store_path: str | Path, *, workers: int | None = None,
              dask: str | None = None, evaluate: Evaluate = default_evaluate,
              max_points: int | None = None, retry_errors: bool = False, fresh: bool = False,
              extend: bool = False, progress: bool = False,
              on_row: Callable[[dict[str, Any]], None] | None = None) -> SweepSummary:
    """Evaluate every row of `sweep` missing from the store at `store_path`.

    `workers` processes (default: all CPUs; 1 runs in this process), or a Dask cluster
    (`dask="local"` or a scheduler address). `max_points` stops after that many new rows.
    `on_row` sees every stored row (after it is committed); if it raises, the sweep stops and
    the exception propagates (everything stored so far stays). A store written by another
    version of this sweep (other points) is refused unless `extend` (keep its rows, add the
    new points) or `fresh` (discard its rows).
    """
    from simulator.api import __version__

    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    workers = max(1, workers or os.cpu_count() or 1)
    spec_json = json.dumps({**sweep.spec, "objectives": sweep.objectives,
                            "constraints": [str(c) for c in sweep.constraints],
                            "fields": sweep.fields, "source": sweep.source}, sort_keys=True)
    with ResultStore(store_path) as store:
        tasks = sweep.tasks()
        store.claim(sweep.fingerprint(__version__), spec_json, sweep.points_hash(),
                    [key for key, _, _ in tasks], fresh=fresh, extend=extend)
        done = store.done_keys(include_errors=not retry_errors)
        todo = [t for t in tasks if t[0] not in done]
        summary = SweepSummary(total=len(tasks), skipped=len(tasks) - len(todo))
        if max_points is not None:
            todo = todo[:max(0, max_points)]
            summary.stopped_early = len(todo) < summary.total - summary.skipped
        ctx = WorkerContext(sweep.base_arch, sweep.workloads, evaluate, sweep.source)
        started = time.perf_counter()
        bar = _Progress(len(todo), summary.skipped, sweep.name) if progress and todo else None

        def handle(row: dict[str, Any]) -> bool:
            store.add(row)
            summary.computed += 1
            if row["status"] == "invalid":
                summary.invalid += 1
            elif row["status"] == "error":
                summary.errors += 1
            if row["status"] != "ok":
                if len(summary.error_samples) < 3:
                    summary.error_samples.append(f"{row['point_json']} on {row['workload']}: "
                                                 f"{row['error']}")
            if bar:
                bar.advance()
            if on_row:
                on_row(row)
            return True

        try:
            if not todo:
                pass  # everything is stored already
            elif dask:
                _run_dask(dask, ctx, iter(todo), workers, handle, bar)
            elif workers == 1 or len(todo) == 1:
                if bar:
                    bar.start()
                for task in todo:
                    handle(evaluate_task(ctx, task))
            else:
                _run_pool(ctx, iter(todo), min(workers, len(todo)), handle, bar)
        finally:
            if bar:
                bar.stop()
            summary.elapsed_s = time.perf_counter() - started
    return summary


def _run_pool(ctx: WorkerContext, tasks: Iterator[Task], workers: int,
              handle: Callable[[dict[str, Any]], bool], bar: "_Progress | None") -> None:
    executor = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(ctx,))
    try:
        chunks = _chunks(tasks, POOL_CHUNK)
        first = next(chunks, None)
        if first is None:
            return
        # the first submit forks the workers: do it before the progress bar starts its thread
        head = executor.submit(_pool_task, first)
        if bar:
            bar.start()
        # a chunk's rows are handled (stored) one by one; a stop drops the rest of the chunk
        _drive({head}, chunks, lambda chunk: executor.submit(_pool_task, chunk),
               lambda pending: wait(pending, return_when=FIRST_COMPLETED).done,
               workers * 4, lambda rows: all(handle(row) for row in rows))
    except BaseException:
        _stop_pool(executor)
        raise
    executor.shutdown(wait=True)


def _stop_pool(executor: ProcessPoolExecutor, grace_s: float = 5.0) -> None:
    """Stop a pool at once (Ctrl-C, or `on_row` raised) and return only when its processes
    are gone: queued points are cancelled, and the points in progress are abandoned (their
    rows were not stored and will be computed on resume) by ending the workers, so nothing
    runs or writes after the sweep has returned.

    `concurrent.futures` offers no public way to end busy workers before Python 3.14
    (`terminate_workers`), so the worker handles are read from the executor; they are taken
    before `shutdown`, which drops them.
    """
    processes = list((getattr(executor, "_processes", None) or {}).values())
    manager = getattr(executor, "_executor_manager_thread", None)
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:  # workers ignore SIGINT (see _init_worker); SIGTERM ends them
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(grace_s)
        if process.is_alive():  # pragma: no cover - a worker stuck in C code
            process.kill()
            process.join()
    if manager is not None and manager.is_alive():
        manager.join(grace_s)


def _run_dask(address: str, ctx: WorkerContext, tasks: Iterator[Task], workers: int,
              handle: Callable[[dict[str, Any]], bool], bar: "_Progress | None") -> None:
    if address != "local":
        check_scheduler(address)  # seconds, before the slow import (simulator/dse/scheduler.py)
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import wait as dask_wait
    except ImportError:
        raise NpusimError("Dask is not installed", field="--dask",
                          fix="pip install 'npusim[dask]'") from None
    cluster = None
    try:
        if address == "local":
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(address, timeout=DASK_CONNECT_TIMEOUT_S)
    except MemoryError:  # the server there sent something that is not Dask's protocol
        raise NpusimError(f"the server at {address} does not speak Dask's protocol",
                          field="--dask", fix="give the address of a Dask scheduler, such as "
                          "tcp://host:8786, or 'local'") from None
    except (OSError, ValueError) as exc:
        raise NpusimError(f"cannot reach the Dask scheduler ({exc})", field="--dask",
                          fix="give a scheduler address such as tcp://host:8786, or 'local'") from None
    try:
        shared = client.scatter(ctx, broadcast=True)
        if bar:
            bar.start()
        size = max(1, sum(w.get("nthreads", 1) for w in
                          client.scheduler_info().get("workers", {}).values()))

        def submit(task: Task) -> Any:
            return client.submit(_dask_task, shared, task, pure=False)

        def wait_any(pending: set) -> set:
            return set(dask_wait(list(pending), return_when="FIRST_COMPLETED").done)

        _drive(set(), tasks, submit, wait_any, size * 4, handle)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class _Progress:
    """A rich progress bar on stderr: done / total, points per second, elapsed, ETA."""

    def __init__(self, total: int, skipped: int, name: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=False)
        suffix = f" ({skipped} already stored)" if skipped else ""
        self.task = self.progress.add_task(f"{name}{suffix}", total=total, rate="")
        self.started = 0.0
        self.done = 0

    def start(self) -> None:
        self.started = time.perf_counter()
        self.progress.start()

    def advance(self) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.started
        rate = f"{self.done / elapsed:.1f} pts/s" if elapsed > 0 else ""
        self.progress.update(self.task, advance=1, rate=rate)

    def stop(self) -> None:
        self.progress.stop()
