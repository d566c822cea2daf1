/*
 * history.h - the history sink: invoices, their lines, and each customer's
 * invoices by date, in the history store (storage/store/store.h), which the
 * purchase-history answers read back (query/history.h).
 */
#ifndef SF_HISTORY_H
#define SF_HISTORY_H

#include "core/error.h"
#include "storage/store/store.h"

struct sf_sink;

/* The history sink over store (borrowed; outlives the sink). */
int sf_history_sink_new(sf_store *store, struct sf_sink **out, sf_error *err);

#endif
