/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the backend serving NBD exports (lib/back/xbb_store_nbd.c)
 * to the scripted frontend, against real nbdkit servers on a Unix
 * socket: reads and writes of one and of many segments land in the
 * file nbdkit serves, flush and discard reach it; what the server offers
 * decides what is published (a read-only server makes a read-only vbd
 * that refuses writes, one without multi-conn gets one ring); a server
 * killed under the backend fails the I/O in flight after --nbd-timeout
 * with one log line, and the backend reconnects when it is back; a
 * server that stops answering (delay filter) is timed out the same way;
 * a server back within the timeout loses no request; a write the server
 * refuses (error filter) fails alone with a log line naming the target;
 * a vbd made while the server is away waits for it.
 */

#include <sys/stat.h>
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
#define IMG_SIZE (8u << 20)
/* The timeout the fault cases run with, in seconds. */
#define NBD_TIMEOUT_S 2

struct fixture {
	struct xbbt_machine m; /* machine and backend */
	char img[512];	       /* the file nbdkit serves */
	char sock[512];	       /* its socket */
	char uri[700];	       /* params */
	pid_t nbdkit;	       /* the server, or 0 */
};

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Start nbdkit in the foreground (a child we can kill) with args. */
static void
nbdkit_start(struct fixture *fx, const char *const *args)
{
	const char *argv[24] = { "nbdkit", "-f", "-U", fx->sock };
	unsigned int n = 4, i;
	pid_t pid;
	long end;

	for (i = 0; args[i] != NULL; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	unlink(fx->sock);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execvp("nbdkit", (char *const *)argv);
		_exit(127);
	}
	fx->nbdkit = pid;
	/* Ready once the socket exists. */
	for (end = now_ms() + 10000; access(fx->sock, F_OK) != 0;) {
		assert_true(now_ms() < end);
		usleep(10000);
	}
}

static void
nbdkit_kill(struct fixture *fx)
{
	if (fx->nbdkit <= 0)
		return;
	kill(fx->nbdkit, SIGKILL);
	waitpid(fx->nbdkit, NULL, 0);
	fx->nbdkit = 0;
	unlink(fx->sock);
}

/* nbdkit's file plugin serving the image. */
static void
nbdkit_file(struct fixture *fx)
{
	char arg[600];
	const char *args[] = { "file", arg, NULL };

	snprintf(arg, sizeof(arg), "file=%s", fx->img);
	nbdkit_start(fx, args);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(xbbt_machine_start(&fx->m), 0);
	xbbt_image(&fx->m, "nbd.img", IMG_SIZE, fx->img, sizeof(fx->img));
	snprintf(fx->sock, sizeof(fx->sock), "%s/nbd.sock", fx->m.m_tmp);
	snprintf(fx->uri, sizeof(fx->uri), "nbd+unix:///?socket=%s", fx->sock);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	nbdkit_kill(fx);
	xbbt_machine_stop(&fx->m);
	unlink(fx->img);
	free(fx);
	return (0);
}

static void
serve(struct fixture *fx, unsigned int timeout_s)
{
	struct xbbt_vbd v = { XVDA, fx->uri, false, false, false };
	struct xbb_opts o;

	xbb_opts_init(&o);
	o.o_nbd_timeout_s = timeout_s;
	assert_int_equal(xbbt_backend_start(&fx->m, &o), 0);
	assert_int_equal(xbbt_vbd_add(&fx->m, &v), 0);
}

static void
unserve(struct fixture *fx)
{
	xbbt_backend_stop(&fx->m);
	xbbt_vbd_destroy(&fx->m, XVDA);
}

/* Write, read back, and find it in the served file. */
static void
rw_check(struct fixture *fx, struct xbbt_front *f, uint64_t sector,
    uint32_t nsect, unsigned int flags, uint64_t seed)
{
	size_t len = (size_t)nsect * XBD_SECTOR_SIZE;
	uint8_t *w = malloc(len), *r = malloc(len), *d = malloc(len);

	assert_non_null(w);
	assert_non_null(r);
	assert_non_null(d);
	xbbt_pattern(w, len, seed);
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_WRITE, sector, nsect, w, flags),
	    BLKIF_RSP_OKAY);
	memset(r, 0, len);
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_READ, sector, nsect, r, flags),
	    BLKIF_RSP_OKAY);
	assert_memory_equal(w, r, len);
	xbbt_file_read(fx->img, sector * XBD_SECTOR_SIZE, d, len);
	assert_memory_equal(w, d, len);
	free(w);
	free(r);
	free(d);
}

static void
connect_front(struct fixture *fx, struct xbbt_front *f)
{
	assert_int_equal(xbbt_front_open(f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(f), 0);
}

static void
test_nbd_ops(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front f;
	struct xbb_stats st;
	uint8_t z[4096], buf[4096];

	nbdkit_file(fx);
	serve(fx, 30);
	connect_front(fx, &f);
	assert_int_equal(f.f_sectors, IMG_SIZE / 512);
	assert_true(f.f_flush && f.f_barrier && f.f_discard);
	assert_int_equal(f.f_info & VDISK_READONLY, 0);
	/* One segment goes straight; several are gathered (bounced). */
	rw_check(fx, &f, 0, 8, XBBT_DIRECT, 1);
	rw_check(fx, &f, 1000, 64, XBBT_SUB, 2);
	rw_check(fx, &f, 4096, 2048, XBBT_INDIRECT, 3);
	assert_int_equal(xbbt_nodata(&f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_OKAY);
	assert_int_equal(xbbt_nodata(&f, 0, BLKIF_OP_WRITE_BARRIER),
	    BLKIF_RSP_OKAY);
	/* Discard reaches the file: a punched hole reads as zeroes. */
	assert_int_equal(xbbt_discard(&f, 0, 0, 8, 0), BLKIF_RSP_OKAY);
	memset(z, 0, sizeof(z));
	xbbt_file_read(fx->img, 0, buf, sizeof(buf));
	assert_memory_equal(buf, z, sizeof(z));
	xbbt_stats(&fx->m, XVDA, &st);
	assert_true(st.st_syncs >= 2);
	assert_true(st.st_bounce_bytes > 0);
	assert_int_equal(st.st_rsp_error, 0);
	assert_int_equal(st.st_bytes_discarded, 4096);
	xbbt_front_close(&f);
	unserve(fx);
}

/* What the server lacks is not offered, nor accepted. */
static void
test_nbd_offers(void **state)
{
	struct fixture *fx = *state;
	const char *ro[] = { "-r", "memory", "8M", NULL };
	const char *noflush[] = { "full", "8M", NULL };
	const char *nomc[] = { "--filter=multi-conn", "memory", "8M",
		"multi-conn-mode=disable", NULL };
	struct xbbt_front f;
	struct xbb_stats st;
	uint8_t buf[4096];
	char msg[512];

	nbdkit_start(fx, ro);
	/* A tool asking to write is refused; one asking to read is not. */
	assert_int_equal(xbb_params_check(fx->uri, false, 2, msg, sizeof(msg)),
	    -EROFS);
	assert_non_null(strstr(msg, "read-only"));
	assert_int_equal(xbb_params_check(fx->uri, true, 2, msg, sizeof(msg)),
	    0);
	serve(fx, 30);
	connect_front(fx, &f);
	assert_true((f.f_info & VDISK_READONLY) != 0);
	assert_false(f.f_discard);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_WRITE, 0, 8, buf, 0),
	    BLKIF_RSP_ERROR);
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_READ, 0, 8, buf, 0),
	    BLKIF_RSP_OKAY);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_err_readonly, 1);
	xbbt_front_close(&f);
	unserve(fx);
	nbdkit_kill(fx);

	/* nbdkit's full plugin cannot flush: no flush, no barrier. */
	nbdkit_start(fx, noflush);
	serve(fx, 30);
	connect_front(fx, &f);
	assert_false(f.f_flush);
	assert_false(f.f_barrier);
	assert_int_equal(xbbt_nodata(&f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_EOPNOTSUPP);
	assert_int_equal(xbbt_nodata(&f, 0, BLKIF_OP_WRITE_BARRIER),
	    BLKIF_RSP_EOPNOTSUPP);
	xbbt_front_close(&f);
	unserve(fx);
	nbdkit_kill(fx);

	nbdkit_start(fx, nomc);
	serve(fx, 30);
	assert_int_equal(
	    xbbt_wait_be(&fx->m, XVDA, XenbusStateInitWait, XBBT_TIMEOUT_MS),
	    0);
	connect_front(fx, &f);
	assert_int_equal(f.f_max_queues, 1);
	xbbt_front_close(&f);
	unserve(fx);
}

/* One request, answered within limit_ms: its status. */
static int
one_read(struct xbbt_front *f, uint64_t sector, unsigned int limit_ms)
{
	struct blkif_response rsp;
	struct xbbt_io *io;
	uint8_t buf[4096];
	int rc;

	assert_int_equal(xbbt_rw_start(f, 0, &io, BLKIF_OP_READ, sector, 8,
			     NULL, XBBT_DIRECT),
	    0);
	xbbt_push(f, 0);
	rc = xbbt_wait(f, 0, &rsp, limit_ms);
	assert_int_equal(rc, 0);
	xbbt_rw_end(f, io, buf);
	return (rsp.status);
}

/*
 * A write sent while the server is away, which comes back within the
 * timeout: sent again on the new connection, answered OKAY, in the file.
 */
static void
late_write(struct fixture *fx, struct xbbt_front *f)
{
	struct blkif_response rsp;
	struct xbbt_io *io;
	uint8_t w[4096], d[4096];

	xbbt_pattern(w, sizeof(w), 6);
	assert_int_equal(
	    xbbt_rw_start(f, 0, &io, BLKIF_OP_WRITE, 32, 8, w, XBBT_DIRECT), 0);
	xbbt_push(f, 0);
	usleep(300000);
	assert_int_equal(xbbt_ready(f, 0), 0);
	nbdkit_file(fx);
	assert_int_equal(xbbt_wait(f, 0, &rsp, 15000), 0);
	xbbt_rw_end(f, io, NULL);
	assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
	assert_int_equal(xbbt_nodata(f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_OKAY);
	xbbt_file_read(fx->img, 32 * XBD_SECTOR_SIZE, d, sizeof(d));
	assert_memory_equal(w, d, sizeof(d));
}

/* Killed, the server fails what waits for it; back, it serves again. */
static void
test_nbd_server_killed(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front f;
	long t0, dt;

	nbdkit_file(fx);
	serve(fx, NBD_TIMEOUT_S);
	connect_front(fx, &f);
	rw_check(fx, &f, 0, 8, 0, 4);
	fx->m.m_log_match = "no answer from the server";
	nbdkit_kill(fx);
	t0 = now_ms();
	assert_int_equal(one_read(&f, 0, 15000), BLKIF_RSP_ERROR);
	dt = now_ms() - t0;
	/* Not before the timeout, and not much after it. */
	assert_true(dt >= NBD_TIMEOUT_S * 1000 - 300);
	assert_true(dt < NBD_TIMEOUT_S * 1000 + 5000);
	assert_true(atomic_load(&fx->m.m_log_hits) >= 1);
	/* Back within the timeout: the request waits and succeeds. */
	nbdkit_file(fx);
	rw_check(fx, &f, 16, 8, 0, 5);
	nbdkit_kill(fx);
	late_write(fx, &f);
	xbbt_front_close(&f);
	unserve(fx);
}

/* A server that holds the connection and stops answering. */
static void
test_nbd_server_hangs(void **state)
{
	struct fixture *fx = *state;
	char arg[600];
	const char *args[] = { "--filter=delay", "file", arg, "delay-read=30",
		NULL };
	struct xbbt_front f;
	uint8_t buf[4096];
	long t0, dt;

	snprintf(arg, sizeof(arg), "file=%s", fx->img);
	nbdkit_start(fx, args);
	serve(fx, NBD_TIMEOUT_S);
	connect_front(fx, &f);
	fx->m.m_log_match = "no answer from the server";
	t0 = now_ms();
	assert_int_equal(one_read(&f, 0, 15000), BLKIF_RSP_ERROR);
	dt = now_ms() - t0;
	assert_true(dt >= NBD_TIMEOUT_S * 1000 - 300);
	assert_true(dt < NBD_TIMEOUT_S * 1000 + 5000);
	assert_true(atomic_load(&fx->m.m_log_hits) >= 1);
	/* The connection made again after it still takes writes. */
	memset(buf, 0x42, sizeof(buf));
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_WRITE, 8, 8, buf, 0),
	    BLKIF_RSP_OKAY);
	xbbt_front_close(&f);
	unserve(fx);
}

/* The server refuses writes for a while: they fail alone, logged. */
static void
test_nbd_server_errors(void **state)
{
	struct fixture *fx = *state;
	char trig[600], file[700];
	const char *args[] = { "--filter=error", "memory", "8M", "error=EIO",
		"error-pwrite-rate=100%", file, NULL };
	struct xbbt_front f;
	struct xbb_stats st;
	uint8_t buf[4096];
	int fd;

	snprintf(trig, sizeof(trig), "%s/trigger", fx->m.m_tmp);
	snprintf(file, sizeof(file), "error-file=%s", trig);
	nbdkit_start(fx, args);
	serve(fx, 30);
	connect_front(fx, &f);
	memset(buf, 0x11, sizeof(buf));
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_WRITE, 0, 8, buf, 0),
	    BLKIF_RSP_OKAY);
	fx->m.m_log_match = "write of 4096 bytes at 4096: Input/output error";
	assert_true((fd = open(trig, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_WRITE, 8, 8, buf, 0),
	    BLKIF_RSP_ERROR);
	assert_int_equal(atomic_load(&fx->m.m_log_hits), 1);
	unlink(trig);
	/* Not failed for good: the server's error was that write's. */
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_WRITE, 8, 8, buf, 0),
	    BLKIF_RSP_OKAY);
	assert_int_equal(xbbt_nodata(&f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_OKAY);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_failed, 0);
	assert_int_equal(st.st_err_io, 1);
	xbbt_front_close(&f);
	unserve(fx);
}

/* A vbd made while the server is away waits for it (the timeout). */
static void
test_nbd_server_late(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_vbd v = { XVDA, fx->uri, false, false, false };
	struct xbbt_front f;
	struct xbb_opts o;

	xbb_opts_init(&o);
	o.o_nbd_timeout_s = 10;
	assert_int_equal(xbbt_backend_start(&fx->m, &o), 0);
	fx->m.m_log_match = "waiting up to 10 s";
	assert_int_equal(xbbt_vbd_add(&fx->m, &v), 0);
	usleep(500000);
	nbdkit_file(fx);
	connect_front(fx, &f);
	assert_int_equal(atomic_load(&fx->m.m_log_hits), 1);
	rw_check(fx, &f, 0, 8, 0, 7);
	xbbt_front_close(&f);
	unserve(fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nbd_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nbd_offers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nbd_server_killed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nbd_server_hangs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nbd_server_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nbd_server_late, setup,
		    teardown),
	};

	xbbt_require_uring();
	if (system("command -v nbdkit >/dev/null 2>&1") != 0) {
		fprintf(stderr, "nbdkit not installed: skipped\n");
		return (XT_SKIP);
	}
	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
