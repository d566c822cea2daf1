/*
 * fsutil.h - making file-system changes durable.
 *
 * A new or renamed file is durable only once its folder is synced too; every
 * module that creates files (the log, the object store, the key store) needs
 * this, so it is here once. So is making a data folder with its parents,
 * which every command that writes one does first.
 */
#ifndef SF_FSUTIL_H
#define SF_FSUTIL_H

/* fsync the folder dir. 0, or -1 with errno. */
int sf_fsync_dir(const char *dir);

/* fsync the folder that holds path. 0, or -1 with errno. */
int sf_fsync_parent(const char *path);

/* mkdir -p: make dir and any missing parents (mode 0755); a folder that is
 * already there is fine. 0, or -1 with errno (ENOTDIR when a part of the path
 * is a file). */
int sf_mkdirs(const char *dir);

#endif
