// Read-only proxies and the rules that keep tables locked: `next`/`pairs` that never show a
// proxy's target, `rawset` that refuses proxies, `setmetatable` that installs a private copy of
// the metamethods it allows.
#include "Internal.h"

#include <stdio.h>
#include <string.h>

static char k_ro_mt;     // metatable of read-only proxies
static char k_captured;  // marks a metatable copy made by setmetatable (its __metatable is ours)

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

void mf_ro_wrap(lua_State *L, int idx) {
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
    if (t == LUA_TTABLE) mf_ro_wrap(L, -1);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);  // cache (the proxy's own fields are read-only for scripts)
    return 1;
}

static int ro_newindex(lua_State *L) {
    const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
    char message[160];
    snprintf(message, sizeof message, "attempt to modify read-only table (key '%.60s')", key);
    return mf_violation(L, message);
}

static int ro_len(lua_State *L) {
    push_target(L, 1);
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

/// `next` over a proxy walks its target (wrapping tables); over other tables it is the raw `next`.
int mf_next(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_isnil(L, 2)) mf_materialize_all(L, 1);
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
            mf_ro_wrap(L, -1);
        }
        lua_remove(L, -2);
    }
    return 2;
}

/// `pairs` handing out the wrapped `next` (the raw one would show a proxy's hidden target).
int mf_pairs(lua_State *L) {
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

void mf_proxy_install(lua_State *L) {
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
}

// MARK: - Locked tables

int mf_rawset(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (lua_getmetatable(L, 1)) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &k_ro_mt);
        if (lua_rawequal(L, -1, -2)) return mf_violation(L, "rawset on a read-only table");
        lua_pop(L, 2);
    }
    mf_note_raw_write(L, 1, 2);
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
int mf_setmetatable(lua_State *L) {
    static const char *const forbidden[] = {"__gc", "__close", "__mode", NULL};
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    lua_settop(L, 2);
    if (lua_getmetatable(L, 1)) {
        int ours = lua_rawgetp(L, 3, &k_captured) != LUA_TNIL;
        lua_pushliteral(L, "__metatable");
        int is_protected = lua_rawget(L, 3) != LUA_TNIL;
        if (is_protected && !ours) return mf_violation(L, "cannot change a protected metatable");
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
                    return mf_violation(L, message);
                }
            }
            // A callable that is not a function makes Lua resolve `__call` again, shifting the
            // arguments each time, with no instruction run: `t` as its own `__call` looped for
            // minutes. A function ends the chain at one step.
            if (strcmp(key, "__call") == 0 && lua_type(L, -1) != LUA_TFUNCTION)
                return mf_violation(L, "setmetatable: '__call' must be a function");
            lua_pushvalue(L, -2);
            lua_rotate(L, -2, 1);
            lua_rawset(L, 3);
        } else {
            lua_pop(L, 1);
        }
    }
    mf_charge(L, visited);
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

