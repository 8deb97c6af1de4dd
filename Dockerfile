# One image for the API and the worker; the command picks which:
#   docker run IMAGE serve --host 0.0.0.0     (default)   docker run IMAGE worker
#   docker run IMAGE migrate
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install -c constraints.txt .

# Final layer: the virtualenv and runtime files only; no compiler, no pip cache, no tests.
FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /srv bankfeeds
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv
COPY templates ./templates
COPY locales ./locales
# Catalogs compiled at build (start-up compiles them too when missing).
RUN /opt/venv/bin/python -c "from app.i18n import compile_catalogs; compile_catalogs(force=True)"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BANKFEEDS_DATA_DIR=/srv/data
USER bankfeeds
EXPOSE 8000
ENTRYPOINT ["bankfeeds"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
