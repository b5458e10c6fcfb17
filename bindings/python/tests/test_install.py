"""The documented install works offline: `pip install --no-build-isolation`
of bindings/python into a fresh virtual environment that sees the system's
setuptools and wheel (Debian 12: python3-setuptools, python3-wheel,
python3-venv), then `import pcref; print(pcref.version())`.

Skipped when this interpreter cannot do that offline (no venv, setuptools
or wheel: e.g. a pyenv build without them); with Debian's /usr/bin/python3
and scripts/setup-deps it runs.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from support import SOURCE_ROOT

MISSING = [m for m in ("venv", "ensurepip", "setuptools", "wheel") if importlib.util.find_spec(m) is None]


@unittest.skipIf(MISSING, f"{sys.executable} lacks {', '.join(MISSING)}: cannot build the package offline")
class Install(unittest.TestCase):
    def test_pip_install_offline_then_import(self) -> None:
        with tempfile.TemporaryDirectory(prefix="pcref-install-") as tmp:
            # a copy, so the build leaves nothing in the source tree
            src = shutil.copytree(os.path.join(SOURCE_ROOT, "bindings", "python"), os.path.join(tmp, "src"),
                                  ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
            venv = os.path.join(tmp, "venv")
            subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True, timeout=120)
            py = os.path.join(venv, "bin", "python3")
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}   # the installed copy, not the tree
            res = subprocess.run([py, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--quiet", src],
                                 capture_output=True, text=True, timeout=240, env=env)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            res = subprocess.run([py, "-c", "import pcref, os; print(pcref.version()); print(pcref.__file__)"],
                                 capture_output=True, text=True, timeout=60, env=env, cwd=tmp)
            self.assertEqual(res.returncode, 0, res.stderr)
            version, where = res.stdout.split()
            self.assertEqual(version, "0.1.0")
            self.assertTrue(where.startswith(venv), where)
            typed = os.path.join(os.path.dirname(where), "py.typed")
            self.assertTrue(os.path.exists(typed), "py.typed is installed")


if __name__ == "__main__":
    if MISSING:   # tell meson test "skipped", not "passed"
        print(f"SKIP: {sys.executable} lacks {', '.join(MISSING)}: cannot build the package offline")
        sys.exit(77)
    unittest.main()
