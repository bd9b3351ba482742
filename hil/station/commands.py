"""`hil station check FILE` and `hil station schema`: bring-up of a bench before its first run.

Exit codes: 0 sound; 2 the file is wrong (schema, unknown key, missing role or terminal, an
instrument that identifies as another model, a VISA library not installed); 3 the file is sound
but the bench is not ready: an instrument or bus refuses the connection, does not open or never
answers (switched off, busy, held by another client). Like `hil run`'s 3, CI may retry it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hil.station.check import CheckResult, check
from hil.station.model import StationModel

EXIT_OK, EXIT_USAGE, EXIT_BENCH = 0, 2, 3


def report(result: CheckResult, log_file: Path | None) -> None:
    """Every problem on stderr, one line each; where the details went, if anywhere."""
    for line in result.lines():
        print(line, file=sys.stderr)
    if log_file is not None and log_file.exists() and any(p.bench for p in result.problems):
        print(f"details: {log_file}", file=sys.stderr)


def exit_code(result: CheckResult) -> int:
    """3 when only the bench is not ready (CI may retry); 2 when the file must change; 0 if sound."""
    if not result.problems:
        return EXIT_OK
    return EXIT_BENCH if result.bench_only else EXIT_USAGE


def cmd_check(args: argparse.Namespace) -> int:
    path = Path(args.file)
    log_file = Path(args.log) if args.log else None
    result = check(path, probe_bench=not args.no_probe, log_file=log_file)
    report(result, log_file)
    if result.problems:
        return exit_code(result)
    station = result.station
    assert station is not None
    where = "simulated lab (its instruments are checked when it starts)" if station.simulated else "bench"
    probed = (
        "" if station.simulated or args.no_probe else f", {len(station.instruments)} instruments answered"
    )
    print(f"{path}: ok ({station.name}, {station.dut.name}, {where}{probed})")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    del args
    schema = StationModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema.setdefault("title", "HIL station file")
    sys.stdout.write(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
    return EXIT_OK


CHECK_EPILOG = """\
exit codes:
  0    the file is sound (and, probed, every instrument answered as its driver's model)
  2    the file must change: schema, unknown key, a role or terminal the plan needs, an
       instrument that identifies as another model, a VISA library that is not installed
  3    the bench is not ready, the file is sound: an instrument or bus refuses the connection,
       does not open or never answers (off, busy, held by another client); CI may retry
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    station = sub.add_parser("station", help="check a station file and its bench; print its JSON Schema")
    station_sub = station.add_subparsers(dest="station_command", required=True)
    chk = station_sub.add_parser(
        "check",
        help="every problem of a station file, one line each: schema, what the DUT's plan needs, "
        "and each instrument of a real bench answering its identity query",
        description="Every problem of a station file and its bench, one line each; the probe's "
        "details (exception chains, identity answers) go to --log.",
        epilog=CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chk.add_argument("file", help="station file")
    chk.add_argument("--no-probe", action="store_true", help="the file only: open no instrument")
    chk.add_argument("--log", help="write the probe's details (exception chains) to this file")
    chk.set_defaults(func=cmd_check)
    schema = station_sub.add_parser("schema", help="print the station file's JSON Schema (editor completion)")
    schema.set_defaults(func=cmd_schema)
