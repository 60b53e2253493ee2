#ifndef MOONFLOW_CLUA_SUPPORT_H
#define MOONFLOW_CLUA_SUPPORT_H
// The C half of Moonflow's Lua sandbox. Everything that can raise a Lua error (longjmp) lives in
// C; Swift only calls functions of this header and Lua API functions that never raise.
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stddef.h>
#include <stdint.h>

// MARK: - Trip reasons (why an execution was stopped; sticky until the state is discarded)

enum {
    MF_TRIP_NONE = 0,
    MF_TRIP_MEMORY = 1,
    MF_TRIP_INSTRUCTIONS = 2,
    MF_TRIP_TIMEOUT = 3,
    MF_TRIP_CANCELLED = 4,
    MF_TRIP_PATTERN = 5,
    MF_TRIP_VIOLATION = 6,
    /// The host budget (copies the host holds for the execution) is spent: `LuaMemoryLimit`.
    MF_TRIP_HOST_MEMORY = 7,
};

/// Wall time one compilation may take (the parser runs no VM code; see Compile.c).
#define MF_COMPILE_BUDGET_NS 500000000ull

// MARK: - Host function identifiers (the built-ins implemented in Swift)

enum {
    MF_HOST_JSON_ENCODE = 1,
    MF_HOST_JSON_DECODE,
    MF_HOST_LOG_DEBUG,
    MF_HOST_LOG_INFO,
    MF_HOST_LOG_WARN,
    MF_HOST_LOG_ERROR,
    MF_HOST_TIME_NOW,
    MF_HOST_TIME_UNIX,
    MF_HOST_TIME_PARSE,
    MF_HOST_UUID,
    MF_HOST_BASE64_ENCODE,
    MF_HOST_BASE64_DECODE,
    MF_HOST_HEX_ENCODE,
    MF_HOST_HEX_DECODE,
    MF_HOST_HASH_SHA256,
    MF_HOST_HMAC_SHA256,
    MF_HOST_EMIT,
    MF_HOST_FAIL,
    MF_HOST_TEST_LEDGER,
    MF_HOST_HTTP_REQUEST,
};

/// What a Swift host function asks C to do with the bytes it appended to the out buffer.
enum {
    /// The out buffer holds encoded results; C pushes them.
    MF_HOST_RETURN = 0,
    /// The out buffer holds a message; C raises it as a string error with the caller's position.
    MF_HOST_RAISE_MESSAGE = 1,
    /// The out buffer holds one encoded value (an error table); C raises it.
    MF_HOST_RAISE_VALUE = 2,
    /// The out buffer holds a message; C trips the state with a sandbox violation.
    MF_HOST_VIOLATION = 3,
    /// The out buffer holds a message; C trips the state: the host budget is spent.
    MF_HOST_BUDGET = 4,
};

/// Encoded value tags (Swift encodes, C decodes; see `mf_push_encoded`).
enum {
    MF_TAG_NIL = 0,
    MF_TAG_FALSE = 1,
    MF_TAG_TRUE = 2,
    MF_TAG_INT = 3,
    MF_TAG_DOUBLE = 4,
    MF_TAG_STRING = 5,
    MF_TAG_ARRAY = 6,
    MF_TAG_OBJECT = 7,
};

/// Keys anchored in the registry so Swift can push them without allocating (`mf_push_key`).
enum {
    MF_KEY_WORKFLOW = 1,
    MF_KEY_TYPE,
    MF_KEY_MESSAGE,
    MF_KEY_RETRYABLE,
    MF_KEY_DETAILS,
};

/// A flag another thread sets (cancellation) and the hook and allocator read.
typedef struct mf_flag mf_flag;
mf_flag *mf_flag_new(void);
void mf_flag_free(mf_flag *flag);
void mf_flag_set(mf_flag *flag, int reason);
int mf_flag_get(const mf_flag *flag);

/// Monotonic nanoseconds, the clock deadlines are expressed in.
uint64_t mf_now_ns(void);

/// A Swift host function: reads its arguments (stack 1...nargs) with non-raising calls, appends
/// its answer with `mf_out_append` and returns one of `MF_HOST_*`.
typedef int (*mf_host_fn)(void *host, lua_State *L, int fid, int nargs);

/// A sandboxed state (allow-listed globals template, read-only library proxies, bounded
/// functions); `test_seams` also registers the test-only built-ins. NULL when the state could not
/// be built.
lua_State *mf_open(mf_host_fn host, void *host_ud, int test_seams);
void mf_close(lua_State *L);

/// Limits applied by the next `mf_compile`/`mf_run` (memory relative to what the state holds).
void mf_set_limits(lua_State *L, size_t memory, long long instructions, uint64_t deadline_ns, const mf_flag *interrupt);
int mf_tripped(lua_State *L);
/// The message of a violation trip.
const char *mf_trip_message(lua_State *L);
/// Line of the innermost Lua frame when the last `mf_run` failed (0 if unknown).
int mf_error_line(lua_State *L);
/// Memory the state holds now, in bytes.
size_t mf_memory_used(lua_State *L);

/// Compiles text-only source into a registry reference (>= 1). On failure returns 0 and leaves
/// the message on the stack. `expression` wraps the source as `return (source)`.
int mf_compile(lua_State *L, const char *source, size_t length, int expression);
void mf_unref(lua_State *L, int ref);

/// Flags of one binding in an environment blob.
enum {
    /// Tables reach the script as read-only proxies.
    MF_BINDING_READ_ONLY = 1,
    /// Built with the environment rather than at the script's first use (a name nearly every
    /// script reads: the lazy path costs more than building it).
    MF_BINDING_EAGER = 2,
};

/// Records the encoded bindings blob (count, then per binding: `MF_BINDING_*` flags, name,
/// length-prefixed encoded value) of the next environment; the next `mf_run` builds it, and
/// builds each lazy binding when the script first uses it, so the blob must stay valid until
/// `mf_finish`. Never raises; returns 0 when the blob is malformed.
int mf_prepare(lua_State *L, const unsigned char *blob, size_t length);
/// Ends the use of the blob given to `mf_prepare`; `mf_run` refuses to run again before the next
/// `mf_prepare` (an environment is never reused by another execution).
void mf_finish(lua_State *L);
/// Pushes `workflow` of the current environment as the script left it and returns 1; returns 0
/// (nothing pushed) when the script neither read nor assigned it, so it is unchanged; -1 when the
/// stack cannot grow. Call before `mf_finish`.
int mf_push_workflow(lua_State *L);
/// Runs the compiled function `ref` under the limits and the hook, with `_ENV` set to the
/// environment of the prepared blob, built by the first run after `mf_prepare` inside the same
/// protected call (later runs, the expressions of one template, share it). Pushes one result or
/// the error object; returns the Lua status. A failure to build the environment trips the state.
int mf_run(lua_State *L, int ref);

/// Host out buffer.
void mf_out_append(lua_State *L, const void *bytes, size_t length);
/// Releases the out buffer when an execution left it larger than `keep` bytes.
void mf_out_trim(lua_State *L, size_t keep);
/// A host function reports bytes it read or produced besides its string arguments and answer
/// (tables read, digests computed); `host_call` charges them when it returns. Never raises.
void mf_host_charge(lua_State *L, size_t bytes);
/// Nonzero (an `MF_TRIP_*`) when the execution should stop now (interrupt or deadline): long
/// host work polls it between pieces. Never raises.
int mf_host_poll(lua_State *L);

/// The seeds `math.random` drew from the OS in the current execution, two words each, at most
/// `capacity` of them copied to `out`; returns how many were drawn (more than were kept when past
/// the recording limit; 0 in a replay).
int mf_recorded_seeds(lua_State *L, uint64_t *out, int capacity);
/// Makes the current execution (after `mf_prepare`) a replay: `math.random` draws these `count`
/// recorded seeds in order instead of the OS's. Returns 0 when there are too many.
int mf_replay_seeds(lua_State *L, const uint64_t *seeds, int count);

/// Pushes an anchored key string (`MF_KEY_*`) without allocating.
void mf_push_key(lua_State *L, int key);
/// When the value at `idx` is a read-only proxy, pushes its target and returns 1; else 0.
int mf_proxy_target(lua_State *L, int idx);

/// Compiles without running in a throwaway state; 0 when it compiles, else the Lua line (or -1)
/// with the message copied into `message`.
int mf_check_syntax(const char *source, size_t length, int expression, char *message, size_t capacity);

/// Names of the Lua globals a script sees (base functions, libraries, the invocation's tables).
int mf_global_name_count(void);
const char *mf_global_name(int index);
/// The built-ins implemented by the host: library (NULL for a global function) and name.
int mf_builtin_count(void);
const char *mf_builtin_library(int index);
const char *mf_builtin_name(int index);
/// 1 when the built-in exists only in states opened with test seams.
int mf_builtin_test_only(int index);

// MARK: - Lua's function-like macros, as functions Swift can call

/// `lua_pop` is a macro over `lua_settop`.
static inline void mflua_pop(lua_State *L, int n) { lua_settop(L, -(n)-1); }
/// `lua_tointeger` is a macro over `lua_tointegerx`.
static inline lua_Integer mflua_tointeger(lua_State *L, int idx) { return lua_tointegerx(L, idx, NULL); }
/// `lua_tonumber` is a macro over `lua_tonumberx`.
static inline lua_Number mflua_tonumber(lua_State *L, int idx) { return lua_tonumberx(L, idx, NULL); }
/// `LUA_REGISTRYINDEX` is a macro expression Swift does not import.
static inline int mflua_registryindex(void) { return LUA_REGISTRYINDEX; }
/// `lua_remove` is a macro over `lua_rotate`.
static inline void mflua_remove(lua_State *L, int idx) { lua_rotate(L, idx, -1); lua_settop(L, -2); }

#endif
