// Compiling a chunk and running it under the limits, in the environment `mf_prepare` recorded.
#include "Internal.h"

static char k_chunk_strings;  // registry reference of a compiled function -> its largest string

void mf_chunk_strings_install(lua_State *L) {
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &k_chunk_strings);
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
    lua_pushinteger(L, (lua_Integer)mf_ctx_of(L)->max_string);
    lua_rawseti(L, -2, ref);
    lua_pushinteger(L, ref);
    return 1;
}

int mf_compile(lua_State *L, const char *source, size_t length, int expression) {
    mf_ctx *c = mf_ctx_of(L);
    compile_args a = {source, length, expression};
    size_t held = c->max_string;
    c->max_string = 0;
    lua_pushcfunction(L, compile_protected);
    lua_pushlightuserdata(L, &a);
    mf_arm(L, c);
    c->hook_armed = 0;
    lua_sethook(L, NULL, 0, 0);  // the parser runs no VM code: the reader and the allocator keep watch
    c->compile_deadline = mf_now_ns() + MF_COMPILE_BUDGET_NS;
    int status = lua_pcall(L, 1, 1, 0);
    c->compile_deadline = 0;
    mf_disarm(L, c);
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

/// The body of `mf_run`: the environment (built on the first run after `mf_prepare`), the chunk
/// (registry reference 1) with `_ENV` set to it, called under the limits.
static int run_protected(lua_State *L) {
    mf_ctx *c = mf_ctx_of(L);
    int ref = (int)lua_tointeger(L, 1);
    mf_env_push(L, c);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &k_chunk_strings);
    lua_rawgeti(L, -1, ref);
    size_t chunk_strings = (size_t)lua_tointeger(L, -1);
    lua_pop(L, 2);
    if (chunk_strings > c->max_string) c->max_string = chunk_strings;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_rotate(L, -2, 1);
    lua_setupvalue(L, -2, 1);
    mf_arm(L, c);
    lua_call(L, 0, 1);
    return 1;
}

/// Message handler of the outermost call: records the line of the innermost Lua frame.
static int message_handler(lua_State *L) {
    lua_Debug ar;
    mf_ctx *c = mf_ctx_of(L);
    for (int level = 0; level < 32 && lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "l", &ar) && ar.currentline > 0) {
            c->error_line = ar.currentline;
            break;
        }
    }
    return 1;
}

int mf_run(lua_State *L, int ref) {
    mf_ctx *c = mf_ctx_of(L);
    if (!lua_checkstack(L, 4)) return LUA_ERRMEM;
    int handler = lua_gettop(L) + 1;
    lua_pushcfunction(L, message_handler);
    lua_pushcfunction(L, run_protected);
    lua_pushinteger(L, ref);
    c->error_line = 0;
    int status = lua_pcall(L, 1, 1, handler);
    mf_disarm(L, c);
    if (c->building) {
        c->building = 0;
        mf_trip_quietly(L, c, MF_TRIP_MEMORY, "could not build the script's environment");
    }
    lua_remove(L, handler);
    return status;
}
