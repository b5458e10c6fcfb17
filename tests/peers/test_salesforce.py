"""Tests of the Salesforce emulator (tests/peers/salesforce.py).

    python3 -m unittest discover -s tests/peers -p 'test_salesforce.py'

One emulator runs in this process for the whole module; every test starts
from /_control/reset with a fresh client-credentials token.
"""

import json
import unittest
import urllib.parse

import peerlib
import salesforce as sf
from peerlib import control, http_call

SERVER = BASE = None
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CREDENTIALS = "grant_type=client_credentials&client_id=pcref-demo-client&client_secret=pcref-demo-secret"


def setUpModule():
    global SERVER, BASE
    SERVER, BASE = peerlib.start_in_thread(sf.Salesforce)


def tearDownModule():
    SERVER.stop()


class SalesforceTest(unittest.TestCase):
    def setUp(self):
        control(BASE, "POST", "/_control/reset")
        status, _, body = http_call("POST", f"{BASE}/services/oauth2/token", CREDENTIALS, FORM)
        self.assertEqual(status, 200)
        self.token = json.loads(body)
        self.auth = {"Authorization": f"Bearer {self.token['access_token']}"}
        self.api = f"{BASE}/services/data/v60.0"

    def call(self, method, path, body=None, headers=None):
        status, hdrs, raw = http_call(method, self.api + path, body, {**self.auth, **(headers or {})})
        return status, hdrs, json.loads(raw) if raw else None

    def query(self, soql, headers=None):
        return self.call("GET", "/query?q=" + urllib.parse.quote(soql), headers=headers)

    def opportunity(self, **fields):
        body = {"Name": "Deal", "CloseDate": "2025-12-31", "StageName": "Qualification", **fields}
        status, _, out = self.call("POST", "/sobjects/Opportunity", body)
        self.assertEqual(status, 201, out)
        return out["id"]

    # -- authentication (B.1)
    def test_token_names_the_instance_and_bad_credentials_are_refused(self):
        self.assertEqual(self.token["instance_url"], BASE)
        self.assertEqual(self.token["token_type"], "Bearer")
        self.assertNotIn("expires_in", self.token)
        status, _, body = http_call("POST", f"{BASE}/services/oauth2/token",
                                    CREDENTIALS.replace("pcref-demo-secret", "wrong"), FORM)
        self.assertEqual((status, json.loads(body)["error"]), (401, "invalid_client"))
        status, _, body = http_call("POST", f"{BASE}/services/oauth2/token",
                                    "grant_type=refresh_token&refresh_token=pcref-demo-refresh", FORM)
        self.assertEqual(status, 200, body)
        control(BASE, "POST", "/_control/config", {"instance_host": "localhost"})
        status, _, body = http_call("POST", f"{BASE}/services/oauth2/token", CREDENTIALS, FORM)
        self.assertTrue(json.loads(body)["instance_url"].startswith("http://localhost:"))

    def test_missing_token_is_invalid_session(self):
        status, _, body = http_call("GET", f"{self.api}/limits")
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(body), [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
        status, _, _ = http_call("GET", f"{BASE}/services/data/v99.0/limits", headers=self.auth)
        self.assertEqual(status, 404)

    # -- records (B.2, B.5)
    def test_create_read_update_delete_and_derived_fields(self):
        oid = self.opportunity(Amount=5000)
        self.assertTrue(oid.startswith("006") and len(oid) == 18)
        status, _, rec = self.call("GET", f"/sobjects/Opportunity/{oid}?fields=Name,IsClosed,CurrencyIsoCode")
        self.assertEqual((status, rec["Name"], rec["IsClosed"], rec["CurrencyIsoCode"]), (200, "Deal", False, "USD"))
        status, _, _ = self.call("PATCH", f"/sobjects/Opportunity/{oid}", {"StageName": "Closed Won"})
        self.assertEqual(status, 204)
        _, _, rec = self.call("GET", f"/sobjects/Opportunity/{oid}")
        self.assertEqual((rec["IsClosed"], rec["IsWon"]), (True, True))
        self.assertRegex(rec["LastModifiedDate"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
        self.assertEqual(self.call("DELETE", f"/sobjects/Opportunity/{oid}")[0], 204)
        self.assertEqual(self.call("GET", f"/sobjects/Opportunity/{oid}")[0], 404)
        self.assertEqual(self.query(f"SELECT Id FROM Opportunity WHERE Id = '{oid}'")[2]["totalSize"], 0)
        status, _, out = self.call("GET", "/queryAll?q=" + urllib.parse.quote(
            f"SELECT Id, IsDeleted FROM Opportunity WHERE Id = '{oid}'"))
        self.assertEqual(out["records"][0]["IsDeleted"], True)

    def test_error_arrays_name_the_fields(self):
        status, _, out = self.call("POST", "/sobjects/Opportunity", {"Name": "No date"})
        self.assertEqual(status, 400)
        self.assertEqual(out[0]["errorCode"], "REQUIRED_FIELD_MISSING")
        self.assertIn("CloseDate", out[0]["fields"])
        status, _, out = self.call("POST", "/sobjects/Opportunity",
                                   {"Name": "X", "CloseDate": "2025-01-01", "StageName": "Qualification",
                                    "CurrencyIsoCode": "CHF"})
        self.assertEqual((status, out[0]["errorCode"], out[0]["fields"]),
                         (400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["CurrencyIsoCode"]))
        status, _, out = self.call("POST", "/sobjects/Opportunity", {"Nmae": "typo"})
        self.assertEqual((status, out[0]["errorCode"]), (400, "INVALID_FIELD"))
        oid = self.opportunity()
        status, _, out = self.call("PATCH", f"/sobjects/Opportunity/{oid}", {"IsWon": True})
        self.assertEqual(out[0]["errorCode"], "INVALID_FIELD_FOR_INSERT_UPDATE")

    def test_if_unmodified_since_and_account_etags(self):
        oid = self.opportunity()
        old = "Mon, 10 Aug 2015 00:00:00 GMT"
        status, _, out = self.call("PATCH", f"/sobjects/Opportunity/{oid}", {"Amount": 1},
                                   {"If-Unmodified-Since": old})
        self.assertEqual(status, 412)
        future = "Fri, 01 Jan 2100 00:00:00 GMT"
        self.assertEqual(self.call("PATCH", f"/sobjects/Opportunity/{oid}", {"Amount": 1},
                                   {"If-Unmodified-Since": future})[0], 204)
        self.assertEqual(self.call("PATCH", f"/sobjects/Opportunity/{oid}", {"Amount": 1},
                                   {"If-Unmodified-Since": "yesterday"})[0], 400)
        _, _, acc = self.call("POST", "/sobjects/Account", {"Name": "Fabrikam"})
        status, hdrs, _ = self.call("GET", f"/sobjects/Account/{acc['id']}")
        etag = hdrs["ETag"]
        self.assertEqual(self.call("GET", f"/sobjects/Account/{acc['id']}", headers={"If-None-Match": etag})[0], 304)
        self.assertEqual(self.call("PATCH", f"/sobjects/Account/{acc['id']}", {"Phone": "1"},
                                   {"If-Match": '"stale"'})[0], 412)

    def test_upsert_by_external_id(self):
        path = "/sobjects/Opportunity/Referral_Identifier__c/ref-9"
        body = {"Name": "Upserted", "CloseDate": "2025-06-30", "StageName": "Prospecting"}
        status, _, out = self.call("PATCH", path, body)
        self.assertEqual((status, out["created"]), (201, True))
        status, _, again = self.call("PATCH", path, {"Amount": 10})
        self.assertEqual((status, again["created"], again["id"]), (200, False, out["id"]))
        self.assertEqual(self.call("PATCH", "/sobjects/Opportunity/Referral_Identifier__c/none?updateOnly=true",
                                   body)[0], 404)
        self.opportunity(Referral_Identifier__c="ref-9")
        self.assertEqual(self.call("PATCH", path, {"Amount": 1})[0], 300)
        self.assertEqual(self.call("PATCH", "/sobjects/Opportunity/Name/x", body)[0], 404)

    # -- SOQL (B.6)
    def test_soql_subset(self):
        _, _, acc = self.call("POST", "/sobjects/Account", {"Name": "Contoso", "BillingCountry": "SE"})
        a = self.opportunity(Name="Alpha", Amount=100, AccountId=acc["id"])
        self.opportunity(Name="beta", Amount=200)
        self.opportunity(Name="Gamma", Amount=None)
        _, _, out = self.query("SELECT Id, Name, Account.Name, Account.BillingCountry, Owner.Email FROM Opportunity "
                               "WHERE (Amount > 150 OR Name LIKE 'al%') AND Name != 'x' ORDER BY Name DESC")
        self.assertEqual([r["Name"] for r in out["records"]], ["beta", "Alpha"])
        self.assertEqual(out["records"][1]["Account"]["BillingCountry"], "SE")
        self.assertIsNone(out["records"][0]["Account"])
        self.assertEqual(out["records"][0]["Owner"]["Email"], "integration@contoso.example")
        _, _, out = self.query(f"SELECT Id FROM Opportunity WHERE Id IN ('{a}', 'zzz') AND NOT Name = 'ALPHA'")
        self.assertEqual(out["totalSize"], 0)          # = compares text case-insensitively
        _, _, out = self.query("SELECT Name FROM Opportunity ORDER BY Amount ASC NULLS LAST LIMIT 2")
        self.assertEqual([r["Name"] for r in out["records"]], ["Alpha", "beta"])
        _, _, out = self.query("SELECT Name FROM Opportunity WHERE SystemModstamp >= 2000-01-01T00:00:00Z "
                               "AND CloseDate < 2026-01-01 AND Amount IN (100, 200)")
        self.assertEqual(out["totalSize"], 2)
        status, _, out = self.query("SELECT Id FROM Opportunity WHERE Amount = 'x'")
        self.assertEqual((status, out[0]["errorCode"]), (400, "MALFORMED_QUERY"))
        status, _, out = self.query("SELECT Nope FROM Opportunity")
        self.assertEqual((status, out[0]["errorCode"]), (400, "INVALID_FIELD"))

    def test_paging_with_next_records_url(self):
        control(BASE, "POST", "/_control/generate", {"object": "Opportunity", "count": 4500})
        _, _, page = self.query("SELECT Id FROM Opportunity ORDER BY SystemModstamp")
        seen = len(page["records"])
        self.assertEqual((page["totalSize"], seen, page["done"]), (4500, 2000, False))
        while not page["done"]:
            self.assertRegex(page["nextRecordsUrl"], r"^/services/data/v60\.0/query/01g\w+-\d+$")
            status, _, raw = http_call("GET", BASE + page["nextRecordsUrl"], headers=self.auth)
            page = json.loads(raw)
            seen += len(page["records"])
        self.assertEqual(seen, 4500)
        self.assertNotIn("nextRecordsUrl", page)
        _, _, page = self.query("SELECT Id FROM Opportunity", {"Sforce-Query-Options": "batchSize=500"})
        self.assertEqual(len(page["records"]), 500)

    # -- collections (B.9) and composite (B.8)
    def test_collections_all_or_none(self):
        records = [{"attributes": {"type": "Account"}, "Name": f"A{i}"} for i in range(3)]
        status, _, out = self.call("POST", "/composite/sobjects", {"allOrNone": True, "records": records})
        self.assertEqual((status, [r["success"] for r in out]), (200, [True] * 3))
        bad = records + [{"attributes": {"type": "Account"}, "Phone": "no name"}]
        _, _, out = self.call("POST", "/composite/sobjects", {"allOrNone": True, "records": bad})
        self.assertEqual(out[0]["errors"][0]["statusCode"], "ALL_OR_NONE_OPERATION_ROLLED_BACK")
        self.assertEqual(out[3]["errors"][0]["statusCode"], "REQUIRED_FIELD_MISSING")
        self.assertEqual(len(control(BASE, "GET", "/_control/rows/Account")), 3)
        too_many = [{"attributes": {"type": "Account"}, "Name": "x"}] * 201
        self.assertEqual(self.call("POST", "/composite/sobjects", {"records": too_many})[0], 400)
        log = control(BASE, "GET", "/_control/requests")
        self.assertEqual(log[-1]["path"], "/services/data/v60.0/composite/sobjects")
        self.assertEqual(log[-2]["batch_ops"], 4)

    def test_composite_references_and_rollback(self):
        oid = self.opportunity()
        req = {"allOrNone": True, "compositeRequest": [
            {"method": "POST", "url": "/services/data/v60.0/sobjects/Account", "referenceId": "acc",
             "body": {"Name": "Ref"}},
            {"method": "PATCH", "url": f"/services/data/v60.0/sobjects/Opportunity/{oid}", "referenceId": "opp",
             "body": {"AccountId": "@{acc.id}"}}]}
        _, _, out = self.call("POST", "/composite", req)
        self.assertEqual([r["httpStatusCode"] for r in out["compositeResponse"]], [201, 204])
        _, _, rec = self.call("GET", f"/sobjects/Opportunity/{oid}?fields=AccountId")
        self.assertEqual(rec["AccountId"], out["compositeResponse"][0]["body"]["id"])
        req["compositeRequest"][1]["httpHeaders"] = {"If-Unmodified-Since": "Mon, 10 Aug 2015 00:00:00 GMT"}
        _, _, out = self.call("POST", "/composite", req)
        self.assertEqual([r["httpStatusCode"] for r in out["compositeResponse"]], [400, 412])
        self.assertEqual(out["compositeResponse"][0]["body"][0]["errorCode"], "PROCESSING_HALTED")
        self.assertEqual(len(control(BASE, "GET", "/_control/rows/Account")), 1)

    # -- limits (B.10) and the package objects
    def test_limit_info_and_request_limit_exceeded(self):
        status, hdrs, _ = self.call("GET", "/limits")
        self.assertEqual(hdrs["Sforce-Limit-Info"], "api-usage=1/100000")
        control(BASE, "POST", "/_control/limits", {"used": 10, "max": 10})
        status, hdrs, out = self.call("GET", "/limits")
        self.assertEqual((status, out[0]["errorCode"]), (403, "REQUEST_LIMIT_EXCEEDED"))
        self.assertEqual(hdrs["Sforce-Limit-Info"], "api-usage=11/10")
        control(BASE, "POST", "/_control/limits", {"used": 0, "max": 100})
        control(BASE, "POST", "/_control/throttle", {"count": 1})
        self.assertEqual(self.call("GET", "/limits")[2][0]["errorCode"], "REQUEST_LIMIT_EXCEEDED")
        self.assertEqual(self.call("GET", "/limits")[0], 200)

    def test_contact_roles_team_members_and_solutions(self):
        _, _, c1 = self.call("POST", "/sobjects/Contact", {"LastName": "Berg"})
        _, _, c2 = self.call("POST", "/sobjects/Contact", {"LastName": "Lind"})
        oid = self.opportunity(ContactId=c1["id"])
        self.assertEqual(self.query(f"SELECT Id FROM OpportunityContactRole WHERE OpportunityId = '{oid}' "
                                    "AND IsPrimary = true")[2]["totalSize"], 1)
        self.call("POST", "/sobjects/OpportunityContactRole",
                  {"OpportunityId": oid, "ContactId": c2["id"], "IsPrimary": True})
        _, _, rec = self.call("GET", f"/sobjects/Opportunity/{oid}?fields=ContactId")
        self.assertEqual(rec["ContactId"], c2["id"])
        self.assertEqual(self.call("PATCH", f"/sobjects/Opportunity/{oid}", {"ContactId": c1["id"]})[0], 400)
        member = {"OpportunityId": oid, "UserId": sf.SELLER_USER}
        _, _, m1 = self.call("POST", "/sobjects/OpportunityTeamMember", member)
        _, _, m2 = self.call("POST", "/sobjects/OpportunityTeamMember", member)
        self.assertEqual(m1["id"], m2["id"])
        sol = {"Name": "Azure", "Solution_Identifier__c": "SOL-1", "Opportunity__c": oid}
        self.assertEqual(self.call("POST", f"/sobjects/{sf.SOLUTION}", sol)[0], 201)
        self.call("DELETE", f"/sobjects/Opportunity/{oid}")
        self.assertEqual(control(BASE, "GET", f"/_control/rows/{sf.SOLUTION}"), [])

    def test_defaults_seed_generate_and_touch(self):
        users = {u["Email"] for u in control(BASE, "GET", "/_control/rows/User")}
        self.assertIn("seller@contoso.example", users)
        self.assertNotIn("nobody@contoso.example", users)
        codes = {c["IsoCode"] for c in control(BASE, "GET", "/_control/rows/CurrencyType")}
        self.assertTrue({"USD", "EUR"} <= codes and "CHF" not in codes)
        out = control(BASE, "POST", "/_control/generate", {"object": "Account", "count": 5})
        self.assertEqual(len(out["ids"]), 5)
        oid = self.opportunity()
        touched = control(BASE, "POST", "/_control/touch", {"object": "Opportunity", "id": oid, "seconds": 5})
        _, _, rec = self.call("GET", f"/sobjects/Opportunity/{oid}?fields=LastModifiedDate")
        self.assertEqual(rec["LastModifiedDate"], touched["LastModifiedDate"])


if __name__ == "__main__":
    unittest.main()
