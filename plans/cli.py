"""`redline plans ...`: check, import, approve, export and review plan files."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from command.db import session_scope
from plans.enterprises import check_enterprises_text, format_of
from plans.service import (
    ENTERPRISE_FILE_STEM,
    approve,
    export,
    get_version,
    import_directory,
    overdue_reviews,
)
from plans.validation import PlanError, PlanValidationError, validate_plan_text

SessionsFactory = Callable[[], Any]


def check_file(path: Path) -> list[str]:
    """Every problem of a plan or enterprise file, FILE:LINE: path: message; [] when valid."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{path}: cannot read: {exc}"]
    try:
        if path.stem == ENTERPRISE_FILE_STEM:
            check_enterprises_text(text, format_of(path), map_bbox=None)
        else:
            validate_plan_text(text, format_of(path), map_bbox=None)
    except PlanValidationError as exc:
        return [p.format(str(path)) for p in exc.problems]
    return []


def cmd_check(args: argparse.Namespace) -> int:
    bad = 0
    for name in args.files:
        problems = check_file(Path(name))
        for line in problems:
            print(line)
        bad += bool(problems)
        if not problems:
            print(f"{name}: ok")
    return 1 if bad else 0




def register_cli(sub: Any, hub_factory: SessionsFactory) -> None:
    """Add the `plans` sub-commands; hub_factory builds the hub lazily (only when needed)."""
    plans = sub.add_parser("plans", help="check, import, approve and export emergency plans")
    cmds = plans.add_subparsers(dest="plans_cmd", required=True)

    check = cmds.add_parser("check", help="validate plan files without touching the database")
    check.add_argument("files", nargs="+")
    check.set_defaults(func=cmd_check)

    def cmd_import(args: argparse.Namespace) -> int:
        hub = hub_factory()
        directory = Path(args.directory)
        if not directory.is_dir():
            print(f"{directory}: not a directory", file=sys.stderr)
            return 2
        with session_scope(hub.sessions) as s:
            report = import_directory(s, directory, author=args.author,
                                      approver=None if args.draft else args.author,
                                      map_bbox=hub.graph.bbox)
        for line in report.lines():
            print(line)
        if report.enterprises:
            print(f"enterprises: {len(report.enterprises.created)} created, "
                  f"{len(report.enterprises.updated)} updated")
        print(f"plans: {len(report.imported)} imported, {len(report.unchanged)} unchanged, "
              f"{len(report.failed)} files failed")
        return 0 if report.ok else 1

    imp = cmds.add_parser("import", help="import enterprises.yaml and every plan under DIR")
    imp.add_argument("directory")
    imp.add_argument("--author", default="import")
    imp.add_argument("--draft", action="store_true", help="store as drafts, do not approve")
    imp.set_defaults(func=cmd_import)

    def cmd_approve(args: argparse.Namespace) -> int:
        hub = hub_factory()
        try:
            with session_scope(hub.sessions) as s:
                row = approve(s, args.plan_id, args.version, args.approver, dt.date.today())
                print(f"plan {args.plan_id} version {row.version} approved; "
                      f"next review {row.next_review}")
        except PlanError as exc:
            print(exc.message, file=sys.stderr)
            return 1
        return 0

    ap = cmds.add_parser("approve", help="make a draft version current")
    ap.add_argument("plan_id", type=int)
    ap.add_argument("version", type=int)
    ap.add_argument("--approver", required=True)
    ap.set_defaults(func=cmd_approve)

    def cmd_export(args: argparse.Namespace) -> int:
        hub = hub_factory()
        try:
            with hub.sessions() as s:
                sys.stdout.write(export(get_version(s, args.plan_id, args.version), args.format))
        except PlanError as exc:
            print(exc.message, file=sys.stderr)
            return 1
        return 0

    ex = cmds.add_parser("export", help="print a version as YAML or JSON")
    ex.add_argument("plan_id", type=int)
    ex.add_argument("version", type=int)
    ex.add_argument("--format", choices=["yaml", "json"], default="yaml")
    ex.set_defaults(func=cmd_export)

    def cmd_overdue(_args: argparse.Namespace) -> int:
        hub = hub_factory()
        with hub.sessions() as s:
            rows = overdue_reviews(s, dt.date.today())
            for v in rows:
                print(f"plan {v.plan_id} version {v.version}: review was due {v.next_review}")
        print(f"{len(rows)} plans overdue for review")
        return 0

    od = cmds.add_parser("overdue", help="list plans past their review date")
    od.set_defaults(func=cmd_overdue)
