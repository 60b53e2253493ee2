// The loader's syntax check (`mf_check_syntax`): compiles without running, under the compile
// budget, in one reused state per thread.
#include "Internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Compiling runs no code and changes no globals, so each thread keeps one state for syntax checks
// instead of building a sandbox per check (8 checks per typical workflow file). A state whose
// parser tripped a limit is closed and replaced, like an execution state.
static _Thread_local lua_State *mf_checker_state = NULL;

int mf_check_syntax(const char *source, size_t length, int expression, char *message, size_t capacity) {
    // The compile budget (MF_COMPILE_BUDGET_NS) bounds the parse; no deadline of its own.
    if (!mf_checker_state) mf_checker_state = mf_open(NULL, NULL, 0);
    lua_State *L = mf_checker_state;
    if (!L) {
        snprintf(message, capacity, "could not create a Lua state");
        return -1;
    }
    lua_settop(L, 0);
    mf_set_limits(L, 64u << 20, 1LL << 60, 0, NULL);
    int line = 0;
    if (!mf_compile(L, source, length, expression)) {
        const char *text = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "source too complex";
        const char *rest = text;
        line = -1;
        if (strncmp(text, "chunk:", 6) == 0) {
            char *end;
            long parsed = strtol(text + 6, &end, 10);
            if (end != text + 6 && *end == ':') {
                line = (int)parsed;
                rest = end + 1;
                while (*rest == ' ') rest++;
            }
        }
        if (mf_tripped(L) == MF_TRIP_VIOLATION) rest = mf_trip_message(L);
        else if (mf_tripped(L)) rest = "source too complex (parser limits exceeded)";
        snprintf(message, capacity, "%s", rest);
    }
    if (mf_tripped(L)) {
        mf_close(L);
        mf_checker_state = NULL;
    } else {
        lua_settop(L, 0);
    }
    return line;
}
