"""What every handle class shares: ownership, ``close()``, context managers,
borrowed views for callbacks, owned strings, and turning a synchronous C
callback API into a Python iterator."""

from __future__ import annotations

import ctypes
import queue
import threading
import weakref
from typing import Any, Callable, ClassVar, Iterator, TypeVar

from . import _constants as K
from ._lib import lib
from .errors import State

T = TypeVar("T")
H = TypeVar("H", bound="Handle")

_live: "weakref.WeakSet[Handle]" = weakref.WeakSet()


class Handle:
    """A libpcref handle owned (or borrowed) by a Python object.

    ``close()`` frees it and may be called any number of times; ``with``
    closes it on exit; objects a handle depends on (its connection, its
    backend) are kept alive as long as it is. A closed handle raises
    ``pcref.State`` when used.
    """

    _free_function_: ClassVar[str] = ""

    def __init__(self, ptr: Any, *, parents: tuple[Any, ...] = (), owned: bool = True):
        self._ptr = ptr if ptr else None
        self._parents = parents
        self._owned = owned
        self._busy: int | None = None
        self._gone = "closed"
        if owned:
            _live.add(self)

    @classmethod
    def _from_out(cls: type[H], fill: Callable[[Any], Any], *, parents: tuple[Any, ...] = ()) -> H:
        """Run a C constructor taking ``T **out`` and wrap what it made."""
        ptr = cls._pointer_type_()()
        fill(ctypes.byref(ptr))
        obj = cls.__new__(cls)
        Handle.__init__(obj, ptr, parents=parents)
        return obj

    @classmethod
    def _parse(cls: type[H], function: Callable[[Any, bytes, int], Any], text: str | bytes) -> H:
        """Run a C constructor ``(T **out, const char *text, size_t len)``."""
        data = as_bytes(text)
        return cls._from_out(lambda out: function(out, data, len(data)))

    def _serialise(self, function: Callable[[Any, Any, Any], Any], empty: str) -> str:
        """Run a C writer ``(const T *, char **out, size_t *len)``; the text, freed in the library."""
        s = OwnedString()
        function(self._h, s.out, s.out_len)
        return s.take() or empty

    @classmethod
    def _pointer_type_(cls) -> Any:
        return lib_pointer_type(cls._free_function_)

    @property
    def _h(self) -> Any:
        ptr = self._ptr
        if ptr is None:
            raise State(f"this {type(self).__name__} is {self._gone}")
        if self._busy is not None and self._busy != threading.get_ident():
            raise State(f"this {type(self).__name__} is busy with an unfinished iteration; finish or close "
                        f"the iterator first (or collect it with list())")
        return ptr

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def close(self) -> None:
        """Free the handle (idempotent)."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None and self._owned:
            getattr(lib, self._free_function_)(ptr)

    def __enter__(self: H) -> H:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:   # interpreter shutdown: nothing left to do
            pass

    @classmethod
    def _borrow(cls: type[H], ptr: Any) -> H:
        """A view of a handle the library lends for one callback; see ``_revoke``."""
        obj = cls.__new__(cls)
        Handle.__init__(obj, ptr, owned=False)
        return obj

    def _revoke(self) -> None:
        """End a borrowed view: the handle is only valid during the callback."""
        self._ptr = None
        self._gone = "borrowed for a callback that has returned (copy it with .copy() to keep it)"


def lib_pointer_type(free_function: str) -> Any:
    """The C pointer type of a handle class, from its free function's argtypes."""
    return getattr(lib, free_function).argtypes[0]


def close_all() -> None:
    """Free every handle still open (at exit, before pcref_shutdown())."""
    for h in list(_live):
        try:
            h.close()
        except Exception:
            pass


class OwnedString:
    """A ``char **out`` (and its ``size_t *len``) the library fills with a
    string the caller frees with pcref_free()."""

    def __init__(self) -> None:
        self.ptr = ctypes.c_void_p()
        self.length = ctypes.c_size_t()

    @property
    def out(self) -> Any:
        return ctypes.byref(self.ptr)

    @property
    def out_len(self) -> Any:
        return ctypes.byref(self.length)

    def take(self) -> str | None:
        """The string (None for NULL), freed in the library."""
        if not self.ptr.value:
            return None
        try:
            return ctypes.string_at(self.ptr.value).decode("utf-8")
        finally:
            lib.pcref_free(self.ptr)
            self.ptr = ctypes.c_void_p()


def as_bytes(data: str | bytes | bytearray | memoryview) -> bytes:
    """Text for the library: ``str`` as UTF-8, bytes-like as they are."""
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def time_out(ms: int) -> int | None:
    """A C date-time (epoch ms) for Python: None for PCREF_TIME_NONE."""
    return None if ms == K.TIME_NONE else ms


def time_in(ms: int | None) -> int:
    """A Python date-time (epoch ms or None) for C."""
    return K.TIME_NONE if ms is None else int(ms)


_STOP = 1   # what an iterator's callback returns to stop the C call early (> 0: not an error)


def callback_iterator(owner: Handle, run: Callable[[Callable[[Any, Any], int]], Any],
                      convert: Callable[[Any], T]) -> Iterator[T]:
    """Turn a C call that reports items through a synchronous callback into a
    Python iterator, with memory bounded by one item.

    ``run(callback)`` makes the C call (the callback is a Python function
    ``(pointer, payload) -> int`` for the caller to wrap in its CFUNCTYPE);
    ``convert(pointer)`` turns the item lent to the callback into an object
    the caller owns. The C call runs on a worker thread that strictly
    alternates with the consumer: it is suspended inside the callback while
    the consumer's loop body runs, exactly as if that body were the
    callback. So, as with a C callback, the body must not call into
    ``owner`` (it raises ``pcref.State``); leaving the loop early stops the
    C call at the next item.
    """
    to_consumer: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    to_worker: queue.Queue[str] = queue.Queue(maxsize=1)

    def on_item(ptr: Any, payload: Any) -> int:
        try:
            item = convert(ptr)
        except BaseException as e:
            to_consumer.put(("error", e))
            return _STOP
        to_consumer.put(("item", item))
        return 0 if to_worker.get() == "next" else _STOP

    def work() -> None:
        result: tuple[str, Any] = ("done", None)
        owner._busy = threading.get_ident()
        try:
            run(on_item)
        except BaseException as e:
            result = ("error", e)
        finally:
            owner._busy = None
        to_consumer.put(result)

    owner._h  # a closed owner fails here, in the consumer, before any thread starts
    worker = threading.Thread(target=work, name="pcref-iterator", daemon=True)
    worker.start()
    finished = False
    try:
        while True:
            kind, value = to_consumer.get()
            if kind == "item":
                yield value
                to_worker.put("next")
            else:
                finished = True
                if kind == "error" and not isinstance(value, GeneratorExit):
                    raise value
                return
    finally:
        while not finished:   # the consumer left early: stop the C call
            to_worker.put("stop")
            kind, _ = to_consumer.get()
            finished = kind != "item"
        worker.join()
