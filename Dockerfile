# The one image of the platform: the web server, the gates (CPU) workers and the GPU workers all
# run it, with different commands (docker-compose.yml). torch==2.13.0 from PyPI is its CUDA build,
# which the GPU worker needs.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MINTMARK_DATA_DIR=/data

WORKDIR /app

RUN groupadd --system --gid 10001 mintmark \
    && useradd --system --uid 10001 --gid mintmark --home-dir /app --no-create-home mintmark \
    && mkdir /data \
    && chown mintmark:mintmark /data

COPY requirements.txt requirements-nodeps.txt ./
# open-clip-torch goes in without its declared dependencies: requirements-nodeps.txt says why.
RUN pip install -r requirements.txt \
    && pip install --no-deps -r requirements-nodeps.txt

COPY . .

USER mintmark
# Keys, static files and (with MINTMARK_STORAGE=local) media live here: a volume in compose.
VOLUME ["/data"]
EXPOSE 8000

# The web server: gunicorn with uvicorn workers (Django under ASGI), as compose's `web` runs it.
CMD ["gunicorn", "mintmark.asgi:application", "--worker-class", "mintmark.asgi_worker.WebWorker", "--chdir", "/app", "--pythonpath", "/app/platform,/app", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--no-control-socket"]
