"""Database schema migrations with Alembic; the hub upgrades to head on start.

Developer commands (run from the repository root):

    python -m command.migrate revision "add drill tables"   # autogenerate from the models
    python -m command.migrate check [DATABASE_URL]          # models == migrations? (exit 1)
    python -m command.migrate upgrade [DATABASE_URL]        # what every hub does on start

`revision` diffs the models against a scratch SQLite database brought to head, so it needs no
server; review the generated file (renames come out as drop + add) before committing it.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any

from alembic import command as alembic_command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect

MIGRATIONS = Path(__file__).parent / "migrations"
# a table every schema of this project has had since the first release
_MARKER_TABLE = "events"


def metadata() -> MetaData:
    """Every table of every package, registered on the one declarative base."""
    import command.models  # noqa: F401
    import plans.models  # noqa: F401
    from command.db import Base

    for optional in ("command.drill_models", "command.sensor_models", "plans.resource_models"):
        # models still being written may not exist yet on every branch
        with contextlib.suppress(ImportError):
            __import__(optional)
    return Base.metadata


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # '%' would be read as interpolation by configparser (passwords may contain it)
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def head_revision() -> str | None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def _sqlite_fk(conn: Connection, on: bool) -> None:
    # PRAGMA foreign_keys is a no-op inside a transaction, and batch migrations on SQLite
    # rebuild tables (drop + rename), which with enforcement on would cascade or fail; so it
    # is switched on the raw connection before the migration transaction begins
    conn.connection.driver_connection.execute(  # type: ignore[union-attr]
        f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def diff(conn: Connection) -> list[Any]:
    """What Alembic would have to change to make this database match the models."""
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, metadata()))


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (creates it in an empty database).

    Safe when several hub processes start together: they take turns under a cross-process
    lock, and whoever comes second finds the schema at head and does nothing.
    """
    from command.db import cross_process_lock

    cfg = alembic_config(engine)
    with cross_process_lock(engine, "migrate"), engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            _sqlite_fk(conn, on=False)
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                _adopt_unversioned(conn, cfg)
                alembic_command.upgrade(cfg, "head")
        finally:
            if sqlite:
                _sqlite_fk(conn, on=True)


def _adopt_unversioned(conn: Connection, cfg: Config) -> None:
    """A database made by the old `create_all` start-up has tables but no alembic_version:
    stamp it at head if it matches the models exactly, else refuse to guess."""
    tables = set(inspect(conn).get_table_names())
    if "alembic_version" in tables or _MARKER_TABLE not in tables:
        return
    problems = diff(conn)
    if problems:
        raise RuntimeError(
            "this database was created without migrations and differs from the models; "
            f"migrate it by hand, then `alembic stamp head`: {problems[:5]}"
        )
    alembic_command.stamp(cfg, "head")


def revision(message: str) -> None:
    """Autogenerate a new revision from the models (developer tool)."""
    from command.db import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        try:
            upgrade(engine)
            cfg = alembic_config(engine)
            # generated code is reformatted so it passes `ruff check` like the rest of the repo
            cfg.set_section_option("post_write_hooks", "hooks", "ruff_format, ruff_fix")
            for name, args in (("ruff_format", "format"), ("ruff_fix", "check --fix --quiet")):
                cfg.set_section_option("post_write_hooks", f"{name}.type", "module")
                cfg.set_section_option("post_write_hooks", f"{name}.module", "ruff")
                cfg.set_section_option("post_write_hooks", f"{name}.options",
                                       f"{args} REVISION_SCRIPT_FILENAME")
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                if not diff(conn):
                    print("models and migrations agree; no revision written")
                    return
                alembic_command.revision(cfg, message=message, autogenerate=True)
        finally:
            engine.dispose()


def check(engine: Engine) -> list[Any]:
    """Upgrade to head and return the differences left between models and migrations."""
    upgrade(engine)
    with engine.connect() as conn:
        return diff(conn)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from command.db import make_engine

    parser = argparse.ArgumentParser(prog="python -m command.migrate")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_rev = sub.add_parser("revision", help="autogenerate a revision from the models")
    p_rev.add_argument("message")
    for name in ("check", "upgrade"):
        p = sub.add_parser(name)
        p.add_argument("url", nargs="?", help="database URL (default: a scratch SQLite file)")
    args = parser.parse_args(argv)
    if args.cmd == "revision":
        revision(args.message)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(args.url or f"sqlite:///{Path(tmp) / 'scratch.db'}")
        try:
            if args.cmd == "upgrade":
                upgrade(engine)
                print(f"at head {head_revision()}")
                return 0
            problems = check(engine)
        finally:
            engine.dispose()
    for p in problems:
        print(p)
    if problems:
        print("models differ from migrations: run python -m command.migrate revision MSG",
              file=sys.stderr)
        return 1
    print("models and migrations agree")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
