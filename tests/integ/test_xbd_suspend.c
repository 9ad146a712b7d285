/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: suspend and resume of the frontend against scripted
 * backends whose answers a test holds back at will, so that every case
 * is reached deterministically: a suspend that cannot drain in time is
 * cancelled with EBUSY and leaves the device connected; an ordered write
 * waiting on READY when the domain suspends is reissued after resume,
 * and completes exactly once; resume follows the toolstack to a new
 * backend in another domain; and what a reconnection negotiates is
 * never seen half-written.
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sfix.h"
#include "xt.h"

/* How long a test waits for something that should happen at once. */
#define WAIT_MS 5000

/* A gate the backend's requests wait at while it is closed. */
struct gate {
	pthread_mutex_t g_lock; /* protects the rest */
	pthread_cond_t g_cv;	/* g_open or g_held changed */
	bool g_open;		/* requests pass */
	int g_held;		/* requests waiting */
};

static int
hook_gate(struct hostile *h, const union xring_req *req)
{
	struct gate *g = h->h_arg;

	pthread_mutex_lock(&g->g_lock);
	if (!g->g_open) {
		g->g_held++;
		pthread_cond_broadcast(&g->g_cv);
		while (!g->g_open)
			pthread_cond_wait(&g->g_cv, &g->g_lock);
		g->g_held--;
	}
	pthread_mutex_unlock(&g->g_lock);
	return (0);
}

static void
gate_set(struct gate *g, bool open)
{
	pthread_mutex_lock(&g->g_lock);
	g->g_open = open;
	pthread_cond_broadcast(&g->g_cv);
	pthread_mutex_unlock(&g->g_lock);
}

/* Wait until n requests are held at the gate. */
static void
gate_wait_held(struct gate *g, int n)
{
	int i;

	for (i = 0; i < WAIT_MS; i++) {
		pthread_mutex_lock(&g->g_lock);
		if (g->g_held >= n) {
			pthread_mutex_unlock(&g->g_lock);
			return;
		}
		pthread_mutex_unlock(&g->g_lock);
		usleep(1000);
	}
	fail_msg("%d requests never reached the backend", n);
}

/* An asynchronous bio and how often, and how, it completed. */
struct abio {
	struct xbd_bio a_bio;	/* the bio */
	pthread_mutex_t a_lock; /* protects the two below */
	int a_calls;		/* completions */
	int a_error;		/* error of the last one */
};

static void
abio_done(struct xbd_bio *bp, int error)
{
	struct abio *a = bp->bio_caller;

	pthread_mutex_lock(&a->a_lock);
	a->a_calls++;
	a->a_error = error;
	pthread_mutex_unlock(&a->a_lock);
}

static void
abio_init(struct abio *a, enum xbd_cmd cmd, unsigned int flags, uint64_t off,
    uint64_t len, void *buf)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->a_lock, NULL);
	a->a_bio.bio_cmd = cmd;
	a->a_bio.bio_flags = flags;
	a->a_bio.bio_offset = off;
	a->a_bio.bio_length = len;
	a->a_bio.bio_data = buf;
	a->a_bio.bio_done = abio_done;
	a->a_bio.bio_caller = a;
}

/* Completions of a, waiting up to WAIT_MS for the first. */
static int
abio_wait(struct abio *a)
{
	int i, n = 0;

	for (i = 0; i < WAIT_MS; i++) {
		pthread_mutex_lock(&a->a_lock);
		n = a->a_calls;
		pthread_mutex_unlock(&a->a_lock);
		if (n > 0)
			break;
		usleep(1000);
	}
	return (n);
}

static void
wait_state(struct sfix *f, int state)
{
	int i;

	for (i = 0; i < WAIT_MS && sfix_state(f) != state; i++)
		usleep(1000);
	assert_int_equal(sfix_state(f), state);
}

struct suspender {
	struct xbd_dev *s_dev; /* the device */
	int s_rc;	       /* xbd_suspend's answer */
};

static void *
suspend_run(void *arg)
{
	struct suspender *s = arg;

	s->s_rc = xbd_suspend(s->s_dev);
	return (NULL);
}

/* A backend without barriers: ordered writes are single-stepped. */
static const struct hostile_node no_barrier[] = {
	{ "feature-barrier", NULL },
	{ NULL, NULL },
};

/*
 * An ordered write that waits on READY for the ring to go idle when the
 * domain suspends is reissued on the new connection and completes once.
 */
static void
test_resume_reissues_ready(void **state)
{
	struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
		true, 0 };
	struct suspender s;
	struct xbd_stats st;
	struct abio a, b;
	struct hostile *h2;
	struct sfix f;
	pthread_t th;
	static char abuf[8192], bbuf[4096];

	memset(abuf, 0xa5, sizeof(abuf));
	memset(bbuf, 0x5a, sizeof(bbuf));
	assert_int_equal(sfix_up(&f, hook_gate, &g, no_barrier, NULL), 0);

	/* A write the backend holds, then the ordered write behind it. */
	gate_set(&g, false);
	abio_init(&a, XBD_CMD_WRITE, 0, 0, sizeof(abuf), abuf);
	assert_int_equal(xbd_submit(f.f_dev, &a.a_bio), 0);
	gate_wait_held(&g, 1);
	abio_init(&b, XBD_CMD_WRITE, XBD_BIO_ORDERED, 65536, sizeof(bbuf),
	    bbuf);
	assert_int_equal(xbd_submit(f.f_dev, &b.a_bio), 0);
	sfix_stats(&f, &st);
	assert_int_equal(st.xst_q_length[XBD_QSTAT_READY], 1);

	/* Suspend first, so the ordered write cannot go out meanwhile. */
	s.s_dev = f.f_dev;
	assert_int_equal(pthread_create(&th, NULL, suspend_run, &s), 0);
	wait_state(&f, 2);
	gate_set(&g, true);
	pthread_join(th, NULL);
	assert_int_equal(s.s_rc, 0);
	assert_int_equal(abio_wait(&a), 1);
	assert_int_equal(a.a_error, 0);
	sfix_stats(&f, &st);
	assert_int_equal(st.xst_q_length[XBD_QSTAT_BUSY], 0);
	assert_int_equal(st.xst_q_length[XBD_QSTAT_READY], 1);
	assert_int_equal(b.a_calls, 0);

	/* The domain comes back against a new backend. */
	h2 = sfix_new_backend(&f, NULL, NULL, no_barrier);
	assert_int_equal(xbd_resume(f.f_dev, false), 0);
	assert_int_equal(abio_wait(&b), 1);
	assert_int_equal(b.a_error, 0);
	assert_memory_equal(h2->h_disk + 65536, bbuf, sizeof(bbuf));
	sfix_stats(&f, &st);
	assert_true(st.xst_reissued >= 1);
	assert_int_equal(st.xst_single_step, 2);
	assert_int_equal(st.xst_q_length[XBD_QSTAT_READY], 0);
	usleep(20000);
	assert_int_equal(b.a_calls, 1);
	sfix_down(&f);
}

/* A suspend that does not drain in time is cancelled: EBUSY. */
static void
test_suspend_timeout(void **state)
{
	struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
		true, 0 };
	struct xbd_opts o;
	struct abio a;
	struct sfix f;
	static char buf[4096], back[4096];

	xbd_opts_init(&o);
	o.o_suspend_timeout_ms = 100;
	assert_int_equal(sfix_up(&f, hook_gate, &g, NULL, &o), 0);
	gate_set(&g, false);
	abio_init(&a, XBD_CMD_READ, 0, 0, sizeof(buf), buf);
	assert_int_equal(xbd_submit(f.f_dev, &a.a_bio), 0);
	gate_wait_held(&g, 1);
	assert_int_equal(xbd_suspend(f.f_dev), -EBUSY);
	/* Still connected: I/O is accepted and, once answered, done. */
	assert_int_equal(sfix_state(&f), 1);
	assert_int_equal(xbd_resume(f.f_dev, false), -EINVAL);
	gate_set(&g, true);
	assert_int_equal(abio_wait(&a), 1);
	assert_int_equal(a.a_error, 0);
	assert_int_equal(xbd_write(f.f_dev, buf, 4096, sizeof(buf)), 0);
	assert_int_equal(xbd_read(f.f_dev, back, 4096, sizeof(back)), 0);
	/* With nothing held, the same suspend succeeds. */
	assert_int_equal(xbd_suspend(f.f_dev), 0);
	assert_int_equal(sfix_state(&f), 2);
	assert_int_equal(xbd_resume(f.f_dev, true), 0);
	assert_int_equal(sfix_state(&f), 1);
	sfix_down(&f);
}

/* Resume follows the toolstack to a backend in another domain. */
static void
test_resume_new_backend(void **state)
{
	struct xbd_info info;
	struct xbd_stats st;
	struct hostile *h1, *h2;
	struct sfix f;
	static char x[8192], y[8192], back[8192];

	memset(x, 'x', sizeof(x));
	memset(y, 'y', sizeof(y));
	assert_int_equal(sfix_up(&f, NULL, NULL, NULL, NULL), 0);
	h1 = sfix_backend(&f);
	xbd_get_info(f.f_dev, &info);
	assert_int_equal(info.xi_backend_id, 0);
	assert_int_equal(xbd_write(f.f_dev, x, 0, sizeof(x)), 0);
	assert_memory_equal(h1->h_disk, x, sizeof(x));

	assert_int_equal(xbd_suspend(f.f_dev), 0);
	h2 = sfix_new_backend(&f, NULL, NULL, NULL);
	assert_int_equal(xbd_resume(f.f_dev, false), 0);
	xbd_get_info(f.f_dev, &info);
	assert_int_equal(info.xi_state, 1);
	assert_int_equal(info.xi_backend_id, 2);
	assert_string_equal(info.xi_backend, h2->h_be);
	assert_ptr_not_equal(strstr(info.xi_backend, "/local/domain/2/"), NULL);

	/* I/O now reaches the new backend only. */
	assert_int_equal(xbd_write(f.f_dev, y, 0, sizeof(y)), 0);
	assert_memory_equal(h2->h_disk, y, sizeof(y));
	assert_memory_equal(h1->h_disk, x, sizeof(x));
	assert_int_equal(xbd_read(f.f_dev, back, 0, sizeof(back)), 0);
	assert_memory_equal(back, y, sizeof(y));
	sfix_stats(&f, &st);
	assert_int_equal(st.xst_reconnects, 1);
	sfix_down(&f);
}

/* Samples xbd_get_info while the device reconnects. */
struct sampler {
	struct xbd_dev *sm_dev;	 /* the device */
	pthread_mutex_t sm_lock; /* protects the rest */
	bool sm_stop;		 /* finish */
	uint64_t sm_samples;	 /* infos taken */
	uint64_t sm_torn;	 /* ... lacking a negotiated feature */
};

static void *
sample_run(void *arg)
{
	const uint32_t want =
	    XBD_FEAT_FLUSH | XBD_FEAT_BARRIER | XBD_FEAT_INDIRECT;
	struct sampler *sm = arg;
	struct xbd_info info;
	bool stop = false;

	while (!stop) {
		xbd_get_info(sm->sm_dev, &info);
		pthread_mutex_lock(&sm->sm_lock);
		sm->sm_samples++;
		if ((info.xi_features & want) != want ||
		    info.xi_max_request_segments != 256)
			sm->sm_torn++;
		stop = sm->sm_stop;
		pthread_mutex_unlock(&sm->sm_lock);
		/* Let the event thread have the device lock too. */
		usleep(10);
	}
	return (NULL);
}

static const struct hostile_node indirect256[] = {
	{ "feature-max-indirect-segments", "256" },
	{ NULL, NULL },
};

/*
 * Reconnecting to a backend offering what the old one did never shows a
 * device without those features: the features and limits are committed
 * under the lock in one go, not cleared and then set one by one while
 * XenStore is read.
 */
static void
test_resume_features_atomic(void **state)
{
	struct sampler sm = { .sm_lock = PTHREAD_MUTEX_INITIALIZER };
	struct sfix f;
	pthread_t th;
	int i;

	/* Each round: a machine, one resume to a backend in domain 2. */
	for (i = 0; i < 8; i++) {
		assert_int_equal(sfix_up(&f, NULL, NULL, indirect256, NULL), 0);
		sm.sm_dev = f.f_dev;
		sm.sm_stop = false;
		assert_int_equal(pthread_create(&th, NULL, sample_run, &sm), 0);
		assert_int_equal(xbd_suspend(f.f_dev), 0);
		(void)sfix_new_backend(&f, NULL, NULL, indirect256);
		assert_int_equal(xbd_resume(f.f_dev, false), 0);
		pthread_mutex_lock(&sm.sm_lock);
		sm.sm_stop = true;
		pthread_mutex_unlock(&sm.sm_lock);
		pthread_join(th, NULL);
		sfix_down(&f);
	}
	assert_true(sm.sm_samples > 0);
	assert_int_equal(sm.sm_torn, 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resume_reissues_ready),
		cmocka_unit_test(test_suspend_timeout),
		cmocka_unit_test(test_resume_new_backend),
		cmocka_unit_test(test_resume_features_atomic),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
