/*
 * tls.c - the gateway's certificate and key, for libmicrohttpd's HTTPS
 * (see tls.h).
 *
 * The files are read and parsed here, with GnuTLS, rather than by
 * libmicrohttpd, for two reasons: every failure can then name the setting
 * and the file (libmicrohttpd's only answer would be that the daemon did
 * not start), and the parsed certificate can be swapped while the daemon
 * runs. GnuTLS asks for it through a retrieve callback at each handshake;
 * the callback reads one atomic pointer, so it costs nothing worth
 * measuring next to the handshake itself.
 *
 * A replaced certificate is not freed: GnuTLS keeps the pointers it was
 * given for the whole life of the session that asked (renegotiation, the
 * session's own certificate query), and nothing says when that session
 * ends. Certificates are a few kilobytes and reloads are rare (an operator's
 * SIGHUP), so every one read is kept until the gateway stops.
 */
#include "gateway/tls.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/logline.h"

#define CHAIN_MAX 16         /* certificates in the cert file at most */
#define PEM_MAX   (1u << 20) /* bytes of a cert or key file at most */

/* One reading of the two files. */
typedef struct creds {
    gnutls_pcert_st chain[CHAIN_MAX];
    unsigned nchain;
    gnutls_privkey_t key;
    char subject[256];
    time_t not_before, not_after;
    struct creds *older; /* replaced ones, kept until close (see the top) */
} creds;

struct sf_tls {
    char *cert_path, *key_path;
    _Atomic(creds *) current;
    creds *retired; /* touched by reload and close only */
    _Atomic uint64_t reloads_ok, reloads_failed;
    struct MHD_OptionItem opts[3];
};

/* The open sf_tls: GnuTLS's retrieve callback has no pointer of its own. */
static _Atomic(sf_tls *) active;

static int retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int npk_algos, gnutls_pcert_st **pcert,
                    unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
    (void)session, (void)req_ca_dn, (void)nreqs, (void)pk_algos, (void)npk_algos;
    sf_tls *t = atomic_load(&active);
    creds *c = t ? atomic_load(&t->current) : NULL;
    if (!c)
        return -1; /* the handshake fails */
    *pcert = c->chain;
    *pcert_length = c->nchain;
    *privkey = c->key;
    return 0;
}

static void creds_free(creds *c)
{
    while (c) {
        creds *next = c->older;
        for (unsigned i = 0; i < c->nchain; i++)
            gnutls_pcert_deinit(&c->chain[i]);
        if (c->key)
            gnutls_privkey_deinit(c->key);
        free(c);
        c = next;
    }
}

/* The whole of path into *out (malloc'd, NUL-terminated). */
static int read_pem(const char *setting, const char *path, gnutls_datum_t *out, sf_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sf_error_set(err, SF_EUSAGE, "%s: cannot read %s: %s", setting, path,
                            strerror(errno));
    unsigned char *data = malloc(PEM_MAX + 1);
    size_t n = data ? fread(data, 1, PEM_MAX + 1, f) : 0;
    int rc = 0;
    if (!data)
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    else if (ferror(f))
        rc = sf_error_set(err, SF_EUSAGE, "%s: cannot read %s: %s", setting, path, strerror(errno));
    else if (n > PEM_MAX)
        rc = sf_error_set(err, SF_EUSAGE, "%s: %s is over %u bytes: not a PEM file", setting, path,
                          PEM_MAX);
    fclose(f);
    if (rc < 0) {
        free(data);
        return rc;
    }
    data[n] = '\0';
    *out = (gnutls_datum_t){data, (unsigned)n};
    return 0;
}

static int import_chain(creds *c, const char *path, const gnutls_datum_t *pem, sf_error *err)
{
    c->nchain = CHAIN_MAX;
    int ret = gnutls_pcert_list_import_x509_raw(c->chain, &c->nchain, pem, GNUTLS_X509_FMT_PEM,
                                                GNUTLS_X509_CRT_LIST_SORT);
    if (ret == GNUTLS_E_SUCCESS && c->nchain > 0)
        return 0;
    c->nchain = 0;
    if (ret == GNUTLS_E_SHORT_MEMORY_BUFFER)
        return sf_error_set(err, SF_EUSAGE, "tls-cert: %s holds more than %d certificates", path,
                            CHAIN_MAX);
    return sf_error_set(err, SF_EUSAGE, "tls-cert: %s is not a PEM certificate (GnuTLS: %s)", path,
                        gnutls_strerror(ret));
}

static int import_key(creds *c, const char *path, const gnutls_datum_t *pem, sf_error *err)
{
    int ret = gnutls_privkey_init(&c->key);
    if (ret < 0) {
        c->key = NULL;
        return sf_error_set(err, SF_ENOMEM, "tls-key: %s", gnutls_strerror(ret));
    }
    ret = gnutls_privkey_import_x509_raw(c->key, pem, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (ret < 0)
        return sf_error_set(err, SF_EUSAGE,
                            "tls-key: %s is not a PEM private key, or is encrypted (GnuTLS: %s)",
                            path, gnutls_strerror(ret));
    return 0;
}

/* The key's public half is the certificate's: the same key id. */
static int check_pair(creds *c, const sf_tls *t, sf_error *err)
{
    unsigned char a[64], b[64];
    size_t na = sizeof a, nb = sizeof b;
    gnutls_pubkey_t pub;
    if (gnutls_pubkey_init(&pub) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    int ret = gnutls_pubkey_import_privkey(pub, c->key, 0, 0);
    if (ret == 0)
        ret = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a, &na);
    if (ret == 0)
        ret = gnutls_pubkey_get_key_id(c->chain[0].pubkey, GNUTLS_KEYID_USE_SHA256, b, &nb);
    gnutls_pubkey_deinit(pub);
    if (ret < 0)
        return sf_error_set(err, SF_EUSAGE, "tls-key: %s: cannot compare it with %s (GnuTLS: %s)",
                            t->key_path, t->cert_path, gnutls_strerror(ret));
    if (na != nb || memcmp(a, b, na) != 0)
        return sf_error_set(err, SF_EUSAGE,
                            "tls-key: %s is not the key of the certificate in %s (tls-cert)",
                            t->key_path, t->cert_path);
    return 0;
}

/* The served certificate's subject and validity, for the log and metrics. */
static int describe(creds *c, const char *path, sf_error *err)
{
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    gnutls_datum_t dn = {NULL, 0};
    int ret = gnutls_x509_crt_import(crt, &c->chain[0].cert, GNUTLS_X509_FMT_DER);
    if (ret == 0)
        ret = gnutls_x509_crt_get_dn3(crt, &dn, 0);
    if (ret == 0) {
        snprintf(c->subject, sizeof c->subject, "%.*s", (int)dn.size, (const char *)dn.data);
        c->not_before = gnutls_x509_crt_get_activation_time(crt);
        c->not_after = gnutls_x509_crt_get_expiration_time(crt);
    }
    gnutls_free(dn.data);
    gnutls_x509_crt_deinit(crt);
    if (ret < 0)
        return sf_error_set(err, SF_EUSAGE,
                            "tls-cert: %s: cannot read the certificate (GnuTLS: %s)", path,
                            gnutls_strerror(ret));
    return 0;
}

static void wipe_free(gnutls_datum_t *d)
{
    if (d->data)
        gnutls_memset(d->data, 0, d->size);
    free(d->data);
}

/* Read and check both files into a new creds. */
static int load(const sf_tls *t, creds **out, sf_error *err)
{
    creds *c = calloc(1, sizeof *c);
    if (!c)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
    int rc = read_pem("tls-cert", t->cert_path, &cert, err);
    if (rc == 0)
        rc = read_pem("tls-key", t->key_path, &key, err);
    if (rc == 0)
        rc = import_chain(c, t->cert_path, &cert, err);
    if (rc == 0)
        rc = import_key(c, t->key_path, &key, err);
    if (rc == 0)
        rc = check_pair(c, t, err);
    if (rc == 0)
        rc = describe(c, t->cert_path, err);
    free(cert.data);
    wipe_free(&key);
    if (rc < 0) {
        creds_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int sf_tls_open(const char *cert_path, const char *key_path, sf_tls **out, sf_error *err)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ||
        MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) != MHD_YES)
        return sf_error_set(err, SF_EINVAL,
                            "tls: this libmicrohttpd (%s) was built without TLS (GnuTLS); serve "
                            "plain HTTP behind a TLS proxy instead (docs/deploy.md)",
                            MHD_get_version());
    if (!cert_path || !*cert_path || !key_path || !*key_path)
        return sf_error_set(err, SF_EUSAGE, "tls-cert and tls-key go together: give both");
    sf_tls *t = calloc(1, sizeof *t);
    if (!t || !(t->cert_path = strdup(cert_path)) || !(t->key_path = strdup(key_path))) {
        sf_tls_close(t);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    creds *c;
    int rc = load(t, &c, err);
    if (rc < 0) {
        sf_tls_close(t);
        return rc;
    }
    atomic_store(&t->current, c);
    sf_tls *none = NULL;
    if (!atomic_compare_exchange_strong(&active, &none, t)) {
        sf_tls_close(t);
        return sf_error_set(err, SF_EBUSY, "tls: another HTTPS gateway runs in this process");
    }
    t->opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)retrieve};
    t->opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, SF_TLS_PRIORITIES};
    t->opts[2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    *out = t;
    return 0;
}

const struct MHD_OptionItem *sf_tls_options(const sf_tls *t)
{
    static const struct MHD_OptionItem none[] = {{MHD_OPTION_END, 0, NULL}};
    return t ? t->opts : none;
}

static void utc_text(time_t when, char *out, size_t cap)
{
    struct tm tm;
    if (when == (time_t)-1 || !gmtime_r(&when, &tm) ||
        strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, cap, "unknown");
}

void sf_tls_log_certificate(const sf_tls *t, const char *event)
{
    const creds *c = atomic_load(&t->current);
    char path[600], subject[600], after[32];
    utc_text(c->not_after, after, sizeof after);
    time_t now = time(NULL);
    const char *state = now > c->not_after    ? "expired"
                        : now < c->not_before ? "not_yet_valid"
                                              : "ok";
    sf_logf(strcmp(state, "ok") == 0 ? SF_LOG_INFO : SF_LOG_WARN, event,
            "cert=%s subject=%s not_after=%s validity=%s chain=%u",
            sf_logq(t->cert_path, path, sizeof path), sf_logq(c->subject, subject, sizeof subject),
            after, state, c->nchain);
}

int sf_tls_reload(sf_tls *t, sf_error *err)
{
    sf_error local = {0};
    if (!err)
        err = &local;
    creds *c;
    int rc = load(t, &c, err);
    if (rc < 0) {
        atomic_fetch_add(&t->reloads_failed, 1);
        char q[600];
        sf_logf(SF_LOG_ERROR, "tls_reload_failed", "msg=%s kept=current_certificate",
                sf_logq(err->msg, q, sizeof q));
        return rc;
    }
    creds *old = atomic_exchange(&t->current, c);
    old->older = t->retired;
    t->retired = old;
    atomic_fetch_add(&t->reloads_ok, 1);
    sf_tls_log_certificate(t, "tls_reloaded");
    return 0;
}

void sf_tls_metrics(const sf_tls *t, sf_buf *out)
{
    if (!t)
        return;
    const creds *c = atomic_load(&t->current);
    sf_buf_printf(out,
                  "# HELP shopflow_tls_certificate_expiry_seconds When the certificate served to "
                  "new connections expires (unix seconds).\n"
                  "# TYPE shopflow_tls_certificate_expiry_seconds gauge\n"
                  "shopflow_tls_certificate_expiry_seconds %lld\n"
                  "# HELP shopflow_tls_reloads_total Certificate reloads (SIGHUP), by result.\n"
                  "# TYPE shopflow_tls_reloads_total counter\n"
                  "shopflow_tls_reloads_total{result=\"ok\"} %llu\n"
                  "shopflow_tls_reloads_total{result=\"failed\"} %llu\n",
                  (long long)c->not_after, (unsigned long long)atomic_load(&t->reloads_ok),
                  (unsigned long long)atomic_load(&t->reloads_failed));
}

void sf_tls_close(sf_tls *t)
{
    if (!t)
        return;
    sf_tls *self = t;
    atomic_compare_exchange_strong(&active, &self, NULL);
    creds_free(atomic_load(&t->current));
    creds_free(t->retired);
    free(t->cert_path);
    free(t->key_path);
    free(t);
}
