/*
 * open.c - choosing a warehouse adapter by its location (warehouse.h):
 * "postgres://…" and "postgresql://…" are libpq URIs, "postgres:CONNINFO" a
 * libpq keyword/value string (empty: the PG* variables alone), "sqlite:FILE"
 * or any other text a SQLite file. The adapters are chosen here only, so the
 * sinks, serve, status and report take any of them through --warehouse.
 */
#include <string.h>

#include "storage/warehouse/warehouse.h"

/* The adapter of location, and what to hand its open(). */
static const sf_warehouse_ops *adapter(const char *location, const char **rest)
{
    if (strncmp(location, "postgres://", 11) == 0 || strncmp(location, "postgresql://", 13) == 0) {
        *rest = location; /* libpq parses the URI itself */
        return &sf_warehouse_postgres_ops;
    }
    if (strncmp(location, "postgres:", 9) == 0) {
        *rest = location + 9;
        return &sf_warehouse_postgres_ops;
    }
    *rest = strncmp(location, "sqlite:", 7) == 0 ? location + 7 : location;
    return &sf_warehouse_sqlite_ops;
}

int sf_warehouse_open(const char *location, sf_warehouse **out, sf_error *err)
{
    const char *rest;
    const sf_warehouse_ops *ops = adapter(location, &rest);
    return ops->open(rest, 0, out, err);
}

int sf_warehouse_open_reader(const char *location, sf_warehouse **out, sf_error *err)
{
    const char *rest;
    const sf_warehouse_ops *ops = adapter(location, &rest);
    return ops->open(rest, SF_WH_READER, out, err);
}

bool sf_warehouse_is_server(const char *location)
{
    const char *rest;
    return adapter(location, &rest) != &sf_warehouse_sqlite_ops;
}

void sf_warehouse_close(sf_warehouse *w)
{
    if (w)
        w->ops->close(w);
}
