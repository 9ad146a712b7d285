/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the backend's XenBus state machine driven by a frontend
 * that writes whatever it likes into its own XenStore directory.  One
 * machine is built on the first input and kept: a simulated hypervisor,
 * the real backend (xbb) serving a small image from domain 0, and a
 * frontend domain owning two granted ring pages and an unbound event
 * channel.  Each input creates the vbd, writes the transport nodes
 * (honest, missing, one of a list of nasty values, or raw bytes), plays
 * a script of frontend states, then closes and removes the vbd.  The
 * backend must survive, and once the vbd is gone it must hold no
 * mapping of the frontend's pages; a violation aborts.
 *
 * Input: one selector byte per node of fz_nodes (0 honest, 1 absent,
 *        2 nasty value [next byte], 3 raw value [length byte, bytes]),
 *        then state bytes, each an index into fz_states.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "back/xbb.h"
#include "fz_sim.h"
#include "xenbus/xbus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_VDEV 51712u
#define FZ_PAGES 2 /* ring pages the frontend grants */

static const char *const fz_nodes[] = { "ring-ref", "ring-ref0", "ring-ref1",
	"ring-page-order", "num-ring-pages", "event-channel", "protocol",
	"multi-queue-num-queues", "queue-0/ring-ref", "queue-0/event-channel",
	"queue-1/ring-ref", "queue-1/event-channel", "feature-persistent",
	"backend", "backend-id" };

static const char *const fz_nasty[] = { "", "0", "-1", "1abc", " 1",
	"4294967295", "4294967296", "18446744073709551616", "99999", "31",
	"255", "x86_32-abi", "x86_64-abi", "armv7l-abi", "/", "/local/domain/0",
	"1", "2", "4096" };

static const char *const fz_states[] = { "1", "2", "3", "4", "5", "6", "7", "8",
	"0", "99", "abc", "" };

static struct {
	struct fz_sim m_sim;	 /* the machine */
	struct xs_handle *m_fxs; /* XenStore as the guest */
	struct xbb *m_xbb;
	grant_ref_t m_refs[FZ_PAGES];
	unsigned char *m_ring; /* the ring pages */
	struct plat_evtchn *m_ev;
	evtchn_port_t m_port;
	char m_img[64];
	char m_fe_dir[128], m_be_dir[128];
} fz;

static struct xbus_vbd
fz_vbd(void)
{
	struct xbus_vbd v;

	memset(&v, 0, sizeof(v));
	v.v_frontend_id = 1;
	v.v_backend_id = 0;
	v.v_vdev = FZ_VDEV;
	v.v_kind = "vbd";
	v.v_params = fz.m_img;
	v.v_discard = true;
	return (v);
}

static void
fz_machine(void)
{
	struct xbus_vbd v;
	struct xbb_opts bo;
	void *mem = NULL;
	int fd, i;

	setenv("XBD_QUIET", "1", 0);
	snprintf(fz.m_img, sizeof(fz.m_img), "/tmp/fuzz_xbus_back.XXXXXX");
	if ((fd = mkstemp(fz.m_img)) < 0 || ftruncate(fd, 1 << 20) != 0)
		fz_die("no image");
	close(fd);
	xbb_opts_init(&bo);
	fz_sim_start(&fz.m_sim);
	if ((fz.m_fxs = plat_xs_open(fz.m_sim.s_fe)) == NULL ||
	    xbb_start(fz.m_sim.s_be, &bo, &fz.m_xbb) != 0 ||
	    plat_mem_alloc(fz.m_sim.s_fe, 0, FZ_PAGES, &mem) != 0 ||
	    plat_gnt_reserve(fz.m_sim.s_fe, FZ_PAGES, fz.m_refs) != 0 ||
	    plat_evtchn_open(fz.m_sim.s_fe, &fz.m_ev) != 0 ||
	    plat_evtchn_bind_unbound(fz.m_ev, 0, &fz.m_port) != 0)
		fz_die("no machine");
	fz.m_ring = mem;
	for (i = 0; i < FZ_PAGES; i++)
		if (plat_gnt_grant(fz.m_sim.s_fe, fz.m_refs[i], 0,
			(char *)mem + i * 4096, false, &fz.m_refs[i]) != 0)
			fz_die("no grant");
	v = fz_vbd();
	if (xbus_vbd_paths(&v, fz.m_fe_dir, sizeof(fz.m_fe_dir), fz.m_be_dir,
		sizeof(fz.m_be_dir)) != 0)
		fz_die("no paths");
}

/* The value an honest frontend writes for node i. */
static void
fz_honest(size_t i, char *buf, size_t len)
{
	const char *n = fz_nodes[i];

	if (strcmp(n, "ring-ref1") == 0 || strcmp(n, "queue-1/ring-ref") == 0)
		snprintf(buf, len, "%u", fz.m_refs[1]);
	else if (strstr(n, "ring-ref") != NULL)
		snprintf(buf, len, "%u", fz.m_refs[0]);
	else if (strstr(n, "event-channel") != NULL)
		snprintf(buf, len, "%u", fz.m_port);
	else if (strcmp(n, "protocol") == 0)
		snprintf(buf, len, "x86_64-abi");
	else if (strcmp(n, "backend") == 0)
		snprintf(buf, len, "%s", fz.m_be_dir);
	else if (strcmp(n, "backend-id") == 0 ||
	    strcmp(n, "ring-page-order") == 0)
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "1");
}

/* Write the transport nodes as the input says; return bytes used. */
static size_t
fz_nodes_write(const uint8_t *p, size_t size)
{
	char val[300];
	size_t i, k, n, used = 0;
	uint8_t sel;

	for (i = 0; i < sizeof(fz_nodes) / sizeof(fz_nodes[0]); i++) {
		sel = used < size ? p[used++] : 0;
		switch (sel % 4) {
		case 0:
			fz_honest(i, val, sizeof(val));
			break;
		case 1:
			continue;
		case 2:
			k = used < size ? p[used++] : 0;
			snprintf(val, sizeof(val), "%s",
			    fz_nasty[k %
				(sizeof(fz_nasty) / sizeof(fz_nasty[0]))]);
			break;
		default:
			n = used < size ? p[used++] % 32 : 0;
			for (k = 0; k < n && used < size; k++)
				val[k] = p[used] != 0 ? (char)p[used] : '0',
				used++;
			val[k] = '\0';
		}
		(void)xbus_write(fz.m_fxs, XBT_NULL, fz.m_fe_dir, fz_nodes[i],
		    val);
	}
	return (used);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_dom_usage u;
	struct xbus_vbd v;
	uint64_t t0;
	size_t used, i;

	if (fz.m_sim.s_hv == NULL)
		fz_machine();
	/* A fresh ring, as SHARED_RING_INIT leaves it. */
	memset(fz.m_ring, 0, FZ_PAGES * 4096);
	((struct blkif_sring *)(void *)fz.m_ring)->req_event = 1;
	((struct blkif_sring *)(void *)fz.m_ring)->rsp_event = 1;
	v = fz_vbd();
	if (xbus_vbd_add(fz.m_sim.s_priv, &v) != 0)
		fz_die("vbd not created");
	used = fz_nodes_write(data, size);
	for (i = used; i < size && i < used + 16; i++) {
		(void)xbus_write(fz.m_fxs, XBT_NULL, fz.m_fe_dir, "state",
		    fz_states[data[i] %
			(sizeof(fz_states) / sizeof(fz_states[0]))]);
		usleep(500);
	}
	/* The toolstack takes the vbd away. */
	(void)xbus_write(fz.m_fxs, XBT_NULL, fz.m_fe_dir, "state", "6");
	(void)xbus_vbd_remove(fz.m_sim.s_priv, &v, 200, false);
	t0 = fz_now_ms();
	do {
		if (hv_domain_usage(fz.m_sim.s_hv, 0, &u) != 0)
			fz_die("no usage");
		if (u.du_mapped == 0)
			break;
		usleep(200);
	} while (fz_now_ms() - t0 < 5000);
	if (u.du_mapped != 0)
		fz_die("the backend kept the frontend's pages mapped");
	return (0);
}
