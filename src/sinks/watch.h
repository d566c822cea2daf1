/*
 * watch.h - the watched folder: the seed's scheduled batch pipeline.
 *
 * Files dropped into a folder are imported (import.h: all or nothing, each
 * row once) and moved out of the way: to DIR/done/ when imported, or to
 * DIR/failed/ beside a report of why (FILE.errors.txt: one line per invalid
 * row, "FILE:LINE: FIELD: reason" as `shopflow check` prints them).
 *
 * Which files: regular files of DIR itself, not dotfiles, not temporary
 * names (*.tmp, *.part), and only once their modification time is at least
 * `settle` seconds old, so a file still being copied in is left for a later
 * scan. A settle time rather than "unchanged since the previous scan" keeps
 * a scan stateless: one scan (cron, --once) decides alone. Writers that can
 * should still write under a temporary name and rename into DIR.
 *
 * Moving is a rename within DIR, after the import is durable: a crash in
 * between leaves the file in DIR, and importing it again appends nothing
 * (the import ledger knows its rows), so it is then simply moved. The same
 * goes for a file dropped in again weeks later: it lands in done/ with 0
 * rows loaded, however much was imported in between.
 */
#ifndef SF_WATCH_H
#define SF_WATCH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/decoder.h"
#include "core/location.h"

typedef struct sf_watch_opts {
    const char *dir;      /* the watched folder */
    const char *location; /* the stream to import into (sf_stream_open) */
    const char *ledger;   /* its import ledger (sf_ledger_path) */
    uint32_t partitions;  /* of a new log; 0 = default */
    size_t dedup_window;  /* the window for records with ids of their own (import.h) */
    sf_decode_opts decode;
    double settle_s; /* a file is taken once its mtime is this old */
    /* dir as an object store location (sf_watch_is_store): its adapter's
     * settings (--objects-opt), borrowed. */
    sf_adapter_settings objects_opt;
} sf_watch_opts;

typedef struct sf_watch_stats {
    unsigned done;    /* files imported (or already imported) and moved to done/ */
    unsigned failed;  /* files moved to failed/ with a report */
    unsigned waiting; /* files too recent to take yet */
} sf_watch_stats;

/* Lock dir for one watcher (DIR/.shopflow-watch.lock, flock'd); *fd holds
 * it until closed. SF_EUSAGE if dir is not a folder, SF_EBUSY if another
 * watcher holds it. */
int sf_watch_lock(const char *dir, int *fd, sf_error *err);

/*
 * One scan of o->dir: every file ready is imported and moved, in name
 * order, with one logfmt line each (event=import_file). The stream is
 * opened only when there is a file to import. *stop is looked at between
 * files: the file being imported is finished first. Returns 0, or an error
 * that is not a file's (the stream cannot be opened or written, a file
 * cannot be moved): the file concerned stays in DIR for the next scan.
 */
int sf_watch_scan(const sf_watch_opts *o, volatile sig_atomic_t *stop, sf_watch_stats *st,
                  sf_error *err);

/*
 * The watched place may also be a prefix of an object store
 * ("s3://BUCKET/PREFIX/", any adapter of the objects port; watch_objects.c):
 * the objects directly under it are imported as files are, then moved to
 * PREFIX/done/ or PREFIX/failed/ (with NAME.errors.txt). An object store has
 * no rename: a move is a put of the same bytes and a delete of the source,
 * and a scan killed between the two is completed by the next (it finds the
 * same bytes under done/ and only deletes the source). A put is atomic, so
 * there is no settle time; there is no lock either (run one watcher per
 * prefix; the import ledger keeps two from importing twice into one log).
 */
bool sf_watch_is_store(const char *where);

int sf_watch_scan_store(const sf_watch_opts *o, volatile sig_atomic_t *stop, sf_watch_stats *st,
                        sf_error *err);

#endif
