"""Sending ZPL straight to a Zebra printer (LABEL_PRINTER_URL, tcp://host:9100: the raw port
every networked Zebra listens on) as a background job, so a slow or switched-off printer never
holds a request. The job's page shows whether the labels went out."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from flask import current_app

from app.domain import DomainError, Text
from app.jobs.queue import JobContext, JobError, enqueue, job_handler
from app.labels import services, zpl
from app.models import Job, LabelSeries, User

LABEL_PRINT = "label_print"
SEND_TIMEOUT_SECONDS = 10


def printer_address(url: str | None) -> tuple[str, int] | None:
    """(host, port) of LABEL_PRINTER_URL, None when unset; a malformed one is refused."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    try:
        port = parts.port or 9100
    except ValueError:
        port = None
    if parts.scheme != "tcp" or not parts.hostname or port is None:
        raise DomainError("printer_not_configured",
                          Text("LABEL_PRINTER_URL must look like tcp://printer-host:9100."), 409)
    return parts.hostname, port


def configured_printer() -> tuple[str, int] | None:
    return printer_address(current_app.config.get("LABEL_PRINTER_URL"))


def send_to_printer(address: tuple[str, int], data: bytes) -> None:
    with socket.create_connection(address, timeout=SEND_TIMEOUT_SECONDS) as connection:
        connection.sendall(data)


def start_print(actor: User, series: LabelSeries, dpi: int) -> Job:
    """Queue the series for the printer and audit it; the caller commits, then wakes the runner."""
    address = configured_printer()
    if address is None:
        raise DomainError("printer_not_configured",
                          Text("No label printer is set up (LABEL_PRINTER_URL): download the "
                               "ZPL or the PDF instead."), 409)
    job = enqueue(LABEL_PRINT, {"series_id": series.id, "dpi": dpi}, actor)
    services.audit_download(actor, services.PRINT, "label_series", series.id,
                            printer=f"{address[0]}:{address[1]}", dpi=dpi, labels=series.count)
    return job


@job_handler(LABEL_PRINT)
def print_series(context: JobContext) -> dict:
    address = configured_printer()
    if address is None:
        raise JobError("No label printer is set up (LABEL_PRINTER_URL) on the server that ran "
                       "this job.")
    codes = services.series_codes(int(context.params["series_id"]))
    data = zpl.zpl_labels(codes, int(context.params.get("dpi", 203))).encode("utf-8")
    printer = f"{address[0]}:{address[1]}"
    try:
        send_to_printer(address, data)
    except OSError as error:
        raise JobError(f"The label printer at {printer} did not take the labels "
                       f"({error.strerror or error.__class__.__name__}): check that it is "
                       "on and connected, then print again.") from None
    context.progress(len(codes), len(codes), force=True)
    return {"labels": len(codes), "printer": printer, "bytes_sent": len(data)}
