"""The gunicorn and flask target: `gunicorn main:app`, `flask --app main ...`."""

import sys

from app import create_app
from app.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # a clear line naming the variable, not a traceback
    sys.exit(f"TraceTrack configuration error: {exc}")
