# SPDX-License-Identifier: BSD-2-Clause
# Tests of the frontend component (included from tests/CMakeLists.txt).

if(TARGET xbd_sim)
	xbd_test(NAME test_xbd_queue SOURCES unit/test_xbd_queue.c
	    LIBS xbd_front LABELS "unit;frontend" TIMEOUT 30)
endif()

if(TARGET xbd_sim AND TARGET xbd_back)
	add_library(xbdt STATIC integ/xbdt.c integ/xbdt_wl.c)
	target_link_libraries(xbdt PUBLIC xbd_embed
	    PRIVATE xbd_warnings)
	target_include_directories(xbdt PUBLIC ${PROJECT_SOURCE_DIR}/tests)
	xbd_test(NAME test_xbd_e2e SOURCES integ/test_xbd_e2e.c LIBS xbdt
	    LABELS "integ;frontend" TIMEOUT 300)
endif()

if(TARGET xbd_sim)
	xbd_test(NAME test_xbd_hostile
	    SOURCES integ/test_xbd_hostile.c integ/hostile.c integ/hfix.c
	    LIBS xbd_front LABELS "integ;frontend;hardening" TIMEOUT 300)
endif()

# The backend killed and restarted under a running workload (processes).
if(TARGET xbd_sim AND TARGET xbd_back)
	xbd_test(NAME test_xbd_recovery
	    SOURCES integ/test_xbd_recovery.c integ/xbdt_wl.c
	    LIBS xbd_front ARGS $<TARGET_FILE:xbd>
	    LABELS "integ;frontend;hardening" TIMEOUT 180)
endif()

# Races on shared memory and peeks into granted pages by a hostile backend.
if(TARGET xbd_sim)
	xbd_test(NAME test_xbd_hostile_io
	    SOURCES integ/test_xbd_hostile_io.c integ/hostile.c integ/hfix.c
	    LIBS xbd_front LABELS "integ;frontend;hardening" TIMEOUT 300)
endif()
