/* SPDX-License-Identifier: Apache-2.0 */
/* genflow.pml: the job and credit state machine of mod_genflow, for spin.
 *
 * Every statement step (genflow_sql.pml) mirrors one SQL statement of
 * mod_genflow/core/gf_sql.c (or gf_sql_global.c, or a function of sql/):
 * its guard is the statement's WHERE clause, its body the SET list and
 * the ledger row it inserts. A
 * statement is one transaction, so it is one indivisible step. Everything
 * between statements (a provider call, a lease running out, a webhook, the
 * user's cancel) interleaves freely. docs/architecture.md, "The model",
 * maps each step to its statement and says what is abstracted.
 *
 * Build switches (tests/check_model.sh runs them all):
 *   (none)            the engine, the code as it is: safety (pan
 *                     -DNOCLAIM) and liveness (pan -a -f with the ltl claim "live")
 *   BROKEN_FINALIZE   the user's cancel (FAIL as cancel) without its
 *                     status guard: spin must find a second finalization
 *                     (a refund after a refund or after a charge)
 *   BROKEN_COUNT      COMPLETE charging the whole count whatever was
 *                     delivered (no give-back): spin must find a balance
 *                     that is not grants - reservations + refunds + what
 *                     the undelivered pictures reserved
 *   BROKEN_KEPT       COMPLETE recording only its own call's pictures,
 *                     not those earlier calls kept on the row (MORE):
 *                     spin must find a charge that left a stored picture
 *                     out
 *   BROKEN_STALE      the worker's outcome statements without the
 *                     (lease_owner, attempts) guard: spin must find a
 *                     stale attempt changing the row
 *   IDEM              two creates with one Idempotency-Key (safety and
 *                     liveness too)
 *   MVCC_CREATE       (with IDEM) CREATE as it was before the record was
 *                     locked: two steps under READ COMMITTED (the key
 *                     checked in the statement's snapshot, then the
 *                     writes); spin must find the race with IDEM_TAKEOVER
 *                     (docs/architecture.md, "The model")
 *   GROUP             the row waits at a group of providers ("{a b}@…"):
 *                     its claim takes no place; the chosen member's is
 *                     taken after it (PLACE_TAKE, gf_sql_global.c), or
 *                     the row goes back (RELEASE) when none is free
 *   BROKEN_PLACE      PLACE_RELEASE without its holder guard (a place
 *                     freed by whoever had it last): spin must find more
 *                     calls open than places, beyond those whose lease ran
 *                     out under them
 */

/* ---- bounds ---------------------------------------------------------- */
#define NG       2   /* generation slots; request r creates generation r */
#define MAXACT   1   /* GenFlowMaxActive: with two requests, the second may be refused */
#ifdef IDEM
/* The idempotent create: two requests with one Idempotency-Key, racing
 * (BEGIN, TAKEOVER, CREATE, SAVE, RELEASE, a request dying anywhere).
 * Its generation is not worked: it is cancelled or expires (the sweeps). */
#define NR       2
#define NKEY     2
#ifndef NW
#define NW       0   /* -DNW=1: the generation through a worker too (slow) */
#endif
#else
/* The engine: one generation, two workers (rescue, stale writers). */
#define NR       1
#define NKEY     0
#ifndef NW
#define NW       2
#endif
#endif
#define CHAIN    2   /* providers in the chain */
#define MAXRETRY 1   /* GenFlowMaxRetries */
#ifdef BROKEN_PLACE
#define MAXATT   4   /* a stale release needs a third call after two claims */
#else
#define MAXATT   3   /* claims per generation the model lets happen */
#endif
#define NPICS    2   /* the count each generation asks for */
#define PIC      1   /* a picture's cost (GenFlowCost) */
#define COST     (PIC * NPICS)   /* the reservation: count x cost */
#define GRANT    (2 * COST)      /* the account's starting grant */
#define MAXC     1   /* the provider's places (max_concurrent=, limits=site) */

#define NOBODY   255 /* lease_owner IS NULL; also "no generation" */

/* status; ABSENT: no row with this id (yet) */
#define ABSENT     0
#define PENDING    1
#define PROCESSING 2
#define COMPLETED  3
#define FAILED     4
#define CANCELLED  5
#define OPEN(g)     (st[g] == PENDING || st[g] == PROCESSING)
#define ACTIVE(g)   (OPEN(g) && queued[g])   /* counts against GenFlowMaxActive */
#define TERMINAL(g) (st[g] >= COMPLETED)

/* provider answers */
#define O_IMAGE     1
#define O_RUNNING   2   /* a job id, not finished */
#define O_TRANSIENT 3
#define O_PERMANENT 4
#define O_LOST      5   /* the provider lost the accepted job (job_lost: a
                         * ComfyUI server that restarted): submitted again */

/* gf_job_decide's verdicts */
#define D_COMPLETE 1
#define D_POLL     2
#define D_RETRY    3
#define D_FALLBACK 4
#define D_FAIL     5

/* ---- the database ----------------------------------------------------- */
/* One row per generation slot: the columns that decide a transition. */
byte st[NG];          /* status */
bool queued[NG];      /* queued_at IS NOT NULL */
bool due[NG];         /* next_attempt_at <= now() */
byte owner[NG];       /* lease_owner */
bool live[NG];        /* lease_until > now() (false: NULL or expired) */
byte att[NG];         /* attempts */
bool jid[NG];         /* provider_job_id IS NOT NULL */
bool woken[NG];       /* woken_at IS NOT NULL */
bool hook[NG];        /* the provider's webhook for the accepted job is on its way */
byte ci[NG];          /* chain_index */
byte rc[NG];          /* retry_count */

/* time, per generation (see "what time means" in the docs) */
bool deadline[NG];    /* now() >= deadline_at */
bool ttl[NG];         /* created_at < now() - GenFlowPendingTTL */
bool overdue[NG];     /* next_attempt_at < now() - TTL (the orphan sweep's test) */

/* the account and the ledger */
short balance = GRANT;
byte nactive;         /* genflow_accounts.active */
byte nres[NG];        /* ledger rows of kind reserve for the generation */
byte nchg[NG];        /* ... charge */
byte nref[NG];        /* ... refund */

/* the Idempotency-Key record of requests 0 .. NKEY-1 */
#define R_ABSENT  0
#define R_RUNNING 1
#define R_DONE    2
byte rec;             /* state; R_ABSENT: no row */
byte rec_owner = NOBODY;
byte rec_gen = NOBODY;
bool rec_stale;       /* claimed_at older than GenFlowLeaseSeconds */

/* the provider's places (genflow_provider_places, sql/022) */
byte hg[MAXC];        /* generation_id of the call that holds it; NOBODY: free */
byte ha[MAXC];        /* its attempt */
bool plive[MAXC];     /* lease_until > now() */

/* ghost state: not in the database, only for the properties */
bool image[NG];       /* some provider call returned this generation's picture */
byte delivered[NG];   /* the pictures the completion charged (its images) */
byte kept[NG];        /* the images of an open row: pictures earlier calls stored
                       * (MORE), asked one call after another */
byte stored[NG];      /* ghost: the pictures stored for it when it completed
                       * (the kept ones and the completing call's) */
byte created_by_key;  /* generations CREATE made for the key's requests */
byte calls;           /* provider calls open at the provider */
byte lapsed;          /* of them, calls whose place's lease ran out under them */
bool incall[NW + 1];  /* worker w has a call open ... */
byte callg[NW + 1];   /* ... of generation */
byte calla[NW + 1];   /* ... and attempt */
bool haslapsed[NW + 1]; /* its place's lease ran out during the call */
/* Standby rows (mod_genflow_engine_standby.c): the place's holder a
 * worker calls under (the attempt that claimed the place, or the one
 * before it that passed it on), the worker standing by to take the place
 * when the call ends, and the word it waits for. */
byte tg[NW + 1];      /* the holder's generation ... */
byte ta[NW + 1];      /* ... and attempt */
byte sbfor[NW + 1];   /* the worker standing by for w's call; NOBODY: none */
#define V_WAIT 0
#define V_PASS 1
#define V_DROP 2
#define V_DEAD 3      /* the child died with the call */
byte verdict[NW + 1]; /* what the standby w was told */
/* The child's batch of ordinary completions: worker w's COMPLETE waiting
 * in it, with the pictures it stored (0: none waiting), for the row
 * tg[w] and attempt ta[w] (set when it joins: the call's place is settled
 * by then, so they name the worker's own row and attempt). */
byte bp[NW + 1];

#include "genflow_sql.pml"

/* ---- the processes ---------------------------------------------------- */

/* A create request (POST create, then generate) through
 * mod_genflow_idempotency.c when it carries the key. */
proctype Request(byte r)
{
    bool keyed = (r < NKEY), owned, ok, snap;
    byte gen = NOBODY;

    if
    :: keyed ->
        /* IDEM_BEGIN: INSERT ... ON CONFLICT DO NOTHING */
        d_step {
            if
            :: rec == R_ABSENT -> rec = R_RUNNING; rec_owner = r; rec_gen = NOBODY;
                                  rec_stale = 0; owned = 1;
                                  printf("step IDEM_BEGIN by request %d\n", r)
            :: else -> owned = 0
            fi
        };
        if
        :: !owned ->
            /* IDEM_GET, then IDEM_TAKEOVER when its owner released it or
             * is stale (one step: the takeover's WHERE repeats the test) */
            d_step {
                if
                :: rec == R_RUNNING && (rec_owner == NOBODY || rec_stale) ->
                    rec_owner = r; rec_stale = 0; gen = rec_gen; owned = 1;
                    printf("step IDEM_TAKEOVER by request %d: generation %d (255: none)\n", r, gen)
                :: else -> skip   /* absent: 409; done: replay; running: 409 */
                fi
            }
        :: else -> skip
        fi;
        if
        :: !owned -> goto done
        :: else -> skip
        fi
    :: else -> skip
    fi;

    if
    :: gen == NOBODY ->
        if
        :: skip
        :: keyed -> goto done   /* the request dies before its create */
        fi;
#ifdef MVCC_CREATE
        /* CREATE_SQL as PostgreSQL runs it under READ COMMITTED: the acct
         * CTE's EXISTS on the key's record reads the statement's snapshot;
         * the idem CTE's UPDATE re-checks the newest version of the record
         * and skips it when it changed. A takeover that commits in between
         * is not seen by the first and stops only the second. */
        d_step { snap = (!keyed || (rec == R_RUNNING && rec_owner == r)) };
        d_step {
            if
            :: balance >= COST && st[r] == ABSENT && snap ->
                printf("step CREATE g%d (request %d): reserve\n", r, r);
                st[r] = PENDING; nres[r] = 1; balance = balance - COST;
                if
                :: keyed && rec_owner == r -> rec_gen = r
                :: else -> skip
                fi;
                if
                :: keyed -> created_by_key = created_by_key + 1
                :: else -> skip
                fi;
                ok = 1
            :: else -> ok = 0
            fi;
            snap = 0;
            check()
        };
#else
        CREATE(r, keyed, ok);
#endif
        if
        :: ok -> gen = r
        :: !ok && keyed ->
            /* IDEM_DROP: nothing was created; the key is free again */
            d_step {
                if
                :: rec == R_RUNNING && rec_owner == r && rec_gen == NOBODY -> rec = R_ABSENT;
                                                                            rec_owner = NOBODY
                :: else -> skip
                fi
            };
            goto done
        :: !ok && !keyed -> goto done
        fi
    :: else -> skip   /* took over a record that names its generation */
    fi;

    /* generate: QUEUE, or the client never asks (EXPIRE's case) */
    if
    :: QUEUE(gen)
    :: skip
    fi;

    if
    :: keyed ->
        if
        :: d_step {   /* IDEM_SAVE */
               if
               :: rec_owner == r -> rec = R_DONE
               :: else -> skip
               fi
           }
        :: d_step {   /* IDEM_RELEASE: the answer failed */
               if
               :: rec == R_RUNNING && rec_owner == r -> rec_owner = NOBODY
               :: else -> skip
               fi
           }
        :: skip       /* the request dies: the record goes stale */
        fi
    :: else -> skip
    fi;
done:
    atomic { owned = 0; ok = 0; gen = 0 }
}

/* The user's cancel, at any time, or never. */
proctype Canceller(byte g)
{
    if
    :: st[g] != ABSENT -> CANCEL(g)
    :: skip
    fi
}

/* gf_engine_standby_settle: the place goes to the row standing by when
 * its holder and lease still hold (the heartbeat saw them: the model's
 * truth), or the row is dropped (always allowed: a 429, a stopping
 * child) and the place is freed by its holder. */
inline SETTLE(w, pl)
{
    if
    :: atomic { sbfor[w] != NOBODY && hg[0] == tg[w] && ha[0] == ta[w] && plive[0] ->
           printf("worker %d passes place %d (holder g%d attempt %d) to worker %d\n",
                  w, pl, tg[w], ta[w], sbfor[w]);
           tg[sbfor[w]] = tg[w]; ta[sbfor[w]] = ta[w]; verdict[sbfor[w]] = V_PASS;
           sbfor[w] = NOBODY }
    :: DROP_STANDBY(w); PLACE_RELEASE(tg[w], ta[w], pl)
    fi
}
inline DROP_STANDBY(w)
{
    atomic {
        if
        :: sbfor[w] != NOBODY -> verdict[sbfor[w]] = V_DROP; sbfor[w] = NOBODY
        :: else -> skip
        fi
    }
}

/* A worker thread: claim, one attempt, one guarded outcome statement (an
 * ordinary completion through the child's batch of completions: batch:). */
proctype Worker(byte w)
{
    byte g, a, cidx, retries, out, dec, pl;
    byte pics;   /* the pictures this attempt stored (0: none: STORAGE_ERROR) */
    byte k;      /* the pictures earlier calls kept on the row, as claimed */
    bool j, jres, resc, ok, delay, more;

end_idle:
    do
#ifdef GROUP
    :: d_step {   /* CLAIM_SQL of a row waiting at a group: no place */
           (CLAIMABLE(0, 0) || CLAIMABLE(1, 0)) ->
           if
           :: CLAIMABLE(0, 0) -> g = 0
           :: CLAIMABLE(1, 0) -> g = 1
           fi;
           CLAIM_SET(w, g, a, resc);
           cidx = ci[g]; retries = rc[g]; j = jid[g]; jres = 0; out = 0; dec = 0; k = kept[g]
       };
       /* The member chosen, its place: PLACE_TAKE (one statement, a free
        * place or one whose lease ran out), or none free: the row back to
        * the queue (RELEASE). */
       if
       :: d_step { FREE_PLACE(pl) -> TAKE_PLACE(pl, g, a); tg[w] = g; ta[w] = a }; goto attempt
       :: RELEASE(w, g, a, 0); goto idle
       fi
#else
    :: d_step {   /* CLAIM_SQL: new work (no provider job id), with a free place */
           FREE_PLACE(pl) && (CLAIMABLE(0, 0) || CLAIMABLE(1, 0)) ->
           if
           :: CLAIMABLE(0, 0) -> g = 0
           :: CLAIMABLE(1, 0) -> g = 1
           fi;
           CLAIM_SET(w, g, a, resc);
           TAKE_PLACE(pl, g, a); tg[w] = g; ta[w] = a;
           cidx = ci[g]; retries = rc[g]; j = jid[g]; jres = 0; out = 0; dec = 0; k = kept[g]
       };
       /* A row of a batch of new work (FRESH_ROWS) that the loop did not
        * take and the worker did not reach (the child stopping) goes back
        * unsent, as a batch of polls does. */
       if
       :: RELEASE_REST(w, g); PLACE_RELEASE(g, a, pl); goto idle
       :: goto attempt
       fi
#endif
#ifndef GROUP   /* a group's rows have no standby: their claim holds no place */
    :: d_step {   /* CLAIM_SQL with standby = 1: while the other worker's call
                   * is open under a place whose holder and lease still hold,
                   * new work to run under that place when the call ends; no
                   * place taken */
           NW > 1 && incall[1 - w] && sbfor[1 - w] == NOBODY &&
           hg[0] == tg[1 - w] && ha[0] == ta[1 - w] && plive[0] &&
           (CLAIMABLE(0, 0) || CLAIMABLE(1, 0)) ->
           if
           :: CLAIMABLE(0, 0) -> g = 0
           :: CLAIMABLE(1, 0) -> g = 1
           fi;
           CLAIM_SET(w, g, a, resc);
           sbfor[1 - w] = w; verdict[w] = V_WAIT; pl = 0;
           printf("step CLAIM g%d attempt %d by worker %d, standing by for worker %d\n", g, a, w, 1 - w);
           cidx = ci[g]; retries = rc[g]; j = jid[g]; jres = 0; out = 0; dec = 0; k = kept[g]
       };
       goto standby
#endif
    :: d_step {   /* CLAIM_POLLS_SQL: the poll of an accepted job, with a place */
           FREE_PLACE(pl) && (CLAIMABLE(0, 1) || CLAIMABLE(1, 1)) ->
           if
           :: CLAIMABLE(0, 1) -> g = 0
           :: CLAIMABLE(1, 1) -> g = 1
           fi;
           CLAIM_SET(w, g, a, resc);
           TAKE_PLACE(pl, g, a); tg[w] = g; ta[w] = a;
           cidx = ci[g]; retries = rc[g]; j = jid[g]; jres = 0; out = 0; dec = 0; k = kept[g]
       };
       if
       :: RELEASE_REST(w, g); PLACE_RELEASE(g, a, pl); goto idle   /* a batch row not reached */
       :: goto attempt
       fi
    od;

idle:   /* forget the attempt (fewer states, same behaviour) */
    atomic { tg[w] = NOBODY; ta[w] = 0; verdict[w] = V_WAIT; bp[w] = 0;
             g = 0; a = 0; cidx = 0; retries = 0; out = 0; dec = 0; j = 0; jres = 0; resc = 0;
             ok = 0; delay = 0; pl = 0; k = 0; more = 0 };
    goto end_idle;

killed:   /* the child dies: its connection to the provider closes (the call
           * ends there), its row's lease and its place's lease run out by
           * themselves (Clock), and its standby dies with it */
    CALL_ENDS(w);
    atomic {
        if
        :: sbfor[w] != NOBODY -> verdict[sbfor[w]] = V_DEAD; sbfor[w] = NOBODY
        :: else -> skip
        fi
    };
    goto idle;

standby:   /* the standby row waits for the call's end (gf_loop_await) */
    if
    :: verdict[w] == V_PASS -> goto attempt   /* tg, ta: the place passed */
    :: verdict[w] == V_DROP -> RELEASE(w, g, a, 0); goto idle   /* back to the queue, unsent */
    :: verdict[w] == V_DEAD -> goto idle   /* its lease runs out (Clock) */
    fi;

attempt:
    /* run_claimed: the deadline first, then the rescue rule (local
     * decisions: one step) */
    atomic {
        if
        :: deadline[g] -> dec = D_FAIL
        :: !deadline[g] && resc && !j && cidx + 1 < CHAIN -> dec = D_FALLBACK; delay = 0
        :: else -> skip
        fi;
        resc = 0;
        if
        :: dec != 0 -> goto unused
        :: else -> skip
        fi
    };

    /* The call: open at the provider from here until its answer (or the
     * child's death, which closes its connection). */
    CALL_STARTS(w, tg[w], ta[w]);

    /* The provider call, no database connection held. The listener's
     * heartbeat may renew the lease meanwhile (or find it lost); the
     * lease may run out at any time (Clock). A submission the provider
     * accepts writes its job id at once (ACCEPTED). */
    if
    :: RENEW(w, g, a, ok);
       if
       :: !ok -> goto lost   /* gf_attempt_lost: write nothing */
       :: else -> ok = 0
       fi
    :: skip
    fi;
    if
    :: !j -> ACCEPTED(w, g, a); jres = 1
    :: skip
    fi;

    /* the child stops (its calls are aborted, then RELEASE and the
     * place given back), or is killed (nothing), or goes on:
     * gf_engine_aborting after the call) */
    if
    :: CALL_ENDS(w); DROP_STANDBY(w); RELEASE(w, g, a, !j); PLACE_RELEASE(tg[w], ta[w], pl);
       goto idle
    :: goto killed
    :: skip
    fi;

    /* The provider's answer, then gf_job_decide (local: one step). */
    atomic {
        if
        :: out = O_IMAGE
        :: out = O_TRANSIENT
        :: !j && !jres -> out = O_PERMANENT   /* a refused submission */
        :: j || jres -> out = O_RUNNING        /* the job is not finished */
        :: j -> out = O_PERMANENT              /* the job failed */
        :: j -> out = O_LOST                   /* the provider forgot the job */
        fi;
        printf("provider answers g%d worker %d attempt %d: %d (1 image, 2 running, 3 transient, 4 permanent, 5 lost)\n", g, w, a, out);
        if
        :: out == O_IMAGE -> image[g] = 1; dec = D_COMPLETE;
            /* the answer's pictures that were stored: every one the
             * count still lacked, fewer (the provider brought fewer, or
             * one did not decode), or none (no store took them); or one
             * of a call that asked for one (a provider that takes no
             * number): the rest by the next call (gf_job_wants_more) */
            if
            :: pics = NPICS - k
            :: k + 1 < NPICS -> pics = 1
            :: k + 1 < NPICS -> pics = 1; more = 1
            :: pics = 0
            fi
        :: out != O_IMAGE && deadline[g] -> dec = D_FAIL
        :: out != O_IMAGE && !deadline[g] && (j || jres) && out == O_TRANSIENT -> dec = D_POLL; delay = 1
        :: out != O_IMAGE && !deadline[g] && out == O_RUNNING -> dec = D_POLL; delay = 1
        :: out != O_IMAGE && !deadline[g] && !((j || jres) && out == O_TRANSIENT) && out != O_RUNNING ->
            /* A lost job is a transient failure like a submission's:
             * retried (its job id cleared by SCHEDULE), never polled. */
            if
            :: (out == O_TRANSIENT || out == O_LOST) && retries < MAXRETRY ->
                if
                :: dec = D_RETRY; delay = 1
                :: cidx + 1 < CHAIN -> dec = D_FALLBACK; delay = 0   /* no time left */
                :: cidx + 1 >= CHAIN -> dec = D_FAIL
                fi
            :: !((out == O_TRANSIENT || out == O_LOST) && retries < MAXRETRY) && cidx + 1 < CHAIN ->
                dec = D_FALLBACK; delay = 0
            :: !((out == O_TRANSIENT || out == O_LOST) && retries < MAXRETRY) && cidx + 1 >= CHAIN ->
                dec = D_FAIL
            fi
        fi;
        j = j || jres;   /* the job id SCHEDULE writes */
        out = 0; jres = 0; cidx = 0; retries = 0
    };
    /* gf_engine_standby_settle, then gf_limits_done: the call ended; its
     * place goes to the standby row, or is free (PLACE_RELEASE, guarded
     * by its holder), before the outcome is written. */
    CALL_ENDS(w);
    SETTLE(w, pl);
    goto write;

lost:   /* the lease was lost during the call: the call ends, nothing is
         * written, the place is passed or given back all the same */
    CALL_ENDS(w);
    SETTLE(w, pl);
    goto idle;

unused:   /* no call made (the deadline, the rescue rule): gf_limits_unused */
    PLACE_RELEASE(tg[w], ta[w], pl);

write:
    /* apply(): the outcome statement */
    if
    :: dec == D_COMPLETE ->
        RENEW(w, g, a, ok);   /* still this attempt's? else discard */
        if
        :: !ok -> pics = 0; more = 0; goto idle
        :: else -> skip
        fi;
        if
        :: pics > 0 && more -> MORE(w, g, a, pics)
        :: pics > 0 && !more ->
            /* every picture asked for stored: the outcome joins the
             * child's batch and waits; the attempt's own state is no
             * longer needed (fewer states) */
            atomic {
                bp[w] = pics; tg[w] = g; ta[w] = a; verdict[w] = V_WAIT;
                g = 0; a = 0; cidx = 0; retries = 0; out = 0; dec = 0; j = 0; jres = 0; resc = 0;
                ok = 0; delay = 0; pl = 0; k = 0; more = 0; pics = 0
            };
            goto batch
        /* no picture stored: STORAGE_ERROR, or completed with the kept
         * ones (gf_job_keeps_stored) */
        :: pics == 0 && k > 0 -> COMPLETE(w, g, a, pics)
        :: pics == 0 && k == 0 -> FAIL(w, g, a)
        fi
    :: dec == D_FAIL && k > 0 -> COMPLETE(w, g, a, pics)   /* gf_job_keeps_stored (pics is 0) */
    :: dec == D_FAIL && k == 0 -> FAIL(w, g, a)
    :: dec == D_POLL || dec == D_RETRY || dec == D_FALLBACK ->
        SCHEDULE(w, g, a, dec, j, delay)
    fi;
    goto idle;

batch:   /* the outcome waits in the child's batch of completions */
    if
    :: d_step {   /* written alone: COMPLETE_SQL (also each member's
                   * statement after the batch's statement failed and
                   * rolled back) */
           bp[w] > 0 -> COMPLETE_ROW(w, tg[w], ta[w], bp[w])
       }
    :: COMPLETE_BATCH()   /* one statement: its own and the other worker's */
    :: bp[w] == 0 -> skip   /* the other worker's batch statement wrote it */
    :: d_step {   /* the child is killed with the outcome waiting, or with
                   * the batch's statement not committed: nothing is
                   * written, the lease runs out (Clock) and rescue takes
                   * the row again; the call and the place were settled
                   * before (killed: has nothing left to do) */
           bp[w] > 0 -> bp[w] = 0;
           printf("worker %d's child is killed with its outcome in the batch\n", w)
       }
    fi;
    goto idle
}

/* Provider webhooks: WAKE_SQL, at any time after the provider accepted
 * the job (before or after the worker has written its id). One delivery
 * per accepted job: a provider sends a finite number, and a repeat finds
 * due and woken set already. */
active proctype Webhook()
{
end:
    do
    :: d_step { hook[0] -> hook[0] = 0;
                if
                :: jid[0] && OPEN(0) && queued[0] -> due[0] = 1; woken[0] = 1; overdue[0] = 0; printf("step WAKE g0\n")
                :: else -> skip
                fi }
    :: d_step { hook[1] -> hook[1] = 0;
                if
                :: jid[1] && OPEN(1) && queued[1] -> due[1] = 1; woken[1] = 1; overdue[1] = 0; printf("step WAKE g1\n")
                :: else -> skip
                fi }
    od
}

/* Leases run out (a heartbeat missed, a child killed or hung); the key's
 * record ages past GenFlowLeaseSeconds. Any time, any number of times. */
active proctype Clock()
{
end:
    do
    :: d_step { live[0] -> live[0] = 0; printf("time: the lease of g0 runs out\n") }
    :: d_step { live[1] -> live[1] = 0; printf("time: the lease of g1 runs out\n") }
    :: d_step { rec == R_RUNNING && rec_owner != NOBODY && !rec_stale -> rec_stale = 1;
                printf("time: the key's record is older than the lease\n") }
    :: d_step { plive[0] -> plive[0] = 0; PLACE_LAPSES(0);
                printf("time: the lease of place 0 runs out\n") }
    od
}

/* Time that must come: one process per clock so that weak fairness
 * makes each of them happen (the liveness run). */
proctype Deadline(byte g)
{
end:
    att[g] > 0 -> deadline[g] = 1; printf("time: the deadline of g%d passes\n", g)   /* deadline_at: set by the first claim */
}

proctype PendingTTL(byte g)
{
end:
    st[g] == PENDING && !queued[g] -> ttl[g] = 1   /* only read while never queued */
}

proctype Timer(byte g)   /* next_attempt_at comes; a due row ages past the TTL */
{
end:
    do
    :: d_step { queued[g] && OPEN(g) && !due[g] -> due[g] = 1 }
    :: d_step { queued[g] && OPEN(g) && due[g] && !live[g] && !overdue[g] -> overdue[g] = 1 }
    od
}

/* Worker 0's sweeps (mod_genflow_engine_sweep.c): EXPIRE_SQL per type, then
 * genflow_expire_orphans() (sql/007). */
inline EXPIRE(g)
{
    d_step {
        st[g] == PENDING && !queued[g] && ttl[g] ->
        printf("step EXPIRE g%d: refund\n", g); st[g] = FAILED; refund(g); check()
    }
}

inline ORPHAN(g)
{
    d_step {
        OPEN(g) && ((!queued[g] && ttl[g]) || (queued[g] && overdue[g] && !live[g])) ->
        printf("step ORPHANS g%d: refund\n", g);
        st[g] = FAILED; owner[g] = NOBODY; live[g] = 0; refund(g); check()
    }
}

proctype Sweeper()
{
end:
    do
    :: EXPIRE(0)
    :: EXPIRE(1)
    :: ORPHAN(0)
    :: ORPHAN(1)
    od
}

init
{
    byte i;
    atomic {
        for (i : 0 .. NG - 1) {
            owner[i] = NOBODY
        }
        for (i : 0 .. MAXC - 1) {
            hg[i] = NOBODY
        }
        for (i : 0 .. NW) {
            sbfor[i] = NOBODY; tg[i] = NOBODY
        }
        for (i : 0 .. NR - 1) {
            run Request(i);
            run Canceller(i);
            run Deadline(i);
            run PendingTTL(i);
            run Timer(i)
        }
        for (i : 0 .. NW - 1) {
            run Worker(i)
        }
        run Sweeper()
    }
}

/* Liveness: every generation that exists becomes terminal. */
ltl live { [] ((st[0] != ABSENT -> <> TERMINAL(0)) && (st[1] != ABSENT -> <> TERMINAL(1))) }
