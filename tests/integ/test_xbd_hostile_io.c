/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the frontend against a hostile backend that races it on
 * shared memory and reads what it should not (docs/reliability.md 6.1): a
 * response slot rewritten while the frontend consumes it (F11), request
 * slots rewritten after the frontend wrote them (F12), a notification
 * storm with nothing behind it (F13), a late answer to a device that
 * already failed (F16b), canary bytes around the requested sectors of
 * granted pages (F20), a read that writes the whole page (F21), and the
 * backend directory removed or the frontend's `backend` node rewritten
 * while connected (F30).  Test names carry the catalogue item.
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "sfix.h"
#include "xsd.h"
#include "xt.h"

/* Byte the frontend's buffers are filled with where no data belongs. */
#define CANARY 0xca

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

static uint64_t
cpu_ns(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (
	    (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
	    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u);
}

/* The response slot of index i on the hostile backend's ring. */
static struct blkif_response *
rsp_slot(struct hostile *h, RING_IDX i)
{
	struct blkif_back_ring *r = &h->h_ring.xr_u.native;

	return ((struct blkif_response *)((char *)h->h_sring +
	    offsetof(struct blkif_sring, ring) +
	    (i & (r->nr_ents - 1)) * sizeof(union blkif_sring_entry)));
}

/* Writes then reads back n blocks; each must be right or EIO. */
static int
rw_until_error(struct sfix *f, int n)
{
	char buf[4096], back[4096];
	int i, rc;

	for (i = 0; i < n; i++) {
		memset(buf, i + 1, sizeof(buf));
		rc = xbd_write(f->f_dev, buf, (uint64_t)i * 4096, 4096);
		if (rc == 0)
			rc = xbd_read(f->f_dev, back, (uint64_t)i * 4096, 4096);
		if (rc != 0) {
			assert_int_equal(rc, -EIO);
			return (rc);
		}
		assert_memory_equal(buf, back, sizeof(buf));
	}
	return (0);
}

static int
hook_flip_rsp(struct hostile *h, const union xring_req *req)
{
	struct blkif_response *rsp;
	unsigned int *seed = h->h_arg;
	int i;

	/* F11: answer honestly, publish, then keep rewriting the slot. */
	hostile_serve(h, req);
	hostile_push(h);
	rsp = rsp_slot(h, h->h_ring.xr_u.native.rsp_prod_pvt - 1);
	for (i = 0; i < 2000; i++) {
		switch (rand_r(seed) % 3) {
		case 0:
			rsp->id = (uint64_t)rand_r(seed);
			break;
		case 1:
			rsp->status = (int16_t)rand_r(seed);
			break;
		default:
			rsp->operation = (uint8_t)rand_r(seed);
		}
	}
	return (1);
}

/* catalogue: F11 */
static void
test_F11_response_flipper(void **state)
{
	unsigned int seed, errors = 0;
	struct sfix f;

	for (seed = 1; seed <= 8; seed++) {
		assert_int_equal(sfix_up(&f, hook_flip_rsp, &seed, NULL, NULL),
		    0);
		if (rw_until_error(&f, 32) != 0) {
			sfix_assert_error(&f);
			errors++;
		}
		sfix_down(&f);
	}
	printf("F11: %u of 8 runs ended in the error state\n", errors);
}

static int
hook_flip_req(struct hostile *h, const union xring_req *req)
{
	struct blkif_back_ring *r = &h->h_ring.xr_u.native;
	unsigned int *seed = h->h_arg;
	unsigned char *slot;
	size_t i;

	/* F12: the slot just taken is garbage from now on; we serve our
	   copy, so the frontend must not look at the slot again. */
	slot = (unsigned char *)h->h_sring +
	    offsetof(struct blkif_sring, ring) +
	    ((r->req_cons - 1) & (r->nr_ents - 1)) *
		sizeof(union blkif_sring_entry);
	for (i = 0; i < sizeof(union blkif_sring_entry); i++)
		slot[i] = (unsigned char)rand_r(seed);
	return (0);
}

/* catalogue: F12 */
static void
test_F12_request_slots_rewritten(void **state)
{
	unsigned int seed = 12;
	struct sfix f;

	assert_int_equal(sfix_up(&f, hook_flip_req, &seed, NULL, NULL), 0);
	assert_int_equal(rw_until_error(&f, 64), 0);
	assert_int_equal(sfix_state(&f), 1);
	sfix_down(&f);
}

struct storm {
	struct hostile *s_h; /* whose channel to hammer */
	volatile int s_stop; /* set by the test */
	uint64_t s_sent;     /* notifications sent */
	uint64_t s_cpu_ns;   /* this thread's CPU time */
};

static void *
storm_main(void *arg)
{
	struct storm *s = arg;

	while (!s->s_stop) {
		(void)plat_evtchn_notify(s->s_h->h_ev, s->s_h->h_port);
		s->s_sent++;
	}
	s->s_cpu_ns = cpu_ns(RUSAGE_THREAD);
	return (NULL);
}

/* catalogue: F13 */
static void
test_F13_event_storm(void **state)
{
	struct storm s = { 0 };
	struct xbd_stats a, b;
	uint64_t t0, c0, wall, cpu;
	pthread_t th;
	struct sfix f;
	char buf[4096];
	int n = 0;

	assert_int_equal(sfix_up(&f, NULL, NULL, NULL, NULL), 0);
	s.s_h = &f.f_h[0];
	xbd_get_stats(f.f_dev, &a, sizeof(a));
	t0 = now_ns();
	c0 = cpu_ns(RUSAGE_SELF);
	assert_int_equal(pthread_create(&th, NULL, storm_main, &s), 0);
	/* I/O keeps working through the storm. */
	while (now_ns() - t0 < 1000000000u) {
		assert_int_equal(xbd_read(f.f_dev, buf, 0, sizeof(buf)), 0);
		n++;
	}
	s.s_stop = 1;
	pthread_join(th, NULL);
	wall = now_ns() - t0;
	cpu = cpu_ns(RUSAGE_SELF) - c0;
	xbd_get_stats(f.f_dev, &b, sizeof(b));
	printf("F13: %ju notifications, %ju events taken, %d reads, "
	       "%.2f cores besides the sender\n",
	    (uintmax_t)s.s_sent, (uintmax_t)(b.xst_events - a.xst_events), n,
	    (double)(cpu - s.s_cpu_ns) / (double)wall);
	assert_true(n > 0);
	/* Coalesced: never more events taken than sent (plus answers). */
	assert_true(b.xst_events - a.xst_events <= s.s_sent + (uint64_t)n * 2);
	/* Everything but the sender (frontend, backend, test loop) fits
	   in one core. */
	assert_true(cpu - s.s_cpu_ns <= wall + wall / 10);
	assert_int_equal(sfix_state(&f), 1);
	sfix_down(&f);
}

static int
hook_late(struct hostile *h, const union xring_req *req)
{
	/* F16b: break the device, then answer the real request. */
	hostile_respond(h, 1000, req->rw.operation, 0);
	hostile_push(h);
	usleep(20000);
	hostile_serve(h, req);
	return (1);
}

/* catalogue: F16b */
static void
test_F16b_answer_after_failure(void **state)
{
	struct xbd_stats st;
	struct sfix f;
	char buf[4096];

	assert_int_equal(sfix_up(&f, hook_late, NULL, NULL, NULL), 0);
	assert_int_equal(xbd_read(f.f_dev, buf, 0, sizeof(buf)), -EIO);
	usleep(50000);
	xbd_get_stats(f.f_dev, &st, sizeof(st));
	/* The late answer completed nothing a second time. */
	assert_int_equal(st.xst_errors, 1);
	sfix_assert_error(&f);
	sfix_down(&f);
}

/* What the canary hooks saw. */
struct peek {
	unsigned int p_pages; /* data pages looked at */
	unsigned int p_leaks; /* non-zero bytes outside the range */
};

static int
hook_peek(struct hostile *h, const union xring_req *req)
{
	const struct blkif_request *rw = &req->rw;
	struct peek *p = h->h_arg;
	struct plat_map_seg seg;
	const unsigned char *pg;
	unsigned int i, b;

	/* F20: whatever lies outside [first_sect, last_sect] of a granted
	   page must be zero, never the frontend's neighbouring bytes. */
	if (rw->operation != BLKIF_OP_READ && rw->operation != BLKIF_OP_WRITE)
		return (0);
	for (i = 0; i < rw->nr_segments && i < 11; i++) {
		seg.ms_ref = rw->seg[i].gref;
		if (plat_map_batch(h->h_plat, h->h_fe_id, 1,
			rw->operation == BLKIF_OP_READ, &seg) != 0)
			continue;
		pg = seg.ms_addr;
		for (b = 0; b < 4096; b++)
			if ((b < rw->seg[i].first_sect * 512u ||
				b >= (rw->seg[i].last_sect + 1u) * 512u) &&
			    pg[b] != 0)
				p->p_leaks++;
		p->p_pages++;
		plat_unmap_batch(h->h_plat, 1, &seg);
	}
	return (0);
}

/* catalogue: F20 */
static void
test_F20_canary(void **state)
{
	static const uint32_t offs[] = { 0, 1, 100, 511, 2048, 4095 };
	struct peek p = { 0, 0 };
	struct xbd_opts o;
	struct sfix f;
	unsigned char *buf;
	size_t i;

	xbd_opts_init(&o);
	o.o_bounce = 1;
	assert_non_null(buf = malloc(3 * 4096));
	memset(buf, CANARY, 3 * 4096);
	assert_int_equal(sfix_up(&f, hook_peek, &p, NULL, &o), 0);
	/* Single sectors from buffers placed anywhere in a page. */
	for (i = 0; i < XU_NELEM(offs); i++) {
		assert_int_equal(xbd_write(f.f_dev, buf + 4096 + offs[i],
				     512 * (i + 1), 512),
		    0);
		assert_int_equal(
		    xbd_read(f.f_dev, buf + 4096 + offs[i], 512 * (i + 1), 512),
		    0);
	}
	printf("F20: %u pages looked at, %u bytes leaked\n", p.p_pages,
	    p.p_leaks);
	assert_true(p.p_pages >= 2 * XU_NELEM(offs));
	assert_int_equal(p.p_leaks, 0);
	sfix_down(&f);
	free(buf);
}

static int
hook_overwrite(struct hostile *h, const union xring_req *req)
{
	const struct blkif_request *rw = &req->rw;
	unsigned int *scribbled = h->h_arg;
	struct plat_map_seg seg;
	uint8_t i;

	/* F21: a read scribbles over the whole page, then answers. */
	if (rw->operation == BLKIF_OP_READ) {
		for (i = 0; i < rw->nr_segments && i < 11; i++) {
			seg.ms_ref = rw->seg[i].gref;
			if (plat_map_batch(h->h_plat, h->h_fe_id, 1, true,
				&seg) != 0)
				continue;
			memset(seg.ms_addr, 0xee, 4096);
			(*scribbled)++;
			plat_unmap_batch(h->h_plat, 1, &seg);
		}
	}
	return (0);
}

/* catalogue: F21 */
static void
test_F21_read_beyond_range(void **state)
{
	unsigned char *buf, data[512];
	unsigned int scribbled = 0;
	struct xbd_opts o;
	struct sfix f;
	size_t i;

	xbd_opts_init(&o);
	o.o_bounce = 1;
	assert_non_null(buf = malloc(3 * 4096));
	memset(buf, CANARY, 3 * 4096);
	memset(data, 0x5a, sizeof(data));
	assert_int_equal(sfix_up(&f, hook_overwrite, &scribbled, NULL, &o), 0);
	assert_int_equal(xbd_write(f.f_dev, data, 3 * 512, 512), 0);
	assert_int_equal(xbd_read(f.f_dev, buf + 5000, 3 * 512, 512), 0);
	/* The requested bytes arrived; not one byte around them moved. */
	assert_int_equal(scribbled, 1);
	assert_memory_equal(buf + 5000, data, 512);
	for (i = 0; i < 3 * 4096; i++)
		if (i < 5000 || i >= 5512)
			assert_int_equal(buf[i], CANARY);
	sfix_down(&f);
	free(buf);
}

/* After the lie: I/O is right or EIO within the recovery time. */
static void
survive_store_lie(struct sfix *f)
{
	char buf[4096];
	uint64_t t0 = now_ns();
	int i, rc;

	for (i = 0; i < 20; i++) {
		rc = xbd_read(f->f_dev, buf, 0, sizeof(buf));
		assert_true(rc == 0 || rc == -EIO);
		usleep(10000);
	}
	/* Bounded by the 200 ms recovery time, not the 30 s default. */
	assert_true(now_ns() - t0 < 10000000000u);
}

/* catalogue: F30 */
static void
test_F30_backend_dir_vanishes(void **state)
{
	struct xbd_opts o;
	struct sfix f;
	char fe_backend[300];

	xbd_opts_init(&o);
	o.o_recovery_timeout_ms = 200;
	/* The backend directory removed under a connected device. */
	assert_int_equal(sfix_up(&f, NULL, NULL, NULL, &o), 0);
	assert_int_equal(rw_until_error(&f, 4), 0);
	assert_int_equal(xbus_rm(f.f_priv, XBT_NULL, f.f_h[0].h_be, ""), 0);
	survive_store_lie(&f);
	sfix_down(&f);
	/* The frontend's `backend` node pointed elsewhere. */
	assert_int_equal(sfix_up(&f, NULL, NULL, NULL, &o), 0);
	assert_int_equal(rw_until_error(&f, 4), 0);
	snprintf(fe_backend, sizeof(fe_backend), "%s", f.f_h[0].h_fe);
	assert_int_equal(xbus_write(f.f_priv, XBT_NULL, fe_backend, "backend",
			     "/local/domain/0/backend/vbd/1/1"),
	    0);
	survive_store_lie(&f);
	sfix_down(&f);
}

/* catalogue: L2 */
static void
test_L2_xenstored_restart(void **state)
{
	struct xsd_server *xsd;
	uint64_t t0;
	char dir[] = "/tmp/xbd-l2.XXXXXX";
	struct sfix f;
	int rc;

	/* The daemon is not restartable (its tree lives in memory): a
	   restart is a fresh, empty store.  Connected devices keep their
	   data path; what needs the store fails cleanly and in bounded
	   time. */
	assert_non_null(mkdtemp(dir));
	assert_int_equal(xsd_server_start(dir, NULL, &xsd), 0);
	assert_int_equal(sfix_up_on(&f, dir, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(rw_until_error(&f, 4), 0);
	xsd_server_stop(xsd);
	assert_int_equal(rw_until_error(&f, 16), 0);
	assert_int_equal(xsd_server_start(dir, NULL, &xsd), 0);
	assert_int_equal(rw_until_error(&f, 16), 0);
	t0 = now_ns();
	xbd_detach(f.f_dev);
	f.f_dev = NULL;
	printf("L2: detach without the store took %.1f ms\n",
	    (double)(now_ns() - t0) / 1e6);
	sfix_down(&f);
	xsd_server_stop(xsd);
	rc = rmdir(dir);
	assert_true(rc == 0 || errno == ENOTEMPTY);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_F11_response_flipper),
		cmocka_unit_test(test_F12_request_slots_rewritten),
		cmocka_unit_test(test_F13_event_storm),
		cmocka_unit_test(test_F16b_answer_after_failure),
		cmocka_unit_test(test_F20_canary),
		cmocka_unit_test(test_F21_read_beyond_range),
		cmocka_unit_test(test_F30_backend_dir_vanishes),
		cmocka_unit_test(test_L2_xenstored_restart),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
