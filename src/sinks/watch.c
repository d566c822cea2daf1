/*
 * watch.c - one scan of a watched folder (see watch.h).
 */
#include "sinks/watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/logline.h"
#include "core/progress.h"
#include "sinks/import.h"
#include "sinks/watch_internal.h"

int sf_watch_lock(const char *dir, int *fd, sf_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return sf_error_set(err, SF_EUSAGE, "%s is not a folder to watch", dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/.shopflow-watch.lock", dir);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0)
        return sf_error_set(err, SF_EIO, "%s: %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        close(*fd);
        *fd = -1;
        return sf_error_set(err, SF_EBUSY, "%s is watched by another shopflow import --watch", dir);
    }
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

bool sf_watch_temporary_name(const char *name)
{
    return name[0] == '.' || ends_with(name, ".tmp") || ends_with(name, ".part") ||
           strstr(name, ".tmp.") != NULL;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the files ready to take, sorted; *n of them. */
static int list_ready(const sf_watch_opts *o, char ***out, size_t *n, sf_watch_stats *st,
                      sf_error *err)
{
    DIR *d = opendir(o->dir);
    if (!d)
        return sf_error_set(err, SF_EIO, "%s: %s", o->dir, strerror(errno));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char **names = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", o->dir, e->d_name);
        if (sf_watch_temporary_name(e->d_name) || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        double age = (double)(now.tv_sec - sb.st_mtim.tv_sec) +
                     (double)(now.tv_nsec - sb.st_mtim.tv_nsec) / 1e9;
        if (age < o->settle_s) {
            st->waiting++;
            continue;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = sf_error_set(err, SF_ENOMEM, "out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[count] = strdup(e->d_name)))
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        else
            count++;
    }
    closedir(d);
    if (count)
        qsort(names, count, sizeof *names, by_name);
    *out = names;
    *n = count;
    return rc;
}

/* Move DIR/name into DIR/sub/ under name, or name.1, name.2, ... when taken
 * (the same name dropped again later is a new file). The name it got is
 * written into moved (sub/NAME...). */
static int move_into(const sf_watch_opts *o, const char *name, const char *sub, char *moved,
                     size_t cap, sf_error *err)
{
    char from[4096], folder[4096], to[4200];
    snprintf(from, sizeof from, "%s/%s", o->dir, name);
    snprintf(folder, sizeof folder, "%s/%s", o->dir, sub);
    if (mkdir(folder, 0755) != 0 && errno != EEXIST)
        return sf_error_set(err, SF_EIO, "%s: %s", folder, strerror(errno));
    for (unsigned k = 0; k < 10000; k++) {
        if (k == 0)
            snprintf(moved, cap, "%s/%s", sub, name);
        else
            snprintf(moved, cap, "%s/%s.%u", sub, name, k);
        snprintf(to, sizeof to, "%s/%s", o->dir, moved);
        struct stat sb;
        if (lstat(to, &sb) == 0)
            continue; /* the lock keeps other watchers away: no race */
        if (rename(from, to) != 0)
            return sf_error_set(err, SF_EIO, "cannot move %s to %s: %s", from, to, strerror(errno));
        int rc = sf_fsync_dir(folder, err);
        return rc < 0 ? rc : sf_fsync_dir(o->dir, err);
    }
    return sf_error_set(err, SF_EIO, "%s: too many files named %s", folder, name);
}

int sf_watch_collect_error(void *ctx, const sf_decode_error *e)
{
    sf_watch_report *r = ctx;
    if (e->fatal || r->rows++ >= SF_WATCH_REPORT_ROWS_MAX)
        return 0; /* a fatal error comes back as the import's error too */
    char msg[SF_ERROR_MSG_MAX + 256];
    sf_decode_error_format_in(e, r->name, msg, sizeof msg);
    sf_buf_printf(&r->text, "%s\n", msg);
    return 0;
}

void sf_watch_report_end(sf_watch_report *r, const char *why)
{
    if (r->rows > SF_WATCH_REPORT_ROWS_MAX)
        sf_buf_printf(&r->text, "... and %llu more invalid rows\n",
                      (unsigned long long)(r->rows - SF_WATCH_REPORT_ROWS_MAX));
    sf_buf_printf(&r->text, "%s\n", why);
}

void sf_watch_log_done(const char *name, const sf_import_result *res, double secs,
                       const char *moved)
{
    char q[4400];
    sf_logf(SF_LOG_INFO, "import_file",
            "file=%s status=done rows=%llu imported=%llu duplicates=%llu seconds=%.3f moved_to=%s",
            sf_logq(name, q, sizeof q), (unsigned long long)res->rows,
            (unsigned long long)res->imported, (unsigned long long)res->duplicates, secs, moved);
}

void sf_watch_log_failed(const char *name, const sf_import_result *res, const char *why,
                         double secs, const char *moved)
{
    char q[4400], qwhy[SF_ERROR_MSG_MAX + 256];
    sf_logf(SF_LOG_WARN, "import_file",
            "file=%s status=failed invalid_rows=%llu reason=%s moved_to=%s "
            "report=%s.errors.txt seconds=%.3f",
            sf_logq(name, q, sizeof q), (unsigned long long)res->invalid,
            sf_logq(why, qwhy, sizeof qwhy), moved, moved, secs);
}

/* Write the report beside the failed file (moved = "failed/NAME..."),
 * atomically. */
static int write_report(const sf_watch_opts *o, const char *moved, sf_watch_report *r,
                        const char *why, sf_error *err)
{
    sf_watch_report_end(r, why);
    char path[4400], tmp[4500];
    snprintf(path, sizeof path, "%s/%s.errors.txt", o->dir, moved);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    bool ok =
        f && !sf_buf_failed(&r->text) && fwrite(r->text.data, 1, r->text.len, f) == r->text.len;
    ok = f && fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    if (f)
        ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return sf_error_set(err, SF_EIO, "%s: cannot write the report", path);
    }
    return sf_fsync_parent(path, err);
}

/* Import one file and move it. 0, or an error that is not the file's. */
static int take_file(const sf_watch_opts *o, sf_import_target *t, const char *name,
                     sf_watch_stats *st, sf_error *err)
{
    char path[4096], moved[4200], why[SF_ERROR_MSG_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", o->dir, name);
    sf_watch_report r = {name, SF_BUF_INIT, 0};
    sf_import_result res;
    sf_error ierr = {0};
    double t0 = sf_monotonic();
    int rc = sf_import_file(t, path, &o->decode, sf_watch_collect_error, &r, NULL, &res, &ierr);
    double secs = sf_monotonic() - t0;
    if (rc == 0 && (rc = move_into(o, name, "done", moved, sizeof moved, err)) == 0) {
        st->done++;
        sf_watch_log_done(name, &res, secs, moved);
    } else if (rc < 0 && res.input_error) {
        /* The file's own message names the path given; name it as in DIR. */
        snprintf(why, sizeof why, "%s", ierr.msg);
        if ((rc = move_into(o, name, "failed", moved, sizeof moved, err)) == 0 &&
            (rc = write_report(o, moved, &r, why, err)) == 0) {
            st->failed++;
            sf_watch_log_failed(name, &res, why, secs, moved);
        }
    } else if (rc < 0 && !res.input_error && ierr.code) {
        *err = ierr; /* the stream's: leave the file for the next scan */
    }
    sf_buf_free(&r.text);
    return rc;
}

int sf_watch_scan(const sf_watch_opts *o, volatile sig_atomic_t *stop, sf_watch_stats *st,
                  sf_error *err)
{
    *st = (sf_watch_stats){0};
    char **names = NULL;
    size_t n = 0;
    int rc = list_ready(o, &names, &n, st, err);
    sf_import_target t = {0};
    if (rc == 0 && n > 0) {
        sf_stream_opts sopts = {.partitions = o->partitions};
        rc = sf_import_open(o->location, &sopts, o->ledger, o->dedup_window, &t, err);
    }
    for (size_t i = 0; rc == 0 && i < n && !(stop && *stop); i++)
        rc = take_file(o, &t, names[i], st, err);
    sf_error serr = {0};
    if (sf_import_close(&t, &serr) < 0 && rc == 0) {
        *err = serr;
        rc = serr.code;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}
