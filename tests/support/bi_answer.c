/*
 * bi_answer.c - `sf_test_bi WAREHOUSE QUESTION [NAME=VALUE...]`: print the
 * JSON answer of sf_bi_answer (the call the gateway's /v1/bi routes make)
 * with those query parameters, so shell tests can ask every question with
 * any parameter. Exit 0 with the answer; 2 (SF_EINVAL, the gateway's 400)
 * or 4 (SF_ENOENT, its 404) with the message on stderr; 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/bi.h"

typedef struct params {
    int n;
    char **kv;
} params;

static const char *param(void *ctx, const char *name)
{
    params *p = ctx;
    size_t len = strlen(name);
    for (int i = 0; i < p->n; i++)
        if (strncmp(p->kv[i], name, len) == 0 && p->kv[i][len] == '=')
            return p->kv[i] + len + 1;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sf_test_bi WAREHOUSE QUESTION [NAME=VALUE...]\n");
        return 1;
    }
    sf_error err = {0};
    sf_warehouse *wh = NULL;
    params p = {argc - 3, argv + 3};
    char *json = NULL;
    size_t len = 0;
    int rc = sf_warehouse_open(argv[1], &(sf_warehouse_opts){.read_only = true}, &wh, &err);
    if (rc == 0)
        rc = sf_bi_answer(wh, argv[2], param, &p, NULL, 0, &json, &len, &err);
    sf_warehouse_close(wh);
    if (rc < 0) {
        fprintf(stderr, "sf_test_bi: %s\n", err.msg);
        return rc == SF_EINVAL ? 2 : rc == SF_ENOENT ? 4 : 1;
    }
    fwrite(json, 1, len, stdout);
    free(json);
    return 0;
}
