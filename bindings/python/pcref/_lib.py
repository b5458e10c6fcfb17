"""The shared library: loading it, its C types, and the one declarative table
of the functions the bindings call.

Everything that touches ``ctypes.CDLL`` is here. The rest of the package calls
``lib.<name>(...)``: arguments are converted by the table's argtypes, status
returns raise typed exceptions (``errors.check_status``) and ``TEXT`` returns
come back as ``str`` (or ``None``).
"""

from __future__ import annotations

import ctypes
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_int, c_int32, c_int64,
                    c_size_t, c_uint, c_uint32, c_uint64, c_void_p)
from typing import Any, Callable

from . import _constants as K

SONAME = "libpcref.so.1"
"""The library's SONAME: what the loader asks for when ``PCREF_LIBRARY`` is unset."""


class LibraryNotFound(ImportError):
    """libpcref could not be loaded (raised when ``import pcref`` runs)."""


def _load() -> ctypes.CDLL:
    """Load ``$PCREF_LIBRARY`` if set, else the SONAME through the dynamic
    loader's search path. Never ``CDLL(None)``: symbols of whatever the
    process happens to have loaded are not libpcref."""
    path = os.environ.get("PCREF_LIBRARY", "")
    if path:
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            raise LibraryNotFound(
                f"PCREF_LIBRARY={path!r} could not be loaded ({e}): point it at libpcref.so.1, "
                f"e.g. build/lib/libpcref.so.1 of a Meson build, or unset it to use the installed "
                f"library") from None
    try:
        return ctypes.CDLL(SONAME)
    except OSError as e:
        raise LibraryNotFound(
            f"{SONAME} was not found by the dynamic loader ({e}): install libpcref "
            f"(`meson install -C build && ldconfig`, see bindings/python/README.md) or set "
            f"PCREF_LIBRARY to the path of libpcref.so.1") from None


# ---- C types ------------------------------------------------------------------


class Utf8:
    """Argument type for ``const char *``: accepts ``str`` (encoded as UTF-8),
    ``bytes`` or ``None`` (NULL)."""

    @classmethod
    def from_param(cls, value: Any) -> Any:
        if value is None or isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode("utf-8")
        raise TypeError(f"expected str, bytes or None, not {type(value).__name__}")


def _opaque(name: str) -> Any:
    """A distinct pointer type per handle, so passing a Referral where a
    Connection belongs is a TypeError and not a crash."""
    return POINTER(type(name, (Structure,), {"_fields_": []}))


referral_p = _opaque("pcref_referral")
referral_stream_p = _opaque("pcref_referral_stream")
opportunity_p = _opaque("pcref_opportunity")
mapping_p = _opaque("pcref_mapping")
connection_p = _opaque("pcref_connection")
partner_center_p = _opaque("pcref_partner_center")
webhook_registration_p = _opaque("pcref_webhook_registration")
webhook_event_p = _opaque("pcref_webhook_event")
webhook_verifier_p = _opaque("pcref_webhook_verifier")
crm_p = _opaque("pcref_crm")
store_p = _opaque("pcref_store")
sync_p = _opaque("pcref_sync")

char_pp = POINTER(c_void_p)   # char **out: kept as an address, so it can go back to pcref_free()
size_p = POINTER(c_size_t)
int_p = POINTER(c_int)


class Versioned(Structure):
    """A struct that crosses the ABI with ``unsigned int version`` first,
    initialised by the library's ``*_init(ptr, version)`` (STYLE.md)."""

    _c_name_: str = ""
    _init_function_: str = ""
    _version_: int = 0

    @classmethod
    def make(cls) -> Any:
        s = cls()
        getattr(lib, cls._init_function_)(ctypes.byref(s), cls._version_)
        return s


class ErrorStruct(Structure):
    _c_name_ = "pcref_error"
    _fields_ = [("version", c_uint), ("code", c_int), ("http_status", c_int), ("message", c_char_p),
                ("service_code", c_char_p), ("service_inner_code", c_char_p)]


TOKEN_CB = CFUNCTYPE(c_int, c_void_p, c_size_t, POINTER(c_int64), c_uint32, c_void_p)


class ConnectionOptions(Versioned):
    _c_name_ = "pcref_connection_options"
    _init_function_ = "pcref_connection_options_init"
    _version_ = K.CONNECTION_OPTIONS_VERSION
    _fields_ = [("version", c_uint), ("base_url", c_char_p), ("service_name", c_char_p), ("auth", c_int32),
                ("token", c_char_p), ("token_url", c_char_p), ("client_id", c_char_p),
                ("client_secret", c_char_p), ("username", c_char_p), ("password", c_char_p),
                ("refresh_token", c_char_p), ("resource", c_char_p), ("scope", c_char_p),
                ("token_cb", TOKEN_CB), ("token_payload", c_void_p), ("connect_timeout_ms", c_int32),
                ("timeout_ms", c_int32), ("retry_max", c_int32), ("retry_deadline_ms", c_int32),
                ("retry_base_ms", c_int32), ("retry_after_max_ms", c_int32), ("verify_tls", c_int32),
                ("ca_file", c_char_p), ("ca_path", c_char_p), ("proxy", c_char_p),
                ("max_response_bytes", c_int64)]


class ConnectionStats(Structure):
    _c_name_ = "pcref_connection_stats"
    _fields_ = [("version", c_uint)] + [(n, c_uint64) for n in (
        "calls", "requests", "retries", "token_requests", "bytes_sent", "bytes_received", "responses_2xx",
        "responses_3xx", "responses_4xx", "responses_5xx", "throttled", "transport_errors",
        "connections_opened")]


class ReferralQuery(Versioned):
    _c_name_ = "pcref_referral_query"
    _init_function_ = "pcref_referral_query_init"
    _version_ = K.REFERRAL_QUERY_VERSION
    _fields_ = [("version", c_uint), ("filter", c_char_p), ("orderby", c_char_p), ("select", c_char_p),
                ("top", c_int32)]


class WebhookOptions(Versioned):
    _c_name_ = "pcref_webhook_options"
    _init_function_ = "pcref_webhook_options_init"
    _version_ = K.WEBHOOK_OPTIONS_VERSION
    _fields_ = [("version", c_uint), ("certificate_hosts", POINTER(c_char_p)),
                ("trust_anchors_file", c_char_p), ("issuer_organization", c_char_p), ("max_age_ms", c_int64),
                ("max_skew_ms", c_int64), ("max_body_bytes", c_int64), ("dedup_capacity", c_int32),
                ("certificate_cache_seconds", c_int32)]


class WebhookDelivery(Versioned):
    _c_name_ = "pcref_webhook_delivery"
    _init_function_ = "pcref_webhook_delivery_init"
    _version_ = K.WEBHOOK_DELIVERY_VERSION
    _fields_ = [("version", c_uint), ("body", c_char_p), ("body_len", c_size_t), ("authorization", c_char_p),
                ("x_ms_signature", c_char_p), ("certificate_url", c_char_p), ("signature_algorithm", c_char_p)]


REFERRAL_CB = CFUNCTYPE(c_int, referral_p, c_void_p)
OPPORTUNITY_CB = CFUNCTYPE(c_int, opportunity_p, c_void_p)

# The CRM backend vtable members (pcref/sys/crm_backend.h), in order.
OPP_OUT = POINTER(opportunity_p)
CRM_BACKEND_MEMBERS = (
    ("destroy", CFUNCTYPE(None, c_void_p)),
    ("get_opportunity", CFUNCTYPE(c_int, OPP_OUT, c_char_p, c_void_p)),
    ("find_opportunity", CFUNCTYPE(c_int, OPP_OUT, c_char_p, c_void_p)),
    ("create_opportunity", CFUNCTYPE(c_int, OPP_OUT, opportunity_p, c_void_p)),
    ("update_opportunity", CFUNCTYPE(c_int, OPP_OUT, opportunity_p, int_p, c_size_t, c_void_p)),
    ("list_modified", CFUNCTYPE(c_int, c_int64, OPPORTUNITY_CB, c_void_p, c_void_p)),
    ("ensure_account", CFUNCTYPE(c_int, opportunity_p, int_p, c_size_t, c_void_p)),
    ("ensure_contact", CFUNCTYPE(c_int, opportunity_p, c_void_p)),
    ("add_solution", CFUNCTYPE(c_int, c_char_p, c_char_p, c_char_p, c_void_p)),
    ("remove_solution", CFUNCTYPE(c_int, c_char_p, c_char_p, c_void_p)),
    ("close_opportunity", CFUNCTYPE(c_int, c_char_p, c_int, c_char_p, c_void_p)),
    ("find_lead", CFUNCTYPE(c_int, OPP_OUT, c_char_p, c_void_p)),
    ("create_lead", CFUNCTYPE(c_int, OPP_OUT, opportunity_p, c_void_p)),
    ("update_lead", CFUNCTYPE(c_int, OPP_OUT, opportunity_p, int_p, c_size_t, c_void_p)),
    ("resolve_currency", CFUNCTYPE(c_int, c_char_p, c_void_p)),
    ("resolve_user", CFUNCTYPE(c_int, c_char_p, c_void_p)),
    ("batch_begin", CFUNCTYPE(c_int, c_void_p)),
    ("batch_commit", CFUNCTYPE(c_int, c_void_p)),
)


class CrmBackendStruct(Versioned):
    _c_name_ = "pcref_crm_backend"
    _init_function_ = "pcref_crm_backend_init"
    _version_ = K.CRM_BACKEND_VERSION
    _fields_ = [("version", c_uint), ("name", c_char_p), ("payload", c_void_p)] + list(CRM_BACKEND_MEMBERS)


class Link(Versioned):
    _c_name_ = "pcref_link"
    _init_function_ = "pcref_link_init"
    _version_ = K.LINK_VERSION
    _fields_ = [("version", c_uint), ("referral_id", c_char_p), ("crm_id", c_char_p), ("base", c_char_p),
                ("referral_etag", c_char_p), ("crm_version", c_char_p), ("started_ms", c_int64),
                ("synced_ms", c_int64), ("last_code", c_int), ("last_message", c_char_p), ("flags", c_uint32)]


class Retry(Versioned):
    _c_name_ = "pcref_retry"
    _init_function_ = "pcref_retry_init"
    _version_ = K.RETRY_VERSION
    _fields_ = [("version", c_uint), ("side", c_int), ("id", c_char_p), ("attempts", c_uint32),
                ("next_ms", c_int64), ("last_code", c_int), ("last_message", c_char_p)]


LINK_CB = CFUNCTYPE(c_int, POINTER(Link), c_void_p)
RETRY_CB = CFUNCTYPE(c_int, POINTER(Retry), c_void_p)

# The state store vtable members (pcref/sys/store.h), in order.
STORE_BACKEND_MEMBERS = (
    ("destroy", CFUNCTYPE(None, c_void_p)),
    ("begin", CFUNCTYPE(c_int, c_void_p)),
    ("commit", CFUNCTYPE(c_int, c_void_p)),
    ("rollback", CFUNCTYPE(c_int, c_void_p)),
    ("link_get", CFUNCTYPE(c_int, c_char_p, c_char_p, LINK_CB, c_void_p, c_void_p)),
    ("link_put", CFUNCTYPE(c_int, POINTER(Link), c_void_p)),
    ("link_delete", CFUNCTYPE(c_int, c_char_p, c_char_p, c_void_p)),
    ("link_list", CFUNCTYPE(c_int, LINK_CB, c_void_p, c_void_p)),
    ("watermark_get", CFUNCTYPE(c_int, c_char_p, POINTER(c_int64), c_void_p)),
    ("watermark_set", CFUNCTYPE(c_int, c_char_p, c_int64, c_void_p)),
    ("retry_put", CFUNCTYPE(c_int, POINTER(Retry), c_void_p)),
    ("retry_delete", CFUNCTYPE(c_int, c_int, c_char_p, c_void_p)),
    ("retry_list", CFUNCTYPE(c_int, c_int64, RETRY_CB, c_void_p, c_void_p)),
    ("delivery_record", CFUNCTYPE(c_int, c_char_p, c_int64, c_void_p)),
    ("delivery_prune", CFUNCTYPE(c_int, c_int64, c_void_p)),
)


class StoreBackendStruct(Versioned):
    _c_name_ = "pcref_store_backend"
    _init_function_ = "pcref_store_backend_init"
    _version_ = K.STORE_BACKEND_VERSION
    _fields_ = [("version", c_uint), ("name", c_char_p), ("payload", c_void_p)] + list(STORE_BACKEND_MEMBERS)


class SyncEvent(Structure):
    _c_name_ = "pcref_sync_event"
    _fields_ = [("version", c_uint), ("direction", c_int), ("action", c_int), ("referral_id", c_char_p),
                ("crm_id", c_char_p), ("fields", POINTER(c_int)), ("nfields", c_size_t),
                ("conflicts", POINTER(c_int)), ("nconflicts", c_size_t), ("changes", c_char_p), ("code", c_int),
                ("message", c_char_p), ("flags", c_uint32)]


SYNC_EVENT_CB = CFUNCTYPE(None, POINTER(SyncEvent), c_void_p)
SYNC_PROGRESS_CB = CFUNCTYPE(c_int, c_uint64, c_uint64, c_void_p)

SYNC_REPORT_COUNTERS = ("examined", "created", "updated", "accepted", "declined", "closed", "linked", "unchanged",
                        "skipped", "failed", "conflicts", "retried")


class SyncReport(Versioned):
    _c_name_ = "pcref_sync_report"
    _init_function_ = "pcref_sync_report_init"
    _version_ = K.SYNC_REPORT_VERSION
    _fields_ = [("version", c_uint)] + [(n, c_uint32) for n in SYNC_REPORT_COUNTERS]


class SyncOptions(Versioned):
    _c_name_ = "pcref_sync_options"
    _init_function_ = "pcref_sync_options_init"
    _version_ = K.SYNC_OPTIONS_VERSION
    _fields_ = [("version", c_uint), ("on_event", SYNC_EVENT_CB), ("event_payload", c_void_p),
                ("on_progress", SYNC_PROGRESS_CB), ("progress_payload", c_void_p),
                ("referral_link_base", c_char_p), ("retry_max_attempts", c_uint32), ("retry_delay_ms", c_int64),
                ("overlap_ms", c_int64)]


STRUCTS = (ErrorStruct, ConnectionOptions, ConnectionStats, ReferralQuery, WebhookOptions, WebhookDelivery,
           CrmBackendStruct, Link, Retry, StoreBackendStruct, SyncEvent, SyncReport, SyncOptions)
"""The structs that cross the ABI (their layout is checked against C by the tests)."""

# ---- the function table -------------------------------------------------------------------

STATUS = "status"
"""Return marker: an ``int`` that is 0 or positive on success and a negative
``PCREF_E*`` code on failure (raised as the matching ``pcref.Error``)."""
TEXT = "text"
"""Return marker: a borrowed or static ``const char *``, returned as ``str`` or ``None``."""

R, S, O, M = referral_p, referral_stream_p, opportunity_p, mapping_p
C, PC, CRM, ST, SY = connection_p, partner_center_p, crm_p, store_p, sync_p
WR, WE, WV = webhook_registration_p, webhook_event_p, webhook_verifier_p
u8 = Utf8

# The referral getters and setters of pcref/referral.h, by suffix: (suffix, kind, settable).
REFERRAL_FIELDS = (
    ("id", "text", False), ("engagement_id", "text", True), ("name", "text", True),
    ("external_reference_id", "text", True), ("organization_id", "text", False),
    ("organization_name", "text", False), ("status", "text", False), ("substatus", "text", False),
    ("status_reason", "text", True), ("type", "text", True), ("qualification", "text", True),
    ("direction", "text", False), ("etag", "text", False), ("microsoft_msx_id", "text", False),
    ("created_time", "time", False), ("updated_time", "time", False), ("expiration_time", "time", False),
    ("accepted_time", "time", False), ("closed_time", "time", False),
    ("customer_name", "text", True), ("address_line1", "text", True), ("address_line2", "text", True),
    ("address_city", "text", True), ("address_state", "text", True), ("address_postal_code", "text", True),
    ("address_country", "text", True), ("address_region", "text", True), ("customer_size", "text", True),
    ("deal_value", "number", True), ("currency", "text", True), ("closing_time", "time", True),
    ("notes", "text", True), ("invited_by_organization_id", "text", True),
    ("invited_by_organization_name", "text", False), ("assistance_request_code", "text", True),
    ("invite_notes", "text", True),
)
_GETTER_RESTYPE = {"text": TEXT, "time": c_int64, "number": c_double}
_SETTER_ARG = {"text": u8, "time": c_int64, "number": c_double}

FUNCTIONS: tuple[tuple[str, tuple[Any, ...], Any], ...] = (
    # global.h, errors.h
    ("pcref_init", (), STATUS),
    ("pcref_shutdown", (), STATUS),
    ("pcref_version_string", (), TEXT),
    ("pcref_free", (c_void_p,), None),
    ("pcref_allocator_init", (c_void_p, c_uint), STATUS),
    ("pcref_error_last", (), POINTER(ErrorStruct)),
    ("pcref_error_clear", (), None),
    ("pcref_strerror", (c_int,), TEXT),
    ("pcref_error_set", (c_int, u8), c_int),
    # referral.h
    ("pcref_referral_new", (POINTER(R),), STATUS),
    ("pcref_referral_parse", (POINTER(R), c_char_p, c_size_t), STATUS),
    ("pcref_referral_dup", (POINTER(R), R), STATUS),
    ("pcref_referral_to_json", (R, char_pp, size_p), STATUS),
    ("pcref_referral_free", (R,), None),
) + tuple(
    ("pcref_referral_" + suffix, (R,), _GETTER_RESTYPE[kind]) for suffix, kind, _ in REFERRAL_FIELDS
) + tuple(
    ("pcref_referral_set_" + suffix, (R, _SETTER_ARG[kind]), STATUS)
    for suffix, kind, settable in REFERRAL_FIELDS if settable
) + (
    ("pcref_referral_set_status", (R, u8, u8), STATUS),
    ("pcref_referral_consent", (R, c_int), c_int),
    ("pcref_referral_set_consent", (R, c_int, c_int), STATUS),
    ("pcref_referral_solution_count", (R,), c_size_t),
    ("pcref_referral_solution_id", (R, c_size_t), TEXT),
    ("pcref_referral_solution_name", (R, c_size_t), TEXT),
    ("pcref_referral_solution_type", (R, c_size_t), TEXT),
    ("pcref_referral_solution_add", (R, u8, u8, u8), STATUS),
    ("pcref_referral_solution_remove", (R, c_size_t), STATUS),
    ("pcref_referral_member_count", (R, c_int), c_size_t),
    ("pcref_referral_member_first_name", (R, c_int, c_size_t), TEXT),
    ("pcref_referral_member_last_name", (R, c_int, c_size_t), TEXT),
    ("pcref_referral_member_email", (R, c_int, c_size_t), TEXT),
    ("pcref_referral_member_phone", (R, c_int, c_size_t), TEXT),
    ("pcref_referral_member_add", (R, c_int, u8, u8, u8, u8), STATUS),
    ("pcref_referral_member_remove", (R, c_int, c_size_t), STATUS),
    ("pcref_referral_target_count", (R,), c_size_t),
    ("pcref_referral_target_type", (R, c_size_t), TEXT),
    ("pcref_referral_target_id", (R, c_size_t), TEXT),
    ("pcref_referral_target_add", (R, u8, u8), STATUS),
    ("pcref_referral_get_string", (R, u8), TEXT),
    ("pcref_referral_get_json", (R, u8, char_pp), STATUS),
    ("pcref_referral_set_json", (R, u8, c_char_p, c_size_t), STATUS),
    ("pcref_referral_diff", (char_pp, size_p, R, R), STATUS),
    ("pcref_referral_validate", (R, c_uint32), STATUS),
    ("pcref_status_check", (u8, u8), STATUS),
    ("pcref_status_transition_check", (u8, u8, u8, u8), STATUS),
    ("pcref_status_is_terminal", (u8,), c_int),
    ("pcref_country_check", (u8,), STATUS),
    ("pcref_currency_check", (u8,), STATUS),
    ("pcref_referral_stream_new", (POINTER(S), REFERRAL_CB, c_void_p), STATUS),
    ("pcref_referral_stream_feed", (S, c_char_p, c_size_t), STATUS),
    ("pcref_referral_stream_finish", (S,), STATUS),
    ("pcref_referral_stream_next_link", (S,), TEXT),
    ("pcref_referral_stream_count", (S,), c_size_t),
    ("pcref_referral_stream_free", (S,), None),
    ("pcref_referral_list_parse", (c_char_p, c_size_t, REFERRAL_CB, c_void_p, char_pp), STATUS),
    # opportunity.h
    ("pcref_opportunity_field_count", (), c_int),
    ("pcref_opportunity_field_name", (c_int,), TEXT),
    ("pcref_opportunity_field_kind", (c_int,), c_int),
    ("pcref_opportunity_field_lookup", (u8,), c_int),
    ("pcref_opportunity_new", (POINTER(O),), STATUS),
    ("pcref_opportunity_dup", (POINTER(O), O), STATUS),
    ("pcref_opportunity_free", (O,), None),
    ("pcref_opportunity_to_json", (O, char_pp, size_p), STATUS),
    ("pcref_opportunity_from_json", (POINTER(O), c_char_p, c_size_t), STATUS),
    ("pcref_opportunity_has", (O, c_int), c_int),
    ("pcref_opportunity_unset", (O, c_int), STATUS),
    ("pcref_opportunity_text", (O, c_int), TEXT),
    ("pcref_opportunity_number", (O, c_int), c_double),
    ("pcref_opportunity_time", (O, c_int), c_int64),
    ("pcref_opportunity_flag", (O, c_int), c_int),
    ("pcref_opportunity_set_text", (O, c_int, u8), STATUS),
    ("pcref_opportunity_set_number", (O, c_int, c_double), STATUS),
    ("pcref_opportunity_set_time", (O, c_int, c_int64), STATUS),
    ("pcref_opportunity_set_flag", (O, c_int, c_int), STATUS),
    ("pcref_opportunity_field_equal", (O, O, c_int), c_int),
    ("pcref_opportunity_solution_count", (O,), c_size_t),
    ("pcref_opportunity_solution_id", (O, c_size_t), TEXT),
    ("pcref_opportunity_solution_name", (O, c_size_t), TEXT),
    ("pcref_opportunity_solution_add", (O, u8, u8), STATUS),
    ("pcref_opportunity_solution_remove", (O, u8), STATUS),
    ("pcref_opportunity_solutions_equal", (O, O), c_int),
    ("pcref_opportunity_extra_count", (O,), c_size_t),
    ("pcref_opportunity_extra_name", (O, c_size_t), TEXT),
    ("pcref_opportunity_extra_get", (O, u8, char_pp), STATUS),
    ("pcref_opportunity_extra_text", (O, u8), TEXT),
    ("pcref_opportunity_extra_set", (O, u8, c_char_p, c_size_t), STATUS),
    # mapping.h
    ("pcref_mapping_new", (POINTER(M), u8), STATUS),
    ("pcref_mapping_load", (POINTER(M), c_char_p, c_size_t), STATUS),
    ("pcref_mapping_to_json", (M, char_pp, size_p), STATUS),
    ("pcref_mapping_free", (M,), None),
    ("pcref_mapping_backend", (M,), TEXT),
    ("pcref_mapping_column", (M, c_int), TEXT),
    ("pcref_mapping_set_column", (M, c_int, u8), STATUS),
    ("pcref_mapping_entity", (M, u8), TEXT),
    ("pcref_mapping_stage", (M, c_int), TEXT),
    ("pcref_mapping_option", (M, c_int), c_int),
    ("pcref_mapping_account_match_count", (M,), c_size_t),
    ("pcref_mapping_account_match", (M, c_size_t), c_int),
    ("pcref_mapping_required_default", (M, u8, u8), TEXT),
    ("pcref_mapping_required_default_count", (M, u8), c_size_t),
    ("pcref_mapping_required_default_column", (M, u8, c_size_t), TEXT),
    ("pcref_mapping_extra_count", (M,), c_size_t),
    ("pcref_mapping_extra_referral", (M, c_size_t), TEXT),
    ("pcref_mapping_extra_crm", (M, c_size_t), TEXT),
    ("pcref_mapping_extra_direction", (M, c_size_t), c_int),
    ("pcref_mapping_conflict_winner", (M, c_int), c_int),
    # connection.h
    ("pcref_connection_options_init", (POINTER(ConnectionOptions), c_uint), STATUS),
    ("pcref_connection_new", (POINTER(C), POINTER(ConnectionOptions)), STATUS),
    ("pcref_connection_free", (C,), None),
    ("pcref_connection_base_url", (C,), TEXT),
    ("pcref_connection_stats_get", (C, POINTER(ConnectionStats)), STATUS),
    ("pcref_connection_stats_reset", (C,), None),
    ("pcref_connection_token_invalidate", (C,), None),
    # partnercenter.h
    ("pcref_partner_center_new", (POINTER(PC), C, C), STATUS),
    ("pcref_partner_center_free", (PC,), None),
    ("pcref_referral_query_init", (POINTER(ReferralQuery), c_uint), STATUS),
    ("pcref_partner_center_list_referrals", (PC, POINTER(ReferralQuery), REFERRAL_CB, c_void_p), STATUS),
    ("pcref_partner_center_get_referral", (POINTER(R), PC, u8), STATUS),
    ("pcref_partner_center_create_referral", (POINTER(R), PC, R), STATUS),
    ("pcref_partner_center_update_referral", (POINTER(R), PC, u8, c_char_p, c_size_t, u8), STATUS),
    ("pcref_partner_center_apply", (POINTER(R), PC, R, R), STATUS),
    ("pcref_partner_center_list_related", (PC, u8, REFERRAL_CB, c_void_p), STATUS),
    ("pcref_partner_center_invite_microsoft", (POINTER(R), PC, R), STATUS),
    ("pcref_partner_center_create_cosell", (POINTER(R), POINTER(R), PC, R), STATUS),
    ("pcref_partner_center_webhook_get", (POINTER(WR), PC), STATUS),
    ("pcref_partner_center_webhook_register", (POINTER(WR), PC, u8, POINTER(c_char_p), c_uint32), STATUS),
    ("pcref_webhook_registration_url", (WR,), TEXT),
    ("pcref_webhook_registration_event_count", (WR,), c_size_t),
    ("pcref_webhook_registration_event", (WR, c_size_t), TEXT),
    ("pcref_webhook_registration_replaced_url", (WR,), TEXT),
    ("pcref_webhook_registration_free", (WR,), None),
    # webhook.h
    ("pcref_webhook_event_parse", (POINTER(WE), c_char_p, c_size_t), STATUS),
    ("pcref_webhook_event_free", (WE,), None),
    ("pcref_webhook_event_name", (WE,), TEXT),
    ("pcref_webhook_event_resource_uri", (WE,), TEXT),
    ("pcref_webhook_event_resource_name", (WE,), TEXT),
    ("pcref_webhook_event_audit_uri", (WE,), TEXT),
    ("pcref_webhook_event_change_time", (WE,), c_int64),
    ("pcref_webhook_event_referral_id", (WE,), TEXT),
    ("pcref_webhook_options_init", (POINTER(WebhookOptions), c_uint), STATUS),
    ("pcref_webhook_verifier_new", (POINTER(WV), POINTER(WebhookOptions)), STATUS),
    ("pcref_webhook_verifier_free", (WV,), None),
    ("pcref_webhook_delivery_init", (POINTER(WebhookDelivery), c_uint), STATUS),
    ("pcref_webhook_verify", (POINTER(WE), WV, POINTER(WebhookDelivery)), STATUS),
    # crm.h, sys/crm_backend.h
    ("pcref_crm_new", (POINTER(CRM), POINTER(CrmBackendStruct)), STATUS),
    ("pcref_crm_memory_new", (POINTER(CRM), u8), STATUS),
    ("pcref_crm_dynamics_new", (POINTER(CRM), C, M), STATUS),
    ("pcref_crm_salesforce_new", (POINTER(CRM), C, M), STATUS),
    ("pcref_crm_free", (CRM,), None),
    ("pcref_crm_name", (CRM,), TEXT),
    ("pcref_crm_get_opportunity", (POINTER(O), CRM, u8), STATUS),
    ("pcref_crm_find_opportunity", (POINTER(O), CRM, u8), STATUS),
    ("pcref_crm_create_opportunity", (POINTER(O), CRM, O), STATUS),
    ("pcref_crm_update_opportunity", (POINTER(O), CRM, O, int_p, c_size_t), STATUS),
    ("pcref_crm_list_modified", (CRM, c_int64, OPPORTUNITY_CB, c_void_p), STATUS),
    ("pcref_crm_ensure_account", (CRM, O, int_p, c_size_t), STATUS),
    ("pcref_crm_ensure_contact", (CRM, O), STATUS),
    ("pcref_crm_add_solution", (CRM, u8, u8, u8), STATUS),
    ("pcref_crm_remove_solution", (CRM, u8, u8), STATUS),
    ("pcref_crm_close_opportunity", (CRM, u8, c_int, u8), STATUS),
    ("pcref_crm_find_lead", (POINTER(O), CRM, u8), STATUS),
    ("pcref_crm_create_lead", (POINTER(O), CRM, O), STATUS),
    ("pcref_crm_update_lead", (POINTER(O), CRM, O, int_p, c_size_t), STATUS),
    ("pcref_crm_resolve_currency", (CRM, u8), STATUS),
    ("pcref_crm_resolve_user", (CRM, u8), STATUS),
    ("pcref_crm_batch_begin", (CRM,), STATUS),
    ("pcref_crm_batch_commit", (CRM,), STATUS),
    ("pcref_crm_backend_init", (POINTER(CrmBackendStruct), c_uint), STATUS),
    # store.h, sys/store.h
    ("pcref_store_new", (POINTER(ST), POINTER(StoreBackendStruct)), STATUS),
    ("pcref_store_sqlite_open", (POINTER(ST), u8, c_uint32), STATUS),
    ("pcref_store_memory_new", (POINTER(ST),), STATUS),
    ("pcref_store_free", (ST,), None),
    ("pcref_store_name", (ST,), TEXT),
    ("pcref_store_begin", (ST,), STATUS),
    ("pcref_store_commit", (ST,), STATUS),
    ("pcref_store_rollback", (ST,), STATUS),
    ("pcref_store_link_get", (ST, u8, u8, LINK_CB, c_void_p), STATUS),
    ("pcref_store_link_put", (ST, POINTER(Link)), STATUS),
    ("pcref_store_link_delete", (ST, u8, u8), STATUS),
    ("pcref_store_link_list", (ST, LINK_CB, c_void_p), STATUS),
    ("pcref_store_watermark_get", (ST, u8, POINTER(c_int64)), STATUS),
    ("pcref_store_watermark_set", (ST, u8, c_int64), STATUS),
    ("pcref_store_retry_put", (ST, POINTER(Retry)), STATUS),
    ("pcref_store_retry_delete", (ST, c_int, u8), STATUS),
    ("pcref_store_retry_list", (ST, c_int64, RETRY_CB, c_void_p), STATUS),
    ("pcref_store_delivery_record", (ST, u8, c_int64), STATUS),
    ("pcref_store_delivery_prune", (ST, c_int64), STATUS),
    ("pcref_link_init", (POINTER(Link), c_uint), STATUS),
    ("pcref_retry_init", (POINTER(Retry), c_uint), STATUS),
    ("pcref_store_backend_init", (POINTER(StoreBackendStruct), c_uint), STATUS),
    # sync.h
    ("pcref_sync_report_init", (POINTER(SyncReport), c_uint), STATUS),
    ("pcref_sync_options_init", (POINTER(SyncOptions), c_uint), STATUS),
    ("pcref_sync_new", (POINTER(SY), PC, CRM, M, ST, POINTER(SyncOptions)), STATUS),
    ("pcref_sync_free", (SY,), None),
    ("pcref_sync_poll", (SY, c_uint32, POINTER(SyncReport)), STATUS),
    ("pcref_sync_handle_webhook", (SY, WV, POINTER(WebhookDelivery), c_uint32, POINTER(SyncReport)), STATUS),
    ("pcref_sync_referral", (SY, u8, c_uint32, POINTER(SyncReport)), STATUS),
    ("pcref_sync_opportunity", (SY, u8, c_uint32, POINTER(SyncReport)), STATUS),
    ("pcref_sync_backfill", (SY, c_uint32, POINTER(SyncReport)), STATUS),
)
"""(name, argtypes, restype) of every C function the bindings call; applied
once, at import, by ``bind()``."""

UNBOUND = {
    "pcref_allocator_set": "a Python host cannot usefully replace malloc(); the library keeps its default",
}
"""Exported functions the bindings deliberately leave out, with the reason
(tests/test_constants.py checks that every exported function is in FUNCTIONS
or here)."""


REQUIRED = ("pcref_init", "pcref_shutdown", "pcref_version_string", "pcref_error_last", "pcref_free")
"""Functions every libpcref has: a library without them is not libpcref."""


def _missing(name: str) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        from .errors import NotSupported
        raise NotSupported(f"the loaded libpcref has no {name}(): it is older than these bindings; "
                           f"install a newer libpcref")
    call.__name__ = name
    return call


class Library:
    """The bound functions, as attributes (``lib.pcref_referral_name``)."""

    def __init__(self, cdll: ctypes.CDLL):
        self.cdll = cdll
        self.path = getattr(cdll, "_name", SONAME)


def bind(cdll: ctypes.CDLL, check_status: Callable[..., Any]) -> Library:
    """Apply FUNCTIONS to the loaded library. A function the library lacks
    (an older libpcref) becomes one that raises ``pcref.NotSupported``."""
    bound = Library(cdll)
    for required in REQUIRED:
        if not hasattr(cdll, required):
            raise LibraryNotFound(f"{bound.path} is not libpcref: it has no {required}(); check PCREF_LIBRARY")

    def text(result: bytes | None, func: Any, args: Any) -> str | None:
        return None if result is None else result.decode("utf-8", "replace")

    for name, argtypes, restype in FUNCTIONS:
        try:
            f = getattr(cdll, name)
        except AttributeError:
            setattr(bound, name, _missing(name))
            continue
        f.argtypes = argtypes
        if restype is STATUS:
            f.restype = c_int
            f.errcheck = check_status
        elif restype is TEXT:
            f.restype = c_char_p
            f.errcheck = text
        else:
            f.restype = restype
        setattr(bound, name, f)
    return bound


from .errors import check_status  # noqa: E402  (errors reads lib at call time only)

lib = bind(_load(), check_status)
"""The loaded, bound library."""
