/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the backend against a hostile frontend, catalogue items
 * of docs/reliability.md 6.2.  In the ring: producer running ahead or moving
 * backwards (B1, B2), a flood (B3), a thread rewriting slots and
 * indirect pages while the backend parses (B4), bad operations,
 * segment counts, segment bounds and ranges sent as raw slots (B5-B9,
 * B12), unoffered flush/barrier (B13), grant references that do not map
 * in every way (B15), partially failing batches that must leave nothing
 * mapped (B16), indirect garbage (B17), ids reused in flight (B18), a
 * frontend that never consumes responses (B19), a notification storm
 * (B20), response padding (B21).  In XenStore: bad or missing transport
 * nodes (B22), each fatal for the device only and recoverable by a clean
 * reconnection; Connected/Closing toggled many times (B23); the
 * frontend domain dying with I/O in flight (B24); state rewritten in a
 * loop (B25); lies in the frontend's own directory (B26).  Survival
 * means: no crash or sanitizer report, the offending request or device
 * fails cleanly, everything else keeps working, nothing stays mapped.
 */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "back/xbb_internal.h"
#include "common/xu_assert.h"
#include "xbbt_front.h"
#include "xt.h"
#include "xt_res.h"

#define XVDA 51712u
#define XVDB 51728u
#define IMG_SIZE (4u << 20)

struct fixture {
	struct xbbt_machine m; /* machine and backend */
	char img[512];	       /* XVDA's image */
	char img2[512];	       /* XVDB's image */
	struct xbbt_front f;   /* a connected frontend on XVDA */
};

static void
add_vbd(struct fixture *fx, uint32_t vdev, const char *img)
{
	struct xbbt_vbd v;

	memset(&v, 0, sizeof(v));
	v.v_vdev = vdev;
	v.v_params = img;
	assert_int_equal(xbbt_vbd_add(&fx->m, &v), 0);
}

static int
setup_opts(void **state, const struct xbb_opts *o, bool connect)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(xbbt_machine_start(&fx->m), 0);
	xbbt_image(&fx->m, "xvda.img", IMG_SIZE, fx->img, sizeof(fx->img));
	xbbt_image(&fx->m, "xvdb.img", IMG_SIZE, fx->img2, sizeof(fx->img2));
	assert_int_equal(xbbt_backend_start(&fx->m, o), 0);
	add_vbd(fx, XVDA, fx->img);
	if (connect) {
		assert_int_equal(xbbt_front_open(&fx->f, &fx->m, XVDA, NULL),
		    0);
		assert_int_equal(xbbt_front_connect(&fx->f), 0);
	}
	*state = fx;
	return (0);
}

static int
setup(void **state)
{
	return (setup_opts(state, NULL, true));
}

static int
setup_bare(void **state)
{
	return (setup_opts(state, NULL, false));
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx->f.f_m != NULL)
		xbbt_front_close(&fx->f);
	xbbt_machine_stop(&fx->m);
	unlink(fx->img);
	unlink(fx->img2);
	free(fx);
	return (0);
}

/* Foreign pages the backend domain maps right now. */
static uint32_t
be_mapped(struct fixture *fx)
{
	struct hv_dom_usage u;

	assert_int_equal(hv_domain_usage(fx->m.m_hv, XBBT_BE, &u), 0);
	return (u.du_mapped);
}

/* The device still serves: a write and a read back. */
static void
still_serving(struct xbbt_front *f)
{
	uint8_t w[8 * 512], r[8 * 512];

	memset(w, 0x6b, sizeof(w));
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_WRITE, 64, 8, w, 0),
	    BLKIF_RSP_OKAY);
	assert_int_equal(xbbt_rw(f, 0, BLKIF_OP_READ, 64, 8, r, 0),
	    BLKIF_RSP_OKAY);
	assert_memory_equal(w, r, sizeof(w));
}

/* Send one raw native request; return the response status. */
static int
raw(struct xbbt_front *f, const void *req, size_t len, uint64_t id)
{
	struct blkif_response rsp;

	xbbt_put_raw(f, 0, req, len);
	xbbt_push(f, 0);
	assert_int_equal(xbbt_wait(f, 0, &rsp, XBBT_TIMEOUT_MS), 0);
	assert_true(rsp.id == id);
	return (rsp.status);
}

static struct blkif_request
rq(uint8_t op, uint8_t nseg, uint64_t sector, uint64_t id)
{
	struct blkif_request r;

	memset(&r, 0, sizeof(r));
	r.operation = op;
	r.nr_segments = nseg;
	r.id = id;
	r.sector_number = sector;
	return (r);
}

static char *
be_error(struct fixture *fx, uint32_t vdev)
{
	char dir[128], *v = NULL;

	xbbt_bedir(vdev, dir, sizeof(dir));
	if (xbus_read(fx->m.m_xs, XBT_NULL, dir, "error", &v) != 0)
		return (NULL);
	return (v);
}

/* ---------------------------------------------------------------------
 * The ring
 */

/* catalogue: B1 B2 */
static void
test_producer(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct xbb_stats st;
	char *err;

	/* B1: a producer more than a ring ahead of our responses. */
	still_serving(f);
	xbbt_set_req_prod(f, 0, f->f_rings[0].r_req_prod + 33);
	assert_int_equal(
	    xbbt_wait_be(&fx->m, XVDA, XenbusStateClosing, XBBT_TIMEOUT_MS), 0);
	assert_non_null(err = be_error(fx, XVDA));
	assert_non_null(strstr(err, "ring 0"));
	free(err);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_ring_errors, 1);
	/* The frontend closes; the backend lets go; a clean frontend
	   reconnects. */
	xbbt_front_close(f);
	assert_int_equal(xbbt_front_open(f, &fx->m, XVDA, NULL), 0);
	assert_int_equal(xbbt_front_connect(f), 0);
	still_serving(f);
	/* B2: a producer moving backwards. */
	xbbt_set_req_prod(f, 0, f->f_rings[0].r_req_prod - 1);
	assert_int_equal(
	    xbbt_wait_be(&fx->m, XVDA, XenbusStateClosing, XBBT_TIMEOUT_MS), 0);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_ring_errors, 2);
}

/* catalogue: B5 B7 B8 B9 B12 B14 */
static void
test_bad_requests(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct blkif_request_discard d;
	struct blkif_request r;
	struct xbb_stats st;
	grant_ref_t g;
	unsigned int i;

	g = xbbt_grant(f, 0, false);
	/* B5: unknown operations. */
	r = rq(BLKIF_OP_RESERVED_1, 1, 0, 1);
	assert_int_equal(raw(f, &r, sizeof(r), 1), BLKIF_RSP_EOPNOTSUPP);
	r = rq(7, 0, 0, 2);
	assert_int_equal(raw(f, &r, sizeof(r), 2), BLKIF_RSP_EOPNOTSUPP);
	r = rq(255, 11, 0, 3);
	assert_int_equal(raw(f, &r, sizeof(r), 3), BLKIF_RSP_EOPNOTSUPP);
	/* B7: no data, too many segments. */
	r = rq(BLKIF_OP_READ, 0, 0, 4);
	assert_int_equal(raw(f, &r, sizeof(r), 4), BLKIF_RSP_ERROR);
	r = rq(BLKIF_OP_WRITE, 12, 0, 5);
	assert_int_equal(raw(f, &r, sizeof(r), 5), BLKIF_RSP_ERROR);
	r = rq(BLKIF_OP_WRITE, 255, 0, 6);
	assert_int_equal(raw(f, &r, sizeof(r), 6), BLKIF_RSP_ERROR);
	/* B8: first > last, last beyond the page. */
	r = rq(BLKIF_OP_READ, 1, 0, 7);
	r.seg[0].gref = g;
	r.seg[0].first_sect = 3;
	r.seg[0].last_sect = 2;
	assert_int_equal(raw(f, &r, sizeof(r), 7), BLKIF_RSP_ERROR);
	r.id = 8;
	r.seg[0].first_sect = 0;
	r.seg[0].last_sect = 255;
	assert_int_equal(raw(f, &r, sizeof(r), 8), BLKIF_RSP_ERROR);
	/* The boundary first = last = 7 is fine. */
	r.id = 9;
	r.seg[0].first_sect = r.seg[0].last_sect = 7;
	assert_int_equal(raw(f, &r, sizeof(r), 9), BLKIF_RSP_OKAY);
	/* B9: past the end, wrapping, the very last sector. */
	r.id = 10;
	r.sector_number = IMG_SIZE / 512;
	assert_int_equal(raw(f, &r, sizeof(r), 10), BLKIF_RSP_ERROR);
	r.id = 11;
	r.sector_number = UINT64_MAX;
	assert_int_equal(raw(f, &r, sizeof(r), 11), BLKIF_RSP_ERROR);
	r.id = 12;
	r.sector_number = IMG_SIZE / 512 - 1;
	assert_int_equal(raw(f, &r, sizeof(r), 12), BLKIF_RSP_OKAY);
	/* B12: discards of nothing, of everything and more, wrapping. */
	memset(&d, 0, sizeof(d));
	d.operation = BLKIF_OP_DISCARD;
	for (i = 0; i < 4; i++) {
		d.id = 20 + i;
		d.sector_number = i == 2 ? UINT64_MAX - 7 : 0;
		d.nr_sectors = i == 0 ? 0 :
		    i == 1	      ? IMG_SIZE / 512 + 8 :
		    i == 2	      ? 8 :
					UINT64_MAX;
		assert_int_equal(raw(f, &d, sizeof(d), 20 + i),
		    f->f_discard ? BLKIF_RSP_ERROR : BLKIF_RSP_EOPNOTSUPP);
	}
	/* B14: a flush carrying data writes it. */
	r = rq(BLKIF_OP_FLUSH_DISKCACHE, 1, 8, 30);
	r.seg[0].gref = g;
	r.seg[0].last_sect = 7;
	assert_int_equal(raw(f, &r, sizeof(r), 30), BLKIF_RSP_OKAY);
	xbbt_ungrant(f, g);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_err_eopnotsupp, 3 + (f->f_discard ? 0 : 4));
	assert_int_equal(st.st_req_other, 3);
	assert_true(st.st_err_bad_request >= 7);
	assert_int_equal(st.st_in_flight, 0);
	still_serving(f);
}

/* catalogue: B15 B16 */
static void
test_grants(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct blkif_request r;
	struct xbb_stats st;
	grant_ref_t g[5], ro, other, revoked;
	uint32_t base = be_mapped(fx);
	unsigned int i;

	/* B15: refs out of the table, never granted. */
	r = rq(BLKIF_OP_WRITE, 1, 0, 1);
	r.seg[0].gref = 0xfffffff0u;
	r.seg[0].last_sect = 7;
	assert_int_equal(raw(f, &r, sizeof(r), 1), BLKIF_RSP_ERROR);
	r.id = 2;
	r.seg[0].gref = 4000;
	assert_int_equal(raw(f, &r, sizeof(r), 2), BLKIF_RSP_ERROR);
	/* Granted to another domain. */
	assert_int_equal(plat_gnt_reserve(f->f_p, 1, &other), 0);
	assert_int_equal(
	    plat_gnt_grant(f->f_p, other, 7, xbbt_page(f, 10), false, &other),
	    0);
	r.id = 3;
	r.seg[0].gref = other;
	assert_int_equal(raw(f, &r, sizeof(r), 3), BLKIF_RSP_ERROR);
	assert_int_equal(plat_gnt_end(f->f_p, other), 0);
	plat_gnt_release(f->f_p, 1, &other);
	/* Read-only, for a read (the backend must write the page). */
	ro = xbbt_grant(f, 11, true);
	r = rq(BLKIF_OP_READ, 1, 0, 4);
	r.seg[0].gref = ro;
	r.seg[0].last_sect = 7;
	assert_int_equal(raw(f, &r, sizeof(r), 4), BLKIF_RSP_ERROR);
	/* ... but fine for a write. */
	r = rq(BLKIF_OP_WRITE, 1, 0, 5);
	r.seg[0].gref = ro;
	r.seg[0].last_sect = 7;
	assert_int_equal(raw(f, &r, sizeof(r), 5), BLKIF_RSP_OKAY);
	xbbt_ungrant(f, ro);
	/* Revoked between requests. */
	revoked = xbbt_grant(f, 12, false);
	xbbt_ungrant(f, revoked);
	r.id = 6;
	r.seg[0].gref = revoked;
	assert_int_equal(raw(f, &r, sizeof(r), 6), BLKIF_RSP_ERROR);
	/* The same ref twice in one request: legal. */
	g[0] = xbbt_grant(f, 13, false);
	r = rq(BLKIF_OP_WRITE, 2, 0, 7);
	r.seg[0].gref = r.seg[1].gref = g[0];
	r.seg[0].last_sect = r.seg[1].last_sect = 7;
	assert_int_equal(raw(f, &r, sizeof(r), 7), BLKIF_RSP_OKAY);
	xbbt_ungrant(f, g[0]);
	/* The ring page itself as data of a write. */
	r = rq(BLKIF_OP_WRITE, 1, 0, 8);
	r.seg[0].gref = f->f_rings[0].r_refs[0];
	r.seg[0].last_sect = 7;
	assert_int_equal(raw(f, &r, sizeof(r), 8), BLKIF_RSP_OKAY);
	/* B16: a batch failing in the middle leaves nothing mapped. */
	for (i = 0; i < 5; i++)
		g[i] = xbbt_grant(f, 20 + i, false);
	r = rq(BLKIF_OP_READ, 5, 0, 9);
	for (i = 0; i < 5; i++) {
		r.seg[i].gref = i == 2 ? 0xfffffff0u : g[i];
		r.seg[i].last_sect = 7;
	}
	assert_int_equal(raw(f, &r, sizeof(r), 9), BLKIF_RSP_ERROR);
	assert_int_equal(be_mapped(fx), base);
	/* Ending access succeeds only if the backend unmapped them all. */
	for (i = 0; i < 5; i++)
		xbbt_ungrant(f, g[i]);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_err_grant, 6);
	still_serving(f);
	assert_int_equal(be_mapped(fx), base);
}

static void
test_grants_persistent(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_fopts o;
	struct xbbt_front *f = &fx->f;
	struct blkif_request r;
	struct xbb_stats st;
	grant_ref_t g[3];
	uint32_t base;
	unsigned int i;

	memset(&o, 0, sizeof(o));
	o.fo_persistent = true;
	assert_int_equal(xbbt_front_open(f, &fx->m, XVDA, &o), 0);
	assert_int_equal(xbbt_front_connect(f), 0);
	base = be_mapped(fx);
	/* A partial failure adopts nothing into the cache. */
	for (i = 0; i < 3; i++)
		g[i] = xbbt_grant(f, 30 + i, false);
	r = rq(BLKIF_OP_WRITE, 3, 0, 1);
	for (i = 0; i < 3; i++) {
		r.seg[i].gref = i == 1 ? 0xfffffff0u : g[i];
		r.seg[i].last_sect = 7;
	}
	assert_int_equal(raw(f, &r, sizeof(r), 1), BLKIF_RSP_ERROR);
	assert_int_equal(be_mapped(fx), base);
	for (i = 0; i < 3; i++)
		xbbt_ungrant(f, g[i]);
	/* A read-only grant cannot be persistent (mapped writable). */
	g[0] = xbbt_grant(f, 40, true);
	r = rq(BLKIF_OP_WRITE, 1, 0, 2);
	r.seg[0].gref = g[0];
	r.seg[0].last_sect = 7;
	assert_int_equal(raw(f, &r, sizeof(r), 2), BLKIF_RSP_ERROR);
	xbbt_ungrant(f, g[0]);
	still_serving(f);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_true(st.st_pgrants > 0);
	assert_int_equal(st.st_err_grant, 2);
}

/* catalogue: B6 B7 B17 */
static void
test_indirect_garbage(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct blkif_request_indirect in;
	struct blkif_request_segment *desc;
	struct xbb_stats st;
	grant_ref_t ip, data;
	uint32_t base = be_mapped(fx);

	desc = (struct blkif_request_segment *)xbbt_page(f, 50);
	data = xbbt_grant(f, 51, false);
	memset(desc, 0, XBD_PAGE_SIZE);
	desc[0].gref = data;
	desc[0].last_sect = 9; /* B17: bad descriptor */
	ip = xbbt_grant(f, 50, true);
	memset(&in, 0, sizeof(in));
	in.operation = BLKIF_OP_INDIRECT;
	in.indirect_op = BLKIF_OP_READ;
	in.nr_segments = 1;
	in.id = 1;
	in.indirect_grefs[0] = ip;
	assert_int_equal(raw(f, &in, sizeof(in), 1), BLKIF_RSP_ERROR);
	/* A descriptor page that does not map. */
	in.id = 2;
	in.indirect_grefs[0] = 0xfffffff0u;
	assert_int_equal(raw(f, &in, sizeof(in), 2), BLKIF_RSP_ERROR);
	/* B7/B6: over the negotiated maximum, inner op not read/write. */
	in.id = 3;
	in.indirect_grefs[0] = ip;
	in.nr_segments = 257;
	assert_int_equal(raw(f, &in, sizeof(in), 3), BLKIF_RSP_ERROR);
	in.id = 4;
	in.nr_segments = 1;
	in.indirect_op = BLKIF_OP_FLUSH_DISKCACHE;
	assert_int_equal(raw(f, &in, sizeof(in), 4), BLKIF_RSP_ERROR);
	in.id = 5;
	in.indirect_op = BLKIF_OP_INDIRECT;
	assert_int_equal(raw(f, &in, sizeof(in), 5), BLKIF_RSP_ERROR);
	/* 200 descriptors, one of them a ref that does not map. */
	in.id = 6;
	in.indirect_op = BLKIF_OP_WRITE;
	in.nr_segments = 200;
	desc[0].last_sect = 7;
	for (unsigned int i = 0; i < 200; i++) {
		desc[i].gref = i == 150 ? 0xfffffff0u : data;
		desc[i].first_sect = 0;
		desc[i].last_sect = 7;
	}
	assert_int_equal(raw(f, &in, sizeof(in), 6), BLKIF_RSP_ERROR);
	assert_int_equal(be_mapped(fx), base);
	/* The same page as 200 good descriptors. */
	desc[150].gref = data;
	in.id = 7;
	assert_int_equal(raw(f, &in, sizeof(in), 7), BLKIF_RSP_OKAY);
	xbbt_ungrant(f, ip);
	xbbt_ungrant(f, data);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_err_grant, 2);
	assert_int_equal(st.st_err_bad_request, 4);
	assert_int_equal(be_mapped(fx), base);
	still_serving(f);
}

/* catalogue: B18 B21 */
static void
test_ids_and_padding(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct blkif_response rsp;
	struct blkif_request r;
	uint8_t before[sizeof(r)], *slot;
	uint32_t idx;
	int i;

	/* B18: the same id twice in flight: two answers, both echoed. */
	r = rq(BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0x5555);
	xbbt_put_raw(f, 0, &r, sizeof(r));
	xbbt_put_raw(f, 0, &r, sizeof(r));
	xbbt_push(f, 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(xbbt_wait(f, 0, &rsp, XBBT_TIMEOUT_MS), 0);
		assert_true(rsp.id == 0x5555);
		assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
	}
	/* B21: a response writes id, operation and status, nothing else:
	   the slot's other bytes keep what the frontend put there. */
	r = rq(BLKIF_OP_FLUSH_DISKCACHE, 0, 0x0102030405060708ull,
	    0xa1a2a3a4a5a6a7a8ull);
	r.handle = 0xbeef;
	r.nr_segments = 0;
	idx = f->f_rings[0].r_req_prod;
	xbbt_put_raw(f, 0, &r, sizeof(r));
	slot = xbbt_slot(f, 0, idx);
	memset(slot + sizeof(struct blkif_request) - 40, 0xcd, 40);
	memcpy(before, slot, sizeof(before));
	xbbt_push(f, 0);
	assert_int_equal(xbbt_wait(f, 0, &rsp, XBBT_TIMEOUT_MS), 0);
	assert_int_equal(slot[9], before[9]);
	assert_memory_equal(slot + 12, before + 12, sizeof(before) - 12);
}

/* catalogue: B3 B19 */
static void
test_never_consumed(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct blkif_request r;
	struct xbb_stats a, b;
	unsigned int i, slots = f->f_rings[0].r_slots;

	/* B19: a full ring of flushes whose answers are never taken. */
	for (i = 0; i < slots; i++) {
		r = rq(BLKIF_OP_FLUSH_DISKCACHE, 0, 0, i);
		xbbt_put_raw(f, 0, &r, sizeof(r));
	}
	xbbt_push(f, 0);
	for (i = 0; i < 500 && xbbt_ready(f, 0) < slots; i++)
		usleep(2000);
	assert_int_equal(xbbt_ready(f, 0), slots);
	/* The backend is idle, not spinning. */
	xbbt_stats(&fx->m, XVDA, &a);
	usleep(100000);
	xbbt_stats(&fx->m, XVDA, &b);
	assert_true(b.st_wakeups - a.st_wakeups <= 2);
	/* A producer a whole ring beyond what was answered is broken. */
	xbbt_set_req_prod(f, 0, f->f_rings[0].r_req_prod + slots + 1);
	assert_int_equal(
	    xbbt_wait_be(&fx->m, XVDA, XenbusStateClosing, XBBT_TIMEOUT_MS), 0);
}

/* catalogue: B3 B20 */
static void
test_storm(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct xbbt_front g;
	struct xbb_stats st;
	unsigned int i;

	/* Another device on the same backend. */
	add_vbd(fx, XVDB, fx->img2);
	assert_int_equal(xbbt_front_open(&g, &fx->m, XVDB, NULL), 0);
	assert_int_equal(xbbt_front_connect(&g), 0);
	/* B20: notifications with nothing behind them, as fast as we can,
	   while the other device keeps serving. */
	for (i = 0; i < 100000; i++) {
		xbbt_kick(f, 0);
		if (i % 10000 == 0)
			still_serving(&g);
	}
	still_serving(f);
	still_serving(&g);
	xbbt_stats(&fx->m, XVDA, &st);
	/* Never more than one turn of the loop per notification (the
	   port stays masked while we work, so they coalesce), and every
	   one accounted for. */
	assert_true(st.st_events <= 100000 + 4);
	assert_true(st.st_wakeups <= st.st_events + 64);
	xbbt_front_close(&g);
}

struct flipper {
	struct xbbt_front *f;
	uint8_t *ind;
	volatile int stop;
	uint64_t seed;
};

static void *
flipper_main(void *arg)
{
	struct flipper *fl = arg;
	struct xbbt_ring *r = &fl->f->f_rings[0];
	size_t off, span;

	/* Scribble on request slots and an indirect page, never on the
	   indices (that is B1's business). */
	span = (size_t)r->r_slots * r->r_slot;
	while (!fl->stop) {
		off = xbbt_rand(&fl->seed) % span;
		r->r_sring[offsetof(struct blkif_sring, ring) + off] =
		    (uint8_t)xbbt_rand(&fl->seed);
		fl->ind[xbbt_rand(&fl->seed) % XBD_PAGE_SIZE] =
		    (uint8_t)xbbt_rand(&fl->seed);
	}
	return (NULL);
}

/* catalogue: B4 */
static void
test_flipper(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct blkif_request_indirect in;
	struct blkif_request_segment *desc;
	struct blkif_response rsp;
	struct blkif_request r;
	struct flipper fl;
	pthread_t t;
	grant_ref_t g, ip;
	unsigned int round, i, got;

	/* B4: requests rewritten while the backend parses them. */
	g = xbbt_grant(f, 60, true);
	desc = (struct blkif_request_segment *)xbbt_page(f, 61);
	for (i = 0; i < 16; i++) {
		desc[i].gref = g;
		desc[i].last_sect = 7;
	}
	ip = xbbt_grant(f, 61, true);
	memset(&fl, 0, sizeof(fl));
	fl.f = f;
	fl.ind = xbbt_page(f, 61);
	fl.seed = 12345;
	assert_int_equal(pthread_create(&t, NULL, flipper_main, &fl), 0);
	for (round = 0; round < 50; round++) {
		for (i = 0; i < 16; i++) {
			if (i % 2 == 0) {
				r = rq(BLKIF_OP_WRITE, 1, i * 8, i);
				r.seg[0].gref = g;
				r.seg[0].last_sect = 7;
				xbbt_put_raw(f, 0, &r, sizeof(r));
			} else {
				memset(&in, 0, sizeof(in));
				in.operation = BLKIF_OP_INDIRECT;
				in.indirect_op = BLKIF_OP_WRITE;
				in.nr_segments = 16;
				in.id = i;
				in.sector_number = 256;
				in.indirect_grefs[0] = ip;
				xbbt_put_raw(f, 0, &in, sizeof(in));
			}
		}
		xbbt_push(f, 0);
		/* Whatever came of them, each gets one answer. */
		for (got = 0; got < 16; got++)
			if (xbbt_wait(f, 0, &rsp, 2000) != 0)
				break;
		if (got < 16)
			break; /* the ring was declared broken: fine */
	}
	fl.stop = 1;
	pthread_join(t, NULL);
	/* Every request taken is answered and unmapped; only the ring
	   stays mapped. */
	for (i = 0; i < 500 && be_mapped(fx) > 1; i++)
		usleep(10000);
	assert_int_equal(be_mapped(fx), 1);
	xbbt_ungrant(f, g);
	xbbt_ungrant(f, ip);
	xbbt_front_close(f);
	assert_int_equal(be_mapped(fx), 0);
}

/* ---------------------------------------------------------------------
 * XenStore and lifecycle
 */

struct bad_case {
	const char *what;
	struct xbbt_node nodes[3];
	unsigned int nnodes;
	unsigned int pages;
	unsigned int queues;
};

/* catalogue: B22 */
static void
test_bad_nodes(void **state)
{
	static const struct bad_case cases[] = {
		{ "ring-ref missing", { { "ring-ref", NULL } }, 1, 1, 1 },
		{ "ring-ref junk", { { "ring-ref", "12abc" } }, 1, 1, 1 },
		{ "ring-ref negative", { { "ring-ref", "-1" } }, 1, 1, 1 },
		{ "ring-ref unmapped", { { "ring-ref", "4000" } }, 1, 1, 1 },
		{ "ring-ref too big", { { "ring-ref", "99999999999" } }, 1, 1,
		    1 },
		{ "ring-refs duplicated", { { "ring-ref1", NULL } }, 1, 2, 1 },
		{ "order above max", { { "ring-page-order", "6" } }, 1, 2, 1 },
		{ "order huge", { { "ring-page-order", "4294967295" } }, 1, 2,
		    1 },
		{ "num-ring-pages 3",
		    { { "ring-page-order", NULL }, { "num-ring-pages", "3" } },
		    2, 2, 1 },
		{ "event-channel missing", { { "event-channel", NULL } }, 1, 1,
		    1 },
		{ "event-channel bogus", { { "event-channel", "999" } }, 1, 1,
		    1 },
		{ "event-channel zero", { { "event-channel", "0" } }, 1, 1, 1 },
		{ "protocol unknown", { { "protocol", "arm-abi" } }, 1, 1, 1 },
		{ "protocol junk", { { "protocol", "x86_64-abi!" } }, 1, 1, 1 },
		{ "queues zero", { { "multi-queue-num-queues", "0" } }, 1, 1,
		    1 },
		{ "queues above max", { { "multi-queue-num-queues", "5" } }, 1,
		    1, 1 },
		{ "queue dir missing", { { "queue-1", NULL } }, 1, 1, 2 },
		{ "persistent junk", { { "feature-persistent", "yes" } }, 1, 1,
		    1 },
	};
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct xbbt_node dup[1];
	struct xbbt_fopts o;
	char *err, ref[16];
	unsigned int i;
	int rc;

	for (i = 0; i < XU_NELEM(cases); i++) {
		memset(&o, 0, sizeof(o));
		o.fo_pages = cases[i].pages;
		o.fo_queues = cases[i].queues;
		o.fo_nodes = cases[i].nodes;
		o.fo_nnodes = cases[i].nnodes;
		assert_int_equal(xbbt_front_open(f, &fx->m, XVDA, &o), 0);
		if (strcmp(cases[i].what, "ring-refs duplicated") == 0) {
			/* ring-ref1 = ring-ref0 */
			snprintf(ref, sizeof(ref), "%u",
			    f->f_rings[0].r_refs[0]);
			dup[0].n_name = "ring-ref1";
			dup[0].n_value = ref;
			f->f_o.fo_nodes = dup;
			f->f_o.fo_nnodes = 1;
		}
		if (strcmp(cases[i].what, "event-channel bogus") == 0)
			/* A port of ours, but not one offered to domain 0. */
			assert_true(f->f_rings[0].r_port != 999);
		rc = xbbt_front_connect(f);
		if (rc != -EPROTO)
			fail_msg("%s: connect gave %d", cases[i].what, rc);
		assert_non_null(err = be_error(fx, XVDA));
		free(err);
		/* Fatal for this device only; a clean frontend recovers. */
		xbbt_front_close(f);
		assert_int_equal(xbbt_front_open(f, &fx->m, XVDA, NULL), 0);
		assert_int_equal(xbbt_front_connect(f), 0);
		still_serving(f);
		xbbt_front_close(f);
	}
	assert_int_equal(be_mapped(fx), 0);
}

/* catalogue: B23 L1 */
static void
test_toggle(void **state)
{
	unsigned int i, cycles = xt_env_count("XBD_TOGGLE_CYCLES", 100);
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct hv_dom_usage be, fe, be0, fe0;
	int fds = 0, threads = 0;

	/* B23: connect and close, over and over, with I/O each time.  The
	   first cycle warms up; afterwards nothing may accumulate (L1). */
	for (i = 0; i < cycles + 1; i++) {
		if (i == 1) {
			fds = xt_count_fds();
			threads = xt_count_threads();
			assert_int_equal(
			    hv_domain_usage(fx->m.m_hv, XBBT_BE, &be0), 0);
			assert_int_equal(
			    hv_domain_usage(fx->m.m_hv, XBBT_FE, &fe0), 0);
		}
		assert_int_equal(xbbt_front_open(f, &fx->m, XVDA, NULL), 0);
		assert_int_equal(xbbt_front_connect(f), 0);
		if (i % 10 == 0)
			still_serving(f);
		xbbt_front_close(f);
	}
	assert_int_equal(hv_domain_usage(fx->m.m_hv, XBBT_BE, &be), 0);
	assert_int_equal(hv_domain_usage(fx->m.m_hv, XBBT_FE, &fe), 0);
	printf("toggle: %u cycles; fds %d -> %d, threads %d -> %d, backend "
	       "maps %u ports %u, frontend grants %u -> %u ports %u -> %u\n",
	    cycles, fds, xt_count_fds(), threads, xt_count_threads(),
	    be.du_mapped, be.du_ports, fe0.du_grants, fe.du_grants,
	    fe0.du_ports, fe.du_ports);
	assert_int_equal(be.du_mapped, 0);
	assert_int_equal(be.du_ports, be0.du_ports);
	assert_int_equal(fe.du_grants, fe0.du_grants);
	assert_int_equal(fe.du_ports, fe0.du_ports);
	/* Other threads open and close descriptors of their own for a
	   moment: allow that to settle, never to grow. */
	for (i = 0;
	     i < 100 && (xt_count_fds() > fds || xt_count_threads() > threads);
	     i++)
		usleep(10000);
	assert_true(xt_count_fds() <= fds);
	assert_true(xt_count_threads() <= threads);
}

/* Forget a frontend whose domain is gone: its memory went with it. */
static void
front_forget(struct fixture *fx, struct xbbt_front *f)
{
	unsigned int i;

	for (i = 0; i < f->f_nrings; i++)
		if (f->f_rings[i].r_evh != NULL)
			plat_evtchn_close(f->f_rings[i].r_evh);
	free(f->f_free);
	free(f->f_pref);
	xs_close(f->f_xs);
	memset(f, 0, sizeof(*f));
	plat_close(fx->m.m_fe);
	fx->m.m_fe = NULL;
}

/* catalogue: B24 */
static void
test_front_dies(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct xbbt_io *io[16];
	struct xbb_stats st;
	unsigned int i;
	int rc;

	/* B24: the frontend domain dies with requests in flight. */
	for (i = 0; i < 16; i++)
		assert_int_equal(xbbt_rw_start(f, 0, &io[i], BLKIF_OP_READ,
				     i * 64, 64, NULL, 0),
		    0);
	xbbt_push(f, 0);
	for (i = 0; i < 16; i++) {
		free(io[i]->io_segs);
		free(io[i]->io_page);
		free(io[i]->io_ref);
		free(io[i]);
	}
	assert_int_equal(hv_domain_destroy(fx->m.m_hv, XBBT_FE), 0);
	front_forget(fx, f);
	/*
	 * The backend notices and lets go of everything.  The mapping count
	 * can reach 0 while the requests are still counted in flight (a CI
	 * run saw all 16): they retire when their I/O completes, so both
	 * are waited for.
	 */
	for (i = 0; i < 500; i++) {
		rc = xbb_dev_stats(fx->m.m_xbb, XBBT_FE, XVDA, &st, sizeof(st));
		if (be_mapped(fx) == 0 && (rc != 0 || st.st_in_flight == 0))
			break;
		usleep(10000);
	}
	assert_int_equal(be_mapped(fx), 0);
	rc = xbb_dev_stats(fx->m.m_xbb, XBBT_FE, XVDA, &st, sizeof(st));
	if (rc == 0)
		assert_int_equal(st.st_in_flight, 0);
}

/* catalogue: B25 */
static void
test_state_loop(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	unsigned int i;

	/* B25: the frontend rewrites its state node in a loop. */
	for (i = 0; i < 2000; i++)
		xbbt_front_state(f, XenbusStateConnected);
	still_serving(f);
}

/* catalogue: B26 */
static void
test_lies(void **state)
{
	static const struct xbbt_node lies[] = {
		{ "backend", "/local/domain/7/backend/vbd/1/51712" },
		{ "backend-id", "7" },
		{ "virtual-device", "1" },
	};
	struct fixture *fx = *state;
	struct xbbt_fopts o;
	struct xbbt_front *f = &fx->f;

	/* B26: only our own directory is believed. */
	memset(&o, 0, sizeof(o));
	o.fo_nodes = lies;
	o.fo_nnodes = XU_NELEM(lies);
	assert_int_equal(xbbt_front_open(f, &fx->m, XVDA, &o), 0);
	assert_int_equal(xbbt_front_connect(f), 0);
	still_serving(f);
}

static int
setup_noflush(void **state)
{
	struct xbb_opts o;

	xbb_opts_init(&o);
	o.o_flush = o.o_barrier = false;
	o.o_max_indirect_segs = 0;
	return (setup_opts(state, &o, true));
}

/* catalogue: B13 */
static void
test_unoffered(void **state)
{
	struct fixture *fx = *state;
	struct xbbt_front *f = &fx->f;
	struct blkif_request_indirect in;

	/* B13: not offered, so not supported. */
	assert_false(f->f_flush);
	assert_false(f->f_barrier);
	assert_int_equal(f->f_max_indirect, 0);
	assert_int_equal(xbbt_nodata(f, 0, BLKIF_OP_FLUSH_DISKCACHE),
	    BLKIF_RSP_EOPNOTSUPP);
	assert_int_equal(xbbt_nodata(f, 0, BLKIF_OP_WRITE_BARRIER),
	    BLKIF_RSP_EOPNOTSUPP);
	memset(&in, 0, sizeof(in));
	in.operation = BLKIF_OP_INDIRECT;
	in.indirect_op = BLKIF_OP_READ;
	in.nr_segments = 1;
	in.id = 3;
	assert_int_equal(raw(f, &in, sizeof(in), 3), BLKIF_RSP_EOPNOTSUPP);
	still_serving(f);
}

/* The frontend dies in XenBus state `st` (Closed: after a clean close). */
static void
kill_front_in(struct fixture *fx, enum xenbus_state st)
{
	struct xbbt_front *f = &fx->f;
	unsigned int i;

	assert_int_equal(xbbt_front_open(f, &fx->m, XVDA, NULL), 0);
	switch (st) {
	case XenbusStateInitialising:
		xbbt_front_state(f, XenbusStateInitialising);
		assert_int_equal(xbbt_wait_be(&fx->m, XVDA, XenbusStateInitWait,
				     XBBT_TIMEOUT_MS),
		    0);
		break;
	case XenbusStateInitialised:
		xbbt_front_state(f, XenbusStateInitialising);
		assert_int_equal(xbbt_wait_be(&fx->m, XVDA, XenbusStateInitWait,
				     XBBT_TIMEOUT_MS),
		    0);
		assert_int_equal(xbbt_publish(f), 0);
		xbbt_front_state(f, XenbusStateInitialised);
		break;
	case XenbusStateConnected:
		assert_int_equal(xbbt_front_connect(f), 0);
		still_serving(f);
		break;
	case XenbusStateClosing:
		assert_int_equal(xbbt_front_connect(f), 0);
		xbbt_front_state(f, XenbusStateClosing);
		break;
	default:
		assert_int_equal(xbbt_front_connect(f), 0);
		xbbt_front_close(f);
		assert_int_equal(xbbt_front_open(f, &fx->m, XVDA, NULL), 0);
		break;
	}
	assert_int_equal(hv_domain_destroy(fx->m.m_hv, XBBT_FE), 0);
	front_forget(fx, f);
	/* The backend lets go of every page of the dead domain. */
	for (i = 0; i < 500 && be_mapped(fx) != 0; i++)
		usleep(10000);
	assert_int_equal(be_mapped(fx), 0);
	/* The toolstack cleans up and the domain id comes back, all before
	   the backend looks again (it waits for its lock): it must see a
	   new vbd, not its old one. */
	pthread_mutex_lock(&fx->m.m_xbb->bk_lock);
	xbbt_vbd_destroy(&fx->m, XVDA);
	assert_int_equal(
	    hv_domain_create(fx->m.m_hv, XBBT_FE, "guest", &fx->m.m_fe), 0);
	add_vbd(fx, XVDA, fx->img);
	pthread_mutex_unlock(&fx->m.m_xbb->bk_lock);
	/* The new directory gets the backend's offer. */
	assert_int_equal(
	    xbbt_wait_be(&fx->m, XVDA, XenbusStateInitWait, XBBT_TIMEOUT_MS),
	    0);
}

/* catalogue: L3 B24 */
static void
test_L3_front_killed_in_every_state(void **state)
{
	static const enum xenbus_state states[] = { XenbusStateInitialising,
		XenbusStateInitialised, XenbusStateConnected,
		XenbusStateClosing, XenbusStateClosed };
	struct fixture *fx = *state;
	size_t i;
	int rc;

	for (i = 0; i < XU_NELEM(states); i++) {
		kill_front_in(fx, states[i]);
		/* A new frontend in the reborn domain is served. */
		assert_int_equal(xbbt_front_open(&fx->f, &fx->m, XVDA, NULL),
		    0);
		rc = xbbt_front_connect(&fx->f);
		if (rc != 0)
			printf("L3: state %d: connect %d\n", states[i], rc);
		assert_int_equal(rc, 0);
		still_serving(&fx->f);
		xbbt_front_close(&fx->f);
		memset(&fx->f, 0, sizeof(fx->f));
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_producer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_grants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grants_persistent,
		    setup_bare, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_garbage, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ids_and_padding, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_never_consumed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_storm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_nodes, setup_bare,
		    teardown),
		cmocka_unit_test_setup_teardown(test_toggle, setup_bare,
		    teardown),
		cmocka_unit_test_setup_teardown(test_front_dies, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_state_loop, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lies, setup_bare,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unoffered, setup_noflush,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_L3_front_killed_in_every_state, setup_bare, teardown),
	};

	xbbt_require_uring();
	/* An argument runs only the tests it matches (while debugging). */
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
