"""Store (SQLite, memory, and a store written in Python) and Sync."""

from __future__ import annotations

import os
import tempfile
import unittest
from typing import Iterable

import pcref
from support import import_example

SqliteCrm = import_example("sqlite_crm").SqliteCrm


class DictStore(pcref.StoreBackend):
    """A store in Python dicts: enough to see every member cross the boundary."""

    name = "dicts"

    def __init__(self) -> None:
        self.links: dict[tuple[str | None, str | None], pcref.Link] = {}
        self.marks: dict[str, int | None] = {}
        self.queue: dict[tuple[int, str], pcref.RetryItem] = {}
        self.seen: set[str] = set()
        self.calls: list[str] = []
        self.closed = False

    def begin(self) -> None:
        self.calls.append("begin")

    def commit(self) -> None:
        self.calls.append("commit")

    def rollback(self) -> None:
        self.calls.append("rollback")

    def link_get(self, referral_id: str | None, crm_id: str | None) -> pcref.Link | None:
        for (rid, cid), link in self.links.items():
            if (referral_id is not None and rid == referral_id) or (referral_id is None and cid == crm_id):
                return link
        return None

    def link_put(self, link: pcref.Link) -> None:
        self.links = {k: v for k, v in self.links.items()
                      if not ((link.referral_id and k[0] == link.referral_id) or (link.crm_id and k[1] == link.crm_id))}
        self.links[(link.referral_id, link.crm_id)] = link

    def link_delete(self, referral_id: str | None, crm_id: str | None) -> None:
        link = self.link_get(referral_id, crm_id)
        if link is None:
            raise pcref.NotFound("no such link")
        del self.links[(link.referral_id, link.crm_id)]

    def link_list(self) -> Iterable[pcref.Link]:
        return sorted(self.links.values(), key=lambda lk: (lk.referral_id or "", lk.crm_id or ""))

    def watermark_get(self, name: str) -> int | None:
        return self.marks.get(name)

    def watermark_set(self, name: str, ms: int | None) -> None:
        self.marks[name] = ms

    def retry_put(self, item: pcref.RetryItem) -> None:
        self.queue[(item.side, item.id)] = item

    def retry_delete(self, side: int, id: str) -> None:
        self.queue.pop((side, id), None)

    def retry_list(self, due_ms: int | None) -> Iterable[pcref.RetryItem]:
        items = [i for i in self.queue.values() if due_ms is None or (i.next_ms or 0) <= due_ms]
        return sorted(items, key=lambda i: (i.next_ms or 0, i.side, i.id))

    def delivery_record(self, key: str, received_ms: int) -> bool:
        new = key not in self.seen
        self.seen.add(key)
        return new

    def delivery_prune(self, before_ms: int) -> None:
        self.seen.clear()

    def close(self) -> None:
        self.closed = True


def exercise(test: unittest.TestCase, store: pcref.Store) -> None:
    """The same checks on every kind of store."""
    link = pcref.Link(referral_id="r-1", crm_id="opp-1", base='{"fields":{}}', referral_etag='"e1"',
                      crm_version="3", synced_ms=1700000000000, last_code=pcref.ECONFLICT, last_message="stale")
    with store.transaction():
        store.put_link(link)
    got = store.link(crm_id="opp-1")
    test.assertEqual(got, link)
    test.assertEqual(store.links(), [link])
    with test.assertRaises(pcref.NotFound):
        store.link("r-none")
    store.set_watermark("referrals", 1234)
    test.assertEqual(store.watermark("referrals"), 1234)
    test.assertIsNone(store.watermark("never-set"))
    store.put_retry(pcref.RetryItem(pcref.SIDE_CRM, "opp-1", attempts=2, next_ms=5000, last_code=pcref.ENETWORK))
    store.put_retry(pcref.RetryItem(pcref.SIDE_PARTNER_CENTER, "r-2", next_ms=1000))
    test.assertEqual([i.id for i in store.retries()], ["r-2", "opp-1"])
    test.assertEqual([i.id for i in store.retries(due_ms=2000)], ["r-2"])
    store.delete_retry(pcref.SIDE_PARTNER_CENTER, "r-2")
    test.assertTrue(store.record_delivery("k1", 1000))
    test.assertFalse(store.record_delivery("k1", 1000))
    store.delete_link("r-1")
    test.assertEqual(store.links(), [])


class Stores(unittest.TestCase):
    def test_memory_store(self) -> None:
        with pcref.Store.memory() as store:
            self.assertEqual(store.name, "memory")
            exercise(self, store)

    def test_sqlite_store_keeps_state_across_opening(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "state.db")
            with pcref.Store.sqlite(path) as store:
                exercise(self, store)
                store.set_watermark("crm", 99)
            with pcref.Store.sqlite(path) as store:
                self.assertEqual(store.watermark("crm"), 99)

    def test_a_store_written_in_python(self) -> None:
        backend = DictStore()
        with pcref.Store.from_backend(backend) as store:
            self.assertEqual(store.name, "dicts")
            exercise(self, store)
            self.assertEqual(backend.calls[:2], ["begin", "commit"])
            with self.assertRaises(pcref.Error):
                with store.transaction():
                    raise pcref.Error("abandon")
            self.assertEqual(backend.calls[-1], "rollback")
        self.assertTrue(backend.closed)


class FullSync(unittest.TestCase):
    """A Python host runs a sync between the Partner Center emulator and the
    SQLite CRM written in Python."""

    def test_a_microsoft_referral_reaches_the_python_crm(self) -> None:
        from support import Emulator
        from test_partnercenter import REFERRALS, connect
        import test_partnercenter
        emu = Emulator()
        test_partnercenter.EMU = emu
        try:
            shared = emu.call("POST", "/_control/microsoft/share", {"details": {"currency": "USD"}})
            with tempfile.TemporaryDirectory() as d:
                events: list[pcref.SyncEvent] = []
                pc = pcref.PartnerCenter(connect(REFERRALS))
                crm = pcref.Crm.from_backend(SqliteCrm(os.path.join(d, "crm.db")))
                with pcref.Sync(pc, crm, pcref.Mapping("memory"), pcref.Store.sqlite(os.path.join(d, "state.db")),
                                on_event=events.append) as sync:
                    report = sync.poll()
                self.assertGreaterEqual(report["created"], 1, events)
                found = crm.find_opportunity(shared["id"])
                self.assertEqual(found["referral_id"], shared["id"])
                self.assertTrue(any(e.action == pcref.ACTION_CREATE for e in events))
        finally:
            emu.stop()


if __name__ == "__main__":
    unittest.main()
