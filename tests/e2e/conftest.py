"""Browser journeys: Playwright driving Debian's Chromium against pytest-django's live server.

Run them with `pytest -m e2e tests/e2e` (the default run leaves them out; `scripts/test.sh`
runs them when `chromium` is installed). Never `playwright install`: the browser is the
system's, found on PATH.

Fixtures
--------
`page`, `context`, `new_context`  pytest-playwright's, on Chromium, with `base_url` set to the
    live server, so `page.goto("/credits/")` works. Every context is watched: an uncaught
    JavaScript error or a 5xx answer fails the test at teardown.
`site_url`      the live server's URL (no trailing slash). Points the settings the site uses
    to reach itself at it: `SITE_URL` (callbacks, demo-checkout webhooks, emails),
    `KLING_API_BASE` (`<site>/_sim/kling`), `KLING_MEDIA_HOSTS`, and turns on the
    simulator's callback thread in the live server's process.
`workers`       a real `manage.py qcluster` (module-scoped, started on first use) on the live
    server's test database and broker; also sets up `site_url`. Only for journeys that need
    background work. Its log is printed when the test fails.
`qclusters`     a factory for more clusters, stopped at teardown (logs printed on failure):
    `qclusters(2, env={"KLING_MAX_CONCURRENCY": "20"})` -> [QCluster, QCluster]
    (the scale-out test). A QCluster has `.log()`, `.worker_pids()`, `.stop()`.
`credit_pack`   a 500-credit pack for $10 on sale.
`prices`        the default price list (its data migration's rows are flushed after one test).
`simulator`     the simulator's knob row (`SimFaults`), reset to fast and fault-free.
`people`        personas: `make_person(email)`, `make_staff(email)` (in the database);
    `sign_up(page, email)`, `log_in(page, email)`, `log_out(page)` (through the UI);
    `verification_path(email)` (the confirmation link from `django.core.mail.outbox`).
`screenshot`    `screenshot(page, "credits")` saves a full-page PNG as
    `test-artifacts/screenshots/<journey>--<name>.png` (the journey comes from
    `@pytest.mark.journey("01-signup")`, or the test's name). The folder is emptied at the
    start of each run, so it always shows the last run.

`live_server` makes every test transactional, and tables are flushed after each test: rows
that data migrations create (credit packs, prices) exist only for the first test, so make
them in fixtures.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.qcluster import BASE_DIR, QCluster, start_clusters, stop_clusters, worker_env

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = BASE_DIR / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
PASSWORD = "plum-orchard-7351"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "journey(name): names the journey's screenshots")
    # pytest-base-url (a pytest-playwright dependency) still defines a fixture pytest 9 frowns on.
    config.addinivalue_line(
        "filterwarnings",
        "ignore:Session-scoped fixtures defined as instance methods:pytest.PytestRemovedIn10Warning",
    )
    # pytest-playwright's failure artifacts go under the git-ignored test-artifacts/ folder.
    if config.getoption("--output", default=None) == "test-results":
        config.option.output = str(ARTIFACTS / "playwright")
    if config.getoption("--screenshot", default=None) == "off":
        config.option.screenshot = "only-on-failure"


_reports = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_reports, {})[report.when] = report
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    reports = request.node.stash.get(_reports, {})
    return any(r.failed for r in reports.values())


# --- the browser ----------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _allow_sync_orm_under_playwright():
    # Playwright's sync API keeps an event loop in the test thread, and Django then refuses
    # ORM calls from it (SynchronousOnlyOperation). Safe here: the tests are single-threaded.
    # Set for the browser tests only (not at import: the default run imports this file too).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": chromium, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, live_server):
    return {**browser_context_args, "base_url": live_server.url}


@pytest.fixture
def new_context(new_context):
    """pytest-playwright's factory, with every context watched for JS errors and 5xx answers."""
    problems: list[str] = []

    def on_response(response) -> None:
        if response.status >= 500:
            problems.append(f"{response.status} from {response.request.method} {response.url}")

    def make(**kwargs):
        context = new_context(**kwargs)
        context.set_default_timeout(15_000)
        context.on("weberror", lambda error: problems.append(f"JavaScript error: {error.error}"))
        context.on("response", on_response)
        return context

    yield make
    assert problems == [], "the browser saw errors:\n" + "\n".join(problems)


# --- the site, as the app sees itself ---------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _release_the_test_database(django_db_setup, django_db_blocker):
    """Let PostgreSQL drop the test database at the end of the session.

    Keep-alive clients of the live server (the simulator's callback sender, say) keep a
    server thread, and its database connection, alive; DROP DATABASE then refuses.
    """
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(scope="session")
def e2e_media_root(tmp_path_factory) -> Path:
    # One folder for the session: the live server and the workers must store and serve
    # the same files.
    return tmp_path_factory.mktemp("e2e-media")


@pytest.fixture(autouse=True)
def _e2e_settings(_isolated_settings, settings, e2e_media_root):
    settings.MEDIA_ROOT = e2e_media_root


@pytest.fixture
def site_url(live_server, settings):
    from urllib.parse import urlsplit

    url = live_server.url.rstrip("/")
    host = urlsplit(url).netloc
    settings.SITE_URL = url
    settings.KLING_API_BASE = f"{url}/_sim/kling"
    settings.KLING_MEDIA_HOSTS = [*settings.KLING_MEDIA_HOSTS, host, host.split(":")[0]]
    # The simulator's callback sender is off in tests unless asked for; here it runs in the
    # live server's process, as it does in `make run`.
    settings.SIMULATOR_CALLBACK_THREAD = True
    yield url
    # The thread outlives the request that started it; stop it while the database it
    # reads is still there (and before PostgreSQL is asked to drop the test database).
    try:
        from generations.simulator import engine
    except ImportError:
        return
    engine.stop_callback_thread()


@pytest.fixture
def credit_pack(transactional_db):
    """A pack on sale (the default packs of the data migration are flushed after one test)."""
    from billing.models import CreditPack

    return CreditPack.objects.create(name="Test pack", credits=500, price_minor=1000, currency="usd", order=1)


@pytest.fixture
def prices(transactional_db):
    """The default price list (its data migration's rows are flushed after the first test)."""
    from generations.models import Price
    from generations.pricing import default_price_rows

    if not Price.objects.exists():
        Price.objects.bulk_create(Price(**row) for row in default_price_rows())


@pytest.fixture
def generating(workers, simulator, prices):
    """Workers, the simulator and the default prices: what a journey that generates needs."""
    return workers


@pytest.fixture
def simulator(site_url):
    """The simulated Kling's knobs, fast and without faults; change them on the returned row."""
    from generations.simulator.models import SimFaults

    SimFaults.objects.all().delete()
    return SimFaults.objects.create(pk=1, queue_seconds=1, run_seconds=2)


# --- background workers -------------------------------------------------------------------


@pytest.fixture(scope="session")
def worker_log_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("qcluster-logs")


def _empty_broker(django_db_blocker) -> None:
    # A Redis queue outlives the test run that filled it (the ORM broker's table is flushed);
    # never let a new cluster pick up tasks about rows that are gone.
    from django_q.brokers import get_broker

    with django_db_blocker.unblock():
        get_broker().purge_queue()


@pytest.fixture
def qclusters(live_server, django_db_setup, django_db_blocker, e2e_media_root, worker_log_dir, request):
    """Start clusters on the live server's database and broker: `qclusters(2, env={...})`."""
    started: list[QCluster] = []

    def start(count: int = 1, *, env: dict[str, str] | None = None, prefix: str = "") -> list[QCluster]:
        _empty_broker(django_db_blocker)
        environment = worker_env(live_server.url, e2e_media_root, env)
        name = prefix or re.sub(r"\W+", "-", request.node.name)[:40]
        clusters = start_clusters(count, environment, worker_log_dir, prefix=name)
        started.extend(clusters)
        return clusters

    yield start
    stop_clusters(started)
    if _failed(request):
        for cluster in started:
            print(f"\n--- log of qcluster {cluster.name} ---\n{cluster.log()}")


@pytest.fixture(scope="module")
def _module_worker(live_server, django_db_setup, django_db_blocker, e2e_media_root, worker_log_dir, request):
    module = request.module.__name__.rsplit(".", 1)[-1]
    _empty_broker(django_db_blocker)
    environment = worker_env(live_server.url, e2e_media_root)
    [cluster] = start_clusters(1, environment, worker_log_dir, prefix=module)
    yield cluster
    stop_clusters([cluster])
    if not cluster.stopped_cleanly:
        pytest.fail(f"qcluster {cluster.name} did not stop cleanly on SIGTERM:\n{cluster.log()}")


@pytest.fixture
def workers(_module_worker, site_url, request) -> QCluster:
    """A running qcluster for this module's journeys (started once per module)."""
    if _module_worker.process.poll() is not None:
        pytest.fail(f"the qcluster has exited:\n{_module_worker.log()}")
    log_start = len(_module_worker.log())
    yield _module_worker
    if _failed(request):
        print(f"\n--- log of qcluster {_module_worker.name} during this test ---")
        print(_module_worker.log()[log_start:])


# --- people -----------------------------------------------------------------------------


class People:
    password = PASSWORD

    def make_person(self, email: str, *, welcome: bool = True, **extra):
        """A person with a verified address (and their welcome credits, as after sign-up)."""
        from allauth.account.models import EmailAddress
        from django.contrib.auth import get_user_model

        from billing.signup import grant_welcome_credits

        user = get_user_model().objects.create_user(email=email, password=self.password, **extra)
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        if welcome:
            grant_welcome_credits(user)
        return user

    def make_staff(self, email: str = "staff@example.org"):
        return self.make_person(email, welcome=False, is_staff=True, is_superuser=True)

    def sign_up(self, page, email: str) -> None:
        page.goto("/accounts/signup/")
        page.fill("#id_email", email)
        page.fill("#id_password1", self.password)
        page.fill("#id_password2", self.password)
        page.get_by_role("button", name="Sign Up").click()
        page.wait_for_load_state()

    def log_in(self, page, email: str, password: str | None = None) -> None:
        page.goto("/accounts/login/")
        page.fill("#id_login", email)
        page.fill("#id_password", password or self.password)
        page.get_by_role("button", name="Sign In").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)

    def log_out(self, page) -> None:
        page.get_by_role("button", name="Log out").click()
        page.wait_for_load_state()

    def verification_path(self, email: str) -> str:
        """The path of the newest email-confirmation link sent to `email`."""
        from django.core import mail

        for message in reversed(mail.outbox):
            if email in message.to:
                match = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+)", message.body)
                if match:
                    return match.group(1)
        raise AssertionError(f"no confirmation link was emailed to {email}")


@pytest.fixture
def people(transactional_db) -> People:
    return People()


# --- screenshots ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _screenshot_dir() -> Path:
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


@pytest.fixture
def screenshot(_screenshot_dir, request):
    marker = request.node.get_closest_marker("journey")
    journey = marker.args[0] if marker else re.sub(r"^test_(it_)?", "", request.node.name)

    def take(page, name: str) -> Path:
        path = _screenshot_dir / f"{journey}--{name}.png"
        # Images and fonts settled and scrolled to the top (a sticky header would otherwise
        # be drawn halfway down), so the picture shows the page as a person sees it.
        page.wait_for_load_state("load")
        page.evaluate("document.fonts.ready.then(() => window.scrollTo(0, 0))")
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


# --- steps journeys share (imported by the journey modules) ---------------------------------


def pictures(*names: str, width: int = 640, height: int = 480) -> list[dict]:
    """One PNG upload per name, each in its own colour (Playwright's file payloads)."""
    from tests.media_files import picture_png

    return [
        {
            "name": f"{name}.png",
            "mimeType": "image/png",
            "buffer": picture_png(width, height, (40 + 50 * i, 180 - 40 * i, 90 + 30 * i)),
        }
        for i, name in enumerate(names)
    ]


def price_shown(page) -> int:
    """The price a create page shows before anything is charged, in credits."""
    from playwright.sync_api import expect

    expect(page.locator("#price-credits")).to_be_visible()
    return int(page.locator("#price-credits").inner_text().replace(",", ""))


def plays(page, player) -> float:
    """A <video> or <audio> element (a locator) knows its length and plays, muted, past its
    first 0.2 s; returns the length the browser read."""
    element = player.element_handle()
    page.wait_for_function("m => m.readyState >= 1", arg=element)
    duration = player.evaluate("m => m.duration")
    assert 0 < duration < 600, f"the player reads a length of {duration} s"
    player.evaluate("m => { m.muted = true; return m.play(); }")
    page.wait_for_function("m => m.currentTime > 0.2", arg=element)
    player.evaluate("m => m.pause()")
    return duration
