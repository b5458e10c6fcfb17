/* The SQLite state store: one file, WAL journal with synchronous=FULL, a
 * schema version (PRAGMA user_version) moved forward by an ordered list of
 * migrations, prepared statements kept for the store's life.
 *
 * Statements are always reset before a callback runs: what the callback gets
 * is an owned copy of the row, so it may call the store again, writes and
 * transactions included. Listings first take the row ids to visit, in order,
 * then read each row when its turn comes (pcref/sys/store.h). Row ids are
 * AUTOINCREMENT, so a row inserted during a listing never takes the id of one
 * still to visit. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "pcref/version.h"
#include "store_internal.h"

/* The schema, one migration per version: migrations[i] takes a file from
 * version i to version i + 1. Only ever append (doc/store.md). */
static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE links ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  referral_id TEXT UNIQUE,"
	"  crm_id TEXT UNIQUE,"
	"  base TEXT,"
	"  referral_etag TEXT,"
	"  crm_version TEXT,"
	"  started_ms INTEGER,"            /* NULL: PCREF_TIME_NONE */
	"  synced_ms INTEGER,"             /* NULL: PCREF_TIME_NONE */
	"  last_code INTEGER NOT NULL DEFAULT 0,"
	"  last_message TEXT,"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  CHECK (referral_id IS NOT NULL OR crm_id IS NOT NULL));"
	"CREATE INDEX links_order ON links (referral_id, crm_id);"
	"CREATE TABLE retries ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  side INTEGER NOT NULL,"
	"  item_id TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL,"
	"  next_ms INTEGER NOT NULL,"
	"  last_code INTEGER NOT NULL,"
	"  last_message TEXT,"
	"  UNIQUE (side, item_id));"
	"CREATE INDEX retries_due ON retries (next_ms, side, item_id);"
	"CREATE TABLE watermarks ("
	"  name TEXT PRIMARY KEY,"
	"  ms INTEGER NOT NULL);"
	"CREATE TABLE deliveries ("
	"  key TEXT PRIMARY KEY,"
	"  received_ms INTEGER NOT NULL);"
	"CREATE INDEX deliveries_received ON deliveries (received_ms);",
};

#define SCHEMA_VERSION ((int)PCREF__ARRAY_LEN(migrations))
#define BUSY_TIMEOUT_MS 5000

#define LINK_COLUMNS \
	"referral_id, crm_id, base, referral_etag, crm_version, started_ms, synced_ms, last_code, last_message, flags"
#define RETRY_COLUMNS "side, item_id, attempts, next_ms, last_code, last_message"

enum {
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
	S_LINK_FIND, S_LINK_BY_ROW, S_LINK_ROWS, S_LINK_DELETE, S_LINK_INSERT,
	S_WATERMARK_GET, S_WATERMARK_SET,
	S_RETRY_PUT, S_RETRY_DELETE, S_RETRY_ROWS, S_RETRY_BY_ROW,
	S_DELIVERY_RECORD, S_DELIVERY_PRUNE,
	S_COUNT
};

/* Links are found "by referral id, or (when that is NULL) by CRM id": the
 * statements that find them take ?1 = referral id and ?2 = the CRM id only
 * when ?1 is NULL (a NULL never equals anything). */
static const char *const statements[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT pcref_write",
	[S_RELEASE] = "RELEASE pcref_write",
	[S_ROLLBACK_TO] = "ROLLBACK TO pcref_write",
	[S_LINK_FIND] = "SELECT " LINK_COLUMNS " FROM links WHERE referral_id = ?1 OR crm_id = ?2",
	[S_LINK_BY_ROW] = "SELECT " LINK_COLUMNS " FROM links WHERE id = ?1",
	[S_LINK_ROWS] = "SELECT id FROM links ORDER BY referral_id, crm_id",
	[S_LINK_DELETE] = "DELETE FROM links WHERE referral_id = ?1 OR crm_id = ?2",
	[S_LINK_INSERT] = "INSERT INTO links (" LINK_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[S_WATERMARK_GET] = "SELECT ms FROM watermarks WHERE name = ?1",
	[S_WATERMARK_SET] = "INSERT INTO watermarks (name, ms) VALUES (?1, ?2) "
	                    "ON CONFLICT (name) DO UPDATE SET ms = excluded.ms",
	[S_RETRY_PUT] = "INSERT INTO retries (" RETRY_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	                "ON CONFLICT (side, item_id) DO UPDATE SET attempts = excluded.attempts, "
	                "next_ms = excluded.next_ms, last_code = excluded.last_code, "
	                "last_message = excluded.last_message",
	[S_RETRY_DELETE] = "DELETE FROM retries WHERE side = ?1 AND item_id = ?2",
	[S_RETRY_ROWS] = "SELECT id FROM retries WHERE next_ms <= ?1 ORDER BY next_ms, side, item_id",
	[S_RETRY_BY_ROW] = "SELECT " RETRY_COLUMNS " FROM retries WHERE id = ?1 AND next_ms <= ?2",
	[S_DELIVERY_RECORD] = "INSERT INTO deliveries (key, received_ms) VALUES (?1, ?2) "
	                      "ON CONFLICT (key) DO NOTHING",
	[S_DELIVERY_PRUNE] = "DELETE FROM deliveries WHERE received_ms < ?1",
};

typedef struct sqstore {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmts[S_COUNT];  /* prepared on first use */
} sqstore;

/* ---- errors --------------------------------------------------------------------- */

static const char *advice(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return "another process kept the file locked for more than 5 seconds: run one pcref-sync per state file";
	case SQLITE_FULL:
		return "the disk is full: free some space";
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN:
	case SQLITE_AUTH:
		return "check that the file and its directory exist and are writable by this user";
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return "the file is damaged or is not a libpcref state store: restore it from a backup "
		       "or give another path";
	case SQLITE_IOERR:
		return "the file system reported an I/O error: check the disk";
	case SQLITE_NOMEM:
		return "out of memory";
	default:
		return "see SQLite's reason";
	}
}

/* Record SQLite's failure `rc` while `doing` something with the file. */
static int fail_db(sqlite3 *db, const char *path, int rc, const char *doing)
{
	return pcref__error(PCREF_ESTORE, "state store '%s': %s failed: %s (SQLite error %d): %s", path, doing,
	                    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc, advice(rc));
}

static int fail(const sqstore *s, int rc, const char *doing)
{
	return fail_db(s->db, s->path, rc, doing);
}

/* ---- statements ----------------------------------------------------------------- */

static sqlite3_stmt *prepared(sqstore *s, int which)
{
	int rc;
	if (!s->stmts[which] &&
	    (rc = sqlite3_prepare_v3(s->db, statements[which], -1, SQLITE_PREPARE_PERSISTENT,
	                             &s->stmts[which], NULL)) != SQLITE_OK) {
		fail(s, rc, "preparing a statement");
		s->stmts[which] = NULL;
	}
	return s->stmts[which];
}

/* Ready a statement for the next use (the bound strings are the caller's). */
static void finish(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* The binders' result: SQLITE_OK or the first failure (checked once, at step). */
static int bind_text(sqlite3_stmt *st, int i, const char *text)
{
	return text ? sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static int bind_time(sqlite3_stmt *st, int i, int64_t ms)
{
	return ms == PCREF_TIME_NONE ? sqlite3_bind_null(st, i) : sqlite3_bind_int64(st, i, ms);
}

static int64_t column_time(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? PCREF_TIME_NONE : sqlite3_column_int64(st, i);
}

/* A text column; PCREF_ENOMEM when SQLite could not convert a non-NULL value. */
static int column_text(sqlite3_stmt *st, int i, const char **out)
{
	int null = sqlite3_column_type(st, i) == SQLITE_NULL;
	*out = (const char *)sqlite3_column_text(st, i);
	return *out || null ? PCREF_OK : pcref__error_nomem();
}

/* Run a statement that returns no row; `bound` is the binders' result.
 * Returns PCREF_OK or the recorded failure. */
static int run(sqstore *s, sqlite3_stmt *st, int bound, const char *doing)
{
	int rc = bound == SQLITE_OK ? sqlite3_step(st) : bound;
	int out = rc == SQLITE_DONE || rc == SQLITE_ROW ? PCREF_OK : fail(s, rc, doing);
	finish(st);
	return out;
}

static int run_plain(sqstore *s, int which, const char *doing)
{
	sqlite3_stmt *st = prepared(s, which);
	return st ? run(s, st, SQLITE_OK, doing) : PCREF_ESTORE;
}

/* Step a bound statement that returns at most one row and hand the row to
 * `read` (which copies what it needs). 1 when there was a row, 0 when not,
 * or the recorded failure. The statement is finished either way. */
static int fetch(sqstore *s, sqlite3_stmt *st, int bound, const char *doing,
                 int (*read)(sqlite3_stmt *st, void *out), void *out)
{
	int rc = bound == SQLITE_OK ? sqlite3_step(st) : bound, result;
	if (rc == SQLITE_ROW)
		result = read(st, out) < 0 ? PCREF_ENOMEM : 1;
	else if (rc == SQLITE_DONE)
		result = 0;
	else
		result = fail(s, rc, doing);
	finish(st);
	return result;
}

/* A write made of several statements is applied whole: inside a savepoint
 * (which is also a transaction of its own when none is open). */
static int write_begin(sqstore *s)
{
	return run_plain(s, S_SAVEPOINT, "starting a write");
}

static int write_end(sqstore *s, int rc)
{
	if (rc < 0) {
		pcref_error saved = *pcref_error_last();
		char message[1024];
		snprintf(message, sizeof(message), "%s", saved.message);
		run_plain(s, S_ROLLBACK_TO, "undoing a failed write");
		run_plain(s, S_RELEASE, "undoing a failed write");
		return pcref__error(saved.code, "%s", message); /* the first failure is the one to tell */
	}
	return run_plain(s, S_RELEASE, "finishing a write");
}

/* ---- transactions -------------------------------------------------------------- */

static int sq_begin(void *payload)
{
	return run_plain(payload, S_BEGIN, "starting a transaction");
}

static int sq_commit(void *payload)
{
	return run_plain(payload, S_COMMIT, "committing a transaction");
}

static int sq_rollback(void *payload)
{
	sqstore *s = payload;
	if (sqlite3_get_autocommit(s->db))
		return PCREF_OK; /* a failed commit may have rolled it back already */
	return run_plain(s, S_ROLLBACK, "rolling a transaction back");
}

static void sq_destroy(void *payload)
{
	sqstore *s = payload;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	sqlite3_close(s->db); /* an open transaction is rolled back */
	pcref__dealloc(s->path);
	pcref__dealloc(s);
}

/* ---- links ----------------------------------------------------------------------- */

static int read_link(sqlite3_stmt *st, void *out)
{
	pcref_link view = PCREF_LINK_INIT;
	if (column_text(st, 0, &view.referral_id) < 0 || column_text(st, 1, &view.crm_id) < 0 ||
	    column_text(st, 2, &view.base) < 0 || column_text(st, 3, &view.referral_etag) < 0 ||
	    column_text(st, 4, &view.crm_version) < 0 || column_text(st, 8, &view.last_message) < 0)
		return PCREF_ENOMEM;
	view.started_ms = column_time(st, 5);
	view.synced_ms = column_time(st, 6);
	view.last_code = sqlite3_column_int(st, 7);
	view.flags = (uint32_t)sqlite3_column_int64(st, 9);
	return pcref__link_copy(out, &view);
}

/* Bind "by referral id, or (when that is NULL) by CRM id" to ?1 and ?2. */
static int bind_ids(sqlite3_stmt *st, const char *referral_id, const char *crm_id)
{
	int rc = bind_text(st, 1, referral_id);
	return rc != SQLITE_OK ? rc : bind_text(st, 2, referral_id ? NULL : crm_id);
}

/* Hand the callback the copy, then release it. */
static int give_link(pcref_link *link, pcref_link_cb cb, void *cb_payload)
{
	int rc = cb(link, cb_payload);
	pcref__link_dispose(link);
	return rc;
}

static int sq_link_get(const char *referral_id, const char *crm_id, pcref_link_cb cb, void *cb_payload,
                       void *payload)
{
	sqstore *s = payload;
	sqlite3_stmt *st = prepared(s, S_LINK_FIND);
	pcref_link link;
	int rc;
	if (!st)
		return PCREF_ESTORE;
	rc = fetch(s, st, bind_ids(st, referral_id, crm_id), "reading a link", read_link, &link);
	if (rc == 0)
		return pcref__store_no_link("sqlite", referral_id, crm_id);
	return rc < 0 ? rc : give_link(&link, cb, cb_payload);
}

static int sq_link_put(const pcref_link *link, void *payload)
{
	sqstore *s = payload;
	sqlite3_stmt *del = prepared(s, S_LINK_DELETE), *ins = prepared(s, S_LINK_INSERT);
	int rc, b;
	if (!del || !ins || (rc = write_begin(s)) < 0)
		return PCREF_ESTORE;
	/* every link with the same referral id or the same CRM id goes */
	b = bind_text(del, 1, link->referral_id);
	if (b == SQLITE_OK)
		b = bind_text(del, 2, link->crm_id);
	rc = run(s, del, b, "replacing a link");
	if (rc == PCREF_OK) {
		b = bind_text(ins, 1, link->referral_id);
		if (b == SQLITE_OK) b = bind_text(ins, 2, link->crm_id);
		if (b == SQLITE_OK) b = bind_text(ins, 3, link->base);
		if (b == SQLITE_OK) b = bind_text(ins, 4, link->referral_etag);
		if (b == SQLITE_OK) b = bind_text(ins, 5, link->crm_version);
		if (b == SQLITE_OK) b = bind_time(ins, 6, link->started_ms);
		if (b == SQLITE_OK) b = bind_time(ins, 7, link->synced_ms);
		if (b == SQLITE_OK) b = sqlite3_bind_int(ins, 8, link->last_code);
		if (b == SQLITE_OK) b = bind_text(ins, 9, link->last_message);
		if (b == SQLITE_OK) b = sqlite3_bind_int64(ins, 10, link->flags);
		rc = run(s, ins, b, "writing a link");
	}
	return write_end(s, rc);
}

static int sq_link_delete(const char *referral_id, const char *crm_id, void *payload)
{
	sqstore *s = payload;
	sqlite3_stmt *st = prepared(s, S_LINK_DELETE);
	int rc;
	if (!st)
		return PCREF_ESTORE;
	if ((rc = run(s, st, bind_ids(st, referral_id, crm_id), "deleting a link")) < 0)
		return rc;
	return sqlite3_changes(s->db) ? PCREF_OK : pcref__store_no_link("sqlite", referral_id, crm_id);
}

/* The row ids a listing visits, in its order (`due` binds ?1 when >= 0). */
static int row_ids(sqstore *s, int which, const int64_t *due, int64_t **rows, size_t *n)
{
	sqlite3_stmt *st = prepared(s, which);
	size_t cap = 0;
	int rc = SQLITE_OK;
	*rows = NULL;
	*n = 0;
	if (!st)
		return PCREF_ESTORE;
	if (due)
		rc = sqlite3_bind_int64(st, 1, *due);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (pcref__grow((void **)rows, &cap, *n + 1, sizeof(**rows)) < 0) {
			finish(st);
			pcref__dealloc(*rows);
			return PCREF_ENOMEM;
		}
		(*rows)[(*n)++] = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE) {
		fail(s, rc, "listing");
		finish(st);
		pcref__dealloc(*rows);
		return PCREF_ESTORE;
	}
	finish(st);
	return PCREF_OK;
}

static int sq_link_list(pcref_link_cb cb, void *cb_payload, void *payload)
{
	sqstore *s = payload;
	sqlite3_stmt *st;
	int64_t *rows;
	size_t n;
	int rc;
	if ((rc = row_ids(s, S_LINK_ROWS, NULL, &rows, &n)) < 0)
		return rc;
	if (!(st = prepared(s, S_LINK_BY_ROW)))
		rc = PCREF_ESTORE;
	for (size_t i = 0; i < n && rc == PCREF_OK; i++) {
		pcref_link link;
		rc = fetch(s, st, sqlite3_bind_int64(st, 1, rows[i]), "reading a link", read_link, &link);
		if (rc == 1)
			rc = give_link(&link, cb, cb_payload);
		/* 0: deleted since the listing started; skipped */
	}
	pcref__dealloc(rows);
	return rc;
}

/* ---- watermarks and deliveries ---------------------------------------------------- */

static int read_ms(sqlite3_stmt *st, void *out)
{
	*(int64_t *)out = sqlite3_column_int64(st, 0);
	return PCREF_OK;
}

static int sq_watermark_get(const char *name, int64_t *ms, void *payload)
{
	sqstore *s = payload;
	sqlite3_stmt *st = prepared(s, S_WATERMARK_GET);
	int rc;
	if (!st)
		return PCREF_ESTORE;
	rc = fetch(s, st, bind_text(st, 1, name), "reading a watermark", read_ms, ms);
	if (rc == 0)
		*ms = PCREF_TIME_NONE;
	return rc < 0 ? rc : PCREF_OK;
}

/* Bind a key to ?1 and a time to ?2 and run. */
static int run_keyed(sqstore *s, int which, const char *key, int64_t ms, const char *doing)
{
	sqlite3_stmt *st = prepared(s, which);
	int b;
	if (!st)
		return PCREF_ESTORE;
	b = bind_text(st, 1, key);
	if (b == SQLITE_OK)
		b = sqlite3_bind_int64(st, 2, ms);
	return run(s, st, b, doing);
}

static int sq_watermark_set(const char *name, int64_t ms, void *payload)
{
	return run_keyed(payload, S_WATERMARK_SET, name, ms, "writing a watermark");
}

static int sq_delivery_record(const char *key, int64_t received_ms, void *payload)
{
	sqstore *s = payload;
	int rc = run_keyed(s, S_DELIVERY_RECORD, key, received_ms, "recording a webhook delivery");
	if (rc < 0)
		return rc;
	return sqlite3_changes(s->db) ? PCREF_OK : pcref__store_delivery_seen(key);
}

static int sq_delivery_prune(int64_t before_ms, void *payload)
{
	sqstore *s = payload;
	sqlite3_stmt *st = prepared(s, S_DELIVERY_PRUNE);
	return st ? run(s, st, sqlite3_bind_int64(st, 1, before_ms), "forgetting old webhook deliveries")
	          : PCREF_ESTORE;
}

/* ---- the retry queue ---------------------------------------------------------------- */

static int read_retry(sqlite3_stmt *st, void *out)
{
	pcref_retry view = PCREF_RETRY_INIT;
	if (column_text(st, 1, &view.id) < 0 || column_text(st, 5, &view.last_message) < 0)
		return PCREF_ENOMEM;
	view.side = sqlite3_column_int(st, 0);
	view.attempts = (uint32_t)sqlite3_column_int64(st, 2);
	view.next_ms = sqlite3_column_int64(st, 3);
	view.last_code = sqlite3_column_int(st, 4);
	return pcref__retry_copy(out, &view);
}

static int sq_retry_put(const pcref_retry *item, void *payload)
{
	sqstore *s = payload;
	sqlite3_stmt *st = prepared(s, S_RETRY_PUT);
	int b;
	if (!st)
		return PCREF_ESTORE;
	b = sqlite3_bind_int(st, 1, item->side);
	if (b == SQLITE_OK) b = bind_text(st, 2, item->id);
	if (b == SQLITE_OK) b = sqlite3_bind_int64(st, 3, item->attempts);
	if (b == SQLITE_OK) b = sqlite3_bind_int64(st, 4, item->next_ms);
	if (b == SQLITE_OK) b = sqlite3_bind_int(st, 5, item->last_code);
	if (b == SQLITE_OK) b = bind_text(st, 6, item->last_message);
	return run(s, st, b, "queueing a retry");
}

static int sq_retry_delete(int side, const char *id, void *payload)
{
	sqstore *s = payload;
	sqlite3_stmt *st = prepared(s, S_RETRY_DELETE);
	int b;
	if (!st)
		return PCREF_ESTORE;
	b = sqlite3_bind_int(st, 1, side);
	if (b == SQLITE_OK)
		b = bind_text(st, 2, id);
	return run(s, st, b, "deleting a retry");
}

static int sq_retry_list(int64_t due_ms, pcref_retry_cb cb, void *cb_payload, void *payload)
{
	sqstore *s = payload;
	int64_t due = due_ms == PCREF_TIME_NONE ? INT64_MAX : due_ms;
	sqlite3_stmt *st;
	int64_t *rows;
	size_t n;
	int rc;
	if ((rc = row_ids(s, S_RETRY_ROWS, &due, &rows, &n)) < 0)
		return rc;
	if (!(st = prepared(s, S_RETRY_BY_ROW)))
		rc = PCREF_ESTORE;
	for (size_t i = 0; i < n && rc == PCREF_OK; i++) {
		pcref_retry item;
		int b = sqlite3_bind_int64(st, 1, rows[i]);
		if (b == SQLITE_OK)
			b = sqlite3_bind_int64(st, 2, due);
		rc = fetch(s, st, b, "reading a retry", read_retry, &item);
		if (rc == 1) { /* 0: deleted or no longer due; skipped */
			rc = cb(&item, cb_payload);
			pcref__retry_dispose(&item);
		}
	}
	pcref__dealloc(rows);
	return rc;
}

/* ---- opening: schema version and migrations ----------------------------------------- */

static int read_user_version(sqstore *s, int *version)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*version = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		fail(s, rc, "reading the schema version");
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? PCREF_OK : PCREF_ESTORE;
}

static int too_new(const sqstore *s, int version)
{
	return pcref__error(PCREF_EVERSION, "state store '%s' has schema version %d, written by a newer "
	                    "libpcref (%s knows 1 to %d); it was left untouched: upgrade libpcref, or give "
	                    "another path", s->path, version, pcref_version_string(), SCHEMA_VERSION);
}

/* A file at schema version 0 must be empty: an SQLite database with tables
 * of its own is somebody else's, and is not turned into a state store. */
static int check_unused(sqstore *s)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "SELECT name FROM sqlite_schema LIMIT 1", -1, &st, NULL), own = 0;
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		pcref__error(PCREF_ESTORE, "state store '%s' is an SQLite database of something else (it has a "
		             "'%s' but no libpcref schema version); it was left untouched: give another path",
		             s->path, (const char *)sqlite3_column_text(st, 0));
		own = 1;
	} else if (rc != SQLITE_DONE) {
		fail(s, rc, "reading the schema");
	}
	sqlite3_finalize(st);
	return own || rc != SQLITE_DONE ? PCREF_ESTORE : PCREF_OK;
}

static int exec(sqstore *s, const char *sql, const char *doing)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? PCREF_OK : fail(s, rc, doing);
}

/* Bring the schema to SCHEMA_VERSION in one transaction. */
static int migrate(sqstore *s)
{
	char set_version[48];
	int version, rc;
	if ((rc = exec(s, "BEGIN IMMEDIATE", "starting the schema migration")) < 0)
		return rc;
	/* again, under the write lock: another process may have migrated it */
	if ((rc = read_user_version(s, &version)) == PCREF_OK && version > SCHEMA_VERSION)
		rc = too_new(s, version);
	for (int v = version; rc == PCREF_OK && v < SCHEMA_VERSION; v++)
		rc = exec(s, migrations[v], "migrating the schema");
	if (rc == PCREF_OK && version < SCHEMA_VERSION) {
		snprintf(set_version, sizeof(set_version), "PRAGMA user_version = %d", SCHEMA_VERSION);
		rc = exec(s, set_version, "recording the schema version");
	}
	if (rc == PCREF_OK)
		return exec(s, "COMMIT", "committing the schema migration");
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL); /* keeps the first failure's message */
	return rc;
}

/* WAL and FULL sync: only once the file is known to be ours, since switching
 * the journal mode writes to it. */
static int configure(sqstore *s)
{
	sqlite3_stmt *st;
	const char *mode;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL), wal;
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		rc = SQLITE_OK;
	if (rc != SQLITE_OK) {
		sqlite3_finalize(st);
		return fail(s, rc, "switching to the write-ahead log");
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	wal = mode && strcmp(mode, "wal") == 0;
	/* a private database (":memory:", or "" for a temporary file) has no WAL */
	if (!wal && strcmp(s->path, ":memory:") != 0 && s->path[0] != '\0') {
		pcref__error(PCREF_ESTORE, "state store '%s' cannot use a write-ahead log (the journal mode "
		             "stayed '%s'): keep the file on a local file system", s->path, mode ? mode : "?");
		sqlite3_finalize(st);
		return PCREF_ESTORE;
	}
	sqlite3_finalize(st);
	return exec(s, "PRAGMA synchronous = FULL", "setting synchronous = FULL");
}

int pcref_store_sqlite_open(pcref_store **out, const char *path, uint32_t flags)
{
	pcref_store_backend b;
	sqstore *s;
	int version, rc;
	if (!out || !path)
		return pcref__error(PCREF_EINVALID, "pcref_store_sqlite_open: out and path must not be NULL");
	if (flags)
		return pcref__error(PCREF_EINVALID, "pcref_store_sqlite_open: flags must be 0 (got 0x%x)",
		                    (unsigned int)flags);
	if (!(s = pcref__calloc(1, sizeof(*s))) || !(s->path = pcref__strdup(path))) {
		pcref__dealloc(s);
		return pcref__error_nomem();
	}
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		fail(s, rc, "opening");
		sq_destroy(s);
		return PCREF_ESTORE;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	/* Nothing is written before the version is known to be ours. */
	rc = read_user_version(s, &version);
	if (rc == PCREF_OK && version > SCHEMA_VERSION)
		rc = too_new(s, version);
	if (rc == PCREF_OK && version == 0)
		rc = check_unused(s);
	if (rc == PCREF_OK)
		rc = configure(s);
	if (rc == PCREF_OK && version < SCHEMA_VERSION)
		rc = migrate(s);
	if (rc < 0) {
		sq_destroy(s);
		return rc;
	}
	pcref_store_backend_init(&b, PCREF_STORE_BACKEND_VERSION);
	b.name = "sqlite";
	b.payload = s;
	b.destroy = sq_destroy;
	b.begin = sq_begin;
	b.commit = sq_commit;
	b.rollback = sq_rollback;
	b.link_get = sq_link_get;
	b.link_put = sq_link_put;
	b.link_delete = sq_link_delete;
	b.link_list = sq_link_list;
	b.watermark_get = sq_watermark_get;
	b.watermark_set = sq_watermark_set;
	b.retry_put = sq_retry_put;
	b.retry_delete = sq_retry_delete;
	b.retry_list = sq_retry_list;
	b.delivery_record = sq_delivery_record;
	b.delivery_prune = sq_delivery_prune;
	if ((rc = pcref_store_new(out, &b)) < 0)
		sq_destroy(s);
	return rc;
}
