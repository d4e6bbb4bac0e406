# Metronome's web process. Elasticsearch runs as its own container (see docker-compose.yml);
# inside a container set METRONOME_ES_URL, so no embedded node is started.
# The browser snippet (clients/js), built once and served by Metronome at /metronome.js.
FROM node:20-slim AS snippet
WORKDIR /js
COPY clients/js/package.json clients/js/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY clients/js ./
RUN npm run build

# The dashboard app (clients/app), served by Metronome at /.
FROM node:20-slim AS app
WORKDIR /app
COPY clients/app/package.json clients/app/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY clients/app ./
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# Debian's chromium draws the PDF and PNG reports of dashboards (docs/dashboards.md, "Reports").
RUN apt-get update && apt-get install -y --no-install-recommends chromium \
    && rm -rf /var/lib/apt/lists/*

COPY setup.cfg pyproject.toml README.md ./
COPY metronome ./metronome
COPY ingesters ./ingesters
COPY es_templates ./es_templates
COPY config ./config
COPY --from=snippet /js/dist ./clients/js/dist
COPY --from=app /app/dist ./clients/app/dist
RUN pip install -e . && useradd --system --home /app metronome \
    && mkdir -p /app/var && chown metronome /app/var
USER metronome
# The spool (acknowledged hits not yet in Elasticsearch) must outlive the container.
VOLUME /app/var

# Every interface: the start refuses while a site is open without keys (SECURITY.md,
# docs/operations.md); docker-compose.yml gives the default site the keys of your .env.
ENV METRONOME_SERVER__HOST=0.0.0.0 METRONOME_SERVER__PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
# `serve` installs the index templates, then runs the gunicorn workers and the shipper.
CMD ["metronome", "serve"]
