/* SPDX-License-Identifier: BSD-2-Clause */
/* The subcommand table of the xbd command and its exit codes. */

#ifndef XBD_TOOLS_CMD_H
#define XBD_TOOLS_CMD_H

/* Exit codes, documented in docs/xbd.1. */
enum cmd_exit {
	CMD_EXIT_OK = 0,    /* success */
	CMD_EXIT_FAIL = 1,  /* the operation failed (I/O, verify, peer) */
	CMD_EXIT_USAGE = 2, /* bad command line */
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

/*
 * The `xbd hv` at dir is gone: say so as cmd (a "xbd <command>" string)
 * and exit 1 at once; nothing of the machine answers any more.
 */
void cmd_hv_lost(const char *dir, void *cmd);

struct xbd_plat;
/* Report a failed xbd_attach of vbd on xp (attach and bench). */
void cmd_attach_error(const char *who, const struct xbd_plat *xp,
    const char *vbd, int rc);

#endif /* XBD_TOOLS_CMD_H */
