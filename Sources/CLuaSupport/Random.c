// `math.random` seeded from the OS's CSPRNG (getrandom) in every execution that uses it, so no
// execution's draws tell anything about another's. (A per-state generator stepped once per
// execution let one execution's draws predict the next execution's exactly: Lua's xoshiro256**
// is linear over GF(2), and its seed falls out of three draws.)
#include "Internal.h"

#include <errno.h>
#include <sys/random.h>

static char k_randomseed;  // the original math.randomseed

/// Fills `out` from the kernel's CSPRNG; 0 if it cannot (the script then fails rather than run
/// with a predictable seed).
static int random_bytes(void *out, size_t length) {
    unsigned char *p = out;
    while (length > 0) {
        ssize_t got = getrandom(p, length, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            return 0;
        }
        p += got;
        length -= (size_t)got;
    }
    return 1;
}

/// Seeds the state's generator with 128 fresh bits (`math.randomseed(n1, n2)`).
static void seed_from_os(lua_State *L) {
    uint64_t seed[2];
    if (!random_bytes(seed, sizeof seed)) luaL_error(L, "math.random: the system's random source failed");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &k_randomseed);
    lua_pushinteger(L, (lua_Integer)seed[0]);
    lua_pushinteger(L, (lua_Integer)seed[1]);
    lua_call(L, 2, 0);
}

/// `math.random`, seeded at its first use in an execution (a getrandom call every script would
/// pay otherwise).
static int mf_random(lua_State *L) {
    mf_ctx *c = mf_ctx_of(L);
    if (!c->seeded) {
        c->seeded = 1;
        seed_from_os(L);
    }
    return mf_call_original(L);
}

/// `math.randomseed(n…)` keeps the script's own seed (reproducible draws); without arguments it
/// reseeds from the OS instead of Lua's time-and-address seed, and returns nothing.
static int mf_randomseed(lua_State *L) {
    mf_ctx_of(L)->seeded = 1;
    if (lua_isnone(L, 1)) {
        seed_from_os(L);
        return 0;
    }
    mf_call_original(L);
    return 0;  // Lua 5.4.4 answers the seed; nothing to tell
}

void mf_random_install(lua_State *L, int math) {
    math = lua_absindex(L, math);
    lua_getfield(L, math, "randomseed");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &k_randomseed);
    lua_getfield(L, math, "random");
    lua_pushcclosure(L, mf_random, 1);
    lua_setfield(L, math, "random");
    lua_getfield(L, math, "randomseed");
    lua_pushcclosure(L, mf_randomseed, 1);
    lua_setfield(L, math, "randomseed");
}
