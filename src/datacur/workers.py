"""Worker processes for trainings: one per core, spawned, with an event queue back home.

Trainings run in ``spawn``ed processes (TensorFlow and ``fork`` do not mix), each with its
thread pools pinned to ``cpu_count // jobs``. Leaving the block with an exception
(Ctrl-C, a failed run) cancels what has not started and terminates what has, so no
orphaned training keeps a core busy.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = ["WorkerPool", "threads_per_worker", "worker_pool"]


def threads_per_worker(jobs: int) -> int:
    """TensorFlow threads for each of ``jobs`` concurrent trainings on this machine."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


@dataclass
class WorkerPool:
    """A spawned process pool and a queue that workers can put progress events on."""

    pool: ProcessPoolExecutor
    events: Any  # a multiprocessing.Manager().Queue(), picklable into workers


@contextmanager
def worker_pool(jobs: int, *, fresh_process_per_task: bool = False) -> Iterator[WorkerPool]:
    """Yield a :class:`WorkerPool` of ``jobs`` spawned processes.

    Args:
        jobs: worker processes.
        fresh_process_per_task: start a new process for every task, so TensorFlow's memory
            and thread pools never carry over from one training to the next.
    """
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        events = manager.Queue()
        pool = ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=context,
            max_tasks_per_child=1 if fresh_process_per_task else None,
        )
        try:
            yield WorkerPool(pool, events)
        except BaseException:
            # ProcessPoolExecutor has no public way to stop running tasks before 3.14, and
            # shutdown() forgets its processes: take them first, then terminate them.
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            raise
        else:
            pool.shutdown(wait=True)
