"""A real RTSP server (GStreamer's gst-rtsp-server) serving a video file, for tests and benches.

    /usr/bin/python3 scripts/rtsp_server.py --port 8554 --video clip.mp4 [--user u --password p]

Runs under the system Python: it needs PyGObject and the GStreamer introspection data from
Debian's packages (``scripts/ensure_rtsp_deps.sh`` installs them), not the project's venv, so
it imports nothing from ``aios``. Mounts, each decoding the file from its start for every new
client and re-encoding it in real time:

- ``/h264``: H.264 (x264, a key frame every ``--gop`` frames) over RTP, TCP or UDP transport;
- ``/mjpeg``: Motion JPEG over RTP (RFC 2435), TCP or UDP;
- ``/h264-tcp`` and ``/h264-udp``: the H.264 stream restricted to one lower transport, so a
  client that asks for the other one is refused.

With ``--user``/``--password`` every mount asks for HTTP Basic credentials. Prints
``READY <port>`` on stdout once it listens; stops on SIGTERM or SIGINT. With ``--write-h264
OUT.mp4`` it serves nothing: it writes the video as H.264 in MP4 with the same encoder
settings and exits (a file to compare the RTSP stream with).
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def _launch(video: str, encoder: str) -> str:
    decode = (
        f'( filesrc location="{video}" ! decodebin ! videoconvert ! video/x-raw,format=I420 '
        "! queue max-size-buffers=4 "
    )
    return f"{decode}! {encoder} )"


def _x264(gop: int) -> str:
    return (
        f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} "
        "! video/x-h264,profile=baseline"
    )


def _encoders(gop: int, quality: int) -> dict[str, str]:
    h264 = f"{_x264(gop)} ! rtph264pay name=pay0 pt=96 config-interval=1"
    mjpeg = f"jpegenc quality={quality} ! rtpjpegpay name=pay0 pt=26"
    return {"h264": h264, "mjpeg": mjpeg}


def write_h264(video: str, out: str, gop: int) -> int:
    launch = _launch(video, _x264(gop)).strip("() ")
    pipeline = Gst.parse_launch(f'{launch} ! mp4mux ! filesink location="{out}"')
    pipeline.set_state(Gst.State.PLAYING)
    bus = pipeline.get_bus()
    msg = bus.timed_pop_filtered(Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is not None and msg.type == Gst.MessageType.ERROR:
        print(f"cannot write {out}: {msg.parse_error()[0].message}", file=sys.stderr)
        return 1
    return 0


def build_server(args: argparse.Namespace) -> GstRtspServer.RTSPServer:
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    encoders = _encoders(args.gop, args.quality)
    transports = {
        "": GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP,
        "-tcp": GstRtsp.RTSPLowerTrans.TCP,
        "-udp": GstRtsp.RTSPLowerTrans.UDP,
    }
    for codec, encoder in encoders.items():
        for suffix, protocols in transports.items():
            if suffix and codec != "h264":
                continue
            factory = GstRtspServer.RTSPMediaFactory()
            factory.set_launch(_launch(args.video, encoder))
            factory.set_shared(False)
            factory.set_protocols(protocols)
            if args.user:
                permissions = GstRtspServer.RTSPPermissions()
                permissions.add_permission_for_role("viewer", "media.factory.access", True)
                permissions.add_permission_for_role("viewer", "media.factory.construct", True)
                factory.set_permissions(permissions)
            mounts.add_factory(f"/{codec}{suffix}", factory)
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        basic = GstRtspServer.RTSPAuth.make_basic(args.user, args.password)
        auth.add_basic(basic, token)
        server.set_auth(auth)
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--video", required=True, help="any file GStreamer's decodebin reads")
    parser.add_argument("--gop", type=int, default=10, help="H.264 key frame interval (frames)")
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality of /mjpeg")
    parser.add_argument("--user", default="")
    parser.add_argument("--password", default="")
    parser.add_argument("--write-h264", metavar="OUT", help="write an H.264 MP4 and exit")
    args = parser.parse_args()

    Gst.init(None)
    if args.write_h264:
        return write_h264(args.video, args.write_h264, args.gop)
    server = build_server(args)
    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY {args.port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
