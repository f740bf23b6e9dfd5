"""GPU utilisation for the heartbeat: ``tegrastats`` lines from real Jetsons, a real
``tegrastats``-like process read by the probe, and NVML where an NVIDIA driver answers."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from aios.agent.telemetry.gpu import NvmlProbe, TegrastatsProbe, detect_gpu, parse_tegrastats

# One line per board and L4T release, as tegrastats printed them.
LINES = [
    pytest.param(
        "RAM 1766/3964MB (lfb 197x4MB) SWAP 0/2048MB (cached 0MB) CPU [24%@1224,15%@1224,"
        "13%@1224,10%@1224] EMC_FREQ 0% GR3D_FREQ 0% PLL@21C CPU@25C PMIC@100C GPU@23.5C "
        "AO@33.5C thermal@24.5C POM_5V_IN 2545/2547 POM_5V_GPU 0/0 POM_5V_CPU 549/529",
        0.0,
        id="nano-l4t32-idle",
    ),
    pytest.param(
        "07-09-2024 13:31:31 RAM 3168/6851MB (lfb 2x4MB) SWAP 161/3426MB (cached 0MB) "
        "CPU [23%@1397,17%@1192,16%@1190,13%@1190,23%@1190,10%@1190] EMC_FREQ 2%@204 "
        "GR3D_FREQ 0%@[114] VIC_FREQ 115 APE 150 AUX@45C CPU@46.5C thermal@45.6C AO@45C "
        "GPU@45.5C PMIC@50C VDD_IN 2763mW/2846mW VDD_CPU_GPU_CV 650mW/670mW VDD_SOC 650mW/711mW",
        0.0,
        id="xavier-nx-jetpack5",
    ),
    pytest.param(
        "10-08-2026 04:35:02 RAM 6712/7620MB (lfb 12x4MB) SWAP 369/3810MB (cached 8MB) "
        "CPU [38%@1497,2%@729,1%@729,0%@729,1%@729,0%@729] EMC_FREQ 61%@2133 "
        "GR3D_FREQ 99%@[612] NVDEC off NVJPG off VIC off OFA off APE 200 "
        "cpu@57.125C soc2@55.093C soc0@56.625C gpu@58.625C tj@58.312C soc1@55.937C "
        "VDD_IN 16321mW/11204mW VDD_CPU_GPU_CV 7104mW/4944mW VDD_SOC 3120mW/3659mW",
        99.0,
        id="orin-nano-busy",
    ),
    pytest.param(
        "05-09-2026 18:42:06 RAM 18207/62841MB (lfb 466x4MB) SWAP 86/31420MB (cached 0MB) "
        "CPU [14%@2188,5%@2112,8%@2035,14%@2201,46%@1267,47%@1267,2%@1267,10%@1267,4%@1036,"
        "5%@1036,6%@1036,10%@1036] EMC_FREQ 3%@2133 GR3D_FREQ 0%@[0,0] NVENC 79%@166 NVDEC off "
        "NVJPG off NVJPG1 off VIC 36%@115 OFA off NVDLA0 off NVDLA1 off PVA0_FREQ off APE 174 "
        "cpu@52.562C soc2@48.437C soc0@49.093C tj@52.562C soc1@49.656C VDD_GPU_SOC "
        "2412mW/2412mW VDD_CPU_CV 1607mW/1607mW VIN_SYS_5V0 4707mW/4707mW",
        0.0,
        id="agx-orin-two-gpcs",  # NVENC's 79% is not the GPU's
    ),
    pytest.param(
        "12-23-2024 22:54:11 RAM 3162/7620MB (lfb 4x2MB) SWAP 0/3810MB (cached 0MB) "
        "CPU [1%@729,0%@729,0%@729,0%@729,off,off] GR3D_FREQ 1% cpu@62.843C soc2@61.968C "
        "soc0@60.625C gpu@61.687C tj@62.843C soc1@61.687C VDD_IN 3913mW/3922mW "
        "VDD_CPU_GPU_CV 598mW/598 VDD_SOC 1238mW/1237mW",
        1.0,
        id="orin-jetpack6-no-clock",
    ),
    pytest.param(
        "03-30-2026 14:17:04 RAM 3479/7620MB SWAP 43/3810MB "
        "CPU [32%@1510,28%@1510,31%@1510,30%@1510] EMC_FREQ 44%@2133 "
        "GR3D_FREQ 45%@918 VDD_IN 7812mW/7001mW cpu@62.0C gpu@61.5C",
        45.0,
        id="clock-without-brackets",
    ),
    pytest.param(
        "RAM 9000/125772MB (lfb 2x4MB) GR3D_FREQ @[314,314,314] cpu@40C",
        None,
        id="thor-jetpack7.0-clocks-only",
    ),
    pytest.param("RAM 9000/125772MB GR3D_FREQ 99%@[1098,1098,1098]", 99.0, id="thor-jetpack7.1"),
    pytest.param("", None, id="empty"),
    pytest.param("Error: cannot open /sys/kernel/debug", None, id="noise"),
]


@pytest.mark.parametrize(("line", "expected"), LINES)
def test_tegrastats_gpu_load(line: str, expected: float | None) -> None:
    assert parse_tegrastats(line) == expected


def _fake_tegrastats(tmp_path: Path, loads: list[int]) -> Path:
    """An executable printing tegrastats lines with ``loads`` (then the last one forever)."""
    script = tmp_path / "tegrastats"
    lines = [
        f"RAM 3162/7620MB (lfb 4x2MB) CPU [1%@729,off] EMC_FREQ 0%@2133 GR3D_FREQ {n}%@[305] "
        "gpu@50.1C tj@51.2C VDD_IN 3913mW/3922mW"
        for n in loads
    ]
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, time\n"
        f"lines = {lines!r}\n"
        "assert sys.argv[1:] == ['--interval', '1000'], sys.argv\n"
        "for line in lines:\n"
        "    print(line, flush=True)\n"
        "    time.sleep(0.05)\n"
        "while True:\n"
        "    time.sleep(1)\n"
    )
    script.chmod(0o755)
    return script


def test_tegrastats_probe_reads_the_newest_load(tmp_path: Path) -> None:
    probe = TegrastatsProbe.open(str(_fake_tegrastats(tmp_path, [3, 40, 87])))
    assert probe is not None
    try:
        deadline = time.monotonic() + 10
        while probe.utilization() != 87.0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert probe.utilization() == 87.0
    finally:
        probe.close()
    assert probe.utilization() is None  # stopped: no longer known


def test_no_tegrastats_no_probe(tmp_path: Path) -> None:
    assert TegrastatsProbe.open(str(tmp_path / "missing")) is None


def test_nvml_where_an_nvidia_driver_answers() -> None:
    pytest.importorskip(
        "pynvml",
        reason="NVML is read with nvidia-ml-py, which only the agent's gpu extra installs; "
        "the CPU test environment has no NVIDIA driver to read",
    )
    probe = NvmlProbe.open()
    if probe is None:
        pytest.skip("no NVIDIA driver or GPU here")
    try:
        value = probe.utilization()
        assert value is not None
        assert 0.0 <= value <= 100.0
    finally:
        probe.close()


def test_detect_gpu_reports_nothing_without_gpu_tooling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where neither NVML nor tegrastats exists the heartbeat has no gpu_percent (not 0)."""
    monkeypatch.setattr(NvmlProbe, "open", classmethod(lambda cls: None))
    monkeypatch.setenv("PATH", "/nonexistent")
    assert detect_gpu() is None
