"""The `redline` command line: serve the hub, manage users, import maps and plans."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from typing import Any


def _app_hub(load_demo: bool = False) -> Any:
    from web import create_app

    app = create_app({"LOAD_DEMO": load_demo, "ASYNC_MODE": "threading",
                      "DRILL_SCHEDULER": False})
    return app.extensions["redline"]


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the hub; creates the database and loads the demo on first start."""
    os.environ["ASYNC_MODE"] = args.async_mode
    os.environ["HOST"] = args.host
    os.environ["PORT"] = str(args.port)
    import wsgi

    hub = wsgi.app.extensions["redline"]
    url = f"http://{args.host}:{args.port}/"
    print(f"Redline hub on {url}  (database: {hub.engine.url.render_as_string(True)},"
          f" async mode: {hub.config['ASYNC_MODE']})")
    from sqlalchemy import select

    from command.auth import verify_password
    from command.models import Role, User

    with hub.sessions() as s:
        duty = s.scalar(select(User).where(User.username == "duty"))
        demo = duty is not None and verify_password(duty.password_hash, "duty")
        units = [u for u in s.scalars(select(User).where(User.role == Role.UNIT)
                                      .order_by(User.id))]
    if demo:
        print("Demo logins (username / password) - demo data only, set real passwords with"
              " `redline users set-password NAME`:")
        print("  command room  duty / duty      " + url)
        print("  trainer       trainer / trainer " + url + "trainer")
        print("  admin         admin / admin")
        if units:
            print("  unit tablets  <callsign> / <callsign> at " + url + "unit, callsigns: "
                  + ", ".join(u.username for u in units))
    sys.stdout.flush()
    wsgi.main()
    return 0


def cmd_init_db(args: argparse.Namespace) -> int:
    hub = _app_hub(load_demo=args.demo)
    print(f"database ready: {hub.engine.url.render_as_string(True)}")
    return 0


def cmd_set_password(args: argparse.Namespace) -> int:
    from command.auth import AuthError, check_password, set_password
    from command.db import session_scope
    from command.errors import CommandError

    password = args.password or getpass.getpass(f"new password for {args.username}: ")
    try:
        check_password(args.username, password)
        hub = _app_hub()
        with session_scope(hub.sessions) as s:
            set_password(s, args.username, password)
    except (CommandError, AuthError) as exc:
        print(f"refused: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    print(f"password set for {args.username}; their tokens are revoked")
    return 0


def cmd_add_user(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import IntegrityError

    from command.auth import check_password, create_user
    from command.db import session_scope
    from command.errors import CommandError
    from command.models import Role

    password = args.password or getpass.getpass(f"password for {args.username}: ")
    try:
        check_password(args.username, password)
        hub = _app_hub()
        with session_scope(hub.sessions) as s:
            create_user(s, username=args.username, password=password, role=Role(args.role),
                        unit_id=args.unit_id, region_id=args.region_id)
    except CommandError as exc:
        print(f"refused: {exc.message}" + (f" ({exc.field})" if exc.field else ""),
              file=sys.stderr)
        return 1
    except IntegrityError:
        print("refused: the unit or region named does not exist", file=sys.stderr)
        return 1
    print(f"user {args.username} ({args.role}) created")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="redline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the hub")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    serve.add_argument("--async-mode", default=os.environ.get("ASYNC_MODE", "eventlet"),
                       choices=["eventlet", "gevent", "threading"])
    serve.set_defaults(func=cmd_serve)

    init = sub.add_parser("init-db", help="create the database (and the demo with --demo)")
    init.add_argument("--demo", action="store_true")
    init.set_defaults(func=cmd_init_db)

    users = sub.add_parser("users", help="manage accounts").add_subparsers(dest="users_cmd",
                                                                           required=True)
    sp = users.add_parser("set-password", help="set a user's password")
    sp.add_argument("username")
    sp.add_argument("--password", help="non-interactive (avoid: it lands in shell history)")
    sp.set_defaults(func=cmd_set_password)
    add = users.add_parser("add", help="create a user")
    add.add_argument("username")
    add.add_argument("--role", required=True,
                     choices=["duty_officer", "unit", "trainer", "admin"])
    add.add_argument("--unit-id", type=int)
    add.add_argument("--region-id", type=int)
    add.add_argument("--password")
    add.set_defaults(func=cmd_add_user)

    for register in _plugins():
        register(sub)
    return parser


def _plugins() -> list[Callable[[Any], None]]:
    """Sub-commands owned by the other packages (maps, plans, simulator, drills)."""
    out: list[Callable[[Any], None]] = []
    from dispatch.maps import register_cli as maps_cli

    out.append(maps_cli)
    from plans.cli import register_cli as plans_cli

    out.append(lambda sub: plans_cli(sub, _app_hub))
    try:
        from command.simulator import register_cli as sim_cli
    except ImportError:
        pass
    else:
        out.append(sim_cli)
    return out


def _patch_before_imports(argv: list[str]) -> None:
    """`serve`: eventlet or gevent must patch sockets, locks and threads before the rest of
    the hub (and the CLI's plugins) is imported, or early locks stay un-green."""
    mode = os.environ.get("ASYNC_MODE", "eventlet")
    for i, arg in enumerate(argv):
        if arg == "--async-mode" and i + 1 < len(argv):
            mode = argv[i + 1]
        elif arg.startswith("--async-mode="):
            mode = arg.split("=", 1)[1]
    # `redline serve` is the embedded default: the demo loads into an empty database
    os.environ.setdefault("LOAD_DEMO", "1")
    if mode in ("eventlet", "gevent", "threading"):
        os.environ["ASYNC_MODE"] = mode
        import wsgi  # noqa: F401  (patches on import, then builds the app)


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["serve"]:
        _patch_before_imports(args_list)
    args = build_parser().parse_args(args_list)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
