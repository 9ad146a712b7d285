/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The only door to Xen's public headers (Debian libxen-dev).  Every wire
 * structure of the project comes from here; nothing redefines one.  Xen's
 * ring.h expects the includer to pick an interface version and to provide
 * the three barriers, so this header does both before including anything.
 */

#ifndef XBD_XEN_SHIM_H
#define XBD_XEN_SHIM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * The latest interface: without it ring.h falls back to undefined mb()
 * helpers.  The macro expands lazily, so it may name a constant that
 * xen-compat.h defines below.
 */
#define __XEN_INTERFACE_VERSION__ __XEN_LATEST_INTERFACE_VERSION__

/*
 * The ring protocol needs a full barrier between publishing a producer
 * index and reading the peer's event index, and ordered stores/loads
 * around the slots.  C11 fences give exactly that on every architecture.
 */
#define xen_mb() atomic_thread_fence(memory_order_seq_cst)
#define xen_rmb() atomic_thread_fence(memory_order_acquire)
#define xen_wmb() atomic_thread_fence(memory_order_release)

/* The order matters: grant_table.h needs xen.h. */
/* clang-format off */
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>
#include <xen/io/ring.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>
#include <xen/io/xs_wire.h>
/* clang-format on */

/* Bytes in a page: the unit of grants, ring pages and segments. */
#define XBD_PAGE_SIZE 4096u
#define XBD_PAGE_SHIFT 12
/* The 512-byte unit of sector_number, first_sect and last_sect. */
#define XBD_SECTOR_SHIFT 9
#define XBD_SECTOR_SIZE 512u
#define XBD_SECTORS_PER_PAGE (XBD_PAGE_SIZE >> XBD_SECTOR_SHIFT)
/* Segment descriptors in one indirect page (4096 / 8). */
#define XBD_SEGS_PER_INDIRECT_PAGE \
	(XBD_PAGE_SIZE / sizeof(struct blkif_request_segment))

#endif /* XBD_XEN_SHIM_H */
