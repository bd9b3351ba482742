"""The operator panel: a local HTTP server with one inline page (no assets from elsewhere).

Operator side (the browser): GET / and /api/state; POST /api/signin, /api/serial, /api/start,
/api/stop, /api/next, /api/answer; GET /files/SOCKET/{eol-ticket.pdf,label.zpl}.
Child side (a unit's `hil run`, told the URL by HIL_PANEL_URL): POST /api/child/progress and
/api/child/prompt (answered when the operator answers, or cancelled when the unit is stopped).
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hil.production.panel_page import PAGE
from hil.production.runner import Line

FILES = {"eol-ticket.pdf": "application/pdf", "label.zpl": "text/plain; charset=utf-8"}


class PanelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, line: Line, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.line = line

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    server: PanelServer

    def log_message(self, format: str, *args: Any) -> None:
        del format, args  # quiet: the terminal shows the units, not every poll

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, data: Any, status: int = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def do_GET(self) -> None:
        line = self.server.line
        if self.path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, PAGE.encode(), "text/html; charset=utf-8")
        elif self.path == "/api/state":
            self._json(line.snapshot())
        elif self.path.startswith("/files/"):
            parts = self.path.split("/")
            runner = line.sockets.get(parts[2]) if len(parts) == 4 else None
            unit = runner.unit if runner else None
            if runner is None or unit is None or unit.folder is None or parts[3] not in FILES:
                self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)
                return
            path = unit.folder / parts[3]
            if not path.exists():
                self._json({"error": "not written"}, HTTPStatus.NOT_FOUND)
                return
            self._send(HTTPStatus.OK, path.read_bytes(), FILES[parts[3]])
        else:
            self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("a JSON object")
        except ValueError:
            self._json({"error": "expected a JSON object"}, HTTPStatus.BAD_REQUEST)
            return
        line = self.server.line
        if self.path == "/api/signin":
            name = str(body.get("operator", "")).strip()
            if not name:
                self._json({"error": "enter your name"}, HTTPStatus.BAD_REQUEST)
                return
            line.operator = name
            self._json({"ok": True})
            return
        runner = line.sockets.get(str(body.get("socket", "")))
        if runner is None:
            self._json({"error": f"no socket {body.get('socket')!r}"}, HTTPStatus.NOT_FOUND)
            return
        error: str | None
        if self.path == "/api/serial":
            error = runner.submit_serial(str(body.get("serial", "")), line.operator)
        elif self.path == "/api/start":
            error = runner.start()
        elif self.path == "/api/stop":
            error = runner.stop()
        elif self.path == "/api/next":
            runner.next_unit()
            error = None
        elif self.path == "/api/answer":
            error = runner.answer(int(body.get("id", -1)), str(body.get("answer", "")))
        elif self.path == "/api/child/progress":
            runner.progress(str(body.get("test", "")), int(body.get("index", 0)), int(body.get("total", 0)))
            error = None
        elif self.path == "/api/child/prompt":
            self._json({"answer": runner.ask(str(body.get("kind", "ask")), str(body.get("text", "")))})
            return
        else:
            self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)
            return
        if error:
            self._json({"error": error}, HTTPStatus.CONFLICT)
        else:
            self._json({"ok": True})


def serve_in_thread(server: PanelServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="panel", daemon=True)
    thread.start()
    return thread
