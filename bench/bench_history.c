/*
 * bench_history.c - the purchase-history answers without HTTP: each
 * question asked of the history store exactly as the gateway asks it
 * (sf_history_invoice_json, sf_history_customer_json), for a list of
 * invoices or customers in a fixed shuffled order.
 *
 *   bench_history [-n N | -d] STORE invoices|customers LIST
 *
 * LIST: one invoice number or customer id a line (bench/read_api.sh's
 * lists without their route prefix). N answers (default 100,000) on one
 * thread, one buffer reused as the gateway's would not be; p50, p99, mean
 * per answer and the bytes written are printed. Under callgrind it gives
 * the instructions of an answer (Ir / N) on a fixed input, which the
 * shared machine's wall clock cannot. -d prints every item's answer in the
 * list's order instead (one a line), to compare builds byte for byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_time.h"
#include "core/record.h"
#include "query/history.h"

typedef struct list {
    char (*items)[24];
    size_t n;
} list;

static int read_list(const char *path, list *l)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[64];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *slash = strrchr(line, '/');
        const char *item = slash ? slash + 1 : line;
        if (strcmp(item, "invoices") == 0 && slash) { /* /v1/customers/ID/invoices */
            *(char *)slash = '\0';
            slash = strrchr(line, '/');
            item = slash ? slash + 1 : line;
        }
        if (!*item || strlen(item) >= sizeof l->items[0])
            continue;
        if (l->n == cap) {
            cap = cap ? 2 * cap : 1024;
            void *p = realloc(l->items, cap * sizeof l->items[0]);
            if (!p)
                break;
            l->items = p;
        }
        memcpy(l->items[l->n++], item, strlen(item) + 1);
    }
    fclose(f);
    return l->n ? 0 : -1;
}

int main(int argc, char **argv)
{
    long n = 100000;
    int a = 1;
    bool dump = argc > 1 && strcmp(argv[1], "-d") == 0;
    if (dump) {
        a = 2;
    } else if (argc > 2 && strcmp(argv[1], "-n") == 0) {
        n = strtol(argv[2], NULL, 10);
        a = 3;
    }
    if (argc - a != 3 || n < 1 ||
        (strcmp(argv[a + 1], "invoices") != 0 && strcmp(argv[a + 1], "customers") != 0)) {
        fprintf(stderr, "usage: bench_history [-n N | -d] STORE invoices|customers LIST\n");
        return 2;
    }
    bool invoices = strcmp(argv[a + 1], "invoices") == 0;
    list l = {0};
    if (read_list(argv[a + 2], &l) < 0) {
        fprintf(stderr, "bench_history: %s: no items\n", argv[a + 2]);
        return 1;
    }
    sf_store *s;
    sf_error err = {0};
    if (sf_store_open(argv[a], &(sf_store_opts){.read_only = true}, &s, &err) < 0) {
        fprintf(stderr, "bench_history: %s\n", err.msg);
        return 1;
    }
    if (dump)
        n = (long)l.n;
    double *t = malloc((size_t)n * sizeof *t);
    unsigned long long bytes = 0, seed = 42;
    int rc = t ? 0 : -1;
    for (long i = 0; rc == 0 && i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull; /* fixed order */
        const char *item = l.items[dump ? (size_t)i : (seed >> 33) % l.n];
        sf_buf b = SF_BUF_INIT;
        double t0 = bench_now();
        if (invoices) {
            rc = sf_history_invoice_json(s, item, strlen(item), SF_NO_CUSTOMER, &b, &err);
        } else {
            sf_history_page q = {(int32_t)strtol(item, NULL, 10), INT64_MIN, INT64_MAX,
                                 SF_HISTORY_PAGE_DEFAULT, NULL};
            rc = sf_history_customer_json(s, &q, &b, &err);
        }
        t[i] = bench_now() - t0;
        bytes += b.len;
        if (dump)
            printf("%s %d %s\n", item, rc, b.data ? b.data : "");
        rc = dump && rc == SF_ENOENT ? 0 : rc;
        sf_buf_free(&b);
    }
    if (rc < 0) {
        fprintf(stderr, "bench_history: %s\n", err.msg);
    } else if (!dump) {
        bench_summary m = bench_summarise(t, (int)n);
        printf("%s: %ld answers  p50 %.2f us  p99 %.2f us  mean %.2f us  %.0f bytes each\n",
               argv[a + 1], n, m.p50 * 1e6, m.p99 * 1e6, m.mean * 1e6, (double)bytes / (double)n);
    }
    free(t);
    free(l.items);
    sf_store_close(s);
    return rc < 0;
}
