"""doc/quickstart.md runs as written: its shell blocks (all but the build
step, which the build under test has done) are run in order by bash from
the source root, with three changes only — free ports instead of 8401, 8402
and 8480, a temporary directory instead of /tmp, and the build directory
under test instead of build/ — and what the guide says they print is
checked.

Run by meson (suite 'docs'): argv[1] is the build directory;
PCREF_SOURCE_ROOT the source tree.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

SOURCE_ROOT = os.path.abspath(os.environ.get("PCREF_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def script(tmp: str) -> str:
    with open(os.path.join(SOURCE_ROOT, "doc", "quickstart.md"), encoding="utf-8") as f:
        guide = f.read()
    blocks = re.findall(r"```(?:sh|bash)\n(.*?)```", guide, re.S)
    run = [b for b in blocks if "setup-deps" not in b and "meson setup" not in b]
    assert len(run) >= 6, f"the guide's command blocks changed: {len(run)}"
    text = ""
    for i, block in enumerate(run):
        text += block
        if i == 0:   # the emulators: wait for them as the guide says (their READY lines)
            text += "for p in 8401 8402; do for i in $(seq 100); do " \
                    "curl -s http://127.0.0.1:$p/_control/health >/dev/null && break; sleep 0.1; done; done\n"
        if "webhook_receiver.py" in block:
            text += "for i in $(seq 100); do curl -s http://127.0.0.1:8480/healthz >/dev/null && break; sleep 0.1; done\n"
        text += "echo '=== block done'\n"
    for port in ("8401", "8402", "8480"):
        text = text.replace(port, str(free_port()))
    text = text.replace("/tmp/", tmp + "/")
    text = text.replace("$PWD/build/", BUILD + "/").replace("build/examples/", BUILD + "/examples/")
    return "set -e\n" + text


class Quickstart(unittest.TestCase):
    def test_the_guide_runs_as_written(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            env = {k: v for k, v in os.environ.items() if not k.startswith("PCREF_")}
            # output to a file: the background emulators keep a pipe open after bash exits
            with open(os.path.join(tmp, "out.log"), "w+", encoding="utf-8") as log:
                proc = subprocess.Popen(["bash", "-c", script(tmp)], cwd=SOURCE_ROOT, env=env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
                try:
                    proc.wait(timeout=240)
                finally:
                    try:
                        os.killpg(proc.pid, signal.SIGTERM)     # the emulators and the receiver it started
                    except ProcessLookupError:
                        pass
                log.seek(0)
                out = log.read()
            self.assertEqual(proc.returncode, 0, out)
            # what the guide says each step prints
            self.assertIn('"status":"New","substatus":"Pending"', out.replace(" ", ""))
            self.assertRegex(out, r"deal_value +- -> 50000")
            self.assertIn("plan: 1 write(s) planned, nothing written", out)
            self.assertRegex(out, r"to CRM created +referral ")
            self.assertIn("created 0, updated 0, accepted 0, declined 0, closed 0, linked 0, unchanged 1,", out)
            self.assertIn('"stepname":"On Hold"', out)                        # the Dataverse row
            self.assertIn("'unchanged': 1", out)                             # the Python poll: all in sync
            self.assertIn('"state":"delivered"', out)                        # the receiver answered 200
            self.assertRegex(out, r"opp-[0-9a-f-]+ +open +[0-9.]+ USD")      # sqlite_crm.py's listing


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
