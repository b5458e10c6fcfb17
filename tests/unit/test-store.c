/* The state store: one list of behaviour tests run against every built-in
 * store (memory and SQLite), the handle's vtable checks, and what only the
 * SQLite file can show (durability, crashes, schema versions, WAL). */
#include <fcntl.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pcref/pcref.h"
#include "pcref/sys/store.h"
#include "store/store_internal.h"
#include "testutil.h"

/* ---- the stores under test ---------------------------------------------------- */

static char tmp_dir[256];
static char db_path[512];

/* A fresh directory for SQLite files (removed by forget_files()). */
static void make_dir(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/pcref-store-XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
	snprintf(db_path, sizeof(db_path), "%s/state.db", tmp_dir);
}

static void forget_files(void)
{
	char p[600];
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
		snprintf(p, sizeof(p), "%s%s", db_path, suffixes[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/other", tmp_dir);
	unlink(p);
	rmdir(tmp_dir);
}

static pcref_store *open_sqlite(void)
{
	pcref_store *store = NULL;
	int rc = pcref_store_sqlite_open(&store, db_path, 0);
	ck_assert_msg(rc == PCREF_OK, "sqlite open: %s", pcref_error_last()->message);
	return store;
}

static pcref_store *open_memory(void)
{
	pcref_store *store = NULL;
	ck_assert_int_eq(pcref_store_memory_new(&store), PCREF_OK);
	return store;
}

static const struct kind {
	const char *name;
	pcref_store *(*open)(void);
} kinds[] = {
	{ "memory", open_memory },
	{ "sqlite", open_sqlite },
};

/* The store of loop iteration `i` (a fresh one). */
static pcref_store *open_kind(int i)
{
	pcref_store *store;
	make_dir();
	store = kinds[i].open();
	ck_assert_str_eq(pcref_store_name(store), kinds[i].name);
	return store;
}

static void close_kind(pcref_store *store)
{
	pcref_store_free(store);
	forget_files();
}

/* ---- helpers --------------------------------------------------------------------- */

static pcref_link mklink(const char *referral_id, const char *crm_id)
{
	pcref_link l = PCREF_LINK_INIT;
	l.referral_id = referral_id;
	l.crm_id = crm_id;
	return l;
}

static void put(pcref_store *store, const char *referral_id, const char *crm_id)
{
	pcref_link l = mklink(referral_id, crm_id);
	int rc = pcref_store_link_put(store, &l);
	ck_assert_msg(rc == PCREF_OK, "link_put: %s", pcref_error_last()->message);
}

typedef struct text {
	char buf[4096];
	int calls;
	int stop_after; /* non-zero: return 7 at that call */
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text *t, const char *fmt, ...)
{
	size_t len = strlen(t->buf);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->buf + len, sizeof(t->buf) - len, fmt, ap);
	va_end(ap);
}

#define S(x) ((x) ? (x) : "-")

static int link_ids(const pcref_link *l, void *payload)
{
	text *t = payload;
	ck_assert_uint_eq(l->version, PCREF_LINK_VERSION);
	add(t, "%s%s/%s", t->calls++ ? "," : "", S(l->referral_id), S(l->crm_id));
	return t->stop_after && t->calls == t->stop_after ? 7 : 0;
}

static int link_all(const pcref_link *l, void *payload)
{
	text *t = payload;
	add(t, "%s/%s base=%s etag=%s ver=%s started=%lld synced=%lld code=%d msg=%s flags=%u;",
	    S(l->referral_id), S(l->crm_id), S(l->base), S(l->referral_etag), S(l->crm_version),
	    (long long)l->started_ms, (long long)l->synced_ms, l->last_code, S(l->last_message),
	    (unsigned)l->flags);
	t->calls++;
	return 0;
}

static int retry_all(const pcref_retry *r, void *payload)
{
	text *t = payload;
	ck_assert_uint_eq(r->version, PCREF_RETRY_VERSION);
	add(t, "%s%s/%s@%lld", t->calls++ ? "," : "", r->side == PCREF_SIDE_CRM ? "crm" : "pc", r->id,
	    (long long)r->next_ms);
	if (r->attempts || r->last_code || r->last_message)
		add(t, "(%u,%d,%s)", r->attempts, r->last_code, S(r->last_message));
	return 0;
}

/* "rid/crm,..." of every link, in the store's order. */
static const char *links_of(pcref_store *store, text *t)
{
	memset(t, 0, sizeof(*t));
	ck_assert_int_eq(pcref_store_link_list(store, link_ids, t), PCREF_OK);
	return t->buf;
}

static const char *retries_of(pcref_store *store, int64_t due, text *t)
{
	memset(t, 0, sizeof(*t));
	ck_assert_int_eq(pcref_store_retry_list(store, due, retry_all, t), PCREF_OK);
	return t->buf;
}

/* One link, every field, or "" when there is none. */
static const char *link_of(pcref_store *store, const char *referral_id, const char *crm_id, text *t)
{
	int rc;
	memset(t, 0, sizeof(*t));
	rc = pcref_store_link_get(store, referral_id, crm_id, link_all, t);
	ck_assert_msg(rc == PCREF_OK || rc == PCREF_ENOTFOUND, "link_get: %s", pcref_error_last()->message);
	return t->buf;
}

static int64_t watermark(pcref_store *store, const char *name)
{
	int64_t ms = 42;
	ck_assert_int_eq(pcref_store_watermark_get(store, name, &ms), PCREF_OK);
	return ms;
}

/* Everything but the deliveries, as text. */
static void dump(pcref_store *store, text *out)
{
	text links, retries;
	memset(out, 0, sizeof(*out));
	memset(&links, 0, sizeof(links));
	ck_assert_int_eq(pcref_store_link_list(store, link_all, &links), PCREF_OK);
	add(out, "links: %s\nretries: %s\n", links.buf, retries_of(store, PCREF_TIME_NONE, &retries));
	add(out, "watermarks: pc=%lld crm=%lld\n", (long long)watermark(store, "pc"),
	    (long long)watermark(store, "crm"));
}

/* A state with something in every table. */
static void seed(pcref_store *store)
{
	pcref_link l = mklink("r1", "c1");
	pcref_retry r = PCREF_RETRY_INIT;
	l.base = "{\"name\":\"Contoso\"}";
	l.referral_etag = "W/\"1\"";
	l.crm_version = "7";
	l.synced_ms = 1000;
	ck_assert_int_eq(pcref_store_link_put(store, &l), PCREF_OK);
	put(store, "r2", "c2");
	ck_assert_int_eq(pcref_store_watermark_set(store, "pc", 10), PCREF_OK);
	r.side = PCREF_SIDE_PARTNER_CENTER;
	r.id = "a";
	r.next_ms = 100;
	ck_assert_int_eq(pcref_store_retry_put(store, &r), PCREF_OK);
	ck_assert_int_eq(pcref_store_delivery_record(store, "d1", 100), PCREF_OK);
	ck_assert_int_eq(pcref_store_delivery_record(store, "d2", 50), PCREF_OK);
}

/* A write to every table, each of a different kind. */
static void change_everything(pcref_store *store)
{
	pcref_link l = mklink("r1", "c9");
	pcref_retry r = PCREF_RETRY_INIT;
	text t;
	put(store, "r3", "c3");
	l.base = "{}";
	ck_assert_int_eq(pcref_store_link_put(store, &l), PCREF_OK);              /* replace */
	ck_assert_int_eq(pcref_store_link_delete(store, "r2", NULL), PCREF_OK);   /* delete */
	ck_assert_int_eq(pcref_store_watermark_set(store, "pc", 20), PCREF_OK);   /* update */
	ck_assert_int_eq(pcref_store_watermark_set(store, "crm", 5), PCREF_OK);   /* insert */
	r.side = PCREF_SIDE_CRM;
	r.id = "b";
	r.next_ms = 50;
	ck_assert_int_eq(pcref_store_retry_put(store, &r), PCREF_OK);
	r.side = PCREF_SIDE_PARTNER_CENTER;
	r.id = "a";
	r.attempts = 5;
	r.next_ms = 500;
	ck_assert_int_eq(pcref_store_retry_put(store, &r), PCREF_OK);
	ck_assert_int_eq(pcref_store_delivery_record(store, "d3", 300), PCREF_OK);
	ck_assert_int_eq(pcref_store_delivery_prune(store, 75), PCREF_OK);        /* drops d2 */
	/* reads see the transaction's own writes */
	ck_assert_str_eq(links_of(store, &t), "r1/c9,r3/c3");
	ck_assert_int_eq(watermark(store, "pc"), 20);
	ck_assert_str_eq(retries_of(store, PCREF_TIME_NONE, &t), "crm/b@50,pc/a@500(5,0,-)");
	ck_assert_int_eq(pcref_store_delivery_record(store, "d3", 1), PCREF_EEXISTS);
	ck_assert_int_eq(pcref_store_delivery_record(store, "d2", 50), PCREF_OK);
	ck_assert_int_eq(pcref_store_delivery_prune(store, 75), PCREF_OK);
}

/* ---- behaviour, every store -------------------------------------------------------- */

START_TEST(link_put_get_by_either_id)
{
	pcref_store *store = open_kind(_i);
	pcref_link l = mklink("r1", "c1");
	const char *want = "r1/c1 base={\"dealValue\":10} etag=W/\"abc\" ver=12 started=-5 synced=1700000000123 "
	                   "code=-16 msg=disk full flags=1;";
	text t;
	l.base = "{\"dealValue\":10}";
	l.referral_etag = "W/\"abc\"";
	l.crm_version = "12";
	l.started_ms = -5;
	l.synced_ms = 1700000000123LL;
	l.last_code = PCREF_ESTORE;
	l.last_message = "disk full";
	l.flags = PCREF_LINK_LEAD;
	ck_assert_int_eq(pcref_store_link_put(store, &l), PCREF_OK);
	ck_assert_str_eq(link_of(store, "r1", NULL, &t), want);
	ck_assert_str_eq(link_of(store, NULL, "c1", &t), want);
	ck_assert_str_eq(link_of(store, "r1", "ignored when the referral id is given", &t), want);
	/* unset fields come back unset */
	put(store, "r2", NULL);
	ck_assert_str_eq(link_of(store, "r2", NULL, &t),
	                 "r2/- base=- etag=- ver=- started=-9223372036854775808 synced=-9223372036854775808 "
	                 "code=0 msg=- flags=0;");
	tu_assert_error(pcref_store_link_get(store, "r9", NULL, link_all, &t), PCREF_ENOTFOUND, "'r9'");
	tu_assert_error(pcref_store_link_get(store, NULL, "c9", link_all, &t), PCREF_ENOTFOUND, "'c9'");
	/* a CRM id is not a referral id */
	ck_assert_int_eq(pcref_store_link_get(store, "c1", NULL, link_all, &t), PCREF_ENOTFOUND);
	close_kind(store);
}
END_TEST

START_TEST(link_get_returns_the_callbacks_value)
{
	pcref_store *store = open_kind(_i);
	text t = { .stop_after = 1 };
	put(store, "r1", "c1");
	ck_assert_int_eq(pcref_store_link_get(store, "r1", NULL, link_ids, &t), 7);
	ck_assert_int_eq(t.calls, 1);
	close_kind(store);
}
END_TEST

START_TEST(pending_link_is_completed_by_a_put_with_both_ids)
{
	pcref_store *store = open_kind(_i);
	pcref_link pending = mklink(NULL, "c1");
	text t;
	pending.flags = PCREF_LINK_PENDING;
	pending.started_ms = 500;
	ck_assert_int_eq(pcref_store_link_put(store, &pending), PCREF_OK);
	pending = mklink("r2", NULL);
	pending.flags = PCREF_LINK_PENDING;
	ck_assert_int_eq(pcref_store_link_put(store, &pending), PCREF_OK);
	ck_assert_str_eq(links_of(store, &t), "-/c1,r2/-");
	ck_assert_ptr_nonnull(strstr(link_of(store, NULL, "c1", &t), "started=500 "));
	ck_assert_ptr_nonnull(strstr(link_of(store, NULL, "c1", &t), "flags=2;"));
	put(store, "r1", "c1"); /* the CRM → Partner Center create finished */
	put(store, "r2", "c2"); /* and the other way round */
	ck_assert_str_eq(links_of(store, &t), "r1/c1,r2/c2");
	ck_assert_ptr_nonnull(strstr(link_of(store, NULL, "c1", &t), "flags=0;"));
	ck_assert_ptr_nonnull(strstr(link_of(store, "r2", NULL, &t), "flags=0;"));
	close_kind(store);
}
END_TEST

START_TEST(link_put_replaces_links_sharing_an_id)
{
	pcref_store *store = open_kind(_i);
	pcref_link l = mklink("r1", "c1");
	text t;
	l.crm_version = "1";
	ck_assert_int_eq(pcref_store_link_put(store, &l), PCREF_OK);
	l.crm_version = "2";
	ck_assert_int_eq(pcref_store_link_put(store, &l), PCREF_OK);
	ck_assert_ptr_nonnull(strstr(link_of(store, "r1", NULL, &t), "ver=2 "));
	put(store, "r2", "c2");
	/* one id of each: both old links go */
	put(store, "r1", "c2");
	ck_assert_str_eq(links_of(store, &t), "r1/c2");
	ck_assert_int_eq(pcref_store_link_get(store, NULL, "c1", link_all, &t), PCREF_ENOTFOUND);
	ck_assert_int_eq(pcref_store_link_get(store, "r2", NULL, link_all, &t), PCREF_ENOTFOUND);
	/* the CRM record was recreated under a new id */
	put(store, "r1", "c3");
	ck_assert_str_eq(links_of(store, &t), "r1/c3");
	close_kind(store);
}
END_TEST

START_TEST(link_delete_by_either_id)
{
	pcref_store *store = open_kind(_i);
	text t;
	put(store, "r1", "c1");
	put(store, "r2", "c2");
	put(store, "r3", "c3");
	ck_assert_int_eq(pcref_store_link_delete(store, "r1", NULL), PCREF_OK);
	ck_assert_int_eq(pcref_store_link_delete(store, NULL, "c2"), PCREF_OK);
	ck_assert_str_eq(links_of(store, &t), "r3/c3");
	tu_assert_error(pcref_store_link_delete(store, "r1", NULL), PCREF_ENOTFOUND, "'r1'");
	tu_assert_error(pcref_store_link_delete(store, NULL, "c2"), PCREF_ENOTFOUND, "'c2'");
	/* by referral id when it is given, not by the CRM id */
	ck_assert_int_eq(pcref_store_link_delete(store, "r9", "c3"), PCREF_ENOTFOUND);
	ck_assert_str_eq(links_of(store, &t), "r3/c3");
	close_kind(store);
}
END_TEST

START_TEST(link_list_order_and_stop)
{
	pcref_store *store = open_kind(_i);
	text t = { .stop_after = 2 };
	put(store, "r3", "c1");
	put(store, NULL, "c9");
	put(store, "r1", "c7");
	put(store, NULL, "c2");
	put(store, "r2", NULL);
	put(store, "R0", "c5"); /* byte-wise: upper case first */
	put(store, "r10", "c4");
	ck_assert_str_eq(links_of(store, &t), "-/c2,-/c9,R0/c5,r1/c7,r10/c4,r2/-,r3/c1");
	ck_assert_int_eq(t.calls, 7);
	memset(&t, 0, sizeof(t));
	t.stop_after = 2;
	ck_assert_int_eq(pcref_store_link_list(store, link_ids, &t), 7);
	ck_assert_int_eq(t.calls, 2);
	ck_assert_str_eq(t.buf, "-/c2,-/c9");
	close_kind(store);
}
END_TEST

START_TEST(watermarks_unset_then_set)
{
	pcref_store *store = open_kind(_i);
	ck_assert_int_eq(watermark(store, "partnercenter"), PCREF_TIME_NONE);
	ck_assert_int_eq(pcref_store_watermark_set(store, "partnercenter", 1700000000000LL), PCREF_OK);
	ck_assert_int_eq(pcref_store_watermark_set(store, "crm", -1), PCREF_OK);
	ck_assert_int_eq(watermark(store, "partnercenter"), 1700000000000LL);
	ck_assert_int_eq(pcref_store_watermark_set(store, "partnercenter", 1700000000500LL), PCREF_OK);
	ck_assert_int_eq(watermark(store, "partnercenter"), 1700000000500LL);
	ck_assert_int_eq(watermark(store, "crm"), -1);
	ck_assert_int_eq(watermark(store, "other"), PCREF_TIME_NONE);
	close_kind(store);
}
END_TEST

static void put_retry(pcref_store *store, int side, const char *id, int64_t next_ms)
{
	pcref_retry r = PCREF_RETRY_INIT;
	r.side = side;
	r.id = id;
	r.next_ms = next_ms;
	ck_assert_int_eq(pcref_store_retry_put(store, &r), PCREF_OK);
}

START_TEST(retry_queue_order_and_due)
{
	pcref_store *store = open_kind(_i);
	pcref_retry r = PCREF_RETRY_INIT;
	text t;
	put_retry(store, PCREF_SIDE_CRM, "b", 300);
	put_retry(store, PCREF_SIDE_PARTNER_CENTER, "a", 100);
	put_retry(store, PCREF_SIDE_PARTNER_CENTER, "c", 300);
	put_retry(store, PCREF_SIDE_CRM, "a", 200);
	put_retry(store, PCREF_SIDE_PARTNER_CENTER, "b", 300);
	ck_assert_str_eq(retries_of(store, PCREF_TIME_NONE, &t),
	                 "pc/a@100,crm/a@200,pc/b@300,pc/c@300,crm/b@300");
	ck_assert_str_eq(retries_of(store, 200, &t), "pc/a@100,crm/a@200");
	ck_assert_str_eq(retries_of(store, 199, &t), "pc/a@100");
	ck_assert_str_eq(retries_of(store, 99, &t), "");
	/* the same side and id: replaced, every field */
	r.side = PCREF_SIDE_PARTNER_CENTER;
	r.id = "a";
	r.attempts = 3;
	r.next_ms = 400;
	r.last_code = PCREF_ETHROTTLED;
	r.last_message = "429 from Partner Center";
	ck_assert_int_eq(pcref_store_retry_put(store, &r), PCREF_OK);
	ck_assert_str_eq(retries_of(store, PCREF_TIME_NONE, &t),
	                 "crm/a@200,pc/b@300,pc/c@300,crm/b@300,pc/a@400(3,-8,429 from Partner Center)");
	/* the same id on the other side is another item */
	ck_assert_int_eq(pcref_store_retry_delete(store, PCREF_SIDE_CRM, "a"), PCREF_OK);
	ck_assert_int_eq(pcref_store_retry_delete(store, PCREF_SIDE_CRM, "a"), PCREF_OK);
	ck_assert_int_eq(pcref_store_retry_delete(store, PCREF_SIDE_CRM, "nothing"), PCREF_OK);
	ck_assert_str_eq(retries_of(store, 400, &t),
	                 "pc/b@300,pc/c@300,crm/b@300,pc/a@400(3,-8,429 from Partner Center)");
	close_kind(store);
}
END_TEST

START_TEST(delivery_recorded_once)
{
	pcref_store *store = open_kind(_i);
	ck_assert_int_eq(pcref_store_delivery_record(store, "evt-1", 1000), PCREF_OK);
	tu_assert_error(pcref_store_delivery_record(store, "evt-1", 2000), PCREF_EEXISTS, "evt-1");
	ck_assert_int_eq(pcref_store_delivery_record(store, "evt-2", 1000), PCREF_OK);
	/* the second record changed nothing: a prune between the two times drops it */
	ck_assert_int_eq(pcref_store_delivery_prune(store, 1500), PCREF_OK);
	ck_assert_int_eq(pcref_store_delivery_record(store, "evt-1", 3000), PCREF_OK);
	close_kind(store);
}
END_TEST

START_TEST(delivery_prune_forgets_older_only)
{
	pcref_store *store = open_kind(_i);
	ck_assert_int_eq(pcref_store_delivery_record(store, "k1", 100), PCREF_OK);
	ck_assert_int_eq(pcref_store_delivery_record(store, "k2", 200), PCREF_OK);
	ck_assert_int_eq(pcref_store_delivery_record(store, "k3", 300), PCREF_OK);
	ck_assert_int_eq(pcref_store_delivery_prune(store, 200), PCREF_OK);
	ck_assert_int_eq(pcref_store_delivery_record(store, "k2", 999), PCREF_EEXISTS);
	ck_assert_int_eq(pcref_store_delivery_record(store, "k3", 999), PCREF_EEXISTS);
	ck_assert_int_eq(pcref_store_delivery_record(store, "k1", 999), PCREF_OK);
	close_kind(store);
}
END_TEST

START_TEST(rollback_undoes_every_write)
{
	pcref_store *store = open_kind(_i);
	text before, after;
	seed(store);
	dump(store, &before);
	ck_assert_int_eq(pcref_store_begin(store), PCREF_OK);
	change_everything(store);
	ck_assert_int_eq(pcref_store_rollback(store), PCREF_OK);
	dump(store, &after);
	ck_assert_str_eq(after.buf, before.buf);
	ck_assert_int_eq(pcref_store_delivery_record(store, "d1", 1), PCREF_EEXISTS);
	ck_assert_int_eq(pcref_store_delivery_record(store, "d2", 1), PCREF_EEXISTS); /* the prune is undone */
	ck_assert_int_eq(pcref_store_delivery_record(store, "d3", 1), PCREF_OK);      /* the record is undone */
	close_kind(store);
}
END_TEST

START_TEST(commit_keeps_every_write)
{
	pcref_store *store = open_kind(_i);
	text t;
	seed(store);
	ck_assert_int_eq(pcref_store_begin(store), PCREF_OK);
	change_everything(store);
	ck_assert_int_eq(pcref_store_commit(store), PCREF_OK);
	dump(store, &t);
	ck_assert_str_eq(t.buf,
		"links: r1/c9 base={} etag=- ver=- started=-9223372036854775808 synced=-9223372036854775808 "
		"code=0 msg=- flags=0;r3/c3 base=- etag=- ver=- started=-9223372036854775808 "
		"synced=-9223372036854775808 code=0 msg=- flags=0;\n"
		"retries: crm/b@50,pc/a@500(5,0,-)\n"
		"watermarks: pc=20 crm=5\n");
	ck_assert_int_eq(pcref_store_delivery_record(store, "d2", 1), PCREF_OK);
	ck_assert_int_eq(pcref_store_delivery_record(store, "d3", 1), PCREF_EEXISTS);
	/* a second transaction, rolled back, leaves the first one's result */
	ck_assert_int_eq(pcref_store_begin(store), PCREF_OK);
	put(store, "r4", "c4");
	ck_assert_int_eq(pcref_store_rollback(store), PCREF_OK);
	ck_assert_str_eq(links_of(store, &t), "r1/c9,r3/c3");
	close_kind(store);
}
END_TEST

START_TEST(transactions_do_not_nest)
{
	pcref_store *store = open_kind(_i);
	text t;
	tu_assert_error(pcref_store_commit(store), PCREF_ESTATE, "no transaction");
	tu_assert_error(pcref_store_rollback(store), PCREF_ESTATE, "no transaction");
	ck_assert_int_eq(pcref_store_begin(store), PCREF_OK);
	put(store, "r1", "c1");
	tu_assert_error(pcref_store_begin(store), PCREF_ESTATE, "already open");
	/* the refused begin left the transaction as it was */
	ck_assert_int_eq(pcref_store_rollback(store), PCREF_OK);
	ck_assert_str_eq(links_of(store, &t), "");
	close_kind(store);
}
END_TEST

/* A callback that changes the store while it is listed. */
typedef struct rewriter {
	pcref_store *store;
	text seen;
} rewriter;

static int rewrite_links(const pcref_link *l, void *payload)
{
	rewriter *w = payload;
	add(&w->seen, "%s%s", w->seen.calls++ ? "," : "", l->referral_id);
	if (strcmp(l->referral_id, "r1") == 0) {
		ck_assert_int_eq(pcref_store_begin(w->store), PCREF_OK);
		ck_assert_int_eq(pcref_store_link_delete(w->store, "r1", NULL), PCREF_OK); /* itself */
		ck_assert_int_eq(pcref_store_link_delete(w->store, "r3", NULL), PCREF_OK); /* a later one */
		put(w->store, "r0", "c0");   /* a new one, sorting first */
		put(w->store, "r5", "c5");   /* a new one, sorting last */
		put(w->store, "r4", "c44");  /* a later one, replaced */
		ck_assert_int_eq(pcref_store_commit(w->store), PCREF_OK);
	}
	/* the link handed over is still readable after it was deleted */
	ck_assert_ptr_nonnull(l->crm_id);
	ck_assert_int_eq(l->crm_id[0], 'c');
	return 0;
}

static int requeue_retries(const pcref_retry *r, void *payload)
{
	rewriter *w = payload;
	add(&w->seen, "%s%s", w->seen.calls++ ? "," : "", r->id);
	if (strcmp(r->id, "a") == 0) {
		ck_assert_int_eq(pcref_store_retry_delete(w->store, PCREF_SIDE_CRM, "a"), PCREF_OK);
		put_retry(w->store, PCREF_SIDE_CRM, "b", 5000);   /* no longer due */
		put_retry(w->store, PCREF_SIDE_CRM, "c", 30);     /* changed, still due */
		put_retry(w->store, PCREF_SIDE_CRM, "new", 1);    /* not there when the listing began */
		ck_assert_int_eq(pcref_store_retry_delete(w->store, PCREF_SIDE_CRM, "d"), PCREF_OK);
	}
	ck_assert_int_eq(r->id[0] != '\0', 1);
	return 0;
}

START_TEST(callbacks_may_change_the_store)
{
	pcref_store *store = open_kind(_i);
	rewriter w = { store, { .calls = 0 } };
	text t;
	put(store, "r1", "c1");
	put(store, "r2", "c2");
	put(store, "r3", "c3");
	put(store, "r4", "c4");
	ck_assert_int_eq(pcref_store_link_list(store, rewrite_links, &w), PCREF_OK);
	ck_assert_str_eq(w.seen.buf, "r1,r2");
	ck_assert_str_eq(links_of(store, &t), "r0/c0,r2/c2,r4/c44,r5/c5");

	memset(&w.seen, 0, sizeof(w.seen));
	put_retry(store, PCREF_SIDE_CRM, "a", 10);
	put_retry(store, PCREF_SIDE_CRM, "b", 20);
	put_retry(store, PCREF_SIDE_CRM, "c", 25);
	put_retry(store, PCREF_SIDE_CRM, "d", 40);
	put_retry(store, PCREF_SIDE_CRM, "e", 50);
	ck_assert_int_eq(pcref_store_retry_list(store, 100, requeue_retries, &w), PCREF_OK);
	ck_assert_str_eq(w.seen.buf, "a,c,e");
	ck_assert_str_eq(retries_of(store, PCREF_TIME_NONE, &t), "crm/new@1,crm/c@30,crm/e@50,crm/b@5000");
	close_kind(store);
}
END_TEST

START_TEST(arguments_are_checked)
{
	pcref_store *store = open_kind(_i);
	pcref_link l = mklink(NULL, NULL);
	pcref_retry r = PCREF_RETRY_INIT;
	int64_t ms;
	text t;
	tu_assert_error(pcref_store_begin(NULL), PCREF_EINVALID, "store is NULL");
	tu_assert_error(pcref_store_link_put(NULL, &l), PCREF_EINVALID, "store is NULL");
	tu_assert_error(pcref_store_link_list(NULL, link_ids, &t), PCREF_EINVALID, "store is NULL");
	tu_assert_error(pcref_store_retry_list(NULL, 0, retry_all, &t), PCREF_EINVALID, "store is NULL");
	tu_assert_error(pcref_store_delivery_prune(NULL, 0), PCREF_EINVALID, "store is NULL");
	tu_assert_error(pcref_store_link_put(store, &l), PCREF_EINVALID, "referral id or a CRM id");
	tu_assert_error(pcref_store_link_put(store, NULL), PCREF_EINVALID, "link is NULL");
	tu_assert_error(pcref_store_link_get(store, NULL, NULL, link_all, &t), PCREF_EINVALID, "referral id");
	tu_assert_error(pcref_store_link_get(store, "r1", NULL, NULL, &t), PCREF_EINVALID, "cb is NULL");
	tu_assert_error(pcref_store_link_delete(store, NULL, NULL), PCREF_EINVALID, "referral id");
	tu_assert_error(pcref_store_link_list(store, NULL, &t), PCREF_EINVALID, "cb is NULL");
	l.referral_id = "r1";
	l.version = PCREF_LINK_VERSION + 1;
	tu_assert_error(pcref_store_link_put(store, &l), PCREF_EVERSION, "version 2");
	l.version = 0;
	tu_assert_error(pcref_store_link_put(store, &l), PCREF_EVERSION, "version 0");
	tu_assert_error(pcref_store_watermark_get(store, NULL, &ms), PCREF_EINVALID, "name");
	tu_assert_error(pcref_store_watermark_get(store, "pc", NULL), PCREF_EINVALID, "ms");
	tu_assert_error(pcref_store_watermark_set(store, NULL, 1), PCREF_EINVALID, "name is NULL");
	r.id = "a";
	tu_assert_error(pcref_store_retry_put(store, &r), PCREF_EINVALID, "side");
	r.side = PCREF_SIDE_CRM;
	r.id = NULL;
	tu_assert_error(pcref_store_retry_put(store, &r), PCREF_EINVALID, "an id");
	r.id = "a";
	r.version = 9;
	tu_assert_error(pcref_store_retry_put(store, &r), PCREF_EVERSION, "version 9");
	tu_assert_error(pcref_store_retry_delete(store, 3, "a"), PCREF_EINVALID, "not 3");
	tu_assert_error(pcref_store_retry_list(store, 0, NULL, &t), PCREF_EINVALID, "cb is NULL");
	tu_assert_error(pcref_store_delivery_record(store, NULL, 1), PCREF_EINVALID, "key is NULL");
	/* nothing refused was written */
	ck_assert_str_eq(links_of(store, &t), "");
	ck_assert_str_eq(retries_of(store, PCREF_TIME_NONE, &t), "");
	ck_assert_ptr_null(pcref_store_name(NULL));
	pcref_store_free(NULL);
	close_kind(store);
}
END_TEST

START_TEST(free_rolls_back_an_open_transaction)
{
	pcref_store *store = open_kind(_i);
	text t;
	put(store, "r1", "c1");
	ck_assert_int_eq(pcref_store_begin(store), PCREF_OK);
	put(store, "r2", "c2");
	ck_assert_int_eq(pcref_store_delivery_record(store, "d", 1), PCREF_OK);
	pcref_store_free(store); /* nothing leaks (valgrind), the write is gone (SQLite) */
	if (strcmp(kinds[_i].name, "sqlite") == 0) {
		store = open_sqlite();
		ck_assert_str_eq(links_of(store, &t), "r1/c1");
		pcref_store_free(store);
	}
	forget_files();
}
END_TEST

/* ---- the handle and the vtable -------------------------------------------------------- */

typedef struct fake {
	int destroyed, rolled_back;
	char log[256];
} fake;

static fake the_fake;

static void f_destroy(void *p) { ((fake *)p)->destroyed++; strcat(((fake *)p)->log, "destroy;"); }
static int f_begin(void *p) { (void)p; return PCREF_OK; }
static int f_commit(void *p) { (void)p; return PCREF_OK; }
static int f_rollback(void *p) { ((fake *)p)->rolled_back++; strcat(((fake *)p)->log, "rollback;"); return PCREF_OK; }
static int f_link_get(const char *r, const char *c, pcref_link_cb cb, void *cbp, void *p)
{
	pcref_link l = mklink(r, c);
	(void)p;
	return cb(&l, cbp);
}
static int f_link_put(const pcref_link *l, void *p) { (void)l; (void)p; return PCREF_ESTORE; /* silently */ }
static int f_link_delete(const char *r, const char *c, void *p) { (void)r; (void)c; (void)p; return PCREF_OK; }
static int f_link_list(pcref_link_cb cb, void *cbp, void *p) { (void)cb; (void)cbp; (void)p; return PCREF_OK; }
static int f_wm_get(const char *n, int64_t *ms, void *p) { (void)n; (void)p; *ms = 1; return PCREF_OK; }
static int f_wm_set(const char *n, int64_t ms, void *p) { (void)n; (void)ms; (void)p; return PCREF_OK; }
static int f_retry_put(const pcref_retry *r, void *p) { (void)r; (void)p; return PCREF_OK; }
static int f_retry_delete(int s, const char *id, void *p) { (void)s; (void)id; (void)p; return PCREF_OK; }
static int f_retry_list(int64_t d, pcref_retry_cb cb, void *cbp, void *p) { (void)d; (void)cb; (void)cbp; (void)p; return PCREF_OK; }
static int f_record(const char *k, int64_t ms, void *p) { (void)k; (void)ms; (void)p; return PCREF_OK; }
static int f_prune(int64_t ms, void *p) { (void)ms; (void)p; return PCREF_OK; }

static pcref_store_backend fake_backend(void)
{
	pcref_store_backend b;
	memset(&the_fake, 0, sizeof(the_fake));
	ck_assert_int_eq(pcref_store_backend_init(&b, PCREF_STORE_BACKEND_VERSION), PCREF_OK);
	b.name = "fake";
	b.payload = &the_fake;
	b.destroy = f_destroy;
	b.begin = f_begin;
	b.commit = f_commit;
	b.rollback = f_rollback;
	b.link_get = f_link_get;
	b.link_put = f_link_put;
	b.link_delete = f_link_delete;
	b.link_list = f_link_list;
	b.watermark_get = f_wm_get;
	b.watermark_set = f_wm_set;
	b.retry_put = f_retry_put;
	b.retry_delete = f_retry_delete;
	b.retry_list = f_retry_list;
	b.delivery_record = f_record;
	b.delivery_prune = f_prune;
	return b;
}

#define MEMBER(m) { #m, offsetof(pcref_store_backend, m) }
static const struct { const char *name; size_t offset; } members[] = {
	MEMBER(destroy), MEMBER(begin), MEMBER(commit), MEMBER(rollback), MEMBER(link_get),
	MEMBER(link_put), MEMBER(link_delete), MEMBER(link_list), MEMBER(watermark_get),
	MEMBER(watermark_set), MEMBER(retry_put), MEMBER(retry_delete), MEMBER(retry_list),
	MEMBER(delivery_record), MEMBER(delivery_prune),
};

START_TEST(custom_store_with_a_missing_member_is_rejected)
{
	pcref_store_backend b = fake_backend();
	pcref_store *store = (pcref_store *)&b; /* must stay untouched */
	void (*none)(void) = NULL;
	memcpy((char *)&b + members[_i].offset, &none, sizeof(none));
	tu_assert_error(pcref_store_new(&store, &b), PCREF_EINVALID, members[_i].name);
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "'fake'"));
	ck_assert_ptr_eq(store, (pcref_store *)&b);
	ck_assert_int_eq(the_fake.destroyed, 0);
}
END_TEST

START_TEST(custom_store_of_unknown_version_is_rejected)
{
	pcref_store_backend b = fake_backend();
	pcref_store *store = NULL;
	b.version = PCREF_STORE_BACKEND_VERSION + 1;
	tu_assert_error(pcref_store_new(&store, &b), PCREF_EVERSION, "version 2");
	b.version = 0;
	tu_assert_error(pcref_store_new(&store, &b), PCREF_EVERSION, "version 0");
	ck_assert_ptr_null(store);
	ck_assert_int_eq(the_fake.destroyed, 0);
	tu_assert_error(pcref_store_new(&store, NULL), PCREF_EINVALID, "NULL");
}
END_TEST

START_TEST(custom_store_is_copied_and_forwarded)
{
	pcref_store_backend b = fake_backend();
	pcref_store *store;
	pcref_link l = mklink("r1", NULL);
	text t = { .stop_after = 1 };
	int64_t ms = 0;
	ck_assert_int_eq(pcref_store_new(&store, &b), PCREF_OK);
	memset(&b, 0, sizeof(b)); /* copied: the caller's struct may go */
	ck_assert_str_eq(pcref_store_name(store), "fake");
	ck_assert_int_eq(pcref_store_watermark_get(store, "x", &ms), PCREF_OK);
	ck_assert_int_eq(ms, 1);
	/* a callback's stop value passes through */
	ck_assert_int_eq(pcref_store_link_get(store, "r1", NULL, link_ids, &t), 7);
	ck_assert_str_eq(t.buf, "r1/-");
	/* a silent failure gets a message naming the store and the member */
	tu_assert_error(pcref_store_link_put(store, &l), PCREF_ESTORE, "'fake' state store failed in link_put");
	pcref_store_free(store);
	ck_assert_int_eq(the_fake.destroyed, 1);
	ck_assert_int_eq(the_fake.rolled_back, 0);
}
END_TEST

START_TEST(references_keep_the_store_alive)
{
	pcref_store_backend b = fake_backend();
	pcref_store *store;
	ck_assert_int_eq(pcref_store_new(&store, &b), PCREF_OK);
	ck_assert_ptr_eq(pcref__store_ref(store), store);
	ck_assert_ptr_eq(pcref__store_ref(store), store);
	ck_assert_ptr_null(pcref__store_ref(NULL));
	ck_assert_int_eq(pcref_store_begin(store), PCREF_OK);
	pcref_store_free(store);
	pcref_store_free(store);
	ck_assert_int_eq(the_fake.destroyed, 0);
	ck_assert_int_eq(pcref_store_commit(store), PCREF_OK); /* still usable */
	ck_assert_int_eq(pcref_store_begin(store), PCREF_OK);
	pcref_store_free(store);
	/* the last reference rolls the open transaction back, then destroys */
	ck_assert_str_eq(the_fake.log, "rollback;destroy;");
}
END_TEST

START_TEST(init_functions_match_the_initialisers)
{
	pcref_link l, li = PCREF_LINK_INIT;
	pcref_retry r, ri = PCREF_RETRY_INIT;
	pcref_store_backend b;
	memset(&l, 0xa5, sizeof(l));
	memset(&r, 0xa5, sizeof(r));
	memset(&b, 0xa5, sizeof(b));
	ck_assert_int_eq(pcref_link_init(&l, PCREF_LINK_VERSION), PCREF_OK);
	ck_assert_int_eq(pcref_retry_init(&r, PCREF_RETRY_VERSION), PCREF_OK);
	ck_assert_int_eq(pcref_store_backend_init(&b, PCREF_STORE_BACKEND_VERSION), PCREF_OK);
	ck_assert_uint_eq(l.version, li.version);
	ck_assert_ptr_null(l.referral_id);
	ck_assert_ptr_null(l.last_message);
	ck_assert_int_eq(l.started_ms, li.started_ms);
	ck_assert_int_eq(l.synced_ms, li.synced_ms);
	ck_assert_int_eq(l.last_code, 0);
	ck_assert_uint_eq(l.flags, 0);
	ck_assert_uint_eq(r.version, ri.version);
	ck_assert_int_eq(r.next_ms, ri.next_ms);
	ck_assert_ptr_null(r.id);
	ck_assert_int_eq(r.side, 0);
	ck_assert_uint_eq(b.version, PCREF_STORE_BACKEND_VERSION);
	ck_assert_ptr_null(b.payload);
	ck_assert(b.delivery_prune == NULL && b.destroy == NULL);
	tu_assert_error(pcref_link_init(&l, PCREF_LINK_VERSION + 1), PCREF_EVERSION, "pcref_link version 2");
	tu_assert_error(pcref_retry_init(&r, 0), PCREF_EVERSION, "pcref_retry version 0");
	tu_assert_error(pcref_store_backend_init(&b, 2), PCREF_EVERSION, "pcref_store_backend version 2");
	tu_assert_error(pcref_link_init(NULL, 1), PCREF_EINVALID, "NULL");
	tu_assert_error(pcref_retry_init(NULL, 1), PCREF_EINVALID, "NULL");
	tu_assert_error(pcref_store_backend_init(NULL, 1), PCREF_EINVALID, "NULL");
}
END_TEST

/* ---- SQLite only ------------------------------------------------------------------------- */

/* Run SQL on the file directly (as another program would). */
static void sql(const char *path, const char *statements)
{
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, statements, NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
}

static int sql_int(const char *path, const char *query)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v;
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, query, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

START_TEST(sqlite_state_survives_reopening)
{
	pcref_store *store;
	text before, after;
	make_dir();
	store = open_sqlite();
	seed(store);
	dump(store, &before);
	pcref_store_free(store);
	store = open_sqlite();
	dump(store, &after);
	ck_assert_str_eq(after.buf, before.buf);
	ck_assert_ptr_nonnull(strstr(after.buf, "r1/c1 base={\"name\":\"Contoso\"}"));
	ck_assert_int_eq(pcref_store_delivery_record(store, "d1", 1), PCREF_EEXISTS);
	close_kind(store);
}
END_TEST

/* A child process opens the file, writes in a transaction and dies with
 * _exit() — committing first when `commit`. It tells the parent over a pipe
 * that every write succeeded. */
static void child_writes_and_dies(int commit)
{
	int fds[2];
	char ok = 0;
	pid_t pid;
	int status;
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		pcref_store *store = NULL;
		pcref_link l = mklink("r2", "c2");
		int64_t ms = 0;
		close(fds[0]);
		if (pcref_store_sqlite_open(&store, db_path, 0) == PCREF_OK && pcref_store_begin(store) == PCREF_OK &&
		    pcref_store_link_put(store, &l) == PCREF_OK && pcref_store_link_delete(store, "r1", NULL) == PCREF_OK &&
		    pcref_store_watermark_set(store, "pc", 99) == PCREF_OK &&
		    pcref_store_watermark_get(store, "pc", &ms) == PCREF_OK && ms == 99 &&
		    (!commit || pcref_store_commit(store) == PCREF_OK))
			ok = 1;
		if (write(fds[1], &ok, 1) != 1)
			_exit(2);
		_exit(0); /* no free, no commit: as if killed */
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &ok, 1), 1);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(ok == 1, "the child's writes failed");
}

START_TEST(sqlite_process_killed_in_a_transaction_leaves_the_previous_state)
{
	pcref_store *store;
	text t;
	make_dir();
	store = open_sqlite();
	put(store, "r1", "c1");
	ck_assert_int_eq(pcref_store_watermark_set(store, "pc", 10), PCREF_OK);
	pcref_store_free(store); /* SQLite connections must not cross fork() */

	child_writes_and_dies(0);
	store = open_sqlite();
	ck_assert_str_eq(links_of(store, &t), "r1/c1");
	ck_assert_int_eq(watermark(store, "pc"), 10);
	put(store, "r3", "c3"); /* the dead child holds no lock */
	pcref_store_free(store);

	child_writes_and_dies(1); /* and a child that committed is seen */
	store = open_sqlite();
	ck_assert_str_eq(links_of(store, &t), "r2/c2,r3/c3");
	ck_assert_int_eq(watermark(store, "pc"), 99);
	close_kind(store);
}
END_TEST

START_TEST(sqlite_file_from_a_newer_libpcref_is_refused_untouched)
{
	pcref_store *store = NULL;
	size_t len_before, len_after;
	char *before, *after;
	make_dir();
	sql(db_path, "PRAGMA journal_mode = WAL; CREATE TABLE links (x); CREATE TABLE future (y);"
	             "INSERT INTO future VALUES ('v99 data'); PRAGMA user_version = 99;");
	before = tu_read_file(db_path, &len_before);
	tu_assert_error(pcref_store_sqlite_open(&store, db_path, 0), PCREF_EVERSION, "schema version 99");
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, db_path));
	ck_assert_ptr_null(store);
	after = tu_read_file(db_path, &len_after);
	ck_assert_uint_eq(len_after, len_before);
	ck_assert_msg(memcmp(before, after, len_before) == 0, "the file was changed");
	ck_assert_int_eq(sql_int(db_path, "PRAGMA user_version"), 99);
	free(before);
	free(after);
	forget_files();
}
END_TEST

START_TEST(sqlite_non_database_is_refused_with_its_name)
{
	pcref_store *store = NULL;
	static const char junk[] = "referral_id,crm_id\nr1,c1\n"
	                           "this is a CSV export, not a database, and it is long enough to have a header";
	size_t len;
	char *after;
	FILE *f;
	make_dir();
	f = fopen(db_path, "wb");
	ck_assert_ptr_nonnull(f);
	fwrite(junk, 1, sizeof(junk) - 1, f);
	fclose(f);
	tu_assert_error(pcref_store_sqlite_open(&store, db_path, 0), PCREF_ESTORE, db_path);
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "not a database"));
	ck_assert_ptr_null(store);
	after = tu_read_file(db_path, &len);
	ck_assert_uint_eq(len, sizeof(junk) - 1);
	ck_assert_int_eq(memcmp(after, junk, len), 0);
	free(after);
	forget_files();
}
END_TEST

START_TEST(sqlite_database_of_something_else_is_refused)
{
	pcref_store *store = NULL;
	make_dir();
	sql(db_path, "CREATE TABLE customers (name TEXT); INSERT INTO customers VALUES ('Contoso');");
	tu_assert_error(pcref_store_sqlite_open(&store, db_path, 0), PCREF_ESTORE, "'customers'");
	ck_assert_int_eq(sql_int(db_path, "SELECT count(*) FROM sqlite_schema"), 1);
	ck_assert_int_eq(sql_int(db_path, "PRAGMA user_version"), 0);
	forget_files();
}
END_TEST

START_TEST(sqlite_file_is_wal_and_versioned)
{
	pcref_store *store;
	sqlite3 *db;
	sqlite3_stmt *st;
	make_dir();
	sql(db_path, "PRAGMA user_version = 0;"); /* an empty database of version 0: migrated */
	store = open_sqlite();
	put(store, "r1", "c1");
	/* while it is open, as another process sees it */
	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
	ck_assert_int_eq(access(db_path, F_OK), 0);
	{
		char wal[600];
		snprintf(wal, sizeof(wal), "%s-wal", db_path);
		ck_assert_int_eq(access(wal, F_OK), 0);
	}
	pcref_store_free(store);
	ck_assert_int_eq(sql_int(db_path, "PRAGMA user_version"), 1);
	ck_assert_int_eq(sql_int(db_path, "SELECT count(*) FROM links"), 1);
	/* reopening a current file migrates nothing and keeps the data */
	store = open_sqlite();
	ck_assert_int_eq(sql_int(db_path, "PRAGMA user_version"), 1);
	close_kind(store);
}
END_TEST

START_TEST(sqlite_second_writer_waits_then_fails)
{
	pcref_store *first, *second;
	struct timespec t0, t1;
	double waited;
	make_dir();
	first = open_sqlite();
	second = open_sqlite();
	ck_assert_int_eq(pcref_store_begin(first), PCREF_OK);
	put(first, "r1", "c1");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tu_assert_error(pcref_store_begin(second), PCREF_ESTORE, "one pcref-sync per state file");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(waited > 4.5, "gave up after %.1f s", waited);
	ck_assert_int_eq(pcref_store_commit(first), PCREF_OK);
	ck_assert_int_eq(pcref_store_begin(second), PCREF_OK);
	ck_assert_int_eq(pcref_store_commit(second), PCREF_OK);
	pcref_store_free(second);
	close_kind(first);
}
END_TEST

START_TEST(sqlite_open_checks_its_arguments)
{
	pcref_store *store = NULL;
	text t;
	tu_assert_error(pcref_store_sqlite_open(&store, "/nonexistent-pcref-dir/state.db", 0), PCREF_ESTORE,
	                "/nonexistent-pcref-dir/state.db");
	ck_assert_ptr_nonnull(strstr(pcref_error_last()->message, "writable"));
	tu_assert_error(pcref_store_sqlite_open(&store, ":memory:", 1), PCREF_EINVALID, "flags");
	tu_assert_error(pcref_store_sqlite_open(&store, NULL, 0), PCREF_EINVALID, "path");
	tu_assert_error(pcref_store_sqlite_open(NULL, ":memory:", 0), PCREF_EINVALID, "out");
	ck_assert_ptr_null(store);
	ck_assert_int_eq(pcref_store_sqlite_open(&store, ":memory:", 0), PCREF_OK);
	put(store, "r1", "c1");
	ck_assert_str_eq(links_of(store, &t), "r1/c1");
	pcref_store_free(store);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	int nkinds = (int)(sizeof(kinds) / sizeof(*kinds));
	TCase *tc = tu_tcase(s, "behaviour");
	/* each test runs once per store: _i indexes kinds[] */
	tcase_add_loop_test(tc, link_put_get_by_either_id, 0, nkinds);
	tcase_add_loop_test(tc, link_get_returns_the_callbacks_value, 0, nkinds);
	tcase_add_loop_test(tc, pending_link_is_completed_by_a_put_with_both_ids, 0, nkinds);
	tcase_add_loop_test(tc, link_put_replaces_links_sharing_an_id, 0, nkinds);
	tcase_add_loop_test(tc, link_delete_by_either_id, 0, nkinds);
	tcase_add_loop_test(tc, link_list_order_and_stop, 0, nkinds);
	tcase_add_loop_test(tc, watermarks_unset_then_set, 0, nkinds);
	tcase_add_loop_test(tc, retry_queue_order_and_due, 0, nkinds);
	tcase_add_loop_test(tc, delivery_recorded_once, 0, nkinds);
	tcase_add_loop_test(tc, delivery_prune_forgets_older_only, 0, nkinds);
	tcase_add_loop_test(tc, rollback_undoes_every_write, 0, nkinds);
	tcase_add_loop_test(tc, commit_keeps_every_write, 0, nkinds);
	tcase_add_loop_test(tc, transactions_do_not_nest, 0, nkinds);
	tcase_add_loop_test(tc, callbacks_may_change_the_store, 0, nkinds);
	tcase_add_loop_test(tc, arguments_are_checked, 0, nkinds);
	tcase_add_loop_test(tc, free_rolls_back_an_open_transaction, 0, nkinds);
	tc = tu_tcase(s, "vtable");
	tcase_add_loop_test(tc, custom_store_with_a_missing_member_is_rejected, 0,
	                    (int)(sizeof(members) / sizeof(*members)));
	tcase_add_test(tc, custom_store_of_unknown_version_is_rejected);
	tcase_add_test(tc, custom_store_is_copied_and_forwarded);
	tcase_add_test(tc, references_keep_the_store_alive);
	tcase_add_test(tc, init_functions_match_the_initialisers);
	tc = tu_tcase(s, "sqlite");
	tcase_add_test(tc, sqlite_state_survives_reopening);
	tcase_add_test(tc, sqlite_process_killed_in_a_transaction_leaves_the_previous_state);
	tcase_add_test(tc, sqlite_file_from_a_newer_libpcref_is_refused_untouched);
	tcase_add_test(tc, sqlite_non_database_is_refused_with_its_name);
	tcase_add_test(tc, sqlite_database_of_something_else_is_refused);
	tcase_add_test(tc, sqlite_file_is_wal_and_versioned);
	tcase_add_test(tc, sqlite_second_writer_waits_then_fails);
	tcase_add_test(tc, sqlite_open_checks_its_arguments);
	return tu_run(s);
}
