/* SPDX-License-Identifier: Apache-2.0 */
/* genflow_turns.pml: the order of a provider's line with premium lines
 * (GenFlowLine), in Promela: users queue generations while a worker
 * claims them, each queue one step as the statement is one transaction.
 *
 *   TAKE_TURN (mod_genflow/core/gf_sql.c; genflow_turns, sql/022, sql/040):
 *     the head of the line is the lowest turn still waiting, or, when none
 *     waits, the highest turn ever given (0 before any);
 *     a user's first generation takes the head (taken = 1);
 *     then, while taken < the user's weight and the user's last turn is
 *     not behind the head, the same turn (taken + 1); else the greater
 *     of the last turn + 1 and the head (taken = 1).
 *   CLAIM's fresh rows: the lowest (turn, ticket) waiting; every queue
 *     takes the next ticket.
 *
 * Checked after every step (assertions):
 *   - a generation's turn is never before the head it was queued at (the
 *     head never goes back: nobody is put behind turns given before);
 *   - a user's turns never go back;
 *   - no turn holds more of a user's generations than the user's weight
 *     (a premium user of weight w has at most w per turn, a standard
 *     user one);
 *   - a claim takes the lowest (turn, ticket) waiting.
 * Two variants broken on purpose must fail (tests/check_model.sh):
 *   BROKEN_SHARE_HEAD  shares the last turn without the head check: a
 *                      user back after the head passed their turn is
 *                      put before it;
 *   BROKEN_TAKEN       shares it without counting: more than w a turn.
 * Weights of the users: 2, 1, 1 (the first is premium).
 */
#define NU 3                 /* users */
#define NQ 3                 /* generations each user queues */
#define NR 9                 /* NU * NQ rows */

byte weight[NU];
byte last_turn[NU];          /* genflow_turns.last_turn */
byte taken[NU];              /* genflow_turns.taken */
bool has_turn[NU];           /* the user's genflow_turns row exists */
byte max_given;              /* genflow_turns_last: the highest turn given */
bool any_given;

byte r_user[NR];
byte r_turn[NR];
byte r_ticket[NR];
byte r_state[NR];            /* 0: not yet, 1: waiting (queued), 2: claimed */
byte nrows;
byte next_ticket;
byte done_users;

/* LINE_HEAD: the lowest turn waiting, else the highest given, else 0. */
inline line_head(h) {
    h = 255;
    k = 0;
    do
    :: k < nrows -> if :: r_state[k] == 1 && r_turn[k] < h -> h = r_turn[k] :: else fi; k++
    :: else -> break
    od;
    if
    :: h == 255 && any_given -> h = max_given
    :: h == 255 && !any_given -> h = 0
    :: else
    fi
}

/* The count of user u's rows with turn t. */
inline count_at(u, t, c) {
    c = 0;
    k = 0;
    do
    :: k < nrows -> if :: r_user[k] == u && r_turn[k] == t -> c++ :: else fi; k++
    :: else -> break
    od
}

/* QUEUE / CREATE_QUEUED: take the turn, insert the row. */
inline queue(u) {
    atomic {
        line_head(h);
        if
        :: !has_turn[u] -> last_turn[u] = h; taken[u] = 1; has_turn[u] = true
#if defined(BROKEN_SHARE_HEAD)
        :: has_turn[u] && taken[u] < weight[u] -> taken[u]++
#elif defined(BROKEN_TAKEN)
        :: has_turn[u] && last_turn[u] >= h -> taken[u]++
#else
        :: has_turn[u] && taken[u] < weight[u] && last_turn[u] >= h -> taken[u]++
#endif
        :: else ->
            if
            :: last_turn[u] + 1 > h -> last_turn[u] = last_turn[u] + 1
            :: else -> last_turn[u] = h
            fi;
            taken[u] = 1
        fi;
        printf("step QUEUE user %d (weight %d): turn %d, head %d\n", u, weight[u], last_turn[u], h);
        assert(last_turn[u] >= h);                 /* never before the head */
        assert(last_turn[u] >= prev);              /* a user's turns never go back */
        prev = last_turn[u];
        if :: !any_given || last_turn[u] > max_given -> max_given = last_turn[u]; any_given = true :: else fi;
        r_user[nrows] = u;
        r_turn[nrows] = last_turn[u];
        r_ticket[nrows] = next_ticket;
        r_state[nrows] = 1;
        next_ticket++;
        nrows++;
        count_at(u, last_turn[u], c);
        assert(c <= weight[u])                     /* at most w of a user in a turn */
    }
}

proctype user(byte u) {
    byte i = 0, h = 0, k = 0, c = 0, prev = 0;
    do
    :: i < NQ -> queue(u); i++
    :: else -> break
    od;
    atomic { done_users++; h = 0; k = 0; c = 0; prev = 0 }
}

/* CLAIM's fresh rows: the lowest (turn, ticket) waiting. */
#define BEFORE(a, b) (r_turn[a] < r_turn[b] || (r_turn[a] == r_turn[b] && r_ticket[a] < r_ticket[b]))
proctype worker() {
    byte k = 0, best = 255, j = 0;
    do
    :: d_step {
           best = 255;
           k = 0;
           do
           :: k < nrows ->
               if
               :: r_state[k] == 1 && (best == 255 || BEFORE(k, best)) -> best = k
               :: else
               fi;
               k++
           :: else -> break
           od;
           if
           :: best != 255 ->
               /* Nothing waiting comes before it. */
               j = 0;
               do
               :: j < nrows ->
                   assert(!(r_state[j] == 1 && BEFORE(j, best)));
                   j++
               :: else -> break
               od;
               r_state[best] = 2;
               printf("step CLAIM user %d: turn %d, ticket %d\n", r_user[best], r_turn[best], r_ticket[best])
           :: else
           fi;
           k = 0; j = 0
       }
    :: done_users == NU && nrows == NR -> break
    od
}

init {
    atomic {
        weight[0] = 2;
        weight[1] = 1;
        weight[2] = 1;
        run user(0);
        run user(1);
        run user(2);
        run worker()
    }
}
