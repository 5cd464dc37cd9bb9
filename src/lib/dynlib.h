/* Optional libraries loaded when they are first needed (dlopen) instead of linked.
 *
 * Why: the daemon forks a process for every connection, and fork and exit each walk every
 * memory mapping of the process (a shared library is five). The lookup libraries (libpq with
 * the twenty libraries it brings, SQLite, hiredis, Berkeley DB, jansson) were mapped in every
 * session whether the configuration used them or not: 192 mappings in the daemon, 72 without
 * them (docs/architecture.md, "Daemon: the cost of a new connection"). A driver using one calls
 * its loader before its first library call (in its open function); the daemon loads the ones
 * its configuration names before it forks (search_preload_named), so sessions inherit them.
 *
 * A driver keeps calling the functions by their usual names: it lists them once in an X-macro,
 * DYNLIB_TABLE makes a struct of pointers to them and DYNLIB_LOADER the function that fills it,
 * and "#define name table.name" lines (after the library's header) redirect each call.
 */
#ifndef POSTERN_LIB_DYNLIB_H
#define POSTERN_LIB_DYNLIB_H

#include <stdbool.h>
#include <stddef.h>

#include "build_config.h"

#include "lib/str.h"

/* dlopen(soname) once per call site; false with *err "<what>: cannot load <soname>: <why>". */
bool dynlib_open(const char *what, const char *soname, void **handle, xbuf *err);
/* Store the address of name (in handle) into *slot (slot_size: a function pointer's size);
 * false with *err "<what>: <soname> has no <name>". */
bool dynlib_sym(const char *what, const char *soname, void *handle, const char *name, void *slot,
	size_t slot_size, xbuf *err);

#define DYNLIB_MEMBER(name) __typeof__(name) *name;
#define DYNLIB_TABLE(type, LIST) typedef struct type { LIST(DYNLIB_MEMBER) } type;

#if DYNLIB_LINKED
/* Fuzzing builds link the libraries (meson.build): the table takes the linked functions, so
 * that the fuzz sandbox's -Wl,--wrap replacements are the ones called. */
#define DYNLIB_TAKE_(name) t_.name = name;
#define DYNLIB_LOADER(fn, what, soname, type, var, LIST) \
	static bool fn(xbuf *err) \
	{ \
		type t_; \
		(void)err; \
		LIST(DYNLIB_TAKE_) \
		var = t_; \
		return true; \
	}
#else
#define DYNLIB_FIND_(name) \
	if (!dynlib_sym(what_, soname_, h_, #name, &t_.name, sizeof t_.name, err)) \
		return false;
/* bool fn(xbuf *err): load the library and fill var (of type) once; true when loaded. */
#define DYNLIB_LOADER(fn, what, soname, type, var, LIST) \
	static bool fn(xbuf *err) \
	{ \
		static bool loaded_; \
		const char *what_ = what, *soname_ = soname; \
		void *h_; \
		type t_; \
		if (loaded_) \
			return true; \
		if (!dynlib_open(what_, soname_, &h_, err)) \
			return false; \
		LIST(DYNLIB_FIND_) \
		var = t_; \
		loaded_ = true; \
		return true; \
	}
#endif

#endif
