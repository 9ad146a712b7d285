/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: the backend's ring resume (lib/back/xbb_shadow.h) with
 * the recording side for real.  A machine of processes (`xbd hv`, `xbd
 * serve` as domain 0) serves this process, domain 1, which keeps a
 * stream of verified writes in flight through the scripted frontend;
 * `xbd serve` is killed with SIGKILL every few dozen to few hundred
 * answers, wherever it is, and started again at once.  Every write
 * must be answered exactly once, OKAY, the image must hold each block's
 * last write, and the vbd must never leave Connected.  Once plainly,
 * once with persistent grants, 32-bit slots and indirect requests.
 * argv[1] is the xbd binary; XBD_RESUME_KILLS sets the kills per run.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xbbt_front.h"
#include "xbbt_stream.h"
#include "xbdt_mp.h"
#include "xt.h"
#include "xt_xs.h"

#define XVDA 51712u
#define IMG_SIZE (4u << 20)
/* How long the ring must stay quiet after the last expected response. */
#define QUIET_MS 30
/* Writes at least, however few kills. */
#define STREAM_MIN 200
/* Kills per run in CI. */
#define KILLS_DEFAULT 10
#define KILL_GAP_MIN 20	    /* writes answered between two kills, at least */
#define KILL_GAP_SPREAD 200 /* and up to this many more */
/* Pages a write in flight may need: a segment per sector, an indirect. */
#define WRITE_PAGES (XBD_SECTORS_PER_PAGE + 1)

static const char *xbd_bin;

/*
 * `xbd serve` as domain 0 for domain 1's xvda, in a process of its own
 * (XBBT_VERBOSE=1: with its messages, "resumed: ..." among them).
 */
static void
proc_serve(struct xbdt_mp *mp)
{
	char *argv[] = { (char *)mp->mp_xbd, "serve", "--dir", mp->mp_mdir,
		"--domid", "0", "--image", mp->mp_img, "--frontend", "1",
		"--vdev", "xvda", getenv("XBBT_VERBOSE") ? NULL : "--quiet",
		NULL };

	mp->mp_serve = xbdt_mp_spawn(argv, NULL);
}

/*
 * The stream, with the backend killed every few dozen to few hundred
 * answers and a new one started at once, wherever the old one was.
 */
static void
killed_stream(struct xbdt_mp *mp, struct xbbt_front *f, struct xbbt_stream *s,
    unsigned int kills)
{
	uint64_t next = KILL_GAP_MIN;
	unsigned int done = 0, k;

	while (done < kills || s->s_sent < STREAM_MIN) {
		for (k = 0; k < XBBT_STREAM_DEPTH; k++)
			if (s->s_io[k] == NULL)
				xbbt_stream_submit(f, s, k);
		xbbt_stream_reap(f, s);
		if (done == kills || s->s_done < next)
			continue;
		xbdt_mp_kill_serve(mp, SIGKILL);
		/* The dead process may hold these writes' grants. */
		for (k = 0; k < XBBT_STREAM_DEPTH; k++)
			s->s_taint[k] = s->s_io[k] != NULL;
		proc_serve(mp);
		done++;
		next = s->s_done + KILL_GAP_MIN +
		    xbbt_rand(&s->s_seed) % KILL_GAP_SPREAD;
	}
	while (s->s_done < s->s_sent)
		xbbt_stream_reap(f, s);
}

/*
 * A machine of processes: `xbd hv`, `xbd serve` as domain 0, and this
 * process as domain 1, connected.  Domain 0 is ours, so that it outlives
 * its backend processes as on Xen (a domain dies with the process that
 * created it, its store with it).
 */
static void
killed_up(struct xbdt_mp *mp, struct xbbt_machine *m, struct xbbt_front *f,
    const struct xbbt_fopts *fo)
{
	char sock[400];

	memset(m, 0, sizeof(*m));
	xbdt_mp_machine(mp, xbd_bin, IMG_SIZE);
	assert_int_equal(
	    plat_sim_connect(mp->mp_mdir, XBBT_BE, "Domain-0", 0, &m->m_be), 0);
	proc_serve(mp);
	snprintf(sock, sizeof(sock), "%s/socket", mp->mp_mdir);
	assert_non_null(m->m_xs = hv_xs_open_path(sock));
	assert_int_equal(
	    plat_sim_connect(mp->mp_mdir, XBBT_FE, "guest", 0, &m->m_fe), 0);
	assert_int_equal(
	    xbbt_wait_be(m, XVDA, XenbusStateInitWait, XBBT_TIMEOUT_MS), 0);
	assert_int_equal(xbbt_front_open(f, m, XVDA, fo), 0);
	assert_int_equal(xbbt_front_connect(f), 0);
}

/*
 * The simulator drops the grant pins of a process only with its domain
 * (Xen drops them when the process's gntdev closes): the last backend
 * dies too (a clean exit would remove the vbd under us), domain 0 goes,
 * then the grants the dead ones held can end.
 */
static void
killed_down(struct xbdt_mp *mp, struct xbbt_machine *m, struct xbbt_front *f,
    struct xbbt_stream *s)
{
	unsigned int i;

	xbdt_mp_kill_serve(mp, SIGKILL);
	plat_close(m->m_be);
	for (i = 0; i < s->s_nold; i++)
		xbbt_rw_end(f, s->s_old[i], NULL);
	xbbt_front_close(f);
	xs_close(m->m_xs);
	plat_close(m->m_fe);
	xbdt_mp_down(mp);
}

/*
 * Every write answered once, none lost, with the frontend's options fo
 * and the layout flags; pages: what one write needs (segments and
 * indirect page), kept for each write a kill may leave with grants a
 * dead process holds.
 */
static void
killed_run(struct xbbt_fopts *fo, unsigned int flags, unsigned int pages)
{
	const char *wpath = "/local/domain/0/backend/vbd/1/51712/state";
	unsigned int kills = xt_env_count("XBD_RESUME_KILLS", KILLS_DEFAULT);
	struct xbbt_stream *s = calloc(1, sizeof(*s));
	struct blkif_response rsp;
	struct xbbt_machine m;
	struct xbdt_mp mp;
	struct xbbt_front f;

	assert_non_null(s);
	assert_non_null(s->s_old = calloc(XBBT_STREAM_DEPTH * (size_t)kills,
			    sizeof(*s->s_old)));
	s->s_seed = 0xdead;
	s->s_flags = flags;
	fo->fo_data_pages = pages * XBBT_STREAM_DEPTH * (kills + 2);
	killed_up(&mp, &m, &f, fo);
	assert_true(xs_watch(m.m_xs, wpath, "kill"));
	killed_stream(&mp, &f, s, kills);
	assert_int_equal(xbbt_wait(&f, 0, &rsp, QUIET_MS), -ETIMEDOUT);
	/* Registration, and no write: Connected all along. */
	assert_true(xs_unwatch(m.m_xs, wpath, "kill"));
	assert_int_equal(xt_xs_drain(m.m_xs, 0), 1);
	assert_int_equal(xbus_read_state(m.m_xs, f.f_bedir),
	    XenbusStateConnected);
	xbbt_stream_verify(mp.mp_img, s);
	print_message("%llu writes, %u kills\n", (unsigned long long)s->s_sent,
	    kills);
	killed_down(&mp, &m, &f, s);
	free(s->s_old);
	free(s);
}

static void
test_serve_killed_under_stream(void **state)
{
	struct xbbt_fopts fo = { .fo_pages = 1 };

	killed_run(&fo, 0, 1);
}

/* The same with persistent grants, 32-bit slots, indirect requests. */
static void
test_serve_killed_persistent_x86_32(void **state)
{
	struct xbbt_fopts fo = { .fo_persistent = true,
		.fo_x86_32 = true,
		.fo_pages = 4 };

	killed_run(&fo, XBBT_INDIRECT | XBBT_SUB, WRITE_PAGES);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serve_killed_under_stream),
		cmocka_unit_test(test_serve_killed_persistent_x86_32),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s path/to/xbd\n", argv[0]);
		return (1);
	}
	xbd_bin = argv[1];
	xbbt_require_uring();
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
