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
    mf_ctx *c = mf_ctx_of(L);
    uint64_t seed[2];
    if (c->replaying) {
        // A replay (docs/operations.md) draws the seeds the recorded execution drew, in order.
        if (c->replay_next >= c->seed_count) luaL_error(L, "math.random: the replay has no more recorded seeds");
        seed[0] = c->seeds[c->replay_next][0];
        seed[1] = c->seeds[c->replay_next][1];
        c->replay_next++;
    } else {
        if (!random_bytes(seed, sizeof seed)) luaL_error(L, "math.random: the system's random source failed");
        if (c->seed_count < MF_MAX_SEEDS) {
            c->seeds[c->seed_count][0] = seed[0];
            c->seeds[c->seed_count][1] = seed[1];
        }
        c->seed_count++;
    }
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

int mf_recorded_seeds(lua_State *L, uint64_t *out, int capacity) {
    mf_ctx *c = mf_ctx_of(L);
    if (c->replaying) return 0;
    int kept = c->seed_count < MF_MAX_SEEDS ? c->seed_count : MF_MAX_SEEDS;
    for (int i = 0; i < kept && i < capacity; i++) {
        out[2 * i] = c->seeds[i][0];
        out[2 * i + 1] = c->seeds[i][1];
    }
    return c->seed_count;
}

int mf_replay_seeds(lua_State *L, const uint64_t *seeds, int count) {
    mf_ctx *c = mf_ctx_of(L);
    if (count < 0 || count > MF_MAX_SEEDS) return 0;
    for (int i = 0; i < count; i++) {
        c->seeds[i][0] = seeds[2 * i];
        c->seeds[i][1] = seeds[2 * i + 1];
    }
    c->seed_count = count;
    c->replay_next = 0;
    c->replaying = 1;
    return 1;
}
