/*
 * lmdb.c - the "lmdb" history store: one LMDB environment in a folder, and
 * the ordered keys, transactions and scans its writer (writer.c) and reader
 * (reader.c) are built on (lmdb_int.h).
 *
 * Exactly-once: the first model of DESIGN §3a. A unit of work is one LMDB
 * write transaction holding the effects and the positions; LMDB gives one
 * writer at a time (across processes), readers never blocked, each reader
 * one snapshot of committed transactions, commit durable (synced) and
 * atomic. So a reader never sees a unit of work open or half-applied. The map is 16 GiB of
 * address space; the file on disk only grows as data is written. A store
 * that outgrows it fails its commit with "MDB_MAP_FULL", by name. After
 * each write commit the map's pages leave the resident set (drop_map). A
 * full disk is an error that says "no space left on device" and where, never
 * a SIGBUS in the lock file's map (reserve_lock_file).
 *
 * Read transactions are kept for reuse (read_pool): a history answer is one
 * read transaction, and mdb_txn_begin/abort cost two allocations and a
 * reader-table slot each time, where a reset transaction renews in place.
 * The environment is opened MDB_NOTLS so that a reader slot belongs to its
 * transaction, not to a thread: any HTTP thread may renew any pooled one.
 */
#define _DEFAULT_SOURCE /* madvise, MADV_DONTNEED */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "storage/store/lmdb/lmdb_int.h"

#define MAP_SIZE (16ull << 30) /* address space only: the file grows as data does */

extern const sf_store_ops sf_store_lmdb_ops;

static int fail(sf_error *err, int rc, const char *what)
{
    return sf_error_set(err,
                        rc == MDB_NOTFOUND || rc == ENOENT ? SF_ENOENT /* ENOENT: no store yet */
                        : rc == ENOMEM                     ? SF_ENOMEM
                                                           : SF_EIO,
                        "lmdb: %s: %s", what, mdb_strerror(rc));
}

/* A write's failure: a full disk says so with the store's folder. */
static int fail_write(sf_error *err, int rc, MDB_env *env, const char *what)
{
    const char *path = NULL;
    if (rc == ENOSPC && mdb_env_get_path(env, &path) == 0 && path)
        return sf_error_set(err, SF_EIO, "lmdb: %s: %s: no space left on device", path, what);
    return fail(err, rc, what);
}

/* The lock file's size for a new store: LMDB's reader table at its default
 * 126 readers (what it makes itself on 64-bit Linux). */
#define LOCK_BYTES 8192

/*
 * LMDB maps its lock file and writes the reader table through the map, so
 * on a full file system (a tmpfs above all) the first write to a page never
 * written before has no page to go to, and the process dies of SIGBUS. The
 * file's space is taken here first: a full disk is then an error that says
 * so. An existing file keeps its size (every process sharing it derives the
 * reader table from it); a new one gets LMDB's own.
 */
static int reserve_lock_file(const char *dir, bool read_only, sf_error *err)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    int fd = open(path, O_RDWR | O_CLOEXEC | (read_only ? 0 : O_CREAT), 0644);
    if (fd < 0) /* LMDB says what is wrong with it */
        return 0;
    int rc = fstat(fd, &st) == 0 ? posix_fallocate(fd, 0, st.st_size > 0 ? st.st_size : LOCK_BYTES)
                                 : errno;
    close(fd);
    if (rc == ENOSPC)
        return sf_error_set(err, SF_EIO, "lmdb: %s: no space left on device", path);
    return 0; /* other refusals (no fallocate here): LMDB goes on as before */
}

/*
 * Take the map's pages out of this process's resident set. Every page a
 * writer reads (to copy it: LMDB never writes in place) stays mapped, so a
 * process loading the store would end up with the whole file counted in
 * its RSS (136 MiB for the bundled dataset), although these pages are the
 * kernel's page cache of the file, shared and reclaimable, not memory of
 * ours. Dropping the mappings after a commit (MADV_DONTNEED on a shared,
 * read-only file mapping only unmaps: the data stays in the page cache and
 * the next read maps it again, a minor fault) keeps the resident set to
 * what one transaction touches. Readers in other threads are unaffected but
 * for those minor faults. Failure is harmless (the pages stay mapped).
 */
static void drop_map(lmdb_store *s)
{
    MDB_envinfo info;
    MDB_stat st;
    if (!s->map || mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0)
        return;
    size_t used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
    madvise(s->map, used < s->map_len ? used : s->map_len, MADV_DONTNEED);
}

/* Where LMDB mapped the data file: LMDB tells only with MDB_FIXEDMAP, so
 * find the mapping of the file's inode in /proc/self/maps (Linux). The map
 * stays where it is for the environment's life. */
static void find_map(lmdb_store *s)
{
    int fd;
    struct stat st;
    FILE *f = NULL;
    if (mdb_env_get_fd(s->env, &fd) != 0 || fstat(fd, &st) != 0 ||
        !(f = fopen("/proc/self/maps", "r")))
        return;
    char line[4352];
    while (!s->map && fgets(line, sizeof line, f)) {
        unsigned long long from, to, offset, inode;
        unsigned dmaj, dmin;
        if (sscanf(line, "%llx-%llx %*s %llx %x:%x %llu", &from, &to, &offset, &dmaj, &dmin,
                   &inode) == 6 &&
            inode == (unsigned long long)st.st_ino && dmaj == major(st.st_dev) &&
            dmin == minor(st.st_dev) && offset == 0) {
            s->map = (void *)(uintptr_t)from;
            s->map_len = (size_t)(to - from);
        }
    }
    fclose(f);
}

static int lm_open(const sf_location *loc, const sf_store_opts *opts, sf_store **out, sf_error *err)
{
    const char *location = loc->rest;
    bool read_only = opts->read_only;
    int bad = sf_location_no_extra(loc, "an LMDB store", "store", opts->extra, opts->nextra, err);
    if (bad < 0)
        return bad;
    lmdb_store *s = calloc(1, sizeof *s);
    if (!s)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    s->base.ops = &sf_store_lmdb_ops;
    int rc = 0;
    /* The store's folder, made durable when new (its name synced in the
     * parent); one that is there already is fine, and any other failure is
     * said here rather than as LMDB's "No such file or directory". */
    if (!read_only && mkdir(location, 0755) == 0)
        rc = sf_fsync_parent(location, err);
    else if (!read_only && errno != EEXIST)
        rc = sf_error_set(err, SF_EIO, "lmdb: %s: cannot make the folder: %s", location,
                          strerror(errno));
    if (rc < 0 || reserve_lock_file(location, read_only, err) < 0) {
        free(s);
        return SF_EIO;
    }
    rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, MAP_SIZE);
    if (rc == 0)
        rc = mdb_env_open(s->env, location, MDB_NOTLS | (read_only ? MDB_RDONLY : 0), 0644);
    MDB_txn *txn = NULL;
    if (rc == 0)
        rc = mdb_txn_begin(s->env, NULL, read_only ? MDB_RDONLY : 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, &s->dbi);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else if (txn)
        mdb_txn_abort(txn);
    if (rc != 0) {
        int e = rc == ENOSPC
                    ? sf_error_set(err, SF_EIO, "lmdb: %s: no space left on device", location)
                    : fail(err, rc, location);
        if (s->env)
            mdb_env_close(s->env);
        free(s);
        return e;
    }
    if (!read_only)
        find_map(s);
    pthread_mutex_init(&s->pool_mu, NULL);
    *out = &s->base;
    return 0;
}

/* A pooled read transaction renewed to the latest snapshot, or NULL (none
 * pooled, or the renewal failed: the caller begins a new one). */
static lm_txn *pool_take(lmdb_store *s)
{
    pthread_mutex_lock(&s->pool_mu);
    lm_txn *t = s->pooled ? s->pool[--s->pooled] : NULL;
    pthread_mutex_unlock(&s->pool_mu);
    if (t && mdb_txn_renew(t->txn) != 0) {
        mdb_txn_abort(t->txn);
        free(t);
        t = NULL;
    }
    return t;
}

/* End read transaction t: reset into the pool, or aborted when it is full. */
static void pool_put(lm_txn *t)
{
    lmdb_store *s = t->s;
    mdb_txn_reset(t->txn);
    pthread_mutex_lock(&s->pool_mu);
    bool kept = s->pooled < SF_LMDB_READ_POOL_MAX;
    if (kept)
        s->pool[s->pooled++] = t;
    pthread_mutex_unlock(&s->pool_mu);
    if (!kept) {
        mdb_txn_abort(t->txn);
        free(t);
    }
}

int sf_lmdb_begin(lmdb_store *s, bool write, lm_txn **out, sf_error *err)
{
    lm_txn *t = write ? NULL : pool_take(s);
    if (t) {
        *out = t;
        return 0;
    }
    t = calloc(1, sizeof *t);
    if (!t)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    t->s = s;
    t->write = write;
    int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc != 0) {
        free(t);
        return fail_write(err, rc, s->env, "begin");
    }
    *out = t;
    return 0;
}

int sf_lmdb_put(lm_txn *t, const void *key, size_t klen, const void *val, size_t vlen,
                sf_error *err)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    int rc = mdb_put(t->txn, t->s->dbi, &k, &v, 0);
    return rc ? fail_write(err, rc, t->s->env, "put") : 0;
}

int sf_lmdb_get(lm_txn *t, const void *key, size_t klen, const void **val, size_t *vlen,
                sf_error *err)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(t->txn, t->s->dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return SF_ENOENT; /* absence is an answer, not a failure: no message */
    if (rc)
        return fail(err, rc, "get");
    *val = v.mv_data;
    *vlen = v.mv_size;
    return 0;
}

int sf_lmdb_del(lm_txn *t, const void *key, size_t klen, sf_error *err)
{
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(t->txn, t->s->dbi, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return SF_ENOENT;
    return rc ? fail(err, rc, "del") : 0;
}

int sf_lmdb_scan(lm_txn *t, const void *prefix, size_t plen, const void *from, size_t flen,
                 sf_lmdb_scan_fn fn, void *ctx, sf_error *err)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi, &c);
    if (rc)
        return fail(err, rc, "cursor");
    MDB_val k = {flen > 0 ? flen : plen, (void *)(flen > 0 ? from : prefix)}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0) {
        if (fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size))
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc && rc != MDB_NOTFOUND ? fail(err, rc, "scan") : 0;
}

/* The first key after every key that starts with prefix: the prefix with
 * its last byte that is not 0xff incremented and cut there. 0 if none (a
 * prefix of all 0xff bytes, or empty: then every key is below it). */
static size_t prefix_successor(const void *prefix, size_t plen, uint8_t *out)
{
    memcpy(out, prefix, plen);
    while (plen > 0 && out[plen - 1] == 0xff)
        plen--;
    if (plen > 0)
        out[plen - 1]++;
    return plen;
}

int sf_lmdb_scan_back(lm_txn *t, const void *prefix, size_t plen, const void *before, size_t blen,
                      sf_lmdb_scan_fn fn, void *ctx, sf_error *err)
{
    uint8_t succ[512];
    if (plen > sizeof succ)
        return sf_error_set(err, SF_EINVAL, "lmdb: scan prefix too long");
    /* Start below whichever comes first: the bound given, or the first key
     * past the prefix (keys between the two are not the prefix's). */
    MDB_val bound = {prefix_successor(prefix, plen, succ), succ};
    if (blen > 0) {
        size_t common = blen < bound.mv_size ? blen : bound.mv_size;
        int cmp = memcmp(before, succ, common);
        if (bound.mv_size == 0 || cmp < 0 || (cmp == 0 && blen < bound.mv_size))
            bound = (MDB_val){blen, (void *)before};
    }
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi, &c);
    if (rc)
        return fail(err, rc, "cursor");
    MDB_val k = bound, v;
    /* Stand on the first key >= the bound, then step back; when there is
     * none, every key is below the bound and the last one comes first. */
    rc = bound.mv_size ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) : MDB_NOTFOUND;
    rc = rc == 0 ? mdb_cursor_get(c, &k, &v, MDB_PREV) : mdb_cursor_get(c, &k, &v, MDB_LAST);
    while (rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0) {
        if (fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size))
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
    }
    mdb_cursor_close(c);
    return rc && rc != MDB_NOTFOUND ? fail(err, rc, "scan") : 0;
}

int sf_lmdb_commit(lm_txn *t, sf_error *err)
{
    int rc = mdb_txn_commit(t->txn);
    if (rc == 0 && t->write)
        drop_map(t->s);
    MDB_env *env = t->s->env;
    free(t);
    return rc ? fail_write(err, rc, env, "commit") : 0;
}

void sf_lmdb_abort(lm_txn *t)
{
    if (!t->write) {
        pool_put(t);
        return;
    }
    mdb_txn_abort(t->txn);
    free(t);
}

static void lm_close(sf_store *st)
{
    lmdb_store *s = (lmdb_store *)st;
    sf_lmdb_rollback(st); /* a unit of work not committed counts for nothing */
    while (s->pooled) {
        lm_txn *t = s->pool[--s->pooled];
        mdb_txn_abort(t->txn);
        free(t);
    }
    pthread_mutex_destroy(&s->pool_mu);
    mdb_env_close(s->env);
    free(s);
}

const sf_store_ops sf_store_lmdb_ops = {
    .open = lm_open,
    .close = lm_close,
    .positions = sf_lmdb_positions,
    .apply = sf_lmdb_apply,
    .set_aside = sf_lmdb_set_aside,
    .retry = sf_lmdb_retry,
    .commit = sf_lmdb_commit_unit,
    .rollback = sf_lmdb_rollback,
    .quarantined = sf_lmdb_quarantined,
    .invoice = sf_lmdb_invoice,
    .customer_invoices = sf_lmdb_customer_invoices,
    .each_invoice = sf_lmdb_each_invoice,
};
