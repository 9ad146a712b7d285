/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: a peer process killed with SIGKILL in every XenBus state,
 * XBD_KILLSTATES_CYCLES times on each side (default 15; the documented
 * long run uses 5000 a side), with leak accounting.  The machine is
 * `xbd hv`; the victim is a separate process, the survivor is this one.
 *
 * Backend killed: the frontend library runs here as domain 2 against an
 * `xbd serve` process (domain 1, also the toolstack of its vbd), which
 * is killed while its vbd is, in rotation, at InitWait (the frontend
 * still negotiating), Connected (idle, then with a workload in flight),
 * Closing (during a detach) and Closed.  Every other cycle a new backend
 * starts and the frontend reconnects and finds its data; otherwise what
 * it holds fails with EIO once the (short) recovery time is up, or the
 * attach fails.  The device is detached, the vbd removed, and this
 * process holds no grant, port or mapping.
 *
 * Frontend killed: the backend library runs here as domain 1 and this
 * test is the toolstack; an `xbd attach` process is the frontend, killed
 * while its state is Initialising, Initialised, Connected (a verified
 * workload running), Closing and Closed.  The toolstack removes the vbd
 * of the dead domain and creates it again; the backend must have let go
 * of every page and port of the dead domain and forgotten the vbd.
 *
 * A state is held for the kill without help from the programs: the
 * victim is stopped (SIGSTOP) when the state shows in XenStore, the
 * state it left there is read, then it is killed.  Where the other end
 * would race past a state, it is held back: the `xbd serve` process is
 * stopped, or the backend's lock is taken.  A kill that still lands in
 * another state counts there, and the rotation tries its target again.
 * After each side, the states the victims died in are printed; fds,
 * threads and mappings of this process are what they were and its heap
 * did not grow.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "back/xbb.h"
#include "back/xbb_internal.h"
#include "front/xbd_internal.h"
#include "platform/sim/hv.h"
#include "xbdt_mp.h"
#include "xbdt_wl.h"
#include "xenbus/xbus.h"
#include "xt.h"
#include "xt_res.h"
#include "xt_xs.h"

#define KS_DEFAULT_CYCLES 15
/* Cycles before the resources are counted (caches warm up). */
#define KS_WARMUP 5
/* A target missed this often in a row fails the test. */
#define KS_MAX_MISSES 25
/* Recovery and connect time of cycles with no backend coming back. */
#define KS_SHORT_MS 400
/* How long anything expected takes at most. */
#define KS_TIMEOUT_MS 20000
#define KS_IMAGE_BYTES (16u << 20)
#define KS_VDEV 51712 /* xvda */
#define KS_BE_DOM 1
#define KS_FE_DOM 2
/* Index of "the victim exited before the kill" in a distribution. */
#define KS_EXITED (XenbusStateReconfigured + 1)
/* Targets of one side's rotation. */
#define KS_TARGETS 5

static const char *xbd_bin;

/* ---------------------------------------------------------------------
 * Shared by both sides
 */

/* A watch on one state node; every write to it is an event. */
struct ks_watch {
	struct xs_handle *w_xs;		/* the handle it is set on */
	char w_dir[XBUS_PATH_MAX];	/* the directory of the node */
	char w_path[XBUS_PATH_MAX + 8]; /* dir/state */
	unsigned int w_events;		/* events seen so far */
};

static long
ks_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L);
}

/* Take what the watch delivered; wait up to ms for at least one event. */
static unsigned int
ks_watch_drain(struct ks_watch *w, int ms)
{
	unsigned int n = xt_xs_drain(w->w_xs, ms);

	w->w_events += n;
	return (n);
}

/* Watch dir's state node; returns once the registration event is in. */
static void
ks_watch_start(struct ks_watch *w, struct xs_handle *xs, const char *dir)
{
	long end = ks_now_ms() + KS_TIMEOUT_MS;

	memset(w, 0, sizeof(*w));
	w->w_xs = xs;
	snprintf(w->w_dir, sizeof(w->w_dir), "%s", dir);
	snprintf(w->w_path, sizeof(w->w_path), "%s/state", dir);
	assert_true(xs_watch(xs, w->w_path, "ks"));
	while (w->w_events == 0 && ks_now_ms() < end)
		ks_watch_drain(w, 50);
	assert_int_equal(w->w_events, 1);
}

static void
ks_watch_stop(struct ks_watch *w)
{
	(void)xs_unwatch(w->w_xs, w->w_path, "ks");
	/* An event already queued must not count for the next watch. */
	while (ks_watch_drain(w, 0) != 0)
		;
}

/* Wait for the node to be written at least once more. */
static void
ks_watch_next(struct ks_watch *w)
{
	unsigned int before = w->w_events;
	long end = ks_now_ms() + KS_TIMEOUT_MS;

	while (w->w_events == before && ks_now_ms() < end)
		ks_watch_drain(w, 50);
	if (w->w_events == before)
		fail_msg("%s was never written", w->w_path);
}

/* Wait until the state is in mask (a bit per state); return it. */
static enum xenbus_state
ks_await(struct ks_watch *w, unsigned int mask)
{
	long end = ks_now_ms() + KS_TIMEOUT_MS;
	enum xenbus_state s;

	for (;;) {
		s = xbus_read_state(w->w_xs, w->w_dir);
		if ((mask & (1u << s)) != 0)
			return (s);
		if (ks_now_ms() >= end)
			fail_msg("%s stayed %s", w->w_path, xbus_state_name(s));
		ks_watch_drain(w, 50);
	}
}

/* Stop pid; false if it had exited (it is reaped then). */
static bool
ks_hold(pid_t pid)
{
	int st;

	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_int_equal(waitpid(pid, &st, WUNTRACED), pid);
	return (WIFSTOPPED(st));
}

/*
 * The state pid (stopped) leaves in dir, then kill it.  A request it
 * sent before it stopped may still be on its way to XenStore: read until
 * the value holds still.
 */
static int
ks_kill_read(pid_t pid, struct xs_handle *xs, const char *dir)
{
	enum xenbus_state s, prev;
	int i;

	s = xbus_read_state(xs, dir);
	for (i = 0; i < 20; i++) {
		usleep(2000);
		prev = s;
		if ((s = xbus_read_state(xs, dir)) == prev && i >= 2)
			break;
	}
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return ((int)s);
}

/* The vbd of both sides: domain 1 serves the image to domain 2. */
struct ks_vbd {
	struct xbus_vbd v_vbd;		    /* as the toolstack creates it */
	char v_img[PATH_MAX];		    /* its image, absolute */
	char v_fe[XBUS_PATH_MAX];	    /* frontend directory */
	char v_be[XBUS_PATH_MAX];	    /* backend directory */
	char v_lx[XBUS_PATH_MAX];	    /* the toolstack's record */
	unsigned int v_dist[KS_EXITED + 1]; /* states the victims died in */
	unsigned int v_hits[KS_TARGETS];    /* kills on target, by target */
	unsigned int v_tries[KS_TARGETS];   /* cycles, by target */
	unsigned int v_misses;		    /* kills off target in a row */
};

static void
ks_vbd_init(struct ks_vbd *k, const char *img)
{
	memset(k, 0, sizeof(*k));
	assert_non_null(realpath(img, k->v_img));
	k->v_vbd.v_frontend_id = KS_FE_DOM;
	k->v_vbd.v_backend_id = KS_BE_DOM;
	k->v_vbd.v_vdev = KS_VDEV;
	k->v_vbd.v_kind = "vbd";
	k->v_vbd.v_params = k->v_img;
	k->v_vbd.v_discard = true;
	assert_int_equal(xbus_vbd_paths(&k->v_vbd, k->v_fe, sizeof(k->v_fe),
			     k->v_be, sizeof(k->v_be)),
	    0);
	snprintf(k->v_lx, sizeof(k->v_lx), "/libxl/%u/device/vbd/%u", KS_FE_DOM,
	    KS_VDEV);
}

/* Nothing of the vbd is left in XenStore. */
static void
ks_no_nodes(const struct ks_vbd *k, struct xs_handle *xs, unsigned int c)
{
	if (xt_xs_exists(xs, k->v_fe) || xt_xs_exists(xs, k->v_be) ||
	    xt_xs_exists(xs, k->v_lx))
		fail_msg("cycle %u: stale nodes: frontend %d, backend %d, "
			 "toolstack %d",
		    c, xt_xs_exists(xs, k->v_fe), xt_xs_exists(xs, k->v_be),
		    xt_xs_exists(xs, k->v_lx));
}

/* Count where a victim died; true if that was the target. */
static bool
ks_record(struct ks_vbd *k, int died, enum xenbus_state target)
{
	k->v_dist[died < 0 ? KS_EXITED : died]++;
	if (died == (int)target) {
		k->v_misses = 0;
		return (true);
	}
	if (++k->v_misses > KS_MAX_MISSES)
		fail_msg("%u kills in a row missed %s", k->v_misses,
		    xbus_state_name(target));
	return (false);
}

/*
 * One cycle aimed at target t of the rotation; true if the kill hit it.
 * again: the other end goes on after the kill (every other round).
 */
typedef bool ks_cycle_fn(void *arg, unsigned int t, bool again, unsigned int c);

/*
 * Run one side: warm up, then XBD_KILLSTATES_CYCLES cycles, the
 * rotation moving on when its target was hit; print the tally and check
 * this process's resources.
 */
static void
ks_run(struct ks_vbd *k, const char *side, const char *const *names,
    ks_cycle_fn *fn, void *arg)
{
	unsigned int n = xt_env_count("XBD_KILLSTATES_CYCLES",
			 KS_DEFAULT_CYCLES),
		     c, t = 0, rounds = 0;
	struct xt_res r0 = { 0 };
	long t0 = ks_now_ms(), ms;
	int s;

	for (c = 0; c < n + KS_WARMUP; c++) {
		if (c == KS_WARMUP)
			xt_res_take(&r0);
		k->v_tries[t]++;
		if (!fn(arg, t, rounds % 2 == 0, c))
			continue;
		k->v_hits[t]++;
		if (++t == KS_TARGETS) {
			t = 0;
			rounds++;
		}
	}
	ms = ks_now_ms() - t0;
	fprintf(stderr,
	    "%s: %u cycles, %u rounds, %ld.%03ld s; targets hit:", side, c,
	    rounds, ms / 1000, ms % 1000);
	for (t = 0; t < KS_TARGETS; t++)
		fprintf(stderr, " %s %u/%u", names[t], k->v_hits[t],
		    k->v_tries[t]);
	fprintf(stderr, "; died in:");
	for (s = 0; s <= KS_EXITED; s++)
		if (k->v_dist[s] != 0)
			fprintf(stderr, " %s %u",
			    s == KS_EXITED ?
				"(exited)" :
				xbus_state_name((enum xenbus_state)s),
			    k->v_dist[s]);
	fprintf(stderr, "\n");
	/* The rotation went round: every target was hit in every round. */
	assert_true(rounds >= 1);
	xt_res_check(&r0, n, side);
}

/* ---------------------------------------------------------------------
 * The backend process dies, the frontend (here) survives
 */

enum kb_target {
	KB_INITWAIT,
	KB_CONNECTED,
	KB_CONNECTED_IO,
	KB_CLOSING,
	KB_CLOSED
};

static const char *const kb_names[KS_TARGETS] = { "InitWait", "Connected",
	"Connected+I/O", "Closing", "Closed" };
static const enum xenbus_state kb_state[KS_TARGETS] = { XenbusStateInitWait,
	XenbusStateConnected, XenbusStateConnected, XenbusStateClosing,
	XenbusStateClosed };

struct kb {
	struct ks_vbd b_k;	 /* the vbd and the tally */
	struct xbdt_mp b_m;	 /* the machine and `xbd serve` */
	struct xbd_plat *b_xp;	 /* our domain (2) */
	struct xs_handle *b_xs;	 /* a toolstack handle */
	struct xbd_dev *b_dev;	 /* the device while attached */
	struct xbd_opts b_o;	 /* this cycle's options */
	int b_rc;		 /* what the attach thread got */
	struct wl_opts b_wo;	 /* the workload in flight */
	struct wl_result b_wr;	 /* its result */
	_Atomic bool b_wl_done;	 /* it finished */
	uint8_t b_pat[2 * 4096]; /* data written before the kill */
};

static void *
kb_attach_thread(void *arg)
{
	struct kb *b = arg;

	b->b_rc = xbd_attach(b->b_xp, "xvda", &b->b_o, &b->b_dev);
	return (NULL);
}

static void *
kb_wl_thread(void *arg)
{
	struct kb *b = arg;

	b->b_rc = wl_run(b->b_dev, &b->b_wo, &b->b_wr);
	atomic_store(&b->b_wl_done, true);
	return (NULL);
}

static void *
kb_detach_thread(void *arg)
{
	struct kb *b = arg;

	xbd_detach(b->b_dev);
	return (NULL);
}

static int
kb_dev_state(struct kb *b)
{
	struct xbd_info info;

	xbd_get_info(b->b_dev, &info);
	return (info.xi_state);
}

static void
kb_wait_dev(struct kb *b, int want)
{
	long end = ks_now_ms() + KS_TIMEOUT_MS;

	while (kb_dev_state(b) != want && ks_now_ms() < end)
		usleep(2000);
	assert_int_equal(kb_dev_state(b), want);
}

/* Write a pattern of this cycle where a later read finds it. */
static void
kb_write(struct kb *b, unsigned int c)
{
	size_t i;

	for (i = 0; i < sizeof(b->b_pat); i++)
		b->b_pat[i] = (uint8_t)(c * 7 + i);
	assert_int_equal(xbd_write(b->b_dev, b->b_pat, (uint64_t)c % 64 * 8192,
			     sizeof(b->b_pat)),
	    0);
}

/* What kb_write wrote is there (the backend that took it is dead). */
static void
kb_check(struct kb *b, unsigned int c)
{
	static uint8_t buf[sizeof(((struct kb *)0)->b_pat)];

	assert_int_equal(
	    xbd_read(b->b_dev, buf, (uint64_t)c % 64 * 8192, sizeof(buf)), 0);
	assert_memory_equal(buf, b->b_pat, sizeof(buf));
}

/* Stop the backend process; the state it leaves; it is dead after. */
static int
kb_kill_held(struct kb *b)
{
	int died;

	died = ks_kill_read(b->b_m.mp_serve, b->b_xs, b->b_k.v_be);
	b->b_m.mp_serve = 0;
	return (died);
}

static int
kb_kill(struct kb *b)
{
	if (!ks_hold(b->b_m.mp_serve)) {
		b->b_m.mp_serve = 0;
		return (-1);
	}
	return (kb_kill_held(b));
}

/* Killed while the frontend negotiates: it stopped at InitWait. */
static int
kb_initwait(struct kb *b, bool again)
{
	struct ks_watch w;
	pthread_t th;
	int died;

	assert_true(ks_hold(b->b_m.mp_serve));
	ks_watch_start(&w, b->b_xs, b->b_k.v_fe);
	assert_int_equal(pthread_create(&th, NULL, kb_attach_thread, b), 0);
	/* Our ring is published; the backend, stopped, cannot answer. */
	(void)ks_await(&w, 1u << XenbusStateInitialised);
	ks_watch_stop(&w);
	died = kb_kill_held(b);
	if (again)
		xbdt_mp_serve(&b->b_m);
	pthread_join(th, NULL);
	if (again) {
		if (b->b_rc != 0)
			fail_msg("attach after a backend died at InitWait: %d",
			    b->b_rc);
	} else {
		/* Nobody came: the attach fails, and leaves nothing. */
		assert_int_not_equal(b->b_rc, 0);
		b->b_dev = NULL;
	}
	return (died);
}

/* Killed while connected, idle or with a workload in flight. */
static int
kb_connected(struct kb *b, bool io, bool again, unsigned int c)
{
	struct xbd_stats st;
	pthread_t th;
	uint64_t r0;
	long end;
	int died;

	assert_int_equal(xbd_attach(b->b_xp, "xvda", &b->b_o, &b->b_dev), 0);
	kb_write(b, c);
	if (io) {
		memset(&b->b_wr, 0, sizeof(b->b_wr));
		b->b_wo = (struct wl_opts) { .ops = 1500,
			.qd = 8,
			.max_blocks = 8,
			.flush_pct = 3,
			.seed = c };
		atomic_store(&b->b_wl_done, false);
		xbd_get_stats(b->b_dev, &st, sizeof(st));
		r0 = st.xst_responses;
		assert_int_equal(pthread_create(&th, NULL, kb_wl_thread, b), 0);
		/* Some I/O completed: the rest is in flight. */
		end = ks_now_ms() + KS_TIMEOUT_MS;
		do {
			usleep(1000);
			xbd_get_stats(b->b_dev, &st, sizeof(st));
		} while (
		    st.xst_responses < r0 + 20 + c % 50 && ks_now_ms() < end);
	}
	died = kb_kill(b);
	if (io && atomic_load(&b->b_wl_done))
		fail_msg("cycle %u: the workload ended before the kill", c);
	if (again) {
		xbdt_mp_serve(&b->b_m);
		kb_wait_dev(b, XBD_STATE_CONNECTED);
	}
	if (io) {
		pthread_join(th, NULL);
		assert_int_equal(b->b_rc, 0);
		assert_int_equal(b->b_wr.r_mismatches, 0);
		if (again && b->b_wr.r_errors != 0)
			fail_msg("cycle %u: %ju errors (first %d) across a "
				 "restart",
			    c, (uintmax_t)b->b_wr.r_errors,
			    b->b_wr.r_first_error);
		if (!again)
			assert_int_equal(b->b_wr.r_first_error, -EIO);
	}
	if (again) {
		/* The workload checks its own data (and overwrites ours). */
		if (!io)
			kb_check(b, c);
	} else {
		/* Held, then failed once the recovery time is up. */
		assert_int_equal(xbd_read(b->b_dev, b->b_pat, 0, 4096), -EIO);
		assert_int_equal(kb_dev_state(b), XBD_STATE_ERROR);
	}
	return (died);
}

/* Killed while the frontend detaches (Closing) or after (Closed). */
static int
kb_closing(struct kb *b, enum xenbus_state target, unsigned int c)
{
	struct ks_watch w;
	pthread_t th;
	int died;

	assert_int_equal(xbd_attach(b->b_xp, "xvda", &b->b_o, &b->b_dev), 0);
	kb_write(b, c);
	kb_check(b, c);
	if (target == XenbusStateClosed) {
		xbd_detach(b->b_dev);
		b->b_dev = NULL;
		assert_int_equal(xbus_read_state(b->b_xs, b->b_k.v_be),
		    XenbusStateClosed);
		return (kb_kill(b));
	}
	ks_watch_start(&w, b->b_xs, b->b_k.v_be);
	assert_int_equal(pthread_create(&th, NULL, kb_detach_thread, b), 0);
	(void)ks_await(&w,
	    1u << XenbusStateClosing | 1u << XenbusStateClosed |
		1u << XenbusStateUnknown);
	died = kb_kill(b);
	ks_watch_stop(&w);
	pthread_join(th, NULL);
	b->b_dev = NULL;
	return (died);
}

/* A new backend serves the vbd to a new attach: the data is there. */
static void
kb_serve_again(struct kb *b, unsigned int c)
{
	xbdt_mp_serve(&b->b_m);
	assert_int_equal(xbd_attach(b->b_xp, "xvda", &b->b_o, &b->b_dev), 0);
	kb_check(b, c);
}

/* Nothing of the frontend is held by this process. */
static void
kb_nothing_held(struct kb *b, unsigned int c)
{
	struct hv_dom_usage u;
	struct plat_stats ps;

	assert_int_equal(plat_sim_usage(b->b_xp->xp_plat, KS_FE_DOM, &u), 0);
	plat_stats(b->b_xp->xp_plat, &ps);
	if (u.du_grants + u.du_ports + u.du_mapped + ps.ps_refs_in_use != 0)
		fail_msg("cycle %u: the frontend holds %u grants, %u ports, "
			 "%u mappings, %ju refs",
		    c, u.du_grants, u.du_ports, u.du_mapped,
		    (uintmax_t)ps.ps_refs_in_use);
}

static bool
kb_cycle(void *arg, unsigned int t, bool again, unsigned int c)
{
	struct kb *b = arg;
	int died;

	xbd_opts_init(&b->b_o);
	b->b_o.o_max_ring_pages = c % 2 == 0 ? 1 : 8;
	b->b_o.o_recovery_timeout_ms = again ? KS_TIMEOUT_MS : KS_SHORT_MS;
	b->b_o.o_connect_timeout_ms =
	    again || t != KB_INITWAIT ? KS_TIMEOUT_MS : KS_SHORT_MS;
	b->b_dev = NULL;
	if (b->b_m.mp_serve == 0)
		xbdt_mp_serve(&b->b_m);
	switch (t) {
	case KB_INITWAIT:
		died = kb_initwait(b, again);
		break;
	case KB_CONNECTED:
	case KB_CONNECTED_IO:
		died = kb_connected(b, t == KB_CONNECTED_IO, again, c);
		break;
	default:
		died = kb_closing(b, kb_state[t], c);
		if (again)
			kb_serve_again(b, c);
		break;
	}
	if (b->b_dev != NULL)
		xbd_detach(b->b_dev);
	b->b_dev = NULL;
	/* The toolstack removes the vbd: `xbd serve` itself, or we. */
	if (b->b_m.mp_serve != 0)
		xbdt_mp_kill_serve(&b->b_m, SIGINT);
	else
		assert_int_equal(
		    xbus_vbd_remove(b->b_xs, &b->b_k.v_vbd, 0, true), 0);
	ks_no_nodes(&b->b_k, b->b_xs, c);
	kb_nothing_held(b, c);
	return (ks_record(&b->b_k, died, kb_state[t]));
}

/* catalogue: L1 L3 */
static void
test_backend_killed_in_every_state(void **state)
{
	char sock[400];
	struct kb *b;

	assert_non_null(b = calloc(1, sizeof(*b)));
	xbdt_mp_machine(&b->b_m, xbd_bin, KS_IMAGE_BYTES);
	ks_vbd_init(&b->b_k, b->b_m.mp_img);
	snprintf(sock, sizeof(sock), "%s/socket", b->b_m.mp_mdir);
	assert_non_null(b->b_xs = hv_xs_open_path(sock));
	assert_int_equal(
	    xbd_plat_open_sim(b->b_m.mp_mdir, KS_FE_DOM, true, &b->b_xp), 0);
	ks_run(&b->b_k, "backend killed", kb_names, kb_cycle, b);
	xbd_plat_close(b->b_xp);
	xs_close(b->b_xs);
	xbdt_mp_down(&b->b_m);
	free(b);
}

/* ---------------------------------------------------------------------
 * The frontend process dies, the backend (here) survives
 */

static const enum xenbus_state kf_state[KS_TARGETS] = { XenbusStateInitialising,
	XenbusStateInitialised, XenbusStateConnected, XenbusStateClosing,
	XenbusStateClosed };
static const char *const kf_names[KS_TARGETS] = { "Initialising", "Initialised",
	"Connected+I/O", "Closing", "Closed" };

struct kf {
	struct ks_vbd f_k;	/* the vbd and the tally */
	struct xbdt_mp f_m;	/* the machine */
	struct plat *f_p;	/* our domain (1) */
	struct xbb *f_b;	/* the backend */
	struct xs_handle *f_xs; /* the toolstack's handle */
	char f_dom[32];		/* /local/domain/2 */
};

/* `xbd attach` as domain 2: under a workload, or holding the disk. */
static pid_t
kf_spawn(struct kf *f, bool workload, int *out)
{
	char *argv[] = { (char *)xbd_bin, "attach", "--dir", f->f_m.mp_mdir,
		"--domid", "2", "--ring-pages", "4", "xvda", NULL, NULL, NULL };

	if (workload) {
		argv[8] = "--workload";
		argv[9] = "60";
		argv[10] = "xvda";
	}
	return (xbdt_mp_spawn(argv, out));
}

/* Read the attach's output until it holds the disk (its SIGINT detaches). */
static void
kf_wait_attached(int fd)
{
	char buf[512];
	size_t len = 0;
	ssize_t r;

	for (;;) {
		r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			fail_msg("xbd attach ended before holding the disk");
		len += (size_t)r;
		buf[len] = '\0';
		if (strstr(buf, "SIGINT or SIGTERM detaches") != NULL)
			return;
		if (len > sizeof(buf) / 2) {
			memmove(buf, buf + len / 2, len - len / 2);
			len -= len / 2;
		}
	}
}

/* The backend's counters of the vbd, or -ENOENT once it forgot it. */
static int
kf_stats(struct kf *f, struct xbb_stats *st)
{
	return (xbb_dev_stats(f->f_b, KS_FE_DOM, KS_VDEV, st, sizeof(*st)));
}

/* One kill; the state the frontend died in, or -1 if it had exited. */
static int
kf_kill(struct kf *f, enum xenbus_state target, unsigned int c)
{
	struct xbb_stats st;
	struct ks_watch w;
	bool locked = false;
	uint64_t w0;
	pid_t pid;
	int out = -1, died;
	long end;

	/* The backend does not see the vbd before it is held back. */
	if (target == XenbusStateInitialising) {
		pthread_mutex_lock(&f->f_b->bk_lock);
		locked = true;
	}
	assert_int_equal(xbus_vbd_add(f->f_xs, &f->f_k.v_vbd), 0);
	if (!locked)
		assert_int_equal(
		    xbus_vbd_hotplug(f->f_xs, &f->f_k.v_vbd, KS_TIMEOUT_MS), 0);
	if (target == XenbusStateInitialised) {
		/* At InitWait, held: it will not connect. */
		pthread_mutex_lock(&f->f_b->bk_lock);
		locked = true;
	}
	ks_watch_start(&w, f->f_xs, f->f_k.v_fe);
	pid = kf_spawn(f, target == XenbusStateConnected, &out);
	switch (target) {
	case XenbusStateInitialising:
		/* Its own first write; the backend cannot answer it. */
		ks_watch_next(&w);
		break;
	case XenbusStateInitialised:
		(void)ks_await(&w, 1u << XenbusStateInitialised);
		break;
	case XenbusStateConnected:
		(void)ks_await(&w, 1u << XenbusStateConnected);
		/* The workload runs; the kill lands in the middle of it. */
		assert_int_equal(kf_stats(f, &st), 0);
		w0 = st.st_req_write;
		end = ks_now_ms() + KS_TIMEOUT_MS;
		do {
			usleep(1000);
			assert_int_equal(kf_stats(f, &st), 0);
		} while (
		    st.st_req_write < w0 + 10 + c % 100 && ks_now_ms() < end);
		break;
	case XenbusStateClosing:
		kf_wait_attached(out);
		/* The backend, held, cannot answer its Closing. */
		pthread_mutex_lock(&f->f_b->bk_lock);
		locked = true;
		assert_int_equal(kill(pid, SIGINT), 0);
		(void)ks_await(&w, 1u << XenbusStateClosing);
		break;
	default:
		kf_wait_attached(out);
		assert_int_equal(kill(pid, SIGINT), 0);
		(void)ks_await(&w, 1u << XenbusStateClosed);
		/* Waiting for the backend's Closed: keep it from coming. */
		pthread_mutex_lock(&f->f_b->bk_lock);
		locked = true;
		break;
	}
	died = ks_hold(pid) ? ks_kill_read(pid, f->f_xs, f->f_k.v_fe) : -1;
	ks_watch_stop(&w);
	if (locked)
		pthread_mutex_unlock(&f->f_b->bk_lock);
	close(out);
	return (died);
}

/* The backend holds nothing of the dead domain and forgot the vbd. */
static void
kf_forgotten(struct kf *f, unsigned int c)
{
	struct hv_dom_usage u;
	struct xbb_stats st;
	long end = ks_now_ms() + KS_TIMEOUT_MS;

	for (;;) {
		assert_int_equal(plat_sim_usage(f->f_p, KS_BE_DOM, &u), 0);
		if (kf_stats(f, &st) == -ENOENT &&
		    u.du_grants + u.du_ports + u.du_mapped == 0)
			return;
		if (ks_now_ms() >= end)
			fail_msg("cycle %u: the backend %s the vbd and holds "
				 "%u grants, %u ports, %u mappings",
			    c, kf_stats(f, &st) == 0 ? "still has" : "forgot",
			    u.du_grants, u.du_ports, u.du_mapped);
		usleep(2000);
	}
}

/*
 * libxl's domain destruction: once domain 2 is gone, its vbd is removed
 * without waiting; the backend must drop everything of it.
 */
static void
kf_domain_gone(struct kf *f, unsigned int c)
{
	long end = ks_now_ms() + KS_TIMEOUT_MS;

	/* Released, and its directory removed right after. */
	while ((xs_is_domain_introduced(f->f_xs, KS_FE_DOM) ||
		   xt_xs_exists(f->f_xs, f->f_dom)) &&
	    ks_now_ms() < end)
		usleep(2000);
	assert_false(xs_is_domain_introduced(f->f_xs, KS_FE_DOM));
	if (xt_xs_exists(f->f_xs, f->f_dom))
		fail_msg("cycle %u: %s outlived its domain", c, f->f_dom);
	assert_int_equal(xbus_vbd_remove(f->f_xs, &f->f_k.v_vbd, 0, true), 0);
	kf_forgotten(f, c);
	ks_no_nodes(&f->f_k, f->f_xs, c);
}

/* The backend still serves: a new frontend's verified workload passes. */
static void
kf_served(struct kf *f, unsigned int c)
{
	char *argv[] = { (char *)xbd_bin, "attach", "--dir", f->f_m.mp_mdir,
		"--domid", "2", "--workload", "0.05", "--once", "xvda", NULL };
	char buf[512];
	pid_t pid;
	int st, out;

	assert_int_equal(xbus_vbd_add(f->f_xs, &f->f_k.v_vbd), 0);
	assert_int_equal(
	    xbus_vbd_hotplug(f->f_xs, &f->f_k.v_vbd, KS_TIMEOUT_MS), 0);
	pid = xbdt_mp_spawn(argv, &out);
	/* Its report is not ours to print. */
	while (read(out, buf, sizeof(buf)) > 0)
		;
	close(out);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("cycle %u: a new frontend's workload failed (%#x)", c,
		    st);
	kf_domain_gone(f, c);
}

static bool
kf_cycle(void *arg, unsigned int t, bool again, unsigned int c)
{
	struct kf *f = arg;
	int died;

	died = kf_kill(f, kf_state[t], c);
	kf_domain_gone(f, c);
	if (again)
		kf_served(f, c);
	return (ks_record(&f->f_k, died, kf_state[t]));
}

/* catalogue: L1 L3 */
static void
test_frontend_killed_in_every_state(void **state)
{
	struct xbb_opts o;
	char sock[400];
	struct kf *f;

	assert_non_null(f = calloc(1, sizeof(*f)));
	xbdt_mp_machine(&f->f_m, xbd_bin, KS_IMAGE_BYTES);
	ks_vbd_init(&f->f_k, f->f_m.mp_img);
	snprintf(f->f_dom, sizeof(f->f_dom), "/local/domain/%u", KS_FE_DOM);
	snprintf(sock, sizeof(sock), "%s/socket", f->f_m.mp_mdir);
	assert_non_null(f->f_xs = hv_xs_open_path(sock));
	assert_int_equal(
	    plat_sim_connect(f->f_m.mp_mdir, KS_BE_DOM, "storage", 0, &f->f_p),
	    0);
	xbb_opts_init(&o);
	assert_int_equal(xbb_start(f->f_p, &o, &f->f_b), 0);
	ks_run(&f->f_k, "frontend killed", kf_names, kf_cycle, f);
	xbb_stop(f->f_b);
	plat_close(f->f_p);
	xs_close(f->f_xs);
	xbdt_mp_down(&f->f_m);
	free(f);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backend_killed_in_every_state),
		cmocka_unit_test(test_frontend_killed_in_every_state),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s path/to/xbd [test]\n", argv[0]);
		return (XT_SKIP);
	}
	xbd_bin = argv[1];
	/* A second argument runs only the tests it matches (long runs). */
	if (argc > 2)
		cmocka_set_test_filter(argv[2]);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
