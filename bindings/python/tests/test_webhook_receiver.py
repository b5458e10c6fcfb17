"""examples/python/webhook_receiver.py run as a partner runs it, as a
separate process, with the Partner Center emulator (in this process)
delivering signed webhooks to it: the delivery is answered 200 only once the
referral is in the CRM (examples/python/sqlite_crm.py, read back here), a
forged one is answered 401 and changes nothing, a replay 200 and nothing
more."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import unittest

import pcref
from support import EXAMPLES, Emulator, import_example

SqliteCrm = import_example("sqlite_crm").SqliteCrm
SELLER = {"firstName": "Sam", "lastName": "Seller", "email": "seller@contoso.example"}


class WebhookReceiver(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.emu = Emulator()
        cls.dir = tempfile.TemporaryDirectory()
        cls.crm_path = os.path.join(cls.dir.name, "crm.db")
        SqliteCrm(cls.crm_path).db.close()      # the CRM's tables, USD and the seller
        ca = os.path.join(cls.dir.name, "ca.pem")
        with open(ca, "wb") as f:
            f.write(__import__("peerlib").http_call("GET", cls.emu.base + "/_control/webhook/ca.pem")[2])
        env = dict(os.environ, PCREF_PC_URL=cls.emu.base, PCREF_PC_TOKEN_URL=cls.emu.base + "/common/oauth2/token",
                   PCREF_PC_CLIENT_ID="pcref-demo-client", PCREF_PC_CLIENT_SECRET="pcref-demo-secret",
                   PCREF_PC_USERNAME="admin@contoso.onmicrosoft.com", PCREF_PC_PASSWORD="demo-password")
        cls.log = open(os.path.join(cls.dir.name, "receiver.log"), "w+")   # its request log and events
        cls.proc = subprocess.Popen(
            [sys.executable, os.path.join(EXAMPLES, "webhook_receiver.py"), "--crm", cls.crm_path,
             "--store", os.path.join(cls.dir.name, "state.db"), "--port", "0", "--trust-anchors", ca,
             "--certificate-host", cls.emu.base[len("http://"):]],
            env=env, stdout=subprocess.PIPE, stderr=cls.log, text=True)
        line = cls.proc.stdout.readline() if cls.proc.stdout else ""
        if not line.startswith("listening on "):
            cls.proc.kill()
            cls.proc.wait()
            cls.log.seek(0)
            raise RuntimeError(f"the receiver did not start: {line}{cls.log.read()}")
        cls.url = line.split()[-1]

    @classmethod
    def tearDownClass(cls) -> None:
        cls.proc.send_signal(signal.SIGTERM)
        cls.proc.communicate(timeout=30)
        cls.log.seek(0)
        log = cls.log.read()
        cls.log.close()
        cls.emu.stop()
        cls.dir.cleanup()
        assert cls.proc.returncode == 0, log   # SIGTERM ends it cleanly

    def crm_has(self, referral_id: str) -> pcref.Opportunity | None:
        with pcref.Crm.from_backend(SqliteCrm(self.crm_path)) as crm:
            try:
                return crm.find_opportunity(referral_id)
            except pcref.NotFound:
                return None

    def share(self) -> str:
        return str(self.emu.call("POST", "/_control/microsoft/share",
                                 {"details": {"currency": "USD", "dealValue": 80000}, "team": [SELLER]})["id"])

    def deliver(self, referral_id: str, **how: str) -> dict:
        record = self.emu.call("POST", "/_control/webhook/deliver",
                               {"referral_id": referral_id, "event_name": "referral-created", "url": self.url, **how})
        return dict(record)

    def test_a_delivery_reaches_the_crm_before_it_is_answered(self) -> None:
        ref = self.share()
        self.assertIsNone(self.crm_has(ref))
        record = self.deliver(ref)
        self.assertEqual((record["state"], record["attempts"][0]["status"]), ("delivered", 200))
        opp = self.crm_has(ref)
        assert opp is not None
        self.assertEqual(opp["deal_value"], 80000)
        self.assertEqual(opp["stage"], "On Hold")               # lands on hold
        # the same body again: a replay, acknowledged, nothing fetched
        self.emu.call("DELETE", "/_control/requests")
        import peerlib
        status = peerlib.http_call("POST", self.url, record["body"].encode("utf-8"), record["headers"])[0]
        self.assertEqual(status, 200)
        self.assertEqual(self.emu.requests("GET", "/referrals/"), 0)

    def test_a_forged_delivery_is_refused_and_changes_nothing(self) -> None:
        import peerlib
        ref = self.share()
        signed = self.emu.call("POST", "/_control/webhook/sign",
                               {"referral_id": ref, "event_name": "referral-created", "key": "rogue"})
        status = peerlib.http_call("POST", self.url, signed["body"].encode("utf-8"), signed["headers"])[0]
        self.assertEqual(status, 401)
        self.assertIsNone(self.crm_has(ref))
        # x-ms-signature form, good key: accepted
        self.assertEqual(self.deliver(ref, header="x-ms-signature")["attempts"][0]["status"], 200)
        self.assertIsNotNone(self.crm_has(ref))

    def test_other_paths_and_health(self) -> None:
        import peerlib
        base = self.url.rsplit("/webhooks/", 1)[0]
        self.assertEqual(peerlib.http_call("GET", base + "/healthz")[0], 200)
        self.assertEqual(peerlib.http_call("POST", base + "/elsewhere", b"{}")[0], 404)


if __name__ == "__main__":
    unittest.main()
