/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the frontend's XenBus state machine driven by a backend
 * that publishes whatever it likes.  One machine is built on the first
 * input and kept; each input starts the scripted backend of the tests
 * with the node values it chooses (left alone, removed, one of a list of
 * nasty values, or raw bytes), attaches, and if that worked plays a
 * script of backend state changes, node rewrites and reads before
 * detaching.  Attach must succeed or fail with an errno in bounded time,
 * an attached device must report a sane geometry, every read must return
 * 0 or a negative errno, and detach must come back; a violation aborts.
 *
 * Input: see fz_front.h; step 3 waits 1 ms.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fz_front.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	struct fz_sim m_sim; /* the machine */
	struct hostile m_h;  /* the backend */
} fz;

/* Fill the backend's node overrides from the input. */
static void
fz_nodes_pick(const uint8_t **p, const uint8_t *end)
{
	struct hostile_node *n = fz.m_h.h_nodes;
	const char *vals[FZ_FRONT_NODES];
	bool keep[FZ_FRONT_NODES];
	size_t i;

	fz_front_pick(p, end, vals, keep);
	for (i = 0; i < FZ_FRONT_NODES; i++) {
		if (keep[i])
			continue;
		n->n_name = fz_front_nodes[i];
		n->n_value = vals[i];
		n++;
	}
	n->n_name = NULL;
}

static void
fz_script(struct xbd_dev *dev, const uint8_t *p, const uint8_t *end)
{
	const char *node, *val;
	char buf[4096];
	int rc;

	for (; end - p >= 2; p += 2) {
		switch (p[0] % 4) {
		case 0:
			hostile_write(&fz.m_h, "state", fz_front_state(p[1]));
			break;
		case 1:
			val = fz_front_nasty(p[1], &node);
			hostile_write(&fz.m_h, node, val);
			break;
		case 2:
			rc = xbd_read(dev, buf, 0, sizeof(buf));
			if (rc > 0)
				fz_die("a read returned a positive value");
			break;
		default:
			usleep(1000);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct xbd_dev *dev = NULL;
	struct xbd_opts o;
	uint8_t flags;
	int rc;

	fz_sim_hostile(&fz.m_sim, &fz.m_h);
	flags = fz_front_byte(&p, end);
	fz.m_h.h_skip_initwait = (flags & 1) != 0;
	fz_nodes_pick(&p, end);
	if (hostile_start(&fz.m_h, fz.m_sim.s_priv) != 0)
		fz_die("no backend");
	xbd_opts_init(&o);
	o.o_connect_timeout_ms = 300;
	o.o_recovery_timeout_ms = 0;
	o.o_max_queues = 2;
	rc = xbd_attach(fz.m_sim.s_xp, "xvda", &o, &dev);
	if (rc > 0 || (rc == 0) != (dev != NULL))
		fz_die("attach result");
	if (rc == 0) {
		fz_front_check_info(dev);
		fz_script(dev, p, end);
		xbd_detach(dev);
	}
	hostile_stop(&fz.m_h);
	return (0);
}
