/* SPDX-License-Identifier: BSD-2-Clause */
/* The subcommand table of the xbd command and its exit codes. */

#ifndef XBD_TOOLS_CMD_H
#define XBD_TOOLS_CMD_H

#include <signal.h>
#include <stdbool.h>

/* Exit codes, documented in docs/xbd.1. */
enum cmd_exit {
	CMD_EXIT_OK = 0,       /* success */
	CMD_EXIT_FAIL = 1,     /* the operation failed (I/O, verify, peer) */
	CMD_EXIT_USAGE = 2,    /* bad command line */
	CMD_EXIT_SIGNAL = 128, /* plus the signal that interrupted us */
};

struct cmd {
	const char *c_name;	     /* subcommand word */
	const char *c_help;	     /* one line for 'xbd --help' */
	int (*c_main)(int, char **); /* argv[0] is the subcommand */
};

int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_hv(int argc, char **argv);
int cmd_xenstored(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_version(int argc, char **argv);

/*
 * SIGINT and SIGTERM for `run` and `bench`: blocked in every thread and
 * recorded in cmd_intr by one thread that waits for them, so that the
 * command stops its workload, reports what it measured, removes what it
 * created and exits 128 + the signal, as fio and the shell do.  Call
 * before the command starts any thread.
 */
extern volatile sig_atomic_t cmd_intr;
void cmd_intr_install(void);

struct xwl_progress;
/*
 * Show workload progress on stderr: a bar with IOPS, MiB/s and ETA
 * redrawn in place when tty, else a line per quarter.  *last is the
 * percentage shown last (start at -1).
 */
void cmd_progress(const char *what, const struct xwl_progress *p, bool tty,
    int *last);

/*
 * The `xbd hv` at dir is gone: say so as cmd (a "xbd <command>" string)
 * and exit 1 at once; nothing of the machine answers any more.
 */
void cmd_hv_lost(const char *dir, void *cmd);

struct xbd_plat;
/*
 * Open real Xen as the domain this runs in (--platform xen of attach and
 * bench); on failure say what a domain needs, as who.
 */
int cmd_open_xen(const char *who, struct xbd_plat **xp);
/* Report a failed xbd_attach of vbd on xp (attach and bench). */
void cmd_attach_error(const char *who, const struct xbd_plat *xp,
    const char *vbd, int rc);

#endif /* XBD_TOOLS_CMD_H */
