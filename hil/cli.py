"""The `hil` command line: run plans, serve the simulated lab, print DUT settings, verify records.

Exit codes: 0 all passed, 1 a test failed, 2 bad usage or bad configuration (a one-paragraph
message naming the file and field, no traceback); `hil run` stopped by a signal: 128 + its number
(130 Ctrl-C, 143 SIGTERM), after the outputs were made safe and the record sealed.
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
from hil.measure import DecisionRule
from hil.station.model import StationModel

ROOT = Path(__file__).resolve().parents[1]
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: `hil run`: the bench or the DUT could not be tested (e.g. an unusable serial read from the DUT)
EXIT_BENCH = 3
#: `hil report`: the record verifies but has no end entry (the run was interrupted)
EXIT_INCOMPLETE = 3


def _settings_model(dut: str) -> type[BaseModel]:
    model: type[BaseModel] = registry.load(registry.dut_family(dut).settings)
    return model


def load_firmware(dut: str, path: Path) -> dict[str, Any]:
    """Validate a firmware settings file for a DUT; returns it as a plain dict."""
    return load_model(path, _settings_model(dut)).model_dump(mode="json")


def check_reachable(station_file: Path, station: StationModel) -> None:
    """On a real bench, connect to every instrument and open the DUT's buses before the plan starts.

    Nothing is sent. An unreachable one is bad configuration (exit 2 naming the station file and
    field), not a failed test: nothing of the DUT was tested. A simulated station's lab is started
    by the fixtures, so it is not checked here.
    """
    import contextlib
    import re
    import socket

    import serial

    from hil.can_monitor import open_bus
    from hil.errors import BenchError, InstrumentError
    from hil.instruments.transport import VisaTransport

    for name, inst in station.instruments.items():
        field = f"instruments.{name}.resource"
        tcp = re.match(
            r"^TCPIP\d*::([^:]+)::(?:(\d+)::SOCKET|hislip\d+(?:,(\d+))?::INSTR|.*INSTR)$", inst.resource
        )
        try:
            if tcp:  # LAN: a TCP connection (raw socket port, HiSLIP 4880, VXI-11 portmapper 111)
                hislip = "hislip" in inst.resource.lower()
                port = int(tcp[2] or tcp[3] or (4880 if hislip else 111))
                socket.create_connection((tcp[1], port), timeout=inst.timeout_s).close()
            else:
                VisaTransport(name, inst.resource, timeout_s=inst.timeout_s).close()
        except (OSError, InstrumentError) as exc:
            detail = exc.detail if isinstance(exc, InstrumentError) else (exc.strerror or str(exc))
            raise ConfigError(
                str(station_file), field, f"an instrument reachable at {inst.resource} ({detail})"
            ) from None
    can_bus = station.buses.can
    if can_bus is not None:
        try:
            bus = open_bus(
                can_bus.interface, can_bus.channel, can_bus.bitrate, host=can_bus.host, port=can_bus.port
            )
        except BenchError as exc:
            raise ConfigError(str(station_file), "buses.can", f"a CAN bus that opens ({exc})") from None
        with contextlib.suppress(Exception):
            bus.shutdown()
    rs485 = station.buses.rs485
    if rs485 is not None:
        try:
            serial.serial_for_url(rs485.url, baudrate=rs485.baudrate, timeout=rs485.timeout_s).close()
        except (serial.SerialException, ValueError, OSError) as exc:
            raise ConfigError(
                str(station_file), "buses.rs485.url", f"a serial port that opens ({exc})"
            ) from None


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

    from hil.station import interrupts
    from hil.station.station import load_station, require_limits

    if getattr(args, "place", None):  # held through labgrid for the run (docs/labgrid.md)
        from hil.labgrid.run import run_on_place

        return run_on_place(args, cmd_run, _default_out)
    family = registry.dut_family(args.dut) if args.dut else None
    station_file = Path(args.station) if args.station else None
    if station_file is None:
        family = family or registry.dut_family("bms12100")
        station_file = ROOT / family.default_station
    station = load_station(station_file)
    if family is None:
        family = registry.dut_family(station.dut.name)
    elif station.dut.name != family.name:
        raise ConfigError(str(station_file), "dut.name", f"{family.name!r} for --dut {family.name}")
    require_limits(station, station_file)  # a real bench runs only inside declared safe limits
    identity_args = _identity_args(args, family)
    from hil.uncertainty import require_accuracy

    require_accuracy(station, station_file, getattr(registry.load(family.bench), "ACCURACY_NEEDS", ()))
    if args.firmware:
        if not station.simulated:
            raise UsageError("--firmware configures the simulated twin; this station is real hardware")
        if station.sim is not None and station.sim.attach:
            raise UsageError("--firmware: the station attaches to a running lab; give it to `hil sim serve`")
        load_firmware(family.name, Path(args.firmware))
    from hil.spec import load_spec

    load_spec(ROOT / family.spec)  # the plan is parametrised from it: refuse a broken one up front
    if not station.simulated:
        check_reachable(station_file, station)
    out = Path(args.out) if args.out else _default_out(family.name)
    out.mkdir(parents=True, exist_ok=True)
    from hil.diskspace import check_free_space

    check_free_space(out, args.profile)  # a record cut short by a full disk is no evidence
    plan_dir = ROOT / family.plan_dir
    pytest_args = [
        str(plan_dir),
        f"--rootdir={ROOT}",
        f"--hil-station={station_file}",
        f"--hil-profile={args.profile}",
        f"--hil-out={out}",
        f"--junitxml={out / 'junit.xml'}",
        "-o",
        "junit_family=xunit2",
        "-q",
    ]
    if args.firmware:
        pytest_args.append(f"--hil-firmware={args.firmware}")
    if args.seed is not None:
        pytest_args.append(f"--hil-seed={args.seed}")
    for option in ("operator", "socket", "lot", "sampling"):
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
    from hil.locks import hold_run_locks

    locks = hold_run_locks(station, out)  # a second run on this bench or into this folder: exit 2
    interrupts.install()  # SIGTERM/SIGHUP end the run like Ctrl-C: safe state, sealed record
    try:
        code = int(pytest.main(pytest_args))
    finally:
        signum = interrupts.last_signal()
        interrupts.uninstall()
        locks.release()
    print(f"record: {out / 'record.jsonl'}")
    for label, name in (
        ("junit", "junit.xml"),
        ("html", "report.html"),
        ("pdf", "report.pdf"),
        ("allure", "allure-results"),
    ):
        if (out / name).exists():
            print(f"{label + ':':8}{out / name}")
    if code == pytest.ExitCode.OK:
        return EXIT_OK
    if code == pytest.ExitCode.TESTS_FAILED:
        return EXIT_FAILED
    if code == pytest.ExitCode.INTERRUPTED:
        return 128 + (signum or 2)  # 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP
    if code == EXIT_BENCH:
        return EXIT_BENCH
    return EXIT_USAGE


def _identity_args(args: argparse.Namespace, family: registry.DutFamily) -> list[str]:
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
    settings = load_firmware(station.dut.name, Path(args.firmware)) if args.firmware else None
    options = ServeOptions(
        pace=not args.no_pace,
        rate=args.rate,
        ephemeral_ports=args.ephemeral_ports,
        exit_with_stdin=args.exit_with_stdin,
    )
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


def cmd_dut_settings(args: argparse.Namespace) -> int:
    family = registry.dut_family(args.dut)
    if family.settings_dump:  # the family writes its own file (e.g. vendor keys with their meaning)
        sys.stdout.write(registry.load(family.settings_dump)())
        return EXIT_OK
    model = _settings_model(args.dut)
    header = f"# Default firmware settings of {registry.dut_family(args.dut).title}\n"
    sys.stdout.write(header + yaml.safe_dump(model().model_dump(mode="json"), sort_keys=False))
    return EXIT_OK


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

    run = sub.add_parser("run", help="run a DUT's test plan on a station")
    run.add_argument("--station", help="station file (default: the DUT's simulated station)")
    run.add_argument("--dut", help="DUT family (default: the station's, else bms12100)")
    run.add_argument(
        "--profile",
        choices=["eol", "audit", "full"],
        default="full",
        help="eol: unit rows tested, design rows by read-back; audit: eol plus the design rows' tests",
    )
    run.add_argument("--sampling", help="which sampling made this unit an audit unit (shown in the report)")
    run.add_argument("--firmware", help="firmware settings file for the simulated twin")
    run.add_argument("--out", help="output folder (default: a new folder under reports/runs/)")
    run.add_argument("--serial", help="the DUT's serial number as labelled (checked against the DUT)")
    run.add_argument("--seed", type=int, help="noise seed of the simulated lab")
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
    run.add_argument("--operator", help="who runs the unit (record header `operator`; default: the OS user)")
    run.add_argument("--socket", help="socket of a production line (record header `socket`)")
    run.add_argument("--lot", help="production lot (record header `lot`)")
    run.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    run.set_defaults(func=cmd_run)

    labgrid = sub.add_parser("labgrid", help="benches shared through labgrid (docs/labgrid.md)")
    labgrid_sub = labgrid.add_subparsers(dest="labgrid_command", required=True)
    exporter = labgrid_sub.add_parser("exporter", help="write a station's labgrid exporter configuration")
    exporter.add_argument("station", help="station file")
    exporter.add_argument("-o", "--output", help="file to write (default: standard output)")
    exporter.set_defaults(func=cmd_labgrid_exporter)

    sim = sub.add_parser("sim", help="the simulated lab")
    sim_sub = sim.add_subparsers(dest="sim_command", required=True)
    serve = sim_sub.add_parser("serve", help="serve the simulated lab until SIGINT/SIGTERM")
    serve.add_argument("--station", default=str(ROOT / "stations" / "sim-bms12100.yaml"))
    serve.add_argument("--firmware", help="firmware settings file for the twin")
    serve.add_argument("--seed", type=int, help="noise seed (default: the station's)")
    serve.add_argument("--no-pace", action="store_true", help="virtual time moves only on request")
    serve.add_argument("--rate", type=float, default=1.0, help="virtual seconds per wall second")
    serve.add_argument("--ephemeral-ports", action="store_true", help="let the OS pick every port")
    serve.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="stop when standard input closes (used by the fixtures)",
    )
    serve.set_defaults(func=cmd_sim_serve)

    dut = sub.add_parser("dut", help="DUT information")
    dut_sub = dut.add_subparsers(dest="dut_command", required=True)
    settings = dut_sub.add_parser("settings", help="print a DUT's default firmware settings as YAML")
    settings.add_argument("dut")
    settings.set_defaults(func=cmd_dut_settings)

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
        print(f"error: {exc.file}: field '{exc.field}': expected {exc.expected}", file=sys.stderr)
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
