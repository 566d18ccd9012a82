/* SPDX-License-Identifier: Apache-2.0 */
/* gf_loop.c: the fibers and the libcurl multi loop of gf_loop.h. */
#include <string.h>
#include <stdlib.h>
#include <pthread.h>
#include <ucontext.h>
#include <unistd.h>
#include <sys/mman.h>
#include <apr_atomic.h>
#include <apr_skiplist.h>

#include "net/gf_abort.h"
#include "net/gf_loop.h"

/* AddressSanitizer must be told when the stack changes under it, or it
 * takes a fiber's frames for overflows of the thread's stack. */
#if defined(__SANITIZE_ADDRESS__)
#define GF_LOOP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GF_LOOP_ASAN 1
#endif
#endif
#ifdef GF_LOOP_ASAN
#include <sanitizer/common_interface_defs.h>
#define switch_start(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define switch_finish(save, bottom, size) __sanitizer_finish_switch_fiber(save, bottom, size)
#else
#define switch_start(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define switch_finish(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#endif

/* The longest the loop sleeps in curl_multi_poll: also how soon a raised
 * abort flag is seen when nothing else wakes the loop. */
#define LOOP_TICK_MS 100

typedef enum {
    FIBER_NEW,        /* queued, no stack yet */
    FIBER_RUNNING,
    FIBER_IO,         /* its transfer is on the multi handle */
    FIBER_TIMER,      /* in the timer list */
    FIBER_AWAIT,      /* another thread will wake it */
    FIBER_READY,      /* woken, to be resumed by the loop */
    FIBER_DONE
} fiber_state_t;

/* A fiber is also the token of its gf_loop_await. */
struct gf_loop_wait_t {
    gf_loop_t *loop;
    ucontext_t ctx;
    char *map;                 /* the stack's mapping (guard page first) */
    apr_size_t map_len;
    gf_loop_fn fn;
    void *baton;
    fiber_state_t state;
    apr_time_t wake_at;
    apr_time_t until;          /* its waits end here (gf_loop_until); 0: never */
    volatile apr_uint32_t cut; /* gf_loop_cut: its waits end now, and every later one */
    int cut_listed;            /* on the loop's cut list (under lock) */
    struct gf_loop_wait_t *cut_next;
    CURL *easy;                /* FIBER_IO: its transfer */
    CURLcode result;
    struct gf_loop_wait_t *next;            /* in a run list or the spare list */
    struct gf_loop_wait_t *io_prev, *io_next;   /* FIBER_IO: the transfers */
    void *fake_stack;          /* AddressSanitizer's, while switched away */
};
typedef struct gf_loop_wait_t fiber_t;

struct gf_loop_t {
    apr_pool_t *pool;          /* the loop thread's own (timers) */
    CURLM *multi;
    apr_skiplist *timers;      /* FIBER_TIMER fibers by wake_at */
    fiber_t *io;               /* FIBER_IO fibers */
    ucontext_t main;           /* the loop thread's context */
    gf_loop_offload_fn offload;
    void *offload_owner;
    apr_size_t stack_size;
    int idle_stacks;
    struct spare_stack { struct spare_stack *next; } *spares;
    int nspares;
    /* Shared with other threads, under lock: */
    pthread_mutex_t lock;
    fiber_t *incoming, **incoming_tail;   /* new or woken, in order */
    int stopping;
    fiber_t *cuts;             /* cut since the loop last looked (cut_next) */
    volatile int live;         /* fibers queued or alive */
    volatile int transfers;    /* FIBER_IO fibers */
    void *fake_stack;          /* AddressSanitizer's view of the loop's stack */
    const void *main_bottom;
    size_t main_size;
};

/* The fiber running on this thread, NULL on the loop's own stack or on
 * any other thread. */
static __thread fiber_t *tl_fiber;

static apr_size_t page_size(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    return pg > 0 ? (apr_size_t)pg : 4096;
}

/* ---- stacks ------------------------------------------------------------ */

/* A stack with a guard page below it: an overflow faults instead of
 * writing into the next fiber's stack. Pages are touched as used. */
static int stack_take(gf_loop_t *l, fiber_t *f)
{
    apr_size_t pg = page_size();
    f->map_len = l->stack_size + pg;
    if (l->spares) {
        struct spare_stack *s = l->spares;
        l->spares = s->next;
        l->nspares--;
        /* The spare record sits at the top of the stack it names. */
        f->map = (char *)s + sizeof(*s) - l->stack_size - pg;
        return 1;
    }
    f->map = mmap(NULL, f->map_len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        return 0;
    }
    if (mprotect(f->map, pg, PROT_NONE) != 0) {
        munmap(f->map, f->map_len);
        f->map = NULL;
        return 0;
    }
    return 1;
}

static void stack_give(gf_loop_t *l, fiber_t *f)
{
    if (!f->map) return;
    if (l->nspares < l->idle_stacks) {
        struct spare_stack *s = (struct spare_stack *)(void *)(f->map + f->map_len - sizeof(*s));
        s->next = l->spares;
        l->spares = s;
        l->nspares++;
    }
    else {
        munmap(f->map, f->map_len);
    }
    f->map = NULL;
}

/* ---- switching --------------------------------------------------------- */

/* Loop → fiber; returns when the fiber waits or ends. */
static void fiber_resume(gf_loop_t *l, fiber_t *f)
{
    fiber_t *prev = tl_fiber;
    tl_fiber = f;
    f->state = FIBER_RUNNING;
    switch_start(&l->fake_stack, f->map + page_size(), l->stack_size);
    swapcontext(&l->main, &f->ctx);
    switch_finish(l->fake_stack, NULL, NULL);
    tl_fiber = prev;
}

/* Fiber → loop, until resumed. */
static void fiber_yield(fiber_t *f)
{
    gf_loop_t *l = f->loop;
    switch_start(&f->fake_stack, l->main_bottom, l->main_size);
    swapcontext(&f->ctx, &l->main);
    switch_finish(f->fake_stack, &l->main_bottom, &l->main_size);
}

static void fiber_entry(void)
{
    fiber_t *f = tl_fiber;
    gf_loop_t *l = f->loop;

    switch_finish(NULL, &l->main_bottom, &l->main_size);
    f->fn(f->baton);
    f->state = FIBER_DONE;
    /* The last switch: AddressSanitizer drops this fiber's fake frames. */
    switch_start(NULL, l->main_bottom, l->main_size);
    setcontext(&l->main);
}

static void fiber_start(gf_loop_t *l, fiber_t *f)
{
    if (!stack_take(l, f) || getcontext(&f->ctx) != 0) {
        /* No memory for a stack now: the work waits a tick, it is not lost. */
        stack_give(l, f);
        f->wake_at = apr_time_now() + apr_time_from_msec(LOOP_TICK_MS);
        f->state = FIBER_TIMER;
        apr_skiplist_add(l->timers, f);
        return;
    }
    f->ctx.uc_stack.ss_sp = f->map + page_size();
    f->ctx.uc_stack.ss_size = l->stack_size;
    f->ctx.uc_link = NULL;
    makecontext(&f->ctx, fiber_entry, 0);
    fiber_resume(l, f);
}

static void fiber_free(gf_loop_t *l, fiber_t *f)
{
    stack_give(l, f);
    pthread_mutex_lock(&l->lock);
    if (f->cut_listed) {
        fiber_t **at = &l->cuts;
        while (*at && *at != f) at = &(*at)->cut_next;
        if (*at) *at = f->cut_next;
    }
    l->live--;
    pthread_mutex_unlock(&l->lock);
    free(f);
}

/* Run f (start or resume it) and free it if it ended. */
static void fiber_run(gf_loop_t *l, fiber_t *f)
{
    if (f->state == FIBER_NEW) fiber_start(l, f);
    else fiber_resume(l, f);
    if (f->state == FIBER_DONE) fiber_free(l, f);
}

/* ---- the loop ---------------------------------------------------------- */

static int timer_order(void *a, void *b)
{
    const fiber_t *x = a, *y = b;
    if (x->wake_at != y->wake_at) return x->wake_at < y->wake_at ? -1 : 1;
    return x == y ? 0 : ((apr_uintptr_t)x < (apr_uintptr_t)y ? -1 : 1);
}

static apr_status_t loop_cleanup(void *data)
{
    gf_loop_t *l = data;
    apr_size_t pg = page_size();
    while (l->spares) {
        struct spare_stack *s = l->spares;
        l->spares = s->next;
        munmap((char *)s + sizeof(*s) - l->stack_size - pg, l->stack_size + pg);
    }
    if (l->multi) curl_multi_cleanup(l->multi);
    l->multi = NULL;
    pthread_mutex_destroy(&l->lock);
    apr_pool_destroy(l->pool);
    return APR_SUCCESS;
}

gf_loop_t *gf_loop_create(apr_pool_t *p, const gf_loop_conf_t *conf)
{
    gf_loop_t *l = apr_pcalloc(p, sizeof(*l));
    apr_allocator_t *allocator;
    apr_size_t pg = page_size();

    l->stack_size = conf && conf->stack_size ? conf->stack_size : GF_LOOP_STACK_DEFAULT;
    l->stack_size = (l->stack_size + pg - 1) / pg * pg;
    l->idle_stacks = conf && conf->idle_stacks > 0 ? conf->idle_stacks : 64;
    l->offload = conf ? conf->offload : NULL;
    l->offload_owner = conf ? conf->offload_owner : NULL;
    if (!(l->multi = curl_multi_init())) return NULL;
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS,
                      conf && conf->idle_connections > 0 ? conf->idle_connections : 64L);
    /* The loop thread allocates its timers on its own: p is another
     * thread's pool. */
    apr_allocator_create(&allocator);
    apr_pool_create_unmanaged_ex(&l->pool, NULL, allocator);
    apr_allocator_owner_set(allocator, l->pool);
    apr_skiplist_init(&l->timers, l->pool);
    apr_skiplist_set_compare(l->timers, timer_order, timer_order);
    pthread_mutex_init(&l->lock, NULL);
    l->incoming_tail = &l->incoming;
    apr_pool_cleanup_register(p, l, loop_cleanup, apr_pool_cleanup_null);
    return l;
}

int gf_loop_spawn(gf_loop_t *l, gf_loop_fn fn, void *baton)
{
    fiber_t *f = calloc(1, sizeof(*f));
    if (!f) return -1;
    f->loop = l;
    f->fn = fn;
    f->baton = baton;
    f->state = FIBER_NEW;
    pthread_mutex_lock(&l->lock);
    if (l->stopping) {
        pthread_mutex_unlock(&l->lock);
        free(f);
        return -1;
    }
    *l->incoming_tail = f;
    l->incoming_tail = &f->next;
    l->live++;
    pthread_mutex_unlock(&l->lock);
    curl_multi_wakeup(l->multi);
    return 0;
}

void gf_loop_stop(gf_loop_t *l)
{
    pthread_mutex_lock(&l->lock);
    l->stopping = 1;
    pthread_mutex_unlock(&l->lock);
    curl_multi_wakeup(l->multi);
}

int gf_loop_fibers(gf_loop_t *l)
{
    return l ? l->live : 0;
}

int gf_loop_transfers(gf_loop_t *l)
{
    return l ? l->transfers : 0;
}

int gf_loop_in_fiber(void)
{
    return tl_fiber != NULL;
}

static void io_unlink(gf_loop_t *l, fiber_t *f)
{
    if (f->io_prev) f->io_prev->io_next = f->io_next;
    else l->io = f->io_next;
    if (f->io_next) f->io_next->io_prev = f->io_prev;
    f->io_prev = f->io_next = NULL;
    l->transfers--;
}

/* The transfer of f ended (result rc): off the multi handle, f to run. */
static void io_done(gf_loop_t *l, fiber_t *f, CURLcode rc, fiber_t ***tail)
{
    curl_multi_remove_handle(l->multi, f->easy);
    io_unlink(l, f);
    f->easy = NULL;
    f->result = rc;
    f->state = FIBER_READY;
    f->next = NULL;
    **tail = f;
    *tail = &f->next;
}

/* The waits of the fibers cut since the last look (cut, taken off the
 * loop's list) end: a transfer is taken off the multi handle (its
 * connection closed), a timer ends. A fiber that awaits another thread's
 * wake, or is about to run, is left alone: its next wait ends at once.
 * On the loop thread, where fibers end: none of them is gone. */
static void end_cut_waits(gf_loop_t *l, fiber_t *cut, fiber_t ***tail)
{
    while (cut) {
        fiber_t *f = cut;
        cut = f->cut_next;
        f->cut_next = NULL;
        if (f->state == FIBER_IO) {
            io_done(l, f, CURLE_OPERATION_TIMEDOUT, tail);
        }
        else if (f->state == FIBER_TIMER) {
            apr_skiplist_remove(l->timers, f, NULL);
            f->state = f->map ? FIBER_READY : FIBER_NEW;
            f->next = NULL;
            **tail = f;
            *tail = &f->next;
        }
    }
}

/* Collect the fibers to run now: woken or new ones from other threads,
 * ended transfers, due timers; every waiter when the abort flag is up. */
static fiber_t *loop_collect(gf_loop_t *l, int *stop)
{
    fiber_t *run = NULL, **tail = &run, *f, *cuts;
    CURLMsg *msg;
    int left, running, aborting = gf_abort_raised();
    apr_time_t now = apr_time_now();

    pthread_mutex_lock(&l->lock);
    if (l->incoming) {
        run = l->incoming;
        tail = l->incoming_tail;
        l->incoming = NULL;
        l->incoming_tail = &l->incoming;
    }
    *stop = l->stopping && l->live == 0;
    cuts = l->cuts;
    l->cuts = NULL;
    for (f = cuts; f; f = f->cut_next) f->cut_listed = 0;
    pthread_mutex_unlock(&l->lock);

    curl_multi_perform(l->multi, &running);
    while ((msg = curl_multi_info_read(l->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            CURL *easy = msg->easy_handle;
            CURLcode rc = msg->data.result;
            char *priv = NULL;
            curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
            if (priv) io_done(l, (fiber_t *)(void *)priv, rc, &tail);
        }
    }
    if (aborting) {
        /* Covers the states in which curl calls no progress callback;
         * removing an unfinished transfer closes its connection. */
        while (l->io) io_done(l, l->io, CURLE_ABORTED_BY_CALLBACK, &tail);
    }
    if (!aborting) end_cut_waits(l, cuts, &tail);
    while ((f = apr_skiplist_peek(l->timers)) != NULL && (aborting || f->wake_at <= now)) {
        apr_skiplist_pop(l->timers, NULL);
        /* A fiber that never got a stack starts again from the top. */
        f->state = f->map ? FIBER_READY : FIBER_NEW;
        f->next = NULL;
        *tail = f;
        tail = &f->next;
    }
    *tail = NULL;
    return run;
}

/* How long curl_multi_poll may wait: until the next timer, at most a tick. */
static int loop_wait_ms(gf_loop_t *l)
{
    fiber_t *f = apr_skiplist_peek(l->timers);
    apr_interval_time_t d;
    if (!f) return LOOP_TICK_MS;
    d = f->wake_at - apr_time_now();
    if (d <= 0) return 0;
    d = (d + 999) / 1000;
    return d < LOOP_TICK_MS ? (int)d : LOOP_TICK_MS;
}

void gf_loop_run(gf_loop_t *l)
{
    int stop = 0, more;
    for (;;) {
        fiber_t *run = loop_collect(l, &stop), *next;
        if (stop && !run) break;
        for (; run; run = next) {
            next = run->next;
            run->next = NULL;
            fiber_run(l, run);
        }
        pthread_mutex_lock(&l->lock);
        more = l->incoming != NULL;   /* arrived meanwhile: no wait */
        pthread_mutex_unlock(&l->lock);
        curl_multi_poll(l->multi, NULL, 0, more ? 0 : loop_wait_ms(l), NULL);
    }
}

/* ---- waits (in a fiber) ------------------------------------------------ */

apr_time_t gf_loop_until(apr_time_t until)
{
    fiber_t *f = tl_fiber;
    apr_time_t prev;
    if (!f) return 0;
    prev = f->until;
    f->until = until;
    return prev;
}

gf_loop_wait_t *gf_loop_self(void)
{
    return tl_fiber;
}

void gf_loop_cut(gf_loop_wait_t *f)
{
    gf_loop_t *l = f->loop;
    pthread_mutex_lock(&l->lock);
    if (!apr_atomic_read32(&f->cut)) {
        apr_atomic_set32(&f->cut, 1);
        f->cut_next = l->cuts;
        l->cuts = f;
        f->cut_listed = 1;
    }
    pthread_mutex_unlock(&l->lock);
    curl_multi_wakeup(l->multi);
}

int gf_loop_was_cut(void)
{
    fiber_t *f = tl_fiber;
    if (!f) return 0;
    return apr_atomic_read32(&f->cut) || (f->until && apr_time_now() >= f->until);
}

apr_interval_time_t gf_loop_left(void)
{
    fiber_t *f = tl_fiber;
    apr_interval_time_t left;
    if (f && apr_atomic_read32(&f->cut)) return 0;
    if (!f || !f->until) return -1;
    left = f->until - apr_time_now();
    return left > 0 ? left : 0;
}

int gf_loop_sleep(apr_interval_time_t d)
{
    fiber_t *f = tl_fiber;
    int cut = 0;
    if (f && apr_atomic_read32(&f->cut)) return 1;
    if (f && f->until) {
        /* A millisecond past it, so that whoever looks at the clock next
         * sees the fiber's end come. */
        apr_interval_time_t left = f->until + apr_time_from_msec(1) - apr_time_now();
        if (left < d) {
            d = left;
            cut = 1;
        }
    }
    if (d <= 0) return cut || gf_abort_raised();
    if (!f) {
        apr_time_t end = apr_time_now() + d;
        for (;;) {
            apr_interval_time_t left = end - apr_time_now();
            if (gf_abort_raised()) return 1;
            if (left <= 0) return 0;
            apr_sleep(left < apr_time_from_msec(50) ? left : apr_time_from_msec(50));
        }
    }
    if (gf_abort_raised()) return 1;
    f->wake_at = apr_time_now() + d;
    f->state = FIBER_TIMER;
    apr_skiplist_add(f->loop->timers, f);
    fiber_yield(f);
    return cut || apr_atomic_read32(&f->cut) || gf_abort_raised();
}

CURLcode gf_loop_transfer(CURL *easy)
{
    fiber_t *f = tl_fiber;
    gf_loop_t *l;

    if (!f) return CURLE_FAILED_INIT;
    if (apr_atomic_read32(&f->cut)) return CURLE_OPERATION_TIMEDOUT;
    l = f->loop;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)(void *)f);
    if (curl_multi_add_handle(l->multi, easy) != CURLM_OK) return CURLE_FAILED_INIT;
    f->easy = easy;
    f->state = FIBER_IO;
    f->io_prev = NULL;
    f->io_next = l->io;
    if (l->io) l->io->io_prev = f;
    l->io = f;
    l->transfers++;
    fiber_yield(f);
    return f->result;
}

void gf_loop_await(void (*start)(gf_loop_wait_t *wait, void *baton), void *baton)
{
    fiber_t *f = tl_fiber;
    if (!f) return;
    f->state = FIBER_AWAIT;
    start(f, baton);
    fiber_yield(f);
}

void gf_loop_wake(gf_loop_wait_t *f)
{
    gf_loop_t *l = f->loop;
    pthread_mutex_lock(&l->lock);
    f->next = NULL;
    *l->incoming_tail = f;
    l->incoming_tail = &f->next;
    pthread_mutex_unlock(&l->lock);
    curl_multi_wakeup(l->multi);
}

typedef struct {
    gf_loop_t *loop;
    void (*fn)(void *);
    void *baton;
} blocking_t;

static void start_blocking(gf_loop_wait_t *wait, void *baton)
{
    blocking_t *b = baton;
    b->loop->offload(b->loop->offload_owner, wait, b->fn, b->baton);
}

void gf_loop_blocking(void (*fn)(void *baton), void *baton)
{
    fiber_t *f = tl_fiber;
    blocking_t b;

    if (!f || !f->loop->offload) {
        fn(baton);
        return;
    }
    b.loop = f->loop;
    b.fn = fn;
    b.baton = baton;
    gf_loop_await(start_blocking, &b);
}
