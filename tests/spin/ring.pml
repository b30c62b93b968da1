/*
 * ring.pml - SPIN model of the MPSC fault ring (core/src/ring.h) as the
 * queue uses it: a producer takes a credit (iopfq_report: take_credit),
 * claims a position with one fetch-add (iopfq_ring_claim), fills the slot
 * and publishes it with its sequence number (iopfq_ring_publish, R1); the
 * consumer waits for the head slot's sequence (iopfq_ring_peek, C1), reads
 * it, releases the slot (iopfq_ring_consume, C2), and the answer returns the
 * credit (cslot_finish: credits_return, X1).
 *
 * Checked exhaustively (SPIN explores every interleaving; it assumes
 * sequential consistency, so this checks the protocol, not the barriers:
 * those are docs/memory-ordering.md's and TSan's job):
 *   - no record lost, duplicated or reordered per producer (consumer asserts);
 *   - A1 never has to wait: the slot a producer claims is always free
 *     (assert at the claim), which is what makes the producer wait-free;
 *   - progress of producers that are not stalled: with STALL, producer 0
 *     stops forever between claim and publish (a handler interrupted on its
 *     CPU). The only blocking statements a producer has are "wait for a
 *     credit" (end_credit) and, for producer 0, the stall: any other place a
 *     producer could be stuck at the end is an invalid end state, which
 *     SPIN reports. The consumer stops at the hole (end_wait), as designed:
 *     the other producers go on until the credits held behind the hole run
 *     out, and never wait for producer 0 itself.
 * Positions are free-running bytes (mod 256) started at START near the
 * maximum, so wrap-around is inside the model.
 *
 * Parameters: NPROD producers, CAP slots (= credits), PER records each.
 */
#ifndef NPROD
#define NPROD 2
#endif
#ifndef CAP
#define CAP 2
#endif
#ifndef PER
#define PER 2
#endif
#ifndef START
#define START 253
#endif
#define TOTAL (NPROD * PER)
#define P(x) ((x) % 256)

byte tail = START;      /* ring.tail: producers' fetch-add */
byte head = START;      /* ring.head: consumer only */
byte seq[CAP];          /* per-slot sequence */
byte who[CAP];          /* slot payload: producer id */
byte idx[CAP];          /* slot payload: producer's record number */
#ifdef BREAK_CREDITS
byte credits = CAP + 1; /* broken admission: one credit more than slots */
#else
byte credits = CAP;     /* credits not held by anyone */
#endif
byte next_idx[NPROD];   /* consumer: next record expected from each producer */
bool stalled = false;

proctype producer(byte id)
{
	byte i = 0;
	byte pos;

	do
	:: i < PER ->
		/* take_credit(): a device never issues without one */
end_credit:	atomic { credits > 0 -> credits-- };
		/* iopfq_ring_claim(): pos = fetch_add(tail, 1) */
		atomic { pos = tail; tail = P(tail + 1) };
		/* A1: the slot must already be free; the code would spin here */
		assert(seq[pos % CAP] == pos);
		who[pos % CAP] = id;
		idx[pos % CAP] = i;
#ifdef STALL
		if
		:: id == 0 && i == 0 ->
			stalled = true;
end_stalled:		false    /* never publishes */
		:: else -> skip
		fi;
#endif
		/* R1: iopfq_ring_publish() */
		seq[pos % CAP] = P(pos + 1);
		i++
	:: else -> break
	od
}

proctype consumer()
{
	byte n = 0;
	byte p;

	do
	:: n < TOTAL ->
		/* C1: iopfq_ring_peek() waits at an unpublished head slot */
end_wait:	seq[head % CAP] == P(head + 1);
		p = who[head % CAP];
		assert(p < NPROD);
		assert(idx[head % CAP] == next_idx[p]);  /* in order, none lost or repeated */
		next_idx[p]++;
		/* C2: iopfq_ring_consume() */
		seq[head % CAP] = P(head + CAP);
		head = P(head + 1);
		n++;
		/* the group is answered: credits_return() */
		credits++
	:: else -> break
	od;
	/* every record of every producer arrived exactly once */
	p = 0;
	do
	:: p < NPROD -> assert(next_idx[p] == PER); p++
	:: else -> break
	od
}

init {
	byte k = 0;

	atomic {
		do
		:: k < CAP -> seq[P(START + k) % CAP] = P(START + k); k++
		:: else -> break
		od;
		k = 0;
		do
		:: k < NPROD -> run producer(k); k++
		:: else -> break
		od;
		run consumer()
	}
}
