/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The waiters of plat_gnt_request_free_callback, kept the same way by
 * every platform: a list in asking order, keyed by the callback's
 * argument, under the platform's own reference lock.  The platform says
 * how many references are free; this file decides who is called.
 * Callbacks always run without that lock (plat.h promises it).
 */

#ifndef XBD_PLATFORM_PLAT_FREECB_H
#define XBD_PLATFORM_PLAT_FREECB_H

#include "plat.h"

/* One waiter. */
struct plat_freecb {
	struct plat_freecb *fc_next; /* the next waiter, in asking order */
	plat_gnt_free_fn *fc_fn;     /* what to call */
	void *fc_arg;		     /* its argument, and the waiter's key */
	unsigned int fc_n;	     /* references it waits for */
};

/*
 * A request, with the platform's lock held and nfree the references it
 * could hand out now.  \return 0 queued, -EALREADY (arg already waits),
 * -ENOMEM, or 1: enough are free already, so the caller must call
 * fn(arg) itself once it has dropped its lock (waiting for a release
 * could wait forever, as FreeBSD's check_free_callbacks knows).
 */
int plat_freecb_request(struct plat_freecb **head, uint64_t nfree,
    unsigned int n, plat_gnt_free_fn *fn, void *arg);

/* Forget arg's waiter, if any; lock held. */
void plat_freecb_cancel(struct plat_freecb **head, void *arg);

/*
 * After references came back, with the lock held: unlink the waiters
 * that nfree satisfies, in asking order, and return them for
 * plat_freecb_run.
 */
struct plat_freecb *plat_freecb_take(struct plat_freecb **head, uint64_t nfree);

/* Call and free what plat_freecb_take returned; lock not held. */
void plat_freecb_run(struct plat_freecb *run);

/* Free every waiter without calling it (the platform is closing). */
void plat_freecb_drop(struct plat_freecb **head);

#endif /* XBD_PLATFORM_PLAT_FREECB_H */
