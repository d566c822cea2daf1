/*
 * import_archive.c - rebuilding a stream from the archive's objects (see
 * import.h): the recovery path after a lost disk or a schema change.
 *
 * An object's name is its place in the stream (archive_name.h): partition
 * P, positions FIRST to LAST, one NDJSON line per record in stream order.
 * That is all the import needs: sorted by (P, FIRST), as positions compare,
 * the objects replay each partition in its order. Records that have no
 * event id of their own are named by their place in the archive: in an
 * object of offsets, FIRST + line index, which is each record's original
 * offset ("arc-P-OFFSET"); in a run (an object of wider positions, Kinesis's
 * archive, whose records' own positions are not kept) the run and the line
 * index ("arc-P-HASH-INDEX", HASH of FIRST: ledger.h). Either is the same
 * every time the same archive is read, so the import ledger keeps them as it
 * keeps a file's rows, and a rebuild run again loads nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "sinks/archive_name.h"
#include "sinks/import.h"
#include "storage/objects/objects.h"

#define PREFIX SF_ARCHIVE_PREFIX

/* "part-PPPP-FIRST-LAST.ndjson.gz" exactly as the archive sink names it. */
static bool parse_name(const char *path, sf_archive_part *out)
{
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    uint32_t p;
    sf_pos first, last;
    if (!sf_archive_name_parse(name, &p, &first, &last))
        return false;
    *out = (sf_archive_part){
        .partition = p, .first = first, .last = last, .run = sf_archive_is_run(&last)};
    return true;
}

static int not_an_object(const char *path, sf_error *err)
{
    return sf_error_set(err, SF_EUSAGE,
                        "%s: not an archive object (named part-PPPP-FIRST-LAST.ndjson.gz by the "
                        "archive sink)",
                        path);
}

/* The object at key of the set's store `store` (at location root). */
static int add_object(sf_archive_set *set, uint32_t store, const char *root, const char *key,
                      sf_error *err)
{
    sf_archive_part part;
    char *path = NULL;
    if (!parse_name(key, &part))
        return not_an_object(key, err);
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 256;
        sf_archive_part *np = realloc(set->parts, cap * sizeof *np);
        if (!np)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        set->parts = np;
        set->cap = cap;
    }
    size_t rl = strlen(root);
    if (!(path = malloc(rl + strlen(key) + 2)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    sprintf(path, "%s/%s", root, key);
    part.path = path;
    part.key = path + rl + 1;
    part.store = store;
    set->parts[set->n++] = part;
    return 0;
}

/* Keep o (opened at a location of the set) as stores[*index]. */
static int keep_store(sf_archive_set *set, sf_objects *o, uint32_t *index, sf_error *err)
{
    sf_objects **more = realloc(set->stores, (set->nstores + 1) * sizeof *more);
    if (!more) {
        sf_objects_close(o);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    set->stores = more;
    *index = set->nstores;
    set->stores[set->nstores++] = o;
    return 0;
}

/* Drop the last store kept (it held nothing). */
static void drop_store(sf_archive_set *set)
{
    sf_objects_close(set->stores[--set->nstores]);
}

typedef struct lister {
    sf_archive_set *set;
    uint32_t store;
    const char *root;
    const char *only; /* a key listed for itself, or NULL: every one */
    size_t added;
    sf_error *err;
    int rc;
} lister;

static int list_one(void *ctx, const char *key)
{
    lister *l = ctx;
    if (l->only && strcmp(key, l->only) != 0)
        return 0;
    l->rc = add_object(l->set, l->store, l->root, key, l->err);
    l->added += l->rc == 0;
    return l->rc < 0;
}

/* Open root read-only, keep it, and add the objects whose keys start with
 * prefix (only: just that key). *added says how many; with none the store is
 * not kept. */
static int add_listed(sf_archive_set *set, const char *root, const char *prefix, const char *only,
                      size_t *added, sf_error *err)
{
    sf_objects *o;
    lister l = {set, 0, root, only, 0, err, 0};
    sf_objects_opts oo = {true, set->objects_opt.extra, set->objects_opt.nextra};
    int rc = sf_objects_open(root, &oo, &o, err);
    if (rc == 0)
        rc = keep_store(set, o, &l.store, err);
    if (rc < 0)
        return rc;
    rc = sf_objects_list(o, prefix, list_one, &l, err);
    if (l.rc < 0)
        rc = l.rc;
    if (rc == 0 && l.added == 0)
        drop_store(set);
    *added = l.added;
    return rc;
}

/* One object named by its location: its store is the location above it. */
static int add_one(sf_archive_set *set, const char *location, sf_error *err)
{
    char root[4096];
    const char *slash = strrchr(location, '/'), *key = slash ? slash + 1 : location;
    snprintf(root, sizeof root, "%.*s", slash ? (int)(slash - location) : 1,
             slash ? location : ".");
    size_t added = 0;
    int rc = add_listed(set, root, key, key, &added, err);
    if (rc == SF_ENOENT || rc == SF_EINVAL || (rc == 0 && added == 0))
        rc = sf_error_set(err, SF_ENOENT, "%s: cannot read (no such object)", location);
    return rc;
}

int sf_archive_set_add(sf_archive_set *set, const char *location, sf_error *err)
{
    sf_archive_part named;
    if (parse_name(location, &named))
        return add_one(set, location, err);
    /* An archive, or a data folder's: raw/transactions/ at location, or under
     * location/archive. */
    char data_archive[4200];
    snprintf(data_archive, sizeof data_archive, "%s/archive", location);
    size_t added = 0;
    int rc = add_listed(set, location, PREFIX, NULL, &added, err);
    if (rc == SF_EINVAL) /* a file in the place of a store */
        return not_an_object(location, err);
    if (rc == SF_ENOENT)
        return sf_error_set(err, SF_ENOENT, "%s: no such archive or archive object", location);
    if (rc == 0 && added == 0 &&
        (rc = add_listed(set, data_archive, PREFIX, NULL, &added, err)) == SF_ENOENT)
        rc = 0;
    if (rc == 0 && added == 0)
        rc = sf_error_set(err, SF_EUSAGE,
                          "%s holds no archive (no object under " PREFIX " in it nor in %s)",
                          location, data_archive);
    return rc;
}

static int by_position(const void *x, const void *y)
{
    const sf_archive_part *a = x, *b = y;
    if (a->partition != b->partition)
        return a->partition < b->partition ? -1 : 1;
    int c = sf_pos_cmp(&a->first, &b->first);
    return c ? c : sf_pos_cmp(&a->last, &b->last);
}

static void note_gap(sf_archive_set *set, uint32_t p, uint64_t from, uint64_t to)
{
    if (!set->missing)
        snprintf(set->gap, sizeof set->gap, "partition %u: offsets %llu to %llu", p,
                 (unsigned long long)from, (unsigned long long)to);
    set->missing += to - from + 1;
}

/* Count c (the object after prev, NULL: the first of its partition): its
 * records when its name says them, the offsets missing before it. */
static void count_part(sf_archive_set *set, const sf_archive_part *prev, const sf_archive_part *c)
{
    uint64_t first = 0, last = 0, expect = 0;
    if (c->run) { /* how many, and what is missing before: only its lines say */
        set->runs++;
        return;
    }
    sf_pos_u64(&c->first, &first);
    sf_pos_u64(&c->last, &last);
    if (prev) /* an object of offsets before one of offsets */
        sf_pos_u64(&prev->last, &expect), expect++;
    if (first > expect)
        note_gap(set, c->partition, expect, first - 1);
    set->records += last - first + 1;
}

int sf_archive_set_finish(sf_archive_set *set, sf_error *err)
{
    qsort(set->parts, set->n, sizeof *set->parts, by_position);
    size_t kept = 0;
    set->records = set->missing = 0;
    set->runs = 0;
    set->partitions = 0;
    for (size_t i = 0; i < set->n; i++) {
        sf_archive_part *c = &set->parts[i], *prev = kept ? &set->parts[kept - 1] : NULL;
        bool same_part = prev && prev->partition == c->partition;
        if (same_part && sf_pos_cmp(&prev->first, &c->first) == 0 &&
            sf_pos_cmp(&prev->last, &c->last) == 0) {
            free(c->path); /* the same object given twice */
            continue;
        }
        if (same_part && sf_pos_cmp(&c->first, &prev->last) <= 0) {
            char at[SF_POS_TEXT_MAX];
            sf_pos_format(&c->first, at, sizeof at);
            int rc = sf_error_set(err, SF_EFORMAT,
                                  "%s and %s overlap (both hold partition %u %s %s): not one "
                                  "archive",
                                  prev->path, c->path, c->partition,
                                  prev->run ? "position" : "offset", at);
            while (i < set->n) /* keep the set whole for sf_archive_set_free */
                set->parts[kept++] = set->parts[i++];
            set->n = kept;
            return rc;
        }
        count_part(set, same_part ? prev : NULL, c);
        set->parts[kept++] = *c;
        if (c->partition + 1 > set->partitions)
            set->partitions = c->partition + 1;
    }
    set->n = kept;
    return 0;
}

int sf_archive_part_read(const sf_archive_set *set, const sf_archive_part *part, void **data,
                         size_t *len, sf_error *err)
{
    return sf_objects_get(set->stores[part->store], part->key, data, len, err);
}

void sf_archive_set_free(sf_archive_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->parts[i].path);
    free(set->parts);
    for (uint32_t i = 0; i < set->nstores; i++)
        sf_objects_close(set->stores[i]);
    free(set->stores);
    *set = (sf_archive_set){0};
}

typedef struct object_errors {
    int (*on_error)(void *ctx, const char *path, const sf_decode_error *e);
    void *ctx;
    const char *path;
} object_errors;

static int forward_error(void *ctx, const sf_decode_error *e)
{
    object_errors *o = ctx;
    return o->on_error ? o->on_error(o->ctx, o->path, e) : 0;
}

/* Whether an object of st.records records is what p's name says; if not,
 * why into err. */
static int check_count(const sf_archive_part *p, uint64_t records, sf_error *err)
{
    uint64_t first = 0, last = 0;
    bool one = sf_pos_cmp(&p->first, &p->last) == 0;
    if (p->run && (one ? records == 1 : records >= 2))
        return 0;
    if (p->run)
        return sf_error_set(err, SF_EFORMAT,
                            "%s holds %llu records, its name says %s: not imported", p->path,
                            (unsigned long long)records, one ? "one" : "two or more");
    sf_pos_u64(&p->first, &first);
    sf_pos_u64(&p->last, &last);
    if (records == last - first + 1)
        return 0;
    return sf_error_set(err, SF_EFORMAT, "%s holds %llu records, its name says %llu: not imported",
                        p->path, (unsigned long long)records,
                        (unsigned long long)(last - first + 1));
}

/* Validate every object: its records, and as many as its name says. Each
 * is read whole through its store's get, and decoded from memory. */
static int validate_all(const sf_archive_set *set, object_errors *oe, sf_progress *progress,
                        sf_import_result *res, sf_error *err)
{
    sf_decode_opts opts = {.format = SF_FORMAT_JSON};
    uint64_t done = 0; /* records of the objects validated */
    for (size_t i = 0; i < set->n; i++) {
        const sf_archive_part *p = &set->parts[i];
        sf_decode_stats st = {0};
        oe->path = p->path;
        void *data = NULL;
        size_t len = 0;
        int rc = sf_archive_part_read(set, p, &data, &len, err);
        if (rc == 0)
            rc = sf_import_validate_bytes(p->path, data, len, &opts, forward_error, oe, &st, err);
        free(data);
        res->rows += st.records;
        res->invalid += st.invalid;
        if (rc == 0)
            rc = check_count(p, st.records, err);
        if (rc < 0)
            return rc;
        done += st.records;
        if (progress) /* runs say how many only when read: no total then */
            sf_progress_update(progress, res->rows, done, set->runs ? 0 : 2 * set->records);
    }
    return 0;
}

int sf_import_archive(sf_import_target *t, const sf_archive_set *set,
                      int (*on_error)(void *ctx, const char *path, const sf_decode_error *e),
                      void *ctx, sf_progress *progress, sf_import_result *res, sf_error *err)
{
    memset(res, 0, sizeof *res);
    res->input_error = true;
    object_errors oe = {on_error, ctx, NULL};
    int rc = validate_all(set, &oe, progress, res, err);
    if (rc < 0)
        return rc;
    res->input_error = false;
    sf_importer *im = NULL;
    if ((rc = sf_importer_new(t, &im, err)) < 0)
        return rc;
    sf_decode_opts opts = {.format = SF_FORMAT_JSON};
    for (size_t i = 0; i < set->n && rc == 0; i++) {
        const sf_archive_part *p = &set->parts[i];
        sf_ledger_key key = {.kind = SF_LEDGER_ARCHIVE, .lo = p->partition};
        uint64_t base = 0; /* a run's records: by their index */
        if (p->run)
            sf_ledger_run_key(p->partition, &p->first, &key);
        else
            sf_pos_u64(&p->first, &base);
        void *data = NULL;
        size_t len = 0;
        rc = sf_archive_part_read(set, p, &data, &len, err);
        if (rc == 0)
            rc = sf_importer_add_bytes(im, p->path, data, len, &opts, &key, base, err);
        free(data);
        uint64_t imported, dups;
        sf_importer_totals(im, &imported, &dups);
        if (progress)
            sf_progress_update(progress, imported + dups, res->rows + imported + dups,
                               2 * res->rows);
    }
    if (rc == 0)
        rc = sf_importer_flush(im, err);
    sf_importer_totals(im, &res->imported, &res->duplicates);
    sf_importer_free(im);
    return rc;
}
