/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the frontend against a scripted hostile backend
 * (docs/reliability.md section 6.1).  Each lie the backend can tell on the
 * ring must leave the process alive, fail the affected I/O, and, where
 * the protocol is broken, put the device in the error state with its
 * event channel quiet; lies in XenStore are clamped or refused.  Test
 * names carry the catalogue item they cover.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sfix.h"
#include "xt.h"

/* ---------------------------------------------------------------------
 * Ring lies
 */

static int
hook_overflow(struct hostile *h, const union xring_req *req)
{
	/* F1: claim a whole ring and one more of responses. */
	hostile_bump_rsp(h, 33);
	return (1);
}

static void
test_F1_rsp_prod_overflow(void **state)
{
	struct sfix f;
	char buf[4096];

	assert_int_equal(sfix_up(&f, hook_overflow, NULL, NULL, NULL), 0);
	assert_int_equal(xbd_read(f.f_dev, buf, 0, 4096), -EIO);
	sfix_assert_error(&f);
	sfix_down(&f);
}

static int
hook_backwards(struct hostile *h, const union xring_req *req)
{
	/* F2: answer, then move the producer back behind the consumer. */
	hostile_serve(h, req);
	hostile_push(h);
	usleep(20000);
	hostile_bump_rsp(h, -2);
	return (1);
}

static void
test_F2_rsp_prod_backwards(void **state)
{
	struct sfix f;
	char buf[4096];
	int i;

	assert_int_equal(sfix_up(&f, hook_backwards, NULL, NULL, NULL), 0);
	(void)xbd_read(f.f_dev, buf, 0, 4096);
	for (i = 0; i < 100 && sfix_state(&f) != 3; i++)
		usleep(10000);
	sfix_assert_error(&f);
	sfix_down(&f);
}

static int
hook_extra(struct hostile *h, const union xring_req *req)
{
	/* F3: one real answer and one for a request never issued. */
	hostile_serve(h, req);
	hostile_respond(h, req->rw.id, req->rw.operation, 0);
	return (1);
}

static void
test_F3_rsp_ahead_of_req(void **state)
{
	struct sfix f;
	char buf[4096];

	assert_int_equal(sfix_up(&f, hook_extra, NULL, NULL, NULL), 0);
	(void)xbd_read(f.f_dev, buf, 0, 4096);
	sfix_assert_error(&f);
	sfix_down(&f);
}

static uint64_t bad_id;

static int
hook_bad_id(struct hostile *h, const union xring_req *req)
{
	hostile_respond(h, bad_id, req->rw.operation, 0);
	return (1);
}

static void
test_F4_bad_ids(void **state)
{
	const uint64_t ids[] = { 32, 1024, UINT64_MAX, 1ull << 40, 5000 };
	struct sfix f;
	char buf[4096];
	size_t i;

	for (i = 0; i < XU_NELEM(ids); i++) {
		bad_id = ids[i];
		assert_int_equal(sfix_up(&f, hook_bad_id, NULL, NULL, NULL), 0);
		assert_int_equal(xbd_read(f.f_dev, buf, 0, 4096), -EIO);
		sfix_assert_error(&f);
		sfix_down(&f);
	}
}

static int
hook_free_slot(struct hostile *h, const union xring_req *req)
{
	/* F5: answer a slot that is free, not the one in flight. */
	hostile_respond(h, (req->rw.id + 7) % 32, req->rw.operation, 0);
	return (1);
}

static void
test_F5_unsolicited(void **state)
{
	struct sfix f;
	char buf[4096];

	assert_int_equal(sfix_up(&f, hook_free_slot, NULL, NULL, NULL), 0);
	assert_int_equal(xbd_read(f.f_dev, buf, 0, 4096), -EIO);
	sfix_assert_error(&f);
	sfix_down(&f);
}

struct dup_state {
	int seen;
	uint64_t first_id;
	uint8_t first_op;
};

static int
hook_duplicate(struct hostile *h, const union xring_req *req)
{
	struct dup_state *d = h->h_arg;

	/* F6: with two requests out, answer the first one twice. */
	if (d->seen++ == 0) {
		d->first_id = req->rw.id;
		d->first_op = req->rw.operation;
		return (1);
	}
	hostile_respond(h, d->first_id, d->first_op, 0);
	hostile_respond(h, d->first_id, d->first_op, 0);
	return (1);
}

static void
done_nop(struct xbd_bio *bp, int error)
{
	*(int *)bp->bio_caller = error == 0 ? 1 : error;
}

static void
test_F6_duplicate(void **state)
{
	struct dup_state d = { 0 };
	struct xbd_bio b1, b2;
	struct sfix f;
	char buf[2][4096];
	int r1 = 0, r2 = 0, i;

	assert_int_equal(sfix_up(&f, hook_duplicate, &d, NULL, NULL), 0);
	memset(&b1, 0, sizeof(b1));
	b1.bio_cmd = XBD_CMD_READ;
	b1.bio_length = 4096;
	b1.bio_data = buf[0];
	b1.bio_done = done_nop;
	b1.bio_caller = &r1;
	b2 = b1;
	b2.bio_offset = 8192;
	b2.bio_data = buf[1];
	b2.bio_caller = &r2;
	assert_int_equal(xbd_submit(f.f_dev, &b1), 0);
	assert_int_equal(xbd_submit(f.f_dev, &b2), 0);
	for (i = 0; i < 200 && (r1 == 0 || r2 == 0); i++)
		usleep(10000);
	/* Both complete exactly once; the lie kills the device. */
	assert_int_equal(r1, 1);
	assert_int_equal(r2, -EIO);
	sfix_assert_error(&f);
	sfix_down(&f);
}

static int
hook_wrong_op(struct hostile *h, const union xring_req *req)
{
	/* F7: a write answered as a read. */
	hostile_respond(h, req->rw.id,
	    req->rw.operation == BLKIF_OP_WRITE ? BLKIF_OP_READ :
						  BLKIF_OP_DISCARD,
	    0);
	return (1);
}

static void
test_F7_wrong_operation(void **state)
{
	struct sfix f;
	char buf[4096] = { 0 };

	assert_int_equal(sfix_up(&f, hook_wrong_op, NULL, NULL, NULL), 0);
	assert_int_equal(xbd_write(f.f_dev, buf, 0, 4096), -EIO);
	sfix_assert_error(&f);
	sfix_down(&f);
}

static int16_t bad_status;

static int
hook_bad_status(struct hostile *h, const union xring_req *req)
{
	hostile_respond(h, req->rw.id, req->rw.operation, bad_status);
	return (1);
}

static void
test_F8_bad_status(void **state)
{
	const int16_t st[] = { 1, 0x7fff, -32768, -3 };
	struct xbd_stats s;
	struct sfix f;
	char buf[4096];
	size_t i;

	for (i = 0; i < XU_NELEM(st); i++) {
		bad_status = st[i];
		assert_int_equal(sfix_up(&f, hook_bad_status, NULL, NULL, NULL),
		    0);
		/* Never success; the device itself lives on. */
		assert_int_equal(xbd_read(f.f_dev, buf, 0, 4096), -EIO);
		xbd_get_stats(f.f_dev, &s, sizeof(s));
		assert_true(s.xst_protocol_errors > 0);
		assert_int_equal(sfix_state(&f), 1);
		sfix_down(&f);
	}
}

static int
hook_eopnotsupp(struct hostile *h, const union xring_req *req)
{
	uint8_t op = req->rw.operation;

	if (op == BLKIF_OP_READ || op == BLKIF_OP_FLUSH_DISKCACHE ||
	    op == BLKIF_OP_WRITE_BARRIER) {
		hostile_respond(h, req->rw.id, op, BLKIF_RSP_EOPNOTSUPP);
		return (1);
	}
	return (0);
}

/* catalogue: D6 */
static void
test_F9_F10_eopnotsupp(void **state)
{
	struct xbd_info info;
	struct xbd_stats s;
	struct sfix f;
	char buf[4096] = { 0 };

	assert_int_equal(sfix_up(&f, hook_eopnotsupp, NULL, NULL, NULL), 0);
	/* F9: a read is never "not supported": EIO, features untouched. */
	assert_int_equal(xbd_read(f.f_dev, buf, 0, 4096), -EIO);
	xbd_get_info(f.f_dev, &info);
	assert_true(info.xi_features & XBD_FEAT_FLUSH);
	/* F10: flush is reported and turned off, never silently OK. */
	assert_int_equal(xbd_flush(f.f_dev), -EOPNOTSUPP);
	xbd_get_info(f.f_dev, &info);
	assert_false(info.xi_features & XBD_FEAT_FLUSH);
	assert_true(info.xi_features & XBD_FEAT_BARRIER);
	/* The next flush goes as a barrier, refused as well. */
	assert_int_equal(xbd_flush(f.f_dev), -EOPNOTSUPP);
	xbd_get_info(f.f_dev, &info);
	assert_false(info.xi_features & XBD_FEAT_BARRIER);
	/* And now it is refused up front. */
	assert_int_equal(xbd_flush(f.f_dev), -EOPNOTSUPP);
	assert_int_equal(xbd_write(f.f_dev, buf, 0, 4096), 0);
	xbd_get_stats(f.f_dev, &s, sizeof(s));
	assert_int_equal(s.xst_eopnotsupp, 3);
	assert_int_equal(sfix_state(&f), 1);
	sfix_down(&f);
}

static int
hook_flush_error(struct hostile *h, const union xring_req *req)
{
	if (req->rw.operation == BLKIF_OP_FLUSH_DISKCACHE) {
		hostile_respond(h, req->rw.id, req->rw.operation,
		    BLKIF_RSP_ERROR);
		return (1);
	}
	return (0);
}

static void
test_F10_flush_error(void **state)
{
	struct xbd_info info;
	struct sfix f;

	/* An empty flush answered ERROR is an error (not Linux's OK). */
	assert_int_equal(sfix_up(&f, hook_flush_error, NULL, NULL, NULL), 0);
	assert_int_equal(xbd_flush(f.f_dev), -EIO);
	xbd_get_info(f.f_dev, &info);
	assert_true(info.xi_features & XBD_FEAT_FLUSH);
	sfix_down(&f);
}

static void
test_F14_no_notifications(void **state)
{
	struct sfix f;
	char buf[4096] = { 7 }, back[4096];
	struct timespec a, b;

	assert_int_equal(sfix_up(&f, NULL, NULL, NULL, NULL), 0);
	f.f_h[0].h_no_notify = true;
	clock_gettime(CLOCK_MONOTONIC, &a);
	/* Responses published without an event still complete. */
	assert_int_equal(xbd_write(f.f_dev, buf, 0, 4096), 0);
	assert_int_equal(xbd_read(f.f_dev, back, 0, 4096), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_memory_equal(buf, back, 4096);
	assert_true(b.tv_sec - a.tv_sec < 10);
	sfix_down(&f);
}

static int
hook_drop(struct hostile *h, const union xring_req *req)
{
	/* F15: never answer. */
	return (1);
}

static void
test_F15_backend_hangs(void **state)
{
	struct xbd_bio b;
	struct sfix f;
	char buf[4096];
	int r = 0;

	assert_int_equal(sfix_up(&f, hook_drop, NULL, NULL, NULL), 0);
	memset(&b, 0, sizeof(b));
	b.bio_cmd = XBD_CMD_READ;
	b.bio_length = 4096;
	b.bio_data = buf;
	b.bio_done = done_nop;
	b.bio_caller = &r;
	assert_int_equal(xbd_submit(f.f_dev, &b), 0);
	usleep(50000);
	assert_int_equal(r, 0);
	/* Detach finishes, and the bio completes exactly once. */
	xbd_detach(f.f_dev);
	f.f_dev = NULL;
	assert_int_equal(r, -ENXIO);
	sfix_down(&f);
}

struct split_state {
	union xring_req reqs[2];
	int n;
	int mode; /* 0 reversed order, 1 second half twice */
};

static int
hook_split(struct hostile *h, const union xring_req *req)
{
	struct split_state *s = h->h_arg;

	/* F16: the halves of a split I/O, out of order or twice. */
	s->reqs[s->n++] = *req;
	if (s->n < 2)
		return (1);
	if (s->mode == 0) {
		hostile_serve(h, &s->reqs[1]);
		hostile_serve(h, &s->reqs[0]);
	} else {
		hostile_serve(h, &s->reqs[0]);
		hostile_serve(h, &s->reqs[1]);
		hostile_serve(h, &s->reqs[1]);
	}
	s->n = 0;
	return (1);
}

static void
test_F16_split_halves(void **state)
{
	struct split_state s = { .n = 0, .mode = 0 };
	struct sfix f;
	static char buf[64 * 1024], back[64 * 1024];
	size_t i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i % 253);
	assert_int_equal(sfix_up(&f, hook_split, &s, NULL, NULL), 0);
	/* 64 KiB without indirect: 40 KiB + 24 KiB, answered reversed. */
	assert_int_equal(xbd_write(f.f_dev, buf, 0, sizeof(buf)), 0);
	assert_int_equal(xbd_read(f.f_dev, back, 0, sizeof(back)), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	/* One half answered twice: the device stops. */
	s.mode = 1;
	assert_int_equal(xbd_read(f.f_dev, back, 0, sizeof(back)), -EIO);
	sfix_assert_error(&f);
	sfix_down(&f);
}

static int
hook_keep_mapped(struct hostile *h, const union xring_req *req)
{
	/* F17: keep the data page mapped after answering. */
	if (req->rw.nr_segments > 0)
		assert_int_equal(hostile_hold_grant(h, req), 0);
	return (0);
}

static void
test_F17_grant_kept_mapped(void **state)
{
	struct xbd_stats s;
	struct xbd_opts o;
	struct sfix f;
	char buf[4096];

	xbd_opts_init(&o);
	o.o_persistent = false;
	assert_int_equal(sfix_up(&f, hook_keep_mapped, NULL, NULL, &o), 0);
	assert_int_equal(xbd_read(f.f_dev, buf, 0, 4096), -EIO);
	xbd_get_stats(f.f_dev, &s, sizeof(s));
	assert_int_equal(s.xst_grant_busy, 1);
	sfix_assert_error(&f);
	sfix_down(&f);
}

static int
hook_write_readonly(struct hostile *h, const union xring_req *req)
{
	struct plat_map_seg seg;
	int *refused = h->h_arg;

	/* F19: try to map a write's data writable: Xen refuses. */
	if (req->rw.operation == BLKIF_OP_WRITE && req->rw.nr_segments > 0) {
		seg.ms_ref = req->rw.seg[0].gref;
		if (plat_map_batch(h->h_plat, h->h_fe_id, 1, true, &seg) == 0)
			plat_unmap_batch(h->h_plat, 1, &seg);
		else
			*refused = seg.ms_status;
	}
	return (0);
}

static void
test_F19_readonly_grant(void **state)
{
	struct xbd_opts o;
	struct sfix f;
	char buf[4096] = { 3 };
	int refused = 0;

	xbd_opts_init(&o);
	o.o_persistent = false;
	assert_int_equal(sfix_up(&f, hook_write_readonly, &refused, NULL, &o),
	    0);
	assert_int_equal(xbd_write(f.f_dev, buf, 0, 4096), 0);
	assert_int_equal(refused, GNTST_general_error);
	assert_int_equal(sfix_state(&f), 1);
	sfix_down(&f);
}

/* ---------------------------------------------------------------------
 * XenStore lies
 */

static void
expect_attach_fails(const struct hostile_node *nodes)
{
	struct sfix f;
	struct xbd_opts o;

	xbd_opts_init(&o);
	o.o_connect_timeout_ms = 5000;
	assert_int_equal(sfix_up(&f, NULL, NULL, nodes, &o), -EPROTO);
	f.f_dev = NULL;
	sfix_down(&f);
}

static void
test_F22_F25_bad_geometry(void **state)
{
	static const char *const bad_sectors[] = { "0", "", "-1", " 1", "1abc",
		"0x10", "18446744073709551615", "36028797018963968" };
	static const char *const bad_ssize[] = { "0", "1", "513", "8192", "abc",
		"4096 " };
	struct hostile_node nodes[2] = { { NULL, NULL }, { NULL, NULL } };
	size_t i;

	for (i = 0; i < XU_NELEM(bad_sectors); i++) {
		nodes[0].n_name = "sectors";
		nodes[0].n_value = bad_sectors[i];
		expect_attach_fails(nodes);
	}
	for (i = 0; i < XU_NELEM(bad_ssize); i++) {
		nodes[0].n_name = "sector-size";
		nodes[0].n_value = bad_ssize[i];
		expect_attach_fails(nodes);
	}
	/* A size that is not a multiple of the logical block size. */
	nodes[0].n_name = "sectors";
	nodes[0].n_value = "9";
	nodes[1].n_name = NULL;
	{
		struct hostile_node two[3] = { { "sectors", "9" },
			{ "sector-size", "4096" }, { NULL, NULL } };

		expect_attach_fails(two);
	}
}

static void
test_F23_F24_F31_odd_values(void **state)
{
	const struct hostile_node nodes[] = {
		{ "physical-sector-size", "1000" },
		{ "info", "4294967295" },
		{ "feature-flush-cache", "2" },
		{ "feature-barrier", "yes" },
		{ "feature-discard", "1" },
		{ "discard-granularity", "3" },
		{ "discard-alignment", "99999" },
		{ NULL, NULL },
	};
	struct xbd_info info;
	struct sfix f;

	assert_int_equal(sfix_up(&f, NULL, NULL, nodes, NULL), 0);
	xbd_get_info(f.f_dev, &info);
	assert_int_equal(info.xi_physical_sector_size, 512);
	/* Unknown info bits are dropped, the known ones kept. */
	assert_int_equal(info.xi_info, 7);
	assert_true(info.xi_features & XBD_FEAT_READONLY);
	assert_false(info.xi_features & XBD_FEAT_FLUSH);
	assert_false(info.xi_features & XBD_FEAT_BARRIER);
	assert_int_equal(info.xi_discard_granularity, 512);
	assert_int_equal(info.xi_discard_alignment, 0);
	sfix_down(&f);
}

static void
test_F26_F27_F28_limits_clamped(void **state)
{
	const struct hostile_node nodes[] = {
		{ "max-ring-page-order", "255" },
		{ "feature-max-indirect-segments", "4294967295" },
		{ "multi-queue-max-queues", "1000000" },
		{ NULL, NULL },
	};
	const struct hostile_node zero[] = {
		{ "max-ring-page-order", "0" },
		{ "max-ring-pages", "3" },
		{ "feature-max-indirect-segments", "11" },
		{ "multi-queue-max-queues", "0" },
		{ NULL, NULL },
	};
	struct xbd_info info;
	struct xbd_opts o;
	struct sfix f;

	xbd_opts_init(&o);
	o.o_max_queues = 1;
	assert_int_equal(sfix_up(&f, NULL, NULL, nodes, &o), 0);
	xbd_get_info(f.f_dev, &info);
	assert_int_equal(info.xi_ring_pages, 32);
	assert_int_equal(info.xi_queues, 1);
	/* 1 MiB maxphys: 257 segments, 1 indirect page. */
	assert_int_equal(info.xi_max_request_segments, 257);
	assert_int_equal(info.xi_max_request_indirectpages, 1);
	sfix_down(&f);

	assert_int_equal(sfix_up(&f, NULL, NULL, zero, NULL), 0);
	xbd_get_info(f.f_dev, &info);
	/* The deprecated count overrides; 3 rounds down to 2. */
	assert_int_equal(info.xi_ring_pages, 2);
	assert_int_equal(info.xi_queues, 1);
	assert_int_equal(info.xi_max_request_segments, 11);
	assert_int_equal(info.xi_max_request_indirectpages, 0);
	sfix_down(&f);
}

static void
test_F29_skip_initwait(void **state)
{
	struct sfix f;
	char buf[4096] = { 9 }, back[4096];

	memset(&f, 0, sizeof(f));
	/* Connected straight away, before any ring exists. */
	{
		struct hv_opts ho;

		setenv("XBD_QUIET", "1", 0);
		hv_opts_init(&ho);
		assert_int_equal(hv_create(&ho, &f.f_hv), 0);
		assert_int_equal(
		    hv_domain_create(f.f_hv, 0, "Domain-0", &f.f_be[0]), 0);
		assert_int_equal(hv_domain_create(f.f_hv, 1, "guest", &f.f_fe),
		    0);
		assert_non_null(f.f_priv = hv_xs_open_priv(f.f_hv));
		f.f_h[0].h_plat = f.f_be[0];
		f.f_h[0].h_fe_id = 1;
		f.f_h[0].h_vdev = 51712;
		f.f_h[0].h_disk_size = SFIX_DISK;
		f.f_h[0].h_skip_initwait = true;
		assert_int_equal(hostile_start(&f.f_h[0], f.f_priv), 0);
		f.f_nbe = 1;
		assert_int_equal(xbd_plat_wrap(f.f_fe, &f.f_xp), 0);
		assert_int_equal(xbd_attach(f.f_xp, "xvda", NULL, &f.f_dev), 0);
	}
	assert_int_equal(xbd_write(f.f_dev, buf, 0, 4096), 0);
	assert_int_equal(xbd_read(f.f_dev, back, 0, 4096), 0);
	assert_memory_equal(buf, back, 4096);
	/* Garbage and repeated states are ignored. */
	hostile_write(&f.f_h[0], "state", "abc");
	hostile_write(&f.f_h[0], "state", "99");
	hostile_write(&f.f_h[0], "state", "4");
	usleep(50000);
	assert_int_equal(sfix_state(&f), 1);
	assert_int_equal(xbd_read(f.f_dev, back, 0, 4096), 0);
	sfix_down(&f);
}

/*
 * A backend that stops answering half way through the handshake (this
 * one cannot serve two queues and gives up) fails the attach within
 * the caller's connect timeout, not the 7.5 s a detach waits for a live
 * backend to close.
 */
static void
test_attach_timeout_bounded(void **state)
{
	const struct hostile_node nodes[] = { { "multi-queue-max-queues", "2" },
		{ NULL, NULL } };
	struct timespec t0, t1;
	struct xbd_opts o;
	struct sfix f;
	double ms;

	xbd_opts_init(&o);
	o.o_max_queues = 2;
	o.o_connect_timeout_ms = 300;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sfix_up(&f, NULL, NULL, nodes, &o), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("attach failed after %.0f ms\n", ms);
	/* 300 ms to connect, at most 450 ms to close, and slack. */
	assert_true(ms < 2500);
	sfix_down(&f);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_F1_rsp_prod_overflow),
		cmocka_unit_test(test_F2_rsp_prod_backwards),
		cmocka_unit_test(test_F3_rsp_ahead_of_req),
		cmocka_unit_test(test_F4_bad_ids),
		cmocka_unit_test(test_F5_unsolicited),
		cmocka_unit_test(test_F6_duplicate),
		cmocka_unit_test(test_F7_wrong_operation),
		cmocka_unit_test(test_F8_bad_status),
		cmocka_unit_test(test_F9_F10_eopnotsupp),
		cmocka_unit_test(test_F10_flush_error),
		cmocka_unit_test(test_F14_no_notifications),
		cmocka_unit_test(test_F15_backend_hangs),
		cmocka_unit_test(test_F16_split_halves),
		cmocka_unit_test(test_F17_grant_kept_mapped),
		cmocka_unit_test(test_F19_readonly_grant),
		cmocka_unit_test(test_F22_F25_bad_geometry),
		cmocka_unit_test(test_F23_F24_F31_odd_values),
		cmocka_unit_test(test_F26_F27_F28_limits_clamped),
		cmocka_unit_test(test_F29_skip_initwait),
		cmocka_unit_test(test_attach_timeout_bounded),
	};

	/* An argument runs only the tests it matches (while debugging). */
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
