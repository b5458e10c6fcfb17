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


class DataverseClient:
    """The CRM side (Dynamics 365): the Web API as the seller would change
    records (through the app's form, which writes the same columns)."""

    name = "Dynamics 365"

    def __init__(self, base):
        self.base = base
        self.api = f"{base}/api/data/v9.2"
        self._token = None

    def token(self):
        if self._token is None:
            self._token = _fetch_token(f"{self.base}/contoso.onmicrosoft.com/oauth2/v2.0/token", {
                "grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "scope": f"{self.base}/.default"})
        return self._token

    def rows(self, set_name):
        return control(self.base, "GET", f"/_control/rows/{set_name}")

    def row(self, set_name, row_id):
        return control(self.base, "GET", f"/_control/rows/{set_name}/{row_id}")

    def opportunities(self):
        return self.rows("opportunities")

    def count(self, set_name):
        """How many rows (through the Web API's $count: cheap to ask often)."""
        _, _, n = _call("GET", f"{self.api}/{set_name}/$count", self.token())
        return int(n)

    def opportunity(self, opp_id):
        return self.row("opportunities", opp_id)

    def opportunities_for(self, referral_id):
        return [o for o in self.opportunities() if o.get(dataverse.REFERRAL_ID) == referral_id]

    def opportunity_for(self, referral_id):
        found = self.opportunities_for(referral_id)
        return found[0] if len(found) == 1 else None

    def currency_code(self, opp):
        cid = opp.get("_transactioncurrencyid_value")
        return self.row("transactioncurrencies", cid)["isocurrencycode"] if cid else None

    def create(self, set_name, body):
        _, headers, _ = _call("POST", f"{self.api}/{set_name}", self.token(), body)
        entity = headers.get("OData-EntityId", "")
        return entity[entity.rindex("(") + 1:-1]

    def update(self, set_name, row_id, body):
        _call("PATCH", f"{self.api}/{set_name}({row_id})", self.token(), body,
              headers={"If-Match": "*"})

    def win(self, opp_id, subject="Won"):
        _call("POST", f"{self.api}/WinOpportunity", self.token(),
              {"Status": 3, "OpportunityClose": {"subject": subject,
                                                  "opportunityid@odata.bind": f"/opportunities({opp_id})"}})


class Sandbox:
    """Both emulators, a pcref-sync configuration for them, and ways to run it."""

    def __init__(self, workdir, pcref_sync, crm="dynamics", poll_interval=1.0, webhook=True):
        """``workdir`` holds the configuration and the state store; None: a
        temporary directory, removed by close()."""
        if crm != "dynamics":
            raise ValueError(f"the sandbox has no emulator for the {crm!r} CRM yet (only dynamics)")
        self._tmp = tempfile.TemporaryDirectory(prefix="pcref-sandbox.") if workdir is None else None
        self.workdir = os.path.abspath(workdir or self._tmp.name)
        self.pcref_sync = os.path.abspath(pcref_sync)
        self.crm_name = crm
        self.poll_interval = poll_interval
        self.webhook = webhook
        self.children = []
        self._servers = []
        self.pc_server, self.pc_base = self._start(partnercenter.PartnerCenter)
        self.dv_server, self.dv_base = self._start(dataverse.Dataverse)
        self.pc = PartnerCenterClient(self.pc_base)
        self.crm = DataverseClient(self.dv_base)
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
        for base in (self.pc_base, self.dv_base):
            control(base, "POST", "/_control/reset")
        control(self.dv_base, "POST", "/_control/seed", {
            "transactioncurrencies": [
                {"isocurrencycode": iso, "currencyname": name, "currencysymbol": symbol, "currencyprecision": 2,
                 "exchangerate": rate} for iso, name, symbol, rate in EXTRA_CURRENCIES],
            "systemusers": [
                {"firstname": first, "lastname": last, "internalemailaddress": f"{first}.{last}@contoso.example".lower(),
                 "domainname": f"{first}.{last}@contoso.example".lower()}
                for first in partnercenter._FIRST for last in partnercenter._LAST]})
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
            "crm": {"backend": "dynamics", "dynamics": {
                "url": self.dv_base, "token_url": f"{self.dv_base}/contoso.onmicrosoft.com/oauth2/v2.0/token",
                "client_id": CLIENT_ID, "client_secret_env": "PCREF_SANDBOX_CLIENT_SECRET"}},
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
        for base in (self.pc_base, self.dv_base):
            control(base, "DELETE", "/_control/requests")

    def requests(self, which):
        return control(self.pc_base if which == "pc" else self.dv_base, "GET", "/_control/requests")

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
