#!/usr/bin/env bash
# Make sure a Chromium the console's browser tests can drive is installed: Debian's
# `chromium` package (Playwright's own browser download is not used). Prints its path.
# AIOS_CHROMIUM names another executable to use instead.
set -euo pipefail

find_browser() {
    if [ -n "${AIOS_CHROMIUM:-}" ] && [ -x "${AIOS_CHROMIUM}" ]; then echo "$AIOS_CHROMIUM"; return 0; fi
    command -v chromium || command -v chromium-browser || return 1
}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! find_browser >/dev/null; then
    if ! command -v apt-get >/dev/null; then
        echo "ensure_browser: chromium missing and no apt-get here; install it and rerun" >&2
        exit 1
    fi
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
    echo "ensure_browser: installed chromium" >&2
fi
find_browser
