// Pacing of the count hook. A few VM instructions scan a whole string — comparing two strings
// (`<` runs strcoll once per embedded zero: ~8ns a byte), converting one to a number — so with
// long strings around, 100 instructions can take seconds, and a deadline polled every 100
// instructions would be missed by that much. The hook count therefore shrinks as the largest
// string the execution holds grows (the allocator sees every string: Lua allocates them with
// the tag LUA_TSTRING), keeping the worst time between two polls near MF_HOOK_PACE_BYTES of
// scanning (~35ms). Scripts that hold no string over 40KB keep the count at 100.
#include "Internal.h"

#include <time.h>

/// Bytes of string scanning allowed between two hook calls, at worst.
#define MF_HOOK_PACE_BYTES (4u << 20)

uint64_t mf_coarse_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int mf_hook_pace(size_t max_string) {
    if (max_string == 0) return MF_HOOK_COUNT;
    size_t count = MF_HOOK_PACE_BYTES / max_string;
    if (count < 1) return 1;
    return count > MF_HOOK_COUNT ? MF_HOOK_COUNT : (int)count;
}
