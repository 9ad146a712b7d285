/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the flipper (docs/reliability.md G2).  A real frontend and a
 * real backend run a verified random workload while a thread rewrites
 * random bytes of everything they share: the ring pages (requests and
 * responses alike), the indirect descriptor pages and the data pages
 * (all data goes through the granted bounce pool).  Both ends are
 * victims at once: a rewritten request is a hostile frontend to the
 * backend, a rewritten response a hostile backend to the frontend, and
 * either may corrupt data, so the data is not checked while the flipper
 * runs; every I/O must complete (with success or an errno), the process
 * must live and the sanitizers stay quiet.  Afterwards a fresh
 * attachment to the same backend must work and verify byte for byte.
 *
 * The CI form flips for about 2 seconds; XBD_FLIPPER_SECONDS=N runs
 * longer (docs/security.md gives the long-run command).
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xbdt.h"
#include "xbdt_wl.h"
#include "xt.h"

/* A region of shared memory the flipper may rewrite. */
struct region {
	volatile uint8_t *r_base; /* first byte */
	size_t r_len;		  /* bytes */
};

struct flipper {
	struct region f_reg[3 * XBD_MAX_QUEUES + 1]; /* where to flip */
	unsigned int f_nreg;			     /* regions in use */
	volatile int f_stop;			     /* set by the test */
	unsigned int f_seed;			     /* its randomness */
	uint64_t f_flips;			     /* bytes rewritten */
};

static uint64_t
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec);
}

static void *
flipper_main(void *arg)
{
	struct flipper *f = arg;
	const struct region *r;
	unsigned int i;

	/* Let the workload read the disk into its model first. */
	usleep(30000);
	while (!f->f_stop) {
		/* Bursts, then a breath so traffic gets through at all. */
		for (i = 0; i < 4; i++) {
			r = &f->f_reg[(unsigned int)rand_r(&f->f_seed) %
			    f->f_nreg];
			r->r_base[(size_t)rand_r(&f->f_seed) % r->r_len] =
			    (uint8_t)rand_r(&f->f_seed);
			f->f_flips++;
		}
		usleep(100);
	}
	return (NULL);
}

/* Every page the device shares with its backend, read under its lock. */
static void
flipper_regions(struct xbd_dev *dev, struct flipper *f)
{
	struct xbd_softc *sc = &dev->xd_sc;
	struct xbd_ring *ring;
	struct xbd_command *cm;
	unsigned int q, i;

	XBD_LOCK(sc);
	for (q = 0; q < XBD_MAX_QUEUES; q++) {
		ring = &sc->xbd_rings[q];
		if (ring->rq_sring == NULL)
			continue;
		f->f_reg[f->f_nreg].r_base = ring->rq_sring;
		f->f_reg[f->f_nreg++].r_len =
		    (size_t)ring->rq_ring.xr_npages * XBD_PAGE_SIZE;
		/* One command's indirect pages stand for all (same pool). */
		for (i = 0; i < ring->rq_nslots; i++) {
			cm = &ring->rq_shadow[i];
			if (cm->cm_indirectionpages == NULL)
				continue;
			f->f_reg[f->f_nreg].r_base = cm->cm_indirectionpages;
			f->f_reg[f->f_nreg++].r_len =
			    (size_t)sc->xbd_max_request_indirectpages *
			    XBD_PAGE_SIZE;
			break;
		}
	}
	if (sc->xbd_bounce_mem != NULL) {
		f->f_reg[f->f_nreg].r_base = sc->xbd_bounce_mem;
		f->f_reg[f->f_nreg++].r_len =
		    (size_t)sc->xbd_bounce_npages * XBD_PAGE_SIZE;
	}
	XBD_UNLOCK(sc);
}

/* catalogue: B4 F11 */
static void
test_flipper(void **state)
{
	struct xbdt_opts fo = { .size = 2u << 20 };
	struct wl_opts wo = { .ops = 400,
		.qd = 16,
		.max_blocks = 64,
		.flush_pct = 5,
		.discard_pct = 5,
		.seed = 1 };
	struct flipper f = { .f_seed = 42 };
	uint64_t secs = xt_env_count("XBD_FLIPPER_SECONDS", 2), t0;
	struct wl_result r;
	struct xbd_info info;
	struct xbd_opts o;
	struct xbd_dev *dev;
	struct xbdt t;
	pthread_t th;
	unsigned int rounds = 0, failed = 0;
	uint64_t done = 0;
	int rc;

	rc = xbdt_setup(&t, &fo);
	if (rc == 77)
		skip();
	assert_int_equal(rc, 0);
	xbd_opts_init(&o);
	o.o_bounce = 1;
	o.o_recovery_timeout_ms = 0;
	o.o_connect_timeout_ms = 10000;
	t0 = now_s();
	while (now_s() - t0 < secs) {
		assert_int_equal(xbdt_attach(&t, &o, &dev), 0);
		memset(&f.f_reg, 0, sizeof(f.f_reg));
		f.f_nreg = 0;
		f.f_stop = 0;
		flipper_regions(dev, &f);
		assert_true(f.f_nreg >= 2);
		assert_int_equal(pthread_create(&th, NULL, flipper_main, &f),
		    0);
		/* Survive: complete every I/O, rightly or with an errno. */
		wo.seed++;
		rc = wl_run(dev, &wo, &r);
		f.f_stop = 1;
		pthread_join(th, NULL);
		/* Returned at all (no I/O lost), with an errno or not. */
		assert_true(rc <= 0);
		if (rc == 0)
			done += r.r_reads + r.r_writes + r.r_flushes +
			    r.r_discards + r.r_errors;
		xbd_get_info(dev, &info);
		if (info.xi_state != 1)
			failed++;
		xbd_detach(dev);
		rounds++;
	}
	printf("flipper: %u rounds, %ju I/Os, %ju bytes flipped, %u ended "
	       "with the device out of service\n",
	    rounds, (uintmax_t)done, (uintmax_t)f.f_flips, failed);
	assert_true(done > 0);
	/* The backend lived through it: a clean attachment verifies. */
	wo.seed = 7;
	wo.ops = 300;
	assert_int_equal(xbdt_attach(&t, NULL, &dev), 0);
	assert_int_equal(wl_run(dev, &wo, &r), 0);
	assert_int_equal(r.r_errors, 0);
	assert_int_equal(r.r_mismatches, 0);
	xbd_detach(dev);
	xbdt_teardown(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flipper),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
