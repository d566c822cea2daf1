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
#include "storage/objects/objects.h"

#define REPORT_ROWS_MAX 1000 /* invalid rows listed in a report */

bool sf_watch_is_store(const char *where)
{
    return strstr(where, "://") != NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
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
    if (strchr(key, '/') || key[0] == '.' || ends_with(key, ".tmp") || ends_with(key, ".part") ||
        strstr(key, ".tmp."))
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

/* Put data under sub/name (or sub/name.K when other bytes hold that name),
 * unless the same bytes are there already, then delete name. The key it
 * went to is written into moved. */
static int move_object(sf_objects *o, const char *name, const char *sub, const void *data,
                       size_t len, char *moved, size_t cap, sf_error *err)
{
    for (unsigned k = 0; k < 10000; k++) {
        if (k == 0)
            snprintf(moved, cap, "%s/%s", sub, name);
        else
            snprintf(moved, cap, "%s/%s.%u", sub, name, k);
        void *there = NULL;
        size_t tl = 0;
        int rc = sf_objects_get(o, moved, &there, &tl, err);
        bool same = rc == 0 && tl == len && memcmp(there, data, len) == 0;
        free(there);
        if (rc < 0 && rc != SF_ENOENT)
            return rc;
        if (rc == 0 && !same)
            continue; /* another object of that name: the next name */
        if (rc == SF_ENOENT && (rc = sf_objects_put(o, moved, data, len, err)) < 0)
            return rc;
        rc = sf_objects_del(o, name, err);
        return rc == SF_ENOENT ? 0 : rc; /* gone already: moved all the same */
    }
    return sf_error_set(err, SF_EIO, "%s: too many objects named %s", sub, name);
}

typedef struct report {
    const char *name;
    sf_buf text;
    uint64_t rows;
} report;

static int collect_error(void *ctx, const sf_decode_error *e)
{
    report *r = ctx;
    if (e->fatal || r->rows++ >= REPORT_ROWS_MAX)
        return 0; /* a fatal error comes back as the import's error too */
    char msg[SF_ERROR_MSG_MAX + 256];
    sf_decode_error_format_in(e, r->name, msg, sizeof msg);
    sf_buf_printf(&r->text, "%s\n", msg);
    return 0;
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

/* The name under failed/ that the object goes to: the first that is free
 * or holds these bytes already (a scan killed after moving it). */
static int failed_name(sf_objects *store, const char *name, const void *data, size_t len,
                       char *moved, size_t cap, sf_error *err)
{
    for (unsigned k = 0; k < 10000; k++) {
        snprintf(moved, cap, k ? "failed/%s.%u" : "failed/%s", name, k);
        void *there = NULL;
        size_t tl = 0;
        int g = sf_objects_get(store, moved, &there, &tl, err);
        bool taken = g == 0 && !(tl == len && memcmp(there, data, len) == 0);
        free(there);
        if (g < 0 && g != SF_ENOENT)
            return g;
        if (!taken)
            return 0;
    }
    return sf_error_set(err, SF_EIO, "failed: too many objects named %s", name);
}

/* An object that cannot be imported: its report (invalid rows, then why) as
 * failed/NAME.errors.txt, then the object moved beside it. The report goes
 * first: a scan killed in between leaves no failed/ object without one. */
static int fail_object(sf_objects *store, const char *name, const void *data, size_t len, report *r,
                       const char *why, char *moved, size_t cap, sf_error *err)
{
    if (r->rows > REPORT_ROWS_MAX)
        sf_buf_printf(&r->text, "... and %llu more invalid rows\n",
                      (unsigned long long)(r->rows - REPORT_ROWS_MAX));
    sf_buf_printf(&r->text, "%s\n", why);
    if (sf_buf_failed(&r->text))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    char report_key[4300];
    int rc = failed_name(store, name, data, len, moved, cap, err);
    snprintf(report_key, sizeof report_key, "%s.errors.txt", moved);
    if (rc == 0)
        rc = sf_objects_put(store, report_key, r->text.data, r->text.len, err);
    return rc < 0 ? rc : move_object(store, name, "failed", data, len, moved, cap, err);
}

/* Import one object and move it. 0, or an error that is not the object's. */
static int take_object(const sf_watch_opts *o, sf_import_target *t, sf_objects *store,
                       const char *tmpdir, const char *name, sf_watch_stats *st, sf_error *err)
{
    char tmp[4400], moved[4200], q[4400], why[SF_ERROR_MSG_MAX + 64];
    void *data = NULL;
    size_t len = 0;
    int rc = sf_objects_get(store, name, &data, &len, err);
    if (rc == SF_ENOENT) /* moved by a scan killed before: nothing to do */
        return 0;
    snprintf(tmp, sizeof tmp, "%s/%s", tmpdir, name);
    if (rc == 0)
        rc = write_temp(tmp, data, len, err);
    report r = {name, SF_BUF_INIT, 0};
    sf_import_result res = {0};
    sf_error ierr = {0};
    double t0 = sf_monotonic();
    if (rc == 0)
        rc = sf_import_file(t, tmp, &o->decode, collect_error, &r, NULL, &res, &ierr);
    unlink(tmp);
    double secs = sf_monotonic() - t0;
    if (rc == 0 &&
        (rc = move_object(store, name, "done", data, len, moved, sizeof moved, err)) == 0) {
        st->done++;
        sf_logf(SF_LOG_INFO, "import_file",
                "file=%s status=done rows=%llu imported=%llu duplicates=%llu seconds=%.3f "
                "moved_to=%s",
                sf_logq(name, q, sizeof q), (unsigned long long)res.rows,
                (unsigned long long)res.imported, (unsigned long long)res.duplicates, secs, moved);
    } else if (rc < 0 && res.input_error) {
        snprintf(why, sizeof why, "%s", ierr.msg);
        name_object(why, sizeof why, tmp, o->dir, name);
        if ((rc = fail_object(store, name, data, len, &r, why, moved, sizeof moved, err)) == 0) {
            st->failed++;
            char qwhy[sizeof why + 64];
            sf_logf(SF_LOG_WARN, "import_file",
                    "file=%s status=failed invalid_rows=%llu reason=%s moved_to=%s "
                    "report=%s.errors.txt seconds=%.3f",
                    sf_logq(name, q, sizeof q), (unsigned long long)res.invalid,
                    sf_logq(why, qwhy, sizeof qwhy), moved, moved, secs);
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
