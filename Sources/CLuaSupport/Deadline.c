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

// table.sort runs its whole O(n log n) loop in C: with the default comparison (or a C function
// as the comparison) no instruction runs, and 2M numbers took 1s past a 0.5s deadline. Sorts of
// more than MF_SORT_POLLED elements get a comparison that polls every 1024 calls. It is a C call
// per comparison (a default sort of 2M numbers: 1.2s -> 3.0s), so smaller sorts, ~30ms at most,
// keep Lua's own comparison.

/// Elements above which `table.sort` gets a polling comparison.
#define MF_SORT_POLLED 65536

/// The comparison: upvalue 1 is the script's (nil for `<`).
static int polled_less(lua_State *L) {
    mf_ctx *c = mf_ctx_of(L);
    if ((++c->ticks & 1023) == 0) {
        int reason = mf_poll_reason(c);
        if (reason) mf_trip(L, reason, NULL);
    }
    if (lua_isnil(L, lua_upvalueindex(1))) {
        lua_pushboolean(L, lua_compare(L, 1, 2, LUA_OPLT));
        return 1;
    }
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_rotate(L, 1, 1);
    lua_call(L, 2, 1);
    return 1;
}

void mf_sort_poll_install(lua_State *L, lua_Integer n) {
    if (n <= MF_SORT_POLLED) return;
    lua_settop(L, 2);
    lua_pushcclosure(L, polled_less, 1);  // the script's comparison (or nil) becomes its upvalue
}
