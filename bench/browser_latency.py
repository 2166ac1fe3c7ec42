"""Submit on the officer's page → board rendered on a unit's tablet, in a real browser.

Runs the browser test that measures it (20 reports through the command room's form, a real
hub process, Debian's chromium) and prints its median and p95:

    python bench/browser_latency.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    test = "tests/browser/test_pages.py::test_submit_to_board_latency"
    # -s: the test prints "median … ms, p95 … ms" itself
    return subprocess.call([sys.executable, "-m", "pytest", "-q", "-s", "-p",
                            "no:cacheprovider", test], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
