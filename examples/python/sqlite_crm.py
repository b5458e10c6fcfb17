#!/usr/bin/env python3
"""A CRM kept in one SQLite file, plugged into libpcref from Python.

It shows what a partner writes to sync a CRM the library does not ship: a
``pcref.CrmBackend`` subclass whose methods read and write the CRM's own
tables, wrapped with ``pcref.Crm.from_backend()``. It passes the backend
conformance suite (bindings/python/tests/test_conformance.py).

The schema is deliberately plain: one ``records`` row per opportunity or
lead with a column per canonical field (``pcref.FIELDS``), and tables of
solutions, accounts, contacts, currencies and users. Every record carries a
version (bumped on each write, for optimistic concurrency) and a strictly
increasing modification time (the polling watermark).

    python3 examples/python/sqlite_crm.py crm.db          # list what is in crm.db
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import time
import uuid
from typing import Iterable, Iterator, Sequence

import pcref

KIND_SQL = {pcref.KIND_TEXT: "TEXT", pcref.KIND_NUMBER: "REAL", pcref.KIND_TIME: "INTEGER",
            pcref.KIND_FLAG: "INTEGER"}
COLUMNS = list(pcref.FIELDS)                      # "id", "name", "deal_value", ...
ACCOUNT_FIELDS = [pcref.FIELD_ACCOUNT_NAME, pcref.FIELD_ACCOUNT_COUNTRY, pcref.FIELD_ACCOUNT_POSTAL_CODE,
                  pcref.FIELD_ACCOUNT_CITY, pcref.FIELD_ACCOUNT_STATE, pcref.FIELD_ACCOUNT_ADDRESS1,
                  pcref.FIELD_ACCOUNT_ADDRESS2]
CONTACT_FIELDS = [pcref.FIELD_CONTACT_FIRST_NAME, pcref.FIELD_CONTACT_LAST_NAME, pcref.FIELD_CONTACT_EMAIL,
                  pcref.FIELD_CONTACT_PHONE, pcref.FIELD_ACCOUNT_ID]
MAINTAINED = {pcref.FIELD_ID, pcref.FIELD_VERSION, pcref.FIELD_MODIFIED_TIME, pcref.FIELD_IS_LEAD}
DEFAULT_ACCOUNT_MATCH = [pcref.FIELD_ACCOUNT_NAME, pcref.FIELD_ACCOUNT_POSTAL_CODE]
PAGE = 500


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def col(field: int) -> str:
    return q(pcref.field_name(field))


SCHEMA = f"""
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    {", ".join(f"{q(name)} {KIND_SQL[pcref.field_kind(name)]}" for name in COLUMNS)},
    UNIQUE ("id"));
CREATE INDEX IF NOT EXISTS records_modified ON records ("modified_time", seq);
CREATE INDEX IF NOT EXISTS records_referral ON records ("referral_id");
CREATE TABLE IF NOT EXISTS solutions (record_id TEXT NOT NULL, solution_id TEXT NOT NULL, name TEXT,
    PRIMARY KEY (record_id, solution_id));
CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY,
    {", ".join(f"{col(f)} TEXT" for f in ACCOUNT_FIELDS)});
CREATE TABLE IF NOT EXISTS contacts (id TEXT PRIMARY KEY,
    {", ".join(f"{col(f)} TEXT" for f in CONTACT_FIELDS)});
CREATE TABLE IF NOT EXISTS currencies (iso_code TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS users (email TEXT PRIMARY KEY COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class SqliteCrm(pcref.CrmBackend):
    """The CRM backend. ``currencies`` and ``users`` are added to the CRM
    (R-29: a deal's currency and owner must exist in the CRM)."""

    name = "sqlite"

    def __init__(self, path: str, currencies: Iterable[str] = ("USD", "EUR", "GBP", "SEK"),
                 users: Iterable[str] = ("seller@contoso.example",)):
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.in_batch = False
        with self.write():
            self.db.executemany("INSERT OR IGNORE INTO currencies VALUES (?)", [(c,) for c in currencies])
            self.db.executemany("INSERT OR IGNORE INTO users VALUES (?)", [(u,) for u in users])

    # ---- plumbing ------------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """One transaction per write; inside a batch the batch's transaction."""
        if self.in_batch:
            yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def stamp(self) -> int:
        """A modification time later than every earlier one, so watermarks never miss a write."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'last_modified'").fetchone()
        now = max(int(time.time() * 1000), (row[0] + 1) if row else 0)
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('last_modified', ?)", (now,))
        return now

    def touch(self, record_id: str) -> None:
        self.db.execute('UPDATE records SET "version" = CAST("version" AS INTEGER) + 1, "modified_time" = ? '
                        'WHERE "id" = ?', (self.stamp(), record_id))

    def to_opportunities(self, rows: Sequence[sqlite3.Row]) -> list[pcref.Opportunity]:
        ids = [row["id"] for row in rows]
        solutions: dict[str, list[tuple[str, str | None]]] = {}
        for chunk in range(0, len(ids), PAGE):
            part = ids[chunk:chunk + PAGE]
            for s in self.db.execute(f"SELECT * FROM solutions WHERE record_id IN ({','.join('?' * len(part))}) "
                                     "ORDER BY rowid", part):
                solutions.setdefault(s["record_id"], []).append((s["solution_id"], s["name"]))
        result = []
        for row in rows:
            opp = pcref.Opportunity({name: row[name] for name in COLUMNS if row[name] is not None})
            for sid, sname in solutions.get(row["id"], ()):
                opp.add_solution(sid, sname)
            result.append(opp)
        return result

    def read(self, record_id: str, lead: bool | None = None) -> pcref.Opportunity:
        row = self.db.execute('SELECT * FROM records WHERE "id" = ?', (record_id,)).fetchone()
        if row is None or (lead is not None and bool(row["is_lead"]) != lead):
            what = "opportunity or lead" if lead is None else "lead" if lead else "opportunity"
            raise pcref.NotFound(f"the CRM has no {what} with id '{record_id}'")
        return self.to_opportunities([row])[0]

    def find_linked(self, referral_id: str, lead: bool) -> pcref.Opportunity:
        row = self.db.execute('SELECT "id" FROM records WHERE "referral_id" = ? AND "is_lead" = ? ORDER BY seq',
                              (referral_id, int(lead))).fetchone()
        if row is None:
            raise pcref.NotFound(f"the CRM has no {'lead' if lead else 'opportunity'} linked to referral "
                                 f"'{referral_id}'")
        return self.read(row[0])

    def insert(self, opp: pcref.Opportunity, lead: bool) -> str:
        if opp[pcref.FIELD_NAME] is None:
            raise pcref.Invalid("a lead needs a topic (name)" if lead else "an opportunity needs a name")
        if opp[pcref.FIELD_CURRENCY] is not None:
            self.resolve_currency(str(opp[pcref.FIELD_CURRENCY]))
        values = {name: opp[name] for name in COLUMNS
                  if pcref.FIELDS[name] not in MAINTAINED and opp[name] is not None}
        values.setdefault("state", "open")
        record_id = f"{'lead' if lead else 'opp'}-{uuid.uuid4()}"
        values.update(id=record_id, is_lead=int(lead), version="1", modified_time=self.stamp())
        self.db.execute(f"INSERT INTO records ({', '.join(map(q, values))}) VALUES ({', '.join('?' * len(values))})",
                        [int(v) if isinstance(v, bool) else v for v in values.values()])
        self.db.executemany("INSERT OR REPLACE INTO solutions VALUES (?, ?, ?)",
                            [(record_id, s.id, s.name) for s in opp.solutions])
        return record_id

    def create(self, opp: pcref.Opportunity, lead: bool) -> pcref.Opportunity:
        with self.write():
            record_id = self.insert(opp, lead)
        return self.read(record_id)

    def update(self, opp: pcref.Opportunity, fields: list[int], lead: bool) -> pcref.Opportunity:
        record_id = str(opp[pcref.FIELD_ID])
        what = "lead" if lead else "opportunity"
        with self.write():
            current = self.read(record_id, lead)
            if opp[pcref.FIELD_VERSION] is not None and opp[pcref.FIELD_VERSION] != current[pcref.FIELD_VERSION]:
                raise pcref.Conflict(f"{what} {record_id} changed since it was read (version "
                                     f"{opp[pcref.FIELD_VERSION]}, now {current[pcref.FIELD_VERSION]}): re-read it")
            for f in fields:   # validate everything before writing anything
                if f in MAINTAINED:
                    raise pcref.Invalid(f"field '{pcref.field_name(f)}' is maintained by the CRM and cannot be "
                                        f"written")
                if f == pcref.FIELD_STATE and not lead:
                    raise pcref.Invalid("an opportunity is won or lost through close_opportunity, not by writing "
                                        "its state")
                if f == pcref.FIELD_CURRENCY and opp[f] is not None:
                    self.resolve_currency(str(opp[f]))
            if fields:
                values = [opp[f] for f in fields]
                self.db.execute(f"UPDATE records SET {', '.join(f'{col(f)} = ?' for f in fields)} WHERE \"id\" = ?",
                                [int(v) if isinstance(v, bool) else v for v in values] + [record_id])
            self.touch(record_id)
        return self.read(record_id)

    def change_solution(self, record_id: str, solution_id: str, name: str | None, add: bool) -> None:
        with self.write():
            self.read(record_id, lead=False)
            if add:
                self.db.execute("INSERT OR REPLACE INTO solutions VALUES (?, ?, ?)", (record_id, solution_id, name))
            elif not self.db.execute("DELETE FROM solutions WHERE record_id = ? AND solution_id = ?",
                                     (record_id, solution_id)).rowcount:
                raise pcref.NotFound(f"opportunity {record_id} has no solution '{solution_id}'")
            self.touch(record_id)

    def find_or_create(self, table: str, fields: list[int], match: list[int], opp: pcref.Opportunity) -> str:
        where = " AND ".join(f"{col(f)} IS ?" for f in match)
        row = self.db.execute(f"SELECT id FROM {table} WHERE {where}", [opp[f] for f in match]).fetchone()
        if row is not None:
            return str(row[0])
        new_id = f"{table[:-1]}-{uuid.uuid4()}"
        with self.write():
            self.db.execute(f"INSERT INTO {table} (id, {', '.join(col(f) for f in fields)}) "
                            f"VALUES (?{', ?' * len(fields)})", [new_id] + [opp[f] for f in fields])
        return new_id

    # ---- the CRM backend ------------------------------------------------------------------
    def get_opportunity(self, id: str) -> pcref.Opportunity:
        return self.read(id)

    def find_opportunity(self, referral_id: str) -> pcref.Opportunity:
        return self.find_linked(referral_id, lead=False)

    def create_opportunity(self, opp: pcref.Opportunity) -> pcref.Opportunity:
        return self.create(opp, lead=False)

    def update_opportunity(self, opp: pcref.Opportunity, fields: list[int]) -> pcref.Opportunity:
        return self.update(opp, fields, lead=False)

    def list_modified(self, since: int | None) -> Iterator[pcref.Opportunity]:
        """Oldest first, a page at a time (keyset paging: never the whole table)."""
        after: tuple[int, int] = (-(2 ** 63), -1) if since is None else (since, -1)
        while True:
            rows = self.db.execute('SELECT * FROM records WHERE "is_lead" = 0 AND ("modified_time", seq) > (?, ?) '
                                   'ORDER BY "modified_time", seq LIMIT ?', (*after, PAGE)).fetchall()
            if not rows:
                return
            yield from self.to_opportunities(rows)
            after = (rows[-1]["modified_time"], rows[-1]["seq"])

    def ensure_account(self, opp: pcref.Opportunity, match_fields: list[int]) -> None:
        if opp[pcref.FIELD_ACCOUNT_NAME] is None:
            raise pcref.Invalid("the customer account needs a name (R-27)")
        opp[pcref.FIELD_ACCOUNT_ID] = self.find_or_create("accounts", ACCOUNT_FIELDS,
                                                          match_fields or DEFAULT_ACCOUNT_MATCH, opp)

    def ensure_contact(self, opp: pcref.Opportunity) -> None:
        if opp[pcref.FIELD_CONTACT_EMAIL] is not None:
            match = [pcref.FIELD_CONTACT_EMAIL]
        elif opp[pcref.FIELD_CONTACT_LAST_NAME] is not None:
            match = [pcref.FIELD_CONTACT_FIRST_NAME, pcref.FIELD_CONTACT_LAST_NAME, pcref.FIELD_ACCOUNT_ID]
        else:
            raise pcref.Invalid("the customer contact needs an email or a last name to be found or created")
        opp[pcref.FIELD_CONTACT_ID] = self.find_or_create("contacts", CONTACT_FIELDS, match, opp)

    def add_solution(self, id: str, solution_id: str, name: str | None) -> None:
        self.change_solution(id, solution_id, name, add=True)

    def remove_solution(self, id: str, solution_id: str) -> None:
        self.change_solution(id, solution_id, None, add=False)

    def close_opportunity(self, id: str, won: bool, reason: str | None) -> None:
        with self.write():
            state = self.read(id, lead=False)[pcref.FIELD_STATE]
            if state not in (None, "open"):
                raise pcref.Invalid(f"opportunity {id} is already closed as {state}")
            self.db.execute('UPDATE records SET "state" = ?, "close_reason" = ? WHERE "id" = ?',
                            ("won" if won else "lost", reason, id))
            self.touch(id)

    def find_lead(self, referral_id: str) -> pcref.Opportunity:
        return self.find_linked(referral_id, lead=True)

    def create_lead(self, lead: pcref.Opportunity) -> pcref.Opportunity:
        return self.create(lead, lead=True)

    def update_lead(self, lead: pcref.Opportunity, fields: list[int]) -> pcref.Opportunity:
        return self.update(lead, fields, lead=True)

    def resolve_currency(self, iso_code: str) -> None:
        if not self.db.execute("SELECT 1 FROM currencies WHERE iso_code = ?", (iso_code,)).fetchone():
            raise pcref.NotFound(f"the CRM has no currency '{iso_code}': add it before syncing deals in it (R-29)")

    def resolve_user(self, email: str) -> None:
        if not self.db.execute("SELECT 1 FROM users WHERE email = ?", (email,)).fetchone():
            raise pcref.NotFound(f"the CRM has no user '{email}': add the seller to the CRM or change the "
                                 f"deal's owner (R-29)")

    def batch_begin(self) -> None:
        """Writes until batch_commit go into one transaction: all or nothing."""
        if not self.in_batch:
            self.db.execute("BEGIN IMMEDIATE")
            self.in_batch = True

    def batch_commit(self) -> None:
        if self.in_batch:
            self.in_batch = False
            self.db.execute("COMMIT")

    def close(self) -> None:
        if self.in_batch:   # writes still held back when the CRM is freed are dropped
            self.db.execute("ROLLBACK")
        self.db.close()

    # ---- administration (not part of the backend contract) ---------------------------------
    def import_opportunities(self, opps: Iterable[pcref.Opportunity]) -> int:
        """Create many opportunities in one transaction; returns how many."""
        n = 0
        with self.write():
            for opp in opps:
                self.insert(opp, lead=False)
                n += 1
        return n

    def wipe(self) -> None:
        """Delete every record, solution, account and contact (currencies and users stay)."""
        with self.write():
            for table in ("records", "solutions", "accounts", "contacts"):
                self.db.execute(f"DELETE FROM {table}")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} CRM.db", file=sys.stderr)
        return 2
    with pcref.Crm.from_backend(SqliteCrm(argv[1])) as crm:
        for opp in crm.list_modified():
            print(f"{opp['id']}  {opp['state'] or '':5}  {opp['deal_value'] or 0:>12.2f} {opp['currency'] or '':3}  "
                  f"{opp['name']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
