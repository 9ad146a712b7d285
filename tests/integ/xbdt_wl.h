/* SPDX-License-Identifier: BSD-2-Clause */
/* A random workload verified against a model of the disk; see xbdt_wl.c. */

#ifndef XBD_TESTS_XBDT_WL_H
#define XBD_TESTS_XBDT_WL_H

#include <stdbool.h>
#include <stdint.h>

#include "xbd/xbd.h"

struct wl_opts {
	uint64_t ops;	     /* I/Os to issue */
	int qd;		     /* most in flight (<= 64) */
	uint32_t max_blocks; /* largest I/O in 4 KiB blocks */
	int flush_pct;	     /* share of flushes */
	int discard_pct;     /* share of discards among data ops */
	int ordered_pct;     /* share of writes that are ordered */
	bool zero_copy;	     /* half the buffers from xbd_buf_alloc */
	unsigned int seed;   /* random seed */
};

struct wl_result {
	uint64_t r_reads, r_writes, r_flushes, r_discards;
	uint64_t r_errors;     /* I/Os that failed */
	int r_first_error;     /* the first failure */
	uint64_t r_mismatches; /* reads that disagreed with the model */
};

/* Run the workload; 0 unless the harness itself failed. */
int wl_run(struct xbd_dev *dev, const struct wl_opts *o, struct wl_result *r);

/* A workload on a thread of its own, while the test acts on the device. */
struct wl_bg {
	struct xbd_dev *dev; /* the device */
	struct wl_opts wo;   /* the workload */
	struct wl_result r;  /* its result */
	int rc;		     /* wl_run's return */
};

/* pthread_create's start routine for a struct wl_bg. */
void *wl_bg_run(void *arg);

#endif /* XBD_TESTS_XBDT_WL_H */
