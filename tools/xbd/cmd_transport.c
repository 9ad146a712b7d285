/* SPDX-License-Identifier: BSD-2-Clause */
/* The transport options of `xbd run` and `xbd bench` (cmd_transport.h). */

#include <xbd/xbd.h>

#include "back/xbb.h"
#include "cmd_opt.h"
#include "cmd_transport.h"
#include "common/xu_assert.h"

int
cmd_transport_opt(const char *prog, struct cmd_transport *t, int id,
    const char *arg)
{
	const struct cmd_opt_dest dest[] = {
		{ CMD_TR_RING, "ring-pages", CMD_OPT_U32, &t->tr_ring_pages },
		{ CMD_TR_QUEUES, "queues", CMD_OPT_U32, &t->tr_queues },
		{ CMD_TR_NOIND, NULL, CMD_OPT_TRUE, &t->tr_no_indirect },
		{ CMD_TR_NOPERS, NULL, CMD_OPT_TRUE, &t->tr_no_persistent },
		{ CMD_TR_BOUNCE, NULL, CMD_OPT_TRUE, &t->tr_bounce },
		{ CMD_TR_COPY, NULL, CMD_OPT_TRUE, &t->tr_grant_copy },
	};

	return (cmd_opt_apply(prog, dest, XU_NELEM(dest), id, arg));
}

void
cmd_transport_fe(const struct cmd_transport *t, struct xbd_opts *fo)
{
	if (t->tr_ring_pages != 0)
		fo->o_max_ring_pages = t->tr_ring_pages;
	if (t->tr_queues != 0)
		fo->o_max_queues = t->tr_queues;
	fo->o_enable_indirect = !t->tr_no_indirect;
	fo->o_persistent = !t->tr_no_persistent;
	if (t->tr_bounce)
		fo->o_bounce = 1;
}

void
cmd_transport_be(const struct cmd_transport *t, struct xbb_opts *bo)
{
	bo->o_persistent = !t->tr_no_persistent;
	bo->o_grant_copy = t->tr_grant_copy;
}
