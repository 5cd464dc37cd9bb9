/* The Exim command line, parsed into one struct that the modes (-bV, -bP, -be, ...) read. */
#ifndef POSTERN_PROG_CMDLINE_H
#define POSTERN_PROG_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

typedef enum cmd_mode {
	MODE_NONE,
	MODE_BV,   /* -bV: version and build information */
	MODE_BP,   /* -bP: print configuration */
	MODE_BE,   /* -be: expansion testing */
	MODE_BEM,  /* -bem FILE: expansion testing with a message loaded */
	MODE_BD,   /* -bd / -bdf: the listening daemon (prog/daemon.c) */
	MODE_BS,   /* -bs: SMTP on stdin/stdout (prog/bs.c) */
	MODE_BH,   /* -bh IP: host checking (prog/bs.c) */
	MODE_BHC,  /* -bhc IP: host checking with callouts (prog/bs.c) */
	MODE_BSB,  /* -bS: batched SMTP on stdin (prog/bs.c) */
	MODE_BM,   /* -bm, or recipients given / -t: local submission (prog/bm.c) */
	MODE_BPL,  /* -bp, -bpc, -bpr, -bpa, -bpu, mailq: list the queue (prog/bp.c) */
	MODE_BT,   /* -bt: address testing (prog/bt.c) */
	MODE_BVA,  /* -bv / -bvs: address verification (prog/bt.c) */
	MODE_BF,   /* -bf FILE / -bF FILE: filter testing (prog/bf.c) */
	MODE_QUEUE,/* -q..., -R, -S: a queue run, or a queue-runner daemon with a time (prog/queue.c) */
	MODE_MSG,  /* -M, -Mc, -Mf, -Mt, -Mrm, -Mg, -Mar, -Mmd, -Mes, -Mvh, -Mvb, -Mvl, -Mvc (prog/msgctl.c) */
	MODE_HINTS,/* called as exim_dumpdb/exim_tidydb/exim_fixdb (or postern_*), or -bdbdump,
	            * -bdbtidy, -bdbfix: the hints database tools (prog/hints.c); args are theirs */
	MODE_BRW,  /* -brw ADDRESS: show how the rewrite rules treat an address (prog/brw.c) */
	MODE_CONTINUE, /* -MC ...: a continued delivery over a passed connection (prog/continue_main.c) */
} cmd_mode;

/* -od*: what to do after receiving a message. */
typedef enum cmd_deliver {
	DELIVER_DEFAULT, DELIVER_BACKGROUND /* -odb */, DELIVER_FOREGROUND /* -odf, -odi */,
	DELIVER_QUEUE /* -odq */, DELIVER_QUEUE_SMTP /* -odqs */,
} cmd_deliver;


typedef struct cmdline {
	const char *argv0;        /* as invoked */
	const char *called_as;    /* basename of argv0: postern, exim, sendmail, mailq, rmail, rsmtp */
	cmd_mode mode;
	const char *config_file;  /* -C; NULL: the default search path */
	conf_define *defines;     /* -D NAME=VALUE, in command-line order */
	size_t ndefines;
	const char *debug;        /* -d argument after the "d" ("" for plain -d); NULL: no debug */
	bool verbose;             /* -v */
	bool no_names;            /* -n (with -bP: values only) */
	const char *bem_file;     /* -bem FILE */
	/* Daemon (-bd) */
	bool daemon_foreground;   /* -bdf */
	const char *override_local_interfaces; /* -oX */
	bool no_notifier;         /* -oY: the daemon opens no notifier socket */
	const char *pid_file;     /* -oP */
	const char *queue_interval; /* -q<time> (with or without -bd; NULL: none) */
	/* Queue runs: -q[q][i][f[f]][l][G<name>[/<time>]][<time>] [start-id [stop-id]] */
	bool q_two_stage;         /* -qq */
	bool q_initial;           /* -qi */
	bool q_force;             /* -qf */
	bool q_force_frozen;      /* -qff */
	bool q_local;             /* -ql */
	const char *q_name;       /* -qG<name>; NULL: the default queue */
	/* -R[f|ff|r...] string, -S[f|ff|r...] string: select by recipient / sender */
	const char *select_recipient, *select_sender;
	bool select_regex, select_force, select_force_frozen;
	/* -M family: the letters after -M ("" for -M); ids (and addresses) are in args */
	const char *msg_action;
	/* Hints tools: "dumpdb", "tidydb", "fixdb"; their own arguments are in args */
	const char *hints_tool;
	/* Host checking (-bh/-bhc IP[.port] or IP port as Exim accepts) */
	const char *bh_address;
	/* Queue listing: "" for -bp, or the letters after -bp ("c", "r", "a", "u", "ra"...; "j" asks
	 * for JSON, beyond Exim) */
	const char *bp_variant;
	bool verify_sender;       /* -bvs */
	/* Filter testing: -bf (user filter) or -bF (system filter) file, and -bfd -bfl -bfp -bfs */
	const char *filter_file;
	bool system_filter;
	const char *bf_domain, *bf_local_part, *bf_prefix, *bf_suffix;
	/* Origin overrides for -bs/-bm by trusted callers (-oMa -oMaa -oMai -oMas -oMi -oMm -oMr
	 * -oMs -oMt); NULL: not given */
	const char *oMa, *oMaa, *oMai, *oMas, *oMi, *oMm, *oMr, *oMs, *oMt;
	/* Local submission */
	const char *sender;       /* -f / -r address ("<>" or "" for the null sender); NULL: not given */
	const char *fullname;     /* -F */
	bool extract_recipients;  /* -t */
	bool dot_ends;            /* false with -oi / -i (a lone "." does not end the message) */
	bool dont_deliver;        /* -N */
	cmd_deliver deliver;      /* -od* */
	char error_mode;          /* -oe?: 'e', 'm', 'p', 'q', 'w' ; 0 = default */
	char **args;              /* non-option arguments (-bP names, -be strings, recipients) */
	size_t nargs;
	struct cmd_continue *cont; /* -MC and its -MCx options (prog/cmdline_continue.h); NULL: none */
} cmdline;

/* Parse argv. On error returns false and writes Exim's wording of the problem into err. */
bool cmdline_parse(int argc, char **argv, cmdline *out, char *err, size_t errlen);

/* The modes; each returns the process exit status. */
int bV_main(const cmdline *cl);
int bP_main(const cmdline *cl);
int be_main(const cmdline *cl);
int bd_main(const cmdline *cl);   /* prog/daemon.c */
int bs_main(const cmdline *cl);   /* prog/bs.c: -bs, -bh, -bhc, -bS */
int bm_main(const cmdline *cl);   /* prog/bm.c: local submission */
int bp_main(const cmdline *cl);   /* prog/bp.c: -bp family */
int bt_main(const cmdline *cl);   /* prog/bt.c: -bt, -bv, -bvs */
int bf_main(const cmdline *cl);   /* prog/bf.c: -bf, -bF */
int queue_main(const cmdline *cl);  /* prog/queue.c: -q family, -R, -S */
int msgctl_main(const cmdline *cl); /* prog/msgctl.c: -M family */
int hints_main(const cmdline *cl);  /* prog/hints.c: exim_dumpdb/tidydb/fixdb */
int brw_main(const cmdline *cl);    /* prog/brw.c: -brw */

#endif
