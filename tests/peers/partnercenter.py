"""Partner Center emulator: Referrals API, Azure AD token endpoint, webhooks.

Built on ``peerlib`` (command line, control API, faults, request log: see its
docstring).  Written from ``shared/reference/partner-center-api.md`` (cited
below as §n) and ``partner-center-referrals.swagger.json``.  Run::

    python3 tests/peers/partnercenter.py --port 0 --port-file /tmp/pc.port

Service endpoints
    POST /{tenant}/oauth2/token           Azure AD v1 (form): grant_type password
                                          (username, password, client_id,
                                          client_secret, resource), refresh_token,
                                          client_credentials; numbers as strings
                                          (§1.2).  Client secret also accepted
                                          as HTTP Basic.
    POST /{tenant}/oauth2/v2.0/token      v2: ``scope`` instead of ``resource``,
                                          numbers as numbers; refresh token
                                          only with ``offline_access``.
    GET|POST       /v1.0/engagements/referrals            list / create (§2.1, §2.3)
    GET|PUT|PATCH  /v1.0/engagements/referrals/{id}       get / replace / patch
                                                          (§2.2, §2.5, §2.6)
    GET            /engagements/v1/referrals/{id}         webhook ResourceUri form (§1.1)
    GET            /webhooks/v1/registration/events       (§5.1)
    GET|POST|PUT   /webhooks/v1/registration
    POST           /webhooks/v1/registration/validationEvents
    GET            /webhooks/v1/registration/validationEvents/{correlationId}
    GET            /cert/pcnotifications-dispatch.microsoft.com.cer   signing cert (DER)
    GET            /cert/rogue.cer                        self-signed "O=Not Microsoft" cert

Tokens (§1.2).  Credentials are rows of the ``credentials`` collection
(``{"client_id", "client_secret", "username", "password"}``; a null secret
makes a public client); the default row is pcref-demo-client /
pcref-demo-secret / admin@contoso.onmicrosoft.com / demo-password.  Tokens
carry their audience: the Referrals API (``/v1.0``) wants
``https://api.partner.microsoft.com``, the webhook API
``https://api.partnercenter.microsoft.com`` (§1.2, §5.1: "Acquire an access
token to access https://api.partnercenter.microsoft.com"), the ResourceUri form
accepts either.  A v1 refresh token may be redeemed for the other audience, as
Azure AD's multi-resource refresh tokens allow.  The Referrals API is "App+User
only" (§1.2): a client_credentials token gets 403 ``accessDenied`` there.
Failures use Azure AD's error JSON (``error``, ``error_description``
starting ``AADSTSnnnn:``, ``error_codes`` ...).

Referrals are stored as whole JSON documents (camelCase, every documented
property present with explicit nulls, §3.1-3.4); unknown properties sent by
a client are kept.  Property names in request bodies bind case-insensitively
(the official create sample mixes ``ConsentToContact`` and
``consentToContact``, §2.3).  Rules enforced:
  * create: ``type``, ``customerProfile``, ``consent``, ``details`` required;
    ``customerProfile.address.country`` an ISO 3166 alpha-2 code (§3.2);
    server fills id, engagementId (unless given), organizationId/Name,
    created/updated, eTag, links, direction Outgoing; New/Pending (or no
    status) comes back Active/Accepted with acceptedDateTime = creation time
    (§2.3, §4.2); Closed is kept (the 2019 create sample makes a Closed/Won
    referral).  Answer 200: the swagger documents 200, no source shows 201
    (§2.3, §9).
  * status/substatus pairs and transitions of the §4.2 table; Closed referrals
    are immutable (§4.2 "Terminal"); acceptedDateTime/closedDateTime stamped
    on the transition; Microsoft-seller visibility
    (``consent.consentToShareReferralWithMicrosoftSellers``) cannot go back
    from true to false (§4.3).
  * incoming New referrals expire 14 days after creation (§4.2, §8): checked
    lazily on every referral request, giving Closed/Expired and a webhook.
  * eTag is a quoted GUID-like string renewed on every write (§2.7); PUT needs
    If-Match (428 without, 412 on mismatch), PATCH checks it when sent; the
    412 body is the one observed in the wild (§2.7).
  * PATCH takes RFC 6902 ``add``/``replace`` only (§2.6); server-populated
    properties are read-only (writable paths are UNCONFIRMED, §9: the safest
    reading).  ``Prefer: return=representation`` -> 200 with the referral,
    otherwise 204 with ``Content-Length: 0``.
  * PUT replaces the document; it must not carry ``links`` (§2.5).
  * list: ``$filter`` (peerlib.ODataFilter), ``$orderby`` on createdDateTime /
    updatedDateTime (ties broken by id), ``$top``, ``$skip``, ``$select``
    (top-level properties), pages of 100 with an absolute ``@odata.nextLink``
    whose opaque ``$skiptoken`` carries the whole query (§2.1; a request with
    ``$skiptoken`` ignores every other option).  Paging is by
    key (the last row's sort key), so rows written between pages are neither
    repeated nor skipped when they sort after the page.  ``@odata.count`` is
    the number of rows in the page (the §2.1 sample shows 100 on a full page
    with a nextLink; INFERRED).

Errors of the Referrals API have the §6 shape ``{"error": {"code", "message",
"target"?, "innerError"?}}``; the webhook API uses the general Partner Center
shape ``{"code", "description", "data", "source"}`` (§6).  Responses carry
``request-id``, ``MS-RequestId`` and ``MS-CorrelationId`` (the last two echoed
when sent) and echo ``client-request-id`` (§1.3).

Webhooks (§5).  At start the emulator makes a test PKI with the openssl
command-line tool: a root "CN=pcref Test Root CA, O=Microsoft Corporation",
a leaf "CN=pcnotifications-dispatch.microsoft.com, O=Microsoft Corporation"
it issued, and a self-signed rogue "O=Not Microsoft".  Every create/update
of a referral (API or control) posts ``referral-created``/``-updated`` for it
and ``related-referral-created``/``-updated`` for each other referral of the
same engagement (ResourceUri = that other referral: INFERRED, §5.2 does not
say which referral the related event names), when the registration lists
the event.  Body: ``{"EventName", "ResourceUri", "ResourceName": "referral",
"AuditUri": null, "ResourceChangeUtcDate"}`` (compact JSON), signed RSA-SHA256
PKCS#1 v1.5 over the raw bytes, ``Authorization: Signature <base64>`` or
``x-ms-signature: Signature <base64>`` when the registration set
``SignatureTokenToMsSignatureHeader`` (§5.4), ``X-MS-Certificate-Url`` pointing
at this server.  Delivery: a background thread, 2xx = delivered (UNCONFIRMED,
§5.3), up to 10 attempts, backoff 0.2 s doubling up to 2 s (the real schedule is
UNCONFIRMED), then dropped ("offline queue", §5.3).  Webhook URLs must be
loopback addresses: the emulator never sends anything off the machine.

Control extensions (besides peerlib's; collections ``referrals`` and
``credentials``):
    POST /_control/generate          {"count": N, "type", "status", "substatus",
                                      "direction", "seed": int} -> {"ids": [...]}
                                      realistic referrals spread over the past
                                      (at most 10 days), created oldest first
    POST /_control/microsoft/share   {partial referral to merge, "seed"?} ->
                                      a Microsoft co-sell referral shared with
                                      the partner (Shared, Incoming, New/Pending,
                                      invitedBy msft, SalesQualified, customer
                                      contact, one solution); fires webhooks
    GET  /_control/webhook/ca.pem    the test root CA (PEM): the trust anchor
    GET  /_control/webhook/deliveries  delivery records with their attempts
    POST /_control/webhook/config    {"attempts", "backoff", "backoff_max",
                                      "timeout"} -> the delivery settings
    POST /_control/webhook/sign      {"event": {...}} or {"referral_id",
                                      "event_name"}, "key": "good"|"rogue",
                                      "cert": "good"|"rogue" (default = key),
                                      "header": "authorization"|"x-ms-signature"
                                      -> {"body": "<raw>", "headers": {...}}
    POST /_control/webhook/deliver   same event fields + "url" (default: the
                                      registered one), "wait" (default true)
                                      -> the delivery record once finished
"""

from __future__ import annotations

import copy
import functools
import heapq
import http.client
import ipaddress
import itertools
import json
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from base64 import b64decode, b64encode, urlsafe_b64decode, urlsafe_b64encode
from collections import deque

import peerlib
from peerlib import (ApiError, ODataError, ODataFilter, Response, Route, TICKS_PER_SECOND,
                     format_ticks, json_response, no_content, odata_sort_compare, parse_datetime,
                     parse_orderby)

# --------------------------------------------------------------------------
# Constants from the reference
# --------------------------------------------------------------------------

AUD_REFERRALS = "https://api.partner.microsoft.com"          # §1.2
AUD_PARTNER_CENTER = "https://api.partnercenter.microsoft.com"  # §1.2, §5.1
AUDIENCES = (AUD_REFERRALS, AUD_PARTNER_CENTER)
OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}

# The partner the emulator plays: ids of the §3.4 sample and an MPN id of §3.1.
ORG_ID = "7d23e5ca-19dc-4eaa-aac8-5e6b559f0d1d"
ORG_NAME = "Contoso Company"
LOCATION_ID = "01e2abcd-52b0-4af3-a3ae-1fd1530b3563"
MPN_ID = "4863040"
MSFT_ORG = "msft"                                            # §2.4

DEFAULT_CREDENTIALS = {"client_id": "pcref-demo-client", "client_secret": "pcref-demo-secret",
                       "username": "admin@contoso.onmicrosoft.com", "password": "demo-password"}

PAGE_SIZE = 100                                              # §2.1
EXPIRY_TICKS = 14 * 24 * 3600 * TICKS_PER_SECOND             # §4.2
REFERRAL_TYPES = ("Independent", "Shared")                   # §3.1
QUALIFICATIONS = ("None", "Direct", "MarketingQualified", "SalesQualified")
DIRECTIONS = ("Incoming", "Outgoing")
# §4.2: status -> (allowed next statuses, allowed substatuses)
STATUS_TABLE = {
    "New": (("New", "Active", "Closed"), ("Pending", "Received")),
    "Active": (("Active", "Closed"), ("Accepted",)),
    "Closed": (("Closed",), ("Won", "Lost", "Declined", "Expired")),
}
ORDERABLE = ("createdDateTime", "updatedDateTime")           # §2.1
LIST_OPTIONS = ("$filter", "$orderby", "$top", "$skip", "$select", "$skiptoken")
SHARE_FLAG = "consentToShareReferralWithMicrosoftSellers"    # §4.3
# Populated by the server (§2.3); never taken from a PATCH, PUT or create body
# (engagementId is the one a create may supply, §2.4).
SERVER_FIELDS = ("id", "engagementId", "organizationId", "organizationName", "createdDateTime",
                 "updatedDateTime", "acceptedDateTime", "closedDateTime", "direction", "eTag", "links")
REFERRAL_EVENTS = ("referral-created", "referral-updated",
                   "related-referral-created", "related-referral-updated")  # §5.2
# §5.1 sample list plus the referral events this emulator can raise.
WEBHOOK_EVENTS = ("subscription-updated", "test-created", "usagerecords-thresholdExceeded") + REFERRAL_EVENTS
VALIDATION_EVENTS_PER_MINUTE = 2                             # §5.1
CERT_PATHS = {"good": "/cert/pcnotifications-dispatch.microsoft.com.cer", "rogue": "/cert/rogue.cer"}
FAULT_CODES = {400: "invalidRequest", 401: "unauthenticated", 403: "accessDenied", 404: "itemNotFound",
               409: "resourceModified", 412: "preconditionFailed", 503: "serviceNotAvailable"}  # §6

ISO_COUNTRIES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT
BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH
ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT
HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS
LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI
NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG
SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG
UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split())

# --------------------------------------------------------------------------
# The referral document (§3.1, §3.2, §3.4): every property with its default.
# A one-element list is the template of each element.
# --------------------------------------------------------------------------

_MEMBER = {"firstName": None, "lastName": None, "phoneNumber": None, "email": None, "title": None,
           "contactPreference": {"locale": None, "disableNotifications": False}}
REFERRAL_TEMPLATE = {
    "id": None, "engagementId": None, "name": None,
    "organizationId": None, "organizationName": None,
    "createdDateTime": None, "updatedDateTime": None, "expirationDateTime": None,
    "acceptedDateTime": None, "closedDateTime": None,
    "status": None, "substatus": None, "statusReason": None,
    "qualification": "None", "type": None, "direction": None,
    "externalReferenceId": None, "referralSource": None, "callToAction": None,
    "target": [{"type": None, "id": None}],
    "customerProfile": {
        "name": None,
        "address": {"addressLine1": None, "addressLine2": None, "city": None, "state": None,
                    "postalCode": None, "country": None, "region": None},
        "size": None, "team": [_MEMBER], "ids": [], "isMatchingComplete": False},
    "consent": {"consentToToShareInfoWithOthers": False, "consentToContact": False,
                SHARE_FLAG: False, "consentToMicrosoftToContactSpecificPartners": False},
    "details": {
        "notes": None, "dealValue": None, "currency": None, "closingDateTime": None,
        "requirements": {
            "industries": [], "products": [], "services": [], "solutions": [], "offers": [],
            "salesPlays": [],
            "additionalRequirements": {
                "iot": {"customerLicenseAgreementNumber": None, "deviceCategory": None,
                        "siliconType": None, "azureCertifiedDevice": False, "attachServices": False},
                "attributes": []}},
        "customerRequestedContact": None, "customerAction": None, "incentiveLevel": None},
    "team": [_MEMBER],
    "inviteContext": {"notes": None, "invitedBy": {"organizationId": None, "organizationName": None},
                      "assistanceRequestCode": None, "invitedMpnId": None},
    "salesStage": None, "campaignId": None, "favorite": False, "lastModifiedVia": None,
    "lastRunId": None, "referralProgram": None,
    "trackingInfo": {"microsoftMsxId": None, "microsoftUSFedOpportunityId": None,
                     "microsoftUSFedLeadId": None, "migratedPSCDealId": None,
                     "migratedPSCPartnerDealId": None},
    "mpnId": None, "registrations": [], "registrationStatus": "None", "quality": "Unknown",
    "isSpam": False, "tags": [], "dealSensitivity": "None", "createdVia": None,
    "eTag": None, "links": None,
}
REFERRAL_PROPERTIES = tuple(REFERRAL_TEMPLATE)


def _default(template):
    if isinstance(template, list):
        return []
    if isinstance(template, dict):
        return fill_defaults({}, template)
    return template


def fill_defaults(value, template):
    """``value`` completed from ``template``: missing keys get their default,
    keys matching a template key case-insensitively take its spelling, keys
    the template does not know are kept (after the known ones)."""
    if isinstance(template, list):
        if template and isinstance(value, list):
            return [fill_defaults(item, template[0]) for item in value]
        return value
    if not (isinstance(template, dict) and isinstance(value, dict)):
        return value
    spelling = {key.lower(): key for key in template}
    given = {spelling.get(key.lower(), key): item for key, item in value.items()}
    result = {key: fill_defaults(given[key], sub) if key in given else _default(sub)
              for key, sub in template.items()}
    result.update((key, item) for key, item in given.items() if key not in template)
    return result


def deep_merge(base: dict, override: dict) -> dict:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def _ci_get(obj: dict, name, default=None):
    """``obj[name]`` with a case-insensitive key match."""
    for key, value in obj.items():
        if key.lower() == name.lower():
            return value
    return default


# --------------------------------------------------------------------------
# JSON Patch (RFC 6902 add/replace; §2.6)
# --------------------------------------------------------------------------

def _patch_error(message, path):
    return ApiError(400, "invalidRequest", message, target=path)


def parse_pointer(path) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/"):
        raise _patch_error(f"Path {path!r} is not a JSON pointer of a property.", str(path))
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def apply_patch(doc: dict, ops) -> dict:
    """Apply ``add``/``replace`` operations to ``doc`` (in place)."""
    if not isinstance(ops, list) or not ops:
        raise ApiError(400, "invalidRequest", "A PATCH body is a non-empty JSON Patch array (RFC 6902).")
    for op in ops:
        if not isinstance(op, dict) or "path" not in op:
            raise ApiError(400, "invalidRequest", "Each patch operation needs 'op', 'path' and 'value'.")
        name, path = op.get("op"), op["path"]
        if name not in ("add", "replace"):
            raise _patch_error(f"Operation {name!r} is not supported; only 'replace' and 'add' are.", path)
        if "value" not in op:
            raise _patch_error(f"The {name!r} operation on {path!r} has no 'value'.", path)
        tokens = parse_pointer(path)
        if tokens[0] in SERVER_FIELDS:
            raise _patch_error(f"{tokens[0]!r} is set by the service and cannot be patched.", path)
        if tokens[0] not in REFERRAL_TEMPLATE:
            raise _patch_error(f"The referral has no property {tokens[0]!r}.", path)
        parent = doc
        for token in tokens[:-1]:
            parent = _step(parent, token, path)
        _write(parent, tokens[-1], name, copy.deepcopy(op["value"]), path)
    return doc


def _index(container: list, token, path, allow_end):
    if not re.fullmatch(r"0|[1-9][0-9]*", token) or int(token) > len(container) - (0 if allow_end else 1):
        raise _patch_error(f"Array index {token!r} is out of range in {path!r}.", path)
    return int(token)


def _step(node, token, path):
    if isinstance(node, dict) and token in node and node[token] is not None:
        return node[token]
    if isinstance(node, list) and token != "-":
        return node[_index(node, token, path, False)]
    raise _patch_error(f"Path {path!r} does not exist in the referral.", path)


def _write(parent, token, op, value, path):
    if isinstance(parent, dict):
        if op == "replace" and token not in parent:
            raise _patch_error(f"Cannot replace {path!r}: it does not exist (use 'add').", path)
        parent[token] = value
    elif isinstance(parent, list):
        if token == "-" and op == "add":
            parent.append(value)
        elif op == "add":
            parent.insert(_index(parent, token, path, True), value)
        else:
            parent[_index(parent, token, path, False)] = value
    else:
        raise _patch_error(f"Path {path!r} does not exist in the referral.", path)


# --------------------------------------------------------------------------
# Test PKI and signatures (§5.4), with the openssl command-line tool
# --------------------------------------------------------------------------

class SigningKeys:
    """Root CA, Microsoft-looking leaf and rogue key in a private temp dir."""

    LEAF_CN = "pcnotifications-dispatch.microsoft.com"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pcref-pc-pki-")
        try:
            self._make()
        except BaseException:
            self.close()
            raise

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _openssl(self, *args, data=None) -> bytes:
        try:
            done = subprocess.run(("openssl",) + args, input=data, capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"cannot run openssl: {exc}") from None
        if done.returncode:
            raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout

    def _self_signed(self, name, subject, *extensions):
        self._openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
                      "-keyout", self._path(f"{name}.key"), "-out", self._path(f"{name}.pem"),
                      "-subj", subject, *extensions)

    def _make(self):
        # Subjects are written O first so that .NET, which prints the last RDN
        # first, shows "CN=..., O=Microsoft Corporation" as in §5.4's samples.
        self._self_signed("ca", "/O=Microsoft Corporation/CN=pcref Test Root CA",
                          "-addext", "basicConstraints=critical,CA:TRUE",
                          "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self._openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", self._path("good.key"),
                      "-out", self._path("good.csr"), "-subj", f"/O=Microsoft Corporation/CN={self.LEAF_CN}")
        with open(self._path("leaf.ext"), "w", encoding="ascii") as fh:
            fh.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                     f"subjectAltName=DNS:{self.LEAF_CN}\n")
        self._openssl("x509", "-req", "-in", self._path("good.csr"), "-CA", self._path("ca.pem"),
                      "-CAkey", self._path("ca.key"), "-set_serial", f"0x{secrets.token_hex(8)}",
                      "-days", "825", "-sha256", "-extfile", self._path("leaf.ext"),
                      "-out", self._path("good.pem"))
        self._self_signed("rogue", f"/O=Not Microsoft/CN={self.LEAF_CN}")
        with open(self._path("ca.pem"), "rb") as fh:
            self.ca_pem = fh.read()
        self.cert_der = {name: self._openssl("x509", "-in", self._path(f"{name}.pem"), "-outform", "DER")
                         for name in ("good", "rogue")}

    def sign(self, data: bytes, key: str) -> str:
        """Base64 RSA-SHA256 (PKCS#1 v1.5) signature of ``data``."""
        return b64encode(self._openssl("dgst", "-sha256", "-sign", self._path(f"{key}.key"),
                                       data=data)).decode("ascii")

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------
# Webhook delivery (§5.3)
# --------------------------------------------------------------------------

class Delivery:
    def __init__(self, did, event, url, header):
        self.body = json.dumps(event, separators=(",", ":")).encode("utf-8")
        self.header = header
        self.headers = None          # signed on the first attempt, off the state lock
        self.done = threading.Event()
        self.record = {"id": did, "event": event.get("EventName"), "resourceUri": event.get("ResourceUri"),
                       "url": url, "body": self.body.decode("utf-8"), "headers": None,
                       "state": "pending", "attempts": []}


class WebhookDispatcher:
    """Posts deliveries from one thread; retries are rescheduled, so one dead
    receiver does not hold up the others."""

    DEFAULTS = {"attempts": 10, "backoff": 0.2, "backoff_max": 2.0, "timeout": 5.0}
    HISTORY = 1000

    def __init__(self, app):
        self.app = app
        self.config = dict(self.DEFAULTS)
        self.deliveries = deque(maxlen=self.HISTORY)
        self._ids = itertools.count(1)
        self._order = itertools.count()
        self._heap = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="pc-webhooks", daemon=True)
        self._thread.start()

    # called with app.lock held ------------------------------------------------
    def enqueue(self, event, url, header) -> Delivery:
        delivery = Delivery(next(self._ids), event, url, header)
        self.deliveries.append(delivery)
        self._schedule(delivery, 0.0)
        return delivery

    def clear(self):
        with self._cond:
            pending = [entry[2] for entry in self._heap]
            self._heap.clear()
        for delivery in pending:
            delivery.record["state"] = "cancelled"
            delivery.done.set()
        self.deliveries.clear()
        self.config = dict(self.DEFAULTS)

    def configure(self, body) -> dict:
        if not isinstance(body, dict) or set(body) - set(self.DEFAULTS):
            raise ApiError(400, "invalidRequest", f"Settings are {', '.join(self.DEFAULTS)}.")
        for key, value in body.items():
            limit, kind = (100, int) if key == "attempts" else (60, (int, float))
            if isinstance(value, bool) or not isinstance(value, kind) or not 0 < value <= limit:
                raise ApiError(400, "invalidRequest", f"{key} must be a number in (0, {limit}].")
        self.config.update(body)
        return dict(self.config)

    # ---------------------------------------------------------------------------
    def _schedule(self, delivery, delay):
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), delivery))
            self._cond.notify()

    def stop(self):
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=10)

    def _run(self):
        while True:  # until stop()
            with self._cond:
                while not self._stopping and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cond.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                if self._stopping:
                    return
                delivery = heapq.heappop(self._heap)[2]
            self._attempt(delivery)

    def _attempt(self, delivery):
        if delivery.headers is None:
            delivery.headers = self.app.signed_headers(delivery.body, "good", "good", delivery.header)
        with self.app.lock:
            config = dict(self.config)
        status, error = None, None
        try:
            status = peerlib.http_call("POST", delivery.record["url"], delivery.body, delivery.headers,
                                       timeout=config["timeout"])[0]
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        with self.app.lock:
            record = delivery.record
            if record["state"] == "cancelled":
                return
            record["headers"] = delivery.headers
            record["attempts"].append({"time": format_ticks(self.app.clock.ticks()), "status": status,
                                       "error": error})
            tries = len(record["attempts"])
            if status is not None and 200 <= status < 300:
                record["state"] = "delivered"
            elif tries >= config["attempts"]:
                record["state"] = "dropped"
            else:
                self._schedule(delivery, min(config["backoff"] * 2 ** (tries - 1), config["backoff_max"]))
                return
            delivery.done.set()


def _status_name(status):
    """.NET HttpStatusCode name ("OK", "InternalServerError") for a status."""
    try:
        return http.HTTPStatus(status).phrase.replace(" ", "").replace("-", "")
    except ValueError:
        return str(status)


def _loopback_url(url) -> bool:
    split = urllib.parse.urlsplit(url)
    if split.scheme not in ("http", "https") or not split.hostname:
        return False
    try:
        infos = socket.getaddrinfo(split.hostname, None, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError):
        return False
    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


# --------------------------------------------------------------------------
# Synthetic data for /_control/generate and /_control/microsoft/share
# --------------------------------------------------------------------------

_COMPANIES = ("Fabrikam", "Northwind Traders", "Adventure Works", "Tailspin Toys", "Wingtip Toys",
              "Woodgrove Bank", "Litware", "Proseware", "Alpine Ski House", "Coho Winery",
              "Lamna Healthcare", "Relecloud", "Trey Research", "Wide World Importers",
              "Blue Yonder Airlines", "Humongous Insurance", "Fourth Coffee", "Lucerne Publishing")
_PLACES = (  # country, city, state, postal code, currency, street
    ("US", "Redmond", "WA", "98052", "USD", "One Microsoft Way"),
    ("US", "Chicago", "IL", "60601", "USD", "200 E Randolph St"),
    ("GB", "London", "England", "SW1A 1AA", "GBP", "10 Whitehall"),
    ("DE", "Berlin", "BE", "10115", "EUR", "Invalidenstrasse 116"),
    ("FR", "Paris", "IDF", "75001", "EUR", "12 Rue de Rivoli"),
    ("JP", "Tokyo", "13", "100-0001", "JPY", "1-1 Chiyoda"),
    ("AU", "Sydney", "NSW", "2000", "AUD", "1 Martin Place"),
    ("CA", "Toronto", "ON", "M5H 2N2", "CAD", "100 Queen St W"),
    ("IN", "Bengaluru", "KA", "560001", "INR", "MG Road 21"),
    ("SE", "Stockholm", "AB", "111 22", "SEK", "Drottninggatan 5"))
_FIRST = ("Sue", "John", "Ana", "Kenji", "Priya", "Lars", "Chloe", "Omar", "Mia", "Diego", "Hana", "Noah")
_LAST = ("Smith", "Doe", "Garcia", "Tanaka", "Patel", "Nilsson", "Martin", "Haddad", "Weber", "Silva")
_TOPICS = ("Azure migration", "Data platform modernisation", "Copilot rollout", "Security operations",
           "Dynamics 365 Sales", "SAP on Azure", "AVD deployment", "IoT telemetry")
_SOLUTIONS = (("SOL-34104-EBB", "Contoso Field Service Accelerator", "Contoso"),
              ("SOL-15974-MQF", "Contoso-Ale_Test", "Contoso_Test"),
              ("SOL-20871-KQA", "Contoso Data Estate Modernisation", "Contoso"))
_SIZES = ("1to9employees", "10to50employees", "51to250employees", "251to1000employees",
          "1001to5000employees", "Morethan20000employees")  # §3.3
_STATUS_MIX = ((("New", "Pending"), 20), (("New", "Received"), 5), (("Active", "Accepted"), 50),
               (("Closed", "Won"), 10), (("Closed", "Lost"), 8), (("Closed", "Declined"), 5),
               (("Closed", "Expired"), 2))


def _person(rng, domain):
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return {"firstName": first, "lastName": last, "phoneNumber": f"+1425{rng.randrange(10**6, 10**7)}",
            "email": f"{first}.{last}@{domain}".lower(),
            "contactPreference": {"locale": "en-us", "disableNotifications": False}}


def synth_referral(rng, created, *, rtype, status, substatus, direction, now):
    """A plausible referral created at tick ``created``."""
    company = rng.choice(_COMPANIES)
    country, city, state, postal, currency, street = rng.choice(_PLACES)
    domain = company.lower().replace(" ", "").replace("'", "") + ".example"
    solution_id, solution_name, publisher = rng.choice(_SOLUTIONS)
    updated = created if status == "New" else rng.randrange(created, now + 1)
    incoming = direction == "Incoming"
    ref = {
        # ids are always fresh, seed or not: two generate calls never collide
        "id": str(uuid.uuid4()), "engagementId": str(uuid.uuid4()),
        "name": f"{company} - {rng.choice(_TOPICS)}",
        "createdDateTime": format_ticks(created), "updatedDateTime": format_ticks(updated),
        "expirationDateTime": format_ticks(created + EXPIRY_TICKS) if incoming and status == "New" else None,
        "acceptedDateTime": None if status == "New" or substatus in ("Declined", "Expired")
        else format_ticks(created),
        "closedDateTime": format_ticks(updated) if status == "Closed" else None,
        "status": status, "substatus": substatus,
        "qualification": "SalesQualified" if incoming else rng.choice(("SalesQualified", "None")),
        "type": rtype, "direction": direction, "mpnId": MPN_ID,
        "target": [{"type": "BusinessProfileLocation", "id": LOCATION_ID}] if incoming else [],
        "customerProfile": {
            "name": f"{company} Inc", "size": rng.choice(_SIZES),
            "address": {"addressLine1": street, "city": city, "state": state, "postalCode": postal,
                        "country": country},
            "team": [_person(rng, domain)]},
        "consent": {"consentToToShareInfoWithOthers": True, "consentToContact": True,
                    SHARE_FLAG: rtype == "Shared"},
        "details": {
            "notes": f"{company} wants help with {rng.choice(_TOPICS).lower()}.",
            "dealValue": rng.randrange(25, 500) * 1000, "currency": currency,
            "closingDateTime": format_ticks(created + rng.randrange(30, 180) * 86400 * TICKS_PER_SECOND, 0),
            "requirements": {"solutions": [{"id": solution_id, "name": solution_name, "type": "Name",
                                            "publisherName": publisher, "solutionType": "3P"}]}},
        "team": [_person(rng, "contoso.example")],
    }
    if incoming:
        ref["inviteContext"] = {"notes": f"Hi {ORG_NAME}, can you help {company}? Thanks, Microsoft",
                                "invitedBy": {"organizationId": MSFT_ORG, "organizationName": "Microsoft"},
                                "assistanceRequestCode": "GeneralOrOther"}
    return ref


# --------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------

class AadError(ApiError):
    """An Azure AD token endpoint error (``error`` + ``AADSTS<code>``)."""

    def __init__(self, status, error, aadsts, text):
        super().__init__(status, error, text)
        self.aadsts = aadsts


class PartnerCenter(peerlib.Emulator):
    """Partner Center Referrals API, token endpoint and webhook emulator."""

    name = "partnercenter"
    collections = ("referrals", "credentials")
    default_rows = {"credentials": [DEFAULT_CREDENTIALS]}
    routes = (
        Route("POST", r"/(?P<tenant>[A-Za-z0-9._-]+)/oauth2/token", "token_v1"),
        Route("POST", r"/(?P<tenant>[A-Za-z0-9._-]+)/oauth2/v2\.0/token", "token_v2"),
        Route("GET", r"/v1\.0/engagements/referrals", "list_referrals", auth="referrals"),
        Route("POST", r"/v1\.0/engagements/referrals", "create_referral", auth="referrals"),
        Route("GET", r"/v1\.0/engagements/referrals/(?P<id>[^/]+)", "get_referral", auth="referrals"),
        Route("PUT", r"/v1\.0/engagements/referrals/(?P<id>[^/]+)", "put_referral", auth="referrals"),
        Route("PATCH", r"/v1\.0/engagements/referrals/(?P<id>[^/]+)", "patch_referral", auth="referrals"),
        Route("GET", r"/engagements/v1/referrals/(?P<id>[^/]+)", "get_referral", auth="resource_uri"),
        Route("GET", r"/webhooks/v1/registration/events", "webhook_events", auth="webhooks"),
        Route("GET", r"/webhooks/v1/registration", "registration_get", auth="webhooks"),
        Route("POST", r"/webhooks/v1/registration", "registration_post", auth="webhooks"),
        Route("PUT", r"/webhooks/v1/registration", "registration_put", auth="webhooks"),
        Route("POST", r"/webhooks/v1/registration/validationEvents", "validation_post", auth="webhooks"),
        Route("GET", r"/webhooks/v1/registration/validationEvents/(?P<id>[^/]+)", "validation_get",
              auth="webhooks"),
        Route("GET", r"/cert/(?P<file>[^/]+)", "certificate"),
        Route("POST", r"/_control/generate", "control_generate"),
        Route("POST", r"/_control/microsoft/share", "control_share"),
        Route("GET", r"/_control/webhook/ca\.pem", "control_ca"),
        Route("GET", r"/_control/webhook/deliveries", "control_deliveries"),
        Route("POST", r"/_control/webhook/config", "control_webhook_config"),
        Route("POST", r"/_control/webhook/sign", "control_sign"),
        Route("POST", r"/_control/webhook/deliver", "control_deliver", locked=False),
    )
    # Which token audiences each route family accepts (§1.1, §1.2, §5.1).
    _AUDIENCE_OF = {"referrals": (AUD_REFERRALS,), "resource_uri": AUDIENCES, "webhooks": (AUD_PARTNER_CENTER,)}

    def __init__(self, seed_file=None, quiet=False):
        super().__init__(seed_file=seed_file, quiet=quiet)
        self.clock = peerlib.UtcClock()
        self.keys = SigningKeys()
        self.webhooks = WebhookDispatcher(self)
        self.registration = None
        self.validations = {}
        self._validation_times = deque()
        self._etag_serial = itertools.count(secrets.randbits(31))

    def close(self):
        self.webhooks.stop()
        self.keys.close()

    def reset(self, defaults=True):
        with self.lock:
            self.webhooks.clear()
            self.registration = None
            self.validations.clear()
            self._validation_times.clear()
            super().reset(defaults)

    # -- peerlib hooks -------------------------------------------------------
    def error_response(self, req, err):
        if isinstance(err, AadError):
            return self._aad_error_body(req, err)
        if req.path.startswith("/webhooks/"):
            # General Partner Center error shape (§6); its numeric code and
            # source values are UNCONFIRMED: the HTTP status and "PartnerFD".
            return json_response({"code": err.status, "description": err.message, "data": [],
                                  "source": "PartnerFD"}, err.status, err.headers)
        return super().error_response(req, err)

    def fault_body(self, req, fault):
        if fault.status == 429:  # §6 throttling body
            wait = _ci_get(fault.headers, "Retry-After", "1")
            return json_response({"statusCode": 429,
                                  "message": f"Rate limit is exceeded. Try again in {wait} seconds."}, 429)
        try:
            text = http.HTTPStatus(fault.status).phrase
        except ValueError:
            text = "Injected fault"
        return self.error_response(req, ApiError(fault.status, FAULT_CODES.get(fault.status, "generalException"),
                                                 f"{text} (injected fault)."))

    def response_headers(self, req):
        request_id = str(uuid.uuid4())
        headers = {"request-id": request_id,
                   "MS-RequestId": req.header("MS-RequestId") or request_id,
                   "MS-CorrelationId": req.header("MS-CorrelationId") or str(uuid.uuid4())}
        if req.header("client-request-id"):
            headers["client-request-id"] = req.header("client-request-id")
        return headers

    def authenticate(self, req, tag):
        claims = super().authenticate(req, tag)
        audiences = self._AUDIENCE_OF[tag]
        if claims["aud"] not in audiences:
            raise ApiError(401, "unauthenticated",
                           f"The access token was issued for {claims['aud']!r}; this API needs a token "
                           f"for the resource {audiences[0]!r}.",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if tag != "webhooks" and claims["kind"] != "user":
            raise ApiError(403, "accessDenied",
                           "The Referrals API supports only App+User (delegated) tokens; this token was "
                           "issued to an application (client_credentials).")
        return claims

    def insert(self, collection, row):
        if collection != "referrals":
            return super().insert(collection, row)
        ref = fill_defaults(row, REFERRAL_TEMPLATE)
        if ref["direction"] is None:
            ref["direction"] = "Outgoing"
        if ref["status"] is None:
            ref["status"], ref["substatus"] = (("New", "Pending") if ref["direction"] == "Incoming"
                                               else ("Active", "Accepted"))
        created = parse_datetime(ref["createdDateTime"])
        if created is None:
            created = self.clock.ticks()
        ref["createdDateTime"] = ref["createdDateTime"] or format_ticks(created)
        if ref["direction"] == "Incoming" and ref["status"] == "New" and not ref["expirationDateTime"]:
            ref["expirationDateTime"] = format_ticks(created + EXPIRY_TICKS)
        return self._store_new(ref)

    # -- Azure AD token endpoint (§1.2) ----------------------------------------
    def token_v1(self, req):
        return self._token(req, v2=False)

    def token_v2(self, req):
        return self._token(req, v2=True)

    def _token(self, req, v2):
        form = dict(urllib.parse.parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        client_id, secret = self._client_auth(req, form)
        grant = self._required(form, "grant_type")
        if grant not in ("password", "refresh_token", "client_credentials"):
            raise AadError(400, "unsupported_grant_type", 70003,
                           f"The app requested an unsupported grant type '{grant}'.")
        audience, scope = self._requested_audience(req, form, v2, grant)
        if grant == "refresh_token":
            claims = self.tokens.redeem_refresh(self._required(form, "refresh_token"))
            if self.tokens.revoked or claims is None or claims["client_id"] != client_id:
                raise AadError(400, "invalid_grant", 700082,
                               "The refresh token has expired or was revoked; sign in again.")
            self._client(client_id, secret)
            audience = audience or claims["aud"]
        else:
            claims = self._check_credentials(form, grant, self._client(client_id, secret))
        claims["aud"] = audience
        access, expires = self.tokens.issue_access(claims)
        lifetime = self.tokens.lifetime
        if v2:
            body = {"token_type": "Bearer", "scope": scope or f"{audience}/.default",
                    "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access}
            give_refresh = "offline_access" in form.get("scope", "").split()
        else:
            body = {"token_type": "Bearer", "expires_in": str(lifetime), "ext_expires_in": str(lifetime),
                    "expires_on": str(expires), "not_before": str(expires - lifetime),
                    "resource": audience, "access_token": access}
            give_refresh = True
        if give_refresh and claims["kind"] == "user":
            body["refresh_token"] = self.tokens.issue_refresh(claims)
        return json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @staticmethod
    def _required(form, name):
        value = form.get(name)
        if not value:
            raise AadError(400, "invalid_request", 900144,
                           f"The request body must contain the following parameter: '{name}'.")
        return value

    def _client_auth(self, req, form):
        scheme, _, blob = req.header("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = b64decode(blob.strip(), validate=True).decode("utf-8").partition(":")
            except ValueError:
                raise AadError(400, "invalid_request", 900144, "The Basic client credentials are malformed.") \
                    from None
            return urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)
        return self._required(form, "client_id"), form.get("client_secret")

    def _requested_audience(self, req, form, v2, grant):
        """(audience, v2 scope echo); audience None = keep the refresh token's."""
        tenant = req.params["tenant"]
        if not v2:
            if grant == "refresh_token" and not form.get("resource"):
                return None, None
            return self._audience(self._required(form, "resource"), tenant), None
        scopes = [s for s in self._required(form, "scope").split() if s not in OIDC_SCOPES]
        resources = {s.rsplit("/", 1)[0] if s.count("/") > 2 else s for s in scopes}
        if not resources and grant == "refresh_token":
            return None, None
        if len(resources) != 1:
            raise AadError(400, "invalid_scope", 70011,
                           "The provided value for the input parameter 'scope' is not valid: name exactly "
                           "one resource, e.g. 'https://api.partner.microsoft.com/.default'.")
        if grant == "client_credentials" and not all(s.endswith("/.default") for s in scopes):
            raise AadError(400, "invalid_scope", 1002012,
                           "The provided value for scope is not valid. Client credential flows must have a "
                           "scope value with /.default suffixed to the resource identifier.")
        return self._audience(resources.pop(), tenant), " ".join(scopes)

    @staticmethod
    def _audience(resource, tenant):
        audience = resource.rstrip("/")
        if audience not in AUDIENCES:
            raise AadError(400, "invalid_resource", 500011,
                           f"The resource principal named {resource} was not found in the tenant named "
                           f"{tenant}. Known here: {', '.join(AUDIENCES)}.")
        return audience

    def _client(self, client_id, secret):
        """The credential rows of a known client whose secret matches."""
        apps = [row for row in self.tables["credentials"].values() if row.get("client_id") == client_id]
        if not apps:
            raise AadError(400, "unauthorized_client", 700016,
                           f"Application with identifier '{client_id}' was not found in the directory.")
        apps = [row for row in apps if row.get("client_secret") in (None, secret)]
        if not apps:
            raise AadError(401, "invalid_client", 7000215, "Invalid client secret provided.")
        return apps

    def _check_credentials(self, form, grant, apps):
        if self.tokens.revoked:
            raise AadError(400, "invalid_grant", 50126,
                           "Error validating credentials due to invalid username or password.")
        client_id = apps[0]["client_id"]
        if grant == "client_credentials":
            return {"kind": "app", "sub": client_id, "client_id": client_id}
        username, password = self._required(form, "username"), self._required(form, "password")
        if not any(str(row.get("username", "")).lower() == username.lower() and row.get("password") == password
                   for row in apps):
            raise AadError(400, "invalid_grant", 50126,
                           "Error validating credentials due to invalid username or password.")
        return {"kind": "user", "sub": username, "client_id": client_id}

    def _aad_error_body(self, req, err):
        ticks = self.clock.ticks()
        stamp = format_ticks(ticks, 0).replace("T", " ")
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        return json_response({
            "error": err.code,
            "error_description": f"AADSTS{err.aadsts}: {err.message}\r\nTrace ID: {trace}\r\n"
                                 f"Correlation ID: {correlation}\r\nTimestamp: {stamp}",
            "error_codes": [err.aadsts], "timestamp": stamp, "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={err.aadsts}"}, err.status)

    # -- referral storage --------------------------------------------------------
    def _now(self):
        ticks = self.clock.ticks()
        return ticks, format_ticks(ticks)

    def _new_etag(self):
        return f'"{next(self._etag_serial) & 0xffffffff:08x}-0000-0100-0000-{int(time.time()):08x}0000"'

    def _links(self, ref):
        # Real responses (§3.4, S17) spell /engagements/ correctly and leave the
        # GUID unquoted and the spaces raw; clients must encode before following.
        base = f"{self.base_url}/v1.0/engagements/referrals"
        return {"relatedReferrals": {"uri": f"{base}?$filter=engagementId eq {ref['engagementId']}",
                                     "method": "GET"},
                "self": {"uri": f"{base}/{ref['id']}", "method": "GET"}}

    def _store_new(self, ref):
        """Fill the server fields still missing, store, announce."""
        _, now = self._now()
        ref["id"] = str(ref["id"] or uuid.uuid4())
        ref["engagementId"] = str(ref["engagementId"] or uuid.uuid4())
        ref["organizationId"] = ref["organizationId"] or ORG_ID
        ref["organizationName"] = ref["organizationName"] or ORG_NAME
        ref["createdDateTime"] = ref["createdDateTime"] or now
        ref["updatedDateTime"] = ref["updatedDateTime"] or ref["createdDateTime"]
        ref["direction"] = ref["direction"] or "Outgoing"
        ref["eTag"] = ref["eTag"] or self._new_etag()
        ref["links"] = self._links(ref)
        self.tables["referrals"][ref["id"]] = ref
        self._notify("referral-created", ref)
        return ref

    def _commit(self, old, new):
        """Store an update of ``old`` (server fields kept), announce it."""
        _, now = self._now()
        for field in SERVER_FIELDS:
            new[field] = old[field]
        new["updatedDateTime"] = now
        new["eTag"] = self._new_etag()
        if new["status"] == "Active" and not new["acceptedDateTime"]:
            new["acceptedDateTime"] = now
        if new["status"] == "Closed" and old["status"] != "Closed":
            new["closedDateTime"] = now
        self.tables["referrals"][new["id"]] = new
        self._notify("referral-updated", new)
        return new

    def _expire_due(self):
        """Incoming New referrals past expirationDateTime become Closed/Expired (§4.2)."""
        now = self.clock.ticks()
        for ref in list(self.tables["referrals"].values()):
            due = parse_datetime(ref.get("expirationDateTime"))
            if ref.get("direction") == "Incoming" and ref.get("status") == "New" and due is not None \
                    and due <= now:
                expired = copy.deepcopy(ref)
                expired["status"], expired["substatus"] = "Closed", "Expired"
                self._commit(ref, expired)

    def _referral(self, req):
        self._expire_due()
        ref = self.tables["referrals"].get(req.params["id"])
        if ref is None:
            raise ApiError(404, "itemNotFound", f"Referral {req.params['id']} was not found.", target="id")
        return ref

    def _entity(self, ref, status=200):
        # "engagments" (sic) is what the service prints (§2.2).
        body = {"@odata.context": f"{self.base_url}/v1.0/engagments/referrals/$metadata#Referrals/$entity",
                **ref}
        return json_response(body, status, {"ETag": ref["eTag"]})

    # -- validation (§2.3, §3.2, §4.2, §4.3) ---------------------------------------
    @staticmethod
    def _invalid(message, target):
        return ApiError(400, "invalidRequest", message, target=target)

    def _require_body(self, body):
        if not isinstance(body, dict):
            raise self._invalid("The body must be a referral JSON object.", "referral")
        for field in ("type", "customerProfile", "consent", "details"):
            if _ci_get(body, field) is None:
                raise self._invalid(f"The {field} field is required.", field)

    def _validate(self, ref):
        if ref["type"] not in REFERRAL_TYPES:
            raise self._invalid(f"type {ref['type']!r} is not valid; use {' or '.join(REFERRAL_TYPES)}.", "type")
        if ref["qualification"] not in QUALIFICATIONS:
            raise self._invalid(f"qualification {ref['qualification']!r} is not valid; use one of "
                                f"{', '.join(QUALIFICATIONS)}.", "qualification")
        for field in ("customerProfile", "consent", "details"):
            if not isinstance(ref[field], dict):
                raise self._invalid(f"{field} must be an object.", field)
        address = ref["customerProfile"]["address"]
        country = address.get("country") if isinstance(address, dict) else None
        if country not in ISO_COUNTRIES:
            raise self._invalid(f"customerProfile.address.country {country!r} is not a two-letter ISO 3166 "
                                "country code (e.g. 'US').", "customerProfile.address.country")
        details = ref["details"]
        value = details["dealValue"]
        if isinstance(value, str):  # the §2.6 PATCH sample sends "10000"
            try:
                details["dealValue"] = value = float(value) if "." in value else int(value)
            except ValueError:
                pass
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise self._invalid(f"details.dealValue {value!r} is not a number.", "details.dealValue")
        for field in ("team", "target"):
            if not isinstance(ref[field], list):
                raise self._invalid(f"{field} must be an array.", field)
        self._check_pair(ref["status"], ref["substatus"])

    def _check_pair(self, status, substatus):
        if status not in STATUS_TABLE:
            raise self._invalid(f"status {status!r} is not valid; use New, Active or Closed.", "status")
        allowed = STATUS_TABLE[status][1]
        if substatus not in allowed:
            raise self._invalid(f"substatus {substatus!r} is not allowed with status {status!r}; allowed: "
                                f"{', '.join(allowed)}.", "substatus")

    def _check_open(self, ref):
        if ref["status"] == "Closed":
            raise self._invalid(f"The referral is Closed/{ref['substatus']}; a closed referral cannot be "
                                "changed.", "status")

    def _check_change(self, old, new):
        allowed = STATUS_TABLE[old["status"]][0]
        if new["status"] not in allowed:
            raise self._invalid(f"status cannot change from {old['status']!r} to {new['status']!r}; allowed: "
                                f"{', '.join(allowed)}.", "status")
        if old["consent"].get(SHARE_FLAG) is True and new["consent"].get(SHARE_FLAG) is not True:
            raise self._invalid(f"consent.{SHARE_FLAG} cannot be reverted once the referral is visible to "
                                "Microsoft sellers.", f"consent.{SHARE_FLAG}")

    def _check_if_match(self, req, ref, required):
        value = req.header("If-Match")
        if value is None:
            if required:
                raise ApiError(428, "invalidRequest", "The If-Match header is required: send the referral's "
                                                      "eTag.", target="If-Match")
            return
        if not any(tag.strip() in ("*", ref["eTag"]) for tag in value.split(",")):
            raise ApiError(412, "preconditionFailed",
                           "A precondition provided in the request (such as an if-match header) does not "
                           "match the resource's current state.", target="ETag",
                           inner={"code": "99918", "message": "One of the specified pre-condition is not met. "
                                                              "Etag value did not Match", "details": None})

    # -- referral handlers ------------------------------------------------------------
    def create_referral(self, req):
        # Answers 200: the connector swagger documents 200 for create and no
        # source shows 201 (§2.3, §9).
        body = req.json()
        self._require_body(body)
        ref = fill_defaults(body, REFERRAL_TEMPLATE)
        for field in SERVER_FIELDS:
            if field != "engagementId":
                ref[field] = None
        if ref["status"] is None and ref["substatus"] is None:
            ref["status"], ref["substatus"] = "New", "Pending"
        self._validate(ref)
        _, now = self._now()
        if ref["status"] != "Closed":  # outgoing referrals start accepted (§2.3)
            ref["status"], ref["substatus"] = "Active", "Accepted"
        else:
            ref["closedDateTime"] = now
        ref["acceptedDateTime"] = ref["createdDateTime"] = now
        ref["expirationDateTime"] = None
        return self._entity(self._store_new(ref))

    def get_referral(self, req):
        return self._entity(self._referral(req))

    def put_referral(self, req):
        old = self._referral(req)
        self._check_if_match(req, old, required=True)
        self._check_open(old)
        body = req.json()
        self._require_body(body)
        if _ci_get(body, "links") is not None:
            raise self._invalid("Remove the links object from a PUT body.", "links")
        if _ci_get(body, "id") not in (None, old["id"]):
            raise self._invalid("The id in the body differs from the one in the URL.", "id")
        new = fill_defaults(body, REFERRAL_TEMPLATE)
        self._validate(new)
        self._check_change(old, new)
        return self._entity(self._commit(old, new))

    def patch_referral(self, req):
        old = self._referral(req)
        ops = req.json()
        self._check_if_match(req, old, required=False)
        self._check_open(old)
        new = fill_defaults(apply_patch(copy.deepcopy(old), ops), REFERRAL_TEMPLATE)
        self._validate(new)
        self._check_change(old, new)
        ref = self._commit(old, new)
        if re.search(r"\breturn\s*=\s*representation\b", req.header("Prefer", ""), re.I):
            return self._entity(ref)
        return no_content(headers={"ETag": ref["eTag"]})

    def list_referrals(self, req):
        self._expire_due()
        query = self._list_query(req)
        try:
            flt = ODataFilter(query["filter"], REFERRAL_PROPERTIES) if query["filter"] else None
        except ODataError as exc:
            raise self._invalid(f"The $filter is not valid: {exc}.", "$filter") from None
        try:
            order = parse_orderby(query["orderby"], ORDERABLE) if query["orderby"] else []
        except ODataError as exc:
            raise self._invalid(f"The $orderby is not valid: {exc}.", "$orderby") from None
        order = order or [("createdDateTime", False)]
        compare = functools.partial(_compare_keys, order)
        rows = [(_sort_key(order, ref), ref) for ref in self.tables["referrals"].values()
                if flt is None or flt.matches(ref)]
        rows.sort(key=functools.cmp_to_key(lambda a, b: compare(a[0], b[0])))
        if query["after"] is None:
            start = query["skip"]
        else:
            start = next((i for i, (key, _) in enumerate(rows) if compare(key, query["after"]) > 0), len(rows))
        top = query["top"]
        size = PAGE_SIZE if top is None else max(0, min(PAGE_SIZE, top - query["served"]))
        page = [ref for _, ref in rows[start:start + size]]
        select = query["select"]
        body = {"@odata.context": f"{self.base_url}/v1.0/$metadata#Referrals", "@odata.count": len(page),
                "value": [{k: ref[k] for k in select} if select else ref for ref in page]}
        served = query["served"] + len(page)
        if page and start + len(page) < len(rows) and (top is None or served < top):
            token = _encode_token(dict(query, after=_sort_key(order, page[-1]), served=served))
            body["@odata.nextLink"] = f"{self.base_url}/v1.0/engagements/referrals?$skiptoken={token}"
        return json_response(body)

    def _list_query(self, req):
        if "$skiptoken" in req.query:
            return _decode_token(req.query["$skiptoken"])
        unknown = sorted(k for k in req.query if k.startswith("$") and k not in LIST_OPTIONS)
        if unknown:
            raise self._invalid(f"Query option {unknown[0]} is not supported; use "
                                f"{', '.join(LIST_OPTIONS)}.", unknown[0])
        select = None
        if req.query.get("$select"):
            select = [name.strip() for name in req.query["$select"].split(",")]
            bad = [name for name in select if name not in REFERRAL_PROPERTIES]
            if bad:
                raise self._invalid(f"$select names unknown property {bad[0]!r} (only top-level properties "
                                    "can be selected).", "$select")
        return {"filter": req.query.get("$filter") or None, "orderby": req.query.get("$orderby") or None,
                "top": self._count_option(req, "$top"), "skip": self._count_option(req, "$skip") or 0,
                "select": select, "after": None, "served": 0}

    def _count_option(self, req, name):
        text = req.query.get(name)
        if text is None:
            return None
        if not text.isdigit():
            raise self._invalid(f"{name} must be a non-negative integer, not {text!r}.", name)
        return int(text)

    # -- webhook registration (§5.1) -------------------------------------------------
    def webhook_events(self, req):
        return json_response(list(WEBHOOK_EVENTS))

    def _registration_from(self, req):
        body = req.json()
        if not isinstance(body, dict):
            raise ApiError(400, "invalidRequest", "The body must be a registration object.")
        url = _ci_get(body, "WebhookUrl")
        events = _ci_get(body, "WebhookEvents")
        to_header = _ci_get(body, "SignatureTokenToMsSignatureHeader", False)
        if not isinstance(url, str) or not _loopback_url(url):
            raise ApiError(400, "invalidRequest", f"WebhookUrl {url!r} must be an absolute http(s) URL; this "
                                                  "emulator only delivers to loopback addresses.")
        if not isinstance(events, list) or not events or any(e not in WEBHOOK_EVENTS for e in events):
            raise ApiError(400, "invalidRequest", f"WebhookEvents must be a non-empty list drawn from "
                                                  f"{', '.join(WEBHOOK_EVENTS)}.")
        if not isinstance(to_header, bool):
            raise ApiError(400, "invalidRequest", "SignatureTokenToMsSignatureHeader must be true or false.")
        return {"WebhookUrl": url, "WebhookEvents": list(dict.fromkeys(events)),
                "SignatureTokenToMsSignatureHeader": to_header}

    def _registration_answer(self):
        reg = self.registration
        return json_response({"SubscriberId": reg["SubscriberId"], "WebhookUrl": reg["WebhookUrl"],
                              "WebhookEvents": reg["WebhookEvents"]})

    def _registered(self):
        if self.registration is None:
            raise ApiError(404, "itemNotFound", "No webhook registration exists; POST one first.")
        return self.registration

    def registration_get(self, req):
        reg = self._registered()
        return json_response({"WebhookUrl": reg["WebhookUrl"], "WebhookEvents": reg["WebhookEvents"]})

    def registration_post(self, req):
        if self.registration is not None:
            raise ApiError(409, "resourceModified",
                           "Registration already exists, use the PUT method to update a registration.")
        self.registration = {"SubscriberId": str(uuid.uuid4()), **self._registration_from(req)}
        return self._registration_answer()

    def registration_put(self, req):
        # PUT without a registration: UNCONFIRMED; 404 mirrors POST's 409.
        subscriber = self._registered()["SubscriberId"]
        self.registration = {"SubscriberId": subscriber, **self._registration_from(req)}
        return self._registration_answer()

    def validation_post(self, req):
        reg = self._registered()
        if "test-created" not in reg["WebhookEvents"]:
            raise ApiError(400, "invalidRequest", "Register for the 'test-created' event before requesting a "
                                                  "validation event.")
        now = time.monotonic()
        times = self._validation_times
        while times and now - times[0] >= 60:
            times.popleft()
        if len(times) >= VALIDATION_EVENTS_PER_MINUTE:
            wait = max(1, int(60 - (now - times[0])) + 1)
            raise ApiError(429, "throttled", f"Validation events are limited to {VALIDATION_EVENTS_PER_MINUTE} "
                                             "per minute.", headers={"Retry-After": str(wait)})
        times.append(now)
        correlation = str(uuid.uuid4())
        event = self._event("test-created", f"{self.base_url}/webhooks/v1/registration/validationEvents/"
                                            f"{correlation}", "test")
        self.validations[correlation] = self._send(event, reg["WebhookUrl"])
        return json_response({"correlationId": correlation})

    def validation_get(self, req):
        delivery = self.validations.get(req.params["id"])
        if delivery is None:
            raise ApiError(404, "itemNotFound", f"No validation event {req.params['id']}.")
        record = delivery.record
        results = [{"responseCode": _status_name(a["status"]) if a["status"] else "",
                    "responseMessage": a["error"] or "", "systemError": a["error"] is not None,
                    "dateTimeUtc": a["time"].rstrip("Z")} for a in record["attempts"]]
        return json_response({"correlationId": req.params["id"], "partnerId": ORG_ID,
                              "status": "inProgress" if record["state"] == "pending" else "completed",
                              "callbackUrl": record["url"], "results": results})

    def certificate(self, req):
        for key, path in CERT_PATHS.items():
            if req.path == path:
                return Response(200, self.keys.cert_der[key], content_type="application/pkix-cert")
        raise ApiError(404, "itemNotFound", f"No certificate {req.params['file']}.")

    # -- webhook events (§5.2-5.4) ----------------------------------------------------
    def _event(self, name, uri, resource="referral"):
        return {"EventName": name, "ResourceUri": uri, "ResourceName": resource, "AuditUri": None,
                "ResourceChangeUtcDate": format_ticks(self.clock.ticks(), suffix="+00:00")}

    def _referral_event(self, name, ref_id):
        return self._event(name, f"{self.base_url}/engagements/v1/referrals/{ref_id}")

    def _send(self, event, url, header=None):
        reg = self.registration
        if header is None:
            header = "x-ms-signature" if reg and reg["SignatureTokenToMsSignatureHeader"] else "authorization"
        return self.webhooks.enqueue(event, url, header)

    def _notify(self, name, ref):
        reg = self.registration
        if reg is None:
            return
        if name in reg["WebhookEvents"]:
            self._send(self._referral_event(name, ref["id"]), reg["WebhookUrl"])
        related = f"related-{name}"
        if related in reg["WebhookEvents"]:
            for other in self.tables["referrals"].values():
                if other["engagementId"] == ref["engagementId"] and other["id"] != ref["id"]:
                    self._send(self._referral_event(related, other["id"]), reg["WebhookUrl"])

    def signed_headers(self, body: bytes, key="good", cert="good", header="authorization"):
        """Delivery headers for ``body`` signed with ``key`` (§5.3, §5.4)."""
        signature = f"Signature {self.keys.sign(body, key)}"
        headers = {"Content-Type": "application/json",
                   "X-MS-Certificate-Url": self.base_url + CERT_PATHS[cert],
                   "X-MS-Signature-Algorithm": "rsa-sha256"}
        headers["x-ms-signature" if header == "x-ms-signature" else "Authorization"] = signature
        return headers

    # -- control extensions ---------------------------------------------------------------
    def _control_event(self, body):
        if "event" in body:
            if not isinstance(body["event"], dict):
                raise ApiError(400, "invalidRequest", "event must be a JSON object.")
            return body["event"]
        ref_id, name = body.get("referral_id"), body.get("event_name", "referral-updated")
        if not isinstance(ref_id, str) or name not in REFERRAL_EVENTS:
            raise ApiError(400, "invalidRequest", f"Give an event, or a referral_id and an event_name from "
                                                  f"{', '.join(REFERRAL_EVENTS)}.")
        return self._referral_event(name, ref_id)

    @staticmethod
    def _choice(body, name, allowed, default):
        value = body.get(name, default)
        if value not in allowed:
            raise ApiError(400, "invalidRequest", f"{name} must be one of {', '.join(map(str, allowed))}.")
        return value

    def control_sign(self, req):
        body = req.json(optional=True)
        event = self._control_event(body)
        key = self._choice(body, "key", ("good", "rogue"), "good")
        cert = self._choice(body, "cert", ("good", "rogue"), key)
        header = self._choice(body, "header", ("authorization", "x-ms-signature"), "authorization")
        raw = json.dumps(event, separators=(",", ":")).encode("utf-8")
        return json_response({"body": raw.decode("utf-8"), "headers": self.signed_headers(raw, key, cert, header)})

    def control_deliver(self, req):
        body = req.json(optional=True)
        with self.lock:
            event = self._control_event(body)
            url = body.get("url") or (self.registration or {}).get("WebhookUrl")
            if not isinstance(url, str) or not _loopback_url(url):
                raise ApiError(400, "invalidRequest", "Give a loopback url or register a webhook first.")
            header = self._choice(body, "header", ("authorization", "x-ms-signature", None), None)
            delivery = self._send(event, url, header)
            config = dict(self.webhooks.config)
        if body.get("wait", True):
            bound = config["attempts"] * (config["timeout"] + config["backoff_max"]) + 5
            delivery.done.wait(timeout=bound)
        with self.lock:
            return json_response(copy.deepcopy(delivery.record))

    def control_deliveries(self, req):
        return json_response([d.record for d in self.webhooks.deliveries])

    def control_webhook_config(self, req):
        return json_response(self.webhooks.configure(req.json()))

    def control_ca(self, req):
        return Response(200, self.keys.ca_pem, content_type="application/x-pem-file")

    def control_generate(self, req):
        body = req.json(optional=True)
        count = body.get("count", 100)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100000:
            raise ApiError(400, "invalidRequest", "count must be an integer in 1..100000.")
        seed = body.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ApiError(400, "invalidRequest", "seed must be an integer.")
        rng = random.Random(seed)
        rtype = self._choice(body, "type", REFERRAL_TYPES + (None,), None)
        status = self._choice(body, "status", tuple(STATUS_TABLE) + (None,), None)
        substatus = body.get("substatus")
        if substatus is not None:
            self._check_pair(status, substatus)
        direction = self._choice(body, "direction", DIRECTIONS + (None,), None)
        now = self.clock.ticks()
        step = max(1, min(37 * TICKS_PER_SECOND, 10 * 86400 * TICKS_PER_SECOND // count))
        mix = [pair for pair, _ in _STATUS_MIX]
        weights = [weight for _, weight in _STATUS_MIX]
        ids = []
        for i in range(count):
            if status is None:
                st, sub = rng.choices(mix, weights)[0]
            else:
                st, sub = status, substatus or rng.choice(STATUS_TABLE[status][1])
            ref = synth_referral(rng, now - (count - i) * step + rng.randrange(step // 2 + 1),
                                 rtype=rtype or rng.choice(REFERRAL_TYPES), status=st, substatus=sub,
                                 direction=direction or ("Incoming" if st == "New" else rng.choice(DIRECTIONS)),
                                 now=now)
            ids.append(self.insert("referrals", ref)["id"])
        return json_response({"count": count, "ids": ids})

    def control_share(self, req):
        body = req.json(optional=True)
        if not isinstance(body, dict):
            raise ApiError(400, "invalidRequest", "The body is a partial referral object.")
        overrides = dict(body)
        seed = overrides.pop("seed", None)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ApiError(400, "invalidRequest", "seed must be an integer.")
        rng = random.Random(seed)
        ref = synth_referral(rng, self.clock.ticks(), rtype="Shared", status="New", substatus="Pending",
                             direction="Incoming", now=self.clock.ticks())
        ref["id"] = None  # a fresh id even when the seed repeats
        return json_response(self.insert("referrals", deep_merge(ref, overrides)))


def _sort_key(order, ref):
    return [ref.get(field) for field, _ in order] + [ref["id"]]


def _compare_keys(order, a, b):
    for (_, descending), x, y in zip(order, a, b):
        result = odata_sort_compare(x, y)
        if result:
            return -result if descending else result
    return (a[-1] > b[-1]) - (a[-1] < b[-1])


def _encode_token(query) -> str:
    return urlsafe_b64encode(json.dumps(query, separators=(",", ":")).encode("utf-8")).decode("ascii").rstrip("=")


_TOKEN_FIELDS = {"filter": (str, type(None)), "orderby": (str, type(None)), "top": (int, type(None)),
                 "skip": int, "select": (list, type(None)), "after": (list, type(None)), "served": int}


def _decode_token(token):
    try:
        query = json.loads(urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(query, dict) or set(query) != set(_TOKEN_FIELDS) \
                or not all(isinstance(query[k], kind) for k, kind in _TOKEN_FIELDS.items()):
            raise ValueError("not a skip token of this emulator")
        return query
    except ValueError:
        raise ApiError(400, "invalidRequest", "The $skiptoken is not valid; follow @odata.nextLink as given.",
                       target="$skiptoken") from None


if __name__ == "__main__":
    sys.exit(peerlib.main(PartnerCenter))
