// The limits of an execution: cancellation flags and the clock, tripping (sticky failures the
// hook re-raises at every instruction), charging C work to the instruction budget, the count
// hook, and the bounded allocator every state allocates through.
#include "Internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

// MARK: - Tripping, charging, the hook

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
    mf_ctx *c = mf_ctx_of(L);
    mf_trip_quietly(L, c, reason, message);
    return luaL_error(L, "%s", c->trip_message);
}

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
    mf_ctx *c = mf_ctx_of(L);
    if (!c->enforcing) return;
    c->instr_used += amount;
    if (c->instr_used > c->instr_limit) mf_trip(L, MF_TRIP_INSTRUCTIONS, NULL);
    int reason = mf_poll_reason(c);
    if (reason) mf_trip(L, reason, NULL);
}

/// The count hook. It fires every `hook_count` instructions (100, fewer once the execution holds
/// long strings: comparing or converting one is a single instruction that scans it) and polls
/// the interrupt flag and the deadline at every call, so a deadline holds within the time of
/// `hook_count` instructions.
static void mf_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    mf_ctx *c = mf_ctx_of(L);
    if (!c->tripped) {
        c->instr_used += c->hook_count;
        if (c->instr_used > c->instr_limit) {
            mf_trip_quietly(L, c, MF_TRIP_INSTRUCTIONS, NULL);
        } else {
            int reason = mf_poll_reason(c);
            if (reason) mf_trip_quietly(L, c, reason, NULL);
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
            mf_trip_quietly(c->L, c, reason, NULL);
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

lua_State *mf_state_new(mf_ctx *c) {
    lua_State *L = lua_newstate(mf_alloc, c);
    if (!L) return NULL;
    *(mf_ctx **)lua_getextraspace(L) = c;
    c->L = L;
    lua_atpanic(L, mf_panic);
    return L;
}

// MARK: - Limits of the next execution

void mf_set_limits(lua_State *L, size_t memory, long long instructions, uint64_t deadline_ns, const mf_flag *interrupt) {
    mf_ctx *c = mf_ctx_of(L);
    c->memory = memory;
    c->instr_limit = instructions;
    c->deadline = deadline_ns;
    c->interrupt = interrupt;
}

int mf_tripped(lua_State *L) { return mf_ctx_of(L)->tripped; }
const char *mf_trip_message(lua_State *L) { return mf_ctx_of(L)->trip_message; }
int mf_error_line(lua_State *L) { return mf_ctx_of(L)->error_line; }
size_t mf_memory_used(lua_State *L) { return mf_ctx_of(L)->used; }

void mf_arm(lua_State *L, mf_ctx *c) {
    c->baseline = c->used;
    c->limit = c->used + c->memory;
    c->instr_used = 0;
    c->ticks = 0;
    c->error_line = 0;
    c->enforcing = 1;
    c->hook_armed = 1;
    pace_hook(L, c);
}

void mf_disarm(lua_State *L, mf_ctx *c) {
    c->enforcing = 0;
    c->hook_armed = 0;
    lua_sethook(L, NULL, 0, 0);
}
