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
     * one that creates it queued checks the limit where it reserves. */
    ck_assert_ptr_null(strstr(APR_ARRAY_IDX(st, GF_SQL_CREATE, gf_sql_stmt_t).sql,
                              "a.active + 1"));
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(st, GF_SQL_CREATE_QUEUED, gf_sql_stmt_t).sql,
                                 "a.active < args.max_active"));
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(st, GF_SQL_CREATE_QUEUED, gf_sql_stmt_t).sql,
                                 "'reserve'"));
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(st, GF_SQL_QUEUE, gf_sql_stmt_t).sql,
                                 "a.active < args.max_active"));
    ck_assert_ptr_null(strstr(APR_ARRAY_IDX(st, GF_SQL_EXPIRE, gf_sql_stmt_t).sql, "active"));
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
    suite_add_tcase(s, tc);
    return s;
}
