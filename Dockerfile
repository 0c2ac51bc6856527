# The demo service of the compose stack: this repository's otel-perf running its synthetic
# media pipeline forever, serving /metrics on 9464 and exporting spans over OTLP
# (OTEL_EXPORTER_OTLP_ENDPOINT is set by docker-compose.yml).
FROM python:3.12.11-slim-bookworm

WORKDIR /src
COPY pyproject.toml README.md ./
COPY otel_perf ./otel_perf
RUN pip install --no-cache-dir . && rm -rf /src
WORKDIR /tmp

USER nobody
EXPOSE 9464
# --speed 10: a 10 s generation takes 1 s, so dashboards fill in minutes, not hours.
CMD ["otel-perf", "demo", "--forever", "--host", "0.0.0.0", "--port", "9464", "--speed", "10", "--projects", "feature-film,commercial,music-video"]
