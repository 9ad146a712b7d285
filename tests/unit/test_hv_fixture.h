/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The fixture the simulated-hypervisor tests share: a machine with two
 * domains, 0 (the toolstack/backend side) and 1 (a guest), reached
 * either in-process (hv_create + hv_domain_create) or through a forked
 * `xbd hv` daemon (hv_cmd_main) and plat_sim_connect, so that every rule
 * is checked in both modes.  Small tables keep budget tests short.
 */

#ifndef XBD_TESTS_HV_FIXTURE_H
#define XBD_TESTS_HV_FIXTURE_H

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/platform/sim/hv_internal.h"
#include "xt.h"

/* Table sizes of the fixture machine (both modes). */
#define FX_GRANTS 256
#define FX_PORTS 64
#define FX_PAGES 512

struct fx {
	bool fx_multi;	    /* through a daemon process */
	struct hv *fx_hv;   /* in-process machine */
	pid_t fx_daemon;    /* multi-process: the daemon */
	char fx_dir[128];   /* multi-process: its directory */
	struct plat *fx_d0; /* domain 0 */
	struct plat *fx_d1; /* domain 1 */
};

static inline long
fx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Start `xbd hv` on dir in a child and wait until hv.sock answers. */
static inline pid_t
fx_daemon_start(const char *dir)
{
	struct sockaddr_un sa;
	long deadline;
	pid_t pid;
	int s;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = { "hv", "--dir", (char *)dir, "--grant-entries",
			"256", "--evtchn-ports", "64", "--arena-pages", "512",
			NULL };

		exit(hv_cmd_main(9, argv));
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/hv.sock",
			dir) < (int)sizeof(sa.sun_path));
	deadline = fx_now_ms() + 10000;
	for (;;) {
		s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(s >= 0);
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(s);
			return (pid);
		}
		close(s);
		assert_true(fx_now_ms() < deadline);
		usleep(5000);
	}
}

/* Stop the daemon (SIGTERM) and check that it exited cleanly. */
static inline void
fx_daemon_stop(pid_t pid, const char *dir)
{
	char path[PATH_MAX];
	int st;

	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	snprintf(path, sizeof(path), "%s/domain", dir);
	(void)rmdir(path);
	(void)rmdir(dir);
}

static inline void
fx_mkdtemp(char *buf, size_t len)
{
	const char *base = getenv("TMPDIR");

	snprintf(buf, len, "%s/xbd-hvt-XXXXXX",
	    base != NULL && base[0] != '\0' ? base : "/tmp");
	assert_non_null(mkdtemp(buf));
}

static inline int
fx_setup_inproc(void **state)
{
	struct hv_opts o;
	struct fx *fx;

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	hv_opts_init(&o);
	o.o_grant_entries = FX_GRANTS;
	o.o_evtchn_ports = FX_PORTS;
	o.o_arena_pages = FX_PAGES;
	assert_int_equal(hv_create(&o, &fx->fx_hv), 0);
	assert_int_equal(hv_domain_create(fx->fx_hv, 0, "Domain-0", &fx->fx_d0),
	    0);
	assert_int_equal(hv_domain_create(fx->fx_hv, 1, "guest", &fx->fx_d1),
	    0);
	*state = fx;
	return (0);
}

static inline int
fx_setup_multiproc(void **state)
{
	struct fx *fx;

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	fx->fx_multi = true;
	fx_mkdtemp(fx->fx_dir, sizeof(fx->fx_dir));
	fx->fx_daemon = fx_daemon_start(fx->fx_dir);
	assert_int_equal(
	    plat_sim_connect(fx->fx_dir, 0, "Domain-0", 0, &fx->fx_d0), 0);
	assert_int_equal(
	    plat_sim_connect(fx->fx_dir, 1, "guest", 0, &fx->fx_d1), 0);
	*state = fx;
	return (0);
}

static inline int
fx_teardown(void **state)
{
	struct fx *fx = *state;

	plat_close(fx->fx_d0);
	plat_close(fx->fx_d1);
	if (fx->fx_multi)
		fx_daemon_stop(fx->fx_daemon, fx->fx_dir);
	else
		hv_destroy(fx->fx_hv);
	free(fx);
	return (0);
}

/* The machine memory as a view sees it (for white-box checks). */
static inline const struct hv_shm *
fx_shm(struct plat *p)
{
	return (&hv_view_of(p)->hv_shm);
}

static inline unsigned int
fx_slot(struct plat *p)
{
	return (hv_view_of(p)->hv_act.hv_slot);
}

/* The flags of p's grant entry ref. */
static inline uint16_t
fx_gflags(struct plat *p, grant_ref_t ref)
{
	return (__atomic_load_n(&hv_gent_at(fx_shm(p), fx_slot(p), ref)->flags,
	    __ATOMIC_ACQUIRE));
}

/*
 * Make domain domid die: hv_domain_destroy in-process, closing the view
 * (its hv.sock connection) with the daemon; either way wait until the
 * domain is gone from the table as observer sees it.  *view is closed.
 */
static inline void
fx_kill(struct fx *fx, struct plat **view, struct plat *observer)
{
	uint32_t domid = plat_domid(*view), gen;
	unsigned int slot;
	long deadline;

	if (!fx->fx_multi)
		assert_int_equal(hv_domain_destroy(fx->fx_hv, domid), 0);
	plat_close(*view);
	*view = NULL;
	deadline = fx_now_ms() + 10000;
	while (hv_dom_find(fx_shm(observer), domid, &slot, &gen) == 0) {
		assert_true(fx_now_ms() < deadline);
		usleep(1000);
	}
}

/* Is fd readable within ms milliseconds? */
static inline bool
fx_readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return (poll(&pfd, 1, ms) == 1 && (pfd.revents & POLLIN) != 0);
}

/* Allocate one page in p, reserve a ref and grant it to peer. */
static inline void
fx_grant_page(struct plat *p, uint32_t peer, bool ro, void **page,
    grant_ref_t *ref)
{
	grant_ref_t wire;

	assert_int_equal(plat_mem_alloc(p, peer, 1, page), 0);
	assert_int_equal(plat_gnt_reserve(p, 1, ref), 0);
	assert_int_equal(plat_gnt_grant(p, *ref, peer, *page, ro, &wire), 0);
	assert_int_equal(wire, *ref);
}

#endif /* XBD_TESTS_HV_FIXTURE_H */
