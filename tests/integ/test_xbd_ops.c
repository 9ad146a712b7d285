/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: what the frontend puts on the wire and how it takes the
 * answers, seen from a scripted backend: indirect descriptor pages carry
 * nothing past nr_segments, even when a command's previous request was
 * longer; secure discard is flagged; EOPNOTSUPP for a discard or for a
 * barrier carrying data turns the feature off and is reported; a split
 * bio whose parts fail completes once, with an error; a command that
 * found the bounce pool empty carries nothing of that attempt into the
 * flush that uses it next.
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sfix.h"
#include "xt.h"

/* What the indirect hook saw. */
struct ind_state {
	int is_requests;    /* indirect requests */
	int is_stale;	    /* ... with bytes past their descriptors */
	int is_map_errors;  /* indirect pages we could not map */
	uint16_t is_maxseg; /* most segments in one */
};

/*
 * Map every indirect page of the request, as a backend may, and look at
 * all of it; answer without touching the data.
 */
static int
hook_indirect(struct hostile *h, const union xring_req *req)
{
	const struct blkif_request_indirect *ir = &req->indirect;
	struct ind_state *s = h->h_arg;
	struct plat_map_seg seg[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	uint32_t npages, i, from;
	const uint8_t *p;
	size_t off;

	if (ir->operation != BLKIF_OP_INDIRECT)
		return (0);
	s->is_requests++;
	if (ir->nr_segments > s->is_maxseg)
		s->is_maxseg = ir->nr_segments;
	npages = XBD_INDIRECT_SEGS_TO_PAGES(ir->nr_segments);
	for (i = 0; i < npages; i++)
		seg[i].ms_ref = ir->indirect_grefs[i];
	if (plat_map_batch(h->h_plat, h->h_fe_id, npages, false, seg) != 0) {
		s->is_map_errors++;
		hostile_respond(h, ir->id, ir->operation, BLKIF_RSP_ERROR);
		return (1);
	}
	for (i = 0; i < npages; i++) {
		p = seg[i].ms_addr;
		from = ir->nr_segments - i * XBD_MAX_SEGMENTS_PER_PAGE;
		if (from > XBD_MAX_SEGMENTS_PER_PAGE)
			continue;
		for (off = from * sizeof(struct blkif_request_segment);
		     off < XBD_PAGE_SIZE; off++)
			if (p[off] != 0) {
				s->is_stale++;
				break;
			}
	}
	plat_unmap_batch(h->h_plat, npages, seg);
	hostile_respond(h, ir->id, ir->operation, BLKIF_RSP_OKAY);
	return (1);
}

static const struct hostile_node indirect256[] = {
	{ "feature-max-indirect-segments", "256" },
	{ NULL, NULL },
};

/* No descriptor of an earlier, longer request stays visible. */
static void
test_indirect_no_stale_descriptors(void **state)
{
	struct ind_state s = { 0 };
	struct xbd_info info;
	struct sfix f;
	char *buf;
	int i;

	assert_int_equal(sfix_up(&f, hook_indirect, &s, indirect256, NULL), 0);
	xbd_get_info(f.f_dev, &info);
	assert_int_equal(info.xi_max_request_segments, 256);
	/* A one-page ring: 32 commands, each used by both rounds. */
	assert_int_equal(info.xi_max_requests, 32);
	assert_non_null(buf = calloc(1, 512 * 1024));
	for (i = 0; i < 64; i++)
		assert_int_equal(xbd_write(f.f_dev, buf, 0, 512 * 1024), 0);
	assert_int_equal(s.is_maxseg, 128);
	for (i = 0; i < 64; i++)
		assert_int_equal(xbd_write(f.f_dev, buf, 0, 64 * 1024), 0);
	assert_int_equal(s.is_requests, 128);
	assert_int_equal(s.is_map_errors, 0);
	assert_int_equal(s.is_stale, 0);
	free(buf);
	sfix_down(&f);
}

/* What the discard hook saw, and whether to refuse discards. */
struct discard_state {
	int ds_discards;    /* discard requests */
	uint8_t ds_flag;    /* flag of the last one */
	bool ds_eopnotsupp; /* answer BLKIF_RSP_EOPNOTSUPP */
};

static int
hook_discard(struct hostile *h, const union xring_req *req)
{
	struct discard_state *s = h->h_arg;

	if (req->discard.operation != BLKIF_OP_DISCARD)
		return (0);
	s->ds_discards++;
	s->ds_flag = req->discard.flag;
	if (!s->ds_eopnotsupp)
		return (0);
	hostile_respond(h, req->discard.id, BLKIF_OP_DISCARD,
	    BLKIF_RSP_EOPNOTSUPP);
	return (1);
}

static const struct hostile_node discard_secure[] = {
	{ "feature-discard", "1" },
	{ "discard-secure", "1" },
	{ NULL, NULL },
};

static const struct hostile_node discard_plain[] = {
	{ "feature-discard", "1" },
	{ NULL, NULL },
};

/* Secure discard carries BLKIF_DISCARD_SECURE, only when offered. */
static void
test_secure_discard(void **state)
{
	struct discard_state s = { 0 };
	struct xbd_info info;
	struct sfix f;

	assert_int_equal(sfix_up(&f, hook_discard, &s, discard_secure, NULL),
	    0);
	xbd_get_info(f.f_dev, &info);
	assert_true(info.xi_features & XBD_FEAT_SECURE_DISCARD);
	assert_int_equal(xbd_discard(f.f_dev, 0, 8192, true), 0);
	assert_int_equal(s.ds_discards, 1);
	assert_int_equal(s.ds_flag, BLKIF_DISCARD_SECURE);
	assert_int_equal(xbd_discard(f.f_dev, 8192, 8192, false), 0);
	assert_int_equal(s.ds_discards, 2);
	assert_int_equal(s.ds_flag, 0);
	sfix_down(&f);

	memset(&s, 0, sizeof(s));
	assert_int_equal(sfix_up(&f, hook_discard, &s, discard_plain, NULL), 0);
	xbd_get_info(f.f_dev, &info);
	assert_true(info.xi_features & XBD_FEAT_DISCARD);
	assert_false(info.xi_features & XBD_FEAT_SECURE_DISCARD);
	assert_int_equal(xbd_discard(f.f_dev, 0, 8192, true), -EOPNOTSUPP);
	assert_int_equal(s.ds_discards, 0);
	assert_int_equal(xbd_discard(f.f_dev, 0, 8192, false), 0);
	assert_int_equal(s.ds_discards, 1);
	sfix_down(&f);
}

/* A discard refused with EOPNOTSUPP: reported, and discard is off. */
static void
test_discard_eopnotsupp(void **state)
{
	struct discard_state s = { .ds_eopnotsupp = true };
	struct xbd_info info;
	struct xbd_stats st;
	struct sfix f;
	char buf[4096] = { 1 };

	assert_int_equal(sfix_up(&f, hook_discard, &s, discard_secure, NULL),
	    0);
	assert_int_equal(xbd_discard(f.f_dev, 0, 4096, false), -EOPNOTSUPP);
	xbd_get_info(f.f_dev, &info);
	assert_false(info.xi_features & XBD_FEAT_DISCARD);
	assert_false(info.xi_features & XBD_FEAT_SECURE_DISCARD);
	sfix_stats(&f, &st);
	assert_int_equal(st.xst_eopnotsupp, 1);
	/* Refused up front from now on; the device carries on. */
	assert_int_equal(xbd_discard(f.f_dev, 0, 4096, false), -EOPNOTSUPP);
	assert_int_equal(xbd_discard(f.f_dev, 0, 4096, true), -EOPNOTSUPP);
	assert_int_equal(s.ds_discards, 1);
	assert_int_equal(xbd_write(f.f_dev, buf, 0, sizeof(buf)), 0);
	assert_int_equal(sfix_state(&f), 1);
	sfix_down(&f);
}

static int
hook_barrier_data(struct hostile *h, const union xring_req *req)
{
	int *n = h->h_arg;

	if (req->rw.operation != BLKIF_OP_WRITE_BARRIER ||
	    req->rw.nr_segments == 0)
		return (0);
	(*n)++;
	hostile_respond(h, req->rw.id, BLKIF_OP_WRITE_BARRIER,
	    BLKIF_RSP_EOPNOTSUPP);
	return (1);
}

/*
 * A barrier carrying data refused with EOPNOTSUPP: reported, barriers
 * are off, and ordered writes are single-stepped from then on.
 */
static void
test_barrier_data_eopnotsupp(void **state)
{
	struct xbd_info info;
	struct xbd_stats st;
	struct sfix f;
	char buf[4096], back[4096];
	int refused = 0;

	memset(buf, 'o', sizeof(buf));
	assert_int_equal(sfix_up(&f, hook_barrier_data, &refused, NULL, NULL),
	    0);
	xbd_get_info(f.f_dev, &info);
	assert_true(info.xi_features & XBD_FEAT_BARRIER);
	assert_int_equal(xbd_write_ordered(f.f_dev, buf, 0, sizeof(buf)),
	    -EOPNOTSUPP);
	assert_int_equal(refused, 1);
	xbd_get_info(f.f_dev, &info);
	assert_false(info.xi_features & XBD_FEAT_BARRIER);
	assert_true(info.xi_features & XBD_FEAT_FLUSH);
	sfix_stats(&f, &st);
	assert_int_equal(st.xst_eopnotsupp, 1);
	assert_int_equal(st.xst_single_step, 0);
	assert_int_equal(xbd_write_ordered(f.f_dev, buf, 0, sizeof(buf)), 0);
	assert_int_equal(refused, 1);
	sfix_stats(&f, &st);
	assert_int_equal(st.xst_single_step, 1);
	assert_int_equal(st.xst_requests[BLKIF_OP_WRITE_BARRIER], 1);
	assert_int_equal(xbd_read(f.f_dev, back, 0, sizeof(back)), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	sfix_down(&f);
}

/* Fail the second and the fourth write the backend sees. */
static int
hook_fail_parts(struct hostile *h, const union xring_req *req)
{
	int *n = h->h_arg;

	if (req->rw.operation != BLKIF_OP_WRITE)
		return (0);
	if (++(*n) % 2 == 1)
		return (0);
	hostile_respond(h, req->rw.id, BLKIF_OP_WRITE, BLKIF_RSP_ERROR);
	return (1);
}

struct once {
	pthread_mutex_t o_lock; /* protects the rest */
	int o_calls;		/* completions */
	int o_error;		/* the error of the first */
};

static void
once_done(struct xbd_bio *bp, int error)
{
	struct once *o = bp->bio_caller;

	pthread_mutex_lock(&o->o_lock);
	if (o->o_calls++ == 0)
		o->o_error = error;
	pthread_mutex_unlock(&o->o_lock);
}

/* A write of len bytes at buf reporting to o. */
static void
once_write(struct xbd_bio *bp, void *buf, size_t len, struct once *o)
{
	memset(bp, 0, sizeof(*bp));
	bp->bio_cmd = XBD_CMD_WRITE;
	bp->bio_length = len;
	bp->bio_data = buf;
	bp->bio_done = once_done;
	bp->bio_caller = o;
}

/* A bio split in four whose parts fail twice completes once, failed. */
static void
test_split_completes_once(void **state)
{
	struct once o = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
	struct xbd_stats st;
	struct xbd_bio bio;
	struct sfix f;
	static char buf[128 * 1024];
	int writes = 0, i;

	assert_int_equal(sfix_up(&f, hook_fail_parts, &writes, NULL, NULL), 0);
	once_write(&bio, buf, sizeof(buf), &o);
	assert_int_equal(xbd_submit(f.f_dev, &bio), 0);
	for (i = 0; i < 5000; i++) {
		pthread_mutex_lock(&o.o_lock);
		if (o.o_calls > 0)
			i = 5000;
		pthread_mutex_unlock(&o.o_lock);
		usleep(1000);
	}
	/* 40 + 40 + 40 + 8 KiB: all four went out before any answer. */
	usleep(50000);
	assert_int_equal(writes, 4);
	assert_int_equal(o.o_calls, 1);
	assert_int_equal(o.o_error, -EIO);
	sfix_stats(&f, &st);
	assert_int_equal(st.xst_splits, 3);
	assert_int_equal(st.xst_errors, 1);
	assert_int_equal(sfix_state(&f), 1);
	sfix_down(&f);
}

static int
once_calls(struct once *o)
{
	int n;

	pthread_mutex_lock(&o->o_lock);
	n = o->o_calls;
	pthread_mutex_unlock(&o->o_lock);
	return (n);
}

/* Count flushes that carry segments (a flush has none). */
static int
hook_flush_segs(struct hostile *h, const union xring_req *req)
{
	int *bad = h->h_arg;

	if (req->rw.operation == BLKIF_OP_FLUSH_DISKCACHE &&
	    req->rw.nr_segments != 0)
		(*bad)++;
	return (0);
}

/*
 * A write that finds the bounce pool short goes back to wait and its
 * command back to the free queue.  That command must not keep the
 * segment count of the failed attempt: a flush using it later sent
 * that many segments of nothing (an assertion with invariants on).
 */
static void
test_flush_after_bounce_shortage(void **state)
{
	static char big[40 * 1024], small[8 * 1024];
	struct xbd_bio a, b;
	struct xbd_opts opt;
	struct once oa = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
	struct once ob = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };
	struct xbd_stats st;
	struct sfix f;
	int bad = 0, i;

	xbd_opts_init(&opt);
	opt.o_bounce = 1;
	opt.o_bounce_pages = 11; /* one direct request's worth */
	assert_int_equal(sfix_up(&f, hook_flush_segs, &bad, NULL, &opt), 0);
	hostile_pause(sfix_backend(&f), true);
	once_write(&a, big, sizeof(big), &oa);
	once_write(&b, small, sizeof(small), &ob);
	/* 10 of the 11 pages stay out; the second write needs 2. */
	assert_int_equal(xbd_submit(f.f_dev, &a), 0);
	assert_int_equal(xbd_submit(f.f_dev, &b), 0);
	sfix_stats(&f, &st);
	assert_true(st.xst_gnt_shortage > 0);
	hostile_pause(sfix_backend(&f), false);
	for (i = 0; i < 5000 && (once_calls(&oa) == 0 || once_calls(&ob) == 0);
	     i++)
		usleep(1000);
	assert_int_equal(oa.o_calls, 1);
	assert_int_equal(ob.o_calls, 1);
	assert_int_equal(oa.o_error, 0);
	assert_int_equal(ob.o_error, 0);
	/* Cycle through every command of the ring, the one that failed too. */
	for (i = 0; i < 40; i++)
		assert_int_equal(xbd_flush(f.f_dev), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(sfix_state(&f), 1);
	sfix_down(&f);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_indirect_no_stale_descriptors),
		cmocka_unit_test(test_secure_discard),
		cmocka_unit_test(test_discard_eopnotsupp),
		cmocka_unit_test(test_barrier_data_eopnotsupp),
		cmocka_unit_test(test_split_completes_once),
		cmocka_unit_test(test_flush_after_bounce_shortage),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
