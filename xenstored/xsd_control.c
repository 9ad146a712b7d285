/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * XS_CONTROL (alias XS_DEBUG), privileged: the subset of 4.17's commands
 * that means something without a hypervisor or a log file.
 *
 *   help                   the list below
 *   print <string>         write the string to the daemon's log
 *   check                  verify the tree's invariants (EIO if broken)
 *   quota                  the quota settings
 *   quota set <name> <n>   change one at run time
 *   quota <domid>          what a domain uses
 *
 * Anything else (log, logfile, memreport, live-update, quota-soft...) is
 * EINVAL, as an unknown command is in 4.17.
 */

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/xu_assert.h"
#include "xsd_internal.h"

/* A quota CONTROL can show and set, with its 4.17 name. */
struct xsd_quota_desc {
	const char *name; /* the name "quota set" takes */
	size_t off;	  /* offset of the field in struct xsd_opts */
	bool wide;	  /* a size_t field (else unsigned int) */
	const char *what; /* one line of description */
};

static const struct xsd_quota_desc xsd_quotas[] = {
	{ "nodes", offsetof(struct xsd_opts, o_nodes), false,
	    "nodes owned by a domain" },
	{ "node-size", offsetof(struct xsd_opts, o_node_size), false,
	    "bytes of one stored node" },
	{ "watches", offsetof(struct xsd_opts, o_watches), false,
	    "watches of a domain" },
	{ "transactions", offsetof(struct xsd_opts, o_transactions), false,
	    "open transactions of a connection" },
	{ "permissions", offsetof(struct xsd_opts, o_perms), false,
	    "entries of one SET_PERMS" },
	{ "path-max", offsetof(struct xsd_opts, o_path_max), false,
	    "path bytes below a domain's home" },
	{ "transaction-nodes", offsetof(struct xsd_opts, o_txn_nodes), false,
	    "nodes one transaction may touch" },
	{ "outstanding", offsetof(struct xsd_opts, o_outstanding), false,
	    "unread replies before input stops" },
	{ "memory", offsetof(struct xsd_opts, o_memory), true,
	    "bytes a domain makes the daemon hold" },
	{ "watch-events", offsetof(struct xsd_opts, o_watch_events), false,
	    "pending events before a connection is dropped" },
};

static const char xsd_control_help[] = "Supported commands:\n"
				       "check\n"
				       "help\n"
				       "print <string>\n"
				       "quota [set <name> <val>|<domid>]\n";

/* Append text; returns the new length, or cap when it does not fit. */
static size_t xsd_cat(char *out, size_t cap, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t
xsd_cat(char *out, size_t cap, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (len >= cap)
		return (cap);
	va_start(ap, fmt);
	n = vsnprintf(out + len, cap - len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - len)
		return (cap);
	return (len + (size_t)n);
}

static unsigned long
xsd_quota_get(const struct xsd_opts *o, const struct xsd_quota_desc *q)
{
	const char *base = (const char *)o;

	if (q->wide)
		return ((unsigned long)*(
		    const size_t *)(const void *)(base + q->off));
	return (*(const unsigned int *)(const void *)(base + q->off));
}

static int
xsd_control_quota(struct xsd_conn *c, unsigned int argc, const char **argv,
    char *out, size_t cap)
{
	struct xsd_opts *o = &c->c_core->x_opts;
	const struct xsd_quota_desc *q;
	const struct xsd_domain *d;
	unsigned long v;
	size_t i, len = 0;
	char *base = (char *)o;

	if (argc == 1) {
		for (i = 0; i < XU_NELEM(xsd_quotas); i++)
			len = xsd_cat(out, cap, len, "%-18s %10lu  %s\n",
			    xsd_quotas[i].name,
			    xsd_quota_get(o, &xsd_quotas[i]),
			    xsd_quotas[i].what);
		return (len < cap ? (int)len + 1 : -E2BIG);
	}
	if (strcmp(argv[1], "set") == 0) {
		if (argc != 4 || xsd_parse_ulong(argv[3], UINT_MAX, &v) != 0 ||
		    v == 0)
			return (-EINVAL);
		for (i = 0; i < XU_NELEM(xsd_quotas); i++) {
			q = &xsd_quotas[i];
			if (strcmp(argv[2], q->name) != 0)
				continue;
			if (q->wide)
				*(size_t *)(void *)(base + q->off) = v;
			else
				*(unsigned int *)(void *)(base + q->off) =
				    (unsigned int)v;
			return ((int)snprintf(out, cap, "OK") + 1);
		}
		return (-EINVAL);
	}
	if (argc != 2 || xsd_parse_ulong(argv[1], UINT_MAX, &v) != 0)
		return (-EINVAL);
	if ((d = xsd_dom_find(c->c_core, (unsigned int)v)) == NULL)
		return (-ENOENT);
	len = xsd_cat(out, cap, 0,
	    "Domain %u: nodes %ld, watches %u, memory %zu%s\n", d->d_domid,
	    d->d_nodes, d->d_watches, d->d_mem,
	    d->d_exists ? "" : ", does not exist");
	if (d->d_introduced)
		len = xsd_cat(out, cap, len,
		    "introduced: gfn %lu, event channel %u\n", d->d_gfn,
		    d->d_evtchn);
	return (len < cap ? (int)len + 1 : -E2BIG);
}

int
xsd_control(struct xsd_conn *c, unsigned int argc, const char **argv, char *out,
    size_t cap)
{
	int rc;

	if (argc == 0)
		return (-EINVAL);
	if (strcmp(argv[0], "help") == 0) {
		memcpy(out, xsd_control_help, sizeof(xsd_control_help));
		return ((int)sizeof(xsd_control_help));
	}
	if (strcmp(argv[0], "print") == 0) {
		if (argc < 2)
			return (-EINVAL);
		xsd_log(c->c_core, "control: %s", argv[1]);
		return ((int)snprintf(out, cap, "OK") + 1);
	}
	if (strcmp(argv[0], "check") == 0) {
		if ((rc = xsd_core_check(c->c_core)) != 0)
			return (rc);
		return ((int)snprintf(out, cap, "OK") + 1);
	}
	if (strcmp(argv[0], "quota") == 0)
		return (xsd_control_quota(c, argc, argv, out, cap));
	return (-EINVAL);
}
