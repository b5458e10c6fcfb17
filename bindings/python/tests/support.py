"""Shared set-up of the Python tests (stdlib unittest).

Run from `meson test --suite python`, which sets PCREF_LIBRARY to the
build's libpcref.so.1, PYTHONPATH to bindings/python, PCREF_SOURCE_ROOT and
PCREF_BUILD_ROOT. By hand, from a build directory `build`:

    PCREF_LIBRARY=build/lib/libpcref.so.1 PYTHONPATH=bindings/python \\
    PCREF_SOURCE_ROOT=. PCREF_BUILD_ROOT=build python3 -m unittest discover -s bindings/python/tests
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

SOURCE_ROOT = os.path.abspath(os.environ.get("PCREF_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..",
                                                                                "..", "..")))
BUILD_ROOT = os.environ.get("PCREF_BUILD_ROOT", os.path.join(SOURCE_ROOT, "build"))
FIXTURES = os.path.join(SOURCE_ROOT, "tests", "fixtures")
PEERS = os.path.join(SOURCE_ROOT, "tests", "peers")
EXAMPLES = os.path.join(SOURCE_ROOT, "examples", "python")

for path in (EXAMPLES, PEERS):
    if path not in sys.path:
        sys.path.insert(0, path)


def import_example(name: str) -> Any:
    """A module of examples/python (e.g. ``sqlite_crm``)."""
    return importlib.import_module(name)


def fixture(name: str) -> bytes:
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


class Emulator:
    """One Partner Center emulator (tests/peers/partnercenter.py) running in
    this process for a test module; reset before each test."""

    def __init__(self) -> None:
        peerlib = importlib.import_module("peerlib")
        pc = importlib.import_module("partnercenter")
        self.control = peerlib.control
        self.server, self.base = peerlib.start_in_thread(pc.PartnerCenter)

    def call(self, method: str, path: str, body: object = None) -> Any:
        """A control call (raises on a status >= 400); its decoded answer."""
        return self.control(self.base, method, path, body)

    def reset(self) -> None:
        self.call("POST", "/_control/reset")

    def requests(self, method: str, fragment: str) -> int:
        log = self.call("GET", "/_control/requests")
        return sum(1 for e in log if e["method"] == method and fragment in e["path"])

    def stop(self) -> None:
        self.server.stop()
