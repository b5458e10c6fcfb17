"""A local sandbox for ``pcref-sync``: the Partner Center and Dataverse
emulators running in this process on free loopback ports, a pcref-sync
configuration pointing at them, and small clients that play the people on
each side through the services' own APIs — Microsoft and the partner's
Partner Center user on one side, the seller in Dynamics 365 on the other.

Used by ``scripts/demo.py`` (the README's demo) and the tests in
``tests/cli/``.  Standard library only::

    with Sandbox(workdir, "build/examples/pcref-sync") as sb:
        ref = sb.pc.share(name="Fabrikam - Azure migration")
        sb.sync("once")
        opp = sb.crm.opportunity_for(ref["id"])

The emulators stop with the sandbox (``close()``, the ``with`` block, or the
end of the process: they are daemon threads of it), and so does every
pcref-sync child it started.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import dataverse  # noqa: E402
import partnercenter  # noqa: E402
import peerlib  # noqa: E402
from peerlib import control, http_call  # noqa: E402

CLIENT_ID = "pcref-demo-client"
CLIENT_SECRET = "pcref-demo-secret"
PC_USER = "admin@contoso.onmicrosoft.com"
PC_PASSWORD = "demo-password"
AUD_REFERRALS = partnercenter.AUD_REFERRALS
AUD_WEBHOOKS = partnercenter.AUD_PARTNER_CENTER
# The environment variables the sandbox's configuration names for its secrets
# (pcref-sync reads secrets from the environment; it never prints them).
SECRET_ENV = {"PCREF_SANDBOX_CLIENT_SECRET": CLIENT_SECRET, "PCREF_SANDBOX_PASSWORD": PC_PASSWORD}

# The connector's columns on a Dynamics 365 opportunity.
SYNC_COLUMN = "msft_microsoftpartnercenterreferralsync"
LINK_COLUMN = "msft_microsoftpartnercenterreferrallink"
AUDIT_COLUMN = "msft_microsoftpartnercenterreferralsyncaudit"

# What the generated referrals use (tests/peers/partnercenter.py): every
# currency must exist in the CRM and every sales-team member be a CRM user
# so that the sandbox's referrals are all syncable.
EXTRA_CURRENCIES = (("JPY", "Japanese Yen", "¥", 150.0), ("AUD", "Australian Dollar", "A$", 1.5),
                    ("CAD", "Canadian Dollar", "C$", 1.35), ("INR", "Indian Rupee", "₹", 83.0))


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM when this process dies (Linux)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class ApiFailure(RuntimeError):
    pass


def _call(method, url, token=None, body=None, headers=None, expect=(200, 201, 204)):
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    status, resp_headers, data = http_call(method, url, body, hdrs)
    if status not in expect:
        raise ApiFailure(f"{method} {url} -> {status}: {data.decode('utf-8', 'replace')[:500]}")
    return status, resp_headers, (json.loads(data) if data.strip() else None)


def _fetch_token(url, form):
    _, _, answer = _call("POST", url, body=urllib.parse.urlencode(form),
                         headers={"Content-Type": "application/x-www-form-urlencoded"}, expect=(200,))
    return answer["access_token"]


class PartnerCenterClient:
    """The Partner Center side: the Referrals API as the partner's user, and
    the emulator's control API to play Microsoft."""

    def __init__(self, base):
        self.base = base
        self._token = None

    def token(self):
        if self._token is None:
            self._token = _fetch_token(f"{self.base}/common/oauth2/token", {
                "grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "username": PC_USER, "password": PC_PASSWORD, "resource": AUD_REFERRALS})
        return self._token

    def referral(self, ref_id):
        """The stored referral (control API: no request-log entry)."""
        return control(self.base, "GET", f"/_control/rows/referrals/{ref_id}")

    def referrals(self):
        return control(self.base, "GET", "/_control/rows/referrals")

    def patch(self, ref_id, ops):
        """A change made in Partner Center by the partner's user (JSON Patch)."""
        _call("PATCH", f"{self.base}/v1.0/engagements/referrals/{ref_id}", self.token(), ops)
        return self.referral(ref_id)

    def share(self, seed=None, **overrides):
        """Microsoft shares a co-sell referral with the partner (New/Pending)."""
        body = dict(overrides)
        if seed is not None:
            body["seed"] = seed
        return control(self.base, "POST", "/_control/microsoft/share", body)

    def generate(self, count, **options):
        return control(self.base, "POST", "/_control/generate", dict(options, count=count))["ids"]


class CrmClient:
    """What the scenarios need of a CRM, whichever it is: the seller's
    actions through the CRM's own API, and a CRM-neutral view of an
    opportunity.  Subclasses: DataverseClient, SalesforceClient."""

    name = "CRM"
    backend = None
    on_hold_stage = active_stage = won_stage = None   # the mapping's defaults (doc/mapping.md)
    opportunity_set = id_field = referral_field = None

    def __init__(self, base):
        self.base = base
        self._token = None

    def rows(self, collection):
        return control(self.base, "GET", f"/_control/rows/{collection}")

    def row(self, collection, row_id):
        return control(self.base, "GET", f"/_control/rows/{collection}/{row_id}")

    def opportunities(self):
        return self.rows(self.opportunity_set)

    def opportunity(self, opp_id):
        return self.row(self.opportunity_set, opp_id)

    def opportunities_for(self, referral_id):
        return [o for o in self.opportunities() if o.get(self.referral_field) == referral_id]

    def opportunity_for(self, referral_id):
        found = self.opportunities_for(referral_id)
        return found[0] if len(found) == 1 else None

    def id_of(self, opp):
        return opp[self.id_field] if opp else None


class DataverseClient(CrmClient):
    """Dynamics 365: the Web API, as the seller's changes in the app reach it."""

    name, backend = "Dynamics 365", "dynamics"
    on_hold_stage, active_stage, won_stage = "On Hold", "Qualify", "Won"
    opportunity_set, id_field, referral_field = "opportunities", "opportunityid", dataverse.REFERRAL_ID

    def __init__(self, base):
        super().__init__(base)
        self.api = f"{base}/api/data/v9.2"

    def token(self):
        if self._token is None:
            self._token = _fetch_token(f"{self.base}/contoso.onmicrosoft.com/oauth2/v2.0/token", {
                "grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "scope": f"{self.base}/.default"})
        return self._token

    def connection(self):
        """The pcref-sync configuration section of this CRM."""
        return {"url": self.base, "token_url": f"{self.base}/contoso.onmicrosoft.com/oauth2/v2.0/token",
                "client_id": CLIENT_ID, "client_secret_env": "PCREF_SANDBOX_CLIENT_SECRET"}

    def seed_prerequisites(self):
        """The currencies and the sales team the generated referrals use (R-29)."""
        control(self.base, "POST", "/_control/seed", {
            "transactioncurrencies": [
                {"isocurrencycode": iso, "currencyname": name, "currencysymbol": symbol, "currencyprecision": 2,
                 "exchangerate": rate} for iso, name, symbol, rate in EXTRA_CURRENCIES],
            "systemusers": [{"firstname": first, "lastname": last, "internalemailaddress": email,
                             "domainname": email} for first, last, email in _sales_team()]})

    def seed_own_opportunities(self, count, seed):
        """Opportunities of the CRM's own, not shared with Partner Center."""
        control(self.base, "POST", "/_control/generate", {"set": "accounts", "count": 4, "seed": seed})
        control(self.base, "POST", "/_control/generate", {
            "set": "opportunities", "count": count, "seed": seed,
            "overrides": {SYNC_COLUMN: False, dataverse.REFERRAL_ID: None, LINK_COLUMN: None}})

    def count(self, set_name="opportunities"):
        """How many rows (through the Web API's $count: cheap to ask often)."""
        _, _, n = _call("GET", f"{self.api}/{set_name}/$count", self.token())
        return int(n)

    def currency_code(self, opp):
        cid = opp.get("_transactioncurrencyid_value")
        return self.row("transactioncurrencies", cid)["isocurrencycode"] if cid else None

    def view(self, opp_id):
        opp = self.opportunity(opp_id)
        return {"name": opp["name"], "stage": opp["stepname"],
                "state": {0: "open", 1: "won", 2: "lost"}.get(opp["statecode"], "?"),
                "deal_value": opp["estimatedvalue"], "currency": self.currency_code(opp),
                "close_date": opp["estimatedclosedate"], "sync": bool(opp[SYNC_COLUMN]),
                "referral_id": opp[dataverse.REFERRAL_ID], "link": opp[LINK_COLUMN],
                "audit": opp[AUDIT_COLUMN] or ""}

    def create(self, set_name, body):
        _, headers, _ = _call("POST", f"{self.api}/{set_name}", self.token(), body)
        entity = headers.get("OData-EntityId", "")
        return entity[entity.rindex("(") + 1:-1]

    def update(self, set_name, row_id, body):
        _call("PATCH", f"{self.api}/{set_name}({row_id})", self.token(), body,
              headers={"If-Match": "*"})

    def set_stage(self, opp_id, stage):
        self.update("opportunities", opp_id, {"stepname": stage})

    def set_deal_value(self, opp_id, value):
        self.update("opportunities", opp_id, {"estimatedvalue": value})

    def win(self, opp_id, subject="Won"):
        _call("POST", f"{self.api}/WinOpportunity", self.token(),
              {"Status": 3, "OpportunityClose": {"subject": subject,
                                                  "opportunityid@odata.bind": f"/opportunities({opp_id})"}})

    def create_shared_opportunity(self, deal):
        """The seller's new opportunity with Sync = Yes: account, contact,
        the opportunity (help requested) and a co-sell solution (R-04, R-07, R-11)."""
        account = self.create("accounts", {
            "name": deal["account"], "address1_line1": deal["street"], "address1_city": deal["city"],
            "address1_postalcode": deal["postal_code"], "address1_country": deal["country"]})
        contact = self.create("contacts", {
            "firstname": deal["contact"][0], "lastname": deal["contact"][1], "emailaddress1": deal["contact"][2],
            "parentcustomerid_account@odata.bind": f"/accounts({account})"})
        currency = next(r["transactioncurrencyid"] for r in self.rows("transactioncurrencies")
                        if r["isocurrencycode"] == deal["currency"])
        opp = self.create("opportunities", {
            "name": deal["name"], "estimatedvalue": deal["value"], "estimatedclosedate": deal["close_date"],
            "description": deal["notes"], "stepname": self.active_stage,
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({currency})",
            "parentaccountid@odata.bind": f"/accounts({account})",
            "customerid_account@odata.bind": f"/accounts({account})",
            "parentcontactid@odata.bind": f"/contacts({contact})",
            "msft_microsoftpartnercenterhelp": "GeneralOrOther", SYNC_COLUMN: True})
        self.create("msft_mpcsolutions", {"msft_name": deal["solution"][1], "msft_solutionid": deal["solution"][0],
                                          "msft_opportunityid@odata.bind": f"/opportunities({opp})"})
        return opp


class SalesforceClient(CrmClient):
    """Salesforce: the REST API, as the seller's changes in Lightning reach it."""

    name, backend = "Salesforce", "salesforce"
    on_hold_stage, active_stage, won_stage = "On Hold", "Qualification", "Closed Won"
    opportunity_set, id_field, referral_field = "Opportunity", "Id", "Referral_Identifier__c"
    API = "/services/data/v62.0"

    def token(self):
        if self._token is None:
            self._token = _fetch_token(f"{self.base}/services/oauth2/token", {
                "grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
        return self._token

    def connection(self):
        return {"url": self.base, "token_url": f"{self.base}/services/oauth2/token", "client_id": CLIENT_ID,
                "client_secret_env": "PCREF_SANDBOX_CLIENT_SECRET"}

    def seed_prerequisites(self):
        control(self.base, "POST", "/_control/seed", {
            "CurrencyType": [{"IsoCode": iso, "ConversionRate": rate, "DecimalPlaces": 2, "IsActive": True,
                              "IsCorporate": False} for iso, _, _, rate in EXTRA_CURRENCIES],
            "User": [{"FirstName": first, "LastName": last, "Email": email, "Username": email, "IsActive": True}
                     for first, last, email in _sales_team()]})

    def seed_own_opportunities(self, count, seed):
        control(self.base, "POST", "/_control/generate", {"object": "Account", "count": 4, "seed": seed})
        control(self.base, "POST", "/_control/generate", {
            "object": "Opportunity", "count": count, "seed": seed,
            "overrides": {"Sync_with_Partner_Center__c": False, "Referral_Identifier__c": None,
                          "Referral_Link__c": None}})

    def view(self, opp_id):
        opp = self.opportunity(opp_id)
        return {"name": opp["Name"], "stage": opp["StageName"],
                "state": "won" if opp.get("IsWon") else "lost" if opp.get("IsClosed") else "open",
                "deal_value": opp["Amount"], "currency": opp.get("CurrencyIsoCode"), "close_date": opp["CloseDate"],
                "sync": bool(opp.get("Sync_with_Partner_Center__c")), "referral_id": opp.get("Referral_Identifier__c"),
                "link": opp.get("Referral_Link__c"), "audit": opp.get("Audit__c") or ""}

    def create(self, sobject, body):
        _, _, answer = _call("POST", f"{self.base}{self.API}/sobjects/{sobject}", self.token(), body)
        return answer["id"]

    def update(self, sobject, record_id, body):
        _call("PATCH", f"{self.base}{self.API}/sobjects/{sobject}/{record_id}", self.token(), body)

    def set_stage(self, opp_id, stage):
        self.update("Opportunity", opp_id, {"StageName": stage})

    def set_deal_value(self, opp_id, value):
        self.update("Opportunity", opp_id, {"Amount": value})

    def win(self, opp_id, subject=None):
        self.set_stage(opp_id, self.won_stage)

    def create_shared_opportunity(self, deal):
        account = self.create("Account", {
            "Name": deal["account"], "BillingStreet": deal["street"], "BillingCity": deal["city"],
            "BillingPostalCode": deal["postal_code"], "BillingCountry": deal["country"]})
        contact = self.create("Contact", {"FirstName": deal["contact"][0], "LastName": deal["contact"][1],
                                          "Email": deal["contact"][2], "AccountId": account})
        opp = self.create("Opportunity", {
            "Name": deal["name"], "Amount": deal["value"], "CloseDate": deal["close_date"],
            "Description": deal["notes"], "StageName": self.active_stage, "CurrencyIsoCode": deal["currency"],
            "AccountId": account, "ContactId": contact, "How_can_Microsoft_help__c": "General or other",
            "Sync_with_Partner_Center__c": True})
        self.create("Microsoft_Partner_Center_Solution__c", {"Name": deal["solution"][1],
                                                             "Solution_Identifier__c": deal["solution"][0],
                                                             "Opportunity__c": opp})
        return opp


def _sales_team():
    """Every partner sales-team member a generated referral may name."""
    for first in partnercenter._FIRST:
        for last in partnercenter._LAST:
            yield first, last, f"{first}.{last}@contoso.example".lower()


CRMS = {"dynamics": (dataverse.Dataverse, DataverseClient)}
try:
    import salesforce  # noqa: E402
    CRMS["salesforce"] = (salesforce.Salesforce, SalesforceClient)
except ImportError:  # a tree without the Salesforce emulator
    pass


class Sandbox:
    """Both emulators, a pcref-sync configuration for them, and ways to run it."""

    def __init__(self, workdir, pcref_sync, crm="dynamics", poll_interval=1.0, webhook=True):
        """``workdir`` holds the configuration and the state store; None: a
        temporary directory, removed by close()."""
        if crm not in CRMS:
            raise ValueError(f"the sandbox has no emulator for the {crm!r} CRM (it has {', '.join(CRMS)})")
        self._tmp = tempfile.TemporaryDirectory(prefix="pcref-sandbox.") if workdir is None else None
        self.workdir = os.path.abspath(workdir or self._tmp.name)
        self.pcref_sync = os.path.abspath(pcref_sync)
        self.crm_name = crm
        self.poll_interval = poll_interval
        self.webhook = webhook
        self.children = []
        self._servers = []
        emulator, client = CRMS[crm]
        self.pc_server, self.pc_base = self._start(partnercenter.PartnerCenter)
        self.crm_server, self.crm_base = self._start(emulator)
        self.pc = PartnerCenterClient(self.pc_base)
        self.crm = client(self.crm_base)
        self.store = os.path.join(self.workdir, "pcref-sync.db")
        self.config = os.path.join(self.workdir, "pcref-sync.json")
        self.reset()

    def _start(self, cls):
        server, base = peerlib.start_in_thread(cls)
        self._servers.append(server)
        return server, base

    # -- state ---------------------------------------------------------------------------------
    def reset(self):
        """Empty services and store: the CRM has its currencies and users (R-29)."""
        for base in (self.pc_base, self.crm_base):
            control(base, "POST", "/_control/reset")
        self.crm.seed_prerequisites()
        for name in ("pcref-sync.db", "pcref-sync.db-wal", "pcref-sync.db-shm"):
            try:
                os.unlink(os.path.join(self.workdir, name))
            except FileNotFoundError:
                pass
        self.write_config()

    def write_config(self, **overrides):
        """Write the pcref-sync configuration; ``overrides`` replace top-level sections."""
        os.makedirs(self.workdir, exist_ok=True)
        ca = os.path.join(self.workdir, "partner-center-test-ca.pem")
        _, _, pem = http_call("GET", f"{self.pc_base}/_control/webhook/ca.pem")
        with open(ca, "wb") as fh:
            fh.write(pem)
        cert_host = urllib.parse.urlsplit(self.pc_base).netloc
        config = {
            "store": self.store,
            "poll_interval_seconds": self.poll_interval,
            "partner_center": {
                "url": self.pc_base, "auth": "password", "token_url": f"{self.pc_base}/common/oauth2/token",
                "client_id": CLIENT_ID, "client_secret_env": "PCREF_SANDBOX_CLIENT_SECRET",
                "username": PC_USER, "password_env": "PCREF_SANDBOX_PASSWORD",
                "webhooks": {"url": self.pc_base, "resource": AUD_WEBHOOKS}},
            "crm": {"backend": self.crm.backend, self.crm.backend: self.crm.connection()},
        }
        if self.webhook:
            config["webhook"] = {"listen": "127.0.0.1", "port": 0, "path": "/webhooks/partner-center",
                                 "trust_anchors_file": ca, "certificate_hosts": [cert_host],
                                 "register": True, "overwrite": True}
        config.update(overrides)
        with open(self.config, "w", encoding="utf-8") as fh:
            json.dump(config, fh, indent=2)
        return config

    # -- running pcref-sync ------------------------------------------------------------------------
    def env(self):
        env = dict(os.environ)
        env.update(SECRET_ENV)
        env.pop("PCREF_SYNC_CONFIG", None)
        return env

    def command(self, *args):
        return [self.pcref_sync, "--config", self.config, *args]

    def sync(self, *args, timeout=300, check=True):
        """Run ``pcref-sync <args>`` to its end; a CompletedProcess (text)."""
        proc = subprocess.run(self.command(*args), env=self.env(), capture_output=True, text=True, encoding="utf-8", errors="replace",
                              timeout=timeout, preexec_fn=_die_with_parent)
        if check and proc.returncode != 0:
            raise ApiFailure(f"pcref-sync {' '.join(args)} exited {proc.returncode}\n{proc.stdout}{proc.stderr}")
        return proc

    def spawn(self, *args, stdout=subprocess.PIPE):
        """Start ``pcref-sync <args>`` in the background (a Popen, text, stderr merged into stdout)."""
        proc = subprocess.Popen(self.command(*args), env=self.env(), stdout=stdout, stderr=subprocess.STDOUT,
                                text=True, encoding="utf-8", errors="replace", bufsize=1, preexec_fn=_die_with_parent)
        self.children.append(proc)
        return proc

    # -- the emulators' request logs ------------------------------------------------------------------
    def clear_requests(self):
        for base in (self.pc_base, self.crm_base):
            control(base, "DELETE", "/_control/requests")

    def requests(self, which):
        return control(self.pc_base if which == "pc" else self.crm_base, "GET", "/_control/requests")

    def writes(self):
        """The write requests both services received (token requests excluded)."""
        found = []
        for which in ("pc", "crm"):
            for entry in self.requests(which):
                if entry["method"] in ("POST", "PATCH", "PUT", "DELETE") and "/oauth2/" not in entry["path"]:
                    found.append((which, entry["method"], entry["path"]))
        return found

    # -- the end -------------------------------------------------------------------------------------------
    def close(self):
        for proc in self.children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
        self.children.clear()
        for server in self._servers:
            server.stop()
        self._servers.clear()
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LineReader:
    """Collects a child's output lines in a thread, so a test or the demo can
    wait for a line without blocking on the pipe."""

    def __init__(self, stream):
        self.lines = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream):
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append(None)  # end of output
            self._cond.notify_all()

    def wait_for(self, predicate, timeout=30.0, start=0):
        """The first line from index ``start`` on matching ``predicate``, or None at the end / timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            i = start
            while True:
                while i < len(self.lines):
                    line = self.lines[i]
                    if line is None:
                        return None
                    if predicate(line):
                        return line
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def text(self):
        with self._cond:
            return "\n".join(line for line in self.lines if line is not None)
