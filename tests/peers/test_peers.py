"""Tests of the peer emulators: peerlib and the Partner Center emulator.

    python3 -m unittest discover -s tests/peers -p 'test_*.py'

One emulator runs in this process for the whole module (making its test PKI
once); every test starts from /_control/reset.  The command-line test starts
a second one as a child process.
"""

import http.client
import json
import os
import queue
import select
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from base64 import b64decode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import partnercenter as pc
import peerlib
from peerlib import control, http_call

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = BASE = None
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
USER = {"client_id": "pcref-demo-client", "client_secret": "pcref-demo-secret",
        "username": "admin@contoso.onmicrosoft.com", "password": "demo-password"}
ETAG_RE = r'^"[0-9a-f]{8}-0000-0100-0000-[0-9a-f]{12}"$'
STAMP_RE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$"
PRECONDITION_FAILED = {"error": {
    "code": "preconditionFailed",
    "message": "A precondition provided in the request (such as an if-match header) does not match the "
               "resource's current state.",
    "target": "ETag",
    "innerError": {"code": "99918", "message": "One of the specified pre-condition is not met. Etag value did "
                                               "not Match", "details": None}}}


def setUpModule():
    global SERVER, BASE
    SERVER, BASE = peerlib.start_in_thread(pc.PartnerCenter)


def tearDownModule():
    SERVER.stop()


def referral_body(**overrides):
    """The "Private" create example of the reference (§2.3)."""
    body = {
        "name": "Contoso Test Deal - [Private]", "qualification": "SalesQualified", "type": "Independent",
        "customerProfile": {
            "name": "Contoso Customer Inc",
            "address": {"addressLine1": "One Microsoft Way", "addressLine2": "34", "city": "Redmond",
                        "state": "WA", "postalCode": "98052", "country": "US"},
            "size": "10to50employees",
            "team": [{"firstName": "Sue", "lastName": "Smith", "phoneNumber": "1234567890", "email": ""}]},
        "consent": {"ConsentToToShareInfoWithOthers": True, "ConsentToContact": True,
                    "consentToShareReferralWithMicrosoftSellers": False},
        "details": {"notes": "Supply chain", "dealValue": 50000, "currency": "USD",
                    "closingDateTime": "2024-11-14T00:00:00Z"},
        "team": [{"firstName": "John", "lastName": "Doe", "phoneNumber": "1231231234", "email": ""}],
        "target": []}
    return pc.deep_merge(body, overrides)


class Receiver:
    """A webhook endpoint on loopback recording every POST; answers with the
    scripted statuses first, then 200."""

    def __init__(self, statuses=()):
        self.posts = queue.Queue()
        script = list(statuses)
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                posts.put(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(script.pop(0) if script else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def server_bind(self):
                socketserver.TCPServer.server_bind(self)

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/callback"

    def next(self, timeout=5.0):
        return self.posts.get(timeout=timeout)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def openssl(*args, data=None):
    return subprocess.run(("openssl",) + args, input=data, capture_output=True, timeout=30)


def control_raw(path):
    """A control resource that is not JSON (the CA certificate)."""
    status, _, body = http_call("GET", BASE + path)
    if status != 200:
        raise RuntimeError(f"GET {path} -> {status}")
    return body


class PcTestCase(unittest.TestCase):
    def setUp(self):
        control(BASE, "POST", "/_control/reset")

    # -- helpers ---------------------------------------------------------------
    def grant(self, path="/common/oauth2/token", **fields):
        form = {"grant_type": "password", "resource": pc.AUD_REFERRALS, **USER, **fields}
        form = {k: v for k, v in form.items() if v is not None}
        status, headers, body = http_call("POST", BASE + path, urllib.parse.urlencode(form), FORM)
        return status, headers, json.loads(body)

    def token(self, **fields):
        status, _, body = self.grant(**fields)
        self.assertEqual(status, 200, body)
        return body["access_token"]

    def call(self, method, path, body=None, headers=None, token=None, url=None):
        """An API call with a Referrals token; returns (status, headers, JSON or None)."""
        headers = dict(headers or {})
        if token is not False:
            headers.setdefault("Authorization", f"Bearer {token or self.default_token()}")
        status, resp_headers, data = http_call(method, url or BASE + path, body, headers)
        return status, resp_headers, json.loads(data) if data else None

    def default_token(self):
        if getattr(self, "_token", None) is None:
            self._token = self.token()
        return self._token

    def create(self, **overrides):
        status, _, body = self.call("POST", "/v1.0/engagements/referrals", referral_body(**overrides))
        self.assertEqual(status, 200, body)
        return body

    def patch(self, ref, ops, **headers):
        return self.call("PATCH", f"/v1.0/engagements/referrals/{ref['id']}", ops, headers)

    def list_ids(self, query):
        status, _, body = self.call("GET", "/v1.0/engagements/referrals?" + urllib.parse.urlencode(query))
        self.assertEqual(status, 200, body)
        return [ref["id"] for ref in body["value"]]

    def requests(self, method=None):
        """Logged Referrals API calls (token requests left out)."""
        return [r for r in control(BASE, "GET", "/_control/requests")
                if r["path"].startswith("/v1.0/") and method in (None, r["method"])]


class TokenTests(PcTestCase):
    def test_password_grant_v1_numbers_are_strings(self):
        status, headers, body = self.grant()
        self.assertEqual(status, 200)
        self.assertEqual(body["token_type"], "Bearer")
        self.assertEqual(body["resource"], pc.AUD_REFERRALS)
        for key in ("expires_in", "ext_expires_in", "expires_on", "not_before"):
            self.assertIsInstance(body[key], str)
            self.assertTrue(body[key].isdigit(), key)
        self.assertEqual(body["expires_in"], "3600")
        self.assertIn("refresh_token", body)
        self.assertEqual(headers["Cache-Control"], "no-store")

    def test_v2_grant_numbers_and_scope(self):
        status, _, body = self.grant("/contoso.onmicrosoft.com/oauth2/v2.0/token", resource=None,
                                     scope=f"{pc.AUD_REFERRALS}/.default offline_access")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["expires_in"], 3600)
        self.assertEqual(body["scope"], f"{pc.AUD_REFERRALS}/.default")
        self.assertIn("refresh_token", body)
        _, _, body = self.grant("/common/oauth2/v2.0/token", resource=None, scope=f"{pc.AUD_REFERRALS}/.default")
        self.assertNotIn("refresh_token", body)

    def test_refresh_grant_and_other_audience(self):
        _, _, first = self.grant()
        status, _, body = self.grant(grant_type="refresh_token", refresh_token=first["refresh_token"],
                                     username=None, password=None, resource=pc.AUD_PARTNER_CENTER)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["resource"], pc.AUD_PARTNER_CENTER)
        status, _, events = self.call("GET", "/webhooks/v1/registration/events", token=body["access_token"])
        self.assertEqual(status, 200, events)

    def test_wrong_password_secret_and_client(self):
        status, _, body = self.grant(password="nope")
        self.assertEqual((status, body["error"], body["error_codes"]), (400, "invalid_grant", [50126]))
        self.assertTrue(body["error_description"].startswith("AADSTS50126:"))
        status, _, body = self.grant(client_secret="nope")
        self.assertEqual((status, body["error"]), (401, "invalid_client"))
        self.assertTrue(body["error_description"].startswith("AADSTS7000215:"))
        status, _, body = self.grant(client_id="someone-else")
        self.assertEqual((status, body["error"]), (400, "unauthorized_client"))
        status, _, body = self.grant(resource="https://graph.microsoft.com")
        self.assertEqual((status, body["error"]), (400, "invalid_resource"))

    def test_seeded_credentials(self):
        control(BASE, "POST", "/_control/seed", {"credentials": [
            {"client_id": "other", "client_secret": "s3", "username": "ann@fabrikam.example", "password": "p"}]})
        self.token(client_id="other", client_secret="s3", username="ANN@fabrikam.example", password="p")

    def test_revoke_refuses_every_grant_until_undone(self):
        _, _, first = self.grant()
        control(BASE, "POST", "/_control/tokens", {"revoke": True})
        status, _, body = self.grant()
        self.assertEqual((status, body["error"]), (400, "invalid_grant"))
        self.assertTrue(body["error_description"].startswith("AADSTS50126"))
        status, _, body = self.grant(grant_type="refresh_token", refresh_token=first["refresh_token"])
        self.assertEqual((status, body["error"]), (400, "invalid_grant"))
        self.assertTrue(body["error_description"].startswith("AADSTS700082"))
        control(BASE, "POST", "/_control/tokens", {"revoke": False})
        self.assertEqual(self.grant()[0], 200)

    def test_expired_and_missing_tokens_get_401(self):
        self.assertEqual(self.call("GET", "/v1.0/engagements/referrals")[0], 200)
        state = control(BASE, "POST", "/_control/tokens", {"expire_all": True})
        self.assertEqual(state["active"], 0)
        status, headers, body = self.call("GET", "/v1.0/engagements/referrals")
        self.assertEqual(status, 401)
        self.assertTrue(headers["WWW-Authenticate"].startswith("Bearer"))
        self.assertEqual(body["error"]["code"], "unauthenticated")
        status, headers, body = self.call("GET", "/v1.0/engagements/referrals", token=False)
        self.assertEqual((status, headers["WWW-Authenticate"]), (401, "Bearer"))
        self.assertEqual(set(body["error"]), {"code", "message"})

    def test_lifetime_expiry(self):
        control(BASE, "POST", "/_control/tokens", {"lifetime": 1})
        _, _, body = self.grant()
        self.assertEqual(body["expires_in"], "1")
        time.sleep(1.1)
        self.assertEqual(self.call("GET", "/v1.0/engagements/referrals", token=body["access_token"])[0], 401)

    def test_audiences_and_app_only_tokens(self):
        webhook_token = self.token(resource=pc.AUD_PARTNER_CENTER)
        self.assertEqual(self.call("GET", "/v1.0/engagements/referrals", token=webhook_token)[0], 401)
        self.assertEqual(self.call("GET", "/webhooks/v1/registration/events")[0], 401)
        app_token = self.token(grant_type="client_credentials", username=None, password=None)
        status, _, body = self.call("GET", "/v1.0/engagements/referrals", token=app_token)
        self.assertEqual((status, body["error"]["code"]), (403, "accessDenied"))
        app_token = self.token(grant_type="client_credentials", username=None, password=None,
                               resource=pc.AUD_PARTNER_CENTER)
        self.assertEqual(self.call("GET", "/webhooks/v1/registration/events", token=app_token)[0], 200)


class ListTests(PcTestCase):
    def seed(self, *rows):
        return control(BASE, "POST", "/_control/seed", {"referrals": list(rows)})["referrals"]

    def test_paging_1050_follows_next_link_verbatim(self):
        ids = control(BASE, "POST", "/_control/generate", {"count": 1050, "seed": 7})["ids"]
        control(BASE, "DELETE", "/_control/requests")
        seen, sizes = [], []
        url = BASE + "/v1.0/engagements/referrals"
        for _ in range(20):
            status, _, body = self.call("GET", None, url=url)
            self.assertEqual(status, 200, body)
            self.assertEqual(body["@odata.count"], len(body["value"]))
            sizes.append(len(body["value"]))
            seen += [ref["id"] for ref in body["value"]]
            url = body.get("@odata.nextLink")
            if url is None:
                break
            self.assertTrue(url.startswith(BASE + "/v1.0/engagements/referrals?$skiptoken="), url)
        self.assertEqual(sizes, [100] * 10 + [50])
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(set(seen), set(ids))
        self.assertEqual(seen, ids)  # default order: createdDateTime, oldest first
        self.assertEqual(len(self.requests("GET")), 11)

    def test_rows_written_between_pages_are_not_repeated(self):
        control(BASE, "POST", "/_control/generate", {"count": 150})
        _, _, first = self.call("GET", "/v1.0/engagements/referrals?$orderby=createdDateTime%20desc")
        self.create()  # newest: sorts before the page already read
        _, _, second = self.call("GET", None, url=first["@odata.nextLink"])
        ids = [r["id"] for r in first["value"] + second["value"]]
        self.assertEqual(len(ids), 150)
        self.assertEqual(len(set(ids)), 150)

    def test_top_beyond_one_page_and_skip(self):
        control(BASE, "POST", "/_control/generate", {"count": 230})
        _, _, body = self.call("GET", "/v1.0/engagements/referrals?$top=150")
        self.assertEqual(len(body["value"]), 100)
        _, _, rest = self.call("GET", None, url=body["@odata.nextLink"])
        self.assertEqual(len(rest["value"]), 50)
        self.assertNotIn("@odata.nextLink", rest)
        all_ids = self.list_ids({"$top": "20"})
        self.assertEqual(self.list_ids({"$top": "5", "$skip": "10"}), all_ids[10:15])

    def test_filter_examples_of_the_reference(self):
        a, b, c = self.seed(
            {"type": "Shared", "direction": "Incoming", "status": "New", "substatus": "Pending",
             "qualification": "SalesQualified", "customerProfile": {"address": {"country": "US"}},
             "details": {"dealValue": 75000}, "updatedDateTime": "2024-03-01T10:00:00.1234567Z",
             "team": [{"email": "r2d2@contoso.com"}]},
            {"type": "Shared", "direction": "Outgoing", "status": "Active", "substatus": "Accepted",
             "customerProfile": {"address": {"country": "DE"}}, "details": {"dealValue": 20000},
             "updatedDateTime": "2024-02-01T00:00:00Z", "team": [{"email": "r2d2@contoso.com"}]},
            {"type": "Independent", "direction": "Incoming", "status": "New", "substatus": "Received",
             "qualification": "Direct", "customerProfile": {"address": {"country": "US"}},
             "updatedDateTime": "2024-01-01T00:00:00Z"})
        cases = {
            "status eq 'New' and qualification eq 'SalesQualified'": {a["id"]},
            "customerProfile/address/country eq 'US' and direction eq 'Incoming'": {a["id"], c["id"]},
            "(type eq 'Shared' and direction eq 'Incoming')": {a["id"]},
            "(direction eq 'Incoming' and substatus eq 'Pending')": {a["id"]},
            "status eq 'Active' and direction eq 'Outgoing' and type eq 'Shared' and "
            "team/any(t:t/email eq 'r2d2@contoso.com')": {b["id"]},
            f"engagementId eq '{b['engagementId']}'": {b["id"]},
            f"engagementId eq {b['engagementId']}": {b["id"]},
            "updatedDateTime gt 2024-01-15T00:00:00Z": {a["id"], b["id"]},
            "updatedDateTime ge '2024-03-01T10:00:00.1234567Z'": {a["id"]},
            "details/dealValue gt 50000 or status eq 'Active'": {a["id"], b["id"]},
            "details/dealValue eq null": {c["id"]},
            "team/any()": {a["id"], b["id"]},
        }
        for expression, expected in cases.items():
            with self.subTest(expression):
                self.assertEqual(set(self.list_ids({"$filter": expression})), expected)

    def test_orderby_and_select(self):
        control(BASE, "POST", "/_control/generate", {"count": 30, "seed": 3})
        _, _, body = self.call("GET", "/v1.0/engagements/referrals?" + urllib.parse.urlencode(
            {"$orderby": "updatedDateTime desc", "$top": "30", "$select": "id,updatedDateTime,status"}))
        stamps = [r["updatedDateTime"] for r in body["value"]]
        self.assertEqual(stamps, sorted(stamps, reverse=True))
        self.assertEqual({frozenset(r) for r in body["value"]}, {frozenset(("id", "updatedDateTime", "status"))})

    def test_bad_queries_name_the_problem(self):
        cases = {
            ("$filter", "status eq"): "at the end",
            ("$filter", "status eq 'New' andd type eq 'Shared'"): "andd",
            ("$filter", "stauts eq 'New'"): "stauts",
            ("$filter", "contains(name,'x')"): "contains",
            ("$filter", "team/all(t:t/email eq 'x')"): "all",
            ("$orderby", "name asc"): "name",
            ("$select", "id,customerProfile/name"): "customerProfile/name",
            ("$top", "-1"): "$top",
            ("$expand", "team"): "$expand",
            ("$skiptoken", "bm90LWEtdG9rZW4"): "skiptoken",
        }
        for (option, value), needle in cases.items():
            with self.subTest(option=option, value=value):
                status, _, body = self.call("GET", "/v1.0/engagements/referrals?" +
                                            urllib.parse.urlencode({option: value}))
                self.assertEqual(status, 400)
                self.assertEqual(body["error"]["code"], "invalidRequest")
                self.assertIn(needle, body["error"]["message"])

    def test_related_referrals_link(self):
        first = self.create(type="Shared")
        second = self.create(type="Shared", engagementId=first["engagementId"])
        self.create()
        uri = first["links"]["relatedReferrals"]["uri"]
        status, _, body = self.call("GET", None, url=uri.replace(" ", "%20"))
        self.assertEqual(status, 200, body)
        self.assertEqual({r["id"] for r in body["value"]}, {first["id"], second["id"]})


class WriteTests(PcTestCase):
    def test_create_fills_server_fields(self):
        ref = self.create()
        self.assertEqual(ref["@odata.context"],
                         f"{BASE}/v1.0/engagments/referrals/$metadata#Referrals/$entity")
        self.assertEqual((ref["status"], ref["substatus"], ref["direction"]), ("Active", "Accepted", "Outgoing"))
        self.assertEqual(ref["acceptedDateTime"], ref["createdDateTime"])
        self.assertEqual(ref["updatedDateTime"], ref["createdDateTime"])
        self.assertRegex(ref["updatedDateTime"], STAMP_RE)
        self.assertRegex(ref["eTag"], ETAG_RE)
        self.assertEqual((ref["organizationId"], ref["organizationName"]), (pc.ORG_ID, pc.ORG_NAME))
        self.assertIsNone(ref["expirationDateTime"])
        self.assertIn("closedDateTime", ref)
        self.assertTrue(ref["consent"]["consentToContact"])  # "ConsentToContact" bound case-insensitively
        self.assertEqual(ref["links"]["self"]["uri"], f"{BASE}/v1.0/engagements/referrals/{ref['id']}")
        status, headers, got = self.call("GET", f"/v1.0/engagements/referrals/{ref['id']}")
        self.assertEqual((status, headers["ETag"]), (200, ref["eTag"]))
        self.assertEqual(got, ref)
        status, _, got = self.call("GET", f"/engagements/v1/referrals/{ref['id']}")
        self.assertEqual((status, got["id"]), (200, ref["id"]))
        stored = control(BASE, "GET", f"/_control/rows/referrals/{ref['id']}")
        self.assertEqual(stored["eTag"], ref["eTag"])
        self.assertEqual(self.call("GET", "/v1.0/engagements/referrals/no-such-id")[0], 404)

    def test_create_closed_referral_is_kept_closed(self):
        ref = self.create(status="Closed", substatus="Won")
        self.assertEqual((ref["status"], ref["substatus"]), ("Closed", "Won"))
        self.assertEqual(ref["closedDateTime"], ref["createdDateTime"])

    def test_create_validation(self):
        body = referral_body()
        del body["details"]
        cases = [(body, "details"),
                 (referral_body(customerProfile={"address": {"country": "USA"}}), "customerProfile.address.country"),
                 (referral_body(type="Private"), "type"),
                 (referral_body(status="New", substatus="Won"), "substatus"),
                 (referral_body(details={"dealValue": "lots"}), "details.dealValue")]
        for body, target in cases:
            with self.subTest(target):
                status, _, answer = self.call("POST", "/v1.0/engagements/referrals", body)
                self.assertEqual(status, 400, answer)
                self.assertEqual((answer["error"]["code"], answer["error"]["target"]), ("invalidRequest", target))

    def test_patch_if_match_and_prefer(self):
        ref = self.create()
        ops = [{"op": "replace", "path": "/details/notes", "value": "Lorem ipsum dolor sit amet."}]
        status, headers, body = self.patch(ref, ops, **{"If-Match": ref["eTag"], "Prefer": "return=representation"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["details"]["notes"], "Lorem ipsum dolor sit amet.")
        self.assertNotEqual(body["eTag"], ref["eTag"])
        self.assertEqual(headers["ETag"], body["eTag"])
        self.assertGreater(body["updatedDateTime"], ref["updatedDateTime"])
        status, _, error = self.patch(ref, ops, **{"If-Match": ref["eTag"]})
        self.assertEqual((status, error), (412, PRECONDITION_FAILED))
        status, headers, none = self.patch(ref, ops)  # no If-Match: no concurrency check
        self.assertEqual((status, headers["Content-Length"], none), (204, "0", None))

    def test_patch_operations(self):
        ref = self.create()
        ops = [{"op": "replace", "path": "/details/dealValue", "value": "10000"},
               {"op": "add", "path": "/team/-", "value": {"email": "jane.doe@contoso.com", "firstName": "Jane",
                                                          "lastName": "Doe", "phoneNumber": "0000000001"}},
               {"op": "add", "path": "/customerProfile/ids/0", "value": {"profileType": "Duns", "id": "1"}},
               {"op": "add", "path": "/details/requirements/additionalRequirements/a~1b~0c", "value": 1}]
        _, _, body = self.patch(ref, ops, Prefer="return=representation")
        self.assertEqual(body["details"]["dealValue"], 10000)
        self.assertEqual(body["team"][-1]["firstName"], "Jane")
        self.assertIn("contactPreference", body["team"][-1])
        self.assertEqual(body["customerProfile"]["ids"], [{"profileType": "Duns", "id": "1"}])
        self.assertEqual(body["details"]["requirements"]["additionalRequirements"]["a/b~c"], 1)
        for op, target in (({"op": "remove", "path": "/name"}, "/name"),
                           ({"op": "replace", "path": "/id", "value": "x"}, "/id"),
                           ({"op": "replace", "path": "/nosuch", "value": 1}, "/nosuch"),
                           ({"op": "replace", "path": "/team/9/email", "value": "x"}, "/team/9/email")):
            with self.subTest(op):
                status, _, error = self.patch(ref, [op])
                self.assertEqual((status, error["error"]["target"]), (400, target))
        self.assertEqual(self.call("GET", f"/v1.0/engagements/referrals/{ref['id']}")[2]["eTag"], body["eTag"])

    def test_put_needs_if_match(self):
        ref = self.create()
        doc = {k: v for k, v in ref.items() if k not in ("links", "@odata.context")}
        doc["name"] = "Renamed"
        path = f"/v1.0/engagements/referrals/{ref['id']}"
        self.assertEqual(self.call("PUT", path, doc)[0], 428)
        status, _, body = self.call("PUT", path, doc, {"If-Match": ref["eTag"]})
        self.assertEqual((status, body["name"]), (200, "Renamed"))
        self.assertEqual(body["createdDateTime"], ref["createdDateTime"])
        status, _, error = self.call("PUT", path, doc, {"If-Match": ref["eTag"]})
        self.assertEqual((status, error), (412, PRECONDITION_FAILED))
        status, _, error = self.call("PUT", path, dict(doc, links={}), {"If-Match": body["eTag"]})
        self.assertEqual((status, error["error"]["target"]), (400, "links"))

    def test_status_rules(self):
        ref = self.create()
        status, _, error = self.patch(ref, [{"op": "replace", "path": "/status", "value": "New"},
                                            {"op": "replace", "path": "/substatus", "value": "Pending"}])
        self.assertEqual(status, 400)
        self.assertIn("'Active'", error["error"]["message"])
        self.assertIn("'New'", error["error"]["message"])
        status, _, error = self.patch(ref, [{"op": "replace", "path": "/status", "value": "Closed"}])
        self.assertEqual(status, 400)
        self.assertIn("'Accepted'", error["error"]["message"])
        self.assertIn("'Closed'", error["error"]["message"])
        status, _, won = self.patch(ref, [{"op": "replace", "path": "/status", "value": "Closed"},
                                          {"op": "replace", "path": "/substatus", "value": "Won"}],
                                    Prefer="return=representation")
        self.assertEqual((status, won["substatus"]), (200, "Won"))
        self.assertEqual(won["closedDateTime"], won["updatedDateTime"])
        status, _, error = self.patch(ref, [{"op": "replace", "path": "/details/notes", "value": "late"}])
        self.assertEqual(status, 400)
        self.assertIn("closed", error["error"]["message"])
        doc = {k: v for k, v in won.items() if k not in ("links", "@odata.context")}
        self.assertEqual(self.call("PUT", f"/v1.0/engagements/referrals/{ref['id']}", doc,
                                   {"If-Match": won["eTag"]})[0], 400)

    def test_visibility_cannot_be_reverted(self):
        ref = self.create(consent={"consentToShareReferralWithMicrosoftSellers": True})
        status, _, error = self.patch(
            ref, [{"op": "replace", "path": "/consent/consentToShareReferralWithMicrosoftSellers", "value": False}])
        self.assertEqual(status, 400)
        self.assertEqual(error["error"]["target"], "consent.consentToShareReferralWithMicrosoftSellers")

    def test_microsoft_share_accept_and_expiry(self):
        shared = control(BASE, "POST", "/_control/microsoft/share", {"name": "Fabrikam co-sell"})
        self.assertEqual((shared["type"], shared["direction"], shared["status"], shared["substatus"]),
                         ("Shared", "Incoming", "New", "Pending"))
        self.assertEqual(shared["inviteContext"]["invitedBy"]["organizationId"], "msft")
        self.assertEqual(shared["qualification"], "SalesQualified")
        self.assertTrue(shared["customerProfile"]["team"] and shared["details"]["requirements"]["solutions"])
        self.assertIsNone(shared["acceptedDateTime"])
        self.assertIsNotNone(shared["expirationDateTime"])
        _, _, accepted = self.patch(shared, [{"op": "replace", "path": "/status", "value": "Active"},
                                             {"op": "replace", "path": "/substatus", "value": "Accepted"}],
                                    Prefer="return=representation")
        self.assertEqual(accepted["acceptedDateTime"], accepted["updatedDateTime"])
        old = control(BASE, "POST", "/_control/seed", {"referrals": [
            {"direction": "Incoming", "type": "Shared", "createdDateTime": "2020-01-01T00:00:00Z"}]})["referrals"][0]
        _, _, expired = self.call("GET", f"/v1.0/engagements/referrals/{old['id']}")
        self.assertEqual((expired["status"], expired["substatus"]), ("Closed", "Expired"))


class FaultTests(PcTestCase):
    LIST = "/v1.0/engagements/referrals"

    def test_throttle_once_then_success(self):
        control(BASE, "POST", "/_control/faults", {"method": "GET", "path": "^/v1\\.0/engagements/referrals$",
                                                   "status": 429, "headers": {"Retry-After": "1"}})
        status, headers, body = self.call("GET", self.LIST)
        self.assertEqual((status, headers["Retry-After"]), (429, "1"))
        self.assertEqual(body, {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 1 seconds."})
        self.assertEqual(self.call("GET", self.LIST)[0], 200)
        faults = control(BASE, "GET", "/_control/faults")
        self.assertEqual((faults[0]["remaining"], faults[0]["hits"]), (0, 1))
        self.assertEqual([r["fault"] for r in self.requests("GET")], [faults[0]["id"], None])

    def test_skip_count_and_custom_body(self):
        control(BASE, "POST", "/_control/faults", {"path": "referrals", "status": 503, "skip": 1, "count": 2,
                                                   "body": {"error": {"code": "serviceNotAvailable"}}})
        statuses = [self.call("GET", self.LIST)[0] for _ in range(4)]
        self.assertEqual(statuses, [200, 503, 503, 200])

    def test_drop_and_reset(self):
        token = self.default_token()
        for action, error in (("drop", http.client.RemoteDisconnected), ("reset", ConnectionResetError)):
            with self.subTest(action):
                control(BASE, "POST", "/_control/faults", {"path": "referrals", "action": action})
                with self.assertRaises(error):
                    http_call("GET", BASE + self.LIST, headers={"Authorization": f"Bearer {token}"})
        self.assertEqual([r["status"] for r in self.requests()], [None, None])

    def test_delay(self):
        control(BASE, "POST", "/_control/faults", {"path": "referrals", "delay_ms": 300})
        started = time.monotonic()
        self.assertEqual(self.call("GET", self.LIST)[0], 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.3)

    def test_bad_fault_rejected(self):
        with self.assertRaises(RuntimeError):
            control(BASE, "POST", "/_control/faults", {"path": "(", "status": 500})
        with self.assertRaises(RuntimeError):
            control(BASE, "POST", "/_control/faults", {"status": 500, "action": "explode"})

    def test_request_log_redacts_and_skips_control(self):
        self.call("GET", self.LIST + "?$top=1", headers={"client-request-id": "abc"})
        control(BASE, "GET", "/_control/health")
        (entry,) = self.requests()
        self.assertEqual(entry["headers"]["authorization"], "Bearer")
        self.assertEqual((entry["path"], entry["query"], entry["status"]), (self.LIST, {"$top": "1"}, 200))
        control(BASE, "DELETE", "/_control/requests")
        self.assertEqual(self.requests(), [])

    def test_keep_alive_and_connection_close(self):
        request = b"GET /_control/health HTTP/1.1\r\nHost: pc\r\n"
        with socket.create_connection(("127.0.0.1", SERVER.port), timeout=5) as sock:
            sock.sendall(request + b"\r\n" + request + b"\r\n" + request + b"Connection: close\r\n\r\n")
            data = b""
            for _ in range(100):  # until the server closes
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        self.assertEqual(data.count(b"HTTP/1.1 200 OK\r\n"), 3)
        self.assertEqual(data.count(b"Content-Length: 11\r\n"), 3)
        self.assertEqual(data.count(b"Connection: close\r\n"), 1)
        self.assertTrue(data.endswith(b'{"ok":true}'))


class WebhookTests(PcTestCase):
    def setUp(self):
        super().setUp()
        self.receiver = Receiver()
        self.addCleanup(self.receiver.close)
        self.pc_token = self.token(resource=pc.AUD_PARTNER_CENTER)
        control(BASE, "POST", "/_control/webhook/config", {"backoff": 0.05, "backoff_max": 0.1})

    def register(self, method="POST", events=pc.REFERRAL_EVENTS, url=None, **extra):
        return self.call(method, "/webhooks/v1/registration", {"WebhookUrl": url or self.receiver.url,
                                                                "WebhookEvents": list(events), **extra},
                         token=self.pc_token)

    def verify(self, body, headers, cert_der):
        """openssl's verdicts: (signature, chain to the test root)."""
        ca = control_raw("/_control/webhook/ca.pem")
        scheme, _, signature = (headers.get("authorization") or headers["x-ms-signature"]).partition(" ")
        self.assertEqual(scheme, "Signature")
        with tempfile.TemporaryDirectory() as tmp:
            files = {name: os.path.join(tmp, name) for name in ("cert.der", "sig", "body", "ca.pem", "cert.pem",
                                                                "pub.pem")}
            for name, data in (("cert.der", cert_der), ("sig", b64decode(signature)), ("body", body),
                               ("ca.pem", ca)):
                with open(files[name], "wb") as fh:
                    fh.write(data)
            self.assertEqual(openssl("x509", "-inform", "DER", "-in", files["cert.der"],
                                     "-out", files["cert.pem"]).returncode, 0)
            self.assertEqual(openssl("x509", "-in", files["cert.pem"], "-pubkey", "-noout",
                                     "-out", files["pub.pem"]).returncode, 0)
            signed = openssl("dgst", "-sha256", "-verify", files["pub.pem"], "-signature", files["sig"],
                             files["body"]).returncode == 0
            chained = openssl("verify", "-CAfile", files["ca.pem"], files["cert.pem"]).returncode == 0
        return signed, chained

    def test_registration_api(self):
        status, _, events = self.call("GET", "/webhooks/v1/registration/events", token=self.pc_token)
        self.assertEqual(status, 200)
        self.assertTrue(set(pc.REFERRAL_EVENTS) <= set(events))
        self.assertEqual(self.call("GET", "/webhooks/v1/registration", token=self.pc_token)[0], 404)
        status, _, created = self.register()
        self.assertEqual(status, 200)
        self.assertEqual(set(created), {"SubscriberId", "WebhookUrl", "WebhookEvents"})
        status, _, error = self.register()
        self.assertEqual(status, 409)
        self.assertEqual(error["description"],
                         "Registration already exists, use the PUT method to update a registration.")
        status, _, updated = self.register("PUT", events=["referral-updated"])
        self.assertEqual((status, updated["SubscriberId"]), (200, created["SubscriberId"]))
        _, _, view = self.call("GET", "/webhooks/v1/registration", token=self.pc_token)
        self.assertEqual(view, {"WebhookUrl": self.receiver.url, "WebhookEvents": ["referral-updated"]})
        self.assertEqual(self.register("PUT", url="http://192.0.2.1/hook")[0], 400)

    def test_delivery_is_signed_by_the_microsoft_test_cert(self):
        self.register()
        ref = self.create()
        headers, body = self.receiver.next()
        event = json.loads(body)
        self.assertEqual(list(event), ["EventName", "ResourceUri", "ResourceName", "AuditUri",
                                       "ResourceChangeUtcDate"])
        self.assertEqual(event["EventName"], "referral-created")
        self.assertEqual(event["ResourceUri"], f"{BASE}/engagements/v1/referrals/{ref['id']}")
        self.assertRegex(event["ResourceChangeUtcDate"], r"\.\d{7}\+00:00$")
        self.assertEqual(headers["x-ms-signature-algorithm"], "rsa-sha256")
        self.assertEqual(self.call("GET", None, url=event["ResourceUri"])[2]["id"], ref["id"])
        status, _, cert = http_call("GET", headers["x-ms-certificate-url"])
        self.assertEqual(status, 200)
        self.assertEqual(self.verify(body, headers, cert), (True, True))
        subject = openssl("x509", "-inform", "DER", "-noout", "-issuer", "-subject", data=cert).stdout.decode()
        self.assertIn("Microsoft Corporation", subject)
        self.assertIn("pcnotifications-dispatch.microsoft.com", subject)

        rogue = control(BASE, "POST", "/_control/webhook/sign", {"referral_id": ref["id"], "key": "rogue"})
        raw = rogue["body"].encode()
        rogue_headers = {k.lower(): v for k, v in rogue["headers"].items()}
        self.assertTrue(rogue_headers["x-ms-certificate-url"].endswith("/cert/rogue.cer"))
        rogue_cert = http_call("GET", rogue_headers["x-ms-certificate-url"])[2]
        self.assertEqual(self.verify(raw, rogue_headers, rogue_cert), (True, False))
        self.assertEqual(self.verify(raw, rogue_headers, cert), (False, True))
        good = control(BASE, "POST", "/_control/webhook/sign", {"referral_id": ref["id"]})
        self.assertEqual(self.verify(good["body"].encode(), {k.lower(): v for k, v in good["headers"].items()},
                                     cert), (True, True))

    def test_related_events_and_signature_header(self):
        first = self.create(type="Shared")
        second = self.create(type="Shared", engagementId=first["engagementId"])
        self.register(SignatureTokenToMsSignatureHeader=True)
        self.patch(first, [{"op": "replace", "path": "/name", "value": "Updated"}])
        got = {}
        for _ in range(2):
            headers, body = self.receiver.next()
            self.assertNotIn("authorization", headers)
            self.assertTrue(headers["x-ms-signature"].startswith("Signature "))
            event = json.loads(body)
            got[event["EventName"]] = event["ResourceUri"].rsplit("/", 1)[1]
        self.assertEqual(got, {"referral-updated": first["id"], "related-referral-updated": second["id"]})

    def test_retries_then_delivered_or_dropped(self):
        flaky = Receiver(statuses=(500, 503))
        self.addCleanup(flaky.close)
        record = control(BASE, "POST", "/_control/webhook/deliver", {"referral_id": "r1", "url": flaky.url})
        self.assertEqual(record["state"], "delivered")
        self.assertEqual([a["status"] for a in record["attempts"]], [500, 503, 200])
        control(BASE, "POST", "/_control/webhook/config", {"attempts": 3})
        dead = Receiver(statuses=(500,) * 10)
        self.addCleanup(dead.close)
        record = control(BASE, "POST", "/_control/webhook/deliver", {"referral_id": "r2", "url": dead.url})
        self.assertEqual((record["state"], len(record["attempts"])), ("dropped", 3))
        self.assertEqual(len(control(BASE, "GET", "/_control/webhook/deliveries")), 2)

    def test_validation_event(self):
        self.register(events=["test-created"])
        status, _, answer = self.call("POST", "/webhooks/v1/registration/validationEvents", token=self.pc_token)
        self.assertEqual(status, 200)
        _, body = self.receiver.next()
        event = json.loads(body)
        self.assertEqual((event["EventName"], event["ResourceName"]), ("test-created", "test"))
        self.assertTrue(event["ResourceUri"].endswith(answer["correlationId"]))
        path = f"/webhooks/v1/registration/validationEvents/{answer['correlationId']}"
        for _ in range(50):
            _, _, state = self.call("GET", path, token=self.pc_token)
            if state["status"] == "completed":
                break
            time.sleep(0.05)
        self.assertEqual(state["status"], "completed")
        self.assertEqual(state["results"][0]["responseCode"], "OK")
        self.assertEqual(self.call("POST", "/webhooks/v1/registration/validationEvents", token=self.pc_token)[0], 200)
        status, headers, _ = self.call("POST", "/webhooks/v1/registration/validationEvents", token=self.pc_token)
        self.assertEqual(status, 429)
        self.assertIn("Retry-After", headers)

    def test_microsoft_share_fires_created(self):
        self.register()
        shared = control(BASE, "POST", "/_control/microsoft/share", {})
        event = json.loads(self.receiver.next()[1])
        self.assertEqual(event["EventName"], "referral-created")
        self.assertTrue(event["ResourceUri"].endswith(shared["id"]))


class ControlTests(PcTestCase):
    def test_seed_rows_and_reset(self):
        stored = control(BASE, "POST", "/_control/seed", {"referrals": [{"name": "Seeded", "type": "Shared"}]})
        ref = stored["referrals"][0]
        self.assertEqual((ref["status"], ref["direction"]), ("Active", "Outgoing"))
        self.assertEqual([r["id"] for r in control(BASE, "GET", "/_control/rows/referrals")], [ref["id"]])
        self.assertEqual(len(control(BASE, "GET", "/_control/rows/credentials")), 1)
        with self.assertRaises(RuntimeError):
            control(BASE, "POST", "/_control/seed", {"nosuch": []})
        control(BASE, "POST", "/_control/reset", {"defaults": False})
        self.assertEqual(control(BASE, "GET", "/_control/rows/credentials"), [])
        self.assertEqual(self.grant()[0], 400)

    def test_command_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            port_file = os.path.join(tmp, "port")
            seed = os.path.join(tmp, "seed.json")
            with open(seed, "w") as fh:
                json.dump({"referrals": [{"name": "From the seed file"}]}, fh)
            proc = subprocess.Popen([sys.executable, os.path.join(HERE, "partnercenter.py"), "--port", "0",
                                     "--port-file", port_file, "--seed", seed, "--quiet"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                ready, _, _ = select.select([proc.stdout], [], [], 20)
                self.assertTrue(ready, "no READY line within 20 s")
                line = proc.stdout.readline().decode().strip()
                with open(port_file) as fh:
                    port = int(fh.read())
                self.assertEqual(line, f"READY http://127.0.0.1:{port}")
                base = line.split(" ", 1)[1]
                self.assertEqual(control(base, "GET", "/_control/health"), {"ok": True})
                rows = control(base, "GET", "/_control/rows/referrals")
                self.assertEqual([r["name"] for r in rows], ["From the seed file"])
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(timeout=10), 0)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
                proc.stderr.close()

    def test_refuses_non_loopback_host(self):
        done = subprocess.run([sys.executable, os.path.join(HERE, "partnercenter.py"), "--host", "0.0.0.0"],
                              capture_output=True, timeout=20)
        self.assertEqual(done.returncode, 2)
        self.assertIn(b"loopback", done.stderr)
        with self.assertRaises(ValueError):
            peerlib.loopback_host(socket.gethostname() + ".example")


if __name__ == "__main__":
    unittest.main()
