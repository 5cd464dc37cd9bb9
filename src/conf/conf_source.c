/* From configuration files to logical lines.
 *
 * Per physical line, in Exim's order: macro substitution (so a macro may turn a line into a
 * comment or a directive), then comment lines are dropped, then directives (.include,
 * .include_if_exists, .ifdef family) are obeyed, then a trailing backslash joins the next
 * non-comment physical line with its leading white space removed. An empty line ends a
 * continuation. Everything is bounded: include depth, .ifdef depth and logical line length.
 */
#include "conf/conf_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fail_v(conf_reader *r, bool with_line, const char *fmt, va_list ap)
{
	if (r->failed)
		return;
	r->failed = true;
	xbuf_reset(&r->err);
	xbuf_vprintf(&r->err, fmt, ap);
	r->err_has_line = with_line && r->depth >= 0;
	if (r->err_has_line) {
		r->err_line = r->files[r->depth].lineno;
		r->err_file = r->files[r->depth].name;
	}
}

void conf_fail(conf_reader *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v(r, true, fmt, ap);
	va_end(ap);
}

void conf_fail_noline(conf_reader *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v(r, false, fmt, ap);
	va_end(ap);
}

/* The directory used for relative .include names in a file, in Exim's observed form: a relative
 * name is taken from the working directory, and a name without any '/' leaves a trailing '/' on
 * the directory (so "t.conf" includes "x" as "<cwd>//x", as Exim prints it). */
static const char *file_dir(const char *name)
{
	char cwd[4096];
	const char *slash = strrchr(name, '/');
	if (slash && name[0] == '/')
		return arena_strndup(pool_config, name, (size_t)(slash - name));
	const char *here = getcwd(cwd, sizeof cwd) ? cwd : ".";
	if (!slash)
		return arena_printf(pool_config, "%s/", here);
	return arena_printf(pool_config, "%s/%.*s", here, (int)(slash - name), name);
}

void conf_fail_whole(conf_reader *r, const char *message)
{
	if (r->failed)
		return;
	r->failed = true;
	r->err_whole = true;
	xbuf_reset(&r->err);
	xbuf_puts(&r->err, message);
}

void conf_reader_init(conf_reader *r, FILE *fp, const char *name)
{
	memset(r, 0, sizeof *r);
	xbuf_init(&r->err, NULL);
	xbuf_init(&r->physical, NULL);
	xbuf_init(&r->substituted, NULL);
	r->files[0] = (conf_file){ fp, name, 0, file_dir(name) };
	r->depth = 0;
	r->macros_allowed = true;
}

void conf_reader_close(conf_reader *r)
{
	/* files[0] belongs to the caller */
	for (int i = r->depth; i > 0; i--)
		if (r->files[i].fp)
			fclose(r->files[i].fp);
	r->depth = -1;
	xbuf_free(&r->err);
	xbuf_free(&r->physical);
	xbuf_free(&r->substituted);
}

const char *conf_cur_file(const conf_reader *r)
{
	return r->depth >= 0 ? r->files[r->depth].name : r->files[0].name;
}

int conf_cur_line(const conf_reader *r)
{
	return r->depth >= 0 ? r->files[r->depth].lineno : r->files[0].lineno;
}

/* Read one physical line (without its newline) from the current file, popping finished include
 * files. NUL bytes are kept as data (they never terminate anything here). false at the end. */
static bool read_physical(conf_reader *r, xbuf *out)
{
	xbuf_reset(out);
	while (r->depth >= 0) {
		conf_file *f = &r->files[r->depth];
		int c;
		bool got = false;
		while ((c = getc(f->fp)) != EOF) {
			got = true;
			if (c == '\n')
				break;
			if (out->len >= CONF_MAX_LINE) {
				f->lineno++;
				conf_fail(r, "configuration line too long (more than %d characters)", CONF_MAX_LINE);
				return false;
			}
			xbuf_putc(out, (char)c);
		}
		if (got) {
			f->lineno++;
			return true;
		}
		if (r->depth == 0) {
			r->at_eof = true;
			return false;
		}
		/* End of an included file: back to the includer. */
		fclose(f->fp);
		f->fp = NULL;
		r->depth--;
		xbuf_printf(&conf_st.config_text, "# %d \"%s\"\n", r->files[r->depth].lineno,
			r->files[r->depth].name);
	}
	return false;
}

static sv trim_right(sv v)
{
	while (v.len && isspace((unsigned char)v.p[v.len - 1]))
		v.len--;
	return v;
}

static sv trim_left(sv v)
{
	while (v.len && isspace((unsigned char)*v.p)) {
		v.p++;
		v.len--;
	}
	return v;
}

static bool is_skipping(const conf_reader *r)
{
	return r->nconds > 0 && r->conds[r->nconds - 1].skipping;
}

/* A macro definition line: the name is not itself substituted (so "M == M more" works). */
static size_t macro_definition_name_len(sv line)
{
	if (!line.len || !isupper((unsigned char)line.p[0]))
		return 0;
	size_t i = 1;
	while (i < line.len && (isalnum((unsigned char)line.p[i]) || line.p[i] == '_'))
		i++;
	size_t j = i;
	while (j < line.len && isspace((unsigned char)line.p[j]))
		j++;
	return (j < line.len && line.p[j] == '=') ? j + 1 : 0;
}

/* Substitute macros in a physical line into r->substituted; returns whether anything changed. */
static bool substitute(conf_reader *r, sv line, bool first_of_logical)
{
	xbuf_reset(&r->substituted);
	size_t keep = 0;
	if (first_of_logical && r->macros_allowed)
		keep = macro_definition_name_len(trim_left(line));
	if (keep) {
		sv lead = trim_left(line);
		xbuf_putsv(&r->substituted, sv_sub(lead, 0, keep));
		xbuf tail;
		xbuf_init(&tail, NULL);
		bool changed = conf_macros_apply(sv_sub(lead, keep, lead.len), &tail);
		xbuf_putsv(&r->substituted, xbuf_sv(&tail));
		xbuf_free(&tail);
		return changed;
	}
	return conf_macros_apply(line, &r->substituted);
}

static void push_cond(conf_reader *r, bool cond, const char *directive)
{
	if (r->nconds >= CONF_MAX_IF_DEPTH) {
		conf_fail(r, "%s nested too deeply", directive);
		return;
	}
	bool parent_skip = is_skipping(r);
	/* Inside a skipped region no branch of a nested conditional may be taken. */
	r->conds[r->nconds++] = parent_skip ? (conf_cond){ true, true } : (conf_cond){ cond, !cond };
}

/* Obey a directive line (starting '.'); returns false if it is not a directive. */
static bool directive(conf_reader *r, sv line, bool substituted)
{
	static const struct { const char *name; int kind; } dirs[] = {
		{ "ifdef", 1 }, { "ifndef", 2 }, { "elifdef", 3 }, { "elifndef", 4 }, { "else", 5 },
		{ "endif", 6 }, { "include_if_exists", 8 }, { "include", 7 },
	};
	sv body = sv_sub(line, 1, line.len);
	size_t n = 0;
	while (n < body.len && (isalnum((unsigned char)body.p[n]) || body.p[n] == '_'))
		n++;
	sv word = sv_sub(body, 0, n);
	int kind = 0;
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		if (sv_eq_cstr(word, dirs[i].name))
			kind = dirs[i].kind;
	if (!kind)
		return false;
	conf_cond *top = r->nconds ? &r->conds[r->nconds - 1] : NULL;
	switch (kind) {
	case 1:
	case 2:
		push_cond(r, kind == 1 ? substituted : !substituted, kind == 1 ? ".ifdef" : ".ifndef");
		return true;
	case 3:
	case 4:
		if (!top) {
			conf_fail(r, "%s without matching .ifdef", kind == 3 ? ".elifdef" : ".elifndef");
			return true;
		}
		if (top->taken) {
			top->skipping = true;
		} else {
			bool c = kind == 3 ? substituted : !substituted;
			top->skipping = !c;
			top->taken = c;
		}
		return true;
	case 5:
		if (!top) {
			conf_fail(r, ".else without matching .ifdef");
			return true;
		}
		top->skipping = top->taken;
		top->taken = true;
		return true;
	case 6:
		if (!top) {
			conf_fail(r, ".endif without matching .ifdef");
			return true;
		}
		r->nconds--;
		return true;
	default:
		break;
	}
	/* .include / .include_if_exists */
	if (is_skipping(r))
		return true;
	sv arg = trim_left(sv_sub(body, n, body.len));
	if (arg.len >= 2 && arg.p[0] == '"' && arg.p[arg.len - 1] == '"')
		arg = sv_sub(arg, 1, arg.len - 2);
	if (!arg.len)
		return true;
	if (memchr(arg.p, 0, arg.len)) {
		conf_fail(r, "failed to open included configuration file " SV_FMT, SV_ARG(arg));
		return true;
	}
	if (kind == 8 && arg.p[0] != '/') {
		conf_fail(r, ".include specifies a non-absolute path \"" SV_FMT "\"", SV_ARG(arg));
		return true;
	}
	const char *dir = r->files[r->depth].dir;
	char *path = arg.p[0] == '/'
		? arena_printf(pool_config, SV_FMT, SV_ARG(arg))
		: arena_printf(pool_config, "%s/" SV_FMT, dir, SV_ARG(arg));
	FILE *fp = NULL;
	if (r->depth < CONF_MAX_INCLUDE_DEPTH)
		fp = fopen(path, "r");
	if (!fp) {
		if (kind == 8 && errno == ENOENT)
			return true;
		conf_fail(r, "failed to open included configuration file %s", path);
		return true;
	}
	xbuf_printf(&conf_st.config_text, "# %d \"%s\"\n# 1 \"%s\"\n", r->files[r->depth].lineno,
		r->files[r->depth].name, path);
	r->files[r->depth + 1] = (conf_file){ fp, path, 0, file_dir(path) };
	r->depth++;
	return true;
}

bool conf_next_line(conf_reader *r, xbuf *out)
{
	xbuf_reset(out);
	bool continuing = false;
	while (!r->failed) {
		if (!read_physical(r, &r->physical)) {
			if (r->failed)
				return false;
			if (continuing)
				break;
			if (r->nconds > 0) {
				conf_fail(r, "Unexpected end of configuration file: .endif missing");
				return false;
			}
			return false;
		}
		sv phys = xbuf_sv(&r->physical);
		if (continuing && !trim_left(trim_right(phys)).len)
			break;  /* an empty line ends a continuation */
		bool changed = substitute(r, phys, !continuing);
		if (r->substituted.len > CONF_MAX_MACRO_GROWTH) {
			conf_fail(r, "macro expansion makes the line too long");
			return false;
		}
		sv line = trim_left(trim_right(xbuf_sv(&r->substituted)));
		if (line.len && line.p[0] == '#')
			continue;
		/* Inclusion works at the physical-line level, even inside a continued line. */
		if (continuing && sv_starts(line, ".include") && directive(r, line, changed))
			continue;
		if (!continuing) {
			if (!line.len)
				continue;
			if (line.p[0] == '.' && directive(r, line, changed))
				continue;
			if (is_skipping(r))
				continue;
		}
		bool more = line.len && line.p[line.len - 1] == '\\';
		if (more)
			line.len--;
		if (out->len + line.len > CONF_MAX_LINE) {
			conf_fail(r, "configuration line too long (more than %d characters)", CONF_MAX_LINE);
			return false;
		}
		xbuf_putsv(out, line);
		if (!more)
			break;
		continuing = true;
	}
	if (r->failed)
		return false;
	sv t = trim_right(xbuf_sv(out));
	xbuf_truncate(out, t.len);
	return true;
}
