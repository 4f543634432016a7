/* version.c - the library version string, set by CMake from the project version. */
#include "attncast/attncast.h"

#ifndef ATTNCAST_VERSION
#error "ATTNCAST_VERSION must be defined by the build"
#endif

const char *ac_version(void) {
    return ATTNCAST_VERSION;
}
