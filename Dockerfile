# Production image: the same commands as docs/deploy.md (gunicorn for web, qcluster for workers).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH="/opt/venv/bin:$PATH"

RUN pip install --no-cache-dir uv==0.13.9 \
    && useradd --create-home --uid 1000 app

WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --python python3 --no-install-project

COPY . .
# collectstatic needs settings to load; these build-time values never reach run time.
RUN DJANGO_DEBUG=0 SECRET_KEY=build-only ALLOWED_HOSTS=build KLING_PROVIDER=simulator \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/media && chown -R app:app /app/media

USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
CMD ["gunicorn", "kling_site.wsgi", "-c", "gunicorn.conf.py"]
