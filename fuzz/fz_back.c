/* SPDX-License-Identifier: BSD-2-Clause */
/* What the backend's XenBus fuzz targets share; see fz_back.h. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fz_back.h"
#include "xenbus/xbus.h"

#define FZ_NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define FZ_VDEV 51712u

static const char *const fz_nodes[] = { "ring-ref", "ring-ref0", "ring-ref1",
	"ring-page-order", "num-ring-pages", "event-channel", "protocol",
	"multi-queue-num-queues", "queue-0/ring-ref", "queue-0/event-channel",
	"queue-1/ring-ref", "queue-1/event-channel", "feature-persistent",
	"backend", "backend-id" };

static const char *const fz_nasty[] = { "", "0", "-1", "1abc", " 1",
	"4294967295", "4294967296", "18446744073709551616", "99999", "31",
	"255", "x86_32-abi", "x86_64-abi", "armv7l-abi", "/", "/local/domain/0",
	"1", "2", "4096" };

const char *const fz_back_states[] = { "1", "2", "3", "4", "5", "6", "7", "8",
	"0", "99", "abc", "" };
const size_t fz_back_nstates = FZ_NELEM(fz_back_states);

struct xbus_vbd
fz_back_vbd(struct fz_back *b)
{
	struct xbus_vbd v;

	memset(&v, 0, sizeof(v));
	v.v_frontend_id = 1;
	v.v_backend_id = 0;
	v.v_vdev = FZ_VDEV;
	v.v_kind = "vbd";
	v.v_params = b->b_img;
	v.v_discard = true;
	return (v);
}

void
fz_back_machine(struct fz_back *b)
{
	struct xbus_vbd v;
	void *mem = NULL;
	int fd, i;

	setenv("XBD_QUIET", "1", 0);
	snprintf(b->b_img, sizeof(b->b_img), "/tmp/fuzz_xbus_back.XXXXXX");
	if ((fd = mkstemp(b->b_img)) < 0 || ftruncate(fd, 1 << 20) != 0)
		fz_die("no image");
	close(fd);
	fz_sim_start(&b->b_sim);
	if ((b->b_fxs = plat_xs_open(b->b_sim.s_fe)) == NULL ||
	    plat_mem_alloc(b->b_sim.s_fe, 0, FZ_BACK_PAGES, &mem) != 0 ||
	    plat_gnt_reserve(b->b_sim.s_fe, FZ_BACK_PAGES, b->b_refs) != 0 ||
	    plat_evtchn_open(b->b_sim.s_fe, &b->b_ev) != 0 ||
	    plat_evtchn_bind_unbound(b->b_ev, 0, &b->b_port) != 0)
		fz_die("no machine");
	b->b_ring = mem;
	for (i = 0; i < FZ_BACK_PAGES; i++)
		if (plat_gnt_grant(b->b_sim.s_fe, b->b_refs[i], 0,
			(char *)mem + i * 4096, false, &b->b_refs[i]) != 0)
			fz_die("no grant");
	v = fz_back_vbd(b);
	if (xbus_vbd_paths(&v, b->b_fe_dir, sizeof(b->b_fe_dir), b->b_be_dir,
		sizeof(b->b_be_dir)) != 0)
		fz_die("no paths");
}

void
fz_back_ring_reset(struct fz_back *b)
{
	memset(b->b_ring, 0, FZ_BACK_PAGES * 4096);
	((struct blkif_sring *)(void *)b->b_ring)->req_event = 1;
	((struct blkif_sring *)(void *)b->b_ring)->rsp_event = 1;
}

/* The value an honest frontend writes for node i. */
static void
fz_honest(struct fz_back *b, size_t i, char *buf, size_t len)
{
	const char *n = fz_nodes[i];

	if (strcmp(n, "ring-ref1") == 0 || strcmp(n, "queue-1/ring-ref") == 0)
		snprintf(buf, len, "%u", b->b_refs[1]);
	else if (strstr(n, "ring-ref") != NULL)
		snprintf(buf, len, "%u", b->b_refs[0]);
	else if (strstr(n, "event-channel") != NULL)
		snprintf(buf, len, "%u", b->b_port);
	else if (strcmp(n, "protocol") == 0)
		snprintf(buf, len, "x86_64-abi");
	else if (strcmp(n, "backend") == 0)
		snprintf(buf, len, "%s", b->b_be_dir);
	else if (strcmp(n, "backend-id") == 0 ||
	    strcmp(n, "ring-page-order") == 0)
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "1");
}

size_t
fz_back_nodes_write(struct fz_back *b, const uint8_t *p, size_t size,
    bool fresh)
{
	char val[300];
	size_t i, k, n, used = 0;
	uint8_t sel;

	if (!fresh) {
		(void)xbus_rm(b->b_fxs, XBT_NULL, b->b_fe_dir, "queue-0");
		(void)xbus_rm(b->b_fxs, XBT_NULL, b->b_fe_dir, "queue-1");
	}
	for (i = 0; i < FZ_NELEM(fz_nodes); i++) {
		sel = used < size ? p[used++] : 0;
		switch (sel % 4) {
		case 0:
			fz_honest(b, i, val, sizeof(val));
			break;
		case 1:
			if (fresh)
				continue;
			/* What the toolstack wrote, or nothing. */
			if (strncmp(fz_nodes[i], "backend", 7) == 0) {
				fz_honest(b, i, val, sizeof(val));
				break;
			}
			(void)xbus_rm(b->b_fxs, XBT_NULL, b->b_fe_dir,
			    fz_nodes[i]);
			continue;
		case 2:
			k = used < size ? p[used++] : 0;
			snprintf(val, sizeof(val), "%s",
			    fz_nasty[k % FZ_NELEM(fz_nasty)]);
			break;
		default:
			n = used < size ? p[used++] % 32 : 0;
			for (k = 0; k < n && used < size; k++)
				val[k] = p[used] != 0 ? (char)p[used] : '0',
				used++;
			val[k] = '\0';
		}
		(void)xbus_write(b->b_fxs, XBT_NULL, b->b_fe_dir, fz_nodes[i],
		    val);
	}
	return (used);
}

void
fz_back_state(struct fz_back *b, const char *state)
{
	(void)xbus_write(b->b_fxs, XBT_NULL, b->b_fe_dir, "state", state);
}
