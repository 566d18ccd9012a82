/* SPDX-License-Identifier: Apache-2.0 */
/* gf_conf_parse.h: the values of the GenFlow* directives, parsed and
 * checked without httpd.
 *
 * The directive handlers (httpd/config/mod_genflow_config*.c) take their
 * arguments out of cmd_parms, call these, and store what they give; a
 * value is untrusted-ish text from a configuration file, so its rules live
 * here, unit-tested and fuzzed. Each returns NULL when the value is good,
 * else the message the directive answers after its own name
 * ("GenFlowX: message"): word for word what conf/genflow.conf and the
 * test suite expect. What needs httpd (ap_expr, ServerRoot, the server's
 * records) stays in the handler.
 */
#ifndef GF_CONF_PARSE_H
#define GF_CONF_PARSE_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "core/gf_budget.h"
#include "core/gf_policy.h"

/* Where the system's time zones are (Debian's tzdata, which PostgreSQL
 * reads too): a budget's zone must be one of them. */
#ifndef GF_ZONEINFO_DIR
#define GF_ZONEINFO_DIR "/usr/share/zoneinfo"
#endif

/* GenFlowWebhookOrigins, GenFlowPictureOrigins: each scheme://host[:port],
 * https, or http to a loopback host only (core/gf_loopback.h); "none"
 * alone is the empty list. *out: "scheme://host:port" each, the port
 * written out. */
const char *gf_conf_parse_origins(apr_pool_t *p, int argc, char *const argv[],
                                  apr_array_header_t **out);

/* GenFlowEventsBase: scheme://host[:port][/path], https or http to a
 * loopback host (its URLs carry a token); *base without trailing '/', or
 * "" for "none". */
const char *gf_conf_parse_events_base(apr_pool_t *p, const char *arg, const char **base);

/* GenFlowAdministrators user NAME... | expr "EXPR" | none: *expr the
 * expression's text (for ap_expr to parse), or *users the names; both
 * NULL for none. */
const char *gf_conf_parse_admins(apr_pool_t *p, int argc, char *const argv[],
                                 const char **expr, apr_array_header_t **users);

/* A provider's budget options together: budget_hold= and budget_tz= come
 * with budget=, and the zone is "UTC" or a file under zoneinfo_dir. */
const char *gf_conf_check_budget(apr_pool_t *p, const gf_budget_conf_t *b,
                                 const char *zoneinfo_dir);

/* max_jobs= counts jobs that run asynchronously: refused for a kind whose
 * calls answer with their picture (kind: as the directive wrote it). */
const char *gf_conf_check_max_jobs(apr_pool_t *p, int max_jobs, int asynchronous,
                                   const char *kind);

/* GenFlowPreparedStatements named|unnamed (any case). */
const char *gf_conf_parse_statements(apr_pool_t *p, const char *arg, int *unnamed);

/* GenFlowStorageURL: a path or an http(s) URL prefix. */
const char *gf_conf_check_storage_url(const char *arg);

/* GenFlowType NAME [TABLE]: the name's and the table's syntax; the table
 * is NAME_media ('-' as '_') when not given. */
const char *gf_conf_type_table(apr_pool_t *p, const char *name, const char *table,
                               const char **out);

/* A new mount (name, table) against a type already mounted (t_name,
 * t_table): a type keeps one table and a table one type. *same = 1 when
 * it is that type. */
const char *gf_conf_type_clash(apr_pool_t *p, const char *name, const char *table,
                               const char *t_name, const char *t_table, int *same);

/* GenFlowPriority N: -1000..1000. */
const char *gf_conf_parse_priority(const char *arg, int *out);

/* A second GenFlowPriority n for the type name, which had priority had
 * from had_where (NULL: none yet): the same number only. */
const char *gf_conf_priority_clash(apr_pool_t *p, const char *name, const char *had_where,
                                   int had, int n);

/* A numeric setting (mod_genflow_config_settings.h): a whole number
 * 0..max (gf_parse_amount), at least min; unit words the message
 * ("must be at least 2 seconds"). */
const char *gf_conf_parse_setting(apr_pool_t *p, const char *arg, long min, long max,
                                  const char *unit, long *out);

/* The answer of a directive (name) that holds for a whole child or
 * database when it stands in a <VirtualHost>, saying why. */
const char *gf_conf_vhost_refusal(apr_pool_t *p, const char *name, const char *why);

/* GenFlowRequire: GF_NEED_* of each word, "none" adding nothing. */
const char *gf_conf_parse_needs(apr_pool_t *p, int argc, char *const argv[], unsigned *out);

/* GenFlowAccept: GF_ACCEPT_* of each word, "none" adding nothing. */
const char *gf_conf_parse_accepts(apr_pool_t *p, int argc, char *const argv[], unsigned *out);

/* Is a <Location>'s path a plain path (no pattern characters), which the
 * site's layout can list? */
int gf_conf_plain_path(const char *path);

/* ---- GenFlowPromptPolicy ---- */

/* The options of one GenFlowPromptPolicy line that are values, not files. */
typedef struct {
    const char *moderation_url;      /* moderation= */
    const char *model;               /* model= */
    long timeout_ms;                 /* timeout= */
    int on_error_allow;              /* on_error=allow */
    int insecure_loopback;           /* insecure_loopback=on */
    int images;                      /* images=on */
    apr_array_header_t *categories;  /* categories=a,b, or NULL */
    int moderation_opts;             /* an option that goes with moderation= was given */
} gf_conf_policy_opts_t;

/* Returned by gf_conf_policy_option for deny_list=, key_file= and
 * key_env=, which read a file or the environment: the handler's. */
extern const char GF_CONF_POLICY_READ[];

/* "key=value" split: the printable key=value with both sides non-empty. */
const char *gf_conf_key_value(apr_pool_t *p, const char *arg, const char **key,
                              const char **value);

/* One key=value of a GenFlowPromptPolicy line into o: NULL, an error, or
 * GF_CONF_POLICY_READ. */
const char *gf_conf_policy_option(apr_pool_t *p, gf_conf_policy_opts_t *o, const char *key,
                                  const char *value);

/* What the options say together, but the moderation URL's own check
 * (net/, the handler's). */
const char *gf_conf_policy_whole(int has_deny, const gf_conf_policy_opts_t *o);

/* The deny list file at path (arg as the directive wrote it, for the
 * first message), read whole (at most GF_POLICY_LIST_MAX_BYTES) and
 * parsed into *list. */
const char *gf_conf_policy_list_read(apr_pool_t *p, apr_pool_t *ptemp, const char *path,
                                     const char *arg, const gf_policy_list_t **list);

#endif
