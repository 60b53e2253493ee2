// Building a sandboxed state: the allow-listed globals template (the base functions kept or
// replaced, the libraries behind read-only proxies, the host built-ins), opening and closing.
#include "Internal.h"

#include <stdlib.h>
#include <string.h>

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
    {"http", "request", MF_HOST_HTTP_REQUEST, 0},
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
    mf_proxy_install(L);
    mf_chunk_strings_install(L);

    lua_createtable(L, 0, 48);  // the globals template
    int globals = lua_gettop(L);

    luaL_requiref(L, "_G", luaopen_base, 0);
    for (int i = 0; base_kept[i]; i++) {
        lua_getfield(L, -1, base_kept[i]);
        lua_setfield(L, globals, base_kept[i]);
    }
    lua_getfield(L, -1, "tonumber");
    lua_pushcclosure(L, mf_charged_by_length, 1);
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
    mf_ro_wrap(L, string);
    lua_setfield(L, globals, "string");
    lua_pop(L, 1);

    luaL_requiref(L, "table", luaopen_table, 0);
    int table = lua_gettop(L);
    static const char *const guarded[] = {"insert", "remove", "move", "concat", "unpack", "sort"};
    for (int i = 0; i < 6; i++) wrap_field(L, table, guarded[i], mf_table_guard, i, 1);
    mf_ro_wrap(L, table);
    lua_setfield(L, globals, "table");
    lua_pop(L, 1);

    luaL_requiref(L, "math", luaopen_math, 0);
    int math = lua_gettop(L);
    mf_random_install(L, math);
    mf_ro_wrap(L, math);
    lua_setfield(L, globals, "math");
    lua_pop(L, 1);

    luaL_requiref(L, "utf8", luaopen_utf8, 0);
    int utf8 = lua_gettop(L);
    wrap_field(L, utf8, "len", mf_charged_by_length, 0, 0);
    wrap_field(L, utf8, "codepoint", mf_charged_by_length, 0, 0);
    wrap_field(L, utf8, "offset", mf_charged_by_length, 0, 0);
    mf_ro_wrap(L, utf8);
    lua_setfield(L, globals, "utf8");
    lua_pop(L, 1);

    luaL_requiref(L, "os", luaopen_os, 0);
    lua_createtable(L, 0, 3);
    static const char *const os_kept[] = {"clock", "time", "difftime", NULL};
    for (int i = 0; os_kept[i]; i++) {
        lua_getfield(L, -2, os_kept[i]);
        lua_setfield(L, -2, os_kept[i]);
    }
    mf_ro_wrap(L, -1);
    lua_setfield(L, globals, "os");
    lua_pop(L, 2);

    int test_seams = mf_ctx_of(L)->test_seams;
    for (int i = 0; i < BUILTIN_COUNT; i++) {
        if (builtins[i].test_only && !test_seams) continue;
        lua_pushinteger(L, builtins[i].id);
        lua_pushcclosure(L, mf_host_call, 1);
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
        mf_ro_wrap(L, -1);
        lua_setfield(L, globals, builtins[i].library);
        lua_pop(L, 1);
    }

    mf_bindings_install(L, globals);

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
    lua_State *L = mf_state_new(c);
    if (!L) {
        free(c);
        return NULL;
    }
    lua_pushcfunction(L, setup);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        mf_close(L);
        return NULL;
    }
    return L;
}

void mf_close(lua_State *L) {
    mf_ctx *c = mf_ctx_of(L);
    c->enforcing = 0;
    lua_close(L);
    free(c->out);
    free(c);
}

