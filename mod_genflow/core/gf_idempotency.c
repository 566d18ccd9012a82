/* SPDX-License-Identifier: Apache-2.0 */
/* gf_idempotency.c: the rules of gf_idempotency.h. */
#include <string.h>
#include <apr_sha1.h>
#include <apr_strings.h>

#include "core/gf_idempotency.h"
#include "core/gf_json.h"
#include "core/gf_sql.h"

int gf_idem_key_valid(const char *key)
{
    return *key && strlen(key) <= GF_IDEM_KEY_MAX;
}

/* "{SHA}" + base64 of SHA-1 over the n bytes at material. */
static const char *fingerprint(apr_pool_t *p, const char *material, apr_size_t n)
{
    char *fp = apr_palloc(p, APR_SHA1PW_IDLEN + 28 + 1);
    apr_sha1_base64(material, (int)n, fp);
    return fp;
}

void gf_idem_fingerprints(apr_pool_t *p, const char *method, const char *uri,
                          const char *body, apr_size_t len, const char **fp,
                          const char **fp_bytes)
{
    const char *head = apr_pstrcat(p, method, " ", uri, "\n", NULL);
    apr_size_t head_len = strlen(head);
    const char *err = NULL, *canon = NULL;
    json_object *doc = len ? gf_json_parse(p, body, len, &err) : NULL;
    char *material;

    /* Byte for byte, NULs included: the body is not a C string. */
    material = apr_palloc(p, head_len + len + 1);
    memcpy(material, head, head_len);
    if (len) memcpy(material + head_len, body, len);
    *fp_bytes = fingerprint(p, material, head_len + len);
    if (doc) {
        canon = apr_pstrcat(p, head, gf_json_canonical(p, doc), NULL);
        *fp = fingerprint(p, canon, strlen(canon));
    }
    else {
        *fp = *fp_bytes;
    }
}

int gf_idem_owned(const char *const *rec, const char *token)
{
    return rec[GF_IDEM_OWNER] && !strcmp(rec[GF_IDEM_OWNER], token);
}

gf_idem_verdict_t gf_idem_judge(const char *const *rec, const char *token, const char *fp,
                                const char *fp_bytes)
{
    if (gf_idem_owned(rec, token)) return GF_IDEM_RUN_OWN;
    if (strcmp(rec[GF_IDEM_FINGERPRINT], fp) && strcmp(rec[GF_IDEM_FINGERPRINT], fp_bytes)) {
        return GF_IDEM_OTHER_REQUEST;
    }
    if (!strcmp(rec[GF_IDEM_STATE], "done") && rec[GF_IDEM_STATUS] && rec[GF_IDEM_BODY]) {
        return GF_IDEM_REPLAY;
    }
    if (!strcmp(rec[GF_IDEM_STATE], "running") && rec[GF_IDEM_FREE]
        && !strcmp(rec[GF_IDEM_FREE], "1")) {
        return GF_IDEM_TAKE_OVER;
    }
    return GF_IDEM_STILL_RUNNING;
}

gf_idem_ending_t gf_idem_ending(int has_body, int status, int linked)
{
    /* Only an answer of a request that did its work is kept: a refusal
     * (4xx) or a failure (5xx) changed nothing the key could stand for. */
    if (has_body && status >= 200 && status < 300) return GF_IDEM_SAVE;
    return linked ? GF_IDEM_RELEASE : GF_IDEM_DROP;
}
