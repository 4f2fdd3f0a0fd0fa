"""The set-up every benchmark shares, before anything from Django is imported.

Production settings (DEBUG off: no query log, no debug toolbar), over plain HTTP, with a
throw-away directory for the database, media and static files, then `django.setup()`:

    from _env import setup
    TMP = setup("webhook")                       # SQLite in TMP, or DATABASE_URL when set

The database is DATABASE_URL when set, else PostgreSQL and Redis of the benchmark's own
when asked (`own_services=True`) and installed, else a SQLite file in the directory.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "SECRET_KEY": "benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "testserver",
    "SECURE_SSL_REDIRECT": "0",
    # Production mode refuses the default simulator provider unless allowed.
    "ALLOW_SIMULATOR_IN_PRODUCTION": "1",
    "LOG_LEVEL": "WARNING",
}


def soak_helpers():
    """scripts/soak.py (PostgreSQL, Redis and process helpers), loaded as a module."""
    if "soak" not in sys.modules:
        spec = importlib.util.spec_from_file_location("soak", ROOT / "scripts" / "soak.py")
        module = sys.modules["soak"] = importlib.util.module_from_spec(spec)  # dataclasses look it up
        spec.loader.exec_module(module)
    return sys.modules["soak"]


def _own_services(tmp: Path) -> None:
    """PostgreSQL and Redis of our own when installed: the production pair."""
    if not (list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or shutil.which("initdb")):
        return
    soak = soak_helpers()
    pg = soak.Postgres(tmp, soak.free_port())
    pg.init()
    atexit.register(pg.stop)
    os.environ["DATABASE_URL"] = pg.url
    if shutil.which("redis-server") and not os.environ.get("REDIS_URL"):
        redis = soak.Redis(soak.free_port())
        redis.start()
        atexit.register(redis.stop)
        os.environ["REDIS_URL"] = redis.url


def setup(
    name: str,
    *,
    env: dict[str, str] | None = None,
    sqlite_only: bool = False,
    own_services: bool = False,
    plain_static: bool = False,
) -> Path:
    """Set the environment, pick the database and run `django.setup()`; return the directory.

    - `env`: more variables, over the production ones.
    - `sqlite_only`: ignore DATABASE_URL (figures that must compare across runs).
    - `own_services`: without DATABASE_URL, start PostgreSQL and Redis when installed.
    - `plain_static`: serve static files without a manifest (nothing ran collectstatic),
      for benchmarks that render admin pages.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kling_site.settings")
    os.environ.update(PRODUCTION)
    (tmp / "static").mkdir()  # WhiteNoise warns about a missing one
    os.environ.update(MEDIA_ROOT=str(tmp / "media"), STATIC_ROOT=str(tmp / "static"))
    os.environ.update(env or {})
    if sqlite_only:
        os.environ.pop("DATABASE_URL", None)
    elif own_services and not os.environ.get("DATABASE_URL"):
        _own_services(tmp)
    if not os.environ.get("DATABASE_URL"):
        os.environ["SQLITE_PATH"] = str(tmp / "bench.sqlite3")

    import django

    django.setup()
    if plain_static:
        from django.conf import settings

        settings.STORAGES = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    return tmp
