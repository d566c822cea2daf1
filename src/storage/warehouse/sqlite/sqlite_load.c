/*
 * sqlite_load.c - the loading path of the "sqlite" warehouse, on two threads.
 *
 * Why two: SQLite has one writer, and every statement of a load has to run on
 * it; everything else (decoding the log's entries, aggregating the rollups,
 * merging the ranked lists) does not. So the caller's thread (the sink's
 * runner) decodes each batch, adds it to the in-memory rollups and packs its
 * fact rows into an item; a writer thread owning the write connection takes
 * the items in order and inserts them. At commit the caller's thread computes
 * the transaction's rollup rows through a store that reads the committed
 * tables on a second, read-only connection and records the writes (rollup.h
 * allows it: each key is read once, before it is written), and hands them to
 * the writer, which applies them, writes nothing else, and commits. The
 * caller meanwhile decodes the next transaction.
 *
 * What stays as before: one transaction holds the facts, the rollups and the
 * partitions' positions (the positions go in with each batch's facts), so a
 * crash loses whole transactions only and the sink resumes from what was
 * committed; a commit() returns once everything before it is durable (the
 * writer syncs the WAL after it). commit_later() may return before, and its
 * COMMIT does not wait for the disk (synchronous=NORMAL; the next sync, a
 * commit()'s or a checkpoint's, makes it durable: sqlite.c says why that
 * keeps exactly-once); its failure is returned by the next call, and the
 * transaction is then rolled back whole.
 *
 * Ordering: the rollups of transaction N+1 read what N wrote, so before
 * computing them the caller waits until the writer has committed N (by then
 * the writer is inserting N+1's facts, which the read connection does not
 * see: WAL gives it the last committed snapshot).
 */
#include <stdlib.h>
#include <string.h>

#include "core/pack.h"
#include "storage/warehouse/sqlite/sqlite_int.h"

/* Items queued at most: memory stays bounded when the writer is slower. */
#define MAX_QUEUED 24 /* a whole transaction of 4,096-record batches, and some */

enum { ITEM_FACTS, ITEM_COMMIT, ITEM_ROLLBACK, ITEM_SYNC, ITEM_QUARANTINE };

/* A batch's facts packed one after another, and its partition's position. */
typedef struct wh_item {
    struct wh_item *next;
    int kind;
    uint32_t partition;
    sf_pos first; /* of the batch's first entry, for the fence */
    sf_pos after; /* the partition's position after the item */
    bool fenced;  /* the batch has entries: check first */
    bool durable; /* ITEM_COMMIT: sync the WAL after it (commit(), not commit_later()) */
    bool retry;   /* ITEM_FACTS: the record set aside at first, applied again */
    uint32_t records;
    /* ITEM_FACTS: the facts; ITEM_QUARANTINE: the time and the reason (each
     * with its NUL), then the entry's bytes */
    sf_buf facts;
} wh_item;

struct wh_pipe {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    wh_item *head, *tail, *spare;
    size_t queued;
    bool busy, stop, failed;
    int rc;
    sf_error err;                        /* the writer's first error, until taken */
    uint64_t commits_sent, commits_done; /* ITEM_COMMITs queued, and finished */
};

/* One fact row, then its texts (invoice, stock code, description, country),
 * padded to 8 bytes. */
typedef struct packed_fact {
    int64_t log_offset; /* the position, or -1 when wider than 63 bits (sf_wh_pos_int) */
    int64_t unit_price;
    int32_t quantity, customer;
    uint16_t size, description_len;
    uint8_t invoice_len, code_len, country_len, kind, non_product;
    char date[SF_TIME_TEXT_LEN];
} packed_fact;

static void pack_fact(sf_buf *b, const sf_record *r, const char *date, int64_t offset)
{
    static const char zeros[8] = {0};
    size_t texts =
        (size_t)r->invoice_no_len + r->stock_code_len + r->description_len + r->country_len;
    size_t size = (sizeof(packed_fact) + texts + 7u) & ~(size_t)7u;
    packed_fact f = {offset,
                     r->unit_price,
                     r->quantity,
                     r->customer_id,
                     (uint16_t)size,
                     r->description_len,
                     r->invoice_no_len,
                     r->stock_code_len,
                     r->country_len,
                     r->kind,
                     (r->flags & SF_FLAG_NON_PRODUCT) != 0,
                     {0}};
    memcpy(f.date, date, SF_TIME_TEXT_LEN);
    sf_buf_add(b, &f, sizeof f);
    sf_buf_add(b, r->invoice_no, r->invoice_no_len);
    sf_buf_add(b, r->stock_code, r->stock_code_len);
    sf_buf_add(b, r->description, r->description_len);
    sf_buf_add(b, r->country, r->country_len);
    sf_buf_add(b, zeros, size - sizeof f - texts);
}

/* Bind fact f of partition p, the ordinal-th of its partition, as the row
 * starting at parameter col of s; the texts stay in the item until the
 * statement has run. */
static void bind_fact(sqlite3_stmt *s, int col, uint32_t p, uint64_t ordinal, const packed_fact *f)
{
    const char *t = (const char *)(f + 1);
    const char *kind = sf_kind_name((sf_kind)f->kind);
    sqlite3_bind_int64(s, col, (sqlite3_int64)(((uint64_t)p << 40) | ordinal));
    sqlite3_bind_int64(s, col + 1, p);
    sqlite3_bind_int64(s, col + 2, f->log_offset);
    sf_wh_text(s, col + 3, t, f->invoice_len);
    t += f->invoice_len;
    sf_wh_text(s, col + 4, t, f->code_len);
    t += f->code_len;
    sf_wh_text(s, col + 5, t, f->description_len);
    t += f->description_len;
    sqlite3_bind_int64(s, col + 6, f->quantity);
    sqlite3_bind_int64(s, col + 7, f->unit_price);
    sqlite3_bind_int64(s, col + 8, (int64_t)f->quantity * f->unit_price);
    if (f->customer == SF_NO_CUSTOMER)
        sqlite3_bind_null(s, col + 9);
    else
        sqlite3_bind_int64(s, col + 9, f->customer);
    sf_wh_text(s, col + 10, f->date, SF_TIME_TEXT_LEN);
    sf_wh_text(s, col + 11, f->date, 10);
    sf_wh_text(s, col + 12, t, f->country_len);
    sf_wh_text(s, col + 13, kind, strlen(kind));
    sqlite3_bind_int(s, col + 14, f->non_product);
}

#define FACT_COLUMNS 15

/* The fence, on the writer inside its write transaction (BEGIN IMMEDIATE:
 * one writer at a time, across processes): a batch loads only from its
 * partition's position as stored, or as loaded earlier in this transaction.
 * A sink that lost the partition to another member without knowing (a
 * zombie) is refused, SF_ESTALE, rather than loading records twice; like
 * every writer failure it reaches the sink through the next call. */
/* Writer: the item's partition's row of sink_offsets as stored, or as
 * loaded earlier in this transaction: its position into *at (0 if none:
 * *stored false) and its ordinal. */
static int position_row(sqlite_wh *w, const wh_item *it, sf_pos *at, bool *stored,
                        uint64_t *ordinal, sf_error *err)
{
    sqlite3_stmt *q = w->st[ST_POSITION];
    sqlite3_bind_int64(q, 1, it->partition);
    int step = sqlite3_step(q), rc = 0;
    *stored = step == SQLITE_ROW;
    at->len = 0;
    *ordinal = *stored ? (uint64_t)sqlite3_column_int64(q, 2) : 0;
    if (*stored)
        rc = sf_wh_pos_get(sqlite3_column_int64(q, 0), sqlite3_column_blob(q, 1),
                           (size_t)sqlite3_column_bytes(q, 1), at, err);
    sqlite3_reset(q);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return sf_wh_fail(w, err, "position");
    return rc;
}

static int fence(sqlite_wh *w, const wh_item *it, uint64_t *ordinal, sf_error *err)
{
    sf_pos at;
    bool stored;
    int rc = position_row(w, it, &at, &stored, ordinal, err);
    if (rc == 0 && stored && it->fenced && sf_pos_cmp(&at, &it->first) != 0) {
        char from[SF_POS_TEXT_MAX], now[SF_POS_TEXT_MAX];
        sf_pos_format(&it->first, from, sizeof from);
        sf_pos_format(&at, now, sizeof now);
        return sf_error_set(err, SF_ESTALE,
                            "warehouse: partition %u: a batch from offset %s, but the warehouse "
                            "is at %s (another member loaded it): refused",
                            it->partition, from, now);
    }
    return rc;
}

/* Writer: p's position next and its ordinal, in the transaction. */
static int put_position(sqlite_wh *w, uint32_t p, const sf_pos *next, uint64_t ordinal,
                        sf_error *err)
{
    uint8_t blob[SF_POS_STORED_MAX];
    size_t n = sf_wh_pos_blob(next, blob);
    sqlite3_stmt *q = w->st[ST_OFFSET];
    sqlite3_bind_int64(q, 1, p);
    sqlite3_bind_int64(q, 2, sf_wh_pos_int(next));
    if (n)
        sqlite3_bind_blob(q, 3, blob, (int)n, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, 3);
    sqlite3_bind_int64(q, 4, (sqlite3_int64)ordinal);
    return sf_wh_run(w, q, err);
}

/* Bind the quarantine's key for the item's entry (partition, log_offset,
 * log_pos) at parameters 1, 2 and col. */
static void bind_entry_key(sqlite3_stmt *q, const wh_item *it, int col)
{
    uint8_t blob[SF_POS_STORED_MAX];
    size_t n = sf_wh_pos_blob(&it->first, blob);
    sqlite3_bind_int64(q, 1, it->partition);
    sqlite3_bind_int64(q, 2, sf_wh_pos_int(&it->first));
    sqlite3_bind_blob(q, col, blob, (int)n, SQLITE_TRANSIENT);
}

/* Writer: an entry set aside, and the position past it. */
static int insert_quarantine(sqlite_wh *w, const wh_item *it, sf_error *err)
{
    const char *at = it->facts.data, *reason = at + strlen(at) + 1;
    const char *bytes = reason + strlen(reason) + 1;
    sqlite3_stmt *q = w->st[ST_QUARANTINE];
    uint64_t ordinal;
    int rc = fence(w, it, &ordinal, err);
    if (rc < 0)
        return rc;
    bind_entry_key(q, it, 6);
    sqlite3_bind_text(q, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 4, bytes, (int)(it->facts.data + it->facts.len - bytes), SQLITE_STATIC);
    sqlite3_bind_text(q, 5, at, -1, SQLITE_STATIC);
    if ((rc = sf_wh_run(w, q, err)) == 0 &&
        (rc = put_position(w, it->partition, &it->after, ordinal, err)) == 0)
        w->txn_quarantined++;
    return rc;
}

/* Writer: the entry a retried record stands for leaves the quarantine. */
static int unquarantine(sqlite_wh *w, const wh_item *it, sf_error *err)
{
    sqlite3_stmt *q = w->st[ST_UNQUARANTINE];
    bind_entry_key(q, it, 3);
    int rc = sf_wh_run(w, q, err);
    if (rc == 0 && sqlite3_changes(w->db) != 1) {
        char at[SF_POS_TEXT_MAX];
        sf_pos_format(&it->first, at, sizeof at);
        rc = sf_error_set(err, SF_ENOENT,
                          "warehouse: partition %u offset %s is not in its quarantine "
                          "(retried already?)",
                          it->partition, at);
    }
    return rc;
}

/* Writer: insert an item's facts, FACT_ROWS per statement, numbered from
 * the partition's ordinal on, and its position and ordinal after them (a
 * retry: its entry out of the quarantine, the position as it was). */
static int insert_facts(sqlite_wh *w, const wh_item *it, sf_error *err)
{
    const packed_fact *group[FACT_ROWS];
    const char *at = it->facts.data, *end = at + it->facts.len;
    uint64_t ordinal = 0;
    sf_pos stored;
    bool any;
    int n = 0, rc = it->retry ? unquarantine(w, it, err) : fence(w, it, &ordinal, err);
    if (rc == 0 && it->retry)
        rc = position_row(w, it, &stored, &any, &ordinal, err);
    if (rc == 0)
        rc = sf_wh_ordinal_check(it->partition, ordinal, it->records, err);
    while (rc == 0 && at < end) {
        group[n++] = (const packed_fact *)at;
        at += group[n - 1]->size;
        if (n == FACT_ROWS) {
            for (int i = 0; i < n; i++)
                bind_fact(w->facts, 1 + i * FACT_COLUMNS, it->partition, ordinal++, group[i]);
            rc = sf_wh_run(w, w->facts, err);
            n = 0;
        }
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        bind_fact(w->st[ST_FACT], 1, it->partition, ordinal++, group[i]);
        rc = sf_wh_run(w, w->st[ST_FACT], err);
    }
    if (rc == 0)
        rc = put_position(w, it->partition, it->retry ? &stored : &it->after, ordinal, err);
    if (rc == 0 && !it->retry)
        w->txn_records += it->records;
    return rc;
}

/* ---- the writer thread ---- */

static int begin(sqlite_wh *w, sf_error *err)
{
    if (w->in_txn)
        return 0;
    if (sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return sf_wh_fail(w, err, "begin");
    w->in_txn = true;
    return 0;
}

static void rollback(sqlite_wh *w)
{
    if (w->in_txn)
        sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
    w->in_txn = false;
    w->txn_records = w->txn_quarantined = 0;
}

/* Make every commit so far durable: an fsync of the WAL (its file as SQLite
 * holds it, through its own sync method, which also syncs the folder of a
 * newly created WAL once). The connection commits with synchronous=NORMAL:
 * a commit is atomic and ordered but reaches the disk at the next sync,
 * this one or a checkpoint's (sqlite.c says why that is enough). */
static int sync_wal(sqlite_wh *w, sf_error *err)
{
    sqlite3_file *f = NULL;
    if (sqlite3_file_control(w->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) != SQLITE_OK)
        return sf_wh_fail(w, err, "sync");
    if (!f || !f->pMethods)
        return 0; /* no WAL open: nothing was committed through it */
    if (f->pMethods->xSync(f, SQLITE_SYNC_NORMAL) != SQLITE_OK)
        return sf_error_set(err, SF_EIO, "warehouse: cannot sync the write-ahead log");
    return 0;
}

static int run_item(sqlite_wh *w, const wh_item *it, sf_error *err)
{
    if (it->kind == ITEM_ROLLBACK) {
        rollback(w);
        return 0;
    }
    if (it->kind == ITEM_SYNC)
        return sync_wal(w, err);
    int rc = begin(w, err);
    if (rc == 0 && it->kind == ITEM_FACTS)
        return insert_facts(w, it, err);
    if (rc == 0 && it->kind == ITEM_QUARANTINE)
        return insert_quarantine(w, it, err);
    if (rc == 0)
        rc = sf_wh_sqlite_apply_ops(w, err);
    if (rc == 0 && sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = sf_wh_fail(w, err, "commit");
    if (rc == 0) {
        w->in_txn = false;
        atomic_fetch_add(&w->committed_records, w->txn_records);
        atomic_fetch_add(&w->committed_quarantined, w->txn_quarantined);
        w->txn_records = w->txn_quarantined = 0;
    }
    return rc == 0 && it->durable ? sync_wal(w, err) : rc;
}

static void *writer_main(void *arg)
{
    sqlite_wh *w = arg;
    wh_pipe *p = w->pipe;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->work, &p->mu);
        wh_item *it = p->head;
        if (!it)
            break;
        p->head = it->next;
        p->tail = p->head ? p->tail : NULL;
        p->queued--;
        p->busy = true;
        bool skip = p->failed; /* after a failure, drop what follows until taken */
        pthread_mutex_unlock(&p->mu);
        sf_error e = {0};
        int rc = skip ? 0 : run_item(w, it, &e);
        if (rc < 0)
            rollback(w);
        sf_buf_reset(&it->facts);
        pthread_mutex_lock(&p->mu);
        if (rc < 0 && !p->failed) {
            p->failed = true;
            p->rc = rc;
            p->err = e;
        }
        p->commits_done += it->kind == ITEM_COMMIT;
        it->next = p->spare;
        p->spare = it;
        p->busy = false;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- the caller's side ---- */

static wh_item *item_new(wh_pipe *p, int kind)
{
    pthread_mutex_lock(&p->mu);
    wh_item *it = p->spare;
    p->spare = it ? it->next : NULL;
    pthread_mutex_unlock(&p->mu);
    if (!it && !(it = calloc(1, sizeof *it)))
        return NULL;
    it->next = NULL;
    it->kind = kind;
    it->durable = it->retry = false;
    it->records = 0;
    return it;
}

static void item_free(wh_item *it)
{
    sf_buf_free(&it->facts);
    free(it);
}

static void enqueue(wh_pipe *p, wh_item *it)
{
    pthread_mutex_lock(&p->mu);
    while (p->queued >= MAX_QUEUED && !p->failed)
        pthread_cond_wait(&p->done, &p->mu);
    if (p->tail)
        p->tail->next = it;
    else
        p->head = it;
    p->tail = it;
    p->queued++;
    p->commits_sent += it->kind == ITEM_COMMIT;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
}

/* Wait until the writer has nothing left (all) or has finished every commit
 * queued so far. */
static void wait_writer(wh_pipe *p, bool all)
{
    pthread_mutex_lock(&p->mu);
    while (all ? (p->head || p->busy) : (p->commits_done < p->commits_sent && !p->failed))
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* Forget the open transaction on this side (the writer has rolled it back
 * or is told to). */
static void forget(sqlite_wh *w)
{
    sf_wh_rollup_reset(&w->roll);
    sf_buf_reset(&w->ops);
    w->open = false;
}

/* The writer's failure, if any: returned once, with everything since the
 * last durable commit gone. */
static int take_failure(sqlite_wh *w, sf_error *err)
{
    wh_pipe *p = w->pipe;
    pthread_mutex_lock(&p->mu);
    bool failed = p->failed;
    pthread_mutex_unlock(&p->mu);
    if (!failed)
        return 0;
    wait_writer(p, true);
    pthread_mutex_lock(&p->mu);
    int rc = p->rc;
    if (err)
        *err = p->err;
    p->failed = false;
    p->commits_done = p->commits_sent;
    pthread_mutex_unlock(&p->mu);
    forget(w);
    return rc;
}

/* Roll the open transaction back (rc: the caller's failure, returned). */
static int abort_txn(sqlite_wh *w, int rc)
{
    wh_item *it = item_new(w->pipe, ITEM_ROLLBACK);
    if (it)
        enqueue(w->pipe, it);
    wait_writer(w->pipe, true);
    take_failure(w, NULL);
    forget(w);
    return rc;
}

/* A batch's facts (or a retried record's) into the open transaction. */
static int load_item(sqlite_wh *w, uint32_t p, const sf_stream_batch *b, bool retry, sf_error *err)
{
    int rc = take_failure(w, err);
    if (rc < 0)
        return rc;
    wh_item *it = item_new(w->pipe, ITEM_FACTS);
    if (!it)
        return abort_txn(w, sf_error_set(err, SF_ENOMEM, "out of memory"));
    it->partition = p;
    it->after = b->next;
    it->fenced = b->count > 0 && !retry;
    it->retry = retry;
    it->records = (uint32_t)b->count;
    it->first.len = 0;
    if (b->count)
        it->first = retry ? b->entries[0].pos : *sf_stream_batch_start(b);
    sf_record rec;
    char date[SF_TIME_TEXT_LEN + 1];
    for (size_t i = 0; rc == 0 && i < b->count; i++) {
        rc = sf_wh_rollup_entry(&w->roll, &b->entries[i], p, &rec, date, err);
        if (rc == 0)
            pack_fact(&it->facts, &rec, date, sf_wh_pos_int(&b->entries[i].pos));
    }
    if (rc == 0 && sf_buf_failed(&it->facts))
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    if (rc < 0) {
        item_free(it);
        return abort_txn(w, rc);
    }
    w->open = true;
    enqueue(w->pipe, it);
    return 0;
}

int sf_wh_pipe_load(sqlite_wh *w, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    return load_item(w, p, b, false, err);
}

int sf_wh_pipe_retry(sqlite_wh *w, uint32_t p, const sf_stream_entry *e, sf_error *err)
{
    sf_stream_batch one = {.entries = (sf_stream_entry *)e, .count = 1};
    return load_item(w, p, &one, true, err);
}

int sf_wh_pipe_quarantine(sqlite_wh *w, uint32_t p, const sf_stream_entry *e, const char *reason,
                          const char *at, const sf_pos *next, sf_error *err)
{
    int rc = take_failure(w, err);
    if (rc < 0)
        return rc;
    wh_item *it = item_new(w->pipe, ITEM_QUARANTINE);
    if (!it)
        return abort_txn(w, sf_error_set(err, SF_ENOMEM, "out of memory"));
    it->partition = p;
    it->first = e->pos;
    it->after = *next;
    it->fenced = true;
    sf_buf_add(&it->facts, at, strlen(at) + 1);
    sf_buf_add(&it->facts, reason, strlen(reason) + 1);
    sf_buf_add(&it->facts, e->data, e->len);
    if (sf_buf_failed(&it->facts)) {
        item_free(it);
        return abort_txn(w, sf_error_set(err, SF_ENOMEM, "out of memory"));
    }
    w->open = true;
    enqueue(w->pipe, it);
    return 0;
}

/* The transaction's rollup writes, computed against what is committed. */
static int record_rollups(sqlite_wh *w, sf_error *err)
{
    sf_buf_reset(&w->ops);
    if (sqlite3_exec(w->rd->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return sf_wh_fail(w->rd, err, "begin a read");
    int rc = sf_wh_rollup_write(&w->roll, err);
    /* A statement left stepping would keep this snapshot for the next time. */
    sqlite3_reset(w->rd->st[ST_PRODUCTS_GET]);
    sqlite3_reset(w->rd->st[ST_CUSTOMERS_GET]);
    sqlite3_exec(w->rd->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

/* The WAL copied into the database up to the last commit, from this thread
 * while the writer goes on (it checkpoints only when the WAL grows past its
 * limit): called once the next commit is handed over, so that the writer
 * never waits for it. Its sync of the WAL (this connection is FULL) also
 * makes the commit_later() commits before it durable. */
static int checkpoint(sqlite_wh *w, sf_error *err)
{
    if (sqlite3_wal_checkpoint_v2(w->rd->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) !=
        SQLITE_OK)
        return sf_wh_fail(w->rd, err, "checkpoint");
    return 0;
}

int sf_wh_pipe_commit(sqlite_wh *w, bool wait, sf_error *err)
{
    int rc = take_failure(w, err);
    if (rc == 0 && (w->open || (wait && w->unsynced))) {
        if (w->open)
            wait_writer(w->pipe, false); /* the previous commit: its rows are read now */
        if ((rc = take_failure(w, err)) < 0)
            return rc;
        if (w->open && (rc = record_rollups(w, err)) < 0)
            return abort_txn(w, rc);
        wh_item *it = item_new(w->pipe, w->open ? ITEM_COMMIT : ITEM_SYNC);
        if (!it)
            return abort_txn(w, sf_error_set(err, SF_ENOMEM, "out of memory"));
        it->durable = wait;
        w->unsynced = !wait;
        sf_wh_rollup_reset(&w->roll);
        w->open = false;
        enqueue(w->pipe, it);
        rc = checkpoint(w, err); /* beside the writer's commit */
    }
    if (rc == 0 && wait) {
        wait_writer(w->pipe, true);
        rc = take_failure(w, err);
    }
    return rc;
}

int sf_wh_pipe_sync(sqlite_wh *w, sf_error *err)
{
    wait_writer(w->pipe, true);
    return take_failure(w, err);
}

int sf_wh_pipe_start(sqlite_wh *w, sf_error *err)
{
    wh_pipe *p = calloc(1, sizeof *p);
    if (!p)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    w->pipe = p;
    if (pthread_create(&p->thread, NULL, writer_main, w) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->work);
        pthread_cond_destroy(&p->done);
        free(p);
        w->pipe = NULL;
        return sf_error_set(err, SF_EFAILED, "warehouse: cannot start the writer thread");
    }
    return 0;
}

void sf_wh_pipe_stop(sqlite_wh *w)
{
    wh_pipe *p = w->pipe;
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true; /* the writer finishes what is queued, then returns */
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    for (wh_item *it = p->spare, *next; it; it = next) {
        next = it->next;
        item_free(it);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p);
    w->pipe = NULL;
}
