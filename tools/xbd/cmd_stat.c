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

int
cmd_stat(int argc, char **argv)
{
	enum { O_DIR = 256, O_DOMID, O_JSON };
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, O_DIR },
		{ "domid", required_argument, NULL, O_DOMID },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *vbd = "xvda";
	char path[4400], sdir[4096];
	struct dirent *de;
	uint32_t domid = 0, vdev;
	bool json = false, have_domid = false;
	DIR *d;
	int c, rc, n = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_DIR:
			dir = optarg;
			break;
		case O_DOMID:
			if (cmd_opt_u32(argv[0], "domid", optarg, &domid) != 0)
				return (CMD_EXIT_USAGE);
			have_domid = true;
			break;
		case O_JSON:
			json = true;
			break;
		case 'h':
			fputs(stat_usage, stdout);
			return (CMD_EXIT_OK);
		default:
			fputs(stat_usage, stderr);
			return (CMD_EXIT_USAGE);
		}
	}
	if (optind < argc)
		vbd = argv[optind++];
	if (dir == NULL || optind < argc) {
		fputs(stat_usage, stderr);
		return (CMD_EXIT_USAGE);
	}
	/* A device's socket may outlive its machine for a moment. */
	if (plat_sim_alive(dir) == -ECONNREFUSED) {
		fprintf(stderr, "xbd stat: xbd hv at %s is gone\n", dir);
		return (CMD_EXIT_FAIL);
	}
	if (have_domid) {
		if (xbus_vdev_parse(vbd, &vdev) != 0) {
			fprintf(stderr, "xbd stat: '%s' is not a vbd name\n",
			    vbd);
			return (CMD_EXIT_USAGE);
		}
		if (statsock_path(dir, domid, vdev, path, sizeof(path)) != 0 ||
		    (rc = statsock_query(path, json, stdout)) != 0) {
			fprintf(stderr,
			    "xbd stat: no device %s of domain %u "
			    "is attached on %s (%s)\n",
			    vbd, domid, dir, strerror(ENOENT));
			return (CMD_EXIT_FAIL);
		}
		if (json)
			putchar('\n');
		return (CMD_EXIT_OK);
	}
	snprintf(sdir, sizeof(sdir), "%s/stat", dir);
	if ((d = opendir(sdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", sdir, de->d_name);
			if (statsock_query(path, json, stdout) == 0) {
				if (json)
					putchar('\n');
				n++;
			}
		}
		closedir(d);
	}
	if (n == 0) {
		fprintf(stderr, "xbd stat: no device is attached on %s\n", dir);
		return (CMD_EXIT_FAIL);
	}
	return (CMD_EXIT_OK);
}
