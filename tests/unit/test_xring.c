/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the blkif ring wrapper, with both ends over one shared
 * page set in one address space (the shape of FreeBSD's netback unit
 * tests).  Covers ring sizes for 1..32 pages, 32-bit index wrap-around,
 * a full ring, the notification hold-off, hostile producer indices, the
 * x86_32 conversion, and a differential run against Xen's raw macros:
 * this file is the only place besides lib/ring/ that uses RING_*.
 */

#include <errno.h>
#include <stdlib.h>

#include "../../lib/ring/xring.h"
#include "xt.h"

#define MAXBYTES (XRING_MAX_PAGES * XBD_PAGE_SIZE)

/* Shared pages for the tests; aligned like real ring pages. */
static _Alignas(4096) unsigned char shared[MAXBYTES];

static struct blkif_request
mkreq(uint64_t id)
{
	struct blkif_request req;

	memset(&req, 0, sizeof(req));
	req.operation = (uint8_t)(id % 2);
	req.nr_segments = 1;
	req.id = id;
	req.sector_number = id * 8;
	req.seg[0].gref = (grant_ref_t)(id + 100);
	req.seg[0].last_sect = 7;
	return (req);
}

/* Place every index of a fresh ring pair at start (for wrap tests). */
static void
pair_at(struct xring_front *f, struct xring_back *b, unsigned int npages,
    RING_IDX start)
{
	struct blkif_sring *s = (struct blkif_sring *)shared;

	assert_int_equal(xring_front_init(f, shared, npages), 0);
	assert_int_equal(xring_back_init(b, shared, npages, XRING_ABI_NATIVE),
	    0);
	s->req_prod = s->rsp_prod = start;
	s->req_event = s->rsp_event = start + 1;
	f->xr_ring.req_prod_pvt = f->xr_ring.rsp_cons = start;
	b->xr_u.native.rsp_prod_pvt = b->xr_u.native.req_cons = start;
}

static void
test_slots(void **state)
{
	unsigned int n;

	assert_int_equal(xring_slots(1), 32);
	assert_int_equal(xring_slots(2), 64);
	assert_int_equal(xring_slots(4), 128);
	assert_int_equal(xring_slots(8), 256);
	assert_int_equal(xring_slots(16), 512);
	assert_int_equal(xring_slots(32), 1024);
	assert_int_equal(xring_slots(32), __CONST_RING_SIZE(blkif, MAXBYTES));
	for (n = 1; n <= XRING_MAX_PAGES; n <<= 1)
		assert_int_equal(xring_slots(n),
		    __CONST_RING_SIZE(blkif, n * XBD_PAGE_SIZE));
	assert_int_equal(xring_slots(0), 0);
	assert_int_equal(xring_slots(3), 0);
	assert_int_equal(xring_slots(33), 0);
	assert_int_equal(xring_slots(64), 0);
	assert_int_equal(
	    xring_front_init(&(struct xring_front) { 0 }, shared, 3), -EINVAL);
}

/* Send n requests through and answer them, checking every field. */
static void
round_trip(struct xring_front *f, struct xring_back *b, uint64_t first, int n)
{
	struct blkif_request want;
	struct blkif_response rsp;
	union xring_req got;
	int i, avail;

	for (i = 0; i < n; i++) {
		want = mkreq(first + (uint64_t)i);
		xring_front_put(f, &want);
	}
	(void)xring_front_push(f);
	avail = xring_back_poll(b);
	assert_int_equal(avail, n);
	for (i = 0; i < n; i++) {
		want = mkreq(first + (uint64_t)i);
		xring_back_take(b, &got);
		assert_memory_equal(&got.rw, &want, sizeof(want));
		xring_back_put_rsp(b, got.rw.id, got.rw.operation,
		    BLKIF_RSP_OKAY);
	}
	(void)xring_back_push(b);
	assert_int_equal(xring_front_poll(f), n);
	for (i = 0; i < n; i++) {
		xring_front_take(f, &rsp);
		assert_int_equal(rsp.id, first + (uint64_t)i);
		assert_int_equal(rsp.operation, (first + (uint64_t)i) % 2);
		assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
	}
	assert_int_equal(xring_front_outstanding(f), 0);
}

static void
test_wraparound(void **state)
{
	struct xring_front f;
	struct xring_back b;
	uint64_t id = 0;
	int i;

	/* Both producers start 40 short of 2^32 and cross it. */
	pair_at(&f, &b, 1, 0xffffffffu - 40);
	for (i = 0; i < 10; i++, id += 7)
		round_trip(&f, &b, id, 7);
	assert_true(f.xr_ring.req_prod_pvt < 100);
	/* A multi-page ring too. */
	pair_at(&f, &b, 4, 0xfffffff0u);
	for (i = 0; i < 5; i++, id += 128)
		round_trip(&f, &b, id, 128);
}

static void
test_full_ring(void **state)
{
	struct xring_front f;
	struct xring_back b;
	struct blkif_request req;
	union xring_req got;
	int i;

	pair_at(&f, &b, 1, 0);
	assert_int_equal(xring_front_free(&f), 32);
	for (i = 0; i < 32; i++) {
		req = mkreq((uint64_t)i);
		xring_front_put(&f, &req);
	}
	assert_int_equal(xring_front_free(&f), 0);
	(void)xring_front_push(&f);
	assert_int_equal(xring_back_poll(&b), 32);
	for (i = 0; i < 32; i++)
		xring_back_take(&b, &got);
	/* All slots taken and unanswered: nothing more may be taken. */
	assert_int_equal(xring_back_poll(&b), 0);
	assert_int_equal(xring_back_rsp_room(&b), 32);
	xring_back_put_rsp(&b, 0, 0, 0);
	(void)xring_back_push(&b);
	assert_int_equal(xring_front_poll(&f), 1);
	xring_front_take(&f, &(struct blkif_response) { 0 });
	assert_int_equal(xring_front_free(&f), 1);
}

static void
test_notify_holdoff(void **state)
{
	struct xring_front f;
	struct xring_back b;
	struct blkif_request req = mkreq(1);
	union xring_req got;
	int i, notifies;

	pair_at(&f, &b, 1, 0);
	/* The backend went to sleep: exactly one notify for the batch. */
	assert_int_equal(xring_back_final_check(&b), 0);
	notifies = 0;
	for (i = 0; i < 8; i++) {
		xring_front_put(&f, &req);
		notifies += xring_front_push(&f);
	}
	assert_int_equal(notifies, 1);
	/* The backend is busy (never re-armed): no further notify. */
	assert_int_equal(xring_back_poll(&b), 8);
	for (i = 0; i < 8; i++) {
		xring_back_take(&b, &got);
		xring_back_put_rsp(&b, got.rw.id, got.rw.operation, 0);
	}
	notifies = 0;
	for (i = 0; i < 4; i++) {
		xring_front_put(&f, &req);
		notifies += xring_front_push(&f);
	}
	assert_int_equal(notifies, 0);
	/* Same rule for responses: the frontend sleeps, one notify. */
	assert_int_equal(xring_front_final_check(&f), 0);
	assert_true(xring_back_push(&b));
	assert_int_equal(xring_back_final_check(&b), 1);
	assert_int_equal(xring_back_poll(&b), 4);
	for (i = 0; i < 4; i++) {
		xring_back_take(&b, &got);
		xring_back_put_rsp(&b, got.rw.id, got.rw.operation, 0);
	}
	assert_false(xring_back_push(&b));
	assert_int_equal(xring_front_final_check(&f), 1);
}

static void
test_hostile_indices(void **state)
{
	struct xring_front f;
	struct xring_back b;
	struct blkif_sring *s = (struct blkif_sring *)shared;
	struct blkif_request req = mkreq(3);
	int i;

	pair_at(&f, &b, 1, 0xfffffff0u);
	/* Request producer a ring and one ahead of our responses. */
	s->req_prod = 0xfffffff0u + 33;
	assert_int_equal(xring_back_poll(&b), -EIO);
	assert_int_equal(xring_back_final_check(&b), -EIO);
	s->req_prod = 0xfffffff0u + 32;
	assert_int_equal(xring_back_poll(&b), 32);
	/* Request producer moving backwards looks like an overflow. */
	s->req_prod = 0xfffffff0u - 1;
	assert_int_equal(xring_back_poll(&b), -EIO);

	/* Responses when none are outstanding. */
	s->rsp_prod = 0xfffffff0u + 1;
	assert_int_equal(xring_front_poll(&f), -EIO);
	/* More responses than outstanding requests. */
	for (i = 0; i < 3; i++)
		xring_front_put(&f, &req);
	s->rsp_prod = 0xfffffff0u + 4;
	assert_int_equal(xring_front_poll(&f), -EIO);
	s->rsp_prod = 0xfffffff0u + 3;
	assert_int_equal(xring_front_poll(&f), 3);
	/* Far ahead, backwards, and at the extremes. */
	s->rsp_prod = 0xfffffff0u + 32 + 1;
	assert_int_equal(xring_front_poll(&f), -EIO);
	s->rsp_prod = 0xfffffff0u - 1;
	assert_int_equal(xring_front_poll(&f), -EIO);
	s->rsp_prod = 0xffffffffu;
	assert_int_equal(xring_front_poll(&f), -EIO);
	assert_int_equal(xring_front_final_check(&f), -EIO);
}

/*
 * Differential: a raw-macro peer on the other end of the same ring, with
 * random batch sizes, must see exactly what the wrapper sent.
 */
static void
test_differential(void **state)
{
	struct xring_front f;
	struct xring_back b;
	struct blkif_back_ring raw_b;
	struct blkif_front_ring raw_f;
	struct blkif_request req, want;
	struct blkif_response rsp;
	union xring_req got;
	uint64_t sent = 0, seen = 0;
	int round, i, n, notify;

	srandom(42);
	/* Wrapper frontend, raw backend. */
	assert_int_equal(xring_front_init(&f, shared, 2), 0);
	BACK_RING_INIT(&raw_b, (struct blkif_sring *)shared, 2 * XBD_PAGE_SIZE);
	for (round = 0; round < 500; round++) {
		n = (int)(random() % xring_front_free(&f)) + 1;
		for (i = 0; i < n; i++) {
			req = mkreq(sent++);
			xring_front_put(&f, &req);
		}
		(void)xring_front_push(&f);
		while (RING_HAS_UNCONSUMED_REQUESTS(&raw_b)) {
			RING_COPY_REQUEST(&raw_b, raw_b.req_cons, &req);
			raw_b.req_cons++;
			want = mkreq(seen++);
			assert_memory_equal(&req, &want, sizeof(req));
			rsp.id = req.id;
			rsp.operation = req.operation;
			rsp.status = BLKIF_RSP_ERROR;
			*RING_GET_RESPONSE(&raw_b, raw_b.rsp_prod_pvt) = rsp;
			raw_b.rsp_prod_pvt++;
		}
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&raw_b, notify);
		/* Everything sent this round was answered this round. */
		assert_int_equal(xring_front_poll(&f), n);
		for (i = 0; i < n; i++) {
			xring_front_take(&f, &rsp);
			assert_int_equal(rsp.status, BLKIF_RSP_ERROR);
		}
	}
	assert_int_equal(sent, seen);

	/* Raw frontend, wrapper backend. */
	sent = seen = 0;
	SHARED_RING_INIT((struct blkif_sring *)shared);
	FRONT_RING_INIT(&raw_f, (struct blkif_sring *)shared,
	    2 * XBD_PAGE_SIZE);
	assert_int_equal(xring_back_init(&b, shared, 2, XRING_ABI_NATIVE), 0);
	for (round = 0; round < 500; round++) {
		n = (int)(random() % RING_FREE_REQUESTS(&raw_f)) + 1;
		for (i = 0; i < n; i++) {
			*RING_GET_REQUEST(&raw_f, raw_f.req_prod_pvt) =
			    mkreq(sent++);
			raw_f.req_prod_pvt++;
		}
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&raw_f, notify);
		n = xring_back_poll(&b);
		for (i = 0; i < n; i++) {
			xring_back_take(&b, &got);
			want = mkreq(seen++);
			assert_memory_equal(&got.rw, &want, sizeof(want));
			xring_back_put_rsp(&b, got.rw.id, got.rw.operation, 0);
		}
		(void)xring_back_push(&b);
		while (RING_HAS_UNCONSUMED_RESPONSES(&raw_f)) {
			RING_COPY_RESPONSE(&raw_f, raw_f.rsp_cons, &rsp);
			raw_f.rsp_cons++;
			assert_int_equal(rsp.status, 0);
		}
	}
	assert_int_equal(sent, seen);
	(void)notify;
}

/* A 32-bit frontend's three request shapes and its 12-byte responses. */
static void
test_x86_32(void **state)
{
	struct blkif_x86_32_front_ring raw;
	struct blkif_x86_32_request *rw;
	struct blkif_x86_32_request_discard *d;
	struct blkif_x86_32_request_indirect *ind;
	struct blkif_x86_32_response rsp;
	struct xring_back b;
	union xring_req got;
	int notify, i;

	SHARED_RING_INIT((struct blkif_x86_32_sring *)shared);
	FRONT_RING_INIT(&raw, (struct blkif_x86_32_sring *)shared,
	    XBD_PAGE_SIZE);
	assert_int_equal(RING_SIZE(&raw), 32);

	rw = RING_GET_REQUEST(&raw, 0);
	memset(rw, 0xee, sizeof(*rw));
	rw->operation = BLKIF_OP_WRITE;
	rw->nr_segments = 2;
	rw->handle = 51712;
	rw->id = 0x1122334455667788ull;
	rw->sector_number = 0xabcdef0123ull;
	rw->seg[0] = (struct blkif_request_segment) { 9, 1, 6 };
	rw->seg[1] = (struct blkif_request_segment) { 10, 0, 7 };
	d = (struct blkif_x86_32_request_discard *)RING_GET_REQUEST(&raw, 1);
	d->operation = BLKIF_OP_DISCARD;
	d->flag = BLKIF_DISCARD_SECURE;
	d->id = 77;
	d->sector_number = 1024;
	d->nr_sectors = 4096;
	ind = (struct blkif_x86_32_request_indirect *)RING_GET_REQUEST(&raw, 2);
	ind->operation = BLKIF_OP_INDIRECT;
	ind->indirect_op = BLKIF_OP_READ;
	ind->nr_segments = 600;
	ind->id = 78;
	ind->sector_number = 16;
	ind->handle = 3;
	for (i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
		ind->indirect_grefs[i] = (grant_ref_t)(200 + i);
	raw.req_prod_pvt = 3;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&raw, notify);
	assert_true(notify);

	assert_int_equal(xring_back_init(&b, shared, 1, XRING_ABI_X86_32), 0);
	assert_int_equal(xring_back_poll(&b), 3);
	xring_back_take(&b, &got);
	assert_int_equal(got.rw.operation, BLKIF_OP_WRITE);
	assert_int_equal(got.rw.nr_segments, 2);
	assert_int_equal(got.rw.handle, 51712);
	assert_int_equal(got.rw.id, 0x1122334455667788ull);
	assert_int_equal(got.rw.sector_number, 0xabcdef0123ull);
	assert_int_equal(got.rw.seg[0].gref, 9);
	assert_int_equal(got.rw.seg[0].first_sect, 1);
	assert_int_equal(got.rw.seg[0].last_sect, 6);
	assert_int_equal(got.rw.seg[1].gref, 10);
	xring_back_put_rsp(&b, got.rw.id, got.rw.operation, BLKIF_RSP_OKAY);
	xring_back_take(&b, &got);
	assert_int_equal(got.discard.operation, BLKIF_OP_DISCARD);
	assert_int_equal(got.discard.flag, BLKIF_DISCARD_SECURE);
	assert_int_equal(got.discard.id, 77);
	assert_int_equal(got.discard.sector_number, 1024);
	assert_int_equal(got.discard.nr_sectors, 4096);
	xring_back_put_rsp(&b, got.discard.id, BLKIF_OP_DISCARD,
	    BLKIF_RSP_EOPNOTSUPP);
	xring_back_take(&b, &got);
	assert_int_equal(got.indirect.operation, BLKIF_OP_INDIRECT);
	assert_int_equal(got.indirect.indirect_op, BLKIF_OP_READ);
	assert_int_equal(got.indirect.nr_segments, 600);
	assert_int_equal(got.indirect.id, 78);
	assert_int_equal(got.indirect.sector_number, 16);
	assert_int_equal(got.indirect.handle, 3);
	for (i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
		assert_int_equal(got.indirect.indirect_grefs[i], 200 + i);
	xring_back_put_rsp(&b, got.indirect.id, BLKIF_OP_INDIRECT,
	    BLKIF_RSP_ERROR);
	assert_true(xring_back_push(&b));

	assert_int_equal(RING_HAS_UNCONSUMED_RESPONSES(&raw), 3);
	RING_COPY_RESPONSE(&raw, 0, &rsp);
	assert_int_equal(rsp.id, 0x1122334455667788ull);
	assert_int_equal(rsp.operation, BLKIF_OP_WRITE);
	assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
	RING_COPY_RESPONSE(&raw, 1, &rsp);
	assert_int_equal(rsp.id, 77);
	assert_int_equal(rsp.status, BLKIF_RSP_EOPNOTSUPP);
	RING_COPY_RESPONSE(&raw, 2, &rsp);
	assert_int_equal(rsp.id, 78);
	assert_int_equal(rsp.operation, BLKIF_OP_INDIRECT);
	assert_int_equal(rsp.status, BLKIF_RSP_ERROR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_full_ring),
		cmocka_unit_test(test_notify_holdoff),
		cmocka_unit_test(test_hostile_indices),
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_x86_32),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
