#!/usr/bin/env bash
# peers.sh - performance anchors for a userspace blkif (Xen PV block) transport.
#
# In one run, with fio, on this machine:
#   limits : a file on /dev/shm read/written directly (psync, io_uring)
#   peers  : the same size served over NBD on unix sockets (nbdkit null /
#            memory / file, qemu-nbd with aio=threads and aio=io_uring),
#            driven by fio's nbd ioengine (libnbd)
#   xbd    : the same image through the Xen PV block protocol with
#            `xbd bench` (same rw/bs/iodepth/runtime/ramp): target xbd is
#            the embedded machine (frontend, simulated hypervisor and
#            io_uring backend in one process); xbd-mp runs the backend as
#            its own process (`xbd hv` + `xbd serve`), like an NBD server
#   storage: (only when named in TARGETS) network storage behind xbd
#            against fio's own engine on the same storage: fio-rbd (fio's
#            rbd engine, librbd) and xbd-rbd (`xbd bench --image rbd:...`)
#            on one RBD image of a single-node Ceph cluster, and xbd-nbd
#            (`xbd bench --image nbd+unix://...`) on the nbdkit-memory
#            server that fio's nbd engine drives as target nbdkit-memory
#   micro  : single-thread memcpy bandwidth; eventfd ping-pong round trips
#            between threads and processes; busy-poll round trip; bare syscall
# plus a record of the machine load (another process may be competing for the
# 2 cores), measured around every fio run.
#
# All servers are started first and stay up; the loop is workload-major
# (for each workload, every target in turn), so a change in background load
# hits all targets of a workload alike and the ratios between them stay
# meaningful. Each file-serving target has its own copy of the image.
#
# Output (in $OUT, default /tmp/peers-YYYYmmdd-HHMMSS):
#   table.txt     compact table: IOPS, MiB/s, mean/p99 latency (us), CPU us/IO,
#                 background load, IOPS ratio to direct access (median of REPEAT)
#   results.json  machine-readable: meta, micro benchmarks, one record per fio run
#   fio/*.json    raw fio output
#
# Usage:
#   bench/peers.sh                       # full run (~3.5 min per REPEAT)
#   RUNTIME=5 REPEAT=3 TARGETS="uring-file nbdkit-file" bench/peers.sh
#   bench/peers.sh --compare A/results.json B/results.json   # spread of runs
#   bench/peers.sh --table RUN_DIR       # re-render table.txt of a finished run
#   bench/peers.sh --goals RUN_DIR       # the xbd goal ratios of a finished run
#
# Environment knobs:
#   RUNTIME (s, default 3)  RAMP (s, default 1)  SIZE_MB (default 256)
#   REPEAT  sweeps over all workloads x targets (default 1); table shows medians
#   TARGETS   default: psync-file uring-file nbdkit-null nbdkit-memory
#                      nbdkit-file qemu-nbd qemu-nbd-uring xbd xbd-mp
#             storage: fio-rbd xbd-rbd nbdkit-memory xbd-nbd (with
#                      WORKLOADS="rr4k-qd32 rw4k-qd32 sr1m-qd8 sw1m-qd8")
#   CEPH_CONF the cluster of fio-rbd/xbd-rbd (default: a new one in the
#             work directory, scripts/ceph-cluster.sh, removed at the end);
#             the image is xbd/peers-PID in pool xbd, removed at the end
#   XBD       the xbd binary (default: build/release/tools/xbd/xbd)
#   MICRO_SRC where copy_bw.c and notify_rtt.c are (default: bench/micro)
#   WORKLOADS default: rr4k-qd1 rr4k-qd32 rw4k-qd32 rr64k-qd16 sr1m-qd8 sw1m-qd8
#   OUT       output directory
#   IMG_DIR   where the image files live (default /dev/shm, tmpfs)
#   SKIP_MICRO=1 to skip the memcpy/eventfd micro benchmarks
#
# Needs: bash, fio (io_uring + nbd engines; rbd engine for fio-rbd), nbdkit, libnbd-bin (nbdcopy),
#        qemu-utils (qemu-nbd), jq, cc.  Debian:
#   apt-get install -y fio nbdkit libnbd-bin qemu-utils jq gcc
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Render the compact table of a finished run directory (meta.txt + results.json).
# With REPEAT > 1 each row is the repetition with the median IOPS.
render_table() {
    local dir=$1
    cat "$dir/meta.txt"
    echo
    jq -r '
      def r0: round; def r1: (. * 10 | round) / 10;
      def median_row: sort_by(.iops) | .[(length - 1) / 2 | floor];
      def first_seen: reduce .[] as $x ([]; if index([$x]) then . else . + [$x] end);
      . as $root
      | ($root.results | map(.workload) | first_seen) as $w_order
      | ($root.results | map(.target) | first_seen) as $t_order
      # one row per (workload, target), workload-major, in the order they ran
      | ($root.results | group_by(.target + "/" + .workload) | map(median_row)
                | sort_by((.workload as $w | $w_order | index([$w])),
                          (.target as $t | $t_order | index([$t])))) as $rows
      # reference: best direct access (psync or io_uring on the file) per workload
      | ($rows | map(select(.target == "uring-file" or .target == "psync-file"))
               | group_by(.workload)
               | map({key: .[0].workload, value: (map(.iops) | max)}) | from_entries) as $best
      | ($rows | map(select(.target == "uring-file"))
               | map({key: .workload, value: .iops}) | from_entries) as $uring
      | ["target", "workload", "QD", "n", "IOPS", "MiB/s", "mean_us", "p99_us",
         "cpu_us/IO", "other_cores", "x_direct", "x_uring"],
        ($rows[] | . as $r
         | [.target, .workload, .qd,
            ([$root.results[] | select(.target == $r.target and .workload == $r.workload)] | length),
            (.iops | r0), (.mib_s | r1), (.lat_mean_us | r1), (.lat_p99_us | r1),
            (if .cpu_us_per_io then (.cpu_us_per_io | r1) else "-" end),
            .other_cores,
            (if ($best[.workload] // 0) > 0 then (.iops / $best[.workload] * 100 | r0 / 100) else "-" end),
            (if ($uring[.workload] // 0) > 0 then (.iops / $uring[.workload] * 100 | r0 / 100) else "-" end)])
      | @tsv' "$dir/results.json" | column -t
    echo
    echo "n         = repetitions; the row shown is the one with the median IOPS"
    echo "x_direct  = IOPS / best of (psync, io_uring) on the file, same workload"
    echo "x_uring   = IOPS / io_uring on the file, same workload"
    echo "cpu_us/IO = (fio + server CPU s) / wall s * 1e6 / IOPS (upper bound; 2 cores max)"
    echo "other_cores = cores busy with anything but fio and the server during the run"
    echo "psync is synchronous: its QD column is the effective depth (1), whatever the workload name says"
    echo
    echo "micro benchmarks:"
    jq -r '.micro.memcpy[] | "  \(.case): \(.GiB_s) GiB/s, \(.ns_per_copy) ns per \(.block_bytes)-byte copy"' "$dir/results.json"
    jq -r '.micro.notify[] | "  \(.case): mean \(.mean_ns) ns" + (if .p50_ns then ", p50 \(.p50_ns) ns, p99 \(.p99_ns) ns (\(.roundtrips) round trips)" else "" end)' "$dir/results.json"
}

# The project's goals (docs/performance.md, docs/storage.md): each ratio
# is computed within one repetition, then the median over repetitions is
# compared with the goal.  Rows whose targets did not run are left out.
render_goals() {
    jq -r '
      def r2: (. * 100 | round) / 100;
      def med: sort | if length % 2 == 1 then .[(length - 1) / 2]
                      else (.[length / 2 - 1] + .[length / 2]) / 2 end;
      .results as $res
      | ["xbd", "xbd-mp"] as $local
      | [[$local, "rr4k-qd32", "iops", "nbdkit-file", ">=", 3],
         [$local, "rr4k-qd32", "iops", "uring-file", ">=", 0.6],
         [$local, "rw4k-qd32", "iops", "nbdkit-file", ">=", 3],
         [$local, "rr4k-qd1", "lat_mean_us", "nbdkit-file", "<=", 0.3],
         [$local, "rr64k-qd16", "iops", "nbdkit-file", ">=", 3],
         [$local, "sr1m-qd8", "iops", "uring-file", ">=", 0.8],
         [$local, "sw1m-qd8", "iops", "uring-file", ">=", 0.8],
         (("rr4k-qd32", "rw4k-qd32", "sr1m-qd8", "sw1m-qd8") as $w
          | [["xbd-rbd"], $w, "iops", "fio-rbd", ">=", 0.8],
            [["xbd-nbd"], $w, "iops", "nbdkit-memory", ">=", 0.8])] as $goals
      | ["target", "workload", "quantity", "reference", "goal",
         "per_repetition", "median", "met"],
        ($goals[] as [$ts, $wl, $f, $ref, $op, $g]
         | $ts[] as $t
         | [$res[] | select(.workload == $wl and .target == $t)] as $mine
         | select(($mine | length) > 0)
         | [$mine[] | .rep as $rep | .[$f] as $v
            | ($res[] | select(.workload == $wl and .target == $ref and .rep == $rep) | .[$f]) as $rv
            | select($rv != null and $rv > 0) | $v / $rv] as $x
         | select(($x | length) > 0)
         | ($x | med) as $m
         | [$t, $wl, $f, $ref, "\($op)\($g)", ($x | map(r2) | map(tostring) | join(",")),
            ($m | r2), (if ($op == ">=" and $m >= $g) or ($op == "<=" and $m <= $g) then "yes" else "NO" end)])
      | @tsv' "$1/results.json" | column -t
}

# ---------------------------------------------------------------- table mode
if [[ "${1:-}" == "--table" ]]; then
    [[ $# -eq 2 ]] || { echo "usage: $0 --table RUN_DIR" >&2; exit 2; }
    render_table "$2"
    exit 0
fi

# ---------------------------------------------------------------- goals mode
if [[ "${1:-}" == "--goals" ]]; then
    [[ $# -eq 2 ]] || { echo "usage: $0 --goals RUN_DIR" >&2; exit 2; }
    render_goals "$2"
    exit 0
fi

# ---------------------------------------------------------------- compare mode
if [[ "${1:-}" == "--compare" ]]; then
    shift
    [[ $# -ge 2 ]] || { echo "usage: $0 --compare A.json B.json [C.json...]" >&2; exit 2; }
    echo "per (target, workload) over all runs and repetitions: IOPS median/min/max,"
    echo "spread = (max-min)/min, and x_direct (IOPS / best of psync,io_uring in the"
    echo "same run and repetition) as median [min-max]"
    jq -s -r '
      def r1: (. * 10 | round) / 10;
      def r2: (. * 100 | round) / 100;
      def med: sort | .[(length - 1) / 2 | floor];
      def first_seen: reduce .[] as $x ([]; if index([$x]) then . else . + [$x] end);
      # tag every record with its run and its ratio to direct access in that run
      ([to_entries[] | .key as $f | .value.results
        | (map(select(.target == "psync-file" or .target == "uring-file"))
           | group_by(.workload + "/" + ((.rep // 1) | tostring))
           | map({key: (.[0].workload + "/" + ((.[0].rep // 1) | tostring)),
                  value: (map(.iops) | max)}) | from_entries) as $best
        | .[] | . + {run: $f,
                     x_direct: (($best[.workload + "/" + ((.rep // 1) | tostring)] // 0) as $b
                                | if $b > 0 then .iops / $b else null end)}]) as $all
      | ($all | map(.workload) | first_seen) as $w_order
      | ($all | map(.target) | first_seen) as $t_order
      | ["target", "workload", "n", "iops_med", "iops_min", "iops_max", "spread%",
         "x_direct_med", "x_direct_range", "p99_med_us"],
        ($all | group_by(.target + "/" + .workload)
         | sort_by((.[0].workload as $w | $w_order | index([$w])),
                   (.[0].target as $t | $t_order | index([$t])))[]
         | select(length >= 2)
         | (map(.iops) | min) as $lo | (map(.iops) | max) as $hi
         | (map(.x_direct // empty)) as $x
         | [.[0].target, .[0].workload, length, (map(.iops) | med | round),
            ($lo | round), ($hi | round),
            (if $lo > 0 then (($hi - $lo) / $lo * 100 | r1) else "-" end),
            (if ($x | length) > 0 then ($x | med | r2) else "-" end),
            (if ($x | length) > 0 then "\(($x | min | r2))-\(($x | max | r2))" else "-" end),
            (map(.lat_p99_us) | med | r1)])
      | @tsv' "$@" | column -t
    echo
    echo "micro benchmarks (min / max across runs):"
    jq -s -r '
      (map(.micro.memcpy + .micro.notify) | add) | group_by(.case)[]
      | (if .[0].GiB_s != null then "GiB_s" else "mean_ns" end) as $k
      | [.[0].case, $k, (map(.[$k]) | min), (map(.[$k]) | max)] | @tsv' "$@" | column -t
    echo
    echo "load (1/5/15-min loadavg at start and end of each run):"
    jq -r '[input_filename, .meta.load_start, .meta.load_end] | @tsv' "$@"
    exit 0
fi

RUNTIME=${RUNTIME:-3}
RAMP=${RAMP:-1}
SIZE_MB=${SIZE_MB:-256}
REPEAT=${REPEAT:-1}
TARGETS=${TARGETS:-"psync-file uring-file nbdkit-null nbdkit-memory nbdkit-file qemu-nbd qemu-nbd-uring xbd xbd-mp"}
XBD=${XBD:-$HERE/../build/release/tools/xbd/xbd}
MICRO_SRC=${MICRO_SRC:-$HERE/micro}
WORKLOADS=${WORKLOADS:-"rr4k-qd1 rr4k-qd32 rw4k-qd32 rr64k-qd16 sr1m-qd8 sw1m-qd8"}
OUT=${OUT:-/tmp/peers-$(date +%Y%m%d-%H%M%S)}
IMG_DIR=${IMG_DIR:-/dev/shm}
SKIP_MICRO=${SKIP_MICRO:-0}

for t in fio jq cc; do
    command -v "$t" >/dev/null || { echo "missing $t (apt-get install -y fio nbdkit libnbd-bin qemu-utils jq gcc)" >&2; exit 1; }
done

mkdir -p "$OUT/fio"
WORK=$(mktemp -d /tmp/peers-work.XXXXXX)
IMG=$IMG_DIR/peers-$$.img          # used by psync-file and uring-file
declare -A SRV_PID=()              # target -> server pid
declare -A SRV_SOCK=()             # target -> unix socket
declare -A SRV_IMG=()              # target -> its own image copy

cleanup() {
    local t
    for t in "${!SRV_PID[@]}"; do
        kill "${SRV_PID[$t]}" 2>/dev/null || true
        wait "${SRV_PID[$t]}" 2>/dev/null || true
    done
    if [[ -n "${RBD_IMG:-}" ]]; then
        rbd -c "$CEPH_CONF" rm "$RBD_IMG" >/dev/null 2>&1 || true
    fi
    if [[ -n "${CEPH_OWN:-}" ]]; then
        "$HERE/../scripts/ceph-cluster.sh" stop "$CEPH_OWN" || true
    fi
    if [[ -n "${XBD_HV:-}" ]]; then
        kill "$XBD_HV" 2>/dev/null || true
        wait "$XBD_HV" 2>/dev/null || true
    fi
    rm -f "$IMG" "$IMG_DIR"/peers-$$-*.img
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[peers %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# Busy ticks of the whole machine (user nice system irq softirq steal).
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }
# utime+stime of a process (all its threads, live and exited), in ticks.
proc_ticks() {
    [[ -n "${1:-}" && -r /proc/$1/stat ]] || { echo 0; return; }
    # strip "pid (comm) " first: comm may contain spaces
    sed 's/^[0-9]* (.*) //' "/proc/$1/stat" | awk '{print $12+$13}'
}
HZ=$(getconf CLK_TCK)

# Snapshot of what else runs here (another job may run QEMU/TCG).
others_snapshot() {
    ps -eo pid,pcpu,etime,comm --sort=-pcpu | head -6 | sed 's/^/  /'
}

# ------------------------------------------------------------------ workloads
# name -> "rw bs iodepth"
declare -A WL=(
    [rr4k-qd1]="randread 4k 1"
    [rr4k-qd32]="randread 4k 32"
    [rw4k-qd32]="randwrite 4k 32"
    [rr64k-qd16]="randread 64k 16"
    [sr1m-qd8]="read 1m 8"
    [sw1m-qd8]="write 1m 8"
)

# ------------------------------------------------------------------ servers
wait_sock() {  # $1 socket, $2 pid
    for _ in $(seq 200); do
        [[ -S "$1" ]] && return 0
        kill -0 "$2" 2>/dev/null || { log "server died"; return 1; }
        sleep 0.05
    done
    log "socket $1 did not appear"; return 1
}

# The RBD image of fio-rbd and xbd-rbd, once: on $CEPH_CONF, or on a
# cluster of our own; filled with the image's data, so that reads are of
# objects that exist.
RBD_IMG=
rbd_setup() {
    [[ -z "$RBD_IMG" ]] || return 0
    if [[ -z "${CEPH_CONF:-}" ]]; then
        CEPH_OWN=$WORK/ceph
        CEPH_CONF=$("$HERE/../scripts/ceph-cluster.sh" start "$CEPH_OWN") ||
            { log "no Ceph cluster (scripts/ceph-cluster.sh)"; return 1; }
    fi
    rbd -c "$CEPH_CONF" import --no-progress "$IMG" "xbd/peers-$$" || return 1
    RBD_IMG=xbd/peers-$$
}

# xbd-nbd shares the nbdkit-memory server fio's nbd engine drives.
start_storage() {  # $1 = target
    case "$1" in
        fio-rbd|xbd-rbd) rbd_setup ;;
        xbd-nbd)
            [[ -n "${SRV_SOCK[nbdkit-memory]:-}" ]] || start_server nbdkit-memory || return 1
            SRV_SOCK[xbd-nbd]=${SRV_SOCK[nbdkit-memory]} ;;
    esac
}

start_server() {  # $1 = target; records pid/socket/image, nothing for local targets
    local t=$1 sock=$WORK/$1.sock img=$IMG_DIR/peers-$$-$1.img pid
    [[ -z "${SRV_PID[$t]:-}" ]] || return 0   # already up (xbd-nbd's)
    case "$t" in
        psync-file|uring-file) return 0 ;;
        fio-rbd|xbd-rbd|xbd-nbd) start_storage "$t"; return ;;
        nbdkit-file|qemu-nbd|qemu-nbd-uring|xbd|xbd-mp) cp "$IMG" "$img"; SRV_IMG[$t]=$img ;;
    esac
    case "$t" in
        xbd) [[ -x "$XBD" ]] || { log "no $XBD (make release)"; return 1; }; return 0 ;;
        xbd-mp)
            [[ -x "$XBD" ]] || { log "no $XBD (make release)"; return 1; }
            # The frontend domain outlives each bench run: --domain.
            "$XBD" hv --dir "$WORK/xbd-m" --domain 2:guest >"$WORK/xbd-hv.log" 2>&1 & XBD_HV=$!
            wait_sock "$WORK/xbd-m/socket" "$XBD_HV" || return 1
            "$XBD" serve --dir "$WORK/xbd-m" --domid 1 --name storage --quiet \
                --image "$img" --frontend 2 --vdev xvda >"$WORK/xbd-serve.log" 2>&1 & pid=$!
            for _ in $(seq 100); do
                grep -q 'serving as domain' "$WORK/xbd-serve.log" 2>/dev/null && break
                sleep 0.05
            done
            SRV_PID[$t]=$pid
            return 0 ;;
    esac
    case "$t" in
        nbdkit-null)    nbdkit -U "$sock" -f --exit-with-parent null "${SIZE_MB}M" & pid=$! ;;
        nbdkit-memory)  nbdkit -U "$sock" -f --exit-with-parent memory "${SIZE_MB}M" & pid=$! ;;
        nbdkit-file)    nbdkit -U "$sock" -f --exit-with-parent file "$img" & pid=$! ;;
        qemu-nbd)       qemu-nbd -k "$sock" -f raw -t --aio=threads "$img" & pid=$! ;;
        qemu-nbd-uring) qemu-nbd -k "$sock" -f raw -t --aio=io_uring "$img" & pid=$! ;;
        *) log "unknown target $t"; return 1 ;;
    esac
    SRV_PID[$t]=$pid
    SRV_SOCK[$t]=$sock
    wait_sock "$sock" "$pid" || return 1
    if [[ "$t" == nbdkit-memory ]]; then
        # fill it so reads return real data, not the sparse allocator's zeros
        nbdcopy "$IMG" "nbd+unix:///?socket=$sock"
    fi
}

# ------------------------------------------------------------------ one fio run
RESULTS=$WORK/results.jsonl
: > "$RESULTS"

run_fio() {  # $1 target, $2 workload, $3 repetition, $4 target index, $5 workload index
    local target=$1 wl=$2 rep=$3 tidx=$4 widx=$5 rw bs qd engine
    case "$target" in xbd|xbd-mp|xbd-rbd|xbd-nbd) run_xbd "$@"; return 0 ;; esac
    read -r rw bs qd <<<"${WL[$wl]}"
    local out="$OUT/fio/$target.$wl.$rep.json"
    local args=(--name="$wl" --rw="$rw" --bs="$bs" --iodepth="$qd"
                --size="${SIZE_MB}M" --time_based --runtime="$RUNTIME"
                --ramp_time="$RAMP" --lat_percentiles=1 --norandommap
                --randrepeat=0 --output-format=json --output="$out")
    case "$target" in
        psync-file) engine=psync; args+=(--ioengine=psync --filename="$IMG") ;;
        uring-file) engine=io_uring; args+=(--ioengine=io_uring --filename="$IMG") ;;
        fio-rbd)    engine=rbd; args+=(--ioengine=rbd --clientname=admin
                        --pool="${RBD_IMG%/*}" --rbdname="${RBD_IMG#*/}") ;;
        *)          engine=nbd; args+=(--ioengine=nbd --uri="nbd+unix:///?socket=${SRV_SOCK[$target]}") ;;
    esac
    local spid=${SRV_PID[$target]:-}
    local b0 s0 b1 s1 t0 t1 fio_cpu
    b0=$(busy_ticks); s0=$(proc_ticks "$spid"); t0=$(date +%s.%N)
    local TIMEFORMAT='%U %S'
    fio_cpu=$( { time CEPH_CONF=${CEPH_CONF:-} fio "${args[@]}" >"$WORK/fio.out" 2>"$WORK/fio.err"; } 2>&1 ) || {
        log "fio failed for $target/$wl:"; cat "$WORK/fio.err" >&2; return 0; }
    t1=$(date +%s.%N); b1=$(busy_ticks); s1=$(proc_ticks "$spid")
    local eff_qd=$qd
    [[ $engine == psync ]] && eff_qd=1   # synchronous engine: one I/O in flight
    jq -c --arg target "$target" --arg wl "$wl" --arg engine "$engine" \
          --arg rw "$rw" --arg bs "$bs" --argjson qd "$eff_qd" \
          --argjson rep "$rep" --argjson tidx "$tidx" --argjson widx "$widx" \
          --argjson wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')" \
          --argjson fio_cpu "$(echo "$fio_cpu" | awk '{printf "%.3f", $1+$2}')" \
          --argjson srv_cpu "$(awk -v a="$s0" -v b="$s1" -v hz="$HZ" 'BEGIN{printf "%.3f", (b-a)/hz}')" \
          --argjson busy "$(awk -v a="$b0" -v b="$b1" -v hz="$HZ" 'BEGIN{printf "%.3f", (b-a)/hz}')" \
          --argjson load "$(cut -d' ' -f1 /proc/loadavg)" '
        .jobs[0] as $j
        | (if ($rw | test("read")) then $j.read else $j.write end) as $d
        | {target: $target, workload: $wl, engine: $engine, rw: $rw, bs: $bs,
           qd: $qd, rep: $rep, tidx: $tidx, widx: $widx,
           iops: $d.iops, mib_s: ($d.bw_bytes / 1048576),
           lat_mean_us: ($d.lat_ns.mean / 1000),
           lat_p50_us: (($d.lat_ns.percentile["50.000000"] // 0) / 1000),
           lat_p99_us: (($d.lat_ns.percentile["99.000000"] // 0) / 1000),
           ctx_switches: $j.ctx,
           wall_s: $wall, fio_cpu_s: $fio_cpu, srv_cpu_s: $srv_cpu,
           # CPU time (client+server) per I/O; wall includes fio start-up,
           # so this is an upper bound, comparable between targets
           cpu_us_per_io: (if $d.iops > 0 then
               (($fio_cpu + $srv_cpu) / $wall) * 1e6 / $d.iops else null end),
           # cores busy with something other than fio and the server
           other_cores: ((($busy - $fio_cpu - $srv_cpu) / $wall) * 100 | round / 100),
           load1: $load}' "$out" >> "$RESULTS"
}

# ------------------------------------------------------------------ one xbd run
# `xbd bench` with fio's parameters; its JSON becomes a record of the same
# shape.  Its CPU time is the whole process (frontend, and in the embedded
# case the backend too); xbd-mp adds the backend and hypervisor processes.
run_xbd() {  # $1 target, $2 workload, $3 repetition, $4 target index, $5 workload index
    local target=$1 wl=$2 rep=$3 tidx=$4 widx=$5 rw bs qd
    read -r rw bs qd <<<"${WL[$wl]}"
    local out="$OUT/fio/$target.$wl.$rep.json"
    local args=(bench --json --rw "$rw" --bs "$bs" --iodepth "$qd"
                --runtime "$RUNTIME" --ramp "$RAMP")
    if [[ $target == xbd ]]; then
        args+=(--image "${SRV_IMG[$target]}")
    elif [[ $target == xbd-rbd ]]; then
        args+=(--image "rbd:$RBD_IMG:conf=$CEPH_CONF")
    elif [[ $target == xbd-nbd ]]; then
        args+=(--image "nbd+unix:///?socket=${SRV_SOCK[$target]}")
    else
        args+=(--dir "$WORK/xbd-m" --domid 2 --vbd xvda)
    fi
    local spid=${SRV_PID[$target]:-} b0 b1 s0 s1 h0 h1 t0 t1
    b0=$(busy_ticks); s0=$(proc_ticks "$spid"); h0=$(proc_ticks "${XBD_HV:-}")
    t0=$(date +%s.%N)
    "$XBD" "${args[@]}" >"$out" 2>"$WORK/xbd.err" || {
        log "xbd bench failed for $target/$wl:"; cat "$WORK/xbd.err" >&2; return 0; }
    t1=$(date +%s.%N); b1=$(busy_ticks); s1=$(proc_ticks "$spid"); h1=$(proc_ticks "${XBD_HV:-}")
    [[ $target == xbd ]] && h1=$h0
    jq -c --arg target "$target" --arg wl "$wl" --arg rw "$rw" --arg bs "$bs" \
          --argjson qd "$qd" --argjson rep "$rep" --argjson tidx "$tidx" --argjson widx "$widx" \
          --argjson wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')" \
          --argjson srv_cpu "$(awk -v a="$s0" -v b="$s1" -v c="$h0" -v d="$h1" -v hz="$HZ" 'BEGIN{printf "%.3f", (b-a+d-c)/hz}')" \
          --argjson busy "$(awk -v a="$b0" -v b="$b1" -v hz="$HZ" 'BEGIN{printf "%.3f", (b-a)/hz}')" \
          --argjson load "$(cut -d' ' -f1 /proc/loadavg)" '
        {target: $target, workload: $wl, engine: "xbd", rw: $rw, bs: $bs,
         qd: $qd, rep: $rep, tidx: $tidx, widx: $widx,
         iops: .iops, mib_s: .mib_s, lat_mean_us: .lat_mean_us,
         lat_p50_us: .lat_p50_us, lat_p99_us: .lat_p99_us,
         wall_s: $wall, fio_cpu_s: .cpu_s, srv_cpu_s: $srv_cpu,
         # the measured window only (no start-up), both ends
         cpu_us_per_io: (if .ios > 0 then (.cpu_s + $srv_cpu * .runtime / $wall) * 1e6 / .ios else null end),
         notify_per_req: .notify_per_req, copies_per_byte: .copies_per_byte,
         grant_ops_per_req: .grant_ops_per_req,
         other_cores: ((($busy - .cpu_s - $srv_cpu) / $wall) * 100 | round / 100),
         load1: $load}' "$out" >> "$RESULTS"
}

# ------------------------------------------------------------------ micro
MICRO_MEMCPY='[]'
MICRO_NOTIFY='[]'
run_micro() {
    log "building micro benchmarks"
    cc -O2 -o "$WORK/memcpy_bw" "$MICRO_SRC/copy_bw.c"
    cc -O2 -pthread -o "$WORK/eventfd_pingpong" "$MICRO_SRC/notify_rtt.c"
    log "memcpy bandwidth"
    MICRO_MEMCPY=$("$WORK/memcpy_bw" 1 "$SIZE_MB" | jq -s -c .)
    log "eventfd / busy-poll round trips"
    MICRO_NOTIFY=$("$WORK/eventfd_pingpong" 100000 2 | jq -s -c .)
}

# ------------------------------------------------------------------ main
LOAD_START=$(loadavg)
log "output: $OUT"
log "loadavg at start: $LOAD_START"
{
    echo "date: $(date -Is)"
    echo "host: $(uname -srm), $(nproc) cpus, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
    echo "fio: $(fio --version); nbdkit: $(nbdkit --version 2>/dev/null | head -1); qemu-nbd: $(qemu-nbd --version 2>/dev/null | head -1)"
    echo "runtime=${RUNTIME}s ramp=${RAMP}s size=${SIZE_MB}MiB repeat=$REPEAT images in $IMG_DIR ($(stat -f -c %T "$IMG_DIR"))"
    echo "loadavg at start: $LOAD_START"
    echo "top processes at start:"
    others_snapshot
    QEMU_PROCS=$(pgrep -a 'qemu-system' | cut -c1-120 || true)
    echo "qemu-system processes at start: ${QEMU_PROCS:-none}"
} > "$OUT/meta.txt"
QEMU_START=$(pgrep -c 'qemu-system' || true)

[[ "$SKIP_MICRO" == 1 ]] || run_micro

log "creating ${SIZE_MB} MiB image $IMG"
dd if=/dev/urandom of="$IMG" bs=1M count="$SIZE_MB" status=none

ACTIVE=()
for target in $TARGETS; do
    if start_server "$target"; then
        ACTIVE+=("$target")
    else
        log "skipping $target"
    fi
done
log "targets up: ${ACTIVE[*]}"

for rep in $(seq "$REPEAT"); do
    widx=0
    for wl in $WORKLOADS; do
        log "rep $rep/$REPEAT workload $wl"
        tidx=0
        for target in "${ACTIVE[@]}"; do
            run_fio "$target" "$wl" "$rep" "$tidx" "$widx"
            tidx=$((tidx + 1))
        done
        widx=$((widx + 1))
    done
done

LOAD_END=$(loadavg)
QEMU_END=$(pgrep -c 'qemu-system' || true)
{
    echo "loadavg at end: $LOAD_END"
    echo "top processes at end:"
    others_snapshot
} >> "$OUT/meta.txt"

# ------------------------------------------------------------------ JSON
jq -s -c \
   --arg date "$(date -Is)" --arg host "$(uname -srm)" --argjson ncpu "$(nproc)" \
   --arg load_start "$LOAD_START" --arg load_end "$LOAD_END" \
   --argjson qemu_start "${QEMU_START:-0}" --argjson qemu_end "${QEMU_END:-0}" \
   --argjson runtime "$RUNTIME" --argjson size_mb "$SIZE_MB" --argjson repeat "$REPEAT" \
   --arg img_dir "$IMG_DIR" \
   --argjson memcpy "$MICRO_MEMCPY" --argjson notify "$MICRO_NOTIFY" '
   {meta: {date: $date, host: $host, ncpu: $ncpu, runtime_s: $runtime,
           size_mb: $size_mb, repeat: $repeat, img_dir: $img_dir,
           load_start: $load_start, load_end: $load_end,
           qemu_system_procs_start: $qemu_start, qemu_system_procs_end: $qemu_end},
    micro: {memcpy: $memcpy, notify: $notify},
    results: .}' "$RESULTS" > "$OUT/results.json"

# ------------------------------------------------------------------ table
{
    render_table "$OUT"
    echo
    echo "goals (ratios of IOPS or latency to the reference, per repetition):"
    render_goals "$OUT"
} > "$OUT/table.txt"
cat "$OUT/table.txt"
log "done: $OUT/table.txt $OUT/results.json"
