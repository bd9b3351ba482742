"""Serving simulated SCPI instruments on TCP sockets (raw SOCKET resources, '\\n' terminated)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator

from hil.sim.instruments.base import SimInstrument


async def serve_scpi(
    instrument: SimInstrument,
    host: str = "127.0.0.1",
    port: int = 0,
    before: Callable[[], None] | None = None,
) -> asyncio.Server:
    """Start a TCP server for one instrument; `before` runs ahead of each message (e.g. to sync time)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        clients.add(writer)
        try:
            while True:
                raw = await reader.readline()
                if not raw:
                    break
                line = raw.decode("ascii", errors="replace").strip()
                if not line:
                    continue
                if before is not None:
                    before()
                answer = instrument.execute(line)
                if answer is not None:
                    writer.write(answer.encode("ascii") + b"\n")
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            clients.discard(writer)
            writer.close()

    clients: set[asyncio.StreamWriter] = set()
    server = await asyncio.start_server(handle, host, port)
    server.hil_clients = clients  # type: ignore[attr-defined]
    return server


@contextlib.contextmanager
def scpi_server_thread(instrument: SimInstrument) -> Iterator[str]:
    """Serve one instrument from a background thread; yields its VISA resource string (for tests)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, asyncio.Server] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        holder["server"] = loop.run_until_complete(serve_scpi(instrument))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(5)
    port = holder["server"].sockets[0].getsockname()[1]

    async def shutdown() -> None:
        server = holder["server"]
        server.close()
        for writer in list(getattr(server, "hil_clients", ())):
            writer.close()
        await asyncio.sleep(0.05)  # let the handlers run their finally blocks
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    try:
        yield f"TCPIP0::127.0.0.1::{port}::SOCKET"
    finally:
        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
