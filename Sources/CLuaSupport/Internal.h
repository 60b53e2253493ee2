#ifndef MOONFLOW_CLUA_SUPPORT_INTERNAL_H
#define MOONFLOW_CLUA_SUPPORT_INTERNAL_H
// What the C files of the sandbox share: the per-state context, the helpers that trip, charge and
// poll, and what each unit offers the others. Not part of the module's public header.
#include "CLuaSupport.h"

/// Names one environment blob may bind (a script's five, an expression scope's seven).
#define MF_MAX_BINDINGS 8
/// Seeds `math.random` may draw from the OS in one execution and have recorded (a replay needs them).
#define MF_MAX_SEEDS 16
/// The count hook fires at most every this many VM instructions (fewer once big strings exist).
#define MF_HOOK_COUNT 100
/// Allocated bytes charged as one instruction (bounds C work that allocates).
#define MF_ALLOC_BYTES_PER_INSTRUCTION 64
/// Bytes scanned by a C function charged as one instruction.
#define MF_SCAN_BYTES_PER_INSTRUCTION 4

/// One name of the running execution's environment blob, turned into a Lua value only when the
/// script first reads or assigns it (`materialize`).
typedef struct mf_binding {
    const char *name;
    size_t name_len;
    const unsigned char *value, *value_end;  // encoded value, inside the caller's blob
    int flags;                                // MF_BINDING_*
} mf_binding;

typedef struct mf_ctx {
    size_t used;           // bytes held by the state
    size_t limit;          // absolute cap while enforcing
    size_t baseline;       // bytes held when the execution started
    size_t memory;         // configured cap (relative)
    int enforcing;         // limits apply (user code or user source is being processed)
    int tripped;           // MF_TRIP_*, sticky
    long long instr_used;  // instructions (and charged C work) of this execution
    long long instr_limit;
    uint64_t deadline;     // mf_now_ns() deadline, 0 for none
    uint64_t compile_deadline;  // while compiling: when the compile budget ends
    const mf_flag *interrupt;
    lua_State *L;          // the state this context belongs to (to re-arm the hook)
    unsigned ticks;        // allocations since the clock was last polled
    int hook_armed;        // the count hook is installed (between arm and disarm)
    int hook_count;        // instructions between two hook calls (paced by max_string)
    size_t max_string;     // largest string allocated in this execution (or held by its chunk)
    int error_line;
    int seeded;            // math.random was seeded in this execution (lazily, on first use)
    uint64_t seeds[MF_MAX_SEEDS][2];  // the seeds drawn from the OS in this execution, in order
    int seed_count;        // how many were drawn (past MF_MAX_SEEDS: counted, not kept)
    int replaying;         // seeds come from `seeds` (set by mf_replay_seeds), not from the OS
    int replay_next;       // the next seed a replay hands out
    mf_binding bindings[MF_MAX_BINDINGS];
    int binding_count;     // 0 outside mf_prepare ... mf_finish
    int env_pending;       // mf_prepare recorded bindings whose environment mf_run has not built yet
    int env_live;          // the anchored environment belongs to the current mf_prepare ... mf_finish
    int building;          // the environment is being built (a failure there trips the state)
    unsigned materialized; // bit i: bindings[i] was read or assigned in this environment
    mf_host_fn host;
    void *host_ud;
    int test_seams;        // register the test-only built-ins (`test.ledger`)
    unsigned char *out;
    size_t out_len, out_cap;
    long long host_bytes;  // bytes a host call reported processing (`mf_host_charge`)
    char trip_message[256];
} mf_ctx;

static inline mf_ctx *mf_ctx_of(lua_State *L) { return *(mf_ctx **)lua_getextraspace(L); }

// Limits.c: tripping, charging, the hook, the allocator.
/// Marks the execution as failed and re-arms the hook to raise at every instruction. Never raises.
void mf_trip_quietly(lua_State *L, mf_ctx *c, int reason, const char *message);
/// `mf_trip_quietly`, then raises the trip message.
int mf_trip(lua_State *L, int reason, const char *message);
/// `mf_trip` for a sandbox violation.
static inline int mf_violation(lua_State *L, const char *message) { return mf_trip(L, MF_TRIP_VIOLATION, message); }
/// Interrupt flag and deadline (the coarse clock: a few ns, 4ms resolution on Linux).
int mf_poll_reason(mf_ctx *c);
/// Charges C work to the instruction budget and polls; raises when a limit is reached.
void mf_charge(lua_State *L, long long amount);
/// A state allocating through the bounded allocator of `c`, with `c` in its extra space.
lua_State *mf_state_new(mf_ctx *c);
/// Limits on and the count hook installed, for the execution (or compilation) that starts.
void mf_arm(lua_State *L, mf_ctx *c);
/// Limits off and the hook removed.
void mf_disarm(lua_State *L, mf_ctx *c);

// Proxies.c: read-only proxies and locked tables.
/// Registers the metatable of read-only proxies.
void mf_proxy_install(lua_State *L);
/// Pushes a new read-only proxy of the table at `idx`.
void mf_ro_wrap(lua_State *L, int idx);
int mf_next(lua_State *L);
int mf_pairs(lua_State *L);
int mf_rawset(lua_State *L);
int mf_setmetatable(lua_State *L);

// StdlibWrappers.c: library functions replaced or wrapped (wrappers take the original as upvalue 1).
int mf_tostring(lua_State *L);
int mf_collectgarbage(lua_State *L);
int mf_xpcall(lua_State *L);
/// Calls the original function (upvalue 1) with all arguments.
int mf_call_original(lua_State *L);
/// Charges the length of the string argument 1, then calls the original.
int mf_charged_by_length(lua_State *L);
/// Checks and charges the range of a table library function (upvalue 2: which one), then calls
/// the original.
int mf_table_guard(lua_State *L);
int mf_rep(lua_State *L);
int mf_format(lua_State *L);

// PatternMatcher.c
int mf_find(lua_State *L);
int mf_match(lua_State *L);
int mf_gmatch(lua_State *L);
int mf_gsub(lua_State *L);

// Bindings.c: encoded values, the execution's environment, the host trampoline.
/// Registers the anchored keys and the environments' metatable, and gives the globals template at
/// `globals` the metatable that builds lazy bindings.
void mf_bindings_install(lua_State *L, int globals);
/// Pushes the execution's environment (built on the first run after `mf_prepare`); raises when
/// none is prepared.
void mf_env_push(lua_State *L, mf_ctx *c);
/// Builds every binding not built yet when the table at `idx` is the current environment.
void mf_materialize_all(lua_State *L, int idx);
/// Records a raw write of the key at `key` into the table at `table` (a binding replaced).
void mf_note_raw_write(lua_State *L, int table, int key);
/// Calls the host built-in whose id is upvalue 1.
int mf_host_call(lua_State *L);

// Execution.c
/// Registers the table of the largest string each compiled chunk holds.
void mf_chunk_strings_install(lua_State *L);

// Deadline.c: hook pacing.
/// Monotonic nanoseconds at the last clock tick (cheap; same timeline as `mf_now_ns`).
uint64_t mf_coarse_now_ns(void);
/// Records a string allocation of `size` bytes; tightens the hook when it is the largest yet.
void mf_note_string(mf_ctx *c, size_t size);
/// The hook count for the largest string of the execution.
int mf_hook_pace(size_t max_string);
/// For `table.sort(t, f)` over `n` elements (stack: t, f): replaces `f` by a comparison that polls
/// the deadline when `n` is large.
void mf_sort_poll_install(lua_State *L, lua_Integer n);

// Random.c
/// Replaces `math.random`/`math.randomseed` of the math table at `math` by seeded wrappers.
void mf_random_install(lua_State *L, int math);

// Compile.c
/// Loads `source` in text mode, feeding the parser in small pieces so the compile budget and the
/// deadline are checked while it works; refuses sources whose shape makes the parser quadratic.
int mf_load_bounded(lua_State *L, const char *source, size_t length, const char *chunkname);

#endif
