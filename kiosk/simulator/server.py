"""The simulator server: a Starlette app served by uvicorn on a loopback port.

`Simulator` runs it in a daemon thread (demo mode, tests); `serve_forever` runs it in the
foreground (`iiq-kiosk sim`). Admin routes under `/_sim/` let other processes inspect and
steer it; they need no token and are never recorded.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn
import uvicorn.lifespan.off
import uvicorn.loops.asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from kiosk.simulator.api import (
    API_PREFIX,
    ApiApp,
    RecordedRequest,
    RequestRecorder,
    SimContext,
    SimulatedDrop,
)
from kiosk.simulator.demo import DEMO
from kiosk.simulator.faults import Fault, FaultInjector
from kiosk.simulator.state import SimState

# uvicorn imports these by name at run time; importing them here lets freezing tools
# (PyInstaller) find them.
_RUNTIME_MODULES = (uvicorn.lifespan.off, uvicorn.loops.asyncio)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


def ensure_loopback(host: str) -> None:
    """Refuse anything but a loopback address: the simulator serves fake data behind a
    token printed on screen, so it must never be reachable from the network."""
    if host.strip().lower() == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"The simulator only listens on a loopback address (127.x.x.x, ::1 or localhost), "
            f"not {host!r}: it serves fake data with a publicly known token."
        )


class _HideSimulatedDrops(logging.Filter):
    """uvicorn logs the exception that closes a dropped connection; it is deliberate."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SimulatedDrop)


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideSimulatedDrops) for f in logger.filters):
        logger.addFilter(_HideSimulatedDrops())


def _listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket. The protocol is given explicitly: asyncio only turns
    Nagle off (TCP_NODELAY) on sockets whose proto is IPPROTO_TCP, and without that every
    keep-alive reply stalls ~40 ms on delayed ACKs."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if os.name != "nt":  # on Windows SO_REUSEADDR would allow port stealing
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class Simulator:
    """An Incident IQ stand-in on a loopback port.

    >>> with Simulator() as sim:          # doctest: +SKIP
    ...     httpx.get(sim.url + "/api/v1.0/login", headers=sim.auth_headers())
    """

    def __init__(
        self,
        seed: int = DEMO.seed,
        token: str = DEMO.token,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: int = 0,
        *,
        readonly_token: str = DEMO.readonly_token,
        site_id: str = DEMO.site_id,
        resettable: bool = True,
    ) -> None:
        """`resettable=False` saves memory where nothing calls `reset()` (demo mode)."""
        ensure_loopback(host)
        if token == readonly_token:
            raise ValueError("token and readonly_token must differ")
        self.seed = seed
        self.host = "127.0.0.1" if host.strip().lower() == "localhost" else host.strip("[]")
        self._requested_port = port
        self._initial_latency_ms = latency_ms
        self._ctx = SimContext(
            state=SimState(seed, resettable=resettable),
            faults=FaultInjector(),
            recorder=RequestRecorder(),
            token=token,
            readonly_token=readonly_token,
            site_id=site_id,
            latency_ms=latency_ms,
        )
        self.app = build_app(self)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Simulator:
        """Serve in a daemon thread; returns once the port accepts connections."""
        if self._thread is not None:
            return self
        _install_log_filter()
        sock = _listening_socket(self.host, self._requested_port)
        self._socket = sock
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            loop="asyncio",
            http=H11Protocol,  # the class, not "h11": frozen builds see the import
            ws="none",
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._server = server
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"iiq-simulator-{self._port}",
            daemon=True,
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self._cleanup()
                raise RuntimeError("the Incident IQ simulator did not start")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end. Safe to call twice."""
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(STOP_TIMEOUT_S)
            if thread.is_alive():
                server.force_exit = True
                thread.join(STOP_TIMEOUT_S)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._socket = None
        self._server = None
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator is not started")
        return self._port

    @property
    def url(self) -> str:
        """Site root, e.g. http://127.0.0.1:51234 (the API is under /api/v1.0)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    # ------------------------------------------------------------------ settings
    @property
    def token(self) -> str:
        return self._ctx.token

    @property
    def readonly_token(self) -> str:
        return self._ctx.readonly_token

    @property
    def site_id(self) -> str:
        return self._ctx.site_id

    @property
    def state(self) -> SimState:
        return self._ctx.state

    @property
    def faults(self) -> FaultInjector:
        return self._ctx.faults

    @property
    def checkout_routes_enabled(self) -> bool:
        return self._ctx.checkout_routes_enabled

    @checkout_routes_enabled.setter
    def checkout_routes_enabled(self, value: bool) -> None:
        self._ctx.checkout_routes_enabled = bool(value)

    @property
    def tag_not_found_status(self) -> int:
        """How an unknown tag answers: 200 (empty Items, the default) or 404 (JSON with
        an ErrorKey), the two replies a real district may give."""
        return self._ctx.tag_not_found_status

    @tag_not_found_status.setter
    def tag_not_found_status(self, value: int) -> None:
        if value not in (200, 404):
            raise ValueError("tag_not_found_status must be 200 or 404")
        self._ctx.tag_not_found_status = int(value)

    @property
    def asset_query_page_cap(self) -> int | None:
        """The largest `$s` the asset query honours (None: the usual maximum)."""
        return self._ctx.asset_query_page_cap

    @asset_query_page_cap.setter
    def asset_query_page_cap(self, value: int | None) -> None:
        if value is not None and value < 1:
            raise ValueError("asset_query_page_cap must be None or at least 1")
        self._ctx.asset_query_page_cap = value

    @property
    def latency_ms(self) -> int:
        return self._ctx.latency_ms

    @latency_ms.setter
    def latency_ms(self, value: int) -> None:
        if value < 0:
            raise ValueError("latency_ms must be >= 0")
        self._ctx.latency_ms = int(value)

    def auth_headers(self, *, readonly: bool = False) -> dict[str, str]:
        """The headers a well-behaved client sends."""
        token = self.readonly_token if readonly else self.token
        return {
            "Authorization": f"Bearer {token}",
            "SiteId": self.site_id,
            "Client": "ApiClient",
            "Accept": "application/json",
        }

    # ------------------------------------------------------------------ observation
    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of the recorded API requests, oldest first."""
        return self._ctx.recorder.snapshot()

    def clear_requests(self) -> None:
        self._ctx.recorder.clear()

    def reset(self) -> None:
        """Pristine seeded data, no recorded requests, no faults, default settings."""
        self._ctx.state.reset()
        self._ctx.recorder.clear()
        self._ctx.faults.clear()
        self._ctx.checkout_routes_enabled = True
        self._ctx.tag_not_found_status = 200
        self._ctx.asset_query_page_cap = None
        self._ctx.latency_ms = self._initial_latency_ms

    def configure(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Apply `checkout_routes_enabled` / `latency_ms`; returns the current settings."""
        unknown = set(settings) - {"checkout_routes_enabled", "latency_ms"}
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        if "checkout_routes_enabled" in settings:
            self.checkout_routes_enabled = bool(settings["checkout_routes_enabled"])
        if "latency_ms" in settings:
            self.latency_ms = int(settings["latency_ms"])
        return {
            "checkout_routes_enabled": self.checkout_routes_enabled,
            "latency_ms": self.latency_ms,
        }


# --------------------------------------------------------------------------- admin routes


def build_app(sim: Simulator) -> Starlette:
    """Admin routes under /_sim/, everything else to the Incident IQ API."""

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def json_body(request: Request) -> Any:
        raw = await request.body()
        if not raw.strip():
            return None
        return await request.json()

    async def get_requests(request: Request) -> Response:
        return JSONResponse([r.to_dict() for r in sim.requests])

    async def delete_requests(request: Request) -> Response:
        sim.clear_requests()
        return JSONResponse({"ok": True})

    async def get_faults(request: Request) -> Response:
        rates = sim.faults.rates
        return JSONResponse(
            {
                "faults": [f.to_dict() for f in sim.faults.pending],
                "rates": {
                    "error_rate": rates.error_rate,
                    "drop_rate": rates.drop_rate,
                    "rate_limit_rate": rates.rate_limit_rate,
                    "apply_then_fail_rate": rates.apply_then_fail_rate,
                    "seed": rates.seed,
                    "methods": sorted(rates.methods) if rates.methods is not None else None,
                    "retry_after": rates.retry_after,
                },
            }
        )

    async def post_faults(request: Request) -> Response:
        """Body: a Fault's fields, a list of them, or {"rates": {set_rates arguments}}."""
        try:
            body = await json_body(request)
            if isinstance(body, dict) and "rates" in body:
                sim.faults.set_rates(**body["rates"])
                return JSONResponse({"ok": True})
            items = body if isinstance(body, list) else [body]
            faults = [Fault.from_dict(item) for item in items]
        except (ValueError, TypeError) as exc:
            return error(400, str(exc))
        for fault in faults:
            sim.faults.add(fault)
        return JSONResponse({"ok": True, "faults": [f.to_dict() for f in faults]})

    async def delete_faults(request: Request) -> Response:
        sim.faults.clear()
        return JSONResponse({"ok": True})

    async def post_reset(request: Request) -> Response:
        try:
            sim.reset()
        except RuntimeError as exc:
            return JSONResponse({"ok": False, "Message": str(exc)}, status_code=409)
        return JSONResponse({"ok": True})

    async def get_asset(request: Request) -> Response:
        with sim.state.lock:
            asset = sim.state.asset(request.path_params["asset_id"])
            if asset is None:
                return error(404, "no such asset")
            return JSONResponse(dict(asset))

    async def get_tag(request: Request) -> Response:
        with sim.state.lock:
            return JSONResponse(
                [dict(a) for a in sim.state.asset_by_tag(request.path_params["tag"])]
            )

    async def get_user(request: Request) -> Response:
        with sim.state.lock:
            user = sim.state.user(request.path_params["user_id"])
            if user is None:
                return error(404, "no such user")
            return JSONResponse(dict(user))

    async def get_tickets(request: Request) -> Response:
        with sim.state.lock:
            return JSONResponse([dict(t) for t in sim.state.tickets])

    async def get_checkouts(request: Request) -> Response:
        asset_id = request.query_params.get("asset_id")
        with sim.state.lock:
            items = [
                dict(c)
                for c in sim.state.checkouts
                if asset_id is None or c["AssetId"] == asset_id.lower()
            ]
        return JSONResponse(items)

    async def get_demo(request: Request) -> Response:
        return JSONResponse(
            DEMO.as_dict() | {"token": sim.token, "readonly_token": sim.readonly_token}
        )

    async def get_config(request: Request) -> Response:
        return JSONResponse(sim.configure({}))

    async def post_config(request: Request) -> Response:
        try:
            body = await json_body(request)
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object")
            return JSONResponse(sim.configure(body))
        except (ValueError, TypeError) as exc:
            return error(400, str(exc))

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "url": sim.url, "seed": sim.seed})

    admin = [
        Route("/health", health),
        Route("/requests", get_requests, methods=["GET"]),
        Route("/requests", delete_requests, methods=["DELETE"]),
        Route("/faults", get_faults, methods=["GET"]),
        Route("/faults", post_faults, methods=["POST"]),
        Route("/faults", delete_faults, methods=["DELETE"]),
        Route("/reset", post_reset, methods=["POST"]),
        Route("/assets/{asset_id}", get_asset),
        Route("/tags/{tag}", get_tag),
        Route("/users/{user_id}", get_user),
        Route("/tickets", get_tickets),
        Route("/checkouts", get_checkouts),
        Route("/demo", get_demo),
        Route("/config", get_config, methods=["GET"]),
        Route("/config", post_config, methods=["POST"]),
    ]
    return Starlette(routes=[Mount("/_sim", routes=admin), Mount("", app=ApiApp(sim._ctx))])


# --------------------------------------------------------------------------- foreground


def describe(sim: Simulator) -> list[str]:
    """The lines `serve_forever` prints: where it runs and what to try."""
    return [
        f"Incident IQ simulator (FAKE data, seed {sim.seed}) running at {sim.url}",
        f"  API base         {sim.api_url}",
        f"  Site ID          {sim.site_id}",
        f"  Token            {sim.token}",
        f"  Read-only token  {sim.readonly_token}",
        "Try these:",
        f"  free device      {DEMO.free_tag}  (Dell Chromebook 3110, Available, "
        f"{DEMO.free_location_name}; serial {DEMO.free_serial})",
        f"  assigned device  {DEMO.assigned_tag}  (held by {DEMO.assigned_owner_name}, "
        f"ID {DEMO.assigned_owner_school_id})",
        f"  unknown tag      {DEMO.unknown_tag}",
        f"  duplicate tag    {DEMO.duplicate_tag}  (two devices)",
        f"  retired / broken {DEMO.retired_tag} / {DEMO.broken_tag}",
        f"  student          {DEMO.student_id}  ({DEMO.student_name}, grade {DEMO.student_grade})",
        f"  inactive person  {DEMO.inactive_id}  ({DEMO.inactive_name})",
        f"  shared name      {DEMO.shared_name}  (IDs {', '.join(DEMO.shared_name_ids)})",
        f"  staff badge      {DEMO.staff_badge}  ({DEMO.staff_name})",
        "Press Ctrl+C to stop.",
    ]


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int = DEMO.seed,
    latency_ms: int = 0,
    token: str = DEMO.token,
    print_fn: Callable[[str], object] = print,
    *,
    readonly_token: str = DEMO.readonly_token,
    stop_event: threading.Event | None = None,
) -> None:
    """Run the simulator in the foreground until Ctrl+C (or until `stop_event` is set)."""
    ensure_loopback(host)
    sim = Simulator(
        seed=seed,
        token=token,
        host=host,
        port=port,
        latency_ms=latency_ms,
        readonly_token=readonly_token,
    )
    sim.start()
    try:
        for line in describe(sim):
            print_fn(line)
        while sim.running and not (stop_event is not None and stop_event.is_set()):
            # Short sleeps keep Ctrl+C responsive on Windows too.
            time.sleep(0.2)
    except KeyboardInterrupt:
        print_fn("Stopping the simulator.")
    finally:
        sim.stop()
