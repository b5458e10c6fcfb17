"""Connection, PartnerCenter, listing iterators and webhook verification
against the Partner Center emulator (tests/peers/partnercenter.py), which
runs in this process for the module and is reset before each test."""

from __future__ import annotations

import json
import os
import tempfile
import unittest
from typing import Any

import pcref
from support import Emulator

EMU: Emulator
CA_FILE = ""
REFERRALS = "https://api.partner.microsoft.com"
WEBHOOKS = "https://api.partnercenter.microsoft.com"


def setUpModule() -> None:
    global EMU, CA_FILE
    EMU = Emulator()
    import peerlib
    status, _, pem = peerlib.http_call("GET", EMU.base + "/_control/webhook/ca.pem")
    assert status == 200, status
    fd, CA_FILE = tempfile.mkstemp(prefix="pcref-py-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def tearDownModule() -> None:
    EMU.stop()
    os.unlink(CA_FILE)


def connect(resource: str, **extra: Any) -> pcref.Connection:
    options: dict[str, Any] = dict(
        service_name="Partner Center", auth=pcref.AUTH_PASSWORD, token_url=EMU.base + "/common/oauth2/token",
        resource=resource, client_id="pcref-demo-client", client_secret="pcref-demo-secret",
        username="admin@contoso.onmicrosoft.com", password="demo-password", retry_base_ms=50)
    options.update(extra)
    return pcref.Connection(EMU.base, **options)


def new_deal(name: str) -> pcref.Referral:
    r = pcref.Referral()
    r.name, r.type, r.qualification = name, "Independent", "SalesQualified"
    r.customer_name, r.address_country, r.address_postal_code = "Fabrikam Ltd", "SE", "111 51"
    r.set_consent(pcref.CONSENT_SHARE_INFO_WITH_OTHERS, True)
    r.set_consent(pcref.CONSENT_CONTACT, True)
    r.deal_value, r.currency, r.closing_time = 50000, "SEK", 1767139200000
    r.add_member(pcref.MEMBERS_CUSTOMER, "Anna", "Berg", "anna.berg@fabrikam.example")
    return r


class PartnerCenterTests(unittest.TestCase):
    def setUp(self) -> None:
        EMU.reset()
        self.conn = connect(REFERRALS)
        self.pc = pcref.PartnerCenter(self.conn, connect(WEBHOOKS))

    def tearDown(self) -> None:
        self.pc.close()
        self.conn.close()

    def test_listing_iterates_across_pages(self) -> None:
        EMU.call("POST", "/_control/generate", {"count": 230})
        ids = [r.id for r in self.pc.referrals(orderby="updatedDateTime asc")]
        self.assertEqual(len(ids), 230)
        self.assertEqual(len(set(ids)), 230)
        self.assertEqual(EMU.requests("GET", "/engagements/referrals"), 3)   # pages of 100

    def test_leaving_the_loop_stops_the_listing(self) -> None:
        EMU.call("POST", "/_control/generate", {"count": 230})
        first = []
        for r in self.pc.referrals():
            first.append(r)
            if len(first) == 3:
                break
        self.assertEqual(EMU.requests("GET", "/engagements/referrals"), 1)
        self.assertIsNotNone(first[2].id)   # items are copies: valid after the loop
        self.assertEqual(len(list(self.pc.referrals(filter="type eq 'Shared'", top=5))), 5)

    def test_a_failing_listing_raises_in_the_loop(self) -> None:
        EMU.call("POST", "/_control/faults", {"method": "GET", "path": "/engagements/referrals", "status": 400,
                                              "count": -1})
        with self.assertRaises(pcref.Error) as cm:
            list(self.pc.referrals())
        self.assertEqual(cm.exception.http_status, 400)

    def test_create_get_apply_and_a_conflict(self) -> None:
        made = self.pc.create_referral(new_deal("Fabrikam Azure migration"))
        self.assertEqual((made.status, made.substatus), ("Active", "Accepted"))
        got = self.pc.get_referral(made.id or "")
        self.assertEqual(got.name, "Fabrikam Azure migration")
        first, second = made.copy(), made.copy()
        first.notes, second.notes = "first writer", "second writer"
        stored = self.pc.apply(made, first)
        self.assertNotEqual(stored.etag, made.etag)
        with self.assertRaises(pcref.Conflict) as cm:
            self.pc.apply(made, second)
        e = cm.exception
        self.assertEqual((e.http_status, e.service_code, e.service_inner_code), (412, "preconditionFailed", "99918"))
        with self.assertRaises(pcref.NotFound):
            self.pc.get_referral("00000000-0000-0000-0000-000000000000")
        stats = self.conn.stats()
        self.assertGreaterEqual(stats["calls"], 4)
        self.assertEqual(stats["token_requests"], 1)

    def test_cosell_and_related(self) -> None:
        deal = new_deal("Co-sell")
        deal.type = "Shared"
        deal.set_consent(pcref.CONSENT_SHARE_WITH_MICROSOFT_SELLERS, True)
        partner, microsoft = self.pc.create_cosell(deal)
        self.assertEqual(partner.engagement_id, microsoft.engagement_id)
        self.assertIn("msft", [t.id for t in microsoft.targets])
        related = {r.id for r in self.pc.related(partner.engagement_id or "")}
        self.assertEqual(related, {partner.id, microsoft.id})

    def test_webhook_registration_never_replaces_silently(self) -> None:
        with self.assertRaises(pcref.NotFound):
            self.pc.webhook_registration()
        reg = self.pc.register_webhook("http://127.0.0.1:9/first")
        self.assertEqual((reg.url, reg.events[0], reg.replaced_url), ("http://127.0.0.1:9/first", "referral-created",
                                                                      None))
        with self.assertRaises(pcref.Exists):
            self.pc.register_webhook("http://127.0.0.1:9/second")
        reg = self.pc.register_webhook("http://127.0.0.1:9/second", ["referral-updated"], overwrite=True)
        self.assertEqual((reg.events, reg.replaced_url), (["referral-updated"], "http://127.0.0.1:9/first"))

    def test_a_python_token_provider(self) -> None:
        asked = []

        def provider(refresh: bool) -> str:
            asked.append(refresh)
            status, _, body = __import__("peerlib").http_call(
                "POST", EMU.base + "/common/oauth2/token",
                "grant_type=password&client_id=pcref-demo-client&client_secret=pcref-demo-secret&"
                "username=admin@contoso.onmicrosoft.com&password=demo-password&resource=" + REFERRALS,
                headers={"Content-Type": "application/x-www-form-urlencoded"})
            return str(json.loads(body)["access_token"])

        with pcref.PartnerCenter(pcref.Connection(EMU.base, token_provider=provider)) as pc:
            with self.assertRaises(pcref.NotFound):
                pc.get_referral("00000000-0000-0000-0000-000000000000")
        self.assertEqual(asked, [False])

        def refusing(refresh: bool) -> str:
            raise PermissionError("the vault is sealed")

        with pcref.PartnerCenter(pcref.Connection(EMU.base, token_provider=refusing)) as pc:
            with self.assertRaises(pcref.Auth) as cm:
                pc.get_referral("x")
        self.assertIn("the vault is sealed", str(cm.exception) + str(cm.exception.__cause__))


class WebhookTests(unittest.TestCase):
    def setUp(self) -> None:
        EMU.reset()
        host = EMU.base[len("http://"):]
        self.verifier = pcref.WebhookVerifier(certificate_hosts=[host], trust_anchors_file=CA_FILE)

    def tearDown(self) -> None:
        self.verifier.close()

    def signed(self, key: str = "good", header: str = "authorization") -> tuple[bytes, dict[str, str]]:
        answer = EMU.call("POST", "/_control/webhook/sign",
                          {"referral_id": "4e6b9d0c-6f2f-4bb4-9a0e-1b2c3d4e5f60", "key": key, "header": header})
        return answer["body"].encode("utf-8"), answer["headers"]

    def test_a_signed_delivery_verifies_once(self) -> None:
        body, headers = self.signed()
        # as a web framework hands them over: any capitalisation
        event = pcref.verify_webhook(self.verifier, body, {k.upper(): v for k, v in headers.items()})
        self.assertEqual(event.name, "referral-updated")
        self.assertEqual(event.referral_id, "4e6b9d0c-6f2f-4bb4-9a0e-1b2c3d4e5f60")
        self.assertIsInstance(event.change_time, int)
        with self.assertRaises(pcref.Replay) as cm:
            pcref.verify_webhook(self.verifier, body, headers)
        self.assertEqual(cm.exception.http_status, 200)

    def test_x_ms_signature_form_and_http_server_headers(self) -> None:
        import email.message
        body, headers = self.signed(header="x-ms-signature")
        msg = email.message.Message()
        for k, v in headers.items():
            msg[k] = v
        self.assertEqual(pcref.verify_webhook(self.verifier, body, msg).name, "referral-updated")

    def test_refusals_carry_the_status_to_answer(self) -> None:
        body, headers = self.signed(key="rogue", header="authorization")
        with self.assertRaises(pcref.Signature) as cm:
            pcref.verify_webhook(self.verifier, body, headers)
        self.assertEqual(cm.exception.http_status, 401)
        body, headers = self.signed()
        with self.assertRaises(pcref.Signature) as cm:
            pcref.verify_webhook(self.verifier, body + b" ", headers)
        self.assertEqual(cm.exception.http_status, 401)
        with self.assertRaises(pcref.Signature) as cm:
            pcref.verify_webhook(self.verifier, body, {})
        self.assertEqual(cm.exception.http_status, 401)

    def test_parse_without_verifying(self) -> None:
        event = pcref.WebhookEvent.parse(b'{"EventName":"test-created","ResourceName":"test"}')
        self.assertEqual((event.name, event.referral_id, event.change_time), ("test-created", None, None))


if __name__ == "__main__":
    unittest.main()
