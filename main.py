"""The gunicorn and flask target: `gunicorn main:app`, `flask --app main ...`."""

from app import create_app

app = create_app()
