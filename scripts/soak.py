#!/usr/bin/env python
"""Chaos soak: the production processes on their own PostgreSQL and Redis, real load from
several people at once, faults on a seeded random schedule, then proof that nothing was lost.

    .venv/bin/python scripts/soak.py --short            # about 3 minutes (CI)
    .venv/bin/python scripts/soak.py --minutes 30       # the long form
    .venv/bin/python scripts/soak.py --seed 1234 ...    # replay a run

See docs/soak.md for what runs, which faults are injected and what is checked.
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "scripts"))

from soak_stripe import FakeStripe  # noqa: E402

PY = str(BASE_DIR / ".venv" / "bin" / "python")
if not Path(PY).exists():
    PY = sys.executable
WEBHOOK_SECRET = "whsec_soak_secret"  # noqa: S105
KLING_READ_TIMEOUT = 5
HEALTHZ_WITHIN = 10.0
TERMINAL = ("succeeded", "failed")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- services the soak owns: PostgreSQL and Redis ---------------------------------------------


class Postgres:
    """A PostgreSQL cluster in a temporary directory, which the soak stops and starts."""

    def __init__(self, root: Path, port: int) -> None:
        bins = sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)],
        )
        self.bin = bins[-1] if bins else Path(shutil.which("pg_ctl") or "pg_ctl").parent
        self.data = root / "pg"
        self.port = port
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = " ".join(args)
        argv = ["su", "postgres", "-c", command] if self.as_root else ["bash", "-c", command]
        return subprocess.run(argv, capture_output=True, text=True, check=check)

    def init(self) -> None:
        self.data.mkdir(parents=True)
        if self.as_root:
            shutil.chown(self.data, "postgres", "postgres")
            shutil.chown(self.data.parent, "postgres", "postgres")
        self._run(f"{self.bin}/initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-c",
                "CREATE DATABASE kling_soak",
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            f"{self.bin}/pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.data / "log"),
            "-w",
            "-o",
            f"'{options}'",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(f"{self.bin}/pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/kling_soak"


class Redis:
    def __init__(self, port: int) -> None:
        self.port = port

    def start(self) -> None:
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
            capture_output=True,
        )
        for _ in range(100):
            if (
                subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).returncode
                == 0
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("Redis did not start")

    def stop(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


# -- the site's processes ------------------------------------------------------------------------


class Proc:
    """One process (and its own process group), logging to a file, restartable."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Proc:
        log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            ["nice", "-n", "10", *self.argv],
            cwd=BASE_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def children(self) -> list[int]:
        return children_of(self.pid)

    def signal_group(self, sig: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)

    def stop(self, grace: float = 15) -> None:
        if self.process is None or self.process.poll() is not None:
            self.signal_group(signal.SIGKILL)
            return
        self.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(grace)
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


# -- a proxy in front of the simulator: counts creates, slows and truncates downloads ----------


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # A client hanging up mid-answer (a read timeout, a killed worker) is part of the soak.
        pass


class SimProxy:
    """Between the site and the simulator, as Kling's edge would be: it counts accepted
    creates per external_task_id (a second one is a job paid twice) and makes some result
    downloads slow or cut short."""

    def __init__(self, upstream: str, rng: random.Random, slow_rate: float, truncate_rate: float) -> None:
        self.upstream = upstream.rstrip("/")
        self.rng = rng
        self.slow_rate, self.truncate_rate = slow_rate, truncate_rate
        self.lock = threading.Lock()
        self.creates: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()

    def start(self, port: int) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy.forward(self, "GET")

            def do_POST(self) -> None:
                proxy.forward(self, "POST")

            def do_HEAD(self) -> None:
                proxy.forward(self, "HEAD")

        self.server = QuietServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _count(self, name: str) -> None:
        with self.lock:
            self.counts[name] += 1

    def forward(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("content-length", "connection")}
        try:
            upstream = requests.request(
                method,
                self.upstream + h.path,
                data=body,
                headers=headers,
                timeout=120,
                stream=True,
                allow_redirects=False,
            )
            content = upstream.content
        except requests.RequestException:
            self._count("upstream unreachable")
            h.send_response(502)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        is_media = "/cdn/" in h.path and method == "GET" and upstream.status_code == 200
        is_create = method == "POST" and "/v1/" in h.path
        if is_create:
            self._note_create(body, upstream.status_code, content)
        h.send_response(upstream.status_code)
        for key, value in upstream.headers.items():
            if key.lower() not in ("content-length", "connection", "transfer-encoding", "content-encoding"):
                h.send_header(key, value)
        h.send_header("Content-Length", str(len(content)))
        h.end_headers()
        if method == "HEAD":
            return
        roll = self.rng.random()
        if is_media and roll < self.truncate_rate:
            self._count("media truncated")
            h.wfile.write(content[: len(content) // 2])
            h.wfile.flush()
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        if is_media and roll < self.truncate_rate + self.slow_rate:
            self._count("media slow")
            step = max(1, len(content) // 8)
            for i in range(0, len(content), step):
                h.wfile.write(content[i : i + step])
                h.wfile.flush()
                time.sleep(0.4)
            return
        h.wfile.write(content)

    def _note_create(self, body: bytes, status: int, content: bytes) -> None:
        try:
            external = str(json.loads(body).get("external_task_id") or "")
        except (ValueError, AttributeError):
            return
        try:
            code = json.loads(content).get("code")
        except ValueError:
            code = None
        self._count(f"create answered {status}/{code}")
        # A 504/5002 is "created, then timed out": it counts as a job at Kling too.
        if external and (code == 0 or code == 5002):
            with self.lock:
                self.creates[external] += 1


# -- a person using the site -----------------------------------------------------------------------


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    # Production cookies are Secure, and the soak talks plain HTTP on loopback to the
    # site: each Person keeps its cookies itself instead of the jar (which would drop them).
    def set_ok(self, cookie, request) -> bool:
        return False


class FormParser(HTMLParser):
    """The forms of a page: action, method and every field with its default value."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.links: list[str] = []
        self._select: str | None = None
        self._select_first: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "form":
            self.forms.append(
                {
                    "action": attrs.get("action", ""),
                    "method": attrs.get("method", "get").lower(),
                    "fields": {},
                    "files": {},
                    "enctype": attrs.get("enctype", ""),
                }
            )
            return
        if not self.forms:
            return
        form = self.forms[-1]
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text").lower()
            if kind == "file":
                form["files"][name] = {
                    "required": "required" in attrs,
                    "accept": attrs.get("accept", ""),
                    "multiple": "multiple" in attrs,
                }
            elif kind in ("checkbox", "radio"):
                if "checked" in attrs or (kind == "radio" and name not in form["fields"]):
                    form["fields"][name] = attrs.get("value", "on")
            elif kind not in ("submit", "button", "image"):
                form["fields"][name] = attrs.get("value", "")
        elif tag == "select" and name:
            self._select, self._select_first = name, None
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            if self._select_first is None and value and "disabled" not in attrs:
                self._select_first = value
                form["fields"].setdefault(self._select, value)
            if "selected" in attrs:
                form["fields"][self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            form["fields"][name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data


def parse(html: str) -> FormParser:
    parser = FormParser()
    parser.feed(html)
    return parser


def png_bytes(rng: random.Random, size: tuple[int, int] = (640, 640)) -> bytes:
    from PIL import Image

    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter = field(default_factory=Counter)
    responses: Counter = field(default_factory=Counter)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] += n

    def response(self, status: int | str) -> None:
        with self.lock:
            self.responses[status] += 1


class Person(threading.Thread):
    def __init__(self, index: int, soak: Soak) -> None:
        super().__init__(daemon=True, name=f"person-{index}")
        self.index = index
        self.soak = soak
        self.rng = random.Random(soak.seed * 1000 + index)
        self.base = soak.site_url
        self.http = requests.Session()
        self.http.cookies.set_policy(_NoCookies())
        self.cookies: dict[str, str] = {}
        self.email = f"soak{soak.seed}-{index}@example.com"
        self.password = f"Soak-{soak.seed}-pass-{index}!"
        self.generations: list[int] = []
        self.signed_up = False

    # -- plumbing --

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("allow_redirects", False)
        headers = kwargs.setdefault("headers", {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            response = self.http.request(method, urljoin(self.base, path), **kwargs)
        except requests.RequestException as exc:
            self.soak.stats.response(exc.__class__.__name__)
            return None
        for header in response.raw.headers.getlist("Set-Cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "expires=Thu, 01 Jan 1970" in rest or "Max-Age=0" in rest:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        self.soak.stats.response(response.status_code)
        return response

    def csrf(self) -> str:
        return self.cookies.get("csrftoken", "")

    def post_form(self, path: str, fields: dict[str, Any], files: Any = None) -> requests.Response | None:
        data = {**fields, "csrfmiddlewaretoken": self.csrf()}
        return self.request(
            "POST", path, data=data, files=files, headers={"Referer": urljoin(self.base, path)}
        )

    # -- what people do --

    def run(self) -> None:
        while not self.soak.stop_load.is_set():
            try:
                if not self.signed_up:
                    self.sign_up()
                else:
                    self.act()
            except Exception as exc:  # a person's mistake must not end the soak
                self.soak.stats.add(f"driver error {exc.__class__.__name__}")
            self.soak.stop_load.wait(self.rng.uniform(0.5, 2.0))

    def sign_up(self) -> None:
        page = self.request("GET", "/accounts/signup/")
        if page is None or page.status_code != 200:
            return
        response = self.post_form(
            "/accounts/signup/", {"email": self.email, "password1": self.password, "password2": self.password}
        )
        if response is not None and response.status_code == 302:
            self.signed_up = True
            self.soak.stats.add("sign-ups")
        elif response is not None and response.status_code == 200 and "already" in response.text:
            # The sign-up went through before an outage hid its answer: sign in instead.
            self.request("GET", "/accounts/login/")
            again = self.post_form("/accounts/login/", {"login": self.email, "password": self.password})
            if again is not None and again.status_code == 302:
                self.signed_up = True
                self.soak.stats.add("sign-ins after a lost sign-up answer")

    def act(self) -> None:
        roll = self.rng.random()
        if roll < 0.45:
            self.generate()
        elif roll < 0.65:
            self.buy()
        elif roll < 0.72 and self.generations:
            self.delete()
        elif roll < 0.85 and self.generations:
            self.request(
                "GET",
                f"/generations/{self.rng.choice(self.generations)}/status/",
                headers={"HX-Request": "true"},
            )
        else:
            self.request(
                "GET", self.rng.choice(["/generations/", "/credits/", "/credits/purchases/", "/generate/"])
            )

    def generate(self) -> None:
        kinds = self.soak.kind_slugs
        if not kinds:
            return
        slug = self.rng.choice(kinds)
        page = self.request("GET", f"/generate/{slug}/")
        if page is None or page.status_code != 200:
            return
        forms = [
            f
            for f in parse(page.text).forms
            if f["method"] == "post" and ("prompt" in f["fields"] or f["files"])
        ]
        if not forms:
            self.soak.stats.add(f"create {slug}: no form")
            return
        form = forms[0]
        fields = dict(form["fields"])
        fields.pop("csrfmiddlewaretoken", None)
        prompt = f"soak {self.soak.seed} {self.index} {self.rng.randrange(10**6)}: a lighthouse at dusk"
        if self.rng.random() < 0.05:
            prompt += " [sim:fail]"
        if "prompt" in fields:
            fields["prompt"] = prompt
        fields.pop("negative_prompt", None)
        for name in ("image_url", "video_url", "image_from", "video_id"):
            if name in fields and not fields[name]:
                fields.pop(name)
        files = []
        for name, spec in form["files"].items():
            if not spec["required"] and name not in ("image", "image_list", "images"):
                continue
            if "video" in spec["accept"] or "video" in name:
                files.append((name, ("clip.mp4", self.soak.sample_video, "video/mp4")))
            else:
                for i in range(2 if spec["multiple"] else 1):
                    files.append((name, (f"in{i}.png", png_bytes(self.rng), "image/png")))
        action = form["action"] or f"/generate/{slug}/"
        response = self.post_form(action, fields, files=files or None)
        if response is None:
            return
        match = re.search(r"/generations/(\d+)/", response.headers.get("Location", ""))
        if response.status_code == 302 and match:
            self.generations.append(int(match.group(1)))
            self.soak.stats.add(f"created {slug}")
        else:
            self.soak.stats.add(f"create {slug} refused ({response.status_code})")

    def delete(self) -> None:
        generation = self.rng.choice(self.generations)
        self.request("GET", f"/generations/{generation}/delete/")
        response = self.post_form(f"/generations/{generation}/delete/", {})
        if response is not None and response.status_code == 302:
            self.soak.stats.add("deletes")

    def buy(self) -> None:
        page = self.request("GET", "/credits/buy/")
        if page is None or page.status_code != 200:
            return
        packs = sorted(
            set(
                re.findall(r'name="pack"\s+value="(\d+)"', page.text)
                + re.findall(r'value="(\d+)"\s+name="pack"', page.text)
            )
        )
        if not packs:
            self.soak.stats.add("buy: no packs on the page")
            return
        response = self.post_form("/credits/buy/", {"pack": self.rng.choice(packs)})
        if response is None or response.status_code != 303:
            self.soak.stats.add(f"checkout refused ({getattr(response, 'status_code', 'no answer')})")
            return
        session_id = response.headers["Location"].rsplit("/", 1)[-1]
        stripe = self.soak.stripe
        with stripe.lock:
            session = stripe.sessions.get(session_id)
            success_url = (
                session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id) if session else ""
            )
            cancel_url = session["cancel_url"] if session else ""
        outcome = self.rng.choices(
            ["paid", "declined", "delayed", "refunded", "disputed", "abandoned"], weights=[5, 1, 2, 2, 2, 1]
        )[0]
        self.soak.stats.add(f"checkout {outcome}")
        if outcome == "declined":
            # The card is refused on Stripe's page; the buyer gives up and comes back.
            self.request("GET", urlsplit(cancel_url).path + "?" + urlsplit(cancel_url).query)
            return
        if outcome == "abandoned":
            self.soak.later(self.rng.uniform(5, 20), lambda: stripe.expire(session_id))
            return
        if outcome == "delayed":
            stripe.pay_later(session_id)
            self.soak.later(
                self.rng.uniform(4, 20), lambda: stripe.settle_later(session_id, self.rng.random() < 0.75)
            )
        else:
            stripe.pay(session_id)
        if self.rng.random() < 0.7:
            parts = urlsplit(success_url)
            self.request("GET", f"{parts.path}?{parts.query}")
        if outcome == "refunded":
            fractions = [1.0] if self.rng.random() < 0.5 else [0.5, 0.5] if self.rng.random() < 0.5 else [0.3]
            delay = self.rng.uniform(3, 10)
            for fraction in fractions:
                self.soak.later(delay, lambda f=fraction: stripe.refund(session_id, f))
                delay += self.rng.uniform(0.5, 4)
        elif outcome == "disputed":
            won = self.rng.random() < 0.5

            def open_then_close() -> None:
                dispute_id = stripe.dispute(session_id)
                if dispute_id:
                    self.soak.later(self.rng.uniform(3, 12), lambda: stripe.close_dispute(dispute_id, won))

            self.soak.later(self.rng.uniform(3, 10), open_then_close)


# -- the soak ----------------------------------------------------------------------------------------


@dataclass
class FaultRecord:
    name: str
    started: float
    ended: float = 0.0
    healthz_after: float | None = None  # seconds from the restart until /healthz answered 200
    note: str = ""


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.seed: int = args.seed
        self.rng = random.Random(self.seed)
        self.short = args.short
        self.load_seconds = 100.0 if args.short else max(60.0, args.minutes * 60 - 150)
        self.drain_seconds = 150.0 if args.short else 300.0
        self.people_count = args.people or (5 if args.short else 8)
        self.root = Path(tempfile.mkdtemp(prefix=f"soak-{self.seed}-"))
        self.log_dir = self.root / "logs"
        self.log_dir.mkdir()
        self.keep = args.keep
        self.stats = Stats()
        self.stop_load = threading.Event()
        self.stop_faults = threading.Event()
        self.faults: list[FaultRecord] = []
        self.fault_counts: Counter[str] = Counter()
        self.db_outages: list[tuple[float, float]] = []
        self.timers: list[threading.Timer] = []
        self.kind_slugs: list[str] = []
        self.violations: list[tuple[str, list[str]]] = []
        self.outcomes: Counter[str] = Counter()
        self.pg = Postgres(self.root, args.pg_port or free_port())
        self.redis = Redis(args.redis_port or free_port())
        self.site_port, self.sim_port, self.proxy_port, self.stripe_port = (free_port() for _ in range(4))
        self.site_url = f"http://127.0.0.1:{self.site_port}"
        self.procs: dict[str, Proc] = {}
        self.sample_video = b""

    # -- environment --

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "KLING_", "STRIPE_", "GUNICORN_"))
        }
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "kling_site.settings",
                "DJANGO_DEBUG": "0",
                "SECRET_KEY": f"soak-secret-{self.seed}-" + "x" * 40,
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SITE_URL": self.site_url,
                "SECURE_SSL_REDIRECT": "0",
                "SECURE_HSTS_SECONDS": "0",
                "DATABASE_URL": self.pg.url,
                "REDIS_URL": self.redis.url,
                # Staging: production settings, Kling played by the simulator in its own process.
                # KLING_PROVIDER stays "simulator" because only then may results come from a
                # loopback host; the client is still the official one (generations.providers.kling).
                "KLING_PROVIDER": "simulator",
                "ALLOW_SIMULATOR_IN_PRODUCTION": "1",
                "KLING_API_BASE": f"http://127.0.0.1:{self.proxy_port}/_sim/kling",
                "KLING_MEDIA_HOSTS": f"127.0.0.1:{self.proxy_port}",
                "KLING_WEBHOOK_SECRET": f"soak-kling-webhook-{self.seed}",
                "KLING_READ_TIMEOUT": str(KLING_READ_TIMEOUT),
                "KLING_CONNECT_TIMEOUT": "3",
                "STRIPE_SECRET_KEY": "sk_test_soak",
                "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "STRIPE_API_BASE": f"http://127.0.0.1:{self.stripe_port}",
                "STRIPE_TIMEOUT": "5",
                "ACCOUNT_EMAIL_VERIFICATION": "none",
                "SIGNUP_LIMIT_PER_IP": "0",
                "SIGNUP_LIMIT_PER_NETWORK": "0",
                "MAX_PENDING_CHECKOUTS": "0",
                "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
                "MEDIA_ROOT": str(self.root / "media"),
                "STATIC_ROOT": str(self.root / "static"),
                "GENERATION_POLL_SECONDS": "4",
                "SIMULATOR_QUEUE_SECONDS": "2",
                "SIMULATOR_RUN_SECONDS": "5",
                "Q_WORKERS": "2",
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(BASE_DIR),
            }
        )
        env.update(extra)
        return env

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["nice", "-n", "10", PY, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env(),
            capture_output=True,
            text=True,
            check=check,
        )

    # -- start and stop --

    def start(self) -> None:
        log(f"seed {self.seed}; work directory {self.root}")
        self.pg.init()
        self.redis.start()
        log(f"PostgreSQL on {self.pg.port}, Redis on {self.redis.port}")
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        os.environ.update(self.env())
        import django

        django.setup()
        self.configure_simulator()
        from generations.simulator.media import encode_mp4, labelled_video_file  # noqa: F401

        self.sample_video = labelled_video_file("16:9", 1, 5.0, "soak").read_bytes()
        self.stripe = FakeStripe(
            f"{self.site_url}/billing/stripe/webhook/", WEBHOOK_SECRET, random.Random(self.seed + 1)
        )
        self.stripe.start(self.stripe_port)
        self.proxy = SimProxy(
            f"http://127.0.0.1:{self.sim_port}",
            random.Random(self.seed + 2),
            slow_rate=0.1,
            truncate_rate=0.1,
        )
        self.proxy.start(self.proxy_port)
        gunicorn = str(BASE_DIR / ".venv" / "bin" / "gunicorn")
        self.procs["sim"] = Proc(
            "simulator",
            [gunicorn, "kling_site.wsgi", "-c", "gunicorn.conf.py"],
            self.env(
                GUNICORN_BIND=f"127.0.0.1:{self.sim_port}",
                GUNICORN_WORKERS="1",
                GUNICORN_THREADS="8",
                GUNICORN_MAX_REQUESTS="0",
            ),
            self.log_dir,
        ).start()
        self.procs["web"] = Proc(
            "web",
            [gunicorn, "kling_site.wsgi", "-c", "gunicorn.conf.py"],
            self.env(
                GUNICORN_BIND=f"127.0.0.1:{self.site_port}",
                GUNICORN_WORKERS="2",
                GUNICORN_THREADS="4",
                GUNICORN_TIMEOUT="30",
            ),
            self.log_dir,
        ).start()
        for i in (1, 2):
            self.procs[f"worker{i}"] = Proc(
                f"worker{i}", [PY, "manage.py", "qcluster"], self.env(), self.log_dir
            ).start()
        self.procs["clock"] = Proc("clock", [PY, "manage.py", "poll_clock"], self.env(), self.log_dir).start()
        for url in (f"http://127.0.0.1:{self.sim_port}/_sim/kling/", f"{self.site_url}/healthz"):
            if self.wait_for(url, 60) is None:
                raise RuntimeError(f"{url} did not answer; see {self.log_dir}")
        from generations.models import KIND_SLUGS

        self.kind_slugs = list(KIND_SLUGS.values())
        log(
            f"site {self.site_url}, simulator {self.sim_port} (behind proxy {self.proxy_port}), Stripe stand-in {self.stripe_port}"
        )
        log(f"kinds offered: {', '.join(self.kind_slugs)}")

    def configure_simulator(self) -> None:
        from generations.simulator.models import SimFaults

        faults = SimFaults.current()
        faults.concurrency_limit = 6
        faults.rate_5000 = 0.03
        faults.rate_5002_after_create = 0.08
        faults.rate_failed_task = 0.12
        faults.rate_callback_lost = 0.2
        faults.rate_callback_duplicate = 0.2
        faults.rate_callback_reordered = 0.2
        faults.rate_read_timeout = 0.0
        faults.save()
        self.close_db()

    @staticmethod
    def close_db() -> None:
        from django.db import connections

        connections.close_all()

    def wait_for(self, url: str, timeout: float, status: int = 200) -> float | None:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                if requests.get(url, timeout=3).status_code == status:
                    return time.monotonic() - started
            except requests.RequestException:
                pass
            time.sleep(0.2)
        return None

    def later(self, delay: float, action: Any) -> None:
        timer = threading.Timer(delay, self._safely, args=(action,))
        timer.daemon = True
        self.timers.append(timer)
        timer.start()

    def _safely(self, action: Any) -> None:
        try:
            action()
        except Exception as exc:
            self.stats.add(f"scheduled action error {exc.__class__.__name__}")

    def shutdown(self) -> None:
        self.stop_load.set()
        self.stop_faults.set()
        for name in ("clock", "worker1", "worker2", "web", "sim"):
            if name in self.procs:
                self.procs[name].stop()
        with contextlib.suppress(Exception):
            self.stripe.stop()
        self.redis.stop()
        self.pg.stop("immediate")
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- faults --

    def fault_plan(self) -> list[tuple[float, str]]:
        """When each fault happens (seconds into the load), drawn from the seed."""
        minutes = self.load_seconds / 60
        wanted = {
            "kill -9 qcluster": max(2, round(minutes * 0.8)),
            "kill -9 qcluster worker": max(1, round(minutes * 0.3)),
            "kill -9 gunicorn worker": max(1, round(minutes * 0.4)),
            "restart redis": max(1, round(minutes * 0.15)),
            "restart postgresql": max(1, round(minutes * 0.15)),
            "pause simulator": max(1, round(minutes * 0.15)),
            "1303 burst": max(1, round(minutes * 0.25)),
        }
        names = [name for name, n in wanted.items() for _ in range(n)]
        self.rng.shuffle(names)
        # Faults end well inside the load, so the drain can outwait a killed worker's claim.
        span = self.load_seconds * (0.7 if self.short else 0.9)
        slot = span / len(names)
        return [(5 + i * slot + self.rng.uniform(0, slot * 0.3), name) for i, name in enumerate(names)]

    def run_faults(self, plan: list[tuple[float, str]], started: float) -> None:
        for at, name in plan:
            while time.monotonic() - started < at:
                if self.stop_faults.wait(0.2):
                    return
            record = FaultRecord(name, time.time())
            try:
                getattr(self, "fault_" + re.sub(r"\W+", "_", name).strip("_"))(record)
            except Exception as exc:
                record.note = f"error: {exc!r}"
            record.ended = time.time()
            self.faults.append(record)
            self.fault_counts[name] += 1
            extra = (
                f", /healthz after {record.healthz_after:.1f} s" if record.healthz_after is not None else ""
            )
            log(f"fault: {name}{extra} {record.note}".rstrip())

    def healthz(self, record: FaultRecord) -> None:
        took = self.wait_for(f"{self.site_url}/healthz", 60)
        record.healthz_after = took if took is not None else float("inf")

    def fault_kill_9_qcluster(self, record: FaultRecord) -> None:
        name = self.rng.choice(["worker1", "worker2"])
        proc = self.procs[name]
        proc.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.process.wait(5)
        time.sleep(self.rng.uniform(0.5, 3))
        proc.start()
        record.note = f"({name})"

    def fault_kill_9_qcluster_worker(self, record: FaultRecord) -> None:
        name = self.rng.choice(["worker1", "worker2"])
        victims = [pid for child in self.procs[name].children() for pid in [child, *children_of(child)]]
        # django-q's tree: the nice'd cluster, its sentinel, then monitor, pusher and workers.
        leaves = [pid for pid in victims if not children_of(pid)]
        if leaves:
            pid = self.rng.choice(leaves)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            record.note = f"({name} pid {pid})"

    def fault_kill_9_gunicorn_worker(self, record: FaultRecord) -> None:
        workers = [pid for child in self.procs["web"].children() for pid in children_of(child)] or self.procs[
            "web"
        ].children()
        if workers:
            pid = self.rng.choice(workers)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            record.note = f"(pid {pid})"
        self.healthz(record)

    def fault_restart_redis(self, record: FaultRecord) -> None:
        self.redis.stop()
        time.sleep(self.rng.uniform(1, 4))
        self.redis.start()
        self.healthz(record)

    def fault_restart_postgresql(self, record: FaultRecord) -> None:
        down = time.time()
        self.pg.stop("fast")
        time.sleep(self.rng.uniform(1, 4))
        self.pg.start()
        up = time.time()
        self.healthz(record)
        # Requests already waiting on the database may fail just after it is back.
        self.db_outages.append((down - 1, up + (record.healthz_after or 0) + 3))

    def fault_pause_simulator(self, record: FaultRecord) -> None:
        proc = self.procs["sim"]
        proc.signal_group(signal.SIGSTOP)
        time.sleep(KLING_READ_TIMEOUT + self.rng.uniform(2, 5))
        proc.signal_group(signal.SIGCONT)

    def fault_1303_burst(self, record: FaultRecord) -> None:
        from generations.simulator.models import SimFaults

        try:
            SimFaults.objects.filter(pk=1).update(rate_1303=1.0)
            time.sleep(self.rng.uniform(5, 12))
        finally:
            for _ in range(20):
                try:
                    SimFaults.objects.filter(pk=1).update(rate_1303=0.0)
                    break
                except Exception:
                    self.close_db()
                    time.sleep(1)
            self.close_db()

    # -- the run --

    def run(self) -> int:
        self.start()
        people = [Person(i, self) for i in range(self.people_count)]
        started = time.monotonic()
        for person in people:
            person.start()
            time.sleep(0.3)
        plan = self.fault_plan()
        log(f"load for {self.load_seconds:.0f} s with {len(people)} people; {len(plan)} faults planned")
        faults = threading.Thread(target=self.run_faults, args=(plan, started), daemon=True)
        faults.start()
        while time.monotonic() - started < self.load_seconds:
            time.sleep(1)
        faults.join()  # the plan ends inside the load window; a late fault is finished, not cut
        self.stop_load.set()
        for person in people:
            person.join(40)
        log("load stopped; draining")
        self.drain()
        return self.check()

    def drain(self) -> None:
        from generations import follow

        deadline = time.monotonic() + self.drain_seconds
        while time.monotonic() < deadline:
            live = any(t.is_alive() for t in self.timers)
            try:
                # Unfinished jobs, and succeeded ones whose copy is still being retried
                # (an interrupted download waits for its backoff and the next sweep).
                work_left = follow.has_work()
            except Exception:
                self.close_db()
                work_left = True
            pending = self.stripe.pending_deliveries()
            with contextlib.suppress(Exception):
                # The five-minute requeue schedule, run as often as the drain looks: events
                # whose worker was killed come back once their claim is stale.
                from billing import webhooks

                webhooks.requeue_stuck_events()
            if not live and not work_left and pending == 0 and self.events_settled():
                break
            time.sleep(2)
        self.close_db()
        # The reconciler and stuck-event sweep run on schedules; give the last events a moment.
        time.sleep(3)

    @staticmethod
    def events_settled() -> bool:
        from billing.models import StripeEvent

        Soak.close_db()

        return not StripeEvent.objects.filter(
            status__in=[StripeEvent.Status.RECEIVED, StripeEvent.Status.PROCESSING]
        ).exists()

    # -- checks --

    def violation(self, name: str, rows: list[str]) -> None:
        if rows:
            self.violations.append((name, rows))

    def check(self) -> int:
        self.close_db()
        self.check_generations()
        self.check_ledger()
        self.check_purchases()
        self.check_http()
        self.summary()
        if self.violations:
            print(f"\nSOAK FAILED (seed {self.seed}): {len(self.violations)} check(s) violated", flush=True)
            for name, rows in self.violations:
                print(f"  {name}: {len(rows)} row(s)")
                for row in rows[:10]:
                    print(f"    {row}")
            print(
                f"Replay with: scripts/soak.py --seed {self.seed}{' --short' if self.short else ''}  (logs kept in {self.log_dir})"
            )
            self.keep = True
            return 1
        print(f"\nSOAK PASSED (seed {self.seed})", flush=True)
        return 0

    def check_generations(self) -> None:
        from django.core.files.storage import default_storage

        from billing.models import LedgerEntry
        from generations.models import Generation
        from generations.simulator.models import SimTask

        generations = list(Generation.objects.prefetch_related("assets"))
        entries: dict[int, list[LedgerEntry]] = defaultdict(list)
        for entry in LedgerEntry.objects.filter(generation__isnull=False):
            entries[entry.generation_id].append(entry)
        sim_tasks: dict[str, list[SimTask]] = defaultdict(list)
        for task in SimTask.objects.exclude(external_task_id=""):
            sim_tasks[task.external_task_id].append(task)
        not_terminal, twice, refunds_wrong, files_missing, charge_wrong, kling_done_we_failed = (
            [],
            [],
            [],
            [],
            [],
            [],
        )
        for g in generations:
            self.outcomes[f"generation {g.kind} {g.status}"] += 1
            if g.deleted_at:
                self.outcomes["generations deleted"] += 1
            ext = str(g.external_task_id)
            if g.status not in TERMINAL:
                not_terminal.append(
                    f"generation {g.pk} {g.kind} status={g.status} task={g.task_id or '-'} attempts={g.attempts}"
                )
            creates = self.proxy.creates.get(ext, 0)
            tasks = sim_tasks.get(ext, [])
            if creates > 1 or len(tasks) > 1:
                twice.append(f"generation {g.pk}: {creates} accepted creates, {len(tasks)} simulator tasks")
            if tasks and g.task_id and tasks[0].task_id != g.task_id:
                twice.append(f"generation {g.pk}: task {g.task_id} here, {tasks[0].task_id} at Kling")
            if (
                tasks
                and tasks[0].outcome == "succeed"
                and tasks[0].status_at() == "succeed"
                and g.status == "failed"
            ):
                kling_done_we_failed.append(
                    f"generation {g.pk} ({g.error_code}): Kling task {tasks[0].task_id} succeeded"
                )
            mine = entries.get(g.pk, [])
            charges = [e for e in mine if e.kind == LedgerEntry.Kind.CHARGE]
            refunds = [e for e in mine if e.kind == LedgerEntry.Kind.REFUND]
            if len(charges) != 1 or -charges[0].amount != g.cost:
                charge_wrong.append(f"generation {g.pk} cost {g.cost}: charges {[e.amount for e in charges]}")
            if g.status == "failed" and (len(refunds) != 1 or refunds[0].amount != g.cost):
                refunds_wrong.append(
                    f"failed generation {g.pk} cost {g.cost}: refunds {[e.amount for e in refunds]}"
                )
            if g.status == "succeeded":
                if refunds:
                    refunds_wrong.append(
                        f"succeeded generation {g.pk}: refunded {[e.amount for e in refunds]}"
                    )
                assets = list(g.assets.all())
                if not assets:
                    files_missing.append(f"succeeded generation {g.pk} {g.kind}: no files")
                for asset in assets:
                    try:
                        size = default_storage.size(asset.file.name)
                    except OSError:
                        size = -1
                    if size <= 0 or (asset.size and size != asset.size):
                        files_missing.append(
                            f"generation {g.pk} asset {asset.pk} {asset.file.name}: {size} bytes on disk, {asset.size} recorded"
                        )
            if g.status == "failed":
                self.outcomes[f"failed because {g.error_code or 'unknown'}"] += 1
        self.outcomes["generations"] = len(generations)
        self.outcomes["simulator tasks"] = sum(len(v) for v in sim_tasks.values())
        self.outcomes["Kling succeeded, failed here (deadline or download)"] = len(kling_done_we_failed)
        self.violation("generation not terminal after the drain", not_terminal)
        self.violation("generation submitted to Kling twice", twice)
        self.violation("generation not charged exactly once", charge_wrong)
        self.violation(
            "failed generation not refunded exactly once (or succeeded one refunded)", refunds_wrong
        )
        self.violation("succeeded generation without its files", files_missing)
        self.close_db()

    def check_ledger(self) -> None:
        from billing import ledger

        self.violation("balance differs from the sum of its entries", ledger.reconcile())
        result = self.manage("check_ledger", check=False)
        if result.returncode != 0:
            self.violation(
                "manage.py check_ledger", (result.stdout + result.stderr).strip().splitlines()[-10:]
            )
        self.close_db()

    def check_purchases(self) -> None:
        from billing import payments, webhooks
        from billing.models import LedgerEntry, Purchase, StripeEvent

        truth = self.stripe.truth()
        purchases = {p.stripe_session_id: p for p in Purchase.objects.exclude(stripe_session_id="")}
        keys: dict[str, LedgerEntry] = {
            e.idempotency_key: e for e in LedgerEntry.objects.filter(purchase__isnull=False)
        }
        wrong = []
        for session_id, t in truth.items():
            purchase = purchases.get(session_id)
            if purchase is None:
                # A crash between creating the session and saving its id leaves both: the
                # buyer never saw the URL, so it stays unpaid; if it is ever paid, Stripe's
                # event finds the purchase by its metadata (tests/billing/test_stripe_orphan_sessions.py).
                orphan = Purchase.objects.filter(
                    pk=t["purchase_id"], stripe_session_id__isnull=True, paid_at__isnull=True
                ).first()
                never_paid = not t["paid"] and not t["refunds"] and not t["disputes"]
                if orphan is not None and never_paid and f"checkout:{session_id}" not in keys:
                    self.outcomes["checkout session orphaned by a crash, never paid"] += 1
                else:
                    wrong.append(f"session {session_id} (purchase {t['purchase_id']}) has no purchase here")
                continue
            self.outcomes[f"purchase {purchase.status}"] += 1
            credit = keys.get(f"checkout:{session_id}")
            if t["paid"]:
                if credit is None or credit.amount != purchase.credits:
                    wrong.append(
                        f"paid session {session_id} purchase {purchase.pk}: credited {credit.amount if credit else 0}, pack {purchase.credits}"
                    )
                    continue
                refunded = 0
                for refund_id, amount in t["refunds"]:
                    refunded += amount
                    entry = keys.get(f"refund:{refund_id}")
                    if entry is None:
                        wrong.append(f"refund {refund_id} of purchase {purchase.pk}: not clawed back")
                expected = purchase.credits * min(refunded, t["amount"]) // t["amount"] if t["amount"] else 0
                taken = -sum(keys[f"refund:{r}"].amount for r, _ in t["refunds"] if f"refund:{r}" in keys)
                if t["refunds"] and taken != expected:
                    wrong.append(f"purchase {purchase.pk}: refunds took {taken} credits, expected {expected}")
                for dispute_id, status, _amount in t["disputes"]:
                    opened = keys.get(f"dispute:{dispute_id}:open")
                    won = keys.get(f"dispute:{dispute_id}:won")
                    if opened is None:
                        wrong.append(f"dispute {dispute_id} of purchase {purchase.pk}: not clawed back")
                    if status == "won" and won is None:
                        wrong.append(
                            f"dispute {dispute_id} of purchase {purchase.pk}: won but credits not given back"
                        )
                    if status == "lost" and won is not None:
                        wrong.append(
                            f"dispute {dispute_id} of purchase {purchase.pk}: lost but credits given back"
                        )
                    if purchase.dispute_status != status:
                        wrong.append(
                            f"purchase {purchase.pk}: dispute {dispute_id} is {status} at Stripe, {purchase.dispute_status!r} here"
                        )
            else:
                if credit is not None:
                    wrong.append(
                        f"unpaid session {session_id} ({t['status']}) purchase {purchase.pk}: credited {credit.amount}"
                    )
                if purchase.status == Purchase.Status.PAID:
                    wrong.append(f"unpaid session {session_id}: purchase {purchase.pk} is paid here")
        self.violation("checkout not credited exactly once / refund or dispute not clawed back once", wrong)
        report = payments.reconcile(days=1)
        requeued = webhooks.requeue_stuck_events()
        leftover = []
        if report.credited:
            leftover.append(f"the reconciler credited {report.credited} paid session(s) nobody had credited")
        leftover += [f"reconcile error: {e}" for e in report.errors]
        if requeued:
            leftover.append(f"{requeued} stored Stripe event(s) still needed processing")
        failed = StripeEvent.objects.filter(status=StripeEvent.Status.FAILED)
        leftover += [f"event {e.event_id} {e.type} failed: {e.error[:150]}" for e in failed[:10]]
        self.violation("the reconciler found work left", leftover)
        for status, n in Counter(StripeEvent.objects.values_list("status", flat=True)).items():
            self.outcomes[f"stripe events {status}"] = n
        self.close_db()

    def check_http(self) -> None:
        pattern = re.compile(r'\[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "([^"]*)" (\d{3}) ')
        bad = []
        for line in self.procs["web"].log().splitlines():
            match = pattern.search(line)
            if not match or match.group(3) != "500":
                continue
            at = datetime.strptime(match.group(1), "%d/%b/%Y:%H:%M:%S %z").timestamp()
            if any(start - 1 <= at <= end + 1 for start, end in self.db_outages):
                self.outcomes["HTTP 500 during a database outage"] += 1
                continue
            bad.append(f"{match.group(1)} {match.group(2)}")
        self.violation("HTTP 500 outside a database outage", bad)
        slow = [
            f"{r.name} at {time.strftime('%H:%M:%S', time.localtime(r.started))}: /healthz after {r.healthz_after:.1f} s"
            for r in self.faults
            if r.healthz_after is not None and r.healthz_after > HEALTHZ_WITHIN
        ]
        self.violation(f"/healthz not answering within {HEALTHZ_WITHIN:.0f} s after a restart", slow)
        errors = [f"{r.name}: {r.note}" for r in self.faults if r.note.startswith("error")]
        self.violation("a fault could not be injected", errors)

    def summary(self) -> None:
        def table(title: str, rows: dict[str, Any]) -> None:
            print(f"\n{title}")
            width = max((len(k) for k in rows), default=10)
            for key in sorted(rows):
                print(f"  {key:<{width}}  {rows[key]}")

        print(f"\n===== soak summary (seed {self.seed}) =====")
        table("faults injected", dict(self.fault_counts))
        heal = [r.healthz_after for r in self.faults if r.healthz_after is not None]
        if heal:
            print(f"  /healthz after restarts: max {max(heal):.1f} s, mean {sum(heal) / len(heal):.1f} s")
        table(
            "simulator and proxy faults",
            {
                **{f"proxy: {k}": v for k, v in self.proxy.counts.items()},
                "simulator rates": "5000 3%, 5002 after create 8%, failed task 12%, callbacks lost/duplicated/reordered 20% each",
            },
        )
        table("load", dict(self.stats.counts))
        table("HTTP answers seen by the people", {str(k): v for k, v in self.stats.responses.items()})
        table("Stripe stand-in", dict(self.stripe.counts))
        table("outcomes", dict(self.outcomes))
        print(f"\nchecks: {'all passed' if not self.violations else f'{len(self.violations)} violated'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES") or 10))
    parser.add_argument("--short", action="store_true", help="about 3 minutes in all (CI)")
    parser.add_argument(
        "--seed",
        type=int,
        default=int(os.environ.get("SOAK_SEED") or random.SystemRandom().randrange(1, 10**6)),
    )
    parser.add_argument("--people", type=int, default=0)
    parser.add_argument("--pg-port", type=int, default=0)
    parser.add_argument("--redis-port", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    args = parser.parse_args()
    print(f"soak seed: {args.seed}", flush=True)
    soak = Soak(args)
    try:
        return soak.run()
    except BaseException:
        soak.keep = True
        print(f"soak aborted (seed {args.seed}); logs in {soak.log_dir}", flush=True)
        raise
    finally:
        soak.shutdown()


if __name__ == "__main__":
    sys.exit(main())
