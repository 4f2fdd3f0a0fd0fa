"""The qcluster's guard, made to survive a worker killed from outside.

django-q's worker processes share two multiprocessing queues with the pusher and the
monitor, and each queue has a lock its readers hold while they wait. A worker killed
with SIGKILL (kill -9, the OOM killer) while it waits for the next task takes the task
queue's read lock with it: django-q spawns a replacement, and the replacement, like every
other worker, then waits for that lock forever. The cluster looks alive and runs nothing
(tests/e2e/test_worker_deaths.py; docs/soak.md).

So when any process of the cluster dies by a signal or an error, this guard does not
patch one process in: it stops every process of the cluster and starts them all again
on new queues. What the old queues held is lost, which the site tolerates by design (as
for a killed qcluster): the ORM broker delivers an unacknowledged task again after
Q_CLUSTER["retry"] seconds, and the poll clock re-derives every pass from the database.
A worker django-q ends itself (a timeout, a recycle) is still replaced as before.
"""

from __future__ import annotations

import logging
from multiprocessing import Event

from django_q.cluster import Sentinel
from django_q.conf import Conf
from django_q.queues import Queue

logger = logging.getLogger(__name__)
JOIN_SECONDS = 5


class RenewingSentinel(Sentinel):
    def reincarnate(self, process) -> None:
        current = [*self.pool, self.monitor, self.pusher]
        if not any(process is each for each in current):
            return  # left over from the queues replaced below, already gone
        died = not process.is_alive() and process.exitcode not in (None, 0)
        if died and not self.stop_event.is_set():
            self.renew(process)
        else:
            super().reincarnate(process)

    def renew(self, dead) -> None:
        """Start every process of the cluster again, on new queues."""
        logger.critical(
            "cluster process %s died (exit code %s): restarting all %s workers, the pusher and the "
            "monitor on new queues, since it may have died holding a queue lock",
            dead.name,
            dead.exitcode,
            len(self.pool),
        )
        everyone = [each for each in (*self.pool, self.monitor, self.pusher) if each is not None]
        for each in everyone:
            if each.is_alive():
                each.kill()
        for each in everyone:
            each.join(JOIN_SECONDS)
        self.task_queue = Queue(maxsize=Conf.QUEUE_LIMIT) if Conf.QUEUE_LIMIT else Queue()
        self.result_queue = Queue()
        self.event_out = Event()
        self.reincarnations += 1
        self.spawn_cluster()
