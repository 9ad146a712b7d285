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
#include "cmd_transport.h"
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
    "--destructive allows the workload to write to it.  IMAGE may also be\n"
    "remote storage, only opened, never created or removed:\n"
    "rbd:POOL/IMAGE[@SNAP][:conf=PATH][:id=USER] (Ceph),\n"
    "nbd://HOST[:PORT]/[EXPORT] or nbd+unix:///[EXPORT]?socket=PATH.\n"
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
    "      --json            one JSON object on stdout, nothing else\n"
    "                        (the other lines go to stderr)\n"
    "  -h, --help            this text\n"
    "\n"
    "SIZE takes K, M, G, T (or KiB ...) and fractions: 4K, 1.5G.\n"
    "Progress (IOPS, MiB/s, time left) goes to stderr.  SIGINT or SIGTERM\n"
    "stops the workload: what was measured is printed, everything created\n"
    "is removed.\n"
    "\n"
    "exit status: 0 verified, 1 I/O error or verification failure,\n"
    "2 usage error, 130 (SIGINT) or 143 (SIGTERM) interrupted.\n";

struct run_opts {
	const char *image;
	uint64_t size;
	double seconds;
	uint64_t bs;
	uint32_t qd;
	struct cmd_transport tr; /* --ring-pages ... --grant-copy */
	bool destructive;
	bool keep;
	bool json;
};

static void
run_progress(const struct xwl_progress *p, void *arg)
{
	cmd_progress("workload", p, isatty(STDERR_FILENO), arg);
}

static int
run_parse(int argc, char **argv, struct run_opts *o)
{
	enum { O_DESTR, O_KEEP, O_JSON };
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "bs", required_argument, NULL, 'b' },
		{ "qd", required_argument, NULL, 'q' },
		CMD_TR_LONGOPTS,
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
		{ O_DESTR, NULL, CMD_OPT_TRUE, &o->destructive },
		{ O_KEEP, NULL, CMD_OPT_TRUE, &o->keep },
		{ O_JSON, NULL, CMD_OPT_TRUE, &o->json },
	};
	int c, rc;

	while ((c = getopt_long(argc, argv, "s:t:b:q:h", opts, NULL)) != -1) {
		rc = cmd_transport_opt(argv[0], &o->tr, c, optarg);
		if (rc == 1)
			rc = cmd_opt_apply(argv[0], dest, XU_NELEM(dest), c,
			    optarg);
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

/* Print what the backend counted for the device, as text or JSON. */
static void
run_backend_stats(struct xbb *xbb, bool json, FILE *out)
{
	struct xbb_stats st;

	if (xbb_dev_stats(xbb, 1, 51712, &st, sizeof(st)) != 0)
		return;
	fprintf(out,
	    json ? ",\"backend\":{\"read\":%ju,\"write\":%ju,\"flush\":%ju,"
		   "\"discard\":%ju,\"persistent_grants_in_use\":%ju," :
		   "backend.requests: read %ju, write %ju, flush %ju, "
		   "discard %ju\nbackend.persistent_grants_in_use: %ju\n",
	    (uintmax_t)st.st_req_read, (uintmax_t)st.st_req_write,
	    (uintmax_t)st.st_req_flush, (uintmax_t)st.st_req_discard,
	    (uintmax_t)st.st_persistent);
	fprintf(out,
	    json ? "\"state\":\"%s%s\",\"writes_refused_nospace\":%ju}" :
		   "backend.state: %s%s\n"
		   "backend.writes_refused_nospace: %ju\n",
	    st.st_failed ? "failed: " : "ok",
	    st.st_failed ? strerror((int)st.st_fail_errno) : "",
	    (uintmax_t)st.st_err_nospace);
}

/* Everything one run holds, for the report and the cleanup. */
struct run_state {
	struct run_opts *rs_o;	 /* the options */
	char rs_dir[256];	 /* the new image's directory, or "" */
	char rs_img[1024];	 /* the image served (XBB_PARAMS_MAX) */
	bool rs_created;	 /* rs_img is ours to remove */
	struct xemb *rs_emb;	 /* the machine */
	struct xbd_dev *rs_dev;	 /* the frontend */
	struct xbd_info rs_info; /* its geometry */
	struct xwl_result rs_wr; /* the workload */
	struct xwl_result rs_vr; /* the read-back check */
	bool rs_checked;	 /* the read-back check ran */
	uint32_t *rs_gen;	 /* per-block generations */
	FILE *rs_txt;		 /* human-readable lines (stderr if --json) */
};

/* A new sparse image in a private directory of TMPDIR. */
static int
run_image_create(struct run_state *rs)
{
	int fd;

	snprintf(rs->rs_dir, sizeof(rs->rs_dir), "%s/xbd-run.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(rs->rs_dir) == NULL) {
		fprintf(stderr, "xbd run: mkdtemp %s: %s\n", rs->rs_dir,
		    strerror(errno));
		rs->rs_dir[0] = '\0';
		return (-1);
	}
	snprintf(rs->rs_img, sizeof(rs->rs_img), "%s/disk.img", rs->rs_dir);
	if ((fd = open(rs->rs_img, O_RDWR | O_CREAT | O_EXCL, 0600)) >= 0)
		rs->rs_created = true;
	if (fd < 0 || ftruncate(fd, (off_t)rs->rs_o->size) != 0) {
		fprintf(stderr, "xbd run: cannot create %s: %s\n", rs->rs_img,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return (-1);
	}
	close(fd);
	return (0);
}

/* The machine and the backend serving the image as xvda of domain 1. */
static int
run_machine(struct run_state *rs)
{
	struct run_opts *o = rs->rs_o;
	struct xbb_opts bo;
	struct xemb_opts eo;
	int rc;

	xbb_opts_init(&bo);
	cmd_transport_be(&o->tr, &bo);
	xemb_opts_init(&eo);
	eo.o_image = rs->rs_img;
	eo.o_readonly = o->image != NULL && !o->destructive;
	eo.o_xbb = &bo;
	if ((rc = xemb_start(&eo, &rs->rs_emb)) != 0) {
		fprintf(stderr,
		    "xbd run: starting the simulated machine: %s%s\n",
		    strerror(-rc),
		    rc == -ENOSYS || rc == -EPERM ?
			" (io_uring is not available here)" :
			"");
		return (rc);
	}
	fprintf(stderr, "xbd: simulated machine up, XenStore at %s/socket\n",
	    xemb_dir(rs->rs_emb));
	fprintf(stderr,
	    "xbd: domain 0 serves %s as xvda of domain 1 (backend %s)\n",
	    rs->rs_img, "/local/domain/0/backend/vbd/1/51712");
	return (0);
}

/* The frontend, attached with the options' limits. */
static int
run_attach(struct run_state *rs)
{
	struct run_opts *o = rs->rs_o;
	struct xbd_opts fo;
	char buf[1024];
	int rc;

	xbd_opts_init(&fo);
	cmd_transport_fe(&o->tr, &fo);
	if ((rc = xbd_attach(xemb_plat(rs->rs_emb), "xvda", &fo,
		 &rs->rs_dev)) != 0) {
		fprintf(stderr, "xbd run: attaching the frontend: %s\n",
		    strerror(-rc));
		return (rc);
	}
	xbd_get_info(rs->rs_dev, &rs->rs_info);
	if (xbd_describe(rs->rs_dev, XBD_FMT_LINE, buf, sizeof(buf)) > 0)
		fprintf(rs->rs_txt, "%s: %s\n", rs->rs_info.xi_name, buf);
	return (0);
}

/*
 * Random mixed I/O on a region, then a read-back of all of it, unless a
 * signal stopped the first part.
 */
static int
run_workload(struct run_state *rs, int *last)
{
	struct run_opts *o = rs->rs_o;
	bool ro = o->image != NULL && !o->destructive;
	struct xwl_cfg wc;
	int rc;

	memset(&wc, 0, sizeof(wc));
	wc.c_span = XU_MIN(rs->rs_info.xi_size, 64ull << 20);
	wc.c_span -= wc.c_span % o->bs;
	wc.c_bs = (uint32_t)o->bs;
	wc.c_qd = o->qd;
	wc.c_random = true;
	wc.c_read_pct = ro ? 100 : 50;
	wc.c_runtime = o->seconds;
	wc.c_flush_every = ro ? 0 : 64;
	wc.c_verify = rs->rs_created ? XWL_VERIFY_ALL : XWL_VERIFY_WRITTEN;
	wc.c_zero_copy = true;
	wc.c_seed = (unsigned int)getpid();
	wc.c_progress = run_progress;
	wc.c_progress_arg = last;
	wc.c_stop = &cmd_intr;
	if ((rs->rs_gen = calloc(wc.c_span / o->bs, sizeof(uint32_t))) == NULL)
		return (-ENOMEM);
	wc.c_genmap = rs->rs_gen;
	fprintf(stderr,
	    "workload: %s random %ju-byte I/O, %d in flight, "
	    "%.0f s, over %ju MiB, verified\n",
	    ro ? "read-only" : "50/50 read/write", (uintmax_t)o->bs, o->qd,
	    o->seconds, (uintmax_t)(wc.c_span >> 20));
	if ((rc = xwl_run(rs->rs_dev, &wc, &rs->rs_wr)) != 0 || cmd_intr != 0)
		return (rc);
	wc.c_random = false;
	wc.c_read_pct = 100;
	wc.c_runtime = 0;
	wc.c_ops = wc.c_span / o->bs;
	wc.c_flush_every = 0;
	wc.c_progress = NULL;
	if ((rc = xwl_run(rs->rs_dev, &wc, &rs->rs_vr)) != 0)
		return (rc);
	rs->rs_checked = cmd_intr == 0;
	return (0);
}

/* The workload's and the check's figures, as text lines. */
static void
run_report_text(struct run_state *rs)
{
	struct xwl_result *wr = &rs->rs_wr, *vr = &rs->rs_vr;
	FILE *out = rs->rs_txt;
	char buf[8192];
	double secs = wr->r_seconds > 0 ? wr->r_seconds : 1;

	fprintf(out,
	    "workload: %ju I/Os in %.2f s: %ju reads, %ju writes, %ju "
	    "flushes, %.0f IOPS, %.1f MiB/s, mean latency %.1f us, p99 "
	    "%.1f us\n",
	    (uintmax_t)wr->r_ios, wr->r_seconds, (uintmax_t)wr->r_reads,
	    (uintmax_t)wr->r_writes, (uintmax_t)wr->r_flushes,
	    (double)wr->r_ios / secs, (double)wr->r_bytes / secs / (1 << 20),
	    wr->r_ios > 0 ? (double)wr->r_lat_sum_ns / wr->r_ios / 1e3 : 0,
	    (double)xwl_percentile(wr, 0.99) / 1e3);
	fprintf(out,
	    "verify: %ju blocks checked during the run, %ju after it%s, %ju "
	    "bad; %ju I/O errors\n",
	    (uintmax_t)wr->r_verified, (uintmax_t)vr->r_verified,
	    rs->rs_checked ? "" : " (interrupted)",
	    (uintmax_t)(wr->r_bad + vr->r_bad),
	    (uintmax_t)(wr->r_errors + vr->r_errors));
	if (wr->r_bad + vr->r_bad > 0)
		fprintf(out, "verify: first bad block at byte %ju\n",
		    (uintmax_t)(wr->r_bad > 0 ? wr->r_first_bad :
						vr->r_first_bad));
	if (xbd_describe(rs->rs_dev, XBD_FMT_TEXT, buf, sizeof(buf)) > 0)
		fprintf(out, "statistics:\n%s", buf);
	run_backend_stats(xemb_backend(rs->rs_emb), false, out);
}

/* The same as one JSON object on stdout, with the result. */
static void
run_report_json(struct run_state *rs, const char *result)
{
	struct xwl_result *wr = &rs->rs_wr, *vr = &rs->rs_vr;
	char buf[8192];
	double secs = wr->r_seconds > 0 ? wr->r_seconds : 1;

	printf("{\"result\":\"%s\",\"interrupted\":%s", result,
	    cmd_intr != 0 ? "true" : "false");
	if (rs->rs_dev == NULL) {
		printf("}\n");
		return;
	}
	printf(",\"workload\":{\"ios\":%ju,\"seconds\":%.3f,\"reads\":%ju,"
	       "\"writes\":%ju,\"flushes\":%ju,\"iops\":%.1f,\"mib_s\":%.2f,"
	       "\"lat_mean_us\":%.2f,\"lat_p99_us\":%.2f}",
	    (uintmax_t)wr->r_ios, wr->r_seconds, (uintmax_t)wr->r_reads,
	    (uintmax_t)wr->r_writes, (uintmax_t)wr->r_flushes,
	    (double)wr->r_ios / secs, (double)wr->r_bytes / secs / (1 << 20),
	    wr->r_ios > 0 ? (double)wr->r_lat_sum_ns / wr->r_ios / 1e3 : 0,
	    (double)xwl_percentile(wr, 0.99) / 1e3);
	printf(",\"verify\":{\"during\":%ju,\"after\":%ju,\"complete\":%s,"
	       "\"bad\":%ju,\"errors\":%ju}",
	    (uintmax_t)wr->r_verified, (uintmax_t)vr->r_verified,
	    rs->rs_checked ? "true" : "false",
	    (uintmax_t)(wr->r_bad + vr->r_bad),
	    (uintmax_t)(wr->r_errors + vr->r_errors));
	if (xbd_describe(rs->rs_dev, XBD_FMT_JSON, buf, sizeof(buf)) > 0)
		printf(",\"device\":%s", buf);
	run_backend_stats(xemb_backend(rs->rs_emb), true, stdout);
	printf("}\n");
}

/* Detach, stop the machine, remove what we created. */
static void
run_cleanup(struct run_state *rs)
{
	if (rs->rs_dev != NULL) {
		xbd_detach(rs->rs_dev);
		fprintf(stderr, "%s: detached\n", rs->rs_info.xi_name);
		rs->rs_dev = NULL;
	}
	xemb_stop(rs->rs_emb);
	rs->rs_emb = NULL;
	free(rs->rs_gen);
	if (rs->rs_o->keep && rs->rs_created) {
		fprintf(stderr, "xbd run: image kept at %s\n", rs->rs_img);
		return;
	}
	if (rs->rs_created)
		unlink(rs->rs_img);
	if (rs->rs_dir[0] != '\0')
		rmdir(rs->rs_dir);
}

int
cmd_run(int argc, char **argv)
{
	struct run_opts o = { .size = 1ull << 30,
		.seconds = 3,
		.bs = 4096,
		.qd = 32 };
	struct run_state rs = { .rs_o = &o };
	const char *result;
	char msg[512];
	int rc, last = -1, exit_code = CMD_EXIT_FAIL;
	bool ok = false;

	if ((rc = run_parse(argc, argv, &o)) != 0)
		return (rc > 0 ? CMD_EXIT_OK : CMD_EXIT_USAGE);
	/* Keep stdout and stderr lines in the order they happen. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("XBD_VERBOSE") == NULL)
		setenv("XBD_QUIET", "1", 0);
	rs.rs_txt = o.json ? stderr : stdout;
	cmd_intr_install();

	if (o.image != NULL) {
		/* A remote target is only opened: never created, removed. */
		snprintf(rs.rs_img, sizeof(rs.rs_img), "%s", o.image);
		if (strlen(o.image) >= sizeof(rs.rs_img)) {
			fprintf(stderr, "xbd run: %s: name too long\n",
			    o.image);
			return (CMD_EXIT_FAIL);
		}
		if (xbb_params_check(rs.rs_img, !o.destructive,
			XBB_DEF_NBD_TIMEOUT_S, msg, sizeof(msg)) != 0) {
			fprintf(stderr, "xbd run: %s\n", msg);
			return (CMD_EXIT_FAIL);
		}
	} else if (run_image_create(&rs) != 0) {
		goto out;
	}
	if (cmd_intr != 0 || run_machine(&rs) != 0 || cmd_intr != 0 ||
	    run_attach(&rs) != 0 || cmd_intr != 0 ||
	    run_workload(&rs, &last) != 0)
		goto out;
	ok = rs.rs_wr.r_bad + rs.rs_vr.r_bad == 0 &&
	    rs.rs_wr.r_errors + rs.rs_vr.r_errors == 0;
	if (!o.json)
		run_report_text(&rs);
out:
	if (cmd_intr != 0)
		exit_code = CMD_EXIT_SIGNAL + cmd_intr;
	else if (ok)
		exit_code = CMD_EXIT_OK;
	result = cmd_intr != 0 ? "interrupted" : ok ? "ok" : "FAILED";
	if (o.json)
		run_report_json(&rs, result);
	run_cleanup(&rs);
	if (!o.json)
		printf("result: %s\n", result);
	return (exit_code);
}
