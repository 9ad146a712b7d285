/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the backend's crash-consistent ring resume (xbb_shadow.h)
 * against the scripted frontend.  A backend killed anywhere leaves a
 * ring and a shadow file behind; here each such state is made by hand,
 * exactly as the dead backend would have left it, through the shadow's
 * own steps (take, answer) and the ring's slots, and a new backend is
 * started on it.  For four writes: every number of them taken, every
 * subset of those answered (in the reverse of the taking order, so a
 * response overwrites the slot of a request still pending), every
 * number of those answers pushed; and the two states a take leaves
 * half done (some of them again with 32-bit slots on two pages).  The
 * frontend must get exactly one OKAY response per request, the image
 * every write, and the vbd must never leave Connected.  Also: graceful
 * restarts under a stream of writes, a shadow of another connection
 * and corrupt shadows refused, an idle ring resumed without a shadow,
 * persistent grants across a restart, and the state directory's lock.
 * test_xbb_resume_kill.c kills real backends.
 */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "back/xbb_shadow.h"
#include "common/xu_assert.h"
#include "xbbt_front.h"
#include "xbbt_stream.h"
#include "xt.h"
#include "xt_xs.h"

#define XVDA 51712u
#define IMG_SIZE (4u << 20)
/* Writes a crash state is made of: with four, 80 states between two
   requests, each pending request among others answered or not. */
#define NREQ 4u
/* Sectors per write: one page. */
#define NSECT XBD_SECTORS_PER_PAGE
#define REQ_BYTES XBD_PAGE_SIZE
/*
 * How long the ring must stay quiet after the last expected response.
 * A second answer or a garbage slot read as a request would come in
 * the same pass as the others; the counters check the rest exactly.
 */
#define QUIET_MS 30
/* Most reads moving the ring along at once: a one-page ring's slots. */
#define WARM_MAX 32u
/* The frontend's data pages: enough for the warm-up and the writes
   (fewer than the default make a connection much cheaper). */
#define DATA_PAGES (WARM_MAX + NREQ)

/* The stream of writes restarted under (test_restart_under_stream). */
#define STREAM_RESTARTS 6 /* graceful stops and starts */
#define STREAM_GAP_MS 40  /* serving time between two restarts */
#define STREAM_MIN 200	  /* writes at least, however fast restarts go */

struct fixture {
	struct xbbt_machine m; /* machine and backend */
	struct xbb_opts o;     /* the backend's: state directory, stop
				  leaves the vbd connected */
	struct xbbt_fopts fo;  /* the frontend's, for crash states */
	unsigned int barriers; /* bit i: their i-th write is a barrier */
	struct xs_handle *wxs; /* privileged: watches our state node */
	char wpath[160];       /* that node */
	char img[512];	       /* the image of XVDA */
	char dir[512];	       /* the state directory */
	unsigned int seq;      /* connections so far: seeds, ring positions */
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char bedir[128];

	assert_non_null(fx);
	assert_int_equal(xbbt_machine_start(&fx->m), 0);
	xbbt_image(&fx->m, "xvda.img", IMG_SIZE, fx->img, sizeof(fx->img));
	snprintf(fx->dir, sizeof(fx->dir), "%s/state", fx->m.m_tmp);
	assert_int_equal(mkdir(fx->dir, 0700), 0);
	xbb_opts_init(&fx->o);
	fx->o.o_state_dir = fx->dir;
	fx->o.o_keep_connected = true;
	fx->fo.fo_data_pages = DATA_PAGES;
	fx->wxs = hv_xs_open_priv(fx->m.m_hv);
	assert_non_null(fx->wxs);
	xbbt_bedir(XVDA, bedir, sizeof(bedir));
	snprintf(fx->wpath, sizeof(fx->wpath), "%s/state", bedir);
	*state = fx;
	return (0);
}

/* Remove the state directory: lock and kept shadows. */
static void
dir_remove(const char *dir)
{
	char path[1024];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		(void)unlink(path);
	}
	closedir(d);
	(void)rmdir(dir);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	xbbt_backend_stop(&fx->m);
	xs_close(fx->wxs);
	dir_remove(fx->dir);
	unlink(fx->img);
	xbbt_machine_stop(&fx->m);
	free(fx);
	return (0);
}

static void
serve(struct fixture *fx)
{
	assert_int_equal(xbbt_backend_start(&fx->m, &fx->o), 0);
}

/* Serve and create XVDA: the first backend of a test. */
static void
serve_vbd(struct fixture *fx)
{
	struct xbbt_vbd v = { XVDA, fx->img, false, false, false };

	serve(fx);
	assert_int_equal(xbbt_vbd_add(&fx->m, &v), 0);
}

static bool
be_error(const struct fixture *fx, const struct xbbt_front *f)
{
	char *v;

	if (xbus_read(fx->m.m_xs, XBT_NULL, f->f_bedir, "error", &v) != 0)
		return (false);
	free(v);
	return (true);
}

/* Both ends Connected, as a frontend and a backend see them. */
static void
assert_connected(const struct fixture *fx, const struct xbbt_front *f)
{
	assert_int_equal(xbus_read_state(fx->m.m_xs, f->f_bedir),
	    XenbusStateConnected);
	assert_int_equal(xbus_read_state(fx->m.m_xs, f->f_dir),
	    XenbusStateConnected);
	assert_false(be_error(fx, f));
}

/* ---------------------------------------------------------------------
 * Watching our state node: every write of it is an event.
 */

/* Watch the node; returns once the registration event is in. */
static void
watch_start(struct fixture *fx)
{
	unsigned int n = 0, i;

	assert_true(xs_watch(fx->wxs, fx->wpath, "resume"));
	for (i = 0; n == 0 && i < XBBT_TIMEOUT_MS / 10; i++)
		n = xt_xs_drain(fx->wxs, 10);
	assert_int_equal(n, 1);
}

/* Stop watching: how many times the node was written meanwhile. */
static unsigned int
watch_stop(struct fixture *fx)
{
	/* Its reply comes after every event queued before it. */
	assert_true(xs_unwatch(fx->wxs, fx->wpath, "resume"));
	return (xt_xs_drain(fx->wxs, 0));
}

/* ---------------------------------------------------------------------
 * The shadow file, as the tests see it
 */

static void
shadow_path(const struct fixture *fx, char *buf, size_t len)
{
	snprintf(buf, len, "%s/vbd-%u-%u-%u.ring0", fx->dir, XBBT_BE, XBBT_FE,
	    XVDA);
}

/* The key of the frontend's connection, built from what it granted. */
static void
shadow_key(const struct xbbt_front *f, struct xbb_shadow_key *key)
{
	const struct xbbt_ring *r = &f->f_rings[0];
	unsigned int i;

	memset(key, 0, sizeof(*key));
	key->sk_slots = r->r_slots;
	key->sk_npages = r->r_npages;
	key->sk_abi = f->f_o.fo_x86_32 ? XRING_ABI_X86_32 : XRING_ABI_NATIVE;
	key->sk_port = r->r_port;
	for (i = 0; i < r->r_npages; i++)
		key->sk_refs[i] = r->r_refs[i];
}

/*
 * Open the shadow the stopped backend left, as the dead one had it
 * open: its key, read from the file, must be the connection's.
 */
static void
shadow_open(const struct fixture *fx, const struct xbbt_front *f,
    struct xbb_shadow *sw)
{
	uint8_t hdr[sizeof(struct xbb_shadow_hdr)];
	struct xbb_shadow_key key, file;
	char path[600];
	bool same = false;
	int fd;

	shadow_path(fx, path, sizeof(path));
	assert_true((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0);
	assert_int_equal(read(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	close(fd);
	memcpy(&file, hdr + offsetof(struct xbb_shadow_hdr, sh_key),
	    sizeof(file));
	shadow_key(f, &key);
	assert_memory_equal(&file, &key, sizeof(key));
	assert_int_equal(xbb_shadow_open(sw, fx->dir, XBBT_BE, XBBT_FE, XVDA, 0,
			     &key, &same),
	    0);
	assert_true(same);
}

/* An entry a take may use: a warm-up's, answered and pushed long ago. */
static uint32_t
shadow_old(const struct xbb_shadow *sw, const uint32_t *used, unsigned int n)
{
	uint32_t e;
	unsigned int i;

	for (e = 0; e < sw->sw_hdr->sh_key.sk_slots; e++) {
		for (i = 0; i < n && used[i] != e; i++)
			;
		if (i == n &&
		    atomic_load(&sw->sw_ent[e].se_state) == XBB_SE_ANSWERED)
			return (e);
	}
	fail_msg("no answered entry to reuse");
	return (0);
}

/* ---------------------------------------------------------------------
 * One connection and its writes
 */

struct run {
	struct xbbt_front r_f;		 /* the frontend, connected */
	struct xbbt_io *r_io[NREQ];	 /* the writes, in ring order */
	union xring_req r_req[NREQ];	 /* each as a backend copies it */
	uint8_t r_data[NREQ][REQ_BYTES]; /* what each writes */
	bool r_seen[NREQ];		 /* answered (once) */
	uint32_t r_base;		 /* ring index of the first */
	unsigned int r_pending;		 /* taken, answer not visible */
};

/* n one-sector reads at once: moves the ring's indices along. */
static void
reads(struct xbbt_front *f, unsigned int n)
{
	struct xbbt_io *io[WARM_MAX];
	struct blkif_response rsp;
	unsigned int i, j;

	assert_true(n <= XU_NELEM(io) && n <= f->f_rings[0].r_slots);
	for (i = 0; i < n; i++)
		assert_int_equal(xbbt_rw_start(f, 0, &io[i], BLKIF_OP_READ,
				     1024 + i, 1, NULL, 0),
		    0);
	xbbt_push(f, 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(xbbt_wait(f, 0, &rsp, XBBT_TIMEOUT_MS), 0);
		assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
		for (j = 0; j < n && (io[j] == NULL || io[j]->io_id != rsp.id);
		     j++)
			;
		assert_true(j < n);
		xbbt_rw_end(f, io[j], NULL);
		io[j] = NULL;
	}
}

/* Connect (a backend serves) and move the ring to index warm. */
static void
run_open(struct fixture *fx, struct run *rn, unsigned int warm)
{
	fx->seq++;
	assert_int_equal(xbbt_front_open(&rn->r_f, &fx->m, XVDA, &fx->fo), 0);
	assert_int_equal(xbbt_front_connect(&rn->r_f), 0);
	reads(&rn->r_f, warm);
	rn->r_base = warm;
}

/* Request io as a backend copies it: native, whatever the ABI. */
static void
req_native(const struct xbbt_front *f, const struct xbbt_io *io,
    union xring_req *req)
{
	assert_true(
	    io->io_nind == 0 && io->io_nseg <= BLKIF_MAX_SEGMENTS_PER_REQUEST);
	memset(req, 0, sizeof(*req));
	req->rw.operation = io->io_op;
	req->rw.nr_segments = (uint8_t)io->io_nseg;
	req->rw.handle = (blkif_vdev_t)f->f_vdev;
	req->rw.id = io->io_id;
	req->rw.sector_number = io->io_sector;
	memcpy(req->rw.seg, io->io_segs, io->io_nseg * sizeof(req->rw.seg[0]));
}

/* Put the writes in the ring and push them (no backend runs). */
static void
run_writes(struct fixture *fx, struct run *rn)
{
	struct xbbt_front *f = &rn->r_f;
	unsigned int i;

	for (i = 0; i < NREQ; i++) {
		xbbt_fill(rn->r_data[i], REQ_BYTES,
		    (uint64_t)fx->seq * NREQ + i);
		assert_int_equal(
		    xbbt_rw_start(f, 0, &rn->r_io[i],
			(fx->barriers >> i) & 1 ? BLKIF_OP_WRITE_BARRIER :
						  BLKIF_OP_WRITE,
			(uint64_t)i * NSECT, NSECT, rn->r_data[i], 0),
		    0);
		req_native(f, rn->r_io[i], &rn->r_req[i]);
		/* What the ring holds, where it is in that layout. */
		if (!f->f_o.fo_x86_32)
			assert_memory_equal(&rn->r_req[i].rw,
			    xbbt_slot(f, 0, rn->r_base + i),
			    sizeof(rn->r_req[i].rw));
	}
	xbbt_push(f, 0);
}

/* Take the next response: one of ours, not seen before. */
static void
run_reap(struct run *rn, unsigned int timeout_ms)
{
	struct blkif_response rsp;
	unsigned int i;

	assert_int_equal(xbbt_wait(&rn->r_f, 0, &rsp, timeout_ms), 0);
	for (i = 0; i < NREQ && rn->r_io[i]->io_id != rsp.id; i++)
		;
	assert_true(i < NREQ);
	assert_false(rn->r_seen[i]);
	rn->r_seen[i] = true;
	assert_int_equal(rsp.operation, rn->r_io[i]->io_op);
	assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
}

/* Give the grants back and close cleanly. */
static void
run_close(struct run *rn)
{
	unsigned int i;

	for (i = 0; i < NREQ; i++)
		if (rn->r_io[i] != NULL)
			xbbt_rw_end(&rn->r_f, rn->r_io[i], NULL);
	xbbt_front_close(&rn->r_f);
}

/* ---------------------------------------------------------------------
 * Crash states
 */

/* Where in a take the backend died, after the requests it took. */
enum mid {
	MID_NONE,   /* between two requests */
	MID_TAKEN,  /* the next one TAKEN, sh_req_cons not advanced */
	MID_REUSED, /* the next one's entry, an old answered one, FREE
		       with half the copy written */
};

struct crash {
	unsigned int c_taken;	 /* writes taken, in ring order */
	unsigned int c_answered; /* bit i: the i-th taken was answered */
	unsigned int c_pushed;	 /* answers pushed, earliest first */
	enum mid c_mid;		 /* the take after them */
};

/* The dead backend had written request i and answered it at rsp. */
static void
crash_answer(const struct fixture *fx, struct run *rn, struct xbb_shadow *sw,
    uint32_t slot, unsigned int i, uint32_t rsp)
{
	int fd = open(fx->img, O_WRONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(
	    pwrite(fd, rn->r_data[i], REQ_BYTES, (off_t)i * REQ_BYTES),
	    (ssize_t)REQ_BYTES);
	close(fd);
	/* Into the slot of a request, maybe one still pending. */
	xbbt_put_rsp(&rn->r_f, 0, rsp, rn->r_io[i]->io_id, rn->r_io[i]->io_op,
	    BLKIF_RSP_OKAY);
	xbb_shadow_answer(sw, slot, rsp);
}

/* The take of request c that the process died in. */
static void
crash_mid(struct run *rn, struct xbb_shadow *sw, const struct crash *cr,
    const uint32_t *slot)
{
	uint32_t idx = rn->r_base + cr->c_taken, e;

	if (cr->c_mid == MID_TAKEN) {
		xbb_shadow_take(sw, slot[cr->c_taken], idx,
		    &rn->r_req[cr->c_taken]);
		/* Dead before take()'s last store. */
		atomic_store(&sw->sw_hdr->sh_req_cons, idx);
	} else if (cr->c_mid == MID_REUSED) {
		/* Dead in take(), after its first store and half the copy. */
		e = shadow_old(sw, slot, cr->c_taken);
		atomic_store(&sw->sw_ent[e].se_state, XBB_SE_FREE);
		sw->sw_ent[e].se_idx = idx;
		memcpy(&sw->sw_ent[e].se_req, &rn->r_req[cr->c_taken],
		    sizeof(sw->sw_ent[e].se_req) / 2);
	}
}

/* Leave the ring and the shadow as a backend killed in state cr. */
static void
crash_make(struct fixture *fx, struct run *rn, const struct crash *cr)
{
	struct xbb_shadow sw;
	uint32_t slot[NREQ], rsp = rn->r_base;
	unsigned int i;

	shadow_open(fx, &rn->r_f, &sw);
	/* The stopped backend took and pushed everything before. */
	assert_int_equal(atomic_load(&sw.sw_hdr->sh_req_cons), rn->r_base);
	/* Entries in no particular order, some of them reused. */
	for (i = 0; i < NREQ; i++)
		slot[i] = (fx->seq * 5 + 7 * i) % sw.sw_hdr->sh_key.sk_slots;
	for (i = 0; i < cr->c_taken; i++)
		xbb_shadow_take(&sw, slot[i], rn->r_base + i, &rn->r_req[i]);
	/* Answered last taken first: each response lands on a request. */
	for (i = cr->c_taken; i-- > 0;)
		if (cr->c_answered & (1u << i))
			crash_answer(fx, rn, &sw, slot[i], i, rsp++);
	assert_true(cr->c_pushed <= rsp - rn->r_base);
	if (cr->c_pushed > 0)
		xbbt_set_rsp_prod(&rn->r_f, 0, rn->r_base + cr->c_pushed);
	if (cr->c_taken < NREQ)
		crash_mid(rn, &sw, cr, slot);
	rn->r_pending = cr->c_taken - cr->c_pushed;
	xbb_shadow_close(&sw, false);
}

/* What the frontend and the image hold after the new backend's start. */
static void
crash_check(struct fixture *fx, struct run *rn, const struct crash *cr)
{
	struct xbb_stats st;
	struct blkif_response rsp;
	unsigned int i;

	/* The pushed fakes, then the new backend's, once each. */
	for (i = 0; i < NREQ; i++)
		run_reap(rn, XBBT_TIMEOUT_MS);
	assert_int_equal(xbbt_wait(&rn->r_f, 0, &rsp, QUIET_MS), -ETIMEDOUT);
	assert_int_equal(rn->r_f.f_rings[0].r_rsp_cons, rn->r_base + NREQ);
	for (i = 0; i < NREQ; i++)
		xbbt_image_check(fx->img, (uint64_t)i * NSECT, rn->r_data[i]);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_resumes, 1);
	assert_int_equal(st.st_replayed, rn->r_pending);
	/* Every write not answered visibly executed, and no other. */
	assert_int_equal(st.st_req_write + st.st_req_barrier,
	    NREQ - cr->c_pushed);
	assert_int_equal(st.st_rsp_okay, NREQ - cr->c_pushed);
	assert_int_equal(st.st_req_read + st.st_req_other, 0);
	assert_int_equal(st.st_in_flight, 0);
	assert_int_equal(st.st_state, XenbusStateConnected);
}

/*
 * Connect, stop the backend gracefully, put the writes in the ring, make
 * the crash state, start a backend and check what the frontend gets.
 * A backend serves before and after.
 */
static unsigned int
crash_run(struct fixture *fx, const struct crash *cr)
{
	struct run *rn = calloc(1, sizeof(*rn));
	unsigned int warm, pending;

	assert_non_null(rn);
	/* Ring positions 0..31: the four writes wrap in some runs. */
	warm = (fx->seq * 11) % 32;
	/* An entry to reuse needs requests answered before. */
	if (cr->c_mid == MID_REUSED && warm < NREQ + 1)
		warm += NREQ + 1;
	run_open(fx, rn, warm);
	xbbt_backend_stop(&fx->m);
	assert_connected(fx, &rn->r_f);
	run_writes(fx, rn);
	crash_make(fx, rn, cr);
	watch_start(fx);
	serve(fx);
	crash_check(fx, rn, cr);
	/* Never written: the vbd stayed Connected all along. */
	assert_int_equal(watch_stop(fx), 0);
	assert_connected(fx, &rn->r_f);
	run_close(rn);
	pending = rn->r_pending;
	free(rn);
	return (pending);
}

static unsigned int
bits(unsigned int v)
{
	unsigned int n = 0;

	for (; v != 0; v &= v - 1)
		n++;
	return (n);
}

/* Killed between two requests: every taken/answered/pushed state. */
static void
test_crash_every_position(void **state)
{
	struct fixture *fx = *state;
	struct crash cr = { 0, 0, 0, MID_NONE };
	unsigned int runs = 0, replayed = 0;

	serve_vbd(fx);
	for (cr.c_taken = 0; cr.c_taken <= NREQ; cr.c_taken++)
		for (cr.c_answered = 0; cr.c_answered < (1u << cr.c_taken);
		     cr.c_answered++)
			for (cr.c_pushed = 0;
			     cr.c_pushed <= bits(cr.c_answered);
			     cr.c_pushed++) {
				replayed += crash_run(fx, &cr);
				runs++;
			}
	/* 1 + 3 + 8 + 20 + 48 */
	assert_int_equal(runs, 80);
	print_message("%u crash states, %u requests replayed\n", runs,
	    replayed);
}

/* Killed inside a take, after none, some or all answers. */
static void
test_crash_mid_take(void **state)
{
	struct fixture *fx = *state;
	struct crash cr = { 0, 0, 0, MID_NONE };
	unsigned int runs = 0, replayed = 0;
	enum mid m;

	serve_vbd(fx);
	for (m = MID_TAKEN; m <= MID_REUSED; m++) {
		for (cr.c_taken = 0; cr.c_taken < NREQ; cr.c_taken++) {
			cr.c_mid = m;
			cr.c_answered = 0;
			cr.c_pushed = 0;
			replayed += crash_run(fx, &cr);
			runs++;
			if (cr.c_taken == 0)
				continue;
			cr.c_answered = (1u << cr.c_taken) - 1;
			cr.c_pushed = cr.c_taken / 2;
			replayed += crash_run(fx, &cr);
			runs++;
		}
	}
	print_message("%u crash states, %u requests replayed\n", runs,
	    replayed);
}

/* A few of those states on a two-page ring of 32-bit slots. */
static void
test_crash_x86_32(void **state)
{
	static const struct crash states[] = {
		{ 1, 0x0, 0, MID_NONE },
		{ 2, 0x3, 0, MID_NONE },
		{ 3, 0x5, 1, MID_NONE },
		{ 4, 0xa, 2, MID_NONE },
		{ 4, 0xf, 1, MID_NONE },
		{ 2, 0x1, 0, MID_TAKEN },
		{ 1, 0x1, 1, MID_REUSED },
	};
	struct fixture *fx = *state;
	unsigned int i, replayed = 0;

	fx->fo.fo_x86_32 = true;
	fx->fo.fo_pages = 2;
	serve_vbd(fx);
	for (i = 0; i < XU_NELEM(states); i++)
		replayed += crash_run(fx, &states[i]);
	/* 1 + 2 + 2 + 2 + 3 + 2 + 0 */
	assert_int_equal(replayed, 12);
}

/*
 * The second write a barrier write: a backend takes nothing after a
 * barrier until it is answered, so only states with nothing taken after
 * an unanswered barrier occur.  The replay must hold back the same way.
 */
static void
test_crash_barrier(void **state)
{
	static const struct crash states[] = {
		{ 2, 0x0, 0, MID_NONE },
		{ 2, 0x1, 0, MID_NONE },
		{ 2, 0x1, 1, MID_NONE },
		{ 1, 0x0, 0, MID_TAKEN },
	};
	struct fixture *fx = *state;
	struct xbb_stats st;
	unsigned int i, replayed = 0;

	fx->barriers = 0x2;
	serve_vbd(fx);
	for (i = 0; i < XU_NELEM(states); i++) {
		replayed += crash_run(fx, &states[i]);
		/* Unanswered in every state: run once, by the new backend. */
		xbbt_stats(&fx->m, XVDA, &st);
		assert_int_equal(st.st_req_barrier, 1);
	}
	assert_int_equal(replayed, 2 + 2 + 1 + 1);
}

/* ---------------------------------------------------------------------
 * Graceful restarts under a stream of writes
 */

struct restarter {
	struct fixture *rs_fx;			 /* its machine */
	int rs_rc[STREAM_RESTARTS];		 /* each start */
	int rs_strc[STREAM_RESTARTS];		 /* each stats read */
	struct xbb_stats rs_st[STREAM_RESTARTS]; /* each backend's, just
						    before its stop */
	atomic_bool rs_done;			 /* all restarts done */
};

/* No cmocka here (another thread): results go back to the test. */
static void *
restarter_main(void *arg)
{
	struct restarter *rs = arg;
	struct xbbt_machine *m = &rs->rs_fx->m;
	unsigned int i;

	for (i = 0; i < STREAM_RESTARTS; i++) {
		(void)poll(NULL, 0, STREAM_GAP_MS);
		rs->rs_strc[i] = xbb_dev_stats(m->m_xbb, XBBT_FE, XVDA,
		    &rs->rs_st[i], sizeof(rs->rs_st[i]));
		xbbt_backend_stop(m);
		/* Writes pile up in the ring meanwhile. */
		(void)poll(NULL, 0, 5);
		if ((rs->rs_rc[i] = xbbt_backend_start(m, &rs->rs_fx->o)) != 0)
			break;
	}
	atomic_store(&rs->rs_done, true);
	return (NULL);
}

static void
restarts_check(const struct restarter *rs)
{
	unsigned int i;

	for (i = 0; i < STREAM_RESTARTS; i++) {
		assert_int_equal(rs->rs_rc[i], 0);
		assert_int_equal(rs->rs_strc[i], 0);
		/* A graceful stop answers all it took: nothing to replay. */
		assert_int_equal(rs->rs_st[i].st_replayed, 0);
		assert_int_equal(rs->rs_st[i].st_resumes, i > 0);
		assert_int_equal(rs->rs_st[i].st_state, XenbusStateConnected);
		assert_int_equal(rs->rs_st[i].st_rsp_error, 0);
	}
}

static void
test_restart_under_stream(void **state)
{
	struct fixture *fx = *state;
	struct restarter rs = { .rs_fx = fx };
	const struct xbbt_fopts fopts = { .fo_data_pages = XBBT_STREAM_DEPTH };
	struct xbbt_stream *s = calloc(1, sizeof(*s));
	struct xbbt_front f;
	struct blkif_response rsp;
	struct xbb_stats st;
	pthread_t t;
	unsigned int k;

	assert_non_null(s);
	s->s_seed = 0x5eed;
	serve_vbd(fx);
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, &fopts), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	watch_start(fx);
	assert_int_equal(pthread_create(&t, NULL, restarter_main, &rs), 0);
	while (!atomic_load(&rs.rs_done) || s->s_sent < STREAM_MIN) {
		for (k = 0; k < XBBT_STREAM_DEPTH; k++)
			if (s->s_io[k] == NULL)
				xbbt_stream_submit(&f, s, k);
		xbbt_stream_reap(&f, s);
	}
	pthread_join(t, NULL);
	while (s->s_done < s->s_sent)
		xbbt_stream_reap(&f, s);
	assert_int_equal(xbbt_wait(&f, 0, &rsp, QUIET_MS), -ETIMEDOUT);
	restarts_check(&rs);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_replayed, 0);
	assert_int_equal(st.st_resumes, 1);
	assert_int_equal(watch_stop(fx), 0);
	assert_connected(fx, &f);
	xbbt_stream_verify(fx->img, s);
	print_message("%llu writes, %u restarts\n",
	    (unsigned long long)s->s_sent, STREAM_RESTARTS);
	xbbt_front_close(&f);
	free(s);
}

/* ---------------------------------------------------------------------
 * Shadows that must not be trusted, an idle ring without one, the lock
 */

/* The new backend refused the ring: error, Closing, nothing read. */
static void
assert_refused(struct fixture *fx, struct run *rn)
{
	struct blkif_response rsp;
	struct xbb_stats st;

	assert_int_equal(
	    xbbt_wait_be(&fx->m, XVDA, XenbusStateClosing, XBBT_TIMEOUT_MS), 0);
	assert_true(be_error(fx, &rn->r_f));
	assert_int_equal(xbbt_wait(&rn->r_f, 0, &rsp, QUIET_MS), -ETIMEDOUT);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_req_write + st.st_req_read + st.st_req_other, 0);
	assert_int_equal(st.st_resumes + st.st_replayed, 0);
}

/* Wait until the backend has taken the ring over. */
static void
wait_resumed(struct fixture *fx)
{
	struct xbb_stats st;
	unsigned int i;

	for (i = 0; i < XBBT_TIMEOUT_MS; i++) {
		if (xbb_dev_stats(fx->m.m_xbb, XBBT_FE, XVDA, &st,
			sizeof(st)) == 0 &&
		    st.st_resumes > 0)
			return;
		(void)poll(NULL, 0, 1);
	}
	fail_msg("the ring was not resumed");
}

/* Connect, stop the backend, put the writes in: the shadow is next. */
static void
busy_ring(struct fixture *fx, struct run *rn)
{
	run_open(fx, rn, 3);
	xbbt_backend_stop(&fx->m);
	run_writes(fx, rn);
}

/* A dead backend took the first two writes into entries 0 and 1. */
static void
take_two(struct xbb_shadow *sw, const struct run *rn)
{
	xbb_shadow_take(sw, 0, rn->r_base, &rn->r_req[0]);
	xbb_shadow_take(sw, 1, rn->r_base + 1, &rn->r_req[1]);
}

static void
test_shadow_mismatch(void **state)
{
	struct fixture *fx = *state;
	struct run *rn = calloc(1, sizeof(*rn));
	struct xbb_shadow_key other;
	struct xbb_shadow sw;
	char path[600];
	bool same = true;

	assert_non_null(rn);
	serve_vbd(fx);
	busy_ring(fx, rn);
	/*
	 * A shadow of another connection (other ring pages), 2 taken, the
	 * second answered over the first's slot: nothing tells this ring's
	 * slots from responses.
	 */
	shadow_key(&rn->r_f, &other);
	other.sk_refs[0] += 1;
	assert_int_equal(xbb_shadow_open(&sw, fx->dir, XBBT_BE, XBBT_FE, XVDA,
			     0, &other, &same),
	    0);
	assert_false(same);
	xbb_shadow_reset(&sw, &other, rn->r_base);
	take_two(&sw, rn);
	xbbt_put_rsp(&rn->r_f, 0, rn->r_base, rn->r_io[1]->io_id,
	    BLKIF_OP_WRITE, BLKIF_RSP_OKAY);
	xbb_shadow_answer(&sw, 1, rn->r_base);
	xbb_shadow_close(&sw, false);
	serve(fx);
	assert_refused(fx, rn);
	run_close(rn);

	/* Idle, and no shadow at all: taken over as it is. */
	memset(rn, 0, sizeof(*rn));
	run_open(fx, rn, 5);
	xbbt_backend_stop(&fx->m);
	shadow_path(fx, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	watch_start(fx);
	serve(fx);
	/* Still idle when it looks: no write before it took over. */
	wait_resumed(fx);
	run_writes(fx, rn);
	rn->r_pending = 0;
	crash_check(fx, rn, &(struct crash) { 0, 0, 0, MID_NONE });
	assert_int_equal(watch_stop(fx), 0);
	run_close(rn);
	free(rn);
}

/* Shadows whose pending count is not req_cons - rsp_prod. */
static void
test_shadow_corrupt(void **state)
{
	struct fixture *fx = *state;
	struct run *rn = calloc(1, sizeof(*rn));
	struct xbb_shadow sw;
	unsigned int v;

	assert_non_null(rn);
	serve_vbd(fx);
	for (v = 0; v < 2; v++) {
		memset(rn, 0, sizeof(*rn));
		busy_ring(fx, rn);
		shadow_open(fx, &rn->r_f, &sw);
		take_two(&sw, rn);
		if (v == 0)
			/* One of the two taken is missing. */
			atomic_store(&sw.sw_ent[1].se_state, XBB_SE_FREE);
		else
			/* A third claims an unpushed response. */
			xbb_shadow_answer(&sw, 2, rn->r_base);
		xbb_shadow_close(&sw, false);
		serve(fx);
		assert_refused(fx, rn);
		run_close(rn);
	}
	free(rn);
}

/*
 * A backend restarted with persistent grants on, under a frontend that
 * asked for them when the previous one did not offer them: the frontend
 * ends each grant after its response, so they must not stay mapped.
 */
static void
test_persistent_as_negotiated(void **state)
{
	static const struct xbbt_node asked = { "feature-persistent", "1" };
	const struct xbbt_fopts fopts = { .fo_nodes = &asked,
		.fo_nnodes = 1,
		.fo_data_pages = DATA_PAGES };
	struct fixture *fx = *state;
	struct xbbt_front f;
	struct xbb_stats st;
	uint8_t buf[REQ_BYTES];

	fx->o.o_persistent = false;
	serve_vbd(fx);
	assert_int_equal(xbbt_front_open(&f, &fx->m, XVDA, &fopts), 0);
	assert_int_equal(xbbt_front_connect(&f), 0);
	xbbt_fill(buf, sizeof(buf), 1);
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_WRITE, 0, NSECT, buf, 0),
	    BLKIF_RSP_OKAY);
	xbbt_backend_stop(&fx->m);
	fx->o.o_persistent = true;
	serve(fx);
	wait_resumed(fx);
	/* xbbt_rw ends the grants: it fails if the backend kept them. */
	xbbt_fill(buf, sizeof(buf), 2);
	assert_int_equal(xbbt_rw(&f, 0, BLKIF_OP_WRITE, 0, NSECT, buf, 0),
	    BLKIF_RSP_OKAY);
	xbbt_image_check(fx->img, 0, buf);
	xbbt_stats(&fx->m, XVDA, &st);
	assert_int_equal(st.st_persistent, 0);
	xbbt_front_close(&f);
}

/* One backend per domain and state directory. */
static void
test_lock(void **state)
{
	struct fixture *fx = *state;
	struct xbb *second = NULL;

	serve(fx);
	assert_int_equal(xbb_start(fx->m.m_be, &fx->o, &second), -EBUSY);
	assert_null(second);
	assert_int_equal(xbb_holder(fx->dir, XBBT_BE), getpid());
	/* Released with the backend. */
	xbbt_backend_stop(&fx->m);
	serve(fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crash_every_position,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_mid_take, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crash_x86_32, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crash_barrier, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restart_under_stream,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_shadow_mismatch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_shadow_corrupt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_persistent_as_negotiated,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
	};

	xbbt_require_uring();
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
