/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the frontend outlives its backend.  The machine (`xbd
 * hv`) and the backend (`xbd serve`) are separate processes; this test
 * is the frontend domain.  While a verified workload runs, the backend
 * is killed with SIGKILL: its domain is destroyed, its XenStore
 * directory vanishes, its mappings are released.  A new backend process
 * then serves the same image: the frontend reconnects, sends again what
 * was in flight, and the workload finishes with no error and no byte
 * out of place.  A backend that never comes back makes the held I/O fail
 * with EIO once the recovery time is up.  A backend that dies while the
 * frontend waits for it to connect, and whose vbd the toolstack creates
 * again, gets a fresh offer: the attach succeeds.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/wait.h>
#include <xenstore.h>

#include "front/xbd_internal.h"
#include "platform/sim/hv.h"
#include "xbdt_mp.h"
#include "xbdt_wl.h"
#include "xenbus/xbus.h"
#include "xt.h"

static const char *xbd_bin;

static int
state_of(struct xbd_dev *dev)
{
	struct xbd_info info;

	xbd_get_info(dev, &info);
	return (info.xi_state);
}

/* F33 / recovery: the backend dies twice mid-workload and comes back. */
/* catalogue: F33 */
static void
test_backend_killed_and_restarted(void **state)
{
	struct wl_bg b = { .wo = { .ops = 6000,
			       .qd = 16,
			       .max_blocks = 16,
			       .flush_pct = 3,
			       .seed = 5 } };
	struct xbd_plat *xp;
	struct xbd_stats st;
	struct xbdt_mp f;
	pthread_t th;
	int kill_round, i;

	xbdt_mp_up(&f, xbd_bin, 16 << 20);
	assert_int_equal(xbd_plat_open_sim(f.mp_mdir, 2, true, &xp), 0);
	assert_int_equal(xbd_attach(xp, "xvda", NULL, &b.dev), 0);
	assert_int_equal(pthread_create(&th, NULL, wl_bg_run, &b), 0);
	for (kill_round = 0; kill_round < 2; kill_round++) {
		usleep(300000);
		xbdt_mp_kill_serve(&f, SIGKILL);
		/* The frontend notices and holds its I/O. */
		for (i = 0; i < 300 && state_of(b.dev) != 5; i++)
			usleep(10000);
		assert_int_equal(state_of(b.dev), 5);
		usleep(100000);
		xbdt_mp_serve(&f);
		for (i = 0; i < 500 && state_of(b.dev) != 1; i++)
			usleep(10000);
		assert_int_equal(state_of(b.dev), 1);
	}
	pthread_join(th, NULL);
	assert_int_equal(b.rc, 0);
	if (b.r.r_errors != 0)
		fprintf(stderr, "first error %d\n", b.r.r_first_error);
	/* Delays, not errors; every byte where it belongs. */
	assert_int_equal(b.r.r_errors, 0);
	assert_int_equal(b.r.r_mismatches, 0);
	xbd_get_stats(b.dev, &st, sizeof(st));
	assert_int_equal(st.xst_recoveries, 2);
	assert_int_equal(st.xst_reconnects, 2);
	fprintf(stderr, "reissued %ju bios after %ju recoveries\n",
	    (uintmax_t)st.xst_reissued, (uintmax_t)st.xst_recoveries);
	xbd_detach(b.dev);
	xbd_plat_close(xp);
	xbdt_mp_down(&f);
}

static void
done_err(struct xbd_bio *bp, int error)
{
	*(volatile int *)bp->bio_caller = error == 0 ? 1 : error;
}

/* A backend that never comes back: held I/O fails with EIO in time. */
static void
test_backend_never_returns(void **state)
{
	struct xbd_opts o;
	struct xbd_plat *xp;
	struct xbd_dev *dev;
	struct xbd_bio bio;
	struct timespec a, b;
	struct xbdt_mp f;
	char buf[4096];
	volatile int r = 0;
	int i;

	xbdt_mp_up(&f, xbd_bin, 16 << 20);
	assert_int_equal(xbd_plat_open_sim(f.mp_mdir, 2, true, &xp), 0);
	xbd_opts_init(&o);
	o.o_recovery_timeout_ms = 1500;
	assert_int_equal(xbd_attach(xp, "xvda", &o, &dev), 0);
	assert_int_equal(xbd_write(dev, buf, 0, sizeof(buf)), 0);
	xbdt_mp_kill_serve(&f, SIGKILL);
	for (i = 0; i < 300 && state_of(dev) != 5; i++)
		usleep(10000);
	assert_int_equal(state_of(dev), 5);
	/* Submitted while the backend is gone: accepted, then failed. */
	memset(&bio, 0, sizeof(bio));
	bio.bio_cmd = XBD_CMD_READ;
	bio.bio_length = sizeof(buf);
	bio.bio_data = buf;
	bio.bio_done = done_err;
	bio.bio_caller = (void *)&r;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(xbd_submit(dev, &bio), 0);
	for (i = 0; i < 500 && r == 0; i++)
		usleep(10000);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(r, -EIO);
	assert_true(b.tv_sec - a.tv_sec <= 4);
	assert_int_equal(state_of(dev), 3);
	assert_int_equal(xbd_read(dev, buf, 0, sizeof(buf)), -EIO);
	xbd_detach(dev);
	xbd_plat_close(xp);
	xbdt_mp_down(&f);
}

struct neg {
	struct xbd_plat *xp;
	struct xbd_dev *dev;
	int rc;
};

static void *
neg_attach(void *arg)
{
	struct neg *n = arg;

	n->rc = xbd_attach(n->xp, "xvda", NULL, &n->dev);
	return (NULL);
}

/*
 * The backend dies after the frontend published its ring (Initialised)
 * and before it connected; the new backend's toolstack step resets the
 * frontend's directory.  The frontend used to wait for a Connected that
 * never came (its offer was gone) until the attach timed out.
 */
static void
test_backend_killed_while_negotiating(void **state)
{
	const char *fe = "/local/domain/2/device/vbd/51712";
	struct xs_handle *xs;
	struct xbdt_mp f;
	struct neg n;
	pthread_t th;
	char sock[400], buf[4096];
	int i, st;

	xbdt_mp_up(&f, xbd_bin, 16 << 20);
	snprintf(sock, sizeof(sock), "%s/socket", f.mp_mdir);
	assert_non_null(xs = hv_xs_open_path(sock));
	assert_int_equal(xbd_plat_open_sim(f.mp_mdir, 2, true, &n.xp), 0);
	/* The backend, stopped at InitWait, cannot connect. */
	assert_int_equal(kill(f.mp_serve, SIGSTOP), 0);
	assert_int_equal(waitpid(f.mp_serve, &st, WUNTRACED), f.mp_serve);
	assert_int_equal(pthread_create(&th, NULL, neg_attach, &n), 0);
	for (i = 0;
	     i < 2000 && xbus_read_state(xs, fe) != XenbusStateInitialised; i++)
		usleep(5000);
	assert_int_equal(xbus_read_state(xs, fe), XenbusStateInitialised);
	xbdt_mp_kill_serve(&f, SIGKILL);
	xbdt_mp_serve(&f);
	pthread_join(th, NULL);
	assert_int_equal(n.rc, 0);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(xbd_write(n.dev, buf, 0, sizeof(buf)), 0);
	assert_int_equal(xbd_read(n.dev, buf, 0, sizeof(buf)), 0);
	assert_int_equal(buf[sizeof(buf) - 1], 0x5a);
	xbd_detach(n.dev);
	xbd_plat_close(n.xp);
	xs_close(xs);
	xbdt_mp_down(&f);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backend_killed_and_restarted),
		cmocka_unit_test(test_backend_never_returns),
		cmocka_unit_test(test_backend_killed_while_negotiating),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s path/to/xbd\n", argv[0]);
		return (XT_SKIP);
	}
	xbd_bin = argv[1];
	/* A second argument runs only the tests it matches (long runs). */
	if (argc > 2)
		cmocka_set_test_filter(argv[2]);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
