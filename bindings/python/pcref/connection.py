"""Connection: an authenticated HTTP endpoint (pcref/connection.h)."""

from __future__ import annotations

import ctypes
from typing import Any, Callable, Tuple, Union

from . import _constants as K
from ._handle import Handle
from ._lib import TOKEN_CB, ConnectionOptions, ConnectionStats, lib
from .errors import report

TokenProvider = Callable[[bool], Union[str, Tuple[str, int]]]
"""``provider(refresh) -> token`` or ``(token, expires_at_ms)``; ``refresh``
is True when the previous token was refused."""

_STRING_OPTIONS = ("base_url", "service_name", "token", "token_url", "client_id", "client_secret", "username",
                   "password", "refresh_token", "resource", "scope", "ca_file", "ca_path", "proxy")
_INT_OPTIONS = ("auth", "connect_timeout_ms", "timeout_ms", "retry_max", "retry_deadline_ms", "retry_base_ms",
                "retry_after_max_ms", "verify_tls", "max_response_bytes")


def _token_thunk(provider: TokenProvider) -> Any:
    def call(buf: int, size: int, expires_at: Any, flags: int, payload: Any) -> int:
        try:
            got = provider(bool(flags & K.TOKEN_REFRESH))
            token, expiry = (got, 0) if isinstance(got, str) else got
            data = token.encode("utf-8")
            if len(data) >= size:
                raise ValueError(f"the token is {len(data)} bytes; at most {size - 1} fit")
            ctypes.memmove(buf, data + b"\0", len(data) + 1)
            expires_at[0] = int(expiry)
            return 0
        except BaseException as e:
            report(e, "the token provider")
            return -1
    return TOKEN_CB(call)


class Connection(Handle):
    """An authenticated endpoint: tokens, retries, throttling, counters.

    Keyword arguments are the members of ``pcref_connection_options``
    (``base_url``, ``auth=pcref.AUTH_PASSWORD``, ``token_url``, ``client_id``,
    ``client_secret``, ``username``, ``password``, ``resource``, ``scope``,
    ``retry_base_ms``, ...); ``token_provider`` is a callable for
    ``pcref.AUTH_CALLBACK`` (set implicitly when given).
    """

    _free_function_ = "pcref_connection_free"

    def __init__(self, base_url: str, *, token_provider: TokenProvider | None = None, **options: Any):
        o = ConnectionOptions.make()
        keep = []
        unknown = set(options) - set(_STRING_OPTIONS) - set(_INT_OPTIONS)
        if unknown:
            raise TypeError(f"unknown connection option(s): {', '.join(sorted(unknown))}")
        for name, value in dict(options, base_url=base_url).items():
            if value is None:
                continue
            if name in _STRING_OPTIONS:
                keep.append(value.encode("utf-8"))
                setattr(o, name, keep[-1])
            else:
                setattr(o, name, int(value))
        self._token_cb = None
        if token_provider is not None:
            self._token_cb = _token_thunk(token_provider)   # lives as long as this object
            o.token_cb = self._token_cb
            if "auth" not in options:
                o.auth = K.AUTH_CALLBACK
        ptr = self._pointer_type_()()
        lib.pcref_connection_new(ctypes.byref(ptr), ctypes.byref(o))
        super().__init__(ptr)

    @property
    def base_url(self) -> str:
        return lib.pcref_connection_base_url(self._h) or ""

    def stats(self) -> dict[str, int]:
        """The counters (``calls``, ``requests``, ``retries``, ``throttled``, ...)."""
        s = ConnectionStats(version=K.CONNECTION_STATS_VERSION)
        lib.pcref_connection_stats_get(self._h, ctypes.byref(s))
        return {name: getattr(s, name) for name, _ in ConnectionStats._fields_ if name != "version"}

    def reset_stats(self) -> None:
        lib.pcref_connection_stats_reset(self._h)

    def invalidate_token(self) -> None:
        """Forget the cached token; the next request fetches a new one."""
        lib.pcref_connection_token_invalidate(self._h)
