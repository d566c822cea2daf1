/*
 * tls.h - the gateway's HTTPS: the certificate and key it serves, read from
 * PEM files, and reloaded from them while it runs (src/gateway only).
 *
 * libmicrohttpd does the TLS with GnuTLS. The certificate is not handed to
 * it once (MHD_OPTION_HTTPS_MEM_CERT cannot be changed on a running daemon)
 * but through a certificate callback (MHD_OPTION_HTTPS_CERT_CALLBACK, GnuTLS's
 * retrieve function) that gives each new handshake the current one, so a
 * reload swaps it without a restart and without dropping a connection.
 * Connections already open keep the certificate they were made with.
 *
 * Only TLS 1.2 and 1.3 are offered (SF_TLS_PRIORITIES).
 */
#ifndef SF_GATEWAY_TLS_H
#define SF_GATEWAY_TLS_H

#include <microhttpd.h>

#include "core/buf.h"
#include "core/error.h"

/* The GnuTLS priority string: GnuTLS's defaults, TLS 1.2 and 1.3 only. */
#define SF_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

typedef struct sf_tls sf_tls;

/*
 * Check that this libmicrohttpd can serve HTTPS, then read cert_path (a PEM
 * certificate, optionally followed by its chain) and key_path (its PEM
 * private key, not encrypted) and check that they belong together. Errors
 * name the setting and the file (SF_EUSAGE for a file that is missing,
 * unreadable, not PEM or not the key of that certificate; SF_EINVAL when
 * libmicrohttpd has no TLS). GnuTLS's callback has no pointer of its own, so
 * the certificate in use is the process's: one sf_tls at a time
 * (SF_EBUSY for a second). The caller closes it with sf_tls_close, after
 * stopping the daemon that uses it.
 */
int sf_tls_open(const char *cert_path, const char *key_path, sf_tls **out, sf_error *err);

/* libmicrohttpd options to pass with MHD_OPTION_ARRAY (plus the flag
 * MHD_USE_TLS): the certificate callback and the priorities. With t NULL,
 * an empty array (plain HTTP). Valid while t is open. */
const struct MHD_OptionItem *sf_tls_options(const sf_tls *t);

/* Read the two files again; new handshakes use them from now on. On
 * failure the certificate in use stays, and err says why. Safe while
 * handshakes run (the old certificate is kept until sf_tls_close, since a
 * handshake may still be using it), but from one thread at a time. Logs one
 * line either way; err may be NULL. */
int sf_tls_reload(sf_tls *t, sf_error *err);

/* Log one line describing the certificate in use (subject, expiry). */
void sf_tls_log_certificate(const sf_tls *t, const char *event);

/* Prometheus text: the certificate's expiry and the reloads, by result. */
void sf_tls_metrics(const sf_tls *t, sf_buf *out);

/* Free everything; t may be NULL. */
void sf_tls_close(sf_tls *t);

#endif
