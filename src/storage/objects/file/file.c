/*
 * file.c - the "file" object store: each object a file under a folder.
 *
 * put writes KEY.tmp.<pid>, fsyncs it, renames it over KEY and fsyncs the
 * folder: the rename is the atomic step, the syncs make it durable. Folders
 * of a key are created as needed (and synced into their parents). put_many
 * does the same for many objects at a time at the cost of a few syncs: all
 * temporary files are written and synced from several threads at once (the
 * device takes the syncs together); then, batch after batch, renamed, and
 * each folder of the batch synced once. Temporary files left by a crash are not
 * objects (list skips them); clean (a writer's start) removes those whose
 * process is gone, so a folder killed again and again does not fill up with
 * them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/logline.h"
#include "core/parallel.h"
#include "storage/objects/objects_adapter.h"

typedef struct file_store {
    sf_objects base;
    char *root;
} file_store;

extern const sf_objects_ops sf_objects_file_ops;

static int path_of(const file_store *f, const char *key, char *out, size_t cap, sf_error *err)
{
    if (!*key || key[0] == '/' || strstr(key, "..") || strstr(key, ".tmp."))
        return sf_error_set(err, SF_EINVAL, "'%s' is not an object key", key);
    if ((size_t)snprintf(out, cap, "%s/%s", f->root, key) >= cap)
        return sf_error_set(err, SF_EINVAL, "object key too long: %s", key);
    return 0;
}

/* mkdir -p of the folders above path. A folder it creates is made durable
 * too (its parent synced), or the objects put in it could vanish with it.
 * 0, or SF_EIO (errno kept, for the writer threads). */
static int make_parents(char *path, sf_error *err)
{
    for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        int rc = 0;
        if (mkdir(path, 0755) == 0)
            rc = sf_fsync_parent(path, err);
        else if (errno != EEXIST) {
            int e = errno;
            rc = sf_error_set(err, SF_EIO, "%s: cannot make the folder: %s", path, strerror(e));
            errno = e;
        }
        *p = '/';
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* When the machine booted (btime of /proc/stat), 0 if unknown. */
static long long boot_time(void)
{
    FILE *f = fopen("/proc/stat", "r");
    char line[256];
    long long btime = 0;
    while (f && fgets(line, sizeof line, f) && sscanf(line, "btime %lld", &btime) != 1)
        ;
    if (f)
        fclose(f);
    return btime;
}

/* Whether process pid may still be writing a temporary file last written at
 * mtime: it is alive and started before (its start: field 22 of
 * /proc/PID/stat, ticks after boot). A pid reused by a process started
 * since is not the writer. Unsure: yes (the file stays). */
static bool may_be_writing(long pid, time_t mtime)
{
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return false;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    char *at = strrchr(buf, ')');                  /* the command's name may hold spaces */
    for (int field = 2; at && field < 22; field++) /* to the space before field 22 */
        at = strchr(at + 1, ' ');
    unsigned long long ticks;
    long long booted = boot_time();
    long hz = sysconf(_SC_CLK_TCK);
    if (!at || sscanf(at, " %llu", &ticks) != 1 || booted <= 0 || hz <= 0)
        return true;
    /* btime is whole seconds: a second of doubt, taken as "before". */
    return booted + (long long)(ticks / (unsigned long long)hz) <= (long long)mtime + 1;
}

/* Remove the stale temporary files (KEY.tmp.PID) under dir; depth bounds
 * the walk (keys are a few folders deep). */
static void remove_stale_temps(const char *dir, int depth)
{
    DIR *d = depth > 0 ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[4352];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path ||
            lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            remove_stale_temps(path, depth - 1);
            continue;
        }
        const char *tmp = strstr(e->d_name, ".tmp.");
        char *end;
        long pid = tmp ? strtol(tmp + 5, &end, 10) : 0;
        if (!tmp || pid <= 0 || *end || !S_ISREG(st.st_mode) || may_be_writing(pid, st.st_mtime))
            continue;
        char q[4400];
        if (unlink(path) == 0)
            sf_logf(SF_LOG_INFO, "objects_temp_removed", "path=%s pid=%ld bytes=%lld",
                    sf_logq(path, q, sizeof q), pid, (long long)st.st_size);
    }
    if (d)
        closedir(d);
}

/* The store at location; its folder made (a writer's), or only looked at:
 * SF_ENOENT when it is not there (a reader's). */
static int open_store(const char *location, bool reader, sf_objects **out, sf_error *err)
{
    char probe[4096];
    struct stat st;
    snprintf(probe, sizeof probe, "%s/x", location);
    if (reader && stat(location, &st) != 0)
        return sf_error_set(err, errno == ENOENT ? SF_ENOENT : SF_EIO,
                            "%s: no object store there (%s)", location, strerror(errno));
    if (reader && !S_ISDIR(st.st_mode))
        return sf_error_set(err, SF_EINVAL, "%s: not an object store (not a folder)", location);
    int rc = reader ? 0 : make_parents(probe, err);
    if (rc < 0)
        return rc;
    file_store *f = calloc(1, sizeof *f);
    if (!f || !(f->root = strdup(location))) {
        free(f);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    f->base.ops = &sf_objects_file_ops;
    *out = &f->base;
    return 0;
}

static int file_open(const sf_location *loc, const sf_objects_opts *opts, sf_objects **out,
                     sf_error *err)
{
    int rc =
        sf_location_no_extra(loc, "a file object store", "objects", opts->extra, opts->nextra, err);
    return rc < 0 ? rc : open_store(loc->rest, opts->read_only, out, err);
}

/* One object of a put: where it goes, its temporary file, how writing went. */
typedef struct put_job {
    const sf_object_put *put;
    char path[4096];
    char tmp[4200];
    int err; /* errno of writing the temporary file or syncing the folder */
} put_job;

static int open_temp(put_job *j)
{
    int fd = open(j->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT && make_parents(j->path, NULL) == 0) /* a new folder */
        fd = open(j->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    return fd;
}

/* Write and sync one temporary file (a sf_parallel_for body). */
static void write_temp(void *ctx, size_t i)
{
    put_job *j = ((put_job **)ctx)[i];
    int fd = open_temp(j);
    if (fd < 0) {
        j->err = errno;
        return;
    }
    const char *p = j->put->data;
    size_t left = j->put->len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n <= 0 && errno != EINTR)
            break;
        if (n > 0)
            p += n, left -= (size_t)n;
    }
    /* A new file's data and size are what fdatasync makes durable. */
    j->err = left == 0 && fdatasync(fd) == 0 ? 0 : errno ? errno : EIO;
    if (close(fd) != 0 && !j->err)
        j->err = errno;
}

/* fsync the folder of a job (a sf_parallel_for body over distinct ones). */
static void sync_folder(void *ctx, size_t i)
{
    put_job *j = ((put_job **)ctx)[i];
    if (sf_fsync_parent(j->path, NULL) < 0)
        j->err = errno; /* kept by fsutil; the put's error names it */
}

static int folder_cmp(const put_job *x, const put_job *y)
{
    size_t xl = (size_t)(strrchr(x->path, '/') - x->path),
           yl = (size_t)(strrchr(y->path, '/') - y->path);
    int c = memcmp(x->path, y->path, xl < yl ? xl : yl);
    return c ? c : (xl > yl) - (xl < yl);
}

/* By batch, then folder. */
static int job_cmp(const void *a, const void *b)
{
    const put_job *x = *(put_job *const *)a, *y = *(put_job *const *)b;
    if (x->put->batch != y->put->batch)
        return x->put->batch < y->put->batch ? -1 : 1;
    return folder_cmp(x, y);
}

static int first_error(put_job **jobs, size_t n, const char *what, sf_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (jobs[i]->err)
            return sf_error_set(err, SF_EIO, "%s%s: %s", jobs[i]->path, what,
                                strerror(jobs[i]->err));
    return 0;
}

/* Publish one batch (jobs sorted by folder): rename each temporary file over
 * its object, then sync each folder once, all folders at once. */
static int publish(put_job **jobs, size_t n, put_job **folders, sf_error *err)
{
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (rename(jobs[i]->tmp, jobs[i]->path) != 0)
            return sf_error_set(err, SF_EIO, "%s: %s", jobs[i]->path, strerror(errno));
        jobs[i]->tmp[0] = '\0';
        if (distinct == 0 || folder_cmp(folders[distinct - 1], jobs[i]) != 0)
            folders[distinct++] = jobs[i];
    }
    sf_parallel_for(distinct, 8, sync_folder, folders);
    return first_error(folders, distinct, " (folder)", err);
}

/*
 * Every temporary file is written and synced at once, from a few threads, so
 * their syncs overlap instead of queueing; then batch after batch, the
 * renames and one sync per folder however many objects went into it. Chains
 * are not looked at: batch order across all of them is more than the port
 * asks, and costs nothing here (renames are quick; the syncs are shared).
 */
static int file_put_many(sf_objects *o, const sf_object_put *puts, size_t n, sf_error *err)
{
    file_store *f = (file_store *)o;
    put_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    put_job **order = malloc((n ? n : 1) * 2 * sizeof *order), **folders = order + n;
    int rc = jobs && order ? 0 : sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        put_job *j = order[i] = &jobs[i];
        j->put = &puts[i];
        if ((rc = path_of(f, puts[i].key, j->path, sizeof j->path, err)) == 0)
            snprintf(j->tmp, sizeof j->tmp, "%s.tmp.%ld", j->path, (long)getpid());
    }
    if (rc == 0) {
        qsort(order, n, sizeof *order, job_cmp);
        sf_parallel_for(n, 8, write_temp, order);
        rc = first_error(order, n, ".tmp", err);
    }
    for (size_t i = 0, end; i < n && rc == 0; i = end) {
        for (end = i + 1; end < n && order[end]->put->batch == order[i]->put->batch;)
            end++;
        rc = publish(order + i, end - i, folders, err);
    }
    for (size_t i = 0; rc < 0 && jobs && i < n; i++)
        if (jobs[i].tmp[0]) /* not renamed */
            unlink(jobs[i].tmp);
    free(order);
    free(jobs);
    return rc;
}

static int file_put(sf_objects *o, const char *key, const void *data, size_t len, sf_error *err)
{
    sf_object_put p = {key, data, len, 0, 0};
    return file_put_many(o, &p, 1, err);
}

static int file_get(sf_objects *o, const char *key, void **data, size_t *len, sf_error *err)
{
    file_store *f = (file_store *)o;
    char path[4096];
    int rc = path_of(f, key, path, sizeof path, err);
    if (rc < 0)
        return rc;
    FILE *in = fopen(path, "rb");
    if (!in)
        return sf_error_set(err, errno == ENOENT ? SF_ENOENT : SF_EIO, "%s: %s", path,
                            strerror(errno));
    struct stat st;
    char *buf = fstat(fileno(in), &st) == 0 ? malloc((size_t)st.st_size + 1) : NULL;
    size_t n = buf ? fread(buf, 1, (size_t)st.st_size, in) : 0;
    fclose(in);
    if (!buf || n != (size_t)st.st_size) {
        free(buf);
        return sf_error_set(err, SF_EIO, "%s: cannot read", path);
    }
    *data = buf;
    *len = n;
    return 0;
}

/* Walk dir (relative key rel) recursively, calling fn for matching files
 * until one returns nonzero (then *stop is set). 0, or SF_EIO. */
static int walk(const char *root, const char *rel, const char *prefix,
                int (*fn)(void *ctx, const char *key), void *ctx, bool *stop, sf_error *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : sf_error_set(err, SF_EIO, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && !*stop && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp."))
            continue;
        char key[4096], full[8200];
        snprintf(key, sizeof key, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, key);
        struct stat st;
        if (stat(full, &st) != 0)
            continue;
        size_t kl = strlen(key), pl = strlen(prefix);
        if (S_ISDIR(st.st_mode)) {
            /* Only folders that can hold keys with the prefix. */
            if (strncmp(key, prefix, kl < pl ? kl : pl) == 0)
                rc = walk(root, key, prefix, fn, ctx, stop, err);
        } else if (strncmp(key, prefix, pl) == 0) {
            *stop = fn(ctx, key) != 0;
        }
    }
    closedir(d);
    return rc;
}

static int file_list(sf_objects *o, const char *prefix, int (*fn)(void *ctx, const char *key),
                     void *ctx, sf_error *err)
{
    file_store *f = (file_store *)o;
    bool stop = false;
    return walk(f->root, "", prefix, fn, ctx, &stop, err);
}

static int file_del(sf_objects *o, const char *key, sf_error *err)
{
    file_store *f = (file_store *)o;
    char path[4096];
    int rc = path_of(f, key, path, sizeof path, err);
    if (rc < 0)
        return rc;
    if (unlink(path) != 0)
        return sf_error_set(err, errno == ENOENT ? SF_ENOENT : SF_EIO, "%s: %s", path,
                            strerror(errno));
    return sf_fsync_parent(path, err);
}

static void file_clean(sf_objects *o)
{
    remove_stale_temps(((file_store *)o)->root, 8);
}

static void file_close(sf_objects *o)
{
    file_store *f = (file_store *)o;
    free(f->root);
    free(f);
}

const sf_objects_ops sf_objects_file_ops = {
    .open = file_open,
    .put = file_put,
    .get = file_get,
    .list = file_list,
    .close = file_close,
    .put_many = file_put_many,
    .del = file_del,
    .clean = file_clean,
};
