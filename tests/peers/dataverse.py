"""Dataverse emulator: Microsoft Dataverse Web API v9.2 (Dynamics 365 Sales).

Built on ``peerlib`` (command line, control API, faults, request log: see its
docstring).  Written from ``shared/reference/crm-apis.md`` part A (cited as
A.n) and ``connector-behaviour.md`` (R-nn).  Run::

    python3 tests/peers/dataverse.py --port 0 --port-file /tmp/dv.port

The emulator's base URL plays the environment URL ``[Org URI]``; the Web API
is under ``<base>/api/data/v9.2/`` (v9.0 and v9.1 are accepted too, A.0).

Authentication (A.1)
    POST /{tenant}/oauth2/v2.0/token   form: grant_type=client_credentials,
        client_id, client_secret (or HTTP Basic), scope=<resource>/.default with
        <resource> an https://*.dynamics.com URL or this emulator's URL.
        -> {"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,
        "access_token"}; no refresh token.  Errors carry Azure AD's body
        (error, error_description "AADSTSnnnn: ...", error_codes ...): 7000215
        bad secret, 700016 unknown client, 1002012 scope without /.default,
        500011 unknown resource, 70003 other grants, 7000222 after
        /_control/tokens {"revoke": true}.  Default credential (collection
        ``credentials``): pcref-demo-client / pcref-demo-secret, acting as the
        application user APP_USER_ID.
    Every /api/data call needs ``Authorization: Bearer``; otherwise 401
    {"error":{"code":"0x8005F101",...}} with WWW-Authenticate.

Entity sets (A.15; every row also has createdon, modifiedon, versionnumber,
_createdby_value, _modifiedby_value; user-owned ones _ownerid_value, bound
with ownerid@odata.bind to /systemusers(id))
    opportunities   opportunityid, name(300), estimatedvalue(money),
                    estimatedclosedate(date "YYYY-MM-DD"), actualvalue,
                    actualclosedate, closeprobability, description(2000),
                    stepname(200, the sales stage name), salesstage(0-3),
                    statecode 0 Open/1 Won/2 Lost, statuscode 1 In Progress/
                    2 On Hold/3 Won/4 Canceled/5 Out-Sold,
                    lookups (navprop -> column): transactioncurrencyid,
                    parentaccountid, parentcontactid, customerid_account|
                    customerid_contact -> _customerid_value, originatingleadid,
                    ownerid; connector columns (R-01..R-08, A.16, logical names
                    UNCONFIRMED, see MSFT_OPPORTUNITY_COLUMNS):
                    msft_microsoftpartnercenterreferralsync(bool),
                    msft_microsoftpartnercenterreferralidentifier(100),
                    msft_microsoftpartnercenterreferrallink(2000),
                    msft_microsoftpartnercenterhelp(int or text),
                    msft_microsoftpartnercentervisibility(bool),
                    msft_microsoftcrmidentifier(100),
                    msft_microsoftpartnercentersolutions(4000, deprecated),
                    msft_microsoftpartnercenterreferralsyncaudit(memo)
    accounts        accountid, name(160), accountnumber, address1_line1,
                    address1_line2, address1_city, address1_stateorprovince,
                    address1_postalcode, address1_country (ISO alpha-2 by the
                    connector's convention, A.16), telephone1, statecode/
                    statuscode, lookups parentaccountid, primarycontactid,
                    transactioncurrencyid
    contacts        contactid, firstname, lastname, fullname (computed),
                    emailaddress1, telephone1, jobtitle,
                    parentcustomerid_account|parentcustomerid_contact ->
                    _parentcustomerid_value
    leads           leadid, subject, companyname, firstname, lastname, fullname,
                    emailaddress1, telephone1, budgetamount, description,
                    msft_microsoftpartnercenterreferralidentifier, statecode
                    0 Open/1 Qualified/2 Disqualified, statuscode 1-7,
                    parentaccountid, parentcontactid, transactioncurrencyid
    transactioncurrencies  transactioncurrencyid, isocurrencycode,
                    currencyname, currencysymbol, currencyprecision,
                    exchangerate; default rows USD (base), EUR, SEK, GBP (no
                    CHF) with the fixed ids CURRENCY_IDS
    systemusers     systemuserid, fullname, firstname, lastname,
                    internalemailaddress, domainname, isdisabled, accessmode,
                    applicationid; default rows APP_USER_ID "# pcref-demo-client"
                    and SELLER_ID seller@contoso.example; cannot be deleted;
                    no named-key form (A.5)
    msft_mpcsolutions  opportunity <-> solution links (R-07): msft_mpcsolutionid,
                    msft_solutionid(100), msft_name(200),
                    msft_opportunityid@odata.bind -> _msft_opportunityid_value.
                    The real entity/column names are UNCONFIRMED (A.16) and
                    configurable in libpcref's mapping.
    opportunitycloses  activityid, subject, description, actualrevenue,
                    actualend(date), _opportunityid_value: written by the
                    Win/Lose actions (A.14).

Behaviour
    Create (A.4): POST <set> -> 204 + OData-EntityId <base>/api/data/v9.2/
        <set>(<id>); Prefer: return=representation -> 201 + body (+$select,
        $expand), Preference-Applied, no OData-EntityId.  Server ids are
        sequential like Dataverse's, so the default order (primary key, in SQL
        Server's uniqueidentifier order) is creation order.  A missing
        currency becomes the base currency (A.4); the owner is the caller.
    Retrieve (A.5): GET <set>(<id>) or <set>(<pk>=<id>), $select/$expand;
        @odata.etag W/"<versionnumber>" on every entity (A.8); lookups read back
        as _<name>_value; Prefer odata.include-annotations adds FormattedValue,
        lookuplogicalname, associatednavigationproperty.  If-None-Match with
        the current etag -> 304 (A.8).  Other key forms -> 400 (no alternate
        keys are declared, A.5/A.17).
    Update/upsert (A.6-A.8): PATCH <set>(<id>) -> 204 + OData-EntityId, or
        200/201 with representation.  If-Match: <etag> mismatch -> 412
        0x80060882 "The version of the existing record doesn't match the
        RowVersion property provided."; If-Match on a missing row -> 404
        0x80040217 "<table> With Id = <id> Does Not Exist"; If-None-Match: *
        on an existing row -> 412 0x80040237 "A record with matching key
        values already exists."; no If-Match and no row -> create (upsert).
        Every write increments versionnumber (one counter for the whole
        organization) and sets modifiedon from a clock that never repeats.
        Single property GET/PUT/DELETE <set>(<id>)/<column>; lookups through
        <set>(<id>)/<navprop>/$ref (GET, PUT {"@odata.id"}, DELETE) (A.6, A.9).
    Lookups (A.9): "<navprop>@odata.bind": "/<set>(<id>)" (also without the
        slash, as an absolute URI or a $n batch reference); null clears; a
        missing target -> 404 0x80040217; a wrong entity set or an undeclared
        navprop -> 400 0x80048d19; writing _x_value directly -> 400 (the
        emulator is strict here, UNCONFIRMED).
    Delete (A.6): DELETE <set>(<id>) -> 204, 404 when absent, 412 on an
        If-Match mismatch.  Deleting an opportunity deletes its
        msft_mpcsolutions rows and opportunitycloses (UNCONFIRMED); a used
        currency cannot be deleted (405 CannotDeleteDueToAssociation, A.3);
        other lookups to a deleted row are cleared.
    Values: strings longer than the column -> 400 0x80044331 (the A.12
        sample's "A validation error occurred.  The length of ..."); wrong
        JSON types, unknown columns -> 400 0x80048d19; date-only columns take
        "YYYY-MM-DD" only (A.5); money within +-1e12 (A.15); choices,
        statecode/statuscode pairs checked (A.6).
    Queries (A.10): $select, $filter (eq ne gt ge lt le, and or not,
        parentheses, contains/startswith/endswith; strings case-insensitive;
        literals 'text', numbers, true/false, null, unquoted GUIDs, dates and
        date-times; incompatible operand types -> 400), $orderby (several
        columns, asc/desc; nulls first ascending), $top, $count=true
        (@odata.count, at most 5000), $expand of single-valued lookups with a
        nested $select, GET <set>/$count.  Unknown column in $select/$filter/
        $orderby -> 400 0x80060888 "Could not find a property named '<x>' on
        type 'Microsoft.Dynamics.CRM.<table>'."  $skip -> 400.  Paging:
        Prefer odata.maxpagesize=N (default and maximum 5000; larger values
        are clamped: UNCONFIRMED) echoed in Preference-Applied; an absolute
        @odata.nextLink repeating the query with a $skiptoken shaped like the
        service's paging cookie (opaque; keyset paging, so rows written
        between pages are neither repeated nor skipped when they sort after
        the page).  With odata.maxpagesize, $top is ignored (A.10).
    Change tracking (A.11) on every set: Prefer odata.track-changes -> all
        rows + @odata.deltaLink ($deltatoken=<version>!<date>); following it
        returns rows written since (by version) and then
        {"@odata.context": ".../$metadata#<set>/$deletedEntity", "id",
        "reason": "deleted"} entries, context ending /$delta, and a new
        deltaLink; $filter/$orderby/$expand/$top -> 400 'The "$filter" query
        parameter isn't supported when Change Tracking is enabled.'.  Delta
        responses page with odata.maxpagesize (UNCONFIRMED for the service).
    Actions (A.14): POST WinOpportunity / LoseOpportunity (also with the
        Microsoft.Dynamics.CRM. prefix) {"Status": n, "OpportunityClose":
        {"subject", "opportunityid@odata.bind", "actualrevenue"?, "actualend"?}}
        -> 204; Status -1 = default; close the opportunity (Won: actualvalue
        defaults to estimatedvalue) and store an opportunityclose.  Writing
        statecode 1/2 (or statuscode 3/4/5) directly -> 400 "This message can
        not be used to set the state of opportunity to Won/Lost ..." (A.14);
        a closed opportunity refuses every update except the reopening PATCH
        {"statecode": 0, "statuscode": 1|2} (A.14 "read-only ... until
        reactivated").  Leads cannot be qualified by PATCH.
    $batch (A.12): POST $batch, multipart/mixed; change sets are atomic
        (a failure rolls back the set and answers with that one error);
        Content-ID and $n in URLs and @odata.bind/@odata.id values inside a
        change set; GET is refused inside one; at most 1000 operations; stop
        at the first failure (outer status = that failure's) unless Prefer:
        odata.continue-on-error.  Answers use batchresponse_/
        changesetresponse_ boundaries, CRLF lines, Location + OData-EntityId
        on creates.  The request log shows one entry per $batch with
        ``batch_ops`` = its number of operations.
    Other: GET WhoAmI (UserId = the caller's application user, A.0), GET
        /api/data/v9.2/ (service document).  Every /api answer has
        OData-Version: 4.0 and REQ_ID.

Errors: always {"error": {"code": "0x...", "message": "..."}} (A.3).  The
service sends an empty code unless error annotations are requested; the
emulator always sends the hex code (codes: the E_* constants below).

Service protection (A.13): a peerlib fault with status 429 and no body gets
{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit
of 6000 over time window of 300 seconds."}} and Retry-After: 1 (a fault's own
headers win).  Faults hit a $batch as a whole.

Timestamps: modifiedon/createdon are UTC ISO 8601 with 7 fractional digits
("2026-01-02T03:04:05.1234567Z") so that no two writes share one and
watermarks are reliable.  The real Web API prints whole seconds
("2026-01-02T03:04:05Z"); /_control/config {"datetime_digits": 0} gives that
form (filters still compare full precision, as the service's SQL does).

Control extensions (besides peerlib's; collections = the entity sets above
and ``credentials``; seed rows use stored column names, lookups as _x_value,
polymorphic ones with "_customerid_value@Microsoft.Dynamics.CRM.
lookuplogicalname": "account"|"contact")
    POST /_control/generate  {"set": "opportunities"|"accounts"|"contacts"|
                              "leads", "count": N (<= 100000), "seed": int,
                              "overrides": {column: value}} -> {"set", "count",
                              "ids" (creation order)}; realistic rows (names,
                              values, close dates, ISO countries, some already
                              synced with Partner Center), linked to existing
                              accounts; 12,000 rows take well under a second
    POST /_control/throttle  {"kind": "requests"|"execution_time"|"concurrency",
                              "retry_after": S, "count", "skip", "path" (regex,
                              default ^/api/data/), "method"} -> {"id"}: a 429
                              fault with the A.13 body and Retry-After
    GET|POST /_control/config  {"datetime_digits": 0..7} -> the settings

Not emulated: $metadata and EntityDefinitions, FetchXML, $apply,
Microsoft.Dynamics.CRM.* query functions, navigation paths in $filter,
collection-valued navigation properties ($expand, /$ref, deep insert),
QualifyLead, CreateMultiple/UpdateMultiple, impersonation (CallerObjectId),
alternate keys, real rate counting (use /_control/throttle), error
annotations (odata.include-annotations on errors).
"""

from __future__ import annotations

import bisect
import datetime
import fnmatch
import functools
import http
import http.client
import io
import json
import operator
import random
import re
import secrets
import sys
import time
import traceback
import unicodedata
import urllib.parse
import uuid
from base64 import b64decode, urlsafe_b64decode, urlsafe_b64encode

import peerlib
from peerlib import ApiError, Response, Route, format_ticks, json_bytes, no_content, parse_datetime

# --------------------------------------------------------------------------
# Constants from the reference (crm-apis.md part A)
# --------------------------------------------------------------------------

PAGE_MAX = 5000              # A.10: default and maximum page size
COUNT_MAX = 5000             # A.10: $count counts at most 5,000 rows
BATCH_MAX = 1000             # A.12: at most 1000 requests in one $batch
TOKEN_LIFETIME = 3599        # A.1: expires_in of the sample token
JSON_CT = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
ERROR_CT = "application/json; odata.metadata=minimal; charset=utf-8"
FORMATTED = "OData.Community.Display.V1.FormattedValue"              # A.5
LOOKUP_LOGICAL = "Microsoft.Dynamics.CRM.lookuplogicalname"          # A.5
LOOKUP_NAV = "Microsoft.Dynamics.CRM.associatednavigationproperty"   # A.5
TOTAL_COUNT = "Microsoft.Dynamics.CRM.totalrecordcount"              # A.2
TOTAL_EXCEEDED = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
QUERY_OPTIONS = ("$select", "$filter", "$orderby", "$top", "$count", "$expand", "$skiptoken", "$deltatoken")
URL_SAFE = ",()'/:@*$!"      # characters left as they are in the query options of generated links

# Error codes of the {"error": {"code", "message"}} envelope (A.3).  The
# reference confirms the throttling codes [PA-limits]; the others are the
# codes public client code reports from the live service (THIRD-PARTY, A.3
# [CODE-dv]) or, where marked, the emulator's choice (UNCONFIRMED).
E_NOT_FOUND = "0x80040217"       # ObjectDoesNotExist: "<table> With Id = <id> Does Not Exist" (A.3)
E_PROPERTY = "0x80060888"        # unknown property / segment, OData query errors (THIRD-PARTY)
E_PAYLOAD = "0x80048d19"         # "Error identified in Payload provided by the user" (THIRD-PARTY)
E_CONCURRENCY = "0x80060882"     # ConcurrencyVersionMismatch, 412 (THIRD-PARTY)
E_DUPLICATE = "0x80040237"       # DuplicateRecord, 412 (THIRD-PARTY)
E_INVALID = "0x80040203"         # InvalidArgument (MS error-code list); used where no code is documented (UNCONFIRMED)
E_VALIDATION = "0x80044331"      # "A validation error occurred.  The length of ..." ([PA-batch] error example)
E_AUTH = "0x8005F101"            # AccessTokenExpired "The requested resource requires authentication." (MS error-code list)
E_UNEXPECTED = "0x80040216"      # generic server error (UNCONFIRMED)
THROTTLE = {                     # A.13
    "requests": ("0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds."),
    "execution_time": ("0x80072321", "Combined execution time of incoming requests exceeded limit of 1,200,000 "
                                     "milliseconds over time window of 300 seconds. Decrease number of concurrent "
                                     "requests or reduce the duration of requests and try again later."),
    "concurrency": ("0x80072326", "Number of concurrent requests exceeded the limit of 52."),
}
_CODE_FOR_STATUS = {400: E_INVALID, 401: E_AUTH, 404: E_PROPERTY, 405: E_INVALID, 412: E_CONCURRENCY,
                    413: E_INVALID, 429: THROTTLE["requests"][0]}

# Fixed ids of the default rows, so that tests and demo scripts can name them.
APP_USER_ID = "5a7e0000-0000-4000-8000-000000000001"     # the application user of pcref-demo-client (A.1)
SELLER_ID = "5a7e0000-0000-4000-8000-000000000002"       # seller@contoso.example
BUSINESS_UNIT_ID = "b0000000-0000-4000-8000-000000000001"
ORGANIZATION_ID = "0e000000-0000-4000-8000-000000000001"
CURRENCY_IDS = {"USD": "7c2e0000-0000-4000-8000-000000000840", "EUR": "7c2e0000-0000-4000-8000-000000000978",
                "SEK": "7c2e0000-0000-4000-8000-000000000752", "GBP": "7c2e0000-0000-4000-8000-000000000826"}
BASE_CURRENCY = "USD"
DEFAULT_CREDENTIALS = {"client_id": "pcref-demo-client", "client_secret": "pcref-demo-secret",
                       "systemuserid": APP_USER_ID}

GUID_RE = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_GUID = re.compile(GUID_RE)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# --------------------------------------------------------------------------
# Schema: entity sets, columns, lookups (A.9, A.15, A.16)
# --------------------------------------------------------------------------

class Col:
    """One column.  ``kind``: guid string memo money decimal int bigint bool
    date datetime choice state status lookup flex (flex = text or integer)."""

    __slots__ = ("name", "kind", "maxlen", "options", "readonly", "default", "lookup")

    def __init__(self, name, kind, maxlen=None, *, options=None, readonly=False, default=None, lookup=None):
        self.name, self.kind, self.maxlen, self.options = name, kind, maxlen, options
        self.readonly, self.default, self.lookup = readonly, default, lookup


class Lookup:
    """A single-valued lookup: column ``_<name>_value``, written through the
    navigation properties in ``targets`` ({navprop: entity set}).  ``on_delete``
    says what deleting the target does to the referencing row: clear the
    lookup, delete the row (cascade) or refuse (restrict)."""

    __slots__ = ("name", "column", "targets", "on_delete", "readonly")

    def __init__(self, name, target, on_delete="clear", readonly=False):
        self.name, self.column = name, f"_{name}_value"
        self.targets = dict(target) if isinstance(target, dict) else {name: target}
        self.on_delete, self.readonly = on_delete, readonly

    @property
    def polymorphic(self):
        return len(self.targets) > 1

    def nav_for(self, set_name):
        return next((nav for nav, target in self.targets.items() if target == set_name), self.name)


class Entity:
    """An entity set: primary key, primary name, columns, lookups, states."""

    def __init__(self, set_name, logical, pk, primary, columns, lookups=(), states=None, owned=True,
                 named_key=True, deletable=True, computed_name=False):
        self.set, self.logical, self.pk, self.primary = set_name, logical, pk, primary
        self.type_name = f"Microsoft.Dynamics.CRM.{logical}"
        self.states = states
        self.named_key, self.deletable, self.computed_name = named_key, deletable, computed_name
        lookups = list(lookups) + [Lookup("createdby", "systemusers", readonly=True),
                                   Lookup("modifiedby", "systemusers", readonly=True)]
        if owned:
            lookups.append(Lookup("ownerid", "systemusers"))
        cols = [Col(pk, "guid")] + list(columns)
        if states:
            cols += [Col("statecode", "state", default=0), Col("statuscode", "status", default=states[0][1])]
        cols += [Col(lk.column, "lookup", readonly=True, lookup=lk) for lk in lookups]
        cols += [Col("createdon", "datetime", readonly=True), Col("modifiedon", "datetime", readonly=True),
                 Col("versionnumber", "bigint", readonly=True)]
        self.columns = {c.name: c for c in cols}
        self.names = tuple(self.columns)
        self.datetime_columns = tuple(c.name for c in cols if c.kind == "datetime")
        self.lookups = lookups
        self.navprops = {nav: (lk, target) for lk in lookups for nav, target in lk.targets.items()}
        self.lookup_by_name = {lk.name: lk for lk in lookups}
        self.state_of = {status: state for state, (_, _, statuses) in (states or {}).items() for status in statuses}
        self.template = {c.name: c.default for c in cols}


def _states(*rows):
    """{statecode: (label, default statuscode, {statuscode: label})}."""
    return {state: (label, next(iter(statuses)), statuses) for state, label, statuses in rows}


ACTIVE_STATES = _states((0, "Active", {1: "Active"}), (1, "Inactive", {2: "Inactive"}))
OPPORTUNITY_STATES = _states((0, "Open", {1: "In Progress", 2: "On Hold"}), (1, "Won", {3: "Won"}),
                             (2, "Lost", {4: "Canceled", 5: "Out-Sold"}))                     # A.15
LEAD_STATES = _states((0, "Open", {1: "New", 2: "Contacted"}), (1, "Qualified", {3: "Qualified"}),
                      (2, "Disqualified", {4: "Lost", 5: "Cannot Contact", 6: "No Longer Interested",
                                           7: "Canceled"}))                                  # A.15
ACTIVITY_STATES = _states((0, "Open", {1: "Open"}), (1, "Completed", {2: "Completed"}),
                          (2, "Canceled", {3: "Canceled"}))
SALES_STAGES = {0: "Qualify", 1: "Develop", 2: "Propose", 3: "Close"}                          # A.15
ACCESS_MODES = {0: "Read-Write", 1: "Administrative", 2: "Read", 3: "Support User", 4: "Non-interactive",
                5: "Delegated Admin"}

# The co-sell connector's columns on opportunity (connector-behaviour.md R-01..R-08,
# A.16).  Their logical names are NOT published: the msft_ names below are
# UNCONFIRMED and libpcref's field mapping makes them configurable.  Lengths
# are unknown; the emulator picks generous ones.
MSFT_OPPORTUNITY_COLUMNS = (
    Col("msft_microsoftpartnercenterreferralsync", "bool", default=False),      # R-01 Sync with Partner Center
    Col("msft_microsoftpartnercenterreferralidentifier", "string", 100),       # R-02 Referral Identifier
    Col("msft_microsoftpartnercenterreferrallink", "string", 2000),           # R-03 Referral Link (URL)
    # R-04 "How can Microsoft help?" is a choice (option set) whose values are
    # unpublished: the emulator takes an integer or a text (the safest reading).
    Col("msft_microsoftpartnercenterhelp", "flex", 100),
    Col("msft_microsoftpartnercentervisibility", "bool", default=False),      # R-05 Referral Visibility
    Col("msft_microsoftcrmidentifier", "string", 100),                        # R-06 Microsoft CRM Identifier
    Col("msft_microsoftpartnercentersolutions", "string", 4000),              # R-07 deprecated "Products"
    Col("msft_microsoftpartnercenterreferralsyncaudit", "memo", 1048576),     # R-08 Audit
)
REFERRAL_ID = "msft_microsoftpartnercenterreferralidentifier"
CUSTOMER = {"customerid_account": "accounts", "customerid_contact": "contacts"}          # A.9

OPPORTUNITY = Entity(
    "opportunities", "opportunity", "opportunityid", "name", [
        Col("name", "string", 300), Col("estimatedvalue", "money"), Col("estimatedclosedate", "date"),
        Col("actualvalue", "money"), Col("actualclosedate", "date"), Col("closeprobability", "int"),
        Col("description", "memo", 2000), Col("stepname", "string", 200),
        Col("salesstage", "choice", options=SALES_STAGES), *MSFT_OPPORTUNITY_COLUMNS],
    [Lookup("transactioncurrencyid", "transactioncurrencies", on_delete="restrict"),
     Lookup("parentaccountid", "accounts"), Lookup("parentcontactid", "contacts"),
     Lookup("customerid", CUSTOMER), Lookup("originatingleadid", "leads")],
    OPPORTUNITY_STATES)
ACCOUNT = Entity(
    "accounts", "account", "accountid", "name", [
        Col("name", "string", 160), Col("accountnumber", "string", 20), Col("address1_line1", "string", 250),
        Col("address1_line2", "string", 250), Col("address1_city", "string", 80),
        Col("address1_stateorprovince", "string", 50), Col("address1_postalcode", "string", 20),
        Col("address1_country", "string", 80), Col("telephone1", "string", 50)],
    [Lookup("parentaccountid", "accounts"), Lookup("primarycontactid", "contacts"),
     Lookup("transactioncurrencyid", "transactioncurrencies", on_delete="restrict")],
    ACTIVE_STATES)
CONTACT = Entity(
    "contacts", "contact", "contactid", "fullname", [
        Col("firstname", "string", 50), Col("lastname", "string", 50), Col("fullname", "string", 160, readonly=True),
        Col("emailaddress1", "string", 100), Col("telephone1", "string", 50), Col("jobtitle", "string", 100)],
    [Lookup("parentcustomerid", {"parentcustomerid_account": "accounts", "parentcustomerid_contact": "contacts"})],
    ACTIVE_STATES, computed_name=True)
LEAD = Entity(
    "leads", "lead", "leadid", "fullname", [
        Col("subject", "string", 300), Col("companyname", "string", 100), Col("firstname", "string", 50),
        Col("lastname", "string", 50), Col("fullname", "string", 160, readonly=True),
        Col("emailaddress1", "string", 100), Col("telephone1", "string", 50), Col("budgetamount", "money"),
        Col("description", "memo", 2000), Col(REFERRAL_ID, "string", 100)],
    [Lookup("parentaccountid", "accounts"), Lookup("parentcontactid", "contacts"),
     Lookup("transactioncurrencyid", "transactioncurrencies", on_delete="restrict")],
    LEAD_STATES, computed_name=True)
CURRENCY = Entity(
    "transactioncurrencies", "transactioncurrency", "transactioncurrencyid", "currencyname", [
        Col("isocurrencycode", "string", 5), Col("currencyname", "string", 100), Col("currencysymbol", "string", 10),
        Col("currencyprecision", "int"), Col("exchangerate", "decimal")],
    states=ACTIVE_STATES, owned=False)                                                         # A.15
SYSTEMUSER = Entity(
    "systemusers", "systemuser", "systemuserid", "fullname", [
        Col("fullname", "string", 200, readonly=True), Col("firstname", "string", 64), Col("lastname", "string", 64),
        Col("internalemailaddress", "string", 100), Col("domainname", "string", 1024), Col("isdisabled", "bool",
                                                                                          default=False),
        Col("accessmode", "choice", options=ACCESS_MODES, default=0), Col("applicationid", "string", 100),
        Col("azureactivedirectoryobjectid", "guid")],
    owned=False, named_key=False, deletable=False, computed_name=True)                        # A.5, A.15
# "Microsoft Partner Center Solutions" link rows (R-07, A.16).  The real
# entity and column names are UNCONFIRMED; libpcref's mapping makes them
# configurable.  Deleting the opportunity deletes its link rows (a parental
# relationship is the safest reading; UNCONFIRMED).
SOLUTION = Entity(
    "msft_mpcsolutions", "msft_mpcsolution", "msft_mpcsolutionid", "msft_name", [
        Col("msft_name", "string", 200), Col("msft_solutionid", "string", 100)],
    [Lookup("msft_opportunityid", "opportunities", on_delete="cascade")],
    ACTIVE_STATES)
# The opportunityclose activity that WinOpportunity/LoseOpportunity create (A.14).
OPPORTUNITY_CLOSE = Entity(
    "opportunitycloses", "opportunityclose", "activityid", "subject", [
        Col("subject", "string", 200), Col("description", "memo", 2000), Col("actualrevenue", "money"),
        Col("actualend", "date")],
    [Lookup("opportunityid", "opportunities", on_delete="cascade")],
    ACTIVITY_STATES)

ENTITIES = {e.set: e for e in (OPPORTUNITY, ACCOUNT, CONTACT, LEAD, CURRENCY, SYSTEMUSER, SOLUTION,
                               OPPORTUNITY_CLOSE)}
BY_LOGICAL = {e.logical: e for e in ENTITIES.values()}
# target set -> [(referencing entity, lookup)] for delete behaviour
REFERENCES = {}
for _ent in ENTITIES.values():
    for _lk in _ent.lookups:
        for _target in set(_lk.targets.values()):
            REFERENCES.setdefault(_target, []).append((_ent, _lk))


# --------------------------------------------------------------------------
# Ids, etags, time
# --------------------------------------------------------------------------

# SQL Server compares uniqueidentifier values by their .NET byte array in this
# order; Dataverse sorts (and pages) by it.
_SQL_ORDER = (10, 11, 12, 13, 14, 15, 8, 9, 6, 7, 4, 5, 0, 1, 2, 3)


@functools.lru_cache(maxsize=65536)
def sql_guid_key(text: str) -> bytes:
    le = uuid.UUID(text).bytes_le
    return bytes(le[i] for i in _SQL_ORDER)


class SequentialGuids:
    """Server ids in Dataverse's style: consecutive ids differ in their first
    byte (the A.4/A.12 sample ids) and sort in creation order under SQL
    Server's uniqueidentifier order, so the default order is creation order."""

    def __init__(self):
        self._tail = b"\x00\x0d\x3a" + secrets.token_bytes(3)
        self._mid = secrets.token_bytes(2)
        self._n = (time.time_ns() // 1000) << 8

    def next(self) -> str:
        self._n += 1
        big = self._n.to_bytes(8, "big")
        le = bytearray(16)
        for i, pos in enumerate((6, 7, 4, 5, 0, 1, 2, 3)):
            le[pos] = big[i]
        le[8:10], le[10:16] = self._mid, self._tail
        return str(uuid.UUID(bytes_le=bytes(le)))


def etag(row) -> str:
    return f'W/"{row["versionnumber"]}"'                                                 # A.8


def _etag_matches(header, row) -> bool:
    current = str(row["versionnumber"])
    for tag in header.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag.strip('"') == current:
            return True
    return False


def normalize_datetime(text):
    ticks = parse_datetime(text)
    return None if ticks is None else format_ticks(ticks)


# --------------------------------------------------------------------------
# Request helpers
# --------------------------------------------------------------------------

_PREFER_RE = re.compile(r'\s*([^,=\s]+)(?:\s*=\s*("[^"]*"|[^,]*))?')


def parse_prefer(headers) -> dict:
    """Prefer preferences (A.2), several headers and comma lists merged."""
    values = headers.get_all("Prefer") if hasattr(headers, "get_all") else [headers.get("Prefer")]
    prefs = {}
    for value in values or ():
        for name, val in _PREFER_RE.findall(value or ""):
            prefs[name.lower()] = val.strip().strip('"')
    return prefs


def annotation_filter(prefs):
    """Matcher for ``odata.include-annotations`` terms (wildcards allowed), or None."""
    value = prefs.get("odata.include-annotations")
    patterns = [p.strip() for p in (value or "").split(",") if p.strip() and not p.strip().startswith("-")]
    if not patterns:
        return None
    return lambda term: any(fnmatch.fnmatchcase(term, p) for p in patterns)


class Ctx:
    """What one API operation runs with: caller, API version, parsed Prefer,
    batch state (Content-ID map inside a change set) and the entity the
    operation addressed (for Content-ID and the batch Location header)."""

    __slots__ = ("user", "ver", "rest", "prefs", "annotate", "content_ids", "in_batch", "entity_ref")

    def __init__(self, user, ver, rest, headers, content_ids=None, in_batch=False):
        self.user, self.ver, self.rest = user, ver, rest
        self.prefs = parse_prefer(headers)
        self.annotate = annotation_filter(self.prefs)
        self.content_ids, self.in_batch, self.entity_ref = content_ids, in_batch, None

    def applied(self, *names) -> dict:
        """A Preference-Applied header for the given preferences that were asked for."""
        parts = []
        for name in names:
            if name not in self.prefs:
                continue
            value = self.prefs[name]
            if name == "odata.include-annotations":
                value = f'"{value}"'
            parts.append(f"{name}={value}" if value else name)
        return {"Preference-Applied": ",".join(parts)} if parts else {}


def json_out(obj, status=200, headers=None) -> Response:
    return Response(status, json_bytes(obj), headers, JSON_CT)


def _split_top(text, sep):
    """Split on ``sep`` outside parentheses and quotes."""
    parts, depth, quoted, cur = [], 0, False, []
    for ch in text:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if ch == sep and depth == 0 and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def unknown_property(ent, name) -> ApiError:
    return ApiError(400, E_PROPERTY, f"Could not find a property named '{name}' on type '{ent.type_name}'.")


def not_supported(what) -> ApiError:
    return ApiError(501, E_INVALID, f"{what} is not supported by the libpcref Dataverse emulator.")


# --------------------------------------------------------------------------
# $filter (A.10): eq ne gt ge lt le, and or not, ( ), contains startswith endswith
# --------------------------------------------------------------------------

_FTOKEN = re.compile(r"""
   (?P<ws>\s+)
 | (?P<str>'(?:[^']|'')*')
 | (?P<guid>""" + GUID_RE + r""")(?![0-9A-Za-z-])
 | (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:\d{2})?)
 | (?P<date>\d{4}-\d{2}-\d{2})(?![\d:T])
 | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?)
 | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
 | (?P<punct>[(),/])
""", re.X)
_COMPARE = {"eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "ge": operator.ge, "lt": operator.lt,
            "le": operator.le}
_OP_KIND = {"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual", "lt": "LessThan",
            "le": "LessThanOrEqual"}
_FUNCTIONS = {"contains": operator.contains, "startswith": str.startswith, "endswith": str.endswith}
# column kind -> comparison family
_FAMILY = {"string": "string", "memo": "string", "guid": "guid", "lookup": "guid", "datetime": "datetime",
           "date": "date", "money": "number", "decimal": "number", "int": "number", "bigint": "number",
           "choice": "number", "state": "number", "status": "number", "bool": "bool", "flex": "flex"}
_EDM = {"string": "Edm.String", "guid": "Edm.Guid", "datetime": "Edm.DateTimeOffset", "date": "Edm.Date",
        "number": "Edm.Decimal", "bool": "Edm.Boolean", "flex": "Edm.String"}


def _flex_key(v):
    return (1, v.casefold()) if isinstance(v, str) else (0, float(v))


# family -> value normalizer used by $filter and $orderby (strings compare case-insensitively, A.10)
NORMALIZE = {"string": str.casefold, "guid": lambda v: sql_guid_key(v.lower()), "datetime": parse_datetime,
             "date": lambda v: v[:10], "number": float, "bool": bool, "flex": _flex_key}


class FilterCompiler:
    """Compiles a ``$filter`` for one entity into ``match(row) -> bool``.
    Unknown columns and incompatible operand types are 400s with the OData
    messages; navigation paths and Microsoft.Dynamics.CRM.* functions are not
    emulated (501)."""

    def __init__(self, ent, text):
        self.ent, self.text = ent, text
        qualified = re.search(r"\b(Microsoft\.Dynamics\.CRM\.\w+)\s*\(", text)
        if qualified:   # A.10: 60+ query functions, none emulated
            raise not_supported(f"The $filter function {qualified.group(1)}")
        self.toks, pos = [], 0
        while pos < len(text):
            m = _FTOKEN.match(text, pos)
            if not m:
                raise self._syntax(pos)
            if m.lastgroup != "ws":
                self.toks.append((m.lastgroup, m.group(m.lastgroup), pos))
            pos = m.end()
        self.i = 0
        if not self.toks:
            raise self._syntax(0)
        self.match = self._or()
        if self.i < len(self.toks):
            raise self._syntax(self.toks[self.i][2])

    def _syntax(self, pos):
        return ApiError(400, E_PROPERTY, f"Syntax error at position {pos} in '{self.text}'.")

    def _peek(self, kind=None, value=None, ahead=0):
        if self.i + ahead >= len(self.toks):
            return None
        tok = self.toks[self.i + ahead]
        if (kind and tok[0] != kind) or (value is not None and tok[1] != value):
            return None
        return tok

    def _accept(self, kind, value=None):
        tok = self._peek(kind, value)
        if tok:
            self.i += 1
        return tok

    def _expect(self, kind, value=None):
        tok = self._accept(kind, value)
        if not tok:
            raise self._syntax(self.toks[self.i][2] if self.i < len(self.toks) else len(self.text))
        return tok

    def _or(self):
        parts = [self._and()]
        while self._accept("ident", "or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def _and(self):
        parts = [self._unary()]
        while self._accept("ident", "and"):
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def _unary(self):
        if self._accept("ident", "not"):
            inner = self._unary()
            return lambda row: not inner(row)
        return self._primary()

    def _primary(self):
        if self._accept("punct", "("):
            inner = self._or()
            self._expect("punct", ")")
            return inner
        tok = self._peek("ident")
        if tok and self._peek("punct", "(", ahead=1):
            if tok[1] in _FUNCTIONS:
                return self._function()
            raise not_supported(f"The $filter function {tok[1]!r}")
        left = self._operand()
        op = self._peek("ident")
        if not op or op[1] not in _COMPARE:
            raise self._syntax(op[2] if op else (self.toks[self.i][2] if self.i < len(self.toks) else len(self.text)))
        self.i += 1
        return self._compare(op[1], left, self._operand())

    def _operand(self):
        """("col", name, family) or ("lit", family|None, value, edm name)."""
        tok = self._peek()
        if tok is None or tok[0] == "punct":
            raise self._syntax(tok[2] if tok else len(self.text))
        self.i += 1
        kind, text, _ = tok
        if kind == "str":
            return ("lit", "string", text[1:-1].replace("''", "'"), "Edm.String")
        if kind == "guid":
            return ("lit", "guid", text.lower(), "Edm.Guid")
        if kind == "dt":
            return ("lit", "datetime", text, "Edm.DateTimeOffset")
        if kind == "date":
            return ("lit", "date", text, "Edm.Date")
        if kind == "num":
            text = text.rstrip("mMdDfFlL")
            integral = not any(c in text for c in ".eE")
            return ("lit", "number", float(text), "Edm.Int32" if integral else "Edm.Decimal")
        if text in ("true", "false"):
            return ("lit", "bool", text == "true", "Edm.Boolean")
        if text == "null":
            return ("lit", None, None, "null")
        if self._peek("punct", "/") and text in self.ent.navprops:
            raise not_supported("A navigation path in $filter")
        col = self.ent.columns.get(text)
        if col is None:
            raise unknown_property(self.ent, text)
        return ("col", text, _FAMILY[col.kind])

    def _function(self):
        name = self._expect("ident")[1]
        self._expect("punct", "(")
        target = self._operand()
        self._expect("punct", ",")
        needle = self._operand()
        self._expect("punct", ")")
        if target[0] != "col" or target[2] not in ("string", "flex") or needle[:2] != ("lit", "string"):
            raise ApiError(400, E_PROPERTY, f"The function '{name}' needs a text column and a text literal, "
                                            f"as in {name}(name,'abc').")
        column, value, test = target[1], needle[2].casefold(), _FUNCTIONS[name]
        return lambda row: isinstance(row.get(column), str) and test(row[column].casefold(), value)

    def _family(self, op, left, right):
        fams = [o[2] if o[0] == "col" else o[1] for o in (left, right)]
        known = [f for f in fams if f is not None]
        if len(known) < 2 or known[0] == known[1]:
            return known[0] if known else "string"
        pair = set(known)
        if pair == {"datetime", "date"}:   # a date-only column compares by date, a date-time one by instant
            columns = {o[2] for o in (left, right) if o[0] == "col"}
            return "date" if "date" in columns else "datetime"
        if "flex" in pair and pair & {"string", "number"}:
            return "flex"
        edm = [o[3] if o[0] == "lit" else _EDM[o[2]] for o in (left, right)]
        raise ApiError(400, E_PROPERTY, f"A binary operator with incompatible types was detected. Found operand "
                                        f"types '{edm[0]}' and '{edm[1]}' for operator kind '{_OP_KIND[op]}'.")

    def _getter(self, operand, family):
        norm = NORMALIZE[family]
        if operand[0] == "lit":
            value = None if operand[2] is None else norm(operand[2])
            return lambda row: value
        name = operand[1]

        def get(row):
            v = row.get(name)
            return None if v is None else norm(v)
        return get

    def _compare(self, op, left, right):
        family = self._family(op, left, right)
        lget, rget, test = self._getter(left, family), self._getter(right, family), _COMPARE[op]

        def compare(row):
            a, b = lget(row), rget(row)
            if a is None or b is None:
                if op == "eq":
                    return a is None and b is None
                return op == "ne" and (a is None) != (b is None)
            try:
                return test(a, b)
            except TypeError:
                return op == "ne"
        return compare


class _Desc:
    """Reverses the order of a sort-key element ($orderby ... desc)."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __lt__(self, other):
        return other.v < self.v

    def __eq__(self, other):
        return self.v == other.v


def sort_key_function(ent, order):
    """Key for ``order`` [(column, descending)] plus the primary key (SQL
    order): nulls first ascending, last descending."""
    getters = [(name, NORMALIZE[_FAMILY[ent.columns[name].kind]], desc) for name, desc in order]
    pk = ent.pk

    def key(row):
        parts = []
        for name, norm, desc in getters:
            v = row.get(name)
            item = (0,) if v is None else (1, norm(v))
            parts.append(_Desc(item) if desc else item)
        parts.append(sql_guid_key(row[pk]))
        return tuple(parts)
    return key


def parse_select(ent, text):
    """$select -> list of columns, None for all (A.5: the primary key is always returned)."""
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if "*" in names:
        return None
    for name in names:
        if name not in ent.columns:
            raise unknown_property(ent, name)
    return list(dict.fromkeys(names))


def parse_orderby(ent, text):
    order = []
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        words = part.split()
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise ApiError(400, E_PROPERTY, f"Syntax error in $orderby '{text}': use '<column> [asc|desc]'.")
        if words[0] not in ent.columns:
            raise unknown_property(ent, words[0])
        order.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return order


def parse_expand(ent, text):
    """$expand of single-valued navigation properties, each with an optional
    ($select=...): [(navprop, lookup, target set, select)]."""
    result = []
    for item in _split_top(text or "", ","):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?", item, re.S)
        if not m:
            raise ApiError(400, E_PROPERTY, f"Syntax error in $expand '{text}'.")
        if m[1] not in ent.navprops:
            raise unknown_property(ent, m[1])
        lk, target = ent.navprops[m[1]]
        select = None
        for option in _split_top(m[2] or "", ";"):
            name, _, value = option.partition("=")
            if name.strip() != "$select":
                raise not_supported(f"The nested $expand option {name.strip()!r}")
            select = parse_select(ENTITIES[target], value)
        result.append((m[1], lk, target, select))
    return result


def context_url(api, ent, select, expand=(), suffix=""):
    parts = list(select or ())
    parts += [f"{nav}({','.join(sel)})" if sel else f"{nav}()" for nav, _, _, sel in expand]
    return f"{api}/$metadata#{ent.set}" + (f"({','.join(parts)})" if parts else "") + suffix


# --------------------------------------------------------------------------
# $batch multipart (A.12)
# --------------------------------------------------------------------------

def _boundary(content_type):
    m = re.search(r'boundary\s*=\s*("?)([^";,\s]+)\1', content_type or "", re.I)
    return m.group(2) if m else None


def split_multipart(text, boundary):
    """[(part headers (lower-case names), part content)] of a multipart body."""
    delim = re.compile(r"(?:\A|\r?\n)--" + re.escape(boundary) + r"(--)?[ \t]*(?:\r?\n|\Z)")
    pieces = delim.split(text)
    parts = []
    for i in range(1, len(pieces) - 1, 2):
        if pieces[i] == "--":
            return parts
        raw = pieces[i + 1]
        found = re.search(r"\r?\n\r?\n", raw)
        head, content = (raw[:found.start()], raw[found.end():]) if found else (raw, "")
        headers = {}
        for line in head.splitlines():
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        parts.append((headers, content))
    raise ApiError(400, E_INVALID, f"The multipart body has no closing '--{boundary}--' delimiter.")


class BatchOp:
    __slots__ = ("method", "url", "headers", "body", "content_id")

    def __init__(self, part_headers, content):
        m = re.match(r"([A-Za-z]+)[ \t]+(\S+)(?:[ \t]+HTTP/\d\.\d)?[ \t]*\r?\n?", content)
        if not m:
            raise ApiError(400, E_INVALID, "A $batch operation must start with a request line "
                                           "'<METHOD> <URL> HTTP/1.1'.")
        self.method, self.url = m.group(1).upper(), m.group(2)
        rest = content[m.end():]
        if re.match(r"\r?\n", rest):
            head, body = "", rest
        else:
            found = re.search(r"\r?\n\r?\n", rest)
            head, body = (rest[:found.start()], rest[found.end():]) if found else (rest, "")
        raw = "\r\n".join(line for line in head.splitlines() if line.strip()) + "\r\n\r\n"
        self.headers = http.client.parse_headers(io.BytesIO(raw.encode("utf-8")))
        self.body = body.strip().encode("utf-8")
        self.content_id = part_headers.get("content-id") or self.headers.get("Content-ID")


def req_stub(op):
    """A peerlib.Request for a batch operation (before its URL is resolved)."""
    stub = peerlib.Request(op.method, "/", op.headers)
    stub.body = op.body
    return stub


def _http_part(resp, content_id):
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    try:
        phrase = http.HTTPStatus(resp.status).phrase
    except ValueError:
        phrase = "Unknown"
    lines = [f"HTTP/1.1 {resp.status} {phrase}", "OData-Version: 4.0"]
    for name, value in resp.headers.items():
        if name == "OData-EntityId":
            lines.append(f"Location: {value}")
        lines.append(f"{name}: {value}")
    return head + "\r\n" + "\r\n".join(lines) + "\r\n\r\n" + resp.body.decode("utf-8") + "\r\n"


class BatchWriter:
    def __init__(self):
        self.boundary = f"batchresponse_{uuid.uuid4()}"
        self.chunks = []

    def part(self, resp, content_id):
        self.chunks.append(f"--{self.boundary}\r\n{_http_part(resp, content_id)}")

    def changeset(self, answers):
        inner = f"changesetresponse_{uuid.uuid4()}"
        body = "".join(f"--{inner}\r\n{_http_part(resp, cid)}" for resp, cid in answers)
        self.chunks.append(f"--{self.boundary}\r\nContent-Type: multipart/mixed; boundary={inner}\r\n\r\n"
                           f"{body}--{inner}--\r\n")

    def finish(self) -> bytes:
        return ("".join(self.chunks) + f"--{self.boundary}--\r\n").encode("utf-8")


# --------------------------------------------------------------------------
# Generated data (POST /_control/generate)
# --------------------------------------------------------------------------

COMPANIES = ("Contoso", "Fabrikam", "Northwind Traders", "Adventure Works", "Tailspin Toys", "Wingtip Toys",
             "Litware", "Proseware", "Woodgrove Bank", "Alpine Ski House", "Coho Winery", "Fourth Coffee",
             "Lamna Healthcare", "Trey Research", "VanArsdel", "Wide World Importers", "Blue Yonder Airlines",
             "Relecloud", "Humongous Insurance", "Lucerne Publishing", "Consolidated Messenger")
PROJECTS = ("Azure migration", "Dynamics 365 Sales rollout", "Security assessment", "Data platform modernization",
            "Teams Phone deployment", "Copilot pilot", "SAP on Azure", "Endpoint management",
            "Analytics with Fabric", "Contact center modernization")
FIRST_NAMES = ("Sue", "John", "Maria", "Kenji", "Aisha", "Lars", "Priya", "Tomás", "Chen", "Fatima", "Oliver",
               "Ingrid", "Diego", "Mei", "Noah", "Zara")
LAST_NAMES = ("Smith", "Doe", "Garcia", "Tanaka", "Khan", "Andersson", "Patel", "Silva", "Wang", "Haddad",
              "Brown", "Johansson", "Lopez", "Lin", "Müller", "Okafor")
# (city, state, postal code, ISO 3166 alpha-2 country: A.16, R-12), company suffix
PLACES = ((("Redmond", "WA", "98052", "US"), "Inc."), (("Stockholm", None, "111 52", "SE"), "AB"),
          (("London", None, "EC1A 1BB", "GB"), "Ltd"), (("Munich", "BY", "80331", "DE"), "GmbH"),
          (("Paris", None, "75001", "FR"), "SA"), (("Toronto", "ON", "M5H 2N2", "CA"), "Inc."),
          (("Sydney", "NSW", "2000", "AU"), "Pty Ltd"), (("Tokyo", None, "100-0001", "JP"), "KK"))
STREETS = ("Main Street", "Harbour Road", "Kungsgatan", "Market Street", "Rue de Rivoli", "King Street")
STEP_NAMES = ("1-Qualify", "2-Develop", "3-Propose", "4-Close")
# (weight, statecode, statuscodes)
OPPORTUNITY_MIX = ((80, 0, (1,)), (8, 0, (2,)), (7, 1, (3,)), (5, 2, (4, 5)))
GENERATED_SETS = ("opportunities", "accounts", "contacts", "leads")


def _ascii(text):
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()


def _person(rng, i, domain):
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    email = f"{_ascii(first)}.{_ascii(last)}{i}@{domain}.example"
    return {"firstname": first, "lastname": last, "emailaddress1": email,
            "telephone1": f"+1 425 555 {rng.randrange(10000):04d}"}


# --------------------------------------------------------------------------
# Azure AD token errors (A.1)
# --------------------------------------------------------------------------

class AadError(ApiError):
    """A token endpoint error (``error`` + ``AADSTS<code>``)."""

    def __init__(self, status, error, aadsts, text):
        super().__init__(status, error, text)
        self.aadsts = aadsts


def _is_dataverse_resource(resource):
    split = urllib.parse.urlsplit(resource)
    host = (split.hostname or "").lower()
    if split.scheme == "https" and host.endswith(".dynamics.com"):
        return True
    return split.scheme in ("http", "https") and host in ("127.0.0.1", "localhost", "::1")


class DataverseRequestLog(peerlib.RequestLog):
    """peerlib's request log plus ``batch_ops`` (inner operations) on $batch entries."""

    def add(self, req, status, fault):
        super().add(req, status, fault)
        ops = getattr(req, "batch_ops", None)
        if ops is not None:
            self._entries[-1]["batch_ops"] = ops


# --------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------

API = r"/api/data/(?P<ver>v9\.[0-2])/(?P<rest>.*)"
SPECIAL_RESOURCES = ("", "$batch", "$metadata", "WhoAmI", "WinOpportunity", "LoseOpportunity")


class Dataverse(peerlib.Emulator):
    """Microsoft Dataverse Web API v9.2 emulator (opportunities, accounts, contacts, leads)."""

    name = "dataverse"
    collections = tuple(ENTITIES) + ("credentials",)
    routes = (
        Route("POST", r"/(?P<tenant>[A-Za-z0-9._-]+)/oauth2/v2\.0/token", "token"),
        *(Route(method, API, "api", auth="api") for method in ("GET", "POST", "PATCH", "PUT", "DELETE")),
        Route("POST", r"/_control/generate", "control_generate"),
        Route("POST", r"/_control/throttle", "control_throttle"),
        Route("GET", r"/_control/config", "control_config"),
        Route("POST", r"/_control/config", "control_config"),
    )
    DEFAULT_CONFIG = {"datetime_digits": 7}

    default_rows = {
        "transactioncurrencies": [
            {"transactioncurrencyid": CURRENCY_IDS[iso], "isocurrencycode": iso, "currencyname": name,
             "currencysymbol": symbol, "currencyprecision": 2, "exchangerate": rate}
            for iso, name, symbol, rate in (("USD", "US Dollar", "$", 1.0), ("EUR", "Euro", "€", 0.92),
                                            ("SEK", "Swedish Krona", "kr", 10.5), ("GBP", "Pound Sterling", "£", 0.79))],
        "systemusers": [
            {"systemuserid": APP_USER_ID, "fullname": "# pcref-demo-client", "applicationid": "pcref-demo-client",
             "accessmode": 4},
            {"systemuserid": SELLER_ID, "firstname": "Sam", "lastname": "Seller",
             "internalemailaddress": "seller@contoso.example", "domainname": "seller@contoso.example"}],
        "credentials": [DEFAULT_CREDENTIALS],
    }

    def __init__(self, seed_file=None, quiet=False):
        super().__init__(seed_file=seed_file, quiet=quiet)
        self.request_log = DataverseRequestLog()
        self.clock = peerlib.UtcClock()
        self.ids = SequentialGuids()
        self.version = 500000
        self.deleted = []          # [(versionnumber, set, id)] for change tracking (A.11)
        self.journal = None        # undo log while an API request runs (change sets, A.12)
        self.config = dict(self.DEFAULT_CONFIG)

    def reset(self, defaults=True):
        with self.lock:
            self.deleted = []
            self.journal = None
            self.config = dict(self.DEFAULT_CONFIG)
            super().reset(defaults)
            self.tokens.lifetime = TOKEN_LIFETIME

    # -- peerlib hooks -------------------------------------------------------
    def error_response(self, req, err):
        if isinstance(err, AadError):
            return self._aad_error(err)
        if req.path.startswith(peerlib.CONTROL_PREFIX):
            return super().error_response(req, err)
        code = err.code if err.code.startswith("0x") else _CODE_FOR_STATUS.get(err.status, E_UNEXPECTED)
        return Response(err.status, json_bytes({"error": {"code": code, "message": err.message}}), err.headers,
                        ERROR_CT)

    def fault_body(self, req, fault):
        if fault.status == 429:   # service protection (A.13)
            code, message = THROTTLE["requests"]
            return Response(429, json_bytes({"error": {"code": code, "message": message}}), {"Retry-After": "1"},
                            ERROR_CT)
        try:
            text = http.HTTPStatus(fault.status).phrase
        except ValueError:
            text = "Injected fault"
        return self.error_response(req, ApiError(fault.status, "", f"{text} (injected fault)."))

    def response_headers(self, req):
        if not req.path.startswith("/api/"):
            return {}
        request_id = str(uuid.uuid4())
        return {"OData-Version": "4.0", "REQ_ID": request_id, "x-ms-service-request-id": request_id}

    def authenticate(self, req, tag):
        challenge = (f'Bearer authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize, '
                     f'resource_id={self.base_url}/')
        scheme, _, token = req.header("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, E_AUTH, "The requested resource requires authentication.",
                           headers={"WWW-Authenticate": challenge})
        claims, reason = self.tokens.lookup(token.strip())
        if claims is None:
            raise ApiError(401, E_AUTH, f"The requested resource requires authentication. {reason}",
                           headers={"WWW-Authenticate": f'{challenge}, error="invalid_token"'})
        return claims

    def insert(self, collection, row):
        """A /_control/seed row: stored columns (lookups as ``_x_value``),
        server columns filled when absent."""
        if collection == "credentials":
            row.setdefault("systemuserid", APP_USER_ID)
            return super().insert(collection, row)
        ent = ENTITIES[collection]
        new = dict(ent.template)
        for key, value in row.items():
            if key.startswith("@"):
                continue
            if "@" in key:
                new[key] = value
                continue
            col = ent.columns.get(key)
            if col is None:
                raise ApiError(400, "invalidRequest", f"{collection}: unknown column {key!r}.")
            new[key] = self._coerce(ent, col, value)
        new[ent.pk] = (new[ent.pk] or self.ids.next()).lower()
        self._complete(ent, new, APP_USER_ID)
        self._check_state(ent, None, new, row, internal=True)
        self._stamp(new, APP_USER_ID, create=True, keep_times=True)
        self.tables[collection][new[ent.pk]] = new
        return new

    # -- Azure AD token endpoint (A.1) ------------------------------------------
    def token(self, req):
        form = dict(urllib.parse.parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        client_id, secret = self._client_auth(req, form)
        grant = self._form_field(form, "grant_type")
        if grant != "client_credentials":
            raise AadError(400, "unsupported_grant_type", 70003,
                           f"The app requested an unsupported grant type '{grant}'; Dataverse server-to-server "
                           "access uses client_credentials.")
        scopes = self._form_field(form, "scope").split()
        resources = {s.rsplit("/", 1)[0].rstrip("/") for s in scopes}
        if len(resources) != 1:
            raise AadError(400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not "
                                                        "valid: name one resource, e.g. "
                                                        "'https://contoso.crm.dynamics.com/.default'.")
        if not all(s.endswith("/.default") for s in scopes):
            raise AadError(400, "invalid_scope", 1002012, "The provided value for scope is not valid. Client "
                                                          "credential flows must have a scope value with /.default "
                                                          "suffixed to the resource identifier.")
        resource = resources.pop()
        if not _is_dataverse_resource(resource):
            raise AadError(400, "invalid_resource", 500011,
                           f"The resource principal named {resource} was not found in the tenant named "
                           f"{req.params['tenant']}. Use the environment URL, e.g. "
                           f"https://contoso.crm.dynamics.com/.default or {self.base_url}/.default.")
        credential = self._credential(client_id, secret)
        if self.tokens.revoked:
            raise AadError(401, "invalid_client", 7000222, f"The provided client secret keys for app '{client_id}' "
                                                           "are expired.")
        claims = {"kind": "app", "sub": client_id, "client_id": client_id, "aud": resource,
                  "systemuserid": credential.get("systemuserid") or APP_USER_ID}
        access, _ = self.tokens.issue_access(claims)
        lifetime = self.tokens.lifetime
        return peerlib.json_response({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                                      "access_token": access},
                                     headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @staticmethod
    def _form_field(form, name):
        value = form.get(name)
        if not value:
            raise AadError(400, "invalid_request", 900144,
                           f"The request body must contain the following parameter: '{name}'.")
        return value

    def _client_auth(self, req, form):
        scheme, _, blob = req.header("Authorization", "").partition(" ")
        if scheme.lower() == "basic":   # RFC 6749 §2.3.1 (A.1)
            try:
                user, _, password = b64decode(blob.strip(), validate=True).decode("utf-8").partition(":")
            except ValueError:
                raise AadError(400, "invalid_request", 900144, "The Basic client credentials are malformed.") \
                    from None
            return urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)
        return self._form_field(form, "client_id"), form.get("client_secret")

    def _credential(self, client_id, secret):
        rows = [r for r in self.tables["credentials"].values() if r.get("client_id") == client_id]
        if not rows:
            raise AadError(400, "unauthorized_client", 700016,
                           f"Application with identifier '{client_id}' was not found in the directory.")
        for row in rows:
            if row.get("client_secret") == secret:
                return row
        raise AadError(401, "invalid_client", 7000215, "Invalid client secret provided.")

    def _aad_error(self, err):
        stamp = format_ticks(self.clock.ticks(), 0).replace("T", " ")
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        return peerlib.json_response({
            "error": err.code,
            "error_description": f"AADSTS{err.aadsts}: {err.message}\r\nTrace ID: {trace}\r\n"
                                 f"Correlation ID: {correlation}\r\nTimestamp: {stamp}",
            "error_codes": [err.aadsts], "timestamp": stamp, "trace_id": trace, "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={err.aadsts}"}, err.status)

    # -- storage: journal, versions, timestamps ---------------------------------
    def _store(self, ent, row):
        table = self.tables[ent.set]
        if self.journal is not None:
            self.journal.append((ent.set, row[ent.pk], table.get(row[ent.pk])))
        table[row[ent.pk]] = row

    def _drop(self, ent, rid):
        old = self.tables[ent.set].pop(rid)
        if self.journal is not None:
            self.journal.append((ent.set, rid, old))
            self.journal.append((None, len(self.deleted), None))
        self.version += 1
        self.deleted.append((self.version, ent.set, rid))

    def _rollback(self, mark):
        """Undo every write journaled after ``mark`` (a failed change set, A.12)."""
        if self.journal is None:
            return
        for set_name, key, old in reversed(self.journal[mark:]):
            if set_name is None:
                del self.deleted[key:]
            elif old is None:
                self.tables[set_name].pop(key, None)
            else:
                self.tables[set_name][key] = old
        del self.journal[mark:]

    def _stamp(self, row, user, create, keep_times=False):
        """Server columns of a write: modifiedon strictly increasing (peerlib.UtcClock),
        versionnumber incremented (A.8)."""
        now = format_ticks(self.clock.ticks())
        self.version += 1
        row["versionnumber"] = self.version
        if create:
            row["createdon"] = row.get("createdon") if keep_times and row.get("createdon") else now
            row["_createdby_value"] = row.get("_createdby_value") or user
        row["modifiedon"] = row.get("modifiedon") if keep_times and row.get("modifiedon") else now
        if not (keep_times and row.get("_modifiedby_value")):
            row["_modifiedby_value"] = user

    def _out_datetime(self, value):
        digits = self.config["datetime_digits"]
        if value is None or digits >= 7:
            return value
        return value[:19] + ("." + value[20:20 + digits] if digits else "") + "Z"

    # -- values ---------------------------------------------------------------
    @staticmethod
    def _payload_error(ent, inner):
        return ApiError(400, E_PAYLOAD, f"Error identified in Payload provided by the user for Entity :'{ent.set}', "
                                        "For more information on this error please follow this help link "
                                        "https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : "
                                        f"Microsoft.OData.ODataException: {inner}")

    def _coerce(self, ent, col, value):
        """A JSON value checked against the column's type (A.5 Edm types)."""
        if value is None:
            if col.kind in ("state", "status"):
                raise ApiError(400, E_INVALID, f"{col.name} of {ent.logical} cannot be null.")
            return None
        kind = col.kind

        def bad(edm):
            return self._payload_error(ent, f"Cannot convert the literal '{value}' to the expected type '{edm}'.")
        if kind in ("string", "memo", "flex"):
            if kind == "flex" and isinstance(value, int) and not isinstance(value, bool):
                return value
            if not isinstance(value, str):
                raise bad("Edm.String")
            if col.maxlen and len(value) > col.maxlen:
                raise ApiError(400, E_VALIDATION, f"A validation error occurred.  The length of the '{col.name}' "
                                                  f"attribute of the '{ent.logical}' entity exceeded the maximum "
                                                  f"allowed length of '{col.maxlen}'.")
            return value
        if kind in ("money", "decimal"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad("Edm.Decimal")
            if kind == "money" and abs(value) > 1e12:   # A.15: Money, +-1e12
                raise ApiError(400, E_VALIDATION, f"A validation error occurred.  The value {value} of "
                                                  f"'{col.name}' on record of type '{ent.logical}' is outside the "
                                                  "valid range.")
            return float(value)
        if kind in ("int", "bigint", "choice", "state", "status"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad("Edm.Int32")
            valid = {"choice": col.options, "state": ent.states, "status": ent.state_of}.get(kind)
            if valid is not None and value not in valid:
                raise ApiError(400, E_INVALID, f"{value} is not a valid value for the '{col.name}' column of "
                                               f"'{ent.logical}'; valid values: {', '.join(map(str, valid))}.")
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise bad("Edm.Boolean")
            return value
        if kind == "date":   # A.5: date-only columns are "yyyy-MM-dd" (Edm.Date)
            try:
                if not (isinstance(value, str) and _DATE.fullmatch(value)):
                    raise ValueError
                datetime.date.fromisoformat(value)
            except ValueError:
                raise bad("Edm.Date") from None
            return value
        if kind == "datetime":
            normalized = normalize_datetime(value)
            if normalized is None:
                raise bad("Edm.DateTimeOffset")
            return normalized
        if kind in ("guid", "lookup"):
            if not (isinstance(value, str) and _GUID.fullmatch(value)):
                raise bad("Edm.Guid")
            return value.lower()
        raise AssertionError(kind)

    def _parse_body(self, ent, body, ctx):
        """A create/update body -> (column changes, primary key given or None).
        Lookups are written with ``<navprop>@odata.bind`` (A.9)."""
        if not isinstance(body, dict):
            raise self._payload_error(ent, "The request body must be a JSON object.")
        changes, given_pk = {}, None
        for key, value in body.items():
            if key.endswith("@odata.bind"):
                self._bind(ent, key[:-len("@odata.bind")], value, changes, ctx)
                continue
            if "@" in key:   # instance annotations (@odata.type, x@OData.Community...) are ignored
                continue
            col = ent.columns.get(key)
            if col is None:
                lk = ent.lookup_by_name.get(key) or (ent.navprops.get(key) or (None,))[0]
                if lk is None or lk.readonly:
                    raise self._payload_error(ent, f"The property '{key}' does not exist on type '{ent.type_name}'. "
                                                   "Make sure to only use property names that are defined by the "
                                                   "type or mark the type as open type.")
                if value is not None:
                    raise not_supported("Deep insert (a nested object in a navigation property)")
                self._set_lookup(changes, lk, None, None)
                continue
            if key == ent.pk:
                given_pk = self._coerce(ent, col, value)
                continue
            if col.kind == "lookup":
                raise self._payload_error(ent, f"The property '{key}' is a read-only lookup value; write the lookup "
                                               f"with '{next(iter(col.lookup.targets))}@odata.bind'.")
            if col.readonly:   # system columns (createdon, versionnumber, fullname ...) are ignored on write
                continue
            changes[key] = self._coerce(ent, col, value)
        return changes, given_pk

    @staticmethod
    def _set_lookup(changes, lk, target_ent, rid):
        changes[lk.column] = rid
        if lk.polymorphic:
            changes[f"{lk.column}@{LOOKUP_LOGICAL}"] = target_ent.logical if target_ent else None

    def _bind(self, ent, nav, value, changes, ctx):
        entry = ent.navprops.get(nav)
        if entry is None or entry[0].readonly:
            raise self._payload_error(ent, f"An undeclared property '{nav}' which only has property annotations in "
                                           "the payload but no property value was found in the payload. In OData, "
                                           "only declared navigation properties and declared named streams can be "
                                           "represented as properties without values.")
        lk, target = entry
        if value is None:
            self._set_lookup(changes, lk, None, None)
            return
        if not isinstance(value, str):
            raise not_supported(f"A collection-valued or non-text @odata.bind ({nav})")
        set_name, rid = self._resolve_reference(value, ctx, ent)
        if set_name != target:
            raise self._payload_error(ent, f"The reference '{value}' names the entity set '{set_name}', but the "
                                           f"navigation property '{nav}' of '{ent.type_name}' binds to '{target}'.")
        target_ent = ENTITIES[set_name]
        if rid not in self.tables[set_name]:
            raise self._not_found(target_ent, rid)
        self._set_lookup(changes, lk, target_ent, rid)

    def _resolve_reference(self, value, ctx, ent):
        """An entity reference (``/accounts(id)``, ``accounts(id)``, an absolute
        URI or a ``$n`` Content-ID reference, A.4/A.12) -> (set, id)."""
        text = value.strip()
        m = re.fullmatch(r"\$(\w+)", text)
        if m:
            return self._content_reference(m.group(1), ctx.content_ids)
        text = re.sub(r"^https?://[^/]+", "", text)
        text = re.sub(r"^/?api/data/v9\.[0-2]/", "", text).lstrip("/")
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\((.*)\)", text)
        if not m or m.group(1) not in ENTITIES:
            raise self._payload_error(ent, f"The value '{value}' is not a valid entity reference; use "
                                           "'/<entityset>(<id>)'.")
        return m.group(1), self._parse_key(ENTITIES[m.group(1)], m.group(2))

    @staticmethod
    def _content_reference(name, content_ids):
        ref = (content_ids or {}).get(name)
        if ref is None:
            raise ApiError(400, E_INVALID, f"Content-ID Reference: '${name}' does not exist in the batch context.")
        return ref

    @staticmethod
    def _parse_key(ent, text):
        """``<guid>`` or ``<pk>=<guid>``; alternate keys are not declared on these tables (A.5, A.17)."""
        text = (text or "").strip()
        m = _GUID.fullmatch(text)
        if not m and ent.named_key:
            m = re.fullmatch(rf"{ent.pk}\s*=\s*({GUID_RE})", text)
        if not m:
            raise ApiError(400, E_INVALID, f"The key in the request URI is not valid for resource '{ent.type_name}'. "
                                           "Ensure that the names and number of key properties match the declared "
                                           f"or alternate key properties for the resource '{ent.type_name}'.")
        return m.group(m.lastindex or 0).lower()

    @staticmethod
    def _not_found(ent, rid):
        return ApiError(404, E_NOT_FOUND, f"{ent.logical} With Id = {rid} Does Not Exist")    # A.3

    # -- write rules ---------------------------------------------------------------
    def _complete(self, ent, row, user):
        """Defaults of a new row: owner = caller, base currency (A.4), computed name."""
        if "_ownerid_value" in ent.columns and not row.get("_ownerid_value"):
            row["_ownerid_value"] = user
        if "_transactioncurrencyid_value" in ent.columns and not row.get("_transactioncurrencyid_value"):
            row["_transactioncurrencyid_value"] = CURRENCY_IDS[BASE_CURRENCY]
        self._compute_name(ent, row)

    @staticmethod
    def _compute_name(ent, row):
        if ent.computed_name and (row.get("firstname") or row.get("lastname")):
            row["fullname"] = " ".join(p for p in (row.get("firstname"), row.get("lastname")) if p)

    def _check_state(self, ent, old, new, changes, internal):
        """statecode/statuscode pairs (A.6, A.15) and the closed-opportunity
        rules (A.14): Won/Lost only through the actions, closed rows read-only."""
        if not ent.states:
            return
        if "statecode" in changes and "statuscode" not in changes:
            new["statuscode"] = ent.states[new["statecode"]][1]
        elif "statuscode" in changes and "statecode" not in changes:
            new["statecode"] = ent.state_of[new["statuscode"]]
        label, _, statuses = ent.states[new["statecode"]]
        if new["statuscode"] not in statuses:
            raise ApiError(400, E_INVALID, f"{new['statuscode']} is not a valid status code for state code "
                                           f"{ent.logical.capitalize()}State.{label} on {ent.logical} with Id "
                                           f"{new[ent.pk]}.")
        if internal:
            return
        if ent is OPPORTUNITY:
            if old is not None and old["statecode"] != 0:
                if not (new["statecode"] == 0 and set(changes) <= {"statecode", "statuscode"}):
                    raise ApiError(400, E_INVALID, f"The opportunity {new[ent.pk]} is closed "
                                                   f"({ent.states[old['statecode']][0]}) and read-only: won and lost "
                                                   "opportunities can't be edited until they are reactivated "
                                                   "(PATCH statecode 0 with statuscode 1 or 2 alone).")
            elif new["statecode"] != 0:
                won = new["statecode"] == 1
                word, message = ("Won", "WinOpportunityRequest") if won else ("Lost", "LostOpportunityRequest")
                raise ApiError(400, E_INVALID, f"This message can not be used to set the state of opportunity to "
                                               f"{word}. In order to set the state of opportunity to {word}, use the "
                                               f"{message} message instead.")
        if ent is LEAD and new["statecode"] == 1 and (old is None or old["statecode"] != 1):
            raise ApiError(400, E_INVALID, "A lead is qualified with the QualifyLead action, not by setting "
                                           "statecode 1.")

    def _create(self, ent, changes, ctx, pk=None, internal=False):
        row = dict(ent.template)
        row.update(changes)
        pk = pk or self.ids.next()
        if pk in self.tables[ent.set]:
            raise ApiError(412, E_DUPLICATE, "A record with matching key values already exists.")
        row[ent.pk] = pk
        self._complete(ent, row, ctx.user)
        self._check_state(ent, None, row, changes, internal)
        self._stamp(row, ctx.user, create=True)
        self._store(ent, row)
        return row

    def _update(self, ent, old, changes, user, internal=False):
        new = dict(old)
        new.update(changes)
        self._check_state(ent, old, new, changes, internal)
        self._compute_name(ent, new)
        self._stamp(new, user, create=False)
        self._store(ent, new)
        return new

    def _delete(self, ent, rid, user):
        """Delete a row; rows pointing at it are deleted (cascade), refuse the
        delete (restrict) or lose the link (clear)."""
        if not ent.deletable:
            raise ApiError(405, E_INVALID, f"Rows of {ent.logical} cannot be deleted.")
        stack = [(ent, rid)]
        while stack:   # each step deletes one row, so this ends
            cur, cur_id = stack.pop()
            if cur_id not in self.tables[cur.set]:
                continue
            self._drop(cur, cur_id)
            for ref_ent, lk in REFERENCES.get(cur.set, ()):
                logical_key = f"{lk.column}@{LOOKUP_LOGICAL}"
                for row in [r for r in self.tables[ref_ent.set].values() if r.get(lk.column) == cur_id]:
                    if lk.polymorphic and row.get(logical_key) not in (None, cur.logical):
                        continue
                    if lk.on_delete == "cascade":
                        stack.append((ref_ent, row[ref_ent.pk]))
                    elif lk.on_delete == "restrict":
                        raise ApiError(405, E_INVALID, f"The {cur.logical} {cur_id} cannot be deleted because "
                                                       f"{ref_ent.logical} {row[ref_ent.pk]} refers to it "
                                                       "(CannotDeleteDueToAssociation).")
                    else:
                        cleared = {lk.column: None}
                        if lk.polymorphic:
                            cleared[logical_key] = None
                        self._update(ref_ent, row, cleared, user, internal=True)

    # -- rendering -----------------------------------------------------------------
    def _lookup_target(self, lk, row):
        if not lk.polymorphic:
            return next(iter(lk.targets.values()))
        logical = row.get(f"{lk.column}@{LOOKUP_LOGICAL}")
        if logical in BY_LOGICAL:
            return BY_LOGICAL[logical].set
        rid = row.get(lk.column)
        return next((s for s in lk.targets.values() if rid in self.tables[s]), next(iter(lk.targets.values())))

    def _formatted(self, ent, row, col, value):
        kind = col.kind
        if kind == "lookup":
            target = ENTITIES[self._lookup_target(col.lookup, row)]
            return (self.tables[target.set].get(value) or {}).get(target.primary)
        if kind == "state":
            return ent.states[value][0]
        if kind == "status":
            return ent.states[ent.state_of[value]][2][value]
        if kind == "choice":
            return col.options.get(value)
        if kind == "bool":
            return "Yes" if value else "No"
        if kind == "money":
            currency = self.tables["transactioncurrencies"].get(row.get("_transactioncurrencyid_value")) or {}
            return f"{currency.get('currencysymbol') or ''}{value:,.2f}"
        if kind in ("date", "datetime"):
            year, month, day = value[:10].split("-")
            text = f"{int(month)}/{int(day)}/{year}"
            if kind == "datetime":
                hour, minute = int(value[11:13]), value[14:16]
                text += f" {(hour - 1) % 12 + 1}:{minute} {'AM' if hour < 12 else 'PM'}"
            return text
        if kind in ("int", "bigint", "decimal"):
            return f"{value:,}"
        return None

    def _annotate(self, ent, row, col, value, out, match):
        """Annotations of A.5 ahead of the value they describe."""
        name = col.name
        formatted = self._formatted(ent, row, col, value) if match(FORMATTED) else None
        if formatted is not None:
            out[f"{name}@{FORMATTED}"] = formatted
        if col.kind == "lookup":
            target = self._lookup_target(col.lookup, row)
            if match(LOOKUP_NAV):
                out[f"{name}@{LOOKUP_NAV}"] = col.lookup.nav_for(target)
            if match(LOOKUP_LOGICAL):
                out[f"{name}@{LOOKUP_LOGICAL}"] = ENTITIES[target].logical

    def _render(self, ent, row, select=None, expand=(), annotate=None):
        names = ent.names if select is None else select
        out = {"@odata.etag": etag(row)}
        if annotate is None:
            out.update((name, row.get(name)) for name in names)
        else:
            for name in names:
                value = row.get(name)
                if value is not None:
                    self._annotate(ent, row, ent.columns[name], value, out, annotate)
                out[name] = value
        if self.config["datetime_digits"] < 7:
            for name in ent.datetime_columns:
                if name in out:
                    out[name] = self._out_datetime(out[name])
        out[ent.pk] = row[ent.pk]
        for nav, lk, target, sub_select in expand:
            rid = row.get(lk.column)
            related = self.tables[target].get(rid) if rid and self._lookup_target(lk, row) == target else None
            out[nav] = None if related is None else self._render(ENTITIES[target], related, sub_select, (), annotate)
        return out

    # -- API dispatch (A.0) ---------------------------------------------------------
    def _api_url(self, ctx):
        return f"{self.base_url}/api/data/{ctx.ver}"

    def _entity_url(self, ctx, ent, rid):
        return f"{self._api_url(ctx)}/{ent.set}({rid})"

    def api(self, req):
        ctx = Ctx(req.claims["systemuserid"], req.params["ver"], req.params["rest"], req.headers)
        self.journal = []
        try:
            return self._route(req, ctx)
        except BaseException:
            self._rollback(0)
            raise
        finally:
            self.journal = None

    _RESOURCE = re.compile(r"(?P<set>[A-Za-z_][A-Za-z0-9_.]*)(?:\((?P<key>[^()]*)\))?"
                           r"(?:/(?P<prop>[A-Za-z_$][A-Za-z0-9_.$]*))?(?P<ref>/\$ref)?")

    def _route(self, req, ctx):
        rest, method = ctx.rest, req.method
        name = rest[len("Microsoft.Dynamics.CRM."):] if rest.startswith("Microsoft.Dynamics.CRM.") else rest
        if name in SPECIAL_RESOURCES:
            return self._route_special(req, ctx, name)
        m = self._RESOURCE.fullmatch(rest)
        if not m or m.group("set") not in ENTITIES:
            segment = re.split(r"[(/]", rest, maxsplit=1)[0]
            raise ApiError(404, E_PROPERTY, f"Resource not found for the segment '{segment}'.")
        ent, prop = ENTITIES[m.group("set")], m.group("prop")
        if m.group("key") is None:
            if prop == "$count":
                self._allow(method, "GET")
                return self._count(req, ctx, ent)
            if prop:
                raise ApiError(404, E_PROPERTY, f"Resource not found for the segment '{prop}'.")
            self._allow(method, "GET", "POST")
            return self._query(req, ctx, ent) if method == "GET" else self._post(req, ctx, ent)
        rid = self._parse_key(ent, m.group("key"))
        if m.group("ref"):
            self._allow(method, "GET", "PUT", "DELETE")
            return self._reference(req, ctx, ent, rid, prop)
        if prop:
            self._allow(method, "GET", "PUT", "DELETE")
            return self._property(req, ctx, ent, rid, prop)
        self._allow(method, "GET", "PATCH", "DELETE")
        handler = {"GET": self._get, "PATCH": self._patch, "DELETE": self._delete_request}[method]
        return handler(req, ctx, ent, rid)

    @staticmethod
    def _allow(method, *allowed):
        if method not in allowed:   # A.3: 405 for a wrong method/resource combination
            raise ApiError(405, E_INVALID, f"The requested resource does not support http method '{method}'.",
                           headers={"Allow": ", ".join(allowed)})

    def _route_special(self, req, ctx, name):
        api = self._api_url(ctx)
        if name == "$batch":
            self._allow(req.method, "POST")
            if ctx.in_batch:
                raise ApiError(400, E_INVALID, "A $batch request cannot contain another $batch request.")
            return self._batch(req, ctx)
        if name in ("WinOpportunity", "LoseOpportunity"):
            self._allow(req.method, "POST")
            return self._close_opportunity(req, ctx, won=name == "WinOpportunity")
        self._allow(req.method, "GET")
        if name == "WhoAmI":   # A.0
            return json_out({"@odata.context": f"{api}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                             "BusinessUnitId": BUSINESS_UNIT_ID, "UserId": ctx.user,
                             "OrganizationId": ORGANIZATION_ID})
        if name == "":
            return json_out({"@odata.context": f"{api}/$metadata",
                             "value": [{"name": s, "kind": "EntitySet", "url": s} for s in ENTITIES]})
        raise not_supported("$metadata")

    # -- retrieve / create / update / delete (A.4-A.8) -------------------------------
    def _row(self, ent, rid):
        row = self.tables[ent.set].get(rid)
        if row is None:
            raise self._not_found(ent, rid)
        return row

    @staticmethod
    def _check_options(req, allowed):
        for name in req.query:
            if name.startswith("$") and name not in allowed:
                if name == "$skip":   # A.10
                    raise ApiError(400, E_INVALID, "The query parameter $skip is not supported: Dataverse pages "
                                                   "with Prefer: odata.maxpagesize and @odata.nextLink.")
                raise ApiError(400, E_INVALID, f"The query parameter '{name}' is not supported.")

    def _get(self, req, ctx, ent, rid):
        self._check_options(req, ("$select", "$expand"))
        row = self._row(ent, rid)
        select, expand = parse_select(ent, req.query.get("$select")), parse_expand(ent, req.query.get("$expand"))
        tag = etag(row)
        none_match = req.header("If-None-Match")
        if none_match and none_match != "null" and not expand and ctx.annotate is None \
                and _etag_matches(none_match, row):   # A.8 conditional GET
            return no_content(304, {"ETag": tag})
        body = {"@odata.context": context_url(self._api_url(ctx), ent, select, expand, "/$entity"),
                **self._render(ent, row, select, expand, ctx.annotate)}
        return json_out(body, headers={"ETag": tag, **ctx.applied("odata.include-annotations")})

    def _json_body(self, req, ent):
        if not req.body.strip():
            raise self._payload_error(ent, "The request body is empty; a JSON object is required.")
        try:
            return json.loads(req.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise self._payload_error(ent, f"The request body is not valid JSON: {exc}.") from None

    def _written(self, req, ctx, ent, row, created):
        """204 + OData-EntityId, or with return=representation 201/200 + body (A.4, A.7)."""
        ctx.entity_ref = (ent.set, row[ent.pk])
        if ctx.prefs.get("return") == "representation":
            select = parse_select(ent, req.query.get("$select"))
            expand = parse_expand(ent, req.query.get("$expand")) if req.method == "POST" else ()
            body = {"@odata.context": context_url(self._api_url(ctx), ent, select, expand, "/$entity"),
                    **self._render(ent, row, select, expand, ctx.annotate)}
            return json_out(body, 201 if created else 200,
                            {"ETag": etag(row), **ctx.applied("return", "odata.include-annotations")})
        return no_content(204, {"OData-EntityId": self._entity_url(ctx, ent, row[ent.pk])})

    def _post(self, req, ctx, ent):
        self._check_options(req, ("$select", "$expand"))
        changes, pk = self._parse_body(ent, self._json_body(req, ent), ctx)
        return self._written(req, ctx, ent, self._create(ent, changes, ctx, pk), created=True)

    def _preconditions(self, req, ent, row, rid):
        """If-Match / If-None-Match on writes (A.7, A.8)."""
        match = req.header("If-Match")
        if match:
            if row is None:
                raise self._not_found(ent, rid)
            if match != "*" and not _etag_matches(match, row):
                raise ApiError(412, E_CONCURRENCY, "The version of the existing record doesn't match the RowVersion "
                                                   "property provided.")
        if req.header("If-None-Match") == "*" and row is not None:
            raise ApiError(412, E_DUPLICATE, "A record with matching key values already exists.")

    def _patch(self, req, ctx, ent, rid):
        """Update, or upsert when the row is missing (A.6, A.7)."""
        self._check_options(req, ("$select", "$expand"))
        row = self.tables[ent.set].get(rid)
        self._preconditions(req, ent, row, rid)
        changes, given_pk = self._parse_body(ent, self._json_body(req, ent), ctx)
        if row is None:   # A.7: the body's key wins on create, the URL's otherwise
            return self._written(req, ctx, ent, self._create(ent, changes, ctx, given_pk or rid), created=True)
        return self._written(req, ctx, ent, self._update(ent, row, changes, ctx.user), created=False)

    def _delete_request(self, req, ctx, ent, rid):
        row = self._row(ent, rid)
        self._preconditions(req, ent, row, rid)
        self._delete(ent, rid, ctx.user)
        return no_content(204)

    def _property(self, req, ctx, ent, rid, prop):
        """Single property: GET value, PUT {"value": x}, DELETE = null (A.6)."""
        row = self._row(ent, rid)
        col = ent.columns.get(prop)
        if col is None:
            raise ApiError(404, E_PROPERTY, f"Resource not found for the segment '{prop}'.")
        if req.method == "GET":
            value = row.get(prop)
            if value is None:
                return no_content(204)
            value = self._out_datetime(value) if col.kind == "datetime" else value
            return json_out({"@odata.context": f"{self._api_url(ctx)}/$metadata#{ent.set}({rid})/{prop}",
                             "value": value})
        self._preconditions(req, ent, row, rid)
        if col.kind == "lookup":
            raise ApiError(400, E_INVALID, f"'{prop}' is a lookup: clear it with DELETE .../{col.lookup.name}/$ref "
                                           "or an @odata.bind of null (A.9).")
        if req.method == "PUT":
            body = self._json_body(req, ent)
            if not isinstance(body, dict) or "value" not in body:
                raise self._payload_error(ent, 'A single-property PUT takes {"value": <new value>}.')
            value = body["value"]
        else:
            value = None
        changes, _ = self._parse_body(ent, {prop: value}, ctx)
        self._update(ent, row, changes, ctx.user)
        ctx.entity_ref = (ent.set, rid)
        return no_content(204)

    def _reference(self, req, ctx, ent, rid, nav):
        """``<set>(id)/<navprop>/$ref``: GET, PUT {"@odata.id": uri}, DELETE (A.9)."""
        row = self._row(ent, rid)
        if nav not in ent.navprops:
            raise ApiError(404, E_PROPERTY, f"Resource not found for the segment '{nav}'.")
        lk, target = ent.navprops[nav]
        if req.method == "GET":
            value = row.get(lk.column)
            if value is None or self._lookup_target(lk, row) != target:
                raise ApiError(404, E_NOT_FOUND, f"No {nav} is set on {ent.logical} {rid}.")
            return json_out({"@odata.context": f"{self._api_url(ctx)}/$metadata#$ref",
                             "@odata.id": f"{self._api_url(ctx)}/{target}({value})"})
        self._preconditions(req, ent, row, rid)
        if req.method == "PUT":
            body = self._json_body(req, ent)
            if not isinstance(body, dict) or not isinstance(body.get("@odata.id"), str):
                raise self._payload_error(ent, 'A $ref PUT takes {"@odata.id": "<entityset>(<id>)"}.')
            value = body["@odata.id"]
        else:
            value = None
        changes, _ = self._parse_body(ent, {f"{nav}@odata.bind": value}, ctx)
        self._update(ent, row, changes, ctx.user)
        ctx.entity_ref = (ent.set, rid)
        return no_content(204)

    # -- queries and paging (A.10) ------------------------------------------------------
    def _page_size(self, ctx):
        """odata.maxpagesize, at most 5000 (A.10; larger values are clamped: UNCONFIRMED)."""
        text = ctx.prefs.get("odata.maxpagesize", "")
        if not text.isdigit() or int(text) < 1:
            return None
        ctx.prefs["odata.maxpagesize"] = str(min(int(text), PAGE_MAX))
        return min(int(text), PAGE_MAX)

    def _count(self, req, ctx, ent):
        count = min(len(self.tables[ent.set]), COUNT_MAX)
        return Response(200, str(count).encode("ascii"), content_type="text/plain")

    def _query(self, req, ctx, ent):
        self._check_options(req, QUERY_OPTIONS)
        query = req.query
        select = parse_select(ent, query.get("$select"))
        cookie = self._read_skiptoken(query["$skiptoken"]) if "$skiptoken" in query else None
        if "odata.track-changes" in ctx.prefs or "$deltatoken" in query or (cookie and cookie["tr"]):
            for option in ("$filter", "$orderby", "$expand", "$top"):   # A.11
                if option in query:
                    raise ApiError(400, E_INVALID, f'The "{option}" query parameter isn\'t supported when Change '
                                                   'Tracking is enabled.')
            return self._delta(req, ctx, ent, select, cookie)
        match = FilterCompiler(ent, query["$filter"]).match if query.get("$filter") else None
        order_text = query.get("$orderby", "")
        order = parse_orderby(ent, order_text)
        keyf = sort_key_function(ent, order)
        expand = parse_expand(ent, query.get("$expand"))
        top = query.get("$top")
        if top is not None and not top.isdigit():
            raise ApiError(400, E_PROPERTY, f"Invalid value '{top}' for $top query option found. The $top query "
                                            "option requires a non-negative integer value.")
        page_size = self._page_size(ctx)
        if page_size is None:
            page_size, top = PAGE_MAX, None if top is None else int(top)
        else:
            top = None   # A.10: with odata.maxpagesize, $top is ignored
        pairs = sorted(((keyf(r), r) for r in self.tables[ent.set].values() if match is None or match(r)),
                       key=operator.itemgetter(0))
        start, served, page = 0, 0, 1
        if cookie:
            if cookie["o"] != order_text:
                raise ApiError(400, E_INVALID, "The $skiptoken does not belong to this query; follow "
                                               "@odata.nextLink verbatim.")
            start = bisect.bisect_right(pairs, keyf(cookie["k"]), key=operator.itemgetter(0))
            served, page = cookie["n"], cookie["p"]
        limit = page_size if top is None else max(0, min(page_size, top - served))
        chunk = [row for _, row in pairs[start:start + limit]]
        body = {"@odata.context": context_url(self._api_url(ctx), ent, select, expand)}
        if query.get("$count", "").lower() == "true":
            body["@odata.count"] = min(len(pairs), COUNT_MAX)
            if ctx.annotate and ctx.annotate(TOTAL_COUNT):
                body[f"@{TOTAL_COUNT}"] = min(len(pairs), COUNT_MAX)
                body[f"@{TOTAL_EXCEEDED}"] = len(pairs) > COUNT_MAX
        body["value"] = [self._render(ent, row, select, expand, ctx.annotate) for row in chunk]
        served += len(chunk)
        if chunk and start + len(chunk) < len(pairs) and (top is None or served < top):
            last = chunk[-1]
            state = {"tr": False, "o": order_text, "n": served, "p": page + 1,
                     "k": {name: last.get(name) for name, _ in order} | {ent.pk: last[ent.pk]}}
            body["@odata.nextLink"] = self._next_link(req, ctx, ent, state, chunk)
        return json_out(body, headers=ctx.applied("odata.maxpagesize", "odata.include-annotations"))

    def _skiptoken(self, ent, state, chunk):
        """A $skiptoken shaped like Dataverse's paging cookie (A.10); the
        emulator's own state rides inside it, base64-encoded."""
        data = urlsafe_b64encode(json_bytes(state)).decode("ascii").rstrip("=")
        inner = (f'<cookie page="{state["p"] - 1}" pcref="{data}"><{ent.pk} last="{{{chunk[-1][ent.pk].upper()}}}" '
                 f'first="{{{chunk[0][ent.pk].upper()}}}" /></cookie>')
        cookie = urllib.parse.quote(inner, safe="")
        return f'<cookie pagenumber="{state["p"]}" pagingcookie="{cookie}" istracking="{state["tr"]}" />'

    @staticmethod
    def _read_skiptoken(token):
        try:
            inner = urllib.parse.unquote(re.search(r'pagingcookie="([^"]*)"', token).group(1))
            data = re.search(r'pcref="([A-Za-z0-9_-]*)"', inner).group(1)
            state = json.loads(urlsafe_b64decode(data + "=" * (-len(data) % 4)))
            if not isinstance(state, dict) or not {"tr", "o", "n", "p", "k"} <= set(state) \
                    or not isinstance(state["k"], (dict, int)):
                raise ValueError
            return state
        except (AttributeError, ValueError, TypeError):
            raise ApiError(400, E_INVALID, "The $skiptoken is not valid; follow @odata.nextLink verbatim.") from None

    def _link(self, req, ctx, ent, token_name, token):
        """The request's own query options (A.10: a nextLink is followed verbatim)
        plus a $skiptoken or $deltatoken, encoded as the A.10/A.11 samples show."""
        params = [f"{k}={urllib.parse.quote(v, safe=URL_SAFE)}" for k, v in req.query.items()
                  if k not in ("$skiptoken", "$deltatoken")]
        params.append(f"{token_name}={urllib.parse.quote(token, safe='=/' if token_name == '$skiptoken' else '')}")
        return f"{self._api_url(ctx)}/{ent.set}?{'&'.join(params)}"

    def _next_link(self, req, ctx, ent, state, chunk):
        return self._link(req, ctx, ent, "$skiptoken", self._skiptoken(ent, state, chunk))

    # -- change tracking (A.11) ----------------------------------------------------------
    @staticmethod
    def _delta_token(version):
        return f"{version}!{time.strftime('%m/%d/%Y %H:%M:%S', time.gmtime())}"

    @staticmethod
    def _parse_delta_token(token):
        m = re.fullmatch(r"(\d+)!.*", token or "")
        if not m:
            raise ApiError(400, E_INVALID, f"The $deltatoken '{token}' is not valid; use @odata.deltaLink verbatim.")
        return int(m.group(1))

    def _delta(self, req, ctx, ent, select, cookie):
        """Initial sync (all rows + @odata.deltaLink) or the changes since a
        delta token: new/updated rows by version, then $deletedEntity entries.
        Pages with odata.maxpagesize (paged deltas are UNCONFIRMED, A.11)."""
        query = req.query
        if cookie:
            since, snapshot, after, page = cookie.get("t"), cookie.get("s"), cookie["k"], cookie["p"]
            if not isinstance(snapshot, int) or not isinstance(after, int):
                raise ApiError(400, E_INVALID, "The $skiptoken is not valid; follow @odata.nextLink verbatim.")
        else:
            since = self._parse_delta_token(query["$deltatoken"]) if "$deltatoken" in query else None
            snapshot, after, page = self.version, 0, 1
        page_size = self._page_size(ctx) or PAGE_MAX
        table = self.tables[ent.set]
        rows = sorted((r for r in table.values()
                       if (since is None or r["versionnumber"] > since) and r["versionnumber"] <= snapshot),
                      key=operator.itemgetter("versionnumber"))
        start = bisect.bisect_right(rows, after, key=operator.itemgetter("versionnumber"))
        chunk = rows[start:start + page_size]
        api = self._api_url(ctx)
        value = [self._render(ent, row, select, (), ctx.annotate) for row in chunk]
        last_page = start + len(chunk) >= len(rows)
        if last_page and since is not None:
            gone = dict.fromkeys(rid for version, set_name, rid in self.deleted
                                 if set_name == ent.set and since < version <= snapshot and rid not in table)
            value += [{"@odata.context": f"{api}/$metadata#{ent.set}/$deletedEntity", "id": rid, "reason": "deleted"}
                      for rid in gone]
        body = {"@odata.context": context_url(api, ent, select, (), "/$delta" if since is not None else ""),
                "value": value}
        if last_page:
            body["@odata.deltaLink"] = self._link(req, ctx, ent, "$deltatoken", self._delta_token(snapshot))
        else:
            state = {"tr": True, "o": "", "n": 0, "p": page + 1, "k": chunk[-1]["versionnumber"], "t": since,
                     "s": snapshot}
            body["@odata.nextLink"] = self._next_link(req, ctx, ent, state, chunk)
        ctx.prefs.setdefault("odata.track-changes", "")
        return json_out(body, headers=ctx.applied("odata.track-changes", "odata.maxpagesize",
                                                  "odata.include-annotations"))

    # -- actions (A.14) ------------------------------------------------------------------
    def _close_opportunity(self, req, ctx, won):
        action = "WinOpportunity" if won else "LoseOpportunity"
        body = self._json_body(req, OPPORTUNITY_CLOSE)
        if not isinstance(body, dict):
            raise self._payload_error(OPPORTUNITY_CLOSE, "The action body must be a JSON object.")
        for name in ("OpportunityClose", "Status"):
            if name not in body:
                raise ApiError(400, E_INVALID, f"The parameter '{name}' of the action '{action}' is missing; the "
                                               'body is {"Status": <statuscode>, "OpportunityClose": {"subject": '
                                               '"...", "opportunityid@odata.bind": "/opportunities(<id>)"}}.')
        status = body["Status"]
        if isinstance(status, bool) or not isinstance(status, int):
            raise self._payload_error(OPPORTUNITY_CLOSE, f"Cannot convert the literal '{status}' to the expected "
                                                         "type 'Edm.Int32'.")
        changes, pk = self._parse_body(OPPORTUNITY_CLOSE, body["OpportunityClose"], ctx)
        opp_id = changes.get("_opportunityid_value")
        if not opp_id:
            raise ApiError(400, E_INVALID, f"The OpportunityClose of {action} must name the opportunity with "
                                           '"opportunityid@odata.bind": "/opportunities(<id>)".')
        opp = self._row(OPPORTUNITY, opp_id)
        if opp["statecode"] != 0:
            raise ApiError(400, E_INVALID, f"The opportunity {opp_id} is already closed "
                                           f"({OPPORTUNITY_STATES[opp['statecode']][0]}); reopen it first.")
        state = 1 if won else 2
        label, default_status, statuses = OPPORTUNITY_STATES[state]
        status = default_status if status == -1 else status
        if status not in statuses:
            raise ApiError(400, E_INVALID, f"{status} is not a valid status code for state code "
                                           f"OpportunityState.{label} on opportunity with Id {opp_id}.")
        changes.update(statecode=1, statuscode=2)   # the close activity is completed
        close = self._create(OPPORTUNITY_CLOSE, changes, ctx, pk, internal=True)
        revenue = close.get("actualrevenue")
        update = {"statecode": state, "statuscode": status,
                  "actualclosedate": close.get("actualend") or time.strftime("%Y-%m-%d", time.gmtime())}
        if revenue is not None or won:   # A.15: actualvalue defaults to the estimated revenue on win
            update["actualvalue"] = revenue if revenue is not None else opp.get("estimatedvalue")
        self._update(OPPORTUNITY, opp, update, ctx.user, internal=True)
        return no_content(204)

    # -- $batch (A.12) --------------------------------------------------------------------
    def _batch(self, req, ctx):
        boundary = _boundary(req.header("Content-Type", ""))
        if not req.header("Content-Type", "").lower().startswith("multipart/mixed") or not boundary:
            raise ApiError(400, E_INVALID, "A $batch request needs 'Content-Type: multipart/mixed; "
                                           "boundary=batch_<id>'.")
        try:
            text = req.body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, E_INVALID, "The $batch body is not UTF-8.") from None
        items, total = [], 0
        for headers, content in split_multipart(text, boundary):
            part_type = headers.get("content-type", "").lower()
            if part_type.startswith("multipart/mixed"):
                inner = _boundary(headers["content-type"])
                if not inner:
                    raise ApiError(400, E_INVALID, "A change set part needs a boundary.")
                ops = []
                for sub_headers, sub_content in split_multipart(content, inner):
                    if sub_headers.get("content-type", "").lower().startswith("multipart/"):
                        raise ApiError(400, E_INVALID, "Change sets cannot be nested.")
                    ops.append(BatchOp(sub_headers, sub_content))
                items.append((True, ops))
                total += len(ops)
            elif part_type.startswith("application/http"):
                items.append((False, [BatchOp(headers, content)]))
                total += 1
            else:
                raise ApiError(400, E_INVALID, f"A $batch part has Content-Type '{part_type}'; expected "
                                               "application/http or multipart/mixed.")
        req.batch_ops = total
        if total > BATCH_MAX:
            raise ApiError(400, E_INVALID, f"The $batch has {total} requests; the limit is {BATCH_MAX}.")
        go_on = "odata.continue-on-error" in ctx.prefs or "continue-on-error" in ctx.prefs
        out, status = BatchWriter(), 200
        for is_changeset, ops in items:
            failed = self._changeset(ops, ctx, out) if is_changeset else self._lone_op(ops[0], ctx, out)
            if failed is not None and not go_on:   # A.12: stop at the first failure
                status = failed.status
                break
        return Response(status, out.finish(), {"Content-Type": f"multipart/mixed; boundary={out.boundary}",
                                               **ctx.applied("odata.continue-on-error", "continue-on-error")})

    def _lone_op(self, op, ctx, out):
        resp = self._run_op(op, ctx, None)
        out.part(resp, op.content_id)
        return resp if resp.status >= 400 else None

    def _changeset(self, ops, ctx, out):
        """All or nothing: a failure rolls back the set's earlier operations and
        answers with that one error (A.12 [WAYMARK])."""
        mark, ids, answers = len(self.journal), {}, []
        for op in ops:
            if op.method == "GET":
                resp = self.error_response(req_stub(op), ApiError(400, E_INVALID, "GET requests are not allowed in "
                                                                                  "a change set."))
            else:
                resp = self._run_op(op, ctx, ids)
            if resp.status >= 400:
                self._rollback(mark)
                out.part(resp, op.content_id)
                return resp
            answers.append((resp, op.content_id))
        out.changeset(answers)
        return None

    def _run_op(self, op, ctx, content_ids):
        """One operation of a batch, as its own request (errors become its answer)."""
        mark = len(self.journal)
        sub = req_stub(op)
        try:
            url = op.url
            ref = re.match(r"\$(\w+)(.*)", url)
            if ref:
                set_name, rid = self._content_reference(ref.group(1), content_ids)
                url = f"/api/data/{ctx.ver}/{set_name}({rid}){ref.group(2)}"
            elif re.match(r"https?://", url, re.I):
                split = urllib.parse.urlsplit(url)
                url = split.path + (f"?{split.query}" if split.query else "")
            elif not url.startswith("/"):
                url = f"/api/data/{ctx.ver}/{url}"
            sub = peerlib.Request(op.method, url, op.headers)
            sub.body = op.body
            m = re.fullmatch(API, sub.path)
            if not m:
                raise ApiError(404, E_PROPERTY, f"No Dataverse resource at {sub.path}.")
            sub_ctx = Ctx(ctx.user, m.group("ver"), m.group("rest"), op.headers, content_ids, in_batch=True)
            resp = self._route(sub, sub_ctx)
            if content_ids is not None and op.content_id and sub_ctx.entity_ref:
                content_ids[op.content_id] = sub_ctx.entity_ref
            return resp
        except ApiError as err:
            self._rollback(mark)
            return self.error_response(sub, err)
        except Exception as exc:   # an emulator bug: report it as this operation's answer
            traceback.print_exc()
            self._rollback(mark)
            return self.error_response(sub, ApiError(500, E_UNEXPECTED, f"Emulator error: {exc!r}"))

    # -- control extensions --------------------------------------------------------------
    def control_config(self, req):
        if req.method == "POST":
            body = req.json()
            digits = body.get("datetime_digits", self.config["datetime_digits"])
            if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= 7:
                raise ApiError(400, "invalidRequest", "datetime_digits must be an integer 0..7.")
            self.config["datetime_digits"] = digits
        return peerlib.json_response(self.config)

    def control_throttle(self, req):
        """A 429 service-protection fault with the A.13 body and Retry-After."""
        body = req.json(optional=True)
        kind = body.get("kind", "requests")
        if kind not in THROTTLE:
            raise ApiError(400, "invalidRequest", f"kind must be one of {', '.join(THROTTLE)}.")
        retry = body.get("retry_after", 1)
        if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
            raise ApiError(400, "invalidRequest", "retry_after must be a number of seconds.")
        code, message = THROTTLE[kind]
        spec = {"method": body.get("method", "*"), "path": body.get("path", "^/api/data/"), "status": 429,
                "headers": {"Retry-After": str(retry)}, "body": {"error": {"code": code, "message": message}},
                "count": body.get("count", 1), "skip": body.get("skip", 0)}
        return peerlib.json_response({"id": self.faults.add(spec).id})

    def control_generate(self, req):
        body = req.json(optional=True)
        set_name = body.get("set", "opportunities")
        if set_name not in GENERATED_SETS:
            raise ApiError(400, "invalidRequest", f"set must be one of {', '.join(GENERATED_SETS)}.")
        count, seed = body.get("count", 100), body.get("seed", 0)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100000:
            raise ApiError(400, "invalidRequest", "count must be an integer in 1..100000.")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ApiError(400, "invalidRequest", "seed must be an integer.")
        ent = ENTITIES[set_name]
        overrides = body.get("overrides") or {}
        if not isinstance(overrides, dict) or any(k not in ent.columns for k in overrides):
            raise ApiError(400, "invalidRequest", f"overrides must map {set_name} columns to values.")
        overrides = {k: self._coerce(ent, ent.columns[k], v) for k, v in overrides.items()}
        rng = random.Random(seed)
        env = {"accounts": list(self.tables["accounts"]), "currencies": list(CURRENCY_IDS.values()),
               "today": datetime.datetime.now(datetime.timezone.utc).date()}
        synth = getattr(self, f"_synth_{ent.logical}")
        ids = []
        for i in range(count):
            row = dict(ent.template)
            row.update(synth(rng, i, env))
            row.update(overrides)
            row[ent.pk] = row.get(ent.pk) or self.ids.next()
            row["_ownerid_value"] = row.get("_ownerid_value") or SELLER_ID
            self._complete(ent, row, APP_USER_ID)
            self._check_state(ent, None, row, overrides, internal=True)
            self._stamp(row, APP_USER_ID, create=True)
            self.tables[set_name][row[ent.pk]] = row
            ids.append(row[ent.pk])
        return peerlib.json_response({"set": set_name, "count": count, "ids": ids})

    def _synth_opportunity(self, rng, i, env):
        company = rng.choice(COMPANIES)
        row = {"name": f"{company} - {rng.choice(PROJECTS)} #{i + 1}",
               "estimatedvalue": float(rng.randrange(5, 2000) * 1000),
               "estimatedclosedate": (env["today"] + datetime.timedelta(days=rng.randrange(7, 270))).isoformat(),
               "description": f"Generated opportunity {i + 1} for {company}.",
               "closeprobability": rng.choice((10, 20, 40, 60, 80)), "stepname": rng.choice(STEP_NAMES),
               "salesstage": rng.randrange(4), "_transactioncurrencyid_value": rng.choice(env["currencies"])}
        _, state, statuses = rng.choices(OPPORTUNITY_MIX, [w for w, _, _ in OPPORTUNITY_MIX])[0]
        row["statecode"], row["statuscode"] = state, rng.choice(statuses)
        if state:
            row["actualclosedate"] = (env["today"] - datetime.timedelta(days=rng.randrange(1, 60))).isoformat()
            row["actualvalue"] = row["estimatedvalue"] if state == 1 else None
        if env["accounts"]:
            account = rng.choice(env["accounts"])
            row.update({"_parentaccountid_value": account, "_customerid_value": account,
                        f"_customerid_value@{LOOKUP_LOGICAL}": "account"})
        if rng.random() < 0.3:   # already shared with Partner Center (R-01, R-02, R-03)
            referral = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            row.update({"msft_microsoftpartnercenterreferralsync": True, REFERRAL_ID: referral,
                        "msft_microsoftpartnercenterreferrallink":
                            f"https://partner.microsoft.com/dashboard/referrals/v2/opportunities/{referral}"})
        return row

    def _synth_account(self, rng, i, env):
        (city, state, postal, country), suffix = rng.choice(PLACES)
        return {"name": f"{rng.choice(COMPANIES)} {suffix} {i + 1}", "accountnumber": f"AC{i + 1:06d}",
                "address1_line1": f"{rng.randrange(1, 300)} {rng.choice(STREETS)}", "address1_city": city,
                "address1_stateorprovince": state, "address1_postalcode": postal, "address1_country": country,
                "telephone1": f"+1 425 555 {rng.randrange(10000):04d}"}

    def _synth_contact(self, rng, i, env):
        row = _person(rng, i, _ascii(rng.choice(COMPANIES)).replace(" ", ""))
        row["jobtitle"] = rng.choice(("CIO", "IT Manager", "Procurement Lead", "CTO", "Architect"))
        if env["accounts"]:
            row.update({"_parentcustomerid_value": rng.choice(env["accounts"]),
                        f"_parentcustomerid_value@{LOOKUP_LOGICAL}": "account"})
        return row

    def _synth_lead(self, rng, i, env):
        company = rng.choice(COMPANIES)
        row = _person(rng, i, _ascii(company).replace(" ", ""))
        row.update({"subject": f"{rng.choice(PROJECTS)} for {company}", "companyname": company,
                    "budgetamount": float(rng.randrange(5, 500) * 1000), "description": f"Generated lead {i + 1}.",
                    "_transactioncurrencyid_value": rng.choice(env["currencies"])})
        if rng.random() < 0.3:
            row[REFERRAL_ID] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return row


if __name__ == "__main__":
    sys.exit(peerlib.main(Dataverse))
