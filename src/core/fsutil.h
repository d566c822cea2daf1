/*
 * fsutil.h - making file-system changes durable.
 *
 * A new or renamed file is durable only once its folder is synced too; every
 * module that creates files (the log, the object store, the key store) needs
 * this, so it is here once. So is making a data folder with its parents,
 * which every command that writes one does first.
 *
 * Each returns 0, or a negative SF_E* code with err filled (naming the
 * folder, the call and why); errno is left as the failing call set it, for
 * callers that keep it (the object store's writer threads).
 */
#ifndef SF_FSUTIL_H
#define SF_FSUTIL_H

#include "core/error.h"

/* fsync the folder dir. 0, or SF_EIO. */
int sf_fsync_dir(const char *dir, sf_error *err);

/* fsync the folder that holds path. 0, or SF_EIO. */
int sf_fsync_parent(const char *path, sf_error *err);

/* mkdir -p: make dir and any missing parents (mode 0755); a folder that is
 * already there is fine. 0; SF_EINVAL for an empty or too long path; SF_EIO
 * naming the part that could not be made, or that is not a folder (errno
 * ENOTDIR). */
int sf_mkdirs(const char *dir, sf_error *err);

#endif
