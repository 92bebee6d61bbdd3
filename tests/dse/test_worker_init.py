"""A sweep worker process sets itself up once (`runner._init_worker`): the shared context, the
collector's frozen start-up state and its young-generation threshold, all in that process only."""

from __future__ import annotations

import gc
import multiprocessing

from simulator.dse import runner


def _initialised(queue) -> None:
    ctx = runner.WorkerContext(base_arch={}, workloads={})
    runner._init_worker(ctx)
    queue.put((runner._CONTEXT is ctx, gc.get_threshold()[0], gc.get_freeze_count() > 0))


def test_a_worker_keeps_the_context_and_collects_young_objects_less_often():
    queue = multiprocessing.get_context("fork").Queue()
    before = gc.get_threshold()
    process = multiprocessing.get_context("fork").Process(target=_initialised, args=(queue,))
    process.start()
    kept, threshold, frozen = queue.get(timeout=60)
    process.join(60)
    assert kept and frozen
    assert threshold == runner.WORKER_GC_THRESHOLD
    assert gc.get_threshold() == before  # the calling process is left as it was
