#!/usr/bin/env bash
# Build (or reuse) a virtual environment with `aios-agent[openvino]`, apart from the workspace's
# .venv: the cpu, gpu and openvino extras all install the `onnxruntime` module, so the
# workspace declares them conflicting and can hold only one. The versions come from uv.lock
# (`uv export`), so this environment runs exactly what `pip install "aios-agent[openvino]"`
# would, plus pytest to run the OpenVINO checks in it. Rebuilt when uv.lock changes.
#
#   scripts/openvino_env.sh [DIR]     # default .venv-openvino; prints DIR's python
set -euo pipefail
cd "$(dirname "$0")/.."
ENV_DIR=${1:-.venv-openvino}
UV=$(command -v uv || echo "python3 -m uv")
export UV_PYTHON_DOWNLOADS=never
stamp="$ENV_DIR/.aios-lock-sha256"
want=$(cat uv.lock agent/pyproject.toml shared/pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ -x "$ENV_DIR/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "$ENV_DIR/bin/python"
    exit 0
fi
rm -rf "$ENV_DIR"
$UV venv --quiet --python "${UV_PYTHON:-python3}" "$ENV_DIR"
requirements=$(mktemp)
trap 'rm -f "$requirements"' EXIT
$UV export --quiet --locked --package aios-agent --extra openvino --no-hashes \
    --no-emit-workspace --no-dev >"$requirements"
VIRTUAL_ENV="$ENV_DIR" $UV pip install --quiet -r "$requirements" \
    "pytest>=8.3" "pytest-asyncio>=0.24" "pytest-timeout>=2.3"
VIRTUAL_ENV="$ENV_DIR" $UV pip install --quiet --no-deps -e shared -e agent
echo "$want" >"$stamp"
echo "$ENV_DIR/bin/python"
