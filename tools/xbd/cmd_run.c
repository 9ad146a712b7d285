/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xbd run: the main job.  Until the simulated platform, the backend and
 * the frontend exist, it is a smoke demo of what does: the ABI and a
 * frontend/backend pair exchanging requests over one shared ring.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "ring/xring.h"

static _Alignas(4096) unsigned char ring_pages[XRING_MAX_PAGES * 4096];

int
cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct xring_front f;
	struct xring_back b;
	struct blkif_request req;
	struct blkif_response rsp;
	union xring_req got;
	unsigned int pages, rounds, i, notifies = 0;
	int c, n;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("usage: xbd run\n\nA smoke demo of the blkif "
			       "ring until the full stack lands.\n");
			return (CMD_EXIT_OK);
		default:
			return (CMD_EXIT_USAGE);
		}
	}
	printf("blkif ABI: request %zu bytes, response %zu bytes\n",
	    sizeof(struct blkif_request), sizeof(struct blkif_response));
	for (pages = 1; pages <= XRING_MAX_PAGES; pages <<= 1) {
		if (xring_front_init(&f, ring_pages, pages) != 0 ||
		    xring_back_init(&b, ring_pages, pages, XRING_ABI_NATIVE) !=
			0)
			return (CMD_EXIT_FAIL);
		memset(&req, 0, sizeof(req));
		for (rounds = 0; rounds < 1000; rounds++) {
			for (i = 0; xring_front_free(&f) > 0; i++) {
				req.id = i;
				xring_front_put(&f, &req);
			}
			notifies += xring_front_push(&f);
			n = xring_back_poll(&b);
			while (n-- > 0) {
				xring_back_take(&b, &got);
				xring_back_put_rsp(&b, got.rw.id,
				    got.rw.operation, BLKIF_RSP_OKAY);
			}
			notifies += xring_back_push(&b);
			n = xring_front_poll(&f);
			if (n < 0)
				return (CMD_EXIT_FAIL);
			while (n-- > 0)
				xring_front_take(&f, &rsp);
			(void)xring_back_final_check(&b);
			(void)xring_front_final_check(&f);
		}
		printf("ring of %2u page(s): %4u slots, %u round trips of a "
		       "full ring: ok\n",
		    pages, xring_slots(pages), rounds);
	}
	printf("notifications: %u\n", notifies);
	return (CMD_EXIT_OK);
}
