/*
 * location.h - where a port's backend is, as the commands name it, and the
 * adapter that serves it: one parser for the four ports (stream, objects,
 * store, warehouse), so that they all read a location the same way and
 * their fronts are the same few lines.
 *
 * A location that starts with a scheme (letters, then letters, digits, '+',
 * '-' or '.', then ':') picks the adapter of the port's table that names
 * that scheme: "kafka://host:9092/topic", "postgres:dbname=x", "lmdb:DIR".
 * Anything else is a bare path and goes to the table's first adapter, the
 * port's default (file, lmdb, local, sqlite). A scheme that no adapter
 * names is an error that lists the ones the port knows, rather than a
 * folder called "s3:" made in the working directory.
 *
 * Each port's front (stream.c, objects.c, store.c, warehouse.c) keeps its
 * table of sf_adapter rows; adding a backend is one row there.
 */
#ifndef SF_LOCATION_H
#define SF_LOCATION_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define SF_SCHEME_MAX 16

/* One adapter of a port's table: the schemes it answers to (NULL after the
 * last) and its ops table, of the port's own type. */
typedef struct sf_adapter {
    const char *schemes[4];
    const void *ops;
} sf_adapter;

/* A location taken apart (pointers into the text given, which the caller
 * keeps while it is used). */
typedef struct sf_location {
    const char *text;   /* the whole location, as given */
    const char *scheme; /* the scheme picked (the table's spelling of it) */
    const char *rest;   /* what follows "scheme:" ("//host/..." included);
                           the whole text for a bare path */
    bool bare;          /* no scheme: the port's default adapter */
} sf_location;

/* An adapter's "key=value" settings, as the commands pass them
 * (--stream-opt, --objects-opt, --store-opt, --warehouse-opt): borrowed. */
typedef struct sf_adapter_settings {
    const char *const *extra;
    size_t nextra;
} sf_adapter_settings;

/*
 * The adapter of location in table[0..n) (table[0] is the default, for a
 * bare path) into *ops and the location taken apart into *loc. port names
 * the port in messages ("objects"). SF_EUSAGE for an empty location or a
 * scheme no adapter names ("objects: no adapter for 's3:' (known: file)").
 */
int sf_location_pick(const char *port, const sf_adapter *table, size_t n, const char *location,
                     const void **ops, sf_location *loc, sf_error *err);

/*
 * For an adapter that takes no "key=value" settings (--PORT-opt): 0 when
 * nextra is 0, else SF_EUSAGE, "LOCATION: WHAT takes no PORT option
 * ('KEY=VALUE')", e.g. "var/log: a local log takes no stream option".
 */
int sf_location_no_extra(const sf_location *loc, const char *what, const char *port,
                         const char *const *extra, size_t nextra, sf_error *err);

#endif
