/*
 * import_archive.c - rebuilding a stream from the archive's objects (see
 * import.h): the recovery path after a lost disk or a schema change.
 *
 * An object's name is its position (archive.c): partition P, offsets FIRST
 * to LAST, one NDJSON line per record in offset order. That is all the
 * import needs: sorted by (P, FIRST), the objects replay each partition in
 * its order, and FIRST + line index is each record's original offset, which
 * names records that have no event id of their own ("arc-P-OFFSET": the
 * import ledger keeps these as it keeps a file's rows, ledger.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/progress.h"
#include "sinks/import.h"
#include "storage/objects/objects.h"

#define PREFIX "raw/transactions/"

/* "part-PPPP-FIRST-LAST.ndjson.gz" exactly as the archive sink names it. */
static bool parse_name(const char *path, sf_archive_part *out)
{
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    unsigned p;
    unsigned long long first, last;
    char again[96];
    if (sscanf(name, "part-%u-%llu-%llu.ndjson.gz", &p, &first, &last) != 3 || first > last)
        return false;
    snprintf(again, sizeof again, "part-%04u-%020llu-%020llu.ndjson.gz", p, first, last);
    if (strcmp(again, name) != 0)
        return false;
    *out = (sf_archive_part){NULL, p, first, last, 0};
    return true;
}

static int add_object(sf_archive_set *set, const char *path, sf_error *err)
{
    sf_archive_part part;
    struct stat st;
    if (!parse_name(path, &part))
        return sf_error_set(err, SF_EUSAGE,
                            "%s: not an archive object (named "
                            "part-PPPP-FIRST-LAST.ndjson.gz by the archive sink)",
                            path);
    if (stat(path, &st) != 0)
        return sf_error_set(err, SF_ENOENT, "%s: cannot read", path);
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 256;
        sf_archive_part *np = realloc(set->parts, cap * sizeof *np);
        if (!np)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        set->parts = np;
        set->cap = cap;
    }
    if (!(part.path = strdup(path)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    part.bytes = (uint64_t)st.st_size;
    set->parts[set->n++] = part;
    return 0;
}

typedef struct lister {
    sf_archive_set *set;
    const char *root;
    sf_error *err;
    int rc;
} lister;

static int list_one(void *ctx, const char *key)
{
    lister *l = ctx;
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", l->root, key);
    l->rc = add_object(l->set, path, l->err);
    return l->rc < 0;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int sf_archive_set_add(sf_archive_set *set, const char *path, sf_error *err)
{
    char root[4096], probe[4200];
    if (!is_dir(path))
        return add_object(set, path, err);
    snprintf(root, sizeof root, "%s", path);
    snprintf(probe, sizeof probe, "%s/" PREFIX, root);
    if (!is_dir(probe)) { /* a data folder? */
        snprintf(root, sizeof root, "%s/archive", path);
        snprintf(probe, sizeof probe, "%s/" PREFIX, root);
        if (!is_dir(probe))
            return sf_error_set(err, SF_EUSAGE,
                                "%s holds no archive (no " PREFIX " in it nor in %s/archive)", path,
                                path);
    }
    sf_objects *o;
    int rc = sf_objects_open(root, &o, err);
    if (rc < 0)
        return rc;
    lister l = {set, root, err, 0};
    rc = sf_objects_list(o, PREFIX, list_one, &l, err);
    sf_objects_close(o);
    return l.rc < 0 ? l.rc : rc;
}

static int by_position(const void *x, const void *y)
{
    const sf_archive_part *a = x, *b = y;
    if (a->partition != b->partition)
        return a->partition < b->partition ? -1 : 1;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    return (a->last > b->last) - (a->last < b->last);
}

static void note_gap(sf_archive_set *set, uint32_t p, uint64_t from, uint64_t to)
{
    if (!set->missing)
        snprintf(set->gap, sizeof set->gap, "partition %u: offsets %llu to %llu", p,
                 (unsigned long long)from, (unsigned long long)to);
    set->missing += to - from + 1;
}

int sf_archive_set_finish(sf_archive_set *set, sf_error *err)
{
    qsort(set->parts, set->n, sizeof *set->parts, by_position);
    size_t kept = 0;
    set->records = set->bytes = set->missing = 0;
    set->partitions = 0;
    for (size_t i = 0; i < set->n; i++) {
        sf_archive_part *c = &set->parts[i], *prev = kept ? &set->parts[kept - 1] : NULL;
        bool same_part = prev && prev->partition == c->partition;
        if (same_part && prev->first == c->first && prev->last == c->last) {
            free(c->path); /* the same object given twice */
            continue;
        }
        if (same_part && c->first <= prev->last) {
            int rc = sf_error_set(err, SF_EFORMAT,
                                  "%s and %s overlap (both hold partition %u offset %llu): not "
                                  "one archive",
                                  prev->path, c->path, c->partition, (unsigned long long)c->first);
            while (i < set->n) /* keep the set whole for sf_archive_set_free */
                set->parts[kept++] = set->parts[i++];
            set->n = kept;
            return rc;
        }
        uint64_t expect = same_part ? prev->last + 1 : 0;
        if (c->first > expect)
            note_gap(set, c->partition, expect, c->first - 1);
        set->parts[kept++] = *c;
        set->records += c->last - c->first + 1;
        set->bytes += c->bytes;
        if (c->partition + 1 > set->partitions)
            set->partitions = c->partition + 1;
    }
    set->n = kept;
    return 0;
}

void sf_archive_set_free(sf_archive_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->parts[i].path);
    free(set->parts);
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

/* Validate every object: its records, and as many as its name says. */
static int validate_all(const sf_archive_set *set, object_errors *oe, sf_progress *progress,
                        sf_import_result *res, sf_error *err)
{
    sf_decode_opts opts = {.format = SF_FORMAT_JSON};
    uint64_t done = 0;
    for (size_t i = 0; i < set->n; i++) {
        const sf_archive_part *p = &set->parts[i];
        sf_decode_stats st = {0};
        oe->path = p->path;
        int rc = sf_import_validate(p->path, &opts, forward_error, oe, &st, err);
        res->rows += st.records;
        res->invalid += st.invalid;
        if (rc < 0)
            return rc;
        if (st.records != p->last - p->first + 1)
            return sf_error_set(
                err, SF_EFORMAT, "%s holds %llu records, its name says %llu: not imported", p->path,
                (unsigned long long)st.records, (unsigned long long)(p->last - p->first + 1));
        done += p->bytes;
        if (progress)
            sf_progress_update(progress, res->rows, done, 2 * set->bytes);
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
    uint64_t done = set->bytes;
    for (size_t i = 0; i < set->n && rc == 0; i++) {
        const sf_archive_part *p = &set->parts[i];
        sf_ledger_key key = {.kind = SF_LEDGER_ARCHIVE, .lo = p->partition};
        rc = sf_importer_add_file(im, p->path, &opts, &key, p->first, NULL, err);
        done += p->bytes;
        uint64_t imported, dups;
        sf_importer_totals(im, &imported, &dups);
        if (progress)
            sf_progress_update(progress, imported + dups, done, 2 * set->bytes);
    }
    if (rc == 0)
        rc = sf_importer_flush(im, err);
    sf_importer_totals(im, &res->imported, &res->duplicates);
    sf_importer_free(im);
    return rc;
}
