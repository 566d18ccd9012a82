/* SPDX-License-Identifier: Apache-2.0 */
/* test_sql.c: statements are built from validated names only. */
#include <string.h>
#include <apr_tables.h>

#include "test_core.h"
#include "core/gf_sql.h"

START_TEST(identifiers)
{
    ck_assert(gf_sql_valid_table("neo_glitch_media"));
    ck_assert(!gf_sql_valid_table("neo-glitch"));
    ck_assert(!gf_sql_valid_table("x; drop table y"));
    ck_assert(!gf_sql_valid_table("Upper"));
    ck_assert(!gf_sql_valid_table(""));
    ck_assert(gf_sql_valid_table("t1234567890123456789012345678901234567890123456789"));    /* 50 */
    ck_assert(!gf_sql_valid_table("t12345678901234567890123456789012345678901234567890"));  /* 51 */
    ck_assert(gf_sql_valid_type("neo-glitch"));
    ck_assert(!gf_sql_valid_type("-x"));
    ck_assert(!gf_sql_valid_type("a'b"));
}
END_TEST

START_TEST(type_statements)
{
    apr_array_header_t *st = apr_array_make(test_pool, 8, sizeof(gf_sql_stmt_t));
    int i;

    gf_sql_type_statements(test_pool, "neo-glitch", "neo_glitch_media", st);
    ck_assert_int_eq(st->nelts, GF_SQL_TYPE_OPS);
    for (i = 0; i < st->nelts; i++) {
        gf_sql_stmt_t *s = &APR_ARRAY_IDX(st, i, gf_sql_stmt_t);
        ck_assert_msg(strstr(s->sql, "neo_glitch_media") != NULL, "%s lacks the table", s->label);
        ck_assert_msg(strstr(s->sql, "{T}") == NULL && strstr(s->sql, "{Y}") == NULL,
                      "%s has an unfilled placeholder", s->label);
        /* Every statement is parameterised, and no literal '%' sneaks in. */
        ck_assert_msg(strstr(s->sql, "%s") != NULL || strstr(s->sql, "%d") != NULL,
                      "%s has no parameter", s->label);
        ck_assert_msg(strstr(s->sql, "%%") == NULL, "%s", s->label);
    }
    ck_assert_str_eq(APR_ARRAY_IDX(st, GF_SQL_CREATE, gf_sql_stmt_t).label,
                     "gf_neo_glitch_media_create");
    /* The money moves in the same statement as the row. */
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(st, GF_SQL_CREATE, gf_sql_stmt_t).sql,
                                 "'reserve'"));
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(st, GF_SQL_FAIL, gf_sql_stmt_t).sql, "'refund'"));
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(st, GF_SQL_COMPLETE, gf_sql_stmt_t).sql,
                                 "'charge'"));
    /* Only a statement that queues counts a generation active, and the
     * one that creates it queued checks the limit where it reserves
     * (genflow_reserve's last argument: queued; sql/026). */
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(st, GF_SQL_CREATE, gf_sql_stmt_t).sql,
                                 "ok.max_active, false)"));
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(st, GF_SQL_CREATE_QUEUED, gf_sql_stmt_t).sql,
                                 "ok.max_active, true)"));
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(st, GF_SQL_CREATE_QUEUED, gf_sql_stmt_t).sql,
                                 "'reserve'"));
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(st, GF_SQL_QUEUE, gf_sql_stmt_t).sql,
                                 "genflow_activate(pick.user_id, args.max_active)"));
    ck_assert_ptr_null(strstr(APR_ARRAY_IDX(st, GF_SQL_EXPIRE, gf_sql_stmt_t).sql, "active"));
}
END_TEST

/* The number of %s/%d parameters of a statement. */
static int params_of(const char *sql)
{
    int n = 0;
    for (; *sql; sql++) {
        if (sql[0] == '%' && (sql[1] == 's' || sql[1] == 'd')) n++;
    }
    return n;
}

/* The number of columns after the statement's last RETURNING or its
 * outermost SELECT list: commas outside parentheses and quotes, plus one. */
static int columns_after(const char *sql, const char *word)
{
    const char *at = NULL, *q;
    int depth = 0, quoted = 0, n = 1;
    for (q = strstr(sql, word); q; q = strstr(q + 1, word)) at = q;
    ck_assert_ptr_nonnull(at);
    for (q = at + strlen(word); *q; q++) {
        if (*q == '\'') quoted = !quoted;
        else if (quoted) continue;
        else if (*q == '(') depth++;
        else if (*q == ')') depth--;
        else if (*q == ',' && depth == 0) n++;
        else if (depth == 0 && (!strncmp(q, " FROM ", 6) || !strncmp(q, " UNION ALL", 10))) break;
    }
    return n;
}

static const char *sql_of(const apr_array_header_t *st, const char *label)
{
    int i;
    for (i = 0; i < st->nelts; i++) {
        const gf_sql_stmt_t *s = &APR_ARRAY_IDX(st, i, gf_sql_stmt_t);
        if (!strcmp(s->label, label)) return s->sql;
    }
    ck_abort_msg("no statement %s", label);
    return NULL;
}

/* The named arguments and columns the glue uses (gf_sql.h) are the
 * statements' own, in number: a column added to one without the other
 * fails here, not in a read of the wrong column. */
START_TEST(named_arguments_and_columns)
{
    apr_array_header_t *st = apr_array_make(test_pool, 8, sizeof(gf_sql_stmt_t));
    apr_array_header_t *g = apr_array_make(test_pool, 8, sizeof(gf_sql_stmt_t));
#define OP(op) APR_ARRAY_IDX(st, op, gf_sql_stmt_t).sql

    gf_sql_type_statements(test_pool, "neo-glitch", "neo_glitch_media", st);
    gf_sql_global_statements(test_pool, g);
    ck_assert_int_eq(params_of(OP(GF_SQL_CREATE)), GF_CREATE_ARGS);
    ck_assert_int_eq(params_of(OP(GF_SQL_CREATE_QUEUED)), GF_CREATE_ARGS);
    ck_assert_int_eq(columns_after(OP(GF_SQL_CREATE), " SELECT gen.id"), GF_CREATED_COLS);
    ck_assert_int_eq(params_of(OP(GF_SQL_SCHEDULE)), GF_SCHEDULE_ARGS);
    /* A claim's rows, and the row that says why nothing was claimed. */
    ck_assert_int_eq(params_of(OP(GF_SQL_CLAIM)), GF_CLAIM_ARGS);
    ck_assert_int_eq(params_of(OP(GF_SQL_CLAIM_POLLS)), GF_CLAIM_ARGS);
    ck_assert_int_eq(columns_after(OP(GF_SQL_CLAIM), " SELECT c.id::text"), GF_CLAIM_COLS);
    ck_assert_int_eq(columns_after(OP(GF_SQL_CLAIM), " UNION ALL SELECT NULL"), GF_CLAIM_COLS);
    ck_assert_int_eq(columns_after(OP(GF_SQL_CLAIM_POLLS), " SELECT c.id::text"), GF_CLAIM_COLS);
    ck_assert_int_eq(columns_after(OP(GF_SQL_METRICS), " SELECT g.status"), GF_METRICS_COLS);
    ck_assert_int_eq(columns_after(sql_of(g, GF_SQL_UPLOAD_GET), "SELECT "), GF_UPLOAD_COLS);
    ck_assert_int_eq(columns_after(sql_of(g, GF_SQL_IDEM_GET), "SELECT "), GF_IDEM_COLS);
#undef OP
}
END_TEST

/* Labels stay unique and within PostgreSQL's 63 bytes for any valid
 * table name: two 63-character names that differ only at the end. */
START_TEST(labels_unique_for_long_tables)
{
    const char *a = "t123456789012345678901234567890123456789012345678901234567890ab";
    const char *b = "t123456789012345678901234567890123456789012345678901234567890ac";
    const char *la = gf_sql_type_label(test_pool, a, GF_SQL_ADMIN_DELETE);
    const char *lb = gf_sql_type_label(test_pool, b, GF_SQL_ADMIN_DELETE);
    const char *lc = gf_sql_type_label(test_pool, a, GF_SQL_ADMIN_LIST);
    ck_assert_int_eq(strlen(a), 63);
    ck_assert_int_le(strlen(la), 63);
    ck_assert_int_le(strlen(lc), 63);
    ck_assert_str_ne(la, lb);
    ck_assert_str_ne(la, lc);
    ck_assert_str_eq(gf_sql_type_label(test_pool, "neo_glitch_media", GF_SQL_CREATE),
                     "gf_neo_glitch_media_create");
    /* Every operation's label fits, and no two operations share one. */
    {
        int op, other;
        for (op = 0; op < GF_SQL_TYPE_OPS; op++) {
            const char *l = gf_sql_type_label(test_pool, a, (gf_sql_type_op_t)op);
            ck_assert_msg(strlen(l) <= 63, "%s is longer than 63 bytes", l);
            for (other = 0; other < op; other++) {
                ck_assert_str_ne(l, gf_sql_type_label(test_pool, a, (gf_sql_type_op_t)other));
            }
        }
    }
}
END_TEST

Suite *sql_suite(void)
{
    Suite *s = suite_create("sql");
    TCase *tc = tcase_create("statements");
    tcase_add_test(tc, identifiers);
    tcase_add_test(tc, type_statements);
    tcase_add_test(tc, labels_unique_for_long_tables);
    tcase_add_test(tc, named_arguments_and_columns);
    suite_add_tcase(s, tc);
    return s;
}
