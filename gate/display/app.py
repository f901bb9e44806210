"""The display's aiohttp application: its routes, the Host and Origin checks, the security headers.

- `GET /`: the device's own screen: the visitor screen of a lane, the kiosk screen of a kiosk,
  the demo page in the demo;
- `GET /visitor`, `/kiosk`, `/console` (and `/demo` in the demo): each screen's page, for
  the display's lane or `?lane=L`;
- `GET /static/<name>`: the pages' CSS, JavaScript and the start page (the files shipped in
  static/, listed once at import);
- `GET /ws?screen=...`: the websocket (gate.display.feed), same origin only.

Every response carries a restrictive Content-Security-Policy (scripts, styles and
connections from the page's own origin only: no inline script, no CDN), `nosniff`, and no
referrer; only a page of its own may frame one (the demo page frames the visitor screen).
On a loopback address the Host header must name the daemon's own address (a
DNS-rebinding page cannot reach it under another name); the websocket also wants an Origin
equal to that host, else 403: another site open in the browser cannot read the lane.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from aiohttp import hdrs, web

from gate.display.feed import Feed

STATIC = Path(__file__).parent / "static"

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Every file the app serves, by URL name, with its content type: what the package ships.
FILES = {p.name: _TYPES[p.suffix] for p in sorted(STATIC.iterdir()) if p.suffix in _TYPES and p.is_file()}
PAGES = ("visitor", "kiosk", "console", "demo")  # served at /<name>, never under /static/

FEED = web.AppKey("feed", Feed)
HOME = web.AppKey("home", str)  # the page `/` serves
# The Host names the app answers to; empty: any (the display listens on a non-loopback address).
HOSTS = web.AppKey("hosts", set[str])

_SANE_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(feed: Feed, hosts: set[str], *, home: str, pages: Iterable[str]) -> web.Application:
    """The app of `feed`'s screens; `hosts` is filled once the port is bound (see `allowed_hosts`);
    `/` serves page `home`, and each of `pages` is served at `/<name>`."""
    app = web.Application(middlewares=[_guard], client_max_size=4096)
    app[FEED] = feed
    app[HOSTS] = hosts
    app[HOME] = home
    app.router.add_get("/", _home)
    for name in pages:
        app.router.add_get(f"/{name}", functools.partial(_page, name))
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/ws", _websocket)
    app.on_response_prepare.append(_headers)
    return app


def allowed_hosts(host: str, port: int) -> set[str]:
    """The Host headers a display on `host`:`port` answers to; empty (any) unless `host` is loopback."""
    if not _loopback(host):
        return set()
    names = {"127.0.0.1", "localhost", "[::1]", f"[{host}]" if ":" in host else host}
    hosts = {f"{name}:{port}" for name in names}
    if port == 80:
        hosts |= names
    return {h.lower() for h in hosts}


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    hosts = request.app[HOSTS]
    if hosts and request.host.lower() not in hosts:
        raise web.HTTPForbidden(text="unknown host")
    if request.method not in (hdrs.METH_GET, hdrs.METH_HEAD):
        raise web.HTTPMethodNotAllowed(request.method, [hdrs.METH_GET])
    return await handler(request)


async def _home(request: web.Request) -> web.StreamResponse:
    return _file(f"{request.app[HOME]}.html")


async def _page(name: str, request: web.Request) -> web.StreamResponse:
    return _file(f"{name}.html")


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in FILES or name.removesuffix(".html") in PAGES:
        raise web.HTTPNotFound()
    return _file(name)


def _file(name: str) -> web.FileResponse:
    return web.FileResponse(STATIC / name, headers={hdrs.CONTENT_TYPE: FILES[name]})


async def _websocket(request: web.Request) -> web.StreamResponse:
    origin = request.headers.get(hdrs.ORIGIN, "")
    if origin.lower() != f"{request.scheme}://{request.host}".lower():
        raise web.HTTPForbidden(text="cross-origin websocket refused")
    return await request.app[FEED].handle(request)


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    hosts = request.app[HOSTS]
    host = request.host.lower()
    echoed = (not hosts or host in hosts) and _SANE_HOST.match(host)  # a refused or odd Host: not echoed
    connect = "'self'" + (f" ws://{host}" if echoed else "")
    response.headers[hdrs.CONTENT_SECURITY_POLICY] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    )
    response.headers[hdrs.X_CONTENT_TYPE_OPTIONS] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    # A page or script left in a cache must not outlive a daemon's upgrade: always revalidated.
    response.headers[hdrs.CACHE_CONTROL] = "no-cache"
