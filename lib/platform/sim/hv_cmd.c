/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * `xbd hv --dir DIR`: the multi-process machine.  It runs the XenStore
 * daemon on DIR and serves domain processes on DIR/hv.sock until SIGINT
 * or SIGTERM; when it stops, every remaining domain is destroyed.
 */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xu_parse.h"
#include "hv_internal.h"

/* Domains --domain may create up front. */
#define HV_CMD_MAX_DOMAINS 16

/* Exit codes of the command (as tools/xbd/cmd.h: ok, failure, usage). */
enum hv_cmd_exit {
	HV_CMD_OK = 0,
	HV_CMD_FAIL = 1,
	HV_CMD_USAGE = 2,
};

/* Set by SIGINT/SIGTERM; hv_serve polls it (the documented exception). */
static volatile sig_atomic_t hv_cmd_stop;

static void
hv_cmd_signal(int sig)
{
	hv_cmd_stop = 1;
}

static void
hv_cmd_usage(FILE *out)
{
	fprintf(out,
	    "usage: xbd hv --dir DIR [--grant-entries N] [--evtchn-ports N]\n"
	    "              [--arena-pages N] [--domain ID[:NAME] ...]\n"
	    "\n"
	    "Run the simulated hypervisor and its XenStore daemon on DIR:\n"
	    "domain processes connect to DIR/hv.sock, XenStore clients to\n"
	    "DIR/socket (toolstack) and DIR/domain/<domid>.  Runs until\n"
	    "SIGINT or SIGTERM.\n"
	    "\n"
	    "  --dir DIR            directory of the sockets (required)\n"
	    "  --grant-entries N    v1 grant entries per domain (%u)\n"
	    "  --evtchn-ports N     event-channel ports per domain (%u)\n"
	    "  --arena-pages N      grantable 4 KiB pages per domain (%u)\n"
	    "  --domain ID[:NAME]   create a domain that lives as long as the\n"
	    "                       machine; processes then join it (repeat)\n",
	    HV_DEF_GRANT_ENTRIES, HV_DEF_EVTCHN_PORTS, HV_DEF_ARENA_PAGES);
}

/* A number option's limits: what hv_create() and Xen accept. */
struct hv_cmd_lim {
	const char *l_name; /* the option */
	uint32_t l_min;	    /* smallest accepted */
	uint32_t l_max;	    /* largest accepted */
};

static const struct hv_cmd_lim hv_cmd_lims[] = {
	['g'] = { "--grant-entries", GNTTAB_NR_RESERVED_ENTRIES + 1,
	    HV_MAX_GRANT_ENTRIES },
	['e'] = { "--evtchn-ports", 2, HV_MAX_EVTCHN_PORTS },
	['a'] = { "--arena-pages", 1, HV_MAX_ARENA_PAGES },
	['D'] = { "--domain", 0, DOMID_FIRST_RESERVED - 1 },
};

/* Parse option c's value; say why it is refused. */
static int
hv_cmd_number(int c, const char *arg, uint32_t *out)
{
	const struct hv_cmd_lim *l = &hv_cmd_lims[c];
	uint32_t v;
	int rc;

	if ((rc = xu_parse_u32(arg, &v)) == 0 && (v < l->l_min || v > l->l_max))
		rc = -ERANGE;
	if (rc == -EINVAL)
		fprintf(stderr, "xbd hv: %s: '%s' is not a whole number\n",
		    l->l_name, arg);
	else if (rc != 0)
		fprintf(stderr, "xbd hv: %s: '%s' is outside %u..%u\n",
		    l->l_name, arg, l->l_min, l->l_max);
	else
		*out = v;
	return (rc);
}

int
hv_cmd_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "grant-entries", required_argument, NULL, 'g' },
		{ "evtchn-ports", required_argument, NULL, 'e' },
		{ "arena-pages", required_argument, NULL, 'a' },
		{ "domain", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct plat *views[HV_CMD_MAX_DOMAINS];
	uint32_t domids[HV_CMD_MAX_DOMAINS];
	char *names[HV_CMD_MAX_DOMAINS], *colon;
	struct sigaction sa;
	struct hv_opts o;
	struct hv *hv;
	uint32_t *num;
	int c, error, ndom = 0, i;

	hv_opts_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:g:e:a:D:h", opts, NULL)) != -1) {
		num = NULL;
		switch (c) {
		case 'd':
			o.o_dir = optarg;
			break;
		case 'g':
			num = &o.o_grant_entries;
			break;
		case 'e':
			num = &o.o_evtchn_ports;
			break;
		case 'a':
			num = &o.o_arena_pages;
			break;
		case 'D':
			/* ID[:NAME]: a domain that lives as long as we do. */
			if (ndom == HV_CMD_MAX_DOMAINS) {
				fprintf(stderr, "xbd hv: at most %d --domain\n",
				    HV_CMD_MAX_DOMAINS);
				return (HV_CMD_USAGE);
			}
			names[ndom] = "guest";
			if ((colon = strchr(optarg, ':')) != NULL) {
				*colon = '\0';
				names[ndom] = colon + 1;
			}
			num = &domids[ndom++];
			break;
		case 'h':
			hv_cmd_usage(stdout);
			return (HV_CMD_OK);
		default:
			hv_cmd_usage(stderr);
			return (HV_CMD_USAGE);
		}
		if (num != NULL && hv_cmd_number(c, optarg, num) != 0)
			return (HV_CMD_USAGE);
	}
	if (optind != argc || o.o_dir == NULL) {
		hv_cmd_usage(stderr);
		return (HV_CMD_USAGE);
	}
	if ((error = hv_create(&o, &hv)) != 0) {
		fprintf(stderr, "xbd hv: cannot start on %s: %s\n", o.o_dir,
		    strerror(-error));
		return (HV_CMD_FAIL);
	}
	for (i = 0; i < ndom; i++) {
		if ((error = hv_domain_create(hv, domids[i], names[i],
			 &views[i])) != 0) {
			fprintf(stderr, "xbd hv: domain %u: %s\n", domids[i],
			    strerror(-error));
			while (i-- > 0)
				plat_close(views[i]);
			hv_destroy(hv);
			return (HV_CMD_FAIL);
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = hv_cmd_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	hv_cmd_stop = 0;
	error = hv_serve(hv, &hv_cmd_stop);
	for (i = 0; i < ndom; i++)
		plat_close(views[i]);
	hv_destroy(hv);
	if (error != 0) {
		fprintf(stderr, "xbd hv: %s: %s\n", o.o_dir, strerror(-error));
		return (HV_CMD_FAIL);
	}
	return (HV_CMD_OK);
}
