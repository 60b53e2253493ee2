// What Swift built-ins use to account for their work: byte charges and a poll between pieces of
// long work. The host budget itself (bytes of copies the host holds for one execution) is kept by
// the Swift host, which answers `MF_HOST_BUDGET` when a copy would exceed it; C then trips the
// state (`MF_TRIP_HOST_MEMORY`, reported as `LuaMemoryLimit`).
#include "Internal.h"

#include <stdlib.h>

void mf_host_charge(lua_State *L, size_t bytes) { mf_ctx_of(L)->host_bytes += (long long)bytes; }

int mf_host_poll(lua_State *L) {
    mf_ctx *c = mf_ctx_of(L);
    if (c->tripped) return c->tripped;
    return mf_poll_reason(c);
}

void mf_out_trim(lua_State *L, size_t keep) {
    mf_ctx *c = mf_ctx_of(L);
    if (c->out_cap <= keep) return;
    free(c->out);
    c->out = NULL;
    c->out_len = 0;
    c->out_cap = 0;
}
