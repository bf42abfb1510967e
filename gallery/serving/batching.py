"""Server-side batching: concurrent requests to one signature joined into one call.

A request waits in a queue keyed by its signature and the shapes of its inputs past
axis 0 (only requests that can be concatenated share a queue). A queue is *due* when
it holds ``max_batch_size`` rows or its oldest request has waited ``wait`` seconds;
a due queue runs as one model call as soon as one of ``threads`` workers is free,
and the outputs are split back along axis 0. While every worker is busy, requests
keep joining the queue, so batches grow with the load (as TF Serving's batch
scheduler does). A failing batch is re-run one request at a time, so a bad request
fails alone.

A request of more than ``max_batch_size`` rows is cut into pieces of that many rows,
and each piece joins the queue only when the one before it has run: a huge request
holds the requests that arrive after it for at most one batch, not until it is done.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np


class _Queue:
    def __init__(self, signature):
        self.signature, self.items, self.rows = signature, [], 0
        self.due, self.timer = False, None


#: The server's batching defaults (``gallery serve`` flags and :func:`build_app` read
#: them): 2 model workers, batches of up to 32 rows, a 4 ms window. On 2 quiet cores
#: (docs/deploying.md#load-test) a 4 ms window held p99 near 30 ms at 850 requests/s,
#: where 1 or 2 ms formed smaller batches and 8 ms waited longer than it gained.
THREADS, MAX_BATCH_SIZE, BATCH_WAIT_MS = 2, 32, 4.0


class Batcher:
    """Runs signatures on a pool of ``threads`` workers, joining concurrent requests of
    up to ``max_batch_size`` rows that waited at most ``wait`` seconds; a larger request
    runs as several calls of ``max_batch_size`` rows (``max_batch_size`` 1: every row
    alone)."""

    def __init__(self, threads=THREADS, max_batch_size=MAX_BATCH_SIZE, wait=BATCH_WAIT_MS / 1000):
        self.threads, self.max_batch_size, self.wait = threads, max_batch_size, wait
        self.executor = ThreadPoolExecutor(max_workers=threads,
                                           thread_name_prefix="gallery-serve")
        self._queues, self._busy = {}, 0

    def close(self):
        self.executor.shutdown(wait=True)

    async def _call(self, signature, inputs):
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, signature, inputs)

    async def run(self, signature, inputs, rows):
        """``signature(inputs)``; ``rows``: the batch size of the inputs, or None for a
        request that is not a batch of rows (columnar form) and so runs alone."""
        if rows is None or not signature.batchable:
            return await self._call(signature, inputs)
        if rows <= self.max_batch_size:
            return await self._queued(signature, inputs, rows)
        pieces = []
        for start in range(0, rows, self.max_batch_size):  # one piece queued at a time
            piece = {key: value[start:start + self.max_batch_size]
                     for key, value in inputs.items()}
            pieces.append(await self._queued(signature, piece,
                                              min(self.max_batch_size, rows - start)))
        return {key: np.concatenate([piece[key] for piece in pieces]) for key in pieces[0]}

    async def _queued(self, signature, inputs, rows):
        """``signature(inputs)`` for at most ``max_batch_size`` rows, joined with other
        requests in the queue of their signature and shapes."""
        loop = asyncio.get_running_loop()
        key = (signature.name, id(signature),
               *((k, v.dtype.str, v.shape[1:]) for k, v in sorted(inputs.items())))
        queue = self._queues.setdefault(key, _Queue(signature))
        future = loop.create_future()
        queue.items.append((inputs, rows, future))
        queue.rows += rows
        if queue.rows >= self.max_batch_size:
            queue.due = True
        elif queue.timer is None and not queue.due:
            queue.timer = loop.call_later(self.wait, self._expire, key)
        self._dispatch()
        return await future

    def _expire(self, key):
        queue = self._queues.get(key)
        if queue is not None:
            queue.timer, queue.due = None, True
            self._dispatch()

    def _dispatch(self):
        for key, queue in list(self._queues.items()):
            while queue.due and queue.items and self._busy < self.threads:
                taken, rows = [], 0
                while queue.items and (not taken
                                       or rows + queue.items[0][1] <= self.max_batch_size):
                    taken.append(queue.items.pop(0))
                    rows += taken[-1][1]
                queue.rows -= rows
                self._busy += 1
                asyncio.ensure_future(self._run_batch(queue.signature, taken))
            if not queue.items:
                if queue.timer is not None:
                    queue.timer.cancel()
                del self._queues[key]

    async def _run_batch(self, signature, taken):
        try:
            if len(taken) == 1:
                await self._settle(signature, *taken[0])
                return
            joined = {key: np.concatenate([inputs[key] for inputs, _, _ in taken])
                      for key in taken[0][0]}
            try:
                outputs = await self._call(signature, joined)
            except Exception:  # one bad request must not fail the others: one by one
                for item in taken:
                    await self._settle(signature, *item)
                return
            start = 0
            for _, rows, future in taken:
                if not future.done():
                    future.set_result({key: value[start:start + rows]
                                       for key, value in outputs.items()})
                start += rows
        finally:
            self._busy -= 1
            self._dispatch()

    async def _settle(self, signature, inputs, rows, future):
        try:
            result = await self._call(signature, inputs)
        except Exception as error:
            if not future.done():
                future.set_exception(error)
        else:
            if not future.done():
                future.set_result(result)
