"""`hil run` around pytest: requirement selection, `--list`, verbosity, and the exit code of a run.

Exit codes (hil.cli): 0 every test accepted; 1 the DUT failed a requirement; 2 usage or
configuration (also: a selection that matches nothing); 3 a bench error, the DUT could not be
judged (the record's end entry lists the INCONCLUSIVE requirements); 128 + n stopped by signal n.
"""

from __future__ import annotations

import argparse
import difflib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from hil.errors import UsageError
from hil.station.model import StationModel

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BENCH = 0, 1, 2, 3

#: the pytest plugin of the plans (pyproject's pytest11 entry point), the one a plan run loads
PLUGIN = "fixtures.plugin"

EPILOG = """\
exit codes:
  0    every test accepted
  1    the DUT failed a requirement
  2    bad usage or configuration (one line per problem), or a selection matching no test
  3    bench error: an instrument, bus or the lab failed; the DUT could not be judged, its
       requirements are INCONCLUSIVE and the record says so (CI may retry on 3 only). Also
       before the first test, with no record: an instrument or bus of the bench refuses the
       connection, does not open or never answers (a wrong model or file is 2)
  128+n stopped by signal n (130 Ctrl-C, 143 SIGTERM); outputs safe, record sealed

pytest plugins: a run loads only hil's own; add another with `-- -p NAME`.
"""


def add_run_options(run: argparse.ArgumentParser) -> None:
    """The options of `hil run` that map to the plan's pytest options (listed in `hil run --help`)."""
    run.add_argument(
        "--dut-config",
        metavar="FILE",
        help="DUT configuration (settings) file: the simulated twin runs with it; on a real bench, "
        "the unit's declared configuration the plan checks against",
    )
    run.add_argument(
        "--requirement",
        action="append",
        default=[],
        metavar="ID",
        help="run only the tests of this requirement ID (repeatable; = --hil-requirement)",
    )
    run.add_argument(
        "--long", action="store_true", help="run tests marked long on a real bench (= --hil-long)"
    )
    run.add_argument(
        "--pace",
        action="store_true",
        help="the simulated lab runs in step with the wall clock (= --hil-pace)",
    )
    run.add_argument(
        "--spec-overlay",
        metavar="FILE",
        help="your own requirement rows (default: spec-overlay.yaml beside the plan or your test files)",
    )
    run.add_argument("--operator", help="who runs the test (record header 'operator'; default: the OS user)")
    run.add_argument("--junit", metavar="PATH", help="also write the run's JUnit XML here (for CI)")
    run.add_argument(
        "--list", action="store_true", help="print requirement -> tests of the profile, run nothing"
    )
    run.add_argument("-q", "--quiet", action="count", default=0, help="less output (as pytest -q)")
    run.add_argument(
        "-v", "--verbose", action="count", default=0, help="pytest's verbose output (as pytest -v)"
    )


def requested(args: argparse.Namespace) -> list[str]:
    """Requirement IDs asked for, by --requirement or by --hil-requirement after `--`."""
    ids = list(args.requirement)
    extra = list(args.pytest_args)
    for i, arg in enumerate(extra):
        if arg == "--hil-requirement" and i + 1 < len(extra):
            ids.append(extra[i + 1])
        elif arg.startswith("--hil-requirement="):
            ids.append(arg.split("=", 1)[1])
    return ids


def check_selection(spec_path: Path, plan_dir: Path, args: argparse.Namespace) -> list[str]:
    """The requested requirement IDs, each checked against the spec and the user's overlay."""
    from hil.spec import load_spec
    from hil.spec_overlay import overlay_of, with_overlay

    overlay = overlay_of(args.spec_overlay, plan_dir, list(args.pytest_args))
    spec = with_overlay(load_spec(spec_path), overlay)  # a bad overlay is refused before the run
    ids = requested(args)
    if not ids:
        return []
    known = spec.ids()
    for req in ids:
        if req not in known:
            near = difflib.get_close_matches(req, known, n=4, cutoff=0.5)
            hint = f"; closest: {', '.join(near)}" if near else ""
            raise UsageError(f"requirement {req!r} matches no requirement of the {spec.dut} spec{hint}")
    return ids


def probe_bench(station_file: Path, station: StationModel, log_file: Path) -> int:
    """Probe a real bench before the first test: its exit code (0 ready, 2 the file, 3 the bench).

    Every problem on one line each, details logged; nothing of the DUT is touched or recorded."""
    from hil.station.check import CheckResult, probe_logged
    from hil.station.commands import exit_code, report

    result = CheckResult(station_file, station, probe_logged(station, log_file))
    report(result, log_file)
    return exit_code(result)


class _Collector:
    """Collects the selected items of a `--collect-only` session."""

    def __init__(self) -> None:
        self.items: list[pytest.Item] = []

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:  # the table below is the whole output
            config.pluginmanager.unregister(terminal)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = list(session.items)


def print_list(plan_args: list[str], requested: list[str] | None = None) -> int:
    """requirement -> tests for the chosen profile and selection; nothing is run.

    With requirements `requested`, only those are listed (a test tracing to many, such as the
    EOL read-back, does not bring in the others)."""
    collector = _Collector()
    code = pytest.main([*plan_args, "--collect-only"], plugins=[collector])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        return EXIT_USAGE
    by_req: dict[str, list[str]] = {}
    untraced: list[str] = []
    for item in collector.items:
        reqs = [str(a) for m in item.iter_markers("requirement") for a in m.args]
        if requested:
            reqs = [r for r in reqs if r in requested]
        for req in reqs:
            by_req.setdefault(req, []).append(item.nodeid)
        if not reqs:
            untraced.append(item.nodeid)
    for req, tests in by_req.items():
        print(req)
        for test in tests:
            print(f"  {test}")
    if untraced:
        print("(no requirement)")
        for test in untraced:
            print(f"  {test}")
    print(f"{len(by_req)} requirements, {len(collector.items)} tests")
    return EXIT_OK


def pytest_options(args: argparse.Namespace) -> list[str]:
    """pytest options for `hil run`'s own ones (verbosity, selection, operator)."""
    # only our plugin: pytest would otherwise mark every installed plugin distribution for assertion
    # rewriting, hil's own among them (its egg-info sits in the repository root) and labgrid (held
    # by --place), though this process has imported them, and warn on every run; nor may another
    # installed plugin (random order, reruns) change how a plan runs. Others: `-- -p NAME`.
    opts: list[str] = ["--disable-plugin-autoload", "-p", PLUGIN]
    if args.verbose:
        opts.append("-" + "v" * args.verbose)
    elif args.quiet:
        opts.append("-" + "q" * args.quiet)
    else:  # one line per test, by hil.progress
        opts += ["-q", "-p", "hil.progress"]  # -q: what pytest itself prints (e.g. --collect-only)
    opts += [f"--hil-requirement={r}" for r in args.requirement]
    if args.long:
        opts.append("--hil-long")
    if args.pace:
        opts.append("--hil-pace")
    if args.operator:
        opts.append(f"--hil-operator={args.operator}")
    if args.spec_overlay:
        opts.append(f"--hil-spec-overlay={args.spec_overlay}")
    return opts


def _end_entry(record: Path) -> dict[str, Any] | None:
    if not record.exists():
        return None
    end = None
    with record.open(encoding="utf-8") as fh:
        for line in fh:
            if '"type": "end"' in line or '"type":"end"' in line:
                end = json.loads(line)
    return end


def finish(out: Path, code: int, signum: int | None, args: argparse.Namespace) -> int:
    """What a run left (paths of files actually written) and its exit code."""
    record = out / "record.jsonl"
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("error: the selection matches no test of this profile (see `hil run --list`)", file=sys.stderr)
        return EXIT_USAGE
    if code == pytest.ExitCode.USAGE_ERROR and not record.exists():
        return EXIT_USAGE  # refused before the record was opened: no files to name
    if record.exists():
        print(f"record: {record}")
        if not (out / "junit.xml").exists():  # --reports none: still the run's own JUnit, for CI
            from hil.report import generate

            try:
                generate(out, ["junit"])
            except Exception as exc:  # the record stays; say why there is no JUnit
                print(f"hil: no junit.xml ({type(exc).__name__}: {exc})", file=sys.stderr)
    if args.junit and (out / "junit.xml").exists():
        target = Path(args.junit)
        if target.resolve() != (out / "junit.xml").resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / "junit.xml", target)
    for label, name in (
        ("junit", "junit.xml"),
        ("html", "report.html"),
        ("pdf", "report.pdf"),
        ("allure", "allure-results"),
    ):
        if (out / name).exists():
            print(f"{label + ':':8}{out / name}")
    if code == pytest.ExitCode.INTERRUPTED:
        return 128 + (signum or 2)  # 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP
    if code == EXIT_BENCH:  # the plan stopped itself before any stimulus: the DUT cannot be tested
        return EXIT_BENCH
    if code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE  # stopped by the plan before any stimulus: calibration, serial
    end = _end_entry(record)
    if code == pytest.ExitCode.OK:
        return EXIT_OK
    if code == pytest.ExitCode.TESTS_FAILED:
        if end is not None and end.get("dut_failed", 1) == 0 and end.get("inconclusive") is not None:
            return EXIT_BENCH
        return EXIT_FAILED
    if end is not None and end.get("status") == "interrupted":
        return EXIT_BENCH  # a bench gone (the run stopped itself): nothing judged after it
    return EXIT_USAGE
