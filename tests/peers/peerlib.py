"""Shared base of the libpcref peer emulators (tests/peers/).

libpcref talks to Partner Center, Dataverse and Salesforce; none of them can be
reached from a test run, so the project ships faithful local emulators of the
parts of their APIs it uses (see ``DESIGN.md``, "The emulators").  Every
emulator is one Python 3.11 module built on this one, standard library only,
listening on a loopback address only.  This module supplies everything that is
not specific to one service:

HTTP server
    ``PeerServer`` (a ``ThreadingHTTPServer``) and ``PeerHandler``: HTTP/1.1
    with keep-alive, ``Content-Length`` on every response (204 included),
    ``Connection: close`` honoured, request bodies by ``Content-Length`` or
    chunked, at most ``MAX_BODY`` bytes.

Application base
    ``Emulator``: subclass it, list your routes and collections, write
    handlers.  A route is ``Route(method, path_regex, handler_name, auth=tag,
    locked=True)``; the regex is matched against the whole percent-decoded
    path and its named groups land in ``req.params``.  A handler takes a
    ``Request`` and returns a ``Response`` (``json_response``/``no_content``)
    or raises ``ApiError``; ``Emulator.error_response`` turns errors into the
    service's error body (override it per service).  Handlers run under the
    per-process state lock ``Emulator.lock`` unless the route says
    ``locked=False`` (for handlers that wait on other threads).  A route with
    an ``auth`` tag calls ``Emulator.authenticate(req, tag)`` first; the base
    version checks ``Authorization: Bearer`` against ``Emulator.tokens``.
    ``Emulator.response_headers`` adds service headers (request ids ...) to
    every non-control response.  ``Emulator.insert`` stores one row of a
    collection (override it to fill server fields); ``default_rows`` are
    loaded at start and on reset, followed by the ``--seed`` file.

Command line (``main``), the same for every emulator::

    python3 <emulator>.py [--host 127.0.0.1] [--port 0] [--port-file PATH]
                          [--seed FILE] [--quiet]

    --host       loopback address to bind (127.0.0.1, ::1 or localhost);
                 anything else is refused (exit status 2)
    --port       TCP port, 0 = let the kernel pick a free one
    --port-file  write the bound port there once listening (tmp + rename)
    --seed       JSON file in the /_control/seed format, read at start; its
                 rows are loaded then and again on every /_control/reset
    --quiet      no per-request log lines on stderr

    Once listening it prints ``READY http://127.0.0.1:<port>`` on stdout and
    flushes; SIGTERM or SIGINT stop it cleanly (exit status 0).

Control API (no authentication, never logged, never faulted), the same on
every emulator; emulators add their own ``/_control/...`` routes:

    GET    /_control/health                -> {"ok": true}
    POST   /_control/reset                 clear data, faults, request log and
                                           tokens, then reload default rows and
                                           the --seed file; body
                                           {"defaults": false} leaves it empty
    POST   /_control/seed                  {"<collection>": [row, ...], ...} ->
                                           the stored rows, same shape
    GET    /_control/rows/<collection>     stored rows as a JSON array
    GET    /_control/rows/<collection>/<id>  one stored row (404 if absent)
    GET    /_control/requests              request log (see below)
    DELETE /_control/requests              clear it (seq keeps counting)
    GET    /_control/faults                faults with remaining counts
    POST   /_control/faults                add one (see below) -> {"id": n}
    DELETE /_control/faults                remove all
    POST   /_control/tokens                {"expire_all": true} invalidates every
                                           issued access token (refresh tokens
                                           stay usable); {"revoke": true|false}
                                           makes the token endpoint refuse every
                                           credential (or stop refusing);
                                           {"lifetime": S} sets expires_in of new
                                           access tokens (default 3600) ->
                                           {"revoked", "lifetime", "active"}

Request log: one entry per non-control request, oldest first, the newest
``REQUEST_LOG_LIMIT`` kept: ``{"seq", "method", "path", "query" (decoded,
name -> value), "headers" (lower-case name -> value; Authorization reduced to
its scheme), "body_len", "status" (null when a fault dropped or reset the
connection), "fault" (id of the fault that hit it, or null), "time"}``.

Faults: ``{"method": "GET"|"*", "path": "<regex searched in the path>",
"status": 429, "headers": {...}, "body": <JSON>, "count": N (default 1, -1 =
unlimited), "skip": K (default 0), "delay_ms": D, "action":
"respond"|"drop"|"reset"}``.  Faults are consulted in the order they were
added; each counts the matching requests it sees, lets the first ``skip`` of
them through and then hits the next ``count``.  ``respond`` answers with
``status`` (after ``delay_ms``); without ``status`` it only delays and the
request is then served normally.  ``drop`` reads the request and closes the
connection without answering; ``reset`` closes it at once with a TCP RST
(SO_LINGER 0).  Without ``body`` the emulator's ``fault_body`` supplies one.

Python helpers: ``start_in_thread(app_cls, **opts) -> (server, base_url)``
runs an emulator inside a test process (``server.stop()`` ends it);
``http_call`` and ``control`` are small http.client wrappers for tests and
demo scripts.

Shared utilities: ``UtcClock``/``format_ticks``/``parse_datetime`` (UTC
instants as 100-ns ticks, the resolution of the 7-digit timestamps Microsoft
services print) and an OData ``$filter``/``$orderby`` subset
(``ODataFilter``, ``parse_orderby``, ``odata_sort_compare``).
"""

from __future__ import annotations

import argparse
import collections
import copy
import datetime
import http.client
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTROL_PREFIX = "/_control/"
MAX_BODY = 16 * 1024 * 1024
REQUEST_LOG_LIMIT = 10000
IDLE_TIMEOUT = 60.0          # seconds an idle keep-alive connection is kept
MAX_FAULT_DELAY_MS = 120000
TICKS_PER_SECOND = 10_000_000


# --------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------

class UtcClock:
    """Current UTC time in 100-ns ticks since the Unix epoch, strictly
    increasing across calls so that two writes never share a timestamp."""

    def __init__(self):
        self._lock = threading.Lock()
        self._last = 0

    def ticks(self) -> int:
        with self._lock:
            self._last = max(time.time_ns() // 100, self._last + 1)
            return self._last


def format_ticks(ticks: int, digits: int = 7, suffix: str = "Z") -> str:
    """``2018-10-30T21:03:42.4579542Z`` style text for a tick count."""
    seconds, frac = divmod(ticks, TICKS_PER_SECOND)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if digits:
        text += "." + f"{frac:07d}"[:digits]
    return text + suffix


_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
    r"(Z|[+-]\d{2}:\d{2})?")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def parse_datetime(text) -> int | None:
    """Ticks for an ISO-8601 date or date-time (no zone = UTC), else None."""
    if not isinstance(text, str):
        return None
    m = _DATETIME_RE.fullmatch(text.strip())
    if not m:
        return None
    try:
        instant = datetime.datetime(*(int(g or 0) for g in m.groups()[:6]), tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    seconds = (instant - _EPOCH) // datetime.timedelta(seconds=1)
    zone = m.group(8)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds * TICKS_PER_SECOND + int((m.group(7) or "").ljust(7, "0")[:7])


# --------------------------------------------------------------------------
# OData query subset
# --------------------------------------------------------------------------

class ODataError(ValueError):
    """A ``$filter``/``$orderby`` the emulator does not understand."""


_COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
_KEYWORDS = set(_COMPARISONS) | {"and", "or"}
_TOKEN_RE = re.compile(r"""
   (?P<ws>\s+)
 | (?P<str>'(?:[^']|'')*')
 | (?P<guid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b)
 | (?P<dt>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)
 | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
 | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
 | (?P<punct>[()/:,])
""", re.X)


def _tokenize(text):
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise ODataError(f"unexpected character {text[pos]!r} at position {pos}")
        if m.lastgroup != "ws":
            tokens.append((m.lastgroup, m.group(), pos))
        pos = m.end()
    return tokens


class ODataFilter:
    """A parsed ``$filter`` expression.

    Grammar: comparisons ``eq ne gt ge lt le`` between property paths
    (``a/b/c``) and literals ('strings' with '' escapes, numbers, true, false,
    null, unquoted GUIDs and date-times), combined with ``and``/``or`` and
    parentheses, plus the lambda ``path/any(v:<expr>)`` (and ``path/any()``).
    Values compare as date-times when both sides parse as such, numerically
    when both are numbers, else as strings; a comparison with null is only
    true for ``eq null``/``ne <value>``.  ``properties`` (optional) lists the
    valid first path segments; anything else is an ``ODataError``.
    """

    def __init__(self, text: str, properties=None):
        self.text = text
        self._props = properties
        self._toks = _tokenize(text)
        self._i = 0
        self._vars = []
        if not self._toks:
            raise ODataError("the expression is empty")
        self._ast = self._or()
        if self._i < len(self._toks):
            tok = self._toks[self._i]
            raise ODataError(f"unexpected {tok[1]!r} at position {tok[2]}")

    def matches(self, row: dict) -> bool:
        return bool(self._eval(self._ast, row, {}))

    # -- parser ------------------------------------------------------------
    def _expected(self, what):
        """ODataError: ``what`` was expected where the parser stands."""
        tok = self._peek()
        if tok is None:
            return ODataError(f"expected {what} at the end of the expression")
        return ODataError(f"expected {what} but found {tok[1]!r} at position {tok[2]}")

    def _peek(self, kind=None, value=None):
        if self._i >= len(self._toks):
            return None
        tok = self._toks[self._i]
        if kind and tok[0] != kind:
            return None
        if value is not None and tok[1] != value:
            return None
        return tok

    def _accept(self, kind, value=None):
        tok = self._peek(kind, value)
        if tok:
            self._i += 1
        return tok

    def _expect(self, kind, value=None, what=None):
        tok = self._accept(kind, value)
        if not tok:
            raise self._expected(what or repr(value))
        return tok

    def _or(self):
        node = self._and()
        while self._accept("ident", "or"):
            node = ("or", node, self._and())
        return node

    def _and(self):
        node = self._primary()
        while self._accept("ident", "and"):
            node = ("and", node, self._primary())
        return node

    def _primary(self):
        if self._accept("punct", "("):
            node = self._or()
            self._expect("punct", ")")
            return node
        left = self._operand()
        if left[0] == "any":
            return left
        op = self._peek("ident")
        if not op or op[1] not in _COMPARISONS:
            raise self._expected("a comparison operator (eq, ne, gt, ge, lt, le)")
        self._i += 1
        right = self._operand()
        if right[0] == "any":
            raise ODataError(f"'any' cannot be compared (position {op[2]})")
        return ("cmp", op[1], left, right)

    def _operand(self):
        tok = self._peek()
        if tok is None or tok[0] == "punct" or tok[0] == "ident" and tok[1] in _KEYWORDS:
            raise self._expected("a property or a value")
        self._i += 1
        kind, text, _ = tok
        if kind == "str":
            return ("lit", text[1:-1].replace("''", "'"))
        if kind in ("guid", "dt"):
            return ("lit", text)
        if kind == "num":
            return ("lit", float(text) if any(c in text for c in ".eE") else int(text))
        if text in ("true", "false", "null"):
            return ("lit", {"true": True, "false": False, "null": None}[text])
        if self._peek("punct", "("):
            raise ODataError(f"function {text!r} is not supported (position {tok[2]})")
        if self._props is not None and text not in self._vars and text not in self._props:
            raise ODataError(f"could not find a property named {text!r} (position {tok[2]})")
        segments = [text]
        while self._accept("punct", "/"):
            seg = self._expect("ident", what="a property name")
            if self._peek("punct", "("):
                if seg[1] != "any":
                    raise ODataError(f"{seg[1]!r} is not supported (position {seg[2]}); "
                                     "the only lambda operator is 'any'")
                return self._lambda(segments)
            segments.append(seg[1])
        return ("path", segments)

    def _lambda(self, segments):
        self._expect("punct", "(")
        if self._accept("punct", ")"):
            return ("any", segments, None, None)
        var = self._expect("ident", what="a lambda variable")[1]
        self._expect("punct", ":")
        self._vars.append(var)
        body = self._or()
        self._vars.pop()
        self._expect("punct", ")")
        return ("any", segments, var, body)

    # -- evaluation ----------------------------------------------------------
    def _eval(self, node, row, env):
        kind = node[0]
        if kind == "or":
            return self._eval(node[1], row, env) or self._eval(node[2], row, env)
        if kind == "and":
            return self._eval(node[1], row, env) and self._eval(node[2], row, env)
        if kind == "any":
            items = self._resolve(node[1], row, env)
            if not isinstance(items, list):
                return False
            if node[2] is None:
                return bool(items)
            return any(self._eval(node[3], row, {**env, node[2]: item}) for item in items)
        op, left, right = node[1], self._value(node[2], row, env), self._value(node[3], row, env)
        order = odata_compare(left, right)
        if op == "eq":
            return order == 0
        if op == "ne":
            return order != 0
        if order is None:
            return False
        return {"gt": order > 0, "ge": order >= 0, "lt": order < 0, "le": order <= 0}[op]

    def _value(self, node, row, env):
        return node[1] if node[0] == "lit" else self._resolve(node[1], row, env)

    @staticmethod
    def _resolve(segments, row, env):
        if segments[0] in env:
            cur, rest = env[segments[0]], segments[1:]
        else:
            cur, rest = row, segments
        for seg in rest:
            cur = cur.get(seg) if isinstance(cur, dict) else None
        return cur


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def odata_compare(a, b) -> int | None:
    """-1/0/1 ordering of two JSON values as OData compares them; None when
    they are not comparable (null against a value, mixed types)."""
    if a is None or b is None:
        return 0 if a is b else None
    if isinstance(a, bool) and isinstance(b, bool) or _is_number(a) and _is_number(b):
        return (a > b) - (a < b)
    if isinstance(a, str) and isinstance(b, str):
        ta, tb = parse_datetime(a), parse_datetime(b)
        if ta is not None and tb is not None:
            a, b = ta, tb
        return (a > b) - (a < b)
    return None


def odata_sort_compare(a, b) -> int:
    """Total order for ``$orderby``: nulls first, then ``odata_compare``,
    incomparable types grouped by type name."""
    order = odata_compare(a, b)
    if order is not None:
        return order
    if a is None or b is None:
        return -1 if a is None else 1
    ta, tb = type(a).__name__, type(b).__name__
    return (ta > tb) - (ta < tb)


def parse_orderby(text: str, allowed) -> list[tuple[str, bool]]:
    """``"createdDateTime desc, id"`` -> ``[("createdDateTime", True), ("id", False)]``."""
    keys = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise ODataError(f"cannot parse {part.strip()!r}; expected '<property> [asc|desc]'")
        if words[0] not in allowed:
            raise ODataError(f"cannot order by {words[0]!r}; supported: {', '.join(allowed)}")
        keys.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return keys


# --------------------------------------------------------------------------
# Requests, responses, errors, routes
# --------------------------------------------------------------------------

class ApiError(Exception):
    """Raised by handlers; rendered by ``Emulator.error_response``."""

    def __init__(self, status, code, message, *, target=None, inner=None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.target, self.inner, self.headers = target, inner, dict(headers or {})


class Response:
    __slots__ = ("status", "body", "headers")

    def __init__(self, status=200, body=b"", headers=None, content_type=None):
        self.status, self.body, self.headers = status, body, dict(headers or {})
        if content_type:
            self.headers["Content-Type"] = content_type


def json_bytes(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(obj, status=200, headers=None) -> Response:
    return Response(status, json_bytes(obj), headers, "application/json; charset=utf-8")


def no_content(status=204, headers=None) -> Response:
    return Response(status, b"", headers)


class Request:
    """One parsed request: ``method``, ``path`` (percent-decoded), ``query``
    (decoded, name -> last value), ``headers`` (case-insensitive), ``body``
    (bytes) and ``params`` (named groups of the route regex)."""

    def __init__(self, method, target, headers):
        split = urllib.parse.urlsplit(target)
        self.method = method
        self.path = urllib.parse.unquote(split.path)
        self.query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        self.headers = headers
        self.body = b""
        self.params = {}
        self.claims = None     # set by Emulator.authenticate on authenticated routes

    def header(self, name, default=None):
        value = self.headers.get(name)
        return default if value is None else value.strip()

    def json(self, optional=False):
        """The body as JSON; ``optional`` makes an empty body ``{}``."""
        if not self.body.strip():
            if optional:
                return {}
            raise ApiError(400, "invalidRequest", "The request body is empty; a JSON document is required.")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, "invalidRequest", f"The request body is not valid JSON: {exc}") from None


class Route:
    __slots__ = ("method", "pattern", "handler", "auth", "locked")

    def __init__(self, method, pattern, handler, auth=None, locked=True):
        self.method, self.pattern, self.handler = method, re.compile(pattern), handler
        self.auth, self.locked = auth, locked


# --------------------------------------------------------------------------
# Faults, request log, tokens (all guarded by Emulator.lock)
# --------------------------------------------------------------------------

class Fault:
    ACTIONS = ("respond", "drop", "reset")

    def __init__(self, fid, spec):
        if not isinstance(spec, dict):
            raise ApiError(400, "invalidRequest", "A fault is a JSON object.")
        unknown = set(spec) - {"method", "path", "status", "headers", "body", "count", "skip",
                               "delay_ms", "action"}
        if unknown:
            raise ApiError(400, "invalidRequest", f"Unknown fault fields: {', '.join(sorted(unknown))}.")
        self.id = fid
        self.method = str(spec.get("method", "*")).upper()
        self.path = spec.get("path", "")
        try:
            self.regex = re.compile(self.path)
        except (re.error, TypeError) as exc:
            raise ApiError(400, "invalidRequest", f"Fault path is not a valid regex: {exc}") from None
        self.status = spec.get("status")
        self.headers = spec.get("headers") or {}
        self.body = spec.get("body")
        self.has_body = "body" in spec
        self.remaining = spec.get("count", 1)
        self.skip = spec.get("skip", 0)
        self.delay_ms = spec.get("delay_ms", 0)
        self.action = spec.get("action", "respond")
        self.hits = 0
        checks = (
            (self.status is None or _is_int(self.status) and 100 <= self.status <= 599, "status must be 100..599"),
            (isinstance(self.headers, dict) and all(isinstance(v, str) for v in self.headers.values()),
             "headers must map names to strings"),
            (_is_int(self.remaining) and (self.remaining >= 1 or self.remaining == -1), "count must be >= 1 or -1"),
            (_is_int(self.skip) and self.skip >= 0, "skip must be >= 0"),
            (_is_int(self.delay_ms) and 0 <= self.delay_ms <= MAX_FAULT_DELAY_MS,
             f"delay_ms must be 0..{MAX_FAULT_DELAY_MS}"),
            (self.action in self.ACTIONS, f"action must be one of {', '.join(self.ACTIONS)}"),
        )
        for ok, message in checks:
            if not ok:
                raise ApiError(400, "invalidRequest", f"Invalid fault: {message}.")

    def describe(self):
        return {"id": self.id, "method": self.method, "path": self.path, "status": self.status,
                "headers": self.headers, "body": self.body, "remaining": self.remaining,
                "skip": self.skip, "delay_ms": self.delay_ms, "action": self.action, "hits": self.hits}


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class FaultTable:
    def __init__(self):
        self._faults = []
        self._next_id = 1

    def add(self, spec) -> Fault:
        fault = Fault(self._next_id, spec)
        self._next_id += 1
        self._faults.append(fault)
        return fault

    def take(self, method, path) -> Fault | None:
        """The fault that hits this request, consuming one count/skip."""
        for fault in self._faults:
            if fault.remaining == 0 or fault.method not in ("*", method) or not fault.regex.search(path):
                continue
            if fault.skip:
                fault.skip -= 1
                continue
            if fault.remaining > 0:
                fault.remaining -= 1
            fault.hits += 1
            return fault
        return None

    def describe(self):
        return [f.describe() for f in self._faults]

    def clear(self):
        self._faults.clear()


class RequestLog:
    def __init__(self):
        self._entries = collections.deque(maxlen=REQUEST_LOG_LIMIT)
        self._seq = 0

    def add(self, req, status, fault):
        self._seq += 1
        headers = {}
        for name, value in req.headers.items():
            name = name.lower()
            if name == "authorization":
                value = value.strip().split(" ", 1)[0]
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        self._entries.append({
            "seq": self._seq, "method": req.method, "path": req.path, "query": req.query,
            "headers": headers, "body_len": len(req.body), "status": status,
            "fault": fault.id if fault else None, "time": format_ticks(time.time_ns() // 100)})

    def entries(self):
        return list(self._entries)

    def clear(self):
        self._entries.clear()


class TokenStore:
    """Opaque bearer tokens.  ``claims`` is whatever the emulator wants to
    remember about a token (subject, audience, client ...)."""

    DEFAULT_LIFETIME = 3600
    REFRESH_LIFETIME = 90 * 24 * 3600

    def __init__(self):
        self.reset()

    def reset(self):
        self._access = {}
        self._refresh = {}
        self.revoked = False
        self.lifetime = self.DEFAULT_LIFETIME

    def issue_access(self, claims) -> tuple[str, int]:
        """A new access token and its expiry (Unix seconds)."""
        now = time.time()
        self._access = {t: v for t, v in self._access.items() if v[1] > now}
        token = secrets.token_urlsafe(32)
        expires = int(now) + self.lifetime
        self._access[token] = (dict(claims), expires)
        return token, expires

    def issue_refresh(self, claims) -> str:
        token = secrets.token_urlsafe(48)
        self._refresh[token] = (dict(claims), time.time() + self.REFRESH_LIFETIME)
        return token

    def lookup(self, token) -> tuple[dict | None, str]:
        """(claims, "") for a valid access token, else (None, reason)."""
        entry = self._access.get(token)
        if entry is None:
            return None, "The access token is not valid."
        if entry[1] <= time.time():
            return None, "The access token has expired."
        return entry[0], ""

    def redeem_refresh(self, token) -> dict | None:
        entry = self._refresh.get(token)
        if entry is None or entry[1] <= time.time():
            return None
        return dict(entry[0])

    def control(self, body) -> dict:
        if not isinstance(body, dict):
            raise ApiError(400, "invalidRequest", "Body must be a JSON object.")
        lifetime = body.get("lifetime", self.lifetime)
        if not _is_int(lifetime) or lifetime < 1:
            raise ApiError(400, "invalidRequest", "lifetime must be a positive number of seconds.")
        if "revoke" in body and not isinstance(body["revoke"], bool):
            raise ApiError(400, "invalidRequest", "revoke must be true or false.")
        self.lifetime = lifetime
        self.revoked = body.get("revoke", self.revoked)
        if body.get("expire_all"):
            self._access.clear()
        return {"revoked": self.revoked, "lifetime": self.lifetime, "active": len(self._access)}


# --------------------------------------------------------------------------
# The application base
# --------------------------------------------------------------------------

class Emulator:
    """Base class of an emulator; see the module docstring."""

    name = "peer"
    collections: tuple = ()     # names accepted by /_control/seed and /_control/rows
    routes: tuple = ()          # the service's Route table (after the control routes)
    default_rows: dict = {}     # {collection: [row, ...]} loaded at start and on reset

    _CONTROL_ROUTES = (
        Route("GET", r"/_control/health", "control_health"),
        Route("POST", r"/_control/reset", "control_reset"),
        Route("POST", r"/_control/seed", "control_seed"),
        Route("GET", r"/_control/rows/(?P<collection>[^/]+)", "control_rows"),
        Route("GET", r"/_control/rows/(?P<collection>[^/]+)/(?P<id>.+)", "control_row"),
        Route("GET", r"/_control/requests", "control_requests"),
        Route("DELETE", r"/_control/requests", "control_requests_clear"),
        Route("GET", r"/_control/faults", "control_faults"),
        Route("POST", r"/_control/faults", "control_fault_add"),
        Route("DELETE", r"/_control/faults", "control_faults_clear"),
        Route("POST", r"/_control/tokens", "control_tokens"),
    )

    def __init__(self, seed_file=None, quiet=False):
        self.lock = threading.RLock()
        self.quiet = quiet
        self.seed_data = None
        if seed_file:
            with open(seed_file, encoding="utf-8") as fh:
                self.seed_data = json.load(fh)
        self.base_url = None
        self.tables = {name: {} for name in self.collections}
        self.faults = FaultTable()
        self.request_log = RequestLog()
        self.tokens = TokenStore()
        self._routes = self._CONTROL_ROUTES + tuple(self.routes)

    # -- lifecycle -----------------------------------------------------------
    def bind(self, base_url):
        """Called once the server listens; loads the initial state."""
        self.base_url = base_url
        self.reset()

    def close(self):
        """Release resources (threads, temp files); the server is stopped."""

    def reset(self, defaults=True):
        """Back to the start state (or to nothing with ``defaults=False``).
        Subclasses clear their own state first, then call this."""
        with self.lock:
            for table in self.tables.values():
                table.clear()
            self.faults.clear()
            self.request_log.clear()
            self.tokens.reset()
            if defaults:
                self.seed(copy.deepcopy(self.default_rows))
                if self.seed_data is not None:
                    self.seed(copy.deepcopy(self.seed_data))

    # -- data ----------------------------------------------------------------
    def seed(self, data) -> dict:
        if not isinstance(data, dict):
            raise ApiError(400, "invalidRequest", 'Seed data is {"<collection>": [rows...]}.')
        unknown = [name for name in data if name not in self.tables]
        if unknown:
            raise ApiError(400, "invalidRequest",
                           f"Unknown collection(s) {', '.join(unknown)}; known: {', '.join(self.collections)}.")
        stored = {}
        for name, rows in data.items():
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise ApiError(400, "invalidRequest", f"Collection {name!r} must be an array of objects.")
            stored[name] = [self.insert(name, copy.deepcopy(row)) for row in rows]
        return stored

    def insert(self, collection, row) -> dict:
        """Store one row (control seed); override to fill server fields."""
        row["id"] = str(row.get("id") or uuid.uuid4())
        self.tables[collection][row["id"]] = row
        return row

    # -- hooks ---------------------------------------------------------------
    def error_response(self, req, err: ApiError) -> Response:
        """The service's error body; this default is the OData/Graph shape."""
        error = {"code": err.code, "message": err.message}
        if err.target is not None:
            error["target"] = err.target
        if err.inner is not None:
            error["innerError"] = err.inner
        return json_response({"error": error}, err.status, err.headers)

    def fault_body(self, req, fault) -> Response:
        """Response of a ``respond`` fault that gave no body."""
        return no_content(fault.status)

    def response_headers(self, req) -> dict:
        """Extra headers for every non-control response."""
        return {}

    def authenticate(self, req, tag) -> dict:
        """Check ``Authorization: Bearer``; returns the token's claims."""
        header = req.header("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthenticated",
                           "The request has no 'Authorization: Bearer <token>' header.",
                           headers={"WWW-Authenticate": "Bearer"})
        claims, reason = self.tokens.lookup(token.strip())
        if claims is None:
            raise ApiError(401, "unauthenticated", reason,
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return claims

    # -- request handling ----------------------------------------------------
    def handle(self, h):
        """Serve one request on handler ``h`` (a ``PeerHandler``)."""
        req = Request(h.command, h.path, h.headers)
        control = req.path.startswith(CONTROL_PREFIX)
        fault = None
        if not control:
            with self.lock:
                fault = self.faults.take(req.method, req.path)
        if fault and fault.delay_ms:
            time.sleep(fault.delay_ms / 1000.0)
        if fault and fault.action == "reset":
            h.reset_connection()
            self._log(req, None, fault)
            return
        try:
            req.body = h.read_body()
        except ApiError as err:
            h.close_connection = True
            # logged before answering: a client that reads the log right
            # after its call must find the call in it
            self._log(req, err.status, fault, control)
            h.send(self.error_response(req, err))
            return
        if fault and fault.action == "drop":
            h.close_connection = True
            self._log(req, None, fault)
            return
        if fault and fault.status is not None:
            resp = self._fault_response(req, fault)
        else:
            resp = self.dispatch(req)
        if not control:
            resp.headers = {**self.response_headers(req), **resp.headers}
        self._log(req, resp.status, fault, control)
        h.send(resp)

    def _fault_response(self, req, fault):
        if fault.has_body:
            resp = json_response(fault.body, fault.status)
        else:
            resp = self.fault_body(req, fault)
        resp.headers.update(fault.headers)
        return resp

    def _log(self, req, status, fault, control=False):
        if not control:
            with self.lock:
                self.request_log.add(req, status, fault)

    def dispatch(self, req) -> Response:
        allowed = []
        for route in self._routes:
            m = route.pattern.fullmatch(req.path)
            if not m:
                continue
            if route.method != req.method:
                allowed.append(route.method)
                continue
            req.params = m.groupdict()
            try:
                if not route.locked:
                    return self._call(route, req)
                with self.lock:
                    return self._call(route, req)
            except ApiError as err:
                return self.error_response(req, err)
            except Exception as exc:  # a bug in the emulator: report it, keep serving
                traceback.print_exc()
                return self.error_response(req, ApiError(500, "generalException", f"Emulator error: {exc!r}"))
        if allowed:
            return self.error_response(req, ApiError(
                405, "methodNotAllowed", f"{req.method} is not allowed on {req.path}.",
                headers={"Allow": ", ".join(sorted(set(allowed)))}))
        return self.error_response(req, ApiError(404, "itemNotFound", f"No resource at {req.path}."))

    def _call(self, route, req):
        if route.auth:
            req.claims = self.authenticate(req, route.auth)
        return getattr(self, route.handler)(req)

    # -- control API ---------------------------------------------------------
    def control_health(self, req):
        return json_response({"ok": True})

    def control_reset(self, req):
        body = req.json(optional=True)
        self.reset(defaults=body.get("defaults", True) if isinstance(body, dict) else True)
        return json_response({"ok": True})

    def control_seed(self, req):
        return json_response(self.seed(req.json()))

    def _table(self, req):
        table = self.tables.get(req.params["collection"])
        if table is None:
            raise ApiError(404, "itemNotFound", f"No collection {req.params['collection']!r}; "
                                                f"known: {', '.join(self.collections)}.")
        return table

    def control_rows(self, req):
        return json_response(list(self._table(req).values()))

    def control_row(self, req):
        row = self._table(req).get(req.params["id"])
        if row is None:
            raise ApiError(404, "itemNotFound", f"No row {req.params['id']!r}.")
        return json_response(row)

    def control_requests(self, req):
        return json_response(self.request_log.entries())

    def control_requests_clear(self, req):
        self.request_log.clear()
        return json_response({"ok": True})

    def control_faults(self, req):
        return json_response(self.faults.describe())

    def control_fault_add(self, req):
        return json_response({"id": self.faults.add(req.json()).id})

    def control_faults_clear(self, req):
        self.faults.clear()
        return json_response({"ok": True})

    def control_tokens(self, req):
        return json_response(self.tokens.control(req.json()))


# --------------------------------------------------------------------------
# HTTP server
# --------------------------------------------------------------------------

class PeerHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pcref-peer/1.0"
    timeout = IDLE_TIMEOUT
    # headers and body go out in separate writes: without TCP_NODELAY, Nagle
    # and the client's delayed ACK stall every keep-alive answer by ~40 ms
    disable_nagle_algorithm = True

    def version_string(self):
        return self.server_version

    def _serve(self):
        try:
            self.server.app.handle(self)
        except (BrokenPipeError, ConnectionResetError):  # the client went away
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").strip().lower() == "chunked":
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            raise ApiError(400, "invalidRequest", "Content-Length is not a number.")
        size = int(length)
        if size > MAX_BODY:
            raise ApiError(413, "invalidRequest", f"The body exceeds {MAX_BODY} bytes.")
        return self.rfile.read(size)

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:  # ends at the last chunk, a bad line or MAX_BODY
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise ApiError(400, "invalidRequest", "Malformed chunked body.") from None
            if size == 0:
                break
            total += size
            if total > MAX_BODY:
                raise ApiError(413, "invalidRequest", f"The body exceeds {MAX_BODY} bytes.")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(8)
        for _ in range(100):  # trailer lines up to the empty line
            if self.rfile.readline(8192).strip() == b"":
                break
        return b"".join(chunks)

    def send(self, resp: Response):
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if resp.body:
            self.wfile.write(resp.body)

    def reset_connection(self):
        """Close with an RST instead of a FIN."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def log_message(self, fmt, *args):
        if not self.server.app.quiet:
            sys.stderr.write(f"[{self.server.app.name}] {self.address_string()} {fmt % args}\n")


def loopback_host(host: str) -> str:
    """The literal loopback address for ``host``; ValueError otherwise."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(f"refusing to listen on {host!r}: only loopback addresses are allowed")


class PeerServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: Emulator, host="127.0.0.1", port=0):
        host = loopback_host(host)
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.app = app
        super().__init__((host, port), PeerHandler)
        app.bind(self.base_url)

    def server_bind(self):
        # HTTPServer.server_bind would resolve the host name (getfqdn), which can
        # stall for seconds without DNS; the name is never used here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[0], self.server_address[1]

    def handle_error(self, request, client_address):
        # A client that went away mid-request (killed, reset) is not the
        # emulator's failure: no traceback for it.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def base_url(self) -> str:
        host = self.server_address[0]
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def stop(self):
        self.shutdown()
        self.server_close()
        self.app.close()


def start_in_thread(app_cls, host="127.0.0.1", port=0, **opts):
    """Run an emulator in a daemon thread of this process.

    ``opts`` go to the emulator's constructor (``seed_file``, ``quiet``
    (default True) ...).  Returns ``(server, base_url)``; ``server.app`` is
    the emulator, ``server.stop()`` ends it."""
    opts.setdefault("quiet", True)
    server = _serve(app_cls(**opts), host, port)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                     name=f"{app_cls.name}-server", daemon=True).start()
    return server, server.base_url


def http_call(method, url, body=None, headers=None, timeout=10.0):
    """One HTTP request on a fresh connection.  ``body`` may be bytes, str or
    a JSON value (sent as application/json).  Returns ``(status, headers,
    body_bytes)`` with ``headers`` an ``http.client.HTTPMessage``."""
    headers = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json_bytes(body)
        headers.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode("utf-8")
    split = urllib.parse.urlsplit(url)
    conn_cls = http.client.HTTPSConnection if split.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(split.hostname, split.port, timeout=timeout)
    try:
        target = split.path + (f"?{split.query}" if split.query else "")
        conn.request(method, target or "/", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def control(base_url, method, path, body=None, timeout=30.0):
    """Call the control API; returns the decoded JSON answer.  Raises
    RuntimeError (with the answer) on a status >= 400."""
    status, _, data = http_call(method, base_url.rstrip("/") + path, body, timeout=timeout)
    if status >= 400:
        raise RuntimeError(f"{method} {path} -> {status}: {data.decode('utf-8', 'replace')}")
    return json.loads(data) if data else None


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def _serve(app, host, port) -> PeerServer:
    """A server for ``app``; the app is closed if binding or seeding fails."""
    try:
        return PeerServer(app, host, port)
    except BaseException:
        app.close()
        raise


def _write_port_file(path, port):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(f"{port}\n")
    os.replace(tmp, path)


def main(app_cls, argv=None):
    """Command-line entry point shared by every emulator."""
    parser = argparse.ArgumentParser(prog=f"{app_cls.name} emulator",
                                     description=(app_cls.__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 = any free port)")
    parser.add_argument("--port-file", help="write the chosen port to this file once listening")
    parser.add_argument("--seed", help="JSON file in the /_control/seed format")
    parser.add_argument("--quiet", action="store_true", help="no request log on stderr")
    args = parser.parse_args(argv)
    try:
        loopback_host(args.host)
    except ValueError as exc:
        parser.error(str(exc))

    def abort(signum, frame):  # while starting: unwind, so temp files are removed
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, abort)
    signal.signal(signal.SIGINT, abort)
    try:
        server = _serve(app_cls(seed_file=args.seed, quiet=args.quiet), args.host, args.port)
    except (OSError, ValueError, RuntimeError, ApiError) as exc:  # port in use, bad seed file, no openssl
        parser.exit(1, f"{parser.prog}: cannot start: {exc}\n")

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        _write_port_file(args.port_file, server.port)
    print(f"READY {server.base_url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        server.app.close()
    return 0
