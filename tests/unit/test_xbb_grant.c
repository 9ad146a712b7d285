/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the backend's two grant-side data structures, without a
 * hypervisor: the bounce pool (contiguous first-fit runs over a bitmap,
 * exhaustion, fragmentation, bits past the end) and the persistent-grant
 * cache (lookup, pinning, least-recently-used eviction that never takes
 * a pinned grant, a full cache of pinned grants, duplicate refs, drain at
 * teardown, a cache of size zero).
 */

#include <errno.h>
#include <stdlib.h>

#include "back/xbb_internal.h"
#include "xt.h"

static void
test_pool_basic(void **state)
{
	struct xbb_pool bp;
	uint32_t a, b, c, d;

	assert_int_equal(xbb_pool_init(&bp, 100), 0);
	assert_int_equal(bp.bp_free, 100);
	assert_int_equal(xbb_pool_get(&bp, 0, &a), -ENOSPC);
	assert_int_equal(xbb_pool_get(&bp, 101, &a), -ENOSPC);
	assert_int_equal(xbb_pool_get(&bp, 10, &a), 0);
	assert_int_equal(a, 0);
	assert_int_equal(xbb_pool_get(&bp, 70, &b), 0);
	assert_int_equal(b, 10);
	assert_int_equal(xbb_pool_get(&bp, 20, &c), 0);
	assert_int_equal(c, 80);
	assert_int_equal(bp.bp_free, 0);
	assert_int_equal(xbb_pool_get(&bp, 1, &d), -ENOSPC);
	/* Pages are usable memory. */
	memset(xbb_pool_addr(&bp, b), 0xa5, 70 * XBD_PAGE_SIZE);
	/* Fragmented: 10 + 20 free but not together. */
	xbb_pool_put(&bp, a, 10);
	xbb_pool_put(&bp, c, 20);
	assert_int_equal(bp.bp_free, 30);
	assert_int_equal(xbb_pool_get(&bp, 25, &d), -ENOSPC);
	assert_int_equal(xbb_pool_get(&bp, 20, &d), 0);
	assert_int_equal(d, 80);
	assert_int_equal(xbb_pool_get(&bp, 10, &d), 0);
	assert_int_equal(d, 0);
	xbb_pool_put(&bp, 0, 10);
	xbb_pool_put(&bp, 80, 20);
	xbb_pool_put(&bp, b, 70);
	assert_int_equal(bp.bp_free, 100);
	/* Everything in one run again. */
	assert_int_equal(xbb_pool_get(&bp, 100, &d), 0);
	assert_int_equal(d, 0);
	xbb_pool_put(&bp, 0, 100);
	xbb_pool_fini(&bp);
}

static void
test_pool_words(void **state)
{
	struct xbb_pool bp;
	uint32_t a, b, i, got[200];

	/* Runs that cross 64-bit words, and whole-word skips. */
	assert_int_equal(xbb_pool_init(&bp, 300), 0);
	assert_int_equal(xbb_pool_get(&bp, 60, &a), 0);
	assert_int_equal(xbb_pool_get(&bp, 130, &b), 0);
	assert_int_equal(b, 60);
	xbb_pool_put(&bp, a, 60);
	assert_int_equal(xbb_pool_get(&bp, 61, &a), 0);
	assert_int_equal(a, 190);
	assert_int_equal(xbb_pool_get(&bp, 60, &a), 0);
	assert_int_equal(a, 0);
	assert_int_equal(xbb_pool_get(&bp, 50, &a), -ENOSPC);
	assert_int_equal(xbb_pool_get(&bp, 49, &a), 0);
	assert_int_equal(a, 251);
	xbb_pool_fini(&bp);
	/* One page at a time to the last bit, then none. */
	assert_int_equal(xbb_pool_init(&bp, 200), 0);
	for (i = 0; i < 200; i++) {
		assert_int_equal(xbb_pool_get(&bp, 1, &got[i]), 0);
		assert_int_equal(got[i], i);
	}
	assert_int_equal(xbb_pool_get(&bp, 1, &a), -ENOSPC);
	for (i = 0; i < 200; i += 2)
		xbb_pool_put(&bp, got[i], 1);
	assert_int_equal(xbb_pool_get(&bp, 2, &a), -ENOSPC);
	assert_int_equal(xbb_pool_get(&bp, 1, &a), 0);
	assert_int_equal(a, 0);
	xbb_pool_fini(&bp);
	/* An empty pool is valid and always short. */
	assert_int_equal(xbb_pool_init(&bp, 0), 0);
	assert_int_equal(xbb_pool_get(&bp, 1, &a), -ENOSPC);
	xbb_pool_fini(&bp);
}

static struct plat_map_seg
mseg(grant_ref_t ref)
{
	struct plat_map_seg m;

	memset(&m, 0, sizeof(m));
	m.ms_ref = ref;
	m.ms_status = GNTST_okay;
	m.ms_addr = (void *)(uintptr_t)(0x100000 + ref * 4096);
	m.ms_handle = ref + 1;
	return (m);
}

static void
test_pgc_lru(void **state)
{
	struct xbb_pgrant *pg[4], *x;
	struct plat_map_seg m, out;
	struct xbb_pgc pc;
	grant_ref_t r;

	assert_int_equal(xbb_pgc_init(&pc, 4), 0);
	assert_null(xbb_pgc_get(&pc, 1));
	for (r = 0; r < 4; r++) {
		m = mseg(10 + r);
		assert_non_null(pg[r] = xbb_pgc_insert(&pc, &m));
		assert_int_equal(pg[r]->pg_users, 1);
	}
	assert_int_equal(pc.pc_count, 4);
	m = mseg(99);
	assert_null(xbb_pgc_insert(&pc, &m)); /* full */
	/* All pinned: nothing to evict. */
	assert_int_equal(xbb_pgc_evict(&pc, &out), -ENOENT);
	/* Unpin in order 12, 10, 13: 12 is least recently used. */
	xbb_pgc_put(&pc, pg[2]);
	xbb_pgc_put(&pc, pg[0]);
	xbb_pgc_put(&pc, pg[3]);
	/* A hit moves 12 out of the LRU; 10 becomes the oldest. */
	assert_ptr_equal(x = xbb_pgc_get(&pc, 12), pg[2]);
	assert_ptr_equal(x->pg_map.ms_addr, mseg(12).ms_addr);
	assert_int_equal(xbb_pgc_evict(&pc, &out), 0);
	assert_int_equal(out.ms_ref, 10);
	assert_true(out.ms_handle == 11);
	assert_null(xbb_pgc_get(&pc, 10));
	assert_int_equal(pc.pc_count, 3);
	/* The freed slot takes a new grant. */
	m = mseg(20);
	assert_non_null(xbb_pgc_insert(&pc, &m));
	/* Duplicate refs are refused. */
	m = mseg(13);
	assert_null(xbb_pgc_insert(&pc, &m));
	assert_int_equal(xbb_pgc_evict(&pc, &out), 0);
	assert_int_equal(out.ms_ref, 13);
	/* Pinned twice, unpinned twice. */
	assert_ptr_equal(xbb_pgc_get(&pc, 11), pg[1]);
	assert_int_equal(pg[1]->pg_users, 2);
	xbb_pgc_put(&pc, pg[1]);
	xbb_pgc_put(&pc, pg[1]);
	assert_int_equal(pg[1]->pg_users, 0);
	/* Drain takes unpinned and pinned grants alike. */
	r = 0;
	while (xbb_pgc_drain(&pc, &out) == 0)
		r++;
	assert_int_equal(r, 3);
	assert_int_equal(pc.pc_count, 0);
	xbb_pgc_fini(&pc);
}

static void
test_pgc_many(void **state)
{
	struct plat_map_seg m, out;
	struct xbb_pgrant *pg;
	struct xbb_pgc pc;
	uint32_t i, n;

	/* Many refs, colliding chains, churn through eviction. */
	assert_int_equal(xbb_pgc_init(&pc, 1056), 0);
	for (i = 0; i < 20000; i++) {
		if ((pg = xbb_pgc_get(&pc, i % 3000)) != NULL) {
			xbb_pgc_put(&pc, pg);
			continue;
		}
		m = mseg(i % 3000);
		if ((pg = xbb_pgc_insert(&pc, &m)) == NULL) {
			assert_int_equal(xbb_pgc_evict(&pc, &out), 0);
			assert_null(xbb_pgc_get(&pc, out.ms_ref));
			assert_non_null(pg = xbb_pgc_insert(&pc, &m));
		}
		xbb_pgc_put(&pc, pg);
		assert_true(pc.pc_count <= 1056);
	}
	for (n = 0; xbb_pgc_drain(&pc, &out) == 0; n++)
		;
	assert_int_equal(n, 1056);
	xbb_pgc_fini(&pc);
	/* A cache of zero holds nothing. */
	assert_int_equal(xbb_pgc_init(&pc, 0), 0);
	m = mseg(1);
	assert_null(xbb_pgc_insert(&pc, &m));
	assert_null(xbb_pgc_get(&pc, 1));
	assert_int_equal(xbb_pgc_drain(&pc, &out), -ENOENT);
	xbb_pgc_fini(&pc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_basic),
		cmocka_unit_test(test_pool_words),
		cmocka_unit_test(test_pgc_lru),
		cmocka_unit_test(test_pgc_many),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
