# Production image: the same commands as docs/deploy.md (gunicorn for web, qcluster for workers).
# It always runs in production mode; docs/deploy.md lists the variables a deploy must set
# (the site refuses to start without them rather than fall back to demo parts).
FROM python:3.11-slim-bookworm

ENV DJANGO_DEBUG=0 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH="/opt/venv/bin:$PATH"

RUN apt-get update && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir uv==0.13.9 \
    && useradd --create-home --uid 1000 app

WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --python python3 --no-install-project

COPY . .
# The translations are compiled here (msgfmt, as `compilemessages` does): .mo files are not committed.
RUN for po in locale/*/LC_MESSAGES/*.po; do msgfmt --check-format -o "${po%.po}.mo" "$po" || exit 1; done
# collectstatic needs settings to load; these build-time values never reach run time.
RUN SECRET_KEY=build-only ALLOWED_HOSTS=build KLING_PROVIDER=kling KLING_API_KEY=build-only \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/media && chown -R app:app /app/media

USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
CMD ["gunicorn", "kling_site.wsgi", "-c", "gunicorn.conf.py"]
