"""The gunicorn worker class of the web server (`manage.py serve`, compose's `web`): uvicorn's,
so Django runs under ASGI and an event stream is a coroutine of the worker's event loop, not a
thread held for minutes. gunicorn still manages the processes (restarts, graceful stops).

Two changes to uvicorn's defaults:
- Django has no ASGI lifespan handler, so the lifespan protocol is off instead of probed.
- uvicorn waits for open connections without limit when stopping, and event streams stay open
  for minutes: after half of gunicorn's graceful timeout it cancels what is still open (each
  stream's `finally` frees its slot) rather than being killed when the timeout ends."""

from uvicorn_worker import UvicornWorker


class WebWorker(UvicornWorker):
    CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, "lifespan": "off"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.config.timeout_graceful_shutdown = max(1, self.cfg.graceful_timeout // 2)
