"""Tests of the Dataverse emulator (tests/peers/dataverse.py).

    python3 -m unittest discover -s tests/peers -p 'test_dataverse.py'

One emulator runs in this process for the whole module; every test starts
from /_control/reset with a fresh client-credentials token.  The
command-line test starts a second one as a child process.
"""

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import unittest
import urllib.parse
import uuid

import dataverse as dv
import peerlib
from peerlib import control, http_call

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = BASE = None
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CREDENTIALS = {"client_id": "pcref-demo-client", "client_secret": "pcref-demo-secret",
               "grant_type": "client_credentials", "scope": "https://contoso.crm.dynamics.com/.default"}
STALE = {"error": {"code": "0x80060882",
                   "message": "The version of the existing record doesn't match the RowVersion property provided."}}
DUPLICATE = {"error": {"code": "0x80040237", "message": "A record with matching key values already exists."}}
ENTITY_ID_RE = r"^http://127\.0\.0\.1:\d+/api/data/v9\.2/{}\(([0-9a-f-]{{36}})\)$"


def setUpModule():
    global SERVER, BASE
    SERVER, BASE = peerlib.start_in_thread(dv.Dataverse)


def tearDownModule():
    SERVER.stop()


def quote_url(url):
    """Percent-encode what a client must (spaces, '+', quotes are kept as OData writes them)."""
    return urllib.parse.quote(url, safe=":/?&=$,()'@*!%-._~")


def op(method, url, body=None, content_id=None, headers=None):
    """One application/http part of a $batch."""
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        lines.append(f"Content-ID: {content_id}")
    request = [f"{method} {url} HTTP/1.1"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body is not None:
        request.append("Content-Type: application/json; type=entry")
    text = "\r\n".join(lines) + "\r\n\r\n" + "\r\n".join(request) + "\r\n\r\n"
    return text + (json.dumps(body) if body is not None else "")


def batch_body(boundary, items):
    """items: op() texts, or lists of op() texts (change sets)."""
    chunks = []
    for item in items:
        if isinstance(item, list):
            cs = f"changeset_{uuid.uuid4()}"
            inner = "".join(f"--{cs}\r\n{part}\r\n" for part in item) + f"--{cs}--\r\n"
            chunks.append(f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={cs}\r\n\r\n{inner}")
        else:
            chunks.append(f"--{boundary}\r\n{item}\r\n")
    return "".join(chunks) + f"--{boundary}--\r\n"


def response_parts(body):
    """(status, headers text, body text) of every application/http part of a batch answer."""
    return [(int(m.group(1)), m.group(2), m.group(3).strip())
            for m in re.finditer(r"HTTP/1\.1 (\d{3})[^\r\n]*\r\n(.*?)\r\n\r\n(.*?)(?=\r\n--)", body, re.S)]


class DvTestCase(unittest.TestCase):
    def setUp(self):
        control(BASE, "POST", "/_control/reset")
        self.token = self.get_token()
        self.api = f"{BASE}/api/data/v9.2"

    def get_token(self, **overrides):
        status, _, data = http_call("POST", f"{BASE}/tenant.onmicrosoft.com/oauth2/v2.0/token",
                                    urllib.parse.urlencode({**CREDENTIALS, **overrides}), FORM)
        self.assertEqual(status, 200, data)
        return json.loads(data)["access_token"]

    def call(self, method, path, body=None, headers=None, token=True):
        """(status, headers, JSON or text or None) of a Web API call; ``path``
        is relative to /api/data/v9.2/ unless it is absolute."""
        url = path if path.startswith("http") else f"{self.api}/{path}"
        hdrs = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
        if token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        hdrs.update(headers or {})
        status, resp_headers, data = http_call(method, quote_url(url), body, hdrs)
        text = data.decode("utf-8")
        if resp_headers.get("Content-Type", "").startswith("application/json") and text:
            return status, resp_headers, json.loads(text)
        return status, resp_headers, text or None

    def create(self, set_name, body):
        status, headers, data = self.call("POST", set_name, body)
        self.assertEqual(status, 204, data)
        return re.match(ENTITY_ID_RE.format(set_name), headers["OData-EntityId"]).group(1)

    def get(self, set_name, rid, select=None):
        status, _, data = self.call("GET", f"{set_name}({rid})" + (f"?$select={select}" if select else ""))
        self.assertEqual(status, 200, data)
        return data

    def query(self, path, headers=None):
        status, _, data = self.call("GET", path, headers=headers)
        self.assertEqual(status, 200, data)
        return data["value"]

    def assertError(self, resp, status, code, message_part):
        self.assertEqual(resp[0], status, resp[2])
        self.assertEqual(set(resp[2]), {"error"})
        self.assertEqual(set(resp[2]["error"]), {"code", "message"})
        self.assertEqual(resp[2]["error"]["code"], code)
        self.assertIn(message_part, resp[2]["error"]["message"])

    @staticmethod
    def logged(predicate, timeout=3.0):
        """The request log once ``predicate(entries)`` holds, or after ``timeout``:
        peerlib appends a request to the log just after answering it."""
        deadline = time.monotonic() + timeout
        while True:
            entries = control(BASE, "GET", "/_control/requests")
            if predicate(entries) or time.monotonic() > deadline:
                return entries
            time.sleep(0.01)

    def send_batch(self, items, prefer=None):
        boundary = f"batch_{uuid.uuid4()}"
        headers = {"Content-Type": f"multipart/mixed; boundary={boundary}"}
        if prefer:
            headers["Prefer"] = prefer
        status, resp_headers, data = self.call("POST", "$batch", batch_body(boundary, items), headers)
        if isinstance(data, str):   # else the whole batch was refused with a JSON error
            self.assertTrue(resp_headers["Content-Type"].startswith("multipart/mixed; boundary=batchresponse_"))
        return status, resp_headers, data


class TokenTests(DvTestCase):
    def test_client_credentials_token_and_whoami(self):
        status, headers, data = http_call("POST", f"{BASE}/common/oauth2/v2.0/token",
                                          urllib.parse.urlencode(CREDENTIALS), FORM)
        body = json.loads(data)
        self.assertEqual((status, body["token_type"], body["expires_in"]), (200, "Bearer", 3599))
        self.assertNotIn("refresh_token", body)
        status, _, who = self.call("GET", "WhoAmI")
        self.assertEqual((status, who["UserId"]), (200, dv.APP_USER_ID))
        # the emulator's own URL is a valid resource too, and Basic client authentication works
        basic = "Basic " + __import__("base64").b64encode(b"pcref-demo-client:pcref-demo-secret").decode()
        status, _, _ = http_call("POST", f"{BASE}/t/oauth2/v2.0/token",
                                 urllib.parse.urlencode({"grant_type": "client_credentials",
                                                         "scope": f"{BASE}/.default"}),
                                 {**FORM, "Authorization": basic})
        self.assertEqual(status, 200)

    def test_token_errors_use_the_azure_ad_body(self):
        cases = [({"client_secret": "wrong"}, 401, "invalid_client", 7000215),
                 ({"client_id": "nobody"}, 400, "unauthorized_client", 700016),
                 ({"scope": "https://contoso.crm.dynamics.com/user_impersonation"}, 400, "invalid_scope", 1002012),
                 ({"scope": "https://graph.microsoft.com/.default"}, 400, "invalid_resource", 500011),
                 ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003)]
        for overrides, status, error, aadsts in cases:
            got, _, data = http_call("POST", f"{BASE}/t/oauth2/v2.0/token",
                                     urllib.parse.urlencode({**CREDENTIALS, **overrides}), FORM)
            body = json.loads(data)
            self.assertEqual((got, body["error"], body["error_codes"]), (status, error, [aadsts]), overrides)
            self.assertTrue(body["error_description"].startswith(f"AADSTS{aadsts}:"))

    def test_missing_invalid_and_expired_tokens_get_401(self):
        for token in (False, "garbage"):
            if token:
                self.token = token
            resp = self.call("GET", "accounts", token=bool(token))
            self.assertError(resp, 401, "0x8005F101", "requires authentication")
            self.assertIn("Bearer", resp[1]["WWW-Authenticate"])
        self.token = self.get_token()
        control(BASE, "POST", "/_control/tokens", {"expire_all": True})
        self.assertEqual(self.call("GET", "accounts")[0], 401)
        control(BASE, "POST", "/_control/tokens", {"revoke": True})
        status, _, data = http_call("POST", f"{BASE}/t/oauth2/v2.0/token", urllib.parse.urlencode(CREDENTIALS), FORM)
        self.assertEqual((status, json.loads(data)["error_codes"]), (401, [7000222]))


class CrudTests(DvTestCase):
    def test_create_204_entity_id_and_201_representation(self):
        status, headers, data = self.call("POST", "accounts", {"name": "Fabrikam AB", "address1_country": "SE"})
        self.assertEqual((status, data), (204, None))
        self.assertEqual(headers["Content-Length"], "0")
        self.assertEqual(headers["OData-Version"], "4.0")
        account_id = re.match(ENTITY_ID_RE.format("accounts"), headers["OData-EntityId"]).group(1)
        status, headers, body = self.call("POST", "opportunities?$select=name,estimatedvalue,estimatedclosedate",
                                          {"name": "Deal", "estimatedvalue": 50000, "estimatedclosedate": "2026-12-31",
                                           "parentaccountid@odata.bind": f"/accounts({account_id})"},
                                          {"Prefer": "return=representation"})
        self.assertEqual(status, 201, body)
        self.assertEqual(headers["Preference-Applied"], "return=representation")
        self.assertNotIn("OData-EntityId", headers)
        self.assertTrue(body["@odata.context"].endswith("/$metadata#opportunities(name,estimatedvalue,"
                                                        "estimatedclosedate)/$entity"))
        self.assertRegex(body["@odata.etag"], r'^W/"\d+"$')
        self.assertEqual((body["name"], body["estimatedvalue"], body["estimatedclosedate"]),
                         ("Deal", 50000, "2026-12-31"))
        full = self.get("opportunities", body["opportunityid"])
        self.assertEqual(full["_parentaccountid_value"], account_id)
        self.assertEqual(full["_transactioncurrencyid_value"], dv.CURRENCY_IDS["USD"])   # base currency added
        self.assertEqual(full["_ownerid_value"], dv.APP_USER_ID)
        self.assertEqual((full["statecode"], full["statuscode"]), (0, 1))
        self.assertIs(full["msft_microsoftpartnercenterreferralsync"], False)
        self.assertRegex(full["modifiedon"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")

    def test_bind_resolution_and_lookup_values(self):
        account = self.create("accounts", {"name": "Contoso Ltd", "address1_postalcode": "EC1A 1BB"})
        contact = self.create("contacts", {"firstname": "Sue", "lastname": "Smith", "emailaddress1": "sue@x.example",
                                           "parentcustomerid_account@odata.bind": f"/accounts({account})"})
        opp = self.create("opportunities", {
            "name": "Co-sell", "parentaccountid@odata.bind": f"accounts({account})",
            "customerid_account@odata.bind": f"{self.api}/accounts({account})",
            "parentcontactid@odata.bind": f"/contacts({contact})",
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({dv.CURRENCY_IDS['EUR']})",
            "ownerid@odata.bind": f"/systemusers({dv.SELLER_ID})"})
        row = self.get("opportunities", opp, "_parentaccountid_value,_customerid_value,_parentcontactid_value,"
                                             "_transactioncurrencyid_value,_ownerid_value")
        self.assertEqual([row["_parentaccountid_value"], row["_customerid_value"], row["_parentcontactid_value"],
                          row["_transactioncurrencyid_value"], row["_ownerid_value"]],
                         [account, account, contact, dv.CURRENCY_IDS["EUR"], dv.SELLER_ID])
        self.assertEqual(self.get("contacts", contact)["fullname"], "Sue Smith")
        # annotations name the target (A.5)
        status, _, ann = self.call("GET", f"opportunities({opp})?$select=_customerid_value,_transactioncurrencyid_value",
                                   headers={"Prefer": 'odata.include-annotations="*"'})
        self.assertEqual(ann["_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"], "account")
        self.assertEqual(ann["_customerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"],
                         "customerid_account")
        self.assertEqual(ann["_transactioncurrencyid_value@OData.Community.Display.V1.FormattedValue"], "Euro")
        # $expand of a lookup
        status, _, exp = self.call("GET", f"opportunities({opp})?$select=name&$expand=transactioncurrencyid"
                                          "($select=isocurrencycode)")
        self.assertEqual(exp["transactioncurrencyid"]["isocurrencycode"], "EUR")
        # bad binds
        missing = str(uuid.uuid4())
        self.assertError(self.call("PATCH", f"opportunities({opp})", {"parentaccountid@odata.bind":
                                                                      f"/accounts({missing})"}),
                         404, "0x80040217", f"account With Id = {missing} Does Not Exist")
        self.assertError(self.call("PATCH", f"opportunities({opp})", {"parentaccountid@odata.bind":
                                                                      f"/contacts({contact})"}),
                         400, "0x80048d19", "binds to 'accounts'")
        self.assertError(self.call("PATCH", f"opportunities({opp})", {"nosuchnav@odata.bind": f"/accounts({account})"}),
                         400, "0x80048d19", "undeclared property 'nosuchnav'")
        self.assertError(self.call("PATCH", f"opportunities({opp})", {"_parentaccountid_value": account}),
                         400, "0x80048d19", "parentaccountid@odata.bind")
        self.assertError(self.call("PATCH", f"opportunities({opp})", {"nosuchcolumn": 1}),
                         400, "0x80048d19", "The property 'nosuchcolumn' does not exist")
        # clearing: a null bind and DELETE .../$ref (A.9)
        self.assertEqual(self.call("PATCH", f"opportunities({opp})", {"parentcontactid@odata.bind": None})[0], 204)
        self.assertEqual(self.call("DELETE", f"opportunities({opp})/parentaccountid/$ref")[0], 204)
        row = self.get("opportunities", opp)
        self.assertEqual((row["_parentcontactid_value"], row["_parentaccountid_value"]), (None, None))

    def test_if_match_etags_and_conditional_get(self):
        opp = self.create("opportunities", {"name": "Etag deal"})
        first = self.get("opportunities", opp)["@odata.etag"]
        status, _, _ = self.call("PATCH", f"opportunities({opp})", {"name": "v2"}, {"If-Match": first})
        self.assertEqual(status, 204)
        second = self.get("opportunities", opp)["@odata.etag"]
        self.assertGreater(int(second[3:-1]), int(first[3:-1]))
        status, _, body = self.call("PATCH", f"opportunities({opp})", {"name": "v3"}, {"If-Match": first})
        self.assertEqual((status, body), (412, STALE))
        self.assertEqual(self.call("DELETE", f"opportunities({opp})", headers={"If-Match": first})[2], STALE)
        self.assertEqual(self.call("GET", f"opportunities({opp})", headers={"If-None-Match": second})[0], 304)
        status, _, body = self.call("PATCH", f"opportunities({opp})?$select=name", {"name": "v3"},
                                    {"If-Match": second, "Prefer": "return=representation"})
        self.assertEqual((status, body["name"]), (200, "v3"))
        self.assertNotEqual(body["@odata.etag"], second)

    def test_upsert_and_its_guards(self):
        new_id = str(uuid.uuid4())
        self.assertError(self.call("PATCH", f"opportunities({new_id})", {"name": "x"}, {"If-Match": "*"}),
                         404, "0x80040217", f"opportunity With Id = {new_id} Does Not Exist")
        status, headers, _ = self.call("PATCH", f"opportunities({new_id})", {"name": "Upserted"})
        self.assertEqual(status, 204)
        self.assertEqual(re.match(ENTITY_ID_RE.format("opportunities"), headers["OData-EntityId"]).group(1), new_id)
        status, _, body = self.call("PATCH", f"opportunities({new_id})", {"name": "again"}, {"If-None-Match": "*"})
        self.assertEqual((status, body), (412, DUPLICATE))
        other = str(uuid.uuid4())
        status, _, body = self.call("PATCH", f"opportunities(opportunityid={other})", {"name": "created"},
                                    {"If-None-Match": "*", "Prefer": "return=representation"})
        self.assertEqual((status, body["opportunityid"]), (201, other))
        self.assertEqual(self.call("PATCH", f"opportunities({new_id})", {"name": "upd"}, {"If-Match": "*"})[0], 204)
        self.assertEqual(self.get("opportunities", new_id)["name"], "upd")
        self.assertError(self.call("POST", "opportunities", {"opportunityid": new_id, "name": "dup"}),
                         412, "0x80040237", "already exists")
        self.assertError(self.call("GET", "accounts(accountnumber='A1')"), 400, "0x80040203",
                         "The key in the request URI is not valid")

    def test_value_validation(self):
        self.assertError(self.call("POST", "opportunities", {"name": "x" * 301}), 400, "0x80044331",
                         "exceeded the maximum allowed length of '300'")
        self.assertError(self.call("POST", "opportunities", {"estimatedclosedate": "2026-12-31T00:00:00Z"}),
                         400, "0x80048d19", "'Edm.Date'")
        self.assertError(self.call("POST", "opportunities", {"estimatedvalue": "1000"}), 400, "0x80048d19",
                         "'Edm.Decimal'")
        self.assertError(self.call("POST", "opportunities", {"statuscode": 9}), 400, "0x80040203",
                         "not a valid value")
        self.assertEqual(self.call("PATCH", f"accounts({uuid.uuid4()})", {"name": "x"}, {"If-Match": "*"})[0], 404)
        self.assertError(self.call("GET", "nosuchset"), 404, "0x80060888", "Resource not found for the segment")
        self.assertError(self.call("PATCH", "accounts", {"name": "x"}), 405, "0x80040203", "does not support")

    def test_solution_links_and_delete(self):
        opp = self.create("opportunities", {"name": "With solutions"})
        links = [self.create("msft_mpcsolutions", {"msft_solutionid": sid, "msft_name": f"Solution {sid}",
                                                   "msft_opportunityid@odata.bind": f"/opportunities({opp})"})
                 for sid in ("SOL-1", "SOL-2")]
        rows = self.query(f"msft_mpcsolutions?$select=msft_solutionid,_msft_opportunityid_value"
                          f"&$filter=_msft_opportunityid_value eq {opp}&$orderby=msft_solutionid")
        self.assertEqual([r["msft_solutionid"] for r in rows], ["SOL-1", "SOL-2"])
        self.assertEqual(self.call("DELETE", f"msft_mpcsolutions({links[0]})")[0], 204)
        self.assertError(self.call("DELETE", f"msft_mpcsolutions({links[0]})"), 404, "0x80040217",
                         "msft_mpcsolution With Id")
        self.assertEqual(self.call("DELETE", f"opportunities({opp})")[0], 204)
        self.assertEqual(control(BASE, "GET", "/_control/rows/msft_mpcsolutions"), [])   # cascade
        self.create("accounts", {"name": "uses the base currency"})
        self.assertError(self.call("DELETE", f"transactioncurrencies({dv.CURRENCY_IDS['USD']})"), 405,
                         "0x80040203", "CannotDeleteDueToAssociation")
        self.assertEqual(self.call("DELETE", f"systemusers({dv.SELLER_ID})")[0], 405)


class QueryTests(DvTestCase):
    def seed(self):
        account = str(uuid.uuid4())
        control(BASE, "POST", "/_control/seed", {"accounts": [{"accountid": account, "name": "Northwind"}]})
        rows = control(BASE, "POST", "/_control/seed", {"opportunities": [
            {"name": "Alpha", "estimatedvalue": 1000, "statuscode": 1, "estimatedclosedate": "2026-03-01",
             "_parentaccountid_value": account},
            {"name": "Beta", "estimatedvalue": 5000, "statuscode": 2, "estimatedclosedate": "2026-06-01"},
            {"name": "Gamma", "estimatedvalue": 5000, "statuscode": 1, "estimatedclosedate": "2026-09-01",
             "msft_microsoftpartnercenterreferralidentifier": "ref-1"},
            {"name": "alpine", "estimatedvalue": None, "statuscode": 1}]})["opportunities"]
        return account, rows

    def names(self, flt, order="name"):
        return [r["name"] for r in self.query(f"opportunities?$select=name&$filter={flt}&$orderby={order}")]

    def test_filters(self):
        account, rows = self.seed()
        self.assertEqual(self.names("name eq 'ALPHA'"), ["Alpha"])                   # case-insensitive (A.10)
        self.assertEqual(self.names("name ne 'Alpha'"), ["alpine", "Beta", "Gamma"])
        self.assertEqual(self.names("estimatedvalue gt 1000 and estimatedvalue le 5000"), ["Beta", "Gamma"])
        self.assertEqual(self.names("(statuscode eq 2 or estimatedvalue lt 2000) and not contains(name,'bet')"),
                         ["Alpha"])
        self.assertEqual(self.names("startswith(name,'al') or endswith(name,'MMA')"), ["Alpha", "alpine", "Gamma"])
        self.assertEqual(self.names(f"_parentaccountid_value eq {account}"), ["Alpha"])
        self.assertEqual(self.names("estimatedvalue eq null"), ["alpine"])
        self.assertEqual(self.names("estimatedclosedate lt 2026-06-15 and estimatedclosedate ne null"),
                         ["Alpha", "Beta"])
        self.assertEqual(self.names("msft_microsoftpartnercenterreferralidentifier eq 'ref-1'"), ["Gamma"])
        self.assertEqual(self.names(f"modifiedon ge {rows[2]['modifiedon']}"), ["alpine", "Gamma"])
        self.assertEqual(self.names(f"opportunityid eq {rows[1]['opportunityid']}"), ["Beta"])
        self.assertError(self.call("GET", "opportunities?$filter=nosuch eq 1"), 400, "0x80060888",
                         "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.opportunity'")
        self.assertError(self.call("GET", "opportunities?$filter=name eq 5"), 400, "0x80060888",
                         "incompatible types")
        self.assertError(self.call("GET", "opportunities?$filter=name eq"), 400, "0x80060888", "Syntax error")
        eur = self.query("transactioncurrencies?$select=transactioncurrencyid&$filter=isocurrencycode eq 'EUR'")
        self.assertEqual([r["transactioncurrencyid"] for r in eur], [dv.CURRENCY_IDS["EUR"]])
        self.assertEqual(self.query("transactioncurrencies?$filter=isocurrencycode eq 'CHF'"), [])
        users = self.query("systemusers?$select=fullname&$filter=internalemailaddress eq 'seller@contoso.example'")
        self.assertEqual([(u["systemuserid"], u["fullname"]) for u in users], [(dv.SELLER_ID, "Sam Seller")])

    def test_orderby_select_top_count(self):
        self.seed()
        rows = self.query("opportunities?$select=name,estimatedvalue&$orderby=estimatedvalue desc,name asc")
        self.assertEqual([r["name"] for r in rows], ["Beta", "Gamma", "Alpha", "alpine"])   # nulls last when desc
        self.assertEqual(set(rows[0]), {"@odata.etag", "name", "estimatedvalue", "opportunityid"})
        status, _, body = self.call("GET", "opportunities?$select=name&$top=2&$count=true&$orderby=name")
        self.assertEqual(([r["name"] for r in body["value"]], body["@odata.count"]), (["Alpha", "alpine"], 4))
        self.assertNotIn("@odata.nextLink", body)
        # with odata.maxpagesize, $top is ignored (A.10)
        status, headers, body = self.call("GET", "opportunities?$select=name&$top=1",
                                          headers={"Prefer": "odata.maxpagesize=3"})
        self.assertEqual((len(body["value"]), headers["Preference-Applied"]), (3, "odata.maxpagesize=3"))
        self.assertIn("@odata.nextLink", body)
        self.assertError(self.call("GET", "opportunities?$select=name,bogus"), 400, "0x80060888",
                         "Could not find a property named 'bogus'")
        self.assertError(self.call("GET", "opportunities?$select=parentaccountid"), 400, "0x80060888",
                         "'parentaccountid'")
        self.assertError(self.call("GET", "opportunities?$orderby=bogus"), 400, "0x80060888", "'bogus'")

    def test_skip_is_rejected(self):
        self.assertError(self.call("GET", "opportunities?$top=5&$skip=5"), 400, "0x80040203", "$skip")

    def test_paging_12000_rows_following_next_link_verbatim(self):
        started = time.monotonic()
        generated = control(BASE, "POST", "/_control/generate", {"set": "opportunities", "count": 12000})["ids"]
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(len(set(generated)), 12000)
        for path, check in ((f"{self.api}/opportunities?$select=name,estimatedvalue", "default"),
                            (f"{self.api}/opportunities?$select=estimatedvalue&$orderby=estimatedvalue desc&"
                             f"$count=true", "desc")):
            seen, values, url, pages = [], [], quote_url(path), 0
            while url and pages < 10:
                status, headers, data = http_call("GET", url, headers={
                    "Authorization": f"Bearer {self.token}", "Prefer": "odata.maxpagesize=5000"})
                body = json.loads(data)
                self.assertEqual((status, headers["Preference-Applied"]), (200, "odata.maxpagesize=5000"))
                seen += [r["opportunityid"] for r in body["value"]]
                values += [r["estimatedvalue"] for r in body["value"]]
                url, pages = body.get("@odata.nextLink"), pages + 1
                if url:
                    self.assertTrue(url.startswith(f"{self.api}/opportunities?"), url)
                    self.assertIn(f"$skiptoken=%3Ccookie%20pagenumber=%22{pages + 1}%22%20pagingcookie=%22%253Ccookie", url)
            self.assertEqual(pages, 3)
            self.assertEqual(len(seen), 12000)
            self.assertEqual(set(seen), set(generated))
            if check == "default":   # default order = primary key = creation order of server ids
                self.assertEqual(seen, generated)
            else:
                self.assertEqual(values, sorted(values, reverse=True))

    def test_change_tracking(self):
        ids = [self.create("opportunities", {"name": f"Tracked {i}"}) for i in range(3)]
        status, headers, body = self.call("GET", "opportunities?$select=name",
                                          headers={"Prefer": "odata.track-changes"})
        self.assertEqual((status, headers["Preference-Applied"]), (200, "odata.track-changes"))
        self.assertEqual(sorted(r["opportunityid"] for r in body["value"]), sorted(ids))
        delta = body["@odata.deltaLink"]
        self.assertRegex(delta, r"\$deltatoken=\d+%21")
        self.call("PATCH", f"opportunities({ids[0]})", {"name": "Tracked 0 v2"})
        self.call("DELETE", f"opportunities({ids[1]})")
        added = self.create("opportunities", {"name": "Tracked new"})
        status, _, body = self.call("GET", delta, headers={"Prefer": "odata.track-changes"})
        self.assertTrue(body["@odata.context"].endswith("#opportunities(name)/$delta"))
        changed = [r for r in body["value"] if "name" in r]
        self.assertEqual([(r["opportunityid"], r["name"]) for r in changed],
                         [(ids[0], "Tracked 0 v2"), (added, "Tracked new")])
        self.assertEqual(body["value"][-1], {"@odata.context": f"{self.api}/$metadata#opportunities/$deletedEntity",
                                             "id": ids[1], "reason": "deleted"})
        status, _, body = self.call("GET", body["@odata.deltaLink"])
        self.assertEqual((status, body["value"]), (200, []))
        for option in ("$filter=name eq 'x'", "$orderby=name", "$top=1", "$expand=parentaccountid"):
            self.assertError(self.call("GET", f"opportunities?{option}", headers={"Prefer": "odata.track-changes"}),
                             400, "0x80040203", f'The "{option.split("=")[0]}" query parameter isn\'t supported '
                                                f'when Change Tracking is enabled.')

    def test_modifiedon_and_versionnumber_strictly_increase(self):
        ops = [op("POST", "/api/data/v9.2/accounts", {"name": f"Acc {i}"}) for i in range(200)]
        self.send_batch(ops)
        rows = self.query("accounts?$select=modifiedon,versionnumber&$orderby=versionnumber")
        stamps = [r["modifiedon"] for r in rows]
        self.assertEqual(len(set(stamps)), 200)
        self.assertEqual(stamps, sorted(stamps))
        versions = [r["versionnumber"] for r in rows]
        self.assertEqual(len(set(versions)), 200)


class StateTests(DvTestCase):
    def close(self, action, opp, status):
        return self.call("POST", action, {"Status": status, "OpportunityClose": {
            "subject": f"{action} {opp}", "opportunityid@odata.bind": f"{self.api}/opportunities({opp})"}})

    def test_win_lose_and_closed_opportunities(self):
        opp = self.create("opportunities", {"name": "Closing", "estimatedvalue": 1234.5})
        self.assertError(self.call("PATCH", f"opportunities({opp})", {"statecode": 1, "statuscode": 3}),
                         400, "0x80040203", "use the WinOpportunityRequest message instead")
        self.assertError(self.call("PATCH", f"opportunities({opp})", {"statuscode": 5}),
                         400, "0x80040203", "set the state of opportunity to Lost")
        self.assertEqual(self.call("PATCH", f"opportunities({opp})", {"statuscode": 2})[0], 204)   # On Hold
        self.assertEqual(self.close("WinOpportunity", opp, 3)[0], 204)
        row = self.get("opportunities", opp)
        self.assertEqual((row["statecode"], row["statuscode"], row["actualvalue"]), (1, 3, 1234.5))
        closes = control(BASE, "GET", "/_control/rows/opportunitycloses")
        self.assertEqual([(c["_opportunityid_value"], c["statecode"]) for c in closes], [(opp, 1)])
        self.assertError(self.call("PATCH", f"opportunities({opp})", {"name": "edit"}), 400, "0x80040203",
                         "read-only")
        self.assertError(self.close("LoseOpportunity", opp, 4), 400, "0x80040203", "already closed")
        self.assertEqual(self.call("PATCH", f"opportunities({opp})", {"statecode": 0, "statuscode": 1})[0], 204)
        self.assertError(self.close("LoseOpportunity", opp, 3), 400, "0x80040203",
                         "not a valid status code for state code OpportunityState.Lost")
        self.assertEqual(self.close("LoseOpportunity", opp, 5)[0], 204)
        self.assertEqual(self.get("opportunities", opp, "statecode,statuscode")["statuscode"], 5)
        self.assertError(self.close("WinOpportunity", str(uuid.uuid4()), 3), 404, "0x80040217",
                         "opportunity With Id")


class BatchTests(DvTestCase):
    def batch_requests(self, expected):
        def batches(entries):
            return [e for e in entries if e["path"].endswith("/$batch")]
        return batches(self.logged(lambda entries: len(batches(entries)) >= expected))

    def test_500_creates_in_one_change_set(self):
        control(BASE, "DELETE", "/_control/requests")
        ops = [op("POST", f"{self.api}/accounts", {"name": f"Batch {i}"}, content_id=i + 1) for i in range(500)]
        status, _, body = self.send_batch([ops])
        self.assertEqual(status, 200)
        self.assertIn("Content-Type: multipart/mixed; boundary=changesetresponse_", body)
        parts = response_parts(body)
        self.assertEqual([p[0] for p in parts], [204] * 500)
        self.assertIn("Location: ", parts[0][1])
        self.assertIn("OData-EntityId: ", parts[0][1])
        self.assertIn("Content-ID: 500", body)
        self.assertEqual(len(control(BASE, "GET", "/_control/rows/accounts")), 500)
        logged = self.batch_requests(1)
        self.assertEqual([(e["status"], e["batch_ops"]) for e in logged], [(200, 500)])

    def test_failing_change_set_rolls_back(self):
        before = self.create("accounts", {"name": "Before"})
        good = [op("POST", "accounts", {"name": f"Good {i}"}, content_id=i) for i in range(1, 4)]
        bad = op("PATCH", f"accounts({before})", {"nosuchcolumn": 1}, content_id=4)
        status, _, body = self.send_batch([op("PATCH", f"/api/data/v9.2/accounts({before})", {"name": "Renamed"}),
                                           good + [bad]])
        self.assertEqual(status, 400)
        parts = response_parts(body)
        self.assertEqual([p[0] for p in parts], [204, 400])
        self.assertEqual(json.loads(parts[1][2])["error"]["code"], "0x80048d19")
        self.assertNotIn("changesetresponse", body)
        names = sorted(r["name"] for r in control(BASE, "GET", "/_control/rows/accounts"))
        self.assertEqual(names, ["Renamed"])   # the lone operation stays, the change set is undone

    def test_content_id_references(self):
        ops = [op("POST", "accounts", {"name": "Ref account"}, content_id=1),
               op("POST", "opportunities", {"name": "Ref opp", "parentaccountid@odata.bind": "$1"}, content_id=2),
               op("PATCH", "$1", {"telephone1": "+46 8 123"}, content_id=3),
               op("PUT", "$2/description", {"value": "set by reference"}, content_id=4)]
        status, _, body = self.send_batch([ops])
        self.assertEqual(status, 200, body)
        account = control(BASE, "GET", "/_control/rows/accounts")[0]
        opp = control(BASE, "GET", "/_control/rows/opportunities")[0]
        self.assertEqual((opp["_parentaccountid_value"], account["telephone1"], opp["description"]),
                         (account["accountid"], "+46 8 123", "set by reference"))
        status, _, body = self.send_batch([[op("POST", "opportunities", {"parentaccountid@odata.bind": "$9"},
                                               content_id=1)]])
        self.assertEqual(status, 400)
        self.assertIn("Content-ID Reference: '$9' does not exist in the batch context.", body)

    def test_stop_on_error_and_continue_on_error(self):
        missing = str(uuid.uuid4())
        items = [op("PATCH", f"accounts({missing})", {"name": "x"}, headers={"If-Match": "*"}),
                 op("POST", "accounts", {"name": "After the failure"}),
                 op("GET", "accounts?$select=name")]
        status, _, body = self.send_batch(items)
        self.assertEqual(([p[0] for p in response_parts(body)], status), ([404], 404))
        self.assertEqual(control(BASE, "GET", "/_control/rows/accounts"), [])
        status, headers, body = self.send_batch(items, prefer="odata.continue-on-error")
        parts = response_parts(body)
        self.assertEqual((status, [p[0] for p in parts]), (200, [404, 204, 200]))
        self.assertEqual(headers["Preference-Applied"], "odata.continue-on-error")
        self.assertEqual([r["name"] for r in json.loads(parts[2][2])["value"]], ["After the failure"])

    def test_1000_operations_quickly_and_the_limit(self):
        ops = [op("POST", "leads", {"subject": f"Lead {i}", "lastname": "Doe"}) for i in range(1000)]
        started = time.monotonic()
        status, _, body = self.send_batch(ops)
        self.assertEqual(status, 200)
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(len(response_parts(body)), 1000)
        self.assertEqual(len(control(BASE, "GET", "/_control/rows/leads")), 1000)
        status, _, body = self.send_batch(ops + ops[:1])
        self.assertEqual(status, 400)
        self.assertIn("the limit is 1000", body["error"]["message"])
        self.assertEqual([e["batch_ops"] for e in self.batch_requests(2)], [1000, 1001])


class FaultTests(DvTestCase):
    def test_service_protection_429(self):
        fault = control(BASE, "POST", "/_control/throttle", {"retry_after": 7, "path": "/opportunities"})
        resp = self.call("GET", "opportunities")
        self.assertError(resp, 429, "0x80072322", "Number of requests exceeded the limit of 6000")
        self.assertEqual(resp[1]["Retry-After"], "7")
        self.assertEqual(self.call("GET", "opportunities")[0], 200)
        self.assertEqual(control(BASE, "GET", "/_control/faults")[0]["id"], fault["id"])
        control(BASE, "POST", "/_control/throttle", {"kind": "concurrency"})
        self.assertError(self.call("GET", "accounts"), 429, "0x80072326", "concurrent requests")
        control(BASE, "POST", "/_control/faults", {"path": "^/api/data/", "status": 429})   # plain peerlib fault
        resp = self.call("POST", "accounts", {"name": "x"})
        self.assertError(resp, 429, "0x80072322", "over time window of 300 seconds")
        self.assertEqual(resp[1]["Retry-After"], "1")
        logged = self.logged(lambda entries: sum(1 for e in entries if e["fault"]) >= 3)
        self.assertEqual([e["status"] for e in logged if e["fault"]], [429, 429, 429])


class ControlTests(DvTestCase):
    def test_defaults_seed_generate_and_config(self):
        currencies = {r["isocurrencycode"] for r in control(BASE, "GET", "/_control/rows/transactioncurrencies")}
        self.assertEqual(currencies, {"USD", "EUR", "SEK", "GBP"})
        for set_name in dv.GENERATED_SETS:
            self.assertEqual(control(BASE, "POST", "/_control/generate", {"set": set_name, "count": 3})["count"], 3)
        accounts = control(BASE, "GET", "/_control/rows/accounts")
        self.assertTrue(all(len(a["address1_country"]) == 2 for a in accounts))
        with self.assertRaises(RuntimeError):
            control(BASE, "POST", "/_control/seed", {"accounts": [{"nosuch": 1}]})
        control(BASE, "POST", "/_control/config", {"datetime_digits": 0})
        self.assertRegex(self.query("accounts?$select=modifiedon")[0]["modifiedon"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        control(BASE, "POST", "/_control/reset")
        self.assertEqual(control(BASE, "GET", "/_control/rows/accounts"), [])

    def test_command_line(self):
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "dataverse.py"), "--port", "0", "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready, _, _ = select.select([proc.stdout], [], [], 20)
            self.assertTrue(ready, "no READY line within 20 s")
            line = proc.stdout.readline().strip()
            self.assertRegex(line, r"^READY http://127\.0\.0\.1:\d+$")
            self.assertEqual(control(line.split()[1], "GET", "/_control/health"), {"ok": True})
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=10), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()


if __name__ == "__main__":
    unittest.main()
