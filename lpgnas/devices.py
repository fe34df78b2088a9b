"""FPGA device presets (resource budgets) and user device files.

Figures are the vendors' published totals:

* 7-series: Xilinx DS190 "Zynq-7000 SoC Data Sheet: Overview" (xc7z020: 53,200 LUTs, 106,400 FFs,
  220 DSP48E1, 140 RAMB36 = 4.9 Mb; xc7z045: 218,600 LUTs, 437,200 FFs, 900 DSP48E1, 545 RAMB36 =
  19.2 Mb) and DS180 "7 Series FPGAs Data Sheet: Overview" (xc7a200t: 133,800
  LUTs (215,360 logic cells), 267,600 FFs, 740 DSP48E1, 365 RAMB36 = 13,140 Kb).
* UltraScale+: DS891 "Zynq UltraScale+ MPSoC Data Sheet: Overview" (xczu3eg: 70,560 LUTs, 141,120 FFs,
  360 DSP48E2, 216 RAMB36, no URAM; xczu7ev: 230,400 LUTs, 460,800 FFs, 1,728 DSP48E2, 312 RAMB36,
  96 URAM; xczu9eg: 274,080 LUTs, 548,160 FFs, 2,520 DSP48E2, 912 RAMB36, no URAM) and DS962 "Alveo U50"
  / DS962 "Alveo U250 Data Sheet" (u50, xcu50: 872K LUTs, 1,743K FFs, 5,952 DSP, 1,344 RAMB36, 640 URAM;
  u250, xcu250: 1,728K LUTs, 3,456K FFs, 12,288 DSP, 2,688 RAMB36, 1,280 URAM).

A RAMB36 holds two RAMB18s; budgets are given in RAMB36 and the model compares
``bram36 + bram18 / 2`` with them. LUTRAM comes out of the LUT budget (SLICEM LUTs; ``lutram_max`` is
the SLICEM share when known, else half the LUTs).

External memory (:class:`ExternalMemory`: where ``HardwareConfig.offchip`` buffers live, docs/rtl.md "Off-chip
buffers", docs/cost_model.md "Off-chip buffers"). Published figures:

* Zynq-7000 (xc7z020, xc7z045): the PL reaches the PS DDR controller through four high-performance AXI slave
  ports S_AXI_HP0..3, 64 bits wide (UG585 "Zynq 7000 SoC Technical Reference Manual", DDR Controller System
  Interface: "four identical 64-bit AXI ports", burst length 1 to 16 beats; Ch. 5 the HP ports). Memory:
  DDR3 on the PS controller's 32-bit bus at 1,066 Mb/s (533 MHz), the -1 speed grade's rate (Digilent's PYNQ-Z1
  reference manual for its xc7z020-1: "DDR3 memory interface speeds up to 533MHz/1066 Mbps are supported"):
  4 bytes x 1,066 MT/s = 4,264 MB/s peak. UG585 Ch. 22 (DDR efficiency): one port reads at most 2,840 MB/s
  through the memory interconnect and the controller reaches about 75% efficiency at best; the model uses the
  peak and lets stalls carry the rest. xc7z045 (-2 part): the same PS; we keep 1,066 Mb/s (assumption: DS187
  allows faster DDR3 on faster speed grades, boards such as ZC706 run the PS DDR3 at 533 MHz).
* Zynq UltraScale+ (xczu3eg, xczu7ev, xczu9eg): four S_AXI_HP0..3_FPD ports, "32, 64, or 128-bit data-wide"
  (UG1085 "Zynq UltraScale+ Device Technical Reference Manual", PL-PS Interface Specifics; AXI4 bursts limited
  to 16 beats by the AFI's AXI3 conversion; 128-entry read / write data buffers), taken at 128 bits; the PS DDR
  controller drives DDR4 on a 64-bit bus (UG1085; the ZynqMP DDRC "64-bit and 32-bit bus width
  configurations"). Rate: 2,400 Mb/s for -2 parts, 2,133 Mb/s for -1 (DS925's PS DDR4 figures, quoted, not
  re-read in this session: **check**), so 19,200 MB/s (xczu7ev-2, xczu9eg-2) and 17,064 MB/s (xczu3eg-1);
  boards may fit a narrower memory (Ultra96: 32-bit LPDDR4).
* Alveo U50 (xcu50): HBM2, 8 GB in 256 MB pseudo channels (PCs), "an independent AXI channel ... per pseudo
  channel", 32 of them, 14.375 GB/s max theoretical per PC, 460 GB/s (32 x 14.375) for the HBM subsystem
  (UG1393 "Vitis ... Application Acceleration Development", HBM Configuration and Use; DS965 the U50 data sheet);
  the kernel's m_axi ports taken at 512 bits (UG1393, Memory Performance Optimizations for AXI4 Interface: "Use
  an AXI data width that matches the native memory controller AXI data width, typically 512-bits").
* Alveo U250 (xcu250): four DDR4 channels of 16 GB (UG1120 "Alveo Data Center Accelerator Card Platforms",
  DMA Configurations: "U200/U250: 4x DDR4 16 GB"), 64-bit DDR4-2400 each, 19.25 GB/s max theoretical per
  channel and 77 GB/s for the card (UG1393); the kernel's AXI at 512 bits as for the U50.
* Artix-7 (xc7a200t): no hard memory controller. **Assumption**: a MIG 7-series DDR3 controller with its AXI4
  slave interface (UG586 "Zynq-7000 SoC and 7 Series Devices Memory Interface Solutions": "The Memory
  Controller can be connected using either the AXI4 slave interface, the UI, or the native interface"), one
  AXI port of 128 bits, 16-bit DDR3 at 800 Mb/s (a Nexys-Video-class board): 1,600 MB/s.

**Assumptions (no published figure):** the read latency (AR accepted to the first R beat) and the write-response
latency (last W beat to B) in kernel cycles at the preset's 100 MHz clock. Basis: an idle DRAM read is a row
activate + CAS (about 26 ns for DDR3-1066 7-7-7, a similar figure for DDR4 and HBM2) behind the controller's
queues and scheduler, the interconnect and a PS/PL clock-domain crossing (the AFI FIFOs), each a few cycles of
their clocks, so about 100-250 ns in all; we take 25 cycles (250 ns) for the Zynq HP paths (two CDCs and the
PS interconnect), 30 for the soft MIG (4:1 PHY, AXI shim) and for the U250's DDR4 behind the platform's
interconnect, 20 for the U50's HBM (hard controller, switch) and the write response equal to the read latency.
These are the constants the RTL measurements will replace (docs/cost_model.md "Off-chip buffers").
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from lpgnas.errors import LpgnasError

FAMILIES = ("xc7", "xcup")


@dataclass(frozen=True)
class ExternalMemory:
    """The memory behind a device's AXI ports, as the off-chip buffers see it (see the module docstring for the
    presets' figures and what is assumed)."""

    kind: str  # "DDR3", "DDR4", "HBM2", ...
    ports: int  # AXI ports the PL can use (the adapters share them through an interconnect)
    data_bits: int  # data width of one port (the adapters' bus width DW, hw_model.units.axi.axi_port_params)
    peak_bytes_per_s: float  # peak bandwidth of the memory (all ports together)
    read_latency: int  # AR accepted to the first R beat, in kernel cycles at the device's clock
    write_latency: int  # last W beat to the B response, in kernel cycles at the device's clock

    def to_dict(self) -> dict:
        return asdict(self)


#: fields of a device file's "memory" object
MEMORY_FIELDS = tuple(f.name for f in fields(ExternalMemory))


@dataclass(frozen=True)
class Device:
    name: str
    family: str  # "xc7" (DSP48E1, RAMB18E1/36E1) or "xcup" (DSP48E2, RAMB18E2/36E2, URAM288)
    lut: int
    ff: int
    dsp: int
    bram36: int
    uram: int = 0
    clock_mhz: float = 100.0
    lutram_max: int | None = None
    part: str | None = None  # the full part name (package, speed grade) Vitis HLS targets; None: ``name``
    memory: ExternalMemory | None = None  # external memory for off-chip buffers; None: everything on chip

    def __post_init__(self) -> None:
        if isinstance(self.memory, dict):  # Device(**device.to_dict()), e.g. from an estimate's JSON
            object.__setattr__(self, "memory", check_memory(self.memory, f"device {self.name}"))

    @property
    def dsp_kind(self) -> str:
        return "DSP48E1" if self.family == "xc7" else "DSP48E2"

    @property
    def bram18(self) -> int:
        return 2 * self.bram36

    def budget(self) -> dict[str, float]:
        return {
            "lut": self.lut,
            "ff": self.ff,
            "dsp": self.dsp,
            "bram36": self.bram36,
            "uram": self.uram,
            "lutram": self.lutram_max if self.lutram_max is not None else self.lut // 2,
        }

    def to_dict(self) -> dict:
        return asdict(self)


#: the Zynq-7000 PS: four 64-bit HP ports to 32-bit DDR3-1066 (UG585)
ZYNQ7_DDR3 = ExternalMemory("DDR3", ports=4, data_bits=64, peak_bytes_per_s=4.264e9, read_latency=25,
                            write_latency=25)


def _zynqmp_ddr4(mts: int) -> ExternalMemory:
    """The Zynq UltraScale+ PS: four 128-bit S_AXI_HP*_FPD ports to 64-bit DDR4 at ``mts`` MT/s (UG1085)."""
    return ExternalMemory("DDR4", ports=4, data_bits=128, peak_bytes_per_s=8 * mts * 1e6, read_latency=25,
                          write_latency=25)


PRESETS: dict[str, Device] = {
    d.name: d
    for d in (
        Device("xc7z020", "xc7", lut=53_200, ff=106_400, dsp=220, bram36=140, lutram_max=17_400,
               part="xc7z020clg400-1", memory=ZYNQ7_DDR3),
        Device("xc7z045", "xc7", lut=218_600, ff=437_200, dsp=900, bram36=545, part="xc7z045ffg900-2",
               memory=ZYNQ7_DDR3),
        Device("xc7a200t", "xc7", lut=133_800, ff=267_600, dsp=740, bram36=365, lutram_max=46_200,
               memory=ExternalMemory("DDR3", ports=1, data_bits=128, peak_bytes_per_s=1.6e9, read_latency=30,
                                     write_latency=30)),
        Device("xczu3eg", "xcup", lut=70_560, ff=141_120, dsp=360, bram36=216, uram=0, lutram_max=28_800,
               part="xczu3eg-sbva484-1-e", memory=_zynqmp_ddr4(2133)),
        Device("xczu7ev", "xcup", lut=230_400, ff=460_800, dsp=1_728, bram36=312, uram=96, lutram_max=101_760,
               part="xczu7ev-ffvc1156-2-e", memory=_zynqmp_ddr4(2400)),
        Device("xczu9eg", "xcup", lut=274_080, ff=548_160, dsp=2_520, bram36=912, uram=0, lutram_max=144_000,
               part="xczu9eg-ffvb1156-2-e", memory=_zynqmp_ddr4(2400)),
        Device("xcu50", "xcup", lut=872_000, ff=1_743_000, dsp=5_952, bram36=1_344, uram=640,
               part="xcu50-fsvh2104-2-e",
               memory=ExternalMemory("HBM2", ports=32, data_bits=512, peak_bytes_per_s=460e9, read_latency=20,
                                     write_latency=20)),
        Device("xcu250", "xcup", lut=1_728_000, ff=3_456_000, dsp=12_288, bram36=2_688, uram=1_280,
               part="xcu250-figd2104-2L-e",
               memory=ExternalMemory("DDR4", ports=4, data_bits=512, peak_bytes_per_s=77e9, read_latency=30,
                                     write_latency=30)),
    )
}
ALIASES = {"u50": "xcu50", "u250": "xcu250", "zu3eg": "xczu3eg", "zu7ev": "xczu7ev", "zu9eg": "xczu9eg"}

_REQUIRED = ("family", "lut", "ff", "dsp", "bram36")


def check_clock_mhz(value: object, where: str) -> float:
    """``value`` as a clock frequency in MHz: a positive finite number, else :class:`LpgnasError` naming
    ``where`` (e.g. ``"hw_config.json: clock_mhz"``). The one check of every clock the toolkit reads."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise LpgnasError(f"{where}: {value!r} is not a clock frequency; give a positive number of MHz, e.g. 100")
    return float(value)


def check_memory(doc: object, where: str) -> ExternalMemory:
    """A device file's ``"memory"`` object as an :class:`ExternalMemory`, or :class:`LpgnasError` naming
    ``where`` and the field: every field present, no unknown one, ``kind`` a name, ``ports`` and the latencies
    integers (ports >= 1, latencies >= 0), ``data_bits`` a power of two from 8 to 1024 (an AXI data bus),
    ``peak_bytes_per_s`` a positive number."""
    if not isinstance(doc, dict):
        raise LpgnasError(f"{where}: memory must be an object with {', '.join(MEMORY_FIELDS)}, got {doc!r}")
    missing = [k for k in MEMORY_FIELDS if k not in doc]
    if missing:
        raise LpgnasError(f"{where}: memory is missing field(s) {', '.join(missing)}")
    unknown = sorted(k for k in doc if k not in MEMORY_FIELDS)
    if unknown:
        raise LpgnasError(f"{where}: memory has unknown field(s) {', '.join(map(str, unknown))}; "
                          f"known: {', '.join(MEMORY_FIELDS)}")
    if not isinstance(doc["kind"], str) or not doc["kind"].strip():
        raise LpgnasError(f"{where}: memory.kind must be a name such as \"DDR4\", got {doc['kind']!r}")

    def integer(key: str, least: int) -> int:
        v = doc[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < least:
            raise LpgnasError(f"{where}: memory.{key} must be an integer >= {least}, got {v!r}")
        return v

    ports = integer("ports", 1)
    bits = integer("data_bits", 8)
    if bits & (bits - 1) or bits > 1024:
        raise LpgnasError(f"{where}: memory.data_bits must be an AXI data width (a power of two, 8 to 1024), "
                          f"got {bits}")
    peak = doc["peak_bytes_per_s"]
    if isinstance(peak, bool) or not isinstance(peak, (int, float)) or not math.isfinite(peak) or peak <= 0:
        raise LpgnasError(f"{where}: memory.peak_bytes_per_s must be a positive number of bytes per second, "
                          f"got {peak!r}")
    return ExternalMemory(doc["kind"], ports, bits, float(peak), integer("read_latency", 0),
                          integer("write_latency", 0))


def full_part(device: str) -> str:
    """The part name Vitis HLS targets for ``hw.device``: a preset's full part (package, speed grade), or
    ``device`` itself (already a full part name, or no preset)."""
    preset = PRESETS.get(device)
    return preset.part if preset is not None and preset.part is not None else device


def load_device(name_or_path: str | Path) -> Device:
    """A preset by name (case-insensitive, with or without a package/speed suffix such as
    ``xc7z020clg400-1``) or a user JSON file ``{"name", "family", "lut", "ff", "dsp", "bram36", ["uram",
    "clock_mhz", "lutram_max", "memory"]}``; ``"memory"`` (:func:`check_memory`: ``{"kind", "ports",
    "data_bits", "peak_bytes_per_s", "read_latency", "write_latency"}``, latencies in cycles at ``clock_mhz``)
    is the external memory off-chip buffers may use; without it (or ``null``) everything stays on chip."""
    if isinstance(name_or_path, Device):
        return name_or_path
    s = str(name_or_path)
    p = Path(s)
    if s.endswith(".json") or p.is_file():
        if not p.is_file():
            raise LpgnasError(f"device file {s}: no such file")
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
            raise LpgnasError(f"device file {s}: not valid UTF-8 JSON ({e})") from None
        if not isinstance(doc, dict):
            raise LpgnasError(f"device file {s}: expected a JSON object with {', '.join(_REQUIRED)}")
        missing = [k for k in _REQUIRED if k not in doc]
        if missing:
            raise LpgnasError(f"device file {s}: missing field(s) {', '.join(missing)}")
        if doc["family"] not in FAMILIES:
            raise LpgnasError(f"device file {s}: family {doc['family']!r} is not one of {', '.join(FAMILIES)}")
        for k in ("lut", "ff", "dsp", "bram36", "uram"):
            v = doc.get(k, 0)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise LpgnasError(f"device file {s}: {k} must be a non-negative integer, got {v!r}")
        return Device(
            name=str(doc.get("name", p.stem)),
            family=doc["family"],
            lut=doc["lut"],
            ff=doc["ff"],
            dsp=doc["dsp"],
            bram36=doc["bram36"],
            uram=doc.get("uram", 0),
            clock_mhz=check_clock_mhz(doc.get("clock_mhz", 100.0), f"device file {s}: clock_mhz"),
            lutram_max=doc.get("lutram_max"),
            memory=None if doc.get("memory") is None else check_memory(doc["memory"], f"device file {s}"),
        )
    key = s.lower()
    key = ALIASES.get(key, key)
    if key in PRESETS:
        return PRESETS[key]
    for name in sorted(PRESETS, key=len, reverse=True):  # part numbers with package / speed grade
        if key.startswith(name):
            return PRESETS[name]
    raise LpgnasError(f"unknown device {s!r}; presets: {', '.join(PRESETS)} (or a device JSON file)")
