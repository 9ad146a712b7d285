/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: goal G6 of docs/reliability.md, event storms, in both
 * directions.  A hostile peer notifies device A's event channel as fast
 * as one thread can while device B, on the same victim, runs a steady
 * synchronous workload against an honest peer:
 *  - backend victim (B20, XSA-332): a scripted frontend storms xbb's
 *    ring of vbd A; another scripted frontend reads and writes vbd B,
 *    served by the same backend;
 *  - frontend victim (F13, XSA-391): a scripted backend storms the
 *    frontend library's device A; device B is another attachment whose
 *    backend is honest.
 *
 * Each run has three parts: quiet (B alone) and decoy (B while the
 * sending thread spins notifying a port bound to nobody: the same CPU
 * taken from a two-core machine, no events) for reference; the storm,
 * XBD_STORM_SECONDS long, measured for the victim: notifications sent
 * per second, the CPU of the victim's threads (those it created for A
 * and its shared ones, from /proc/self/task; never the sender's, never
 * B's), events taken and wake-ups, RSS, heap and fds a quarter into the
 * storm and at its end; then B's I/O rate with the sender aimed at A and
 * at the decoy in alternate turns, half that long each, so that the load
 * of the machine's other users, which drifts over seconds, weighs on
 * both alike and the ratio measures what the victim's handling of the
 * storm costs B, not what the sender's own core costs the machine.
 *
 * Gates: the victim stays under one core; events and wake-ups are
 * bounded by the throttle (a few per millisecond of storm at most, never
 * one per notification); nothing grows; B keeps XBD_STORM_MIN_PCT
 * percent of its baseline (default 25, a collapse: two shared cores
 * make 2-second ratios swing from 50% to 120%; the documented 60-second
 * run uses 90).  The storm lasts
 * XBD_STORM_SECONDS (default 2; the documented run uses 60).
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "front/xbd_internal.h"
#include "hostile.h"
#include "xbbt_front.h"
#include "xt.h"
#include "xt_cpu.h"
#include "xt_res.h"

#define XVDA 51712u
#define XVDB 51728u
#define IMG_SIZE (4u << 20)

/* What the sending thread aims at. */
enum storm_mode {
	SM_QUIET, /* no sender */
	SM_DECOY, /* a port bound to nobody: CPU, no events */
	SM_STORM, /* device A's port */
};

/* The victim's counters for device A (and B's load), as one shape. */
struct storm_ctr {
	uint64_t c_events;   /* events the victim took on A */
	uint64_t c_wakeups;  /* victim wake-ups for A (0: not counted) */
	uint64_t c_queued;   /* requests queued or in flight on A */
	uint64_t c_b_queued; /* the same on B */
};

/* One direction: who attacks, who suffers, how B works. */
struct storm_run {
	const char *r_name;		/* for the report */
	struct plat_evtchn *r_evh;	/* the attacker's handle */
	evtchn_port_t r_port;		/* its port towards A */
	evtchn_port_t r_decoy;		/* a port of it bound to nobody */
	struct xt_tasks r_victim;	/* the victim's threads */
	struct xt_tasks r_other;	/* B's threads */
	void (*r_io)(void *, uint64_t); /* one I/O on B, the nth */
	void (*r_ctr)(void *, struct storm_ctr *); /* read the counters */
	void *r_arg;				   /* for both */
};

/* The sending thread. */
struct sender {
	struct plat_evtchn *s_evh;    /* the attacker's handle */
	_Atomic evtchn_port_t s_port; /* where to send (may change) */
	atomic_bool s_stop;	      /* set by the test */
	uint64_t s_sent;	      /* notifications sent */
	int s_error;		      /* a notify failed: its rc */
	double s_cpu;		      /* the thread's CPU seconds */
};

/* A phase's figures. */
struct phase {
	double p_wall;		     /* seconds */
	uint64_t p_ios;		     /* I/Os on B */
	uint64_t p_sent;	     /* notifications sent */
	double p_victim;	     /* victim CPU seconds */
	double p_other;		     /* B's threads' CPU seconds */
	double p_sender;	     /* sender CPU seconds */
	struct storm_ctr p_c0, p_c1; /* counters at start and end */
	long p_rss0, p_rss1;	     /* resident pages at 1/4, at end */
	size_t p_heap0, p_heap1;     /* heap in use at 1/4, at end */
	int p_fds0, p_fds1;	     /* open fds at 1/4, at end */
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static double
thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static long
rss_pages(void)
{
	long size = 0, rss = 0;
	FILE *f;

	f = fopen("/proc/self/statm", "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &size, &rss), 2);
	fclose(f);
	return (rss);
}

static void *
sender_main(void *arg)
{
	struct sender *s = arg;
	double c0 = thread_cpu_s();
	int rc;

	while (!atomic_load_explicit(&s->s_stop, memory_order_relaxed)) {
		if ((rc = plat_evtchn_notify(s->s_evh,
			 atomic_load_explicit(&s->s_port,
			     memory_order_relaxed))) != 0) {
			s->s_error = rc;
			break;
		}
		s->s_sent++;
	}
	s->s_cpu = thread_cpu_s() - c0;
	return (NULL);
}

/* Run B's workload for secs seconds with the sender in mode m. */
static void
run_phase(struct storm_run *r, enum storm_mode m, double secs, struct phase *ph)
{
	struct xt_tasks t0, t1;
	struct sender s;
	pthread_t th;
	double start, now;
	bool sampled = false;

	memset(ph, 0, sizeof(*ph));
	memset(&s, 0, sizeof(s));
	s.s_evh = r->r_evh;
	s.s_port = m == SM_STORM ? r->r_port : r->r_decoy;
	r->r_ctr(r->r_arg, &ph->p_c0);
	xt_tasks_read(&t0);
	start = now_s();
	if (m != SM_QUIET)
		assert_int_equal(pthread_create(&th, NULL, sender_main, &s), 0);
	do {
		r->r_io(r->r_arg, ph->p_ios++);
		now = now_s();
		if (!sampled && now - start >= secs / 4) {
			ph->p_rss0 = rss_pages();
			ph->p_heap0 = xt_heap_in_use();
			ph->p_fds0 = xt_count_fds();
			sampled = true;
		}
	} while (now - start < secs);
	ph->p_rss1 = rss_pages();
	ph->p_heap1 = xt_heap_in_use();
	ph->p_fds1 = xt_count_fds();
	xt_tasks_read(&t1);
	ph->p_wall = now_s() - start;
	if (m != SM_QUIET) {
		atomic_store(&s.s_stop, true);
		pthread_join(th, NULL);
		assert_int_equal(s.s_error, 0);
	}
	r->r_ctr(r->r_arg, &ph->p_c1);
	ph->p_sent = s.s_sent;
	ph->p_sender = s.s_cpu;
	ph->p_victim = xt_tasks_cpu(&r->r_victim, &t0, &t1);
	ph->p_other = xt_tasks_cpu(&r->r_other, &t0, &t1);
}

static void
print_phase(const struct storm_run *r, const char *name, const struct phase *p)
{
	printf("%s %-6s %5.1f s: B %8.0f I/O/s, sent %10.0f/s, victim "
	       "%.3f cores, B's threads %.3f, sender %.3f; events %ju, "
	       "wake-ups %ju\n",
	    r->r_name, name, p->p_wall, (double)p->p_ios / p->p_wall,
	    (double)p->p_sent / p->p_wall, p->p_victim / p->p_wall,
	    p->p_other / p->p_wall, p->p_sender / p->p_wall,
	    (uintmax_t)(p->p_c1.c_events - p->p_c0.c_events),
	    (uintmax_t)(p->p_c1.c_wakeups - p->p_c0.c_wakeups));
}

/*
 * B's I/O rate with the sender aimed at the decoy and at A in turns of
 * XBD_STORM_SLICE_MS, secs of each: the load of the machine's other
 * users drifts over seconds, and alternating spreads it over both.
 */
#define XBD_STORM_SLICE_MS 250
static void
run_interleaved(struct storm_run *r, double secs, double *decoy, double *storm)
{
	double t[2] = { 0, 0 }, start, slice = XBD_STORM_SLICE_MS / 1000.0;
	uint64_t ios[2] = { 0, 0 }, n = 0;
	unsigned int k, m;
	struct sender s;
	pthread_t th;

	memset(&s, 0, sizeof(s));
	s.s_evh = r->r_evh;
	s.s_port = r->r_decoy;
	assert_int_equal(pthread_create(&th, NULL, sender_main, &s), 0);
	for (k = 0; k < 2 * (unsigned int)(secs / slice + 0.5); k++) {
		/* D S S D D S ...: neither mode always goes first. */
		m = ((k + 1) / 2) % 2;
		atomic_store(&s.s_port, m == 1 ? r->r_port : r->r_decoy);
		start = now_s();
		do {
			r->r_io(r->r_arg, n++);
			ios[m]++;
		} while (now_s() - start < slice);
		t[m] += now_s() - start;
	}
	atomic_store(&s.s_stop, true);
	pthread_join(th, NULL);
	assert_int_equal(s.s_error, 0);
	*decoy = (double)ios[0] / t[0];
	*storm = (double)ios[1] / t[1];
}

/* The phases and every gate. */
static void
storm_measure(struct storm_run *r)
{
	double secs = xt_env_count("XBD_STORM_SECONDS", 2);
	struct phase quiet, dc, st;
	double base, rate, ratio, ms;
	uint64_t events, wakeups;

	assert_int_equal(plat_evtchn_bind_unbound(r->r_evh, 0, &r->r_decoy), 0);
	run_phase(r, SM_QUIET, secs / 4 < 1 ? 1 : secs / 4, &quiet);
	run_phase(r, SM_DECOY, secs / 4 < 1 ? 1 : secs / 4, &dc);
	run_phase(r, SM_STORM, secs, &st);
	run_interleaved(r, secs / 2, &base, &rate);
	(void)plat_evtchn_unbind(r->r_evh, r->r_decoy);
	print_phase(r, "quiet", &quiet);
	print_phase(r, "decoy", &dc);
	print_phase(r, "storm", &st);

	ratio = rate / base;
	ms = st.p_wall * 1000;
	events = st.p_c1.c_events - st.p_c0.c_events;
	wakeups = st.p_c1.c_wakeups - st.p_c0.c_wakeups;
	printf("%s: %.0f notifications/s for %.1f s; victim %.3f cores; "
	       "%ju events (%.2g per notification), %ju wake-ups; RSS %+ld "
	       "pages, heap %+ld bytes, fds %+d over its last 3/4; "
	       "B in turns of %d ms: %.0f I/O/s storm, %.0f decoy "
	       "(%.1f%%)\n",
	    r->r_name, (double)st.p_sent / st.p_wall, st.p_wall,
	    st.p_victim / st.p_wall, (uintmax_t)events,
	    st.p_sent == 0 ? 0.0 : (double)events / (double)st.p_sent,
	    (uintmax_t)wakeups, st.p_rss1 - st.p_rss0,
	    (long)st.p_heap1 - (long)st.p_heap0, st.p_fds1 - st.p_fds0,
	    XBD_STORM_SLICE_MS, rate, base, ratio * 100);

	/* The storm happened, and nothing was lost to it. */
	assert_true(st.p_sent > 0);
#if !defined(__SANITIZE_ADDRESS__)
	/* G6's rate; instrumented builds send several times slower. */
	assert_true((double)st.p_sent / st.p_wall >= 1e6);
#endif
	/* The victim fits in one core (plus two ticks of /proc rounding). */
	assert_true(st.p_victim <= st.p_wall + 0.02);
	/*
	 * Coalesced and throttled: never more events than notifications,
	 * at most one wake-up per event (and per throttle expiry, which
	 * comes with an event), and a storm with nothing behind it taken
	 * a few times per millisecond at most, not once per notification.
	 */
	assert_true(events <= st.p_sent);
	assert_true(wakeups <= 2 * events + 64);
	assert_true((double)events <= 4 * ms + 64);
	/* No queue grows: A has no work, B at most one request. */
	assert_true(st.p_c1.c_queued == 0);
	assert_true(st.p_c1.c_b_queued <= 1);
#if !defined(__SANITIZE_ADDRESS__)
	/* ASan's quarantine keeps freed memory resident: not counted there. */
	assert_true(st.p_rss1 - st.p_rss0 <= 256); /* 1 MiB */
	assert_true(st.p_heap1 <= st.p_heap0 + 65536);
	/* Seconds under ASan measure the sanitizer: the ratio is only
	   reported there. */
	assert_true(ratio * 100 >= xt_env_count("XBD_STORM_MIN_PCT", 25));
#endif
	assert_int_equal(st.p_fds1, st.p_fds0);
}

/* ---------------------------------------------------------------------
 * Backend victim
 */

struct bfix {
	struct xbbt_machine m; /* machine and backend */
	char img[2][512];      /* the two images */
	struct xbbt_front a;   /* the attacker's frontend on XVDA */
	struct xbbt_front b;   /* the honest one on XVDB */
	uint8_t buf[4096];     /* B's data */
};

static void
bfix_io(void *arg, uint64_t n)
{
	struct bfix *fx = arg;
	uint64_t sector = (n / 2 * 8) % (IMG_SIZE / 512);

	memset(fx->buf, (int)(n / 2), sizeof(fx->buf));
	assert_int_equal(xbbt_rw(&fx->b, 0,
			     n % 2 == 0 ? BLKIF_OP_WRITE : BLKIF_OP_READ,
			     sector, 8, fx->buf, XBBT_DIRECT),
	    BLKIF_RSP_OKAY);
}

static void
bfix_ctr(void *arg, struct storm_ctr *c)
{
	struct bfix *fx = arg;
	struct xbb_stats st;

	xbbt_stats(&fx->m, XVDA, &st);
	c->c_events = st.st_events;
	c->c_wakeups = st.st_wakeups;
	c->c_queued = st.st_in_flight;
	xbbt_stats(&fx->m, XVDB, &st);
	c->c_b_queued = st.st_in_flight;
}

static void
bfix_vbd(struct bfix *fx, uint32_t vdev, const char *img)
{
	const struct xbbt_vbd v = { .v_vdev = vdev, .v_params = img };

	assert_int_equal(xbbt_vbd_add(&fx->m, &v), 0);
}

/* catalogue: B20 H5 */
static void
test_B20_storm_backend(void **state)
{
	struct xt_tasks s0, s1, s2;
	struct storm_run r;
	struct bfix *fx;

	(void)state;
	assert_non_null(fx = calloc(1, sizeof(*fx)));
	memset(&r, 0, sizeof(r));
	assert_int_equal(xbbt_machine_start(&fx->m), 0);
	xbbt_image(&fx->m, "a.img", IMG_SIZE, fx->img[0], sizeof(fx->img[0]));
	xbbt_image(&fx->m, "b.img", IMG_SIZE, fx->img[1], sizeof(fx->img[1]));
	/* The victim: the backend's own threads and A's ring thread. */
	xt_tasks_read(&s0);
	assert_int_equal(xbbt_backend_start(&fx->m, NULL), 0);
	bfix_vbd(fx, XVDA, fx->img[0]);
	assert_int_equal(xbbt_front_open(&fx->a, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(&fx->a), 0);
	xt_tasks_read(&s1);
	xt_tasks_new(&s0, &s1, &r.r_victim);
	bfix_vbd(fx, XVDB, fx->img[1]);
	assert_int_equal(xbbt_front_open(&fx->b, &fx->m, XVDB, NULL), 0);
	assert_int_equal(xbbt_front_connect(&fx->b), 0);
	xt_tasks_read(&s2);
	xt_tasks_new(&s1, &s2, &r.r_other);

	r.r_name = "backend";
	r.r_evh = fx->a.f_rings[0].r_evh;
	r.r_port = fx->a.f_rings[0].r_port;
	r.r_io = bfix_io;
	r.r_ctr = bfix_ctr;
	r.r_arg = fx;
	storm_measure(&r);

	xbbt_front_close(&fx->b);
	xbbt_front_close(&fx->a);
	xbbt_machine_stop(&fx->m);
	unlink(fx->img[0]);
	unlink(fx->img[1]);
	free(fx);
}

/* ---------------------------------------------------------------------
 * Frontend victim
 */

struct ffix {
	struct hv *hv;		 /* the machine */
	struct plat *be, *fe;	 /* backend and frontend domains */
	struct xs_handle *priv;	 /* toolstack */
	struct hostile ha, hb;	 /* A's backend (it storms), B's */
	struct xbd_plat *xp;	 /* the frontend's platform */
	struct xbd_dev *da, *db; /* the two devices */
	char buf[4096];		 /* B's data */
};

static void
ffix_io(void *arg, uint64_t n)
{
	struct ffix *fx = arg;
	uint64_t off = (n / 2 * 4096) % IMG_SIZE;

	if (n % 2 == 0) {
		memset(fx->buf, (int)(n / 2), sizeof(fx->buf));
		assert_int_equal(xbd_write(fx->db, fx->buf, off, 4096), 0);
	} else {
		assert_int_equal(xbd_read(fx->db, fx->buf, off, 4096), 0);
	}
}

static uint64_t
queued(const struct xbd_stats *st)
{
	return ((uint64_t)st->xst_q_length[XBD_QSTAT_BIO] +
	    st->xst_q_length[XBD_QSTAT_READY] +
	    st->xst_q_length[XBD_QSTAT_BUSY] +
	    st->xst_q_length[XBD_QSTAT_COMPLETE]);
}

static void
ffix_ctr(void *arg, struct storm_ctr *c)
{
	struct ffix *fx = arg;
	struct xbd_stats st;

	xbd_get_stats(fx->da, &st, sizeof(st));
	c->c_events = st.xst_events;
	c->c_wakeups = st.xst_events; /* one event per turn of its loop */
	c->c_queued = queued(&st);
	xbd_get_stats(fx->db, &st, sizeof(st));
	c->c_b_queued = queued(&st);
}

static void
ffix_backend(struct ffix *fx, struct hostile *h, uint32_t vdev)
{
	h->h_plat = fx->be;
	h->h_fe_id = 1;
	h->h_vdev = vdev;
	h->h_disk_size = IMG_SIZE;
	assert_int_equal(hostile_start(h, fx->priv), 0);
}

/* catalogue: F13 */
static void
test_F13_storm_frontend(void **state)
{
	struct xt_tasks s0, s1, s2;
	struct storm_run r;
	struct hv_opts ho;
	struct ffix *fx;

	(void)state;
	assert_non_null(fx = calloc(1, sizeof(*fx)));
	memset(&r, 0, sizeof(r));
	setenv("XBD_QUIET", "1", 0);
	hv_opts_init(&ho);
	assert_int_equal(hv_create(&ho, &fx->hv), 0);
	assert_int_equal(hv_domain_create(fx->hv, 0, "Domain-0", &fx->be), 0);
	assert_int_equal(hv_domain_create(fx->hv, 1, "guest", &fx->fe), 0);
	assert_non_null(fx->priv = hv_xs_open_priv(fx->hv));
	assert_int_equal(xbd_plat_wrap(fx->fe, &fx->xp), 0);
	/* The victim: the frontend's threads for A. */
	ffix_backend(fx, &fx->ha, XVDA);
	xt_tasks_read(&s0);
	assert_int_equal(xbd_attach(fx->xp, "xvda", NULL, &fx->da), 0);
	xt_tasks_read(&s1);
	xt_tasks_new(&s0, &s1, &r.r_victim);
	ffix_backend(fx, &fx->hb, XVDB);
	assert_int_equal(xbd_attach(fx->xp, "xvdb", NULL, &fx->db), 0);
	xt_tasks_read(&s2);
	xt_tasks_new(&s1, &s2, &r.r_other);

	r.r_name = "frontend";
	r.r_evh = fx->ha.h_ev;
	r.r_port = fx->ha.h_port;
	r.r_io = ffix_io;
	r.r_ctr = ffix_ctr;
	r.r_arg = fx;
	storm_measure(&r);
	/* A itself still works once the storm is over. */
	assert_int_equal(xbd_read(fx->da, fx->buf, 0, sizeof(fx->buf)), 0);

	xbd_detach(fx->db);
	xbd_detach(fx->da);
	hostile_stop(&fx->hb);
	hostile_stop(&fx->ha);
	xbd_plat_close(fx->xp);
	xs_close(fx->priv);
	plat_close(fx->fe);
	plat_close(fx->be);
	hv_destroy(fx->hv);
	free(fx);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_B20_storm_backend),
		cmocka_unit_test(test_F13_storm_frontend),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	xbbt_require_uring();
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
