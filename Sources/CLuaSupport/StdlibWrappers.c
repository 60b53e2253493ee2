// Library functions replaced or wrapped so they stay bounded and show no addresses: `tostring`,
// `collectgarbage`, `xpcall`, functions charged by the length they scan, the table library's
// range guards, `string.rep` and `string.format`.
#include "Internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/// Elements table.move/concat/insert/remove/sort may touch in one call.
#define MF_MAX_RANGE (1LL << 24)
/// Values table.unpack may return.
#define MF_MAX_UNPACK (1LL << 16)

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

int mf_tostring(lua_State *L) {
    luaL_checkany(L, 1);
    push_display_string(L, 1);
    return 1;
}

int mf_collectgarbage(lua_State *L) {
    const char *option = luaL_optstring(L, 1, "collect");
    if (strcmp(option, "count") != 0) return mf_violation(L, "collectgarbage: only \"count\" is allowed");
    mf_ctx *c = mf_ctx_of(L);
    size_t used = c->used > c->baseline ? c->used - c->baseline : 0;
    lua_pushnumber(L, (lua_Number)used / 1024.0);
    return 1;
}

/// `xpcall` over `pcall`: the handler runs as ordinary code after the protected call returned,
/// so the hook still reaches it (the real handler would run with hooks off after a hook error).
int mf_xpcall(lua_State *L) {
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

int mf_call_original(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_rotate(L, 1, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/// Functions that scan their string argument without allocating: charged by its length.
int mf_charged_by_length(lua_State *L) {
    if (lua_type(L, 1) == LUA_TSTRING) mf_charge(L, (long long)(lua_rawlen(L, 1) / MF_SCAN_BYTES_PER_INSTRUCTION));
    return mf_call_original(L);
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
        mf_violation(L, message);
    }
    mf_charge(L, (long long)count);
}

int mf_table_guard(lua_State *L) {
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
        if (n > 1) mf_charge(L, (long long)(n * (lua_Integer)log2((double)n)));
        mf_sort_poll_install(L, n);
        break;
    }
    }
    return mf_call_original(L);
}

// MARK: - string.rep and string.format

int mf_rep(lua_State *L) {
    size_t len, seplen;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer n = luaL_checkinteger(L, 2);
    const char *sep = luaL_optlstring(L, 3, "", &seplen);
    if (n <= 0 || (len == 0 && seplen == 0)) {
        lua_pushliteral(L, "");
        return 1;
    }
    size_t unit = len + seplen;
    if ((lua_Unsigned)n > (lua_Unsigned)(((size_t)-1 >> 2) / unit)) return mf_trip(L, MF_TRIP_MEMORY, NULL);
    size_t total = len * (size_t)n + seplen * (size_t)(n - 1);
    if (total > mf_ctx_of(L)->memory) return mf_trip(L, MF_TRIP_MEMORY, NULL);
    mf_charge(L, (long long)(total / MF_ALLOC_BYTES_PER_INSTRUCTION));
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
int mf_format(lua_State *L) {
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
    return mf_call_original(L);
}

