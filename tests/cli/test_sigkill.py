"""Acceptance (issue 5): killing ``pcref-sync run`` with SIGKILL at random
points during a 500-referral backfill and restarting it ends with exactly one
opportunity per syncable referral and every field converged.

Partner Center (emulator) gets 500 syncable co-sell referrals (Shared,
Active/Accepted, with contact, solution, currencies and sales team the CRM
has) and 20 that must never reach the CRM (already Won or Lost before they
were synced, R-25). ``pcref-sync run`` starts on an empty state store and an
empty Dynamics 365 (emulator), so it begins with a backfill; it is SIGKILLed
at random moments and restarted, several times, then left to finish. Then:

* every syncable referral has exactly one opportunity (its Referral
  Identifier, R-02), the never-synced closed ones none, and there is no
  other opportunity;
* each opportunity carries the referral's values (name, deal value,
  currency, closing date, stage, sync flag, link) and the store links all 500;
* the retry queue is empty, and one more pass writes nothing on either side.

The random moments come from PCREF_TEST_SEED (printed; set it to replay a
run). Run by ``meson test --suite cli``; standalone::

    PCREF_SYNC=build/examples/pcref-sync python3 tests/cli/test_sigkill.py
"""

import os
import random
import signal
import sys
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "peers"))

import dataverse  # noqa: E402
import sandbox  # noqa: E402

PCREF_SYNC = os.path.abspath(os.environ.get("PCREF_SYNC") or os.path.join(ROOT, "build", "examples", "pcref-sync"))
SYNCABLE = 500
NEVER_SYNCED = 20
KILLS = 6
ACTIVE_STAGE = "Qualify"     # the Dynamics 365 mapping's default active stage


def tail(path, size=3000):
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()[-size:]


def finished_backfill(path):
    """The run's log shows the summary of a completed backfill."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        return any(" backfill: examined " in line for line in fh)


class SigkillDuringBackfill(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.seed = int(os.environ.get("PCREF_TEST_SEED") or random.randrange(1 << 30))
        print(f"PCREF_TEST_SEED={cls.seed}", flush=True)
        cls.sb = sandbox.Sandbox(None, PCREF_SYNC, poll_interval=0.5, webhook=False)

    @classmethod
    def tearDownClass(cls):
        cls.sb.close()

    def opportunities_by_referral(self):
        found = {}
        for opp in self.sb.crm.opportunities():
            found.setdefault(opp.get(dataverse.REFERRAL_ID), []).append(opp)
        return found

    def test_sigkill_at_random_points_converges(self):
        sb, rng = self.sb, random.Random(self.seed)
        syncable = sb.pc.generate(SYNCABLE, type="Shared", status="Active", substatus="Accepted", seed=self.seed)
        closed = (sb.pc.generate(NEVER_SYNCED // 2, type="Shared", status="Closed", substatus="Won",
                                 seed=self.seed + 1)
                  + sb.pc.generate(NEVER_SYNCED // 2, type="Shared", status="Closed", substatus="Lost",
                                   seed=self.seed + 2))

        # Kill it at random points of the backfill — when the CRM has reached a
        # random number of opportunities, plus a random few milliseconds, so
        # the kill lands anywhere inside an item (between a create and its
        # link, in the middle of a store transaction, ...) — and restart it.
        targets = sorted(rng.sample(range(1, SYNCABLE - 10), KILLS))
        kills = []
        for round_no, target in enumerate(targets + [None], 1):
            log_path = os.path.join(self.sb.workdir, f"run-{round_no}.log")
            with open(log_path, "w", encoding="utf-8") as log:
                proc = sb.spawn("run", stdout=log)
            if target is None:
                break   # the last start runs to the end
            deadline = time.monotonic() + 120
            while sb.crm.count("opportunities") < target:
                self.assertIsNone(proc.poll(), f"pcref-sync run exited: {tail(log_path)}")
                self.assertLess(time.monotonic(), deadline, f"no progress towards {target} opportunities: "
                                                            f"{tail(log_path)}")
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.05))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills.append((target, sb.crm.count("opportunities")))
        print(f"SIGKILLs (at >= N opportunities, count after the kill): {kills}", flush=True)
        self.assertEqual(len(kills), KILLS)

        # The last start finishes the backfill; then a clean stop.
        deadline = time.monotonic() + 600
        while not finished_backfill(log_path):
            self.assertIsNone(proc.poll(), f"pcref-sync run exited early: {tail(log_path)}")
            self.assertLess(time.monotonic(), deadline, f"the backfill did not finish: {tail(log_path)}")
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=60), 0, tail(log_path))

        # One more pass: it completes, and the retry queue is then empty.
        final = sb.sync("once", check=False)
        self.assertIn(final.returncode, (0,), final.stdout + final.stderr)

        # Exactly one opportunity per syncable referral, none for the others.
        by_ref = self.opportunities_by_referral()
        duplicates = {r: len(v) for r, v in by_ref.items() if r in syncable and len(v) != 1}
        missing = [r for r in syncable if r not in by_ref]
        self.assertEqual(duplicates, {}, "referrals with more than one opportunity")
        self.assertEqual(missing, [], f"{len(missing)} syncable referrals have no opportunity")
        self.assertEqual([r for r in closed if r in by_ref], [], "never-synced closed referrals reached the CRM "
                                                                "(R-25)")
        self.assertEqual(sorted(by_ref), sorted(syncable), "opportunities that belong to no syncable referral")

        # Every field converged.
        currencies = {row["transactioncurrencyid"]: row["isocurrencycode"]
                      for row in sb.crm.rows("transactioncurrencies")}
        referrals = {ref["id"]: ref for ref in sb.pc.referrals()}
        wrong = []
        for ref_id in syncable:
            ref, opp = referrals[ref_id], by_ref[ref_id][0]
            details = ref["details"]
            checks = {
                "name": (opp["name"] or "").startswith(ref["name"]),
                "deal value": opp["estimatedvalue"] == details["dealValue"],
                "currency": currencies.get(opp["_transactioncurrencyid_value"]) == details["currency"],
                "close date": opp["estimatedclosedate"] == details["closingDateTime"][:10],
                "stage": opp["stepname"] == ACTIVE_STAGE and opp["statecode"] == 0,
                "sync flag": opp["msft_microsoftpartnercenterreferralsync"] is True,
                "link": (opp["msft_microsoftpartnercenterreferrallink"] or "").endswith(ref_id),
                "status": (ref["status"], ref["substatus"]) == ("Active", "Accepted"),
            }
            bad = [name for name, ok in checks.items() if not ok]
            if bad:
                wrong.append((ref_id, bad))
        self.assertEqual(wrong[:10], [], f"{len(wrong)} referral/opportunity pairs differ")

        # The store knows all 500 links, nothing waits for a retry, and a pass
        # over the converged state writes nothing on either side.
        status = sb.sync("status").stdout
        self.assertIn(f"Links ({SYNCABLE})", status)
        self.assertIn("Retry queue  empty", status)
        sb.clear_requests()
        again = sb.sync("once", check=False)
        self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
        self.assertEqual(sb.writes(), [], "a pass over the converged state wrote something")


if __name__ == "__main__":
    unittest.main(verbosity=2)
