"""Tests of examples/pcref-sync: its command line, configuration errors and
exit codes, and its commands against the Partner Center and Dataverse
emulators (tests/peers/sandbox.py runs both in this process).

Run by ``meson test --suite cli``; standalone::

    PCREF_SYNC=build/examples/pcref-sync python3 -m unittest discover -s tests/cli -p 'test_pcref_sync.py'
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "peers"))

import dataverse  # noqa: E402
import sandbox  # noqa: E402

PCREF_SYNC = os.path.abspath(os.environ.get("PCREF_SYNC") or os.path.join(ROOT, "build", "examples", "pcref-sync"))
EXIT_OK, EXIT_ITEMS_FAILED, EXIT_USAGE, EXIT_CONFIG, EXIT_AUTH, EXIT_SERVICE, EXIT_STORE, EXIT_LISTENER = \
    0, 1, 2, 3, 4, 5, 6, 7

# A configuration that passes every check (nothing listens on port 9).
VALID = {
    "store": "state.db",
    "partner_center": {"url": "http://127.0.0.1:9", "token_url": "http://127.0.0.1:9/common/oauth2/token",
                       "client_id": "app", "client_secret_env": "PCREF_TEST_SECRET",
                       "username": "admin@contoso.onmicrosoft.com", "password_env": "PCREF_TEST_PASSWORD"},
    "crm": {"backend": "dynamics", "dynamics": {
        "url": "http://127.0.0.1:9", "token_url": "http://127.0.0.1:9/t/oauth2/v2.0/token",
        "client_id": "app", "client_secret_env": "PCREF_TEST_SECRET"}},
}
TEST_ENV = {"PCREF_TEST_SECRET": "s", "PCREF_TEST_PASSWORD": "p"}


def run(args, env=None, cwd=None, timeout=60):
    full_env = dict(os.environ)
    full_env.pop("PCREF_SYNC_CONFIG", None)
    full_env.update(env or {})
    return subprocess.run([PCREF_SYNC, *args], capture_output=True, text=True, encoding="utf-8",
                          errors="replace", env=full_env, cwd=cwd, timeout=timeout)


class CommandLine(unittest.TestCase):
    """Usage, configuration errors and their exit codes: no service involved."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="pcref-cli.")
        self.addCleanup(self.tmp.cleanup)

    def config(self, doc=None, text=None, name="config.json"):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text if text is not None else json.dumps(doc))
        return path

    def assertFails(self, proc, code, *needles):
        self.assertEqual(proc.returncode, code, proc.stdout + proc.stderr)
        for needle in needles:
            self.assertIn(needle, proc.stderr)

    def test_help_and_version(self):
        proc = run(["--help"])
        self.assertEqual(proc.returncode, EXIT_OK)
        for command in ("once", "run", "backfill", "plan", "status", "--config", "--crm"):
            self.assertIn(command, proc.stdout)
        proc = run(["--version"])
        self.assertEqual(proc.returncode, EXIT_OK)
        self.assertRegex(proc.stdout, r"^pcref-sync \d+\.\d+\.\d+ \(libpcref \d+\.\d+\.\d+; CRM backends: dynamics")

    def test_usage_errors(self):
        self.assertFails(run([]), EXIT_USAGE, "no command given")
        self.assertFails(run(["sync"]), EXIT_USAGE, "unknown command sync")
        self.assertFails(run(["--frobnicate", "once"]), EXIT_USAGE, "unknown option --frobnicate")
        self.assertFails(run(["once", "--config"]), EXIT_USAGE, "--config needs a value")
        self.assertFails(run(["status", "--referral", "x"]), EXIT_USAGE, "--referral and --opportunity go with")

    def test_missing_config_file(self):
        missing = os.path.join(self.tmp.name, "nope.json")
        self.assertFails(run(["--config", missing, "once"]), EXIT_CONFIG, missing, "no such file", "--config")
        # $PCREF_SYNC_CONFIG when --config is not given, ./pcref-sync.json last
        self.assertFails(run(["once"], env={"PCREF_SYNC_CONFIG": missing}), EXIT_CONFIG, missing)
        self.assertFails(run(["status"], cwd=self.tmp.name), EXIT_CONFIG, "pcref-sync.json: no such file")

    def test_bad_json_names_the_line_and_column(self):
        path = self.config(text='{\n  "store": "x.db",\n  "crm": {"backend": "dynamics",}\n}\n')
        self.assertFails(run(["-c", path, "once"]), EXIT_CONFIG, f"{path}:3:", "not valid JSON")

    def test_bad_values_name_their_json_pointer(self):
        cases = [
            ("/crm/dynamics/url", 5, "/crm/dynamics/url: must be a string, not a number"),
            ("/partner_center/clientid", "x", "/partner_center/clientid: unknown setting"),
            ("/poll_interval_seconds", -1, "/poll_interval_seconds: must be between"),
            ("/webhook", {"certificate_hosts": ["127.0.0.1:1", 7]}, "/webhook/certificate_hosts/1: must be a string"),
            ("/partner_center/auth", "kerberos", '/partner_center/auth: unknown authentication "kerberos"'),
            ("/partner_center/password", "x", "/partner_center/password_env: give password or password_env, not both"),
            ("/webhook", {"register": True}, "/webhook/register: registering the webhook needs"),
            ("/crm/dynamics/token_url", None, "/crm/dynamics/token_url: missing"),
        ]
        for pointer, value, message in cases:
            with self.subTest(pointer=pointer):
                doc = json.loads(json.dumps(VALID))
                *parents, last = pointer.strip("/").split("/")
                node = doc
                for key in parents:
                    node = node[key]
                if value is None:
                    del node[last]
                else:
                    node[last] = value
                self.assertFails(run(["-c", self.config(doc), "once"], env=TEST_ENV), EXIT_CONFIG, message)

    def test_unknown_backend(self):
        doc = dict(VALID, crm={"backend": "oracle"})
        self.assertFails(run(["-c", self.config(doc), "once"]), EXIT_CONFIG,
                         '/crm/backend: unknown CRM backend "oracle"')
        self.assertFails(run(["-c", self.config(VALID), "--crm", "sap", "once"]), EXIT_CONFIG,
                         'unknown CRM backend "sap"')

    def test_crm_override_needs_its_section(self):
        self.assertFails(run(["-c", self.config(VALID), "--crm", "salesforce", "once"], env=TEST_ENV), EXIT_CONFIG,
                         "/crm/salesforce: missing")

    def test_secret_from_a_missing_environment_variable(self):
        proc = run(["-c", self.config(VALID), "once"], env={"PCREF_TEST_PASSWORD": "p"})
        self.assertFails(proc, EXIT_CONFIG, "PCREF_TEST_SECRET", "/partner_center/client_secret_env", "is not set")

    def test_mapping_file_errors(self):
        doc = json.loads(json.dumps(VALID))
        doc["crm"]["dynamics"]["mapping"] = "mapping.json"   # relative to the configuration file
        path = self.config(doc)
        self.assertFails(run(["-c", path, "once"], env=TEST_ENV), EXIT_CONFIG, "cannot read the mapping file",
                         os.path.join(self.tmp.name, "mapping.json"))
        self.config({"backend": "dynamics", "columns": {"deal_valu": "x"}}, name="mapping.json")
        self.assertFails(run(["-c", path, "once"], env=TEST_ENV), EXIT_CONFIG, "/columns/deal_valu")
        self.config({"backend": "memory"}, name="mapping.json")
        self.assertFails(run(["-c", path, "once"], env=TEST_ENV), EXIT_CONFIG,
                         "the mapping is for the memory backend but the CRM is dynamics")

    def test_status_before_anything_was_synced(self):
        path = self.config(VALID)
        proc = run(["-c", path, "status"])   # no secret needed: status reads the store only
        self.assertEqual(proc.returncode, EXIT_OK, proc.stderr)
        self.assertIn("not created yet", proc.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "state.db")), "status created the store")

    def test_unusable_store(self):
        doc = dict(VALID, store=os.path.join(self.tmp.name, "no-such-dir", "state.db"))
        self.assertFails(run(["-c", self.config(doc), "once"], env=TEST_ENV), EXIT_STORE, "the state store",
                         "what to do")


class AgainstEmulators(unittest.TestCase):
    """The commands against the Partner Center and Dynamics 365 emulators."""

    @classmethod
    def setUpClass(cls):
        cls.sb = sandbox.Sandbox(None, PCREF_SYNC, poll_interval=3600, webhook=False)

    @classmethod
    def tearDownClass(cls):
        cls.sb.close()

    def setUp(self):
        self.sb.webhook = False
        self.sb.reset()

    def generate(self, count=3):
        return self.sb.pc.generate(count, type="Shared", status="Active", substatus="Accepted", seed=count)

    def start_run(self, *args):
        proc = self.sb.spawn("run", *args)
        out = sandbox.LineReader(proc.stdout)
        first = out.wait_for(lambda line: " poll: " in line or " backfill: " in line, timeout=60)
        self.assertIsNotNone(first, f"pcref-sync run made no first pass:\n{out.text()}")
        return proc, out

    def stop(self, proc, out, sig=signal.SIGTERM):
        proc.send_signal(sig)
        code = proc.wait(timeout=30)
        out.wait_for(lambda line: False, timeout=5)
        return code

    def test_status_on_an_empty_store(self):
        proc = self.sb.sync("once")   # nothing on either side: the store is made, empty
        self.assertIn("once: examined 0", proc.stdout)
        status = self.sb.sync("status").stdout
        self.assertIn(f"State store  {self.sb.store} (sqlite)", status)
        self.assertIn("Links        none", status)
        self.assertIn("Retry queue  empty", status)
        self.assertIn("partner_center", status)

    def test_once_creates_the_opportunities(self):
        ids = self.generate(3)
        proc = self.sb.sync("once", check=False)
        self.assertEqual(proc.returncode, EXIT_OK, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout.count("to CRM  created"), 3, proc.stdout)
        for ref_id in ids:
            ref = self.sb.pc.referral(ref_id)
            opps = self.sb.crm.opportunities_for(ref_id)
            self.assertEqual(len(opps), 1, f"opportunities for {ref_id}")
            self.assertEqual(opps[0]["estimatedvalue"], ref["details"]["dealValue"])
        status = self.sb.sync("status").stdout
        self.assertIn("Links (3)", status)
        for ref_id in ids:
            self.assertIn(ref_id, status)

    def test_second_pass_writes_nothing(self):
        self.generate(3)
        self.sb.sync("once")
        self.sb.clear_requests()
        proc = self.sb.sync("once")
        self.assertEqual(self.sb.writes(), [], proc.stdout)

    def test_plan_writes_nothing(self):
        ids = self.generate(3)
        self.sb.clear_requests()
        proc = self.sb.sync("plan", check=False)
        self.assertEqual(proc.returncode, EXIT_OK, proc.stdout + proc.stderr)
        self.assertIn("nothing is written", proc.stdout)
        self.assertEqual(proc.stdout.count("would create in the CRM"), 3, proc.stdout)
        for ref_id in ids:
            self.assertIn(ref_id, proc.stdout)
        self.assertRegex(proc.stdout, r"deal_value +\d")   # the values it would write, from the event's changes
        self.assertEqual(self.sb.writes(), [], "plan made a write")
        self.assertEqual(self.sb.crm.opportunities(), [])
        self.assertIn("Links        none", self.sb.sync("status").stdout)

    def test_once_for_one_referral(self):
        ids = self.generate(2)
        proc = self.sb.sync("once", "--referral", ids[0])
        self.assertIn(ids[0], proc.stdout)
        self.assertEqual(len(self.sb.crm.opportunities_for(ids[0])), 1)
        self.assertEqual(self.sb.crm.opportunities_for(ids[1]), [])

    def test_backfill_reports_progress_lines_when_not_a_terminal(self):
        self.generate(12)
        proc = self.sb.sync("backfill")
        self.assertIn("backfill: examined", proc.stdout)
        self.assertRegex(proc.stdout, r"backfill: \d+/\d+ compared \(100%\)")
        self.assertNotIn("\r", proc.stdout)

    def test_run_stops_cleanly_on_sigterm_and_keeps_its_state(self):
        ids = self.generate(3)
        proc, out = self.start_run()
        self.assertEqual(self.stop(proc, out), EXIT_OK, out.text())
        self.assertIn("stopping (SIGTERM)", out.text())
        status = self.sb.sync("status").stdout
        self.assertIn("Links (3)", status)
        self.sb.clear_requests()
        again = self.sb.sync("once")
        self.assertNotIn("to CRM  created", again.stdout)
        self.assertEqual(self.sb.writes(), [])
        for ref_id in ids:
            self.assertEqual(len(self.sb.crm.opportunities_for(ref_id)), 1)

    def test_run_applies_a_webhook_at_once(self):
        self.sb.webhook = True
        self.sb.write_config()
        proc, out = self.start_run()
        self.assertIsNotNone(out.wait_for(lambda line: "registered http://127.0.0.1:" in line, timeout=5),
                             out.text())
        mark = len(out.lines)
        ref = self.sb.pc.share(seed=5)   # Microsoft shares a referral: Partner Center calls the webhook
        deadline = time.monotonic() + 10
        while not self.sb.crm.opportunities_for(ref["id"]) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(len(self.sb.crm.opportunities_for(ref["id"])), 1, out.text())
        self.assertIsNotNone(out.wait_for(lambda line: "webhook: handled" in line, timeout=5, start=mark),
                             out.text())
        opp = self.sb.crm.opportunity_for(ref["id"])
        self.assertEqual(opp["stepname"], "On Hold")
        self.assertEqual(self.stop(proc, out, signal.SIGINT), EXIT_OK, out.text())

    def test_run_refuses_a_forged_webhook(self):
        self.sb.webhook = True
        self.sb.write_config()
        proc, out = self.start_run()
        url = out.wait_for(lambda line: "listening for Partner Center webhooks on " in line, timeout=5)
        url = url.rsplit(" ", 1)[1]
        signed = sandbox.control(self.sb.pc_base, "POST", "/_control/webhook/sign",
                                 {"referral_id": "00000000-0000-0000-0000-000000000001", "key": "rogue"})
        status, _, body = sandbox.http_call("POST", url, signed["body"], signed["headers"])
        self.assertEqual(status, 401, body)
        status, _, _ = sandbox.http_call("GET", url)
        self.assertEqual(status, 405)
        status, _, _ = sandbox.http_call("GET", url.rsplit("/", 2)[0] + "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(self.stop(proc, out), EXIT_OK, out.text())

    def test_run_when_the_port_is_taken(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            self.sb.webhook = True
            config = self.sb.write_config()
            config["webhook"]["port"] = busy.getsockname()[1]
            self.sb.write_config(webhook=config["webhook"])
            proc = self.sb.sync("run", check=False, timeout=30)
        self.assertEqual(proc.returncode, EXIT_LISTENER, proc.stdout + proc.stderr)
        self.assertIn("cannot listen", proc.stderr)

    def test_refused_credentials_exit_4_and_the_secret_is_never_printed(self):
        secret = "wrong-secret-3f9a7c"
        env = self.sb.env()
        env["PCREF_SANDBOX_CLIENT_SECRET"] = secret
        proc = subprocess.run(self.sb.command("once"), env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, EXIT_AUTH, proc.stdout + proc.stderr)
        self.assertIn("what to do: the connector is disconnected", proc.stderr)
        self.assertNotIn(secret, proc.stdout + proc.stderr)
        self.assertNotIn(sandbox.PC_PASSWORD, proc.stdout + proc.stderr)

    def test_unreachable_service_exits_5(self):
        config = self.sb.write_config()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{s.getsockname()[1]}"
        pc = dict(config["partner_center"], url=dead, token_url=f"{dead}/common/oauth2/token", retry_max=1)
        self.sb.write_config(partner_center=pc)
        proc = self.sb.sync("once", check=False)
        self.assertEqual(proc.returncode, EXIT_SERVICE, proc.stdout + proc.stderr)
        self.assertIn("what to do", proc.stderr)

    def test_one_failed_item_exits_1_and_is_listed_by_status(self):
        ids = self.generate(2)
        # Dynamics 365 refuses every opportunity create (a validation error)
        sandbox.control(self.sb.crm_base, "POST", "/_control/faults",
                        {"method": "POST", "path": "/opportunities$", "status": 400, "count": -1})
        proc = self.sb.sync("once", check=False)
        self.assertEqual(proc.returncode, EXIT_ITEMS_FAILED, proc.stdout + proc.stderr)
        self.assertIn("FAILED", proc.stdout)
        status = self.sb.sync("status").stdout
        self.assertRegex(status, r"Retry queue \(\d+\)")
        self.assertIn("last error:", status)
        self.assertTrue(any(ref_id in status for ref_id in ids), status)
        self.assertEqual([o for o in self.sb.crm.opportunities() if o.get(dataverse.REFERRAL_ID) in ids], [])


class SalesforceBackend(unittest.TestCase):
    """--crm salesforce: the same configuration file, another CRM section."""

    def test_crm_option_switches_to_salesforce(self):
        with sandbox.Sandbox(None, PCREF_SYNC, crm="salesforce", webhook=False) as sb:
            config = sb.write_config()
            # the file's default CRM is a Dynamics 365 nobody can reach; --crm picks Salesforce
            config["crm"]["dynamics"] = dict(VALID["crm"]["dynamics"])
            config["crm"]["backend"] = "dynamics"
            sb.write_config(crm=config["crm"])
            ids = sb.pc.generate(2, type="Shared", status="Active", substatus="Accepted", seed=2)
            proc = sb.sync("--crm", "salesforce", "once", check=False)
            self.assertEqual(proc.returncode, EXIT_OK, proc.stdout + proc.stderr)
            for ref_id in ids:
                opps = sb.crm.opportunities_for(ref_id)
                self.assertEqual(len(opps), 1, f"Salesforce opportunities for {ref_id}")
                self.assertEqual(opps[0]["StageName"], sb.crm.active_stage)
                self.assertEqual(opps[0]["Amount"], sb.pc.referral(ref_id)["details"]["dealValue"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
