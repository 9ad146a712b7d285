/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What `xbd run` and `xbd bench` share around the workload engine: the
 * signal handling that lets them stop a workload, report it and clean up,
 * and the progress display on stderr; and what `xbd attach` and `xbd
 * bench` share: opening real Xen.
 */

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "xwl.h"

/* Width of the progress bar on a terminal. */
#define CMD_BAR_WIDTH 30

volatile sig_atomic_t cmd_intr;

/*
 * The signals wait for this thread alone: a handler would run on any
 * thread, and one run on an io_uring or event-channel thread turns its
 * wait into EINTR (io_uring_enter is not restarted), a spurious error
 * mid-workload.
 */
static void *
cmd_intr_main(void *arg)
{
	const sigset_t *set = arg;
	int sig;

	for (;;)
		if (sigwait(set, &sig) == 0)
			cmd_intr = sig;
	return (NULL);
}

void
cmd_intr_install(void)
{
	static sigset_t set;
	pthread_t t;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* Before any other thread exists, so that all of them inherit it. */
	(void)pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&t, NULL, cmd_intr_main, &set) == 0)
		(void)pthread_detach(t);
}

void
cmd_progress(const char *what, const struct xwl_progress *p, bool tty,
    int *last)
{
	int pct = (int)(p->p_frac * 100), i;
	double iops, mibs;

	iops = p->p_seconds > 0 ? (double)p->p_ios / p->p_seconds : 0;
	mibs = p->p_seconds > 0 ?
	    (double)p->p_bytes / p->p_seconds / (1 << 20) :
	    0;
	if (tty) {
		/* Redrawn in place; the trailing blanks erase a longer line. */
		fputs("\r[", stderr);
		for (i = 0; i < CMD_BAR_WIDTH; i++)
			fputc(i < (int)(p->p_frac * CMD_BAR_WIDTH) ? '#' : '-',
			    stderr);
		fprintf(stderr, "] %3d%% %.0f IOPS, %.1f MiB/s, ETA %.0f s   ",
		    pct, iops, mibs, p->p_eta);
		if (p->p_frac >= 1.0 || cmd_intr != 0)
			fputc('\n', stderr);
		fflush(stderr);
	} else if (pct / 25 > *last / 25 || (pct == 100 && *last != 100)) {
		/* A log gets a line per quarter, not a bar. */
		fprintf(stderr, "%s: %d%%, %.0f IOPS, %.1f MiB/s, ETA %.0f s\n",
		    what, pct, iops, mibs, p->p_eta);
	}
	*last = pct;
}

int
cmd_open_xen(const char *who, struct xbd_plat **xp)
{
	int rc;

	if ((rc = xbd_plat_open_xen(xp)) != 0)
		fprintf(stderr,
		    "%s: opening Xen: %s (as root, with xen-gntalloc, "
		    "xen-gntdev and xen-evtchn loaded?)\n",
		    who, strerror(-rc));
	return (rc);
}
