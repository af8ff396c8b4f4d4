#!/usr/bin/env python
import os
import sys
from pathlib import Path

# platform/ holds the Django project and core apps but is not a package: a package named
# `platform` would shadow the stdlib module and break `import uuid`.
sys.path.insert(0, str(Path(__file__).resolve().parent / "platform"))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mintmark.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
