/* Command-line parsing in Exim's style: options start with '-', letters may be followed by
 * attached arguments, and the first argument that does not start with '-' ends the options. */
#include "prog/cmdline.h"
#include "prog/cmdline_continue.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "prog/sender_arg.h"

static bool fail(char *err, size_t n, const char *msg, const char *arg)
{
	snprintf(err, n, msg, arg);
	return false;
}

/* -q[q][i][f[f]][l][G<name>[/<time>]][<time>]. A time makes a queue-runner daemon (with -bd,
 * the listening daemon runs them). */
static bool parse_q(cmdline *cl, const char *a)
{
	const char *p = a + 2;
	if (*p == 'q') { cl->q_two_stage = true; p++; }
	if (*p == 'i') { cl->q_initial = true; p++; }
	if (*p == 'f') { cl->q_force = true; p++; if (*p == 'f') { cl->q_force_frozen = true; p++; } }
	if (*p == 'l') { cl->q_local = true; p++; }
	if (*p == 'G') {
		p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			return false;
		cl->q_name = arena_strndup(pool_perm, p, n);
		p += n;
		if (*p == '/')
			p++;
	}
	if (*p) {
		if (!isdigit((unsigned char)*p))
			return false;
		cl->queue_interval = p;
	}
	if (cl->mode == MODE_NONE)
		cl->mode = MODE_QUEUE;
	return true;
}

/* What the command line asked for, as far as the incompatibility check below needs it (the
 * mode field alone keeps only the last mode given). */
enum {
	SEEN_Q = 1u << 0,      /* -q..., -R, -S: a queue run */
	SEEN_QTIME = 1u << 1,  /* -q with a time: a queue-runner daemon */
	SEEN_RS = 1u << 2,     /* -R / -S */
	SEEN_SMTP = 1u << 3,   /* -bs, -bS */
	SEEN_T = 1u << 4,      /* -t */
	SEEN_BT = 1u << 5,     /* -bt */
	SEEN_BV = 1u << 6,     /* -bv, -bvs */
	SEEN_BP = 1u << 7,     /* -bP */
	SEEN_LISTQ = 1u << 8,  /* -bp (listing, not -bpc) */
	SEEN_BE = 1u << 9,     /* -be, -bem */
	SEEN_BH = 1u << 10,    /* -bh, -bhc */
	SEEN_BD = 1u << 11,    /* -bd, -bdf */
	SEEN_BF = 1u << 12,    /* -bf, -bF */
	SEEN_BRW = 1u << 13,   /* -brw */
	SEEN_M = 1u << 15,     /* -M... message actions */
	SEEN_SENDER = 1u << 16,/* -f / -r */
	SEEN_ARGS = 1u << 17,  /* non-option arguments that are not -M ids or the -brw address */
};

/* Exim refuses these combinations before it reads its configuration, with "incompatible
 * command-line options or arguments" and status 1. The table was worked out by running
 * Exim 4.96 over pairs of options (tests/scenario/test_cmdline_incompatible.py compares). */
static bool incompatible(unsigned f)
{
	const unsigned CHK = SEEN_BT | SEEN_BV;
	if ((f & (SEEN_SMTP | SEEN_T | SEEN_ARGS)) && (f & (SEEN_BD | SEEN_Q | SEEN_BF)))
		return true; /* input to receive, yet a daemon, queue run or test mode */
	if ((f & (SEEN_BD | SEEN_QTIME)) && (f & (SEEN_SMTP | SEEN_T | SEEN_ARGS | CHK | SEEN_BP | SEEN_LISTQ
		| SEEN_BE | SEEN_BH | SEEN_BF | SEEN_BRW | SEEN_M | SEEN_SENDER)))
		return true; /* a daemon does nothing else */
	if ((f & SEEN_BD) && (f & SEEN_Q) && !(f & SEEN_QTIME))
		return true; /* -bd wants -q with a time */
	if ((f & SEEN_SMTP) && (f & (SEEN_T | CHK | SEEN_BP | SEEN_BRW | SEEN_M | SEEN_SENDER)))
		return true;
	if ((f & SEEN_T) && (f & (CHK | SEEN_BP | SEEN_BRW | SEEN_M)))
		return true;
	if ((f & CHK) && ((f & (SEEN_BP | SEEN_M | SEEN_BF)) || (f & CHK) == CHK))
		return true;
	if ((f & SEEN_BP) && (f & (SEEN_BE | SEEN_BH | SEEN_BRW | SEEN_M | SEEN_BF)))
		return true;
	if ((f & SEEN_M) && (f & (SEEN_BE | SEEN_BH | SEEN_BF | SEEN_RS)))
		return true;
	return false;
}

static bool is_msg_action(const char *w);

/* The SEEN_ bits one option sets (its arguments are not looked at). */
static unsigned option_bits(const char *a)
{
	static const struct {
		const char *opt;
		unsigned bits;
	} exact[] = {
		{ "-bs", SEEN_SMTP }, { "-bS", SEEN_SMTP }, { "-t", SEEN_T }, { "-bt", SEEN_BT },
		{ "-bv", SEEN_BV }, { "-bvs", SEEN_BV }, { "-bP", SEEN_BP }, { "-be", SEEN_BE },
		{ "-bem", SEEN_BE }, { "-bh", SEEN_BH }, { "-bhc", SEEN_BH }, { "-bd", SEEN_BD },
		{ "-bdf", SEEN_BD }, { "-bf", SEEN_BF }, { "-bF", SEEN_BF }, { "-brw", SEEN_BRW },
	};
	for (size_t k = 0; k < sizeof exact / sizeof *exact; k++)
		if (strcmp(a, exact[k].opt) == 0)
			return exact[k].bits;
	if (strncmp(a, "-bp", 3) == 0 && !strchr(a + 3, 'c'))
		return SEEN_LISTQ;
	if (strncmp(a, "-q", 2) == 0)
		return SEEN_Q;
	if ((a[1] == 'R' || a[1] == 'S') && strspn(a + 2, "fr") == strlen(a + 2))
		return SEEN_Q | SEEN_RS;
	if (strncmp(a, "-M", 2) == 0 && strncmp(a, "-MC", 3) != 0 && is_msg_action(a + 2))
		return SEEN_M;
	if (a[1] == 'f' || a[1] == 'r')
		return SEEN_SENDER;
	return 0;
}

static bool is_msg_action(const char *w)
{
	static const char *const actions[] = { "", "c", "f", "t", "rm", "g", "G", "ar", "md", "mad", "es",
		"vh", "vb", "vl", "vc" };
	for (size_t k = 0; k < sizeof actions / sizeof *actions; k++)
		if (strcmp(w, actions[k]) == 0)
			return true;
	return false;
}

bool cmdline_parse(int argc, char **argv, cmdline *cl, char *err, size_t errlen)
{
	memset(cl, 0, sizeof *cl);
	cl->argv0 = argc > 0 ? argv[0] : "postern";
	const char *slash = strrchr(cl->argv0, '/');
	cl->called_as = slash ? slash + 1 : cl->argv0;
	cl->defines = arena_calloc(pool_perm, (size_t)(argc > 0 ? argc : 1), sizeof *cl->defines);
	cl->args = arena_calloc(pool_perm, (size_t)(argc > 0 ? argc : 1) + 1, sizeof *cl->args);

	cl->dot_ends = true;
	bool dot_given = false;
	/* Exim's behaviour by the name it is called under. */
	if (strcmp(cl->called_as, "mailq") == 0) {
		cl->mode = MODE_BPL;
		cl->bp_variant = "";
	} else if (strcmp(cl->called_as, "rsmtp") == 0) {
		cl->mode = MODE_BSB;
	} else if (strcmp(cl->called_as, "rmail") == 0) {
		cl->dot_ends = false;
		dot_given = true;
	} else {
		/* The hints database tools: all arguments are theirs. */
		static const char *const tools[] = { "dumpdb", "tidydb", "fixdb" };
		for (size_t t = 0; t < sizeof tools / sizeof *tools; t++) {
			size_t n = strlen(cl->called_as), k = strlen(tools[t]);
			if (n > k && cl->called_as[n - k - 1] == '_' && strcmp(cl->called_as + n - k, tools[t]) == 0) {
				cl->mode = MODE_HINTS;
				cl->hints_tool = tools[t];
				for (int j = 1; j < argc; j++)
					cl->args[cl->nargs++] = argv[j];
				return true;
			}
		}
	}

	unsigned seen = 0;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		seen |= option_bits(a);
		if (strcmp(a, "-bV") == 0) {
			cl->mode = MODE_BV;
		} else if (strcmp(a, "-bP") == 0) {
			cl->mode = MODE_BP;
		} else if (strcmp(a, "-be") == 0) {
			cl->mode = MODE_BE;
		} else if (strcmp(a, "-bem") == 0) {
			if (i + 1 >= argc)
				return fail(err, errlen, "%s: string expected after -bem", cl->called_as);
			cl->mode = MODE_BEM;
			cl->bem_file = argv[++i];
		} else if (strcmp(a, "-bd") == 0 || strcmp(a, "-bdf") == 0) {
			cl->mode = MODE_BD;
			cl->daemon_foreground = a[3] == 'f';
		} else if (strcmp(a, "-bs") == 0) {
			cl->mode = MODE_BS;
		} else if (strcmp(a, "-bS") == 0) {
			cl->mode = MODE_BSB;
		} else if (strcmp(a, "-bh") == 0 || strcmp(a, "-bhc") == 0) {
			if (i + 1 >= argc)
				return fail(err, errlen, "%s: string expected after -bh", cl->called_as);
			cl->mode = a[3] == 'c' ? MODE_BHC : MODE_BH;
			cl->bh_address = argv[++i];
		} else if (strcmp(a, "-bf") == 0 || strcmp(a, "-bF") == 0 || strcmp(a, "-bfd") == 0
		           || strcmp(a, "-bfl") == 0 || strcmp(a, "-bfp") == 0 || strcmp(a, "-bfs") == 0) {
			if (i + 1 >= argc)
				return fail(err, errlen, "%s: string expected after -bf", cl->called_as);
			const char *v = argv[++i];
			switch (a[3]) {
			case 'd': cl->bf_domain = v; break;
			case 'l': cl->bf_local_part = v; break;
			case 'p': cl->bf_prefix = v; break;
			case 's': cl->bf_suffix = v; break;
			default:
				cl->mode = MODE_BF;
				cl->filter_file = v;
				cl->system_filter = a[2] == 'F';
			}
		} else if (strcmp(a, "-bt") == 0) {
			cl->mode = MODE_BT;
		} else if (strcmp(a, "-brw") == 0) {
			cl->mode = MODE_BRW;
		} else if (strcmp(a, "-bv") == 0 || strcmp(a, "-bvs") == 0) {
			cl->mode = MODE_BVA;
			cl->verify_sender = a[3] == 's';
		} else if (strcmp(a, "-bm") == 0) {
			cl->mode = MODE_BM;
		} else if (strcmp(a, "-bdbdump") == 0 || strcmp(a, "-bdbtidy") == 0 || strcmp(a, "-bdbfix") == 0) {
			cl->mode = MODE_HINTS;
			cl->hints_tool = a[4] == 'd' ? "dumpdb" : a[4] == 't' ? "tidydb" : "fixdb";
			for (int j = i + 1; j < argc; j++)
				cl->args[cl->nargs++] = argv[j];
			return true;
		} else if (strncmp(a, "-bp", 3) == 0 && strspn(a + 3, "cruaij") == strlen(a + 3)) {
			cl->mode = MODE_BPL;
			cl->bp_variant = a + 3;
		} else if (strncmp(a, "-oM", 3) == 0 && a[3]) {
			const char **slot = NULL;
			const char *w = a + 3;
			if (strcmp(w, "a") == 0) slot = &cl->oMa;
			else if (strcmp(w, "aa") == 0) slot = &cl->oMaa;
			else if (strcmp(w, "ai") == 0) slot = &cl->oMai;
			else if (strcmp(w, "as") == 0) slot = &cl->oMas;
			else if (strcmp(w, "i") == 0) slot = &cl->oMi;
			else if (strcmp(w, "m") == 0) slot = &cl->oMm;
			else if (strcmp(w, "r") == 0) slot = &cl->oMr;
			else if (strcmp(w, "s") == 0) slot = &cl->oMs;
			else if (strcmp(w, "t") == 0) slot = &cl->oMt;
			if (!slot)
				return fail(err, errlen, "exim abandoned: unknown, malformed, or incomplete option %s", a);
			if (i + 1 >= argc)
				return fail(err, errlen, "exim abandoned: unknown, malformed, or incomplete option %s", a);
			*slot = argv[++i];
		} else if (strcmp(a, "-oX") == 0 || strcmp(a, "-oP") == 0) {
			if (i + 1 >= argc)
				return fail(err, errlen, "exim abandoned: unknown, malformed, or incomplete option %s", a);
			if (a[2] == 'X')
				cl->override_local_interfaces = argv[++i];
			else
				cl->pid_file = argv[++i];
		} else if (strcmp(a, "-oY") == 0) {
			cl->no_notifier = true;
		} else if (strncmp(a, "-od", 3) == 0) {
			const char *w = a + 3;
			if (strcmp(w, "b") == 0) cl->deliver = DELIVER_BACKGROUND;
			else if (strcmp(w, "f") == 0 || strcmp(w, "i") == 0) cl->deliver = DELIVER_FOREGROUND;
			else if (strcmp(w, "q") == 0) cl->deliver = DELIVER_QUEUE;
			else if (strcmp(w, "qs") == 0) cl->deliver = DELIVER_QUEUE_SMTP;
			else
				return fail(err, errlen, "exim abandoned: unknown, malformed, or incomplete option %s", a);
		} else if (strncmp(a, "-oe", 3) == 0 && a[3] && strchr("empqw", a[3]) && !a[4]) {
			cl->error_mode = a[3];
		} else if (strcmp(a, "-oi") == 0 || strcmp(a, "-i") == 0) {
			cl->dot_ends = false;
			dot_given = true;
		} else if (strcmp(a, "-t") == 0) {
			cl->extract_recipients = true;
		} else if (strcmp(a, "-N") == 0) {
			cl->dont_deliver = true;
		} else if (a[1] == 'f' || a[1] == 'r' || a[1] == 'F') {
			const char *v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
			if (!v)
				return fail(err, errlen, "exim abandoned: unknown, malformed, or incomplete option %s", a);
			if (a[1] == 'F')
				cl->fullname = v;
			else if (!sender_arg_syntax_ok(v, err, errlen))
				return false; /* judged where it stands, as Exim does (prog/sender_arg.h) */
			else
				cl->sender = v;
		} else if (strncmp(a, "-q", 2) == 0) {
			if (!parse_q(cl, a))
				return fail(err, errlen, "exim abandoned: unknown, malformed, or incomplete option %s", a);
		} else if ((a[1] == 'R' || a[1] == 'S') && strspn(a + 2, "fr") == strlen(a + 2)) {
			/* -R<rsflags> <string>: f (force), ff (force frozen too), r (regex) */
			if (i + 1 >= argc)
				return fail(err, errlen, "exim abandoned: unknown, malformed, or incomplete option %s", a);
			const char *f = a + 2;
			size_t nf = strspn(f, "f");
			if (nf > 2 || strchr(f + nf, 'f'))
				return fail(err, errlen, "exim abandoned: unknown, malformed, or incomplete option %s", a);
			cl->select_force = nf >= 1;
			cl->select_force_frozen = nf == 2;
			cl->select_regex = strchr(f, 'r') != NULL;
			if (a[1] == 'R')
				cl->select_recipient = argv[++i];
			else
				cl->select_sender = argv[++i];
			if (cl->mode == MODE_NONE)
				cl->mode = MODE_QUEUE;
		} else if (strncmp(a, "-MC", 3) == 0) {
			if (!cmdline_continue_option(cl, argc, argv, &i, err, errlen))
				return false;
		} else if (strncmp(a, "-M", 2) == 0 && is_msg_action(a + 2)) {
			cl->mode = MODE_MSG;
			cl->msg_action = a + 2;
		} else if (strncmp(a, "-B", 2) == 0 || strcmp(a, "-oem") == 0) {
			/* sendmail compatibility: body type is ignored, as Exim does */
		} else if (strncmp(a, "-C", 2) == 0) {
			const char *v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
			if (!v)
				return fail(err, errlen, "%s: string expected after -C", cl->called_as);
			cl->config_file = v;
		} else if (strncmp(a, "-D", 2) == 0) {
			/* Exim: the definition is attached (-DNAME=value); the name must start upper case. */
			const char *d = a + 2;
			if (!isupper((unsigned char)d[0]))
				return fail(err, errlen, "%s: macro name set by -D must start with an upper case letter", "exim");
			size_t n = strcspn(d, "=");
			for (size_t k = 0; k < n; k++)
				if (!isalnum((unsigned char)d[k]) && d[k] != '_')
					return fail(err, errlen, "%s: macro name set by -D must contain only letters, digits, and underscores", "exim");
			conf_define *def = &cl->defines[cl->ndefines++];
			def->name = arena_strndup(pool_perm, d, n);
			def->value = d[n] == '=' ? d + n + 1 : "";
		} else if (strncmp(a, "-d", 2) == 0) {
			cl->debug = a + 2;
		} else if (strcmp(a, "-v") == 0) {
			cl->verbose = true;
		} else if (strcmp(a, "-n") == 0) {
			cl->no_names = true;
		} else {
			return fail(err, errlen, "exim abandoned: unknown, malformed, or incomplete option %s", a);
		}
	}
	for (; i < argc; i++)
		cl->args[cl->nargs++] = argv[i];
	if (cl->queue_interval)
		seen |= SEEN_QTIME;
	/* -M's ids, -brw's address and a plain queue run's start and stop ids are the options' own
	 * arguments, as Exim reads them. */
	bool queue_ids = cl->mode == MODE_QUEUE && !(seen & (SEEN_RS | SEEN_QTIME));
	if (!(seen & SEEN_M) && !queue_ids && cl->nargs > ((seen & SEEN_BRW) ? 1u : 0u))
		seen |= SEEN_ARGS;
	if (incompatible(seen))
		return fail(err, errlen, "%s", "exim: incompatible command-line options or arguments");
	/* No mode but recipients (or -t): a local submission, as sendmail. */
	if (cl->mode == MODE_NONE && (cl->nargs > 0 || cl->extract_recipients))
		cl->mode = MODE_BM;
	(void)dot_given;
	return true;
}
