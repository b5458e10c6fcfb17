#!/usr/bin/env python3
"""The libpcref demo: two-way co-sell sync between Partner Center and
Dynamics 365 (or Salesforce: --crm salesforce), played against the local
emulators (no credentials needed).

Run through ``scripts/demo`` (the README's first command), which installs
what is missing and builds pcref-sync first; or directly::

    python3 scripts/demo.py --pcref-sync build/examples/pcref-sync

It starts the Partner Center and CRM emulators in this process on free
loopback ports (tests/peers/sandbox.py), seeds them with realistic data,
writes a pcref-sync configuration for them, and plays the people on both
sides — Microsoft sharing a referral, the seller working in the CRM, the
partner's user in Partner Center — running ``pcref-sync`` between the steps:

  (a) Microsoft shares a co-sell referral: it lands in the CRM on hold (R-20, R-21)
  (b) the seller accepts it by moving the stage to the active stage (R-21)
  (c) the seller creates an opportunity with Sync = Yes: a referral is made (R-10)
  (d) the deal value is edited in Partner Center (applied through a webhook,
      with the latency measured) and then in the CRM (R-13, R-23, R-37)
  (e) the seller wins the deal in the CRM: the referral is Closed/Won (R-31)

After each step it prints both sides before and after, and the new lines of
the opportunity's audit trail (R-08). Every expected outcome is checked: the
exit status is 0 only when all of them held.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "peers"))

import sandbox  # noqa: E402

WIDTH = 36


class Demo:
    def __init__(self, sb, color):
        self.sb = sb
        self.color = color
        self.failures = []

    # -- printing ------------------------------------------------------------------------
    def bold(self, text):
        return f"\033[1m{text}\033[0m" if self.color else text

    def dim(self, text):
        return f"\033[2m{text}\033[0m" if self.color else text

    def heading(self, title, story):
        print()
        print(self.bold(f"━━ {title} " + "━" * max(3, 76 - len(title))))
        for line in story:
            print(f"  {line}")

    def expect(self, ok, what):
        mark = "✔" if ok else "✖"
        print(f"  {mark} {what}")
        if not ok:
            self.failures.append(what)
        return ok

    def pcref_sync(self, *args, check_codes=(0,)):
        """Run pcref-sync and show its output, indented."""
        print(self.dim(f"  $ pcref-sync {' '.join(args)}"))
        proc = self.sb.sync(*args, check=False)
        for line in (proc.stdout + proc.stderr).splitlines():
            print(f"  │ {line}")
        self.expect(proc.returncode in check_codes,
                    f"pcref-sync {args[0]} exited {proc.returncode}"
                    + ("" if proc.returncode in check_codes else f" (expected {check_codes[0]})"))
        return proc

    # -- the two sides -----------------------------------------------------------------------
    def views(self, ref_id, opp_id):
        """What a person sees of the deal on each side: (referral, opportunity) dicts of text."""
        ref = self.sb.pc.referral(ref_id) if ref_id else None
        opp = self.sb.crm.view(opp_id) if opp_id else None
        pc, crm = {}, {}
        if ref:
            d = ref.get("details") or {}
            pc = {"name": ref.get("name") or "-",
                  "status": f"{ref.get('status')} / {ref.get('substatus')}",
                  "deal value": money(d.get("dealValue"), d.get("currency")),
                  "close date": (d.get("closingDateTime") or "-")[:10],
                  "linkage": f"externalReferenceId {short(ref.get('externalReferenceId'))}"}
        if opp:
            crm = {"name": opp["name"] or "-",
                   "status": f"{opp['stage'] or '-'} ({opp['state']})",
                   "deal value": money(opp["deal_value"], opp["currency"]),
                   "close date": opp["close_date"] or "-",
                   "linkage": f"Sync={'Yes' if opp['sync'] else 'No'}, referral {short(opp['referral_id'])}"}
        return {"pc": pc, "crm": crm, "audit": (opp or {}).get("audit") or ""}

    def show(self, before, after):
        """Both sides, a row per field; a changed value shows as before → after."""
        labels = ("name", "status", "deal value", "close date", "linkage")
        print()
        pc_title = "Partner Center (referral)".ljust(WIDTH)
        crm_title = f"{self.sb.crm.name} (opportunity)".ljust(WIDTH)
        print(f"  {'':<12}  {self.bold(pc_title)}  {self.bold(crm_title)}")
        for label in labels:
            cells = [cell(before[side].get(label), after[side].get(label)) for side in ("pc", "crm")]
            for i in range(max(len(c) for c in cells)):
                left = cells[0][i] if i < len(cells[0]) else ""
                right = cells[1][i] if i < len(cells[1]) else ""
                print(f"  {label if i == 0 else '':<12}  {left:<{WIDTH}}  {right:<{WIDTH}}")
        new_audit = after["audit"][len(before["audit"]):] if after["audit"].startswith(before["audit"]) \
            else after["audit"]
        lines = [line for line in new_audit.splitlines() if line.strip()]
        if lines:
            print(f"  {'audit trail':<12}  " + self.dim("(the opportunity's sync audit field, R-08: new lines)"))
            for line in lines[-6:]:
                print(f"  {'':<12}  {line}")
        print()

    def act_and_sync(self, ref_id, opp_id, action):
        """A person's change (``action``), a pass of pcref-sync, both sides before and after."""
        before = self.views(ref_id, opp_id)
        action()
        self.pcref_sync("once")
        after = self.views(ref_id, opp_id)
        self.show(before, after)
        return after

    def expect_referral_status(self, ref_id, status, substatus):
        ref = self.sb.pc.referral(ref_id)
        self.expect((ref["status"], ref["substatus"]) == (status, substatus),
                    f"the referral is {status} / {substatus} in Partner Center")

    # -- the scenarios -------------------------------------------------------------------------------
    def seed(self):
        self.heading("Seeding both sides", [
            f"Partner Center emulator   {self.sb.pc_base}",
            f"{self.sb.crm.name + ' emulator':<26}{self.sb.crm_base}",
            f"pcref-sync configuration  {self.sb.config}",
            "Partner Center gets 12 co-sell referrals in every state; the CRM gets 8 opportunities of its own",
            "(not shared with Microsoft) and the currencies and sales team the referrals need (R-29)."])
        self.sb.pc.generate(12, type="Shared", seed=2024)
        self.sb.crm.seed_own_opportunities(8, seed=7)
        print()
        print("  The first run compares everything (a backfill): referrals become opportunities, except those")
        print("  already won or lost in Partner Center before they were ever synced (R-25).")
        self.pcref_sync("backfill")
        self.pcref_sync("status")

    def share(self):
        self.heading("(a) Microsoft shares a co-sell referral", [
            "A Microsoft seller invites Contoso to help Fabrikam with an Azure migration. In Partner Center the",
            "referral is New / Pending; pcref-sync brings it into the CRM on hold (R-20, R-21)."])
        ref = self.sb.pc.share(seed=11, name="Fabrikam - Azure migration", details={
            "dealValue": 250000, "currency": "USD", "notes": "Fabrikam wants to move 40 VMs to Azure."},
            customerProfile={"name": "Fabrikam Inc", "address": {
                "addressLine1": "One Microsoft Way", "city": "Redmond", "state": "WA", "postalCode": "98052",
                "country": "US"}})
        before = self.views(ref["id"], None)
        self.pcref_sync("once")
        crm = self.sb.crm
        opp_id = crm.id_of(crm.opportunity_for(ref["id"]))
        after = self.views(ref["id"], opp_id)
        self.show(before, after)
        self.expect(opp_id is not None, "exactly one opportunity carries the referral's id (R-02)")
        if opp_id:
            view = crm.view(opp_id)
            self.expect(view["stage"] == crm.on_hold_stage, f"it is in the on-hold stage \"{crm.on_hold_stage}\" "
                                                             "(R-21)")
            self.expect(view["sync"] and bool(view["link"]), "Sync = Yes and the referral link is set (R-01, R-03)")
        return ref["id"], opp_id

    def accept(self, ref_id, opp_id):
        self.heading("(b) The seller accepts it in the CRM", [
            f"The seller moves the opportunity from \"{self.sb.crm.on_hold_stage}\" to the active stage "
            f"\"{self.sb.crm.active_stage}\". pcref-sync",
            "accepts the referral in Partner Center (R-21); from now on changes flow both ways."])
        self.act_and_sync(ref_id, opp_id, lambda: self.sb.crm.set_stage(opp_id, self.sb.crm.active_stage))
        self.expect_referral_status(ref_id, "Active", "Accepted")

    def create_in_crm(self):
        self.heading("(c) The seller creates an opportunity with Sync = Yes", [
            "In the CRM, a seller creates \"Wingtip Toys - Copilot rollout\" for a Swedish customer, picks",
            "\"How can Microsoft help?\", adds the customer contact and a co-sell solution (R-04, R-07, R-11)",
            "and sets Sync with Partner Center = Yes. pcref-sync creates the referral and writes its id and",
            "link back (R-10)."])
        crm = self.sb.crm
        opp = crm.create_shared_opportunity({
            "account": "Wingtip Toys AB", "street": "Kungsgatan 12", "city": "Stockholm", "postal_code": "111 52",
            "country": "SE", "contact": ("Ingrid", "Johansson", "ingrid.johansson@wingtiptoys.example"),
            "name": "Wingtip Toys - Copilot rollout", "value": 1200000, "currency": "SEK",
            "close_date": (datetime.date.today() + datetime.timedelta(days=90)).isoformat(),
            "notes": "Copilot for 800 seats, with our adoption services.",
            "solution": ("SOL-34104-EBB", "Contoso Field Service Accelerator")})
        before = self.views(None, opp)
        self.pcref_sync("once")
        row = crm.view(opp)
        ref_id = row["referral_id"]
        after = self.views(ref_id, opp)
        self.show(before, after)
        ref = self.sb.pc.referral(ref_id) if ref_id else None
        self.expect(ref is not None, "a referral was created in Partner Center and its id written back (R-02)")
        if ref:
            self.expect(ref.get("externalReferenceId") == opp, "the referral names the opportunity "
                                                               "(externalReferenceId)")
            self.expect(bool(row["link"]), "the opportunity has the referral link (R-03)")
        return ref_id, opp

    def deal_value(self, ref_id, opp_id):
        self.heading("(d) The deal value changes — first in Partner Center, then in the CRM", [
            "pcref-sync runs as a service now (`pcref-sync run`): it listens for Partner Center's webhooks,",
            "registered for its URL at start (R-33). The partner's user raises the deal value in Partner",
            "Center; the webhook makes pcref-sync apply it to the CRM at once (R-23, R-37)."])
        before = self.views(ref_id, opp_id)
        proc = self.sb.spawn("run")
        out = sandbox.LineReader(proc.stdout)
        ready = out.wait_for(lambda line: " poll: " in line or " backfill: " in line, timeout=60)
        self.expect(ready is not None, "pcref-sync run started, registered its webhook and made its first pass")
        mark = len(out.lines)
        started = time.monotonic()
        self.sb.pc.patch(ref_id, [{"op": "replace", "path": "/details/dealValue", "value": 310000}])
        latency = None
        while time.monotonic() - started < 10:
            if self.sb.crm.view(opp_id)["deal_value"] == 310000:
                latency = (time.monotonic() - started) * 1000
                break
            time.sleep(0.005)
        handled = out.wait_for(lambda line: "webhook: handled" in line, timeout=5, start=mark)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        out.wait_for(lambda line: False, timeout=5)  # until the end of its output
        print(self.dim("  $ pcref-sync run   (then SIGTERM)"))
        for line in out.lines:
            if line is not None:
                print(f"  │ {line}")
        self.expect(code == 0, f"pcref-sync run stopped cleanly on SIGTERM (exit {code})")
        if self.expect(latency is not None and handled is not None,
                       "the change reached the CRM through the webhook"):
            print(self.bold(f"  ⏱  Partner Center → {self.sb.crm.name}: {latency:.0f} ms from the edit to the "
                            f"CRM write (the reference connector: ~10 minutes)"))
        middle = self.views(ref_id, opp_id)
        self.show(before, middle)

        print("  Now the seller raises it again in the CRM; the next pass pushes it to Partner Center (R-13).")
        self.act_and_sync(ref_id, opp_id,
                          lambda: self.sb.crm.set_deal_value(opp_id, 340000))
        ref = self.sb.pc.referral(ref_id)
        self.expect((ref.get("details") or {}).get("dealValue") == 340000,
                    "Partner Center has the CRM's deal value 340,000")

    def win(self, ref_id, opp_id):
        self.heading("(e) The seller wins the deal in the CRM", [
            "The seller closes the opportunity as won. pcref-sync closes the referral as Closed / Won (R-31)."])
        self.act_and_sync(ref_id, opp_id, lambda: self.sb.crm.win(opp_id, subject="Fabrikam signed"))
        self.expect_referral_status(ref_id, "Closed", "Won")

    def steady(self):
        self.heading("Steady state", [
            "Nothing changed since the last pass: another pass reads both sides and writes nothing —",
            "checked in the emulators' request logs."])
        self.sb.clear_requests()
        self.pcref_sync("once")
        writes = self.sb.writes()
        self.expect(not writes, "no write on either side" + (f" (saw {writes[:3]})" if writes else ""))
        self.pcref_sync("status")


def money(value, currency):
    if value is None:
        return "-"
    return f"{value:,.0f} {currency or ''}".strip()


def short(text):
    return f"{text[:8]}…" if text else "-"


def cell(before, after):
    if before == after or before is None or not before:
        return [clip(after or "-")]
    if after is None:
        return [clip(before)]
    if len(before) + len(after) + 3 <= WIDTH:
        return [f"{before} → {after}"]
    return [clip(before), clip(f"→ {after}")]


def clip(text):
    return text if len(text) <= WIDTH else text[:WIDTH - 1] + "…"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--pcref-sync", default=os.path.join(ROOT, "build", "examples", "pcref-sync"),
                        help="the pcref-sync program (default: build/examples/pcref-sync)")
    parser.add_argument("--workdir", help="where the configuration and the state store go (default: a "
                                          "temporary directory, removed at the end)")
    parser.add_argument("--crm", default="dynamics", choices=sorted(sandbox.CRMS),
                        help="the CRM to sync with, played by its emulator (default: dynamics)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (with --workdir)")
    args = parser.parse_args(argv)

    if not os.access(args.pcref_sync, os.X_OK):
        parser.exit(2, f"demo: {args.pcref_sync} is not there: build it first (meson compile -C build "
                       f"pcref-sync), or run ./scripts/demo\n")
    version = subprocess.run([args.pcref_sync, "--version"], capture_output=True, text=True).stdout
    if args.crm not in version:
        parser.exit(2, f"demo: this pcref-sync has no {args.crm} backend ({version.strip()})\n")

    # SIGTERM (a CI timeout, the wrapper's trap) unwinds like Ctrl-C: the
    # emulators and pcref-sync children are stopped in the `finally` below.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    workdir = args.workdir or tempfile.mkdtemp(prefix="pcref-demo.")
    color = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None
    try:
        sb = sandbox.Sandbox(workdir, args.pcref_sync, crm=args.crm, poll_interval=60)
    except ValueError as exc:
        parser.exit(2, f"demo: {exc}\n")
    demo = Demo(sb, color)
    try:
        print(demo.bold(f"libpcref demo: Partner Center ⇄ {sb.crm.name} co-sell sync, against local emulators"))
        demo.seed()
        ref_a, opp_a = demo.share()
        if opp_a:
            demo.accept(ref_a, opp_a)
        demo.create_in_crm()
        if opp_a:
            demo.deal_value(ref_a, opp_a)
            demo.win(ref_a, opp_a)
        demo.steady()
    except KeyboardInterrupt:
        print("\ndemo: interrupted")
        return 130
    finally:
        sb.close()
        if not args.workdir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    if demo.failures:
        print(f"demo: {len(demo.failures)} expectation(s) failed:")
        for what in demo.failures:
            print(f"  ✖ {what}")
        return 1
    print(demo.bold("demo: every step behaved as expected.") + " The emulators are stopped; "
          + (f"the state store and configuration are in {workdir}." if args.workdir or args.keep
             else "the work directory is removed."))
    return 0


if __name__ == "__main__":
    sys.exit(main())
