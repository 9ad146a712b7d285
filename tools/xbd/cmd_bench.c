/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xbd bench: fio-like workloads through the frontend library, on the
 * embedded machine (default), a frontend domain of a running `xbd hv`
 * machine, or real Xen as the domain the process runs in (a vbd served
 * by Linux's blkback or `xbd serve` in another domain).  It reports what
 * fio does (IOPS, MiB/s, mean and p99 latency, CPU time per I/O) plus
 * the protocol's own costs: notifications per request and data copies
 * per byte, counted by both ends.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "back/xbb.h"
#include "cmd.h"
#include "cmd_opt.h"
#include "cmd_transport.h"
#include "common/xu_assert.h"
#include "embed/xemb.h"
#include "xwl.h"

/* --domid not given (the simulator's default is domain 1). */
#define BENCH_DOMID_UNSET UINT32_MAX

static const char bench_usage[] =
    "usage: xbd bench [options]\n"
    "       xbd bench --platform xen [--vbd NAME] [options]\n"
    "\n"
    "Run a fio-like workload through the xbd frontend and report IOPS,\n"
    "MiB/s, mean and p99 latency, CPU time per I/O, notifications per\n"
    "request and copies per byte.\n"
    "\n"
    "target (default: the embedded machine serving --image):\n"
    "  -i, --image PATH      file or device to serve (default: a new\n"
    "                        sparse file of --size in /dev/shm or TMPDIR),\n"
    "                        or rbd:POOL/IMAGE..., nbd://HOST[:PORT]/EXPORT,\n"
    "                        nbd+unix:///EXPORT?socket=PATH (written to)\n"
    "      --dir DIR         instead, a frontend domain of the running\n"
    "                        'xbd hv --dir DIR' machine ...\n"
    "      --domid N         ... acting as domain N (default 1) ...\n"
    "      --vbd NAME        ... attached to NAME (default xvda; one\n"
    "                        not there yet is waited for up to 3 s)\n"
    "      --platform NAME   sim (default) or xen: on xen, the vbd NAME\n"
    "                        of the domain this runs in (no --image,\n"
    "                        --dir, --domid or --grant-copy)\n"
    "workload:\n"
    "      --rw MODE         read, write, randread, randwrite, rw, randrw\n"
    "                        (default randread)\n"
    "      --rwmixread PCT   reads in a mixed workload (default 50)\n"
    "  -b, --bs SIZE         I/O size (default 4K)\n"
    "  -q, --iodepth N       I/Os in flight (default 32)\n"
    "  -t, --runtime SEC     seconds to run (default 5)\n"
    "      --ramp SEC        unmeasured warm-up first (default 1)\n"
    "  -s, --size SIZE       region of the disk used (default: all of it,\n"
    "                        or 256M for a new image)\n"
    "      --verify          check every block read (self-describing)\n"
    "      --no-zero-copy    plain buffers instead of xbd_buf_alloc\n"
    "transport (embedded machine):\n"
    "      --ring-pages N    most ring pages (1..32)\n"
    "      --queues N        rings (multi-queue)\n"
    "      --no-indirect     no indirect segments\n"
    "      --no-persistent   no persistent grants\n"
    "      --bounce          bounce all data\n"
    "      --grant-copy      backend grant-copies instead of mapping\n"
    "output:\n"
    "      --json            one JSON object on stdout\n"
    "  -h, --help            this text\n"
    "\n"
    "SIZE takes K, M, G, T (or KiB ...) and fractions: 4K, 1.5G.\n"
    "Ranges: --bs 512..16M (multiple of 512), --iodepth 1..256,\n"
    "--runtime 0.001..86400, --ramp 0..3600, --size 1M..16T,\n"
    "--ring-pages 1, 2, 4 ... 32, --queues 1..16 (see xbd(1)).\n"

    "A progress bar goes to stderr when it is a terminal.  SIGINT or\n"
    "SIGTERM stops the run: what was measured is printed, the image and\n"
    "the machine are removed, and the exit status is 130 or 143.\n";

struct bench_opts {
	const char *image;
	const char *dir;
	bool xen;
	uint32_t domid;
	const char *vbd;
	const char *rw;
	uint32_t mix;
	uint64_t bs;
	uint32_t qd;
	double runtime;
	double ramp;
	uint64_t size;
	bool verify;
	bool zero_copy;
	struct cmd_transport tr; /* --ring-pages ... --grant-copy */
	bool json;
};

/* --rw: one of fio's sequential or random modes. */
static int
bench_rw(const char *prog, const char *val)
{
	static const char *const modes[] = { "read", "write", "randread",
		"randwrite", "rw", "randrw" };
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(val, modes[i]) == 0)
			return (0);
	return (cmd_opt_choice_error(prog, "rw", val,
	    "read, write, randread, randwrite, rw, randrw"));
}

enum bench_opt {
	O_DIR = 256,
	O_DOMID,
	O_VBD,
	O_RW,
	O_MIX,
	O_RAMP,
	O_VERIFY,
	O_NOZC,
	O_JSON,
	O_PLATFORM
};

static const struct option bench_longopts[] = {
	{ "image", required_argument, NULL, 'i' },
	{ "dir", required_argument, NULL, O_DIR },
	{ "domid", required_argument, NULL, O_DOMID },
	{ "vbd", required_argument, NULL, O_VBD },
	{ "rw", required_argument, NULL, O_RW },
	{ "rwmixread", required_argument, NULL, O_MIX },
	{ "bs", required_argument, NULL, 'b' },
	{ "iodepth", required_argument, NULL, 'q' },
	{ "runtime", required_argument, NULL, 't' },
	{ "ramp", required_argument, NULL, O_RAMP },
	{ "size", required_argument, NULL, 's' },
	{ "verify", no_argument, NULL, O_VERIFY },
	{ "no-zero-copy", no_argument, NULL, O_NOZC },
	CMD_TR_LONGOPTS,
	{ "json", no_argument, NULL, O_JSON },
	{ "platform", required_argument, NULL, O_PLATFORM },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The target options that go together. */
static int
bench_check(struct bench_opts *o)
{
	if (o->image != NULL && o->dir != NULL) {
		fprintf(stderr,
		    "xbd bench: --image and --dir exclude each "
		    "other\n");
		return (-1);
	}
	/* On xen the domain is ours and the backend someone else's. */
	if (o->xen &&
	    (o->image != NULL || o->dir != NULL ||
		o->domid != BENCH_DOMID_UNSET || o->tr.tr_grant_copy)) {
		fprintf(stderr,
		    "xbd bench: --platform xen takes no --image, --dir, "
		    "--domid or --grant-copy\n");
		return (-1);
	}
	if (o->domid == BENCH_DOMID_UNSET)
		o->domid = 1;
	return (0);
}

static int
bench_parse(int argc, char **argv, struct bench_opts *o)
{
	const struct cmd_opt_dest dest[] = {
		{ 'i', NULL, CMD_OPT_STR, &o->image },
		{ O_DIR, NULL, CMD_OPT_STR, &o->dir },
		{ O_DOMID, "domid", CMD_OPT_U32, &o->domid },
		{ O_VBD, NULL, CMD_OPT_STR, &o->vbd },
		{ O_MIX, "rwmixread", CMD_OPT_U32, &o->mix },
		{ 'b', "bs", CMD_OPT_U64, &o->bs },
		{ 'q', "iodepth", CMD_OPT_U32, &o->qd },
		{ 't', "runtime", CMD_OPT_SECS, &o->runtime },
		{ O_RAMP, "ramp", CMD_OPT_SECS, &o->ramp },
		{ 's', "size", CMD_OPT_U64, &o->size },
		{ O_VERIFY, NULL, CMD_OPT_TRUE, &o->verify },
		{ O_NOZC, NULL, CMD_OPT_FALSE, &o->zero_copy },
		{ O_JSON, NULL, CMD_OPT_TRUE, &o->json },
	};
	int c, rc;

	while ((c = getopt_long(argc, argv, "i:b:q:t:s:h", bench_longopts,
		    NULL)) != -1) {
		if (c == O_RW && (rc = bench_rw(argv[0], optarg)) == 0)
			o->rw = optarg;
		else if (c == O_PLATFORM)
			rc = cmd_opt_platform(argv[0], optarg, &o->xen);
		else if ((rc = cmd_transport_opt(argv[0], &o->tr, c, optarg)) ==
		    1)
			rc = cmd_opt_apply(argv[0], dest, XU_NELEM(dest), c,
			    optarg);
		if (rc < 0)
			return (-1);
		if (rc == 0)
			continue;
		if (c == 'h') {
			fputs(bench_usage, stdout);
			return (1);
		}
		fputs(bench_usage, stderr);
		return (-1);
	}
	if (optind < argc) {
		fprintf(stderr, "xbd bench: unexpected argument '%s'\n%s",
		    argv[optind], bench_usage);
		return (-1);
	}
	return (bench_check(o));
}

/* Counters of both ends, for the per-request ratios. */
struct bench_counts {
	uint64_t fe_notify, fe_events, fe_bounce, fe_requests, fe_grants;
	uint64_t be_notify, be_copy_bytes, be_enter, be_maps;
};

static void
bench_counts(struct xbd_dev *dev, struct xbb *xbb, struct bench_counts *c)
{
	struct xbd_stats fs;
	struct xbb_stats bs;
	int i;

	memset(c, 0, sizeof(*c));
	xbd_get_stats(dev, &fs, sizeof(fs));
	c->fe_notify = fs.xst_notify;
	c->fe_events = fs.xst_events;
	c->fe_bounce = fs.xst_bounce_bytes;
	c->fe_grants = fs.xst_grants;
	for (i = 0; i < 7; i++)
		if (i != BLKIF_OP_INDIRECT)
			c->fe_requests += fs.xst_requests[i];
	if (xbb != NULL && xbb_dev_stats(xbb, 1, 51712, &bs, sizeof(bs)) == 0) {
		c->be_notify = bs.st_notify_sent;
		c->be_copy_bytes = bs.st_bounce_bytes;
		c->be_enter = bs.st_uring_enter;
		c->be_maps = bs.st_maps;
	}
}

/* Create a new sparse image where tmpfs is (the peers' image dir). */
static int
bench_new_image(uint64_t size, char *dir, size_t dlen, char *img, size_t ilen)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" :
	    getenv("TMPDIR") != NULL			 ? getenv("TMPDIR") :
							   "/tmp";
	int fd;

	snprintf(dir, dlen, "%s/xbd-bench.XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		return (-errno);
	snprintf(img, ilen, "%s/disk.img", dir);
	if ((fd = open(img, O_RDWR | O_CREAT | O_EXCL, 0600)) < 0)
		return (-errno);
	if (ftruncate(fd, (off_t)size) != 0) {
		close(fd);
		return (-errno);
	}
	close(fd);
	return (0);
}

/* The frontend's feature bits as the names the attach line uses. */
static void
bench_features_json(uint32_t f, FILE *out)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ XBD_FEAT_FLUSH, "flush" },
		{ XBD_FEAT_BARRIER, "write_barrier" },
		{ XBD_FEAT_DISCARD, "discard" },
		{ XBD_FEAT_SECURE_DISCARD, "secure_discard" },
		{ XBD_FEAT_PERSISTENT, "persistent_grants" },
		{ XBD_FEAT_INDIRECT, "indirect" },
		{ XBD_FEAT_BOUNCE, "bounce" },
		{ XBD_FEAT_READONLY, "read_only" },
		{ XBD_FEAT_CDROM, "cdrom" },
		{ XBD_FEAT_REMOVABLE, "removable" },
	};
	size_t i;
	int n = 0;

	fputc('[', out);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((f & names[i].bit) != 0)
			fprintf(out, "%s\"%s\"", n++ > 0 ? "," : "",
			    names[i].name);
	fputc(']', out);
}

/* What one measured run gives, derived from the counters. */
struct bench_figures {
	double iops;  /* I/Os per second */
	double mibs;  /* MiB per second */
	double reqs;  /* blkif requests the frontend sent */
	double nreq;  /* notifications (both ways) per request */
	double cpb;   /* bytes copied (both ends) per data byte */
	double gpr;   /* grants made plus pages mapped, per request */
	double enter; /* io_uring_enter calls per request */
};

static void
bench_figures(const struct xwl_result *r, const struct bench_counts *c0,
    const struct bench_counts *c1, struct bench_figures *f)
{
	double secs = r->r_seconds > 0 ? r->r_seconds : 1;
	double bytes = (double)r->r_bytes;

	f->iops = (double)r->r_ios / secs;
	f->mibs = (double)r->r_bytes / secs / (1 << 20);
	f->reqs = (double)(c1->fe_requests - c0->fe_requests);
	if (f->reqs <= 0) {
		f->nreq = f->gpr = f->enter = 0;
	} else {
		f->nreq = (double)(c1->fe_notify - c0->fe_notify +
			      c1->be_notify - c0->be_notify) /
		    f->reqs;
		/* Grants made by the frontend plus pages the backend mapped. */
		f->gpr = (double)(c1->fe_grants - c0->fe_grants + c1->be_maps -
			     c0->be_maps) /
		    f->reqs;
		f->enter = (double)(c1->be_enter - c0->be_enter) / f->reqs;
	}
	f->cpb = bytes > 0 ? (double)(c1->fe_bounce - c0->fe_bounce +
				 c1->be_copy_bytes - c0->be_copy_bytes) /
		bytes :
			     0;
}

static void
bench_report_json(const struct bench_opts *o, const struct xwl_result *r,
    const struct bench_figures *f, const struct xbd_info *info)
{
	printf("{\"target\":\"xbd\",\"rw\":\"%s\",\"bs\":%ju,"
	       "\"iodepth\":%d,\"runtime\":%.3f,\"ios\":%ju,"
	       "\"iops\":%.1f,\"mib_s\":%.2f,\"lat_mean_us\":%.2f,"
	       "\"lat_p50_us\":%.2f,\"lat_p99_us\":%.2f,"
	       "\"cpu_us_per_io\":%.3f,\"cpu_s\":%.3f,"
	       "\"notify_per_req\":%.4f,\"copies_per_byte\":%.4f,"
	       "\"requests\":%.0f,\"uring_enter_per_req\":%.4f,"
	       "\"grant_ops_per_req\":%.4f,"
	       "\"errors\":%ju,\"verify_bad\":%ju,\"interrupted\":%s,"
	       "\"ring_pages\":%u,\"queues\":%u,\"features\":",
	    o->rw, (uintmax_t)o->bs, o->qd, r->r_seconds, (uintmax_t)r->r_ios,
	    f->iops, f->mibs,
	    r->r_ios > 0 ? (double)r->r_lat_sum_ns / r->r_ios / 1e3 : 0,
	    (double)xwl_percentile(r, 0.50) / 1e3,
	    (double)xwl_percentile(r, 0.99) / 1e3,
	    r->r_ios > 0 ? r->r_cpu * 1e6 / r->r_ios : 0, r->r_cpu, f->nreq,
	    f->cpb, f->reqs, f->enter, f->gpr, (uintmax_t)r->r_errors,
	    (uintmax_t)r->r_bad, cmd_intr != 0 ? "true" : "false",
	    info->xi_ring_pages, info->xi_queues);
	bench_features_json(info->xi_features, stdout);
	printf("}\n");
}

static void
bench_report_text(const struct bench_opts *o, const struct xwl_result *r,
    const struct bench_figures *f, bool embedded)
{
	printf("%s bs=%ju iodepth=%d: %.0f IOPS, %.1f MiB/s, "
	       "latency mean %.1f us p99 %.1f us, CPU %.2f us/IO%s\n",
	    o->rw, (uintmax_t)o->bs, o->qd, f->iops, f->mibs,
	    r->r_ios > 0 ? (double)r->r_lat_sum_ns / r->r_ios / 1e3 : 0,
	    (double)xwl_percentile(r, 0.99) / 1e3,
	    r->r_ios > 0 ? r->r_cpu * 1e6 / r->r_ios : 0,
	    cmd_intr != 0 ? " (interrupted)" : "");
	printf("protocol: %.3f notifications per request, %.3f copies "
	       "per byte, %.3f grant operations per request, %.0f "
	       "requests",
	    f->nreq, f->cpb, f->gpr, f->reqs);
	if (embedded)
		printf(", %.3f io_uring_enter per request", f->enter);
	printf("\n");
	if (r->r_errors != 0 || r->r_bad != 0)
		printf("errors: %ju I/O errors (first %s), %ju bad "
		       "blocks\n",
		    (uintmax_t)r->r_errors, strerror(-r->r_first_error),
		    (uintmax_t)r->r_bad);
}

/* A progress display only for a person watching: never in a log. */
static void
bench_progress(const struct xwl_progress *p, void *arg)
{
	cmd_progress("bench", p, true, arg);
}

/* The embedded machine serving --image or a new image. */
static int
bench_machine(struct bench_opts *o, char *dir, size_t dlen, char *img,
    size_t ilen, bool *created, struct xemb **emb)
{
	struct xbb_opts bo;
	struct xemb_opts eo;
	char msg[512];
	int rc;

	if (o->image == NULL) {
		if (o->size == 0)
			o->size = 256ull << 20;
		rc = bench_new_image(o->size, dir, dlen, img, ilen);
		/* Whatever part of it exists is ours to remove. */
		*created = dir[0] != '\0';
		if (rc != 0) {
			fprintf(stderr, "xbd bench: new image: %s\n",
			    strerror(-rc));
			return (rc);
		}
	} else if ((rc = xbb_params_check(o->image, false,
			XBB_DEF_NBD_TIMEOUT_S, msg, sizeof(msg))) != 0) {
		fprintf(stderr, "xbd bench: %s\n", msg);
		return (rc);
	} else {
		snprintf(img, ilen, "%s", o->image);
	}
	xbb_opts_init(&bo);
	cmd_transport_be(&o->tr, &bo);
	xemb_opts_init(&eo);
	eo.o_image = img;
	eo.o_xbb = &bo;
	if ((rc = xemb_start(&eo, emb)) != 0)
		fprintf(stderr, "xbd bench: starting the machine: %s\n",
		    strerror(-rc));
	return (rc);
}

/* Ramp, then the measured run between two readings of the counters. */
static int
bench_measure(struct bench_opts *o, struct xbd_dev *dev, struct xbb *xbb,
    struct xwl_result *r, struct bench_figures *f)
{
	struct bench_counts c0, c1;
	struct xbd_info info;
	struct xwl_cfg wc;
	int rc, last = -1;

	xbd_get_info(dev, &info);
	memset(&wc, 0, sizeof(wc));
	wc.c_span =
	    o->size != 0 && o->size < info.xi_size ? o->size : info.xi_size;
	wc.c_span -= wc.c_span % o->bs;
	wc.c_bs = (uint32_t)o->bs;
	wc.c_qd = o->qd;
	wc.c_random = strncmp(o->rw, "rand", 4) == 0;
	wc.c_read_pct = strstr(o->rw, "read") != NULL ? 100 :
	    strstr(o->rw, "write") != NULL	      ? 0 :
							o->mix;
	wc.c_verify = o->verify ? XWL_VERIFY_WRITTEN : XWL_VERIFY_NONE;
	wc.c_zero_copy = o->zero_copy;
	wc.c_seed = 1;
	wc.c_stop = &cmd_intr;
	if (o->ramp > 0) {
		wc.c_runtime = o->ramp;
		if ((rc = xwl_run(dev, &wc, r)) != 0)
			return (rc);
	}
	bench_counts(dev, xbb, &c0);
	wc.c_runtime = o->runtime;
	/* Like fio's job line: what runs now, for a log or a watcher. */
	fprintf(stderr, "xbd bench: %s bs=%ju iodepth=%d for %.0f s\n", o->rw,
	    (uintmax_t)o->bs, o->qd, o->runtime);
	/* Never on stdout, never into a file: --json stays pure. */
	if (isatty(STDERR_FILENO)) {
		wc.c_progress = bench_progress;
		wc.c_progress_arg = &last;
	}
	if ((rc = xwl_run(dev, &wc, r)) != 0) {
		fprintf(stderr, "xbd bench: %s\n", strerror(-rc));
		return (rc);
	}
	bench_counts(dev, xbb, &c1);
	bench_figures(r, &c0, &c1, f);
	return (0);
}

int
cmd_bench(int argc, char **argv)
{
	struct bench_opts o = { .domid = BENCH_DOMID_UNSET,
		.vbd = "xvda",
		.rw = "randread",
		.mix = 50,
		.bs = 4096,
		.qd = 32,
		.runtime = 5,
		.ramp = 1,
		.zero_copy = true };
	struct bench_figures f;
	struct xbd_opts fo;
	struct xemb *emb = NULL;
	struct xbd_plat *xp = NULL;
	struct xbd_dev *dev = NULL;
	struct xbd_info info;
	struct xwl_result r;
	char dir[256] = "", img[1024] = "";
	int rc, exit_code = CMD_EXIT_FAIL;
	bool created = false;

	if ((rc = bench_parse(argc, argv, &o)) != 0)
		return (rc > 0 ? CMD_EXIT_OK : CMD_EXIT_USAGE);
	if (getenv("XBD_VERBOSE") == NULL)
		setenv("XBD_QUIET", "1", 0);
	cmd_intr_install();

	xbd_opts_init(&fo);
	cmd_transport_fe(&o.tr, &fo);
	if (o.xen) {
		if (cmd_open_xen("xbd bench", &xp) != 0)
			return (CMD_EXIT_FAIL);
	} else if (o.dir != NULL) {
		if ((rc = xbd_plat_open_sim(o.dir, o.domid, true, &xp)) != 0) {
			fprintf(stderr,
			    "xbd bench: joining %s as domain %u: "
			    "%s\n",
			    o.dir, o.domid, strerror(-rc));
			return (CMD_EXIT_FAIL);
		}
		xbd_plat_on_lost(xp, cmd_hv_lost, "xbd bench");
	} else if (bench_machine(&o, dir, sizeof(dir), img, sizeof(img),
		       &created, &emb) != 0) {
		goto out;
	}
	if (cmd_intr != 0)
		goto out;
	fo.o_vbd_wait_ms = XBD_TOOL_VBD_WAIT_MS;
	fo.o_holder = "xbd bench";
	if ((rc = xbd_attach(emb != NULL ? xemb_plat(emb) : xp, o.vbd, &fo,
		 &dev)) != 0) {
		cmd_attach_error("xbd bench", emb != NULL ? xemb_plat(emb) : xp,
		    o.vbd, rc);
		goto out;
	}
	xbd_get_info(dev, &info);
	if (cmd_intr != 0 ||
	    bench_measure(&o, dev, emb != NULL ? xemb_backend(emb) : NULL, &r,
		&f) != 0)
		goto out;
	/* Stopped in the ramp: nothing was measured. */
	if (cmd_intr != 0 && f.reqs == 0 && r.r_ios == 0)
		goto out;
	if (o.json)
		bench_report_json(&o, &r, &f, &info);
	else
		bench_report_text(&o, &r, &f, emb != NULL);
	if (r.r_errors == 0 && r.r_bad == 0)
		exit_code = CMD_EXIT_OK;
out:
	if (dev != NULL)
		xbd_detach(dev);
	xemb_stop(emb);
	xbd_plat_close(xp);
	if (created) {
		unlink(img);
		rmdir(dir);
	}
	if (cmd_intr != 0) {
		fprintf(stderr, "xbd bench: interrupted\n");
		exit_code = CMD_EXIT_SIGNAL + cmd_intr;
	}
	return (exit_code);
}
