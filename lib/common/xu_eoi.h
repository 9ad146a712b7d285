/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Late EOI with spurious-event throttling: Linux's answer to event
 * storms from a peer (XSA-332 for backends, XSA-391 for frontends;
 * xen_irq_lateeoi() with XEN_EOI_FLAG_SPURIOUS in events_base.c), for
 * both ends of the block protocol.
 *
 * A port stays masked until its event has been handled, and an event
 * that brought no work (no new request, no response) is spurious.  The
 * first XU_EOI_FREE spurious events in a row are unmasked at once: an
 * honest peer's notification can race with work already found by the
 * final check, but hardly twice in a row.  From then on the unmask
 * waits XU_EOI_MIN_NS, doubling with every further spurious event
 * XU_EOI_MAX_SHIFT times (128 ms), so a peer notifying in a loop costs a few
 * events per second however fast it sends, and the notifications it sends while
 * the port is masked only set the pending bit again.  One event with
 * work ends the streak; the worst an honest peer can see is one unmask
 * delayed by XU_EOI_MIN_NS after an unlucky run of races.
 */

#ifndef XBD_XU_EOI_H
#define XBD_XU_EOI_H

#include <stdbool.h>
#include <stdint.h>

#define XU_EOI_FREE 2		 /* spurious events unmasked at once */
#define XU_EOI_MIN_NS 1000000ull /* first delay: 1 ms */
#define XU_EOI_MAX_SHIFT 7	 /* doublings: up to 128 ms */

struct xu_eoi {
	uint32_t eo_streak; /* spurious events in a row */
};

/*
 * Account for one handled event and say how long its port must stay
 * masked: 0 to unmask now, else nanoseconds.
 */
static inline uint64_t
xu_eoi_delay(struct xu_eoi *e, bool spurious)
{
	uint32_t n;

	if (!spurious) {
		e->eo_streak = 0;
		return (0);
	}
	if (e->eo_streak < UINT32_MAX)
		e->eo_streak++;
	if (e->eo_streak <= XU_EOI_FREE)
		return (0);
	n = e->eo_streak - XU_EOI_FREE - 1;
	return (XU_EOI_MIN_NS << (n < XU_EOI_MAX_SHIFT ? n : XU_EOI_MAX_SHIFT));
}

#endif /* XBD_XU_EOI_H */
