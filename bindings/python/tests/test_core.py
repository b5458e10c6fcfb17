"""The bindings without a network: loading, errors, Referral, Opportunity,
Mapping, handle life cycle."""

from __future__ import annotations

import gc
import json
import math
import os
import subprocess
import sys
import unittest

import pcref
from support import fixture


class Loading(unittest.TestCase):
    def run_python(self, code: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              env={**os.environ, **env})

    def test_version_is_the_loaded_librarys(self) -> None:
        self.assertRegex(pcref.version(), r"^\d+\.\d+\.\d+$")
        self.assertEqual(pcref.version(), pcref.__version__)
        self.assertEqual(os.path.realpath(pcref.library_path()),
                         os.path.realpath(os.environ.get("PCREF_LIBRARY", pcref.library_path())))

    def test_a_bad_PCREF_LIBRARY_is_a_clear_import_error(self) -> None:
        res = self.run_python("import pcref", PCREF_LIBRARY="/nonexistent/libpcref.so.1")
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("LibraryNotFound", res.stderr)
        self.assertIn("PCREF_LIBRARY='/nonexistent/libpcref.so.1' could not be loaded", res.stderr)

    def test_a_library_that_is_not_libpcref_is_refused(self) -> None:
        # libc loads fine but has no pcref_init: the import must fail, not limp on
        res = self.run_python("import pcref", PCREF_LIBRARY="libc.so.6")
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("pcref_init", res.stderr)

    def test_without_PCREF_LIBRARY_the_soname_is_asked_for(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("PCREF_LIBRARY", "LD_LIBRARY_PATH")}
        res = subprocess.run([sys.executable, "-c", "import pcref; print(pcref.library_path())"],
                             capture_output=True, text=True, timeout=60,
                             env={**env, "LD_LIBRARY_PATH": os.path.dirname(os.environ["PCREF_LIBRARY"])}
                             if "PCREF_LIBRARY" in os.environ else env)
        if res.returncode == 0:
            self.assertEqual(res.stdout.strip(), "libpcref.so.1")
        else:   # not installed and not on the path: the error says what to do
            self.assertIn("libpcref.so.1 was not found", res.stderr)
            self.assertIn("PCREF_LIBRARY", res.stderr)

    def test_exit_closes_open_handles_then_shuts_down(self) -> None:
        # registered before pcref's own handler, so it runs after it
        code = ("import atexit\n"
                "keep = []\n"
                "atexit.register(lambda: print('closed' if all(h.closed for h in keep) else 'open'))\n"
                "import pcref\n"
                "keep += [pcref.Referral(), pcref.Opportunity(name='x'), pcref.Crm.memory()]\n")
        res = self.run_python(code)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout.strip(), "closed")


class Errors(unittest.TestCase):
    def test_each_code_has_its_class(self) -> None:
        expected = {pcref.ENOMEM: pcref.NoMemory, pcref.EINVALID: pcref.Invalid, pcref.ENOTFOUND: pcref.NotFound,
                    pcref.EEXISTS: pcref.Exists, pcref.EAUTH: pcref.Auth, pcref.ECONFLICT: pcref.Conflict,
                    pcref.ETHROTTLED: pcref.Throttled, pcref.ENETWORK: pcref.Network,
                    pcref.EPROTOCOL: pcref.Protocol, pcref.ENOTSUPPORTED: pcref.NotSupported,
                    pcref.EVERSION: pcref.Version, pcref.EUSER: pcref.User, pcref.ESTATE: pcref.State,
                    pcref.ESIGNATURE: pcref.Signature, pcref.ESTORE: pcref.StoreError, pcref.ESERVICE: pcref.Service,
                    pcref.EREPLAY: pcref.Replay}
        for code, cls in expected.items():
            self.assertIs(pcref.error_class(code), cls)
            self.assertEqual(cls.code, code)
            self.assertTrue(issubclass(cls, pcref.Error))
            self.assertNotEqual(pcref.strerror(code), "")
        self.assertIs(pcref.error_class(-999), pcref.Error)   # append-only: unknown codes are generic

    def test_a_failure_carries_code_and_the_librarys_message(self) -> None:
        with self.assertRaises(pcref.Protocol) as cm:
            pcref.Referral.parse(b'{"name": 42}')
        self.assertEqual(cm.exception.code, pcref.EPROTOCOL)
        self.assertIn("/name", cm.exception.message)
        self.assertEqual(cm.exception.http_status, 0)
        self.assertEqual(cm.exception.service_code, "")

    def test_builtin_bases(self) -> None:
        with self.assertRaises(ValueError):
            pcref.currency_check("usd")
        with self.assertRaises(LookupError):
            pcref.Crm.memory().get_opportunity("nope")


class ReferralTests(unittest.TestCase):
    def setUp(self) -> None:
        self.r = pcref.Referral.parse(fixture("referral-2022.json"))

    def tearDown(self) -> None:
        self.r.close()

    def test_typed_fields(self) -> None:
        r = self.r
        self.assertEqual(r.id, "3f1e6b0c-9d1a-4a53-8d8c-2a4e4b7f9c01")
        self.assertEqual((r.status, r.substatus), ("Active", "Accepted"))
        self.assertEqual(r.deal_value, 125000.5)
        self.assertIsInstance(r.closing_time, int)
        self.assertEqual(r.solutions[0].id, "SOL-34104-EBB")
        self.assertEqual(r.members(pcref.MEMBERS_CUSTOMER)[0].email, "anna.berg@fabrikam.example")
        self.assertIsNone(r.get("/no/such/field"))

    def test_setters_validate_and_round_trip(self) -> None:
        r = self.r
        r.name = "Renamed"
        r.address_country = "SE"
        r.deal_value = None
        r.closing_time = None
        with self.assertRaises(pcref.Invalid):
            r.address_country = "se"
        with self.assertRaises(pcref.Invalid):
            r.set_status("Closed", "Accepted")
        with self.assertRaises(AttributeError):
            r.id = "read-only"  # type: ignore[misc]
        again = pcref.Referral.parse(r.to_json())
        self.assertEqual((again.name, again.address_country, again.deal_value, again.closing_time),
                         ("Renamed", "SE", None, None))

    def test_unknown_fields_survive_and_diff_is_a_patch(self) -> None:
        changed = self.r.copy()
        changed.deal_value = 1.5
        changed.set_json("/x-custom", '{"a": [1, 2]}')
        self.assertEqual(json.loads(changed.get_json("/x-custom")), {"a": [1, 2]})
        patch = json.loads(self.r.diff(changed))
        self.assertIn({"op": "replace", "path": "/details/dealValue", "value": 1.5}, patch)
        self.assertEqual(self.r.diff(self.r.copy()), "[]")

    def test_consent_and_status_helpers(self) -> None:
        self.r.set_consent(pcref.CONSENT_CONTACT, False)
        self.assertIs(self.r.consent(pcref.CONSENT_CONTACT), False)
        self.r.set_consent(pcref.CONSENT_CONTACT, None)
        self.assertIsNone(self.r.consent(pcref.CONSENT_CONTACT))
        pcref.status_check("New", "Pending")
        self.assertTrue(pcref.status_is_terminal("Closed"))
        with self.assertRaises(pcref.Invalid):
            pcref.status_transition_check("Closed", "Won", "Active", "Accepted")

    def test_list_pages_in_memory_and_in_chunks(self) -> None:
        page = fixture("referral-page.json")
        whole, link = pcref.parse_list(page)
        self.assertGreater(len(whole), 1)
        chunked = list(pcref.iter_page(page[i:i + 7] for i in range(0, len(page), 7)))
        self.assertEqual([r.id for r in chunked], [r.id for r in whole])
        self.assertEqual(link, json.loads(page).get("@odata.nextLink"))
        with self.assertRaises(pcref.Protocol):
            list(pcref.iter_page([page[:len(page) // 2]]))


class OpportunityTests(unittest.TestCase):
    def test_fields_by_id_or_name_with_their_kinds(self) -> None:
        o = pcref.Opportunity(name="Deal", deal_value=10, close_date=1735603200000, sync=1)
        o[pcref.FIELD_CURRENCY] = "EUR"
        self.assertEqual(o["deal_value"], 10.0)
        self.assertEqual(o[pcref.FIELD_CLOSE_DATE], 1735603200000)
        self.assertIs(o["sync"], True)
        self.assertIsNone(o["stage"])
        self.assertNotIn("stage", o)
        del o["name"]
        self.assertEqual(set(o.fields()), {"deal_value", "close_date", "sync", "currency"})
        with self.assertRaises(pcref.Invalid):
            o["no_such_field"] = 1
        with self.assertRaises(pcref.Invalid):
            o["currency"] = "EURO"
        self.assertEqual(pcref.field_kind("close_date"), pcref.KIND_TIME)
        self.assertEqual(pcref.FIELDS["deal_value"], pcref.FIELD_DEAL_VALUE)

    def test_json_solutions_and_extra(self) -> None:
        o = pcref.Opportunity(name="Deal")
        o.add_solution("SOL-1", "One")
        o.set_extra("new_region", {"code": "EMEA"})
        back = pcref.Opportunity.from_json(o.to_json())
        self.assertEqual(back.solutions, [pcref.SolutionRef("SOL-1", "One")])
        self.assertEqual(back.extra, {"new_region": {"code": "EMEA"}})
        self.assertTrue(back.same(o, "name") and back.same_solutions(o))
        self.assertTrue(math.isclose(pcref.Opportunity(deal_value=0.1)["deal_value"], 0.1))


class MappingTests(unittest.TestCase):
    def test_defaults_and_load(self) -> None:
        m = pcref.Mapping("dynamics")
        self.assertEqual(m.backend, "dynamics")
        self.assertEqual(m.column(pcref.FIELD_DEAL_VALUE), "estimatedvalue")
        self.assertEqual(m.account_match, [pcref.FIELD_ACCOUNT_NAME, pcref.FIELD_ACCOUNT_POSTAL_CODE])
        self.assertTrue(m.option(pcref.OPTION_CHECK_MARK))
        loaded = pcref.Mapping.load(m.to_json())
        self.assertEqual(loaded.column("deal_value"), "estimatedvalue")
        with self.assertRaises(pcref.Invalid) as cm:
            pcref.Mapping.load('{"backend":"dynamics","columns":{"deal_valu":"x"}}')
        self.assertIn("deal_valu", cm.exception.message)


class LifeCycle(unittest.TestCase):
    def test_close_is_idempotent_and_use_after_close_raises(self) -> None:
        with pcref.Referral() as r:
            r.name = "x"
        r.close()
        self.assertTrue(r.closed)
        with self.assertRaises(pcref.State):
            r.name

    def test_parents_outlive_their_python_references(self) -> None:
        conn = pcref.Connection("http://127.0.0.1:9", auth=pcref.AUTH_STATIC, token="t")
        pc = pcref.PartnerCenter(conn)
        del conn
        gc.collect()
        self.assertEqual(pc._parents[0].base_url, "http://127.0.0.1:9")
        pc.close()

    def test_a_function_the_library_lacks_raises_not_supported(self) -> None:
        from pcref import _lib
        missing = _lib._missing("pcref_from_the_future")
        with self.assertRaises(pcref.NotSupported) as cm:
            missing()
        self.assertIn("pcref_from_the_future", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
