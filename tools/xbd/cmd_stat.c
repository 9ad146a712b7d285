/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xbd stat: the parameters and counters of a device `xbd attach` holds,
 * read from its statistics socket, as sysctl-like text or JSON.  Without
 * a domain and vbd it shows every device attached on the machine.
 */

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmd_opt.h"
#include "common/xu_assert.h"
#include "platform/sim/hv.h"
#include "statsock.h"
#include "xenbus/xbus.h"

static const char stat_usage[] =
    "usage: xbd stat --dir DIR [--domid N [VBD]] [--json]\n"
    "\n"
    "Show the negotiated parameters, queue statistics and counters of a\n"
    "device held by 'xbd attach' on the machine at DIR; without --domid,\n"
    "of every such device.\n"
    "\n"
    "  --dir DIR     the machine's directory (required)\n"
    "  --domid N     the frontend domain\n"
    "  --json        JSON instead of text (one object per line)\n"
    "  -h, --help    this text\n";

/* The command line, parsed. */
struct stat_args {
	const char *sq_dir; /* the machine's directory */
	const char *sq_vbd; /* the vbd, with --domid */
	uint32_t sq_domid;  /* --domid, or STAT_ALL */
	bool sq_json;	    /* --json */
};

/* --domid not given: every device of the machine. */
#define STAT_ALL UINT32_MAX

enum stat_opt { SO_DIR = 256, SO_DOMID, SO_JSON };

static const struct option stat_longopts[] = {
	{ "dir", required_argument, NULL, SO_DIR },
	{ "domid", required_argument, NULL, SO_DOMID },
	{ "json", no_argument, NULL, SO_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* 0, 1 for --help, or -EINVAL (after the usage). */
static int
stat_parse(int argc, char **argv, struct stat_args *a)
{
	const struct cmd_opt_dest dest[] = {
		{ SO_DIR, NULL, CMD_OPT_STR, &a->sq_dir },
		{ SO_DOMID, "domid", CMD_OPT_U32, &a->sq_domid },
		{ SO_JSON, NULL, CMD_OPT_TRUE, &a->sq_json },
	};
	int c, rc;

	memset(a, 0, sizeof(*a));
	a->sq_vbd = "xvda";
	a->sq_domid = STAT_ALL;
	while ((c = getopt_long(argc, argv, "h", stat_longopts, NULL)) != -1) {
		rc = cmd_opt_apply(argv[0], dest, XU_NELEM(dest), c, optarg);
		if (rc == 1) {
			fputs(stat_usage, c == 'h' ? stdout : stderr);
			return (c == 'h' ? 1 : -EINVAL);
		}
		if (rc != 0)
			return (rc);
	}
	if (optind < argc)
		a->sq_vbd = argv[optind++];
	if (a->sq_dir == NULL || optind < argc) {
		fputs(stat_usage, stderr);
		return (-EINVAL);
	}
	return (0);
}

/* One device's statistics from its socket: an exit status. */
static int
stat_one(const struct stat_args *a)
{
	char path[4400];
	uint32_t vdev;
	int rc;

	if (xbus_vdev_parse(a->sq_vbd, &vdev) != 0) {
		fprintf(stderr, "xbd stat: '%s' is not a vbd name\n",
		    a->sq_vbd);
		return (CMD_EXIT_USAGE);
	}
	rc = statsock_path(a->sq_dir, a->sq_domid, vdev, path, sizeof(path));
	if (rc != 0 || statsock_query(path, a->sq_json, stdout) != 0) {
		fprintf(stderr,
		    "xbd stat: no device %s of domain %u is attached on %s "
		    "(%s)\n",
		    a->sq_vbd, a->sq_domid, a->sq_dir, strerror(ENOENT));
		return (CMD_EXIT_FAIL);
	}
	if (a->sq_json)
		putchar('\n');
	return (CMD_EXIT_OK);
}

/* Every device's statistics, from each socket in DIR/stat. */
static int
stat_all(const struct stat_args *a)
{
	char path[4400], sdir[4096];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(sdir, sizeof(sdir), "%s/stat", a->sq_dir);
	if ((d = opendir(sdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", sdir, de->d_name);
			if (statsock_query(path, a->sq_json, stdout) == 0) {
				if (a->sq_json)
					putchar('\n');
				n++;
			}
		}
		closedir(d);
	}
	if (n == 0) {
		fprintf(stderr, "xbd stat: no device is attached on %s\n",
		    a->sq_dir);
		return (CMD_EXIT_FAIL);
	}
	return (CMD_EXIT_OK);
}

int
cmd_stat(int argc, char **argv)
{
	struct stat_args a;
	int rc;

	if ((rc = stat_parse(argc, argv, &a)) != 0)
		return (rc > 0 ? CMD_EXIT_OK : CMD_EXIT_USAGE);
	/* A device's socket may outlive its machine for a moment. */
	if (plat_sim_alive(a.sq_dir) == -ECONNREFUSED) {
		fprintf(stderr, "xbd stat: xbd hv at %s is gone\n", a.sq_dir);
		return (CMD_EXIT_FAIL);
	}
	return (a.sq_domid != STAT_ALL ? stat_one(&a) : stat_all(&a));
}
