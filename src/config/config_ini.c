/* config_ini.c - reading a config from INI text: ac_config_load and ac_config_load_string.
 *
 * Files are read with inih through our own line reader, which counts lines (Debian's inih does
 * not pass line numbers to the handler), strips CR of CRLF endings and a UTF-8 BOM, and checks
 * section headers as they go by, so an unknown section is reported even when it holds no keys.
 * Lines up to CONFIG_LINE_MAX characters are read whole, although inih's buffer holds only
 * INI_MAX_LINE - 1 (199 in Debian's build): a longer line reaches inih as a short stand-in
 * ("key=", "[section]" or ";") while the reader keeps its value, parsed by inih's own rules
 * (inline "; comment" after a space, surrounding spaces trimmed), for the handler to use
 * instead. Past CONFIG_LINE_MAX a line is an error rather than being split. The
 * reader also strips leading whitespace: an indented line is read as an ordinary line rather
 * than as inih's multi-line continuation of the previous value, so indented keys work and a
 * stray continuation line is reported as malformed. An unknown section or key is answered with
 * the nearest known one ("did you mean", src/core/nearest.h). Each value goes through
 * config.c's key table and parser (config_internal.h); a load commits to the caller's config only
 * on success.
 */
#include "attncast/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "core/nearest.h"

#include "config_internal.h"

/* ---- finding sections and keys, with did-you-mean ---- */

static bool known_section(const char *name) {
    for (size_t s = 0; s < SECTION_COUNT; s++)
        if (strcmp(name, ac_cfg_sections[s]) == 0) return true;
    return false;
}

static ac_status unknown_section(const char *name, origin at, ac_error *err) {
    const char *near = ac_nearest(name, ac_cfg_sections, SECTION_COUNT);
    if (near)
        return ac_cfg_fail(
            err, at,
            "unknown section [%.*s]; did you mean [%s]? (sections: data, model, train, "
            "output)",
            QUOTE_MAX, name, near);
    return ac_cfg_fail(err, at, "unknown section [%.*s] (sections: data, model, train, output)",
                       QUOTE_MAX, name);
}

static ac_status unknown_key(const char *section, const char *name, origin at, ac_error *err) {
    const key_def *near = NULL;
    int best = AC_NEAR_MISS + 1;
    for (size_t i = 0; i < KEY_COUNT; i++) {
        int d = ac_edit_distance(name, ac_cfg_keys[i].name);
        if (strcmp(ac_cfg_keys[i].section, section) == 0 && d < best) {
            best = d;
            near = &ac_cfg_keys[i];
        }
    }
    for (size_t i = 0; i < KEY_COUNT && !near; i++) {
        int d = ac_edit_distance(name, ac_cfg_keys[i].name);
        if (d < best) {
            best = d;
            near = &ac_cfg_keys[i];
        }
    }
    if (near)
        return ac_cfg_fail(err, at, "unknown key %s.%.*s; did you mean %s.%s?", section, QUOTE_MAX,
                           name, near->section, near->name);
    char list[512];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < KEY_COUNT && used < sizeof list; i++)
        if (strcmp(ac_cfg_keys[i].section, section) == 0)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
                                     ac_cfg_keys[i].name);
    return ac_cfg_fail(err, at, "unknown key %s.%.*s (%s keys: %s)", section, QUOTE_MAX, name,
                       section, list);
}

/* The table entry of section.name, or NULL with the error set. */
const key_def *ac_cfg_find_key(const char *section, const char *name, origin at, ac_error *err) {
    if (!known_section(section)) {
        unknown_section(section, at, err);
        return NULL;
    }
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (strcmp(ac_cfg_keys[i].section, section) == 0 && strcmp(ac_cfg_keys[i].name, name) == 0)
            return &ac_cfg_keys[i];
    unknown_key(section, name, at, err);
    return NULL;
}

/* ---- reading INI text ---- */

typedef struct parse_state {
    ac_config *cfg;
    const char *source;
    FILE *file; /* read from this, or else from text */
    const char *text;
    size_t pos;
    int line;    /* lines handed to inih so far: the current line */
    bool failed; /* err holds our first error, at fail_line */
    int fail_line;
    ac_error *err;
    int first_line[KEY_COUNT];     /* where each key was given, 0 if not yet */
    char buf[CONFIG_LINE_MAX + 2]; /* the current line, whole */
    int long_line;                 /* the line whose value is long_value, or 0 */
    char long_value[CONFIG_LINE_MAX + 1];
} parse_state;

static int next_char(parse_state *st) {
    if (st->file) return getc(st->file);
    return st->text[st->pos] ? (unsigned char)st->text[st->pos++] : EOF;
}

static void reader_fail(parse_state *st) {
    st->failed = true;
    st->fail_line = st->line;
}

/* Where inih's find_chars_or_comment stops: at one of chars, at an inline comment prefix after
 * white space, or at the end. */
static char *find_chars_or_comment(char *s, const char *chars) {
    bool was_space = false;
    while (*s && (!chars || !strchr(chars, *s)) &&
           !(was_space && strchr(INI_INLINE_COMMENT_PREFIXES, *s))) {
        was_space = isspace((unsigned char)*s);
        s++;
    }
    return s;
}

/* A line longer than inih's room (see the top of the file): puts a stand-in into str and, for a
 * key, keeps the value as inih would have passed it. NULL after an error. */
static char *hand_over_long_line(parse_state *st, char *line, char *str, size_t room, origin at) {
    if (strchr(INI_START_COMMENT_PREFIXES, line[0])) {
        snprintf(str, room + 1, "%c", line[0]);
        return str;
    }
    const char *close = line[0] == '[' ? strchr(line, ']') : NULL;
    if (close && (size_t)(close - line) < room) { /* a known section: checked by the caller */
        snprintf(str, room + 1, "%.*s", (int)(close - line + 1), line);
        return str;
    }
    char *sep = find_chars_or_comment(line, "=:");
    if (line[0] == '[' || (*sep != '=' && *sep != ':')) { /* malformed: inih will say where */
        snprintf(str, room + 1, "%.*s", (int)room, line);
        return str;
    }
    size_t name_len = (size_t)(sep - line);
    while (name_len > 0 && isspace((unsigned char)line[name_len - 1])) name_len--;
    if (name_len + 1 > room) {
        ac_cfg_fail(st->err, at, "a key name of %zu characters", name_len);
        reader_fail(st);
        return NULL;
    }
    char *value = sep + 1;
    *find_chars_or_comment(value, NULL) = '\0';
    while (isspace((unsigned char)*value)) value++;
    size_t len = strlen(value);
    while (len > 0 && isspace((unsigned char)value[len - 1])) len--;
    memcpy(st->long_value, value, len);
    st->long_value[len] = '\0';
    st->long_line = st->line;
    snprintf(str, room + 1, "%.*s=", (int)name_len, line);
    return str;
}

/* Reads one line for inih into str (num bytes) without its line ending; see the top of the
 * file. Returns NULL at the end or to stop after an error. */
static char *read_line(char *str, int num, void *stream) {
    parse_state *st = stream;
    if (st->failed || num < 2) return NULL;
    int c = next_char(st);
    if (c == EOF) return NULL;
    st->line++;
    origin at = {"", st->source, st->line};
    char *buf = st->buf;
    size_t cap = CONFIG_LINE_MAX, len = 0;
    int last = 0;
    bool nul = false;
    while (c != EOF && c != '\n') {
        if (len < cap) buf[len] = (char)c;
        nul |= c == '\0';
        last = c;
        if (++len > cap + 1) break; /* too long even without a CR */
        c = next_char(st);
    }
    if (last == '\r') len--;
    if (len > cap) {
        ac_cfg_fail(st->err, at, "line longer than %zu characters", cap);
        reader_fail(st);
        return NULL;
    }
    if (nul) {
        ac_cfg_fail(st->err, at, "line contains a NUL byte");
        reader_fail(st);
        return NULL;
    }
    buf[len] = '\0';
    size_t skip = 0;
    if (st->line == 1 && strncmp(buf, "\xEF\xBB\xBF", 3) == 0) skip = 3;
    while (buf[skip] == ' ' || buf[skip] == '\t') skip++;
    memmove(buf, buf + skip, len - skip + 1);

    char *close = buf[0] == '[' ? strchr(buf, ']') : NULL;
    if (close) {
        const char *rest = close + 1;
        while (isspace((unsigned char)*rest)) rest++;
        if (*rest && *rest != ';' && *rest != '#') {
            ac_cfg_fail(st->err, at, "malformed line (expected key = value or [section])");
            reader_fail(st);
            return NULL;
        }
        *close = '\0';
        if (!known_section(buf + 1)) {
            unknown_section(buf + 1, at, st->err);
            reader_fail(st);
            return NULL;
        }
        *close = ']';
    }
    size_t room = (size_t)num - 1;
    if (strlen(buf) > room) return hand_over_long_line(st, buf, str, room, at);
    memcpy(str, buf, strlen(buf) + 1);
    return str;
}

static int on_key(void *user, const char *section, const char *name, const char *value) {
    parse_state *st = user;
    if (st->failed) return 0;
    origin at = {"", st->source, st->line};
    const key_def *k = NULL;
    if (st->long_line == st->line) value = st->long_value;
    if (!*section) {
        const char *home = NULL;
        for (size_t i = 0; i < KEY_COUNT && !home; i++)
            if (strcmp(ac_cfg_keys[i].name, name) == 0) home = ac_cfg_keys[i].section;
        if (home)
            ac_cfg_fail(st->err, at, "key '%.*s' is outside any section (it belongs under [%s])",
                        QUOTE_MAX, name, home);
        else
            ac_cfg_fail(st->err, at, "key '%.*s' is outside any section", QUOTE_MAX, name);
    } else if ((k = ac_cfg_find_key(section, name, at, st->err)) != NULL) {
        int *first = &st->first_line[k - ac_cfg_keys];
        if (*first)
            ac_cfg_fail(st->err, at, "%s.%s given twice (first at line %d)", k->section, k->name,
                        *first);
        else if (ac_cfg_parse_value(k, value, st->cfg, at, st->err) == AC_OK) {
            *first = st->line;
            st->cfg->set_at[k - ac_cfg_keys] = st->line;
            if (k->type == KEY_SPLIT) st->cfg->data.split_set = true;
            return 1;
        }
    }
    st->failed = true;
    st->fail_line = st->line;
    return 0;
}

/* Parses the stream described by st (file or text) into *cfg, all or nothing. */
static ac_status parse_into(ac_config *cfg, parse_state *st) {
    ac_config work;
    memcpy(&work, cfg, sizeof work);
    st->cfg = &work;
    int rc = ini_parse_stream(read_line, st, on_key, st);
    if (st->file && ferror(st->file))
        return ac_error_set(st->err, AC_ERR_IO, "%.*s: cannot read: %s", SOURCE_MAX, st->source,
                            strerror(errno));
    if (rc > 0 && (!st->failed || rc < st->fail_line)) {
        origin at = {"", st->source, rc};
        return ac_cfg_fail(st->err, at, "malformed line (expected key = value or [section])");
    }
    if (st->failed) return st->err ? st->err->code : AC_ERR_INVALID;
    if (rc < 0)
        return ac_error_set(st->err, AC_ERR_NOMEM, "%.*s: out of memory while reading", SOURCE_MAX,
                            st->source);
    ac_cfg_resolve(&work);
    memcpy(cfg, &work, sizeof work);
    return AC_OK;
}

ac_status ac_config_load_string(ac_config *cfg, const char *text, const char *source,
                                ac_error *err) {
    parse_state st = {.source = source ? source : "config", .text = text ? text : "", .err = err};
    return parse_into(cfg, &st);
}

ac_status ac_config_load(ac_config *cfg, const char *path, ac_error *err) {
    size_t len = strlen(path);
    if (len >= sizeof cfg->path)
        return ac_error_set(err, AC_ERR_INVALID, "%.*s...: path longer than %zu characters",
                            QUOTE_MAX, path, sizeof cfg->path - 1);
    ac_config work;
    ac_config_defaults(&work);
    FILE *f = fopen(path, "r");
    if (!f) {
        ac_error_set(err, AC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return ac_cfg_one_line(err, AC_ERR_IO);
    }
    parse_state st = {.source = path, .file = f, .err = err};
    ac_status status = parse_into(&work, &st);
    fclose(f);
    if (status != AC_OK) return status;

    memcpy(work.path, path, len + 1);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 4 && ac_cfg_same_ci(base + n - 4, ".ini")) n -= 4;
    if (n >= sizeof work.name) { /* keep whole UTF-8 characters */
        n = sizeof work.name - 1;
        while (n > 0 && ((unsigned char)base[n] & 0xC0) == 0x80) n--;
    }
    memcpy(work.name, base, n);
    work.name[n] = '\0';
    memcpy(cfg, &work, sizeof work);
    return AC_OK;
}
