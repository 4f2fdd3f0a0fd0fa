"""gunicorn settings for production (`gunicorn kling_site.wsgi -c gunicorn.conf.py`).

Every value can be overridden with the environment variable named beside it. A malformed
variable, here or in the Django settings, stops the start with one line naming it, before
any worker is forked (each worker would otherwise print a traceback of its own).
"""

import multiprocessing
import os
import runpy
import sys

from django.core.exceptions import ImproperlyConfigured

from kling_site.env import envint, envstr


def _check_django_settings() -> None:
    """Evaluate the Django settings once in the master, only to refuse a bad environment.

    run_module does not keep the settings module and the environment is put back
    (settings.py loads .env), so each worker still reads both afresh, after a HUP as well.
    """
    module = os.environ.get("DJANGO_SETTINGS_MODULE", "kling_site.settings")
    if module in sys.modules:
        return  # this process loaded them already (a test reading this file)
    before = dict(os.environ)
    try:
        runpy.run_module(module)
    except ImproperlyConfigured as exc:
        sys.exit(f"Configuration error: {exc}")
    finally:
        os.environ.clear()
        os.environ.update(before)


try:
    bind = envstr("GUNICORN_BIND") or "0.0.0.0:" + str(envint("PORT", 8000, minimum=1))
    # Threads let a worker serve the htmx status polls while another request waits on I/O.
    workers = envint("GUNICORN_WORKERS", min(4, multiprocessing.cpu_count() * 2 + 1), minimum=1)
    threads = envint("GUNICORN_THREADS", 4, minimum=1)
    timeout = envint("GUNICORN_TIMEOUT", 60, minimum=1)
    # Recycle workers now and then so a slow leak can never take the site down.
    max_requests = envint("GUNICORN_MAX_REQUESTS", 2000, minimum=0)
except ImproperlyConfigured as exc:
    sys.exit(f"Configuration error: {exc}")
_check_django_settings()

worker_class = "gthread"
graceful_timeout = 30
keepalive = 5
max_requests_jitter = 200
forwarded_allow_ips = os.getenv("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
loglevel = os.getenv("GUNICORN_LOG_LEVEL", "info")
