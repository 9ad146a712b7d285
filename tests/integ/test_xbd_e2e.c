/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the frontend end to end on the simulated platform against
 * our backend.  Every feature combination the backend can offer (flush,
 * barrier, indirect, persistent grants, discard, multi-page rings,
 * multi-queue) runs a random workload with concurrent flushes verified
 * byte for byte; then the FreeBSD mechanisms one by one: command and
 * grant shortages freezing and thawing the queue, barrier emulation by
 * single-stepping, flush through barriers, EOPNOTSUPP handling, the
 * read-only disk, bounce buffers for an untrusted backend, zero-copy
 * buffers, suspend/resume with I/O in flight, the backend closing a disk
 * that is open and one that is not, online resize, direct versus
 * indirect requests and the tunable that disables indirect ones,
 * 4096-byte sectors, attach by number and by directory, both rings of
 * a multi-queue device, the transport nodes published in XenStore, and
 * a re-attach with fewer queues and ring pages (no stale nodes).
 * Resume against a new backend, and the cases of suspend that need a
 * backend holding its answers, are in test_xbd_suspend.c.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xbdt.h"
#include "xbdt_wl.h"
#include "xt.h"

#define MiB (1024ull * 1024ull)

/* Set up a fixture or skip the whole test. */
#define SETUP(t, o)                             \
	do {                                    \
		int rc_ = xbdt_setup((t), (o)); \
		if (rc_ == 77)                  \
			skip();                 \
		assert_int_equal(rc_, 0);       \
	} while (0)

static void
check_wl(struct xbd_dev *dev, const struct wl_opts *o)
{
	struct wl_result r;

	assert_int_equal(wl_run(dev, o, &r), 0);
	if (r.r_errors != 0 || r.r_mismatches != 0)
		fprintf(stderr,
		    "workload: %ju errors (first %d), %ju "
		    "mismatches\n",
		    (uintmax_t)r.r_errors, r.r_first_error,
		    (uintmax_t)r.r_mismatches);
	assert_int_equal(r.r_errors, 0);
	assert_int_equal(r.r_mismatches, 0);
	assert_true(r.r_reads > 0 && r.r_writes > 0);
}

static void
test_basic(void **state)
{
	struct xbdt_opts fo = { .size = 16 * MiB };
	struct xbd_info info;
	struct xbd_stats st;
	struct xbdt t;
	struct xbd_dev *dev;
	char buf[8192], back[8192], desc[4096];
	int i;

	SETUP(&t, &fo);
	assert_int_equal(xbdt_attach(&t, NULL, &dev), 0);
	xbd_get_info(dev, &info);
	assert_string_equal(info.xi_name, "xbd0");
	assert_int_equal(info.xi_vdevice, 51712);
	assert_int_equal(info.xi_size, 16 * MiB);
	assert_int_equal(info.xi_sectors, 16 * MiB / 512);
	assert_int_equal(info.xi_sector_size, 512);
	assert_int_equal(info.xi_state, 1);
	assert_true(info.xi_features & XBD_FEAT_FLUSH);
	assert_int_equal(info.xi_ring_pages, 32);
	assert_int_equal(info.xi_max_requests, 1024);
	/* 256 indirect segments offered: 256 segments, 1 page, 1020 KiB. */
	assert_int_equal(info.xi_max_request_segments, 256);
	assert_int_equal(info.xi_max_request_indirectpages, 1);
	assert_int_equal(info.xi_max_request_size, 255 * 4096);

	for (i = 0; i < (int)sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 1);
	assert_int_equal(xbd_write(dev, buf, 4096, sizeof(buf)), 0);
	assert_int_equal(xbd_flush(dev), 0);
	assert_int_equal(xbd_read(dev, back, 4096, sizeof(back)), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	/* Sub-page, odd sector. */
	assert_int_equal(xbd_write(dev, buf, 512 * 3, 512), 0);
	assert_int_equal(xbd_read(dev, back, 512 * 3, 512), 0);
	assert_memory_equal(buf, back, 512);
	assert_int_equal(xbd_write_ordered(dev, buf, 0, 4096), 0);
	assert_int_equal(xbd_discard(dev, 8192, 4096, false), 0);
	assert_int_equal(xbd_read(dev, back, 8192, 4096), 0);
	memset(buf, 0, 4096);
	assert_memory_equal(buf, back, 4096);

	/* Bad requests fail synchronously. */
	assert_int_equal(xbd_read(dev, back, 100, 512), -EINVAL);
	assert_int_equal(xbd_read(dev, back, 0, 100), -EINVAL);
	assert_int_equal(xbd_read(dev, back, 16 * MiB, 512), -EINVAL);
	assert_int_equal(xbd_read(dev, back, 16 * MiB - 512, 1024), -EINVAL);
	assert_int_equal(xbd_read(dev, back, UINT64_MAX - 511, 512), -EINVAL);

	xbd_get_stats(dev, &st, sizeof(st));
	assert_true(st.xst_requests[BLKIF_OP_WRITE] >= 2);
	assert_true(st.xst_requests[BLKIF_OP_FLUSH_DISKCACHE] == 1);
	assert_true(st.xst_requests[BLKIF_OP_DISCARD] == 1);
	assert_int_equal(st.xst_q_length[XBD_QSTAT_BUSY], 0);
	assert_int_equal(st.xst_q_length[XBD_QSTAT_FREE], 1024);
	assert_true(xbd_describe(dev, XBD_FMT_JSON, desc, sizeof(desc)) > 0);
	assert_non_null(strstr(desc, "\"max_requests\":1024"));
	assert_true(xbd_describe(dev, XBD_FMT_TEXT, desc, sizeof(desc)) > 0);
	assert_non_null(strstr(desc, "dev.xbd0.max_request_segments: 256"));
	assert_true(xbd_describe(dev, XBD_FMT_LINE, desc, sizeof(desc)) > 0);
	assert_non_null(strstr(desc, "16MB <Virtual Block Device>"));
	xbd_detach(dev);
	xbdt_teardown(&t);
}

/* Every combination of what a backend can offer. */
static void
test_feature_matrix(void **state)
{
	struct wl_opts wo = { .ops = 400,
		.qd = 16,
		.max_blocks = 80,
		.flush_pct = 5,
		.discard_pct = 10,
		.ordered_pct = 10,
		.zero_copy = true };
	struct xbdt_opts fo = { .size = 8 * MiB };
	struct xbb_opts bo;
	struct xbd_info info;
	struct xbdt t;
	struct xbd_dev *dev;
	unsigned int combo;

	for (combo = 0; combo < 32; combo++) {
		xbb_opts_init(&bo);
		bo.o_flush = (combo & 1) != 0;
		bo.o_barrier = (combo & 2) != 0;
		bo.o_max_indirect_segs = (combo & 4) != 0 ? 256 : 0;
		bo.o_persistent = (combo & 8) != 0;
		bo.o_discard = (combo & 16) != 0;
		bo.o_max_ring_page_order = combo % 6;
		bo.o_max_queues = 1 + combo % 3;
		fo.xbb = &bo;
		SETUP(&t, &fo);
		{
			struct xbd_opts o;

			xbd_opts_init(&o);
			o.o_max_queues = 2;
			assert_int_equal(xbdt_attach(&t, &o, &dev), 0);
		}
		xbd_get_info(dev, &info);
		assert_int_equal(info.xi_ring_pages, 1u << (combo % 6));
		assert_int_equal(info.xi_queues, combo % 3 == 0 ? 1 : 2);
		assert_int_equal(!!(info.xi_features & XBD_FEAT_FLUSH),
		    bo.o_flush);
		assert_int_equal(!!(info.xi_features & XBD_FEAT_BARRIER),
		    bo.o_barrier);
		assert_int_equal(!!(info.xi_features & XBD_FEAT_PERSISTENT),
		    bo.o_persistent);
		assert_int_equal(!!(info.xi_features & XBD_FEAT_INDIRECT),
		    bo.o_max_indirect_segs > 0);
		assert_int_equal(!!(info.xi_features & XBD_FEAT_DISCARD),
		    bo.o_discard);
		assert_int_equal(info.xi_max_request_size,
		    bo.o_max_indirect_segs > 0 ? 255 * 4096 : 10 * 4096);
		wo.seed = combo + 1;
		fprintf(stderr, "combo %u: ring order %u, queues %u/%u, %s\n",
		    combo, bo.o_max_ring_page_order, info.xi_queues,
		    bo.o_max_queues,
		    info.xi_features & XBD_FEAT_PERSISTENT ?
			"persistent" :
			"per-request grants");
		wo.flush_pct = bo.o_flush || bo.o_barrier ? 5 : 0;
		wo.discard_pct = bo.o_discard ? 10 : 0;
		check_wl(dev, &wo);
		xbd_detach(dev);
		xbdt_teardown(&t);
	}
}

/* Completion order of a few async writes around an ordered one. */
struct order_rec {
	pthread_mutex_t m;
	int seq[16];
	int n;
};

static void
order_done(struct xbd_bio *bp, int error)
{
	struct order_rec *r = bp->bio_caller;

	assert_int_equal(error, 0);
	pthread_mutex_lock(&r->m);
	r->seq[r->n++] = (int)(bp->bio_offset / 4096);
	pthread_mutex_unlock(&r->m);
}

/* Without backend barriers an ordered write is a full fence. */
static void
test_barrier_emulation(void **state)
{
	struct xbdt_opts fo = { .size = 4 * MiB };
	struct order_rec rec = { PTHREAD_MUTEX_INITIALIZER, { 0 }, 0 };
	struct xbd_bio bios[9];
	struct xbd_stats st;
	struct xbb_opts bo;
	struct xbdt t;
	struct xbd_dev *dev;
	static char buf[9][4096];
	int i, pos = -1;

	xbb_opts_init(&bo);
	bo.o_barrier = false;
	fo.xbb = &bo;
	SETUP(&t, &fo);
	assert_int_equal(xbdt_attach(&t, NULL, &dev), 0);
	memset(bios, 0, sizeof(bios));
	for (i = 0; i < 9; i++) {
		bios[i].bio_cmd = XBD_CMD_WRITE;
		bios[i].bio_offset = (uint64_t)i * 4096;
		bios[i].bio_length = 4096;
		bios[i].bio_data = buf[i];
		bios[i].bio_done = order_done;
		bios[i].bio_caller = &rec;
		if (i == 4)
			bios[i].bio_flags = XBD_BIO_ORDERED;
	}
	for (i = 0; i < 9; i++)
		assert_int_equal(xbd_submit(dev, &bios[i]), 0);
	assert_int_equal(xbd_flush(dev), 0);
	while (rec.n < 9)
		usleep(1000);
	for (i = 0; i < 9; i++)
		if (rec.seq[i] == 4)
			pos = i;
	/* Everything before it finished first, everything after after. */
	assert_int_equal(pos, 4);
	for (i = 0; i < 4; i++)
		assert_true(rec.seq[i] < 4);
	xbd_get_stats(dev, &st, sizeof(st));
	assert_int_equal(st.xst_single_step, 1);
	assert_int_equal(st.xst_requests[BLKIF_OP_WRITE_BARRIER], 0);
	assert_int_equal(st.xst_frozen, 0);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

/* Flush becomes an empty barrier when only barriers exist; neither: no. */
/* catalogue: D5 */
static void
test_flush_variants(void **state)
{
	struct xbdt_opts fo = { .size = 4 * MiB };
	struct xbd_stats st;
	struct xbb_opts bo;
	struct xbdt t;
	struct xbd_dev *dev;
	char buf[4096] = { 1 };

	xbb_opts_init(&bo);
	bo.o_flush = false;
	bo.o_barrier = true;
	fo.xbb = &bo;
	SETUP(&t, &fo);
	assert_int_equal(xbdt_attach(&t, NULL, &dev), 0);
	assert_int_equal(xbd_write(dev, buf, 0, sizeof(buf)), 0);
	assert_int_equal(xbd_flush(dev), 0);
	assert_int_equal(xbd_write_ordered(dev, buf, 4096, sizeof(buf)), 0);
	xbd_get_stats(dev, &st, sizeof(st));
	assert_int_equal(st.xst_requests[BLKIF_OP_FLUSH_DISKCACHE], 0);
	assert_int_equal(st.xst_requests[BLKIF_OP_WRITE_BARRIER], 2);
	assert_int_equal(st.xst_single_step, 0);
	xbd_detach(dev);
	xbdt_teardown(&t);

	bo.o_barrier = false;
	bo.o_discard = false;
	SETUP(&t, &fo);
	assert_int_equal(xbdt_attach(&t, NULL, &dev), 0);
	assert_int_equal(xbd_flush(dev), -EOPNOTSUPP);
	assert_int_equal(xbd_discard(dev, 0, 4096, false), -EOPNOTSUPP);
	assert_int_equal(xbd_discard(dev, 0, 4096, true), -EOPNOTSUPP);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

/* A one-page ring and deep submission: commands run out and come back. */
static void
test_cm_shortage(void **state)
{
	struct wl_opts wo = { .ops = 2000,
		.qd = 64,
		.max_blocks = 4,
		.seed = 7 };
	struct xbdt_opts fo = { .size = 8 * MiB };
	struct xbd_stats st;
	struct xbb_opts bo;
	struct xbd_opts o;
	struct xbdt t;
	struct xbd_dev *dev;

	xbb_opts_init(&bo);
	bo.o_max_ring_page_order = 0;
	fo.xbb = &bo;
	SETUP(&t, &fo);
	xbd_opts_init(&o);
	o.o_max_ring_pages = 1;
	assert_int_equal(xbdt_attach(&t, &o, &dev), 0);
	check_wl(dev, &wo);
	xbd_get_stats(dev, &st, sizeof(st));
	assert_true(st.xst_cm_shortage > 0);
	assert_int_equal(st.xst_q_max[XBD_QSTAT_BUSY], 32);
	assert_true(st.xst_q_max[XBD_QSTAT_BIO] > 0);
	assert_int_equal(st.xst_frozen, 0);
	assert_int_equal(st.xst_q_length[XBD_QSTAT_FREE], 32);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

/* Bounce pages and grant references run out and come back. */
static void
test_gnt_shortage(void **state)
{
	struct wl_opts wo = { .ops = 1500,
		.qd = 48,
		.max_blocks = 24,
		.seed = 9 };
	struct xbdt_opts fo = { .size = 8 * MiB };
	struct xbd_stats st;
	struct xbb_opts bo;
	struct xbd_opts o;
	struct xbdt t;
	struct xbd_dev *dev;

	/* A tiny bounce pool. */
	xbb_opts_init(&bo);
	bo.o_persistent = false;
	fo.xbb = &bo;
	SETUP(&t, &fo);
	xbd_opts_init(&o);
	o.o_bounce_pages = 300;
	assert_int_equal(xbdt_attach(&t, &o, &dev), 0);
	check_wl(dev, &wo);
	xbd_get_stats(dev, &st, sizeof(st));
	assert_true(st.xst_gnt_shortage > 0);
	assert_int_equal(st.xst_frozen, 0);
	xbd_detach(dev);
	xbdt_teardown(&t);

	/* A tiny grant table: the platform's free callback thaws us. */
	fo.grant_entries = 200;
	bo.o_max_indirect_segs = 0;
	SETUP(&t, &fo);
	xbd_opts_init(&o);
	o.o_max_ring_pages = 1;
	assert_int_equal(xbdt_attach(&t, &o, &dev), 0);
	check_wl(dev, &wo);
	xbd_get_stats(dev, &st, sizeof(st));
	assert_true(st.xst_gnt_shortage > 0);
	assert_int_equal(st.xst_frozen, 0);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

/* Read-only disks refuse writes, flushes and discards with EROFS. */
static void
test_readonly(void **state)
{
	struct xbdt_opts fo = { .size = 4 * MiB, .readonly = true };
	struct xbd_info info;
	struct xbdt t;
	struct xbd_dev *dev;
	char buf[4096];

	SETUP(&t, &fo);
	assert_int_equal(xbdt_attach(&t, NULL, &dev), 0);
	xbd_get_info(dev, &info);
	assert_true(info.xi_features & XBD_FEAT_READONLY);
	assert_int_equal(xbd_read(dev, buf, 0, sizeof(buf)), 0);
	assert_int_equal(xbd_write(dev, buf, 0, sizeof(buf)), -EROFS);
	assert_int_equal(xbd_write_ordered(dev, buf, 0, sizeof(buf)), -EROFS);
	assert_true(info.xi_features & (XBD_FEAT_FLUSH | XBD_FEAT_BARRIER));
	assert_int_equal(xbd_flush(dev), -EROFS);
	assert_int_equal(xbd_discard(dev, 0, 4096, false), -EROFS);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

/* An untrusted backend only ever sees bounce pages. */
/* catalogue: F32 */
static void
test_untrusted_bounce(void **state)
{
	struct wl_opts wo = { .ops = 300,
		.qd = 8,
		.max_blocks = 16,
		.zero_copy = true,
		.seed = 3 };
	struct xbdt_opts fo = { .size = 4 * MiB, .untrusted = true };
	struct xbd_info info;
	struct xbd_stats st;
	struct xbb_opts bo;
	struct xbdt t;
	struct xbd_dev *dev;

	xbb_opts_init(&bo);
	bo.o_persistent = false;
	fo.xbb = &bo;
	SETUP(&t, &fo);
	assert_int_equal(xbdt_attach(&t, NULL, &dev), 0);
	xbd_get_info(dev, &info);
	assert_true(info.xi_features & XBD_FEAT_BOUNCE);
	check_wl(dev, &wo);
	xbd_get_stats(dev, &st, sizeof(st));
	assert_true(st.xst_bounce_bytes > 0);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

/* Buffers from xbd_buf_alloc are granted in place: nothing is copied. */
static void
test_zero_copy(void **state)
{
	struct xbdt_opts fo = { .size = 4 * MiB };
	struct xbd_stats st;
	struct xbb_opts bo;
	struct xbdt t;
	struct xbd_dev *dev;
	char *buf;
	int i;

	xbb_opts_init(&bo);
	bo.o_persistent = false;
	fo.xbb = &bo;
	SETUP(&t, &fo);
	assert_int_equal(xbdt_attach(&t, NULL, &dev), 0);
	assert_non_null(buf = xbd_buf_alloc(dev, 256 * 1024));
	for (i = 0; i < 256 * 1024; i++)
		buf[i] = (char)(i % 251);
	assert_int_equal(xbd_write(dev, buf, 0, 256 * 1024), 0);
	memset(buf, 0, 256 * 1024);
	assert_int_equal(xbd_read(dev, buf, 0, 256 * 1024), 0);
	for (i = 0; i < 256 * 1024; i++)
		assert_int_equal((unsigned char)buf[i], i % 251);
	xbd_get_stats(dev, &st, sizeof(st));
	assert_int_equal(st.xst_bounce_bytes, 0);
	assert_true(st.xst_grants >= 128);
	xbd_buf_free(dev, buf, 256 * 1024);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

/* Suspend drains the ring; resume reconnects and reissues the queue. */
static void
test_suspend_resume(void **state)
{
	struct xbdt_opts fo = { .size = 8 * MiB };
	struct wl_bg b = { .wo = { .ops = 3000,
			       .qd = 32,
			       .max_blocks = 16,
			       .flush_pct = 2,
			       .seed = 11 } };
	struct xbd_stats st;
	struct xbdt t;
	pthread_t th;
	int i;

	SETUP(&t, &fo);
	assert_int_equal(xbdt_attach(&t, NULL, &b.dev), 0);
	assert_int_equal(pthread_create(&th, NULL, wl_bg_run, &b), 0);
	for (i = 0; i < 3; i++) {
		usleep(20000);
		assert_int_equal(xbd_suspend(b.dev), 0);
		xbd_get_stats(b.dev, &st, sizeof(st));
		assert_int_equal(st.xst_q_length[XBD_QSTAT_BUSY], 0);
		usleep(5000);
		assert_int_equal(xbd_resume(b.dev, i == 1), 0);
	}
	pthread_join(th, NULL);
	assert_int_equal(b.rc, 0);
	assert_int_equal(b.r.r_errors, 0);
	assert_int_equal(b.r.r_mismatches, 0);
	xbd_get_stats(b.dev, &st, sizeof(st));
	assert_int_equal(st.xst_reconnects, 2);
	xbd_detach(b.dev);
	xbdt_teardown(&t);
}

/* The toolstack unplugs a disk that is open: orphaned, then closed. */
static void
test_backend_closing_open(void **state)
{
	struct xbdt_opts fo = { .size = 4 * MiB };
	struct xbdt t;
	struct xbd_dev *dev;
	char buf[4096], fe[256], be[256];
	struct xbd_info info;
	int i;

	SETUP(&t, &fo);
	assert_int_equal(xbdt_attach(&t, NULL, &dev), 0);
	assert_int_equal(xbd_open(dev), 0);
	assert_int_equal(
	    xbus_vbd_paths(t.t_vbd, fe, sizeof(fe), be, sizeof(be)), 0);
	/* libxl's first step: online = 0, state = Closing. */
	assert_int_equal(xbus_write(t.t_xs, XBT_NULL, be, "online", "0"), 0);
	assert_int_equal(xbus_write_state(t.t_xs, be, XenbusStateClosing), 0);
	for (i = 0; i < 200; i++) {
		xbd_get_info(dev, &info);
		if (info.xi_state == 4)
			break;
		usleep(10000);
	}
	assert_int_equal(info.xi_state, 4);
	assert_int_equal(xbd_read(dev, buf, 0, sizeof(buf)), -ENXIO);
	/* Open: the frontend does not close yet. */
	usleep(50000);
	assert_int_equal(xbus_read_state(t.t_xs, fe), XenbusStateConnected);
	xbd_close(dev);
	for (i = 0; i < 200; i++) {
		if (xbus_read_state(t.t_xs, fe) == XenbusStateClosed)
			break;
		usleep(10000);
	}
	assert_int_equal(xbus_read_state(t.t_xs, fe), XenbusStateClosed);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

static void
resize_event(struct xbd_dev *dev, enum xbd_event ev, void *arg)
{
	if (ev == XBD_EV_RESIZED)
		atomic_fetch_add((atomic_int *)arg, 1);
}

/* Wait up to ms for the resize events to reach want. */
static int
resize_wait(atomic_int *resized, int want, int ms)
{
	for (; ms > 0 && atomic_load(resized) < want; ms -= 10)
		usleep(10000);
	return (atomic_load(resized));
}

static void
image_size(struct xbdt *t, uint64_t bytes)
{
	int fd;

	assert_true((fd = open(t->t_img, O_RDWR)) >= 0);
	assert_int_equal(ftruncate(fd, (off_t)bytes), 0);
	close(fd);
}

/* With the size poll off, only xbb_dev_resize() tells the frontend. */
static void
test_resize(void **state)
{
	struct xbdt_opts fo = { .size = 4 * MiB };
	struct xbb_opts bo;
	struct xbd_opts o;
	struct xbd_info info;
	struct xbdt t;
	struct xbd_dev *dev;
	atomic_int resized = 0;
	char buf[4096];

	xbb_opts_init(&bo);
	bo.o_resize_poll_ms = 0;
	fo.xbb = &bo;
	SETUP(&t, &fo);
	xbd_opts_init(&o);
	o.o_event = resize_event;
	o.o_event_arg = &resized;
	assert_int_equal(xbdt_attach(&t, &o, &dev), 0);
	assert_int_equal(xbd_read(dev, buf, 4 * MiB, 4096), -EINVAL);
	image_size(&t, 8 * MiB);
	/* Longer than the default period: nobody looked. */
	assert_int_equal(resize_wait(&resized, 1, 1500), 0);
	assert_int_equal(xbb_dev_resize(t.t_xbb, 1, 51712), 0);
	assert_int_equal(resize_wait(&resized, 1, 2000), 1);
	xbd_get_info(dev, &info);
	assert_int_equal(info.xi_size, 8 * MiB);
	assert_int_equal(xbd_read(dev, buf, 4 * MiB, 4096), 0);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

/*
 * The default backend notices a grown image by itself, and a shrunk one
 * too (Linux blkback publishes both): the frontend's size follows and
 * I/O past the new end is refused before it reaches the backend.
 */
static void
test_resize_poll(void **state)
{
	struct xbdt_opts fo = { .size = 4 * MiB };
	struct xbd_opts o;
	struct xbd_info info;
	struct xbd_stats st;
	struct xbdt t;
	struct xbd_dev *dev;
	atomic_int resized = 0;
	char buf[4096];

	SETUP(&t, &fo);
	xbd_opts_init(&o);
	o.o_event = resize_event;
	o.o_event_arg = &resized;
	assert_int_equal(xbdt_attach(&t, &o, &dev), 0);
	image_size(&t, 8 * MiB);
	/* The default period is 1 s; allow a loaded machine 5. */
	assert_int_equal(resize_wait(&resized, 1, 5000), 1);
	xbd_get_info(dev, &info);
	assert_int_equal(info.xi_size, 8 * MiB);
	memset(buf, 0x6b, sizeof(buf));
	assert_int_equal(xbd_write(dev, buf, 6 * MiB, 4096), 0);
	assert_int_equal(xbd_read(dev, buf, 6 * MiB, 4096), 0);
	assert_int_equal(buf[4095], 0x6b);

	image_size(&t, 2 * MiB);
	assert_int_equal(resize_wait(&resized, 2, 5000), 2);
	xbd_get_info(dev, &info);
	assert_int_equal(info.xi_size, 2 * MiB);
	assert_int_equal(xbd_read(dev, buf, 2 * MiB, 4096), -EINVAL);
	assert_int_equal(xbd_read(dev, buf, 2 * MiB - 4096, 4096), 0);
	xbd_get_stats(dev, &st, sizeof(st));
	assert_int_equal(st.xst_resizes, 2);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

/* Requests up to 11 segments go direct, longer ones indirect. */
static void
test_indirect_selection(void **state)
{
	struct xbdt_opts fo = { .size = 4 * MiB };
	struct xbd_info info;
	struct xbd_stats st;
	struct xbd_opts o;
	struct xbdt t;
	struct xbd_dev *dev;
	static char buf[MiB], back[MiB];
	size_t i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i % 241);
	SETUP(&t, &fo);
	assert_int_equal(xbdt_attach(&t, NULL, &dev), 0);
	xbd_get_info(dev, &info);
	assert_true(info.xi_features & XBD_FEAT_INDIRECT);
	assert_int_equal(xbd_write(dev, buf, 0, 11 * 4096), 0);
	xbd_get_stats(dev, &st, sizeof(st));
	assert_int_equal(st.xst_indirect, 0);
	assert_int_equal(st.xst_splits, 0);
	assert_int_equal(xbd_write(dev, buf, 0, 12 * 4096), 0);
	xbd_get_stats(dev, &st, sizeof(st));
	assert_int_equal(st.xst_indirect, 1);
	assert_int_equal(st.xst_splits, 0);
	/* 1 MiB: 1020 KiB indirect, then 4 KiB direct. */
	assert_int_equal(xbd_write(dev, buf, 0, MiB), 0);
	xbd_get_stats(dev, &st, sizeof(st));
	assert_int_equal(st.xst_indirect, 2);
	assert_int_equal(st.xst_splits, 1);
	assert_int_equal(xbd_read(dev, back, 0, MiB), 0);
	assert_memory_equal(buf, back, MiB);
	xbd_detach(dev);

	/* The tunable: the backend's offer is ignored. */
	xbd_opts_init(&o);
	o.o_enable_indirect = false;
	assert_int_equal(xbdt_attach(&t, &o, &dev), 0);
	xbd_get_info(dev, &info);
	assert_false(info.xi_features & XBD_FEAT_INDIRECT);
	assert_int_equal(info.xi_max_request_segments, 11);
	assert_int_equal(info.xi_max_request_size, 10 * 4096);
	assert_int_equal(xbd_write(dev, buf, 0, 12 * 4096), 0);
	xbd_get_stats(dev, &st, sizeof(st));
	assert_int_equal(st.xst_splits, 1);
	/* 1 MiB in 40 KiB requests: 26 of them. */
	memset(back, 0, sizeof(back));
	assert_int_equal(xbd_read(dev, back, 0, MiB), 0);
	assert_memory_equal(buf, back, MiB);
	xbd_get_stats(dev, &st, sizeof(st));
	assert_int_equal(st.xst_splits, 1 + 25);
	assert_int_equal(st.xst_indirect, 0);
	assert_int_equal(st.xst_requests[BLKIF_OP_INDIRECT], 0);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

/* A disk with 4096-byte logical sectors, down to the image file. */
static void
test_4k_sectors(void **state)
{
	struct xbdt_opts fo = { .size = 4 * MiB };
	struct xbd_info info;
	struct xbb_opts bo;
	struct xbdt t;
	struct xbd_dev *dev;
	static char buf[16384], back[16384], zero[4096];
	int fd, i;

	xbb_opts_init(&bo);
	bo.o_sector_size = 4096;
	fo.xbb = &bo;
	SETUP(&t, &fo);
	assert_int_equal(xbdt_attach(&t, NULL, &dev), 0);
	xbd_get_info(dev, &info);
	assert_int_equal(info.xi_sector_size, 4096);
	assert_int_equal(info.xi_sectors, 4 * MiB / 512);
	assert_int_equal(info.xi_size, 4 * MiB);
	/* Anything not in whole 4096-byte sectors is refused. */
	assert_int_equal(xbd_read(dev, back, 0, 512), -EINVAL);
	assert_int_equal(xbd_read(dev, back, 512, 4096), -EINVAL);
	assert_int_equal(xbd_write(dev, buf, 4096, 2048), -EINVAL);
	for (i = 0; i < (int)sizeof(buf); i++)
		buf[i] = (char)(i * 13 + 5);
	assert_int_equal(xbd_write(dev, buf, 3 * 4096, sizeof(buf)), 0);
	assert_int_equal(xbd_flush(dev), 0);
	assert_int_equal(xbd_read(dev, back, 3 * 4096, sizeof(back)), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	/* The bytes landed where the sector numbers say. */
	assert_true((fd = open(t.t_img, O_RDONLY)) >= 0);
	memset(back, 0, sizeof(back));
	assert_int_equal(pread(fd, back, sizeof(back), 3 * 4096),
	    (ssize_t)sizeof(back));
	close(fd);
	assert_memory_equal(buf, back, sizeof(back));
	assert_true(info.xi_features & XBD_FEAT_DISCARD);
	assert_int_equal(xbd_discard(dev, 4 * 4096, 4096, false), 0);
	assert_int_equal(xbd_read(dev, back, 4 * 4096, 4096), 0);
	assert_memory_equal(back, zero, sizeof(zero));
	xbd_detach(dev);
	xbdt_teardown(&t);
}

/* A vbd is found by number and by its directory, relative or absolute. */
static void
test_attach_names(void **state)
{
	struct xbdt_opts fo = { .size = 4 * MiB };
	char fe[256], be[256], name[256];
	const char *names[3];
	struct xbd_info info;
	struct xbdt t;
	struct xbd_dev *dev;
	char buf[4096];
	int i;

	SETUP(&t, &fo);
	assert_int_equal(
	    xbus_vbd_paths(t.t_vbd, fe, sizeof(fe), be, sizeof(be)), 0);
	/* Relative names are under the domain's own directory. */
	snprintf(name, sizeof(name), "/local/domain/%u/",
	    t.t_vbd->v_frontend_id);
	assert_int_equal(strncmp(fe, name, strlen(name)), 0);
	names[0] = "51712";
	names[1] = fe + strlen(name);
	names[2] = fe;
	assert_string_equal(names[1], "device/vbd/51712");
	for (i = 0; i < 3; i++) {
		fprintf(stderr, "attach by \"%s\"\n", names[i]);
		assert_int_equal(
		    xbd_attach(xemb_plat(t.t_e), names[i], NULL, &dev), 0);
		xbd_get_info(dev, &info);
		assert_int_equal(info.xi_vdevice, 51712);
		assert_string_equal(info.xi_name, "xbd0");
		assert_int_equal(info.xi_state, 1);
		assert_int_equal(xbd_read(dev, buf, 0, sizeof(buf)), 0);
		xbd_detach(dev);
	}
	/* A vbd that does not exist. */
	assert_int_equal(xbd_attach(xemb_plat(t.t_e), "51728", NULL, &dev),
	    -ENOENT);
	xbdt_teardown(&t);
}

/* The toolstack unplugs a disk nobody has open: it closes at once. */
static void
test_backend_closing_unopened(void **state)
{
	struct xbdt_opts fo = { .size = 4 * MiB };
	struct xbdt t;
	struct xbd_dev *dev;
	char buf[4096], fe[256], be[256];
	int i;

	SETUP(&t, &fo);
	assert_int_equal(xbdt_attach(&t, NULL, &dev), 0);
	assert_int_equal(
	    xbus_vbd_paths(t.t_vbd, fe, sizeof(fe), be, sizeof(be)), 0);
	assert_int_equal(xbus_write(t.t_xs, XBT_NULL, be, "online", "0"), 0);
	assert_int_equal(xbus_write_state(t.t_xs, be, XenbusStateClosing), 0);
	for (i = 0; i < 500; i++) {
		if (xbus_read_state(t.t_xs, fe) == XenbusStateClosed)
			break;
		usleep(10000);
	}
	assert_int_equal(xbus_read_state(t.t_xs, fe), XenbusStateClosed);
	assert_int_equal(xbd_read(dev, buf, 0, sizeof(buf)), -ENXIO);
	assert_int_equal(xbd_open(dev), -ENXIO);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

/* With two queues negotiated, both rings carry requests. */
static void
test_multiqueue_rings(void **state)
{
	struct wl_opts wo = { .ops = 600,
		.qd = 16,
		.max_blocks = 8,
		.flush_pct = 2,
		.seed = 21 };
	struct xbdt_opts fo = { .size = 8 * MiB };
	struct xbd_softc *sc;
	struct xbd_info info;
	struct xbb_opts bo;
	struct xbd_opts o;
	struct xbdt t;
	struct xbd_dev *dev;
	RING_IDX prod[2];

	xbb_opts_init(&bo);
	bo.o_max_queues = 4;
	fo.xbb = &bo;
	SETUP(&t, &fo);
	xbd_opts_init(&o);
	o.o_max_queues = 2;
	/* Small rings, so the workload outgrows the first one. */
	o.o_max_ring_pages = 1;
	assert_int_equal(xbdt_attach(&t, &o, &dev), 0);
	xbd_get_info(dev, &info);
	assert_int_equal(info.xi_queues, 2);
	check_wl(dev, &wo);
	sc = &dev->xd_sc;
	XBD_LOCK(sc);
	prod[0] = sc->xbd_rings[0].rq_ring.xr_ring.req_prod_pvt;
	prod[1] = sc->xbd_rings[1].rq_ring.xr_ring.req_prod_pvt;
	XBD_UNLOCK(sc);
	fprintf(stderr, "requests: ring 0 %u, ring 1 %u\n", prod[0], prod[1]);
	assert_true(prod[0] > 0);
	assert_true(prod[1] > 0);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

/* Read one of the frontend's nodes; NULL when it does not exist. */
static char *
fe_node(struct xbdt *t, const char *fe, const char *node)
{
	char *v = NULL;

	if (xbus_read(t->t_xs, XBT_NULL, fe, node, &v) != 0)
		return (NULL);
	return (v);
}

/* Assert a frontend node's value (NULL: absent). */
static void
assert_fe_node(struct xbdt *t, const char *fe, const char *node,
    const char *want)
{
	char *v = fe_node(t, fe, node);

	if (want == NULL) {
		if (v != NULL)
			fail_msg("%s/%s is \"%s\", expected absent", fe, node,
			    v);
	} else {
		if (v == NULL)
			fail_msg("%s/%s absent, expected \"%s\"", fe, node,
			    want);
		assert_string_equal(v, want);
	}
	free(v);
}

/* The transport nodes, for a one-page ring and for a multi-page one. */
static void
test_xenstore_nodes(void **state)
{
	struct xbdt_opts fo = { .size = 4 * MiB };
	char fe[256], be[256], *v;
	struct xbd_opts o;
	struct xbdt t;
	struct xbd_dev *dev;

	SETUP(&t, &fo);
	assert_int_equal(
	    xbus_vbd_paths(t.t_vbd, fe, sizeof(fe), be, sizeof(be)), 0);
	/* 32 pages: both schemes, ring-ref0..31, never plain ring-ref. */
	assert_int_equal(xbdt_attach(&t, NULL, &dev), 0);
	assert_fe_node(&t, fe, "ring-page-order", "5");
	assert_fe_node(&t, fe, "num-ring-pages", "32");
	assert_non_null(v = fe_node(&t, fe, "ring-ref0"));
	free(v);
	assert_non_null(v = fe_node(&t, fe, "ring-ref31"));
	free(v);
	assert_fe_node(&t, fe, "ring-ref32", NULL);
	assert_fe_node(&t, fe, "ring-ref", NULL);
	assert_fe_node(&t, fe, "protocol", XEN_IO_PROTO_ABI_NATIVE);
	assert_non_null(v = fe_node(&t, fe, "event-channel"));
	free(v);
	xbd_detach(dev);
	xbdt_teardown(&t);

	/* One page: ring-ref only. */
	SETUP(&t, &fo);
	xbd_opts_init(&o);
	o.o_max_ring_pages = 1;
	assert_int_equal(xbdt_attach(&t, &o, &dev), 0);
	assert_non_null(v = fe_node(&t, fe, "ring-ref"));
	free(v);
	assert_fe_node(&t, fe, "ring-ref0", NULL);
	assert_fe_node(&t, fe, "ring-page-order", NULL);
	assert_fe_node(&t, fe, "num-ring-pages", NULL);
	assert_fe_node(&t, fe, "protocol", XEN_IO_PROTO_ABI_NATIVE);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

/*
 * A re-attach with fewer queues and ring pages leaves none of the first
 * connection's nodes behind: Linux blkback reads a stale
 * multi-queue-num-queues or ring-page-order as the new connection's.
 */
static void
test_reattach_smaller(void **state)
{
	struct xbdt_opts fo = { .size = 4 * MiB };
	struct xbd_opts o;
	struct xbd_info info;
	struct xbdt t;
	struct xbd_dev *dev;
	char fe[XBUS_PATH_MAX], be[XBUS_PATH_MAX], *v;
	char buf[4096] = { 0 };

	SETUP(&t, &fo);
	assert_int_equal(
	    xbus_vbd_paths(t.t_vbd, fe, sizeof(fe), be, sizeof(be)), 0);
	xbd_opts_init(&o);
	o.o_max_queues = 2;
	assert_int_equal(xbdt_attach(&t, &o, &dev), 0);
	assert_int_equal(
	    xbus_read(t.t_xs, XBT_NULL, fe, "multi-queue-num-queues", &v), 0);
	free(v);
	xbd_detach(dev);

	xbd_opts_init(&o);
	o.o_max_ring_pages = 1;
	assert_int_equal(xbdt_attach(&t, &o, &dev), 0);
	xbd_get_info(dev, &info);
	assert_int_equal(info.xi_queues, 1);
	assert_int_equal(info.xi_ring_pages, 1);
	assert_int_equal(
	    xbus_read(t.t_xs, XBT_NULL, fe, "multi-queue-num-queues", &v),
	    -ENOENT);
	assert_int_equal(xbus_read(t.t_xs, XBT_NULL, fe, "ring-page-order", &v),
	    -ENOENT);
	assert_int_equal(xbus_read(t.t_xs, XBT_NULL, fe, "queue-0", &v),
	    -ENOENT);
	assert_int_equal(xbus_read(t.t_xs, XBT_NULL, fe, "ring-ref0", &v),
	    -ENOENT);
	assert_int_equal(xbd_write(dev, buf, 0, sizeof(buf)), 0);
	assert_int_equal(xbd_read(dev, buf, 0, sizeof(buf)), 0);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_feature_matrix),
		cmocka_unit_test(test_barrier_emulation),
		cmocka_unit_test(test_flush_variants),
		cmocka_unit_test(test_cm_shortage),
		cmocka_unit_test(test_gnt_shortage),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_untrusted_bounce),
		cmocka_unit_test(test_zero_copy),
		cmocka_unit_test(test_suspend_resume),
		cmocka_unit_test(test_backend_closing_open),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_resize_poll),
		cmocka_unit_test(test_indirect_selection),
		cmocka_unit_test(test_4k_sectors),
		cmocka_unit_test(test_attach_names),
		cmocka_unit_test(test_backend_closing_unopened),
		cmocka_unit_test(test_multiqueue_rings),
		cmocka_unit_test(test_xenstore_nodes),
		cmocka_unit_test(test_reattach_smaller),
	};

	/* An argument runs only the tests it matches (while debugging). */
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
