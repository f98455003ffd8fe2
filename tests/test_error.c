/* tests/test_error.c: the error map, hop_strerror and hop_err_name. */
#include <stdio.h>
#include <string.h>

#include "helpers.h"

Test(error, every_code_has_a_distinct_negative_value_a_name_and_a_message) {
    static const int codes[] = {
#define CODE(name, value, message) HOP_##name,
        HOP_ERRNO_MAP(CODE)
#undef CODE
    };
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        cr_assert_lt(codes[i], 0);
        cr_assert_str_neq(hop_strerror(codes[i]), "unknown error");
        cr_assert_eq(strncmp(hop_err_name(codes[i]), "HOP_E", 5), 0);
        for (size_t j = i + 1; j < n; j++)
            cr_assert_neq(codes[i], codes[j], "%s and %s share a value", hop_err_name(codes[i]),
                          hop_err_name(codes[j]));
    }
}

Test(error, errno_backed_codes_match_libuv_style_negative_errno) {
    cr_assert_eq(HOP_EINVAL, -EINVAL);
    cr_assert_eq(HOP_ENOMEM, -ENOMEM);
    cr_assert_eq(HOP_ECANCELED, -ECANCELED);
    cr_assert_eq(HOP_ETIMEDOUT, -ETIMEDOUT);
    cr_assert_str_eq(hop_err_name(HOP_ENOTTASK), "HOP_ENOTTASK");
    cr_assert_str_eq(hop_strerror(HOP_ENOTTASK), "not called from inside a hop task");
}

Test(error, unknown_codes_get_a_generic_message_not_a_crash) {
    cr_assert_str_eq(hop_strerror(12345), "unknown error");
    cr_assert_str_eq(hop_strerror(-99999), "unknown error");
    cr_assert_str_eq(hop_err_name(-99999), "HOP_UNKNOWN");
    cr_assert_str_eq(hop_err_name(12345), "HOP_UNKNOWN");
}

Test(error, success_has_a_name_and_a_message_that_do_not_read_like_a_failure) {
    cr_assert_str_eq(hop_err_name(0), "HOP_OK");
    cr_assert_str_eq(hop_strerror(0), "success");
}

Test(error, out_of_memory_message_names_the_mapping_limit) {
    cr_assert(strstr(hop_strerror(HOP_ENOMEM), "vm.max_map_count") != NULL);
}

Test(version, runtime_version_matches_the_header) {
    cr_assert_eq(hop_version(), (unsigned)HOP_VERSION_HEX);
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", HOP_VERSION_MAJOR, HOP_VERSION_MINOR, HOP_VERSION_PATCH);
    cr_assert_str_eq(hop_version_string(), expected);
}
