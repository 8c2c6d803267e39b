"""The control panel's web server: aiohttp on its own thread and event loop, serving the page and the API of a
``LiveControl`` (issue 13).

    GET  /                       the page (plain HTML/CSS/JS from static/, nothing from a CDN)
    GET  /api/state              every setting, swap, model, fps, frame counters, latency percentiles, stage ms
    POST /api/state              a JSON object of changes -> the new state; a bad one -> 400 with one line
    GET  /api/settings           each setting's type, default, range or choices (the page builds its controls)
    GET  /api/models             the models folder's .onnx files, with what `swapcam info` says of each
    GET  /api/events             the state as server-sent events, twice a second
    GET  /api/preview.jpg        the newest reduced output frame (?which=input: the input); X-Swapcam-Frame: its id
    POST /api/profile/save|load  the --profile file

Safety: the default bind is 127.0.0.1. Any other address needs a token (the runner prints it once), sent as the
``X-Swapcam-Token`` header, the ``swapcam_token`` cookie, or ``?token=`` on the page address (which sets the
cookie). Requests whose Host is not the panel's own are refused (DNS rebinding), and so are state-changing
requests from another Origin.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import secrets
import threading
from importlib import resources
from typing import Any

from swapcam.core.errors import SwapcamError

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Swapcam-Token"
TOKEN_COOKIE = "swapcam_token"
_STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class PanelServer:
    """Serves ``control`` on ``host:port`` from a daemon thread; ``start()`` returns once the socket listens
    (a port in use is one clear line), ``close()`` stops it. ``port=0`` picks a free port (tests)."""

    def __init__(self, control, host: str = "127.0.0.1", port: int = 8765, token: str | None = None) -> None:
        try:
            import aiohttp  # noqa: F401
        except ImportError as exc:  # pragma: no cover - a dependency
            raise SwapcamError(f"the panel needs aiohttp ({exc}); run `make install`") from exc
        self.control = control
        self.host, self.port = host, port
        if not is_loopback(host) and not token:
            token = secrets.token_urlsafe(16)
        self.token = token
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._closed = False

    # -- the address it answers to --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    def _allowed_hosts(self) -> set[str] | None:
        """Host headers accepted; None: any (a wildcard bind, where the token is what keeps strangers out)."""
        if self.host in ("0.0.0.0", "::"):
            return None
        names = {self.host, f"[{self.host}]"}
        if is_loopback(self.host):
            names |= {"localhost", "127.0.0.1", "[::1]"}
        return {f"{n}:{self.port}" for n in names} | ({n for n in names} if self.port == 80 else set())

    # -- requests -------------------------------------------------------------------------------------------------
    def _app(self):
        from aiohttp import web

        @web.middleware
        async def guard(request: web.Request, handler):
            allowed = self._allowed_hosts()
            if allowed is not None and request.host not in allowed:
                return _error(403, f"host {request.host!r} is not this panel's (DNS rebinding?)")
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                origin = request.headers.get("Origin")
                if origin is not None and origin != f"{request.scheme}://{request.host}":
                    return _error(403, f"requests from origin {origin} may not change anything here")
            if self.token:
                given = (request.headers.get(TOKEN_HEADER) or request.cookies.get(TOKEN_COOKIE)
                         or (request.query.get("token") if request.path == "/" else None) or "")  # fmt: skip
                if not hmac.compare_digest(given.encode(), self.token.encode()):
                    return _error(401, f"a token is needed: the {TOKEN_HEADER} header or the page address printed "
                                  "at start")  # fmt: skip
            response = await handler(request)
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("X-Frame-Options", "DENY")
            return response

        app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
        r = app.router
        r.add_get("/", self._index)
        r.add_get("/static/{name}", self._static)
        r.add_get("/api/state", self._get_state)
        r.add_post("/api/state", self._post_state)
        r.add_get("/api/settings", self._get_settings)
        r.add_get("/api/models", self._get_models)
        r.add_get("/api/events", self._events)
        r.add_get("/api/preview.jpg", self._preview)
        r.add_post("/api/profile/{action}", self._profile)
        return app

    async def _index(self, request):
        from aiohttp import web

        response = web.Response(body=_static_bytes("index.html"), content_type="text/html")
        if self.token:  # the page address carried the token: keep it as a cookie for the page's own requests
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="Strict")
        return response

    async def _static(self, request):
        from aiohttp import web

        name = request.match_info["name"]
        suffix = name[name.rfind("."):] if "." in name else ""
        if "/" in name or suffix not in _STATIC_TYPES:
            raise web.HTTPNotFound()
        try:
            body = _static_bytes(name)
        except FileNotFoundError:
            raise web.HTTPNotFound() from None
        return web.Response(body=body, content_type=_STATIC_TYPES[suffix])

    async def _get_state(self, request):
        return _json(self.control.state())

    async def _post_state(self, request):
        try:
            changes = json.loads(await request.read() or b"null")
        except ValueError as exc:
            return _error(400, f"the body is not JSON: {exc}")
        try:
            return _json(self.control.change(changes))
        except SwapcamError as exc:
            return _error(400, str(exc))

    async def _get_settings(self, request):
        from swapcam.live.control import CONTROL_KEYS, settings_schema

        return _json({"settings": settings_schema(), "control": list(CONTROL_KEYS)})

    async def _get_models(self, request):
        loop = asyncio.get_running_loop()
        models = await loop.run_in_executor(None, self.control.models)  # reads ONNX metadata: off the loop
        return _json({"folder": str(self.control.models_dir), "models": models})

    async def _events(self, request):
        from aiohttp import web

        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        try:
            while not self._stopping.is_set():
                await response.write(f"data: {json.dumps(self.control.state())}\n\n".encode())
                try:
                    await asyncio.wait_for(self._stopping.wait(), 0.5)
                except TimeoutError:
                    pass
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    async def _preview(self, request):
        from aiohttp import web

        which = "input" if request.query.get("which") == "input" else "output"
        fid, data = self.control.preview_jpeg(which)
        if data is None:
            return web.Response(status=204, headers={"X-Swapcam-Frame": str(fid)})
        return web.Response(body=data, content_type="image/jpeg", headers={"X-Swapcam-Frame": str(fid)})

    async def _profile(self, request):
        action = request.match_info["action"]
        try:
            if action == "save":
                return _json({"saved": self.control.save_profile()})
            if action == "load":
                return _json(self.control.load_profile())
        except SwapcamError as exc:
            return _error(400, str(exc))
        return _error(404, f"no profile action {action!r}")

    # -- lifetime -------------------------------------------------------------------------------------------------
    def start(self) -> PanelServer:
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            from aiohttp import web

            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._stopping = asyncio.Event()
            runner = web.AppRunner(self._app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
            try:
                loop.run_until_complete(runner.setup())
                site = web.TCPSite(runner, self.host, self.port)
                loop.run_until_complete(site.start())
                if self.port == 0:
                    self.port = runner.addresses[0][1]
            except BaseException as exc:
                failure.append(exc)
                started.set()
                loop.run_until_complete(runner.cleanup())
                loop.close()
                return
            started.set()
            try:
                loop.run_until_complete(self._stopping.wait())
            finally:
                loop.run_until_complete(runner.cleanup())
                loop.close()

        self._thread = threading.Thread(target=serve, name="panel-http", daemon=True)
        self._thread.start()
        started.wait(30)
        if failure:
            exc = failure[0]
            raise SwapcamError(f"cannot start the panel on {self.host}:{self.port}: "
                               f"{getattr(exc, 'strerror', None) or exc}") from exc  # fmt: skip
        log.info("panel: %s", self.url)
        return self

    def close(self) -> None:
        if self._closed or self._thread is None:
            return
        self._closed = True
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)

    def __enter__(self) -> PanelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _static_bytes(name: str) -> bytes:
    return resources.files("swapcam.live.panel").joinpath("static", name).read_bytes()


def _json(data: Any):
    from aiohttp import web

    return web.json_response(data)


def _error(status: int, message: str):
    from aiohttp import web

    return web.json_response({"error": message}, status=status)
