"""The CRM backend conformance suite (tests/conformance/conformance.c), driven
from Python on CRM backends written in Python.

The suite is built as a test-only shared module (libpcref-conformance-py.so,
linked against the same libpcref.so.1 this process loaded); we call
pcref_conformance_run() with a target whose open/reset/seed callbacks are
Python functions. Check runs without fork (CK_FORK=no): a forked child of a
Python process cannot safely run Python callbacks.
"""

from __future__ import annotations

import ctypes
import os
import tempfile
import unittest
from typing import Any, Callable

import pcref
from support import BUILD_ROOT, import_example

SqliteCrm = import_example("sqlite_crm").SqliteCrm

MODULE = os.environ.get("PCREF_CONFORMANCE_MODULE",
                        os.path.join(BUILD_ROOT, "tests", "conformance", "libpcref-conformance-py.so"))

OPEN = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
RESET = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
SEED = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p)


class Target(ctypes.Structure):
    """pcref_conformance_target (tests/conformance/conformance.h)."""
    _fields_ = [("name", ctypes.c_char_p), ("open", OPEN), ("reset", RESET), ("seed", SEED),
                ("paging_count", ctypes.c_size_t), ("ctx", ctypes.c_void_p)]


def run_conformance(name: str, open_crm: Callable[[], pcref.Crm], reset: Callable[[], None] | None = None,
                    seed: Callable[[int], None] | None = None, paging_count: int = 0) -> int:
    """Run the suite on the CRMs ``open_crm()`` makes; the number of failed tests."""
    module = ctypes.CDLL(MODULE)
    module.pcref_conformance_run.argtypes = [ctypes.POINTER(Target)]
    module.pcref_conformance_run.restype = ctypes.c_int

    def c_open(ctx: Any) -> int:
        try:
            return open_crm().detach()   # the suite frees it with pcref_crm_free()
        except Exception as e:
            print(f"open failed: {e!r}")
            return 0   # the suite's setup reports a NULL CRM as a failure

    def c_reset(ctx: Any) -> None:
        if reset is not None:
            reset()

    def c_seed(n: int, ctx: Any) -> int:
        try:
            if seed is not None:
                seed(n)
            return 0
        except Exception as e:
            print(f"seed failed: {e!r}")
            return pcref.EUSER

    callbacks = (OPEN(c_open), RESET(c_reset), SEED(c_seed))   # alive for the whole run
    target = Target(name.encode(), callbacks[0], callbacks[1] if reset else RESET(),
                    callbacks[2] if seed else SEED(), paging_count, None)
    saved = os.environ.get("CK_FORK")
    os.environ["CK_FORK"] = "no"
    try:
        return module.pcref_conformance_run(ctypes.byref(target))
    finally:
        if saved is None:
            del os.environ["CK_FORK"]
        else:
            os.environ["CK_FORK"] = saved


def bulk(i: int) -> pcref.Opportunity:
    return pcref.Opportunity(name=f"bulk-{i}", deal_value=50000, currency="USD", close_date=1735603200000,
                             notes="Contoso wants Azure", sync=True)


class SqliteConformance(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="pcref-sqlite-crm-")
        self.path = os.path.join(self.dir.name, "crm.db")
        # USD and EUR but not CHF, seller@ but not nobody@ (conformance.h)
        self.admin = SqliteCrm(self.path, currencies=("USD", "EUR", "SEK"), users=("seller@contoso.example",))

    def tearDown(self) -> None:
        self.admin.close()
        self.dir.cleanup()

    def run_suite(self, backend_class: type[SqliteCrm], paging_count: int = 0) -> int:
        return run_conformance(
            "sqlite-python", lambda: pcref.Crm.from_backend(backend_class(self.path, currencies=(), users=())),
            reset=self.admin.wipe,
            seed=lambda n: self.admin.import_opportunities(bulk(i) for i in range(n)),
            paging_count=paging_count)

    def test_sqlite_crm_passes_the_conformance_suite(self) -> None:
        self.assertEqual(self.run_suite(SqliteCrm), 0, "failed conformance tests: see the output above")

    def test_a_backend_that_ignores_versions_fails_it(self) -> None:
        """The driver really reports failures: a backend that overwrites
        blindly (no ECONFLICT on a stale version) must not pass."""

        class Blind(SqliteCrm):
            def update(self, opp: pcref.Opportunity, fields: list[int], lead: bool) -> pcref.Opportunity:
                fresh = opp.copy()
                fresh[pcref.FIELD_VERSION] = None
                return super().update(fresh, fields, lead)

        self.assertGreaterEqual(self.run_suite(Blind, paging_count=20), 1)

    def test_every_python_backend_was_destroyed(self) -> None:
        from pcref import crm
        self.run_suite(SqliteCrm, paging_count=20)
        self.assertEqual(crm._bridge.live(), 0, "the suite freed every CRM, so every backend's destroy ran")


if __name__ == "__main__":
    unittest.main()
