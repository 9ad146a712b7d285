/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xbd bench: fio-like workloads through the frontend library, on the
 * embedded machine (default) or a frontend domain of a running `xbd hv`
 * machine.  It reports what fio does (IOPS, MiB/s, mean and p99
 * latency, CPU time per I/O) plus the protocol's own costs: notifications
 * per request and data copies per byte, counted by both ends.
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
#include "common/xu_parse.h"
#include "embed/xemb.h"
#include "xwl.h"

static const char bench_usage[] =
    "usage: xbd bench [options]\n"
    "\n"
    "Run a fio-like workload through the xbd frontend and report IOPS,\n"
    "MiB/s, mean and p99 latency, CPU time per I/O, notifications per\n"
    "request and copies per byte.\n"
    "\n"
    "target (default: the embedded machine serving --image):\n"
    "  -i, --image PATH      file or device to serve (default: a new\n"
    "                        sparse file of --size in /dev/shm or TMPDIR)\n"
    "      --dir DIR         instead, a frontend domain of the running\n"
    "                        'xbd hv --dir DIR' machine ...\n"
    "      --domid N         ... acting as domain N (default 1) ...\n"
    "      --vbd NAME        ... attached to NAME (default xvda; one\n"
    "                        not there yet is waited for up to 3 s)\n"
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
    "  -h, --help            this text\n";

struct bench_opts {
	const char *image;
	const char *dir;
	uint32_t domid;
	const char *vbd;
	const char *rw;
	int mix;
	uint64_t bs;
	int qd;
	double runtime;
	double ramp;
	uint64_t size;
	bool verify;
	bool zero_copy;
	unsigned int ring_pages;
	unsigned int queues;
	bool no_indirect;
	bool no_persistent;
	bool bounce;
	bool grant_copy;
	bool json;
};

static int
bench_parse(int argc, char **argv, struct bench_opts *o)
{
	enum {
		O_DIR = 256,
		O_DOMID,
		O_VBD,
		O_RW,
		O_MIX,
		O_RAMP,
		O_VERIFY,
		O_NOZC,
		O_RING,
		O_QUEUES,
		O_NOIND,
		O_NOPERS,
		O_BOUNCE,
		O_COPY,
		O_JSON
	};
	static const struct option opts[] = {
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
		{ "ring-pages", required_argument, NULL, O_RING },
		{ "queues", required_argument, NULL, O_QUEUES },
		{ "no-indirect", no_argument, NULL, O_NOIND },
		{ "no-persistent", no_argument, NULL, O_NOPERS },
		{ "bounce", no_argument, NULL, O_BOUNCE },
		{ "grant-copy", no_argument, NULL, O_COPY },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t v;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "i:b:q:t:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->image = optarg;
			break;
		case O_DIR:
			o->dir = optarg;
			break;
		case O_DOMID:
			if (xu_parse_u32(optarg, &o->domid) != 0)
				goto bad;
			break;
		case O_VBD:
			o->vbd = optarg;
			break;
		case O_RW:
			if (strcmp(optarg, "read") != 0 &&
			    strcmp(optarg, "write") != 0 &&
			    strcmp(optarg, "randread") != 0 &&
			    strcmp(optarg, "randwrite") != 0 &&
			    strcmp(optarg, "rw") != 0 &&
			    strcmp(optarg, "randrw") != 0)
				goto bad;
			o->rw = optarg;
			break;
		case O_MIX:
			if (xu_parse_u32(optarg, &v) != 0 || v > 100)
				goto bad;
			o->mix = (int)v;
			break;
		case 'b':
			if (xu_parse_size(optarg, &o->bs) != 0 || o->bs < 512 ||
			    (o->bs & 511) != 0 || o->bs > 64 * 1024 * 1024)
				goto bad;
			break;
		case 'q':
			if (xu_parse_u32(optarg, &v) != 0 || v < 1 ||
			    v > XWL_MAX_QD)
				goto bad;
			o->qd = (int)v;
			break;
		case 't':
			o->runtime = strtod(optarg, &end);
			if (*end != '\0' || o->runtime <= 0 ||
			    o->runtime > 86400)
				goto bad;
			break;
		case O_RAMP:
			o->ramp = strtod(optarg, &end);
			if (*end != '\0' || o->ramp < 0 || o->ramp > 3600)
				goto bad;
			break;
		case 's':
			if (xu_parse_size(optarg, &o->size) != 0 ||
			    o->size < 1024 * 1024)
				goto bad;
			break;
		case O_VERIFY:
			o->verify = true;
			break;
		case O_NOZC:
			o->zero_copy = false;
			break;
		case O_RING:
			if (xu_parse_u32(optarg, &v) != 0 || v < 1 || v > 32 ||
			    (v & (v - 1)) != 0)
				goto bad;
			o->ring_pages = v;
			break;
		case O_QUEUES:
			if (xu_parse_u32(optarg, &v) != 0 || v < 1 || v > 16)
				goto bad;
			o->queues = v;
			break;
		case O_NOIND:
			o->no_indirect = true;
			break;
		case O_NOPERS:
			o->no_persistent = true;
			break;
		case O_BOUNCE:
			o->bounce = true;
			break;
		case O_COPY:
			o->grant_copy = true;
			break;
		case O_JSON:
			o->json = true;
			break;
		case 'h':
			fputs(bench_usage, stdout);
			return (1);
		default:
			fputs(bench_usage, stderr);
			return (-1);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xbd bench: unexpected argument '%s'\n%s",
		    argv[optind], bench_usage);
		return (-1);
	}
	if (o->image != NULL && o->dir != NULL) {
		fprintf(stderr,
		    "xbd bench: --image and --dir exclude each "
		    "other\n");
		return (-1);
	}
	return (0);
bad:
	fprintf(stderr, "xbd bench: bad value '%s' (see --help)\n", optarg);
	return (-1);
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
	c->fe_notify = fs.xs_notify;
	c->fe_events = fs.xs_events;
	c->fe_bounce = fs.xs_bounce_bytes;
	c->fe_grants = fs.xs_grants;
	for (i = 0; i < 7; i++)
		if (i != BLKIF_OP_INDIRECT)
			c->fe_requests += fs.xs_requests[i];
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

int
cmd_bench(int argc, char **argv)
{
	struct bench_opts o = { .domid = 1,
		.vbd = "xvda",
		.rw = "randread",
		.mix = 50,
		.bs = 4096,
		.qd = 32,
		.runtime = 5,
		.ramp = 1,
		.zero_copy = true };
	struct bench_counts c0, c1;
	struct xbd_opts fo;
	struct xbb_opts bo;
	struct xemb_opts eo;
	struct xemb *emb = NULL;
	struct xbd_plat *xp = NULL;
	struct xbd_dev *dev = NULL;
	struct xbd_info info;
	struct xwl_cfg wc;
	struct xwl_result r;
	char dir[256] = "", img[300] = "";
	double iops, mibs, reqs, bytes, nreq, cpb, gpr;
	int rc, exit_code = CMD_EXIT_FAIL;
	bool created = false;

	if ((rc = bench_parse(argc, argv, &o)) != 0)
		return (rc > 0 ? CMD_EXIT_OK : CMD_EXIT_USAGE);
	if (getenv("XBD_VERBOSE") == NULL)
		setenv("XBD_QUIET", "1", 0);

	xbd_opts_init(&fo);
	if (o.ring_pages != 0)
		fo.o_max_ring_pages = o.ring_pages;
	if (o.queues != 0)
		fo.o_max_queues = o.queues;
	fo.o_enable_indirect = !o.no_indirect;
	fo.o_persistent = !o.no_persistent;
	if (o.bounce)
		fo.o_bounce = 1;

	if (o.dir != NULL) {
		if ((rc = xbd_plat_open_sim(o.dir, o.domid, true, &xp)) != 0) {
			fprintf(stderr,
			    "xbd bench: joining %s as domain %u: "
			    "%s\n",
			    o.dir, o.domid, strerror(-rc));
			return (CMD_EXIT_FAIL);
		}
		xbd_plat_on_lost(xp, cmd_hv_lost, "xbd bench");
	} else {
		if (o.image == NULL) {
			if (o.size == 0)
				o.size = 256ull << 20;
			if ((rc = bench_new_image(o.size, dir, sizeof(dir), img,
				 sizeof(img))) != 0) {
				fprintf(stderr, "xbd bench: new image: %s\n",
				    strerror(-rc));
				goto out;
			}
			created = true;
		} else {
			snprintf(img, sizeof(img), "%s", o.image);
		}
		xbb_opts_init(&bo);
		bo.o_persistent = !o.no_persistent;
		bo.o_grant_copy = o.grant_copy;
		xemb_opts_init(&eo);
		eo.o_image = img;
		eo.o_xbb = &bo;
		if ((rc = xemb_start(&eo, &emb)) != 0) {
			fprintf(stderr, "xbd bench: starting the machine: %s\n",
			    strerror(-rc));
			goto out;
		}
	}
	fo.o_vbd_wait_ms = XBD_TOOL_VBD_WAIT_MS;
	fo.o_holder = "xbd bench";
	if ((rc = xbd_attach(emb != NULL ? xemb_plat(emb) : xp, o.vbd, &fo,
		 &dev)) != 0) {
		cmd_attach_error("xbd bench", emb != NULL ? xemb_plat(emb) : xp,
		    o.vbd, rc);
		goto out;
	}
	xbd_get_info(dev, &info);

	memset(&wc, 0, sizeof(wc));
	wc.c_span =
	    o.size != 0 && o.size < info.xi_size ? o.size : info.xi_size;
	wc.c_span -= wc.c_span % o.bs;
	wc.c_bs = (uint32_t)o.bs;
	wc.c_qd = o.qd;
	wc.c_random = strncmp(o.rw, "rand", 4) == 0;
	wc.c_read_pct = strstr(o.rw, "read") != NULL ? 100 :
	    strstr(o.rw, "write") != NULL	     ? 0 :
						       o.mix;
	wc.c_verify = o.verify ? XWL_VERIFY_WRITTEN : XWL_VERIFY_NONE;
	wc.c_zero_copy = o.zero_copy;
	wc.c_seed = 1;
	if (o.ramp > 0) {
		wc.c_runtime = o.ramp;
		if ((rc = xwl_run(dev, &wc, &r)) != 0)
			goto out;
	}
	bench_counts(dev, emb != NULL ? xemb_backend(emb) : NULL, &c0);
	wc.c_runtime = o.runtime;
	if ((rc = xwl_run(dev, &wc, &r)) != 0) {
		fprintf(stderr, "xbd bench: %s\n", strerror(-rc));
		goto out;
	}
	bench_counts(dev, emb != NULL ? xemb_backend(emb) : NULL, &c1);

	iops = (double)r.r_ios / r.r_seconds;
	mibs = (double)r.r_bytes / r.r_seconds / (1 << 20);
	reqs = (double)(c1.fe_requests - c0.fe_requests);
	bytes = (double)r.r_bytes;
	nreq = reqs > 0 ? (double)(c1.fe_notify - c0.fe_notify + c1.be_notify -
			      c0.be_notify) /
		reqs :
			  0;
	cpb = bytes > 0 ? (double)(c1.fe_bounce - c0.fe_bounce +
			      c1.be_copy_bytes - c0.be_copy_bytes) /
		bytes :
			  0;
	/* Grants made by the frontend plus foreign pages the backend mapped. */
	gpr = reqs > 0 ?
	    (double)(c1.fe_grants - c0.fe_grants + c1.be_maps - c0.be_maps) /
		reqs :
	    0;
	if (o.json) {
		printf("{\"target\":\"xbd\",\"rw\":\"%s\",\"bs\":%ju,"
		       "\"iodepth\":%d,\"runtime\":%.3f,\"ios\":%ju,"
		       "\"iops\":%.1f,\"mib_s\":%.2f,\"lat_mean_us\":%.2f,"
		       "\"lat_p50_us\":%.2f,\"lat_p99_us\":%.2f,"
		       "\"cpu_us_per_io\":%.3f,\"cpu_s\":%.3f,"
		       "\"notify_per_req\":%.4f,\"copies_per_byte\":%.4f,"
		       "\"requests\":%.0f,\"uring_enter_per_req\":%.4f,"
		       "\"grant_ops_per_req\":%.4f,"
		       "\"errors\":%ju,\"verify_bad\":%ju,"
		       "\"ring_pages\":%u,\"queues\":%u,\"features\":%u}\n",
		    o.rw, (uintmax_t)o.bs, o.qd, r.r_seconds,
		    (uintmax_t)r.r_ios, iops, mibs,
		    r.r_ios > 0 ? (double)r.r_lat_sum_ns / r.r_ios / 1e3 : 0,
		    (double)xwl_percentile(&r, 0.50) / 1e3,
		    (double)xwl_percentile(&r, 0.99) / 1e3,
		    r.r_ios > 0 ? r.r_cpu * 1e6 / r.r_ios : 0, r.r_cpu, nreq,
		    cpb, reqs,
		    reqs > 0 ? (double)(c1.be_enter - c0.be_enter) / reqs : 0,
		    gpr, (uintmax_t)r.r_errors, (uintmax_t)r.r_bad,
		    info.xi_ring_pages, info.xi_queues, info.xi_features);
	} else {
		printf("%s bs=%ju iodepth=%d: %.0f IOPS, %.1f MiB/s, "
		       "latency mean %.1f us p99 %.1f us, CPU %.2f us/IO\n",
		    o.rw, (uintmax_t)o.bs, o.qd, iops, mibs,
		    r.r_ios > 0 ? (double)r.r_lat_sum_ns / r.r_ios / 1e3 : 0,
		    (double)xwl_percentile(&r, 0.99) / 1e3,
		    r.r_ios > 0 ? r.r_cpu * 1e6 / r.r_ios : 0);
		printf("protocol: %.3f notifications per request, %.3f copies "
		       "per byte, %.3f grant operations per request, %.0f "
		       "requests",
		    nreq, cpb, gpr, reqs);
		if (emb != NULL)
			printf(", %.3f io_uring_enter per request",
			    reqs > 0 ?
				(double)(c1.be_enter - c0.be_enter) / reqs :
				0);
		printf("\n");
		if (r.r_errors != 0 || r.r_bad != 0)
			printf("errors: %ju I/O errors (first %s), %ju bad "
			       "blocks\n",
			    (uintmax_t)r.r_errors, strerror(-r.r_first_error),
			    (uintmax_t)r.r_bad);
	}
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
	return (exit_code);
}
