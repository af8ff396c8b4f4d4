"""Celery's prefork pool, with the task queue read so that a killed pool process cannot stall the
worker (the pool `CELERY_WORKER_POOL` names; `--pool prefork` gets it too).

On a broker without asynchronous I/O (the embedded default's filesystem broker) Celery runs
billiard's blocking pool: every pool process reads tasks from one shared pipe, and billiard's
SimpleQueue.get_payload holds the pipe's read lock for as long as it waits for the next task. A
pool process killed while idle (the OOM killer, an operator) dies holding that lock; Celery starts
a replacement, which then waits for the lock for ever, and no task is run again (Celery 5.7,
billiard 4.3). Here a process waits for data without the lock and takes the lock only to read a
task that is there, so a process killed while waiting holds nothing. (With Redis, Celery's
asynchronous pool gives every process its own pipe without a lock and is not affected.)"""

from billiard import pool as billiard_pool
from billiard.queues import SimpleQueue
from celery.concurrency import prefork


class TaskQueue(SimpleQueue):
    def get_payload(self):
        while True:
            # Blocks until a task (or end of file) is there, holding nothing; another process
            # may take it first, so look again under the lock without waiting there.
            self._reader.poll(None)
            with self._rlock:
                if self._reader.poll(0):
                    return self._reader.recv_bytes()


class BlockingPool(billiard_pool.Pool):
    def _setup_queues(self):
        super()._setup_queues()
        self._inqueue.close()
        self._inqueue = TaskQueue(ctx=self._ctx)
        self._quick_put = self._inqueue._writer.send


class TaskPool(prefork.TaskPool):
    BlockingPool = BlockingPool
