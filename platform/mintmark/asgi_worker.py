"""The gunicorn worker class of the web server (`manage.py serve`, compose's `web`): uvicorn's,
so Django runs under ASGI and an event stream is a coroutine of the worker's event loop, not a
thread held for minutes. gunicorn still manages the processes (restarts, graceful stops).

Three changes to uvicorn's defaults:
- Django has no ASGI lifespan handler, so the lifespan protocol is off instead of probed.
- uvicorn would take the client's address from X-Forwarded-For on any connection from
  127.0.0.1 (FORWARDED_ALLOW_IPS); Django gets the socket's address instead, and only
  MINTMARK_TRUSTED_PROXIES decides whose X-Forwarded-For counts (throttle/client.py).
- A stopping uvicorn waits for open connections, without limit unless told, and event streams
  stay open for minutes. So the server first ends this process's streams the way a job's end
  does (generation.events.streams_close: each frees its slot, its client reconnects to another
  process), and it cancels whatever is still open after half of gunicorn's graceful timeout
  rather than being killed when the timeout ends."""

import sys

from gunicorn.arbiter import Arbiter
from uvicorn import Server
from uvicorn_worker import UvicornWorker


class _Server(Server):
    async def shutdown(self, sockets=None) -> None:
        from generation.events import streams_close

        await streams_close()
        await super().shutdown(sockets)


class WebWorker(UvicornWorker):
    CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, "lifespan": "off", "proxy_headers": False}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.config.timeout_graceful_shutdown = max(1, self.cfg.graceful_timeout // 2)

    async def _serve(self) -> None:
        # uvicorn-worker 0.4.0's own, with the server above.
        self.config.app = self.wsgi
        server = _Server(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
