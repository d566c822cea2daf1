/*
 * auth.c - who sent a request: an API key (keys.h) or a customer token
 * (token.h), both as `Authorization: Bearer ...`.
 *
 * The two are told apart by shape: keys start "sfk_", anything else is
 * taken for a token. Routes decide what each principal may do (403); here
 * only "who are you" is answered (401 when nobody valid). A connection that
 * has shown a valid credential once is marked so: when connections run
 * short, idle ones that never did are closed first (conns.c).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/record.h"
#include "gateway/internal.h"

static bool known(request *r)
{
    if (r->slot)
        atomic_store_explicit(&r->slot->authenticated, true, memory_order_relaxed);
    return true;
}

bool sf_auth(request *r, principal *p)
{
    const char *auth = r->h.authorization;
    *p = (principal){SF_ROLE_NONE, SF_NO_CUSTOMER};
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
        sf_reject(r, 401, "unauthorized", "send Authorization: Bearer KEY (or a customer token)");
        return false;
    }
    const char *cred = auth + 7;
    if (strncmp(cred, "sfk_", 4) == 0) {
        p->role = sf_keys_verify(r->g->keys, cred, strlen(cred));
        if (p->role != SF_ROLE_NONE)
            return known(r);
        sf_reject(r, 401, "unauthorized", "the key is not valid (unknown or revoked)");
        return false;
    }
    sf_error err = {0};
    if (sf_token_verify(r->g->token_secret, cred, (int64_t)time(NULL), &p->customer, &err) == 0)
        return known(r);
    sf_reject(r, 401, "unauthorized", err.msg);
    return false;
}
