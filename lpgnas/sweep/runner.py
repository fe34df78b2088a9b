"""Run a sweep's points on Ray: one task per point, into ``SWEEP/runs/<point>/``.

A point's folder holds ``point.json`` (its method and options), ``attempts.jsonl`` (one line per start:
process, host, time), ``log.txt`` (what its commands printed), ``out/`` (the commands' run folder) and, once it
has ended, ``result.json``: its record in ``SWEEP/results.json``. A point with a ``result.json`` is never run
again; a point whose worker died is retried by Ray and, if its method resumes (the search, the flow),
continues from its own checkpoint; every other method starts its ``out/`` afresh. A point that fails for a
reason of its own is recorded with its error and the sweep goes on.

Run folders are written where the worker sees ``SWEEP`` (shared storage: the driver's folder, as on one
machine); a worker that does not see it (no shared file system) writes into its own temporary folder and
returns the whole run folder to the driver, which unpacks it into ``SWEEP/runs/<point>/``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import socket
import sys
import tarfile
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lpgnas.errors import LpgnasError
from lpgnas.fileio import folder_lock, json_log_line, write_json_atomic, write_text_atomic
from lpgnas.sweep.methods import OUT, SEARCH, accepted_options, command_lines, method, parse_command
from lpgnas.sweep.spec import LIKE_FILE, Point, Spec, load_spec

RUNS = "runs"
RESULTS = "results.json"
RESULT = "result.json"
SPEC_COPY = "spec.toml"
TOKEN = ".sweep-token"
ATTEMPTS = "attempts.jsonl"
LOG = "log.txt"


@dataclass(frozen=True)
class Resources:
    """What each point asks Ray for, and the retries of a point whose worker dies."""

    cpus: float = 1
    gpus: float = 0
    retries: int = 3


def code_version() -> dict[str, Any]:
    """The lpgnas version and source commit that ran a point."""
    from lpgnas import __version__
    from lpgnas.provenance import git_commit

    return {"lpgnas": __version__, "commit": git_commit()}


@contextlib.contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """Send this process's output to ``log``: file descriptors 1 and 2 (C++ and tools) and Python's
    ``sys.stdout`` / ``sys.stderr``, whatever they were (a Ray worker's files, a test's capture)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("a", buffering=1) as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
        try:
            os.dup2(f.fileno(), 1)
            os.dup2(f.fileno(), 2)
            yield
        finally:
            f.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def _run_command(argv: list[str]) -> tuple[int, str | None]:
    """Run ``lpgnas <argv>`` in this process as the command line does; (exit status, error message)."""
    from lpgnas.cli import setup_logging, user_os_error

    print(f"$ lpgnas {' '.join(argv)}", flush=True)
    args = parse_command(argv)
    setup_logging(args.verbose, args.quiet)
    try:
        rc = int(args.func(args) or 0)
    except LpgnasError as e:
        print(f"lpgnas: error: {e}", file=sys.stderr, flush=True)
        return e.exit_status, str(e)
    except OSError as e:
        message = user_os_error(e)
        if message is None:
            traceback.print_exc()
            message = f"{type(e).__name__}: {e}"
        return 2, message
    except Exception as e:  # a bug in a command: recorded with its traceback in the log, the sweep goes on
        traceback.print_exc()
        return 3, f"{type(e).__name__}: {e}"
    return rc, None if rc == 0 else f"lpgnas {argv[0]} exited with status {rc} (a check failed; see {LOG})"


def _attempt(run_dir: Path) -> int:
    """Record this start of the point in ``attempts.jsonl``; its number (1 = first)."""
    path = run_dir / ATTEMPTS
    n = len(path.read_text().splitlines()) + 1 if path.is_file() else 1
    with path.open("a") as f:
        f.write(json_log_line({"attempt": n, "pid": os.getpid(), "host": socket.gethostname(),
                               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}))
    return n


def _archive(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buf.getvalue()


def unpack(archive: bytes, folder: Path) -> None:
    """Unpack a worker's run folder into ``folder`` (regular files and folders only, nothing outside it)."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")


def execute_point(point: dict[str, Any], sweep_dir: str, token: str, inputs: dict[str, bytes],
                  flags: dict[str, str], threads: int) -> dict[str, Any]:
    """The Ray task of one point: run its commands into its run folder with ``threads`` torch threads and
    ``flags`` added where a command accepts them and the point does not set them; return its record (with the
    run folder packed as ``archive`` when this worker does not see the driver's ``SWEEP``)."""
    sweep = Path(sweep_dir)
    shared = (sweep / TOKEN).is_file() and (sweep / TOKEN).read_text().strip() == token
    base = sweep if shared else Path(tempfile.gettempdir()) / f"lpgnas-sweep-{token}"
    run_dir = base / RUNS / point["point"]
    run_dir.mkdir(parents=True, exist_ok=True)
    m = method(point["method"])
    out = run_dir / OUT
    attempt = _attempt(run_dir)
    write_json_atomic(run_dir / "point.json", point)
    for name, content in inputs.items():
        (run_dir / name).write_bytes(content)
    resume = m.resumable and out.is_dir() and (m.family != SEARCH or (out / "search.ckpt").is_file())
    if out.exists() and not resume:
        shutil.rmtree(out)  # a killed attempt's partial output, in the point's own folder
    options = dict(point["options"])
    if LIKE_FILE in inputs:
        options["like"] = str(run_dir / LIKE_FILE)
    lines = command_lines(m, options, out)
    for i, argv in enumerate(lines):
        for flag, value in flags.items():
            if flag in accepted_options(argv[0]) and flag not in argv:
                argv += [flag, value]
        if resume and m.family == SEARCH:
            argv.append("--resume")
        lines[i] = argv

    import torch

    torch.set_num_threads(threads)
    t0 = time.time()
    rc, error = 0, None
    with _output_to(run_dir / LOG):
        for argv in lines:
            rc, error = _run_command(argv)
            if rc != 0:
                break
    record = {
        **point, "status": "ok" if rc == 0 else "failed", "exit_status": rc, "error": error,
        "result": m.summarise(out), "attempts": attempt, "host": socket.gethostname(),
        "seconds": round(time.time() - t0, 2), "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "torch_threads": torch.get_num_threads(), "code": code_version(), "commands": lines,
    }
    write_json_atomic(run_dir / RESULT, record)
    if shared:
        return record
    archive = _archive(run_dir)
    shutil.rmtree(run_dir)
    return record | {"archive": archive}


# ---- the driver ------------------------------------------------------------------------------------------------

def read_records(sweep: Path) -> dict[str, dict[str, Any]]:
    """The records of the points that have ended, by point id."""
    records = {}
    for path in sorted((sweep / RUNS).glob(f"*/{RESULT}")):
        with contextlib.suppress(ValueError, OSError):
            records[path.parent.name] = json.loads(path.read_text())
    return records


def write_results(sweep: Path, spec: Spec, records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``SWEEP/results.json``: one record per point that has ended, in the spec's order (records of points no
    longer in the spec last), and the counts."""
    order = {p.id: i for i, p in enumerate(spec.points)}
    rows = sorted(records.values(), key=lambda r: (order.get(r["point"], len(order)), r["point"]))
    doc = {
        "spec": str(spec.path), "spec_sha256": spec.sha256, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "points_in_spec": len(spec.points),
        "counts": {"ok": sum(r["status"] == "ok" for r in rows), "failed": sum(r["status"] != "ok" for r in rows),
                   "not_run": sum(p.id not in records for p in spec.points)},
        "records": [{k: v for k, v in r.items() if k != "archive"} | {"in_spec": r["point"] in order} for r in rows],
    }
    write_json_atomic(sweep / RESULTS, doc)
    return doc


def _check_sweep_folder(sweep: Path) -> None:
    """Refuse to write into a non-empty folder that is not a sweep (the user's files stay untouched)."""
    if sweep.exists() and not sweep.is_dir():
        raise LpgnasError(f"{sweep} is a file; give -o a folder for the sweep")
    if sweep.is_dir() and any(sweep.iterdir()) and not (sweep / TOKEN).is_file():
        raise LpgnasError(f"{sweep} is not empty and holds no sweep; give -o a new or empty folder, or an earlier "
                          "sweep's folder to continue it")


def _failed(point: Point, error: str) -> dict[str, Any]:
    return {**point.to_dict(), "status": "failed", "exit_status": None, "error": error, "result": {},
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "code": code_version()}


def _inputs(sweep: Path, spec: Spec, point: Point) -> dict[str, bytes] | str:
    """The files a point needs from another one (a random search: its reference search's metrics), or why it
    cannot run."""
    ref = spec.references.get(point.id)
    if ref is None:
        return {}
    metrics = sweep / RUNS / ref / OUT / "metrics.json"
    if not metrics.is_file():
        return f"its reference search {ref} left no {OUT}/metrics.json"
    return {LIKE_FILE: metrics.read_bytes()}


def _reachable(address: str) -> None:
    """Fail at once (instead of Ray's minutes of retries) when nothing listens at ``[ray://]HOST:PORT``."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise LpgnasError(f"--address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as e:
        raise LpgnasError(f"cannot reach the Ray cluster at {address} ({e.strerror or e}); start it with 'ray start "
                          "--head' (and --ray-client-server-port for ray://) or check --address") from None


def _start_ray(address: str | None, local_cpus: int | None) -> None:
    import ray

    if address is None:
        ray.init(address="local", num_cpus=local_cpus or os.cpu_count(), include_dashboard=False,
                 log_to_driver=False, logging_level="WARNING")
        return
    if address != "auto":
        _reachable(address)
    try:
        ray.init(address=address, log_to_driver=False, logging_level="WARNING")
    except ConnectionError as e:
        raise LpgnasError(f"cannot join the Ray cluster at {address}: {str(e).splitlines()[0]}; start one with "
                          "'ray start --head' or check --address (a cluster with token authentication also needs "
                          "RAY_AUTH_MODE=token and its token in this environment)") from None


def run_sweep(spec_path: str | Path, sweep_dir: str | Path, address: str | None = None,
              resources: Resources = Resources(), local_cpus: int | None = None, retry_failed: bool = False,
              progress: bool = True, only: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Run (or continue) the sweep of ``spec_path`` in ``sweep_dir``, only the points ``only`` selects
    (``spec.selected``) if given; returns ``results.json``'s content."""
    from lpgnas.progress import say

    spec = load_spec(spec_path)  # every problem of the spec (and of --only) before anything runs
    chosen = spec.selected(only) if only else spec.points
    sweep = Path(sweep_dir)
    _check_sweep_folder(sweep)
    sweep.mkdir(parents=True, exist_ok=True)
    with folder_lock(sweep):
        if not (sweep / TOKEN).is_file():
            write_text_atomic(sweep / TOKEN, secrets.token_hex(16) + "\n")
        token = (sweep / TOKEN).read_text().strip()
        write_text_atomic(sweep / SPEC_COPY, spec.text)
        records = read_records(sweep)
        todo = [p for p in chosen if p.id not in records
                or (retry_failed and records[p.id]["status"] != "ok")]
        write_results(sweep, spec, records)
        of = f" ({len(chosen)} selected by --only)" if only else ""
        say(f"sweep: {len(spec.points)} points{of}, {len(chosen) - len(todo)} ended earlier, {len(todo)} to run",
            progress)
        if todo:
            _start_ray(address, local_cpus)
            try:
                _drive(sweep, spec, token, todo, records, resources, progress)
            finally:
                import ray

                ray.shutdown()
        doc = write_results(sweep, spec, records)
    ended = [records[p.id] for p in chosen if p.id in records]
    # what this run was asked for (not written): the whole spec's counts, or the selected points' with --only
    doc["selected_counts"] = {"ok": sum(r["status"] == "ok" for r in ended),
                              "failed": sum(r["status"] != "ok" for r in ended), "not_run": len(chosen) - len(ended)}
    return doc


def _drive(sweep: Path, spec: Spec, token: str, todo: list[Point], records: dict[str, dict[str, Any]],
           resources: Resources, progress: bool) -> None:
    """Submit the points whose inputs exist, collect their records as they end, submit the points that
    waited for them; ``records`` and ``results.json`` follow every end."""
    import ray
    from ray.exceptions import RayError, RayTaskError

    from lpgnas.progress import say

    task = ray.remote(execute_point)
    threads = max(1, int(resources.cpus))
    flags = {"--torch-device": "cuda"} if resources.gpus else {}
    slots = max(1, int(ray.cluster_resources().get("CPU", 1) // resources.cpus))
    waiting = {p.id: p for p in todo}
    running: dict[Any, Point] = {}
    total, failed = len(todo), 0

    def submit_ready() -> None:
        for pid, p in list(waiting.items()):
            ref = spec.references.get(pid)
            if ref is not None and ref in waiting:
                continue  # its reference search has not ended yet
            if ref is not None and ref in {q.id for q in running.values()}:
                continue
            del waiting[pid]
            inputs = _inputs(sweep, spec, p)
            if isinstance(inputs, str):
                end(p, _failed(p, inputs))
                continue
            handle = task.options(num_cpus=resources.cpus, num_gpus=resources.gpus, max_retries=resources.retries,
                                  retry_exceptions=False, name=p.id).remote(
                p.to_dict(), str(sweep.resolve()), token, inputs, flags, threads)
            running[handle] = p

    def end(p: Point, record: dict[str, Any]) -> None:
        nonlocal failed
        archive = record.pop("archive", None)
        if archive is not None:
            run_dir = sweep / RUNS / p.id
            if run_dir.exists():
                shutil.rmtree(run_dir)
            unpack(archive, run_dir)
        elif not (sweep / RUNS / p.id / RESULT).is_file():
            write_json_atomic(sweep / RUNS / p.id / RESULT, record)
        records[p.id] = record
        failed += record["status"] != "ok"
        write_results(sweep, spec, records)
        done = total - len(waiting) - len(running)
        took = f" in {record['seconds']:.1f} s" if "seconds" in record else ""
        verdict = "ok" if record["status"] == "ok" else f"FAILED: {record['error']}"
        busy = min(len(running), slots)
        say(f"sweep: {done}/{total} done, {busy} running, {len(running) - busy + len(waiting)} waiting, {failed} "
            f"failed; {p.id} {verdict}{took}", progress)

    submit_ready()
    while running:
        ready, _ = ray.wait(list(running), num_returns=1)
        handle = ready[0]
        p = running.pop(handle)
        try:
            record = ray.get(handle)
        except RayTaskError as e:  # the task itself raised: a bug in the runner, not in a command (those are caught)
            cause = e.cause if e.cause is not None else e
            record = _failed(p, f"the sweep's task raised {type(cause).__name__}: {cause}")
        except RayError as e:  # the worker died more often than the retries allow, or the task could not run
            message = str(e).strip().splitlines()[0] if str(e).strip() else ""
            record = _failed(p, f"{type(e).__name__} after {resources.retries} retries: {message}")
        end(p, record)
        submit_ready()
