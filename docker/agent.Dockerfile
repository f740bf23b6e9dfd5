# The AIOS edge agent, CPU build (x86-64 or arm64). Build from the repository root:
#   docker build -f docker/agent.Dockerfile -t aios-agent .
# For NVIDIA GPUs build with --build-arg EXTRA=gpu on an nvidia/cuda runtime base; on Jetson use
# NVIDIA's l4t-jetpack base and NVIDIA's onnxruntime-gpu wheel (see agent/README.md).
ARG BASE=python:3.12-slim
FROM ${BASE} AS build
ARG EXTRA=cpu
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /usr/local/bin/uv
# The environment is built where it will run: its scripts' shebangs name its python.
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/aios
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY shared shared
COPY agent agent
COPY controlplane controlplane
# metrics: prometheus-client, for the local endpoint docker/agent.yaml turns on
RUN uv sync --locked --no-dev --no-editable --package aios-agent --extra ${EXTRA} --extra metrics

FROM ${BASE}
RUN useradd --system --uid 10001 --groups video aios && mkdir -p /var/lib/aios && chown aios /var/lib/aios
COPY --from=build /opt/aios /opt/aios
ENV PATH=/opt/aios/bin:$PATH AIOS_AGENT_STATE_DIR=/var/lib/aios
USER aios
VOLUME /var/lib/aios
ENTRYPOINT ["aios-agent"]
CMD ["run", "--config", "/etc/aios/agent.yaml"]
