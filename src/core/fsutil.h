/*
 * fsutil.h - making file-system changes durable.
 *
 * A new or renamed file is durable only once its folder is synced too; every
 * module that creates files (the log, the object store, the key store) needs
 * this, so it is here once.
 */
#ifndef SF_FSUTIL_H
#define SF_FSUTIL_H

/* fsync the folder dir. 0, or -1 with errno. */
int sf_fsync_dir(const char *dir);

/* fsync the folder that holds path. 0, or -1 with errno. */
int sf_fsync_parent(const char *path);

#endif
