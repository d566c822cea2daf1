/*
 * answer.c - reading the server's answers (docs/api.md): the counts of a
 * 200, the error of a 4xx/5xx with the invalid records of a 400, and the
 * Retry-After header.
 *
 * yajl's tree parser is used: answers are small, one per request (not per
 * row), and the error shape is nested enough that a tree is the plain way to
 * read it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yajl/yajl_tree.h>

#include "replay/internal.h"

static bool get_uint(yajl_val obj, const char *key, uint64_t *out)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_number);
    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0)
        return false;
    *out = (uint64_t)YAJL_GET_INTEGER(v);
    return true;
}

int sf_answer_accepted(const char *body, uint64_t *accepted, uint64_t *duplicates)
{
    yajl_val root = yajl_tree_parse(body, NULL, 0);
    bool ok =
        root && get_uint(root, "accepted", accepted) && get_uint(root, "duplicates", duplicates);
    yajl_tree_free(root);
    return ok ? 0 : SF_EFORMAT;
}

static void copy_string(yajl_val obj, const char *key, char *out, size_t cap)
{
    const char *path[] = {key, NULL};
    const char *s = YAJL_GET_STRING(yajl_tree_get(obj, path, yajl_t_string));
    snprintf(out, cap, "%s", s ? s : "");
}

static int read_entry(yajl_val e, int (*on_entry)(void *, const sf_answer_error *), void *ctx)
{
    sf_answer_error ae = {.index = -1};
    uint64_t index;
    if (get_uint(e, "index", &index))
        ae.index = (int64_t)index;
    copy_string(e, "field", ae.field, sizeof ae.field);
    copy_string(e, "reason", ae.reason, sizeof ae.reason);
    const char *path[] = {"fatal", NULL};
    ae.fatal = YAJL_IS_TRUE(yajl_tree_get(e, path, yajl_t_true));
    return on_entry(ctx, &ae);
}

int sf_answer_error_parse(const char *body, char code[64], char message[SF_ERROR_MSG_MAX],
                          bool *truncated, int (*on_entry)(void *ctx, const sf_answer_error *e),
                          void *ctx)
{
    *truncated = false;
    const char *err_path[] = {"error", NULL};
    yajl_val root = yajl_tree_parse(body, NULL, 0);
    yajl_val error = root ? yajl_tree_get(root, err_path, yajl_t_object) : NULL;
    if (!error) {
        yajl_tree_free(root);
        snprintf(code, 64, "%s", "unknown");
        snprintf(message, SF_ERROR_MSG_MAX, "%s", "the answer is not a shopflow error");
        return SF_EFORMAT;
    }
    copy_string(error, "code", code, 64);
    copy_string(error, "message", message, SF_ERROR_MSG_MAX);
    const char *tr_path[] = {"truncated", NULL}, *list_path[] = {"errors", NULL};
    *truncated = YAJL_IS_TRUE(yajl_tree_get(error, tr_path, yajl_t_true));
    yajl_val list = yajl_tree_get(error, list_path, yajl_t_array);
    for (size_t i = 0; on_entry && list && i < list->u.array.len; i++)
        if (YAJL_IS_OBJECT(list->u.array.values[i]) &&
            read_entry(list->u.array.values[i], on_entry, ctx) != 0)
            break;
    yajl_tree_free(root);
    return 0;
}

double sf_answer_retry_after(const char *header, size_t len)
{
    static const char name[] = "retry-after:";
    size_t n = sizeof name - 1;
    if (len <= n || strncasecmp(header, name, n) != 0)
        return -1;
    size_t i = n;
    while (i < len && (header[i] == ' ' || header[i] == '\t'))
        i++;
    double secs = 0;
    size_t digits = 0;
    for (; i < len && isdigit((unsigned char)header[i]) && digits < 9; i++, digits++)
        secs = secs * 10 + (header[i] - '0');
    while (i < len && isspace((unsigned char)header[i]))
        i++;
    return digits && i == len ? secs : -1;
}

typedef struct named {
    const sf_batch *b;
    uint32_t idx[SF_INVALID_MAX];
    sf_answer_error e[SF_INVALID_MAX];
    size_t n;
    bool whole;
} named;

static int collect_named(void *ctx, const sf_answer_error *e)
{
    named *c = ctx;
    if (e->fatal || e->index < 0 || (uint64_t)e->index >= c->b->n) {
        c->whole = true;
        return 1;
    }
    for (size_t k = 0; k < c->n; k++)
        if (c->idx[k] == (uint32_t)e->index)
            return 0; /* named twice: once is enough */
    if (c->n == SF_INVALID_MAX)
        return 1;
    c->idx[c->n] = (uint32_t)e->index;
    c->e[c->n++] = *e;
    return 0;
}

uint32_t sf_batch_apply_invalid(sf_batch *b, const char *body, char message[SF_ERROR_MSG_MAX],
                                bool *whole,
                                void (*on_named)(void *ctx, uint64_t row, uint64_t line,
                                                 const char *field, const char *reason),
                                void *ctx)
{
    named *c = calloc(1, sizeof *c); /* ~70 KB: only on a 400 */
    char code[64];
    bool truncated;
    if (!c) {
        snprintf(message, SF_ERROR_MSG_MAX, "%s", "out of memory reading the answer");
        *whole = true;
        return 0;
    }
    c->b = b;
    *whole =
        sf_answer_error_parse(body ? body : "", code, message, &truncated, collect_named, c) < 0 ||
        c->whole || c->n == 0;
    uint32_t cut = 0;
    if (!*whole) {
        for (size_t k = 0; k < c->n; k++)
            on_named(ctx, b->row[c->idx[k]], b->line[c->idx[k]], c->e[k].field, c->e[k].reason);
        cut = sf_batch_drop(b, c->idx, c->n);
    }
    free(c);
    return cut;
}
