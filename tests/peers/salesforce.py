"""Salesforce emulator: the parts of the Salesforce REST API libpcref uses.

Built on ``peerlib`` (command line, control API, faults, request log: see its
docstring).  Written from ``shared/reference/crm-apis.md`` part B (cited as
B.n) and ``connector-behaviour.md`` (R-nn).  Run::

    python3 tests/peers/salesforce.py --port 0 --port-file /tmp/sf.port

The emulator's base URL plays both the My Domain login host and the org's
instance: the token response's ``instance_url`` names it (or, after
``/_control/config {"instance_host": "localhost"}``, the same port under
another host name, so a client can be seen following ``instance_url``).

Authentication (B.1)
    POST /services/oauth2/token   form: grant_type=client_credentials with
        client_id and client_secret (or HTTP Basic), or
        grant_type=refresh_token with refresh_token (and client_id)
        -> {"access_token", "signature", "token_format": "opaque",
        "instance_url", "id", "token_type": "Bearer", "issued_at"}; no
        expires_in (as in the vendor example).  Errors: {"error",
        "error_description"}: 400 invalid_client_id / unsupported_grant_type /
        invalid_grant, 401 invalid_client; after /_control/tokens {"revoke":
        true} every grant gets 400 invalid_grant "expired access/refresh
        token".  Default credential (collection ``credentials``):
        pcref-demo-client / pcref-demo-secret, refresh token
        pcref-demo-refresh, running as the integration user.
    Every /services/data/vXX.X call needs ``Authorization: Bearer``;
        otherwise 401 [{"message": "Session expired or invalid", "errorCode":
        "INVALID_SESSION_ID"}].

Versions (B.0): GET /services/data/ lists v31.0 .. v62.0 (no auth, not
counted); any of them is accepted in a path, another is 404 NOT_FOUND.

Objects (B.11, B.12; every record also has Id (18 characters, the object's
key prefix first: 006 Opportunity, 001 Account, 003 Contact, 00Q Lead, 005
User, ...), CreatedDate, LastModifiedDate, SystemModstamp, IsDeleted,
CreatedById, LastModifiedById; OwnerId where the object has an owner)
    Opportunity     Name (required, 120), Amount, CloseDate (required, date),
                    StageName (required, an active OpportunityStage),
                    CurrencyIsoCode (restricted to active CurrencyType codes,
                    default the corporate currency), AccountId, ContactId
                    (create only: makes the primary OpportunityContactRole),
                    IsClosed/IsWon/ForecastCategoryName/Probability derived
                    from the stage (read only), Description (32000),
                    NextStep, Type, LeadSource, and the Microsoft package's
                    fields (API names UNCONFIRMED, B.12; libpcref's defaults):
                    Sync_with_Partner_Center__c (checkbox),
                    Referral_Identifier__c (100, External ID),
                    Referral_Link__c, How_can_Microsoft_help__c (picklist),
                    Referral_Visibility__c, Microsoft_CRM_Identifier__c,
                    Products__c, Audit__c
    Account         Name (required, 255), AccountNumber, BillingStreet,
                    BillingCity (40), BillingState (80), BillingPostalCode
                    (20), BillingCountry (80), Phone
    Contact         Name (FirstName + LastName, read only), FirstName, LastName (required), Email, Phone, Title, AccountId
    Lead            Name (read only), FirstName, LastName (required), Company (required),
                    Email, Phone, Title, Country, Description, Status (default
                    "Open - Not Contacted"), IsConverted (read only),
                    CurrencyIsoCode, Referral_Identifier__c (External ID)
    OpportunityContactRole  OpportunityId (required, create only),
                    ContactId (required), Role, IsPrimary (one per
                    opportunity; the primary sets Opportunity.ContactId)
    OpportunityTeamMember  OpportunityId, UserId (required, create only),
                    TeamMemberRole, OpportunityAccessLevel; creating a
                    duplicate pair answers with the existing record
    ContentNote     Title (required), Content (base64), FileType "SNOTE"
    ContentDocumentLink  ContentDocumentId, LinkedEntityId, ShareType, Visibility
    Microsoft_Partner_Center_Solution__c  Name (required, 80),
                    Solution_Identifier__c, Opportunity__c (master-detail:
                    deleted with its opportunity) — UNCONFIRMED names
    User, CurrencyType, OpportunityStage   read only through the API;
                    defaults: users integration@contoso.example (the
                    credential's) and seller@contoso.example (no
                    nobody@...); currencies USD (corporate), EUR, SEK, GBP
                    (no CHF); stages Prospecting, Qualification, Needs
                    Analysis, Proposal/Price Quote, Negotiation/Review, On
                    Hold, Closed Won, Closed Lost

Behaviour
    Create (B.2): POST sobjects/<T> -> 201 {"id", "success": true, "errors":
        []}; Id in the body -> 400 INVALID_FIELD.
    Read: GET sobjects/<T>/<id>[?fields=a,b] -> the record with attributes;
        an unknown field -> 400 INVALID_FIELD; missing -> 404 NOT_FOUND.
        Account records carry an ETag; If-None-Match / If-Match work on
        Account only (B.4).  If-Modified-Since -> 304 when unchanged.
    Update: PATCH sobjects/<T>/<id> -> 204.  If-Unmodified-Since (HTTP-date)
        -> 412 when LastModifiedDate, in whole seconds, is after it (B.4;
        the 412 body is UNCONFIRMED: [{"errorCode": "PRECONDITION_FAILED"}]);
        an unparsable value -> 400.  Delete: DELETE -> 204, the record goes to
        the Recycle Bin (IsDeleted, visible to queryAll).
    Upsert (B.3): PATCH sobjects/<T>/<ExternalIdField>/<value> -> 201
        {"created": true} / 200 {"created": false} (v46.0+; 204 before), 300
        with the matching URLs when several match, ?updateOnly=true -> 404
        instead of a create; a field that is not an External ID -> 404
        NOT_FOUND (UNCONFIRMED code).
    Values: unknown field -> 400 INVALID_FIELD "No such column 'x' on sobject
        of type T"; read-only -> INVALID_FIELD_FOR_INSERT_UPDATE; missing
        required -> REQUIRED_FIELD_MISSING; too long -> STRING_TOO_LONG;
        restricted picklist -> INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST;
        a reference to no record -> INVALID_CROSS_REFERENCE_KEY; a wrong
        JSON type or date -> JSON_PARSER_ERROR.  Every error names the
        fields ([{"message", "errorCode", "fields": [...]}], B.5).
    SOQL (B.6): GET query?q= / queryAll?q=: SELECT fields (relationship
        fields such as Account.Name, Owner.Email) FROM object [WHERE
        conditions: = != <> < <= > >= IN (...) NOT IN LIKE, AND OR NOT,
        parentheses; literals 'text' (backslash escapes), numbers,
        true/false, null, YYYY-MM-DD, unquoted date-times] [ORDER BY field
        [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]; text
        compares case-insensitively.  Errors: 400 MALFORMED_QUERY / INVALID_FIELD.
        Batches of 2000 (Sforce-Query-Options: batchSize=200..2000) with
        nextRecordsUrl /services/data/vXX.X/query/01g...-<offset> until
        done; the result is fixed when the query runs.
    Composite (B.8): POST composite {"allOrNone", "compositeRequest": [≤25
        subrequests: method, url, referenceId, body, httpHeaders]} -> 200
        {"compositeResponse": [...]}; @{ref.field} references; allOrNone
        rolls back and answers PROCESSING_HALTED for the others.
    Collections (B.9): POST / PATCH composite/sobjects {"allOrNone",
        "records": [≤200]} -> 200 [SaveResult]; with allOrNone a failure
        rolls everything back and the good records say
        ALL_OR_NONE_OPERATION_ROLLED_BACK; per-record errors use statusCode.
        DELETE composite/sobjects?ids=...; GET composite/sobjects/<T>?ids=
        &fields=; PATCH composite/sobjects/<T>/<ExternalIdField> (upsert).
        The request log gives such requests ``batch_ops`` (their number of
        records or subrequests).
    Limits (B.10): every API answer has Sforce-Limit-Info: api-usage=N/M
        (each call counts one); over the allocation -> 403
        [{"message": "TotalRequests Limit exceeded.", "errorCode":
        "REQUEST_LIMIT_EXCEEDED"}]; GET limits/ -> DailyApiRequests.

Control extensions (besides peerlib's; collections = the object names and
``credentials``; seed rows are records in API form)
    POST /_control/generate  {"object": "Opportunity"|"Account"|"Contact"|
                              "Lead", "count": N (<= 100000), "seed": int,
                              "overrides": {field: value}} -> {"object",
                              "count", "ids"}: realistic records, fast
    POST /_control/limits    {"used": N, "max": M} -> the API usage counters
    POST /_control/throttle  {"count", "skip", "path", "method"} -> {"id"}: a
                              403 REQUEST_LIMIT_EXCEEDED fault (concurrent
                              long-running requests) with Sforce-Limit-Info
    POST /_control/touch     {"object", "id", "seconds": S} -> the record,
                              modified by "someone else" S seconds from now
                              (to make If-Unmodified-Since fail)
    GET|POST /_control/config  {"instance_host": "127.0.0.1"|"localhost"}

Not emulated: SOQL aggregates, subqueries, semi-joins, date functions and
literals (TODAY ...); getUpdated/getDeleted; Bulk API; describe; CDC and
streaming; lead conversion; sharing and field-level security.
"""

from __future__ import annotations

import base64
import copy
import datetime
import email.utils
import hashlib
import itertools
import json
import random
import re
import sys
import time
import urllib.parse

import peerlib
from peerlib import ApiError, Response, Route, json_bytes, no_content

VERSIONS = [f"v{n}.0" for n in range(31, 63)]
BATCH_DEFAULT = 2000                 # B.6
COLLECTION_MAX = 200                 # B.9
COMPOSITE_MAX = 25                   # B.8
API_MAX = 100000                     # B.10: DailyApiRequests allocation of the emulated org
JSON_CT = "application/json;charset=UTF-8"
INTEGRATION_USER = "005000000000000001"
SELLER_USER = "005000000000000002"
DEFAULT_CREDENTIALS = {"client_id": "pcref-demo-client", "client_secret": "pcref-demo-secret",
                       "refresh_token": "pcref-demo-refresh", "user": INTEGRATION_USER}
ROLLED_BACK = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
               "message": "Record rolled back because not all records were valid and the request was using "
                          "AllOrNone header", "fields": []}
HALTED = [{"errorCode": "PROCESSING_HALTED",
           "message": "The transaction was rolled back since another operation in the same transaction failed."}]

# --------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------


class F:
    """A field: kind text|textarea|picklist|bool|number|currency|date|datetime|ref|id."""

    __slots__ = ("kind", "maxlen", "required", "readonly", "create_only", "ref", "values", "default",
                 "external", "restricted")

    def __init__(self, kind, maxlen=None, *, required=False, readonly=False, create_only=False, ref=None,
                 values=None, default=None, external=False, restricted=False):
        self.kind, self.maxlen, self.required, self.readonly = kind, maxlen, required, readonly
        self.create_only, self.ref, self.values, self.default = create_only, ref, values, default
        self.external, self.restricted = external, restricted


HELP_VALUES = ["Workload specific value proposition", "Customer technical architecture",
               "Proof of concept or demo", "Quotes or licensing", "Post sales customer success",
               "General or other"]
COMMON = {"Id": F("id", readonly=True), "CreatedDate": F("datetime", readonly=True),
          "LastModifiedDate": F("datetime", readonly=True), "SystemModstamp": F("datetime", readonly=True),
          "IsDeleted": F("bool", readonly=True), "CreatedById": F("ref", readonly=True, ref="User"),
          "LastModifiedById": F("ref", readonly=True, ref="User")}
OWNED = {"OwnerId": F("ref", ref="User")}
SOLUTION = "Microsoft_Partner_Center_Solution__c"

OBJECTS = {
    "Opportunity": ("006", True, {
        "Name": F("text", 120, required=True), "Amount": F("currency"), "CloseDate": F("date", required=True),
        "StageName": F("picklist", 255, required=True), "CurrencyIsoCode": F("picklist", 3, restricted=True),
        "AccountId": F("ref", ref="Account"), "ContactId": F("ref", ref="Contact", create_only=True),
        "IsClosed": F("bool", readonly=True), "IsWon": F("bool", readonly=True),
        "ForecastCategoryName": F("picklist", 40), "Probability": F("number"),
        "Description": F("textarea", 32000), "NextStep": F("text", 255), "Type": F("picklist", 255),
        "LeadSource": F("picklist", 255),
        "Sync_with_Partner_Center__c": F("bool", default=False),
        "Referral_Identifier__c": F("text", 100, external=True), "Referral_Link__c": F("text", 255),
        "How_can_Microsoft_help__c": F("picklist", 255, values=HELP_VALUES),
        "Referral_Visibility__c": F("bool", default=False), "Microsoft_CRM_Identifier__c": F("text", 100),
        "Products__c": F("text", 255), "Audit__c": F("textarea", 100000)}),
    "Account": ("001", True, {
        "Name": F("text", 255, required=True), "AccountNumber": F("text", 40), "BillingStreet": F("textarea", 255),
        "BillingCity": F("text", 40), "BillingState": F("text", 80), "BillingPostalCode": F("text", 20),
        "BillingCountry": F("text", 80), "Phone": F("text", 40)}),
    "Contact": ("003", True, {
        "Name": F("text", 121, readonly=True), "FirstName": F("text", 40), "LastName": F("text", 80, required=True), "Email": F("text", 80),
        "Phone": F("text", 40), "Title": F("text", 128), "AccountId": F("ref", ref="Account")}),
    "Lead": ("00Q", True, {
        "Name": F("text", 121, readonly=True), "FirstName": F("text", 40), "LastName": F("text", 80, required=True),
        "Company": F("text", 255, required=True), "Email": F("text", 80), "Phone": F("text", 40),
        "Title": F("text", 128), "Country": F("text", 80), "Description": F("textarea", 32000),
        "Status": F("picklist", 40, default="Open - Not Contacted",
                    values=["Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                            "Closed - Not Converted"]),
        "IsConverted": F("bool", readonly=True), "CurrencyIsoCode": F("picklist", 3, restricted=True),
        "Referral_Identifier__c": F("text", 100, external=True)}),
    "OpportunityContactRole": ("00K", False, {
        "OpportunityId": F("ref", ref="Opportunity", required=True, create_only=True),
        "ContactId": F("ref", ref="Contact", required=True), "Role": F("picklist", 40),
        "IsPrimary": F("bool", default=False)}),
    "OpportunityTeamMember": ("00q", False, {
        "OpportunityId": F("ref", ref="Opportunity", required=True, create_only=True),
        "UserId": F("ref", ref="User", required=True, create_only=True), "TeamMemberRole": F("picklist", 40),
        "OpportunityAccessLevel": F("picklist", 40, default="Read", values=["Read", "Edit", "All"])}),
    "ContentNote": ("069", True, {
        "Title": F("text", 255, required=True), "Content": F("textarea", 131072),
        "FileType": F("text", 20, readonly=True)}),
    "ContentDocumentLink": ("06A", False, {
        "ContentDocumentId": F("ref", ref="ContentNote", required=True, create_only=True),
        "LinkedEntityId": F("ref", ref="*", required=True, create_only=True),
        "ShareType": F("picklist", 1, default="V", values=["V", "C", "I"]),
        "Visibility": F("picklist", 40, default="AllUsers")}),
    SOLUTION: ("a0M", True, {
        "Name": F("text", 80, required=True), "Solution_Identifier__c": F("text", 100),
        "Opportunity__c": F("ref", ref="Opportunity", required=True)}),
    "User": ("005", False, {
        "Name": F("text", 121, readonly=True), "FirstName": F("text", 40, readonly=True),
        "LastName": F("text", 80, readonly=True), "Email": F("text", 128, readonly=True),
        "Username": F("text", 80, readonly=True), "IsActive": F("bool", readonly=True)}),
    "CurrencyType": ("01L", False, {
        "IsoCode": F("text", 3, readonly=True), "ConversionRate": F("number", readonly=True),
        "DecimalPlaces": F("number", readonly=True), "IsActive": F("bool", readonly=True),
        "IsCorporate": F("bool", readonly=True)}),
    "OpportunityStage": ("01J", False, {
        "ApiName": F("text", 255, readonly=True), "MasterLabel": F("text", 255, readonly=True),
        "IsActive": F("bool", readonly=True), "IsClosed": F("bool", readonly=True),
        "IsWon": F("bool", readonly=True), "DefaultProbability": F("number", readonly=True),
        "ForecastCategoryName": F("text", 40, readonly=True), "SortOrder": F("number", readonly=True)}),
}
READ_ONLY_OBJECTS = {"User", "CurrencyType", "OpportunityStage"}
PREFIXES = {prefix: name for name, (prefix, _, _) in OBJECTS.items()}
STAGES = [("Prospecting", 10, "Pipeline", False, False), ("Qualification", 10, "Pipeline", False, False),
          ("Needs Analysis", 20, "Pipeline", False, False), ("Proposal/Price Quote", 75, "Pipeline", False, False),
          ("Negotiation/Review", 90, "Pipeline", False, False), ("On Hold", 10, "Omitted", False, False),
          ("Closed Won", 100, "Closed", True, True), ("Closed Lost", 0, "Omitted", True, False)]


def fields_of(obj):
    prefix, owned, own = OBJECTS[obj]
    return {**COMMON, **(OWNED if owned else {}), **own}


SCHEMA = {name: fields_of(name) for name in OBJECTS}
RELATIONSHIPS = {}          # (object, relationship name) -> reference field
for _obj, _fields in SCHEMA.items():
    for _name, _f in _fields.items():
        if _f.kind == "ref":
            rel = _name[:-3] + "__r" if _name.endswith("__c") else _name[:-2] if _name.endswith("Id") else None
            if rel:
                RELATIONSHIPS[(_obj, rel.lower())] = _name


def sf_error(status, code, message, fields=None, headers=None):
    err = ApiError(status, code, message, headers=headers)
    err.fields = list(fields or [])
    return err


def not_found():
    return sf_error(404, "NOT_FOUND", "The requested resource does not exist")


# --------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------

class MillisClock:
    """UTC epoch milliseconds, strictly increasing across calls."""

    def __init__(self):
        self.last = 0

    def now(self):
        self.last = max(time.time_ns() // 1_000_000, self.last + 1)
        return self.last


def fmt_ms(ms):
    """``2013-05-08T21:20:00.000+0000`` (B.2)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}+0000"


def parse_ms(text):
    ticks = peerlib.parse_datetime(text.replace("+0000", "Z") if isinstance(text, str) else text)
    return None if ticks is None else ticks // 10_000


# --------------------------------------------------------------------------
# SOQL subset (B.6)
# --------------------------------------------------------------------------

class SoqlError(ValueError):
    pass


_SOQL_TOKEN = re.compile(r"""
   (?P<ws>\s+)
 | (?P<str>'(?:[^'\\]|\\.)*')
 | (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
 | (?P<date>\d{4}-\d{2}-\d{2})
 | (?P<num>-?\d+(?:\.\d+)?)
 | (?P<op><=|>=|!=|<>|=|<|>)
 | (?P<punct>[(),])
 | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
""", re.VERBOSE)
_UNESCAPE = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def soql_tokens(text):
    pos, out = 0, []
    while pos < len(text):
        m = _SOQL_TOKEN.match(text, pos)
        if not m:
            raise SoqlError(f"unexpected character at position {pos}: {text[pos:pos + 10]!r}")
        kind = m.lastgroup
        value = m.group(kind)
        pos = m.end()
        if kind == "ws":
            continue
        if kind == "str":
            value = re.sub(r"\\(.)", lambda e: _UNESCAPE.get(e.group(1), e.group(1)), value[1:-1])
        elif kind == "dt":
            value = parse_ms(value.replace("+00:00", "Z"))
        elif kind == "num":
            value = float(value)
        out.append((kind, value))
    return out


class Soql:
    """SELECT ... FROM ... [WHERE ...] [ORDER BY ...] [LIMIT n] [OFFSET n]."""

    def __init__(self, text):
        self.toks = soql_tokens(text)
        self.i = 0
        self.kw("SELECT")
        self.fields = [self.name()]
        while self.accept("punct", ","):
            self.fields.append(self.name())
        self.kw("FROM")
        self.object = self.name()
        self.where = self.order = None
        self.limit = self.offset = None
        if self.accept_kw("WHERE"):
            self.where = self.or_()
        if self.accept_kw("ORDER"):
            self.kw("BY")
            self.order = [self.order_item()]
            while self.accept("punct", ","):
                self.order.append(self.order_item())
        if self.accept_kw("LIMIT"):
            self.limit = int(self.expect("num"))
        if self.accept_kw("OFFSET"):
            self.offset = int(self.expect("num"))
        if self.i != len(self.toks):
            raise SoqlError(f"unexpected token {self.toks[self.i][1]!r}")

    # -- tokens
    def peek(self, kind=None, value=None):
        if self.i >= len(self.toks):
            return None
        k, v = self.toks[self.i]
        if kind and k != kind:
            return None
        if value is not None and (not isinstance(v, str) or v.upper() != value.upper()):
            return None
        return v

    def accept(self, kind, value=None):
        if self.peek(kind, value) is not None:
            self.i += 1
            return True
        return False

    def accept_kw(self, word):
        return self.accept("name", word)

    def kw(self, word):
        if not self.accept_kw(word):
            raise SoqlError(f"expecting {word}")

    def expect(self, kind):
        v = self.peek(kind)
        if v is None:
            raise SoqlError(f"expecting a {kind}")
        self.i += 1
        return v

    def name(self):
        return self.expect("name")

    def order_item(self):
        field = self.name()
        desc = self.accept_kw("DESC")
        if not desc:
            self.accept_kw("ASC")
        nulls_last = desc
        if self.accept_kw("NULLS"):
            nulls_last = self.accept_kw("LAST")
            if not nulls_last:
                self.kw("FIRST")
        return field, desc, nulls_last

    # -- conditions
    def or_(self):
        node = self.and_()
        while self.accept_kw("OR"):
            node = ("or", node, self.and_())
        return node

    def and_(self):
        node = self.not_()
        while self.accept_kw("AND"):
            node = ("and", node, self.not_())
        return node

    def not_(self):
        if self.accept_kw("NOT"):
            return ("not", self.not_())
        if self.accept("punct", "("):
            node = self.or_()
            if not self.accept("punct", ")"):
                raise SoqlError("expecting )")
            return node
        field = self.name()
        if self.accept_kw("IN"):
            return ("in", field, self.value_list(), False)
        if self.accept_kw("NOT"):
            self.kw("IN")
            return ("in", field, self.value_list(), True)
        if self.accept_kw("LIKE"):
            return ("like", field, self.value())
        op = self.expect("op")
        return ("cmp", field, "!=" if op == "<>" else op, self.value())

    def value_list(self):
        if not self.accept("punct", "("):
            raise SoqlError("expecting ( after IN")
        values = [self.value()]
        while self.accept("punct", ","):
            values.append(self.value())
        if not self.accept("punct", ")"):
            raise SoqlError("expecting )")
        return values

    def value(self):
        if self.i >= len(self.toks):
            raise SoqlError("expecting a value")
        kind, v = self.toks[self.i]
        self.i += 1
        if kind in ("str", "num", "dt", "date"):
            return (kind, v)
        if kind == "name" and v.lower() in ("true", "false"):
            return ("bool", v.lower() == "true")
        if kind == "name" and v.lower() == "null":
            return ("null", None)
        raise SoqlError(f"unexpected value {v!r}")


def _like(pattern):
    out = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(out, re.IGNORECASE | re.DOTALL)


def _coerce_literal(value, field):
    """A SOQL literal as the stored form of a field of this kind (None: incomparable)."""
    kind, v = value
    if kind == "null":
        return None
    if field.kind in ("datetime",):
        if kind == "dt":
            return v
        if kind == "date":
            return parse_ms(v + "T00:00:00Z")
        raise SoqlError("value of incorrect type for a date-time field")
    if field.kind == "date":
        if kind != "date":
            raise SoqlError("value of incorrect type for a date field")
        return v
    if field.kind in ("number", "currency"):
        if kind != "num":
            raise SoqlError("value of incorrect type for a number field")
        return v
    if field.kind == "bool":
        if kind != "bool":
            raise SoqlError("value of incorrect type for a boolean field")
        return v
    if kind != "str":
        raise SoqlError("value of incorrect type for a text field: quote it")
    return v


def _sortable(v):
    return v.lower() if isinstance(v, str) else v


# --------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------

API = r"/services/data/(?P<ver>v\d+\.\d)(?P<rest>/.*)?"


class SalesforceRequestLog(peerlib.RequestLog):
    def add(self, req, status, fault):
        super().add(req, status, fault)
        ops = getattr(req, "batch_ops", None)
        if ops is not None:
            self._entries[-1]["batch_ops"] = ops


class Salesforce(peerlib.Emulator):
    """Salesforce REST API emulator (Opportunity, Account, Contact, Lead, the co-sell package)."""

    name = "salesforce"
    collections = tuple(OBJECTS) + ("credentials",)
    routes = (
        Route("POST", r"/services/oauth2/token", "token"),
        Route("GET", r"/services/data/?", "versions"),
        *(Route(m, API, "api", auth="api") for m in ("GET", "POST", "PATCH", "DELETE")),
        Route("POST", r"/_control/generate", "control_generate"),
        Route("POST", r"/_control/limits", "control_limits"),
        Route("POST", r"/_control/throttle", "control_throttle"),
        Route("POST", r"/_control/touch", "control_touch"),
        Route("GET", r"/_control/config", "control_config"),
        Route("POST", r"/_control/config", "control_config"),
    )
    default_rows = {
        "User": [{"Id": INTEGRATION_USER, "FirstName": "Integration", "LastName": "User",
                  "Email": "integration@contoso.example", "Username": "integration@contoso.example",
                  "IsActive": True},
                 {"Id": SELLER_USER, "FirstName": "Sam", "LastName": "Seller", "Email": "seller@contoso.example",
                  "Username": "seller@contoso.example", "IsActive": True}],
        "CurrencyType": [{"IsoCode": iso, "ConversionRate": rate, "DecimalPlaces": 2, "IsActive": True,
                          "IsCorporate": iso == "USD"}
                         for iso, rate in (("USD", 1.0), ("EUR", 0.92), ("SEK", 10.5), ("GBP", 0.79))],
        "OpportunityStage": [{"ApiName": n, "MasterLabel": n, "IsActive": True, "IsClosed": c, "IsWon": w,
                              "DefaultProbability": p, "ForecastCategoryName": fc, "SortOrder": i + 1}
                             for i, (n, p, fc, c, w) in enumerate(STAGES)],
        "credentials": [DEFAULT_CREDENTIALS],
    }

    def __init__(self, seed_file=None, quiet=False):
        super().__init__(seed_file=seed_file, quiet=quiet)
        self.request_log = SalesforceRequestLog()
        self.clock = MillisClock()
        self.counter = itertools.count(1000)
        self.cursors = {}
        self.journal = None
        self.api_used, self.api_max = 0, API_MAX
        self.config = {"instance_host": None}

    def reset(self, defaults=True):
        with self.lock:
            self.cursors = {}
            self.journal = None
            self.api_used, self.api_max = 0, API_MAX
            self.config = {"instance_host": None}
            super().reset(defaults)

    # -- peerlib hooks -------------------------------------------------------
    def error_response(self, req, err):
        if req.path.startswith(peerlib.CONTROL_PREFIX):
            return super().error_response(req, err)
        if getattr(err, "oauth", False):
            return peerlib.json_response({"error": err.code, "error_description": err.message}, err.status)
        body = {"message": err.message, "errorCode": err.code}
        fields = getattr(err, "fields", None)
        if fields:
            body["fields"] = fields
        return Response(err.status, json_bytes([body]), err.headers, JSON_CT)

    def fault_body(self, req, fault):
        if fault.status == 403:
            return self.error_response(req, sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
        return self.error_response(req, sf_error(fault.status, "UNKNOWN_EXCEPTION",
                                                 f"Injected fault {fault.status}."))

    def response_headers(self, req):
        if not req.path.startswith("/services/data/v"):
            return {}
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_max}"}

    def authenticate(self, req, tag):
        scheme, _, token = req.header("Authorization", "").partition(" ")
        claims = None
        if scheme.lower() == "bearer" and token.strip():
            claims, _ = self.tokens.lookup(token.strip().partition("!")[2])
        if claims is None:
            raise sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid",
                           headers={"WWW-Authenticate": 'Token'})
        return claims

    def insert(self, collection, row):
        if collection == "credentials":
            return super().insert(collection, row)
        fields = SCHEMA[collection]
        unknown = [k for k in row if k not in fields and k != "attributes"]
        if unknown:
            raise ApiError(400, "invalidRequest", f"{collection}: unknown field(s) {', '.join(unknown)}.")
        now = self.clock.now()
        rec = self._blank(collection)
        rec.update({k: v for k, v in row.items() if k != "attributes"})
        rec["Id"] = rec.get("Id") or self._new_id(collection)
        for key in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
            rec[key] = rec.get(key) or fmt_ms(now)
        self._derive(collection, rec)
        self.tables[collection][rec["Id"]] = rec
        return rec

    # -- tokens (B.1) ----------------------------------------------------------
    def _oauth(self, status, code, message):
        err = ApiError(status, code, message)
        err.oauth = True
        return err

    def _instance(self):
        host = self.config.get("instance_host")
        if not host:
            return self.base_url
        split = urllib.parse.urlsplit(self.base_url)
        return f"{split.scheme}://{host}:{split.port}"

    def token(self, req):
        form = dict(urllib.parse.parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        scheme, _, blob = req.header("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(blob.strip(), validate=True).decode("utf-8").partition(":")
            except ValueError:
                raise self._oauth(400, "invalid_client", "invalid client credentials") from None
            form.setdefault("client_id", urllib.parse.unquote_plus(user))
            form.setdefault("client_secret", urllib.parse.unquote_plus(password))
        grant = form.get("grant_type")
        creds = list(self.tables["credentials"].values())
        if grant == "client_credentials":
            match = [c for c in creds if c.get("client_id") == form.get("client_id")]
            if not match:
                raise self._oauth(400, "invalid_client_id", "client identifier invalid")
            cred = next((c for c in match if c.get("client_secret") == form.get("client_secret")), None)
            if cred is None:
                raise self._oauth(401, "invalid_client", "invalid client credentials")
        elif grant == "refresh_token":
            cred = next((c for c in creds if c.get("refresh_token") and
                         c.get("refresh_token") == form.get("refresh_token")), None)
            if cred is None:
                raise self._oauth(400, "invalid_grant", "expired access/refresh token")
        else:
            raise self._oauth(400, "unsupported_grant_type", "grant type not supported")
        if self.tokens.revoked:
            raise self._oauth(400, "invalid_grant", "expired access/refresh token")
        user = cred.get("user", INTEGRATION_USER)
        access, _ = self.tokens.issue_access({"user": user, "client_id": cred.get("client_id")})
        issued = str(int(time.time() * 1000))
        return peerlib.json_response({
            "access_token": "00D000000000001!" + access,
            "signature": base64.b64encode(hashlib.sha256((access + issued).encode()).digest()).decode(),
            "token_format": "opaque", "instance_url": self._instance(),
            "id": f"https://login.salesforce.com/id/00D000000000001EAA/{user}", "token_type": "Bearer",
            "issued_at": issued}, headers={"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"})

    # -- storage -----------------------------------------------------------------
    def _new_id(self, obj):
        return f"{OBJECTS[obj][0]}{next(self.counter):012d}AAA"[:18]

    def _blank(self, obj):
        rec = {name: f.default for name, f in SCHEMA[obj].items()}
        rec["IsDeleted"] = False
        if "OwnerId" in rec:
            rec["OwnerId"] = INTEGRATION_USER
        rec["CreatedById"] = rec["LastModifiedById"] = INTEGRATION_USER
        if obj == "ContentNote":
            rec["FileType"] = "SNOTE"
        if obj in ("Opportunity", "Lead"):
            rec["CurrencyIsoCode"] = self._corporate()
        if obj == "Lead":
            rec["IsConverted"] = False
        return rec

    def _corporate(self):
        for c in self.tables.get("CurrencyType", {}).values():
            if c.get("IsCorporate"):
                return c["IsoCode"]
        return "USD"

    def _store(self, obj, rec):
        table = self.tables[obj]
        if self.journal is not None:
            self.journal.append((obj, rec["Id"], table.get(rec["Id"])))
        table[rec["Id"]] = rec

    def _remove(self, obj, rid):
        if self.journal is not None:
            self.journal.append((obj, rid, self.tables[obj].get(rid)))
        self.tables[obj].pop(rid, None)

    def _rollback(self, mark):
        while len(self.journal) > mark:
            obj, rid, old = self.journal.pop()
            if old is None:
                self.tables[obj].pop(rid, None)
            else:
                self.tables[obj][rid] = old

    def _derive(self, obj, rec):
        if obj == "Opportunity":
            stage = self._stage(rec.get("StageName"))
            if stage:
                rec["IsClosed"], rec["IsWon"] = stage["IsClosed"], stage["IsWon"]
                rec["ForecastCategoryName"] = stage["ForecastCategoryName"]
                rec["Probability"] = stage["DefaultProbability"]
        if obj in ("User", "Contact", "Lead"):    # compound Name: first + last
            rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p)

    def _stage(self, name):
        for s in self.tables["OpportunityStage"].values():
            if s["ApiName"] == name and s["IsActive"]:
                return s
        return None

    def _object(self, name):
        for obj in OBJECTS:
            if obj.lower() == (name or "").lower():
                return obj
        raise sf_error(404, "NOT_FOUND", f"The requested resource does not exist: sObject type '{name}' is not "
                                         "supported.")

    def _live(self, obj, rid):
        rec = self.tables[obj].get(rid)
        if rec is None and len(rid) == 15:
            rec = next((r for k, r in self.tables[obj].items() if k[:15] == rid), None)
        if rec is None or rec["IsDeleted"]:
            raise not_found()
        return rec

    def _find_any(self, rid):
        obj = PREFIXES.get(rid[:3])
        if obj is None:
            return None, None
        rec = self.tables[obj].get(rid)
        return (obj, rec) if rec and not rec["IsDeleted"] else (None, None)

    # -- values ------------------------------------------------------------------
    def _check_value(self, obj, name, f, value):
        def bad_type(what):
            return sf_error(400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of {what} from {value!r} "
                                                      f"for field {name}", [name])
        if value is None:
            return None
        if f.kind in ("text", "textarea", "picklist", "id"):
            if not isinstance(value, str):
                raise bad_type("string")
            if f.maxlen and len(value) > f.maxlen:
                raise sf_error(400, "STRING_TOO_LONG", f"{name}: data value too large: {value[:40]}... (max "
                                                       f"length={f.maxlen})", [name])
            if f.values and value not in f.values:
                raise sf_error(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                               f"bad value for restricted picklist field: {value}", [name])
            return value
        if f.kind == "bool":
            if not isinstance(value, bool):
                raise bad_type("boolean")
            return value
        if f.kind in ("number", "currency"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad_type("double")
            return value
        if f.kind == "date":
            if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) or \
                    parse_ms(value) is None:
                raise bad_type("date")
            return value
        if f.kind == "datetime":
            if not isinstance(value, str) or parse_ms(value) is None:
                raise bad_type("datetime")
            return value
        if f.kind == "ref":
            if not isinstance(value, str):
                raise bad_type("reference")
            target = PREFIXES.get(value[:3]) if f.ref == "*" else f.ref
            rec = self.tables[target].get(value) if target else None
            if rec is None or rec.get("IsDeleted"):
                raise sf_error(400, "INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {value}", [name])
            return value
        return value

    def _apply(self, obj, rec, body, create):
        if not isinstance(body, dict):
            raise sf_error(400, "JSON_PARSER_ERROR", "The request body must be a JSON object.")
        fields = SCHEMA[obj]
        for name, value in body.items():
            if name == "attributes":
                continue
            f = fields.get(name)
            if name in ("Id", "id") and create:
                raise sf_error(400, "INVALID_FIELD", "The Id field should not be specified in the sobject data.")
            if f is None:
                raise sf_error(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj}", [name])
            if f.readonly or (f.create_only and not create):
                raise sf_error(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                               f"Unable to create/update fields: {name}. Please check the security settings of "
                               "this field and verify that it is read/write for your profile or permission set.",
                               [name])
            rec[name] = self._check_value(obj, name, f, value)
        if "CurrencyIsoCode" in fields and rec.get("CurrencyIsoCode") is not None:
            active = {c["IsoCode"] for c in self.tables["CurrencyType"].values() if c["IsActive"]}
            if rec["CurrencyIsoCode"] not in active:
                raise sf_error(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                               f"bad value for restricted picklist field: {rec['CurrencyIsoCode']}",
                               ["CurrencyIsoCode"])
        if obj == "Opportunity" and rec.get("StageName") is not None and not self._stage(rec["StageName"]):
            raise sf_error(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                           f"bad value for restricted picklist field: {rec['StageName']}", ["StageName"])
        missing = [n for n, f in fields.items() if f.required and rec.get(n) in (None, "")]
        if missing:
            raise sf_error(400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                           missing)

    def _touch(self, rec, when=None):
        stamp = fmt_ms(when if when is not None else self.clock.now())
        rec["LastModifiedDate"] = rec["SystemModstamp"] = stamp

    def create(self, obj, body):
        if obj in READ_ONLY_OBJECTS:
            raise sf_error(400, "INVALID_TYPE_FOR_OPERATION", f"entity type {obj} does not support create")
        rec = self._blank(obj)
        self._apply(obj, rec, body, create=True)
        if obj == "OpportunityTeamMember":     # a duplicate pair updates the existing row (B.11)
            for other in self.tables[obj].values():
                if other["OpportunityId"] == rec["OpportunityId"] and other["UserId"] == rec["UserId"]:
                    return self.update(obj, other["Id"], {k: v for k, v in body.items()
                                                          if k not in ("OpportunityId", "UserId", "attributes")})
        rec["Id"] = self._new_id(obj)
        now = self.clock.now()
        rec["CreatedDate"] = fmt_ms(now)
        self._touch(rec, now)
        self._derive(obj, rec)
        self._store(obj, rec)
        self._after_write(obj, None, rec)
        return rec

    def update(self, obj, rid, body, if_unmodified=None):
        if obj in READ_ONLY_OBJECTS:
            raise sf_error(400, "INVALID_TYPE_FOR_OPERATION", f"entity type {obj} does not support update")
        old = self._live(obj, rid)
        if if_unmodified is not None and parse_ms(old["LastModifiedDate"]) // 1000 > if_unmodified:
            raise sf_error(412, "PRECONDITION_FAILED", "The requested resource was modified after the "
                                                       "If-Unmodified-Since date.")
        rec = copy.deepcopy(old)
        self._apply(obj, rec, body, create=False)
        self._touch(rec)
        self._derive(obj, rec)
        self._store(obj, rec)
        self._after_write(obj, old, rec)
        return rec

    def delete(self, obj, rid):
        if obj in READ_ONLY_OBJECTS:
            raise sf_error(400, "INVALID_TYPE_FOR_OPERATION", f"entity type {obj} does not support delete")
        rec = copy.deepcopy(self._live(obj, rid))
        if obj in ("OpportunityTeamMember", "OpportunityContactRole"):
            self._remove(obj, rid)            # not in the Recycle Bin (B.11)
        else:
            rec["IsDeleted"] = True
            self._touch(rec)
            self._store(obj, rec)
        if obj == "Opportunity":              # master-detail children go with it
            for child, field in ((SOLUTION, "Opportunity__c"), ("OpportunityContactRole", "OpportunityId"),
                                 ("OpportunityTeamMember", "OpportunityId")):
                for cid in [k for k, r in self.tables[child].items() if r.get(field) == rid]:
                    self._remove(child, cid)

    def _after_write(self, obj, old, rec):
        if obj == "Opportunity" and old is None and rec.get("ContactId"):
            self.create("OpportunityContactRole", {"OpportunityId": rec["Id"], "ContactId": rec["ContactId"],
                                                   "IsPrimary": True})
        if obj == "OpportunityContactRole" and rec.get("IsPrimary"):
            for other in list(self.tables[obj].values()):
                if other["Id"] != rec["Id"] and other["OpportunityId"] == rec["OpportunityId"] and \
                        other["IsPrimary"]:
                    changed = dict(other, IsPrimary=False)
                    self._store(obj, changed)
            opp = self.tables["Opportunity"].get(rec["OpportunityId"])
            if opp and opp.get("ContactId") != rec["ContactId"]:
                opp = dict(opp, ContactId=rec["ContactId"])
                self._touch(opp)
                self._store("Opportunity", opp)

    # -- rendering -----------------------------------------------------------------
    def _attributes(self, ver, obj, rid):
        return {"type": obj, "url": f"/services/data/{ver}/sobjects/{obj}/{rid}"}

    def _resolve(self, obj, dotted):
        """The stored path of a (possibly relationship) field name: [(object, field)...]."""
        parts = dotted.split(".")
        path, cur = [], obj
        for i, part in enumerate(parts):
            fields = SCHEMA[cur]
            if i == len(parts) - 1:
                name = next((n for n in fields if n.lower() == part.lower()), None)
                if name is None:
                    raise sf_error(400, "INVALID_FIELD", f"No such column '{part}' on entity '{cur}'. If you are "
                                                         "attempting to use a custom field, be sure to append the "
                                                         "'__c' after the custom field name.")
                path.append((cur, name))
                return path
            ref = RELATIONSHIPS.get((cur, part.lower()))
            if ref is None:
                raise sf_error(400, "INVALID_FIELD", f"Didn't understand relationship '{part}' in field path. "
                                                     "If you are attempting to use a custom relationship, be sure "
                                                     "to append the '__r' after the custom relationship name.")
            target = fields[ref].ref
            path.append((cur, ref, part if not part.endswith("__r") else part, target))
            cur = target if target != "*" else None
            if cur is None:
                raise sf_error(400, "INVALID_FIELD", f"Relationship '{part}' is polymorphic; not emulated.")
        return path

    def _value_at(self, rec, path):
        for step in path[:-1]:
            ref = rec.get(step[1])
            rec = self.tables[step[3]].get(ref) if ref else None
            if rec is None:
                return None
        return rec.get(path[-1][1])

    def _render(self, ver, obj, rec, names):
        out = {"attributes": self._attributes(ver, obj, rec["Id"])}
        for dotted in names:
            path = self._resolve(obj, dotted)
            if len(path) == 1:
                out[path[0][1]] = rec.get(path[0][1])
                continue
            node, src = out, rec
            for step in path[:-1]:
                rel = next((k for k in node if k.lower() == step[2].lower() and k != "attributes"), step[2])
                ref = src.get(step[1]) if src else None
                src = self.tables[step[3]].get(ref) if ref else None
                if src is None:
                    node[rel] = None
                    break
                if not isinstance(node.get(rel), dict):
                    node[rel] = {"attributes": self._attributes(ver, step[3], src["Id"])}
                node = node[rel]
            else:
                node[path[-1][1]] = src.get(path[-1][1])
        return out

    # -- API dispatch ------------------------------------------------------------------
    def versions(self, req):
        return peerlib.json_response([{"label": f"Release {v}", "url": f"/services/data/{v}", "version": v[1:]}
                                      for v in VERSIONS])

    def api(self, req):
        ver = req.params["ver"]
        if ver not in VERSIONS:
            raise not_found()
        self.api_used += 1
        if self.api_used > self.api_max:
            raise sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        rest = (req.params.get("rest") or "/").strip("/")
        parts = rest.split("/") if rest else []
        return self._route(req, ver, parts)

    def _route(self, req, ver, parts):
        m = req.method
        if not parts:
            return peerlib.json_response({"sobjects": f"/services/data/{ver}/sobjects",
                                          "query": f"/services/data/{ver}/query",
                                          "composite": f"/services/data/{ver}/composite",
                                          "limits": f"/services/data/{ver}/limits"})
        head = parts[0]
        if head == "limits" and len(parts) == 1 and m == "GET":
            return peerlib.json_response({"DailyApiRequests": {"Max": self.api_max,
                                                               "Remaining": max(0, self.api_max - self.api_used)}})
        if head in ("query", "queryAll") and m == "GET":
            if len(parts) == 2:
                return self._query_more(req, ver, parts[1])
            if len(parts) == 1:
                return self._query(req, ver, head == "queryAll")
        if head == "composite":
            if len(parts) == 1 and m == "POST":
                return self._composite(req, ver)
            if len(parts) >= 2 and parts[1] == "sobjects":
                return self._collections(req, ver, parts[2:])
        if head == "sobjects" and len(parts) >= 2:
            obj = self._object(parts[1])
            if len(parts) == 2 and m == "POST":
                rec = self.create(obj, req.json())
                return peerlib.json_response({"id": rec["Id"], "success": True, "errors": []}, 201)
            if len(parts) == 3:
                return self._row(req, ver, obj, parts[2])
            if len(parts) == 4 and m == "PATCH":
                return self._upsert(req, ver, obj, parts[2], parts[3])
        raise sf_error(404, "NOT_FOUND", "The requested resource does not exist")

    @staticmethod
    def _http_date(req, name):
        value = req.header(name)
        if value is None:
            return None
        try:
            return int(email.utils.parsedate_to_datetime(value).timestamp())
        except (TypeError, ValueError):
            raise sf_error(400, "INVALID_HEADER_TYPE", f"Invalid {name} header value: {value!r}") from None

    @staticmethod
    def _etag(rec):
        return '"' + base64.b64encode(hashlib.sha1((rec["Id"] + rec["SystemModstamp"]).encode()).digest()).decode() \
            + '--gzip"'

    def _row(self, req, ver, obj, rid):
        rec = self._live(obj, rid)
        headers = {}
        if obj == "Account":                  # ETags: Account only (B.4)
            etag = self._etag(rec)
            headers["ETag"] = etag
            match, none_match = req.header("If-Match"), req.header("If-None-Match")
            if match and etag not in [t.strip() for t in match.split(",")]:
                raise sf_error(412, "PRECONDITION_FAILED", "The ETag does not match (If-Match).")
            if none_match and etag in [t.strip() for t in none_match.split(",")]:
                if req.method == "GET":
                    return no_content(304, headers)
                raise sf_error(412, "PRECONDITION_FAILED", "The ETag matches (If-None-Match).")
        if req.method == "GET":
            since = self._http_date(req, "If-Modified-Since")
            if since is not None and parse_ms(rec["LastModifiedDate"]) // 1000 <= since:
                return no_content(304)
            unmodified = self._http_date(req, "If-Unmodified-Since")
            if unmodified is not None and parse_ms(rec["LastModifiedDate"]) // 1000 > unmodified:
                raise sf_error(412, "PRECONDITION_FAILED", "The requested resource was modified after the "
                                                           "If-Unmodified-Since date.")
            names = [n for n in req.query.get("fields", "").split(",") if n] or list(SCHEMA[obj])
            return peerlib.json_response(self._render(ver, obj, rec, names), headers=headers)
        if req.method == "PATCH":
            self.update(obj, rec["Id"], req.json(), self._http_date(req, "If-Unmodified-Since"))
            return no_content(204)
        if req.method == "DELETE":
            self.delete(obj, rec["Id"])
            return no_content(204)
        raise sf_error(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed. Allowed are GET,PATCH,"
                                                  "DELETE")

    def _upsert(self, req, ver, obj, field, value):
        f = SCHEMA[obj].get(field)
        if f is None or not f.external:
            raise sf_error(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: "
                                             f"{field}")
        matches = [r for r in self.tables[obj].values() if not r["IsDeleted"] and r.get(field) == value]
        body = req.json()
        if len(matches) > 1:
            return peerlib.json_response([f"/services/data/{ver}/sobjects/{obj}/{r['Id']}" for r in matches], 300)
        if matches:
            body = {k: v for k, v in body.items() if k != field}
            rec = self.update(obj, matches[0]["Id"], body)
            if float(ver[1:]) < 46:
                return no_content(204)
            return peerlib.json_response({"id": rec["Id"], "success": True, "errors": [], "created": False}, 200)
        if req.query.get("updateOnly") == "true":
            raise not_found()
        rec = self.create(obj, {**body, field: value})
        return peerlib.json_response({"id": rec["Id"], "success": True, "errors": [], "created": True}, 201)

    # -- queries -------------------------------------------------------------------
    def _query(self, req, ver, include_deleted):
        text = req.query.get("q")
        if not text:
            raise sf_error(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            q = Soql(text)
        except SoqlError as exc:
            raise sf_error(400, "MALFORMED_QUERY", f"{exc}: {text[:200]}") from None
        obj = self._object(q.object)
        try:
            pred = self._predicate(obj, q.where) if q.where else (lambda r: True)
            names = q.fields
            for n in names:
                self._resolve(obj, n)
            rows = [r for r in self.tables[obj].values() if (include_deleted or not r["IsDeleted"]) and pred(r)]
            if q.order:
                for field, desc, nulls_last in reversed(q.order):
                    path = self._resolve(obj, field)
                    kind = SCHEMA[path[-1][0]][path[-1][1]].kind
                    key = self._sort_key(path, kind)
                    present = [r for r in rows if key(r) is not None]
                    absent = [r for r in rows if key(r) is None]
                    present.sort(key=key, reverse=desc)
                    rows = present + absent if nulls_last else absent + present
        except SoqlError as exc:
            raise sf_error(400, "MALFORMED_QUERY", str(exc)) from None
        if q.offset:
            rows = rows[q.offset:]
        if q.limit is not None:
            rows = rows[:q.limit]
        records = [self._render(ver, obj, r, names) for r in rows]
        return self._page(req, ver, records, 0, self._batch_size(req))

    def _sort_key(self, path, kind):
        def key(r):
            v = self._value_at(r, path)
            if v is None:
                return None
            if kind == "datetime":
                return parse_ms(v)
            return _sortable(v)
        return key

    @staticmethod
    def _batch_size(req):
        opts = req.header("Sforce-Query-Options", "")
        m = re.search(r"batchSize\s*=\s*(\d+)", opts)
        return min(2000, max(200, int(m.group(1)))) if m else BATCH_DEFAULT

    def _page(self, req, ver, records, start, size, locator=None):
        chunk = records[start:start + size]
        body = {"totalSize": len(records), "done": start + size >= len(records), "records": chunk}
        if not body["done"]:
            locator = locator or f"01g{next(self.counter):015d}"[:18]
            self.cursors[locator] = (records, size)
            body["nextRecordsUrl"] = f"/services/data/{ver}/query/{locator}-{start + size}"
        elif locator:
            self.cursors.pop(locator, None)
        return peerlib.json_response(body)

    def _query_more(self, req, ver, token):
        locator, _, offset = token.rpartition("-")
        cursor = self.cursors.get(locator)
        if cursor is None or not offset.isdigit():
            raise sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        records, size = cursor
        return self._page(req, ver, records, int(offset), size, locator)

    def _predicate(self, obj, node):
        kind = node[0]
        if kind in ("and", "or"):
            left, right = self._predicate(obj, node[1]), self._predicate(obj, node[2])
            return (lambda r: left(r) and right(r)) if kind == "and" else (lambda r: left(r) or right(r))
        if kind == "not":
            inner = self._predicate(obj, node[1])
            return lambda r: not inner(r)
        path = self._resolve(obj, node[1])
        field = SCHEMA[path[-1][0]][path[-1][1]]
        get = self._getter(path, field)
        if kind == "in":
            values = {_sortable(_coerce_literal(v, field)) for v in node[2]}
            negate = node[3]
            return lambda r: (_sortable(get(r)) in values) != negate
        if kind == "like":
            if node[2][0] != "str":
                raise SoqlError("LIKE needs a quoted pattern")
            regex = _like(node[2][1])
            return lambda r: isinstance(get(r), str) and regex.fullmatch(get(r)) is not None
        op, want = node[2], _coerce_literal(node[3], field)
        want = _sortable(want)

        def compare(r):
            have = _sortable(get(r))
            if op in ("=", "!="):
                return (have == want) == (op == "=")
            if have is None or want is None:
                return False
            return {"<": have < want, "<=": have <= want, ">": have > want, ">=": have >= want}[op]
        return compare

    def _getter(self, path, field):
        if field.kind == "datetime":
            return lambda r: (lambda v: parse_ms(v) if v else None)(self._value_at(r, path))
        return lambda r: self._value_at(r, path)

    # -- composite (B.8) and collections (B.9) ------------------------------------------------
    def _transaction(self, run, all_or_none):
        """Run ``run()`` with a journal; roll back everything on failure when all_or_none."""
        outer = self.journal is None
        if outer:
            self.journal = []
        mark = len(self.journal)
        try:
            failed = run()
            if failed and all_or_none:
                self._rollback(mark)
            return failed
        finally:
            if outer:
                self.journal = None

    def _error_body(self, err, key="errorCode"):
        body = {key: err.code, "message": err.message}
        body["fields"] = getattr(err, "fields", [])
        return body

    def _collections(self, req, ver, rest):
        m = req.method
        if m == "DELETE" and not rest:
            ids = [i for i in req.query.get("ids", "").split(",") if i]
            all_or_none = req.query.get("allOrNone") == "true"
            return self._collection_run(req, ids, all_or_none, lambda rid: self._delete_any(rid), with_id=True)
        if m == "GET" and len(rest) == 1:
            obj = self._object(rest[0])
            ids = [i for i in req.query.get("ids", "").split(",") if i]
            names = [n for n in req.query.get("fields", "").split(",") if n] or list(SCHEMA[obj])
            out = []
            for rid in ids:
                rec = self.tables[obj].get(rid)
                out.append(self._render(ver, obj, rec, names) if rec and not rec["IsDeleted"] else None)
            return peerlib.json_response(out)
        body = req.json()
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not records:
            raise sf_error(400, "JSON_PARSER_ERROR", "The request needs a \"records\" array.")
        if len(records) > COLLECTION_MAX:
            raise sf_error(400, "EXCEEDED_ID_LIMIT", f"record count exceeds the limit of {COLLECTION_MAX}")
        all_or_none = bool(body.get("allOrNone"))
        if m == "POST" and not rest:
            return self._collection_run(req, records, all_or_none, self._collection_create)
        if m == "PATCH" and not rest:
            return self._collection_run(req, records, all_or_none, self._collection_update)
        if m == "PATCH" and len(rest) == 2:
            obj, field = self._object(rest[0]), rest[1]
            return self._collection_run(req, records, all_or_none,
                                        lambda r: self._collection_upsert(obj, field, r))
        raise not_found()

    def _collection_run(self, req, items, all_or_none, op, with_id=False):
        req.batch_ops = len(items)
        results = []

        def run():
            failed = False
            for item in items:
                try:
                    results.append(op(item))
                except ApiError as err:
                    failed = True
                    result = {"success": False, "errors": [self._error_body(err, "statusCode")]}
                    if with_id:
                        result["id"] = item
                    results.append(result)
            return failed
        if self._transaction(run, all_or_none) and all_or_none:
            results = [r if not r["success"] else {**({"id": r["id"]} if with_id else {}), "success": False,
                                                   "errors": [dict(ROLLED_BACK)]} for r in results]
        return peerlib.json_response(results)

    def _record_type(self, record):
        attrs = record.get("attributes") if isinstance(record, dict) else None
        if not isinstance(attrs, dict) or not attrs.get("type"):
            raise sf_error(400, "INVALID_TYPE", "Each record needs attributes.type.")
        return self._object(attrs["type"])

    def _collection_create(self, record):
        obj = self._record_type(record)
        if "id" in record or "Id" in record:
            raise sf_error(400, "INVALID_FIELD", "The Id field should not be specified in the sobject data.")
        rec = self.create(obj, {k: v for k, v in record.items() if k != "attributes"})
        return {"id": rec["Id"], "success": True, "errors": []}

    def _collection_update(self, record):
        obj = self._record_type(record)
        rid = record.get("id") or record.get("Id")
        if not rid:
            raise sf_error(400, "MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        self.update(obj, rid, {k: v for k, v in record.items() if k not in ("attributes", "id", "Id")})
        return {"id": rid, "success": True, "errors": []}

    def _collection_upsert(self, obj, field, record):
        value = record.get(field)
        f = SCHEMA[obj].get(field)
        if f is None or not f.external:
            raise sf_error(400, "INVALID_FIELD", f"Field {field} is not an External ID field", [field])
        body = {k: v for k, v in record.items() if k not in ("attributes", field)}
        matches = [r for r in self.tables[obj].values() if not r["IsDeleted"] and r.get(field) == value]
        if len(matches) > 1:
            raise sf_error(300, "DUPLICATE_EXTERNAL_ID", f"{field}: more than one record found for external id "
                                                         f"field: {value}", [field])
        if matches:
            rec = self.update(obj, matches[0]["Id"], body)
            return {"id": rec["Id"], "success": True, "errors": [], "created": False}
        rec = self.create(obj, {**body, field: value})
        return {"id": rec["Id"], "success": True, "errors": [], "created": True}

    def _delete_any(self, rid):
        obj, rec = self._find_any(rid)
        if rec is None:
            raise sf_error(404, "ENTITY_IS_DELETED", "entity is deleted")
        self.delete(obj, rid)
        return {"id": rid, "success": True, "errors": []}

    def _composite(self, req, ver):
        body = req.json()
        subs = body.get("compositeRequest") if isinstance(body, dict) else None
        if not isinstance(subs, list) or not subs:
            raise sf_error(400, "JSON_PARSER_ERROR", "The request needs a \"compositeRequest\" array.")
        if len(subs) > COMPOSITE_MAX:
            raise sf_error(400, "INVALID_FIELD", f"Composite requests are limited to {COMPOSITE_MAX} subrequests.")
        for sub in subs:
            for name in (sub.get("httpHeaders") or {}):
                if name.lower() in ("accept", "authorization", "content-type"):
                    raise sf_error(400, "INVALID_FIELD", f"The {name} header is not allowed in a subrequest.")
        req.batch_ops = len(subs)
        all_or_none = bool(body.get("allOrNone"))
        answers, refs = [], {}

        def run():
            failed = False
            for sub in subs:
                ref = sub.get("referenceId")
                if failed and all_or_none:
                    answers.append({"body": HALTED, "httpHeaders": {}, "httpStatusCode": 400, "referenceId": ref})
                    continue
                status, out, headers = self._subrequest(ver, sub, refs)
                answers.append({"body": out, "httpHeaders": headers, "httpStatusCode": status, "referenceId": ref})
                if status >= 400:
                    failed = True
                elif isinstance(out, dict):
                    refs[ref] = out
            return failed
        if self._transaction(run, all_or_none) and all_or_none:
            answers = [a if a["httpStatusCode"] >= 400 else {**a, "body": HALTED, "httpStatusCode": 400}
                       for a in answers]
        return peerlib.json_response({"compositeResponse": answers})

    def _substitute(self, value, refs):
        def one(m):
            ref, _, path = m.group(1).partition(".")
            node = refs.get(ref)
            for part in re.findall(r"[^.\[\]]+", path):
                node = node[int(part)] if isinstance(node, list) and part.isdigit() else \
                    node.get(part) if isinstance(node, dict) else None
            if node is None:
                raise sf_error(400, "PROCESSING_HALTED", f"Invalid reference specified. No value for "
                                                         f"{m.group(1)} found in {ref}.")
            return str(node)
        if isinstance(value, str):
            return re.sub(r"@\{([^}]+)\}", one, value)
        if isinstance(value, dict):
            return {k: self._substitute(v, refs) for k, v in value.items()}
        if isinstance(value, list):
            return [self._substitute(v, refs) for v in value]
        return value

    def _subrequest(self, ver, sub, refs):
        try:
            method, url = sub.get("method"), self._substitute(sub.get("url", ""), refs)
            if method not in ("GET", "POST", "PATCH", "PUT", "DELETE"):
                raise sf_error(400, "INVALID_FIELD", f"Invalid method {method!r} (methods are case-sensitive).")
            split = urllib.parse.urlsplit(url)
            m = re.fullmatch(API, urllib.parse.unquote(split.path))
            if not m or m.group("ver") not in VERSIONS:
                raise sf_error(400, "INVALID_FIELD", "A subrequest url must start with /services/data/vXX.X/.")
            fake = peerlib.Request(method, url, {k.lower(): v for k, v in (sub.get("httpHeaders") or {}).items()})
            fake.headers = _Headers(sub.get("httpHeaders") or {})
            fake.body = json_bytes(self._substitute(sub["body"], refs)) if "body" in sub else b""
            parts = (m.group("rest") or "/").strip("/").split("/")
            resp = self._route(fake, m.group("ver"), parts)
        except ApiError as err:
            resp = self.error_response(peerlib.Request("GET", "/services/data", {}), err)
        out = json.loads(resp.body) if resp.body else None
        headers = {k: v for k, v in resp.headers.items() if k in ("Location", "ETag")}
        return resp.status, out, headers

    # -- control ------------------------------------------------------------------------
    def control_config(self, req):
        if req.method == "POST":
            body = req.json()
            host = body.get("instance_host", self.config["instance_host"])
            if host is not None and host not in ("127.0.0.1", "localhost", "::1"):
                raise ApiError(400, "invalidRequest", "instance_host must be a loopback host name or null.")
            self.config["instance_host"] = host
        return peerlib.json_response(self.config)

    def control_limits(self, req):
        body = req.json(optional=True)
        for key in ("used", "max"):
            v = body.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise ApiError(400, "invalidRequest", f"{key} must be a non-negative integer.")
        self.api_used = body.get("used", self.api_used)
        self.api_max = body.get("max", self.api_max)
        return peerlib.json_response({"used": self.api_used, "max": self.api_max})

    def control_throttle(self, req):
        body = req.json(optional=True)
        spec = {"method": body.get("method", "*"), "path": body.get("path", "^/services/data/v"), "status": 403,
                "headers": {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_max}"},
                "body": [{"message": "ConcurrentRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
                "count": body.get("count", 1), "skip": body.get("skip", 0)}
        return peerlib.json_response({"id": self.faults.add(spec).id})

    def control_touch(self, req):
        body = req.json()
        obj = self._object(body.get("object"))
        rec = self.tables[obj].get(body.get("id"))
        if rec is None:
            raise ApiError(404, "itemNotFound", "No such record.")
        seconds = body.get("seconds", 0)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ApiError(400, "invalidRequest", "seconds must be a number.")
        rec = dict(rec, LastModifiedById=SELLER_USER)
        self._touch(rec, self.clock.now() + int(seconds * 1000))
        self.clock.last = max(self.clock.last, parse_ms(rec["LastModifiedDate"]))
        self.tables[obj][rec["Id"]] = rec
        return peerlib.json_response(rec)

    def control_generate(self, req):
        body = req.json(optional=True)
        obj = body.get("object", "Opportunity")
        if obj not in ("Opportunity", "Account", "Contact", "Lead"):
            raise ApiError(400, "invalidRequest", "object must be Opportunity, Account, Contact or Lead.")
        count, seed = body.get("count", 100), body.get("seed", 0)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100000:
            raise ApiError(400, "invalidRequest", "count must be an integer in 1..100000.")
        overrides = body.get("overrides") or {}
        if not isinstance(overrides, dict) or any(k not in SCHEMA[obj] for k in overrides):
            raise ApiError(400, "invalidRequest", f"overrides must map {obj} fields to values.")
        rng = random.Random(seed)
        accounts = [k for k, r in self.tables["Account"].items() if not r["IsDeleted"]]
        today = datetime.date.today()
        ids = []
        for i in range(count):
            rec = self._blank(obj)
            rec.update(self._synth(obj, rng, i, accounts, today))
            rec.update(overrides)
            rec["Id"] = self._new_id(obj)
            now = self.clock.now()
            rec["CreatedDate"] = fmt_ms(now)
            self._touch(rec, now)
            self._derive(obj, rec)
            self.tables[obj][rec["Id"]] = rec
            ids.append(rec["Id"])
        return peerlib.json_response({"object": obj, "count": count, "ids": ids})

    @staticmethod
    def _synth(obj, rng, i, accounts, today):
        company = rng.choice(("Contoso", "Fabrikam", "Northwind Traders", "Litware", "Tailspin Toys",
                              "Wide World Importers", "Adventure Works", "Woodgrove Bank"))
        first = rng.choice(("Anna", "Erik", "Maria", "Johan", "Sara", "Lars", "Emma", "Karl"))
        last = rng.choice(("Berg", "Lind", "Holm", "Ek", "Nyberg", "Sjöberg", "Dahl", "Wallin"))
        if obj == "Opportunity":
            rec = {"Name": f"{company} - Azure migration #{i + 1}", "Amount": float(rng.randrange(5, 2000) * 1000),
                   "CloseDate": (today + datetime.timedelta(days=rng.randrange(7, 270))).isoformat(),
                   "StageName": rng.choice(("Prospecting", "Qualification", "Needs Analysis")),
                   "Description": f"Generated opportunity {i + 1} for {company}.",
                   "CurrencyIsoCode": rng.choice(("USD", "EUR", "SEK")), "OwnerId": SELLER_USER}
            if accounts:
                rec["AccountId"] = rng.choice(accounts)
            return rec
        if obj == "Account":
            return {"Name": f"{company} {i + 1}", "BillingCity": "Stockholm", "BillingPostalCode": "111 51",
                    "BillingCountry": "SE"}
        person = {"FirstName": first, "LastName": last, "Email": f"{first}.{last}{i}@example.com".lower()}
        if obj == "Contact":
            return {**person, **({"AccountId": rng.choice(accounts)} if accounts else {})}
        return {**person, "Company": company, "Description": f"Generated lead {i + 1}."}


class _Headers(dict):
    """Case-insensitive header access for composite subrequests."""

    def __init__(self, headers):
        super().__init__({k.lower(): v for k, v in headers.items()})

    def get(self, name, default=None):
        return super().get(name.lower(), default)

    def items(self):
        return super().items()


if __name__ == "__main__":
    sys.exit(peerlib.main(Salesforce))
