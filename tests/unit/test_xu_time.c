/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: xu_deadline, the deadline helper of every timed wait:
 * "ms from now", normalised (tv_nsec below a second) across the carry.
 */

#include "common/xu_time.h"
#include "xt.h"

static int64_t
ns_of(struct timespec ts)
{
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

/* Every millisecond count of a second and a bit, on both clocks. */
static void
test_deadline(void **state)
{
	static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
	struct timespec before, d, after;
	int64_t lo, hi;
	uint32_t ms;
	size_t c;

	for (c = 0; c < sizeof(clocks) / sizeof(clocks[0]); c++) {
		for (ms = 0; ms <= 2100; ms += 7) {
			clock_gettime(clocks[c], &before);
			d = xu_deadline(clocks[c], ms);
			clock_gettime(clocks[c], &after);
			assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
			lo = ns_of(before) + (int64_t)ms * 1000000;
			hi = ns_of(after) + (int64_t)ms * 1000000;
			assert_true(ns_of(d) >= lo && ns_of(d) <= hi);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
