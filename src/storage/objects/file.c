/*
 * file.c - the "file" object store: each object a file under a folder.
 *
 * put writes KEY.tmp.<pid>, fsyncs it, renames it over KEY and fsyncs the
 * folder: the rename is the atomic step, the syncs make it durable. Folders
 * of a key are created as needed. Temporary files left by a crash are not
 * objects (list skips them) and are replaced by the next put of their key.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "storage/objects/objects.h"

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

/* mkdir -p of the folders above path. */
static int make_parents(char *path)
{
    for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

static int file_open(const char *location, sf_objects **out, sf_error *err)
{
    file_store *f = calloc(1, sizeof *f);
    if (!f || !(f->root = strdup(location))) {
        free(f);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    f->base.ops = &sf_objects_file_ops;
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/x", location);
    if (make_parents(probe) != 0) {
        free(f->root);
        free(f);
        return sf_error_set(err, SF_EIO, "%s: %s", location, strerror(errno));
    }
    *out = &f->base;
    return 0;
}

static int file_put(sf_objects *o, const char *key, const void *data, size_t len, sf_error *err)
{
    file_store *f = (file_store *)o;
    char path[4096], tmp[4200];
    int rc = path_of(f, key, path, sizeof path, err);
    if (rc < 0)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (make_parents(path) != 0)
        return sf_error_set(err, SF_EIO, "%s: %s", path, strerror(errno));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return sf_error_set(err, SF_EIO, "%s: %s", tmp, strerror(errno));
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n <= 0 && errno != EINTR)
            break;
        if (n > 0)
            p += n, left -= (size_t)n;
    }
    int ok = left == 0 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0 || sf_fsync_parent(path) != 0) {
        int e = errno;
        unlink(tmp);
        return sf_error_set(err, SF_EIO, "%s: %s", path, strerror(e));
    }
    return 0;
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

/* Walk dir (relative key rel) recursively, calling fn for matching files. */
static int walk(const char *root, const char *rel, const char *prefix,
                int (*fn)(void *ctx, const char *key), void *ctx)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    int stop = 0;
    while (!stop && (e = readdir(d))) {
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
                stop = walk(root, key, prefix, fn, ctx);
        } else if (strncmp(key, prefix, pl) == 0) {
            stop = fn(ctx, key);
        }
    }
    closedir(d);
    return stop;
}

static int file_list(sf_objects *o, const char *prefix, int (*fn)(void *ctx, const char *key),
                     void *ctx, sf_error *err)
{
    file_store *f = (file_store *)o;
    if (walk(f->root, "", prefix, fn, ctx) < 0)
        return sf_error_set(err, SF_EIO, "%s: %s", f->root, strerror(errno));
    return 0;
}

static void file_close(sf_objects *o)
{
    file_store *f = (file_store *)o;
    free(f->root);
    free(f);
}

const sf_objects_ops sf_objects_file_ops = {
    .scheme = "file",
    .open = file_open,
    .put = file_put,
    .get = file_get,
    .list = file_list,
    .close = file_close,
};
