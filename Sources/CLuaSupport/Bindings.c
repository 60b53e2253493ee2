// Values crossing from Swift into Lua, encoded (`MF_TAG_*`): the bindings of an execution's
// environment, built lazily, and the results of host built-ins, called through one trampoline.
#include "Internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// Bytes of string arguments and results of a host built-in charged as one instruction.
#define MF_HOST_BYTES_PER_INSTRUCTION 4

static char k_env_mt;  // metatable of environments: {__index = globals template, __newindex}
static char k_env;     // the environment being executed (bindings materialize into it)
static char k_keys;    // anchored key strings (MF_KEY_*)

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
    mf_ctx *c = mf_ctx_of(L);
    reader r = {c->out, c->out + c->out_len};
    uint32_t n = read_u32(L, &r);
    luaL_checkstack(L, (int)(n > 64 ? 64 : n) + 4, "too many results");
    for (uint32_t i = 0; i < n; i++) push_encoded(L, &r, 0);
    return (int)n;
}

void mf_out_append(lua_State *L, const void *bytes, size_t length) {
    mf_ctx *c = mf_ctx_of(L);
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
        mf_ro_wrap(L, -1);
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
    if (status != LUA_OK) mf_trip(L, MF_TRIP_MEMORY, "could not build the script's environment");
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

void mf_materialize_all(lua_State *L, int idx) {
    mf_ctx *c = mf_ctx_of(L);
    if (c->materialized == (1u << c->binding_count) - 1 || !is_current_env(L, idx)) return;
    for (int i = 0; i < c->binding_count; i++)
        if (!(c->materialized & (1u << i))) materialize(L, c, idx, i);
}

/// `__index` of the globals template: a name it lacks may be a binding not built yet.
static int template_index(lua_State *L) {
    mf_ctx *c = mf_ctx_of(L);
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
void mf_note_raw_write(lua_State *L, int table, int key) {
    mf_ctx *c = mf_ctx_of(L);
    int i = binding_index(L, c, key);
    if (i >= 0 && is_current_env(L, table)) c->materialized |= 1u << i;
}

/// `__newindex` of environments: assigning a binding that was never read replaces it.
static int env_newindex(lua_State *L) {
    mf_ctx *c = mf_ctx_of(L);
    int i = binding_index(L, c, 2);
    if (i >= 0) c->materialized |= 1u << i;
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 0;
}

// MARK: - The execution's environment

int mf_prepare(lua_State *L, const unsigned char *blob, size_t length) {
    mf_ctx *c = mf_ctx_of(L);
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
    c->seed_count = 0;
    c->replaying = 0;
    c->replay_next = 0;
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

/// Pushes the environment of the execution: built on the first run after `mf_prepare`, the same
/// one for later runs until `mf_finish`, never an earlier execution's.
void mf_env_push(lua_State *L, mf_ctx *c) {
    if (c->env_pending)
        build_env(L, c);
    else if (c->env_live)
        lua_rawgetp(L, LUA_REGISTRYINDEX, &k_env);
    else
        luaL_error(L, "no environment prepared");
}

void mf_finish(lua_State *L) {
    mf_ctx *c = mf_ctx_of(L);
    c->binding_count = 0;
    c->env_pending = 0;
    c->env_live = 0;
}

int mf_push_workflow(lua_State *L) {
    mf_ctx *c = mf_ctx_of(L);
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

// MARK: - Host trampoline

/// Calls a Swift built-in. Its work is charged by bytes (string arguments before it runs, what it
/// reported reading and what it answers after), so a built-in over a big string costs what
/// scanning it costs, and the deadline is polled on both sides.
int mf_host_call(lua_State *L) {
    mf_ctx *c = mf_ctx_of(L);
    int fid = (int)lua_tointeger(L, lua_upvalueindex(1));
    int nargs = lua_gettop(L);
    size_t bytes = 0;
    for (int i = 1; i <= nargs; i++)
        if (lua_type(L, i) == LUA_TSTRING) bytes += lua_rawlen(L, i);
    mf_charge(L, 1 + (long long)(bytes / MF_HOST_BYTES_PER_INSTRUCTION));
    c->out_len = 0;
    c->host_bytes = 0;
    luaL_checkstack(L, 16, "host call");
    int action = c->host(c->host_ud, L, fid, nargs);
    if (action == MF_HOST_BUDGET) {
        char message[256];  // not a Lua string: the state may have no memory left
        snprintf(message, sizeof message, "%.*s", (int)(c->out_len < 200 ? c->out_len : 200), (const char *)c->out);
        return mf_trip(L, MF_TRIP_HOST_MEMORY, message);
    }
    mf_charge(L, (c->host_bytes + (long long)c->out_len) / MF_HOST_BYTES_PER_INSTRUCTION);
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
            return mf_violation(L, message);
        }
        lua_concat(L, 2);
        return lua_error(L);
    }
    }
}

// MARK: - Anchored keys and installation

void mf_push_key(lua_State *L, int key) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &k_keys);
    lua_rawgeti(L, -1, key);
    lua_remove(L, -2);
}

void mf_bindings_install(lua_State *L, int globals) {
    static const char *const keys[] = {"workflow", "type", "message", "retryable", "details", NULL};
    lua_createtable(L, 5, 0);
    for (int i = 0; keys[i]; i++) {
        lua_pushstring(L, keys[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &k_keys);
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
}
