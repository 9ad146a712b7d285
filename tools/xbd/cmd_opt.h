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

/*
 * --platform: sim or xen, if this build has it; *xen tells which.
 * \return 0, or -EINVAL after printing why on stderr.
 */
int cmd_opt_platform(const char *prog, const char *val, bool *xen);

/* Print "PROG: --NAME: 'VAL' is not one of CHOICES"; return -EINVAL. */
int cmd_opt_choice_error(const char *prog, const char *name, const char *val,
    const char *choices);

#endif /* XBD_TOOLS_CMD_OPT_H */
