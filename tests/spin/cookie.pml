/*
 * cookie.pml - SPIN model of the response table (core/src/cookies.c): the
 * reader issues cookies in slots found round-robin (cookie_slot_alloc,
 * iopfq_read), answers on other threads claim them with a CAS
 * (answer_one, K2) and free the slot (cslot_finish: K3, then X1 credits),
 * and the consumer side revokes them (iopfq_cookies_revoke for flush/detach:
 * CAS, or wait for the answer that won). The reader and the revoker are
 * one process because the consumer side is serialized. A revoke visits only
 * the slots on the device's list (linked[]): the reader links each slot it
 * issues and unlinks it at reuse; the reaper (cslots_reap), at each
 * delivery, unlinks a listed slot it finds free (busy == 0): here the oldest
 * issued, the one the cursor reaches next (the code looks at its list's
 * head); a revoke unlinks what it visits.
 *
 * Geometry: T = 2 slots for B = 1 credit (the queue's T >= 2B), GENMAX = 3
 * generations (2-bit generations skip 0), NG groups delivered in all.
 * Answerers hold on to every cookie they ever saw and keep retrying them,
 * so stale cookies race with slot reuse, revokes and each other.
 *
 * Checked exhaustively:
 *   - the reader always finds a free slot (the busy <= B argument);
 *   - a claim never succeeds for a group other than the one its cookie was
 *     issued for: no stale cookie is accepted (while NG <= T * GENMAX, i.e.
 *     within the modelled generations; with -DNG=7 SPIN finds the alias,
 *     which shows the bound in docs/design.md is tight);
 *   - no group is answered twice; at the end every group was answered
 *     exactly once, by an answer or by the revoke: the detach, walking the
 *     list only, missed no group and waited for every answer in flight.
 *     With -DBREAK_REAP_CLAIMED the reaper unlinks a slot whose cookie an
 *     answer has claimed but not yet freed (busy still 1): SPIN finds the
 *     detach that returns before that answer is done.
 */
#ifndef T
#define T 2
#endif
#ifndef B
#define B 1
#endif
#ifndef GENMAX
#define GENMAX 3
#endif
#ifndef NG
#define NG 6
#endif
#ifndef NANS
#define NANS 2
#endif
#ifndef TRIES
#define TRIES 3
#endif
#ifdef BREAK_NO_GEN
#define COOKIE(gen, s) (T + (s))       /* broken: no generation, like xa_alloc ids */
#else
#define COOKIE(gen, s) ((gen) * T + (s))
#endif
#define SLOT(c) ((c) % T)

byte cookie[T];         /* claim word: live cookie or 0 */
bool busy[T];
bool linked[T];         /* on the device's list (consumer side only) */
byte slot_grp[T];       /* the group a slot holds (written by the reader) */
byte gen[T];            /* reader only */
byte issued[NG + 1];    /* cookie issued for group g (0: not yet) */
byte answered[NG + 1];  /* times group g was answered (user or revoke) */
byte credits = B;

/* cslot_finish(): K3 (busy = 0), then the credits come back (X1) */
inline finish(s, g)
{
	answered[g]++;
	assert(answered[g] == 1);        /* never answered twice */
	busy[s] = false;
	credits++
}

proctype answerer()
{
	byte tries = 0;
	byte g, c, s, held;
	bool won;

	do
	:: tries < TRIES ->
		select(g : 1 .. NG);
end_pick:	issued[g] != 0;
		c = issued[g];
		s = SLOT(c);
		/* K2: CAS(cookie[s], c, 0) */
		atomic { won = (cookie[s] == c); if :: won -> cookie[s] = 0 :: else fi };
		if
		:: won ->
#ifdef BREAK_EARLY_FREE
			busy[s] = false;          /* broken: K3 before the slot is read */
#endif
			held = slot_grp[s];
			assert(held == g);        /* no stale cookie accepted */
			finish(s, g)
		:: else -> skip                   /* -EINVAL: nothing changed */
		fi;
		tries++
	:: else -> break
	od
}

/* The consumer side: read (issue cookies) interleaved with flushes (revoke). */
proctype consumer()
{
	byte g = 1, s, r, probes, cur = 0, c, held;
	bool won;

	do
	:: g <= NG ->
		/* a new group completes: it holds a credit */
end_credit:	atomic { credits > 0 -> credits-- };
		/* cookie_slot_alloc(): round-robin, K0 acquire of busy */
		probes = 0;
		do
		:: probes < T && busy[cur] -> cur = (cur + 1) % T; probes++
		:: probes < T && !busy[cur] -> break
		:: probes == T -> assert(false)   /* no free slot: cannot happen */
		od;
		s = cur;
		cur = (cur + 1) % T;
		linked[s] = false;               /* reuse: off its old list */
		gen[s] = gen[s] % GENMAX + 1;
		slot_grp[s] = g;
		busy[s] = true;
		cookie[s] = COOKIE(gen[s], s);   /* K1 */
		issued[g] = cookie[s];
		/* the reaper, at each delivery before its slot is linked: the slot
		 * the cursor reaches next (the oldest issued), unlinked if found free */
		r = cur;
		if
#ifdef BREAK_REAP_CLAIMED
		:: linked[r] && cookie[r] == 0 -> linked[r] = false  /* broken: claimed, maybe busy */
#else
		:: linked[r] && !busy[r] -> linked[r] = false
#endif
		:: else -> skip
		fi;
		linked[s] = true;
		g++
	:: g <= NG ->
		/* iopfq_flush(): revoke one listed slot's group, or wait for its answer */
		select(s : 0 .. T - 1);
		if
		:: linked[s] && !busy[s] -> linked[s] = false  /* answered: dropped */
		:: linked[s] && busy[s] ->
			linked[s] = false;
			c = cookie[s];
			atomic { won = (c != 0 && cookie[s] == c); if :: won -> cookie[s] = 0 :: else fi };
			if
			:: won -> held = slot_grp[s]; finish(s, held)
			:: else -> !busy[s]        /* K0': the winner finishes */
			fi
		:: else -> skip
		fi
	:: else -> break
	od;
	/* iopfq_dev_detach(): walk the list, revoke what is live, wait for answers in flight */
	s = 0;
	do
	:: s < T ->
		if
		:: linked[s] && busy[s] ->
			linked[s] = false;
			c = cookie[s];
			atomic { won = (c != 0 && cookie[s] == c); if :: won -> cookie[s] = 0 :: else fi };
			if
			:: won -> held = slot_grp[s]; finish(s, held)
			:: else -> !busy[s]
			fi
		:: else -> skip
		fi;
		s++
	:: else -> break
	od;
	/* every group answered exactly once */
	g = 1;
	do
	:: g <= NG -> assert(answered[g] == 1); g++
	:: else -> break
	od
}

init {
	byte k = 0;

	atomic {
		do
		:: k < NANS -> run answerer(); k++
		:: else -> break
		od;
		run consumer()
	}
}
