"""The site's pages under load: the create POST and the gallery against a trivial view.

1. In-process (Django's test client, production settings): database queries per request
   of the gallery at 100 and at 1,000 generations (they must be equal), of a create POST
   and of the trivial view, and the gallery's server time at 1,000 generations
   (target: under 50 ms).
2. Real processes: gunicorn with 2 workers (4 threads each) on production settings,
   BENCH_THREADS client threads (8), each with its own requests Session signed in (a
   session cookie and a CSRF token, as a browser has them behind TLS), BENCH_SECONDS (10)
   against each of:
   - GET /pulse/ without htmx: the trivial view, the reference (no query, a constant
     answer); /healthz is measured too (it asks the database and the broker);
   - POST /generate/text-to-video/ with a valid form and a fresh idempotency token each
     time (302 to the new generation's page), by a person per client with enough credits
     (granted through billing.ledger); KLING_PROVIDER=simulator, and no qcluster runs, so
     each submit waits on the queue (Redis, or the ORM broker's table);
   - GET /generations/ of a person with 1,000 generations (mixed kinds, most finished
     with outputs).
   Requests per second, p50/p95, each rate as a ratio of the trivial view's.
   Target: the create POST at least 25% of the trivial view's throughput.

It starts its own PostgreSQL and Redis (the soak's helpers, scripts/soak.py) when they are
installed and DATABASE_URL is not set; otherwise DATABASE_URL, or a temporary SQLite file.
    .venv/bin/python benchmarks/web.py                 # both parts
    .venv/bin/python benchmarks/web.py --in-process    # part 1 only
BENCH_N (200) requests each in part 1.
"""

from __future__ import annotations

import os
import re
import sys
import uuid

import requests
from _env import setup
from _load import SERVED, Run, line, load, rate_line, serve, timing

IN_PROCESS_ONLY = "--in-process" in sys.argv[1:]
THREADS = int(os.environ.get("BENCH_THREADS", "8"))
WARM_UP_SECONDS = 2
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
_TMP = setup(
    "web",
    env={
        **SERVED,
        # Each creator keeps every generation it makes unfinished (no qcluster): the cap
        # stays on, at a height the run cannot reach.
        "MAX_QUEUED_PER_USER": "1000000",
    },
    own_services=True,
)

from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from billing import ledger  # noqa: E402
from generations.models import Asset, Generation, Status  # noqa: E402

N = int(os.environ.get("BENCH_N", "200"))
TRIVIAL = "/pulse/"  # without HX-Request: a constant answer, no query
GALLERY = "/generations/"
CREATE = "/generate/text-to-video/"
FORM = {
    "model_name": "kling-v2-6",
    "prompt": "A red fox trotting through fresh snow at dawn",
    "mode": "std",
    "duration": "5",
    "aspect_ratio": "16:9",
}
KINDS = ["text2image", "text2video", "image2video", "text2video", "text2audio"]
# Most finished with outputs, some failed, a few still in flight.
STATUSES = [Status.SUCCEEDED] * 7 + [Status.FAILED, Status.PROCESSING, Status.QUEUED]


def grow_gallery(owner: User, total: int) -> None:
    """Add generations to `owner` until there are `total`: mixed kinds and states, each
    finished one with its outputs (files named, not written: the gallery only links them)."""
    start = Generation.objects.filter(owner=owner).count()
    now = timezone.now()
    rows = []
    for i in range(start, total):
        kind, status = KINDS[i % len(KINDS)], STATUSES[i % len(STATUSES)]
        video = kind != "text2image" and kind != "text2audio"
        rows.append(
            Generation(
                owner=owner,
                kind=kind,
                provider="simulator",
                model_name="kling-v2-1" if kind == "text2image" else "kling-v2-6",
                mode="pro" if video else "",
                duration=5 if video else None,
                prompt=f"Gallery generation number {i}",
                params={"n": 2} if kind == "text2image" else {"duration": "5"},
                cost=10,
                status=status,
                task_id=f"bench-{i}",
                finished_at=now if status in (Status.SUCCEEDED, Status.FAILED) else None,
                assets_saved_at=now if status == Status.SUCCEEDED else None,
                error_message="Kling refused the prompt." if status == Status.FAILED else "",
            )
        )
    Generation.objects.bulk_create(rows)
    outputs = {"text2image": ("image", "image/png", 2), "text2audio": ("audio", "audio/mpeg", 1)}
    assets = []
    for generation in Generation.objects.filter(owner=owner, status=Status.SUCCEEDED, assets__isnull=True):
        kind, content_type, count = outputs.get(generation.kind, ("video", "video/mp4", 1))
        for index in range(count):
            assets.append(
                Asset(
                    generation=generation,
                    kind=kind,
                    index=index,
                    file=f"results/{generation.pk}-{index}.bin",
                    thumbnail=f"results/{generation.pk}-{index}-thumb.jpg" if kind != "audio" else "",
                    content_type=content_type,
                    size=1_000_000,
                    width=1280 if kind != "audio" else None,
                    height=720 if kind != "audio" else None,
                )
            )
    Asset.objects.bulk_create(assets)


def person(email: str, credits: int = 0) -> User:
    user, _ = User.objects.get_or_create(email=email)
    if credits:
        ledger.grant(user, credits, key=f"bench:{email}", memo="benchmark")
    return user


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queries(send) -> int:
    with CaptureQueriesContext(connection) as captured:
        send()
    return len(captured)


def create_form() -> dict[str, str]:
    return {**FORM, "client_token": uuid.uuid4().hex}


def check(response, status: int = 200):
    assert response.status_code == status, (response.status_code, response.content[:500])
    return response


def in_process(viewer: User, creator: User) -> None:
    client, maker = signed_in(viewer), signed_in(creator)
    cache_kind = "redis" if os.environ.get("REDIS_URL") else "local memory"
    print(f"database: {connection.vendor}, cache: {cache_kind}; in-process, {N} requests each")
    gallery = {}
    for total in (100, 1000):
        grow_gallery(viewer, total)
        check(client.get(GALLERY))  # the first request of a size warms the caches
        gallery[total] = queries(lambda: check(client.get(GALLERY)))
        print(f"GET {GALLERY} at {total:>5} generations  {gallery[total]} queries")
    print("constant in the number of generations:", "yes" if len(set(gallery.values())) == 1 else "NO")
    check(maker.post(CREATE, create_form()), 302)
    print(f"POST {CREATE}  {queries(lambda: check(maker.post(CREATE, create_form()), 302))} queries")
    print(f"GET {TRIVIAL} (trivial)  {queries(lambda: check(client.get(TRIVIAL)))} queries")
    print(line(f"GET {TRIVIAL} (trivial)", timing(lambda: check(client.get(TRIVIAL)), N)))
    print(line(f"GET {GALLERY} (1,000)", timing(lambda: check(client.get(GALLERY)), N)))
    print(line(f"POST {CREATE}", timing(lambda: check(maker.post(CREATE, create_form()), 302), N)))


class Browser(requests.Session):
    """A signed-in browser's session against gunicorn over plain HTTP, as if behind the TLS
    proxy of a deployment: it says https (X-Forwarded-Proto) and sends the session and
    CSRF cookies itself, since the cookies are Secure."""

    def __init__(self, base: str, user: User) -> None:
        super().__init__()
        session_id = signed_in(user).cookies["sessionid"].value
        self.headers.update({"X-Forwarded-Proto": "https", "Origin": base.replace("http:", "https:")})
        self.headers["Cookie"] = f"sessionid={session_id}"
        page = self.get(f"{base}{CREATE}", timeout=30)
        check(page)
        self.csrf_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        self.headers["Cookie"] += f"; csrftoken={page.cookies['csrftoken']}"
        self.cookies.clear()  # what the answers set (Secure) is not sent over HTTP anyway


def real_processes(viewer: User, creators: list[User]) -> None:
    seconds = float(os.environ.get("BENCH_SECONDS", "10"))
    proc, base = serve(_TMP)
    print(
        f"\ngunicorn, 2 workers, {THREADS} client threads, one signed-in session each;"
        f" {seconds:g} s each, in {ROUNDS} turns"
    )
    print("load average (1, 5, 15 min) at the start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    def viewers() -> list[Browser]:
        return [Browser(base, viewer) for _ in range(THREADS)]

    def create(session: Browser) -> requests.Response:
        form = {**create_form(), "csrfmiddlewaretoken": session.csrf_token}
        return session.post(f"{base}{CREATE}", data=form, allow_redirects=False, timeout=30)

    def created(response: requests.Response) -> bool:
        return response.status_code == 302 and response.headers["Location"].startswith("/generations/")

    def fine(response: requests.Response) -> bool:
        return response.status_code == 200

    cases = [
        (f"GET {TRIVIAL} (trivial)", lambda s: s.get(f"{base}{TRIVIAL}", timeout=30), viewers, fine),
        ("GET /healthz", lambda s: s.get(f"{base}/healthz", timeout=30), viewers, fine),
        (f"POST {CREATE}", create, lambda: [Browser(base, c) for c in creators], created),
        (f"GET {GALLERY} (1,000)", lambda s: s.get(f"{base}{GALLERY}", timeout=30), viewers, fine),
    ]
    # Each worker's first requests import and compile what the view needs: not measured.
    for _, send, sessions, ok in cases:
        load(send, THREADS, WARM_UP_SECONDS, sessions=sessions(), ok=ok)
    # The cases take turns, ROUNDS times each, so that a change in what else the machine
    # does falls on all of them alike.
    runs = {label: Run(0) for label, *_ in cases}
    for _ in range(ROUNDS):
        for label, send, sessions, ok in cases:
            before = Generation.objects.count()
            run = load(send, THREADS, seconds / ROUNDS, sessions=sessions(), ok=ok)
            if send is create:
                assert Generation.objects.count() - before == len(run.times)
            runs[label].seconds += run.seconds
            runs[label].times += run.times
    trivial = None
    for label, run in runs.items():
        text, rate = rate_line(label, run, trivial, TRIVIAL)
        trivial = trivial or rate
        print(text)
    print("load average (1, 5, 15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    proc.stop()


def main() -> None:
    call_command("migrate", verbosity=0)
    # The production static storage (a manifest) needs its files, in the run's directory.
    call_command("collectstatic", "--noinput", verbosity=0)
    cache.clear()
    viewer = person("gallery@example.org")
    creators = [person(f"creator-{i}@example.org", credits=10_000_000) for i in range(THREADS)]
    in_process(viewer, creators[0])
    if not IN_PROCESS_ONLY:
        real_processes(viewer, creators)


if __name__ == "__main__":
    main()
