/* src/core/version.c: the version of the library actually linked. */
#include "hop/version.h"

#define HOP__STRINGIFY_(x) #x
#define HOP__STRINGIFY(x) HOP__STRINGIFY_(x)

unsigned int hop_version(void) { return HOP_VERSION_HEX; }

const char *hop_version_string(void) {
    return HOP__STRINGIFY(HOP_VERSION_MAJOR) "." HOP__STRINGIFY(HOP_VERSION_MINOR) "." HOP__STRINGIFY(
        HOP_VERSION_PATCH);
}
