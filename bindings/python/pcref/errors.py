"""Typed exceptions built from ``pcref_error_last()``.

Every failing libpcref call raises a subclass of ``pcref.Error`` chosen by its
code (``PCREF_ENOTFOUND`` raises ``pcref.NotFound``, ...), carrying the code,
the message, the HTTP status and the service's error codes. Raising one of
them from Python code the library calls (a CRM backend, a token provider)
hands its code back to the library unchanged; any other exception becomes
``PCREF_EUSER`` with its text.
"""

from __future__ import annotations

import threading
from typing import Any

from . import _constants as K
from . import _lib


class Error(Exception):
    """A libpcref failure.

    Attributes: ``code`` (a negative ``pcref.E*`` value), ``message`` (what
    failed and what to do), ``http_status`` (of the failed request, 0 when
    none; after webhook verification, the status to answer with),
    ``service_code`` and ``service_inner_code`` (the remote service's own
    error codes, empty when none).
    """

    code: int = K.ERROR

    def __init__(self, message: str = "", *, code: int | None = None, http_status: int = 0,
                 service_code: str = "", service_inner_code: str = ""):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.http_status = http_status
        self.service_code = service_code
        self.service_inner_code = service_inner_code

    def __str__(self) -> str:
        return self.message or strerror(self.code)


class NoMemory(Error, MemoryError):
    code = K.ENOMEM


class Invalid(Error, ValueError):
    code = K.EINVALID


class NotFound(Error, LookupError):
    code = K.ENOTFOUND


class Exists(Error):
    code = K.EEXISTS


class Auth(Error):
    code = K.EAUTH


class Conflict(Error):
    code = K.ECONFLICT


class Throttled(Error):
    code = K.ETHROTTLED


class Network(Error):
    code = K.ENETWORK


class Protocol(Error):
    code = K.EPROTOCOL


class NotSupported(Error, NotImplementedError):
    code = K.ENOTSUPPORTED


class Version(Error):
    code = K.EVERSION


class User(Error):
    code = K.EUSER


class State(Error):
    code = K.ESTATE


class Signature(Error):
    code = K.ESIGNATURE


class StoreError(Error):
    """The state store failed (``PCREF_ESTORE``); ``pcref.Store`` is the store itself."""
    code = K.ESTORE


class Service(Error):
    code = K.ESERVICE


class Replay(Error):
    code = K.EREPLAY


_BY_CODE: dict[int, type[Error]] = {cls.code: cls for cls in (
    NoMemory, Invalid, NotFound, Exists, Auth, Conflict, Throttled, Network, Protocol, NotSupported, Version,
    User, State, Signature, StoreError, Service, Replay)}


def error_class(code: int) -> type[Error]:
    """The exception class of a code (``pcref.Error`` for codes this version
    does not know: codes are append-only, treat an unknown one as generic)."""
    return _BY_CODE.get(code, Error)


def strerror(code: int) -> str:
    """The library's short static description of a code."""
    return _lib.lib.pcref_strerror(code) or ""


def _text(b: bytes | None) -> str:
    return b.decode("utf-8", "replace") if b else ""


_callback = threading.local()


def remember_callback_exception(exc: BaseException) -> None:
    """Keep the exception a Python callback raised, so the error the library
    then returns to Python is chained to it (``raise ... from exc``)."""
    _callback.exc = exc


def last_error(code: int) -> Error:
    """The exception for a call that returned ``code``, from this thread's
    ``pcref_error_last()``."""
    e = _lib.lib.pcref_error_last().contents
    if e.code == code:
        err = error_class(code)(_text(e.message), code=code, http_status=e.http_status,
                                service_code=_text(e.service_code), service_inner_code=_text(e.service_inner_code))
    else:   # the library always records its failures; be safe anyway
        err = error_class(code)(strerror(code), code=code)
    cause = getattr(_callback, "exc", None)
    if cause is not None:
        _callback.exc = None
        err.__cause__ = cause
    return err


def check_status(result: int, func: Any, args: Any) -> int:
    """ctypes errcheck of the functions returning a status: raise on < 0."""
    if result < 0:
        raise last_error(result)
    _callback.exc = None
    return result


def report(exc: BaseException, where: str = "") -> int:
    """Record an exception raised by Python code the library called, for the
    library to return: a ``pcref.Error`` keeps its code and message, anything
    else is ``PCREF_EUSER`` with ``where``, the exception's type and text.
    Returns the code."""
    if isinstance(exc, Error) and exc.code < 0:
        code, message = exc.code, str(exc)
    else:
        code = K.EUSER
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if where:
            message = f"{where} raised {message}"
    remember_callback_exception(exc)
    return _lib.lib.pcref_error_set(code, message)
