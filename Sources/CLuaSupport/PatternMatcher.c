// string.find, string.match, string.gmatch and string.gsub over a pattern matcher written from the
// Lua 5.4 reference manual (§6.4.1), with a step budget (`LuaPatternBudget` beyond it) and the
// deadline polled while it works.
#define _GNU_SOURCE  // memmem
#include "Internal.h"

#include <ctype.h>
#include <string.h>

/// Pattern steps one call of find/match/gmatch/gsub may take (LuaPatternBudget beyond).
#define MF_PATTERN_STEPS 10000000L
/// Recursion depth of the matcher (captures, quantifiers) before "pattern too complex".
#define MF_PATTERN_DEPTH 200
/// Plain find refuses subject length x needle length above this.
#define MF_PLAIN_FIND_PRODUCT 10000000000LL

#define MF_MAXCAPTURES 32
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)
#define LUA_PATTERN_MAGIC "^$*+?.([%-"

typedef struct matcher {
    const char *subject, *subject_end, *pattern_end;
    lua_State *L;
    long budget;
    int depth;
    int level;
    struct {
        const char *start;
        ptrdiff_t len;
    } capture[MF_MAXCAPTURES];
} matcher;

static void step(matcher *m) {
    if (--m->budget < 0) mf_trip(m->L, MF_TRIP_PATTERN, NULL);
    if ((m->budget & 0xFFFF) == 0) {
        int reason = mf_poll_reason(mf_ctx_of(m->L));
        if (reason) mf_trip(m->L, reason, NULL);
    }
}

/// End of the single-character class starting at `p`.
static const char *class_end(matcher *m, const char *p) {
    if (*p == '%') {
        if (p + 1 >= m->pattern_end) luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 2;
    }
    if (*p == '[') {
        p++;
        if (p < m->pattern_end && *p == '^') p++;
        do {  // the first ']' of a set is literal
            if (p >= m->pattern_end) luaL_error(m->L, "malformed pattern (missing ']')");
            if (*p == '%') {
                p++;
                if (p >= m->pattern_end) luaL_error(m->L, "malformed pattern (missing ']')");
            }
            p++;
        } while (p >= m->pattern_end || *p != ']');
        return p + 1;
    }
    return p + 1;
}

static int class_matches(int c, int cls) {
    int result;
    switch (tolower(cls)) {
    case 'a': result = isalpha(c); break;
    case 'c': result = iscntrl(c); break;
    case 'd': result = isdigit(c); break;
    case 'g': result = isgraph(c); break;
    case 'l': result = islower(c); break;
    case 'p': result = ispunct(c); break;
    case 's': result = isspace(c); break;
    case 'u': result = isupper(c); break;
    case 'w': result = isalnum(c); break;
    case 'x': result = isxdigit(c); break;
    case 'z': result = c == 0; break;  // deprecated since 5.2 and not in the manual, but Lua 5.4 has it
    default: return cls == c;
    }
    result = result != 0;
    return isupper(cls) ? !result : result;
}

/// `set` points at '[', `end` at its closing ']'.
static int set_matches(int c, const char *set, const char *end) {
    int negate = 0;
    set++;
    if (*set == '^') {
        negate = 1;
        set++;
    }
    for (; set < end; set++) {
        if (*set == '%') {  // as in Lua, a '%' right before `end` escapes the closing ']' itself
            set++;
            if (class_matches(c, (unsigned char)*set)) return !negate;
        } else if (set + 2 < end && set[1] == '-') {
            if ((unsigned char)set[0] <= c && c <= (unsigned char)set[2]) return !negate;
            set += 2;
        } else if ((unsigned char)*set == c) {
            return !negate;
        }
    }
    return negate;
}

static int single_matches(matcher *m, const char *s, const char *p, const char *ep) {
    if (s >= m->subject_end) return 0;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.': return 1;
    case '%': return class_matches(c, (unsigned char)p[1]);
    case '[': return set_matches(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

static const char *do_match(matcher *m, const char *s, const char *p);

static const char *match_balance(matcher *m, const char *s, const char *p) {
    if (p + 1 >= m->pattern_end) luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->subject_end || *s != *p) return NULL;
    int open = *p, close = p[1], depth = 1;
    while (++s < m->subject_end) {
        step(m);
        if (*s == close) {
            if (--depth == 0) return s + 1;
        } else if (*s == open) {
            depth++;
        }
    }
    return NULL;
}

static const char *expand_greedy(matcher *m, const char *s, const char *p, const char *ep) {
    ptrdiff_t count = 0;
    while (single_matches(m, s + count, p, ep)) {
        step(m);
        count++;
    }
    for (; count >= 0; count--) {
        step(m);
        const char *r = do_match(m, s + count, ep + 1);
        if (r) return r;
    }
    return NULL;
}

static const char *expand_lazy(matcher *m, const char *s, const char *p, const char *ep) {
    for (;;) {
        step(m);
        const char *r = do_match(m, s, ep + 1);
        if (r) return r;
        if (!single_matches(m, s, p, ep)) return NULL;
        s++;
    }
}

static const char *open_capture(matcher *m, const char *s, const char *p, ptrdiff_t what) {
    if (m->level >= MF_MAXCAPTURES) luaL_error(m->L, "too many captures");
    m->capture[m->level].start = s;
    m->capture[m->level].len = what;
    m->level++;
    const char *r = do_match(m, s, p);
    if (!r) m->level--;
    return r;
}

static const char *close_capture(matcher *m, const char *s, const char *p) {
    int open = -1;
    for (int i = m->level - 1; i >= 0; i--) {
        if (m->capture[i].len == CAP_UNFINISHED) {
            open = i;
            break;
        }
    }
    if (open < 0) luaL_error(m->L, "invalid pattern capture");
    m->capture[open].len = s - m->capture[open].start;
    const char *r = do_match(m, s, p);
    if (!r) m->capture[open].len = CAP_UNFINISHED;
    return r;
}

static const char *back_reference(matcher *m, const char *s, int digit) {
    int index = digit - '1';
    if (index < 0 || index >= m->level || m->capture[index].len == CAP_UNFINISHED)
        luaL_error(m->L, "invalid capture index %%%d", index + 1);
    size_t len = (size_t)m->capture[index].len;
    if ((size_t)(m->subject_end - s) < len) return NULL;
    m->budget -= (long)(len / 8);
    step(m);
    return memcmp(m->capture[index].start, s, len) == 0 ? s + len : NULL;
}

static const char *do_match(matcher *m, const char *s, const char *p) {
    if (++m->depth > MF_PATTERN_DEPTH) luaL_error(m->L, "pattern too complex");
    for (;;) {
        step(m);
        if (p >= m->pattern_end) break;
        if (*p == '(') {
            s = p + 1 < m->pattern_end && p[1] == ')' ? open_capture(m, s, p + 2, CAP_POSITION)
                                                      : open_capture(m, s, p + 1, CAP_UNFINISHED);
            break;
        }
        if (*p == ')') {
            s = close_capture(m, s, p + 1);
            break;
        }
        if (*p == '$' && p + 1 == m->pattern_end) {
            if (s != m->subject_end) s = NULL;
            break;
        }
        if (*p == '%' && p + 1 < m->pattern_end && p[1] == 'b') {
            s = match_balance(m, s, p + 2);
            if (!s) break;
            p += 4;
            continue;
        }
        if (*p == '%' && p + 1 < m->pattern_end && p[1] == 'f') {
            p += 2;
            if (p >= m->pattern_end || *p != '[') luaL_error(m->L, "missing '[' after '%%f' in pattern");
            const char *ep = class_end(m, p);
            int previous = s == m->subject ? 0 : (unsigned char)s[-1];
            int current = s < m->subject_end ? (unsigned char)*s : 0;
            if (set_matches(previous, p, ep - 1) || !set_matches(current, p, ep - 1)) {
                s = NULL;
                break;
            }
            p = ep;
            continue;
        }
        if (*p == '%' && p + 1 < m->pattern_end && isdigit((unsigned char)p[1])) {
            s = back_reference(m, s, (unsigned char)p[1]);
            if (!s) break;
            p += 2;
            continue;
        }
        const char *ep = class_end(m, p);
        char quantifier = ep < m->pattern_end ? *ep : '\0';
        if (!single_matches(m, s, p, ep)) {
            if (quantifier == '*' || quantifier == '?' || quantifier == '-') {
                p = ep + 1;
                continue;
            }
            s = NULL;
            break;
        }
        if (quantifier == '?') {
            const char *r = do_match(m, s + 1, ep + 1);
            if (r) {
                s = r;
                break;
            }
            p = ep + 1;
            continue;
        }
        if (quantifier == '+') {
            s = expand_greedy(m, s + 1, p, ep);
            break;
        }
        if (quantifier == '*') {
            s = expand_greedy(m, s, p, ep);
            break;
        }
        if (quantifier == '-') {
            s = expand_lazy(m, s, p, ep);
            break;
        }
        s++;
        p = ep;
    }
    m->depth--;
    return s;
}

static void matcher_init(matcher *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp) {
    m->L = L;
    m->subject = s;
    m->subject_end = s + ls;
    m->pattern_end = p + lp;
    m->budget = MF_PATTERN_STEPS;
    m->depth = 0;
    m->level = 0;
}

static void matcher_finish(matcher *m) { mf_charge(m->L, (MF_PATTERN_STEPS - m->budget) / 8); }

static void push_capture(matcher *m, int i, const char *s, const char *e) {
    if (i >= m->level) {
        if (i != 0) luaL_error(m->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t len = m->capture[i].len;
    if (len == CAP_UNFINISHED) luaL_error(m->L, "unfinished capture");
    if (len == CAP_POSITION)
        lua_pushinteger(m->L, (lua_Integer)(m->capture[i].start - m->subject) + 1);
    else
        lua_pushlstring(m->L, m->capture[i].start, (size_t)len);
}

/// Pushes the captures (or the whole match when there are none and `s` is given).
static int push_captures(matcher *m, const char *s, const char *e) {
    int count = (m->level == 0 && s) ? 1 : m->level;
    luaL_checkstack(m->L, count, "too many captures");
    for (int i = 0; i < count; i++) push_capture(m, i, s, e);
    return count;
}

static size_t start_index(lua_Integer init, size_t len) {
    if (init > 0) return (size_t)init;
    if (init == 0) return 1;
    if (init < -(lua_Integer)len) return 1;
    return len + (size_t)init + 1;
}

static int has_specials(const char *p, size_t lp) {
    for (size_t i = 0; i < lp; i++)
        if (strchr(LUA_PATTERN_MAGIC, p[i])) return 1;
    return 0;
}

static int find_or_match(lua_State *L, int find) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_index(luaL_optinteger(L, 3, 1), ls);
    if (init > ls + 1) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
        if ((long long)(ls - init + 1) * (long long)lp > MF_PLAIN_FIND_PRODUCT)
            return mf_trip(L, MF_TRIP_PATTERN, "string.find: subject x needle too large for a plain search");
        mf_charge(L, (long long)((ls - init + 1) / MF_SCAN_BYTES_PER_INSTRUCTION));
        const char *found = lp == 0 ? s + init - 1 : memmem(s + init - 1, ls - init + 1, p, lp);
        if (!found) {
            luaL_pushfail(L);
            return 1;
        }
        lua_pushinteger(L, (lua_Integer)(found - s) + 1);
        lua_pushinteger(L, (lua_Integer)(found - s) + (lua_Integer)lp);
        return 2;
    }
    matcher m;
    int anchored = lp > 0 && *p == '^';
    if (anchored) {
        p++;
        lp--;
    }
    matcher_init(&m, L, s, ls, p, lp);
    const char *start = s + init - 1;
    do {
        m.level = 0;
        m.depth = 0;
        const char *e = do_match(&m, start, p);
        if (e) {
            matcher_finish(&m);
            if (find) {
                lua_pushinteger(L, (lua_Integer)(start - s) + 1);
                lua_pushinteger(L, (lua_Integer)(e - s));
                return push_captures(&m, NULL, NULL) + 2;
            }
            return push_captures(&m, start, e);
        }
    } while (start++ < m.subject_end && !anchored);
    matcher_finish(&m);
    luaL_pushfail(L);
    return 1;
}

int mf_find(lua_State *L) { return find_or_match(L, 1); }
int mf_match(lua_State *L) { return find_or_match(L, 0); }

/// gmatch iterator: upvalues subject, pattern, next position (0-based), end of the last match (-1).
static int gmatch_step(lua_State *L) {
    size_t ls, lp;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
    lua_Integer position = lua_tointeger(L, lua_upvalueindex(3));
    lua_Integer last = lua_tointeger(L, lua_upvalueindex(4));
    matcher m;
    matcher_init(&m, L, s, ls, p, lp);
    for (const char *start = s + position; start <= m.subject_end; start++) {
        m.level = 0;
        m.depth = 0;
        const char *e = do_match(&m, start, p);
        if (e && (e - s) != last) {
            matcher_finish(&m);
            lua_pushinteger(L, (lua_Integer)(e - s));
            lua_copy(L, -1, lua_upvalueindex(3));
            lua_replace(L, lua_upvalueindex(4));
            return push_captures(&m, start, e);
        }
    }
    matcher_finish(&m);
    lua_pushinteger(L, (lua_Integer)ls + 1);
    lua_replace(L, lua_upvalueindex(3));
    return 0;
}

int mf_gmatch(lua_State *L) {
    size_t ls;
    luaL_checklstring(L, 1, &ls);
    luaL_checkstring(L, 2);
    size_t init = start_index(luaL_optinteger(L, 3, 1), ls);
    lua_settop(L, 2);
    lua_pushinteger(L, (lua_Integer)(init > ls + 1 ? ls + 1 : init - 1));
    lua_pushinteger(L, -1);
    lua_pushcclosure(L, gmatch_step, 4);
    return 1;
}

static void add_replacement(matcher *m, luaL_Buffer *b, const char *s, const char *e, int kind) {
    lua_State *L = m->L;
    if (kind == LUA_TSTRING || kind == LUA_TNUMBER) {
        size_t lr;
        const char *r = lua_tolstring(L, 3, &lr);
        for (size_t i = 0; i < lr; i++) {
            if (r[i] != '%') {
                luaL_addchar(b, r[i]);
                continue;
            }
            i++;
            if (i >= lr || (!isdigit((unsigned char)r[i]) && r[i] != '%'))
                luaL_error(L, "invalid use of '%%' in replacement string");
            if (r[i] == '%') {
                luaL_addchar(b, '%');
            } else if (r[i] == '0') {
                luaL_addlstring(b, s, (size_t)(e - s));
            } else {
                push_capture(m, r[i] - '1', s, e);
                luaL_tolstring(L, -1, NULL);
                lua_remove(L, -2);
                luaL_addvalue(b);
            }
        }
        return;
    }
    if (kind == LUA_TTABLE) {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e);
        lua_call(L, n, 1);
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    } else {
        luaL_addvalue(b);
    }
}

int mf_gsub(lua_State *L) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int kind = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(L, kind == LUA_TNUMBER || kind == LUA_TSTRING || kind == LUA_TFUNCTION || kind == LUA_TTABLE, 3,
                     "string/function/table");
    int anchored = lp > 0 && *p == '^';
    if (anchored) {
        p++;
        lp--;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    matcher m;
    matcher_init(&m, L, s, ls, p, lp);
    const char *position = s, *last = NULL;
    lua_Integer count = 0;
    while (count < max) {
        m.level = 0;
        m.depth = 0;
        const char *e = do_match(&m, position, p);
        if (e && e != last) {
            count++;
            add_replacement(&m, &b, position, e, kind);
            position = last = e;
        } else if (position < m.subject_end) {
            step(&m);
            luaL_addchar(&b, *position++);
        } else {
            break;
        }
        if (anchored) break;
    }
    luaL_addlstring(&b, position, (size_t)(m.subject_end - position));
    matcher_finish(&m);
    luaL_pushresult(&b);
    lua_pushinteger(L, count);
    return 2;
}

