/* The in-memory state store: every table an array of records kept in insertion
 * (serial) order, an undo journal for transactions, gone when freed. Written
 * against the public vtable like a host's store would be.
 *
 * Transactions: while one is open, every record removed from a table moves to
 * the journal instead of being freed, and every record inserted is noted
 * there; rollback walks the journal backwards (taking the inserted records
 * out, putting the removed ones back), commit frees the removed ones. Memory
 * for the journal and the tables is reserved before a write changes
 * anything, so a write fails whole or not at all.
 *
 * Listings take the serials of the records to visit, in the listing's order,
 * then look each one up when its turn comes and hand the callback a copy, so
 * a callback may change the store (contract in pcref/sys/store.h). */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

enum { T_LINKS, T_RETRIES, T_WATERMARKS, T_DELIVERIES, T_COUNT };

typedef struct mrec {
	uint64_t serial;     /* unique, increasing; a replaced retry item keeps its own */
	pcref_link link;     /* T_LINKS (owned strings) */
	pcref_retry retry;   /* T_RETRIES (owned strings) */
	char *key;           /* T_WATERMARKS: the name; T_DELIVERIES: the key */
	int64_t ms;          /* T_WATERMARKS: the value; T_DELIVERIES: when received */
} mrec;

typedef struct mtable {
	mrec **recs;         /* ordered by serial */
	size_t n, cap;
} mtable;

typedef struct mundo {
	int table;
	int inserted;        /* 1: rec was inserted (undo: take it out); 0: removed (undo: put it back) */
	mrec *rec;
} mundo;

typedef struct memstore {
	mtable tables[T_COUNT];
	mundo *journal;
	size_t njournal, cap_journal;
	int in_transaction;
	uint64_t last_serial;
} memstore;

#define NOWHERE SIZE_MAX

static void rec_free(mrec *rec)
{
	if (!rec)
		return;
	pcref__link_dispose(&rec->link);
	pcref__retry_dispose(&rec->retry);
	pcref__dealloc(rec->key);
	pcref__dealloc(rec);
}

static mrec *rec_new(memstore *m)
{
	mrec *rec = pcref__calloc(1, sizeof(*rec));
	if (!rec) {
		pcref__error_nomem();
		return NULL;
	}
	rec->serial = ++m->last_serial;
	return rec;
}

/* Index of the first record whose serial is >= `serial`. */
static size_t position(const mtable *t, uint64_t serial)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->recs[mid]->serial < serial)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t find_serial(const mtable *t, uint64_t serial)
{
	size_t i = position(t, serial);
	return i < t->n && t->recs[i]->serial == serial ? i : NOWHERE;
}

/* Make room for `inserts` more records in `table` and `undos` journal entries. */
static int reserve(memstore *m, int table, size_t inserts, size_t undos)
{
	mtable *t = &m->tables[table];
	if (pcref__grow((void **)&t->recs, &t->cap, t->n + inserts, sizeof(*t->recs)) < 0)
		return PCREF_ENOMEM;
	if (m->in_transaction &&
	    pcref__grow((void **)&m->journal, &m->cap_journal, m->njournal + undos, sizeof(*m->journal)) < 0)
		return PCREF_ENOMEM;
	return PCREF_OK;
}

/* The two table edits (room reserved beforehand: they cannot fail). */
static void table_insert(mtable *t, mrec *rec)
{
	size_t i = position(t, rec->serial);
	memmove(t->recs + i + 1, t->recs + i, (t->n - i) * sizeof(*t->recs));
	t->recs[i] = rec;
	t->n++;
}

static mrec *table_remove(mtable *t, size_t i)
{
	mrec *rec = t->recs[i];
	memmove(t->recs + i, t->recs + i + 1, (t->n - i - 1) * sizeof(*t->recs));
	t->n--;
	return rec;
}

static void journal(memstore *m, int table, int inserted, mrec *rec)
{
	mundo *u = &m->journal[m->njournal++];
	u->table = table;
	u->inserted = inserted;
	u->rec = rec;
}

static void put(memstore *m, int table, mrec *rec)
{
	table_insert(&m->tables[table], rec);
	if (m->in_transaction)
		journal(m, table, 1, rec);
}

static void drop(memstore *m, int table, size_t i)
{
	mrec *rec = table_remove(&m->tables[table], i);
	if (m->in_transaction)
		journal(m, table, 0, rec);
	else
		rec_free(rec);
}

/* ---- transactions ------------------------------------------------------------ */

static int mem_begin(void *payload)
{
	memstore *m = payload;
	m->in_transaction = 1;
	m->njournal = 0;
	return PCREF_OK;
}

static int mem_commit(void *payload)
{
	memstore *m = payload;
	for (size_t i = 0; i < m->njournal; i++)
		if (!m->journal[i].inserted)
			rec_free(m->journal[i].rec);
	m->njournal = 0;
	m->in_transaction = 0;
	return PCREF_OK;
}

static int mem_rollback(void *payload)
{
	memstore *m = payload;
	for (size_t i = m->njournal; i-- > 0;) {
		mundo *u = &m->journal[i];
		mtable *t = &m->tables[u->table];
		if (u->inserted)
			rec_free(table_remove(t, find_serial(t, u->rec->serial)));
		else
			table_insert(t, u->rec); /* the table held it before: there is room */
	}
	m->njournal = 0;
	m->in_transaction = 0;
	return PCREF_OK;
}

static void mem_destroy(void *payload)
{
	memstore *m = payload;
	mem_rollback(m);
	for (int t = 0; t < T_COUNT; t++) {
		for (size_t i = 0; i < m->tables[t].n; i++)
			rec_free(m->tables[t].recs[i]);
		pcref__dealloc(m->tables[t].recs);
	}
	pcref__dealloc(m->journal);
	pcref__dealloc(m);
}

/* ---- listings ----------------------------------------------------------------- */

typedef int (*rec_filter)(const mrec *rec, int64_t arg);
/* The listing's callback and its payload. */
typedef struct callback {
	pcref_link_cb link;
	pcref_retry_cb retry;
	void *payload;
} callback;

typedef int (*rec_visit)(const mrec *rec, const callback *cb);

/* Visit the records of `table` that pass `filter`, in `order`: the serials are
 * taken first, each record is looked up (and filtered again) at its turn. */
static int list(memstore *m, int table, rec_filter filter, int64_t arg,
                int (*order)(const void *, const void *), rec_visit visit, const callback *cb)
{
	mtable *t = &m->tables[table];
	mrec **sorted;
	uint64_t *serials;
	size_t n = 0;
	int rc = PCREF_OK;
	if (!(sorted = pcref__calloc(t->n ? t->n : 1, sizeof(*sorted))))
		return pcref__error_nomem();
	for (size_t i = 0; i < t->n; i++)
		if (!filter || filter(t->recs[i], arg))
			sorted[n++] = t->recs[i];
	qsort(sorted, n, sizeof(*sorted), order);
	if (!(serials = pcref__calloc(n ? n : 1, sizeof(*serials)))) {
		pcref__dealloc(sorted);
		return pcref__error_nomem();
	}
	for (size_t i = 0; i < n; i++)
		serials[i] = sorted[i]->serial;
	pcref__dealloc(sorted);
	for (size_t i = 0; i < n && rc == PCREF_OK; i++) {
		size_t at = find_serial(t, serials[i]);
		if (at != NOWHERE && (!filter || filter(t->recs[at], arg)))
			rc = visit(t->recs[at], cb);
	}
	pcref__dealloc(serials);
	return rc;
}

/* ---- links ------------------------------------------------------------------- */

static int compare_ids(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL); /* NULL first */
	return strcmp(a, b);
}

static int link_order(const void *pa, const void *pb)
{
	const pcref_link *a = &(*(mrec *const *)pa)->link, *b = &(*(mrec *const *)pb)->link;
	int c = compare_ids(a->referral_id, b->referral_id);
	return c ? c : compare_ids(a->crm_id, b->crm_id);
}

static size_t find_link_by(const memstore *m, const char *referral_id, const char *crm_id)
{
	const mtable *t = &m->tables[T_LINKS];
	for (size_t i = 0; i < t->n; i++) {
		const pcref_link *l = &t->recs[i]->link;
		if (referral_id ? l->referral_id && strcmp(l->referral_id, referral_id) == 0
		                : l->crm_id && strcmp(l->crm_id, crm_id) == 0)
			return i;
	}
	return NOWHERE;
}

/* Hand the callback a copy: it may delete the record while it runs. */
static int visit_link(const mrec *rec, const callback *cb)
{
	pcref_link copy;
	int rc = pcref__link_copy(&copy, &rec->link);
	if (rc < 0)
		return rc;
	rc = cb->link(&copy, cb->payload);
	pcref__link_dispose(&copy);
	return rc;
}

static int mem_link_get(const char *referral_id, const char *crm_id, pcref_link_cb cb, void *cb_payload,
                        void *payload)
{
	memstore *m = payload;
	size_t i = find_link_by(m, referral_id, crm_id);
	callback c = { cb, NULL, cb_payload };
	if (i == NOWHERE)
		return pcref__store_no_link("memory", referral_id, crm_id);
	return visit_link(m->tables[T_LINKS].recs[i], &c);
}

static int mem_link_put(const pcref_link *link, void *payload)
{
	memstore *m = payload;
	size_t by_referral = link->referral_id ? find_link_by(m, link->referral_id, NULL) : NOWHERE;
	size_t by_crm = link->crm_id ? find_link_by(m, NULL, link->crm_id) : NOWHERE;
	size_t later, earlier;
	mrec *rec;
	if (!(rec = rec_new(m)))
		return PCREF_ENOMEM;
	if (pcref__link_copy(&rec->link, link) < 0 || reserve(m, T_LINKS, 1, 3) < 0) {
		rec_free(rec);
		return PCREF_ENOMEM;
	}
	/* drop the later index first, so the earlier one still points at its record */
	later = by_referral != NOWHERE && (by_crm == NOWHERE || by_referral > by_crm) ? by_referral : by_crm;
	earlier = later == by_referral ? by_crm : by_referral;
	if (later != NOWHERE)
		drop(m, T_LINKS, later);
	if (earlier != NOWHERE && earlier != later)
		drop(m, T_LINKS, earlier);
	put(m, T_LINKS, rec);
	return PCREF_OK;
}

static int mem_link_delete(const char *referral_id, const char *crm_id, void *payload)
{
	memstore *m = payload;
	size_t i = find_link_by(m, referral_id, crm_id);
	if (i == NOWHERE)
		return pcref__store_no_link("memory", referral_id, crm_id);
	if (reserve(m, T_LINKS, 0, 1) < 0)
		return PCREF_ENOMEM;
	drop(m, T_LINKS, i);
	return PCREF_OK;
}

static int mem_link_list(pcref_link_cb cb, void *cb_payload, void *payload)
{
	callback c = { cb, NULL, cb_payload };
	return list(payload, T_LINKS, NULL, 0, link_order, visit_link, &c);
}

/* ---- watermarks and deliveries (records with a key and a time) ---------------- */

static size_t find_key(const memstore *m, int table, const char *key)
{
	const mtable *t = &m->tables[table];
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->recs[i]->key, key) == 0)
			return i;
	return NOWHERE;
}

/* Insert a (key, ms) record, replacing the record at `old` unless NOWHERE. */
static int put_keyed(memstore *m, int table, const char *key, int64_t ms, size_t old)
{
	mrec *rec = rec_new(m);
	if (!rec)
		return PCREF_ENOMEM;
	rec->ms = ms;
	if (!(rec->key = pcref__strdup(key)) || reserve(m, table, 1, 2) < 0) {
		rec_free(rec);
		return pcref__error_nomem();
	}
	if (old != NOWHERE)
		drop(m, table, old);
	put(m, table, rec);
	return PCREF_OK;
}

static int mem_watermark_get(const char *name, int64_t *ms, void *payload)
{
	memstore *m = payload;
	size_t i = find_key(m, T_WATERMARKS, name);
	*ms = i == NOWHERE ? PCREF_TIME_NONE : m->tables[T_WATERMARKS].recs[i]->ms;
	return PCREF_OK;
}

static int mem_watermark_set(const char *name, int64_t ms, void *payload)
{
	memstore *m = payload;
	return put_keyed(m, T_WATERMARKS, name, ms, find_key(m, T_WATERMARKS, name));
}

static int mem_delivery_record(const char *key, int64_t received_ms, void *payload)
{
	memstore *m = payload;
	if (find_key(m, T_DELIVERIES, key) != NOWHERE)
		return pcref__store_delivery_seen(key);
	return put_keyed(m, T_DELIVERIES, key, received_ms, NOWHERE);
}

static int mem_delivery_prune(int64_t before_ms, void *payload)
{
	memstore *m = payload;
	mtable *t = &m->tables[T_DELIVERIES];
	size_t old = 0;
	for (size_t i = 0; i < t->n; i++)
		old += t->recs[i]->ms < before_ms;
	if (reserve(m, T_DELIVERIES, 0, old) < 0)
		return PCREF_ENOMEM;
	for (size_t i = t->n; i-- > 0;)
		if (t->recs[i]->ms < before_ms)
			drop(m, T_DELIVERIES, i);
	return PCREF_OK;
}

/* ---- the retry queue ---------------------------------------------------------- */

static size_t find_retry(const memstore *m, int side, const char *id)
{
	const mtable *t = &m->tables[T_RETRIES];
	for (size_t i = 0; i < t->n; i++)
		if (t->recs[i]->retry.side == side && strcmp(t->recs[i]->retry.id, id) == 0)
			return i;
	return NOWHERE;
}

static int retry_order(const void *pa, const void *pb)
{
	const pcref_retry *a = &(*(mrec *const *)pa)->retry, *b = &(*(mrec *const *)pb)->retry;
	if (a->next_ms != b->next_ms)
		return a->next_ms < b->next_ms ? -1 : 1;
	if (a->side != b->side)
		return a->side < b->side ? -1 : 1;
	return strcmp(a->id, b->id);
}

static int retry_due(const mrec *rec, int64_t due_ms)
{
	return due_ms == PCREF_TIME_NONE || rec->retry.next_ms <= due_ms;
}

static int visit_retry(const mrec *rec, const callback *cb)
{
	pcref_retry copy;
	int rc = pcref__retry_copy(&copy, &rec->retry);
	if (rc < 0)
		return rc;
	rc = cb->retry(&copy, cb->payload);
	pcref__retry_dispose(&copy);
	return rc;
}

static int mem_retry_put(const pcref_retry *item, void *payload)
{
	memstore *m = payload;
	size_t old = find_retry(m, item->side, item->id);
	mrec *rec = rec_new(m);
	if (!rec)
		return PCREF_ENOMEM;
	if (pcref__retry_copy(&rec->retry, item) < 0 || reserve(m, T_RETRIES, 1, 2) < 0) {
		rec_free(rec);
		return PCREF_ENOMEM;
	}
	if (old != NOWHERE) {
		rec->serial = m->tables[T_RETRIES].recs[old]->serial; /* an update, not a new item */
		drop(m, T_RETRIES, old);
	}
	put(m, T_RETRIES, rec);
	return PCREF_OK;
}

static int mem_retry_delete(int side, const char *id, void *payload)
{
	memstore *m = payload;
	size_t i = find_retry(m, side, id);
	if (i == NOWHERE)
		return PCREF_OK;
	if (reserve(m, T_RETRIES, 0, 1) < 0)
		return PCREF_ENOMEM;
	drop(m, T_RETRIES, i);
	return PCREF_OK;
}

static int mem_retry_list(int64_t due_ms, pcref_retry_cb cb, void *cb_payload, void *payload)
{
	callback c = { NULL, cb, cb_payload };
	return list(payload, T_RETRIES, retry_due, due_ms, retry_order, visit_retry, &c);
}

int pcref_store_memory_new(pcref_store **out)
{
	pcref_store_backend b;
	memstore *m;
	int rc;
	if (!out)
		return pcref__error(PCREF_EINVALID, "pcref_store_memory_new: out is NULL");
	if (!(m = pcref__calloc(1, sizeof(*m))))
		return pcref__error_nomem();
	pcref_store_backend_init(&b, PCREF_STORE_BACKEND_VERSION);
	b.name = "memory";
	b.payload = m;
	b.destroy = mem_destroy;
	b.begin = mem_begin;
	b.commit = mem_commit;
	b.rollback = mem_rollback;
	b.link_get = mem_link_get;
	b.link_put = mem_link_put;
	b.link_delete = mem_link_delete;
	b.link_list = mem_link_list;
	b.watermark_get = mem_watermark_get;
	b.watermark_set = mem_watermark_set;
	b.retry_put = mem_retry_put;
	b.retry_delete = mem_retry_delete;
	b.retry_list = mem_retry_list;
	b.delivery_record = mem_delivery_record;
	b.delivery_prune = mem_delivery_prune;
	if ((rc = pcref_store_new(out, &b)) < 0)
		mem_destroy(m);
	return rc;
}
