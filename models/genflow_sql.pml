/* SPDX-License-Identifier: Apache-2.0 */
/* genflow_sql.pml: the SQL statements of the model (included by
 * genflow.pml), one inline each, and the properties checked after every
 * statement. Each statement is one d_step: guard = its WHERE clause,
 * effect = its SET list and ledger row. */

/* ---- the properties, checked after every statement --------------------- */
inline check_money()
{
    /* balance = grants - reservations + refunds + what charges gave back
     * (the undelivered pictures of a count) */
    assert(balance == GRANT - COST * (nres[0] + nres[1]) + COST * (nref[0] + nref[1])
                      + PIC * (nchg[0] * (NPICS - delivered[0]) + nchg[1] * (NPICS - delivered[1])));
    assert(balance >= 0);
    /* genflow_accounts.active counts the queued, unfinished rows (sql/016) */
    assert(nactive == ACTIVE(0) + ACTIVE(1));
    assert(nactive <= MAXACT);
    assert(created_by_key <= 1)
}

inline check_gen(g)
{
    assert(nres[g] <= 1);                       /* one reservation */
    assert(nchg[g] + nref[g] <= 1);             /* one finalization */
    assert(st[g] == ABSENT || nres[g] == 1);    /* a row has its reservation */
    assert(nchg[g] == 0 || (st[g] == COMPLETED && image[g]));  /* no charge without completion */
    /* charged per picture delivered: at least one, at most the count, and
     * what the ledger took (COST less what was given back) is PIC each */
    assert(nchg[g] == 0 || (delivered[g] >= 1 && delivered[g] <= NPICS));
    assert(nchg[g] == 1 || delivered[g] == 0);
    /* a completion charges every picture its calls stored, the kept ones
     * (MORE) too; and only a call that brought a picture keeps one */
    assert(nchg[g] == 0 || delivered[g] == stored[g]);
    assert(kept[g] < NPICS && (kept[g] == 0 || image[g]));
    assert(nref[g] == 0 || st[g] == FAILED || st[g] == CANCELLED);
    assert(!OPEN(g) || nchg[g] + nref[g] == 0)
}

/* The provider's limit: never more calls open at the provider than it
 * has places, but for calls whose place's lease ran out under them (a
 * node hung, or cut off from the database for a lease, while its call
 * was open: no lease can tell a live holder from a dead one; a killed
 * node's calls end with it). */
inline check_places()
{
    assert(calls <= MAXC + lapsed)
}

inline check()
{
    check_money();
    check_gen(0); check_gen(1);
    check_places()
}

/* The ledger's own rules (sql/001): a finalization follows the
 * reservation (trigger genflow_ledger_check_finalization) and is the only
 * one (unique index genflow_ledger_one_finalization). The model asserts
 * the statements' guards never leave those to the database: an insert
 * the index would reject is a violation here. */
inline charge(g, n)
{
    assert(nres[g] == 1 && nchg[g] == 0 && nref[g] == 0);
    /* (n) in parentheses: an inline's argument is put in as written */
    assert((n) >= 1 && (n) <= NPICS);   /* the guard jsonb_array_length(images) >= 1 */
    nchg[g] = 1;
    delivered[g] = (n);
#ifndef BROKEN_COUNT
    balance = balance + PIC * (NPICS - (n));   /* the charge row gives back the rest */
#endif
    if
    :: queued[g] -> nactive = nactive - 1
    :: else -> skip
    fi
}

inline refund(g)
{
    assert(nres[g] == 1 && nchg[g] == 0 && nref[g] == 0);
    nref[g] = 1;
    balance = balance + COST;
    if
    :: queued[g] -> nactive = nactive - 1   /* only a queued row counted */
    :: else -> skip
    fi
}

/* ---- the statements --------------------------------------------------- */

/* CREATE_SQL: balance, a new id, the key's record still this request's
 * and naming no generation (locked first: the rec CTE's FOR UPDATE, so the
 * guard and the link see one version of the record); reserve + the pending
 * row + the link to the record, together. */
inline CREATE(r, keyed, ok)
{
    d_step {
        if
        :: balance >= COST && st[r] == ABSENT && (!keyed || (rec == R_RUNNING && rec_owner == r && rec_gen == NOBODY)) ->
            printf("step CREATE g%d (request %d): reserve\n", r, r);
            st[r] = PENDING; nres[r] = 1; balance = balance - COST;
            if
            :: keyed -> rec_gen = r; created_by_key = created_by_key + 1
            :: else -> skip
            fi;
            ok = 1
        :: else -> ok = 0
        fi;
        check()
    }
}

/* QUEUE_SQL: the owner's pending row, not yet queued, while the user has
 * fewer than GenFlowMaxActive generations queued or processing; counted
 * active in the same statement. Refused, it writes nothing (the row stays
 * created, and expires after its TTL). */
inline QUEUE(g)
{
    d_step {
        if
        :: st[g] == PENDING && !queued[g] && nactive < MAXACT ->
            printf("step QUEUE g%d\n", g);
            queued[g] = 1; due[g] = 1; overdue[g] = 0; nactive = nactive + 1
        :: else -> skip
        fi;
        check()
    }
}

/* FAIL_SQL as cancel: status cancelled, the owner, no lease guard. */
inline CANCEL(g)
{
    d_step {
        if
#ifdef BROKEN_FINALIZE
        :: st[g] != ABSENT ->
#else
        :: OPEN(g) ->
#endif
            printf("step CANCEL g%d (status was %d): refund\n", g, st[g]);
            st[g] = CANCELLED; owner[g] = NOBODY; live[g] = 0; refund(g)
        :: else -> skip
        fi;
        check()
    }
}

/* DUE_NOW of CLAIM_SQL / CLAIM_POLLS_SQL (SERVED_BY always holds: one
 * server). The model stops claiming a row after MAXATT attempts: its
 * bound on time (the MAXATT-th claim finds the deadline passed). */
#define DUE(g) (queued[g] && OPEN(g) && due[g] && !live[g] && att[g] < MAXATT)
#define CLAIMABLE(g, polls) (DUE(g) && jid[g] == polls)

/* CLAIM_GATES' place (sql/022): a free one, or one whose holder's lease
 * ran out; the claim takes it in the statement that leases the row (a
 * guard of the claim's d_step, TAKE_PLACE in its body). */
#define FREE_PLACE(pl) (hg[0] == NOBODY || !plive[0])   /* the model's one place */
inline TAKE_PLACE(pl, g, a)
{
    pl = 0;
    printf("step CLAIM takes place %d for g%d attempt %d\n", pl, g, a);
    hg[pl] = g; ha[pl] = a; plive[pl] = 1
}

/* PLACE_RELEASE: only the holder (generation, attempt) frees the place,
 * so a call whose lease ran out never frees the place of the call that
 * took it over (BROKEN_PLACE: by the place alone). */
inline PLACE_RELEASE(g, a, pl)
{
    d_step {
        if
#ifdef BROKEN_PLACE
        :: hg[pl] != NOBODY ->
#else
        :: hg[pl] == g && ha[pl] == a ->
#endif
            printf("step PLACE_RELEASE place %d by g%d attempt %d\n", pl, g, a);
            hg[pl] = NOBODY; ha[pl] = 0; plive[pl] = 0
        :: else -> printf("step PLACE_RELEASE place %d by g%d attempt %d: not its holder\n", pl, g, a)
        fi;
        check()
    }
}

/* The call opens at the provider, and ends (its answer, an abort, the
 * child's death). */
inline CALL_STARTS(w, g, a)
{
    d_step {
        calls = calls + 1; incall[w] = 1; callg[w] = g; calla[w] = a; haslapsed[w] = 0;
        /* The place's lease ran out between the claim and the call. */
        if
        :: !(hg[0] == g && ha[0] == a && plive[0]) -> haslapsed[w] = 1; lapsed = lapsed + 1
        :: else -> skip
        fi;
        printf("provider: call of g%d attempt %d opens (%d open)\n", g, a, calls);
        check()
    }
}
inline CALL_ENDS(w)
{
    d_step {
        if
        :: incall[w] ->
            calls = calls - 1; incall[w] = 0;
            if
            :: haslapsed[w] -> lapsed = lapsed - 1; haslapsed[w] = 0
            :: else -> skip
            fi
        :: else -> skip
        fi;
        check()
    }
}
/* The place's lease ran out: a call of its holder still open counts as
 * one the limit cannot answer for. */
inline PLACE_LAPSES(pl)
{
    byte k;
    for (k : 0 .. NW) {
        if
        :: incall[k] && !haslapsed[k] && callg[k] == hg[pl] && calla[k] == ha[pl] ->
            haslapsed[k] = 1; lapsed = lapsed + 1
        :: else -> skip
        fi
    }
    k = 0
}

/* CLAIM_SET: processing, this worker's lease, the next attempt number,
 * deadline_at on the first claim; prev_owner says "rescue". */
inline CLAIM_SET(w, g, a, resc)
{
    resc = (owner[g] != NOBODY);
    printf("step CLAIM g%d by worker %d: attempt %d (rescue %d)\n", g, w, att[g] + 1, resc);
    st[g] = PROCESSING; owner[g] = w; live[g] = 1; woken[g] = 0;
    att[g] = att[g] + 1; a = att[g];
    if
    :: att[g] == MAXATT -> deadline[g] = 1
    :: else -> skip
    fi;
    check()
}

/* The guard of RENEW, ACCEPTED, SCHEDULE, COMPLETE and FAIL (worker):
 * id, lease_owner, attempts, and an open status (COMPLETE and FAIL say
 * IN ('pending','processing'), the others = 'processing'; a leased row
 * is never pending, so both read the same here). */
#ifdef BROKEN_STALE
#define MINE(w, g, a) (st[g] == PROCESSING)
#else
#define MINE(w, g, a) (owner[g] == w && att[g] == a && st[g] == PROCESSING)
#endif
/* What the guard promises (sql/003): only the current attempt writes. */
#define CURRENT(w, g, a) assert(owner[g] == w && att[g] == a)

/* RENEW_SQL: the heartbeat, and the check before a completion. */
inline RENEW(w, g, a, ok)
{
    d_step {
        if
        :: MINE(w, g, a) -> CURRENT(w, g, a); live[g] = 1; ok = 1;
           printf("step RENEW g%d worker %d attempt %d\n", g, w, a)
        :: else -> ok = 0; printf("step RENEW g%d worker %d attempt %d: no row (lost)\n", g, w, a)
        fi
    }
}

/* ACCEPTED_SQL: the provider took the job; its id is written at once. */
inline ACCEPTED(w, g, a)
{
    d_step {
        if
        :: MINE(w, g, a) -> CURRENT(w, g, a); jid[g] = 1; hook[g] = 1;
           printf("step ACCEPTED g%d worker %d attempt %d\n", g, w, a)
        :: else -> skip
        fi
    }
}

/* SCHEDULE_SQL: back to waiting, due now if a webhook came meanwhile. */
inline SCHEDULE(w, g, a, dec, jobid, delay)
{
    d_step {
        if
        :: MINE(w, g, a) ->
            CURRENT(w, g, a);
            printf("step SCHEDULE g%d worker %d attempt %d\n", g, w, a);
            due[g] = (woken[g] || !delay); woken[g] = 0; overdue[g] = 0;
            if
            :: dec == D_POLL -> jid[g] = jobid
            :: dec == D_RETRY -> rc[g] = rc[g] + 1; jid[g] = 0
            :: dec == D_FALLBACK -> ci[g] = ci[g] + 1; rc[g] = 0; jid[g] = 0
            fi;
            owner[g] = NOBODY; live[g] = 0
        :: else -> printf("step SCHEDULE g%d worker %d attempt %d: no row (stale)\n", g, w, a)
        fi;
        check()
    }
}

/* MORE_SQL: the call's n pictures added to the row's kept ones, the row
 * back to the queue due now, a fresh retry count, no job. */
inline MORE(w, g, a, n)
{
    d_step {
        if
        :: MINE(w, g, a) ->
            CURRENT(w, g, a);
            printf("step MORE g%d worker %d attempt %d: %d picture(s) kept\n", g, w, a, n);
            kept[g] = kept[g] + n; due[g] = 1; woken[g] = 0; overdue[g] = 0;
            rc[g] = 0; jid[g] = 0; owner[g] = NOBODY; live[g] = 0
        :: else -> printf("step MORE g%d worker %d attempt %d: no row (stale)\n", g, w, a)
        fi;
        n = 0; more = 0;
        check()
    }
}

/* COMPLETE_SQL: completed with the pictures earlier calls kept and the n
 * this one stored (at least one in all: its guard), the charge row
 * giving back what the others reserved, active - 1. n is the worker's
 * (a variable, not an expression), cleared with the statement.
 * COMPLETE_ROW is one row's part of it; COMPLETE is the statement of one
 * row, COMPLETE_BATCH the statement of several. */
inline COMPLETE_ROW(w, g, a, n)
{
    if
    :: MINE(w, g, a) && kept[g] + n >= 1 ->
        CURRENT(w, g, a);
        printf("step COMPLETE g%d worker %d attempt %d: %d picture(s) and %d kept, charge\n", g, w, a, n, kept[g]);
        st[g] = COMPLETED; owner[g] = NOBODY; live[g] = 0;
        stored[g] = kept[g] + n;   /* ghost: every picture stored for it */
#ifdef BROKEN_KEPT
        if
        :: n > 0 -> charge(g, n)
        :: else -> charge(g, kept[g])
        fi
#else
        charge(g, kept[g] + n)
#endif
    :: else -> printf("step COMPLETE g%d worker %d attempt %d: no row (stale)\n", g, w, a)
    fi;
    n = 0;
    check()
}

inline COMPLETE(w, g, a, n)
{
    d_step {
        COMPLETE_ROW(w, g, a, n)
    }
}

/* The batch of a child's ordinary completions: one statement, one
 * transaction, for every outcome waiting in it, each row with
 * COMPLETE_SQL's own guard (lease owner, attempt), so a member whose
 * lease was lost or whose row was cancelled is skipped while the others
 * apply. The model's batch: its two workers' outcomes, worker v's waiting
 * in bp[v] (its pictures) for the row tg[v], attempt ta[v]; cleared by
 * the statement. (The members are written as literals: given 1 - w as
 * an argument, spin's expansion of COMPLETE_ROW, whose own parameter is
 * also w, never ends.) */
inline COMPLETE_BATCH()
{
    d_step {
        bp[0] > 0 && bp[1] > 0 ->
        printf("step COMPLETE_BATCH of workers 0 and 1\n");
        COMPLETE_ROW(0, tg[0], ta[0], bp[0]);
        COMPLETE_ROW(1, tg[1], ta[1], bp[1])
    }
}

/* FAIL_SQL from a worker: failed, the refund row, balance back. */
inline FAIL(w, g, a)
{
    d_step {
        if
        :: MINE(w, g, a) ->
            CURRENT(w, g, a);
            printf("step FAIL g%d worker %d attempt %d: refund\n", g, w, a);
            st[g] = FAILED; owner[g] = NOBODY; live[g] = 0; refund(g)
        :: else -> printf("step FAIL g%d worker %d attempt %d: no row (stale)\n", g, w, a)
        fi;
        check()
    }
}

/* RELEASE_SQL: the stopping child gives the row back, due now; after a
 * cut-off submission (no job id known at the claim) the owner stays, with
 * the lease expired, so the next claim is a rescue. */
inline RELEASE(w, g, a, uncertain)
{
    d_step {
        if
        :: MINE(w, g, a) ->
            CURRENT(w, g, a);
            printf("step RELEASE g%d worker %d attempt %d\n", g, w, a);
            if
            :: uncertain -> skip
            :: else -> owner[g] = NOBODY
            fi;
            live[g] = 0; due[g] = 1; overdue[g] = 0
        :: else -> skip
        fi;
        check()
    }
}

/* RELEASE_REST_SQL: a claimed poll the worker will not reach in time;
 * guarded by lease_owner and status only (no attempt number). */
inline RELEASE_REST(w, g)
{
    d_step {
        if
        :: owner[g] == w && st[g] == PROCESSING ->
            owner[g] = NOBODY; live[g] = 0; due[g] = 1; overdue[g] = 0;
            printf("step RELEASE_REST g%d worker %d\n", g, w)
        :: else -> skip
        fi;
        check()
    }
}
