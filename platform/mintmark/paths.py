"""Puts the repository root and platform/ on sys.path for entry points other than manage.py."""

import sys
from pathlib import Path

PLATFORM_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = PLATFORM_DIR.parent

for path in (str(PLATFORM_DIR), str(REPO_DIR)):
    if path not in sys.path:
        sys.path.insert(0, path)
