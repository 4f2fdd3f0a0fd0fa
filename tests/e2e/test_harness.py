"""The harness itself: a worker process shares the live server's database and broker."""

import pytest
from django.conf import settings
from django_q.tasks import async_task, fetch
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_it_runs_background_work_on_the_live_servers_database(workers, people, page):
    alice = people.make_person("alice@example.org", welcome=False)
    people.log_in(page, "alice@example.org")
    page.goto("/credits/")
    expect(page.locator("#balance-badge")).to_have_text("0")

    # The worker process grants the credits; the page, served by the live server, shows them.
    task_id = async_task("billing.signup.grant_welcome_credits", alice)
    task = fetch(task_id, wait=30_000)
    assert task is not None, f"the worker did not run the task:\n{workers.log()}"
    assert task.success, task.result

    page.reload()
    expect(page.locator("#balance-badge")).to_have_text(str(settings.WELCOME_CREDITS))
    expect(page.locator("#credit-balance")).to_contain_text(f"{settings.WELCOME_CREDITS} credits")


def test_it_starts_and_stops_clusters_cleanly(qclusters):
    first, second = qclusters(2, prefix="pair")
    assert first.process.pid != second.process.pid

    first.stop()
    second.stop()

    for cluster in (first, second):
        assert cluster.stopped_cleanly, cluster.log()
        assert "has stopped" in cluster.log()
