/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xbd run: the main job.  It starts a simulated machine in this process
 * (hypervisor, XenStore daemon), a backend domain serving an image, a
 * frontend domain attached to it; prints the attach banner a kernel
 * driver would; runs a short verified read/write workload with progress;
 * prints the statistics of both ends; and detaches cleanly.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "back/xbb.h"
#include "cmd.h"
#include "cmd_opt.h"
#include "common/xu_assert.h"
#include "embed/xemb.h"
#include "xwl.h"

static const char run_usage[] =
    "usage: xbd run [options] [IMAGE]\n"
    "\n"
    "Start a simulated Xen machine in this process: a backend domain (0)\n"
    "serving IMAGE through io_uring and a frontend domain (1) attached to\n"
    "it as xvda; run a verified read/write workload; print what was\n"
    "negotiated and the statistics; detach.\n"
    "\n"
    "Without IMAGE a new sparse image is created in a temporary directory\n"
    "and removed afterwards.  An existing IMAGE is only read, unless\n"
    "--destructive allows the workload to write to it.\n"
    "\n"
    "options:\n"
    "  -s, --size SIZE       size of the new image (1M..16T, a multiple\n"
    "                        of 512; default 1G)\n"
    "  -t, --seconds N       length of the workload (0.001..86400;\n"
    "                        default 3)\n"
    "  -b, --bs SIZE         I/O size (512..16M, a multiple of 512;\n"
    "                        default 4K)\n"
    "  -q, --qd N            I/Os in flight (1..256; default 32)\n"
    "      --ring-pages N    most ring pages the frontend accepts\n"
    "                        (1, 2, 4 ... 32)\n"
    "      --queues N        rings to ask for (multi-queue, 1..16)\n"
    "      --no-indirect     frontend: pretend the backend has no indirect\n"
    "                        segments (FreeBSD's hw.xbd.xbd_enable_indirect)\n"
    "      --no-persistent   neither end offers persistent grants\n"
    "      --bounce          frontend: bounce all data (untrusted backend)\n"
    "      --grant-copy      backend: grant-copy instead of mapping\n"
    "      --destructive     allow writes to an existing IMAGE\n"
    "      --keep            keep the new image (prints its path)\n"
    "      --json            print the summary as JSON on stdout\n"
    "  -h, --help            this text\n"
    "\n"
    "SIZE takes K, M, G, T (or KiB ...) and fractions: 4K, 1.5G.\n"
    "\n"
    "exit status: 0 verified, 1 I/O error or verification failure,\n"
    "2 usage error.\n";

struct run_opts {
	const char *image;
	uint64_t size;
	double seconds;
	uint64_t bs;
	uint32_t qd;
	uint32_t ring_pages;
	uint32_t queues;
	bool no_indirect;
	bool no_persistent;
	bool bounce;
	bool grant_copy;
	bool destructive;
	bool keep;
	bool json;
};

static void
run_progress(double frac, const struct xwl_cfg *c, void *arg)
{
	int *last = arg, pct = (int)(frac * 100), i, w = 40;

	if (isatty(STDERR_FILENO)) {
		fputs("\r[", stderr);
		for (i = 0; i < w; i++)
			fputc(i < (int)(frac * w) ? '#' : '-', stderr);
		fprintf(stderr, "] %3d%%", pct);
		if (frac >= 1.0)
			fputc('\n', stderr);
		fflush(stderr);
	} else if (pct / 25 > *last / 25 || (pct == 100 && *last != 100)) {
		fprintf(stderr, "workload: %d%%\n", pct);
	}
	*last = pct;
}

static int
run_parse(int argc, char **argv, struct run_opts *o)
{
	enum {
		O_RING = 256,
		O_QUEUES,
		O_NOIND,
		O_NOPERS,
		O_BOUNCE,
		O_COPY,
		O_DESTR,
		O_KEEP,
		O_JSON
	};
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "bs", required_argument, NULL, 'b' },
		{ "qd", required_argument, NULL, 'q' },
		{ "ring-pages", required_argument, NULL, O_RING },
		{ "queues", required_argument, NULL, O_QUEUES },
		{ "no-indirect", no_argument, NULL, O_NOIND },
		{ "no-persistent", no_argument, NULL, O_NOPERS },
		{ "bounce", no_argument, NULL, O_BOUNCE },
		{ "grant-copy", no_argument, NULL, O_COPY },
		{ "destructive", no_argument, NULL, O_DESTR },
		{ "keep", no_argument, NULL, O_KEEP },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd_opt_dest dest[] = {
		{ 's', "size", CMD_OPT_U64, &o->size },
		{ 't', "seconds", CMD_OPT_SECS, &o->seconds },
		{ 'b', "bs", CMD_OPT_U64, &o->bs },
		{ 'q', "qd", CMD_OPT_U32, &o->qd },
		{ O_RING, "ring-pages", CMD_OPT_U32, &o->ring_pages },
		{ O_QUEUES, "queues", CMD_OPT_U32, &o->queues },
		{ O_NOIND, NULL, CMD_OPT_TRUE, &o->no_indirect },
		{ O_NOPERS, NULL, CMD_OPT_TRUE, &o->no_persistent },
		{ O_BOUNCE, NULL, CMD_OPT_TRUE, &o->bounce },
		{ O_COPY, NULL, CMD_OPT_TRUE, &o->grant_copy },
		{ O_DESTR, NULL, CMD_OPT_TRUE, &o->destructive },
		{ O_KEEP, NULL, CMD_OPT_TRUE, &o->keep },
		{ O_JSON, NULL, CMD_OPT_TRUE, &o->json },
	};
	int c, rc;

	while ((c = getopt_long(argc, argv, "s:t:b:q:h", opts, NULL)) != -1) {
		rc = cmd_opt_apply(argv[0], dest, XU_NELEM(dest), c, optarg);
		if (rc < 0)
			return (-1);
		if (rc == 0)
			continue;
		if (c == 'h') {
			fputs(run_usage, stdout);
			return (1);
		}
		fputs(run_usage, stderr);
		return (-1);
	}
	if (optind < argc)
		o->image = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "xbd run: one IMAGE at most\n%s", run_usage);
		return (-1);
	}
	return (0);
}

/* Print what the backend counted for the device. */
static void
run_backend_stats(struct xbb *xbb, FILE *out)
{
	struct xbb_stats st;

	if (xbb_dev_stats(xbb, 1, 51712, &st, sizeof(st)) != 0)
		return;
	fprintf(out,
	    "backend.requests: read %ju, write %ju, flush %ju, "
	    "discard %ju\n",
	    (uintmax_t)st.st_req_read, (uintmax_t)st.st_req_write,
	    (uintmax_t)st.st_req_flush, (uintmax_t)st.st_req_discard);
	fprintf(out, "backend.persistent_grants_in_use: %ju\n",
	    (uintmax_t)st.st_persistent);
	fprintf(out, "backend.state: %s%s\n", st.st_failed ? "failed: " : "ok",
	    st.st_failed ? strerror((int)st.st_fail_errno) : "");
	fprintf(out, "backend.writes_refused_nospace: %ju\n",
	    (uintmax_t)st.st_err_nospace);
}

int
cmd_run(int argc, char **argv)
{
	struct run_opts o = { .size = 1ull << 30,
		.seconds = 3,
		.bs = 4096,
		.qd = 32 };
	char dir[256] = "", img[300], buf[8192];
	struct xbd_opts fo;
	struct xbb_opts bo;
	struct xemb_opts eo;
	struct xemb *emb = NULL;
	struct xbd_dev *dev = NULL;
	struct xbd_info info;
	struct xwl_cfg wc;
	struct xwl_result wr, vr;
	uint32_t *gen = NULL;
	const char *why;
	int rc, fd, last = -1, exit_code = CMD_EXIT_FAIL;
	bool created = false;

	if ((rc = run_parse(argc, argv, &o)) != 0)
		return (rc > 0 ? CMD_EXIT_OK : CMD_EXIT_USAGE);
	/* Keep stdout and stderr lines in the order they happen. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("XBD_VERBOSE") == NULL)
		setenv("XBD_QUIET", "1", 0);

	/* The image. */
	if (o.image == NULL) {
		snprintf(dir, sizeof(dir), "%s/xbd-run.XXXXXX",
		    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
		if (mkdtemp(dir) == NULL) {
			fprintf(stderr, "xbd run: mkdtemp %s: %s\n", dir,
			    strerror(errno));
			return (CMD_EXIT_FAIL);
		}
		snprintf(img, sizeof(img), "%s/disk.img", dir);
		if ((fd = open(img, O_RDWR | O_CREAT | O_EXCL, 0600)) < 0 ||
		    ftruncate(fd, (off_t)o.size) != 0) {
			fprintf(stderr, "xbd run: cannot create %s: %s\n", img,
			    strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
		created = true;
	} else {
		snprintf(img, sizeof(img), "%s", o.image);
		if (xbb_image_check(img, !o.destructive, &why) != 0) {
			fprintf(stderr, "xbd run: %s: %s\n", img, why);
			return (CMD_EXIT_FAIL);
		}
	}

	/* The machine, the backend, the vbd. */
	xbb_opts_init(&bo);
	bo.o_persistent = !o.no_persistent;
	bo.o_grant_copy = o.grant_copy;
	xemb_opts_init(&eo);
	eo.o_image = img;
	eo.o_readonly = o.image != NULL && !o.destructive;
	eo.o_xbb = &bo;
	if ((rc = xemb_start(&eo, &emb)) != 0) {
		fprintf(stderr,
		    "xbd run: starting the simulated machine: %s%s\n",
		    strerror(-rc),
		    rc == -ENOSYS || rc == -EPERM ?
			" (io_uring is not available here)" :
			"");
		goto out;
	}
	fprintf(stderr, "xbd: simulated machine up, XenStore at %s/socket\n",
	    xemb_dir(emb));
	fprintf(stderr,
	    "xbd: domain 0 serves %s as xvda of domain 1 (backend %s)\n", img,
	    "/local/domain/0/backend/vbd/1/51712");

	/* The frontend. */
	xbd_opts_init(&fo);
	if (o.ring_pages != 0)
		fo.o_max_ring_pages = o.ring_pages;
	if (o.queues != 0)
		fo.o_max_queues = o.queues;
	fo.o_enable_indirect = !o.no_indirect;
	fo.o_persistent = !o.no_persistent;
	if (o.bounce)
		fo.o_bounce = 1;
	if ((rc = xbd_attach(xemb_plat(emb), "xvda", &fo, &dev)) != 0) {
		fprintf(stderr, "xbd run: attaching the frontend: %s\n",
		    strerror(-rc));
		goto out;
	}
	xbd_get_info(dev, &info);
	if (xbd_describe(dev, XBD_FMT_LINE, buf, sizeof(buf)) > 0)
		printf("%s: %s\n", info.xi_name, buf);

	/* The workload: random mixed I/O on a region, then a full check. */
	memset(&wc, 0, sizeof(wc));
	wc.c_span = XU_MIN(info.xi_size, 64ull << 20);
	wc.c_span -= wc.c_span % o.bs;
	wc.c_bs = (uint32_t)o.bs;
	wc.c_qd = (int)o.qd;
	wc.c_random = true;
	wc.c_read_pct = eo.o_readonly ? 100 : 50;
	wc.c_runtime = o.seconds;
	wc.c_flush_every = eo.o_readonly ? 0 : 64;
	wc.c_verify = created ? XWL_VERIFY_ALL : XWL_VERIFY_WRITTEN;
	wc.c_zero_copy = true;
	wc.c_seed = (unsigned int)getpid();
	wc.c_progress = run_progress;
	wc.c_progress_arg = &last;
	if ((gen = calloc(wc.c_span / o.bs, sizeof(uint32_t))) == NULL)
		goto out;
	wc.c_genmap = gen;
	fprintf(stderr,
	    "workload: %s random %ju-byte I/O, %u in flight, "
	    "%g s, over %ju MiB, verified\n",
	    eo.o_readonly ? "read-only" : "50/50 read/write", (uintmax_t)o.bs,
	    o.qd, o.seconds, (uintmax_t)(wc.c_span >> 20));
	if ((rc = xwl_run(dev, &wc, &wr)) != 0)
		goto out;
	/* Read every block of the region back and check it. */
	wc.c_random = false;
	wc.c_read_pct = 100;
	wc.c_runtime = 0;
	wc.c_ops = wc.c_span / o.bs;
	wc.c_flush_every = 0;
	wc.c_progress = NULL;
	if ((rc = xwl_run(dev, &wc, &vr)) != 0)
		goto out;

	printf("workload: %ju I/Os in %.2f s: %ju reads, %ju writes, %ju "
	       "flushes, %.0f IOPS, %.1f MiB/s, mean latency %.1f us, p99 "
	       "%.1f us\n",
	    (uintmax_t)wr.r_ios, wr.r_seconds, (uintmax_t)wr.r_reads,
	    (uintmax_t)wr.r_writes, (uintmax_t)wr.r_flushes,
	    (double)wr.r_ios / wr.r_seconds,
	    (double)wr.r_bytes / wr.r_seconds / (1 << 20),
	    wr.r_ios > 0 ? (double)wr.r_lat_sum_ns / wr.r_ios / 1e3 : 0,
	    (double)xwl_percentile(&wr, 0.99) / 1e3);
	printf("verify: %ju blocks checked during the run, %ju after it, %ju "
	       "bad; %ju I/O errors\n",
	    (uintmax_t)wr.r_verified, (uintmax_t)vr.r_verified,
	    (uintmax_t)(wr.r_bad + vr.r_bad),
	    (uintmax_t)(wr.r_errors + vr.r_errors));
	if (wr.r_bad + vr.r_bad > 0)
		printf("verify: first bad block at byte %ju\n",
		    (uintmax_t)(wr.r_bad > 0 ? wr.r_first_bad :
					       vr.r_first_bad));
	if (o.json) {
		if (xbd_describe(dev, XBD_FMT_JSON, buf, sizeof(buf)) > 0)
			printf("%s\n", buf);
	} else if (xbd_describe(dev, XBD_FMT_TEXT, buf, sizeof(buf)) > 0) {
		printf("statistics:\n%s", buf);
	}
	run_backend_stats(xemb_backend(emb), stdout);
	if (wr.r_bad + vr.r_bad == 0 && wr.r_errors + vr.r_errors == 0)
		exit_code = CMD_EXIT_OK;
out:
	if (dev != NULL) {
		xbd_detach(dev);
		fprintf(stderr, "%s: detached\n", info.xi_name);
	}
	xemb_stop(emb);
	free(gen);
	if (created) {
		if (o.keep) {
			fprintf(stderr, "xbd run: image kept at %s\n", img);
		} else {
			unlink(img);
			rmdir(dir);
		}
	}
	printf("result: %s\n", exit_code == CMD_EXIT_OK ? "ok" : "FAILED");
	return (exit_code);
}
