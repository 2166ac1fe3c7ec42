"""Production entry point: `python wsgi.py` serves the hub (eventlet by default).

Several processes can serve one hub: give each the same DATABASE_URL (PostgreSQL) and
REDIS_URL, its own PORT, and put a sticky load balancer in front (docs/DEPLOY.md).
`ASYNC_MODE=gevent gunicorn -k gevent -w 1 wsgi:app` serves the same app. ASYNC_MODE=threading
runs Werkzeug's threaded server: for development and bench/load.py comparisons only.
"""

from __future__ import annotations

import os

ASYNC_MODE = os.environ.get("ASYNC_MODE", "eventlet")
if ASYNC_MODE == "eventlet":
    # psycopg's default wait is a C function that monkey-patching cannot reach: under
    # eventlet every PostgreSQL query would stall the whole process, and a greenlet waiting
    # for the seq counter row that another greenlet of the same process holds would freeze
    # it for good. Its select() wait is green once eventlet has patched select.
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
    import eventlet

    eventlet.monkey_patch()
elif ASYNC_MODE == "gevent":
    from gevent import monkey

    # gunicorn's gevent worker has patched already; psycopg notices gevent by itself
    if not monkey.is_module_patched("socket"):
        monkey.patch_all()

from web import create_app  # noqa: E402
from web.extensions import socketio  # noqa: E402

app = create_app({"ASYNC_MODE": ASYNC_MODE})


def port_in_use(host: str, port: int) -> bool:
    """Whether another server already listens there. eventlet's listener sets SO_REUSEPORT,
    so a second hub would otherwise share the port with the first and the kernel would
    split requests between two different hubs."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def main() -> None:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    if port_in_use(host, port):
        raise SystemExit(f"redline: {host}:{port} is already in use (another hub?); "
                         "stop it or choose another PORT")
    socketio.run(app, host=host, port=port, log_output=False,
                 # Werkzeug is refused outside debug mode unless asked for explicitly
                 allow_unsafe_werkzeug=ASYNC_MODE == "threading")


if __name__ == "__main__":
    main()
