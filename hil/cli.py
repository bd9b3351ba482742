"""The `hil` command line: run plans, serve the simulated lab, print DUT settings, verify records.

Exit codes: 0 all passed, 1 a test failed, 2 bad usage or bad configuration (one line per
problem naming the file and field, no traceback), 3 a bench error (the DUT could not be judged);
`hil run` stopped by a signal: 128 + its number (130 Ctrl-C, 143 SIGTERM), after the outputs were
made safe and the record sealed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from hil import registry
from hil.config import load_model
from hil.errors import ConfigError, HilError, UsageError
from hil.family import DEFAULT_STATION, DutFamily
from hil.measure import DecisionRule

ROOT = Path(__file__).resolve().parents[1]
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: `hil run`: a bench error (instrument, bus, lab): the DUT could not be judged, its requirements
#: are INCONCLUSIVE (the record's end entry lists them); CI may retry on this code only
EXIT_BENCH = 3
#: `hil report`: the record verifies but has no end entry (the run was interrupted)
EXIT_INCOMPLETE = 3


def _config_model(dut: str) -> type[BaseModel]:
    model: type[BaseModel] = registry.dut_family(dut).load("config")
    return model


def load_config(dut: str, path: Path) -> dict[str, Any]:
    """Validate a DUT configuration file for a DUT family; returns it as a plain dict. A family that
    is one variant of a shared spec refuses a file naming another `variant`."""
    config = load_model(path, _config_model(dut)).model_dump(mode="json")
    variant = registry.dut_family(dut).variant
    if variant and config.get("variant", variant) != variant:
        raise ConfigError(str(path), "variant", f"{variant} (the DUT family {dut}), or no variant")
    return config


#: the older name of load_config
load_firmware = load_config


def _deprecated(old: str, new: str) -> None:
    """One line on stderr: an older spelling still works, the new one is `new`."""
    print(f"note: {old} is deprecated; use {new}", file=sys.stderr)


def _default_out(dut: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = ROOT / "reports" / "runs" / f"{stamp}-{dut}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def cmd_run(args: argparse.Namespace) -> int:
    import pytest

    from hil import interrupts
    from hil.station.station import require_limits

    if getattr(args, "place", None):  # held through labgrid for the run (docs/labgrid.md)
        from hil.labgrid.run import run_on_place

        return run_on_place(args, cmd_run, _default_out)
    family = registry.dut_family(args.dut) if args.dut else None
    station_file = Path(args.station) if args.station else None
    if station_file is None:  # the family's simulated station, else the default station's family
        station_file = family.default_station if family is not None else DEFAULT_STATION
    from hil.station import check

    checked = check.check(station_file, probe_bench=False)  # the file first; the bench below
    checked.raise_first()
    station = checked.station
    assert station is not None
    if family is None:
        family = registry.dut_family(station.dut.name)
    elif station.dut.name != family.name:
        raise ConfigError(str(station_file), "dut.name", f"{family.name!r} for --dut {family.name}")
    require_limits(station, station_file)  # a real bench runs only inside declared safe limits
    identity_args = _identity_args(args, family)
    from hil.uncertainty import require_accuracy

    require_accuracy(station, station_file, getattr(family.load("bench"), "ACCURACY_NEEDS", ()))
    firmware = args.dut_config or args.firmware
    if firmware:
        if not station.simulated and not args.dut_config:
            raise UsageError("--firmware configures the simulated twin; this station is real hardware")
        if station.sim is not None and station.sim.attach:
            raise UsageError(
                "--dut-config: the station attaches to a running lab; give it to `hil sim serve`"
            )
        load_config(family.name, Path(firmware))
        if not args.dut_config:
            _deprecated("--firmware", "--dut-config")
    from hil.spec import load_spec

    load_spec(family.spec)  # the plan is parametrised from it: refuse a broken one up front
    from hil import runopts

    runopts.check_selection(family.spec, family.plan_dir, args)
    out = Path(args.out) if args.out else _default_out(family.name)
    probe = not station.simulated and not args.list  # each instrument asked who it is, buses opened
    if probe and (code := runopts.probe_bench(station_file, station, out / "station-check.log")):
        return code  # 2 the file, 3 the bench not ready: stopped before the first test, no record
    plan_dir = family.plan_dir
    pytest_args = [
        str(plan_dir),
        f"--rootdir={ROOT}",
        f"--hil-station={station_file}",
        f"--hil-profile={args.profile}",
        f"--hil-out={out}",
        *runopts.pytest_options(args),
    ]
    if firmware:  # the twin's settings; on a real bench the unit's declared configuration
        pytest_args.append(f"--hil-{'firmware' if station.simulated else 'dut-config'}={firmware}")
    if args.seed is not None:
        pytest_args.append(f"--hil-seed={args.seed}")
    for option in ("socket", "lot", "sampling"):
        if getattr(args, option, None):
            pytest_args.append(f"--hil-{option}={getattr(args, option)}")
    pytest_args += identity_args
    try:
        DecisionRule.parse(args.decision_rule)
    except ValueError as exc:
        raise UsageError(f"--decision-rule: {exc}") from None
    pytest_args.append(f"--hil-decision-rule={args.decision_rule}")
    if args.allow_expired_calibration:
        pytest_args.append("--hil-allow-expired-calibration")
    if args.reports is not None:
        pytest_args.append(f"--hil-reports={args.reports}")
    if args.db:
        pytest_args.append(f"--hil-db={args.db}")
    pytest_args += args.pytest_args
    if args.list:
        return runopts.print_list(pytest_args, runopts.requested(args))
    out.mkdir(parents=True, exist_ok=True)
    from hil.diskspace import check_free_space

    check_free_space(out, args.profile)  # a record cut short by a full disk is no evidence
    from hil.locks import hold_run_locks

    locks = hold_run_locks(station, out)  # a second run on this bench or into this folder: exit 2
    interrupts.install()  # SIGTERM/SIGHUP end the run like Ctrl-C: safe state, sealed record
    try:
        code = int(pytest.main(pytest_args))
    finally:
        signum = interrupts.last_signal()
        interrupts.uninstall()
        locks.release()
    return runopts.finish(out, code, signum, args)


def _identity_args(args: argparse.Namespace, family: DutFamily) -> list[str]:
    """--serial, --customer, --item-received, --environment checked and passed on (bad: exit 2)."""
    from hil.identity import serial_problem

    out = []
    if args.serial is not None:
        problem = serial_problem(args.serial, family.serial_pattern)
        if problem:
            raise UsageError(f"--serial: not a serial number of a {family.name} unit: {problem}")
        out.append(f"--hil-serial={args.serial}")
    if args.customer is not None:
        if not args.customer.strip():
            raise UsageError("--customer: expected the customer's name, got an empty string")
        out.append(f"--hil-customer={args.customer.strip()}")
    if args.item_received is not None:
        try:
            received = dt.date.fromisoformat(args.item_received)
        except ValueError:
            raise UsageError(
                f"--item-received: expected a date YYYY-MM-DD, got {args.item_received!r}"
            ) from None
        if received > dt.date.today():
            raise UsageError(f"--item-received: {received.isoformat()} is in the future")
        out.append(f"--hil-item-received={received.isoformat()}")
    if args.environment is not None:
        if not args.environment.strip():
            raise UsageError('--environment: expected the conditions, e.g. "23 °C, 45 %RH"')
        out.append(f"--hil-environment={args.environment.strip()}")
    return out


def cmd_sim_serve(args: argparse.Namespace) -> int:
    from hil.sim.serve import ServeOptions, serve
    from hil.station.station import load_station

    station = load_station(Path(args.station))
    if not station.simulated:
        raise ConfigError(args.station, "simulated", "true for `hil sim serve` (this is a real bench)")
    file = args.dut_config or args.firmware
    settings = load_config(station.dut.name, Path(file)) if file else None
    if args.firmware and not args.dut_config:
        _deprecated("--firmware", "--dut-config")
    options = ServeOptions(
        pace=not args.no_pace,
        rate=args.rate,
        ephemeral_ports=args.ephemeral_ports,
        exit_with_stdin=args.exit_with_stdin,
    )
    if args.power_on:
        from hil.station.poweron import powered_note

        options.after_start = powered_note(station, Path(args.station), options.pace)
    serve(station, settings, args.seed, options)
    return EXIT_OK


def cmd_labgrid_exporter(args: argparse.Namespace) -> int:
    from hil.labgrid.exporter import render

    text = render(Path(args.station))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"exporter configuration: {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_dut_config(args: argparse.Namespace) -> int:
    family = registry.dut_family(args.dut)
    if args.dut_command == "settings":
        _deprecated("`hil dut settings`", "`hil dut config`")
    if family.config_dump:  # the family writes its own file (e.g. vendor keys with their meaning)
        sys.stdout.write(family.load("config_dump")())
        return EXIT_OK
    model = _config_model(args.dut)
    header = f"# Default firmware settings of {family.title}\n"
    sys.stdout.write(header + yaml.safe_dump(model().model_dump(mode="json"), sort_keys=False))
    return EXIT_OK


#: the older name of cmd_dut_config
cmd_dut_settings = cmd_dut_config


def cmd_report(args: argparse.Namespace) -> int:
    folders = [Path(d) for d in args.dirs]
    if args.compare:
        return _cmd_compare(folders, args)
    if len(folders) != 1:
        raise UsageError("hil report takes one run folder (several only with --compare)")
    record = folders[0] / "record.jsonl"
    if not record.exists():
        raise ConfigError(str(record), "-", "a run record (record.jsonl) in the given folder")
    if args.verify:
        from hil.report.integrity import verify_folder

        found = verify_folder(folders[0], [Path(t) for t in args.trust or []])
        for line in found.ok:
            print(line)
        for line in found.problems + found.incomplete:
            print(line, file=sys.stderr)
        return found.code
    if args.sign:
        from hil.report.signing import cmd_sign

        return cmd_sign(folders[0], args)
    return _cmd_generate(folders[0], args)


def _cmd_generate(folder: Path, args: argparse.Namespace) -> int:
    import time

    from hil.report import FORMATS, RecordAlteredError, generate

    formats = [f.strip() for f in args.format.split(",") if f.strip()] if args.format else list(FORMATS)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UsageError(f"--format: unknown format(s) {', '.join(unknown)}; known: {','.join(FORMATS)}")
    t0 = time.perf_counter()
    try:
        written = generate(
            folder, formats, authorised_by=args.authorised_by, requirement_url=args.requirement_url
        )
    except RecordAlteredError as exc:
        print(f"error: {exc}; no report is made from an altered record", file=sys.stderr)
        return EXIT_FAILED
    for fmt, path in written.items():
        print(f"{fmt + ':':8}{path}")
    from hil.report import load_run

    run = load_run(folder)
    word, sentence = run.overall()
    print(f"result: {word} - {sentence} ({time.perf_counter() - t0:.1f} s)")
    return EXIT_OK if run.complete else EXIT_INCOMPLETE


def _cmd_compare(folders: list[Path], args: argparse.Namespace) -> int:
    from hil.report import RecordAlteredError
    from hil.report.compare import compare, table, write

    if len(folders) < 2:
        raise UsageError("--compare needs at least two run folders")
    for folder in folders:
        if not (folder / "record.jsonl").exists():
            raise ConfigError(
                str(folder / "record.jsonl"), "-", "a run record (record.jsonl) in the given folder"
            )
    try:
        comp = compare(folders)
    except RecordAlteredError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    out = (
        Path(args.out)
        if args.out
        else ROOT / "reports" / "compare" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    )
    written = write(comp, out)
    sys.stdout.write(table(comp))
    drifts = comp.drifts()
    labels = comp.labels()
    for series, i in drifts:
        print(f"DRIFT {series.requirement} {series.name}: {labels[i]} moved beyond the combined uncertainty")
    print(f"html:   {written['html']}")
    print(f"csv:    {written['csv']}")
    return EXIT_FAILED if drifts else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hil", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    from hil import runopts
    from hil.station import commands as station_commands

    run = sub.add_parser(
        "run",
        help="run a DUT's test plan on a station",
        epilog=runopts.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--station", help="station file (default: the DUT's simulated station)")
    run.add_argument("--dut", help="DUT family (default: the station's, else the default station's)")
    run.add_argument(
        "--profile",
        choices=["eol", "audit", "full"],
        default="full",
        help="eol: unit rows tested, design rows by read-back; audit: eol plus the design rows' tests",
    )
    run.add_argument("--sampling", help="which sampling made this unit an audit unit (shown in the report)")
    run.add_argument("--firmware", help="deprecated spelling of --dut-config")
    run.add_argument("--out", help="output folder (default: a new folder under reports/runs/)")
    run.add_argument("--serial", help="the DUT's serial number as labelled (checked against the DUT)")
    run.add_argument("--seed", type=int, help="noise seed of the simulated lab (its measurement noise)")
    run.add_argument("--customer", help="the customer the item is tested for (on the report)")
    run.add_argument(
        "--item-received", metavar="YYYY-MM-DD", help="date the item was received (on the report)"
    )
    run.add_argument(
        "--environment",
        help='ambient conditions, e.g. "23 °C, 45 %%RH", for a station without an ambient sensor (report)',
    )
    run.add_argument(
        "--decision-rule",
        default="simple",
        help="simple (default), guarded (guard band w = U) or guarded:R (w = R·U), per ILAC-G8",
    )
    run.add_argument(
        "--allow-expired-calibration",
        action="store_true",
        help="run even with an instrument past its calibration due date (the report says so)",
    )
    run.add_argument(
        "--reports", help="reports at the end: any of html,pdf,allure,junit, or none (default: all)"
    )
    run.add_argument(
        "--db", help="results database URL (default: results.sqlite beside the run folder; none: off)"
    )
    run.add_argument("--place", help="labgrid place to hold for the run (its resources are the bench)")
    run.add_argument(
        "--coordinator", help="labgrid coordinator HOST:PORT (default $LG_COORDINATOR, else 127.0.0.1:20408)"
    )
    run.add_argument("--wait", action="store_true", help="--place: wait while someone else holds it")
    run.add_argument("--socket", help="socket of a production line (record header `socket`)")
    run.add_argument("--lot", help="production lot (record header `lot`)")
    runopts.add_run_options(run)
    run.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    run.set_defaults(func=cmd_run)
    station_commands.add_parser(sub)

    labgrid = sub.add_parser("labgrid", help="benches shared through labgrid (docs/labgrid.md)")
    labgrid_sub = labgrid.add_subparsers(dest="labgrid_command", required=True)
    exporter = labgrid_sub.add_parser("exporter", help="write a station's labgrid exporter configuration")
    exporter.add_argument("station", help="station file")
    exporter.add_argument("-o", "--output", help="file to write (default: standard output)")
    exporter.set_defaults(func=cmd_labgrid_exporter)

    sim = sub.add_parser("sim", help="the simulated lab")
    sim_sub = sim.add_subparsers(dest="sim_command", required=True)
    serve = sim_sub.add_parser("serve", help="serve the simulated lab until SIGINT/SIGTERM")
    serve.add_argument("--station", default=str(DEFAULT_STATION))
    serve.add_argument("--dut-config", metavar="FILE", help="DUT configuration file for the twin")
    serve.add_argument("--firmware", metavar="FILE", help="deprecated spelling of --dut-config")
    serve.add_argument("--seed", type=int, help="noise seed of the lab (default: the station's)")
    serve.add_argument("--no-pace", action="store_true", help="virtual time moves only on request")
    serve.add_argument("--rate", type=float, default=1.0, help="virtual seconds per wall second")
    serve.add_argument(
        "--ephemeral-ports",
        action="store_true",
        help="let the OS pick every port (default: the station file's)",
    )
    serve.add_argument(
        "--power-on",
        action="store_true",
        help="cells at nominal, NTCs neutral, the DUT booted and talking before the endpoints line "
        "(default: every output off, as on a real bench)",
    )
    serve.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="stop when standard input closes (used by the fixtures)",
    )
    serve.set_defaults(func=cmd_sim_serve)

    dut = sub.add_parser("dut", help="DUT information")
    dut_sub = dut.add_subparsers(dest="dut_command", required=True)
    for word, note in (("config", ""), ("settings", " (deprecated spelling of `hil dut config`)")):
        shown = dut_sub.add_parser(word, help=f"print a DUT's default configuration as YAML{note}")
        shown.add_argument("dut")
        shown.set_defaults(func=cmd_dut_config)

    report = sub.add_parser(
        "report",
        help="reports from a run record: HTML, PDF/A-3, Allure results, JUnit XML; --verify; --compare",
    )
    report.add_argument("dirs", nargs="+", metavar="DIR", help="run folder (several with --compare)")
    mode = report.add_mutually_exclusive_group()
    mode.add_argument("--verify", action="store_true", help="check the record's hash chain")
    mode.add_argument("--compare", action="store_true", help="trends of the results across run folders")
    report.add_argument("--format", help="comma-separated subset of html,pdf,allure,junit (default: all)")
    report.add_argument("--authorised-by", help="name and function of the person authorising the report")
    report.add_argument(
        "--requirement-url",
        help="Allure link of a requirement, {id} replaced (default ../report.html#req-{id})",
    )
    report.add_argument(
        "--out", help="--compare: output folder (default: a new folder under reports/compare/)"
    )
    report.add_argument(
        "--sign", metavar="KEY", help="sign the PDF (PAdES) with this PKCS#12 file; see docs/evidence.md"
    )
    report.add_argument(
        "--sign-passphrase-env",
        metavar="VAR",
        help="--sign: environment variable holding the PKCS#12 passphrase (default: none)",
    )
    report.add_argument(
        "--trust",
        action="append",
        metavar="CERT",
        help="--verify: PEM certificate trusted as a signer's root (repeatable)",
    )
    report.set_defaults(func=cmd_report)

    from hil.db.cli import add_parser as add_db_parser

    add_db_parser(sub)
    from hil.production.eol_cli import add_eol_parser

    add_eol_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except ConfigError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except HilError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        print("interrupted", file=sys.stderr)
        return 128 + int(getattr(exc, "signum", 2))
    except Exception as exc:  # a bug: one line here, the traceback in a file (never on the terminal)
        import tempfile
        import traceback

        with tempfile.NamedTemporaryFile("w", prefix="hil-error-", suffix=".txt", delete=False) as fh:
            fh.write("".join(traceback.format_exception(exc)))
        print(f"error: {type(exc).__name__}: {exc} (a fault of hil; traceback in {fh.name})", file=sys.stderr)
        return EXIT_BENCH
