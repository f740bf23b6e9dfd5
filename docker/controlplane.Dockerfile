# The AIOS control plane: `aios serve` (API + ingest + jobs). Build from the repository root:
#   docker build -f docker/controlplane.Dockerfile -t aios-controlplane .
FROM python:3.12-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /usr/local/bin/uv
# The environment is built where it will run: its scripts' shebangs name its python.
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/aios
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY shared shared
COPY agent agent
COPY controlplane controlplane
RUN uv sync --locked --no-dev --no-editable --package aios-controlplane

FROM python:3.12-slim
RUN useradd --system --uid 10001 aios && mkdir /data && chown aios /data
COPY --from=build /opt/aios /opt/aios
ENV PATH=/opt/aios/bin:$PATH AIOS_DATA_DIR=/data
USER aios
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
CMD ["sh", "-c", "aios db upgrade && exec aios serve --host 0.0.0.0 --port 8000"]
