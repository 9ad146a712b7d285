/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the backend's data-integrity contract (docs/reliability.md 5.3,
 * catalogue D3, D4, D7, D8): a failed write puts the device in a failed
 * state in which every later write, discard, flush and barrier is ERROR
 * and never OKAY again, not even after the frontend reconnects (D3,
 * fsyncgate; the fault is injected by swapping the image's descriptor
 * for a read-only one), except that a write refused for lack of space
 * fails alone, is logged once and stops failing once space is back (a
 * full tmpfs where mounting is allowed);
 * short transfers are resubmitted and a transfer that cannot complete is
 * an error, never silent zeros (D4); a flush carrying data is flush,
 * write, flush (three io_uring operations); a barrier waits for every
 * earlier request and holds back every later one (D7/D8, observed in the
 * order of the responses).
 */

#include <sys/mount.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "xbbt_front.h"
#include "xt.h"

#define XVDA 51712u
#define IMG_SIZE (4u << 20)

struct fixture {
	struct xbbt_machine m; /* machine and backend */
	char img[512];	       /* the image */
	struct xbbt_front f;   /* the connected frontend */
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct xbb_opts bo;
	struct xbbt_vbd v;

	assert_non_null(fx);
	assert_int_equal(xbbt_machine_start(&fx->m), 0);
	xbbt_image(&fx->m, "xvda.img", IMG_SIZE, fx->img, sizeof(fx->img));
	/*
	 * test_short_read shrinks the image under a backend that has not
	 * noticed yet: its size poll must not notice either.
	 */
	xbb_opts_init(&bo);
	bo.o_resize_poll_ms = 0;
	assert_int_equal(xbbt_backend_start(&fx->m, &bo), 0);
	memset(&v, 0, sizeof(v));
	v.v_vdev = XVDA;
	v.v_params = fx->img;
	assert_int_equal(xbbt_vbd_add(&fx->m, &v), 0);
	assert_int_equal(xbbt_front_open(&fx->f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(&fx->f), 0);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	xbbt_front_close(&fx->f);
	xbbt_machine_stop(&fx->m);
	unlink(fx->img);
	free(fx);
	return (0);
}

/* The descriptor this process has open on path, or -1. */
static int
find_fd(const char *path)
{
	char link[64], target[PATH_MAX], real[PATH_MAX];
	ssize_t n;
	int fd;

	assert_non_null(realpath(path, real));
	for (fd = 0; fd < 1024; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		if ((n = readlink(link, target, sizeof(target) - 1)) <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, real) == 0)
			return (fd);
	}
	return (-1);
}

/* catalogue: D3 */
static void
test_failed_state(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct xbb_stats st;
	uint8_t buf[8 * 512], back[8 * 512];
	int fd, ro;

	memset(buf, 0x42, sizeof(buf));
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_WRITE, 0, 8, buf, 0),
	    BLKIF_RSP_OKAY);
	assert_int_equal(xbbt_nodata(f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_OKAY);
	/* Every later write now fails in the kernel (EBADF). */
	assert_true((fd = find_fd(fx->img)) >= 0);
	assert_true((ro = open(fx->img, O_RDONLY | O_CLOEXEC)) >= 0);
	assert_int_equal(dup2(ro, fd), fd);
	close(ro);
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_WRITE, 8, 8, buf, 0),
	    BLKIF_RSP_ERROR);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_failed, 1);
	assert_int_equal(st.st_fail_errno, EBADF);
	assert_int_equal(st.st_err_io, 1);
	/* A flush would succeed on the descriptor; it must not. */
	assert_int_equal(xbbt_nodata(f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_ERROR);
	assert_int_equal(xbbt_nodata(f, 0, BLKIF_OP_WRITE_BARRIER),
	    BLKIF_RSP_ERROR);
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_FLUSH_DISKCACHE, 16, 8, buf, 0),
	    BLKIF_RSP_ERROR);
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_WRITE, 24, 8, buf, 0),
	    BLKIF_RSP_ERROR);
	if (f->f_discard)
		assert_int_equal(xbbt_discard(f, 0, 0, 8, 0), BLKIF_RSP_ERROR);
	/* Reads still work, and see what was acknowledged. */
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_READ, 0, 8, back, 0),
	    BLKIF_RSP_OKAY);
	assert_memory_equal(buf, back, sizeof(buf));
	xbbt_stats(&fx->m, XVDA, &st);
	assert_true(st.st_err_failed >= 4);
	assert_int_equal(st.st_err_io, 1);
	/* A reconnection does not wash the failure away. */
	xbbt_front_close(f);
	assert_int_equal(xbbt_front_open(f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(f), 0);
	assert_int_equal(xbbt_nodata(f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_ERROR);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_failed, 1);
}

/* Fill the file system of path with a file; unlink it to free it. */
static void
fill(const char *path)
{
	static const uint8_t page[4096];
	int fd;

	assert_true(
	    (fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0);
	while (write(fd, page, sizeof(page)) == (ssize_t)sizeof(page))
		;
	close(fd);
}

/*
 * A write refused for lack of space fails alone: the device is not
 * failed, flushes succeed (nothing was left dirty), the cause is logged
 * once, and writes succeed again once space is back.
 */
static void
enospc_run(struct fixture *fx, struct xbbt_front *f2, const char *filler)
{
	struct xbb_stats st;
	uint8_t buf[8 * 512], back[8 * 512];

	memset(buf, 0x17, sizeof(buf));
	fx->m.m_log_match = "No space left on device";
	fill(filler);
	assert_int_equal(xbbt_rw(f2, 0, BLKIF_OP_WRITE, 0, 8, buf, 0),
	    BLKIF_RSP_ERROR);
	assert_int_equal(xbbt_rw(f2, 0, BLKIF_OP_WRITE, 64, 8, buf, 0),
	    BLKIF_RSP_ERROR);
	assert_int_equal(xbbt_nodata(f2, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_OKAY);
	if (f2->f_discard)
		assert_int_equal(xbbt_discard(f2, 0, 128, 8, 0),
		    BLKIF_RSP_OKAY);
	assert_int_equal(
	    xbb_dev_stats(fx->m.m_xbb, XBBT_FE, XVDA + 16, &st, sizeof(st)), 0);
	assert_int_equal(st.st_failed, 0);
	assert_int_equal(st.st_fail_errno, 0);
	assert_int_equal(st.st_err_nospace, 2);
	assert_int_equal(atomic_load(&fx->m.m_log_hits), 1);
	/* Space is back: the same writes succeed and read back. */
	assert_int_equal(unlink(filler), 0);
	assert_int_equal(xbbt_rw(f2, 0, BLKIF_OP_WRITE, 0, 8, buf, 0),
	    BLKIF_RSP_OKAY);
	assert_int_equal(xbbt_nodata(f2, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_OKAY);
	assert_int_equal(xbbt_rw(f2, 0, BLKIF_OP_READ, 0, 8, back, 0),
	    BLKIF_RSP_OKAY);
	assert_memory_equal(buf, back, sizeof(buf));
	fx->m.m_log_match = NULL;
}

/* catalogue: D3 */
static void
test_enospc(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct xbbt_front f2;
	struct xbbt_vbd v;
	char dir[600], img[700], filler[700];
	int fd;

	/* A 256 KiB tmpfs holding a sparse 4 MiB image. */
	snprintf(dir, sizeof(dir), "%s/small", fx->m.m_tmp);
	assert_int_equal(mkdir(dir, 0700), 0);
	if (mount("xbbt", dir, "tmpfs", 0, "size=256k") != 0) {
		rmdir(dir);
		skip();
	}
	snprintf(img, sizeof(img), "%s/full.img", dir);
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	fd = open(img, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, IMG_SIZE), 0);
	close(fd);
	memset(&v, 0, sizeof(v));
	v.v_vdev = XVDA + 16;
	v.v_params = img;
	assert_int_equal(xbbt_vbd_add(&fx->m, &v), 0);
	assert_int_equal(xbbt_front_open(&f2, &fx->m, XVDA + 16, NULL), 0);
	assert_int_equal(xbbt_front_connect(&f2), 0);
	enospc_run(fx, &f2, filler);
	/* The other device is not affected. */
	assert_int_equal(xbbt_nodata(f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_OKAY);
	xbbt_front_close(&f2);
	xbbt_vbd_destroy(&fx->m, XVDA + 16);
	/* The backend lets go of the image once the directory is gone. */
	for (fd = 0; fd < 200 && umount(dir) != 0; fd++)
		usleep(10000);
	unlink(img);
	(void)umount(dir);
	rmdir(dir);
}

/* catalogue: D4 */
static void
test_short_read(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct xbb_stats st;
	uint8_t buf[16 * 512];

	memset(buf, 0x33, sizeof(buf));
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_WRITE, 1000, 16, buf, 0),
	    BLKIF_RSP_OKAY);
	/* The file shrinks under the connected disk. */
	assert_int_equal(truncate(fx->img, 1004 * 512), 0);
	/* Across the new end: a short read, resubmitted, then nothing. */
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_READ, 1000, 16, buf, 0),
	    BLKIF_RSP_ERROR);
	/* Entirely past it. */
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_READ, 2000, 8, buf, 0),
	    BLKIF_RSP_ERROR);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_true(st.st_short_io >= 1);
	assert_int_equal(st.st_err_io, 2);
	/* A read error does not fail the device: writes still flush. */
	assert_int_equal(st.st_failed, 0);
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_WRITE, 0, 16, buf, 0),
	    BLKIF_RSP_OKAY);
	assert_int_equal(xbbt_nodata(f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_OKAY);
}

/* catalogue: B14 D7 */
static void
test_flush_with_data(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct xbb_stats a, b;
	uint8_t buf[8 * 512];

	memset(buf, 0x5c, sizeof(buf));
	xbbt_stats(&fx->m, XVDA, &a);
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_FLUSH_DISKCACHE, 64, 8, buf, 0),
	    BLKIF_RSP_OKAY);
	xbbt_stats(&fx->m, XVDA, &b);
	/* fdatasync, writev, fdatasync. */
	assert_int_equal(b.st_syncs - a.st_syncs, 2);
	assert_int_equal(b.st_bytes_written - a.st_bytes_written, sizeof(buf));
	xbbt_stats(&fx->m, XVDA, &a);
	assert_int_equal(xbbt_nodata(f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_OKAY);
	assert_int_equal(xbbt_nodata(f, 0, BLKIF_OP_WRITE_BARRIER),
	    BLKIF_RSP_OKAY);
	xbbt_stats(&fx->m, XVDA, &b);
	assert_int_equal(b.st_syncs - a.st_syncs, 2);
	/* A barrier with data: drain, sync, write, sync. */
	xbbt_stats(&fx->m, XVDA, &a);
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_WRITE_BARRIER, 64, 8, buf, 0),
	    BLKIF_RSP_OKAY);
	xbbt_stats(&fx->m, XVDA, &b);
	assert_int_equal(b.st_syncs - a.st_syncs, 2);
	/* Plain writes never sync. */
	xbbt_stats(&fx->m, XVDA, &a);
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_WRITE, 64, 8, buf, 0),
	    BLKIF_RSP_OKAY);
	xbbt_stats(&fx->m, XVDA, &b);
	assert_int_equal(b.st_syncs - a.st_syncs, 0);
}

/* catalogue: D7 D8 */
static void
test_barrier_order(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct xbbt_io *io[13];
	struct blkif_response rsp;
	struct xbb_stats st;
	uint64_t order[13];
	uint8_t buf[64 * 512];
	unsigned int i, bar = 6, pos = 0;

	memset(buf, 0x77, sizeof(buf));
	/* Six writes, a barrier with data, six writes, in one push. */
	for (i = 0; i < 13; i++)
		assert_int_equal(
		    xbbt_rw_start(f, 0, &io[i],
			i == bar ? BLKIF_OP_WRITE_BARRIER : BLKIF_OP_WRITE,
			(uint64_t)i * 64, 64, buf, 0),
		    0);
	xbbt_push(f, 0);
	for (i = 0; i < 13; i++) {
		assert_int_equal(xbbt_wait(f, 0, &rsp, XBBT_TIMEOUT_MS), 0);
		assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
		order[i] = rsp.id - io[0]->io_id;
		if (order[i] == bar)
			pos = i;
	}
	/* Everything before it answered first, everything after later. */
	assert_int_equal(pos, bar);
	for (i = 0; i < 13; i++)
		assert_true(
		    i < bar ? order[i] < bar : (i == bar || order[i] > bar));
	for (i = 0; i < 13; i++)
		xbbt_rw_end(f, io[i], NULL);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_req_barrier, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_failed_state, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_enospc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_read, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_flush_with_data, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_barrier_order, setup,
		    teardown),
	};

	xbbt_require_uring();
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
