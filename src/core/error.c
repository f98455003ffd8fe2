/* src/core/error.c: hop_strerror and hop_err_name, generated from HOP_ERRNO_MAP. */
#include "hop/error.h"

const char *hop_strerror(int error) {
    switch (error) {
    case 0:
        return "success";
#define HOP__STRERROR_CASE(name, value, message) \
    case HOP_##name:                             \
        return message;
        HOP_ERRNO_MAP(HOP__STRERROR_CASE)
#undef HOP__STRERROR_CASE
    default:
        return "unknown error";
    }
}

const char *hop_err_name(int error) {
    switch (error) {
    case 0:
        return "HOP_OK";
#define HOP__ERR_NAME_CASE(name, value, message) \
    case HOP_##name:                             \
        return "HOP_" #name;
        HOP_ERRNO_MAP(HOP__ERR_NAME_CASE)
#undef HOP__ERR_NAME_CASE
    default:
        return "HOP_UNKNOWN";
    }
}
