"""Crm and CrmBackend: a CRM written in Python, as the library sees it."""

from __future__ import annotations

import os
import tempfile
import unittest

import pcref
from support import import_example

SqliteCrm = import_example("sqlite_crm").SqliteCrm


class Tiny(pcref.CrmBackend):
    """Just enough of a CRM to see how calls and failures cross the boundary."""

    name = "tiny"

    def __init__(self) -> None:
        self.records: dict[str, pcref.Opportunity] = {}
        self.closed = False
        self.lent: pcref.Opportunity | None = None

    def get_opportunity(self, id: str) -> pcref.Opportunity:
        if id == "boom":
            raise RuntimeError("the CRM's database is locked")
        if id not in self.records:
            raise pcref.NotFound(f"tiny has no opportunity '{id}'")
        return self.records[id]

    def create_opportunity(self, opp: pcref.Opportunity) -> pcref.Opportunity:
        self.lent = opp
        stored = opp.copy()
        stored["id"], stored["version"], stored["modified_time"] = f"t{len(self.records) + 1}", "1", 1000
        self.records[str(stored["id"])] = stored
        return stored

    def update_opportunity(self, opp: pcref.Opportunity, fields: list[int]) -> pcref.Opportunity:
        raise pcref.Conflict(f"version {opp['version']} is stale")

    def ensure_account(self, opp: pcref.Opportunity, match_fields: list[int]) -> None:
        opp["account_id"] = "acct-" + ",".join(map(str, match_fields))

    def list_modified(self, since: int | None) -> list[pcref.Opportunity]:
        return list(self.records.values())

    def resolve_currency(self, iso_code: str) -> None:
        return None

    def close(self) -> None:
        self.closed = True


class PythonBackend(unittest.TestCase):
    def setUp(self) -> None:
        self.backend = Tiny()
        self.crm = pcref.Crm.from_backend(self.backend)

    def tearDown(self) -> None:
        self.crm.close()

    def test_calls_reach_python_and_records_come_back(self) -> None:
        self.assertEqual(self.crm.name, "tiny")
        made = self.crm.create_opportunity(pcref.Opportunity(name="Deal"))
        self.assertEqual(made["id"], "t1")
        self.assertEqual(self.crm.get_opportunity("t1")["name"], "Deal")
        self.assertEqual([o["id"] for o in self.crm.list_modified()], ["t1"])

    def test_a_pcref_error_keeps_its_code(self) -> None:
        with self.assertRaises(pcref.NotFound) as cm:
            self.crm.get_opportunity("t9")
        self.assertEqual(cm.exception.message, "tiny has no opportunity 't9'")
        self.assertIsInstance(cm.exception.__cause__, pcref.NotFound)   # the backend's own exception
        with self.assertRaises(pcref.Conflict):
            self.crm.update_opportunity(pcref.Opportunity(id="t1", version="0"), ["notes"])

    def test_any_other_exception_is_euser_with_its_message(self) -> None:
        with self.assertRaises(pcref.User) as cm:
            self.crm.get_opportunity("boom")
        self.assertEqual(cm.exception.code, pcref.EUSER)
        self.assertIn("RuntimeError: the CRM's database is locked", cm.exception.message)
        self.assertIn("'tiny' CRM backend's get_opportunity()", cm.exception.message)
        self.assertIsInstance(cm.exception.__cause__, RuntimeError)

    def test_methods_not_overridden_are_not_supported(self) -> None:
        with self.assertRaises(pcref.NotSupported) as cm:
            self.crm.resolve_user("seller@contoso.example")
        self.assertIn("tiny", cm.exception.message)

    def test_records_passed_in_are_lent_for_the_call_only(self) -> None:
        opp = pcref.Opportunity(name="Deal", account_name="Fabrikam")
        self.assertEqual(self.crm.ensure_account(opp, ["account_name"]), f"acct-{pcref.FIELD_ACCOUNT_NAME}")
        self.crm.create_opportunity(opp)
        with self.assertRaises(pcref.State) as cm:
            self.backend.lent["name"]  # type: ignore[index]
        self.assertIn("borrowed", str(cm.exception))

    def test_close_destroys_the_backend_once(self) -> None:
        self.crm.close()
        self.crm.close()
        self.assertTrue(self.backend.closed)

    def test_a_listing_stops_early_and_guards_its_crm(self) -> None:
        for i in range(5):
            self.crm.create_opportunity(pcref.Opportunity(name=f"n{i}"))
        seen = []
        for opp in self.crm.list_modified():
            seen.append(opp["name"])
            with self.assertRaises(pcref.State):
                self.crm.get_opportunity("t1")   # the CRM is inside its listing callback
            if len(seen) == 2:
                break
        self.assertEqual(seen, ["n0", "n1"])
        self.assertEqual(self.crm.get_opportunity("t1")["name"], "n0")   # usable again


class MemoryCrm(unittest.TestCase):
    def test_configured_currencies_and_users(self) -> None:
        with pcref.Crm.memory(currencies=["USD"], users=["a@b.example"]) as crm:
            crm.resolve_currency("USD")
            crm.resolve_user("a@b.example")
            with self.assertRaises(pcref.NotFound) as cm:
                crm.resolve_currency("EUR")
            self.assertIn("EUR", cm.exception.message)


class SalesforceCrm(unittest.TestCase):
    def test_opened_on_a_connection_with_a_salesforce_mapping_only(self) -> None:
        conn = pcref.Connection("http://127.0.0.1:9", auth=pcref.AUTH_STATIC, token="t")
        with pcref.Crm.salesforce(conn) as crm:
            self.assertEqual(crm.name, "salesforce")
        with self.assertRaises(pcref.Invalid) as cm:
            pcref.Crm.salesforce(conn, pcref.Mapping("dynamics"))
        self.assertIn("salesforce", cm.exception.message)
        conn.close()


class SqliteExample(unittest.TestCase):
    def test_a_record_survives_reopening_the_file(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "crm.db")
            with pcref.Crm.from_backend(SqliteCrm(path)) as crm:
                made = crm.create_opportunity(pcref.Opportunity(name="Kept", currency="EUR", referral_id="r-1"))
                crm.add_solution(str(made["id"]), "SOL-9", "Nine")
                with self.assertRaises(pcref.NotFound):
                    crm.create_opportunity(pcref.Opportunity(name="Swiss", currency="CHF"))
            with pcref.Crm.from_backend(SqliteCrm(path)) as crm:
                found = crm.find_opportunity("r-1")
                self.assertEqual((found["name"], found["currency"]), ("Kept", "EUR"))
                self.assertEqual(found.solutions, [pcref.SolutionRef("SOL-9", "Nine")])
                self.assertEqual([o["name"] for o in crm.list_modified()], ["Kept"])


if __name__ == "__main__":
    unittest.main()
