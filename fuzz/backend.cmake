# SPDX-License-Identifier: BSD-2-Clause
# Fuzz targets of the backend component (included from fuzz/CMakeLists.txt).

xbd_fuzz(NAME fuzz_xbb_req SOURCES fuzz_xbb_req.c LIBS xbd_back
    LABELS backend)

# The backend's XenBus state machine against hostile frontend nodes.
if(TARGET xbd_sim)
	xbd_fuzz(NAME fuzz_xbus_back SOURCES fuzz_xbus_back.c fz_sim.c
	    LIBS xbd_back xbd_front xbd_sim xbd_xbus LABELS backend)
	target_include_directories(fuzz_xbus_back PRIVATE
	    ${PROJECT_SOURCE_DIR}/tests)
endif()
