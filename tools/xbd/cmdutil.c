/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What `xbd run` and `xbd bench` share around the workload engine: the
 * signal handling that lets them stop a workload, report it and clean up,
 * and the progress display on stderr.
 */

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "xwl.h"

/* Width of the progress bar on a terminal. */
#define CMD_BAR_WIDTH 30

volatile sig_atomic_t cmd_intr;

static void
cmd_intr_handler(int sig)
{
	cmd_intr = sig;
}

void
cmd_intr_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cmd_intr_handler;
	/* Restarted system calls keep the library threads out of EINTR. */
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
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
