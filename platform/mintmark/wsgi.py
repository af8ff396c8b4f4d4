import os
import threading

from mintmark import paths  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mintmark.settings")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()


def _warm_prompt_gate() -> None:
    # The prompt classifier takes seconds to load; load it now, beside the first requests,
    # rather than inside the first submission. A failure here is reported again (as a 503)
    # by the request that needs it.
    from moderation.prompt_classifier import ClassifierUnavailable, load_classifier

    try:
        load_classifier()
    except ClassifierUnavailable:
        pass


threading.Thread(target=_warm_prompt_gate, name="warm-prompt-gate", daemon=True).start()
