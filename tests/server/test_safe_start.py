"""A safe first start: a second hub on a busy port is refused in one line, and the demo never
loads onto a database that routes on another map."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from command.models import User
from dispatch.maps import import_map
from tests.liveserver import ROOT, live_hub
from web import create_app

ROADS = Path(__file__).resolve().parents[1] / "data" / "roads"


@pytest.mark.server
def test_a_second_hub_on_a_busy_port_is_refused(tmp_path: Path) -> None:
    with live_hub(tmp_path, {"DRILL_SCHEDULER": "0"}) as hub:
        env = {**os.environ, "PORT": str(hub.port), "HOST": "127.0.0.1",
               "DATABASE_URL": f"sqlite:///{tmp_path / 'second.db'}", "LOAD_DEMO": "0",
               "ASYNC_MODE": "eventlet"}
        second = subprocess.run([sys.executable, str(ROOT / "wsgi.py")], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "is already in use" in second.stderr and "Traceback" not in second.stderr


def test_the_demo_never_loads_onto_another_map(tmp_path: Path) -> None:
    other = tmp_path / "ags.json.gz"
    import_map(ROADS / "aguascalientes.osm.bz2", other)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'county.db'}",
                      "MAP_PATH": str(other), "LOAD_DEMO": True, "ASYNC_MODE": "threading",
                      "DRILL_SCHEDULER": False, "TESTING": True})
    with app.extensions["redline"].sessions() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0, \
            "no demo account with a well-known password on a county's database"
    app.extensions["redline"].engine.dispose()
