/* SPDX-License-Identifier: Apache-2.0 */
/* test_loop.c: the engine's loop (net/gf_loop.h): many fibers on one
 * thread, their HTTP exchanges in flight together on one multi handle,
 * timers, waits handed to other threads, and the abort flag. */
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <pthread.h>
#include <poll.h>
#include <time.h>
#include <sys/socket.h>
#include <apr_strings.h>

#include "test_core.h"
#include "net/gf_abort.h"
#include "net/gf_loop.h"
#include "net/gf_http.h"

/* ---- a server that holds every request before it answers ---------------- */

#define SRV_MAX 300

typedef struct {
    int lfd, port, stop[2];
    int hold_ms;               /* how long each request waits for its answer */
    int silent;                /* never answer */
    int open_now, open_max;    /* requests received and not yet answered */
    int answered, accepted;
    pthread_t thread;
} hold_srv_t;

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *hold_main(void *baton)
{
    static const char answer[] =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
    hold_srv_t *s = baton;
    struct pollfd fds[SRV_MAX + 2];
    char buf[SRV_MAX + 2][2048];
    size_t len[SRV_MAX + 2];
    double due[SRV_MAX + 2];   /* when the held request is answered; 0: none */
    int n = 2, i;

    fds[0].fd = s->lfd;
    fds[1].fd = s->stop[0];
    fds[0].events = fds[1].events = POLLIN;
    for (;;) {
        double now = mono_ms();
        int wait = 50;
        for (i = 2; i < n; i++) {
            if (due[i] > 0 && due[i] <= now) {
                if (write(fds[i].fd, answer, sizeof(answer) - 1) > 0) s->answered++;
                due[i] = 0;
                s->open_now--;
            }
        }
        if (poll(fds, (nfds_t)n, wait) < 0 || fds[1].revents) break;
        if ((fds[0].revents & POLLIN) && n < SRV_MAX + 2) {
            int c = accept(s->lfd, NULL, NULL);
            if (c >= 0) {
                s->accepted++;
                fds[n].fd = c;
                fds[n].events = POLLIN;
                fds[n].revents = 0;
                due[n] = 0;
                len[n++] = 0;
            }
        }
        for (i = 2; i < n; i++) {
            ssize_t r;
            if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
            r = read(fds[i].fd, buf[i] + len[i], sizeof(buf[i]) - 1 - len[i]);
            if (r <= 0) {
                if (due[i] > 0) s->open_now--;
                close(fds[i].fd);
                fds[i] = fds[n - 1];
                buf[i][0] = '\0';
                memcpy(buf[i], buf[n - 1], len[n - 1] + 1);
                len[i] = len[n - 1];
                due[i] = due[n - 1];
                n--;
                i--;
                continue;
            }
            len[i] += (size_t)r;
            buf[i][len[i]] = '\0';
            if (strstr(buf[i], "\r\n\r\n")) {
                len[i] = 0;
                if (!s->silent) due[i] = mono_ms() + s->hold_ms;
                else due[i] = 1e300;
                if (++s->open_now > s->open_max) s->open_max = s->open_now;
            }
        }
    }
    for (i = 2; i < n; i++) close(fds[i].fd);
    return NULL;
}

static void hold_start(hold_srv_t *s, int hold_ms, int silent)
{
    memset(s, 0, sizeof(*s));
    s->hold_ms = hold_ms;
    s->silent = silent;
    s->lfd = test_listen_loopback(512, &s->port);
    ck_assert_int_eq(pipe(s->stop), 0);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, hold_main, s), 0);
}

static void hold_stop(hold_srv_t *s)
{
    test_server_stop(s->thread, s->lfd, s->stop);
}

/* ---- the loop on a thread of its own ------------------------------------ */

static void *loop_thread(void *baton)
{
    gf_loop_run(baton);
    return NULL;
}

static gf_loop_t *loop_start(pthread_t *lt, const gf_loop_conf_t *conf)
{
    gf_loop_t *loop = gf_loop_create(test_pool, conf);
    ck_assert_ptr_nonnull(loop);
    ck_assert_int_eq(pthread_create(lt, NULL, loop_thread, loop), 0);
    return loop;
}

/* No more fibers; returns when the running ones have ended. */
static void loop_finish(gf_loop_t *loop, pthread_t lt)
{
    gf_loop_stop(loop);
    pthread_join(lt, NULL);
}

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    int port;
    int ok, failed, aborted;
    int sleeping_now, sleeping_max;
    int in_fiber;
    long sleep_ms;             /* fiber_sleep's; 0: 300 */
} tally_t;

static void count(int *field)
{
    pthread_mutex_lock(&count_lock);
    (*field)++;
    pthread_mutex_unlock(&count_lock);
}

static void fiber_get(void *baton)
{
    tally_t *t = baton;
    apr_pool_t *p;
    gf_http_request_t req;
    gf_http_response_t res;

    if (gf_loop_in_fiber()) count(&t->in_fiber);
    apr_pool_create(&p, NULL);
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = apr_psprintf(p, "http://127.0.0.1:%d/x", t->port);
    req.timeout_ms = 20000;
    req.allow_loopback_http = 1;
    gf_http_perform(p, &req, &res);
    if (res.status == 200 && !strcmp(res.body, "ok")) count(&t->ok);
    else if (res.aborted) count(&t->aborted);
    else count(&t->failed);
    apr_pool_destroy(p);
}

START_TEST(transfers_in_flight_together)
{
    /* 200 exchanges, each held 1 s by the server: all open at once on one
     * thread, each answered, none failed. */
    hold_srv_t s;
    tally_t t;
    pthread_t lt;
    gf_loop_t *loop;
    int i;

    gf_http_global_init();
    gf_abort_set_flag(NULL);
    hold_start(&s, 1000, 0);
    memset(&t, 0, sizeof(t));
    t.port = s.port;
    loop = loop_start(&lt, NULL);
    for (i = 0; i < 200; i++) ck_assert_int_eq(gf_loop_spawn(loop, fiber_get, &t), 0);
    loop_finish(loop, lt);
    ck_assert_int_eq(gf_loop_spawn(loop, fiber_get, &t), -1);   /* stopped */
    hold_stop(&s);
    ck_assert_int_eq(t.in_fiber, 200);
    ck_assert_int_eq(t.ok, 200);
    ck_assert_int_eq(t.failed + t.aborted, 0);
    ck_assert_int_eq(s.answered, 200);
    ck_assert_int_eq(s.open_max, 200);
    ck_assert_int_eq(gf_loop_fibers(loop), 0);
    ck_assert_int_eq(gf_loop_transfers(loop), 0);
}
END_TEST

START_TEST(connections_reused_across_fibers)
{
    /* One fiber after another: the second exchange finds the first's
     * connection in the loop's cache. */
    hold_srv_t s;
    tally_t t;
    pthread_t lt;
    gf_loop_t *loop;
    int i;

    gf_http_global_init();
    hold_start(&s, 0, 0);
    memset(&t, 0, sizeof(t));
    t.port = s.port;
    loop = loop_start(&lt, NULL);
    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(gf_loop_spawn(loop, fiber_get, &t), 0);
        while (gf_loop_fibers(loop) > 0) usleep(2000);
    }
    loop_finish(loop, lt);
    hold_stop(&s);
    ck_assert_int_eq(t.ok, 5);
    ck_assert_int_eq(s.accepted, 1);
}
END_TEST

static void fiber_sleep(void *baton)
{
    tally_t *t = baton;
    pthread_mutex_lock(&count_lock);
    if (++t->sleeping_now > t->sleeping_max) t->sleeping_max = t->sleeping_now;
    pthread_mutex_unlock(&count_lock);
    if (gf_loop_sleep(apr_time_from_msec(t->sleep_ms ? t->sleep_ms : 300))) count(&t->aborted);
    else count(&t->ok);
    pthread_mutex_lock(&count_lock);
    t->sleeping_now--;
    pthread_mutex_unlock(&count_lock);
}

START_TEST(timers_sleep_together)
{
    tally_t t;
    pthread_t lt;
    gf_loop_t *loop;
    gf_loop_conf_t conf;
    int i;

    memset(&t, 0, sizeof(t));
    memset(&conf, 0, sizeof(conf));
    conf.idle_stacks = 8;      /* most stacks are unmapped when their fiber ends */
    ck_assert_ptr_nonnull(loop = gf_loop_create(test_pool, &conf));
    /* Queued before the loop runs: they start together. */
    for (i = 0; i < 2000; i++) ck_assert_int_eq(gf_loop_spawn(loop, fiber_sleep, &t), 0);
    ck_assert_int_eq(gf_loop_fibers(loop), 2000);
    ck_assert_int_eq(pthread_create(&lt, NULL, loop_thread, loop), 0);
    loop_finish(loop, lt);
    ck_assert_int_eq(t.ok, 2000);
    ck_assert_int_eq(t.sleeping_max, 2000);
    ck_assert_int_eq(t.aborted, 0);
    /* Outside a fiber the same call blocks this thread. */
    ck_assert_int_eq(gf_loop_in_fiber(), 0);
    ck_assert_int_eq(gf_loop_sleep(apr_time_from_msec(20)), 0);
}
END_TEST

/* ---- waits handed to another thread ------------------------------------- */

typedef struct {
    gf_loop_wait_t *wait;
    int immediate;
    int done;
} hand_t;

static void *helper(void *baton)
{
    hand_t *h = baton;
    usleep(50 * 1000);
    h->done = 1;
    gf_loop_wake(h->wait);
    return NULL;
}

static void start_hand(gf_loop_wait_t *wait, void *baton)
{
    hand_t *h = baton;
    pthread_t t;
    h->wait = wait;
    if (h->immediate) {
        /* Woken before the fiber even went to sleep. */
        h->done = 1;
        gf_loop_wake(wait);
        return;
    }
    pthread_create(&t, NULL, helper, h);
    pthread_detach(t);
}

static void fiber_await(void *baton)
{
    hand_t *h = baton;
    gf_loop_await(start_hand, h);
    ck_assert_int_eq(h->done, 1);   /* resumed only after the other thread's work */
    h->done = 2;
}

START_TEST(await_other_threads)
{
    hand_t hs[20];
    pthread_t lt;
    gf_loop_t *loop;
    int i;

    memset(hs, 0, sizeof(hs));
    loop = loop_start(&lt, NULL);
    for (i = 0; i < 20; i++) {
        hs[i].immediate = i % 2;
        ck_assert_int_eq(gf_loop_spawn(loop, fiber_await, &hs[i]), 0);
    }
    loop_finish(loop, lt);
    for (i = 0; i < 20; i++) ck_assert_int_eq(hs[i].done, 2);
}
END_TEST

/* gf_loop_blocking: the work runs on the owner's thread, never the loop's. */

typedef struct {
    gf_loop_wait_t *wait;
    void (*fn)(void *);
    void *baton;
} job_t;

static void *offload_thread(void *baton)
{
    job_t *j = baton;
    j->fn(j->baton);
    gf_loop_wake(j->wait);
    free(j);
    return NULL;
}

static void offload(void *owner, gf_loop_wait_t *wait, void (*fn)(void *), void *baton)
{
    job_t *j = malloc(sizeof(*j));
    pthread_t t;
    (void)owner;
    j->wait = wait;
    j->fn = fn;
    j->baton = baton;
    pthread_create(&t, NULL, offload_thread, j);
    pthread_detach(t);
}

typedef struct {
    pthread_t caller;          /* the thread that asked for the work */
    int on_caller_thread;      /* where the blocking work ran */
    int ran;
} blk_t;

static void blocking_work(void *baton)
{
    blk_t *b = baton;
    b->on_caller_thread = pthread_equal(pthread_self(), b->caller);
    usleep(20 * 1000);
    b->ran = 1;
}

static void fiber_blocking(void *baton)
{
    blk_t *b = baton;
    b->caller = pthread_self();
    gf_loop_blocking(blocking_work, b);
    ck_assert_int_eq(b->ran, 1);
    b->ran = 2;
}

START_TEST(blocking_work_offloaded)
{
    blk_t bs[10], plain;
    gf_loop_conf_t conf;
    gf_loop_t *loop;
    pthread_t loop_tid;
    int i;

    memset(bs, 0, sizeof(bs));
    memset(&conf, 0, sizeof(conf));
    conf.offload = offload;
    ck_assert_ptr_nonnull(loop = gf_loop_create(test_pool, &conf));
    for (i = 0; i < 10; i++) ck_assert_int_eq(gf_loop_spawn(loop, fiber_blocking, &bs[i]), 0);
    ck_assert_int_eq(pthread_create(&loop_tid, NULL, loop_thread, loop), 0);
    loop_finish(loop, loop_tid);
    for (i = 0; i < 10; i++) {
        ck_assert_int_eq(bs[i].ran, 2);
        ck_assert_int_eq(bs[i].on_caller_thread, 0);
    }
    /* Outside a fiber: right here. */
    memset(&plain, 0, sizeof(plain));
    plain.caller = pthread_self();
    gf_loop_blocking(blocking_work, &plain);
    ck_assert_int_eq(plain.ran, 1);
    ck_assert_int_eq(plain.on_caller_thread, 1);
}
END_TEST

/* ---- the abort flag ends every wait ------------------------------------- */

static volatile int abort_flag;

START_TEST(abort_ends_transfers_and_timers)
{
    hold_srv_t s;
    tally_t t, ts;
    pthread_t lt;
    gf_loop_t *loop;
    double t0;
    int i;

    gf_http_global_init();
    abort_flag = 0;
    gf_abort_set_flag(&abort_flag);
    hold_start(&s, 0, 1);      /* never answers */
    memset(&t, 0, sizeof(t));
    memset(&ts, 0, sizeof(ts));
    ts.sleep_ms = 60000;
    t.port = s.port;
    loop = loop_start(&lt, NULL);
    for (i = 0; i < 20; i++) {
        ck_assert_int_eq(gf_loop_spawn(loop, fiber_get, &t), 0);
        ck_assert_int_eq(gf_loop_spawn(loop, fiber_sleep, &ts), 0);
    }
    while (s.open_now < 20) usleep(5000);
    t0 = mono_ms();
    abort_flag = 1;
    loop_finish(loop, lt);
    /* The transfers' timeout is 20 s, the sleeps' 60 s: ended by the flag. */
    ck_assert_msg(mono_ms() - t0 < 5000, "abort took %.0f ms", mono_ms() - t0);
    ck_assert_int_eq(t.aborted, 20);
    ck_assert_int_eq(t.ok + t.failed, 0);
    ck_assert_int_eq(ts.aborted, 20);
    hold_stop(&s);
    gf_abort_set_flag(NULL);
}
END_TEST

/* ---- a fiber's own end (gf_loop_until) ---------------------------------- */

typedef struct {
    int port;
    double slept_ms, got_ms;
    int sleep_cut, get_failed, left_ok, restored;
} until_t;

/* An attempt's deadline 150 ms away: a 20 s sleep and a transfer of a
 * server that never answers (20 s timeout) each end at it. */
static void fiber_until(void *baton)
{
    until_t *u = baton;
    apr_pool_t *p;
    gf_http_request_t req;
    gf_http_response_t res;
    apr_time_t prev;
    double t0;

    prev = gf_loop_until(apr_time_now() + apr_time_from_msec(150));
    u->left_ok = gf_loop_left() > 0 && gf_loop_left() <= apr_time_from_msec(150);
    t0 = mono_ms();
    u->sleep_cut = gf_loop_sleep(apr_time_from_sec(20));
    u->slept_ms = mono_ms() - t0;
    gf_loop_until(apr_time_now() + apr_time_from_msec(150));
    apr_pool_create(&p, NULL);
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = apr_psprintf(p, "http://127.0.0.1:%d/x", u->port);
    req.timeout_ms = 20000;
    req.allow_loopback_http = 1;
    t0 = mono_ms();
    gf_http_perform(p, &req, &res);
    u->got_ms = mono_ms() - t0;
    u->get_failed = res.error != NULL && res.transient && !res.aborted;
    apr_pool_destroy(p);
    gf_loop_until(prev);
    u->restored = gf_loop_left() == -1;
}

START_TEST(until_ends_a_fibers_waits)
{
    hold_srv_t s;
    until_t u;
    pthread_t lt;
    gf_loop_t *loop;

    gf_http_global_init();
    hold_start(&s, 0, 1);      /* never answers */
    memset(&u, 0, sizeof(u));
    u.port = s.port;
    loop = loop_start(&lt, NULL);
    ck_assert_int_eq(gf_loop_spawn(loop, fiber_until, &u), 0);
    loop_finish(loop, lt);
    ck_assert_int_eq(u.left_ok, 1);
    ck_assert_int_eq(u.sleep_cut, 1);
    ck_assert_msg(u.slept_ms >= 140 && u.slept_ms < 2000, "slept %.0f ms", u.slept_ms);
    ck_assert_int_eq(u.get_failed, 1);
    ck_assert_msg(u.got_ms >= 140 && u.got_ms < 2000, "transfer took %.0f ms", u.got_ms);
    ck_assert_int_eq(u.restored, 1);
    /* Outside a fiber: nothing. */
    ck_assert_int_eq(gf_loop_until(apr_time_now()), 0);
    ck_assert_int_eq(gf_loop_left(), -1);
    hold_stop(&s);
}
END_TEST

/* ---- a fiber cut from another thread (gf_loop_cut) ----------------------- */

typedef struct {
    int port;
    gf_loop_wait_t *volatile sleeper, *volatile getter;
    double slept_ms, got_ms;
    int sleep_cut, get_failed, was_cut_sleep, was_cut_get, after_cut, left_zero;
    int other_cut, other_was_cut;
} cut_t;

/* Sleeps 20 s unless cut. */
static void fiber_cut_sleep(void *baton)
{
    cut_t *c = baton;
    double t0 = mono_ms();
    c->sleeper = gf_loop_self();
    c->sleep_cut = gf_loop_sleep(apr_time_from_sec(20));
    c->slept_ms = mono_ms() - t0;
    c->was_cut_sleep = gf_loop_was_cut();
    /* Every later wait ends at once. */
    t0 = mono_ms();
    c->after_cut = gf_loop_sleep(apr_time_from_sec(20)) == 1 && mono_ms() - t0 < 1000;
    c->left_zero = gf_loop_left() == 0;
}

/* A transfer of a server that never answers (20 s timeout) unless cut. */
static void fiber_cut_get(void *baton)
{
    cut_t *c = baton;
    apr_pool_t *p;
    gf_http_request_t req;
    gf_http_response_t res;
    double t0;

    apr_pool_create(&p, NULL);
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = apr_psprintf(p, "http://127.0.0.1:%d/x", c->port);
    req.timeout_ms = 20000;
    req.allow_loopback_http = 1;
    c->getter = gf_loop_self();
    t0 = mono_ms();
    gf_http_perform(p, &req, &res);
    c->got_ms = mono_ms() - t0;
    c->get_failed = res.error != NULL && res.transient && !res.aborted;
    c->was_cut_get = gf_loop_was_cut();
    apr_pool_destroy(p);
}

/* Not cut: its 300 ms sleep runs out. */
static void fiber_not_cut(void *baton)
{
    cut_t *c = baton;
    c->other_cut = gf_loop_sleep(apr_time_from_msec(300));
    c->other_was_cut = gf_loop_was_cut();
}

START_TEST(cut_ends_a_fibers_waits_from_another_thread)
{
    hold_srv_t s;
    cut_t c;
    pthread_t lt;
    gf_loop_t *loop;
    double t0;

    gf_http_global_init();
    hold_start(&s, 0, 1);      /* never answers */
    memset(&c, 0, sizeof(c));
    c.port = s.port;
    c.other_cut = c.other_was_cut = -1;
    loop = loop_start(&lt, NULL);
    ck_assert_int_eq(gf_loop_spawn(loop, fiber_cut_sleep, &c), 0);
    ck_assert_int_eq(gf_loop_spawn(loop, fiber_cut_get, &c), 0);
    ck_assert_int_eq(gf_loop_spawn(loop, fiber_not_cut, &c), 0);
    while (!c.sleeper || !c.getter || s.open_now < 1) usleep(2000);
    t0 = mono_ms();
    gf_loop_cut(c.sleeper);
    /* Once: a cut fiber may end at once, and cutting an ended one is the
     * caller's error (gf_loop.h). A second cut here touched the getter's
     * freed memory when the loop thread ended it in between, and hung on
     * a mutex of freed memory (seen under load, 1 run in 12). */
    gf_loop_cut(c.getter);
    loop_finish(loop, lt);
    ck_assert_msg(mono_ms() - t0 < 2000, "the cut took %.0f ms", mono_ms() - t0);
    ck_assert_int_eq(c.sleep_cut, 1);
    ck_assert_int_eq(c.was_cut_sleep, 1);
    ck_assert_int_eq(c.after_cut, 1);
    ck_assert_int_eq(c.left_zero, 1);
    ck_assert_int_eq(c.get_failed, 1);
    ck_assert_int_eq(c.was_cut_get, 1);
    ck_assert_msg(c.got_ms < 2000, "transfer took %.0f ms", c.got_ms);
    ck_assert_int_eq(c.other_cut, 0);
    ck_assert_int_eq(c.other_was_cut, 0);
    /* Outside a fiber: nothing. */
    ck_assert_ptr_null(gf_loop_self());
    ck_assert_int_eq(gf_loop_was_cut(), 0);
    hold_stop(&s);
}
END_TEST

Suite *loop_suite(void)
{
    Suite *s = suite_create("loop");
    TCase *tc = tcase_create("loop");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, transfers_in_flight_together);
    tcase_add_test(tc, connections_reused_across_fibers);
    tcase_add_test(tc, timers_sleep_together);
    tcase_add_test(tc, await_other_threads);
    tcase_add_test(tc, blocking_work_offloaded);
    tcase_add_test(tc, abort_ends_transfers_and_timers);
    tcase_add_test(tc, until_ends_a_fibers_waits);
    tcase_add_test(tc, cut_ends_a_fibers_waits_from_another_thread);
    suite_add_tcase(s, tc);
    return s;
}
