/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Absolute deadlines for the timed waits of every component
 * (pthread_cond_timedwait, polls against a clock): "ms from now" on a
 * given clock, normalised so that tv_nsec stays below a second.
 */

#ifndef XBD_XU_TIME_H
#define XBD_XU_TIME_H

#include <stdint.h>
#include <time.h>

/* The time ms milliseconds after now on clock clk. */
static inline struct timespec
xu_deadline(clockid_t clk, uint32_t ms)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return (ts);
}

#endif /* XBD_XU_TIME_H */
