"""`hil eol`: the operator station of a line (or of one station), served as a local browser panel."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from hil.errors import UsageError


def add_eol_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `hil eol` on the `hil` command line."""
    eol = sub.add_parser("eol", help="operator station: a browser panel that runs units on a line's sockets")
    which = eol.add_mutually_exclusive_group(required=True)
    which.add_argument("--line", help="line file (sockets, lot, audit, retests, cycle time)")
    which.add_argument("--station", help="one station as a one-socket line")
    eol.add_argument("--lot", default="LOT", help="lot for --station (a line file names its own)")
    eol.add_argument("--out", help="runs folder (default: the line file's `out`)")
    eol.add_argument("--host", default="127.0.0.1", help="address the panel listens on (default 127.0.0.1)")
    eol.add_argument("--port", type=int, default=8613, help="panel port (0: any free port)")
    eol.set_defaults(func=cmd_eol)


def cmd_eol(args: argparse.Namespace) -> int:
    from hil.cli import ROOT
    from hil.production.line import load_line, one_socket_line, resolve
    from hil.production.panel import PanelServer, serve_in_thread
    from hil.production.runner import Line

    if args.line:
        line_file = Path(args.line)
        model = load_line(line_file)
        line_dir = line_file.resolve().parent
    else:
        station_file = Path(args.station)
        if not station_file.exists():
            raise UsageError(f"--station: no such file {station_file}")
        model = one_socket_line(station_file, args.lot, Path(args.out) if args.out else None)
        line_dir = ROOT
    out = Path(args.out).resolve() if args.out else resolve(line_dir, model.out)
    out.mkdir(parents=True, exist_ok=True)
    from hil.db import ResultsDB, default_url

    db = ResultsDB(model.db or default_url(out))  # the units' runs index themselves here when sealed
    if model.mes is not None:
        db.set_mes_url(model.mes.url)
    line = Line(model, line_dir, out, history=db)
    try:
        server = PanelServer(line, args.host, args.port)
    except OSError as exc:
        raise UsageError(f"--port: cannot listen on {args.host}:{args.port} ({exc.strerror})") from None
    line.set_panel_url(server.url.rstrip("/"))
    line.start_watching()
    serve_in_thread(server)
    print(f"panel: {server.url}", flush=True)
    print(f"line {model.name}: {len(model.sockets)} socket(s), lot {model.lot}, runs in {out}", flush=True)
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        del signum, frame
        stop.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        print("stopping: running units go to their safe state and seal their records", file=sys.stderr)
        line.shutdown()
        db.close()
        server.shutdown()
        server.server_close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
