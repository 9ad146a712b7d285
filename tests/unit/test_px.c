/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the parts of the "xen" platform (lib/platform/xen) that
 * need no hypervisor: the platform is known by name, opening it off Xen
 * fails cleanly with -ENODEV, the token budget (reserve, release,
 * shortage, free callbacks in asking order, cancel), and the lookup of a
 * page's wire reference in its gntalloc region (peer checked, unaligned
 * and foreign memory refused).  Mapping, copying and event channels are
 * exercised on real Xen by the interop suite (tests/interop).
 */

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "platform/xen/px_internal.h"
#include "xt.h"

/* A platform with the budget and no devices. */
static int
setup(void **state)
{
	struct px *x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return (-1);
	pthread_mutex_init(&x->px_lock, NULL);
	if (px_gnt_init(x) != 0) {
		free(x);
		return (-1);
	}
	*state = x;
	return (0);
}

static int
teardown(void **state)
{
	struct px *x = *state;

	px_gnt_fini(x);
	pthread_mutex_destroy(&x->px_lock);
	free(x);
	return (0);
}

static void
test_known(void **state)
{
	assert_true(plat_known("sim"));
	assert_true(plat_known("xen"));
	assert_false(plat_known("kvm"));
	assert_false(plat_known(""));
}

static void
test_open_off_xen(void **state)
{
	struct plat *p = NULL;
	int rc;

	/* On a Xen host this is the interop suite's business. */
	if (access("/dev/xen/gntalloc", F_OK) == 0)
		skip();
	rc = plat_xen_open(&p);
	assert_int_equal(rc, -ENODEV);
	assert_null(p);
}

static void
test_reserve_release(void **state)
{
	struct px *x = *state;
	grant_ref_t a[8], b[8];
	unsigned int i, j;

	assert_int_equal(px_gnt_reserve(&x->px_plat, 8, a), 0);
	assert_int_equal(px_gnt_reserve(&x->px_plat, 8, b), 0);
	for (i = 0; i < 8; i++) {
		assert_true(a[i] >= GNTTAB_NR_RESERVED_ENTRIES);
		for (j = 0; j < 8; j++)
			assert_int_not_equal(a[i], b[j]);
	}
	assert_int_equal(x->px_nfree, PX_NREFS - 16);
	px_gnt_release(&x->px_plat, 8, a);
	px_gnt_release(&x->px_plat, 8, b);
	assert_int_equal(x->px_nfree, PX_NREFS);
}

/* Records the order free callbacks run in. */
struct order {
	int o_seen[4]; /* callback ids, in calling order */
	int o_n;       /* callbacks seen */
};

struct waiter {
	struct order *w_order; /* shared log */
	int w_id;	       /* this waiter's id */
};

static void
on_free(void *arg)
{
	struct waiter *w = arg;

	w->w_order->o_seen[w->w_order->o_n++] = w->w_id;
}

static void
test_shortage_callbacks(void **state)
{
	struct px *x = *state;
	struct order log = { { 0 }, 0 };
	struct waiter w1 = { &log, 1 }, w2 = { &log, 2 }, w3 = { &log, 3 };
	grant_ref_t *all, one;

	all = calloc(PX_NREFS, sizeof(*all));
	assert_non_null(all);
	assert_int_equal(px_gnt_reserve(&x->px_plat, PX_NREFS, all), 0);
	assert_int_equal(px_gnt_reserve(&x->px_plat, 1, &one), -ENOSPC);
	assert_int_equal(
	    px_gnt_request_free_callback(&x->px_plat, 2, on_free, &w1), 0);
	assert_int_equal(
	    px_gnt_request_free_callback(&x->px_plat, 1, on_free, &w2), 0);
	assert_int_equal(
	    px_gnt_request_free_callback(&x->px_plat, 1, on_free, &w3), 0);
	assert_int_equal(
	    px_gnt_request_free_callback(&x->px_plat, 1, on_free, &w1),
	    -EALREADY);
	px_gnt_cancel_free_callback(&x->px_plat, &w3);
	/* One back: only the waiter for one runs. */
	px_gnt_release(&x->px_plat, 1, &all[0]);
	assert_int_equal(log.o_n, 1);
	assert_int_equal(log.o_seen[0], 2);
	px_gnt_release(&x->px_plat, 1, &all[1]);
	assert_int_equal(log.o_n, 2);
	assert_int_equal(log.o_seen[1], 1);
	/* Enough free at request time: called at once. */
	assert_int_equal(
	    px_gnt_request_free_callback(&x->px_plat, 2, on_free, &w3), 0);
	assert_int_equal(log.o_n, 3);
	assert_int_equal(log.o_seen[2], 3);
	px_gnt_release(&x->px_plat, PX_NREFS - 2, &all[2]);
	assert_int_equal(log.o_n, 3);
	free(all);
}

static void
test_grant_lookup(void **state)
{
	struct px *x = *state;
	struct px_region rg = { 0 };
	uint32_t refs[3] = { 100, 200, 300 };
	grant_ref_t wire = 0;
	char *mem, other[16];

	mem = aligned_alloc(XBD_PAGE_SIZE, 3 * XBD_PAGE_SIZE);
	assert_non_null(mem);
	rg.pr_addr = mem;
	rg.pr_npages = 3;
	rg.pr_peer = 5;
	rg.pr_refs = refs;
	x->px_regions = &rg;
	assert_int_equal(
	    px_gnt_grant(&x->px_plat, 9, 5, mem + XBD_PAGE_SIZE, false, &wire),
	    0);
	assert_int_equal(wire, 200);
	assert_int_equal(px_gnt_grant(&x->px_plat, 9, 5,
			     mem + 2 * XBD_PAGE_SIZE, true, &wire),
	    0);
	assert_int_equal(wire, 300);
	/* Another peer, a page outside, an unaligned address. */
	assert_int_equal(px_gnt_grant(&x->px_plat, 9, 6, mem, false, &wire),
	    -EINVAL);
	assert_int_equal(px_gnt_grant(&x->px_plat, 9, 5,
			     mem + 3 * XBD_PAGE_SIZE, false, &wire),
	    -EINVAL);
	assert_int_equal(px_gnt_grant(&x->px_plat, 9, 5, other, false, &wire),
	    -EINVAL);
	assert_int_equal(
	    px_gnt_grant(&x->px_plat, 9, 5, mem + 512, false, &wire), -EINVAL);
	/* Nothing to revoke on gntalloc. */
	assert_int_equal(px_gnt_end(&x->px_plat, 9), 0);
	x->px_regions = NULL;
	free(mem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known),
		cmocka_unit_test(test_open_off_xen),
		cmocka_unit_test_setup_teardown(test_reserve_release, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_shortage_callbacks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_grant_lookup, setup,
		    teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
