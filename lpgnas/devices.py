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
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from lpgnas.errors import LpgnasError

FAMILIES = ("xc7", "xcup")


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


PRESETS: dict[str, Device] = {
    d.name: d
    for d in (
        Device("xc7z020", "xc7", lut=53_200, ff=106_400, dsp=220, bram36=140, lutram_max=17_400,
               part="xc7z020clg400-1"),
        Device("xc7z045", "xc7", lut=218_600, ff=437_200, dsp=900, bram36=545, part="xc7z045ffg900-2"),
        Device("xc7a200t", "xc7", lut=133_800, ff=267_600, dsp=740, bram36=365, lutram_max=46_200),
        Device("xczu3eg", "xcup", lut=70_560, ff=141_120, dsp=360, bram36=216, uram=0, lutram_max=28_800,
               part="xczu3eg-sbva484-1-e"),
        Device("xczu7ev", "xcup", lut=230_400, ff=460_800, dsp=1_728, bram36=312, uram=96, lutram_max=101_760,
               part="xczu7ev-ffvc1156-2-e"),
        Device("xczu9eg", "xcup", lut=274_080, ff=548_160, dsp=2_520, bram36=912, uram=0, lutram_max=144_000,
               part="xczu9eg-ffvb1156-2-e"),
        Device("xcu50", "xcup", lut=872_000, ff=1_743_000, dsp=5_952, bram36=1_344, uram=640,
               part="xcu50-fsvh2104-2-e"),
        Device("xcu250", "xcup", lut=1_728_000, ff=3_456_000, dsp=12_288, bram36=2_688, uram=1_280,
               part="xcu250-figd2104-2L-e"),
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


def full_part(device: str) -> str:
    """The part name Vitis HLS targets for ``hw.device``: a preset's full part (package, speed grade), or
    ``device`` itself (already a full part name, or no preset)."""
    preset = PRESETS.get(device)
    return preset.part if preset is not None and preset.part is not None else device


def load_device(name_or_path: str | Path) -> Device:
    """A preset by name (case-insensitive, with or without a package/speed suffix such as
    ``xc7z020clg400-1``) or a user JSON file ``{"name", "family", "lut", "ff", "dsp", "bram36", ["uram",
    "clock_mhz", "lutram_max"]}``."""
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
        )
    key = s.lower()
    key = ALIASES.get(key, key)
    if key in PRESETS:
        return PRESETS[key]
    for name in sorted(PRESETS, key=len, reverse=True):  # part numbers with package / speed grade
        if key.startswith(name):
            return PRESETS[name]
    raise LpgnasError(f"unknown device {s!r}; presets: {', '.join(PRESETS)} (or a device JSON file)")
