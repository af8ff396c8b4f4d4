import os

from mintmark import paths  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mintmark.settings")

from django.core.wsgi import get_wsgi_application

from mintmark.warm import prompt_gate_warm

application = get_wsgi_application()
prompt_gate_warm()
