#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kling_site.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 (loads the settings, which check the environment)
    except ImproperlyConfigured as exc:
        # A missing or malformed variable is one line that names it, not a traceback.
        sys.exit(f"Configuration error: {exc}")
    execute_from_command_line(sys.argv)
