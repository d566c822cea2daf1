/*
 * watch_objects.c - one scan of a watched prefix of an object store
 * (`import --watch s3://BUCKET/PREFIX/`): the seed's batch job on S3 (see
 * watch.h for the folder's own rules, which this follows).
 *
 * Everything goes through the objects port, so any adapter can be watched.
 * The objects ready are those directly under the prefix (not in done/,
 * failed/ or any other "folder"), not dotfiles or temporary names. An
 * object store's put is atomic, so an object is whole once listed: there is
 * no settle time here.
 *
 * Each object is read whole, written to a private temporary file and
 * imported from there (sf_import_file: the same two passes and the same
 * content-hash ids as a local file, so an object dropped again, or first
 * imported from a folder, loads nothing). Then it is moved: S3 has no
 * rename, so a move is a put of the same bytes under done/ (or failed/,
 * with NAME.errors.txt beside it) and then a delete of the source. A scan
 * killed between the two finds the source again on its next run, imports
 * nothing from it, finds done/NAME already holding the same bytes, and only
 * deletes the source. A name taken by other bytes moves to NAME.1, NAME.2...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/logline.h"
#include "core/progress.h"
#include "sinks/import.h"
#include "sinks/watch.h"
#include "sinks/watch_internal.h"
#include "storage/objects/objects.h"

bool sf_watch_is_store(const char *where)
{
    return strstr(where, "://") != NULL;
}

typedef struct names {
    char **v;
    size_t n, cap;
    int rc;
} names;

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A key directly under the prefix, not temporary: one to take. */
static int note_ready(void *ctx, const char *key)
{
    names *ns = ctx;
    if (strchr(key, '/') || sf_watch_temporary_name(key))
        return 0;
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 16;
        char **v = realloc(ns->v, cap * sizeof *v);
        if (!v)
            return ns->rc = SF_ENOMEM, 1;
        ns->v = v;
        ns->cap = cap;
    }
    if (!(ns->v[ns->n] = strdup(key)))
        return ns->rc = SF_ENOMEM, 1;
    ns->n++;
    return 0;
}

/* The key under sub/ for name: sub/NAME, or sub/NAME.K when other bytes
 * hold that one; *same says these bytes are there already (a scan killed
 * after the copy). */
static int target_key(sf_objects *o, const char *sub, const char *name, const void *data,
                      size_t len, char *key, size_t cap, bool *same, sf_error *err)
{
    for (unsigned k = 0; k < 10000; k++) {
        snprintf(key, cap, k ? "%s/%s.%u" : "%s/%s", sub, name, k);
        void *there = NULL;
        size_t tl = 0;
        int rc = sf_objects_get(o, key, &there, &tl, err);
        *same = rc == 0 && tl == len && memcmp(there, data, len) == 0;
        free(there);
        if (rc < 0 && rc != SF_ENOENT)
            return rc;
        if (rc == SF_ENOENT || *same)
            return 0;
    }
    return sf_error_set(err, SF_EIO, "%s: too many objects named %s", sub, name);
}

/* Move name to its key under sub/ (written into moved): a put of its bytes
 * unless they are there already, then a delete of the source. */
static int move_object(sf_objects *o, const char *name, const char *sub, const void *data,
                       size_t len, char *moved, size_t cap, sf_error *err)
{
    bool same;
    int rc = target_key(o, sub, name, data, len, moved, cap, &same, err);
    if (rc == 0 && !same)
        rc = sf_objects_put(o, moved, data, len, err);
    if (rc == 0 && (rc = sf_objects_del(o, name, err)) == SF_ENOENT)
        rc = 0; /* gone already: moved all the same */
    return rc;
}

/* The import's message names the temporary file: name the object instead. */
static void name_object(char *msg, size_t cap, const char *tmp, const char *where, const char *name)
{
    char *at = strstr(msg, tmp);
    if (!at)
        return;
    char rest[SF_ERROR_MSG_MAX + 64];
    size_t wl = strlen(where);
    while (wl > 0 && where[wl - 1] == '/')
        wl--;
    snprintf(rest, sizeof rest, "%s", at + strlen(tmp));
    snprintf(at, cap - (size_t)(at - msg), "%.*s/%s%s", (int)wl, where, name, rest);
}

static int write_temp(const char *path, const void *data, size_t len, sf_error *err)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f)
        ok = fclose(f) == 0 && ok;
    return ok ? 0 : sf_error_set(err, SF_EIO, "%s: cannot write a temporary copy", path);
}

/* An object that cannot be imported: its report (invalid rows, then why) as
 * failed/NAME.errors.txt, then the object moved beside it. The report goes
 * first: a scan killed in between leaves no failed/ object without one. */
static int fail_object(sf_objects *store, const char *name, const void *data, size_t len,
                       sf_watch_report *r, const char *why, char *moved, size_t cap, sf_error *err)
{
    sf_watch_report_end(r, why);
    if (sf_buf_failed(&r->text))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    char report_key[4300];
    bool same;
    int rc = target_key(store, "failed", name, data, len, moved, cap, &same, err);
    snprintf(report_key, sizeof report_key, "%s.errors.txt", moved);
    if (rc == 0)
        rc = sf_objects_put(store, report_key, r->text.data, r->text.len, err);
    return rc < 0 ? rc : move_object(store, name, "failed", data, len, moved, cap, err);
}

/* Import one object and move it. 0, or an error that is not the object's. */
static int take_object(const sf_watch_opts *o, sf_import_target *t, sf_objects *store,
                       const char *tmpdir, const char *name, sf_watch_stats *st, sf_error *err)
{
    char tmp[4400], moved[4200], why[SF_ERROR_MSG_MAX + 64];
    void *data = NULL;
    size_t len = 0;
    int rc = sf_objects_get(store, name, &data, &len, err);
    if (rc == SF_ENOENT) /* moved by a scan killed before: nothing to do */
        return 0;
    snprintf(tmp, sizeof tmp, "%s/%s", tmpdir, name);
    if (rc == 0)
        rc = write_temp(tmp, data, len, err);
    sf_watch_report r = {name, SF_BUF_INIT, 0};
    sf_import_result res = {0};
    sf_error ierr = {0};
    double t0 = sf_monotonic();
    if (rc == 0)
        rc = sf_import_file(t, tmp, &o->decode, sf_watch_collect_error, &r, NULL, &res, &ierr);
    unlink(tmp);
    double secs = sf_monotonic() - t0;
    if (rc == 0 &&
        (rc = move_object(store, name, "done", data, len, moved, sizeof moved, err)) == 0) {
        st->done++;
        sf_watch_log_done(name, &res, secs, moved);
    } else if (rc < 0 && res.input_error) {
        snprintf(why, sizeof why, "%s", ierr.msg);
        name_object(why, sizeof why, tmp, o->dir, name);
        if ((rc = fail_object(store, name, data, len, &r, why, moved, sizeof moved, err)) == 0) {
            st->failed++;
            sf_watch_log_failed(name, &res, why, secs, moved);
        }
    } else if (rc < 0 && !res.input_error && ierr.code) {
        *err = ierr; /* the stream's: leave the object for the next scan */
    }
    sf_buf_free(&r.text);
    free(data);
    return rc;
}

int sf_watch_scan_store(const sf_watch_opts *o, volatile sig_atomic_t *stop, sf_watch_stats *st,
                        sf_error *err)
{
    *st = (sf_watch_stats){0};
    sf_objects *store = NULL;
    sf_objects_opts oo = {false, o->objects_opt.extra, o->objects_opt.nextra};
    int rc = sf_objects_open(o->dir, &oo, &store, err);
    names ns = {0};
    if (rc == 0 && (rc = sf_objects_list(store, "", note_ready, &ns, err)) == 0 && ns.rc)
        rc = sf_error_set(err, ns.rc, "out of memory");
    if (ns.n > 1)
        qsort(ns.v, ns.n, sizeof *ns.v, by_name);
    char tmpdir[64] = "";
    sf_import_target t = {0};
    if (rc == 0 && ns.n > 0) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%.40s/sf-watch-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir))
            rc = sf_error_set(err, SF_EIO, "%s: cannot make a temporary folder", tmpdir);
        sf_stream_opts sopts = {.partitions = o->partitions};
        if (rc == 0)
            rc = sf_import_open(o->location, &sopts, o->ledger, o->dedup_window, &t, err);
    }
    for (size_t i = 0; rc == 0 && i < ns.n && !(stop && *stop); i++)
        rc = take_object(o, &t, store, tmpdir, ns.v[i], st, err);
    sf_error serr = {0};
    if (sf_import_close(&t, &serr) < 0 && rc == 0) {
        *err = serr;
        rc = serr.code;
    }
    if (tmpdir[0])
        rmdir(tmpdir); /* empty: each copy is removed after its import */
    for (size_t i = 0; i < ns.n; i++)
        free(ns.v[i]);
    free(ns.v);
    sf_objects_close(store);
    return rc;
}
