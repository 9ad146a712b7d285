# SPDX-License-Identifier: BSD-2-Clause
# Tests of the cli component (included from tests/CMakeLists.txt).
