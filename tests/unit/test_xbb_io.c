/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the backend's storage engine without a hypervisor:
 * opening and probing files (size rounded to the sector size, discard
 * probe, sector-size option, O_DIRECT alignment, refusals), vectored
 * reads and writes, fdatasync and hole punching through io_uring with
 * the syscall counters, read-only refusal by the kernel, online size
 * changes, and, where loop devices can be set up, a block device with
 * 4 KiB logical blocks (BLKGETSIZE64/BLKSSZGET/BLKPBSZGET, BLKDISCARD).
 * Exits 77 when io_uring is unavailable.
 */

#include <sys/ioctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "back/xbb_internal.h"
#include "xt.h"
#include "xt_loop.h"

#define MIB (1024 * 1024)

static char tmpl[256];

static const char *
mkimage(off_t size)
{
	const char *dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	int fd;

	snprintf(tmpl, sizeof(tmpl), "%s/xbb-io-XXXXXX", dir);
	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
	return (tmpl);
}

static int
open_store(struct xbb_store *so, const char *path, bool ro, bool direct,
    unsigned int ss)
{
	struct xbb_store_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.sc_path = path;
	cfg.sc_readonly = ro;
	cfg.sc_direct = direct;
	cfg.sc_sector_size = ss;
	return (xbb_store_open(so, &cfg));
}

struct done {
	uint64_t tag;
	int res;
	unsigned int n;
};

static void
on_done(void *arg, uint64_t tag, int res)
{
	struct done *d = arg;

	d->tag = tag;
	d->res = res;
	d->n++;
}

/* Submit what is prepared, wait for one completion, return its result. */
static int
run_one(struct xbb_io *io, uint64_t tag)
{
	struct done d = { 0, 0, 0 };

	assert_int_equal(xbb_io_enter(io, 1), 0);
	while (d.n == 0) {
		if (xbb_io_reap(io, on_done, &d) == 0)
			assert_int_equal(xbb_io_enter(io, 1), 0);
	}
	assert_int_equal(d.n, 1);
	assert_true(d.tag == tag);
	return (d.res);
}

static void
test_file_probe(void **state)
{
	struct xbb_store so;
	const char *path;

	path = mkimage(MIB + 100);
	assert_int_equal(open_store(&so, path, false, false, 0), 0);
	assert_false(so.so_blkdev);
	assert_false(so.so_readonly);
	assert_int_equal(so.so_sector_size, 512);
	/* The partial sector at the end is not served. */
	assert_true(so.so_bytes == MIB);
	assert_true(so.so_phys_size >= 512);
	assert_int_equal(so.so_phys_size % so.so_sector_size, 0);
	if (so.so_discard)
		assert_int_equal(so.so_discard_gran % so.so_sector_size, 0);
	xbb_store_close(&so);
	xbb_store_close(&so); /* idempotent */
	/* A 4 KiB sector size rounds the size down to whole blocks. */
	assert_int_equal(truncate(path, MIB + 5000), 0);
	assert_int_equal(open_store(&so, path, true, false, 4096), 0);
	assert_int_equal(so.so_sector_size, 4096);
	assert_true(so.so_bytes == MIB + 4096);
	assert_true(so.so_readonly);
	assert_false(so.so_discard); /* never on a read-only store */
	xbb_store_close(&so);
	/* Refusals: bad sizes, too small, not a file. */
	assert_int_equal(open_store(&so, path, false, false, 1000), -EINVAL);
	assert_int_equal(open_store(&so, path, false, false, 256), -EINVAL);
	assert_int_equal(truncate(path, 511), 0);
	assert_int_equal(open_store(&so, path, false, false, 0), -EINVAL);
	assert_int_equal(open_store(&so, "/dev/null", false, false, 0),
	    -EINVAL);
	assert_int_equal(open_store(&so, "/", true, false, 0), -EINVAL);
	assert_int_equal(open_store(&so, "/nonexistent/xbb", false, false, 0),
	    -ENOENT);
	unlink(path);
}

static void
test_rw_sync_punch(void **state)
{
	static _Alignas(4096) uint8_t a[8192], b[8192];
	struct iovec iov[2];
	struct xbb_ctrs ctrs;
	struct xbb_store so;
	struct xbb_io io;
	struct io_uring_sqe *sqe;
	struct stat st;
	const char *path;
	blkcnt_t before;
	unsigned int i;

	path = mkimage(4 * MIB);
	assert_int_equal(open_store(&so, path, false, false, 0), 0);
	memset(&ctrs, 0, sizeof(ctrs));
	assert_int_equal(xbb_io_init(&io, 4, &ctrs), 0);
	for (i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 7 + 3);
	/* Two iovecs, one write, at 1 MiB. */
	iov[0].iov_base = a;
	iov[0].iov_len = 512;
	iov[1].iov_base = a + 512;
	iov[1].iov_len = sizeof(a) - 512;
	assert_true(xbb_io_room(&io, 4));
	assert_false(xbb_io_room(&io, 5));
	sqe = xbb_io_sqe(&io, 0x1000);
	io_uring_prep_writev(sqe, so.so_fd, iov, 2, MIB);
	assert_int_equal(run_one(&io, 0x1000), (int)sizeof(a));
	sqe = xbb_io_sqe(&io, 0x2000);
	io_uring_prep_fsync(sqe, so.so_fd, IORING_FSYNC_DATASYNC);
	assert_int_equal(run_one(&io, 0x2000), 0);
	iov[0].iov_base = b;
	iov[0].iov_len = sizeof(b);
	sqe = xbb_io_sqe(&io, 0x3000);
	io_uring_prep_readv(sqe, so.so_fd, iov, 1, MIB);
	assert_int_equal(run_one(&io, 0x3000), (int)sizeof(b));
	assert_memory_equal(a, b, sizeof(a));
	/* The counters the perf gates read. */
	assert_true(xbb_ctr_get(&ctrs, XBB_C_URING_ENTER) >= 3);
	assert_true(xbb_ctr_get(&ctrs, XBB_C_URING_SQES) == 3);
	assert_true(xbb_ctr_get(&ctrs, XBB_C_URING_CQES) == 3);
	/* Nothing prepared, nothing to wait for: no system call. */
	assert_int_equal(xbb_io_enter(&io, 0), 0);
	assert_true(xbb_ctr_get(&ctrs, XBB_C_URING_ENTER) >= 3);
	if (so.so_discard) {
		assert_int_equal(fstat(so.so_fd, &st), 0);
		before = st.st_blocks;
		assert_true(before > 0);
		sqe = xbb_io_sqe(&io, 0x4000);
		io_uring_prep_fallocate(sqe, so.so_fd,
		    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, MIB, sizeof(a));
		assert_int_equal(run_one(&io, 0x4000), 0);
		assert_int_equal(fstat(so.so_fd, &st), 0);
		assert_true(st.st_blocks < before);
		assert_true(st.st_size == 4 * MIB);
		assert_true(lseek(so.so_fd, MIB, SEEK_HOLE) == MIB);
	}
	xbb_io_fini(&io);
	xbb_store_close(&so);
	/* The kernel refuses writes through a read-only store. */
	assert_int_equal(open_store(&so, path, true, false, 0), 0);
	assert_int_equal(xbb_io_init(&io, 2, &ctrs), 0);
	iov[0].iov_base = a;
	iov[0].iov_len = 512;
	sqe = xbb_io_sqe(&io, 0x5000);
	io_uring_prep_writev(sqe, so.so_fd, iov, 1, 0);
	assert_int_equal(run_one(&io, 0x5000), -EBADF);
	xbb_io_fini(&io);
	xbb_store_close(&so);
	unlink(path);
}

static void
test_resize_direct(void **state)
{
	struct xbb_store so;
	const char *path;
	uint64_t bytes;

	path = mkimage(MIB);
	assert_int_equal(open_store(&so, path, false, false, 0), 0);
	assert_int_equal(truncate(path, 3 * MIB + 1), 0);
	assert_int_equal(xbb_store_size(&so, &bytes), 0);
	assert_true(bytes == 3 * MIB);
	xbb_store_close(&so);
	assert_int_equal(xbb_store_size(&so, &bytes), -EBADF);
	/* O_DIRECT where the file system allows it, buffered elsewhere. */
	assert_int_equal(open_store(&so, path, false, true, 0), 0);
	if (so.so_direct) {
		assert_true(so.so_dio_mem >= 1);
		assert_true(so.so_dio_off >= 1);
		assert_true(so.so_sector_size >= so.so_dio_off);
	}
	xbb_store_close(&so);
	unlink(path);
}

static void
test_blockdev(void **state)
{
	struct xbb_store so;
	struct stat st;
	const char *path;
	char dev[64];
	int lfd, fd, rc;
	uint8_t buf[4096];

	path = mkimage(4 * MIB);
	if ((lfd = xt_loop_setup(path, dev, sizeof(dev))) < 0) {
		unlink(path);
		skip();
	}
	rc = open_store(&so, dev, false, false, 0);
	if (rc == 0) {
		assert_true(so.so_blkdev);
		assert_true(so.so_bytes == 4 * MIB);
		assert_int_equal(so.so_sector_size, 4096);
		assert_true(so.so_phys_size >= 4096);
		assert_false(so.so_discard_secure);
		if (so.so_discard) {
			/* Data in the backing file, discarded through the
			   device: the file gets a hole. */
			memset(buf, 0x5a, sizeof(buf));
			fd = open(path, O_RDWR | O_CLOEXEC);
			assert_true(fd >= 0);
			assert_int_equal(pwrite(fd, buf, sizeof(buf), MIB),
			    (ssize_t)sizeof(buf));
			assert_int_equal(fsync(fd), 0);
			assert_int_equal(
			    xbb_store_blk_discard(&so, MIB, sizeof(buf), false),
			    0);
			assert_int_equal(fstat(fd, &st), 0);
			assert_true(lseek(fd, MIB, SEEK_HOLE) == MIB);
			close(fd);
			/* No secure erase on a loop device. */
			assert_int_not_equal(
			    xbb_store_blk_discard(&so, 0, 4096, true), 0);
		}
		xbb_store_close(&so);
	}
	(void)ioctl(lfd, LOOP_CLR_FD, 0);
	close(lfd);
	unlink(path);
	assert_int_equal(rc, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_probe),
		cmocka_unit_test(test_rw_sync_punch),
		cmocka_unit_test(test_resize_direct),
		cmocka_unit_test(test_blockdev),
	};
	struct io_uring ring;
	int rc;

	if ((rc = io_uring_queue_init(2, &ring, 0)) == -ENOSYS ||
	    rc == -EPERM) {
		fprintf(stderr, "io_uring unavailable: skipped\n");
		return (XT_SKIP);
	}
	if (rc != 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-rc));
		return (1);
	}
	io_uring_queue_exit(&ring);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
