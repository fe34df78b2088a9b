"""``lpgnas sweep SPEC.toml -o SWEEP`` and ``lpgnas sweep report SWEEP``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lpgnas.errors import LpgnasError

REPORT = "report"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "sweep", help="run a grid of searches, baselines, trainings or flows on Ray; report on it",
        description=(
            "lpgnas sweep SPEC.toml -o SWEEP runs every point of the spec's grids (methods x datasets x splits x "
            "devices x seeds x any option) as a Ray task into SWEEP/runs/<point>/, and keeps SWEEP/results.json "
            "(one record per point). Without --address it starts a local Ray on this machine's cores; with one it "
            "joins that cluster. Rerunning the same command continues a killed sweep: points that ended are not "
            "run again, a killed search resumes from its checkpoint. A point that fails is recorded with its "
            "error and the others go on (exit status 1 if any failed). lpgnas sweep report SWEEP writes "
            "SWEEP/report.md and plots. docs/sweep.md describes the spec. "
            "Example: lpgnas sweep benchmarks/specs/search_bench.toml -o runs/bench --cpus-per-run 1"
        ),
    )
    p.add_argument("target", metavar="SPEC.toml|report", help="the sweep spec, or 'report' followed by SWEEP")
    p.add_argument("folder", nargs="?", metavar="SWEEP", help="with report: the sweep folder")
    p.add_argument("-o", "--out", metavar="SWEEP",
                   help="the sweep folder: new, empty, or an earlier sweep's to continue it (default: none; "
                        "needed unless report)")
    p.add_argument("--address", default=None,
                   help="Ray cluster to join: auto (the one this machine belongs to) or ray://HOST:PORT "
                        "(default: start a local Ray)")
    p.add_argument("--cpus-per-run", type=float, default=1,
                   help="CPUs each point asks Ray for (also its torch threads)")
    p.add_argument("--gpus-per-run", type=float, default=0,
                   help="GPUs each point asks Ray for; above 0 the commands that take --torch-device get cuda")
    p.add_argument("--local-cpus", type=int, default=None,
                   help="CPUs of the local Ray (default: all of this machine's; 1 runs the points one after "
                        "another)")
    p.add_argument("--retries", type=int, default=3, help="times a point whose worker died is run again")
    p.add_argument("--retry-failed", action="store_true",
                   help="also run again the points recorded as failed (default: only points never ended)")
    p.add_argument("--only", action="append", default=[], metavar="KEY=V1,V2",
                   help="run only the points whose method or option KEY has one of the values (repeatable: every "
                        "KEY must match; e.g. --only dataset=Cora --only seed=0,1); a random search's reference "
                        "search runs with it (default: every point)")
    p.add_argument("--dry-run", action="store_true",
                   help="check the spec and print every point (with --only: the selected ones) with its command lines; "
                        "run nothing")
    p.add_argument("--readme", metavar="FILE",
                   help="with report: also rewrite the table between the sweep report markers in FILE (default: none)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.target == REPORT:
        if not args.folder:
            raise LpgnasError("lpgnas sweep report needs the sweep folder: lpgnas sweep report SWEEP")
        from lpgnas.sweep.report import write_report

        paths = write_report(Path(args.folder), readme=Path(args.readme) if args.readme else None)
        print("wrote " + ", ".join(str(p) for p in paths))
        return 0
    if args.folder:
        raise LpgnasError(f"unexpected argument {args.folder!r}; run lpgnas sweep SPEC.toml -o SWEEP")
    if args.dry_run:
        from lpgnas.sweep.spec import parse_only

        return dry_run(args.target, args.out or "SWEEP", parse_only(args.only))
    if not args.out:
        raise LpgnasError("lpgnas sweep needs -o SWEEP, the folder of the sweep's results")
    if args.cpus_per_run <= 0 or args.gpus_per_run < 0 or args.retries < 0:
        raise LpgnasError("--cpus-per-run must be above 0, --gpus-per-run and --retries at least 0")
    if args.local_cpus is not None and (args.local_cpus < 1 or args.address):
        raise LpgnasError("--local-cpus is for a local Ray (no --address) and at least 1")
    from lpgnas.sweep.runner import Resources, run_sweep
    from lpgnas.sweep.spec import parse_only

    doc = run_sweep(args.target, args.out, address=args.address, only=parse_only(args.only),
                    resources=Resources(args.cpus_per_run, args.gpus_per_run, args.retries),
                    local_cpus=args.local_cpus, retry_failed=args.retry_failed, progress=not args.quiet)
    c, s = doc["counts"], doc["selected_counts"]
    chosen = f"; of the {sum(s.values())} selected: {s['ok']} ok, {s['failed']} failed, {s['not_run']} not run" \
        if args.only else ""
    print(f"{c['ok']} ok, {c['failed']} failed, {c['not_run']} not run of {doc['points_in_spec']} points{chosen}; "
          f"results: {Path(args.out) / 'results.json'} (lpgnas sweep report {args.out})")
    return 1 if s["failed"] or s["not_run"] else 0


def dry_run(spec_path: str, out: str, only: dict[str, list[str]]) -> int:
    """Print the points of the spec at ``spec_path`` (checked as a sweep checks it) that ``only`` selects and
    their command lines into ``out``."""
    from lpgnas.sweep.methods import OUT, command_lines
    from lpgnas.sweep.runner import RUNS
    from lpgnas.sweep.spec import load_spec

    spec = load_spec(spec_path)
    points = spec.selected(only)
    for p in points:
        print(p.id)
        for argv in command_lines(p.spec_method, p.options, Path(out) / RUNS / p.id / OUT):
            print("    lpgnas " + " ".join(argv))
        if p.id in spec.references:
            print(f"    (with --like the metrics of {spec.references[p.id]})")
    print(f"{len(points)} points")
    return 0
