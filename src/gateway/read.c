/*
 * read.c - the read routes: customers' purchase history (from the history
 * store) and the BI answers (from the warehouse), with who may read what.
 *
 *   analyst, admin key    every customer, every invoice, BI
 *   customer token        its own customer's routes only; any other
 *                         customer, any invoice not its own (whether or not
 *                         it exists, so a token learns nothing of others),
 *                         BI: 403
 *   ingest key            403
 *
 * Answers are built in a buffer and queued on the handler's second call,
 * like every route (server.c says why).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/record.h"
#include "core/timefmt.h"
#include "gateway/internal.h"
#include "query/bi.h"
#include "query/history.h"

/* Copy the path segment at s (up to '/' or the end) into out; its end. */
static const char *segment(const char *s, char *out, size_t cap, bool *ok)
{
    size_t n = strcspn(s, "/");
    *ok = n > 0 && n < cap;
    if (*ok) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return s + n;
}

static route match_customer(request *r, const char *rest)
{
    bool ok;
    rest = segment(rest, r->customer_text, sizeof r->customer_text, &ok);
    if (!ok || strncmp(rest, "/invoices", 9) != 0)
        return ROUTE_OTHER;
    rest += 9;
    if (*rest == '\0')
        return ROUTE_CUSTOMER_INVOICES;
    if (*rest != '/')
        return ROUTE_OTHER;
    rest = segment(rest + 1, r->item, sizeof r->item, &ok);
    return ok && *rest == '\0' ? ROUTE_CUSTOMER_INVOICE : ROUTE_OTHER;
}

route sf_match_route(request *r, const char *url)
{
    static const struct {
        const char *path;
        route rt;
    } fixed[] = {{"/v1/transactions", ROUTE_INGEST},
                 {"/healthz", ROUTE_HEALTHZ},
                 {"/readyz", ROUTE_READYZ},
                 {"/metrics", ROUTE_METRICS}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(url, fixed[i].path) == 0)
            return fixed[i].rt;
    bool ok;
    if (strncmp(url, "/v1/invoices/", 13) == 0)
        return *segment(url + 13, r->item, sizeof r->item, &ok) == '\0' && ok ? ROUTE_INVOICE
                                                                              : ROUTE_OTHER;
    if (strncmp(url, "/v1/bi/", 7) == 0)
        return *segment(url + 7, r->item, sizeof r->item, &ok) == '\0' && ok ? ROUTE_BI
                                                                             : ROUTE_OTHER;
    if (strncmp(url, "/v1/customers/", 14) == 0)
        return match_customer(r, url + 14);
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0 ||
        strncmp(url, "/assets/", 8) == 0)
        return ROUTE_STATIC;
    return ROUTE_OTHER;
}

static const char *arg(request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* A customer id: 1 to 9 digits. */
static int parse_customer(const char *s, int32_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 9 || strspn(s, "0123456789") != n)
        return -1;
    *out = (int32_t)strtol(s, NULL, 10);
    return 0;
}

/* A from/to bound: a date (to: its whole day) or a date and time. */
static int parse_bound(request *r, const char *name, bool upper, int64_t *out, char *msg,
                       size_t cap)
{
    const char *v = arg(r, name);
    if (!v || !*v)
        return 0;
    const char *why;
    size_t n = strlen(v);
    char day[24];
    if (n == 10) { /* a date alone: from its midnight */
        snprintf(day, sizeof day, "%s 00:00:00", v);
        v = day;
    }
    if (sf_time_parse(v, strlen(v), out, &why) < 0) {
        snprintf(msg, cap, "%s: '%.40s' is not a date (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS): %s",
                 name, arg(r, name), why);
        return -1;
    }
    if (upper && n == 10)
        *out += 86399; /* a date alone: to the end of that day */
    return 0;
}

static int page_params(request *r, sf_history_page *q, char *msg, size_t cap)
{
    *q = (sf_history_page){.from = INT64_MIN, .to = INT64_MAX, .limit = SF_HISTORY_PAGE_DEFAULT};
    const char *limit = arg(r, "limit");
    if (limit) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (*limit == '\0' || *end || v < 1 || v > SF_HISTORY_PAGE_MAX) {
            snprintf(msg, cap, "limit: give a whole number from 1 to %d", SF_HISTORY_PAGE_MAX);
            return -1;
        }
        q->limit = (unsigned)v;
    }
    q->cursor = arg(r, "cursor");
    if (parse_bound(r, "from", false, &q->from, msg, cap) < 0 ||
        parse_bound(r, "to", true, &q->to, msg, cap) < 0)
        return -1;
    return 0;
}

static enum MHD_Result answer_buf(request *r, sf_buf *b)
{
    size_t len;
    char *body = sf_buf_take(b, &len);
    if (!body)
        return sf_respond_error(r, 500, "internal", "out of memory", NULL);
    return sf_respond_take(r, 200, "application/json", body, len);
}

static enum MHD_Result answer_error(request *r, sf_buf *b, int rc, const sf_error *err,
                                    unsigned not_found_status, const char *not_found_msg)
{
    sf_buf_free(b);
    if (rc == SF_ENOENT || rc == SF_EPERM)
        return not_found_status == 403
                   ? sf_respond_error(r, 403, "forbidden", "not yours to read", NULL)
                   : sf_respond_error(r, 404, "not_found", not_found_msg, NULL);
    if (rc == SF_EINVAL)
        return sf_respond_error(r, 400, "bad_request", err->msg, NULL);
    return sf_respond_internal(r, 500, "internal",
                               "the history store could not answer (the server's log has why)",
                               err->msg, NULL);
}

/* GET /v1/invoices/{no}: a key reads any; a token only its own. */
static enum MHD_Result invoice(request *r, const principal *who)
{
    sf_buf b = SF_BUF_INIT;
    sf_error err = {0};
    int rc = sf_history_invoice_json(r->g->cfg.history, r->item, strlen(r->item), who->customer, &b,
                                     &err);
    if (rc == 0)
        return answer_buf(r, &b);
    return answer_error(r, &b, rc, &err, who->customer == SF_NO_CUSTOMER ? 404 : 403,
                        "no such invoice");
}

static enum MHD_Result customer(request *r, const principal *who, int32_t id)
{
    if (who->customer != SF_NO_CUSTOMER && who->customer != id)
        return sf_respond_error(r, 403, "forbidden", "a customer token reads only its customer",
                                NULL);
    sf_buf b = SF_BUF_INIT;
    sf_error err = {0};
    int rc;
    if (r->route == ROUTE_CUSTOMER_INVOICE) {
        rc = sf_history_invoice_json(r->g->cfg.history, r->item, strlen(r->item), id, &b, &err);
        return rc == 0 ? answer_buf(r, &b)
                       : answer_error(r, &b, rc, &err, 404, "no such invoice of this customer");
    }
    sf_history_page q;
    char msg[160];
    if (page_params(r, &q, msg, sizeof msg) < 0)
        return sf_respond_error(r, 400, "bad_request", msg, NULL);
    q.customer = id;
    rc = sf_history_customer_json(r->g->cfg.history, &q, &b, &err);
    return rc == 0 ? answer_buf(r, &b) : answer_error(r, &b, rc, &err, 404, err.msg);
}

static enum MHD_Result history(request *r, const principal *who)
{
    if (who->role == SF_ROLE_INGEST)
        return sf_respond_error(r, 403, "forbidden", "an ingest key may not read history", NULL);
    if (!r->g->cfg.history)
        return sf_respond_error(r, 503, "unavailable", "this server has no history store", "5");
    if (r->route == ROUTE_INVOICE)
        return invoice(r, who);
    int32_t id;
    if (parse_customer(r->customer_text, &id) < 0)
        return sf_respond_error(r, 404, "not_found", "a customer id is a whole number", NULL);
    return customer(r, who, id);
}

static const char *bi_param(void *ctx, const char *name)
{
    return arg(ctx, name);
}

/* GET /v1/bi/{question}: analyst and admin keys only. */
static enum MHD_Result bi(request *r, const principal *who)
{
    if (who->role != SF_ROLE_ANALYST && who->role != SF_ROLE_ADMIN)
        return sf_respond_error(r, 403, "forbidden",
                                who->role == SF_ROLE_NONE ? "a customer token may not read BI"
                                                          : "an ingest key may not read BI",
                                NULL);
    sf_gateway *g = r->g;
    if (!g->cfg.warehouse)
        return sf_respond_error(r, 503, "unavailable", "this server has no warehouse", "5");
    uint32_t n = sf_stream_partitions(g->stream);
    uint64_t ends[SF_STREAM_PARTITIONS_MAX];
    for (uint32_t p = 0; p < n; p++) {
        sf_partition_info info = {0};
        sf_error ignored = {0};
        sf_stream_info(g->stream, p, &info, &ignored);
        if (!sf_pos_u64(&info.end, &ends[p]))
            ends[p] = 0; /* not an offset: no lag in records from here */
    }
    char *json = NULL;
    size_t len = 0;
    sf_error err = {0};
    int rc = sf_bi_answer(g->cfg.warehouse, r->item, bi_param, r, ends, n, &json, &len, &err);
    enum MHD_Result m;
    if (rc == 0) {
        m = sf_respond_take(r, 200, "application/json", json, len);
        json = NULL;
    } else if (rc == SF_EINVAL)
        m = sf_respond_error(r, 400, "invalid_parameter", err.msg, NULL);
    else if (rc == SF_ENOENT)
        m = sf_respond_error(r, 404, "not_found", "no such BI question", NULL);
    else
        m = sf_respond_internal(r, 500, "internal",
                                "the warehouse could not answer (the server's log has why)",
                                err.msg, NULL);
    free(json);
    return m;
}

enum MHD_Result sf_read_route(request *r, const char *method)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return sf_respond_not_allowed(r, "GET, HEAD");
    principal who;
    if (!sf_auth(r, &who))
        return sf_respond_error(r, r->reject_status, r->reject_code, r->reject_msg, NULL);
    if (r->route == ROUTE_BI)
        return bi(r, &who);
    return history(r, &who);
}
