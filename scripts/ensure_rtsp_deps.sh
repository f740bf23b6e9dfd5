#!/usr/bin/env bash
# Installs what the RTSP tests need when it is missing: GStreamer's RTSP server with its
# introspection data and PyGObject for the system Python (the test server runs under
# /usr/bin/python3, not the venv), and the plugins that decode the sample video and encode
# H.264 (x264, in -ugly) and Motion JPEG. Debian packages; needs root (or sudo) only to install.
set -euo pipefail

PACKAGES=(
    python3-gi
    gir1.2-gstreamer-1.0
    gir1.2-gst-rtsp-server-1.0
    gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad
    gstreamer1.0-plugins-ugly
    gstreamer1.0-libav
)
PROBE="import gi; gi.require_version('GstRtspServer', '1.0'); \
from gi.repository import Gst, GstRtspServer; Gst.init(None); \
import sys; sys.exit(any(Gst.ElementFactory.find(e) is None for e in \
('x264enc', 'rtph264pay', 'jpegenc', 'rtpjpegpay', 'decodebin', 'avdec_h264')))"

if /usr/bin/python3 -c "$PROBE" 2>/dev/null; then
    exit 0
fi
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
    echo "ensure_rtsp_deps: packages present but GStreamer RTSP probe failed" >&2
    exit 1
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO="sudo"
fi
echo "ensure_rtsp_deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
/usr/bin/python3 -c "$PROBE"
