/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nbdkit-xbd-plugin: exports an xbd disk over NBD, so that any NBD client
 * (qemu-img, nbdcopy, fio's nbd engine, nbd-client) reads and writes it
 * through the Xen PV block protocol.
 *
 *   nbdkit xbd image=disk.img          the embedded default: a simulated
 *                                      machine in the nbdkit process
 *                                      serving disk.img to the frontend
 *   nbdkit xbd dir=DIR domid=1 vbd=xvda
 *                                      a frontend domain of a running
 *                                      `xbd hv --dir DIR` machine
 *
 * NBD flush is a cache flush (BLKIF_OP_FLUSH_DISKCACHE, or a barrier),
 * FUA is a write followed by a flush, trim is a discard of the sectors
 * the range covers, zero writes zeros.  Requests that do not fall on
 * sector boundaries are widened with read-modify-write, serialised so
 * that two of them never race on one sector.
 */

/*
 * Messages use strerrordesc_np, not strerror: a sanitizer-preloaded
 * nbdkit was seen to hang at exit on the locale lock strerror left.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "back/xbb.h"
#include "embed/xemb.h"
#include "xbd/xbd.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

/*
 * Limits of the parameters, as the frontend (xbd_check_opts) and Xen
 * (DOMID_FIRST_RESERVED) take them, so that a bad one fails the
 * configuration rather than the first connection.
 */
#define NBD_XBD_MAX_DOMID 0x7fefu
#define NBD_XBD_MAX_RING_PAGES 32u
#define NBD_XBD_MAX_QUEUES 16u

/* Bytes of zeros written per request by zero(). */
#define NBD_XBD_ZERO_CHUNK (256u * 1024u)

/* Configuration, then the one device every connection shares. */
struct nbd_xbd {
	const char *image;	  /* embedded mode: the image */
	const char *dir;	  /* multi-process mode: the machine */
	uint32_t domid;		  /* ... the frontend domain */
	const char *vbd;	  /* the vbd to attach ("xvda") */
	struct xbd_opts opts;	  /* frontend parameters */
	struct xemb *emb;	  /* embedded machine */
	struct xbd_plat *plat;	  /* multi-process platform */
	struct xbd_dev *dev;	  /* the device */
	struct xbd_info info;	  /* its geometry */
	pthread_mutex_t rmw_lock; /* serialises unaligned requests */
	int readonly;		  /* nbdkit -r */
	bool ro_param;		  /* readonly=true: a read-only vbd */
};

static struct nbd_xbd nbd_xbd = {
	.vbd = "xvda",
	.domid = 1,
	.rmw_lock = PTHREAD_MUTEX_INITIALIZER,
};

static void
nbd_xbd_load(void)
{
	xbd_opts_init(&nbd_xbd.opts);
	nbd_xbd.opts.o_vbd_wait_ms = XBD_TOOL_VBD_WAIT_MS;
	nbd_xbd.opts.o_holder = "nbdkit";
	/* The attach banner goes to stderr only when asked for. */
	if (getenv("XBD_VERBOSE") == NULL)
		setenv("XBD_QUIET", "1", 0);
}

/*
 * A number parameter in lo..hi (a power of two if pow2), parsed by
 * nbdkit, which reports a malformed one itself.
 */
static int
nbd_xbd_u32(const char *key, const char *value, uint32_t lo, uint32_t hi,
    bool pow2, uint32_t *out)
{
	uint32_t v;

	if (nbdkit_parse_uint32_t(key, value, &v) == -1)
		return (-1);
	if (v < lo || v > hi || (pow2 && (v & (v - 1)) != 0)) {
		nbdkit_error("%s: '%s' is outside %u..%u%s", key, value, lo, hi,
		    pow2 ? " or not a power of two" : "");
		return (-1);
	}
	*out = v;
	return (0);
}

/* A boolean parameter; nbdkit's own message does not name it. */
static int
nbd_xbd_bool(const char *key, const char *value, bool *out)
{
	int b;

	if ((b = nbdkit_parse_bool(value)) == -1) {
		nbdkit_error("%s: '%s' is not a boolean (true/false, on/off, "
			     "yes/no, 1/0)",
		    key, value);
		return (-1);
	}
	*out = b == 1;
	return (0);
}

static int
nbd_xbd_config(const char *key, const char *value)
{
	struct xbd_opts *o = &nbd_xbd.opts;
	uint32_t v;
	bool b;

	if (strcmp(key, "image") == 0)
		nbd_xbd.image = value;
	else if (strcmp(key, "dir") == 0)
		nbd_xbd.dir = value;
	else if (strcmp(key, "vbd") == 0)
		nbd_xbd.vbd = value;
	else if (strcmp(key, "domid") == 0)
		return (nbd_xbd_u32(key, value, 0, NBD_XBD_MAX_DOMID, false,
		    &nbd_xbd.domid));
	else if (strcmp(key, "ring-pages") == 0)
		return (nbd_xbd_u32(key, value, 1, NBD_XBD_MAX_RING_PAGES, true,
		    &o->o_max_ring_pages));
	else if (strcmp(key, "queues") == 0)
		return (nbd_xbd_u32(key, value, 1, NBD_XBD_MAX_QUEUES, false,
		    &o->o_max_queues));
	else if (strcmp(key, "indirect") == 0)
		return (nbd_xbd_bool(key, value, &o->o_enable_indirect));
	else if (strcmp(key, "persistent") == 0)
		return (nbd_xbd_bool(key, value, &o->o_persistent));
	else if (strcmp(key, "bounce") == 0) {
		if (nbd_xbd_bool(key, value, &b) != 0)
			return (-1);
		o->o_bounce = b ? 1 : 0;
	} else if (strcmp(key, "readonly") == 0) {
		return (nbd_xbd_bool(key, value, &nbd_xbd.ro_param));
	} else if (strcmp(key, "recover-timeout") == 0) {
		if (nbd_xbd_u32(key, value, 0, 86400, false, &v) != 0)
			return (-1);
		o->o_recovery_timeout_ms = v * 1000;
	} else {
		nbdkit_error("unknown parameter '%s'", key);
		return (-1);
	}
	return (0);
}

static int
nbd_xbd_config_complete(void)
{
	const char *why;

	if ((nbd_xbd.image == NULL) == (nbd_xbd.dir == NULL)) {
		nbdkit_error("give either image=FILE (embedded machine) or "
			     "dir=DIR (a running 'xbd hv' machine)");
		return (-1);
	}
	/*
	 * Now, not after the fork: nbdkit would otherwise start serving
	 * and fail every connection (read access is all that can be asked
	 * for here; -r is not known yet).
	 */
	if (nbd_xbd.image != NULL &&
	    xbb_image_check(nbd_xbd.image, true, &why) != 0) {
		nbdkit_error("%s: %s", nbd_xbd.image, why);
		return (-1);
	}
	return (0);
}

#define nbd_xbd_config_help                                                    \
	"image=<FILE>        Serve FILE from an embedded simulated machine.\n" \
	"dir=<DIR>           Or: attach in a running 'xbd hv --dir DIR'.\n"    \
	"domid=<N>           ... as frontend domain N (default 1).\n"          \
	"vbd=<NAME>          ... to this vbd (default xvda; waited for up\n"   \
	"                    to 3 s; refused if another frontend holds it).\n" \
	"ring-pages=<N>      Most ring pages to negotiate (1, 2, 4 ... 32).\n" \
	"queues=<N>          Rings to ask for (multi-queue, 1..16).\n"         \
	"indirect=<BOOL>     Use indirect segments (default true).\n"          \
	"persistent=<BOOL>   Offer persistent grants (default true).\n"        \
	"readonly=<BOOL>     Open image read-only, publish a read-only vbd\n"  \
	"                    and refuse writes (default false).\n"             \
	"bounce=<BOOL>       Bounce all data through private pages.\n"         \
	"recover-timeout=<S> How long a lost backend may take to come\n"       \
	"                    back before I/O fails (0..86400, default 30)."

/*
 * A vbd another frontend holds is refused here, before nbdkit forks: a
 * failure after the fork leaves a --run command waiting for a server
 * that is gone.
 */
static int
nbd_xbd_get_ready(void)
{
	char why[192];
	int rc;

	if (nbd_xbd.dir == NULL ||
	    (rc = xbd_sim_held(nbd_xbd.dir, nbd_xbd.domid, nbd_xbd.vbd, why,
		 sizeof(why))) == 0)
		return (0);
	nbdkit_error("%s", why);
	return (-1);
}

/*
 * The `xbd hv` machine is gone: nothing we send is answered any more,
 * and a client would wait for good.  Say so and end the server.
 */
static void
nbd_xbd_hv_lost(const char *dir, void *arg)
{
	nbdkit_error("xbd hv at %s is gone", dir);
	_exit(1);
}

static void nbd_xbd_cleanup(void);

/* Threads must start after nbdkit forks into the background. */
static int
nbd_xbd_after_fork(void)
{
	struct xemb_opts eo;
	int rc;

	if (nbd_xbd.image != NULL) {
		xemb_opts_init(&eo);
		eo.o_image = nbd_xbd.image;
		/* The backend then opens the image O_RDONLY. */
		eo.o_readonly = nbd_xbd.ro_param;
		if ((rc = xemb_start(&eo, &nbd_xbd.emb)) != 0) {
			nbdkit_error("starting the embedded machine for %s: %s",
			    nbd_xbd.image, strerrordesc_np(-rc));
			return (-1);
		}
		rc = xbd_attach(xemb_plat(nbd_xbd.emb), nbd_xbd.vbd,
		    &nbd_xbd.opts, &nbd_xbd.dev);
	} else {
		if ((rc = xbd_plat_open_sim(nbd_xbd.dir, nbd_xbd.domid, true,
			 &nbd_xbd.plat)) != 0) {
			nbdkit_error("joining the machine at %s as domain %u: "
				     "%s",
			    nbd_xbd.dir, nbd_xbd.domid, strerrordesc_np(-rc));
			return (-1);
		}
		xbd_plat_on_lost(nbd_xbd.plat, nbd_xbd_hv_lost, NULL);
		rc = xbd_attach(nbd_xbd.plat, nbd_xbd.vbd, &nbd_xbd.opts,
		    &nbd_xbd.dev);
	}
	if (rc != 0 && nbd_xbd.plat != NULL &&
	    xbd_plat_why(nbd_xbd.plat)[0] != '\0') {
		nbdkit_error("%s", xbd_plat_why(nbd_xbd.plat));
		return (-1);
	}
	if (rc != 0) {
		nbdkit_error("attaching %s: %s", nbd_xbd.vbd,
		    strerrordesc_np(-rc));
		/* nbdkit exits without .cleanup: remove the machine now. */
		nbd_xbd_cleanup();
		return (-1);
	}
	xbd_get_info(nbd_xbd.dev, &nbd_xbd.info);
	return (0);
}

static void
nbd_xbd_cleanup(void)
{
	if (nbd_xbd.dev != NULL)
		xbd_detach(nbd_xbd.dev);
	nbd_xbd.dev = NULL;
	xemb_stop(nbd_xbd.emb);
	nbd_xbd.emb = NULL;
	xbd_plat_close(nbd_xbd.plat);
	nbd_xbd.plat = NULL;
}

static void *
nbd_xbd_open(int readonly)
{
	nbd_xbd.readonly |= readonly;
	return (&nbd_xbd);
}

static int64_t
nbd_xbd_get_size(void *handle)
{
	return ((int64_t)nbd_xbd.info.xi_size);
}

static int
nbd_xbd_block_size(void *handle, uint32_t *minimum, uint32_t *preferred,
    uint32_t *maximum)
{
	*minimum = nbd_xbd.info.xi_sector_size;
	*preferred = 4096 > *minimum ? 4096 : *minimum;
	*maximum = 0xffffffff;
	return (0);
}

static int
nbd_xbd_can_write(void *handle)
{
	return (!nbd_xbd.ro_param &&
	    (nbd_xbd.info.xi_features & XBD_FEAT_READONLY) == 0);
}

static int
nbd_xbd_can_flush(void *handle)
{
	return ((nbd_xbd.info.xi_features &
		    (XBD_FEAT_FLUSH | XBD_FEAT_BARRIER)) != 0);
}

static int
nbd_xbd_can_trim(void *handle)
{
	return ((nbd_xbd.info.xi_features & XBD_FEAT_DISCARD) != 0);
}

static int
nbd_xbd_can_fua(void *handle)
{
	return (
	    nbd_xbd_can_flush(handle) ? NBDKIT_FUA_NATIVE : NBDKIT_FUA_NONE);
}

static int
nbd_xbd_can_multi_conn(void *handle)
{
	/* One device behind every connection: a flush covers them all. */
	return (1);
}

static int
nbd_xbd_can_zero(void *handle)
{
	return (1);
}

/* The errno nbdkit should send for an xbd error. */
static int
nbd_xbd_fail(const char *what, int rc)
{
	nbdkit_error("%s: %s", what, strerrordesc_np(-rc));
	nbdkit_set_error(-rc);
	return (-1);
}

/* Widen [off, off + count) to sectors around an aligned buffer. */
static int
nbd_xbd_rmw(void *buf, uint32_t count, uint64_t off, bool write)
{
	uint64_t ss = nbd_xbd.info.xi_sector_size, start, end;
	uint8_t *tmp;
	int rc;

	start = off - off % ss;
	end = (off + count + ss - 1) / ss * ss;
	tmp = aligned_alloc(4096, (end - start + 4095) & ~4095ull);
	if (tmp == NULL)
		return (-ENOMEM);
	pthread_mutex_lock(&nbd_xbd.rmw_lock);
	rc = xbd_read(nbd_xbd.dev, tmp, start, end - start);
	if (rc == 0 && write) {
		memcpy(tmp + (off - start), buf, count);
		rc = xbd_write(nbd_xbd.dev, tmp, start, end - start);
	} else if (rc == 0) {
		memcpy(buf, tmp + (off - start), count);
	}
	pthread_mutex_unlock(&nbd_xbd.rmw_lock);
	free(tmp);
	return (rc);
}

static bool
nbd_xbd_aligned(uint32_t count, uint64_t off)
{
	uint64_t ss = nbd_xbd.info.xi_sector_size;

	return (off % ss == 0 && count % ss == 0);
}

static int
nbd_xbd_pread(void *handle, void *buf, uint32_t count, uint64_t off,
    uint32_t flags)
{
	int rc;

	rc = nbd_xbd_aligned(count, off) ?
	    xbd_read(nbd_xbd.dev, buf, off, count) :
	    nbd_xbd_rmw(buf, count, off, false);
	return (rc == 0 ? 0 : nbd_xbd_fail("read", rc));
}

static int
nbd_xbd_flush(void *handle, uint32_t flags)
{
	int rc;

	if ((rc = xbd_flush(nbd_xbd.dev)) != 0)
		return (nbd_xbd_fail("flush", rc));
	return (0);
}

static int
nbd_xbd_pwrite(void *handle, const void *buf, uint32_t count, uint64_t off,
    uint32_t flags)
{
	int rc;

	rc = nbd_xbd_aligned(count, off) ?
	    xbd_write(nbd_xbd.dev, buf, off, count) :
	    nbd_xbd_rmw((void *)(uintptr_t)buf, count, off, true);
	if (rc != 0)
		return (nbd_xbd_fail("write", rc));
	/* FUA: durable before we answer. */
	if ((flags & NBDKIT_FLAG_FUA) != 0)
		return (nbd_xbd_flush(handle, 0));
	return (0);
}

static int
nbd_xbd_trim(void *handle, uint32_t count, uint64_t off, uint32_t flags)
{
	uint64_t ss = nbd_xbd.info.xi_sector_size, start, end;
	int rc;

	/* Discard is advisory: drop the partial sectors at the edges. */
	start = (off + ss - 1) / ss * ss;
	end = (off + count) / ss * ss;
	if (end > start &&
	    (rc = xbd_discard(nbd_xbd.dev, start, end - start, false)) != 0)
		return (nbd_xbd_fail("trim", rc));
	if ((flags & NBDKIT_FLAG_FUA) != 0)
		return (nbd_xbd_flush(handle, 0));
	return (0);
}

static int
nbd_xbd_zero(void *handle, uint32_t count, uint64_t off, uint32_t flags)
{
	static const uint8_t zeros[NBD_XBD_ZERO_CHUNK];
	uint32_t n;
	int rc;

	/* No write-zeroes in blkif: nothing here is fast. */
	if ((flags & NBDKIT_FLAG_FAST_ZERO) != 0) {
		nbdkit_set_error(ENOTSUP);
		return (-1);
	}
	while (count > 0) {
		n = count < NBD_XBD_ZERO_CHUNK ? count : NBD_XBD_ZERO_CHUNK;
		if ((rc = nbd_xbd_pwrite(handle, zeros, n, off, 0)) != 0)
			return (rc);
		count -= n;
		off += n;
	}
	if ((flags & NBDKIT_FLAG_FUA) != 0)
		return (nbd_xbd_flush(handle, 0));
	return (0);
}

static struct nbdkit_plugin plugin = {
	.name = "xbd",
	.longname = "nbdkit Xen PV block (xbd) plugin",
	.version = "0.1",
	.description = "Export a disk through the Xen PV block protocol",
	.load = nbd_xbd_load,
	.config = nbd_xbd_config,
	.config_complete = nbd_xbd_config_complete,
	.config_help = nbd_xbd_config_help,
	.get_ready = nbd_xbd_get_ready,
	.after_fork = nbd_xbd_after_fork,
	.cleanup = nbd_xbd_cleanup,
	.open = nbd_xbd_open,
	.get_size = nbd_xbd_get_size,
	.block_size = nbd_xbd_block_size,
	.can_write = nbd_xbd_can_write,
	.can_flush = nbd_xbd_can_flush,
	.can_trim = nbd_xbd_can_trim,
	.can_fua = nbd_xbd_can_fua,
	.can_zero = nbd_xbd_can_zero,
	.can_multi_conn = nbd_xbd_can_multi_conn,
	.pread = nbd_xbd_pread,
	.pwrite = nbd_xbd_pwrite,
	.flush = nbd_xbd_flush,
	.trim = nbd_xbd_trim,
	.zero = nbd_xbd_zero,
	.errno_is_preserved = 0,
};

/* Defined by the macro below; the prototype keeps -Wmissing-prototypes. */
struct nbdkit_plugin *plugin_init(void);

NBDKIT_REGISTER_PLUGIN(plugin)
