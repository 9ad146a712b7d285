/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xbd list: the domains and vbds of an `xbd hv` machine, the way
 * `xl list` and `xl block-list` show a Xen host's: each domain with its
 * id and name, each vbd with its frontend domain, vdev (name and
 * number), backend domain, both ends' XenBus states as words, size and
 * mode, and the processes holding each end.  Everything comes from
 * XenStore (through the privileged socket, as the toolstack reads it)
 * except the holders, which the hypervisor daemon lists in DIR/procs
 * (<domid>.<pid>, one per domain process: xbd serve, xbd attach,
 * xbd bench --dir, nbdkit's xbd plugin, a libxbd program).
 */

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "common/xu_parse.h"
#include "platform/sim/hv.h"
#include "xenbus/xbus.h"

static const char list_usage[] =
    "usage: xbd list --dir DIR [--json]\n"
    "\n"
    "List the domains of the machine at DIR (id, name, the processes that\n"
    "are the domain) and its vbds: frontend domain, vdev name and number,\n"
    "backend domain, backend and frontend XenBus states, size, mode and\n"
    "the process holding each end (xbd serve, xbd attach, nbdkit, ...).\n"
    "\n"
    "  --dir DIR     the machine's directory (required)\n"
    "  --json        one JSON object instead of tables\n"
    "  -h, --help    this text\n";

/* Most domains and vbds listed; a simulated machine has far fewer. */
#define LIST_MAX 256

/* One vbd, as both ends published it. */
struct list_vbd {
	uint32_t v_fe;		  /* frontend domain */
	uint32_t v_be;		  /* backend domain */
	uint32_t v_vdev;	  /* virtual device number */
	enum xenbus_state v_best; /* backend state */
	enum xenbus_state v_fest; /* frontend state */
	uint64_t v_sectors;	  /* size in 512-byte sectors */
	char v_mode[4];		  /* "r" or "w" */
};

/* A string as JSON: quotes, backslashes and control bytes escaped. */
static void
list_json_str(const char *s, FILE *out)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

/* "xbd serve" for an xbd subcommand, else the program's base name. */
static void
list_command(pid_t pid, char *buf, size_t len)
{
	char path[64], cmd[512], *base, *arg1;
	FILE *f;
	size_t n;

	snprintf(buf, len, "?");
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	n = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	cmd[n] = '\0';
	base = strrchr(cmd, '/') != NULL ? strrchr(cmd, '/') + 1 : cmd;
	arg1 = cmd + strlen(cmd) + 1;
	/* A name cut to the column is still a name: truncation is fine. */
	/* Bounded to what a column shows. */
	if (strcmp(base, "xbd") == 0 && arg1 < cmd + n)
		snprintf(buf, len, "xbd %.64s", arg1);
	else
		snprintf(buf, len, "%.64s", base);
}

/*
 * The processes that are domain domid, from DIR/procs; a pid the kernel
 * no longer has is skipped (the daemon itself may have been killed).
 */
static void
list_holders(const char *dir, uint32_t domid, bool json, FILE *out)
{
	char path[PATH_MAX], cmd[128];
	struct dirent *de;
	uint32_t d, pid;
	int n = 0;
	char *dot;
	DIR *dp;

	fputs(json ? "[" : "", out);
	snprintf(path, sizeof(path), "%s/procs", dir);
	if ((dp = opendir(path)) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			if ((dot = strchr(de->d_name, '.')) == NULL)
				continue;
			*dot = '\0';
			if (xu_parse_u32(de->d_name, &d) != 0 ||
			    xu_parse_u32(dot + 1, &pid) != 0 || d != domid ||
			    pid == 0 || pid > INT_MAX ||
			    kill((pid_t)pid, 0) != 0)
				continue;
			list_command((pid_t)pid, cmd, sizeof(cmd));
			if (json) {
				fprintf(out, "%s{\"pid\":%u,\"command\":",
				    n > 0 ? "," : "", pid);
				list_json_str(cmd, out);
				fputc('}', out);
			} else {
				fprintf(out, "%s%s[%u]", n > 0 ? ", " : "", cmd,
				    pid);
			}
			n++;
		}
		closedir(dp);
	}
	fputs(json ? "]" : n == 0 ? "-" : "", out);
}

static int
list_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

/* The numeric entries of a XenStore directory, sorted; -errno. */
static int
list_ids(struct xs_handle *xs, const char *path, uint32_t *ids, int max)
{
	unsigned int n, i;
	char **ents;
	int k = 0;

	if ((ents = xs_directory(xs, XBT_NULL, path, &n)) == NULL)
		return (errno == ENOENT ? 0 : -errno);
	for (i = 0; i < n && k < max; i++)
		if (xu_parse_u32(ents[i], &ids[k]) == 0)
			k++;
	free(ents);
	qsort(ids, (size_t)k, sizeof(*ids), list_cmp_u32);
	return (k);
}

/* Read one vbd from its backend directory and the frontend's. */
static void
list_vbd_read(struct xs_handle *xs, const char *be, struct list_vbd *v)
{
	char *fe = NULL, *mode = NULL;

	v->v_best = xbus_read_state(xs, be);
	v->v_fest = XenbusStateUnknown;
	if (xbus_read(xs, XBT_NULL, be, "frontend", &fe) == 0)
		v->v_fest = xbus_read_state(xs, fe);
	if (xbus_read_u64_def(xs, XBT_NULL, be, "sectors", UINT64_MAX >> 9, 0,
		&v->v_sectors) != 0)
		v->v_sectors = 0;
	snprintf(v->v_mode, sizeof(v->v_mode), "?");
	if (xbus_read(xs, XBT_NULL, be, "mode", &mode) == 0)
		snprintf(v->v_mode, sizeof(v->v_mode), "%s", mode);
	free(fe);
	free(mode);
}

/* Every vbd of every backend domain. */
static int
list_vbds(struct xs_handle *xs, const uint32_t *doms, int nd,
    struct list_vbd *v, int max)
{
	uint32_t fes[LIST_MAX], vdevs[LIST_MAX];
	char path[256];
	int i, j, k, nf, nv, n = 0;

	for (i = 0; i < nd; i++) {
		snprintf(path, sizeof(path), "/local/domain/%u/backend/vbd",
		    doms[i]);
		nf = list_ids(xs, path, fes, LIST_MAX);
		for (j = 0; j < nf; j++) {
			snprintf(path, sizeof(path),
			    "/local/domain/%u/backend/vbd/%u", doms[i], fes[j]);
			nv = list_ids(xs, path, vdevs, LIST_MAX);
			for (k = 0; k < nv && n < max; k++, n++) {
				v[n].v_be = doms[i];
				v[n].v_fe = fes[j];
				v[n].v_vdev = vdevs[k];
				snprintf(path, sizeof(path),
				    "/local/domain/%u/backend/vbd/%u/%u",
				    doms[i], fes[j], vdevs[k]);
				list_vbd_read(xs, path, &v[n]);
			}
		}
	}
	return (n);
}

static void
list_domain(struct xs_handle *xs, const char *dir, uint32_t domid, bool json,
    bool first)
{
	char path[64], *name = NULL;

	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	if (xbus_read(xs, XBT_NULL, path, "name", &name) != 0)
		name = NULL;
	if (json) {
		printf("%s{\"domid\":%u,\"name\":", first ? "" : ",", domid);
		list_json_str(name != NULL ? name : "", stdout);
		printf(",\"holders\":");
		list_holders(dir, domid, true, stdout);
		printf("}");
	} else {
		printf("%-16s %5u  ", name != NULL ? name : "-", domid);
		list_holders(dir, domid, false, stdout);
		printf("\n");
	}
	free(name);
}

static void
list_vbd_print(const char *dir, const struct list_vbd *v, bool json, bool first)
{
	char name[32];

	if (xbus_vdev_name(v->v_vdev, name, sizeof(name)) != 0)
		snprintf(name, sizeof(name), "%u", v->v_vdev);
	if (json) {
		printf("%s{\"frontend\":%u,\"vdev\":%u,\"name\":\"%s\","
		       "\"backend\":%u,\"backend_state\":\"%s\","
		       "\"frontend_state\":\"%s\",\"sectors\":%" PRIu64
		       ",\"size\":%" PRIu64 ",\"mode\":",
		    first ? "" : ",", v->v_fe, v->v_vdev, name, v->v_be,
		    xbus_state_name(v->v_best), xbus_state_name(v->v_fest),
		    v->v_sectors, v->v_sectors * 512);
		list_json_str(v->v_mode, stdout);
		printf(",\"backend_holders\":");
		list_holders(dir, v->v_be, true, stdout);
		printf(",\"frontend_holders\":");
		list_holders(dir, v->v_fe, true, stdout);
		printf("}");
		return;
	}
	printf("%5u  %-6s %6u  %5u  %-13s %-13s %8" PRIu64 "M  %-4s ", v->v_fe,
	    name, v->v_vdev, v->v_be, xbus_state_name(v->v_best),
	    xbus_state_name(v->v_fest), v->v_sectors / 2048, v->v_mode);
	list_holders(dir, v->v_be, false, stdout);
	printf(" / ");
	list_holders(dir, v->v_fe, false, stdout);
	printf("\n");
}

static int
list_parse(int argc, char **argv, const char **dir, bool *json)
{
	enum { O_DIR = 256, O_JSON };
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, O_DIR },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_DIR:
			*dir = optarg;
			break;
		case O_JSON:
			*json = true;
			break;
		case 'h':
			fputs(list_usage, stdout);
			return (1);
		default:
			fputs(list_usage, stderr);
			return (-1);
		}
	}
	if (*dir == NULL || optind < argc) {
		fputs(list_usage, stderr);
		return (-1);
	}
	return (0);
}

int
cmd_list(int argc, char **argv)
{
	static struct list_vbd vbds[LIST_MAX];
	const char *dir = NULL;
	uint32_t doms[LIST_MAX];
	struct xs_handle *xs;
	char path[PATH_MAX];
	bool json = false;
	int rc, i, nd, nv;

	if ((rc = list_parse(argc, argv, &dir, &json)) != 0)
		return (rc > 0 ? CMD_EXIT_OK : CMD_EXIT_USAGE);
	snprintf(path, sizeof(path), "%s/socket", dir);
	if ((xs = hv_xs_open_path(path)) == NULL) {
		fprintf(stderr, "xbd list: no machine at %s (%s)\n", dir,
		    strerror(errno));
		return (CMD_EXIT_FAIL);
	}
	if ((nd = list_ids(xs, "/local/domain", doms, LIST_MAX)) < 0) {
		fprintf(stderr, "xbd list: reading %s: %s\n", dir,
		    strerror(-nd));
		xs_close(xs);
		return (CMD_EXIT_FAIL);
	}
	nv = list_vbds(xs, doms, nd, vbds, LIST_MAX);
	if (json)
		printf("{\"domains\":[");
	else
		printf("%-16s %5s  %s\n", "Name", "ID", "Processes");
	for (i = 0; i < nd; i++)
		list_domain(xs, dir, doms[i], json, i == 0);
	if (json)
		printf("],\"vbds\":[");
	else
		printf("\n%5s  %-6s %6s  %5s  %-13s %-13s %9s  %-4s %s\n", "FE",
		    "Vdev", "Number", "BE", "BE-state", "FE-state", "Size",
		    "Mode", "Holders (BE / FE)");
	for (i = 0; i < nv; i++)
		list_vbd_print(dir, &vbds[i], json, i == 0);
	if (json)
		printf("]}\n");
	xs_close(xs);
	return (CMD_EXIT_OK);
}
