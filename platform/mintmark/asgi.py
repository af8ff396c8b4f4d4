import os

from mintmark import paths  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mintmark.settings")

from django.core.asgi import get_asgi_application

from mintmark.warm import prompt_gate_warm

application = get_asgi_application()
prompt_gate_warm()
