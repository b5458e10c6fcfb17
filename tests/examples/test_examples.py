"""The sync examples of examples/ (sync-poll, sync-dry-run, sync-webhook,
sync-one, sync-backfill, custom-backend) run as a partner runs them —
configured by the environment variables of examples/sync-setup.h — against
the Partner Center and Dataverse emulators, which run in this process.
What each example did is checked on the emulators' own data and request
logs, not only on its output.

Run by meson (suite 'examples'): argv[1] is the folder of the built
examples; PCREF_SOURCE_ROOT the source tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE_ROOT = os.environ.get("PCREF_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "peers"))

import dataverse  # noqa: E402
import partnercenter  # noqa: E402
import peerlib  # noqa: E402

EXAMPLES = ""
PC = DV = None
PC_BASE = DV_BASE = ""
SELLER = {"firstName": "Sam", "lastName": "Seller", "email": "seller@contoso.example"}
REFERRAL_ID_COLUMN = "msft_microsoftpartnercenterreferralidentifier"


def setUpModule() -> None:
    global PC, DV, PC_BASE, DV_BASE
    PC, PC_BASE = peerlib.start_in_thread(partnercenter.PartnerCenter)
    DV, DV_BASE = peerlib.start_in_thread(dataverse.Dataverse)


def tearDownModule() -> None:
    PC.stop()
    DV.stop()


def share(**details: object) -> str:
    """A Microsoft co-sell referral the Dataverse emulator can take (USD, a known seller)."""
    body = {"details": {"currency": "USD", "dealValue": 50000, **details}, "team": [SELLER]}
    return peerlib.control(PC_BASE, "POST", "/_control/microsoft/share", body)["id"]


def opportunities(referral_id: str | None = None) -> list[dict]:
    rows = peerlib.control(DV_BASE, "GET", "/_control/rows/opportunities")
    return [r for r in rows if referral_id is None or r.get(REFERRAL_ID_COLUMN) == referral_id]


def requests(base: str, method: str, fragment: str) -> int:
    return sum(1 for e in peerlib.control(base, "GET", "/_control/requests")
               if e["method"] == method and fragment in e["path"])


class Examples(unittest.TestCase):
    def setUp(self) -> None:
        peerlib.control(PC_BASE, "POST", "/_control/reset")
        peerlib.control(DV_BASE, "POST", "/_control/reset")
        self.dir = tempfile.mkdtemp(prefix="pcref-examples-")
        self.env = dict(os.environ)
        self.env.update({
            "PCREF_PC_URL": PC_BASE, "PCREF_PC_TOKEN_URL": PC_BASE + "/common/oauth2/token",
            "PCREF_PC_CLIENT_ID": "pcref-demo-client", "PCREF_PC_CLIENT_SECRET": "pcref-demo-secret",
            "PCREF_PC_USERNAME": "admin@contoso.onmicrosoft.com", "PCREF_PC_PASSWORD": "demo-password",
            "PCREF_CRM": "dynamics", "PCREF_CRM_URL": DV_BASE,
            "PCREF_CRM_TOKEN_URL": DV_BASE + "/contoso.onmicrosoft.com/oauth2/v2.0/token",
            "PCREF_CRM_CLIENT_ID": "pcref-demo-client", "PCREF_CRM_CLIENT_SECRET": "pcref-demo-secret",
            "PCREF_STORE": os.path.join(self.dir, "state.db")})
        self.env.pop("PCREF_MAPPING", None)

    def tearDown(self) -> None:
        shutil.rmtree(self.dir)

    def run_example(self, name: str, *args: str, stdin: bytes = b"", expect: int = 0) -> tuple[str, str]:
        p = subprocess.run([os.path.join(EXAMPLES, name), *args], input=stdin, env=self.env, cwd=self.dir,
                           capture_output=True, timeout=120)
        out, err = p.stdout.decode("utf-8"), p.stderr.decode("utf-8")
        self.assertEqual(p.returncode, expect, f"{name} {args}: exit {p.returncode}\n{out}\n{err}")
        return out, err

    def test_poll_creates_then_finds_nothing_to_do(self) -> None:
        ref = share(dealValue=65000)
        out, _ = self.run_example("sync-poll")
        [opp] = opportunities(ref)
        self.assertEqual(opp["estimatedvalue"], 65000)
        self.assertIn(f"to CRM created   referral {ref}, crm {opp['opportunityid']}", out)
        self.assertIn('"deal_value":[null,65000]', out)
        self.assertIn("created 1,", out)
        # the steady state: nothing written on either side
        peerlib.control(DV_BASE, "DELETE", "/_control/requests")
        peerlib.control(PC_BASE, "DELETE", "/_control/requests")
        out, _ = self.run_example("sync-poll")
        self.assertIn("created 0, updated 0,", out)
        self.assertEqual(len(opportunities(ref)), 1)
        self.assertEqual(requests(DV_BASE, "PATCH", "/opportunities") + requests(DV_BASE, "POST", "/opportunities"), 0)
        self.assertEqual(requests(PC_BASE, "PATCH", "/referrals"), 0)

    def test_poll_reports_a_refused_login_and_fails(self) -> None:
        self.env["PCREF_PC_PASSWORD"] = "wrong"
        _, err = self.run_example("sync-poll", expect=2)
        self.assertIn("poll: ", err)
        self.assertIn("Partner Center", err)

    def test_dry_run_prints_the_changes_and_writes_nothing(self) -> None:
        ref = share(dealValue=42000)
        out, _ = self.run_example("sync-dry-run")
        self.assertIn(f"CRM created: referral {ref}, crm (new)", out)
        self.assertRegex(out, r"deal_value +- -> 42000")
        self.assertIn("plan: 1 write(s) planned, nothing written", out)
        self.assertEqual(opportunities(), [])
        # and the store learnt nothing either: the real pass still creates it
        out, _ = self.run_example("sync-poll")
        self.assertIn("created 1,", out)
        self.assertEqual(len(opportunities(ref)), 1)

    def delivery(self, referral_id: str, key: str = "good") -> bytes:
        signed = peerlib.control(PC_BASE, "POST", "/_control/webhook/sign",
                                 {"referral_id": referral_id, "event_name": "referral-created", "key": key})
        body = signed["body"].encode("utf-8")
        head = "".join(f"{k}: {v}\r\n" for k, v in signed["headers"].items())
        return (f"POST /webhooks/partner-center HTTP/1.1\r\nHost: sync.example\r\n{head}"
                f"Content-Length: {len(body)}\r\n\r\n").encode("utf-8") + body

    def test_webhook_applies_a_signed_delivery_once_and_refuses_a_forged_one(self) -> None:
        ca = os.path.join(self.dir, "ca.pem")
        with open(ca, "wb") as f:
            f.write(peerlib.http_call("GET", PC_BASE + "/_control/webhook/ca.pem")[2])
        self.env["PCREF_WEBHOOK_TRUST_ANCHORS"] = ca
        self.env["PCREF_WEBHOOK_CERT_HOST"] = PC_BASE[len("http://"):]
        ref = share()
        forged, _ = self.run_example("sync-webhook", stdin=self.delivery(ref, key="rogue"), expect=1)
        self.assertTrue(forged.startswith("HTTP/1.1 401 "), forged)
        self.assertEqual(opportunities(ref), [])
        delivery = self.delivery(ref)
        out, _ = self.run_example("sync-webhook", stdin=delivery)
        self.assertTrue(out.startswith("HTTP/1.1 200 OK\r\n"), out)
        self.assertEqual(len(opportunities(ref)), 1)
        # the same delivery again (a new process: the store remembers it): 200, nothing done
        peerlib.control(PC_BASE, "DELETE", "/_control/requests")
        out, _ = self.run_example("sync-webhook", stdin=delivery)
        self.assertTrue(out.startswith("HTTP/1.1 200 OK\r\n"), out)
        self.assertEqual(requests(PC_BASE, "GET", "/referrals/"), 0)
        self.assertEqual(len(opportunities(ref)), 1)

    def test_one_item_each_way(self) -> None:
        ref = share()
        out, _ = self.run_example("sync-one", "referral", ref)
        [opp] = opportunities(ref)
        self.assertIn("created", out)
        out, _ = self.run_example("sync-one", "opportunity", opp["opportunityid"])
        self.assertIn("unchanged", out)
        _, err = self.run_example("sync-one", "opportunity", "00000000-0000-0000-0000-000000000000", expect=1)
        self.assertIn("00000000-0000-0000-0000-000000000000: ", err)
        self.run_example("sync-one", "lead", ref, expect=2)

    def test_backfill_reports_progress_and_creates_everything(self) -> None:
        refs = [share(dealValue=10000 * (i + 1)) for i in range(4)]
        out, err = self.run_example("sync-backfill")
        self.assertIn("(100 %)", err)
        self.assertIn("created 4,", out)
        self.assertEqual(sorted(o[REFERRAL_ID_COLUMN] for o in opportunities()), sorted(refs))

    def test_custom_backend_syncs_both_ways(self) -> None:
        crm = os.path.join(self.dir, "crm")
        os.mkdir(crm)
        ref = peerlib.control(PC_BASE, "POST", "/_control/microsoft/share", {})["id"]
        out, _ = self.run_example("custom-backend", crm)
        self.assertIn("created 1,", out)
        [name] = os.listdir(crm)
        path = os.path.join(crm, name)
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        self.assertEqual(record["fields"]["referral_id"], ref)
        self.assertEqual(record["fields"]["stage"], "On Hold")
        # the seller accepts in "the CRM": the stage leaves on hold
        out, _ = self.run_example("custom-backend", crm, "set", record["fields"]["id"], "stage", "Active")
        self.assertIn("stage = Active", out)
        self.run_example("custom-backend", crm, "set", record["fields"]["id"], "no_such_field", "x", expect=1)
        out, _ = self.run_example("custom-backend", crm)
        self.assertIn("accepted 1,", out)
        got = peerlib.control(PC_BASE, "GET", f"/_control/rows/referrals/{ref}")
        self.assertEqual((got["status"], got["substatus"]), ("Active", "Accepted"))


if __name__ == "__main__":
    EXAMPLES = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
