/* SPDX-License-Identifier: BSD-2-Clause */
/* Option values of the xbd command and their limits; see cmd_opt.h. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd_opt.h"
#include "common/xu_assert.h"
#include "common/xu_parse.h"
#include "platform/plat.h"

/* What an option's value is. */
enum cmd_opt_kind {
	CMD_OPT_COUNT,	 /* a whole number */
	CMD_OPT_SIZE,	 /* bytes, with suffixes */
	CMD_OPT_SECONDS, /* seconds, limits in milliseconds */
};

/* One option's limits. */
struct cmd_opt_lim {
	const char *l_name;	  /* long option, without the dashes */
	enum cmd_opt_kind l_kind; /* how the value is written */
	uint64_t l_min;		  /* smallest accepted */
	uint64_t l_max;		  /* largest accepted */
	uint64_t l_mult;	  /* must be a multiple of this (0: any) */
	bool l_pow2;		  /* must be a power of two */
};

/*
 * Xen's DOMID_FIRST_RESERVED (0x7ff0) and up are DOMID_SELF and the
 * other special ids, never a domain.
 */
#define CMD_OPT_MAX_DOMID 0x7fefu
/* A day: longer runs are a typo for a shorter one. */
#define CMD_OPT_MAX_MS (86400u * 1000u)

/*
 * Every numeric option of every subcommand.  The ranges are those the
 * libraries accept (xbd_check_opts, xbb_opts_check), so a value they
 * would refuse later with a bare EINVAL is refused here with a reason;
 * the workload's limits are xwl's (XWL_MAX_QD) and the buffers it keeps
 * in flight (qd x bs).
 */
static const struct cmd_opt_lim cmd_opt_lims[] = {
	{ "domid", CMD_OPT_COUNT, 0, CMD_OPT_MAX_DOMID, 0, false },
	{ "frontend", CMD_OPT_COUNT, 0, CMD_OPT_MAX_DOMID, 0, false },
	{ "size", CMD_OPT_SIZE, 1u << 20, 1ull << 44, 512, false },
	{ "bs", CMD_OPT_SIZE, 512, 16u << 20, 512, false },
	{ "qd", CMD_OPT_COUNT, 1, 256, 0, false },
	{ "iodepth", CMD_OPT_COUNT, 1, 256, 0, false },
	{ "seconds", CMD_OPT_SECONDS, 1, CMD_OPT_MAX_MS, 0, false },
	{ "runtime", CMD_OPT_SECONDS, 1, CMD_OPT_MAX_MS, 0, false },
	{ "workload", CMD_OPT_SECONDS, 1, CMD_OPT_MAX_MS, 0, false },
	{ "ramp", CMD_OPT_SECONDS, 0, 3600u * 1000u, 0, false },
	{ "rwmixread", CMD_OPT_COUNT, 0, 100, 0, false },
	{ "ring-pages", CMD_OPT_COUNT, 1, 32, 0, true },
	{ "queues", CMD_OPT_COUNT, 1, 16, 0, false },
	{ "max-ring-page-order", CMD_OPT_COUNT, 0, 5, 0, false },
	{ "max-queues", CMD_OPT_COUNT, 1, 16, 0, false },
	{ "max-indirect-segs", CMD_OPT_COUNT, 0, 4096, 0, false },
	{ "max-persistent", CMD_OPT_COUNT, 0, 1u << 20, 0, false },
	/* io_uring's IORING_MAX_ENTRIES; 0 sizes it from the ring. */
	{ "uring-depth", CMD_OPT_COUNT, 0, 32768, 0, false },
	{ "sector-size", CMD_OPT_SIZE, 512, 65536, 0, true },
	{ "recover-timeout", CMD_OPT_COUNT, 0, 86400, 0, false },
	{ "resize-poll", CMD_OPT_COUNT, 0, 3600000, 0, false },
	{ "nbd-timeout", CMD_OPT_COUNT, 1, 3600, 0, false },
};

static const struct cmd_opt_lim *
cmd_opt_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cmd_opt_lims) / sizeof(cmd_opt_lims[0]); i++)
		if (strcmp(cmd_opt_lims[i].l_name, name) == 0)
			return (&cmd_opt_lims[i]);
	return (NULL);
}

/* A limit as the user would write it: 16M, 1.5 (seconds), 32. */
static void
cmd_opt_fmt(const struct cmd_opt_lim *l, uint64_t v, char *buf, size_t len)
{
	static const char sfx[] = "KMGT";
	int i;

	if (l->l_kind == CMD_OPT_SECONDS) {
		snprintf(buf, len, "%g", (double)v / 1000);
		return;
	}
	for (i = 3; l->l_kind == CMD_OPT_SIZE && i >= 0; i--)
		if (v != 0 && v % (1ull << (10 * (i + 1))) == 0) {
			snprintf(buf, len, "%" PRIu64 "%c", v >> (10 * (i + 1)),
			    sfx[i]);
			return;
		}
	snprintf(buf, len, "%" PRIu64, v);
}

static int
cmd_opt_parse(const struct cmd_opt_lim *l, const char *val, uint64_t *v)
{
	switch (l->l_kind) {
	case CMD_OPT_SIZE:
		return (xu_parse_size(val, v));
	case CMD_OPT_SECONDS:
		return (xu_parse_milli(val, UINT64_MAX, v));
	default:
		return (xu_parse_u64(val, UINT64_MAX, v));
	}
}

/* Why v is refused, or NULL. */
static const char *
cmd_opt_why(const struct cmd_opt_lim *l, uint64_t v, char *buf, size_t len)
{
	char lo[32], hi[32];

	cmd_opt_fmt(l, l->l_min, lo, sizeof(lo));
	cmd_opt_fmt(l, l->l_max, hi, sizeof(hi));
	if (v < l->l_min || v > l->l_max) {
		snprintf(buf, len, "is outside %s..%s", lo, hi);
	} else if (l->l_mult != 0 && v % l->l_mult != 0) {
		snprintf(buf, len, "is not a multiple of %" PRIu64 " in %s..%s",
		    l->l_mult, lo, hi);
	} else if (l->l_pow2 && (v & (v - 1)) != 0) {
		snprintf(buf, len, "is not a power of two in %s..%s", lo, hi);
	} else {
		return (NULL);
	}
	return (buf);
}

int
cmd_opt_u64(const char *prog, const char *name, const char *val, uint64_t *out)
{
	static const char *const what[] = {
		[CMD_OPT_COUNT] = "a whole number",
		[CMD_OPT_SIZE] = "a size (like 4096, 4K, 1.5G)",
		[CMD_OPT_SECONDS] = "a number of seconds (like 3 or 0.5)",
	};
	const struct cmd_opt_lim *l = cmd_opt_find(name);
	const char *why;
	char buf[128];
	uint64_t v;
	int rc;

	if (l == NULL) {
		fprintf(stderr, "%s: --%s: no limits known\n", prog, name);
		return (-EINVAL);
	}
	if ((rc = cmd_opt_parse(l, val, &v)) == -ERANGE) {
		/* Past 64 bits: past any limit too. */
		why = cmd_opt_why(l, UINT64_MAX, buf, sizeof(buf));
	} else if (rc != 0) {
		snprintf(buf, sizeof(buf), "is not %s", what[l->l_kind]);
		why = buf;
	} else {
		why = cmd_opt_why(l, v, buf, sizeof(buf));
	}
	if (why != NULL) {
		fprintf(stderr, "%s: --%s: '%s' %s\n", prog, name, val, why);
		return (-EINVAL);
	}
	*out = v;
	return (0);
}

int
cmd_opt_u32(const char *prog, const char *name, const char *val, uint32_t *out)
{
	uint64_t v;
	int rc;

	if ((rc = cmd_opt_u64(prog, name, val, &v)) != 0)
		return (rc);
	XU_ASSERT(v <= UINT32_MAX, ("--%s is not a 32-bit option", name));
	*out = (uint32_t)v;
	return (0);
}

int
cmd_opt_secs(const char *prog, const char *name, const char *val, double *out)
{
	uint64_t ms;
	int rc;

	if ((rc = cmd_opt_u64(prog, name, val, &ms)) != 0)
		return (rc);
	*out = (double)ms / 1000;
	return (0);
}

int
cmd_opt_apply(const char *prog, const struct cmd_opt_dest *t, size_t n, int id,
    const char *arg)
{
	size_t i;

	for (i = 0; i < n && t[i].d_id != id; i++)
		;
	if (i == n)
		return (1);
	switch (t[i].d_type) {
	case CMD_OPT_U32:
		return (cmd_opt_u32(prog, t[i].d_name, arg, t[i].d_ptr));
	case CMD_OPT_U64:
		return (cmd_opt_u64(prog, t[i].d_name, arg, t[i].d_ptr));
	case CMD_OPT_SECS:
		return (cmd_opt_secs(prog, t[i].d_name, arg, t[i].d_ptr));
	case CMD_OPT_STR:
		*(const char **)t[i].d_ptr = arg;
		break;
	case CMD_OPT_TRUE:
	case CMD_OPT_FALSE:
		*(bool *)t[i].d_ptr = t[i].d_type == CMD_OPT_TRUE;
		break;
	}
	return (0);
}

int
cmd_opt_platform(const char *prog, const char *val, bool *xen)
{
	if (!plat_known(val)) {
		fprintf(stderr,
		    "%s: --platform: '%s' is not a platform of this build "
		    "(sim%s)\n",
		    prog, val, plat_known("xen") ? ", xen" : "");
		return (-EINVAL);
	}
	*xen = strcmp(val, "xen") == 0;
	return (0);
}

int
cmd_opt_choice_error(const char *prog, const char *name, const char *val,
    const char *choices)
{
	fprintf(stderr, "%s: --%s: '%s' is not one of %s\n", prog, name, val,
	    choices);
	return (-EINVAL);
}
