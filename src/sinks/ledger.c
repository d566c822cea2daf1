/*
 * ledger.c - the ledger of imported files in memory, and its file (see
 * ledger.h; the log's side is in ledger_log.c).
 *
 * A map from key (a file's content hash, or an archive partition) to two
 * range sets: the rows the log holds, and the rows an import under way has
 * reserved. Reserving rows in file order extends the last range, so the
 * importer's check costs a comparison or two per row, not a hash of its id.
 *
 * The file is text, so that an operator can read it (docs/operations.md
 * "The import ledger"): a header, one line per partition (read up to which
 * position, in decimal: the same text for the offsets of every ledger
 * written before positions were wider, so those read as they are; and the
 * fingerprint of the entry before it), one line per key
 * with its ranges, and a checksum line over everything before it, so that
 * a damaged file is told from a valid one, never half-trusted.
 */
#include "sinks/ledger_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/pack.h"

#define MAGIC "shopflow-ledger 1"

/* ---- ids ---- */

/* A decimal without sign or leading zero, fitting 64 bits. */
static bool parse_dec(const char *s, size_t n, uint64_t *v)
{
    if (n == 0 || n > 20 || (s[0] == '0' && n > 1))
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *v = x;
    return true;
}

/* 16 lowercase hex digits. */
static bool parse_hex16(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                            : 16u;
        if (d == 16)
            return false;
        x = x << 4 | d;
    }
    *v = x;
    return true;
}

/* "imp-<32 hex>", "arc-<partition>" or "arc-<partition>-<32 hex>": the key
 * of an id or of a file's line. */
static bool parse_key(const char *s, size_t n, sf_ledger_key *key)
{
    memset(key, 0, sizeof *key);
    uint64_t p;
    if (n == 36 && memcmp(s, "imp-", 4) == 0 && parse_hex16(s + 4, &key->hi) &&
        parse_hex16(s + 20, &key->lo)) {
        key->kind = SF_LEDGER_FILE;
        return true;
    }
    if (n <= 4 || memcmp(s, "arc-", 4) != 0)
        return false;
    const char *dash = memchr(s + 4, '-', n - 4);
    size_t pn = dash ? (size_t)(dash - s) - 4 : n - 4;
    if (!parse_dec(s + 4, pn, &p) || p > UINT32_MAX)
        return false;
    if (!dash) {
        key->kind = SF_LEDGER_ARCHIVE;
        key->lo = p;
        return true;
    }
    if (n - (size_t)(dash + 1 - s) != 32 || !parse_hex16(dash + 1, &key->hi) ||
        !parse_hex16(dash + 17, &key->lo))
        return false;
    key->kind = SF_LEDGER_RUN;
    key->part = (uint32_t)p;
    return true;
}

bool sf_ledger_parse_id(const char *id, size_t len, sf_ledger_key *key, uint64_t *row)
{
    if (len < 6 || (memcmp(id, "imp-", 4) != 0 && memcmp(id, "arc-", 4) != 0))
        return false;
    const char *dash = id + len - 1; /* the last '-': the row follows it */
    while (dash > id + 3 && *dash != '-')
        dash--;
    return dash > id + 3 && parse_key(id, (size_t)(dash - id), key) &&
           parse_dec(dash + 1, len - (size_t)(dash + 1 - id), row);
}

int sf_ledger_file_key(const char *hash, sf_ledger_key *key)
{
    char text[40];
    int n = snprintf(text, sizeof text, "imp-%s", hash);
    return n > 0 && (size_t)n < sizeof text && parse_key(text, (size_t)n, key) &&
                   key->kind == SF_LEDGER_FILE
               ? 0
               : SF_EINVAL;
}

void sf_ledger_run_key(uint32_t p, const sf_pos *first, sf_ledger_key *key)
{
    char text[SF_POS_TEXT_MAX];
    size_t n = sf_pos_format(first, text, sizeof text);
    XXH128_hash_t h = XXH3_128bits(text, n);
    *key = (sf_ledger_key){.hi = h.high64, .lo = h.low64, .kind = SF_LEDGER_RUN, .part = p};
}

void sf_ledger_key_prefix(const sf_ledger_key *key, char *out, size_t cap)
{
    if (key->kind == SF_LEDGER_FILE)
        snprintf(out, cap, "imp-%016" PRIx64 "%016" PRIx64 "-", key->hi, key->lo);
    else if (key->kind == SF_LEDGER_RUN)
        snprintf(out, cap, "arc-%" PRIu32 "-%016" PRIx64 "%016" PRIx64 "-", key->part, key->hi,
                 key->lo);
    else
        snprintf(out, cap, "arc-%" PRIu64 "-", key->lo);
}

/* ---- range sets ---- */

int sf_rangeset_add(sf_rangeset *s, uint64_t first, uint64_t last)
{
    if (s->n && first >= s->r[s->n - 1].first) { /* in order: the common case */
        sf_range *t = &s->r[s->n - 1];
        if (first <= t->last || first - t->last == 1) {
            if (last > t->last)
                t->last = last;
            return 0;
        }
    } else if (s->n) {            /* out of order: merge with every range it meets or touches */
        size_t lo = 0, hi = s->n; /* the first range ending at or after first - 1 */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (s->r[mid].last < first && first - s->r[mid].last > 1)
                lo = mid + 1;
            else
                hi = mid;
        }
        size_t end = lo;
        while (end < s->n && (s->r[end].first <= last || s->r[end].first - last == 1))
            end++;
        if (end > lo) {
            sf_range m = {s->r[lo].first < first ? s->r[lo].first : first,
                          s->r[end - 1].last > last ? s->r[end - 1].last : last};
            s->r[lo] = m;
            memmove(&s->r[lo + 1], &s->r[end], (s->n - end) * sizeof *s->r);
            s->n -= end - lo - 1;
            return 0;
        }
        if (s->n == s->cap) {
            size_t cap = s->cap * 2;
            sf_range *r = realloc(s->r, cap * sizeof *r);
            if (!r)
                return SF_ENOMEM;
            s->r = r, s->cap = cap;
        }
        memmove(&s->r[lo + 1], &s->r[lo], (s->n - lo) * sizeof *s->r);
        s->r[lo] = (sf_range){first, last};
        s->n++;
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        sf_range *r = realloc(s->r, cap * sizeof *r);
        if (!r)
            return SF_ENOMEM;
        s->r = r, s->cap = cap;
    }
    s->r[s->n++] = (sf_range){first, last};
    return 0;
}

uint64_t sf_rangeset_count(const sf_rangeset *s, uint64_t first, uint64_t last)
{
    size_t lo = 0, hi = s->n; /* the first range ending at or after first */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->r[mid].last < first)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint64_t n = 0;
    for (size_t i = lo; i < s->n && s->r[i].first <= last; i++) {
        uint64_t a = s->r[i].first > first ? s->r[i].first : first;
        uint64_t b = s->r[i].last < last ? s->r[i].last : last;
        n += b - a + 1;
    }
    return n;
}

/* ---- the ledger ---- */

int sf_ledger_new(uint32_t partitions, const char *location, sf_ledger **out, sf_error *err)
{
    sf_ledger *l = calloc(1, sizeof *l);
    if (l) {
        l->partitions = partitions;
        l->lock_fd = -1;
        sf_aggmap_init(&l->map, sizeof(sf_ledger_key), sizeof(sf_ledger_rows));
        pthread_mutex_init(&l->mu, NULL);
        l->end = calloc(partitions ? partitions : 1, sizeof *l->end);
        l->print = calloc(partitions ? partitions : 1, sizeof *l->print);
        l->landing = calloc(partitions ? partitions : 1, sizeof *l->landing);
        l->location = strdup(location ? location : "");
    }
    if (!l || !l->end || !l->print || !l->landing || !l->location) {
        sf_ledger_free(l);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    *out = l;
    return 0;
}

void sf_ledger_free(sf_ledger *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->map.count; i++) {
        sf_ledger_rows *v = sf_aggmap_value(&l->map, i);
        free(v->held.r);
        free(v->reserved.r);
    }
    sf_aggmap_free(&l->map);
    pthread_mutex_destroy(&l->mu);
    free(l->end);
    free(l->print);
    free(l->landing);
    free(l->location);
    free(l->path);
    if (l->lock_fd >= 0)
        close(l->lock_fd);
    free(l);
}

int sf_ledger_grow(sf_ledger *l, uint32_t partitions)
{
    if (partitions <= l->partitions)
        return 0;
    sf_pos *end = realloc(l->end, partitions * sizeof *end);
    if (end)
        l->end = end;
    uint64_t *print = end ? realloc(l->print, partitions * sizeof *print) : NULL;
    if (print)
        l->print = print;
    pthread_mutex_lock(&l->mu);
    sf_ledger_landing *landing = print ? realloc(l->landing, partitions * sizeof *landing) : NULL;
    if (landing) {
        l->landing = landing;
        size_t more = partitions - l->partitions;
        memset(l->end + l->partitions, 0, more * sizeof *l->end);
        memset(l->print + l->partitions, 0, more * sizeof *l->print);
        memset(l->landing + l->partitions, 0, more * sizeof *l->landing);
        l->partitions = partitions;
        l->dirty = true;
    }
    pthread_mutex_unlock(&l->mu);
    return landing ? 0 : SF_ENOMEM;
}

int sf_ledger_handle(sf_ledger *l, const sf_ledger_key *key, size_t *h, sf_error *err)
{
    /* An index into the map's entries: values move when it grows, indices
     * do not. */
    uint8_t *v = sf_aggmap_get(&l->map, key, NULL);
    if (!v)
        return sf_error_set(err, SF_ENOMEM, "out of memory for the import ledger");
    *h = (size_t)(v - l->map.entries - l->map.val_offset) / l->map.entry_size;
    return 0;
}

int sf_ledger_add(sf_ledger *l, const sf_ledger_key *key, uint64_t first, uint64_t last,
                  sf_error *err)
{
    sf_ledger_rows *v = first <= last ? sf_aggmap_get(&l->map, key, NULL) : NULL;
    if (first > last)
        return sf_error_set(err, SF_EINVAL, "an empty range of rows");
    if (!v || sf_rangeset_add(&v->held, first, last) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    return 0;
}

uint64_t sf_ledger_count(sf_ledger *l, const sf_ledger_key *key, uint64_t first, uint64_t last)
{
    sf_ledger_rows *v = sf_aggmap_get(&l->map, key, NULL); /* an empty key is never written */
    return v ? sf_rangeset_count(&v->held, first, last) +
                   sf_rangeset_count(&v->reserved, first, last)
             : 0;
}

size_t sf_ledger_keys(const sf_ledger *l)
{
    return l->map.count;
}

size_t sf_ledger_ranges(const sf_ledger *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->map.count; i++)
        n += ((const sf_ledger_rows *)sf_aggmap_value(&l->map, i))->held.n;
    return n;
}

uint32_t sf_ledger_partitions(const sf_ledger *l)
{
    return l->partitions;
}

void sf_ledger_position(const sf_ledger *l, uint32_t partition, sf_pos *end, uint64_t *print)
{
    *end = l->end[partition];
    *print = l->print[partition];
}

void sf_ledger_set_position(sf_ledger *l, uint32_t partition, const sf_pos *end, uint64_t print)
{
    l->end[partition] = *end;
    l->print[partition] = print;
}

int sf_ledger_add_entries(sf_ledger *l, const sf_stream_entry *e, size_t n, sf_error *err)
{
    /* Rows of a file come in runs: add a run at a time. */
    sf_ledger_key run = {0}, key;
    uint64_t first = 0, last = 0, row;
    bool open = false;
    for (size_t i = 0; i <= n; i++) {
        const char *id = NULL, *inv;
        size_t idlen = 0, invlen;
        bool ours = i < n && sf_packed_keys(e[i].data, e[i].len, &id, &idlen, &inv, &invlen) == 0 &&
                    sf_ledger_parse_id(id, idlen, &key, &row);
        if (ours && open && memcmp(&key, &run, sizeof key) == 0 && row == last + 1) {
            last = row;
            continue;
        }
        if (open && sf_ledger_add(l, &run, first, last, err) < 0)
            return err->code;
        open = ours;
        if (ours)
            run = key, first = last = row;
    }
    return 0;
}

/* ---- an import's reservations ---- */

int sf_ledger_reserve(sf_ledger *l, size_t h, uint64_t row, bool *reserved, sf_error *err)
{
    sf_ledger_rows *v = sf_aggmap_value(&l->map, h);
    *reserved = false;
    if (sf_rangeset_count(&v->held, row, row) || sf_rangeset_count(&v->reserved, row, row))
        return 0;
    if (sf_rangeset_add(&v->reserved, row, row) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory for the import ledger");
    l->reserved_rows++;
    *reserved = true;
    return 0;
}

void sf_ledger_landed(sf_ledger *l, const uint8_t *data, const uint32_t *lens,
                      const uint32_t *parts, const sf_pos *positions, size_t n, size_t reserved)
{
    pthread_mutex_lock(&l->mu);
    size_t at = 0;
    for (size_t i = 0; i < n; at += lens[i++]) {
        if (parts[i] >= l->partitions) { /* the stream grew meanwhile */
            l->landed_beyond = true;
            continue;
        }
        sf_ledger_landing *g = &l->landing[parts[i]];
        uint64_t offset;
        if (!sf_pos_u64(&positions[i], &offset)) { /* the log is read instead (ledger_log.c) */
            g->wide = true;
            offset = UINT64_MAX;
        }
        if (!g->count || offset < g->min)
            g->min = offset;
        if (!g->count || offset > g->max) {
            g->max = offset;
            g->newest = data + at, g->newest_len = lens[i];
        }
        g->count++;
    }
    /* The fingerprint of each partition's newest record: once per append,
     * not once per record. */
    for (uint32_t p = 0; p < l->partitions; p++) {
        sf_ledger_landing *g = &l->landing[p];
        if (g->newest)
            g->print = sf_ledger_print(g->newest, g->newest_len);
        g->newest = NULL;
    }
    l->landed_reserved += reserved;
    pthread_mutex_unlock(&l->mu);
}

int sf_ledger_settle_reserved(sf_ledger *l, bool landed)
{
    int rc = 0;
    for (size_t i = 0; i < l->map.count; i++) {
        sf_ledger_rows *v = sf_aggmap_value(&l->map, i);
        for (size_t j = 0; landed && rc == 0 && j < v->reserved.n; j++)
            rc = sf_rangeset_add(&v->held, v->reserved.r[j].first, v->reserved.r[j].last);
        v->reserved.n = 0;
    }
    l->reserved_rows = 0;
    pthread_mutex_lock(&l->mu);
    memset(l->landing, 0, l->partitions * sizeof *l->landing);
    l->landed_reserved = 0;
    l->landed_beyond = false;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

/* ---- the file ---- */

typedef struct keyed {
    sf_ledger_key key;
    size_t index;
} keyed;

static int by_key(const void *x, const void *y)
{
    /* "arc-P" before "arc-P-HASH" before "imp-" */
    static const int rank[] = {[SF_LEDGER_ARCHIVE] = 0, [SF_LEDGER_RUN] = 1, [SF_LEDGER_FILE] = 2};
    const sf_ledger_key *a = &((const keyed *)x)->key, *b = &((const keyed *)y)->key;
    if (a->kind != b->kind)
        return rank[a->kind] < rank[b->kind] ? -1 : 1;
    if (a->part != b->part)
        return a->part < b->part ? -1 : 1;
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    return (a->lo > b->lo) - (a->lo < b->lo);
}

/* The text of l, keys sorted: the same log read alike gives the same file. */
static int format(const sf_ledger *l, sf_buf *b)
{
    keyed *order = malloc((l->map.count ? l->map.count : 1) * sizeof *order);
    if (!order)
        return SF_ENOMEM;
    for (size_t i = 0; i < l->map.count; i++)
        order[i] = (keyed){*(const sf_ledger_key *)sf_aggmap_key(&l->map, i), i};
    qsort(order, l->map.count, sizeof *order, by_key);
    sf_buf_puts(b, MAGIC "\nstream ");
    for (const char *c = l->location; *c; c++) /* one line, whatever the name */
        sf_buf_add(b, *c == '\n' || *c == '\r' ? "?" : c, 1);
    sf_buf_printf(b, "\npartitions %" PRIu32 "\n", l->partitions);
    for (uint32_t p = 0; p < l->partitions; p++) {
        char end[SF_POS_TEXT_MAX];
        sf_pos_format(&l->end[p], end, sizeof end);
        sf_buf_printf(b, "end %" PRIu32 " %s %016" PRIx64 "\n", p, end, l->print[p]);
    }
    for (size_t i = 0; i < l->map.count; i++) {
        const sf_ledger_rows *v = sf_aggmap_value(&l->map, order[i].index);
        if (!v->held.n)
            continue;
        char prefix[64];
        sf_ledger_key_prefix(&order[i].key, prefix, sizeof prefix);
        sf_buf_add(b, prefix, strlen(prefix) - 1); /* without its '-' */
        for (size_t j = 0; j < v->held.n; j++)
            if (v->held.r[j].first == v->held.r[j].last)
                sf_buf_printf(b, " %" PRIu64, v->held.r[j].first);
            else
                sf_buf_printf(b, " %" PRIu64 "-%" PRIu64, v->held.r[j].first, v->held.r[j].last);
        sf_buf_add(b, "\n", 1);
    }
    free(order);
    sf_buf_printf(b, "checksum %016" PRIx64 "\n", (uint64_t)XXH3_64bits(b->data, b->len));
    return sf_buf_failed(b) ? SF_ENOMEM : 0;
}

int sf_ledger_write(const sf_ledger *l, const char *path, sf_error *err)
{
    sf_buf b = SF_BUF_INIT;
    if (format(l, &b) < 0) {
        sf_buf_free(&b);
        return sf_error_set(err, SF_ENOMEM, "out of memory writing %s", path);
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0;
    for (size_t at = 0; ok && at < b.len;) {
        ssize_t w = write(fd, b.data + at, b.len - at);
        ok = w > 0;
        at += ok ? (size_t)w : 0;
    }
    ok = ok && fsync(fd) == 0;
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && ok)
        ok = false, e = errno;
    if (ok && rename(tmp, path) != 0)
        ok = false, e = errno;
    sf_buf_free(&b);
    if (!ok) {
        unlink(tmp);
        return sf_error_set(err, SF_EIO, "%s: cannot write the import ledger: %s", path,
                            strerror(e));
    }
    /* Not checked: a ledger whose rename a crash takes back is the one
     * before, or none, and either is read past its positions or rebuilt
     * from the log (ledger.h); nothing the log holds is lost with it. */
    (void)sf_fsync_parent(path, NULL);
    return 0;
}

/* ---- reading the file back ---- */

typedef struct reader {
    const char *p, *end; /* the text before the checksum line */
    unsigned line;
    sf_error *err;
    const char *path;
} reader;

static int damaged(reader *r, const char *why)
{
    return sf_error_set(r->err, SF_EFORMAT, "%s: line %u: %s", r->path, r->line, why);
}

/* The next line (without its '\n') into *s, *n; false at the end. */
static bool next_line(reader *r, const char **s, size_t *n)
{
    if (r->p >= r->end)
        return false;
    const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
    *s = r->p;
    *n = (size_t)(nl - r->p); /* the text ends with '\n' (checked) */
    r->p = nl + 1;
    r->line++;
    return true;
}

/* The next space-separated word of [*s, end) into w, wn. */
static bool word(const char **s, const char *end, const char **w, size_t *wn)
{
    if (*s >= end)
        return false;
    const char *sp = memchr(*s, ' ', (size_t)(end - *s));
    *w = *s;
    *wn = (size_t)((sp ? sp : end) - *s);
    *s = sp ? sp + 1 : end;
    return *wn > 0;
}

static int read_positions(reader *r, sf_ledger *l)
{
    for (uint32_t p = 0; p < l->partitions; p++) {
        const char *s, *w[4];
        size_t n, wn[4];
        uint64_t part;
        if (!next_line(r, &s, &n))
            return damaged(r, "the partitions' positions are cut short");
        const char *e = s + n;
        int k = 0;
        while (k < 4 && word(&s, e, &w[k], &wn[k]))
            k++;
        if (k != 4 || s != e || wn[0] != 3 || memcmp(w[0], "end", 3) != 0 ||
            !parse_dec(w[1], wn[1], &part) || part != p ||
            sf_pos_parse(w[2], wn[2], &l->end[p], NULL) < 0 || wn[3] != 16 ||
            !parse_hex16(w[3], &l->print[p]))
            return damaged(r, "not \"end PARTITION POSITION FINGERPRINT\" of the next partition");
    }
    return 0;
}

/* "FIRST-LAST" or "ROW". */
static bool parse_range(const char *w, size_t n, sf_range *out)
{
    const char *dash = memchr(w, '-', n);
    if (!dash)
        return parse_dec(w, n, &out->first) && (out->last = out->first, true);
    return parse_dec(w, (size_t)(dash - w), &out->first) &&
           parse_dec(dash + 1, n - (size_t)(dash + 1 - w), &out->last) && out->first < out->last;
}

static int read_keys(reader *r, sf_ledger *l)
{
    const char *s;
    size_t n;
    while (next_line(r, &s, &n)) {
        const char *e = s + n, *w;
        size_t wn;
        sf_ledger_key key;
        bool added;
        if (!word(&s, e, &w, &wn) || !parse_key(w, wn, &key))
            return damaged(r, "not \"imp-HASH RANGES\", \"arc-PARTITION RANGES\" nor "
                              "\"arc-PARTITION-HASH RANGES\"");
        sf_ledger_rows *v = sf_aggmap_get(&l->map, &key, &added);
        if (!v)
            return sf_error_set(r->err, SF_ENOMEM, "out of memory");
        if (!added)
            return damaged(r, "a key given twice");
        while (word(&s, e, &w, &wn)) {
            sf_range g;
            if (!parse_range(w, wn, &g))
                return damaged(r, "a range is not ROW or FIRST-LAST");
            if (v->held.n && (g.first == 0 || g.first - 1 <= v->held.r[v->held.n - 1].last))
                return damaged(r, "ranges out of order, overlapping or touching");
            if (sf_rangeset_add(&v->held, g.first, g.last) < 0)
                return sf_error_set(r->err, SF_ENOMEM, "out of memory");
        }
        if (s != e || !v->held.n)
            return damaged(r, "a key without ranges, or a stray space");
    }
    return 0;
}

/* Header, positions, keys of text[0, len), which ends before the
 * checksum line. */
static int parse(const char *path, const char *text, size_t len, sf_ledger **out, sf_error *err)
{
    reader r = {text, text + len, 0, err, path};
    const char *s, *loc;
    size_t n, locn;
    uint64_t parts;
    if (!next_line(&r, &s, &n) || n != strlen(MAGIC) || memcmp(s, MAGIC, n) != 0)
        return damaged(&r, "not a shopflow ledger (\"" MAGIC "\" first)");
    if (!next_line(&r, &loc, &locn) || locn < 7 || memcmp(loc, "stream ", 7) != 0)
        return damaged(&r, "not \"stream LOCATION\"");
    if (!next_line(&r, &s, &n) || n < 12 || memcmp(s, "partitions ", 11) != 0 ||
        !parse_dec(s + 11, n - 11, &parts) || parts < 1 || parts > SF_STREAM_PARTITIONS_MAX)
        return damaged(&r, "not \"partitions N\"");
    char location[4096];
    snprintf(location, sizeof location, "%.*s", (int)(locn - 7), loc + 7);
    sf_ledger *l;
    int rc = sf_ledger_new((uint32_t)parts, location, &l, err);
    if (rc == 0 && (rc = read_positions(&r, l)) == 0)
        rc = read_keys(&r, l);
    if (rc < 0) {
        sf_ledger_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

int sf_ledger_read(const char *path, sf_ledger **out, sf_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? sf_error_set(err, SF_ENOENT, "%s: no such file", path)
                               : sf_error_set(err, SF_EIO, "%s: %s", path, strerror(errno));
    sf_buf b = SF_BUF_INIT;
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        sf_buf_add(&b, chunk, got);
    bool bad_read = ferror(f);
    fclose(f);
    if (bad_read || sf_buf_failed(&b)) {
        sf_buf_free(&b);
        return sf_error_set(err, bad_read ? SF_EIO : SF_ENOMEM, "%s: cannot read it", path);
    }
    /* The last line is "checksum HEX\n", over every byte before it. */
    size_t n = b.len, at = n ? n - 1 : 0;
    while (at > 0 && b.data[at - 1] != '\n')
        at--;
    const size_t line = strlen("checksum ") + 16 + 1;
    uint64_t sum;
    int rc;
    if (n < line || b.data[n - 1] != '\n' || n - at != line ||
        memcmp(b.data + at, "checksum ", 9) != 0 || !parse_hex16(b.data + at + 9, &sum))
        rc = sf_error_set(err, SF_EFORMAT, "%s: no checksum line at its end (cut short?)", path);
    else if (XXH3_64bits(b.data, at) != sum)
        rc = sf_error_set(err, SF_EFORMAT, "%s: its checksum does not match its content", path);
    else
        rc = parse(path, b.data, at, out, err);
    sf_buf_free(&b);
    return rc;
}
