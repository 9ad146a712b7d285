/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the backend against the scripted frontend on the
 * simulated platform, feature by feature: the XenBus handshake and the
 * nodes published (512-byte `sectors`), reconnection after Closed,
 * every operation (read, write, flush, barrier, discard on a sparse
 * file, indirect up to the advertised limit, unknown operations), rings
 * of 1 to 32 pages in both naming schemes, multi-queue, the x86_32 ABI,
 * read-only vbds, persistent grants (on, off, a cache small enough to
 * evict), grant copy instead of map, O_DIRECT with sub-page segments,
 * a 4 KiB sector size, a loop block device with 4 KiB blocks opened
 * O_DIRECT (bounced segments, BLKDISCARD), online resize, online=0
 * removal, the closing order (rings kept while the frontend is Closing)
 * and a frontend that goes straight to Connected.
 */

#include <sys/ioctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "xbbt_front.h"
#include "xt.h"
#include "xt_loop.h"

#define XVDA 51712u
#define IMG_SIZE (8u << 20)

struct fixture {
	struct xbbt_machine m; /* machine and backend */
	char img[512];	       /* the image of XVDA */
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(xbbt_machine_start(&fx->m), 0);
	xbbt_image(&fx->m, "xvda.img", IMG_SIZE, fx->img, sizeof(fx->img));
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	xbbt_machine_stop(&fx->m);
	unlink(fx->img);
	free(fx);
	return (0);
}

/* Start the backend with o (NULL: defaults) and create XVDA. */
static void
serve(struct fixture *fx, const struct xbb_opts *o, bool ro)
{
	struct xbbt_vbd v = { XVDA, fx->img, ro, false, false };

	assert_int_equal(xbbt_backend_start(&fx->m, o), 0);
	assert_int_equal(xbbt_vbd_add(&fx->m, &v), 0);
}

static void
unserve(struct fixture *fx)
{
	xbbt_backend_stop(&fx->m);
	xbbt_vbd_destroy(&fx->m, XVDA);
}

static uint64_t
be_node(struct fixture *fx, const char *node)
{
	char dir[128];
	uint64_t v = UINT64_MAX;

	xbbt_bedir(XVDA, dir, sizeof(dir));
	assert_int_equal(
	    xbus_read_u64(fx->m.m_xs, XBT_NULL, dir, node, UINT64_MAX, &v), 0);
	return (v);
}

/* Write a pattern, read it back, compare with the image itself. */
static void
rw_check(struct xbbt_front *f, const char *img, unsigned int q, uint64_t sector,
    uint32_t nsect, unsigned int flags, uint64_t seed)
{
	size_t len = (size_t)nsect * XBD_SECTOR_SIZE;
	uint8_t *w = malloc(len), *r = malloc(len), *d = malloc(len);

	assert_non_null(w);
	assert_non_null(r);
	assert_non_null(d);
	xbbt_pattern(w, len, seed);
	assert_int_equal(xbbt_rw(f, q, BLKIF_OP_WRITE, sector, nsect, w, flags),
	    BLKIF_RSP_OKAY);
	memset(r, 0, len);
	assert_int_equal(xbbt_rw(f, q, BLKIF_OP_READ, sector, nsect, r, flags),
	    BLKIF_RSP_OKAY);
	assert_memory_equal(w, r, len);
	xbbt_file_read(img, sector * XBD_SECTOR_SIZE, d, len);
	assert_memory_equal(w, d, len);
	free(w);
	free(r);
	free(d);
}

static void
test_handshake(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front f;
	struct xbb_stats st;

	serve(fx, NULL, false);
	assert_int_equal(
	    xbbt_wait_be(&fx->m, XVDA, XenbusStateInitWait, XBBT_TIMEOUT_MS),
	    0);
	/* What a backend offers before the frontend chooses. */
	assert_int_equal(be_node(fx, "feature-flush-cache"), 1);
	assert_int_equal(be_node(fx, "feature-barrier"), 1);
	assert_int_equal(be_node(fx, "feature-persistent"), 1);
	assert_int_equal(be_node(fx, "feature-max-indirect-segments"), 256);
	assert_int_equal(be_node(fx, "max-ring-page-order"), 5);
	assert_int_equal(be_node(fx, "max-ring-pages"), 32);
	assert_int_equal(be_node(fx, "multi-queue-max-queues"), 4);
	if (be_node(fx, "feature-discard") == 1) {
		assert_int_equal(be_node(fx, "discard-granularity") % 512, 0);
		assert_int_equal(be_node(fx, "discard-alignment"), 0);
		assert_int_equal(be_node(fx, "discard-secure"), 0);
	}
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	/* 512-byte units, whatever the sector size. */
	assert_int_equal(f.f_sectors, IMG_SIZE / 512);
	assert_int_equal(f.f_sector_size, 512);
	assert_true(f.f_phys_size >= 512);
	assert_int_equal(f.f_info, 0);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_state, XenbusStateConnected);
	assert_int_equal(st.st_rings, 1);
	assert_int_equal(st.st_ring_pages, 1);
	assert_int_equal(st.st_abi, 0);
	assert_int_equal(st.st_connects, 1);
	rw_check(&f, fx->img, 0, 0, 8, 0, 1);
	xbbt_front_close(&f);
	/* online=1: the device stays and a new frontend reconnects. */
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	rw_check(&f, fx->img, 0, 64, 16, 0, 2);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_connects, 2);
	/* Counters survive the reconnection. */
	assert_true(st.st_req_write >= 2 && st.st_req_read >= 2);
	xbbt_front_close(&f);
	unserve(fx);
}

static void
test_ops(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front f;
	struct xbb_stats st;
	struct stat sb;
	uint8_t *buf;
	int fd;

	serve(fx, NULL, false);
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	/* Reads and writes of every direct size, whole and sub-page. */
	rw_check(&f, fx->img, 0, 8, 1, 0, 10);
	rw_check(&f, fx->img, 0, 100, 88, 0, 11);
	rw_check(&f, fx->img, 0, 300, 40, XBBT_SUB | XBBT_DIRECT, 12);
	rw_check(&f, fx->img, 0, IMG_SIZE / 512 - 8, 8, 0, 13);
	/* Indirect, up to the advertised 256 segments (1 MiB). */
	rw_check(&f, fx->img, 0, 2048, 8, XBBT_INDIRECT, 14);
	rw_check(&f, fx->img, 0, 4096, 256 * 8, 0, 15);
	rw_check(&f, fx->img, 0, 8192, 200, XBBT_SUB | XBBT_INDIRECT, 16);
	/* Flush and barrier, empty and carrying data. */
	assert_int_equal(xbbt_nodata(&f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_OKAY);
	assert_int_equal(xbbt_nodata(&f, 0, BLKIF_OP_WRITE_BARRIER),
	    BLKIF_RSP_OKAY);
	buf = malloc(64 * 512);
	assert_non_null(buf);
	xbbt_pattern(buf, 32 * 512, 17);
	assert_int_equal(
	    xbbt_rw(&f, 0, BLKIF_OP_FLUSH_DISKCACHE, 512, 32, buf, 0),
	    BLKIF_RSP_OKAY);
	assert_int_equal(
	    xbbt_rw(&f, 0, BLKIF_OP_WRITE_BARRIER, 640, 32, buf, 0),
	    BLKIF_RSP_OKAY);
	xbbt_file_read(fx->img, 512 * 512, buf + 32 * 512, 32 * 512);
	assert_memory_equal(buf, buf + 32 * 512, 32 * 512);
	xbbt_file_read(fx->img, 640 * 512, buf + 32 * 512, 32 * 512);
	assert_memory_equal(buf, buf + 32 * 512, 32 * 512);
	free(buf);
	/* Discard punches a hole in the sparse image. */
	if (f.f_discard) {
		rw_check(&f, fx->img, 0, 1024, 256, 0, 18);
		fd = open(fx->img, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_true(lseek(fd, 1024 * 512, SEEK_HOLE) > 1024 * 512);
		assert_int_equal(xbbt_discard(&f, 0, 1024, 256, 0),
		    BLKIF_RSP_OKAY);
		assert_true(lseek(fd, 1024 * 512, SEEK_HOLE) == 1024 * 512);
		assert_int_equal(fstat(fd, &sb), 0);
		assert_true(sb.st_size == IMG_SIZE);
		close(fd);
		/* Secure discard is not offered on a file. */
		assert_int_equal(
		    xbbt_discard(&f, 0, 1024, 8, BLKIF_DISCARD_SECURE),
		    BLKIF_RSP_EOPNOTSUPP);
		assert_int_equal(xbbt_discard(&f, 0, IMG_SIZE / 512, 8, 0),
		    BLKIF_RSP_ERROR);
	}
	/* Unknown operations and ranges beyond the end. */
	assert_int_equal(xbbt_nodata(&f, 0, BLKIF_OP_RESERVED_1),
	    BLKIF_RSP_EOPNOTSUPP);
	assert_int_equal(xbbt_nodata(&f, 0, 200), BLKIF_RSP_EOPNOTSUPP);
	buf = calloc(1, 8 * 512);
	assert_non_null(buf);
	assert_int_equal(
	    xbbt_rw(&f, 0, BLKIF_OP_READ, IMG_SIZE / 512 - 7, 8, buf, 0),
	    BLKIF_RSP_ERROR);
	free(buf);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_true(st.st_req_indirect >= 3);
	assert_true(st.st_req_flush >= 2 && st.st_req_barrier >= 2);
	assert_int_equal(st.st_req_other, 2);
	assert_true(st.st_err_eopnotsupp >= 2);
	assert_true(st.st_err_bad_request >= 1);
	assert_true(st.st_bytes_written >= 256 * 4096);
	assert_int_equal(st.st_in_flight, 0);
	assert_true(st.st_uring_enter > 0 && st.st_uring_sqes > 0);
	xbbt_front_close(&f);
	unserve(fx);
}

/* Fill the whole ring with reads, then take every response. */
static void
ring_full(struct xbbt_front *f, unsigned int q)
{
	struct xbbt_io **io;
	struct blkif_response rsp;
	unsigned int i, n = f->f_rings[q].r_slots, seen = 0;
	uint8_t *hit;

	io = calloc(n, sizeof(*io));
	hit = calloc(n, 1);
	assert_non_null(io);
	assert_non_null(hit);
	for (i = 0; i < n; i++)
		assert_int_equal(xbbt_rw_start(f, q, &io[i], BLKIF_OP_READ,
				     (uint64_t)i * 8, 8, NULL, 0),
		    0);
	xbbt_push(f, q);
	for (i = 0; i < n; i++) {
		assert_int_equal(xbbt_wait(f, q, &rsp, XBBT_TIMEOUT_MS), 0);
		assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
		assert_true(
		    rsp.id >= io[0]->io_id && rsp.id < io[0]->io_id + n);
		assert_int_equal(hit[rsp.id - io[0]->io_id], 0);
		hit[rsp.id - io[0]->io_id] = 1;
		seen++;
	}
	assert_int_equal(seen, n);
	for (i = 0; i < n; i++)
		xbbt_rw_end(f, io[i], NULL);
	free(io);
	free(hit);
}

static void
test_ring_sizes(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_fopts o;
	struct xbbt_front f;
	struct xbb_stats st;
	unsigned int pages, scheme;

	serve(fx, NULL, false);
	for (scheme = 0; scheme < 2; scheme++) {
		for (pages = 1; pages <= 32; pages <<= 1) {
			memset(&o, 0, sizeof(o));
			o.fo_pages = pages;
			o.fo_num_ring_pages = scheme == 1;
			o.fo_data_pages = 1024 + 64;
			assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, &o),
			    0);
			assert_int_equal(xbbt_front_connect(&f), 0);
			xbbt_stats(&fx->m, XVDA, &st);
			assert_int_equal(st.st_ring_pages, pages);
			assert_int_equal(f.f_rings[0].r_slots,
			    xring_slots(pages));
			ring_full(&f, 0);
			ring_full(&f, 0);
			/* Never more in flight than the ring has slots. */
			assert_int_equal(xbb_ring_stats(fx->m.m_xbb, XBBT_FE,
					     XVDA, 0, &st, sizeof(st)),
			    0);
			assert_true(st.st_in_flight_max <= xring_slots(pages));
			/* Counter gates: batching, not one system call or
			   notification per request. */
			assert_true(
			    st.st_uring_enter <= st.st_req_read / 2 + 8);
			assert_true(
			    st.st_notify_sent <= st.st_req_read / 2 + 4);
			assert_int_equal(st.st_req_read,
			    2 * xring_slots(pages));
			xbbt_front_close(&f);
		}
	}
	unserve(fx);
}

static void
test_multiqueue(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_fopts o;
	struct xbbt_front f;
	struct xbb_stats st;
	unsigned int q;

	serve(fx, NULL, false);
	memset(&o, 0, sizeof(o));
	o.fo_queues = 4;
	o.fo_pages = 2;
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, &o), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	for (q = 0; q < 4; q++)
		rw_check(&f, fx->img, q, 1000 + q * 64, 64, 0, 30 + q);
	for (q = 0; q < 4; q++) {
		assert_int_equal(xbb_ring_stats(fx->m.m_xbb, XBBT_FE, XVDA, q,
				     &st, sizeof(st)),
		    0);
		assert_int_equal(st.st_req_write, 1);
		assert_int_equal(st.st_req_read, 1);
		assert_int_equal(st.st_ring_pages, 2);
	}
	assert_int_equal(
	    xbb_ring_stats(fx->m.m_xbb, XBBT_FE, XVDA, 4, &st, sizeof(st)),
	    -ENOENT);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_rings, 4);
	assert_int_equal(st.st_req_write, 4);
	/* A short (older) stats struct gets only what it has room for. */
	memset(&st, 0xff, sizeof(st));
	assert_int_equal(xbb_dev_stats(fx->m.m_xbb, XBBT_FE, XVDA, &st,
			     offsetof(struct xbb_stats, st_connects)),
	    0);
	assert_int_equal(st.st_state, XenbusStateConnected);
	assert_true(st.st_connects == UINT64_MAX);
	xbbt_front_close(&f);
	unserve(fx);
}

static void
test_x86_32(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_fopts o;
	struct xbbt_front f;
	struct xbb_stats st;

	serve(fx, NULL, false);
	memset(&o, 0, sizeof(o));
	o.fo_x86_32 = true;
	o.fo_pages = 4;
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, &o), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	assert_int_equal(f.f_rings[0].r_slot, 108);
	rw_check(&f, fx->img, 0, 16, 88, 0, 40);
	rw_check(&f, fx->img, 0, 4000, 160, XBBT_SUB, 41);
	rw_check(&f, fx->img, 0, 6000, 8, XBBT_INDIRECT, 42);
	ring_full(&f, 0);
	assert_int_equal(xbbt_nodata(&f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_OKAY);
	if (f.f_discard)
		assert_int_equal(xbbt_discard(&f, 0, 4000, 16, 0),
		    BLKIF_RSP_OKAY);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_abi, 1);
	assert_int_equal(st.st_err_bad_request, 0);
	xbbt_front_close(&f);
	unserve(fx);
}

static void
test_readonly(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front f;
	struct xbb_stats st;
	uint8_t buf[4096];

	serve(fx, NULL, true);
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	assert_int_equal(f.f_info & VDISK_READONLY, VDISK_READONLY);
	assert_false(f.f_discard);
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_READ, 0, 8, buf, 0),
	    BLKIF_RSP_OKAY);
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_WRITE, 0, 8, buf, 0),
	    BLKIF_RSP_ERROR);
	assert_int_equal(
	    xbbt_rw(&f, 0, BLKIF_OP_WRITE, 0, 8, buf, XBBT_INDIRECT),
	    BLKIF_RSP_ERROR);
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_FLUSH_DISKCACHE, 0, 8, buf, 0),
	    BLKIF_RSP_ERROR);
	assert_int_equal(xbbt_nodata(&f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_OKAY);
	assert_int_equal(xbbt_discard(&f, 0, 0, 8, 0), BLKIF_RSP_EOPNOTSUPP);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_readonly, 1);
	assert_int_equal(st.st_err_readonly, 3);
	assert_int_equal(st.st_bytes_written, 0);
	xbbt_front_close(&f);
	unserve(fx);
}

static void
test_persistent(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_fopts o;
	struct xbbt_front f;
	struct xbb_opts bo;
	struct xbb_stats st;
	unsigned int i;

	/* On: grants stay mapped and are reused. */
	serve(fx, NULL, false);
	memset(&o, 0, sizeof(o));
	o.fo_persistent = true;
	o.fo_data_pages = 64;
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, &o), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	assert_true(f.f_be_persistent);
	for (i = 0; i < 20; i++)
		rw_check(&f, fx->img, 0, i * 64, 64, i % 2 ? XBBT_SUB : 0,
		    50 + i);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_persistent, 1);
	assert_true(st.st_pgrants > 0 && st.st_pgrants <= 64);
	assert_true(st.st_pgrant_hits > st.st_pgrant_misses);
	assert_int_equal(st.st_pgrant_evictions, 0);
	/* Closing unmaps them all: the frontend's ends succeed. */
	xbbt_front_close(&f);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_pgrants, 0);
	/* Off when the frontend does not ask. */
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	rw_check(&f, fx->img, 0, 0, 64, 0, 70);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_persistent, 0);
	assert_int_equal(st.st_pgrants, 0);
	xbbt_front_close(&f);
	unserve(fx);
	/* A cache of 8 with 64 pages in use: least recently used out. */
	xbb_opts_init(&bo);
	bo.o_max_persistent = 8;
	serve(fx, &bo, false);
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, &o), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	for (i = 0; i < 10; i++)
		rw_check(&f, fx->img, 0, i * 128, 128, 0, 80 + i);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_true(st.st_pgrants <= 8);
	assert_true(st.st_pgrant_evictions > 0 || st.st_pgrant_full > 0);
	xbbt_front_close(&f);
	unserve(fx);
}

/*
 * A platform that cannot map foreign grants (only copy them): the backend
 * copies on its own, without being told; one that can do neither is
 * refused at start.
 */
static void
test_copy_only_platform(void **state)
{
	struct fixture *fx = *state;
	const struct plat_ops *saved = fx->m.m_be->pl_ops;
	struct plat_ops ops = *saved;
	struct xbbt_front f;
	struct xbb_stats st;
	struct xbb *b;

	ops.po_caps &= ~PLAT_CAP_GNT_MAP;
	fx->m.m_be->pl_ops = &ops;
	serve(fx, NULL, false);
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	rw_check(&f, fx->img, 0, 0, 88, 0, 93);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_grant_copy, 1);
	assert_true(st.st_copies > 0);
	assert_int_equal(st.st_maps, 0);
	xbbt_front_close(&f);
	unserve(fx);

	ops.po_caps &= ~PLAT_CAP_GNT_COPY;
	assert_int_equal(xbb_start(fx->m.m_be, NULL, &b), -EOPNOTSUPP);
	fx->m.m_be->pl_ops = saved;
}

static void
test_grant_copy(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_fopts o;
	struct xbbt_front f;
	struct xbb_opts bo;
	struct xbb_stats st;

	xbb_opts_init(&bo);
	bo.o_grant_copy = true;
	serve(fx, &bo, false);
	assert_int_equal(
	    xbbt_wait_be(&fx->m, XVDA, XenbusStateInitWait, XBBT_TIMEOUT_MS),
	    0);
	assert_int_equal(be_node(fx, "feature-persistent"), 0);
	memset(&o, 0, sizeof(o));
	o.fo_persistent = true; /* asked, not granted */
	o.fo_pages = 2;
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, &o), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	rw_check(&f, fx->img, 0, 0, 88, 0, 90);
	rw_check(&f, fx->img, 0, 200, 77, XBBT_SUB, 91);
	rw_check(&f, fx->img, 0, 1000, 1024, XBBT_SUB | XBBT_INDIRECT, 92);
	ring_full(&f, 0);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_grant_copy, 1);
	assert_int_equal(st.st_persistent, 0);
	assert_true(st.st_copies > 0);
	/* Only ring pages are ever mapped, no data page. */
	assert_int_equal(st.st_maps, 0);
	xbbt_front_close(&f);
	unserve(fx);
}

static void
test_direct(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front f;
	struct xbb_opts bo;
	struct xbb_stats st;

	xbb_opts_init(&bo);
	bo.o_direct = true;
	serve(fx, &bo, false);
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	rw_check(&f, fx->img, 0, 0, 64, 0, 100);
	rw_check(&f, fx->img, 0, 512, 96, XBBT_SUB, 101);
	rw_check(&f, fx->img, 0, 2048, 800, XBBT_SUB | XBBT_INDIRECT, 102);
	xbbt_stats(&fx->m, XVDA, &st);
	/* O_DIRECT where the file system takes it, buffered elsewhere. */
	if (st.st_direct)
		assert_int_equal(st.st_sector_size % 512, 0);
	xbbt_front_close(&f);
	unserve(fx);
}

static void
test_sector_4k(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front f;
	struct xbb_opts bo;
	uint8_t *buf = malloc(64 * 512);

	assert_non_null(buf);
	xbb_opts_init(&bo);
	bo.o_sector_size = 4096;
	serve(fx, &bo, false);
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	assert_int_equal(f.f_sector_size, 4096);
	assert_true(f.f_phys_size >= 4096);
	/* Still 512-byte units: the size does not change. */
	assert_int_equal(f.f_sectors, IMG_SIZE / 512);
	rw_check(&f, fx->img, 0, 8, 16, 0, 110);
	/* Not aligned to 4 KiB: refused. */
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_WRITE, 4, 8, buf, 0),
	    BLKIF_RSP_ERROR);
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_READ, 8, 4, buf, 0),
	    BLKIF_RSP_ERROR);
	if (f.f_discard) {
		assert_int_equal(f.f_discard_gran % 4096, 0);
		assert_int_equal(xbbt_discard(&f, 0, 4, 8, 0), BLKIF_RSP_ERROR);
	}
	free(buf);
	xbbt_front_close(&f);
	unserve(fx);
}

static void
test_resize(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front f;
	struct xbb_stats st;

	serve(fx, NULL, false);
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_READ, IMG_SIZE / 512, 8,
			     (uint8_t[4096]) { 0 }, 0),
	    BLKIF_RSP_ERROR);
	/* Unchanged size: nothing to do. */
	assert_int_equal(xbb_dev_resize(fx->m.m_xbb, XBBT_FE, XVDA), 0);
	assert_int_equal(truncate(fx->img, 2 * IMG_SIZE), 0);
	xbbt_front_state(&f, XenbusStateConnected);
	assert_int_equal(xbb_dev_resize(fx->m.m_xbb, XBBT_FE, XVDA), 0);
	assert_int_equal(xbbt_front_sectors(&f), 2 * IMG_SIZE / 512);
	assert_int_equal(xbus_read_state(fx->m.m_xs, f.f_bedir),
	    XenbusStateConnected);
	rw_check(&f, fx->img, 0, IMG_SIZE / 512, 64, 0, 120);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_sectors, 2 * IMG_SIZE / 512);
	assert_int_equal(xbb_dev_resize(fx->m.m_xbb, XBBT_FE, 9999), -ENOENT);
	xbbt_front_close(&f);
	unserve(fx);
	assert_int_equal(truncate(fx->img, IMG_SIZE), 0);
}

struct remover {
	struct xbbt_machine *m;
	int rc;
};

static void *
remover_main(void *arg)
{
	struct remover *r = arg;
	struct xbus_vbd v;

	memset(&v, 0, sizeof(v));
	v.v_frontend_id = XBBT_FE;
	v.v_backend_id = XBBT_BE;
	v.v_vdev = XVDA;
	v.v_kind = "vbd";
	v.v_params = "-";
	r->rc = xbus_vbd_remove(r->m->m_xs, &v, XBBT_TIMEOUT_MS, false);
	return (NULL);
}

/* Does this process still hold path open? */
static bool
holds_open(const char *path)
{
	char link[64], target[512];
	ssize_t n;
	int fd;

	for (fd = 0; fd < 1024; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		if ((n = readlink(link, target, sizeof(target) - 1)) <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, path) == 0)
			return (true);
	}
	return (false);
}

static void
test_removal(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front f;
	struct xbb_stats st;
	struct remover rm = { &fx->m, -1 };
	pthread_t t;
	char real[PATH_MAX];
	int i;

	assert_non_null(realpath(fx->img, real));
	serve(fx, NULL, false);
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	rw_check(&f, fx->img, 0, 0, 8, 0, 130);
	assert_true(holds_open(real));
	/* libxl's unplug: online=0 and Closing; the frontend closes. */
	assert_int_equal(pthread_create(&t, NULL, remover_main, &rm), 0);
	assert_int_equal(
	    xbbt_wait_be(&fx->m, XVDA, XenbusStateClosing, XBBT_TIMEOUT_MS), 0);
	/* The backend still serves until the frontend leaves Connected. */
	rw_check(&f, fx->img, 0, 8, 8, 0, 131);
	xbbt_front_close(&f);
	pthread_join(t, NULL);
	assert_int_equal(rm.rc, 0);
	/* Released, then forgotten once the directory went. */
	for (i = 0; i < 500; i++) {
		if (xbb_dev_stats(fx->m.m_xbb, XBBT_FE, XVDA, &st,
			sizeof(st)) == -ENOENT)
			break;
		usleep(10000);
	}
	assert_int_equal(
	    xbb_dev_stats(fx->m.m_xbb, XBBT_FE, XVDA, &st, sizeof(st)),
	    -ENOENT);
	assert_false(holds_open(real));
	unserve(fx);
}

static void
test_blockdev_direct(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_vbd v = { XVDA, NULL, false, false, false };
	struct xbbt_front f;
	struct xbb_opts bo;
	struct xbb_stats st;
	char dev[64];
	int lfd, fd;

	/* A block device with 4 KiB logical blocks, opened O_DIRECT:
	   sub-page segments must be bounced, discard is BLKDISCARD. */
	if ((lfd = xt_loop_setup(fx->img, dev, sizeof(dev))) < 0)
		skip();
	xbb_opts_init(&bo);
	bo.o_direct = true;
	assert_int_equal(xbbt_backend_start(&fx->m, &bo), 0);
	v.v_params = dev;
	assert_int_equal(xbbt_vbd_add(&fx->m, &v), 0);
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	assert_int_equal(f.f_sector_size, 4096);
	assert_int_equal(f.f_sectors, IMG_SIZE / 512);
	rw_check(&f, fx->img, 0, 64, 64, 0, 160);
	rw_check(&f, fx->img, 0, 256, 128, XBBT_SUB, 161);
	rw_check(&f, fx->img, 0, 1024, 512, XBBT_SUB | XBBT_INDIRECT, 162);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_direct, 1);
	assert_true(st.st_bounce_bytes > 0);
	if (f.f_discard) {
		rw_check(&f, fx->img, 0, 2048, 256, 0, 163);
		assert_int_equal(xbbt_discard(&f, 0, 2048, 256, 0),
		    BLKIF_RSP_OKAY);
		fd = open(fx->img, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_true(lseek(fd, 2048 * 512, SEEK_HOLE) == 2048 * 512);
		close(fd);
		/* Secure discard is not offered unless vouched for. */
		assert_false(f.f_secure);
		assert_int_equal(
		    xbbt_discard(&f, 0, 2048, 8, BLKIF_DISCARD_SECURE),
		    BLKIF_RSP_EOPNOTSUPP);
	}
	xbbt_front_close(&f);
	unserve(fx);
	(void)ioctl(lfd, LOOP_CLR_FD, 0);
	close(lfd);
}

static void
test_close_order(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front f;
	struct hv_dom_usage u;

	serve(fx, NULL, false);
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	/* Closing is mirrored, but the rings stay while it finishes. */
	xbbt_front_state(&f, XenbusStateClosing);
	assert_int_equal(
	    xbbt_wait_be(&fx->m, XVDA, XenbusStateClosing, XBBT_TIMEOUT_MS), 0);
	rw_check(&f, fx->img, 0, 0, 16, 0, 150);
	usleep(50000);
	assert_int_equal(xbus_read_state(fx->m.m_xs, f.f_bedir),
	    XenbusStateClosing);
	assert_int_equal(hv_domain_usage(fx->m.m_hv, XBBT_BE, &u), 0);
	assert_int_equal(u.du_mapped, 1);
	/* Closed: torn down, then Closed. */
	xbbt_front_state(&f, XenbusStateClosed);
	assert_int_equal(
	    xbbt_wait_be(&fx->m, XVDA, XenbusStateClosed, XBBT_TIMEOUT_MS), 0);
	assert_int_equal(hv_domain_usage(fx->m.m_hv, XBBT_BE, &u), 0);
	assert_int_equal(u.du_mapped, 0);
	xbbt_front_close(&f);
	unserve(fx);
}

static void
test_straight_connected(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_fopts o;
	struct xbbt_front f;

	/* Mirage and Unikraft skip Initialised. */
	serve(fx, NULL, false);
	memset(&o, 0, sizeof(o));
	o.fo_straight_connected = true;
	o.fo_protocol = ""; /* and Unikraft writes no protocol */
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, &o), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	rw_check(&f, fx->img, 0, 0, 24, 0, 140);
	xbbt_front_close(&f);
	unserve(fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_sizes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_multiqueue, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_x86_32, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_copy_only_platform, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_grant_copy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sector_4k, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_resize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blockdev_direct, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_close_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_straight_connected, setup,
		    teardown),
	};

	xbbt_require_uring();
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
