/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: connect/disconnect cycles of a frontend and a backend on
 * one simulated machine, XBD_LIFECYCLE_CYCLES of them (default 120; the
 * documented long run uses 10000).  Each cycle creates the vbd as the
 * toolstack does, attaches, moves data, and ends one of four ways: the
 * frontend detaches then the toolstack removes the vbd; the toolstack
 * removes it under an attached device (the backend closes, the frontend
 * follows); the toolstack deletes it without waiting (a peer that just
 * vanishes); or the backend is stopped outright while connected and
 * started again.  After every cycle no XenStore node of the vbd is left
 * and no grant, port or mapping is held; over the run the process keeps
 * the same fds, threads and mappings and its heap does not grow.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xenstore.h>

#include "embed/xemb.h"
#include "platform/sim/hv.h"
#include "xt.h"
#include "xt_res.h"
#include "xt_xs.h"

#define LC_DEFAULT_CYCLES 120
#define LC_WARMUP 10
/* How long the toolstack waits for a backend to close (libxl: 10 s). */
#define LC_REMOVE_MS 10000

enum lc_end {
	LC_DETACH_FIRST,  /* detach, then the toolstack's removal */
	LC_REMOVE_UNDER,  /* the toolstack's removal while attached */
	LC_FORCE_DELETE,  /* directories deleted without waiting */
	LC_BACKEND_STOPS, /* the backend goes away while connected */
	LC_ENDS
};

struct lc {
	struct xemb *l_e;
	struct xs_handle *l_xs;
	struct xbus_vbd l_vbd; /* the vbd each cycle creates */
	char l_fe[XBUS_PATH_MAX];
	char l_be[XBUS_PATH_MAX];
};

/* Nothing of the vbd is left: frontend, backend, toolstack record. */
static void
lc_no_nodes(struct lc *l)
{
	char lx[XBUS_PATH_MAX];

	snprintf(lx, sizeof(lx), "/libxl/%u/device/vbd/%u",
	    l->l_vbd.v_frontend_id, l->l_vbd.v_vdev);
	assert_false(xt_xs_exists(l->l_xs, l->l_fe));
	assert_false(xt_xs_exists(l->l_xs, l->l_be));
	assert_false(xt_xs_exists(l->l_xs, lx));
}

/*
 * Wait until the backend dropped the removed device.  A directory
 * re-created before it looked again is handled by the backend (the
 * toolstack's fresh Initialising), but the cycles test the lifecycle,
 * not that race.
 */
static void
lc_backend_forgot(struct lc *l)
{
	struct xbb_stats st;
	int i;

	for (i = 0; i < 1000; i++) {
		if (xbb_dev_stats(xemb_backend(l->l_e), l->l_vbd.v_frontend_id,
			l->l_vbd.v_vdev, &st, sizeof(st)) == -ENOENT)
			return;
		usleep(5000);
	}
	fail_msg("the backend still holds the removed vbd");
}

/* One attach, some I/O, and the way this cycle ends. */
static void
lc_cycle(struct lc *l, enum lc_end how, unsigned int i)
{
	static char buf[8192] __attribute__((aligned(4096)));
	struct xbd_opts o;
	struct xbd_dev *dev;
	struct xbd_info info;
	int rc;

	xbd_opts_init(&o);
	/* Exercise both ring shapes and both data paths. */
	o.o_max_ring_pages = i % 2 == 0 ? 1 : 32;
	o.o_bounce = i % 3 == 0 ? 1 : 0;
	if (how == LC_BACKEND_STOPS)
		o.o_recovery_timeout_ms = 0;
	assert_int_equal(xbd_attach(xemb_plat(l->l_e), "xvda", &o, &dev), 0);
	memset(buf, (int)(i & 0xff), sizeof(buf));
	assert_int_equal(
	    xbd_write(dev, buf, (uint64_t)(i % 64) * 8192, sizeof(buf)), 0);
	assert_int_equal(
	    xbd_read(dev, buf, (uint64_t)(i % 64) * 8192, sizeof(buf)), 0);
	assert_int_equal(buf[sizeof(buf) - 1], (char)(i & 0xff));
	assert_int_equal(xbd_flush(dev), 0);

	switch (how) {
	case LC_DETACH_FIRST:
		xbd_detach(dev);
		assert_int_equal(
		    xbus_vbd_remove(l->l_xs, &l->l_vbd, LC_REMOVE_MS, false),
		    0);
		break;
	case LC_REMOVE_UNDER:
		/* The backend closes; the frontend (not open) follows. */
		assert_int_equal(
		    xbus_vbd_remove(l->l_xs, &l->l_vbd, LC_REMOVE_MS, false),
		    0);
		xbd_detach(dev);
		break;
	case LC_FORCE_DELETE:
		assert_int_equal(xbus_vbd_remove(l->l_xs, &l->l_vbd, 0, true),
		    0);
		/* I/O after the vbd vanished fails, it does not hang. */
		rc = xbd_read(dev, buf, 0, 4096);
		assert_true(rc == 0 || rc == -ENXIO || rc == -EIO);
		xbd_detach(dev);
		break;
	default:
		/* The backend goes; no recovery time: the device fails. */
		assert_int_equal(xemb_backend_restart(l->l_e), 0);
		rc = xbd_read(dev, buf, 0, 4096);
		assert_true(rc == 0 || rc == -EIO || rc == -ENXIO);
		xbd_get_info(dev, &info);
		xbd_detach(dev);
		assert_int_equal(
		    xbus_vbd_remove(l->l_xs, &l->l_vbd, LC_REMOVE_MS, false),
		    0);
		break;
	}
	lc_no_nodes(l);
	lc_backend_forgot(l);
	/* The toolstack creates the vbd again for the next cycle. */
	assert_int_equal(xbus_vbd_add(l->l_xs, &l->l_vbd), 0);
	assert_int_equal(
	    xbus_vbd_hotplug(l->l_xs, &l->l_vbd, XBUS_INIT_TIMEOUT_MS), 0);
}

/* catalogue: L1 */
static void
test_cycles(void **state)
{
	struct hv_dom_usage u0, u1;
	struct xemb_opts eo;
	struct xt_res r0 = { 0 };
	struct lc l;
	char img[] = "/tmp/xbd-lifecycle.XXXXXX";
	unsigned int n = xt_env_count("XBD_LIFECYCLE_CYCLES",
			 LC_DEFAULT_CYCLES),
		     i;
	int fd;

	assert_true((fd = mkstemp(img)) >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	xemb_opts_init(&eo);
	eo.o_image = img;
	memset(&l, 0, sizeof(l));
	assert_int_equal(xemb_start(&eo, &l.l_e), 0);
	l.l_xs = xemb_xs(l.l_e);
	l.l_vbd = *xemb_vbd(l.l_e);
	assert_int_equal(xbus_vbd_paths(&l.l_vbd, l.l_fe, sizeof(l.l_fe),
			     l.l_be, sizeof(l.l_be)),
	    0);
	for (i = 0; i < n + LC_WARMUP; i++) {
		if (i == LC_WARMUP)
			xt_res_take(&r0);
		lc_cycle(&l, (enum lc_end)(i % LC_ENDS), i);
		/* Nothing of the cycle is held by either domain. */
		assert_int_equal(hv_domain_usage(xemb_hv(l.l_e), 1, &u1), 0);
		assert_int_equal(hv_domain_usage(xemb_hv(l.l_e), 0, &u0), 0);
		if (u1.du_grants + u1.du_ports + u1.du_mapped + u0.du_mapped !=
		    0)
			fail_msg("cycle %u (end %u): frontend holds %u grants, "
				 "%u ports, %u mappings; backend %u mappings",
			    i, i % LC_ENDS, u1.du_grants, u1.du_ports,
			    u1.du_mapped, u0.du_mapped);
	}
	xt_res_check(&r0, n, "lifecycle");
	xemb_stop(l.l_e);
	unlink(img);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cycles),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
