"""Every bad input a user can give, in one table: the CLI answers with exactly one line
``lpgnas: error: <problem>; <fix>`` on stderr, no traceback, exit status 2 (1 where a check failed: a design
that does not fit), and earlier results and user files are left as they were.

Each case runs ``lpgnas.cli.main`` in-process on the built-in karate graph (a 3-epoch training shared by the
module). Disk full and a read-only folder use a small tmpfs when this process may mount one (root in a
container that allows ``mount -t tmpfs``); otherwise disk full is simulated by an ``OSError(ENOSPC)`` where
the RTL stage writes its testbench, and the read-only folder by ``chmod`` (effective for non-root users
only). Other tests (issue 32 item 5): strict JSON, the device's clock in ``estimate``, a searched IR's
dataset, the search's size wording and its warning when the export does not fit.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from lpgnas import cli

DATA = os.environ.get("LPGNAS_DATA")


# ---- helpers --------------------------------------------------------------------------------------------


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``lpgnas ARGV`` in-process: (exit status, stdout, stderr). The CLI's log handlers are re-attached to
    the captured stderr, so its log lines count too."""
    for name in ("lpgnas", "search", "hw_model", "hls_templates", "sim"):
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if not getattr(h, "_lpgnas_cli", False)]
    capsys.readouterr()
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def snapshot(*folders: Path) -> dict[str, str]:
    """Path -> sha256 of every file under ``folders``."""
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders if folder.exists() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@contextlib.contextmanager
def tmpfs(where: Path, size: str, readonly: bool = False) -> Iterator[bool]:
    """Mount a tmpfs of ``size`` at ``where`` if allowed; yields whether it is mounted."""
    where.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if readonly else "")
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True).returncode == 0
    try:
        yield ok
    finally:
        if ok:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


# ---- shared inputs --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A karate training run (model.ir.json + npz, metrics.json, train_log.jsonl) and its generated design."""
    out = tmp_path_factory.mktemp("run")
    assert cli.main(["-q", "train", "--dataset", "karate", "--epochs", "3", "--hidden", "8", "--wbits", "4",
                     "-o", str(out)]) == 0
    assert cli.main(["-q", "generate", str(out / "model.ir.json"), "--device", "xc7z020", "-o",
                     str(out / "hw")]) == 0
    return out


@dataclass
class Ctx:
    """What a case's setup gets: the shared run (read-only for cases), a fresh folder, monkeypatch."""

    run: Path
    tmp: Path
    mp: pytest.MonkeyPatch
    stack: contextlib.ExitStack
    must_not_exist: list[Path] = field(default_factory=list)

    @property
    def ir(self) -> Path:
        return self.run / "model.ir.json"

    def copy_ir(self) -> Path:
        for f in ("model.ir.json", "model.ir.npz"):
            shutil.copy(self.run / f, self.tmp / f)
        return self.tmp / "model.ir.json"

    def copy_design(self, dest: Path | None = None) -> Path:
        dest = dest or self.tmp / "hw"
        shutil.copytree(self.run / "hw", dest, ignore=shutil.ignore_patterns("sim_build"))
        return dest

    def hw_config(self, **changes: object) -> Path:
        cfg = json.loads((self.run / "hw" / "hw_config.json").read_text()) | changes
        path = self.tmp / "hw_config.json"
        path.write_text(json.dumps(cfg))
        return path

    def device(self, **fields_: object) -> Path:
        doc = {"name": "tiny", "family": "xc7", "lut": 53_200, "ff": 106_400, "dsp": 220, "bram36": 140} | fields_
        path = self.tmp / "device.json"
        path.write_text(json.dumps(doc))
        return path

    def out(self, name: str = "out") -> Path:
        """An output folder the failing command must not create."""
        path = self.tmp / name
        self.must_not_exist.append(path)
        return path

    def data_root(self, name: str, files: dict[str, bytes | None]) -> Path:
        """A data root holding ``name``'s raw files: a copy of the real ones, with ``files`` replaced
        (None: copied unchanged)."""
        if not DATA:
            pytest.skip("LPGNAS_DATA is not set")
        raw = self.tmp / "data" / name / "raw"
        raw.mkdir(parents=True)
        for src in sorted((Path(DATA) / name / "raw").iterdir()):
            if src.name in files and files[src.name] is not None:
                (raw / src.name).write_bytes(files[src.name])  # type: ignore[arg-type]
            elif src.name not in files and src.stat().st_size < 5_000_000:
                shutil.copy(src, raw / src.name)
        return self.tmp / "data"


def _truncated_npz(c: Ctx) -> list[object]:
    ir = c.copy_ir()
    npz = ir.with_name("model.ir.npz")
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    return ["estimate", ir, "--dataset", "karate"]


def _bits_in_ir(c: Ctx) -> list[object]:
    ir = c.copy_ir()
    doc = json.loads(ir.read_text())
    doc["layers"][0]["formats"]["weight"]["bits"] = 40
    ir.write_text(json.dumps(doc))
    return ["estimate", ir, "--dataset", "karate"]


def _long_layer_name(c: Ctx) -> list[object]:
    """An IR whose first layer is named with 300 characters (once the file-name limit, hit while writing the
    design): rejected at load. The file-name limit itself: ``out-name-too-long``."""
    ir = c.copy_ir()
    doc = json.loads(ir.read_text())
    old = doc["layers"][0]["name"]
    new = "a" * 300
    layer = doc["layers"][0]
    layer["name"] = new
    layer["tensors"] = {k: v.replace(old, new, 1) for k, v in layer["tensors"].items()}
    ir.write_text(json.dumps(doc))
    npz = ir.with_name("model.ir.npz")
    with np.load(npz) as z:
        arrays = {k.replace(old, new, 1) if k.startswith(old + ".") else k: z[k] for k in z.files}
    np.savez(npz, **arrays)
    return ["generate", ir, "-o", c.out("hw")]


def _read_only_folder(c: Ctx) -> list[object]:
    ro = c.tmp / "ro"
    if os.geteuid() == 0:
        if not c.stack.enter_context(tmpfs(ro, "1m", readonly=True)):
            pytest.skip("running as root and mount -t tmpfs is not allowed: no read-only folder to test with")
    else:
        ro.mkdir()
        ro.chmod(0o555)
        c.stack.callback(ro.chmod, 0o755)
    return ["train", "--dataset", "karate", "--epochs", "1", "-o", ro / "run"]


def _stdout_full(c: Ctx) -> list[object]:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    full = open("/dev/full", "w")  # noqa: SIM115 - closed by the stack
    c.stack.callback(full.close)
    c.mp.setattr(sys, "stdout", full)
    return ["datasets", "karate"]


def _disk_full_rtl(c: Ctx) -> list[object]:
    if shutil.which("iverilog") is None:
        pytest.skip("iverilog not installed")
    disk = c.tmp / "disk"
    if c.stack.enter_context(tmpfs(disk, "4m")):
        hw = c.copy_design(disk / "hw")
        # leave 16 KiB: room for the testbench wrapper, not for the compiled simulation
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        (disk / "filler").write_bytes(b"\0" * max(free - 16 * 1024, 0))
    else:  # no tmpfs allowed: the RTL stage's first write fails as on a full disk
        from lpgnas.sim import rtl as sim_rtl

        hw = c.copy_design()

        def full(*args: object, **kw: object) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(hw / "sim_build"))

        c.mp.setattr(sim_rtl, "write_testbench", full)
    return ["verify", hw, "--sim", "icarus"]


def _syntax_error(c: Ctx) -> list[object]:
    hw = c.copy_design()
    with open(hw / "rtl" / "lpgnas_top.v", "a") as fh:
        fh.write("\nmodule broken(; endmodule\n")
    return ["verify", hw, "--sim", "verilator"]


def _no_path(c: Ctx) -> None:
    empty = c.tmp / "empty-bin"
    empty.mkdir()
    c.mp.setenv("PATH", str(empty))
    c.mp.delenv("CXX", raising=False)


def _missing_cxx(c: Ctx) -> list[object]:
    _no_path(c)
    return ["verify", c.copy_design(), "--csim", "--sim", "none"]


def _missing_iverilog(c: Ctx) -> list[object]:
    _no_path(c)
    return ["verify", c.copy_design(), "--sim", "icarus"]


def _planetoid(files: dict[str, bytes | None]) -> Callable[[Ctx], list[object]]:
    def setup(c: Ctx) -> list[object]:
        return ["estimate", c.ir, "--dataset", "Cora", "--data-root", c.data_root("Cora", files)]

    return setup


def _truncated_photo(c: Ctx) -> list[object]:
    if not DATA:
        pytest.skip("LPGNAS_DATA is not set")
    npz = Path(DATA) / "Photo" / "raw" / "amazon_electronics_photo.npz"
    with open(npz, "rb") as fh:
        head = fh.read(5000)
    root = c.data_root("Photo", {npz.name: head})
    return ["estimate", c.ir, "--dataset", "Photo", "--data-root", root]


def _file(c: Ctx, name: str, content: bytes) -> Path:
    path = c.tmp / name
    path.write_bytes(content)
    return path


@dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[Ctx], list[object]]
    says: str  # what the message must name (a substring, case-insensitive)
    status: int = 2


CASES = [
    Case("unknown-dataset", lambda c: ["train", "--dataset", "Corra", "-o", c.out()], "unknown dataset 'Corra'"),
    Case("malformed-ir-json", lambda c: ["estimate", _file(c, "bad.ir.json", b"{not json"), "--dataset", "karate"],
         "not valid JSON"),
    Case("non-utf8-ir", lambda c: ["estimate", _file(c, "bad.ir.json", b'{"name": "\xff\xfe"}'), "--dataset", "karate"],
         "not UTF-8"),
    Case("truncated-npz", _truncated_npz, "damaged or truncated"),
    Case("bitwidth-out-of-range-flag", lambda c: ["train", "--dataset", "karate", "--wbits", "40", "-o", c.out()],
         "--wbits 40"),
    Case("bitwidth-out-of-range-ir", _bits_in_ir, "bits: 40 is outside"),
    Case("unknown-device-generate", lambda c: ["generate", c.ir, "--device", "xc9z999", "-o", c.out()],
         "unknown device 'xc9z999'; presets: xc7z020"),
    Case("unknown-device-estimate", lambda c: ["estimate", c.ir, "--device", "xc9z999"], "unknown device"),
    Case("clock-not-a-number", lambda c: ["generate", c.ir, "--hw", c.hw_config(clock_mhz="fast"), "-o", c.out()],
         "'fast' is not a clock frequency"),
    Case("clock-zero-generate", lambda c: ["generate", c.ir, "--hw", c.hw_config(clock_mhz=0), "-o", c.out()],
         "0 is not a clock frequency"),
    Case("clock-zero-estimate", lambda c: ["estimate", c.ir, "--hw", c.hw_config(clock_mhz=0)],
         "0 is not a clock frequency"),
    Case("clock-negative-hw", lambda c: ["generate", c.ir, "--hw", c.hw_config(clock_mhz=-10.0), "-o", c.out()],
         "-10.0 is not a clock frequency"),
    Case("clock-negative-device", lambda c: ["estimate", c.ir, "--device", c.device(clock_mhz=-10)],
         "-10 is not a clock frequency"),
    Case("device-file-not-an-object", lambda c: ["estimate", c.ir, "--device", _file(c, "dev.json", b"[1, 2]")],
         "expected a JSON object"),
    Case("hw-config-capacity-not-a-number",
         lambda c: ["estimate", c.ir, "--hw", c.hw_config(max_nodes="many")], "max_nodes must be an integer"),
    Case("clock-flag-negative", lambda c: ["estimate", c.ir, "--clock", "-10"], "--clock: -10.0 is not a clock"),
    Case("lr-negative-train", lambda c: ["train", "--dataset", "karate", "--lr", "-1", "-o", c.out()],
         "--lr -1.0 must be a positive number"),
    Case("lr-negative-search", lambda c: ["search", "--dataset", "karate", "--lr", "-1", "-o", c.out()],
         "--lr -1.0 must be a positive number"),
    Case("seed-negative", lambda c: ["train", "--dataset", "karate", "--seed", "-1", "-o", c.out()], "--seed -1"),
    Case("seed-negative-datasets", lambda c: ["datasets", "karate", "--seed", "-1"], "seed -1"),
    Case("nodes-zero", lambda c: ["generate", c.ir, "--nodes", "0", "-o", c.out()], "--nodes 0"),
    Case("out-is-a-file", lambda c: ["train", "--dataset", "karate", "--epochs", "1", "-o",
                                     _file(c, "notes.txt", b"my notes\n")], "notes.txt"),
    Case("out-name-too-long", lambda c: ["train", "--dataset", "karate", "--epochs", "1", "-o", c.tmp / ("x" * 300)],
         "File name too long"),
    Case("layer-name-too-long", _long_layer_name, "layers[0].name: 300 characters"),
    Case("read-only-folder", _read_only_folder, "ro"),
    Case("stdout-dev-full", _stdout_full, "cannot write the output to stdout"),
    Case("disk-full-rtl", _disk_full_rtl, "sim_build/icarus: No space left on device"),
    Case("corrupt-raw-pickle", _planetoid({"ind.cora.x": b"\xec" * 100}), "damaged or truncated"),
    Case("truncated-raw-pickle", _planetoid({"ind.cora.graph": b"\x80\x04\x95"}), "damaged or truncated"),
    Case("empty-test-index", _planetoid({"ind.cora.test.index": b""}), "has no test nodes"),
    Case("truncated-raw-npz", _truncated_photo, "damaged or truncated"),
    Case("verilog-syntax-error", _syntax_error, "syntax error"),
    Case("missing-tool-cxx", _missing_cxx, "not on PATH"),
    Case("missing-tool-iverilog", _missing_iverilog, "iverilog not found on PATH"),
    # a failed check, not bad input: exit status 1
    Case("nothing-fits-generate", lambda c: ["generate", c.ir, "--device", c.device(lut=10), "--full", "-o", c.out()],
         "nothing fits tiny: even the smallest design", status=1),
    Case("does-not-fit-generate-hw", lambda c: ["generate", c.ir, "--hw", c.hw_config(), "--device", c.device(lut=10),
                                                "--full", "-o", c.out()], "does not fit tiny: LUT", status=1),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_one_line_error(case: Case, run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(run)
    with contextlib.ExitStack() as stack:
        ctx = Ctx(run, tmp_path, monkeypatch, stack)
        argv = case.setup(ctx)
        user_files = snapshot(tmp_path)
        status, _, err = run_cli(["-q", *argv], capsys)
        monkeypatch.undo()  # stdout, PATH: back before the checks
        after = snapshot(tmp_path)  # while a tmpfs is still mounted
    lines = err.splitlines()
    assert status == case.status, err
    assert len(lines) == 1 and lines[0].startswith("lpgnas: error: "), err
    assert "Traceback" not in err
    assert case.says.lower() in lines[0].lower(), lines[0]
    assert snapshot(run) == before, "the earlier run was changed"
    assert {p: h for p, h in after.items() if p in user_files} == user_files, "a user file was changed or removed"
    for path in ctx.must_not_exist:
        assert not path.exists(), f"{path} was created"


# ---- item 5: silent nonsense ------------------------------------------------------------------------------


def test_results_are_strict_json(tmp_path: Path) -> None:
    from lpgnas.fileio import json_log_line, write_json_atomic

    target = tmp_path / "metrics.json"
    write_json_atomic(target, {"test_accuracy": 0.5})
    with pytest.raises(ValueError):
        write_json_atomic(target, {"test_accuracy": float("nan")})
    assert json.loads(target.read_text()) == {"test_accuracy": 0.5}  # the earlier result intact
    assert json.loads(json_log_line({"loss": float("nan"), "cost": {"lut": float("inf")}})) == {
        "loss": None, "cost": {"lut": None}}


def test_estimate_uses_the_device_files_clock(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    device = tmp_path / "fast.json"
    device.write_text(json.dumps({"name": "fast", "family": "xc7", "lut": 53_200, "ff": 106_400, "dsp": 220,
                                  "bram36": 140, "clock_mhz": 250}))
    status, out, err = run_cli(["estimate", run / "model.ir.json", "--device", device, "--json"], capsys)
    assert status == 0, err
    doc = json.loads(out)
    assert doc["clock_mhz"] == 250.0 and doc["hw_config"]["clock_mhz"] == 250.0
    assert doc["totals"]["latency_us"] == pytest.approx(doc["totals"]["cycles"] / 250.0)
    status, out, _ = run_cli(["estimate", run / "model.ir.json", "--device", device, "--clock", "125", "--json"], capsys)
    assert status == 0 and json.loads(out)["clock_mhz"] == 125.0


def test_generate_uses_the_device_files_clock(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    device = tmp_path / "fast.json"
    device.write_text(json.dumps({"name": "fast", "family": "xc7", "lut": 53_200, "ff": 106_400, "dsp": 220,
                                  "bram36": 140, "clock_mhz": 250}))
    status, _, err = run_cli(["-q", "generate", run / "model.ir.json", "--device", device, "-o", tmp_path / "hw"],
                             capsys)
    assert status == 0, err
    assert json.loads((tmp_path / "hw" / "hw_config.json").read_text())["clock_mhz"] == 250.0
    assert "create_clock -period 4.0 " in (tmp_path / "hw" / "hls" / "run_hls.tcl").read_text()


def test_estimate_finds_the_dataset_of_a_searched_ir(run: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    for f in ("model.ir.json", "model.ir.npz"):
        shutil.copy(run / f, tmp_path / f)
    doc = json.loads((tmp_path / "model.ir.json").read_text())
    doc["metadata"] = {"search_config": doc["metadata"]["train_config"]}  # as lpgnas search records it
    (tmp_path / "model.ir.json").write_text(json.dumps(doc))
    status, out, err = run_cli(["estimate", tmp_path / "model.ir.json"], capsys)
    assert status == 0, err
    assert " on karate (34 nodes" in out


def test_search_states_the_size_ratio_both_ways() -> None:
    from lpgnas.search.cli import size_versus_float

    assert size_versus_float(4.0) == "4.0x smaller than"
    assert size_versus_float(0.5) == "2.0x larger than"  # was "0.5x smaller"


def test_search_warns_when_its_export_does_not_fit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from lpgnas.search import cli as search_cli

    metrics = {
        "chosen_candidate": 0, "chosen_training": "final", "val_accuracy_float": 0.8, "architecture": [],
        "test_accuracy_float": 0.8, "test_accuracy_golden": 0.8, "model_size_kib": 20.0,
        "model_compression_vs_float_gcn16": 0.5, "buffer_size_kib": 1.0, "search_seconds": 1.0, "device": "xc7z020",
        "hardware": {"fits_device": False, "overuse": "RAMB36 1,352.0 of 140 (1,212.0 over, 966%)"},
    }
    monkeypatch.setattr(search_cli, "search", lambda *a, **k: metrics)
    status, out, err = run_cli(["search", "--dataset", "karate", "-o", tmp_path / "s"], capsys)
    assert status == 0
    assert "2.0x larger than a float GCN-16" in out
    assert "does not fit xc7z020" in err and "RAMB36 1,352.0 of 140" in err


def test_an_internal_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only user errors become one line: any other exception (here an OSError the user cannot cause) escapes."""
    from lpgnas.hw_model import cli as hw_model_cli

    def bug(args: object) -> int:
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(hw_model_cli, "run_estimate", bug)
    with pytest.raises(OSError, match="Bad file descriptor"):
        cli.main(["estimate", "x.ir.json"])
