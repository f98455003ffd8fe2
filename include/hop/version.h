/* hop/version.h: the library's version, at compile time and at run time. */
#ifndef HOP_VERSION_H
#define HOP_VERSION_H

#include "hop/common.h"

#define HOP_VERSION_MAJOR 0
#define HOP_VERSION_MINOR 1
#define HOP_VERSION_PATCH 0
#define HOP_VERSION_HEX ((HOP_VERSION_MAJOR << 16) | (HOP_VERSION_MINOR << 8) | HOP_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* hop_version: HOP_VERSION_HEX of the library actually linked. Any thread. */
HOP_EXTERN unsigned int hop_version(void);

/* hop_version_string: "MAJOR.MINOR.PATCH" of the linked library. Any thread. */
HOP_EXTERN const char *hop_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* HOP_VERSION_H */
