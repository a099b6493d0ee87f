"""The embedded SQLite database of the one-machine trial: WAL (readers never wait for the
writer), a busy timeout, foreign keys, and a real BEGIN at the start of every transaction
(pysqlite would otherwise run SELECTs outside it). SQLite transactions are serializable: one
whose snapshot went stale before it writes fails with "database is locked", which the app
answers with 503 database_busy and the station resends; nothing is half-written."""

from flask import Flask
from sqlalchemy import event

from app.extensions import db


def configure_sqlite(app: Flask) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine = db.engine  # creating the engine opens no connection

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event issues BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN")
