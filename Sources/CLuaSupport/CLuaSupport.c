// Moonflow's Lua sandbox, C half: the bounded allocator, the sticky hook, the allow-listed
// environment, read-only proxies, bounded library functions (including a step-budgeted pattern
// matcher written from the Lua 5.4 reference manual) and the host trampoline. This file is the
// only place that raises Lua errors.
#define _GNU_SOURCE  // memmem
#include "Internal.h"

#include <ctype.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// MARK: - Tunables

/// Pattern steps one call of find/match/gmatch/gsub may take (LuaPatternBudget beyond).
#define MF_PATTERN_STEPS 10000000L
/// Recursion depth of the matcher (captures, quantifiers) before "pattern too complex".
#define MF_PATTERN_DEPTH 200
/// Plain find refuses subject length x needle length above this.
#define MF_PLAIN_FIND_PRODUCT 10000000000LL
/// Elements table.move/concat/insert/remove/sort may touch in one call.
#define MF_MAX_RANGE (1LL << 24)
/// Values table.unpack may return.
#define MF_MAX_UNPACK (1LL << 16)
/// Allocated bytes charged as one instruction (bounds C work that allocates).
#define MF_ALLOC_BYTES_PER_INSTRUCTION 64
/// Bytes scanned by a C function charged as one instruction.
#define MF_SCAN_BYTES_PER_INSTRUCTION 4
/// Bytes of string arguments and results of a host built-in charged as one instruction.
#define MF_HOST_BYTES_PER_INSTRUCTION 4

// MARK: - Flags and clock

struct mf_flag {
    _Atomic int value;
};

mf_flag *mf_flag_new(void) {
    mf_flag *flag = malloc(sizeof *flag);
    if (flag) atomic_init(&flag->value, 0);
    return flag;
}

void mf_flag_free(mf_flag *flag) { free(flag); }
void mf_flag_set(mf_flag *flag, int reason) { atomic_store_explicit(&flag->value, reason, memory_order_relaxed); }
int mf_flag_get(const mf_flag *flag) {
    return atomic_load_explicit(&((mf_flag *)flag)->value, memory_order_relaxed);
}

uint64_t mf_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// MARK: - Per-state context

static mf_ctx *ctx_of(lua_State *L) { return mf_ctx_of(L); }

static const char *trip_text(int reason) {
    switch (reason) {
    case MF_TRIP_MEMORY: return "memory limit exceeded";
    case MF_TRIP_INSTRUCTIONS: return "instruction limit exceeded";
    case MF_TRIP_TIMEOUT: return "timeout";
    case MF_TRIP_CANCELLED: return "cancelled";
    case MF_TRIP_PATTERN: return "pattern matching budget exceeded";
    case MF_TRIP_HOST_MEMORY: return "host memory budget exceeded";
    default: return "sandbox violation";
    }
}

static void mf_hook(lua_State *L, lua_Debug *ar);

/// Marks the execution as failed and re-arms the hook to raise at every instruction, so no
/// `pcall` can swallow the failure. Does not raise (callable from the allocator).
void mf_trip_quietly(lua_State *L, mf_ctx *c, int reason, const char *message) {
    if (c->tripped) return;
    c->tripped = reason;
    snprintf(c->trip_message, sizeof c->trip_message, "%s", message ? message : trip_text(reason));
    c->hook_count = 1;
    lua_sethook(L, mf_hook, LUA_MASKCOUNT, 1);
}

int mf_trip(lua_State *L, int reason, const char *message) {
    mf_ctx *c = ctx_of(L);
    mf_trip_quietly(L, c, reason, message);
    return luaL_error(L, "%s", c->trip_message);
}

static void trip_quietly(lua_State *L, mf_ctx *c, int reason, const char *message) { mf_trip_quietly(L, c, reason, message); }
static int trip(lua_State *L, int reason, const char *message) { return mf_trip(L, reason, message); }

static int violation(lua_State *L, const char *message) { return trip(L, MF_TRIP_VIOLATION, message); }

/// Interrupt and deadline, read by the hook (every call: the coarse clock costs a few ns), the
/// allocator and long C loops.
int mf_poll_reason(mf_ctx *c) {
    if (c->interrupt) {
        int reason = mf_flag_get(c->interrupt);
        if (reason) return reason;
    }
    if (c->deadline && mf_coarse_now_ns() >= c->deadline) return MF_TRIP_TIMEOUT;
    return MF_TRIP_NONE;
}

/// Charges C work to the instruction budget.
void mf_charge(lua_State *L, long long amount) {
    mf_ctx *c = ctx_of(L);
    if (!c->enforcing) return;
    c->instr_used += amount;
    if (c->instr_used > c->instr_limit) trip(L, MF_TRIP_INSTRUCTIONS, NULL);
    int reason = mf_poll_reason(c);
    if (reason) trip(L, reason, NULL);
}

static void charge(lua_State *L, long long amount) { mf_charge(L, amount); }

/// The count hook. It fires every `hook_count` instructions (100, fewer once the execution holds
/// long strings: comparing or converting one is a single instruction that scans it) and polls
/// the interrupt flag and the deadline at every call, so a deadline holds within the time of
/// `hook_count` instructions.
static void mf_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    mf_ctx *c = ctx_of(L);
    if (!c->tripped) {
        c->instr_used += c->hook_count;
        if (c->instr_used > c->instr_limit) {
            trip_quietly(L, c, MF_TRIP_INSTRUCTIONS, NULL);
        } else {
            int reason = mf_poll_reason(c);
            if (reason) trip_quietly(L, c, reason, NULL);
        }
    }
    if (c->tripped) luaL_error(L, "%s", c->trip_message);
}

/// Installs the count hook at the pace the execution's largest string asks for.
static void pace_hook(lua_State *L, mf_ctx *c) {
    c->hook_count = mf_hook_pace(c->max_string);
    lua_sethook(L, mf_hook, LUA_MASKCOUNT, c->hook_count);
}

void mf_note_string(mf_ctx *c, size_t size) {
    if (size <= c->max_string) return;
    c->max_string = size;
    if (c->hook_armed && !c->tripped && mf_hook_pace(size) < c->hook_count) pace_hook(c->L, c);
}

// MARK: - Allocator

static void *mf_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    mf_ctx *c = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        c->used -= old;
        return NULL;
    }
    if (ptr == NULL && osize == LUA_TSTRING && nsize > c->max_string) mf_note_string(c, nsize);
    if (nsize > old && c->enforcing) {
        size_t grow = nsize - old;
        if (c->tripped) return NULL;
        int reason = MF_TRIP_NONE;
        c->instr_used += (long long)(grow / MF_ALLOC_BYTES_PER_INSTRUCTION);
        if (c->used + grow > c->limit)
            reason = MF_TRIP_MEMORY;
        else if (c->instr_used > c->instr_limit)
            reason = MF_TRIP_INSTRUCTIONS;
        else if ((++c->ticks & 7) == 0 || grow > 65536)
            reason = mf_poll_reason(c);
        if (reason) {
            trip_quietly(c->L, c, reason, NULL);
            return NULL;
        }
    }
    void *block = realloc(ptr, nsize);
    if (block == NULL) return nsize <= old ? ptr : NULL;  // Lua assumes shrinking never fails
    c->used = c->used - old + nsize;
    return block;
}

static int mf_panic(lua_State *L) {
    const char *message = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(not a string)";
    fprintf(stderr, "moonflow: unprotected Lua error: %s\n", message);
    abort();
}

// MARK: - Registry keys

static char k_ro_mt;       // metatable of read-only proxies
static char k_env_mt;      // metatable of environments: {__index = globals template, __newindex}
static char k_env;         // the environment being executed (bindings materialize into it)
static char k_chunk_strings;  // registry reference of a compiled function -> its largest string
static char k_keys;        // anchored key strings (MF_KEY_*)
static char k_captured;    // marks a metatable copy made by setmetatable (its __metatable is ours)

// MARK: - Read-only proxies
//
// A proxy is a table with the shared locked metatable `k_ro_mt` whose target is stored in the
// proxy under a light-userdata key (no script can make one, and `next` is wrapped so none sees
// it). Values read through `__index` are cached in the proxy as raw fields (tables as their own
// proxies), so repeated reads are plain table reads and `p.a == p.a` holds.

static char k_target;  // proxy[&k_target] = target

/// Pushes the target of the proxy at `idx`, or returns 0 (nothing pushed) when it is not a proxy.
int mf_proxy_target(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    if (!lua_checkstack(L, 3)) return 0;
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return 0;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &k_ro_mt);
    int is_proxy = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (!is_proxy) return 0;
    lua_rawgetp(L, idx, &k_target);
    return 1;
}

/// Pushes a new read-only proxy of the table at `idx`.
static void ro_wrap(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 3, "read-only proxy");
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, idx);
    lua_rawsetp(L, -2, &k_target);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &k_ro_mt);
    lua_setmetatable(L, -2);
}

static void push_target(lua_State *L, int idx) {
    if (!mf_proxy_target(L, idx)) luaL_error(L, "not a read-only table");
}

static int ro_index(lua_State *L) {
    push_target(L, 1);
    lua_pushvalue(L, 2);
    int t = lua_rawget(L, -2);
    if (t == LUA_TNIL) return 1;
    if (t == LUA_TTABLE) ro_wrap(L, -1);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);  // cache (the proxy's own fields are read-only for scripts)
    return 1;
}

static int ro_newindex(lua_State *L) {
    const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
    char message[160];
    snprintf(message, sizeof message, "attempt to modify read-only table (key '%.60s')", key);
    return violation(L, message);
}

static int ro_len(lua_State *L) {
    push_target(L, 1);
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

static void materialize_all(lua_State *L, int idx);
static void note_raw_write(lua_State *L, int table, int key);

/// `next` over a proxy walks its target (wrapping tables); over other tables it is the raw `next`.
static int mf_next(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_isnil(L, 2)) materialize_all(L, 1);
    if (!mf_proxy_target(L, 1)) {
        if (lua_next(L, 1)) return 2;
        lua_pushnil(L);
        return 1;
    }
    lua_pushvalue(L, 2);
    if (!lua_next(L, -2)) {
        lua_pushnil(L);
        return 1;
    }
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_pushvalue(L, -2);
        lua_rawget(L, 1);  // the cached proxy, when there is one
        if (lua_type(L, -1) != LUA_TTABLE) {
            lua_pop(L, 1);
            ro_wrap(L, -1);
        }
        lua_remove(L, -2);
    }
    return 2;
}

/// `pairs` handing out the wrapped `next` (the raw one would show a proxy's hidden target).
static int mf_pairs(lua_State *L) {
    luaL_checkany(L, 1);
    if (luaL_getmetafield(L, 1, "__pairs") != LUA_TNIL) {
        lua_pushvalue(L, 1);
        lua_call(L, 1, 3);
        return 3;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushcfunction(L, mf_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int ro_pairs(lua_State *L) {
    lua_pushcfunction(L, mf_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

// MARK: - Base library replacements

/// `tostring` without addresses: `__tostring` is honoured, otherwise the type name.
static void push_display_string(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNIL: case LUA_TBOOLEAN: case LUA_TNUMBER: case LUA_TSTRING:
        luaL_tolstring(L, idx, NULL);
        return;
    default:
        if (luaL_callmeta(L, idx, "__tostring")) {
            if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "'__tostring' must return a string");
            return;
        }
        lua_pushstring(L, luaL_typename(L, idx));
    }
}

static int mf_tostring(lua_State *L) {
    luaL_checkany(L, 1);
    push_display_string(L, 1);
    return 1;
}

static int mf_rawset(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (lua_getmetatable(L, 1)) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &k_ro_mt);
        if (lua_rawequal(L, -1, -2)) return violation(L, "rawset on a read-only table");
        lua_pop(L, 2);
    }
    note_raw_write(L, 1, 2);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/// `setmetatable` for tables, installing a private copy of the metamethods (`__*` string keys) of
/// the table given. Lua reads `__mode` at every collection and `__close` when a variable is
/// closed, so a metatable the script still holds could gain them after this check (a weak
/// ephemeron chain makes one atomic GC step run for minutes, out of the hook's reach); the copy is
/// unreachable, so it never can. `getmetatable` still answers the table given (the copy's
/// `__metatable`, marked as ours so the metatable stays replaceable); later changes to that
/// table's metamethods do not apply.
static int mf_setmetatable(lua_State *L) {
    static const char *const forbidden[] = {"__gc", "__close", "__mode", NULL};
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    lua_settop(L, 2);
    if (lua_getmetatable(L, 1)) {
        int ours = lua_rawgetp(L, 3, &k_captured) != LUA_TNIL;
        lua_pushliteral(L, "__metatable");
        int is_protected = lua_rawget(L, 3) != LUA_TNIL;
        if (is_protected && !ours) return violation(L, "cannot change a protected metatable");
        lua_settop(L, 2);
    }
    if (t == LUA_TNIL) {
        lua_setmetatable(L, 1);
        return 1;
    }
    lua_createtable(L, 0, 4);  // 3: the copy
    long long visited = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        visited++;
        size_t len;
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &len) : NULL;
        if (key && len > 2 && key[0] == '_' && key[1] == '_') {
            for (int i = 0; forbidden[i]; i++) {
                if (strcmp(key, forbidden[i]) == 0) {
                    char message[80];
                    snprintf(message, sizeof message, "setmetatable: '%s' is not allowed", forbidden[i]);
                    return violation(L, message);
                }
            }
            // A callable that is not a function makes Lua resolve `__call` again, shifting the
            // arguments each time, with no instruction run: `t` as its own `__call` looped for
            // minutes. A function ends the chain at one step.
            if (strcmp(key, "__call") == 0 && lua_type(L, -1) != LUA_TFUNCTION)
                return violation(L, "setmetatable: '__call' must be a function");
            lua_pushvalue(L, -2);
            lua_rotate(L, -2, 1);
            lua_rawset(L, 3);
        } else {
            lua_pop(L, 1);
        }
    }
    charge(L, visited);
    lua_pushliteral(L, "__metatable");
    if (lua_rawget(L, 3) == LUA_TNIL) {
        lua_pushliteral(L, "__metatable");
        lua_pushvalue(L, 2);
        lua_rawset(L, 3);
        lua_pushboolean(L, 1);
        lua_rawsetp(L, 3, &k_captured);
    }
    lua_settop(L, 3);
    lua_setmetatable(L, 1);
    lua_settop(L, 1);
    return 1;
}

static int mf_collectgarbage(lua_State *L) {
    const char *option = luaL_optstring(L, 1, "collect");
    if (strcmp(option, "count") != 0) return violation(L, "collectgarbage: only \"count\" is allowed");
    mf_ctx *c = ctx_of(L);
    size_t used = c->used > c->baseline ? c->used - c->baseline : 0;
    lua_pushnumber(L, (lua_Number)used / 1024.0);
    return 1;
}

/// `xpcall` over `pcall`: the handler runs as ordinary code after the protected call returned,
/// so the hook still reaches it (the real handler would run with hooks off after a hook error).
static int mf_xpcall(lua_State *L) {
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_checkstack(L, n + 2, "xpcall");
    lua_pushvalue(L, 1);
    for (int i = 3; i <= n; i++) lua_pushvalue(L, i);
    if (lua_pcall(L, n - 2, LUA_MULTRET, 0) == LUA_OK) {
        lua_pushboolean(L, 1);
        lua_rotate(L, n + 1, 1);
        return lua_gettop(L) - n;
    }
    lua_pushvalue(L, 2);
    lua_rotate(L, -2, 1);
    lua_call(L, 1, 1);
    lua_pushboolean(L, 0);
    lua_rotate(L, -2, 1);
    return 2;
}

/// Calls the original function (upvalue 1) with all arguments.
int mf_call_original(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_rotate(L, 1, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static int call_original(lua_State *L) { return mf_call_original(L); }

/// Functions that scan their string argument without allocating: charged by its length.
static int charged_by_length(lua_State *L) {
    if (lua_type(L, 1) == LUA_TSTRING) charge(L, (long long)(lua_rawlen(L, 1) / MF_SCAN_BYTES_PER_INSTRUCTION));
    return call_original(L);
}

// MARK: - Table library guards

enum { GUARD_INSERT, GUARD_REMOVE, GUARD_MOVE, GUARD_CONCAT, GUARD_UNPACK, GUARD_SORT };

static void check_range(lua_State *L, lua_Integer first, lua_Integer last, long long cap, const char *what) {
    if (last < first) return;
    lua_Unsigned count = (lua_Unsigned)last - (lua_Unsigned)first + 1u;
    if (count > (lua_Unsigned)cap) {
        char message[120];
        snprintf(message, sizeof message, "%s: range of %llu elements exceeds the limit of %lld", what,
                 (unsigned long long)count, cap);
        violation(L, message);
    }
    charge(L, (long long)count);
}

static int table_guard(lua_State *L) {
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    switch (kind) {
    case GUARD_INSERT: case GUARD_REMOVE: {
        lua_Integer n = luaL_len(L, 1);
        check_range(L, 1, n, MF_MAX_RANGE, kind == GUARD_INSERT ? "table.insert" : "table.remove");
        break;
    }
    case GUARD_MOVE:
        check_range(L, luaL_checkinteger(L, 2), luaL_checkinteger(L, 3), MF_MAX_RANGE, "table.move");
        break;
    case GUARD_CONCAT: {
        lua_Integer first = luaL_optinteger(L, 3, 1);
        lua_Integer last = lua_isnoneornil(L, 4) ? luaL_len(L, 1) : luaL_checkinteger(L, 4);
        check_range(L, first, last, MF_MAX_RANGE, "table.concat");
        break;
    }
    case GUARD_UNPACK: {
        lua_Integer first = luaL_optinteger(L, 2, 1);
        lua_Integer last = lua_isnoneornil(L, 3) ? luaL_len(L, 1) : luaL_checkinteger(L, 3);
        check_range(L, first, last, MF_MAX_UNPACK, "table.unpack");
        break;
    }
    default: {
        lua_Integer n = luaL_len(L, 1);
        check_range(L, 1, n, MF_MAX_RANGE, "table.sort");
        if (n > 1) charge(L, (long long)(n * (lua_Integer)log2((double)n)));
        mf_sort_poll_install(L, n);
        break;
    }
    }
    return call_original(L);
}

// MARK: - string.rep and string.format

static int mf_rep(lua_State *L) {
    size_t len, seplen;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer n = luaL_checkinteger(L, 2);
    const char *sep = luaL_optlstring(L, 3, "", &seplen);
    if (n <= 0 || (len == 0 && seplen == 0)) {
        lua_pushliteral(L, "");
        return 1;
    }
    size_t unit = len + seplen;
    if ((lua_Unsigned)n > (lua_Unsigned)(((size_t)-1 >> 2) / unit)) return trip(L, MF_TRIP_MEMORY, NULL);
    size_t total = len * (size_t)n + seplen * (size_t)(n - 1);
    if (total > ctx_of(L)->memory) return trip(L, MF_TRIP_MEMORY, NULL);
    charge(L, (long long)(total / MF_ALLOC_BYTES_PER_INSTRUCTION));
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, total);
    for (lua_Integer i = 0; i < n; i++) {
        memcpy(p, s, len);
        p += len;
        if (seplen && i + 1 < n) {
            memcpy(p, sep, seplen);
            p += seplen;
        }
    }
    luaL_pushresultsize(&b, total);
    return 1;
}

/// `string.format` without `%p`, and `%s` of tables/functions without addresses.
static int mf_format(lua_State *L) {
    size_t length;
    const char *format = luaL_checklstring(L, 1, &length);
    int top = lua_gettop(L), arg = 1;
    for (size_t i = 0; i < length; i++) {
        if (format[i] != '%') continue;
        if (++i >= length) break;
        if (format[i] == '%') continue;
        while (i < length && strchr("-+ #0123456789.", format[i])) i++;
        if (i >= length) break;
        arg++;
        if (format[i] == 'p') return luaL_error(L, "invalid conversion '%%p' to 'format'");
        if (format[i] == 's' && arg <= top) {
            int t = lua_type(L, arg);
            if (t != LUA_TSTRING && t != LUA_TNUMBER) {
                push_display_string(L, arg);
                lua_replace(L, arg);
            }
        }
    }
    return call_original(L);
}

// MARK: - Pattern matching (written from the Lua 5.4 manual, §6.4.1), with a step budget

#define MF_MAXCAPTURES 32
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)
#define LUA_PATTERN_MAGIC "^$*+?.([%-"

typedef struct matcher {
    const char *subject, *subject_end, *pattern_end;
    lua_State *L;
    long budget;
    int depth;
    int level;
    struct {
        const char *start;
        ptrdiff_t len;
    } capture[MF_MAXCAPTURES];
} matcher;

static void step(matcher *m) {
    if (--m->budget < 0) trip(m->L, MF_TRIP_PATTERN, NULL);
    if ((m->budget & 0xFFFF) == 0) {
        int reason = mf_poll_reason(ctx_of(m->L));
        if (reason) trip(m->L, reason, NULL);
    }
}

/// End of the single-character class starting at `p`.
static const char *class_end(matcher *m, const char *p) {
    if (*p == '%') {
        if (p + 1 >= m->pattern_end) luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 2;
    }
    if (*p == '[') {
        p++;
        if (p < m->pattern_end && *p == '^') p++;
        do {  // the first ']' of a set is literal
            if (p >= m->pattern_end) luaL_error(m->L, "malformed pattern (missing ']')");
            if (*p == '%') {
                p++;
                if (p >= m->pattern_end) luaL_error(m->L, "malformed pattern (missing ']')");
            }
            p++;
        } while (p >= m->pattern_end || *p != ']');
        return p + 1;
    }
    return p + 1;
}

static int class_matches(int c, int cls) {
    int result;
    switch (tolower(cls)) {
    case 'a': result = isalpha(c); break;
    case 'c': result = iscntrl(c); break;
    case 'd': result = isdigit(c); break;
    case 'g': result = isgraph(c); break;
    case 'l': result = islower(c); break;
    case 'p': result = ispunct(c); break;
    case 's': result = isspace(c); break;
    case 'u': result = isupper(c); break;
    case 'w': result = isalnum(c); break;
    case 'x': result = isxdigit(c); break;
    default: return cls == c;
    }
    result = result != 0;
    return isupper(cls) ? !result : result;
}

/// `set` points at '[', `end` at its closing ']'.
static int set_matches(int c, const char *set, const char *end) {
    int negate = 0;
    set++;
    if (*set == '^') {
        negate = 1;
        set++;
    }
    for (; set < end; set++) {
        if (*set == '%' && set + 1 < end) {
            set++;
            if (class_matches(c, (unsigned char)*set)) return !negate;
        } else if (set + 2 < end && set[1] == '-') {
            if ((unsigned char)set[0] <= c && c <= (unsigned char)set[2]) return !negate;
            set += 2;
        } else if ((unsigned char)*set == c) {
            return !negate;
        }
    }
    return negate;
}

static int single_matches(matcher *m, const char *s, const char *p, const char *ep) {
    if (s >= m->subject_end) return 0;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.': return 1;
    case '%': return class_matches(c, (unsigned char)p[1]);
    case '[': return set_matches(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

static const char *do_match(matcher *m, const char *s, const char *p);

static const char *match_balance(matcher *m, const char *s, const char *p) {
    if (p + 1 >= m->pattern_end) luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->subject_end || *s != *p) return NULL;
    int open = *p, close = p[1], depth = 1;
    while (++s < m->subject_end) {
        step(m);
        if (*s == close) {
            if (--depth == 0) return s + 1;
        } else if (*s == open) {
            depth++;
        }
    }
    return NULL;
}

static const char *expand_greedy(matcher *m, const char *s, const char *p, const char *ep) {
    ptrdiff_t count = 0;
    while (single_matches(m, s + count, p, ep)) {
        step(m);
        count++;
    }
    for (; count >= 0; count--) {
        step(m);
        const char *r = do_match(m, s + count, ep + 1);
        if (r) return r;
    }
    return NULL;
}

static const char *expand_lazy(matcher *m, const char *s, const char *p, const char *ep) {
    for (;;) {
        step(m);
        const char *r = do_match(m, s, ep + 1);
        if (r) return r;
        if (!single_matches(m, s, p, ep)) return NULL;
        s++;
    }
}

static const char *open_capture(matcher *m, const char *s, const char *p, ptrdiff_t what) {
    if (m->level >= MF_MAXCAPTURES) luaL_error(m->L, "too many captures");
    m->capture[m->level].start = s;
    m->capture[m->level].len = what;
    m->level++;
    const char *r = do_match(m, s, p);
    if (!r) m->level--;
    return r;
}

static const char *close_capture(matcher *m, const char *s, const char *p) {
    int open = -1;
    for (int i = m->level - 1; i >= 0; i--) {
        if (m->capture[i].len == CAP_UNFINISHED) {
            open = i;
            break;
        }
    }
    if (open < 0) luaL_error(m->L, "invalid pattern capture");
    m->capture[open].len = s - m->capture[open].start;
    const char *r = do_match(m, s, p);
    if (!r) m->capture[open].len = CAP_UNFINISHED;
    return r;
}

static const char *back_reference(matcher *m, const char *s, int digit) {
    int index = digit - '1';
    if (index < 0 || index >= m->level || m->capture[index].len == CAP_UNFINISHED)
        luaL_error(m->L, "invalid capture index %%%d", index + 1);
    size_t len = (size_t)m->capture[index].len;
    if ((size_t)(m->subject_end - s) < len) return NULL;
    m->budget -= (long)(len / 8);
    step(m);
    return memcmp(m->capture[index].start, s, len) == 0 ? s + len : NULL;
}

static const char *do_match(matcher *m, const char *s, const char *p) {
    if (++m->depth > MF_PATTERN_DEPTH) luaL_error(m->L, "pattern too complex");
    for (;;) {
        step(m);
        if (p >= m->pattern_end) break;
        if (*p == '(') {
            s = p + 1 < m->pattern_end && p[1] == ')' ? open_capture(m, s, p + 2, CAP_POSITION)
                                                      : open_capture(m, s, p + 1, CAP_UNFINISHED);
            break;
        }
        if (*p == ')') {
            s = close_capture(m, s, p + 1);
            break;
        }
        if (*p == '$' && p + 1 == m->pattern_end) {
            if (s != m->subject_end) s = NULL;
            break;
        }
        if (*p == '%' && p + 1 < m->pattern_end && p[1] == 'b') {
            s = match_balance(m, s, p + 2);
            if (!s) break;
            p += 4;
            continue;
        }
        if (*p == '%' && p + 1 < m->pattern_end && p[1] == 'f') {
            p += 2;
            if (p >= m->pattern_end || *p != '[') luaL_error(m->L, "missing '[' after '%%f' in pattern");
            const char *ep = class_end(m, p);
            int previous = s == m->subject ? 0 : (unsigned char)s[-1];
            int current = s < m->subject_end ? (unsigned char)*s : 0;
            if (set_matches(previous, p, ep - 1) || !set_matches(current, p, ep - 1)) {
                s = NULL;
                break;
            }
            p = ep;
            continue;
        }
        if (*p == '%' && p + 1 < m->pattern_end && isdigit((unsigned char)p[1])) {
            s = back_reference(m, s, (unsigned char)p[1]);
            if (!s) break;
            p += 2;
            continue;
        }
        const char *ep = class_end(m, p);
        char quantifier = ep < m->pattern_end ? *ep : '\0';
        if (!single_matches(m, s, p, ep)) {
            if (quantifier == '*' || quantifier == '?' || quantifier == '-') {
                p = ep + 1;
                continue;
            }
            s = NULL;
            break;
        }
        if (quantifier == '?') {
            const char *r = do_match(m, s + 1, ep + 1);
            if (r) {
                s = r;
                break;
            }
            p = ep + 1;
            continue;
        }
        if (quantifier == '+') {
            s = expand_greedy(m, s + 1, p, ep);
            break;
        }
        if (quantifier == '*') {
            s = expand_greedy(m, s, p, ep);
            break;
        }
        if (quantifier == '-') {
            s = expand_lazy(m, s, p, ep);
            break;
        }
        s++;
        p = ep;
    }
    m->depth--;
    return s;
}

static void matcher_init(matcher *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp) {
    m->L = L;
    m->subject = s;
    m->subject_end = s + ls;
    m->pattern_end = p + lp;
    m->budget = MF_PATTERN_STEPS;
    m->depth = 0;
    m->level = 0;
}

static void matcher_finish(matcher *m) { charge(m->L, (MF_PATTERN_STEPS - m->budget) / 8); }

static void push_capture(matcher *m, int i, const char *s, const char *e) {
    if (i >= m->level) {
        if (i != 0) luaL_error(m->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t len = m->capture[i].len;
    if (len == CAP_UNFINISHED) luaL_error(m->L, "unfinished capture");
    if (len == CAP_POSITION)
        lua_pushinteger(m->L, (lua_Integer)(m->capture[i].start - m->subject) + 1);
    else
        lua_pushlstring(m->L, m->capture[i].start, (size_t)len);
}

/// Pushes the captures (or the whole match when there are none and `s` is given).
static int push_captures(matcher *m, const char *s, const char *e) {
    int count = (m->level == 0 && s) ? 1 : m->level;
    luaL_checkstack(m->L, count, "too many captures");
    for (int i = 0; i < count; i++) push_capture(m, i, s, e);
    return count;
}

static size_t start_index(lua_Integer init, size_t len) {
    if (init > 0) return (size_t)init;
    if (init == 0) return 1;
    if (init < -(lua_Integer)len) return 1;
    return len + (size_t)init + 1;
}

static int has_specials(const char *p, size_t lp) {
    for (size_t i = 0; i < lp; i++)
        if (strchr(LUA_PATTERN_MAGIC, p[i])) return 1;
    return 0;
}

static int find_or_match(lua_State *L, int find) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_index(luaL_optinteger(L, 3, 1), ls);
    if (init > ls + 1) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
        if ((long long)(ls - init + 1) * (long long)lp > MF_PLAIN_FIND_PRODUCT)
            return trip(L, MF_TRIP_PATTERN, "string.find: subject x needle too large for a plain search");
        charge(L, (long long)((ls - init + 1) / MF_SCAN_BYTES_PER_INSTRUCTION));
        const char *found = lp == 0 ? s + init - 1 : memmem(s + init - 1, ls - init + 1, p, lp);
        if (!found) {
            luaL_pushfail(L);
            return 1;
        }
        lua_pushinteger(L, (lua_Integer)(found - s) + 1);
        lua_pushinteger(L, (lua_Integer)(found - s) + (lua_Integer)lp);
        return 2;
    }
    matcher m;
    int anchored = lp > 0 && *p == '^';
    if (anchored) {
        p++;
        lp--;
    }
    matcher_init(&m, L, s, ls, p, lp);
    const char *start = s + init - 1;
    do {
        m.level = 0;
        m.depth = 0;
        const char *e = do_match(&m, start, p);
        if (e) {
            matcher_finish(&m);
            if (find) {
                lua_pushinteger(L, (lua_Integer)(start - s) + 1);
                lua_pushinteger(L, (lua_Integer)(e - s));
                return push_captures(&m, NULL, NULL) + 2;
            }
            return push_captures(&m, start, e);
        }
    } while (start++ < m.subject_end && !anchored);
    matcher_finish(&m);
    luaL_pushfail(L);
    return 1;
}

static int mf_find(lua_State *L) { return find_or_match(L, 1); }
static int mf_match(lua_State *L) { return find_or_match(L, 0); }

/// gmatch iterator: upvalues subject, pattern, next position (0-based), end of the last match (-1).
static int gmatch_step(lua_State *L) {
    size_t ls, lp;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
    lua_Integer position = lua_tointeger(L, lua_upvalueindex(3));
    lua_Integer last = lua_tointeger(L, lua_upvalueindex(4));
    matcher m;
    matcher_init(&m, L, s, ls, p, lp);
    for (const char *start = s + position; start <= m.subject_end; start++) {
        m.level = 0;
        m.depth = 0;
        const char *e = do_match(&m, start, p);
        if (e && (e - s) != last) {
            matcher_finish(&m);
            lua_pushinteger(L, (lua_Integer)(e - s));
            lua_copy(L, -1, lua_upvalueindex(3));
            lua_replace(L, lua_upvalueindex(4));
            return push_captures(&m, start, e);
        }
    }
    matcher_finish(&m);
    lua_pushinteger(L, (lua_Integer)ls + 1);
    lua_replace(L, lua_upvalueindex(3));
    return 0;
}

static int mf_gmatch(lua_State *L) {
    size_t ls;
    luaL_checklstring(L, 1, &ls);
    luaL_checkstring(L, 2);
    size_t init = start_index(luaL_optinteger(L, 3, 1), ls);
    lua_settop(L, 2);
    lua_pushinteger(L, (lua_Integer)(init > ls + 1 ? ls + 1 : init - 1));
    lua_pushinteger(L, -1);
    lua_pushcclosure(L, gmatch_step, 4);
    return 1;
}

static void add_replacement(matcher *m, luaL_Buffer *b, const char *s, const char *e, int kind) {
    lua_State *L = m->L;
    if (kind == LUA_TSTRING || kind == LUA_TNUMBER) {
        size_t lr;
        const char *r = lua_tolstring(L, 3, &lr);
        for (size_t i = 0; i < lr; i++) {
            if (r[i] != '%') {
                luaL_addchar(b, r[i]);
                continue;
            }
            i++;
            if (i >= lr || (!isdigit((unsigned char)r[i]) && r[i] != '%'))
                luaL_error(L, "invalid use of '%%' in replacement string");
            if (r[i] == '%') {
                luaL_addchar(b, '%');
            } else if (r[i] == '0') {
                luaL_addlstring(b, s, (size_t)(e - s));
            } else {
                push_capture(m, r[i] - '1', s, e);
                luaL_tolstring(L, -1, NULL);
                lua_remove(L, -2);
                luaL_addvalue(b);
            }
        }
        return;
    }
    if (kind == LUA_TTABLE) {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e);
        lua_call(L, n, 1);
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    } else {
        luaL_addvalue(b);
    }
}

static int mf_gsub(lua_State *L) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int kind = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(L, kind == LUA_TNUMBER || kind == LUA_TSTRING || kind == LUA_TFUNCTION || kind == LUA_TTABLE, 3,
                     "string/function/table");
    int anchored = lp > 0 && *p == '^';
    if (anchored) {
        p++;
        lp--;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    matcher m;
    matcher_init(&m, L, s, ls, p, lp);
    const char *position = s, *last = NULL;
    lua_Integer count = 0;
    while (count < max) {
        m.level = 0;
        m.depth = 0;
        const char *e = do_match(&m, position, p);
        if (e && e != last) {
            count++;
            add_replacement(&m, &b, position, e, kind);
            position = last = e;
        } else if (position < m.subject_end) {
            step(&m);
            luaL_addchar(&b, *position++);
        } else {
            break;
        }
        if (anchored) break;
    }
    luaL_addlstring(&b, position, (size_t)(m.subject_end - position));
    matcher_finish(&m);
    luaL_pushresult(&b);
    lua_pushinteger(L, count);
    return 2;
}

// MARK: - Encoded values (Swift -> Lua)

typedef struct reader {
    const unsigned char *p, *end;
} reader;

/// Non-raising reads (0 when the encoding is cut short), for parsing outside a protected call.
static int take_u32(reader *r, uint32_t *v) {
    if (r->end - r->p < 4) return 0;
    memcpy(v, r->p, 4);
    r->p += 4;
    return 1;
}

static int take_bytes(reader *r, const char **bytes, size_t *len) {
    uint32_t n;
    if (!take_u32(r, &n) || (size_t)(r->end - r->p) < n) return 0;
    *bytes = (const char *)r->p;
    *len = n;
    r->p += n;
    return 1;
}

static uint32_t read_u32(lua_State *L, reader *r) {
    uint32_t v;
    if (!take_u32(r, &v)) luaL_error(L, "corrupt value encoding");
    return v;
}

static const char *read_bytes(lua_State *L, reader *r, size_t *len) {
    const char *bytes;
    if (!take_bytes(r, &bytes, len)) luaL_error(L, "corrupt value encoding");
    return bytes;
}

static void push_encoded(lua_State *L, reader *r, int depth) {
    if (r->p >= r->end || depth > 1000) luaL_error(L, "corrupt value encoding");
    luaL_checkstack(L, 4, "value too deep");
    int tag = *r->p++;
    switch (tag) {
    case MF_TAG_NIL: lua_pushnil(L); break;
    case MF_TAG_FALSE: lua_pushboolean(L, 0); break;
    case MF_TAG_TRUE: lua_pushboolean(L, 1); break;
    case MF_TAG_INT: case MF_TAG_DOUBLE: {
        if (r->end - r->p < 8) luaL_error(L, "corrupt value encoding");
        if (tag == MF_TAG_INT) {
            int64_t v;
            memcpy(&v, r->p, 8);
            lua_pushinteger(L, (lua_Integer)v);
        } else {
            double v;
            memcpy(&v, r->p, 8);
            lua_pushnumber(L, v);
        }
        r->p += 8;
        break;
    }
    case MF_TAG_STRING: {
        size_t len;
        const char *bytes = read_bytes(L, r, &len);
        lua_pushlstring(L, bytes, len);
        break;
    }
    case MF_TAG_ARRAY: {
        uint32_t n = read_u32(L, r);
        lua_createtable(L, (int)(n > 1u << 20 ? 1u << 20 : n), 0);
        for (uint32_t i = 1; i <= n; i++) {
            push_encoded(L, r, depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i);
        }
        break;
    }
    case MF_TAG_OBJECT: {
        uint32_t n = read_u32(L, r);
        lua_createtable(L, 0, (int)(n > 1u << 20 ? 1u << 20 : n));
        for (uint32_t i = 0; i < n; i++) {
            size_t len;
            const char *key = read_bytes(L, r, &len);
            lua_pushlstring(L, key, len);
            push_encoded(L, r, depth + 1);
            lua_rawset(L, -3);
        }
        break;
    }
    default: luaL_error(L, "corrupt value encoding");
    }
}

/// Pushes the encoded sequence (count, values) of the out buffer; returns the count.
static int push_out_values(lua_State *L) {
    mf_ctx *c = ctx_of(L);
    reader r = {c->out, c->out + c->out_len};
    uint32_t n = read_u32(L, &r);
    luaL_checkstack(L, (int)(n > 64 ? 64 : n) + 4, "too many results");
    for (uint32_t i = 0; i < n; i++) push_encoded(L, &r, 0);
    return (int)n;
}

void mf_out_append(lua_State *L, const void *bytes, size_t length) {
    mf_ctx *c = ctx_of(L);
    if (c->out_len + length > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 256;
        while (cap < c->out_len + length) cap *= 2;
        unsigned char *grown = realloc(c->out, cap);
        if (!grown) abort();
        c->out = grown;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, bytes, length);
    c->out_len += length;
}

// MARK: - Lazy environment bindings
//
// An environment starts empty: the invocation's names (`input`, `workflow`, `steps`, …) stay
// encoded in the caller's blob until the script first reads one (a miss in the globals template
// reaches `template_index`), assigns one (`env_newindex`) or iterates the environment (`mf_next`).
// A script that never touches `steps` or `workflow` builds neither, and the host then knows that
// `workflow` is unchanged without reading it back.

/// Index of the current binding named by the string at `idx`, or -1.
static int binding_index(lua_State *L, mf_ctx *c, int idx) {
    if (lua_type(L, idx) != LUA_TSTRING) return -1;
    size_t len;
    const char *key = lua_tolstring(L, idx, &len);
    for (int i = 0; i < c->binding_count; i++)
        if (c->bindings[i].name_len == len && memcmp(c->bindings[i].name, key, len) == 0) return i;
    return -1;
}

/// Decodes binding `b` into the environment at `env`; read-only tables as proxies.
static void decode_into(lua_State *L, const mf_binding *b, int env) {
    reader r = {b->value, b->value_end};
    luaL_checkstack(L, 3, "environment");
    lua_pushlstring(L, b->name, b->name_len);
    push_encoded(L, &r, 0);
    if ((b->flags & MF_BINDING_READ_ONLY) && lua_type(L, -1) == LUA_TTABLE) {
        ro_wrap(L, -1);
        lua_remove(L, -2);
    }
    lua_rawset(L, env);
}

/// `decode_into` as a protected call: the binding (light userdata 1) into the environment (2).
static int decode_binding(lua_State *L) {
    decode_into(L, lua_touserdata(L, 1), 2);
    return 0;
}

/// Builds binding `i` into the environment at `env`. Building it is the host's setup, not the
/// script's work, as if it had been built before the run: not charged, not counted against the
/// memory limit (the baseline moves up by what it holds). Protected, so the limits are back on
/// whatever happens; a failure (real memory exhaustion) trips the execution.
static void materialize(lua_State *L, mf_ctx *c, int env, int i) {
    env = lua_absindex(L, env);
    c->materialized |= 1u << i;
    luaL_checkstack(L, 3, "environment");
    lua_pushcfunction(L, decode_binding);
    lua_pushlightuserdata(L, &c->bindings[i]);
    lua_pushvalue(L, env);
    int enforcing = c->enforcing;
    size_t before = c->used;
    c->enforcing = 0;
    int status = lua_pcall(L, 2, 0, 0);
    c->enforcing = enforcing;
    if (status != LUA_OK) trip(L, MF_TRIP_MEMORY, "could not build the script's environment");
    if (c->used > before) {
        c->baseline += c->used - before;
        c->limit += c->used - before;
    }
}

static int is_current_env(lua_State *L, int idx) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &k_env);
    int current = lua_rawequal(L, -1, idx);
    lua_pop(L, 1);
    return current;
}

static void materialize_all(lua_State *L, int idx) {
    mf_ctx *c = ctx_of(L);
    if (c->materialized == (1u << c->binding_count) - 1 || !is_current_env(L, idx)) return;
    for (int i = 0; i < c->binding_count; i++)
        if (!(c->materialized & (1u << i))) materialize(L, c, idx, i);
}

/// `__index` of the globals template: a name it lacks may be a binding not built yet.
static int template_index(lua_State *L) {
    mf_ctx *c = ctx_of(L);
    int i = binding_index(L, c, 2);
    if (i < 0 || (c->materialized & (1u << i))) return 0;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &k_env);
    materialize(L, c, -1, i);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

/// A raw write into the current environment (`rawset(_ENV, name, v)`) replaces a binding like an
/// assignment does: `workflow` is then read back, and iterating `_ENV` does not rebuild it.
static void note_raw_write(lua_State *L, int table, int key) {
    mf_ctx *c = ctx_of(L);
    int i = binding_index(L, c, key);
    if (i >= 0 && is_current_env(L, table)) c->materialized |= 1u << i;
}

/// `__newindex` of environments: assigning a binding that was never read replaces it.
static int env_newindex(lua_State *L) {
    mf_ctx *c = ctx_of(L);
    int i = binding_index(L, c, 2);
    if (i >= 0) c->materialized |= 1u << i;
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 0;
}

// MARK: - Host trampoline

/// Calls a Swift built-in. Its work is charged by bytes (string arguments before it runs, what it
/// reported reading and what it answers after), so a built-in over a big string costs what
/// scanning it costs, and the deadline is polled on both sides.
static int host_call(lua_State *L) {
    mf_ctx *c = ctx_of(L);
    int fid = (int)lua_tointeger(L, lua_upvalueindex(1));
    int nargs = lua_gettop(L);
    size_t bytes = 0;
    for (int i = 1; i <= nargs; i++)
        if (lua_type(L, i) == LUA_TSTRING) bytes += lua_rawlen(L, i);
    charge(L, 1 + (long long)(bytes / MF_HOST_BYTES_PER_INSTRUCTION));
    c->out_len = 0;
    c->host_bytes = 0;
    luaL_checkstack(L, 16, "host call");
    int action = c->host(c->host_ud, L, fid, nargs);
    if (action == MF_HOST_BUDGET) {
        char message[256];  // not a Lua string: the state may have no memory left
        snprintf(message, sizeof message, "%.*s", (int)(c->out_len < 200 ? c->out_len : 200), (const char *)c->out);
        return trip(L, MF_TRIP_HOST_MEMORY, message);
    }
    charge(L, (c->host_bytes + (long long)c->out_len) / MF_HOST_BYTES_PER_INSTRUCTION);
    switch (action) {
    case MF_HOST_RETURN: return push_out_values(L);
    case MF_HOST_RAISE_VALUE:
        push_out_values(L);
        return lua_error(L);
    default: {
        luaL_where(L, 1);
        lua_pushlstring(L, (const char *)c->out, c->out_len);
        if (action == MF_HOST_VIOLATION) {
            char message[256];
            snprintf(message, sizeof message, "%s", lua_tostring(L, -1));
            return violation(L, message);
        }
        lua_concat(L, 2);
        return lua_error(L);
    }
    }
}

// MARK: - The sandbox's names

typedef struct builtin {
    const char *library;  // NULL for a global function
    const char *name;
    int id;
    int test_only;        // registered only in states opened with test seams
} builtin;

static const builtin builtins[] = {
    {"json", "encode", MF_HOST_JSON_ENCODE, 0}, {"json", "decode", MF_HOST_JSON_DECODE, 0},
    {"log", "debug", MF_HOST_LOG_DEBUG, 0},     {"log", "info", MF_HOST_LOG_INFO, 0},
    {"log", "warn", MF_HOST_LOG_WARN, 0},       {"log", "error", MF_HOST_LOG_ERROR, 0},
    {"time", "now", MF_HOST_TIME_NOW, 0},       {"time", "unix", MF_HOST_TIME_UNIX, 0},
    {"time", "parse", MF_HOST_TIME_PARSE, 0},   {NULL, "uuid", MF_HOST_UUID, 0},
    {"base64", "encode", MF_HOST_BASE64_ENCODE, 0}, {"base64", "decode", MF_HOST_BASE64_DECODE, 0},
    {"hex", "encode", MF_HOST_HEX_ENCODE, 0},   {"hex", "decode", MF_HOST_HEX_DECODE, 0},
    {"hash", "sha256", MF_HOST_HASH_SHA256, 0}, {"hmac", "sha256", MF_HOST_HMAC_SHA256, 0},
    {NULL, "emit", MF_HOST_EMIT, 0},            {NULL, "fail", MF_HOST_FAIL, 0},
    {"test", "ledger", MF_HOST_TEST_LEDGER, 1},
};
#define BUILTIN_COUNT ((int)(sizeof builtins / sizeof builtins[0]))

/// Base functions kept as they are (the rest of the base library is dropped).
static const char *const base_kept[] = {"assert", "error", "ipairs", "pcall", "select", "type",
                                        "rawequal", "rawlen", "rawget", "getmetatable", "_VERSION", NULL};

static const luaL_Reg base_replaced[] = {
    {"next", mf_next}, {"pairs", mf_pairs}, {"tostring", mf_tostring}, {"rawset", mf_rawset}, {"setmetatable", mf_setmetatable},
    {"collectgarbage", mf_collectgarbage}, {"xpcall", mf_xpcall}, {NULL, NULL},
};

/// Names a script sees besides the base functions and built-ins.
static const char *const other_globals[] = {"tonumber", "string", "table", "math", "utf8", "os",
                                            "input", "workflow", "steps", "activity", "event", NULL};

int mf_global_name_count(void) {
    int n = 0;
    while (base_kept[n]) n++;
    return n + (int)(sizeof base_replaced / sizeof base_replaced[0]) - 1 + (int)(sizeof other_globals / sizeof other_globals[0]) - 1;
}

const char *mf_global_name(int index) {
    int kept = 0;
    while (base_kept[kept]) kept++;
    int replaced = (int)(sizeof base_replaced / sizeof base_replaced[0]) - 1;
    if (index < 0) return NULL;
    if (index < kept) return base_kept[index];
    if (index < kept + replaced) return base_replaced[index - kept].name;
    if (index < mf_global_name_count()) return other_globals[index - kept - replaced];
    return NULL;
}

int mf_builtin_count(void) { return BUILTIN_COUNT; }
int mf_builtin_test_only(int index) { return builtins[index].test_only; }
const char *mf_builtin_library(int index) { return builtins[index].library; }
const char *mf_builtin_name(int index) { return builtins[index].name; }

// MARK: - Building the state

/// Replaces `library[name]` by a closure of `fn` over the original (and an optional integer).
static void wrap_field(lua_State *L, int library, const char *name, lua_CFunction fn, int extra, int with_extra) {
    lua_getfield(L, library, name);
    if (with_extra) lua_pushinteger(L, extra);
    lua_pushcclosure(L, fn, with_extra ? 2 : 1);
    lua_setfield(L, library, name);
}

static int setup(lua_State *L) {
    // Registry: proxy machinery.
    lua_createtable(L, 0, 5);
    lua_pushcfunction(L, ro_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, ro_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, ro_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &k_ro_mt);
    static const char *const keys[] = {"workflow", "type", "message", "retryable", "details", NULL};
    lua_createtable(L, 5, 0);
    for (int i = 0; keys[i]; i++) {
        lua_pushstring(L, keys[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &k_keys);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &k_chunk_strings);

    lua_createtable(L, 0, 48);  // the globals template
    int globals = lua_gettop(L);

    luaL_requiref(L, "_G", luaopen_base, 0);
    for (int i = 0; base_kept[i]; i++) {
        lua_getfield(L, -1, base_kept[i]);
        lua_setfield(L, globals, base_kept[i]);
    }
    lua_getfield(L, -1, "tonumber");
    lua_pushcclosure(L, charged_by_length, 1);
    lua_setfield(L, globals, "tonumber");
    lua_pop(L, 1);
    luaL_setfuncs(L, base_replaced, 0);  // into the template (top is the template again)

    luaL_requiref(L, "string", luaopen_string, 0);
    int string = lua_gettop(L);
    lua_pushnil(L);
    lua_setfield(L, string, "dump");
    static const luaL_Reg string_replaced[] = {
        {"find", mf_find}, {"match", mf_match}, {"gmatch", mf_gmatch}, {"gsub", mf_gsub}, {"rep", mf_rep}, {NULL, NULL},
    };
    luaL_setfuncs(L, string_replaced, 0);
    wrap_field(L, string, "format", mf_format, 0, 0);
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    ro_wrap(L, string);
    lua_setfield(L, globals, "string");
    lua_pop(L, 1);

    luaL_requiref(L, "table", luaopen_table, 0);
    int table = lua_gettop(L);
    static const char *const guarded[] = {"insert", "remove", "move", "concat", "unpack", "sort"};
    for (int i = 0; i < 6; i++) wrap_field(L, table, guarded[i], table_guard, i, 1);
    ro_wrap(L, table);
    lua_setfield(L, globals, "table");
    lua_pop(L, 1);

    luaL_requiref(L, "math", luaopen_math, 0);
    int math = lua_gettop(L);
    mf_random_install(L, math);
    ro_wrap(L, math);
    lua_setfield(L, globals, "math");
    lua_pop(L, 1);

    luaL_requiref(L, "utf8", luaopen_utf8, 0);
    int utf8 = lua_gettop(L);
    wrap_field(L, utf8, "len", charged_by_length, 0, 0);
    wrap_field(L, utf8, "codepoint", charged_by_length, 0, 0);
    wrap_field(L, utf8, "offset", charged_by_length, 0, 0);
    ro_wrap(L, utf8);
    lua_setfield(L, globals, "utf8");
    lua_pop(L, 1);

    luaL_requiref(L, "os", luaopen_os, 0);
    lua_createtable(L, 0, 3);
    static const char *const os_kept[] = {"clock", "time", "difftime", NULL};
    for (int i = 0; os_kept[i]; i++) {
        lua_getfield(L, -2, os_kept[i]);
        lua_setfield(L, -2, os_kept[i]);
    }
    ro_wrap(L, -1);
    lua_setfield(L, globals, "os");
    lua_pop(L, 2);

    int test_seams = ctx_of(L)->test_seams;
    for (int i = 0; i < BUILTIN_COUNT; i++) {
        if (builtins[i].test_only && !test_seams) continue;
        lua_pushinteger(L, builtins[i].id);
        lua_pushcclosure(L, host_call, 1);
        if (!builtins[i].library) {
            lua_setfield(L, globals, builtins[i].name);
            continue;
        }
        if (lua_getfield(L, globals, builtins[i].library) != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_createtable(L, 0, 4);
            lua_pushvalue(L, -1);
            lua_setfield(L, globals, builtins[i].library);  // replaced by its proxy below
        }
        lua_rotate(L, -2, 1);
        lua_setfield(L, -2, builtins[i].name);
        lua_pop(L, 1);
    }
    for (int i = 0; i < BUILTIN_COUNT; i++) {
        if (!builtins[i].library || (builtins[i].test_only && !test_seams)
            || (i > 0 && builtins[i - 1].library && !strcmp(builtins[i - 1].library, builtins[i].library)))
            continue;
        lua_getfield(L, globals, builtins[i].library);
        ro_wrap(L, -1);
        lua_setfield(L, globals, builtins[i].library);
        lua_pop(L, 1);
    }

    // Environments read the template through a locked metatable; the template's misses reach the
    // lazy bindings.
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, globals);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, env_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &k_env_mt);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, template_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, globals);

    // Nothing of the opened libraries stays reachable: an empty global table, no loaded modules.
    lua_createtable(L, 0, 0);
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    return 0;
}

lua_State *mf_open(mf_host_fn host, void *host_ud, int test_seams) {
    mf_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->host = host;
    c->host_ud = host_ud;
    c->test_seams = test_seams;
    lua_State *L = lua_newstate(mf_alloc, c);
    if (!L) {
        free(c);
        return NULL;
    }
    *(mf_ctx **)lua_getextraspace(L) = c;
    c->L = L;
    lua_atpanic(L, mf_panic);
    lua_pushcfunction(L, setup);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        mf_close(L);
        return NULL;
    }
    return L;
}

void mf_close(lua_State *L) {
    mf_ctx *c = ctx_of(L);
    c->enforcing = 0;
    lua_close(L);
    free(c->out);
    free(c);
}

// MARK: - Limits and execution

void mf_set_limits(lua_State *L, size_t memory, long long instructions, uint64_t deadline_ns, const mf_flag *interrupt) {
    mf_ctx *c = ctx_of(L);
    c->memory = memory;
    c->instr_limit = instructions;
    c->deadline = deadline_ns;
    c->interrupt = interrupt;
}

int mf_tripped(lua_State *L) { return ctx_of(L)->tripped; }
const char *mf_trip_message(lua_State *L) { return ctx_of(L)->trip_message; }
int mf_error_line(lua_State *L) { return ctx_of(L)->error_line; }
size_t mf_memory_used(lua_State *L) { return ctx_of(L)->used; }

static void arm(lua_State *L, mf_ctx *c) {
    c->baseline = c->used;
    c->limit = c->used + c->memory;
    c->instr_used = 0;
    c->ticks = 0;
    c->error_line = 0;
    c->enforcing = 1;
    c->hook_armed = 1;
    pace_hook(L, c);
}

static void disarm(lua_State *L, mf_ctx *c) {
    c->enforcing = 0;
    c->hook_armed = 0;
    lua_sethook(L, NULL, 0, 0);
}

typedef struct compile_args {
    const char *source;
    size_t length;
    int expression;
} compile_args;

static int compile_protected(lua_State *L) {
    compile_args *a = lua_touserdata(L, 1);
    int status;
    if (a->expression) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        luaL_addstring(&b, "return (");
        luaL_addlstring(&b, a->source, a->length);
        luaL_addstring(&b, "\n)");
        luaL_pushresult(&b);
        size_t len;
        const char *text = lua_tolstring(L, -1, &len);
        status = mf_load_bounded(L, text, len, "=chunk");
    } else {
        status = mf_load_bounded(L, a->source, a->length, "=chunk");
    }
    if (status != LUA_OK) return lua_error(L);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    // The chunk's constants live as long as the function: remember its largest string, which
    // every execution of it holds (`run_protected` paces the hook by it).
    lua_rawgetp(L, LUA_REGISTRYINDEX, &k_chunk_strings);
    lua_pushinteger(L, (lua_Integer)ctx_of(L)->max_string);
    lua_rawseti(L, -2, ref);
    lua_pushinteger(L, ref);
    return 1;
}

int mf_compile(lua_State *L, const char *source, size_t length, int expression) {
    mf_ctx *c = ctx_of(L);
    compile_args a = {source, length, expression};
    size_t held = c->max_string;
    c->max_string = 0;
    lua_pushcfunction(L, compile_protected);
    lua_pushlightuserdata(L, &a);
    arm(L, c);
    c->hook_armed = 0;
    lua_sethook(L, NULL, 0, 0);  // the parser runs no VM code: the reader and the allocator keep watch
    c->compile_deadline = mf_now_ns() + MF_COMPILE_BUDGET_NS;
    int status = lua_pcall(L, 1, 1, 0);
    c->compile_deadline = 0;
    disarm(L, c);
    if (c->max_string < held) c->max_string = held;
    if (status != LUA_OK) return 0;
    int ref = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return ref;
}

void mf_unref(lua_State *L, int ref) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &k_chunk_strings);
    lua_pushnil(L);
    lua_rawseti(L, -2, ref);
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
}

int mf_prepare(lua_State *L, const unsigned char *blob, size_t length) {
    mf_ctx *c = ctx_of(L);
    reader r = {blob, blob + length};
    uint32_t n;
    c->binding_count = 0;
    if (!take_u32(&r, &n) || n > MF_MAX_BINDINGS) return 0;
    for (uint32_t i = 0; i < n; i++) {
        mf_binding *b = &c->bindings[i];
        const char *value;
        size_t len;
        if (r.p >= r.end) return 0;
        b->flags = *r.p++;
        if (!take_bytes(&r, &b->name, &b->name_len) || !take_bytes(&r, &value, &len)) return 0;
        b->value = (const unsigned char *)value;
        b->value_end = b->value + len;
    }
    if (r.p != r.end) return 0;
    c->binding_count = (int)n;
    c->env_pending = 1;
    c->materialized = 0;
    c->seeded = 0;
    c->max_string = 0;
    return 1;
}

/// Builds the environment of the prepared bindings (the host's setup, limits off), anchors it as
/// the current one and leaves it on the stack; eager bindings are decoded into it now.
static void build_env(lua_State *L, mf_ctx *c) {
    c->building = 1;
    lua_createtable(L, 0, c->binding_count);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &k_env_mt);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &k_env);
    int env = lua_gettop(L);
    for (int i = 0; i < c->binding_count; i++) {
        if (!(c->bindings[i].flags & MF_BINDING_EAGER)) continue;
        decode_into(L, &c->bindings[i], env);
        c->materialized |= 1u << i;
    }
    c->env_pending = 0;
    c->env_live = 1;
    c->building = 0;
}

/// The body of `mf_run`: the environment (built on the first run after `mf_prepare`), the chunk
/// (registry reference 1) with `_ENV` set to it, called under the limits.
static int run_protected(lua_State *L) {
    mf_ctx *c = ctx_of(L);
    int ref = (int)lua_tointeger(L, 1);
    if (c->env_pending)
        build_env(L, c);
    else if (c->env_live)
        lua_rawgetp(L, LUA_REGISTRYINDEX, &k_env);
    else
        return luaL_error(L, "no environment prepared");  // never an earlier execution's
    lua_rawgetp(L, LUA_REGISTRYINDEX, &k_chunk_strings);
    lua_rawgeti(L, -1, ref);
    size_t chunk_strings = (size_t)lua_tointeger(L, -1);
    lua_pop(L, 2);
    if (chunk_strings > c->max_string) c->max_string = chunk_strings;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_rotate(L, -2, 1);
    lua_setupvalue(L, -2, 1);
    arm(L, c);
    lua_call(L, 0, 1);
    return 1;
}

/// Message handler of the outermost call: records the line of the innermost Lua frame.
static int message_handler(lua_State *L) {
    lua_Debug ar;
    mf_ctx *c = ctx_of(L);
    for (int level = 0; level < 32 && lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "l", &ar) && ar.currentline > 0) {
            c->error_line = ar.currentline;
            break;
        }
    }
    return 1;
}

void mf_finish(lua_State *L) {
    mf_ctx *c = ctx_of(L);
    c->binding_count = 0;
    c->env_pending = 0;
    c->env_live = 0;
}

int mf_push_workflow(lua_State *L) {
    mf_ctx *c = ctx_of(L);
    int i = 0;
    while (i < c->binding_count && !(c->bindings[i].name_len == 8 && memcmp(c->bindings[i].name, "workflow", 8) == 0)) i++;
    // Every way a script can replace `workflow` (reading it first, assigning it, rawset into the
    // environment, iterating it) marks the binding, so an unmarked one is the host's original.
    if (i == c->binding_count || !(c->materialized & (1u << i))) return 0;
    if (!lua_checkstack(L, 4)) return -1;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &k_env);
    mf_push_key(L, MF_KEY_WORKFLOW);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    return 1;
}

int mf_run(lua_State *L, int ref) {
    mf_ctx *c = ctx_of(L);
    if (!lua_checkstack(L, 4)) return LUA_ERRMEM;
    int handler = lua_gettop(L) + 1;
    lua_pushcfunction(L, message_handler);
    lua_pushcfunction(L, run_protected);
    lua_pushinteger(L, ref);
    c->error_line = 0;
    int status = lua_pcall(L, 1, 1, handler);
    disarm(L, c);
    if (c->building) {
        c->building = 0;
        trip_quietly(L, c, MF_TRIP_MEMORY, "could not build the script's environment");
    }
    lua_remove(L, handler);
    return status;
}

void mf_push_key(lua_State *L, int key) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &k_keys);
    lua_rawgeti(L, -1, key);
    lua_remove(L, -2);
}
