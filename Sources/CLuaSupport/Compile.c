// Bounded compilation. Lua's parser runs no VM code, so the count hook never fires while it
// works, and some inputs make it quadratic: each operand of a long `a or a or …` chain walks the
// whole jump list built so far (256KB took 4.7s). Two bounds, both generic:
//
// - The parser reads its source through a reader that hands it MF_PIECE bytes at a time and
//   checks the interrupt flag, the execution's deadline and the compile budget
//   (MF_COMPILE_BUDGET_NS) at each piece, so the quadratic work, which happens while the tokens
//   are read, stops within the time of one piece.
// - The one quadratic step that happens after the last token of a block is resolving its pending
//   jumps (`break`s and `goto`s close at the block's `end`, each resolution shifting the pending
//   list: 32 000 `break`s in one loop took 0.3-0.6s at one token). Sources with more than
//   MF_MAX_JUMP_WORDS such words are refused before parsing.
#include "Internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/// Bytes the parser gets per read.
#define MF_PIECE 256
/// `break`/`goto` words one source may hold (counted outside strings and comments).
#define MF_MAX_JUMP_WORDS 4096

typedef struct piece_reader {
    const char *source;
    size_t length, position;
} piece_reader;

static const char *read_piece(lua_State *L, void *ud, size_t *size) {
    piece_reader *r = ud;
    mf_ctx *c = mf_ctx_of(L);
    int reason = mf_poll_reason(c);
    if (reason) mf_trip(L, reason, NULL);
    if (c->compile_deadline && mf_coarse_now_ns() >= c->compile_deadline) {
        char message[120];
        snprintf(message, sizeof message, "source too complex: compiling it took longer than %llums",
                 (unsigned long long)(MF_COMPILE_BUDGET_NS / 1000000u));
        mf_trip(L, MF_TRIP_VIOLATION, message);
    }
    if (r->position >= r->length) {
        *size = 0;
        return NULL;
    }
    size_t n = r->length - r->position < MF_PIECE ? r->length - r->position : MF_PIECE;
    const char *piece = r->source + r->position;
    r->position += n;
    *size = n;
    return piece;
}

/// Level of the long bracket opening at `s[i]` (`[`, `[=[`, …), or -1.
static long long_bracket_level(const char *s, size_t n, size_t i) {
    size_t j = i + 1;
    while (j < n && s[j] == '=') j++;
    return j < n && s[j] == '[' ? (long)(j - i - 1) : -1;
}

/// Index just past the long bracket of `level` opened at `s[i]`.
static size_t skip_long_bracket(const char *s, size_t n, size_t i, long level) {
    for (size_t j = i + (size_t)level + 2; j < n; j++) {
        if (s[j] != ']') continue;
        size_t k = j + 1;
        while (k < n && s[k] == '=' && (long)(k - j - 1) < level) k++;
        if ((long)(k - j - 1) == level && k < n && s[k] == ']') return k + 1;
    }
    return n;
}

/// `break` and `goto` words outside strings and comments (a light lexer: it only needs to skip
/// what cannot hold a keyword).
static size_t count_jump_words(const char *s, size_t n) {
    size_t count = 0, i = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];
        long level;
        if (ch == '-' && i + 1 < n && s[i + 1] == '-') {
            i += 2;
            if (i < n && s[i] == '[' && (level = long_bracket_level(s, n, i)) >= 0) {
                i = skip_long_bracket(s, n, i, level);
            } else {
                while (i < n && s[i] != '\n') i++;
            }
        } else if (ch == '[' && (level = long_bracket_level(s, n, i)) >= 0) {
            i = skip_long_bracket(s, n, i, level);
        } else if (ch == '"' || ch == '\'') {
            for (i++; i < n && s[i] != (char)ch && s[i] != '\n'; i++)
                if (s[i] == '\\') i++;
            i++;
        } else if (isalpha(ch) || ch == '_') {
            size_t start = i;
            while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_')) i++;
            size_t len = i - start;
            if ((len == 5 && memcmp(s + start, "break", 5) == 0) || (len == 4 && memcmp(s + start, "goto", 4) == 0)) count++;
        } else {
            i++;
        }
    }
    return count;
}

int mf_load_bounded(lua_State *L, const char *source, size_t length, const char *chunkname) {
    if (count_jump_words(source, length) > MF_MAX_JUMP_WORDS) {
        char message[120];
        snprintf(message, sizeof message, "source too complex: more than %d 'break'/'goto' statements", MF_MAX_JUMP_WORDS);
        mf_trip(L, MF_TRIP_VIOLATION, message);
    }
    piece_reader reader = {source, length, 0};
    return lua_load(L, read_piece, &reader, chunkname, "t");
}
