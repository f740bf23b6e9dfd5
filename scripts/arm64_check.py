"""aios-agent on arm64, under qemu user-mode emulation: install from wheels, detect, run.

    uv run python -m scripts.arm64_check [--cache .cache/arm64] [--mqtt-url mqtt://127.0.0.1:1883]

Needs root (chroot, mounting /proc), ``qemu-user-static`` and ``debootstrap`` (Debian's
packages; installed with apt-get when absent) and the package registries. Steps:

1. an arm64 Debian bookworm userland (Python 3.11): ``debootstrap --foreign`` downloads and
   unpacks it with the mirror of this machine's own apt sources, the remaining packages are
   unpacked with ``dpkg-deb``; no binfmt_misc registration is needed (nor made): every arm64
   program is started through ``qemu-aarch64-static`` inside the chroot. Cached in
   ``--cache`` (reused while it holds a completed rootfs);
2. a wheelhouse: the agent's and aios-shared's wheels built here (``uv build``) and PyPI's arm64
   wheels of their locked dependencies (``uv export --extra cpu``: ONNX Runtime, OpenCV
   headless, numpy ...);
3. the arm64 ``pip`` installs ``aios-agent[cpu]`` from that wheelhouse alone (``--no-index``),
   into a fresh ``/opt/aios`` each time;
4. ``aios-agent detect`` on the shared test images; its boxes are compared with the reference
   (``expected/yolov8n-coco.json``: same class, IoU >= 0.9, confidence within 0.02) and with
   this machine's (x86-64) detector;
5. ``aios-agent run`` on a short clip, publishing to the MQTT broker at ``--mqtt-url`` under a
   topic prefix of its own; the detection batches and the heartbeat are read back here.

Prints one JSON object; exits 1 if a box differs or the run sent nothing.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import cv2
import msgspec
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from aios.agent.detections import Detections
from aios.agent.inference import Detector
from aios.shared.codec import decode_message
from aios.shared.messages import DetectionBatch, Heartbeat
from scripts.provider_parity import as_wanted, reference_boxes, same_boxes
from scripts.sample_video import make_sample_video

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SUITE = "bookworm"
QEMU = "/usr/bin/qemu-aarch64-static"
ARM64_TAGS = [f"manylinux_2_{n}_aarch64" for n in (17, 26, 27, 28, 31, 34, 35)]
ARM64_TAGS += ["manylinux2014_aarch64", "linux_aarch64"]


def sh(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def ensure_tools() -> None:
    if os.geteuid() != 0:
        raise SystemExit("arm64_check needs root (chroot and a /proc mount)")
    if shutil.which("debootstrap") is None or not Path(QEMU).exists():
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        sh(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        sh(
            [
                *("apt-get", "install", "-y", "-q", "--no-install-recommends"),
                *("-o", "DPkg::Lock::Timeout=600", "qemu-user-static", "debootstrap"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
        )


def debian_mirror() -> str:
    """The Debian mirror of this machine's own apt sources (deb822 or one-line format)."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        with contextlib.suppress(configparser.Error):
            parser.read_string("[s]\n" + path.read_text().split("\n\n")[0])
            uri = parser.get("s", "URIs", fallback="").split()
            suites = parser.get("s", "Suites", fallback="")
            if uri and SUITE in suites.split():
                return uri[0]
    sources = Path("/etc/apt/sources.list")
    if sources.exists():
        for line in sources.read_text().splitlines():
            words = line.split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                return words[1]
    raise SystemExit(f"no apt source for Debian {SUITE} found: pass --mirror")


def build_rootfs(rootfs: Path, mirror: str) -> bool:
    """A completed arm64 rootfs at ``rootfs``; False if it was there already."""
    done = rootfs / ".aios-complete"
    if done.exists():
        return False
    if rootfs.exists():
        shutil.rmtree(rootfs)
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    sh(
        [
            *("debootstrap", "--foreign", "--arch=arm64", "--variant=minbase"),
            *("--include=python3,python3-pip", SUITE, str(rootfs), mirror),
        ],
        stdout=subprocess.DEVNULL,
    )
    for deb in sorted((rootfs / "var/cache/apt/archives").glob("*.deb")):
        sh(["dpkg-deb", "-x", str(deb), str(rootfs)])
    shutil.copy2(QEMU, rootfs / "usr/bin/qemu-aarch64-static")
    done.write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))
    return True


def build_wheelhouse(wheels: Path) -> None:
    wheels.mkdir(parents=True, exist_ok=True)
    for stale in wheels.glob("aios_*.whl"):
        stale.unlink()
    for package in ("aios-shared", "aios-agent"):
        sh(["uv", "build", "-q", "--package", package, "--wheel", "-o", str(wheels)], cwd=ROOT)
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as reqs:
        sh(
            [
                *("uv", "export", "-q", "--locked", "--package", "aios-agent", "--extra", "cpu"),
                *("--no-hashes", "--no-emit-workspace", "--no-dev"),
            ],
            cwd=ROOT,
            stdout=reqs,
        )
        platforms = [arg for tag in ARM64_TAGS for arg in ("--platform", tag)]
        sh(
            [
                *("uv", "tool", "run", "pip", "download", "-q", "--only-binary=:all:"),
                *("--python-version", "3.11", "--implementation", "cp"),
                *(*platforms, "-d", str(wheels), "-r", reqs.name),
            ],
            stderr=subprocess.DEVNULL,
        )


@contextlib.contextmanager
def proc_mounted(rootfs: Path) -> Iterator[None]:
    target = rootfs / "proc"
    target.mkdir(exist_ok=True)
    sh(["mount", "-t", "proc", "proc", str(target)])
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


# qemu's default CPU ("max") offers SVE, which ONNX Runtime then uses and qemu emulates far
# more slowly than NEON (here: four images not done after 440 s of CPU, against 59 s for one
# image, Python start included, on this core). A Cortex-A72 (Armv8-A with NEON, as in a
# Raspberry Pi 4) is also closer to what most gateways have.
QEMU_CPU = "cortex-a72"


def arm64(rootfs: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    """Run ``/usr/bin/python3 ARGS`` in the arm64 rootfs through qemu."""
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root", "PYTHONPATH": "/opt/aios", "LANG": "C.UTF-8"}
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    qemu = ["/usr/bin/qemu-aarch64-static", "-cpu", QEMU_CPU]
    cmd = [chroot, str(rootfs), *qemu, "/usr/bin/python3", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def check(result: subprocess.CompletedProcess[str], what: str) -> str:
    if result.returncode != 0:
        raise SystemExit(f"{what} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def detections_of(line: dict[str, object]) -> Detections:
    boxes = line["detections"]
    assert isinstance(boxes, list)
    if not boxes:
        return Detections.empty()
    return Detections(
        xyxy=np.asarray([b["xyxy"] for b in boxes], np.float32),
        confidence=np.asarray([b["confidence"] for b in boxes], np.float32),
        class_id=np.asarray([b["class_id"] for b in boxes], np.int32),
        tracker_id=np.full(len(boxes), -1, np.int64),
    )


class Listener:
    """Collects what the arm64 agent publishes under its topic prefix."""

    def __init__(self, url: str, prefix: str) -> None:
        host_port = url.split("://", 1)[1].rstrip("/")
        host, _, port = host_port.partition(":")
        self.batches: list[DetectionBatch] = []
        self.heartbeats: list[Heartbeat] = []
        self._topics: set[str] = set()
        self._lock = threading.Lock()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"arm64-{prefix}")
        self._client.on_message = self._on_message
        self._client.connect(host, int(port or 1883))
        self._client.subscribe(f"{prefix}/#", qos=1)
        self._client.loop_start()

    def _on_message(self, client: object, userdata: object, msg: mqtt.MQTTMessage) -> None:
        message = decode_message(msg.payload)
        with self._lock:
            self._topics.add(msg.topic)
            if isinstance(message, DetectionBatch):
                self.batches.append(message)
            elif isinstance(message, Heartbeat):
                self.heartbeats.append(message)

    def close(self) -> None:
        """Stop, clearing what the agent left retained (its status) on the broker."""
        with self._lock:
            topics = sorted(self._topics)
        for topic in topics:
            self._client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        self._client.loop_stop()
        self._client.disconnect()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "arm64")
    parser.add_argument("--mirror", default=None, help="Debian mirror (default: apt's own)")
    parser.add_argument("--model", type=Path, default=SHARED / "models" / "yolov8n-coco.onnx")
    parser.add_argument("--testdata", type=Path, default=SHARED / "testdata")
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--run-frames", type=int, default=3, help="frames of the run's clip")
    args = parser.parse_args()

    ensure_tools()
    started = time.monotonic()
    rootfs = args.cache / f"rootfs-{SUITE}"
    built = build_rootfs(rootfs, args.mirror or debian_mirror())
    rootfs_s = time.monotonic() - started
    wheelhouse = rootfs / "wheels"
    build_wheelhouse(wheelhouse)

    work = rootfs / "work"
    if work.exists():
        shutil.rmtree(work)
    (work / "images").mkdir(parents=True)
    shutil.copy2(args.model, work / "model.onnx")
    image_names = sorted(p.name for p in (args.testdata / "images").iterdir())
    for name in image_names:
        shutil.copy2(args.testdata / "images" / name, work / "images" / name)
    target = rootfs / "opt/aios"
    if target.exists():
        shutil.rmtree(target)

    report: dict[str, object] = {"host": platform.machine(), "rootfs_built": built}
    with proc_mounted(rootfs):
        t = time.monotonic()
        check(
            arm64(
                rootfs,
                *("-m", "pip", "install", "-q", "--no-index", "--find-links", "/wheels"),
                *("--target", "/opt/aios", "--break-system-packages", "aios-agent[cpu]"),
            ),
            "pip install",
        )
        report["install_s"] = round(time.monotonic() - t, 1)
        probe = check(
            arm64(
                rootfs,
                "-c",
                "import platform, sys, onnxruntime, cv2, numpy; print(platform.machine(), "
                "sys.version.split()[0], onnxruntime.__version__, cv2.__version__, "
                "numpy.__version__)",
            ),
            "import check",
        ).split()
        report.update(
            machine=probe[0], python=probe[1], onnxruntime=probe[2], opencv=probe[3], numpy=probe[4]
        )

        t = time.monotonic()
        images = [f"/work/images/{n}" for n in image_names]
        out = check(
            arm64(
                rootfs,
                "/opt/aios/bin/aios-agent",
                *("detect", *images, "--model", "/work/model.onnx", "--provider", "cpu", "--json"),
            ),
            "aios-agent detect",
        )
        report["detect_s"] = round(time.monotonic() - t, 1)
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]

        x86 = Detector.load(args.model, provider="cpu")
        refs = reference_boxes(args.testdata / "expected" / "yolov8n-coco.json", x86.names)
        ref_hits = ref_total = x86_hits = x86_total = 0
        per_image: dict[str, int] = {}
        for line in lines:
            name = Path(str(line["image"])).name
            got = detections_of(line)
            per_image[name] = len(got)
            h, n = same_boxes(refs[name], got)
            ref_hits, ref_total = ref_hits + h, ref_total + max(n, len(got))
            picture = cv2.imread(str(args.testdata / "images" / name), cv2.IMREAD_UNCHANGED)
            assert picture is not None, name
            ours = x86.detect(picture)
            h, _ = same_boxes(as_wanted(ours), got)
            x86_hits, x86_total = x86_hits + h, x86_total + max(len(ours), len(got))
        report["boxes_per_image"] = per_image
        report["reference_boxes"] = f"{ref_hits}/{ref_total}"
        report["same_boxes_as_x86"] = f"{x86_hits}/{x86_total}"
        print(json.dumps(report), file=sys.stderr, flush=True)  # progress: emulation is slow
        ok = len(lines) == len(image_names) and ref_hits == ref_total and x86_hits == x86_total

        prefix = f"arm64{uuid.uuid4().hex[:8]}"
        fps = 2.0
        clip = make_sample_video(
            work / "clip.mp4", seconds=args.run_frames / fps, fps=fps, size=(640, 480)
        )
        config = {
            "device": {"org_id": "arm64", "device_id": "gateway-1"},
            "mqtt": {"url": args.mqtt_url, "topic_prefix": prefix},
            "heartbeat_interval_s": 2,
            "state_dir": "/work/state",
            "model_path": "/work/model.onnx",
            "apply": {"enabled": False},
            "pipeline": {
                "name": "arm64",
                "nodes": [
                    {"id": "cam", "type": "source", "params": {"kind": "file", "uri": clip.name}},
                    {"id": "det", "type": "detect", "params": {"provider": "cpu"}},
                    {"id": "dets", "type": "sink", "params": {"kind": "mqtt_detections"}},
                ],
                "edges": [
                    {"source": "cam", "target": "det"},
                    {"source": "det", "target": "dets"},
                ],
            },
        }
        (work / "agent.json").write_bytes(msgspec.json.encode(config))
        listener = Listener(args.mqtt_url, prefix)
        try:
            t = time.monotonic()
            run = arm64(
                rootfs,
                "/opt/aios/bin/aios-agent",
                *("run", "--config", "/work/agent.json", "--fast", "--duration", "600"),
                timeout=900,
            )
            report["run_s"] = round(time.monotonic() - t, 1)
            report["run_exit"] = run.returncode
            time.sleep(2.0)
        finally:
            listener.close()
        frames = [f for b in listener.batches for f in b.frames]
        report["run_frames_sent"] = len(frames)
        report["run_persons"] = sum(1 for f in frames for d in f.detections if d.label == "person")
        report["run_heartbeat_provider"] = (
            listener.heartbeats[-1].provider if listener.heartbeats else None
        )
        ok = ok and run.returncode == 0 and len(frames) == args.run_frames
        if run.returncode != 0:
            report["run_stderr"] = run.stderr[-2000:]
    report["rootfs_s"] = round(rootfs_s, 1)
    report["ok"] = ok
    print(json.dumps(report, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
