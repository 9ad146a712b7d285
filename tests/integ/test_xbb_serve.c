/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: `xbd serve` in the multi-process mode: a forked `xbd hv`
 * machine, a forked `xbd serve` that creates a vbd for an image and
 * serves it as domain 0, and this process as the frontend domain 1
 * (the scripted frontend) writing, reading and flushing through it;
 * then SIGTERM makes `xbd serve` remove its vbd and exit 0.  Also the
 * command line's refusals.  argv[1] is the xbd binary.
 */

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "xbbt_front.h"
#include "xt.h"

#define XVDA 51712u

static const char *xbd_bin;

static pid_t
spawn(char *const argv[])
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		execv(xbd_bin, argv);
		_exit(127);
	}
	return (pid);
}

static int
reap(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return (WEXITSTATUS(st));
}

/* Wait until something listens on path. */
static void
wait_socket(const char *path)
{
	struct sockaddr_un sa;
	int s, i;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (i = 0; i < 1000; i++) {
		s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(s >= 0);
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(s);
			return;
		}
		close(s);
		usleep(10000);
	}
	fail_msg("nothing listens on %s", path);
}

static void
test_usage(void **state)
{
	char *help[] = { "xbd", "serve", "--help", NULL };
	char *none[] = { "xbd", "serve", NULL };
	char *bad[] = { "xbd", "serve", "--dir", "/nonexistent", "--domid", "x",
		NULL };
	char *half[] = { "xbd", "serve", "--dir", "/nonexistent", "--domid",
		"0", "--image", "/dev/null", NULL };
	char *nohv[] = { "xbd", "serve", "--dir", "/nonexistent", "--domid",
		"0", "--quiet", NULL };
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC), out, err;

	/* Quiet the children's messages. */
	out = dup(1);
	err = dup(2);
	dup2(null, 1);
	dup2(null, 2);
	assert_int_equal(reap(spawn(help)), 0);
	assert_int_equal(reap(spawn(none)), 2);
	assert_int_equal(reap(spawn(bad)), 2);
	assert_int_equal(reap(spawn(half)), 2);
	assert_int_equal(reap(spawn(nohv)), 1);
	dup2(out, 1);
	dup2(err, 2);
	close(out);
	close(err);
	close(null);
}

static void
test_serve(void **state)
{
	struct xbbt_machine m;
	struct xbbt_front f;
	char dir[256], sock[300], img[300];
	uint8_t w[64 * 512], r[64 * 512];
	pid_t hv, srv;
	int fd;

	snprintf(dir, sizeof(dir), "%s/xbbt-serve.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	fd = open(img, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 << 20), 0);
	close(fd);
	{
		char *argv[] = { "xbd", "hv", "--dir", dir, NULL };

		hv = spawn(argv);
	}
	snprintf(sock, sizeof(sock), "%s/hv.sock", dir);
	wait_socket(sock);
	snprintf(sock, sizeof(sock), "%s/socket", dir);
	wait_socket(sock);
	{
		char *argv[] = { "xbd", "serve", "--dir", dir, "--domid", "0",
			"--image", img, "--frontend", "1", "--vdev", "xvda",
			"--quiet", NULL };

		srv = spawn(argv);
	}
	/* This process: the toolstack's eyes and the frontend domain. */
	memset(&m, 0, sizeof(m));
	assert_int_equal(setenv("XENSTORED_PATH", sock, 1), 0);
	assert_non_null(m.m_xs = xs_open(0));
	assert_int_equal(plat_sim_connect(dir, XBBT_FE, "guest", 0, &m.m_fe),
	    0);
	assert_int_equal(
	    xbbt_wait_be(&m, XVDA, XenbusStateInitWait, XBBT_TIMEOUT_MS), 0);
	assert_int_equal(xbbt_front_open(&f, &m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	assert_int_equal(f.f_sectors, (4 << 20) / 512);
	memset(w, 0x3c, sizeof(w));
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_WRITE, 128, 64, w, 0),
	    BLKIF_RSP_OKAY);
	assert_int_equal(xbbt_nodata(&f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_OKAY);
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_READ, 128, 64, r, 0),
	    BLKIF_RSP_OKAY);
	assert_memory_equal(w, r, sizeof(w));
	fd = open(img, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, r, sizeof(r), 128 * 512),
	    (ssize_t)sizeof(r));
	close(fd);
	assert_memory_equal(w, r, sizeof(w));
	xbbt_front_close(&f);
	/* SIGTERM: the vbd goes away, the command exits 0. */
	assert_int_equal(kill(srv, SIGTERM), 0);
	assert_int_equal(reap(srv), 0);
	assert_int_equal(
	    xbbt_wait_be(&m, XVDA, XenbusStateUnknown, XBBT_TIMEOUT_MS), 0);
	plat_close(m.m_fe);
	xs_close(m.m_xs);
	assert_int_equal(kill(hv, SIGTERM), 0);
	assert_int_equal(reap(hv), 0);
	unlink(img);
	snprintf(sock, sizeof(sock), "%s/domain", dir);
	(void)rmdir(sock);
	(void)rmdir(dir);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_serve),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s path/to/xbd\n", argv[0]);
		return (1);
	}
	xbd_bin = argv[1];
	xbbt_require_uring();
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
