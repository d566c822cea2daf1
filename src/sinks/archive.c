/*
 * archive.c - the archive sink: every record, raw, in NDJSON.gz objects (the
 * seed's Lambda that buffers records and writes them to S3).
 *
 * Records are buffered per partition as canonical JSON lines and written as
 * one object when the buffer reaches max_bytes, when its first record has
 * waited max_age_ms, when the next record is of another day, when the
 * stream is drained, or, the largest of them, when all partitions' open
 * objects together reach twice max_bytes (a bound on the sink's memory).
 * The object's key says what it holds (archive_name.h, where the naming
 * and what a name promises are written down once):
 *
 *   raw/transactions/dt=YYYY-MM-DD/part-PPPP-FIRST-LAST.ndjson.gz
 *
 * with the partition zero-padded to 4 digits and the first and last
 * positions in decimal: up to 2^64 - 1 (the local log's and Kafka's
 * offsets) zero-padded to 20 digits, so keys sort in stream order, and
 * wider ones (Kinesis sequence numbers) in full. An object of offsets holds
 * one record per position from FIRST to LAST: the sink closes it where
 * positions skip. One of wider positions is a run: every record of the
 * partition from FIRST to LAST, as many as its lines (Kinesis's sequence
 * numbers skip between any two records: closing there would make an object
 * per record). The keys are the sink's stored position: on start it lists
 * them and resumes each partition after the highest LAST. A crash
 * loses only buffered records, which are read again, and an object is
 * written atomically (objects.h) before it counts, so every record lands in
 * exactly one object. Compression is deterministic (no time in the gzip
 * header), so the same records always make the same bytes.
 *
 * Speed: closed objects are compressed and put in the background, many at a
 * time with few device syncs, in an order that keeps "resume after the
 * highest LAST" exact (archive_writer.h); the default gzip level is 1.
 *
 * An entry that is not a record (quarantine.h) is set aside as two objects:
 *
 *   quarantine/part-PPPP-OFFSET.json   partition, offset, reason, size, time
 *   quarantine/part-PPPP-OFFSET.bin    the entry's bytes
 *
 * The .bin is part of the position too: a partition resumes after the
 * highest LAST or OFFSET. So before it is put, the partition's open object
 * (the records before the entry) is closed and everything the writer holds
 * is put; then the .json, then the .bin (put_many batches): after a crash the
 * entry is set aside once, and nothing before it is skipped. A retried
 * record becomes an object of its own, part-PPPP-OFFSET-OFFSET, under its
 * day, as if it had been archived in its place: `import --from-archive`
 * gets it back at its offset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/pack.h"
#include "core/progress.h"
#include "core/timefmt.h"
#include "sinks/archive_name.h"
#include "sinks/archive_writer.h"
#include "sinks/quarantine.h"
#include "sinks/sink.h"
#include "storage/objects/objects.h"

#define PREFIX     SF_ARCHIVE_PREFIX
#define QUARANTINE "quarantine/"

typedef struct buffer {
    char *text; /* NDJSON */
    size_t len, cap;
    uint64_t records;
    sf_pos first, last;
    int64_t day;  /* days since the epoch of its records */
    double since; /* when its first record came */
    bool used;
} buffer;

typedef struct archive {
    sf_sink base;
    sf_objects *objects;
    sf_archive_opts opts;
    buffer *bufs;
    uint32_t nparts;
    sf_pos *resume_at; /* while listing */
    sf_archive_writer *writer;
    uint64_t buffered; /* NDJSON bytes in the open objects of all partitions */
} archive;

/* The open objects of all partitions hold at most this many times
 * max_bytes: past it the largest is closed. Without it, a stream with many
 * busy partitions and few days would buffer up to partitions x max_bytes
 * (128 MiB at the defaults), and as much again waiting to be compressed. */
#define BUFFERED_MAX_OBJECTS 2

static int64_t day_of(int64_t t)
{
    return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

/* The position written at s (digits, maybe zero-padded) into *out; *end
 * past it. false when s has no digits or too many. */
static bool name_pos(const char *s, const char **end, sf_pos *out)
{
    size_t n = strspn(s, "0123456789"), zeros = 0;
    while (zeros + 1 < n && s[zeros] == '0')
        zeros++;
    *end = s + n;
    return n > 0 && sf_pos_parse(s + zeros, n - zeros, out, NULL) == 0;
}

/* "…/part-PPPP-FIRST-LAST.ndjson.gz" or "…/part-PPPP-POS.bin": partition,
 * first and last position (POS twice for one entry set aside). */
static bool parse_name(const char *name, unsigned *part, sf_pos *first, sf_pos *last,
                       const char *suffix)
{
    int used = 0;
    const char *at;
    if (sscanf(name, "part-%u-%n", part, &used) != 1 || used == 0 ||
        !name_pos(name + used, &at, first))
        return false;
    *last = *first;
    if (*at == '-' && !name_pos(at + 1, &at, last))
        return false;
    return strcmp(at, suffix) == 0;
}

/* "…/part-PPPP-FIRST-LAST.ndjson.gz" or "quarantine/part-PPPP-POS.bin":
 * note partition and the position after the last. */
static int note_object(void *ctx, const char *key)
{
    archive *a = ctx;
    const char *name = strrchr(key, '/');
    unsigned part;
    sf_pos first, last;
    if (!name || !(parse_name(name + 1, &part, &first, &last, ".ndjson.gz") ||
                   parse_name(name + 1, &part, &first, &last, ".bin")))
        return 0;
    if (part < a->nparts && sf_pos_add_one(&last, NULL) == 0 &&
        sf_pos_cmp(&last, &a->resume_at[part]) > 0)
        a->resume_at[part] = last;
    return 0;
}

static void free_buffers(archive *a)
{
    for (uint32_t p = 0; a->bufs && p < a->nparts; p++)
        free(a->bufs[p].text);
    free(a->bufs);
    a->bufs = NULL;
}

static int archive_resume(sf_sink *s, sf_pos *next, uint32_t nparts, sf_error *err)
{
    archive *a = (archive *)s;
    sf_archive_writer_free(a->writer);
    a->writer = NULL;
    free_buffers(a); /* a run that failed may leave records buffered: read again */
    a->buffered = 0;
    a->bufs = calloc(nparts, sizeof *a->bufs);
    if (!a->bufs)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    int rc = sf_archive_writer_new(a->objects, a->opts.gzip_level, nparts, &a->base.committed,
                                   &a->writer, err);
    if (rc < 0)
        return rc;
    a->nparts = nparts;
    a->resume_at = next;
    for (uint32_t p = 0; p < nparts; p++)
        next[p].len = 0;
    rc = sf_objects_list(a->objects, PREFIX, note_object, a, err);
    if (rc == 0)
        rc = sf_objects_list(a->objects, QUARANTINE, note_object, a, err);
    a->resume_at = NULL;
    return rc;
}

/* The longest key: prefix, day, partition, two positions of 129 digits. */
#define KEY_MAX SF_ARCHIVE_KEY_MAX
_Static_assert(sizeof PREFIX + 16 + 16 + 2 * SF_POS_TEXT_MAX + 16 <= KEY_MAX, "archive keys");

/* The key of p's object of records first..last of day. */
static void object_key(char key[KEY_MAX], uint32_t p, int64_t day, const sf_pos *first,
                       const sf_pos *last)
{
    char date[SF_TIME_TEXT_LEN + 1], from[SF_POS_TEXT_MAX], to[SF_POS_TEXT_MAX];
    sf_time_format(day * 86400, date);
    date[10] = '\0';
    sf_archive_pos_text(first, from);
    sf_archive_pos_text(last, to);
    snprintf(key, KEY_MAX, PREFIX "dt=%s/part-%04u-%s-%s.ndjson.gz", date, p, from, to);
}

/* Close partition p's open object: it goes to the writer. */
static int close_object(archive *a, uint32_t p, sf_error *err)
{
    buffer *b = &a->bufs[p];
    if (!b->used)
        return 0;
    char key[KEY_MAX];
    object_key(key, p, b->day, &b->first, &b->last);
    b->used = false;
    a->buffered -= b->len;
    return sf_archive_writer_add(a->writer, p, b->day, b->records, key, &b->text, &b->len, &b->cap,
                                 err);
}

static int append_line(buffer *b, const char *json, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *t = realloc(b->text, cap);
        if (!t)
            return -1;
        b->text = t;
        b->cap = cap;
    }
    memcpy(b->text + b->len, json, n);
    b->text[b->len + n] = '\n';
    b->len += n + 1;
    return 0;
}

/* Over the budget of buffered bytes: close the largest open object. */
static int close_largest(archive *a, sf_error *err)
{
    uint32_t big = 0;
    for (uint32_t p = 1; p < a->nparts; p++)
        if (a->bufs[p].used && (!a->bufs[big].used || a->bufs[p].len > a->bufs[big].len))
            big = p;
    return close_object(a, big, err);
}

static int archive_apply(sf_sink *s, uint32_t p, const sf_stream_batch *batch, sf_error *err)
{
    archive *a = (archive *)s;
    buffer *b = &a->bufs[p];
    char json[SF_JSON_RECORD_MAX];
    for (size_t i = 0; i < batch->count; i++) {
        const sf_stream_entry *e = &batch->entries[i];
        sf_record r;
        int rc = sf_stream_entry_record(e, p, &r, err);
        if (rc < 0)
            return rc;
        int64_t day = day_of(r.invoice_date);
        /* Where offsets skip (a hole of the local log, a gap of Kafka) a
         * new object: one of offsets holds LAST - FIRST + 1 records, one per
         * position, as its name says, so FIRST + line index is each
         * record's position (archive_restore.h). Wider positions make runs,
         * which only their order needs to say (archive_name.h). */
        if (b->used &&
            (day != b->day || b->len >= a->opts.max_bytes ||
             !sf_archive_follows(&e->pos, &b->last)) &&
            (rc = close_object(a, p, err)) < 0)
            return rc;
        int n = sf_json_encode(&r, json, sizeof json);
        if (!b->used) {
            *b = (buffer){b->text, 0, b->cap, 0, e->pos, e->pos, day, sf_monotonic(), true};
        }
        if (n < 0 || append_line(b, json, (size_t)n) < 0)
            return sf_error_set(err, SF_ENOMEM, "archive: out of memory buffering");
        b->last = e->pos;
        b->records++;
        a->buffered += (uint64_t)n + 1;
        if (a->buffered > BUFFERED_MAX_OBJECTS * a->opts.max_bytes &&
            (rc = close_largest(a, err)) < 0)
            return rc;
    }
    return 0;
}

static int archive_flush(sf_sink *s, bool all, sf_error *err)
{
    archive *a = (archive *)s;
    double now = sf_monotonic();
    for (uint32_t p = 0; p < a->nparts; p++) {
        buffer *b = &a->bufs[p];
        bool due = b->used && (all || b->len >= a->opts.max_bytes ||
                               (now - b->since) * 1000 >= a->opts.max_age_ms);
        int rc = due ? close_object(a, p, err) : 0;
        if (rc < 0)
            return rc;
    }
    return sf_archive_writer_flush(a->writer, all, err);
}

static void archive_close(sf_sink *s)
{
    archive *a = (archive *)s;
    free_buffers(a);
    sf_archive_writer_free(a->writer);
    free(a);
}

/* ---- the quarantine: objects under quarantine/ ---- */

#define QKEY_MAX (sizeof QUARANTINE + 16 + SF_POS_TEXT_MAX + 8)

static void quarantine_key(char key[QKEY_MAX], uint32_t p, const sf_pos *pos, const char *ext)
{
    char at[SF_POS_TEXT_MAX];
    sf_archive_pos_text(pos, at);
    snprintf(key, QKEY_MAX, QUARANTINE "part-%04u-%s.%s", p, at, ext);
}

/* The position past e is the name of its .bin: put after everything of p
 * before e (see the top of the file), so next is where reading goes on,
 * never where the sink resumes. */
static int archive_quarantine(sf_sink *s, uint32_t p, const sf_stream_entry *e, const char *reason,
                              const sf_pos *next, sf_error *err)
{
    archive *a = (archive *)s;
    (void)next;
    char at[SF_QUARANTINE_TIME_LEN + 1], jkey[QKEY_MAX], bkey[QKEY_MAX], pos[SF_POS_TEXT_MAX];
    sf_quarantine_now(at);
    quarantine_key(jkey, p, &e->pos, "json");
    quarantine_key(bkey, p, &e->pos, "bin");
    sf_pos_format(&e->pos, pos, sizeof pos);
    sf_buf meta = SF_BUF_INIT;
    sf_buf_printf(&meta, "{\"partition\":%u,\"offset\":%s,\"bytes\":%u,\"quarantined_at\":\"%s\",",
                  p, pos, e->len, at);
    sf_buf_puts(&meta, "\"reason\":");
    sf_buf_json_string(&meta, reason, strlen(reason));
    sf_buf_puts(&meta, "}\n");
    sf_object_put puts[2] = {{jkey, meta.data, meta.len, 0, 0}, {bkey, e->data, e->len, 1, 0}};
    int rc = close_object(a, p, err);
    if (rc == 0)
        rc = sf_archive_writer_flush(a->writer, true, err);
    if (rc == 0)
        rc = sf_buf_failed(&meta) ? sf_error_set(err, SF_ENOMEM, "out of memory")
                                  : sf_objects_put_many(a->objects, puts, 2, err);
    sf_buf_free(&meta);
    if (rc == 0)
        atomic_fetch_add(&a->base.quarantined, 1);
    return rc;
}

typedef struct keys {
    char **key;
    size_t n, cap;
    bool failed; /* out of memory: the list is cut short */
} keys;

static int note_bin(void *ctx, const char *key)
{
    keys *k = ctx;
    size_t len = strlen(key);
    if (len < 4 || strcmp(key + len - 4, ".bin") != 0)
        return 0;
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 64;
        char **more = realloc(k->key, cap * sizeof *more);
        if (!more)
            return k->failed = true;
        k->key = more, k->cap = cap;
    }
    if (!(k->key[k->n] = strdup(key)))
        return k->failed = true;
    k->n++;
    return 0;
}

static int by_name(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The entry whose bytes are at key bkey (…/part-PPPP-POS.bin) and its
 * .json beside it, to fn. */
static int list_one(archive *a, const char *bkey, int (*fn)(void *ctx, const sf_quarantined *q),
                    void *ctx, sf_error *err)
{
    char jkey[QKEY_MAX];
    unsigned p;
    sf_pos pos, last;
    if (strncmp(bkey, QUARANTINE, strlen(QUARANTINE)) != 0 ||
        !parse_name(bkey + strlen(QUARANTINE), &p, &pos, &last, ".bin") ||
        sf_pos_cmp(&pos, &last) != 0)
        return 0;
    quarantine_key(jkey, p, &pos, "json");
    void *bytes = NULL, *meta = NULL;
    size_t blen, mlen;
    int rc = sf_objects_get(a->objects, bkey, &bytes, &blen, err);
    if (rc == 0 && (rc = sf_objects_get(a->objects, jkey, &meta, &mlen, err)) == SF_ENOENT) {
        sf_quarantined q = {p, pos, "(no .json beside it: reason unknown)", "unknown", bytes, blen};
        rc = fn(ctx, &q); /* put by hand, or damaged: listed all the same */
        free(bytes);
        return rc;
    }
    yajl_val doc = NULL;
    char *text = rc == 0 ? malloc(mlen + 1) : NULL;
    if (text) {
        memcpy(text, meta, mlen);
        text[mlen] = '\0';
        doc = yajl_tree_parse(text, NULL, 0);
        free(text);
    }
    const char *rpath[] = {"reason", NULL}, *tpath[] = {"quarantined_at", NULL};
    const char *reason = YAJL_GET_STRING(yajl_tree_get(doc, rpath, yajl_t_string));
    const char *at = YAJL_GET_STRING(yajl_tree_get(doc, tpath, yajl_t_string));
    if (rc == 0 && (!reason || !at))
        rc =
            sf_error_set(err, SF_ECORRUPT, "archive: %s is not what the archive sink writes", jkey);
    sf_quarantined q = {p, pos, reason, at, bytes, blen};
    if (rc == 0)
        rc = fn(ctx, &q);
    yajl_tree_free(doc);
    free(bytes);
    free(meta);
    return rc;
}

static int archive_quarantined(sf_sink *s, int (*fn)(void *ctx, const sf_quarantined *q), void *ctx,
                               sf_error *err)
{
    archive *a = (archive *)s;
    keys k = {0};
    int rc = sf_objects_list(a->objects, QUARANTINE, note_bin, &k, err);
    if (rc == 0 && k.failed)
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    if (k.n > 1)
        qsort(k.key, k.n, sizeof *k.key, by_name);
    for (size_t i = 0; rc == 0 && i < k.n; i++)
        rc = list_one(a, k.key[i], fn, ctx, err);
    for (size_t i = 0; i < k.n; i++)
        free(k.key[i]);
    free(k.key);
    return rc;
}

/* The record's own object, part-PPPP-POS-POS under its day, put
 * durably (the same record always makes the same object). */
static int put_retried(archive *a, uint32_t p, const sf_pos *pos, const sf_record *r, sf_error *err)
{
    char json[SF_JSON_RECORD_MAX], key[KEY_MAX];
    int n = sf_json_encode(r, json, sizeof json);
    buffer b = {0};
    if (n < 0 || append_line(&b, json, (size_t)n) < 0)
        return sf_error_set(err, SF_ENOMEM, "archive: out of memory");
    int64_t day = day_of(r->invoice_date);
    object_key(key, p, day, pos, pos);
    sf_archive_writer *w = NULL;
    int rc = sf_archive_writer_new(a->objects, a->opts.gzip_level, p + 1, NULL, &w, err);
    if (rc == 0)
        rc = sf_archive_writer_add(w, p, day, 1, key, &b.text, &b.len, &b.cap, err);
    if (rc == 0)
        rc = sf_archive_writer_flush(w, true, err);
    sf_archive_writer_free(w);
    free(b.text);
    return rc;
}

/* The object of p's offset (part-P-O-O under any day) a retry cut short
 * may have put: its key into found. */
typedef struct earlier {
    char name[KEY_MAX];
    char found[KEY_MAX];
} earlier;

static int note_earlier(void *ctx, const char *key)
{
    earlier *e = ctx;
    const char *slash = strrchr(key, '/');
    if (slash && strcmp(slash + 1, e->name) == 0)
        snprintf(e->found, sizeof e->found, "%s", key);
    return 0;
}

/* The record's object first, then the entry out of the quarantine (its
 * .bin, then its .json): a crash between leaves both, and a retry then
 * puts the same object again. One for the same offset under another day (a
 * retry cut short that was given another record) goes before: a crash then
 * leaves neither, and the entry still set aside. */
static int archive_retry(sf_sink *s, uint32_t p, const sf_pos *pos, const sf_record *r,
                         sf_error *err)
{
    archive *a = (archive *)s;
    char jkey[QKEY_MAX], bkey[QKEY_MAX], at[SF_POS_TEXT_MAX];
    quarantine_key(jkey, p, pos, "json");
    quarantine_key(bkey, p, pos, "bin");
    sf_archive_pos_text(pos, at);
    char plain[SF_POS_TEXT_MAX];
    sf_pos_format(pos, plain, sizeof plain);
    void *bytes = NULL;
    size_t len;
    int rc = sf_objects_get(a->objects, bkey, &bytes, &len, err);
    free(bytes);
    if (rc == SF_ENOENT)
        return sf_error_set(err, SF_ENOENT,
                            "archive: partition %u offset %s is not in its quarantine (retried "
                            "already?)",
                            p, plain);
    earlier e = {.found = ""};
    char key[KEY_MAX];
    snprintf(e.name, sizeof e.name, "part-%04u-%s-%s.ndjson.gz", p, at, at);
    object_key(key, p, day_of(r->invoice_date), pos, pos);
    if (rc == 0)
        rc = sf_objects_list(a->objects, PREFIX, note_earlier, &e, err);
    if (rc == 0 && e.found[0] && strcmp(e.found, key) != 0)
        rc = sf_objects_del(a->objects, e.found, err);
    if (rc == 0)
        rc = put_retried(a, p, pos, r, err);
    if (rc == 0)
        rc = sf_objects_del(a->objects, bkey, err);
    if (rc == 0 && (rc = sf_objects_del(a->objects, jkey, err)) == SF_ENOENT)
        rc = 0;
    return rc;
}

static const sf_sink_ops archive_ops = {
    .name = "archive",
    .resume = archive_resume,
    .apply = archive_apply,
    .flush = archive_flush,
    .close = archive_close,
    .quarantine = archive_quarantine,
    .quarantined = archive_quarantined,
    .retry = archive_retry,
};

int sf_archive_sink_new(sf_objects *objects, const sf_archive_opts *opts, sf_sink **out,
                        sf_error *err)
{
    archive *a = calloc(1, sizeof *a);
    if (!a)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    a->base.ops = &archive_ops;
    a->objects = objects;
    if (opts)
        a->opts = *opts;
    if (!a->opts.max_bytes)
        a->opts.max_bytes = 16u << 20;
    if (!a->opts.max_age_ms)
        a->opts.max_age_ms = 60000;
    if (a->opts.gzip_level < 1 || a->opts.gzip_level > 9)
        a->opts.gzip_level = SF_ARCHIVE_GZIP_LEVEL;
    *out = &a->base;
    return 0;
}

/* Keys compared as their numbers are: runs of digits by value (length
 * past leading zeros, then digits), the rest by bytes. For names of offsets
 * (zero-padded) that is strcmp's order; it also orders names of wider
 * positions, written without padding, whatever their lengths. */
static int key_cmp(const char *a, const char *b)
{
    static const char digits[] = "0123456789";
    while (*a && *b) {
        size_t na = strspn(a, digits), nb = strspn(b, digits);
        if (!na || !nb) {
            if (*a != *b)
                break;
            a++, b++;
            continue;
        }
        for (; na > 1 && *a == '0'; na--)
            a++;
        for (; nb > 1 && *b == '0'; nb--)
            b++;
        int c = na != nb ? (na < nb ? -1 : 1) : memcmp(a, b, na);
        if (c)
            return c;
        a += na, b += nb;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

static int count_object(void *ctx, const char *key)
{
    sf_archive_summary *out = ctx;
    out->objects++;
    if (key_cmp(key, out->last) > 0)
        snprintf(out->last, sizeof out->last, "%s", key);
    return 0;
}

int sf_archive_describe(const sf_sink_places *at, sf_archive_summary *out, sf_error *err)
{
    memset(out, 0, sizeof *out);
    sf_sink_location("archive", at, out->location, sizeof out->location);
    sf_objects *o = NULL;
    sf_objects_opts oo = {true, at->objects_opt.extra, at->objects_opt.nextra};
    int rc = sf_objects_open(out->location, &oo, &o, err);
    if (rc == SF_ENOENT) {
        sf_error_clear(err);
        return 0;
    }
    out->exists = rc == 0;
    if (rc == 0)
        rc = sf_objects_list(o, PREFIX, count_object, out, err);
    sf_objects_close(o);
    return rc;
}
