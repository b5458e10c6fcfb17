"""doc/conflicts.md, checked: a field changed on both sides is settled by
the newest change by default, by the mapping file's `conflicts` lists when
they name it, and reported in the event, the report and the audit line as
the guide shows. Partner Center emulator in this process, memory CRM."""

from __future__ import annotations

import json
import time
import unittest

import pcref
import test_partnercenter as tp
from support import Emulator

EMU: Emulator


def setUpModule() -> None:
    global EMU
    EMU = tp.EMU = Emulator()


def tearDownModule() -> None:
    EMU.stop()


class Conflicts(unittest.TestCase):
    def accepted(self, mapping: pcref.Mapping) -> tuple[pcref.Sync, pcref.Crm, pcref.PartnerCenter, str]:
        """A Microsoft referral synced, then accepted by the seller."""
        EMU.reset()
        ref = EMU.call("POST", "/_control/microsoft/share", {"details": {"currency": "USD", "dealValue": 50000}})["id"]
        crm, pc = pcref.Crm.memory(), pcref.PartnerCenter(tp.connect(tp.REFERRALS))
        self.events: list[pcref.SyncEvent] = []
        sync = pcref.Sync(pc, crm, mapping, pcref.Store.memory(), on_event=self.events.append)
        sync.poll()
        self.crm_set(crm, ref, "stage", "Active")
        self.assertEqual(sync.poll()["accepted"], 1)
        return sync, crm, pc, ref

    @staticmethod
    def crm_set(crm: pcref.Crm, ref: str, field: str, value: object) -> None:
        opp = crm.find_opportunity(ref).copy()
        opp[field] = value
        crm.update_opportunity(opp, [field])

    def both_change_deal_value(self, sync: pcref.Sync, crm: pcref.Crm, pc: pcref.PartnerCenter, ref: str) -> dict:
        self.crm_set(crm, ref, "deal_value", 90000)
        time.sleep(1.1)                                   # Partner Center's change is the newer one
        r = pc.get_referral(ref)
        changed = r.copy()
        changed.deal_value = 95000
        pc.apply(r, changed)
        self.events.clear()
        return sync.poll()

    def test_newest_wins_by_default_and_is_reported_everywhere(self) -> None:
        sync, crm, pc, ref = self.accepted(pcref.Mapping("memory"))
        self.assertEqual(pcref.Mapping("memory").conflict_winner("deal_value"), pcref.WINNER_NEWEST)
        report = self.both_change_deal_value(sync, crm, pc, ref)
        self.assertEqual(report["conflicts"], 1)
        [event] = [e for e in self.events if e.conflicts]
        self.assertEqual(event.conflicts, [pcref.FIELD_DEAL_VALUE])
        self.assertEqual(event.changes, {"deal_value": [50000, 95000]})        # old = the merge base
        self.assertIn("deal_value changed on both sides: Partner Center's value kept", event.message or "")
        audit = crm.find_opportunity(ref)["audit"] or ""
        self.assertIn("Partner Center → CRM: updated deal_value; deal_value changed on both sides: "
                      "Partner Center's value kept;", audit)
        self.assertEqual(pc.get_referral(ref).deal_value, 95000)
        self.assertEqual(sync.poll()["conflicts"], 0)                           # settled: nothing left to do

    def test_the_mapping_file_makes_the_crm_win(self) -> None:
        doc = {"backend": "memory", "conflicts": {"default": "newest",
               "partner_center": ["referral_id", "referral_link", "microsoft_crm_id", "visibility", "help",
                                  "close_date"],
               "crm": ["stage", "owner_email", "sync", "audit", "deal_value", "notes"]}}
        mapping = pcref.Mapping.load(json.dumps(doc))                          # the guide's example, on memory
        self.assertEqual(mapping.conflict_winner("deal_value"), pcref.WINNER_CRM)
        self.assertEqual(mapping.conflict_winner("close_date"), pcref.WINNER_PARTNER_CENTER)
        self.assertEqual(mapping.conflict_winner("name"), pcref.WINNER_NEWEST)
        sync, crm, pc, ref = self.accepted(mapping)
        report = self.both_change_deal_value(sync, crm, pc, ref)
        self.assertEqual(report["conflicts"], 1)
        self.assertEqual(pc.get_referral(ref).deal_value, 90000)               # the CRM's, though older
        self.assertIn("the CRM's value kept", crm.find_opportunity(ref)["audit"] or "")

    def test_a_typo_is_refused_with_its_pointer(self) -> None:
        with self.assertRaises(pcref.Invalid) as cm:
            pcref.Mapping.load('{"backend": "dynamics", "conflicts": {"crm": ["stage", "deal_valu"]}}')
        self.assertIn("/conflicts/crm/1: 'deal_valu' is not a field name", cm.exception.message)


if __name__ == "__main__":
    unittest.main()
