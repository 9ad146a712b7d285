/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The transport options of the embedded machine, the same in `xbd run`
 * and `xbd bench`: how many ring pages and queues the frontend asks
 * for, whether it uses indirect segments, persistent grants and bounce
 * buffers, and whether the backend maps or grant-copies.
 */

#ifndef XBD_TOOLS_CMD_TRANSPORT_H
#define XBD_TOOLS_CMD_TRANSPORT_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

struct xbd_opts;
struct xbb_opts;

struct cmd_transport {
	uint32_t tr_ring_pages; /* --ring-pages (0: the library's) */
	uint32_t tr_queues;	/* --queues (0: the library's) */
	bool tr_no_indirect;	/* --no-indirect */
	bool tr_no_persistent;	/* --no-persistent */
	bool tr_bounce;		/* --bounce */
	bool tr_grant_copy;	/* --grant-copy */
};

/* getopt_long values, above any subcommand's own. */
enum {
	CMD_TR_RING = 0x1000,
	CMD_TR_QUEUES,
	CMD_TR_NOIND,
	CMD_TR_NOPERS,
	CMD_TR_BOUNCE,
	CMD_TR_COPY,
};

/* Their entries of a subcommand's struct option table. */
/* clang-format off */
#define CMD_TR_LONGOPTS \
	{ "ring-pages", required_argument, NULL, CMD_TR_RING }, \
	{ "queues", required_argument, NULL, CMD_TR_QUEUES }, \
	{ "no-indirect", no_argument, NULL, CMD_TR_NOIND }, \
	{ "no-persistent", no_argument, NULL, CMD_TR_NOPERS }, \
	{ "bounce", no_argument, NULL, CMD_TR_BOUNCE }, \
	{ "grant-copy", no_argument, NULL, CMD_TR_COPY }
/* clang-format on */

/*
 * Apply option id (argument arg) if it is a transport option.
 * \return 0 (stored), 1 (not one), or -EINVAL after printing why.
 */
int cmd_transport_opt(const char *prog, struct cmd_transport *t, int id,
    const char *arg);

/* The frontend's options from them (after xbd_opts_init). */
void cmd_transport_fe(const struct cmd_transport *t, struct xbd_opts *fo);

/* The backend's options from them (after xbb_opts_init). */
void cmd_transport_be(const struct cmd_transport *t, struct xbb_opts *bo);

#endif /* XBD_TOOLS_CMD_TRANSPORT_H */
