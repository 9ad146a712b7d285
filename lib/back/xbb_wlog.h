/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The write log's file format (xbb_opts.o_log_writes), shared by the
 * backend that writes it (xbb_wlog.c) and the tools that replay it.
 *
 * The model is Linux's dm-log-writes: what reached storage, in the order
 * the storage reported it complete, with flush marks, so that a replayer
 * can rebuild every state a power cut could leave and check each.  A
 * write is logged when its completion is reaped, before the frontend is
 * answered, with the bytes that were written; a discard likewise with
 * its range; an fdatasync as a mark when it completes.  A mark carries
 * the number of entries that had been logged when the fdatasync was
 * issued: those, and only those, it made durable (a write that completes
 * while the sync is in flight may or may not be covered, so it is not).
 * dm-log-writes holds writes back until the next flush for the same
 * reason; keeping them in place and counting is the same information.
 *
 * Layout, host byte order (the magic tells a reader of another order):
 * one struct xbb_wlog_file, then entries, each a struct xbb_wlog_ent
 * followed by e_len bytes of data for a write (nothing for a discard or
 * a mark).  e_sum is FNV-1a 64 over the entry header, with e_sum zero,
 * and its data, so a reader finds a flipped byte; a log that ends inside
 * an entry was cut short.  A backend that fails to append stops logging
 * and sets XBB_WLOG_F_BROKEN in the file header: such a log is not a
 * record of what happened and a replayer must refuse it.
 */

#ifndef XBD_XBB_WLOG_H
#define XBD_XBB_WLOG_H

#include <stdint.h>

#define XBB_WLOG_MAGIC "XBDWLOG" /* 8 bytes with its NUL */
#define XBB_WLOG_VERSION 1u
#define XBB_WLOG_ENT_MAGIC 0x31454c57u /* "WLE1" */
#define XBB_WLOG_F_BROKEN 1u	       /* an append failed: log unusable */

/* The file header. */
struct xbb_wlog_file {
	char f_magic[8];    /* XBB_WLOG_MAGIC */
	uint32_t f_version; /* XBB_WLOG_VERSION */
	uint32_t f_entsize; /* sizeof(struct xbb_wlog_ent) */
	uint32_t f_flags;   /* XBB_WLOG_F_* */
	uint32_t f_pad;	    /* 0 */
};

enum xbb_wlog_type {
	XBB_WLOG_WRITE = 1,   /* e_len bytes written at e_off follow */
	XBB_WLOG_DISCARD = 2, /* [e_off, e_off + e_len) now reads zeros */
	XBB_WLOG_MARK = 3,    /* an fdatasync completed: entries before
				 e_covers are durable */
};

/* One entry's header. */
struct xbb_wlog_ent {
	uint32_t e_magic;  /* XBB_WLOG_ENT_MAGIC */
	uint16_t e_type;   /* enum xbb_wlog_type */
	uint16_t e_pad;	   /* 0 */
	uint32_t e_feid;   /* frontend domain of the device */
	uint32_t e_vdev;   /* its virtual-device number */
	uint64_t e_seq;	   /* this entry's index, from 0 */
	uint64_t e_off;	   /* byte offset on the device (0 for a mark) */
	uint64_t e_len;	   /* bytes (0 for a mark) */
	uint64_t e_covers; /* mark: entries logged when the sync was
			      issued; 0 otherwise */
	uint64_t e_sum;	   /* FNV-1a 64 of header (e_sum 0) and data */
};

#define XBB_WLOG_FNV_INIT 0xcbf29ce484222325ull

/* Continue an FNV-1a 64 hash over n bytes. */
static inline uint64_t
xbb_wlog_fnv(uint64_t h, const void *p, uint64_t n)
{
	const uint8_t *b = p;
	uint64_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return (h);
}

#endif /* XBD_XBB_WLOG_H */
