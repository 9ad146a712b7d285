/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the backend's request validator (lib/back/xbb_validate.c)
 * against the hostile-frontend catalogue, docs/reliability.md 6.2: unknown
 * operations (B5), indirect inner operations (B6), segment counts (B7),
 * segment bounds (B8), sector ranges with wrap-around (B9), alignment to
 * a 4 KiB sector size (B10), read-only refusal (B11), discard ranges and
 * flags (B12), unoffered flush/barrier (B13); plus a 32-bit request
 * through the ring wrapper's conversion.  All sector numbers are
 * 512-byte units.
 */

#include <errno.h>
#include <stdlib.h>

#include "back/xbb_internal.h"
#include "xt.h"

/* A 1 MiB disk (2048 sectors) that offers everything. */
static struct xbb_limits
lim_all(void)
{
	struct xbb_limits l;

	memset(&l, 0, sizeof(l));
	l.l_sectors = 2048;
	l.l_sector_size = 512;
	l.l_max_indirect = 256;
	l.l_discard_gran = 4096;
	l.l_flush = l.l_barrier = l.l_discard = l.l_discard_secure = true;
	return (l);
}

static union xring_req
rw(uint8_t op, uint8_t nseg, uint64_t sector)
{
	union xring_req r;
	unsigned int i;

	memset(&r, 0, sizeof(r));
	r.rw.operation = op;
	r.rw.nr_segments = nseg;
	r.rw.id = 0x1122334455667788ull;
	r.rw.sector_number = sector;
	for (i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		r.rw.seg[i].gref = 100 + i;
		r.rw.seg[i].first_sect = 0;
		r.rw.seg[i].last_sect = 7;
	}
	return (r);
}

static int
check(const struct xbb_limits *l, const union xring_req *r,
    struct xbb_reqinfo *ri)
{
	return (xbb_req_check(l, r, ri));
}

/* Header and segments, as the backend runs them. */
static int
check_full(const struct xbb_limits *l, const union xring_req *r)
{
	struct xbb_reqinfo ri;
	int rc;

	if ((rc = xbb_req_check(l, r, &ri)) != 0 || ri.ri_nseg == 0)
		return (rc);
	return (xbb_seg_check(l, r->rw.seg, &ri));
}

/* catalogue: B7 */
static void
test_read_write(void **state)
{
	struct xbb_limits l = lim_all();
	struct xbb_reqinfo ri;
	union xring_req r;

	r = rw(BLKIF_OP_READ, 1, 0);
	assert_int_equal(check(&l, &r, &ri), 0);
	assert_int_equal(ri.ri_op, BLKIF_OP_READ);
	assert_int_equal(ri.ri_rsp_op, BLKIF_OP_READ);
	assert_true(ri.ri_id == 0x1122334455667788ull);
	assert_int_equal(ri.ri_nseg, 1);
	assert_int_equal(xbb_seg_check(&l, r.rw.seg, &ri), 0);
	assert_int_equal(ri.ri_nsect, 8);
	r = rw(BLKIF_OP_WRITE, 11, 8);
	assert_int_equal(check_full(&l, &r), 0);
	/* B7: no data, too many direct segments. */
	r = rw(BLKIF_OP_READ, 0, 0);
	assert_int_equal(check(&l, &r, &ri), -EINVAL);
	r = rw(BLKIF_OP_WRITE, 12, 0);
	assert_int_equal(check(&l, &r, &ri), -EINVAL);
	r = rw(BLKIF_OP_WRITE, 255, 0);
	assert_int_equal(check(&l, &r, &ri), -EINVAL);
}

/* catalogue: B8 */
static void
test_segments(void **state)
{
	struct xbb_limits l = lim_all();
	struct xbb_reqinfo ri;
	union xring_req r;
	unsigned int i;

	/* B8: first > last, last beyond the page, the 7/7 boundary. */
	r = rw(BLKIF_OP_READ, 2, 0);
	r.rw.seg[1].first_sect = 5;
	r.rw.seg[1].last_sect = 4;
	assert_int_equal(check_full(&l, &r), -EINVAL);
	r.rw.seg[1].first_sect = 0;
	r.rw.seg[1].last_sect = 8;
	assert_int_equal(check_full(&l, &r), -EINVAL);
	r.rw.seg[1].last_sect = 255;
	assert_int_equal(check_full(&l, &r), -EINVAL);
	r = rw(BLKIF_OP_READ, 1, 0);
	r.rw.seg[0].first_sect = r.rw.seg[0].last_sect = 7;
	assert_int_equal(check(&l, &r, &ri), 0);
	assert_int_equal(xbb_seg_check(&l, r.rw.seg, &ri), 0);
	assert_int_equal(ri.ri_nsect, 1);
	/* Eleven one-sector segments. */
	r = rw(BLKIF_OP_WRITE, 11, 100);
	for (i = 0; i < 11; i++)
		r.rw.seg[i].first_sect = r.rw.seg[i].last_sect =
		    (uint8_t)(i % 8);
	assert_int_equal(check(&l, &r, &ri), 0);
	assert_int_equal(xbb_seg_check(&l, r.rw.seg, &ri), 0);
	assert_int_equal(ri.ri_nsect, 11);
}

/* catalogue: B9 */
static void
test_ranges(void **state)
{
	struct xbb_limits l = lim_all();
	union xring_req r;

	/* B9: exactly the last sectors, one past, and wrap-around. */
	r = rw(BLKIF_OP_READ, 1, 2048 - 8);
	assert_int_equal(check_full(&l, &r), 0);
	r = rw(BLKIF_OP_READ, 1, 2048 - 7);
	assert_int_equal(check_full(&l, &r), -ERANGE);
	r = rw(BLKIF_OP_READ, 1, 2048);
	assert_int_equal(check_full(&l, &r), -ERANGE);
	r = rw(BLKIF_OP_WRITE, 11, UINT64_MAX);
	assert_int_equal(check_full(&l, &r), -ERANGE);
	r = rw(BLKIF_OP_WRITE, 1, UINT64_MAX - 7);
	assert_int_equal(check_full(&l, &r), -ERANGE);
	l.l_sectors = UINT64_MAX;
	r = rw(BLKIF_OP_WRITE, 1, UINT64_MAX - 7);
	assert_int_equal(check_full(&l, &r), -ERANGE);
	r = rw(BLKIF_OP_WRITE, 1, UINT64_MAX - 8);
	assert_int_equal(check_full(&l, &r), 0);
}

/* catalogue: B10 */
static void
test_alignment(void **state)
{
	struct xbb_limits l = lim_all();
	union xring_req r;

	/* B10: with 4 KiB logical blocks, start and length align to 8. */
	l.l_sector_size = 4096;
	r = rw(BLKIF_OP_READ, 1, 8);
	assert_int_equal(check_full(&l, &r), 0);
	r = rw(BLKIF_OP_READ, 1, 1);
	assert_int_equal(check_full(&l, &r), -EINVAL);
	r = rw(BLKIF_OP_READ, 1, 0);
	r.rw.seg[0].last_sect = 6;
	assert_int_equal(check_full(&l, &r), -EINVAL);
	/* Two half pages make one block: alignment is on the total. */
	r = rw(BLKIF_OP_READ, 2, 0);
	r.rw.seg[0].first_sect = 4;
	r.rw.seg[1].last_sect = 3;
	assert_int_equal(check_full(&l, &r), 0);
}

/* catalogue: B11 */
static void
test_readonly(void **state)
{
	struct xbb_limits l = lim_all();
	struct xbb_reqinfo ri;
	union xring_req r;

	/* B11: every write-class request on a read-only disk. */
	l.l_readonly = true;
	r = rw(BLKIF_OP_READ, 1, 0);
	assert_int_equal(check(&l, &r, &ri), 0);
	r = rw(BLKIF_OP_WRITE, 1, 0);
	assert_int_equal(check(&l, &r, &ri), -EROFS);
	r = rw(BLKIF_OP_FLUSH_DISKCACHE, 1, 0);
	assert_int_equal(check(&l, &r, &ri), -EROFS);
	r = rw(BLKIF_OP_WRITE_BARRIER, 1, 0);
	assert_int_equal(check(&l, &r, &ri), -EROFS);
	/* An empty flush writes nothing. */
	r = rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
	assert_int_equal(check(&l, &r, &ri), 0);
	memset(&r, 0, sizeof(r));
	r.discard.operation = BLKIF_OP_DISCARD;
	r.discard.nr_sectors = 8;
	assert_int_equal(check(&l, &r, &ri), -EROFS);
	memset(&r, 0, sizeof(r));
	r.indirect.operation = BLKIF_OP_INDIRECT;
	r.indirect.indirect_op = BLKIF_OP_WRITE;
	r.indirect.nr_segments = 20;
	assert_int_equal(check(&l, &r, &ri), -EROFS);
}

/* catalogue: B13 */
static void
test_flush_barrier(void **state)
{
	struct xbb_limits l = lim_all();
	struct xbb_reqinfo ri;
	union xring_req r;

	r = rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 12345678);
	assert_int_equal(check(&l, &r, &ri), 0);
	assert_int_equal(ri.ri_nseg, 0);
	r = rw(BLKIF_OP_FLUSH_DISKCACHE, 3, 16);
	assert_int_equal(check_full(&l, &r), 0);
	r = rw(BLKIF_OP_WRITE_BARRIER, 0, 0);
	assert_int_equal(check(&l, &r, &ri), 0);
	r = rw(BLKIF_OP_WRITE_BARRIER, 12, 0);
	assert_int_equal(check(&l, &r, &ri), -EINVAL);
	/* B13: not offered. */
	l.l_flush = l.l_barrier = false;
	r = rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
	assert_int_equal(check(&l, &r, &ri), -EOPNOTSUPP);
	r = rw(BLKIF_OP_WRITE_BARRIER, 0, 0);
	assert_int_equal(check(&l, &r, &ri), -EOPNOTSUPP);
	assert_int_equal(ri.ri_rsp_op, BLKIF_OP_WRITE_BARRIER);
}

static union xring_req
discard(uint64_t sector, uint64_t n, uint8_t flag)
{
	union xring_req r;

	memset(&r, 0, sizeof(r));
	r.discard.operation = BLKIF_OP_DISCARD;
	r.discard.flag = flag;
	r.discard.id = 77;
	r.discard.sector_number = sector;
	r.discard.nr_sectors = n;
	return (r);
}

/* catalogue: B12 */
static void
test_discard(void **state)
{
	struct xbb_limits l = lim_all();
	struct xbb_reqinfo ri;
	union xring_req r;

	r = discard(8, 16, 0);
	assert_int_equal(check(&l, &r, &ri), 0);
	assert_int_equal(ri.ri_nsect, 16);
	assert_int_equal(ri.ri_id, 77);
	assert_false(ri.ri_secure);
	r = discard(2048 - 8, 8, BLKIF_DISCARD_SECURE);
	assert_int_equal(check(&l, &r, &ri), 0);
	assert_true(ri.ri_secure);
	/* B12: zero, beyond, wrapping, misaligned, unknown flags. */
	r = discard(0, 0, 0);
	assert_int_equal(check(&l, &r, &ri), -EINVAL);
	r = discard(2048, 8, 0);
	assert_int_equal(check(&l, &r, &ri), -ERANGE);
	r = discard(8, UINT64_MAX, 0);
	assert_int_equal(check(&l, &r, &ri), -ERANGE);
	r = discard(UINT64_MAX - 7, 8, 0);
	assert_int_equal(check(&l, &r, &ri), -ERANGE);
	/* Finer than discard-granularity (a hint) is fine... */
	r = discard(4, 8, 0);
	assert_int_equal(check(&l, &r, &ri), 0);
	r = discard(8, 12, 0);
	assert_int_equal(check(&l, &r, &ri), 0);
	/* ...finer than the logical block is not. */
	l.l_sector_size = 4096;
	r = discard(4, 8, 0);
	assert_int_equal(check(&l, &r, &ri), -EINVAL);
	r = discard(8, 12, 0);
	assert_int_equal(check(&l, &r, &ri), -EINVAL);
	l.l_sector_size = 512;
	r = discard(8, 8, 0x80);
	assert_int_equal(check(&l, &r, &ri), -EINVAL);
	l.l_discard_secure = false;
	r = discard(8, 8, BLKIF_DISCARD_SECURE);
	assert_int_equal(check(&l, &r, &ri), -EOPNOTSUPP);
	l.l_discard = false;
	r = discard(8, 8, 0);
	assert_int_equal(check(&l, &r, &ri), -EOPNOTSUPP);
}

static union xring_req
indirect(uint8_t inner, uint16_t nseg)
{
	union xring_req r;

	memset(&r, 0, sizeof(r));
	r.indirect.operation = BLKIF_OP_INDIRECT;
	r.indirect.indirect_op = inner;
	r.indirect.nr_segments = nseg;
	r.indirect.id = 99;
	r.indirect.sector_number = 64;
	return (r);
}

/* catalogue: B6 B7 */
static void
test_indirect(void **state)
{
	struct xbb_limits l = lim_all();
	struct xbb_reqinfo ri;
	union xring_req r;

	r = indirect(BLKIF_OP_WRITE, 256);
	assert_int_equal(check(&l, &r, &ri), 0);
	assert_true(ri.ri_indirect);
	assert_int_equal(ri.ri_op, BLKIF_OP_WRITE);
	/* The response names the inner operation (Linux checks it). */
	assert_int_equal(ri.ri_rsp_op, BLKIF_OP_WRITE);
	assert_int_equal(ri.ri_nind, 1);
	assert_int_equal(ri.ri_sector, 64);
	r = indirect(BLKIF_OP_READ, 1);
	assert_int_equal(check(&l, &r, &ri), 0);
	assert_int_equal(ri.ri_nind, 1);
	/* B7: zero and above the negotiated maximum. */
	r = indirect(BLKIF_OP_READ, 0);
	assert_int_equal(check(&l, &r, &ri), -EINVAL);
	r = indirect(BLKIF_OP_READ, 257);
	assert_int_equal(check(&l, &r, &ri), -EINVAL);
	r = indirect(BLKIF_OP_READ, 65535);
	assert_int_equal(check(&l, &r, &ri), -EINVAL);
	/* The protocol maximum: 4096 segments in 8 pages. */
	l.l_max_indirect = 4096;
	r = indirect(BLKIF_OP_READ, 4096);
	assert_int_equal(check(&l, &r, &ri), 0);
	assert_int_equal(ri.ri_nind, 8);
	r = indirect(BLKIF_OP_READ, 513);
	assert_int_equal(check(&l, &r, &ri), 0);
	assert_int_equal(ri.ri_nind, 2);
	/* B6: only reads and writes may be indirect. */
	r = indirect(BLKIF_OP_FLUSH_DISKCACHE, 4);
	assert_int_equal(check(&l, &r, &ri), -EINVAL);
	r = indirect(BLKIF_OP_DISCARD, 4);
	assert_int_equal(check(&l, &r, &ri), -EINVAL);
	r = indirect(BLKIF_OP_INDIRECT, 4);
	assert_int_equal(check(&l, &r, &ri), -EINVAL);
	r = indirect(BLKIF_OP_WRITE_BARRIER, 4);
	assert_int_equal(check(&l, &r, &ri), -EINVAL);
	/* Not offered at all. */
	l.l_max_indirect = 0;
	r = indirect(BLKIF_OP_READ, 4);
	assert_int_equal(check(&l, &r, &ri), -EOPNOTSUPP);
}

/* catalogue: B5 */
static void
test_unknown(void **state)
{
	struct xbb_limits l = lim_all();
	struct xbb_reqinfo ri;
	union xring_req r;
	unsigned int op;

	/* B5: RESERVED_1 and everything past INDIRECT. */
	for (op = 0; op < 256; op++) {
		if (op <= BLKIF_OP_INDIRECT && op != BLKIF_OP_RESERVED_1)
			continue;
		r = rw((uint8_t)op, 1, 0);
		assert_int_equal(check(&l, &r, &ri), -EOPNOTSUPP);
		assert_int_equal(ri.ri_rsp_op, op);
		assert_true(ri.ri_id == 0x1122334455667788ull);
	}
}

/* A 32-bit frontend's request, through the ring wrapper's conversion. */
static void
test_x86_32(void **state)
{
	static _Alignas(4096) unsigned char page[XBD_PAGE_SIZE];
	struct blkif_x86_32_request *q;
	struct blkif_sring *s = (struct blkif_sring *)page;
	struct xbb_limits l = lim_all();
	struct xring_back b;
	struct xbb_reqinfo ri;
	union xring_req r;

	memset(page, 0, sizeof(page));
	s->req_event = s->rsp_event = 1;
	assert_int_equal(xring_back_init(&b, page, 1, XRING_ABI_X86_32), 0);
	q = (struct blkif_x86_32_request *)(page + 64);
	q->operation = BLKIF_OP_WRITE;
	q->nr_segments = 2;
	q->id = 0xdeadbeefcafef00dull;
	q->sector_number = 24;
	q->seg[0].gref = 5;
	q->seg[0].last_sect = 7;
	q->seg[1].gref = 6;
	q->seg[1].last_sect = 3;
	s->req_prod = 1;
	assert_int_equal(xring_back_poll(&b), 1);
	xring_back_take(&b, &r);
	assert_int_equal(check(&l, &r, &ri), 0);
	assert_true(ri.ri_id == 0xdeadbeefcafef00dull);
	assert_int_equal(ri.ri_sector, 24);
	assert_int_equal(xbb_seg_check(&l, r.rw.seg, &ri), 0);
	assert_int_equal(ri.ri_nsect, 12);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_write),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_flush_barrier),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_x86_32),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
