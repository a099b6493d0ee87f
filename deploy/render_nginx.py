#!/usr/bin/env python3
"""Write the nginx configuration that puts TraceTrack's app hosts behind one address.

    python3 deploy/render_nginx.py --upstream 10.0.0.11:5000 --upstream 10.0.0.12:5000 \\
        --server-name tracetrack.example.com --static-root /srv/tracetrack/static > nginx.conf

deploy/nginx.conf is this script's output with its defaults (a test keeps them equal). The
numbers that must agree with the app come from the same environment variables as the app and
gunicorn.conf.py, with the same defaults: MAX_CONTENT_LENGTH (request size), GUNICORN_TIMEOUT
and GUNICORN_KEEPALIVE (proxy timeouts, upstream keep-alive). Standard library only."""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_UPSTREAMS = ("10.0.0.11:5000", "10.0.0.12:5000")
# The scan endpoints that are idempotent by design (DESIGN section 5: a resent scan answers
# replayed / already_linked / parent_opened and changes nothing). Only these may be resent to
# the other host after the request reached a host that then failed. Never undo.
IDEMPOTENT_POSTS = r"^/api/v1/scans/(parent|child|batch)$"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def render(upstreams: list[str], *, server_name: str = "tracetrack.example.com",
           static_root: str = "/srv/tracetrack/static", runtime_dir: str = "/run/tracetrack-nginx",
           log_dir: str = "/var/log/nginx", listen: str | None = None,
           tls_certificate: str = "/etc/ssl/tracetrack/fullchain.pem",
           tls_key: str = "/etc/ssl/tracetrack/privkey.pem",
           worker_processes: str = "auto") -> str:
    """The whole nginx.conf. `listen` "127.0.0.1:8120" serves plain HTTP there (a trial or a
    test); None terminates TLS on 443 and redirects port 80 to it."""
    max_body = _env_int("MAX_CONTENT_LENGTH", 16 * 1024 * 1024)
    gunicorn_timeout = _env_int("GUNICORN_TIMEOUT", 60)
    gunicorn_keepalive = _env_int("GUNICORN_KEEPALIVE", 5)
    # nginx must give up an idle upstream connection before gunicorn closes it, or a request
    # can be written to a connection gunicorn is closing.
    upstream_idle = max(1, gunicorn_keepalive - 1)
    # gunicorn kills a worker silent for `timeout` seconds; wait a little longer so that the
    # answer (or the reset) comes from gunicorn, not from nginx's own timer.
    read_timeout = gunicorn_timeout + 5
    servers = "\n".join(f"        server {host} max_fails=1 fail_timeout=10s;"
                        for host in upstreams)
    if listen:
        listeners = f"        listen {listen};"
        redirect = ""
        tls = ""
    else:
        listeners = "        listen 443 ssl http2;\n        listen [::]:443 ssl http2;"
        redirect = f"""
    server {{
        listen 80;
        listen [::]:80;
        server_name {server_name};
        return 301 https://$host$request_uri;
    }}
"""
        tls = f"""
        # TLS terminates here. Replace the placeholders with the real certificate and key.
        ssl_certificate     {tls_certificate};
        ssl_certificate_key {tls_key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:tracetrack_tls:10m;
        ssl_session_timeout 1d;
        add_header Strict-Transport-Security "max-age=31536000" always;
"""
    return f"""# TraceTrack behind nginx. Written by deploy/render_nginx.py; change the script, not this file.
# Start:  nginx -c /path/to/this/nginx.conf   (the paths below need no root once they are writable)
# App hosts set PROXY_FIX_HOPS=1: this proxy is the one hop whose X-Forwarded-* they trust.

worker_processes {worker_processes};
pid {runtime_dir}/nginx.pid;
error_log {log_dir}/tracetrack-error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    types {{
        text/html html;
        text/css css;
        application/javascript js mjs;
        application/json json map;
        image/svg+xml svg;
        image/png png;
        image/x-icon ico;
        font/woff2 woff2;
    }}
    default_type application/octet-stream;
    sendfile on;
    server_tokens off;
    client_body_temp_path {runtime_dir}/client_body;
    proxy_temp_path {runtime_dir}/proxy;
    fastcgi_temp_path {runtime_dir}/fastcgi;
    uwsgi_temp_path {runtime_dir}/uwsgi;
    scgi_temp_path {runtime_dir}/scgi;

    # One JSON line per request: which host answered (two when nginx moved the request to the
    # other host) and with what.
    log_format tracetrack escape=json '{{"time":"$time_iso8601","request_id":"$request_id",'
        '"method":"$request_method","uri":"$uri","status":"$status",'
        '"upstream":"$upstream_addr","upstream_status":"$upstream_status",'
        '"request_time":"$request_time"}}';
    access_log {log_dir}/tracetrack-access.log tracetrack;

    gzip on;
    gzip_types text/css application/javascript application/json image/svg+xml;

    # A static URL with ?v=<content hash> (app/assets.py) never changes content: keep it a
    # year. Without it (modules imported by relative path), ask every time (ETag answers 304).
    map $arg_v $static_cache_control {{
        ""      "no-cache";
        default "public, max-age=31536000, immutable";
    }}

    upstream tracetrack {{
{servers}
        keepalive 32;
        keepalive_timeout {upstream_idle}s;   # under gunicorn's keep-alive ({gunicorn_keepalive} s)
        keepalive_requests 1000;
    }}
{redirect}
    server {{
{listeners}
        server_name {server_name};
{tls}
        client_max_body_size {max_body};   # = MAX_CONTENT_LENGTH: bigger is 413 here, as in the app
        client_body_buffer_size 1m;

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $host;
        proxy_set_header X-Request-ID $request_id;
        proxy_connect_timeout 2s;    # a host that does not answer is skipped quickly
        proxy_send_timeout {gunicorn_timeout}s;
        proxy_read_timeout {read_timeout}s;   # gunicorn's worker timeout ({gunicorn_timeout} s) + 5
        # A host that refuses or drops the connection: the request goes to the next host.
        # nginx resends a POST only when the first host never got it...
        proxy_next_upstream error timeout;
        proxy_next_upstream_tries 2;
        proxy_next_upstream_timeout 15s;

        location / {{
            proxy_pass http://tracetrack;
        }}

        # ...except the scans, which are idempotent by design: a scan the lost host may have
        # taken is resent to the other, which answers replayed or already_linked.
        location ~ {IDEMPOTENT_POSTS} {{
            proxy_next_upstream error timeout non_idempotent;
            proxy_pass http://tracetrack;
        }}

        # Prometheus scrapes every host directly (with METRICS_TOKEN), never through here:
        # through the balancer it would see one host at random.
        location = /metrics {{
            deny all;
        }}

        location /static/ {{
            alias {static_root.rstrip("/")}/;
            add_header Cache-Control $static_cache_control;
            access_log off;
        }}
    }}
}}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", action="append", metavar="HOST:PORT",
                        help="an app host (repeat for each); default: two example hosts")
    parser.add_argument("--server-name", default="tracetrack.example.com")
    parser.add_argument("--static-root", default="/srv/tracetrack/static",
                        help="the release's static/ directory, readable by nginx")
    parser.add_argument("--runtime-dir", default="/run/tracetrack-nginx",
                        help="pid file and temporary files (writable by nginx)")
    parser.add_argument("--log-dir", default="/var/log/nginx")
    parser.add_argument("--listen", help="plain HTTP on this address (a trial or a test) "
                                         "instead of TLS on 443")
    parser.add_argument("--tls-certificate", default="/etc/ssl/tracetrack/fullchain.pem")
    parser.add_argument("--tls-key", default="/etc/ssl/tracetrack/privkey.pem")
    parser.add_argument("--worker-processes", default="auto")
    parser.add_argument("--output", "-o", help="write here instead of stdout")
    args = parser.parse_args(argv)
    text = render(args.upstream or list(DEFAULT_UPSTREAMS), server_name=args.server_name,
                  static_root=args.static_root, runtime_dir=args.runtime_dir,
                  log_dir=args.log_dir, listen=args.listen,
                  tls_certificate=args.tls_certificate, tls_key=args.tls_key,
                  worker_processes=args.worker_processes)
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
