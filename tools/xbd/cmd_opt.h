/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The option values of every xbd subcommand, checked in one place: one
 * table gives each numeric option its kind (count, size, seconds) and
 * its accepted range, so that an option means the same in every
 * subcommand that takes it, and every refusal names the option, the
 * value and what would have been accepted.  The numbers themselves are
 * parsed by lib/common/xu_parse.
 */

#ifndef XBD_TOOLS_CMD_OPT_H
#define XBD_TOOLS_CMD_OPT_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Parse the value of numeric option --name (without the dashes) for
 * subcommand prog ("xbd attach", argv[0]) and check it against the
 * table.  Sizes take K/M/G/T and KiB/MiB/GiB/TiB suffixes and fractions
 * that make whole bytes.
 * \return 0, or -EINVAL after printing why on stderr.
 */
int cmd_opt_u64(const char *prog, const char *name, const char *val,
    uint64_t *out);

/* The same for options whose range fits 32 bits. */
int cmd_opt_u32(const char *prog, const char *name, const char *val,
    uint32_t *out);

/* The same for an option in (decimal) seconds. */
int cmd_opt_secs(const char *prog, const char *name, const char *val,
    double *out);

/* What an option stores. */
enum cmd_opt_type {
	CMD_OPT_U32,   /* a number of the table, into a uint32_t */
	CMD_OPT_U64,   /* a number or size of the table, into a uint64_t */
	CMD_OPT_SECS,  /* seconds of the table, into a double */
	CMD_OPT_STR,   /* the argument itself, into a const char * */
	CMD_OPT_TRUE,  /* a flag: true into a bool */
	CMD_OPT_FALSE, /* a flag: false into a bool */
};

/* One option of a subcommand and where its value goes. */
struct cmd_opt_dest {
	int d_id;		  /* getopt_long's value for it */
	const char *d_name;	  /* long name, the limits table's key */
	enum cmd_opt_type d_type; /* what it stores */
	void *d_ptr;		  /* where */
};

/*
 * Apply option id (argument arg) through the n entries of t.
 * \return 0 (stored), 1 (id is not in t), or -EINVAL after printing why
 *         on stderr.
 */
int cmd_opt_apply(const char *prog, const struct cmd_opt_dest *t, size_t n,
    int id, const char *arg);

/*
 * --platform: sim or xen, if this build has it; *xen tells which.
 * \return 0, or -EINVAL after printing why on stderr.
 */
int cmd_opt_platform(const char *prog, const char *val, bool *xen);

/* Print "PROG: --NAME: 'VAL' is not one of CHOICES"; return -EINVAL. */
int cmd_opt_choice_error(const char *prog, const char *name, const char *val,
    const char *choices);

#endif /* XBD_TOOLS_CMD_OPT_H */
