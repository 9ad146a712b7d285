/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The storage behind a vbd: a regular file or a block device, opened
 * read-only or read-write, optionally O_DIRECT.  This file only opens
 * and probes it (size, block sizes, O_DIRECT alignment, discard) and
 * runs the one operation io_uring cannot: discard on a block device.
 * Reads, writes, syncs and hole punching go through xbb_io.c.
 *
 * Probing never changes data: discard support on a file is tested by
 * punching a hole past the end of file (a no-op on file systems that
 * can punch, EOPNOTSUPP on the others); on a block device sysfs says
 * whether it discards.  Secure discard cannot be probed safely on Linux
 * (the ioctl invalidates the page cache before it checks support), so
 * it is offered only when the operator vouches for it.
 */

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xu_parse.h"
#include "xbb_internal.h"

/* Largest logical or physical block size we publish. */
#define XBB_MAX_BLOCK 65536u
/* A storage kind's error lines: at most one per this many ms. */
#define XBB_STORE_LOG_MS 1000
/* Largest discard granularity we publish (larger ones are odd). */
#define XBB_MAX_DISCARD_GRAN (1u << 20)

static bool
xbb_pow2(uint64_t v)
{
	return (v != 0 && (v & (v - 1)) == 0);
}

/* Read a small decimal sysfs attribute of a block device. */
static int
xbb_sysfs_u64(dev_t rdev, const char *attr, uint64_t *out)
{
	char path[128], buf[64];
	size_t n;
	FILE *f;
	int i;

	for (i = 0; i < 2; i++) {
		/* A partition has no queue/ of its own: its disk's counts. */
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%squeue/%s",
		    major(rdev), minor(rdev), i == 0 ? "" : "../", attr);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
			buf[--n] = '\0';
		return (xu_parse_u64(buf, UINT64_MAX, out));
	}
	return (-ENOENT);
}

static int
xbb_store_probe_blk(struct xbb_store *so, const struct stat *st, uint32_t *lbs,
    uint32_t *pbs)
{
	uint64_t bytes, v;
	unsigned int p;
	int l;

	if (ioctl(so->so_fd, BLKGETSIZE64, &bytes) != 0 ||
	    ioctl(so->so_fd, BLKSSZGET, &l) != 0 ||
	    ioctl(so->so_fd, BLKPBSZGET, &p) != 0)
		return (-errno);
	if (l < (int)XBD_SECTOR_SIZE || !xbb_pow2((uint64_t)l) ||
	    (unsigned int)l > XBB_MAX_BLOCK)
		return (-EINVAL);
	so->so_bytes = bytes;
	*lbs = (uint32_t)l;
	*pbs = xbb_pow2(p) && p >= (unsigned int)l && p <= XBB_MAX_BLOCK ?
	    p :
	    (uint32_t)l;
	/* O_DIRECT on a block device wants logical-block alignment. */
	so->so_dio_mem = so->so_dio_off = *lbs;
	if (!so->so_readonly &&
	    xbb_sysfs_u64(st->st_rdev, "discard_max_bytes", &v) == 0 && v > 0) {
		so->so_discard = true;
		if (xbb_sysfs_u64(st->st_rdev, "discard_granularity", &v) ==
			0 &&
		    xbb_pow2(v) && v <= XBB_MAX_DISCARD_GRAN)
			so->so_discard_gran = (uint32_t)v;
	}
	return (0);
}

static void
xbb_store_probe_file(struct xbb_store *so, const struct stat *st, uint32_t *lbs,
    uint32_t *pbs)
{
	so->so_bytes = (uint64_t)st->st_size;
	*lbs = XBD_SECTOR_SIZE;
	*pbs = xbb_pow2((uint64_t)st->st_blksize) &&
		(uint64_t)st->st_blksize <= XBB_MAX_BLOCK ?
	    (uint32_t)st->st_blksize :
	    XBD_SECTOR_SIZE;
	/* Past the end of file: nothing to lose, EOPNOTSUPP if unsupported. */
	if (!so->so_readonly &&
	    fallocate(so->so_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		st->st_size, XBD_PAGE_SIZE) == 0) {
		so->so_discard = true;
		/* Whole file-system blocks are what really free space. */
		so->so_discard_gran = *pbs;
	}
}

/*
 * O_DIRECT alignment of a file: statx knows it on recent kernels; else
 * try a 512-byte aligned read, and assume a page when that is refused.
 */
static void
xbb_store_dio_file(struct xbb_store *so)
{
	struct statx stx;
	void *buf;

	so->so_dio_mem = so->so_dio_off = XBD_PAGE_SIZE;
	if (statx(so->so_fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) != 0 && stx.stx_dio_mem_align > 0 &&
	    stx.stx_dio_offset_align > 0) {
		so->so_dio_mem = stx.stx_dio_mem_align;
		so->so_dio_off = stx.stx_dio_offset_align;
		return;
	}
	if (posix_memalign(&buf, XBD_SECTOR_SIZE, 2 * XBD_SECTOR_SIZE) != 0)
		return;
	if (pread(so->so_fd, (uint8_t *)buf + XBD_SECTOR_SIZE, XBD_SECTOR_SIZE,
		XBD_SECTOR_SIZE) >= 0)
		so->so_dio_mem = so->so_dio_off = XBD_SECTOR_SIZE;
	free(buf);
}

/*
 * Is the file in memory?  io_uring hands every buffered transfer on
 * tmpfs to a worker thread (tmpfs takes no RWF_NOWAIT), a context switch
 * each way per request, where a plain preadv never waits for a device
 * (see xbb_req_alone).
 */
static bool
xbb_store_in_memory(int fd)
{
	struct statfs sf;

	return (fstatfs(fd, &sf) == 0 &&
	    (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC));
}

static int
xbb_store_fd(struct xbb_store *so, const struct xbb_store_cfg *cfg, bool direct)
{
	int flags = (cfg->sc_readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;

	if (so->so_fd >= 0)
		close(so->so_fd);
	so->so_direct = direct;
	so->so_fd = open(cfg->sc_path, flags | (direct ? O_DIRECT : 0));
	/* Some file systems refuse O_DIRECT: serve buffered instead. */
	if (so->so_fd < 0 && direct && errno == EINVAL) {
		so->so_direct = false;
		so->so_fd = open(cfg->sc_path, flags);
	}
	return (so->so_fd < 0 ? -errno : 0);
}

/* A remote kind: its open fills what the probes below find for a file. */
static int
xbb_store_open_kind(struct xbb_store *so, const struct xbb_target *t,
    const struct xbb_store_cfg *cfg)
{
	int rc;

	so->so_ops = t->tg_kind == XBB_KIND_RBD ? xbb_store_rbd : xbb_store_nbd;
	so->so_sector_size = so->so_phys_size = XBD_SECTOR_SIZE;
	if ((rc = so->so_ops->sk_open(so, t, cfg)) != 0) {
		so->so_ops = NULL;
		return (rc);
	}
	XU_ASSERT(so->so_priv != NULL,
	    ("%s open left no state", so->so_ops->sk_name));
	if (cfg->sc_readonly)
		so->so_readonly = true;
	if (so->so_readonly)
		so->so_discard = false;
	return (0);
}

int
xbb_store_open(struct xbb_store *so, const struct xbb_store_cfg *cfg)
{
	uint32_t lbs = XBD_SECTOR_SIZE, pbs = XBD_SECTOR_SIZE, ss;
	struct xbb_target *t;
	struct stat st;
	int rc;

	memset(so, 0, sizeof(*so));
	so->so_fd = -1;
	so->so_readonly = cfg->sc_readonly;
	so->so_flush = true;
	so->so_log = cfg->sc_log;
	so->so_log_arg = cfg->sc_log_arg;
	/* Large, and only on the control thread: not on its stack. */
	if ((t = malloc(sizeof(*t))) == NULL)
		return (-ENOMEM);
	rc = xbb_target_parse(cfg->sc_path, t, so->so_err, sizeof(so->so_err));
	if (rc == 0 && t->tg_kind != XBB_KIND_PATH)
		rc = xbb_store_open_kind(so, t, cfg);
	free(t);
	if (rc != 0 || so->so_ops != NULL)
		return (rc);
	if ((rc = xbb_store_fd(so, cfg, cfg->sc_direct)) != 0)
		return (rc);
	if (fstat(so->so_fd, &st) != 0) {
		rc = -errno;
		goto fail;
	}
	so->so_blkdev = S_ISBLK(st.st_mode);
	if (so->so_blkdev) {
		if ((rc = xbb_store_probe_blk(so, &st, &lbs, &pbs)) != 0)
			goto fail;
	} else if (S_ISREG(st.st_mode)) {
		xbb_store_probe_file(so, &st, &lbs, &pbs);
		so->so_memfs = !so->so_direct && xbb_store_in_memory(so->so_fd);
		if (so->so_direct)
			xbb_store_dio_file(so);
	} else {
		rc = -EINVAL;
		goto fail;
	}
	ss = cfg->sc_sector_size != 0 ? cfg->sc_sector_size : lbs;
	if (!xbb_pow2(ss) || ss < lbs || ss > XBB_MAX_BLOCK) {
		rc = -EINVAL;
		goto fail;
	}
	/*
	 * Every request is aligned to the sector size; O_DIRECT needs its
	 * offset alignment too.  Raise a size we chose, or give up O_DIRECT
	 * rather than publish a size the operator did not ask for.
	 */
	if (so->so_direct && ss < so->so_dio_off) {
		if (cfg->sc_sector_size == 0 && xbb_pow2(so->so_dio_off) &&
		    so->so_dio_off <= XBB_MAX_BLOCK)
			ss = so->so_dio_off;
		else if ((rc = xbb_store_fd(so, cfg, false)) != 0)
			goto fail;
	}
	so->so_sector_size = ss;
	so->so_phys_size = XU_MAX(pbs, ss);
	if (so->so_discard && so->so_discard_gran < ss)
		so->so_discard_gran = ss;
	so->so_discard_secure =
	    so->so_discard && so->so_blkdev && cfg->sc_secure;
	/* Only whole logical blocks are served. */
	so->so_cut = (uint32_t)(so->so_bytes % ss);
	so->so_bytes -= so->so_cut;
	if (so->so_bytes == 0) {
		rc = -EINVAL;
		goto fail;
	}
	return (0);
fail:
	xbb_store_close(so);
	return (rc);
}

int
xbb_store_size(struct xbb_store *so, uint64_t *bytes)
{
	struct stat st;
	uint64_t b;

	if (so->so_ops != NULL)
		return (so->so_ops->sk_size(so, bytes));
	if (so->so_fd < 0)
		return (-EBADF);
	if (so->so_blkdev) {
		if (ioctl(so->so_fd, BLKGETSIZE64, &b) != 0)
			return (-errno);
	} else {
		if (fstat(so->so_fd, &st) != 0)
			return (-errno);
		b = (uint64_t)st.st_size;
	}
	*bytes = b - b % so->so_sector_size;
	return (0);
}

int
xbb_store_blk_discard(struct xbb_store *so, uint64_t off, uint64_t len,
    bool secure)
{
	uint64_t range[2] = { off, len };

	if (ioctl(so->so_fd, secure ? BLKSECDISCARD : BLKDISCARD, range) != 0)
		return (-errno);
	return (0);
}

void
xbb_store_close(struct xbb_store *so)
{
	if (so->so_ops != NULL && so->so_priv != NULL)
		so->so_ops->sk_close(so);
	so->so_priv = NULL;
	so->so_ops = NULL;
	if (so->so_fd >= 0)
		close(so->so_fd);
	so->so_fd = -1;
}

bool
xbb_store_log_due(_Atomic uint64_t *last)
{
	uint64_t now = xbb_now_ms(), prev = atomic_load(last);

	return (now - prev >= XBB_STORE_LOG_MS &&
	    atomic_compare_exchange_strong(last, &prev, now));
}

void
xbb_store_log(const struct xbb_store *so, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (so->so_log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	so->so_log(so->so_log_arg, msg);
}

/* What is wrong with a regular file's size, or NULL. */
static const char *
xbb_image_size_why(const struct stat *st)
{
	if (st->st_size == 0)
		return ("is empty");
	if (st->st_size < XBD_SECTOR_SIZE)
		return ("is smaller than one 512-byte sector");
	if (st->st_size % XBD_SECTOR_SIZE != 0)
		return ("is not a whole number of 512-byte sectors (the "
			"backend would leave the last part out)");
	return (NULL);
}

int
xbb_image_check(const char *path, bool readonly, const char **why)
{
	struct xbb_store_cfg cfg;
	struct xbb_store so;
	struct stat st;
	int rc;

	/*
	 * strerrordesc_np: the constant English text, without strerror's
	 * locale machinery, whose lock a sanitizer-preloaded nbdkit was
	 * seen to leave taken, hanging its exit.
	 */
	*why = NULL;
	if (stat(path, &st) != 0) {
		*why = strerrordesc_np(errno);
		return (-errno);
	}
	if (S_ISDIR(st.st_mode)) {
		*why = "is a directory, not an image";
		return (-EISDIR);
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		*why = "is neither a regular file nor a block device";
		return (-ENOTBLK);
	}
	if (S_ISREG(st.st_mode) && (*why = xbb_image_size_why(&st)) != NULL)
		return (-EINVAL);
	memset(&cfg, 0, sizeof(cfg));
	cfg.sc_path = path;
	cfg.sc_readonly = readonly;
	if ((rc = xbb_store_open(&so, &cfg)) != 0) {
		*why = strerrordesc_np(-rc);
		return (rc);
	}
	xbb_store_close(&so);
	return (0);
}

bool
xbb_params_remote(const char *params)
{
	/* As xbb_target_parse tells them apart: nbds:// is refused there. */
	return (strncmp(params, "rbd:", 4) == 0 ||
	    (strncmp(params, "nbd", 3) == 0 && strstr(params, "://") != NULL));
}

int
xbb_params_check(const char *params, bool readonly, unsigned int timeout_s,
    char *msg, size_t len)
{
	struct xbb_store_cfg cfg;
	struct xbb_store *so;
	const char *why;
	int rc;

	if (!xbb_params_remote(params)) {
		if ((rc = xbb_image_check(params, readonly, &why)) != 0)
			snprintf(msg, len, "%s: %s", params, why);
		return (rc);
	}
	/* so_err alone is 256 bytes: not on a tool's stack. */
	if ((so = calloc(1, sizeof(*so))) == NULL)
		return (-ENOMEM);
	memset(&cfg, 0, sizeof(cfg));
	cfg.sc_path = params;
	cfg.sc_readonly = readonly;
	cfg.sc_timeout_s = timeout_s;
	if ((rc = xbb_store_open(so, &cfg)) != 0) {
		snprintf(msg, len, "%s",
		    so->so_err[0] != '\0' ? so->so_err : strerror(-rc));
	} else if (!readonly && so->so_readonly) {
		snprintf(msg, len,
		    "%s: read-only (a snapshot, or a read-only export)",
		    params);
		rc = -EROFS;
	}
	xbb_store_close(so);
	free(so);
	return (rc);
}
