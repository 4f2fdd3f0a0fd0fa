"""`manage.py qcluster`: django-q's command, with a guard that survives killed workers.

It replaces django-q's own command of the same name (this app comes first in
INSTALLED_APPS), so the Procfile, docker-compose.yml and `make run` need no change. The
guard is described in generations/sentinel.py.
"""

from django_q import cluster
from django_q.management.commands import qcluster

from generations.sentinel import RenewingSentinel


class Command(qcluster.Command):
    help = "Starts the task queue's worker cluster (django-q), restarting it whole when a worker is killed."

    def handle(self, *args, **options):
        # Cluster.start() spawns `Sentinel` by its name in django_q.cluster.
        cluster.Sentinel = RenewingSentinel
        super().handle(*args, **options)
