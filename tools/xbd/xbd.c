/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The xbd command: one binary, one subcommand per file (cmd_<name>.c).
 * This file only dispatches and prints the top-level help.
 */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

static const struct cmd cmds[] = {
	{ "run", "run the main job (the embedded simulated platform)",
	    cmd_run },
	{ "attach", "attach a vbd as a domain of an `xbd hv` machine",
	    cmd_attach },
	{ "bench", "fio-like workloads through the frontend", cmd_bench },
	{ "hv",
	    "run the simulated hypervisor and XenStore daemon on a directory",
	    cmd_hv },
	{ "stat", "show an attached device's parameters and counters",
	    cmd_stat },
	{ "xenstored", "run the XenStore daemon on a directory",
	    cmd_xenstored },
	{ "serve", "serve vbds as a domain of an `xbd hv` machine", cmd_serve },
	{ "list", "list a machine's domains and vbds, their states and holders",
	    cmd_list },
	{ "version", "print the version and the features of this build",
	    cmd_version },
};

void
cmd_hv_lost(const char *dir, void *cmd)
{
	char msg[512];
	int n;

	/* From a library thread: write(2) and _exit(2) only. */
	n = snprintf(msg, sizeof(msg), "%s: xbd hv at %s is gone\n",
	    (const char *)cmd, dir);
	if (n > 0)
		(void)!write(STDERR_FILENO, msg,
		    (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	_exit(CMD_EXIT_FAIL);
}

static void
usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: xbd <command> [options]\n\ncommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(out, "  %-10s %s\n", cmds[i].c_name, cmds[i].c_help);
	fprintf(out,
	    "\n'xbd <command> --help' describes each command; "
	    "'xbd --version' is 'xbd version'.\n");
}

int
main(int argc, char **argv)
{
	char name[32];
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return (CMD_EXIT_USAGE);
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return (CMD_EXIT_OK);
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		argv[1] = "version";
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].c_name) != 0)
			continue;
		/* getopt_long names the program in its messages. */
		snprintf(name, sizeof(name), "xbd %s", cmds[i].c_name);
		argv[1] = name;
		return (cmds[i].c_main(argc - 1, argv + 1));
	}
	fprintf(stderr, "xbd: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return (CMD_EXIT_USAGE);
}
