/*
 * fsutil.c - folder syncs and mkdir -p (see fsutil.h).
 */
#include "core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* SF_EIO, "path: what: why", errno kept. */
static int fail(sf_error *err, const char *path, const char *what)
{
    int e = errno;
    sf_error_set(err, SF_EIO, "%s: %s: %s", path, what, strerror(e));
    errno = e;
    return SF_EIO;
}

int sf_fsync_dir(const char *dir, sf_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, dir, "cannot open the folder to sync it");
    int rc = fsync(fd) == 0 ? 0 : fail(err, dir, "fsync");
    close(fd); /* read-only: nothing of ours to lose in close */
    return rc;
}

int sf_fsync_parent(const char *path, sf_error *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return sf_fsync_dir(".", err);
    *slash = '\0';
    return sf_fsync_dir(slash == dir ? "/" : dir, err);
}

int sf_mkdirs(const char *dir, sf_error *err)
{
    char path[4096];
    if (!*dir) {
        errno = ENOENT;
        return sf_error_set(err, SF_EINVAL, "an empty folder name");
    }
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return sf_error_set(err, SF_EINVAL, "%.64s...: the folder's name is too long", dir);
    }
    /* Each parent in turn, from the top: "a/b/c" makes "a", "a/b", "a/b/c". */
    for (char *p = path + 1;; p++) {
        bool last = *p == '\0';
        if (*p != '/' && !last)
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return fail(err, path, "cannot make the folder");
        if (last)
            break;
        *p = '/';
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return fail(err, path, "cannot make the folder");
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return fail(err, path, "cannot make the folder");
    }
    return 0;
}
