"""Partner Center webhook deliveries: verify, parse, refuse replays (pcref/webhook.h)."""

from __future__ import annotations

import ctypes
from typing import Any, Mapping, NamedTuple, Sequence

from ._handle import Handle, as_bytes, time_out
from ._lib import WebhookDelivery, WebhookOptions, lib


class WebhookEvent(NamedTuple):
    """One webhook event (a copy; nothing to free)."""
    name: str                    # EventName, e.g. "referral-updated"
    resource_uri: str | None
    resource_name: str | None    # "referral", or "test" for test-created
    audit_uri: str | None
    change_time: int | None      # ResourceChangeUtcDate, epoch ms
    referral_id: str | None      # the referral the event is about, None when not about one

    @classmethod
    def parse(cls, body: str | bytes) -> WebhookEvent:
        """Parse an event body WITHOUT verifying anything (for events verified elsewhere, tests)."""
        data = as_bytes(body)
        return _event(lambda out: lib.pcref_webhook_event_parse(out, data, len(data)))


def _event(fill: Any) -> WebhookEvent:
    ptr = lib.pcref_webhook_event_free.argtypes[0]()
    fill(ctypes.byref(ptr))
    try:
        return WebhookEvent(lib.pcref_webhook_event_name(ptr) or "", lib.pcref_webhook_event_resource_uri(ptr),
                            lib.pcref_webhook_event_resource_name(ptr), lib.pcref_webhook_event_audit_uri(ptr),
                            time_out(lib.pcref_webhook_event_change_time(ptr)),
                            lib.pcref_webhook_event_referral_id(ptr))
    finally:
        lib.pcref_webhook_event_free(ptr)


_HEADERS = (("authorization", "Authorization"), ("x_ms_signature", "x-ms-signature"),
            ("certificate_url", "X-MS-Certificate-Url"), ("signature_algorithm", "X-MS-Signature-Algorithm"))


def _header(headers: Any, name: str) -> str | None:
    """A header by case-insensitive name from a dict, an
    ``email.message.Message`` (http.server), a WSGI environ or a framework's
    headers object."""
    getter = getattr(headers, "get", None)
    if getter is not None:
        for key in (name, name.lower(), "HTTP_" + name.upper().replace("-", "_")):
            value = getter(key)
            if value is not None:
                return str(value)
    lower = name.lower()
    for key in headers:
        if isinstance(key, str) and key.lower() == lower:
            return str(headers[key])
    return None


def _delivery(body: bytes | str, **headers: str | None) -> Any:
    """The pcref_webhook_delivery of a body and its four headers (the struct keeps the bytes alive)."""
    data = as_bytes(body)
    d = WebhookDelivery.make()
    d.body, d.body_len = data, len(data)
    for attr, value in headers.items():
        setattr(d, attr, None if value is None else value.encode("utf-8"))
    return d


def delivery_from_headers(body: bytes | str, headers: Mapping[str, Any] | Any) -> Any:
    """The delivery as a web framework received it (see ``verify_webhook``)."""
    return _delivery(body, **{attr: _header(headers, name) for attr, name in _HEADERS})


class WebhookVerifier(Handle):
    """Verifies Partner Center webhook deliveries and remembers the ones it
    accepted (to refuse replays). Create one per receiving endpoint and keep it.

    Options are those of ``pcref_webhook_options``: ``certificate_hosts``
    (exact hosts, ``host:port`` allowed), ``trust_anchors_file``,
    ``issuer_organization``, ``max_age_ms``, ``max_skew_ms``,
    ``max_body_bytes``, ``dedup_capacity``, ``certificate_cache_seconds``;
    zero or None means the library's default.
    """

    _free_function_ = "pcref_webhook_verifier_free"

    def __init__(self, *, certificate_hosts: Sequence[str] | None = None, trust_anchors_file: str | None = None,
                 issuer_organization: str | None = None, max_age_ms: int = 0, max_skew_ms: int = 0,
                 max_body_bytes: int = 0, dedup_capacity: int = 0, certificate_cache_seconds: int = 0):
        o = WebhookOptions.make()
        if certificate_hosts is not None:
            hosts = (ctypes.c_char_p * (len(certificate_hosts) + 1))(
                *[h.encode("utf-8") for h in certificate_hosts], None)
            o.certificate_hosts = ctypes.cast(hosts, type(o.certificate_hosts))
        o.trust_anchors_file = trust_anchors_file.encode("utf-8") if trust_anchors_file else None
        o.issuer_organization = issuer_organization.encode("utf-8") if issuer_organization else None
        o.max_age_ms, o.max_skew_ms, o.max_body_bytes = max_age_ms, max_skew_ms, max_body_bytes
        o.dedup_capacity, o.certificate_cache_seconds = dedup_capacity, certificate_cache_seconds
        ptr = self._pointer_type_()()
        lib.pcref_webhook_verifier_new(ctypes.byref(ptr), ctypes.byref(o))   # copies the options
        super().__init__(ptr)

    def verify(self, body: bytes | str, *, authorization: str | None = None, x_ms_signature: str | None = None,
               certificate_url: str | None = None, signature_algorithm: str | None = None) -> WebhookEvent:
        """Verify one delivery (the body byte for byte as received) and return
        its event. On failure the ``pcref.Error`` raised carries in
        ``http_status`` the status to answer Partner Center with."""
        d = _delivery(body, authorization=authorization, x_ms_signature=x_ms_signature,
                      certificate_url=certificate_url, signature_algorithm=signature_algorithm)
        return _event(lambda out: lib.pcref_webhook_verify(out, self._h, ctypes.byref(d)))


def verify_webhook(verifier: WebhookVerifier, body: bytes | str, headers: Mapping[str, Any] | Any) -> WebhookEvent:
    """Verify a delivery as a web framework received it: the raw body and the
    request headers (a dict, ``http.server``'s ``self.headers``, a WSGI
    environ, Flask's or Django's headers — looked up case-insensitively).

    Returns the event; raises ``pcref.Error`` whose ``http_status`` is the
    status to answer (401/400 for bad signatures, 200 for replays, 503 when
    the certificate could not be fetched, ...)::

        try:
            event = pcref.verify_webhook(verifier, body, request.headers)
        except pcref.Error as e:
            return Response(status=e.http_status or 500)
    """
    d = delivery_from_headers(body, headers)
    return _event(lambda out: lib.pcref_webhook_verify(out, verifier._h, ctypes.byref(d)))
