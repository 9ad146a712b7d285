/* SPDX-License-Identifier: BSD-2-Clause */
/* Free-callback waiters shared by the platforms; see plat_freecb.h. */

#include <errno.h>
#include <stdlib.h>

#include "plat_freecb.h"

int
plat_freecb_request(struct plat_freecb **head, uint64_t nfree, unsigned int n,
    plat_gnt_free_fn *fn, void *arg)
{
	struct plat_freecb *cb, **pp;

	for (pp = head; *pp != NULL; pp = &(*pp)->fc_next)
		if ((*pp)->fc_arg == arg)
			return (-EALREADY);
	if (nfree >= n)
		return (1);
	if ((cb = calloc(1, sizeof(*cb))) == NULL)
		return (-ENOMEM);
	cb->fc_fn = fn;
	cb->fc_arg = arg;
	cb->fc_n = n;
	*pp = cb;
	return (0);
}

void
plat_freecb_cancel(struct plat_freecb **head, void *arg)
{
	struct plat_freecb *cb, **pp;

	for (pp = head; (cb = *pp) != NULL; pp = &cb->fc_next)
		if (cb->fc_arg == arg) {
			*pp = cb->fc_next;
			free(cb);
			return;
		}
}

struct plat_freecb *
plat_freecb_take(struct plat_freecb **head, uint64_t nfree)
{
	struct plat_freecb *cb, **pp, *run = NULL, **tail = &run;

	/*
	 * Each waiter is judged against the whole count: they all race for
	 * the same references once called, as they would on FreeBSD.
	 */
	for (pp = head; (cb = *pp) != NULL;) {
		if (cb->fc_n > nfree) {
			pp = &cb->fc_next;
			continue;
		}
		*pp = cb->fc_next;
		cb->fc_next = NULL;
		*tail = cb;
		tail = &cb->fc_next;
	}
	return (run);
}

void
plat_freecb_run(struct plat_freecb *run)
{
	struct plat_freecb *cb;

	while ((cb = run) != NULL) {
		run = cb->fc_next;
		cb->fc_fn(cb->fc_arg);
		free(cb);
	}
}

void
plat_freecb_drop(struct plat_freecb **head)
{
	struct plat_freecb *cb;

	while ((cb = *head) != NULL) {
		*head = cb->fc_next;
		free(cb);
	}
}
