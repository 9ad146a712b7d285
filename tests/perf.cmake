# SPDX-License-Identifier: BSD-2-Clause
# The performance gates (included from tests/CMakeLists.txt): counters
# that do not depend on machine load -- notifications, grant operations,
# copies and heap allocations per request -- measured with the workload
# engine of `xbd bench`.  Allocations are counted by wrapping the
# allocator at link time.

if(TARGET xbdt)
	xbd_test(NAME test_perf_counters
	    SOURCES integ/test_perf_counters.c
	    ${PROJECT_SOURCE_DIR}/tools/xbd/xwl.c
	    LIBS xbdt LABELS "integ;perf" TIMEOUT 300)
	target_include_directories(test_perf_counters PRIVATE
	    ${PROJECT_SOURCE_DIR}/tools/xbd)
	target_link_options(test_perf_counters PRIVATE
	    -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc
	    -Wl,--wrap=aligned_alloc -Wl,--wrap=posix_memalign)
endif()
