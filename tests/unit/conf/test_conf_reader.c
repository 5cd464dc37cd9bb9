/* The reader: macros, conditionals, inclusion, sections, drivers, ACLs, retry and rewrite rules,
 * and bounded behaviour on hostile input. Expected texts follow live Exim 4.96 runs. */
#include "conf_test_support.h"
#include "../unit.h"

/* {config, option, expected -bP line} after a successful load */
static const struct { const char *config, *option, *printed; } macro_cases[] = {
	{ "M1 = a\nM2 = M1b\nprimary_hostname = M2 M1\n", "primary_hostname", "primary_hostname = ab a" },
	{ "M12 = b\nM1 = a\nprimary_hostname = M12 M1 xM1x\n", "primary_hostname", "primary_hostname = b a xax" },
	{ "AB = x\nprimary_hostname = AB ABC CAB _AB AB_ AB1 aAB\n", "primary_hostname", "primary_hostname = x xC Cx _x x_ x1 ax" },
	{ "A = x\nprimary_hostname = bAb A aa_A 9A\n", "primary_hostname", "primary_hostname = bxb x aa_x 9x" },
	{ "AB = x\nAB == y\nprimary_hostname = AB\n", "primary_hostname", "primary_hostname = y" },
	{ "AB = x\nAB == AB y\nprimary_hostname = AB\n", "primary_hostname", "primary_hostname = x y" },
	{ "M2 = b\nM1 = M2\nprimary_hostname = M1\n", "primary_hostname", "primary_hostname = b" },
	{ "M1 = M2\nM2 = b\nprimary_hostname = M1\n", "primary_hostname", "primary_hostname = b" },
	{ "AB = AB\nprimary_hostname = AB\n", "primary_hostname", "primary_hostname = AB" },
	{ "AB = x\nprimary_hostname = xAB ABAB\n", "primary_hostname", "primary_hostname = xx xx" },
	{ "AB = x\\\n   y \\\n# c\n  z\nprimary_hostname = AB\n", "primary_hostname", "primary_hostname = xy z" },
	{ "AB =\nAB\nprimary_hostname = p\n", "primary_hostname", "primary_hostname = p" },
	{ "Q = # \nQ primary_hostname = q\nprimary_hostname = r\n", "primary_hostname", "primary_hostname = r" },
	{ "INC = .include\nprimary_hostname = r\n", "primary_hostname", "primary_hostname = r" },
	/* builtin macros and the first-token rule */
	{ "primary_hostname = _HAVE_TLS AB\n", "primary_hostname", "primary_hostname = y AB" },
	{ "primary_hostname = a _HAVE_TLS AB\n", "primary_hostname", "primary_hostname = a y AB" },
	{ "primary_hostname = Q _HAVE_TLS AB\n", "primary_hostname", "primary_hostname = Q _HAVE_TLS AB" },
	{ "primary_hostname = q_HAVE_TLS x_HAVE_TLS\n", "primary_hostname", "primary_hostname = qy xy" },
	{ "AB = x\nprimary_hostname = AB _HAVE_TLS\n", "primary_hostname", "primary_hostname = x _HAVE_TLS" },
	{ "AB = _HAVE_TLS\nprimary_hostname = AB\n", "primary_hostname", "primary_hostname = y" },
	{ "primary_hostname = _OPT_MAIN_TLS_OCSP_FILE _OPT_MAIN_NO_SUCH\n", "primary_hostname", "primary_hostname = y _OPT_MAIN_NO_SUCH" },
	{ "primary_hostname = _OPT_ROUTERS_DOMAINS _DRIVER_ROUTER_REDIRECT _OPT_ROUTER_REDIRECT_DATA\n",
		"primary_hostname", "primary_hostname = y y y" },
	{ "primary_hostname = _OPT_TRANSPORT_APPENDFILE_MODE _OPT_MAIN_DAEMON_SMTP_PORT\n", "primary_hostname", "primary_hostname = y y" },
	/* conditionals */
	{ "ZZ = 1\n.ifdef ZZ\nprimary_hostname = a\n.else\nprimary_hostname = b\n.endif\n", "primary_hostname", "primary_hostname = a" },
	{ ".ifdef ZZ\nprimary_hostname = a\n.else\nprimary_hostname = b\n.endif\n", "primary_hostname", "primary_hostname = b" },
	{ ".ifndef ZZ\nprimary_hostname = a\n.else\nprimary_hostname = b\n.endif\n", "primary_hostname", "primary_hostname = a" },
	{ "A1 = 1\n.ifdef ZZ\nprimary_hostname = a\n.elifdef A1\nprimary_hostname = b\n.else\nprimary_hostname = c\n.endif\n",
		"primary_hostname", "primary_hostname = b" },
	{ ".ifdef ZZ\nprimary_hostname = a\n.elifndef A1\nprimary_hostname = b\n.elifndef A2\nprimary_hostname = c\n.endif\n",
		"primary_hostname", "primary_hostname = b" },
	{ "primary_hostname = p\n.ifdef\nprimary_hostname = a\n.endif\n", "primary_hostname", "primary_hostname = p" },
	{ "primary_hostname = p\n.ifdef Q\n.elifdef Q\n.else\n.else\nprimary_hostname = z\n.endif\n", "primary_hostname", "primary_hostname = p" },
	{ "X1 = 1\n.ifdef X1\n.ifdef X2\nprimary_hostname = a\n.else\nprimary_hostname = b\n.endif\n.endif\n", "primary_hostname", "primary_hostname = b" },
	{ "primary_hostname = p\n.ifdef X2\n.ifdef X1\n.else\nprimary_hostname = a\n.endif\n.endif\n", "primary_hostname", "primary_hostname = p" },
	{ ".ifdef NOPE\nNOPE = 1\n.endif\n.ifdef NOPE\nprimary_hostname = a\n.endif\nprimary_hostname = b\n", "primary_hostname", "primary_hostname = b" },
	{ "  .ifndef X\n primary_hostname = z\n .endif junk\n", "primary_hostname", "primary_hostname = z" },
	{ ".ifdef _HAVE_TLS\nprimary_hostname = tls\n.endif\n", "primary_hostname", "primary_hostname = tls" },
	{ "primary_hostname = s\nBEGIN acl\nBegin Retry\n", "primary_hostname", "primary_hostname = s" },
	{ "primary_hostname = s\nbegin ACL\nbegin Retry\n", "primary_hostname", "primary_hostname = s" },
	/* comments, blank lines and continuations */
	{ "# comment\n   # indented comment\n\n  primary_hostname = a # not a comment  \n", "primary_hostname", "primary_hostname = a # not a comment" },
	{ "primary_hostname = a\\\n\n  b = c\n", "primary_hostname", "(load fails)" },
	{ "primary_hostname = a\\\n", "primary_hostname", "primary_hostname = a" },
	{ "primary_hostname = a \\   \n   b\n", "primary_hostname", "primary_hostname = a b" },
	{ "primary_hostname = a\\\n  \\\n  b\n", "primary_hostname", "primary_hostname = ab" },
};

static void test_macros_and_lines(void)
{
	xbuf err;
	xbuf_init(&err, NULL);
	for (size_t i = 0; i < sizeof macro_cases / sizeof macro_cases[0]; i++) {
		bool ok = t_load(macro_cases[i].config, &err);
		if (strcmp(macro_cases[i].printed, "(load fails)") == 0) {
			CHECK(!ok);
			continue;
		}
		if (!ok)
			fprintf(stderr, "case %zu: %s\n", i, xbuf_cstr(&err));
		CHECK(ok);
		CHECK_STR(t_bp(macro_cases[i].option), macro_cases[i].printed);
	}
	xbuf_free(&err);
}

static const struct { const char *config, *message; } error_cases[] = {
	{ "Abc\n", "Exim configuration error in line 1 of @:\n  malformed macro definition" },
	{ "M1 = a\nM12 = b\n", "Exim configuration error:\n  \"M12\" cannot be defined as a macro because previously defined macro \"M1\" is a substring" },
	{ "AB = x\nAB = y\n", "Exim configuration error:\n  macro \"AB\" is already defined (use \"==\" if you want to redefine it)" },
	{ "AB == y\n", "Exim configuration error:\n  can't redefine an undefined macro \"AB\"" },
	{ ".ifdef ZZ\nprimary_hostname = a\n", "Exim configuration error in line 2 of @:\n  Unexpected end of configuration file: .endif missing" },
	{ ".endif\n", "Exim configuration error in line 1 of @:\n  .endif without matching .ifdef" },
	{ ".else\n", "Exim configuration error in line 1 of @:\n  .else without matching .ifdef" },
	{ ".elifdef\n", "Exim configuration error in line 1 of @:\n  .elifdef without matching .ifdef" },
	{ ".elifndef X\n", "Exim configuration error in line 1 of @:\n  .elifndef without matching .ifdef" },
	{ ".include /nonexist\n", "Exim configuration error in line 1 of @:\n  failed to open included configuration file /nonexist" },
	{ ".include_if_exists rel/x\n", "Exim configuration error in line 1 of @:\n  .include specifies a non-absolute path \"rel/x\"" },
	{ "begin foo\n", "Exim configuration error in line 1 of @:\n  \"foo\" is not a known configuration section name" },
	{ "begin routers\nbegin routers\n", "Exim configuration error in line 2 of @:\n  \"routers\" section is repeated in the configuration file" },
	{ "domainlist a = x\ndomainlist a = y\n", "Exim configuration error in line 2 of @:\n  duplicate name \"a\" for a named domain list" },
	{ "hostlist a = x\nhostlist a = y\n", "Exim configuration error in line 2 of @:\n  duplicate name \"a\" for a named host list" },
	{ "addresslist a = x\naddresslist a = y\n", "Exim configuration error in line 2 of @:\n  duplicate name \"a\" for a named address list" },
	{ "localpartlist a = x\nlocalpartlist a = y\n", "Exim configuration error in line 2 of @:\n  duplicate name \"a\" for a named local part list" },
	{ "domainlist a\n", "Exim configuration error in line 1 of @:\n  missing '=' after \"a\"" },
	{ "begin retry\n*\n", "Exim configuration error in line 2 of @:\n  missing error type in retry rule" },
	{ "begin retry\n* * X,1h\n", "Exim configuration error in line 2 of @:\n  unknown retry rule letter" },
	{ "begin retry\n* * F,1h\n", "Exim configuration error in line 2 of @:\n  comma expected" },
	{ "begin retry\n* * G,1h,1m\n", "Exim configuration error in line 2 of @:\n  comma expected" },
	{ "begin retry\n* foo F,1h,1m\n", "Exim configuration error in line 2 of @:\n  unknown or malformed retry error \"foo\"" },
	{ "begin retry\n* * F,x,1m\n", "Exim configuration error in line 2 of @:\n  bad parameters for retry rule" },
	{ "begin retry\n* * G,1h,1m,x\n", "Exim configuration error in line 2 of @:\n  bad parameters for retry rule" },
	{ "begin retry\n* * F,1h,1m junk\n", "Exim configuration error in line 2 of @:\n  semicolon expected" },
	{ "begin rewrite\n*@a\n", "Exim configuration error in line 2 of @:\n  missing rewrite replacement string" },
	{ "begin rewrite\n\"*@a b\n", "Exim configuration error in line 2 of @:\n  missing rewrite replacement string" },
	{ "begin rewrite\n*@a b Z\n", "Exim configuration error in line 2 of @:\n  unknown rewrite flag character 'Z' (could be missing quotes round replacement item)" },
	{ "begin rewrite\n*@a b S\n", "Exim configuration error in line 2 of @:\n  rewrite rule has the S flag but is not a regular expression" },
	{ "begin acl\naccept\n", "Exim configuration error in line 2 of @:\n  missing or malformed ACL name" },
	{ "begin acl\na1:\nfoo bar\n", "Exim configuration error in line 3 of @:\n  error in ACL: unknown ACL verb \"foo\" in \"foo bar\"" },
	{ "begin acl\na1:\n accept\na1:\n", "Exim configuration error in line 4 of @:\n  there are two ACLs called \"a1\"" },
	{ "begin local_scan\nfoo = 1\n", "Exim configuration error in line 2 of @:\n  local_scan() options not supported: (LOCAL_SCAN_HAS_OPTIONS not defined in Local/Makefile)" },
	{ "primary_hostname = a\nprimary_hostname = b\n", "Exim configuration error in line 2 of @:\n  \"primary_hostname\" option set for the second time" },
	{ "split_spool_directory\nno_split_spool_directory\n", "Exim configuration error in line 2 of @:\n  \"no_split_spool_directory\" option set for the second time" },
	{ "begin routers\nr1:\n  driver = accept\n  transport = t\n  transport = u\n", "Exim configuration error in line 5 of @:\n  \"transport\" option set for the second time" },
	{ "begin routers\nr1:\n  driver = accept\n  foo = 1\n", "Exim configuration error in line 4 of @:\n  option \"foo\" unknown" },
	{ "begin routers\nr1:\n  transport = x\n", "Exim configuration error:\n  no driver defined for router \"r1\"" },
	{ "begin routers\nr1:\n  driver = nosuch\n", "Exim configuration error in line 3 of @:\n  router r1: cannot find router driver \"nosuch\"" },
	{ "begin routers\nr1:\n  file = /x\n  driver = redirect\n", "Exim configuration error in line 3 of @:\n  option \"file\" unknown (\"driver\" must be specified before any private options)" },
	{ "begin routers\n  driver = accept\n", "Exim configuration error in line 2 of @:\n  router name missing" },
	{ "begin routers\n1r:\n  driver = accept\n", "Exim configuration error in line 2 of @:\n  router name missing" },
	{ "begin routers\n_r:\n  driver = accept\n", "Exim configuration error in line 2 of @:\n  router name missing" },
	{ "begin acl\nacl-x:\n  accept\n", "Exim configuration error in line 2 of @:\n  missing or malformed ACL name" },
	{ "begin routers\nr1:\n  driver = accept\nr1:\n  driver = accept\n", "Exim configuration error:\n  there are two routers called \"r1\"" },
	{ "begin routers\nr1 :\n  driver = accept\n r 2:\n", "Exim configuration error in line 4 of @:\n  option \"r\" unknown" },
	{ "begin routers\nr1: x\n", "Exim configuration error in line 2 of @:\n  extra characters follow driver name r1" },
	{ "begin routers\nr1:\n driver = accept\n driver = redirect\n", "Exim configuration error in line 4 of @:\n  \"driver\" option set for the second time" },
	{ "begin routers\nr1:\n driver = redirect\n modemask = 9\n", "Exim configuration error in line 4 of @:\n  extra characters follow integer value for modemask" },
	{ "begin transports\nbad:\n driver = appendfile\n", "Exim configuration error for bad transport:\n  bad name" },
	{ "begin transports\nt:\n driver = appendfile\n headers_rewrite = *@a b Z\n", "Exim configuration error in line 4 of @:\n  unknown rewrite flag character 'Z' (could be missing quotes round replacement item)" },
	{ "begin transports\nt:\n driver = appendfile\n headers_rewrite = *@a b : *@c\n", "Exim configuration error in line 4 of @:\n  missing rewrite replacement string" },
	{ "begin transports\nt1:\n driver = appendfile\n no_file\n", "Exim configuration error in line 4 of @:\n  negation prefix applied to a non-boolean option" },
};

static void test_errors(void)
{
	xbuf err, want;
	xbuf_init(&err, NULL);
	xbuf_init(&want, NULL);
	for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
		CHECK(!t_load(error_cases[i].config, &err));
		const char *path = t_write("test.conf", error_cases[i].config);
		xbuf_reset(&want);
		for (const char *p = error_cases[i].message; *p; p++)
			if (*p == '@')
				xbuf_puts(&want, path);
			else
				xbuf_putc(&want, *p);
		CHECK_STR(xbuf_cstr(&err), xbuf_cstr(&want));
		bool macro = strstr(error_cases[i].message, "macro") != NULL;
		CHECK_INT(conf_last_error_kind(), macro ? CONF_ERROR_MACRO : CONF_ERROR_CONFIG);
	}
	xbuf_free(&err);
	xbuf_free(&want);
}

static void test_sections(void)
{
	xbuf err;
	xbuf_init(&err, NULL);
	bool ok = t_load(
		"domainlist local_domains = @ : example.com\n"
		"hide hostlist relay = 127.0.0.1\n"
		"begin acl\n"
		"check_rcpt:\n"
		"  accept  hosts = :\n"
		"          message = x\n"
		"  deny\n"
		"check_data:\n"
		"  accept\n"
		"begin routers\n"
		"r1:\n  driver = redirect\n  data = $local_part\n  modemask = 077\n  no_more\n  no_verify\n"
		"  hide domains = secret\n"
		"r2:\n  driver = accept\n  transport = t1\n  user = root\n"
		"begin transports\n"
		"t1:\n  driver = appendfile\n  file = /var/mail/$local_part\n  mode = 640\n  body_only\n"
		"  transport_filter_timeout = 1m\n"
		"begin retry\n"
		"*.example  *   F,2h,15m; G,16h,1h,1.5; F,4d,6h\n"
		"*  rcpt_45x  senders=a@b  F,1h,10m\n"
		"*  quota_7d\n"
		"begin rewrite\n"
		"*@old.example  $1@new.example  Ehq\n"
		"^(.*)@x$  $1@y  S\n"
		"\"*@q\"  \"q r\"\n"
		"begin authenticators\n", &err);
	if (!ok)
		fprintf(stderr, "%s\n", xbuf_cstr(&err));
	CHECK(ok);
	CHECK_STR(conf_named_list("domain", "local_domains"), "@ : example.com");
	CHECK_STR(conf_named_list("host", "relay"), "127.0.0.1");
	CHECK(conf_named_list("host", "local_domains") == NULL);
	CHECK(conf_named_lists()->next->hidden);
	const conf_acl *a = conf_acl_find("check_rcpt");
	CHECK(a != NULL);
	CHECK_INT(a ? a->nlines : 0, 3);
	CHECK_STR(a ? a->lines[1].text : "", "message = x");
	CHECK_INT(a ? a->lines[1].line : 0, 6);
	CHECK_INT(a ? a->line : 0, 4);
	CHECK(conf_acl_find("check_data") != NULL);
	CHECK(conf_acl_find("nope") == NULL);
	const driver_instance *r = conf_driver_instances("routers");
	CHECK_STR(r ? r->name : "", "r1");
	CHECK(r && r->info == &t_redirect_info);
	const t_router *g = r ? r->generic : NULL;
	const t_redirect *p = r ? r->priv : NULL;
	CHECK_STR(g ? g->driver : "", "redirect");
	CHECK(g && !g->more && !g->verify_sender && !g->verify_recipient);
	CHECK_STR(p ? p->data : "", "$local_part");
	CHECK_INT(p ? p->modemask : 0, 077);
	const driver_instance *r2 = r ? r->next : NULL;
	const t_router *g2 = r2 ? r2->generic : NULL;
	CHECK_STR(g2 ? g2->transport : "", "t1");
	CHECK_STR(g2 ? g2->user : "", "root");
	CHECK(g2 && g2->more && g2->verify_sender);
	CHECK_INT(r2 ? r2->line : 0, 18);
	const driver_instance *t = conf_driver_instances("transports");
	const t_appendfile *ap = t ? t->priv : NULL;
	const t_transport *tg = t ? t->generic : NULL;
	CHECK_INT(ap ? ap->mode : 0, 0640);
	CHECK_STR(ap ? ap->file : "", "/var/mail/$local_part");
	CHECK(tg && tg->body_only);
	CHECK_INT(tg ? tg->transport_filter_timeout : 0, 60);
	CHECK(t && conf_was_set(t, "body_only", NULL) && !conf_was_set(t, "quota", NULL));
	CHECK(conf_driver_instances("authenticators") == NULL);
	const conf_retry_rule *rr = conf_retry_rules();
	CHECK_STR(rr ? rr->pattern : "", "*.example");
	CHECK_INT(rr ? rr->nitems : 0, 3);
	CHECK(rr && rr->items[1].letter == 'G' && rr->items[1].cutoff == 16 * 3600 && rr->items[1].interval == 3600 &&
		rr->items[1].multiplier == 1500);
	CHECK(rr && rr->next && strcmp(rr->next->senders, "a@b") == 0 && strcmp(rr->next->error, "rcpt_45x") == 0);
	CHECK(rr && rr->next && rr->next->next && rr->next->next->nitems == 0);
	const conf_rewrite_rule *rw = conf_rewrite_rules();
	CHECK_STR(rw ? rw->replacement : "", "$1@new.example");
	CHECK(rw && (rw->flags & CONF_REWRITE_ENVELOPE) == CONF_REWRITE_ENVELOPE && (rw->flags & CONF_REWRITE_QUALIFY));
	CHECK(rw && rw->next && rw->next->flags == CONF_REWRITE_SMTP);
	CHECK(rw && rw->next && rw->next->next && strcmp(rw->next->next->replacement, "q r") == 0);
	/* headers_rewrite rules are checked and kept as written */
	CHECK(t_load("begin transports\nt3:\n driver = appendfile\n headers_rewrite = *@a b : *@c d h\n", &err));
	t = conf_driver_instances("transports");
	tg = t ? t->generic : NULL;
	CHECK_STR(tg ? tg->headers_rewrite : "", "*@a b : *@c d h");
	/* the drivers layer's init hook sees which options were given */
	CHECK(t_load("begin transports\nt2:\n driver = appendfile\n body_only\n", &err));
	t = conf_driver_instances("transports");
	tg = t ? t->generic : NULL;
	CHECK_INT(tg ? tg->transport_filter_timeout : 0, 1);
	CHECK(t_load(
		"domainlist local_domains = @ : example.com\nhide hostlist relay = 127.0.0.1\n"
		"begin acl\ncheck_rcpt:\n  accept  hosts = :\n          message = x\n"
		"begin routers\nr1:\n  driver = redirect\n"
		"begin retry\n*.example  *   F,2h,15m; G,16h,1h,1.5; F,4d,6h\n", &err));
	/* the configuration as -bP config prints it */
	const char *text = conf_config_text();
	CHECK(strstr(text, "\nbegin routers\n\n  r1:\n    driver = redirect\n") != NULL);
	CHECK(strstr(text, "\nbegin acl\n\n  check_rcpt:\n    accept hosts = :\n    message = x\n") != NULL);
	CHECK(strstr(text, "begin retry\n  *.example * F,2h,15m; G,16h,1h,1.5; F,4d,6h\n") != NULL);
	CHECK(strstr(text, "hide hostlist relay = 127.0.0.1\n") != NULL);
	xbuf_free(&err);
}

static void test_defines_and_includes(void)
{
	xbuf err;
	xbuf_init(&err, NULL);
	conf_define d[] = { { "AB", "z" }, { "CD", NULL } };
	CHECK(t_load_defs("AB = x\nAB == y\nprimary_hostname = AB CD.\n", d, 2, &err));
	CHECK_STR(t_bp("primary_hostname"), "primary_hostname = z .");
	const conf_macro *m = conf_macro_find("AB");
	CHECK(m && m->from_cmdline && strcmp(m->value, "z") == 0);
	CHECK(conf_macro_find("_HAVE_TLS") && conf_macro_find("_HAVE_TLS")->builtin);
	CHECK(conf_macro_find("_RESUME_DECODE") != NULL);
	CHECK(conf_macro_find("NOPE") == NULL);

	t_write("part.conf", "smtp_accept_queue = 3\nPART = +smtp_connection\n");
	t_write("sub.conf", "# nested\n.include part.conf\nlog_selector = PART\n");
	CHECK(t_load(".include sub.conf\nqualify_domain = q\n.include_if_exists /nonexistent/postern/x\n", &err));
	CHECK_STR(t_bp("smtp_accept_queue"), "smtp_accept_queue = 3");
	CHECK_STR(t_bp("log_selector"), "log_selector = +smtp_connection");
	CHECK(strstr(conf_config_text(), "# 1 \"") != NULL);
	/* include inside a continued line */
	t_write("frag", "b\\\n");
	char text[512];
	snprintf(text, sizeof text, "primary_hostname = a \\\n  .include %s/frag\nqualify_domain = z\n", t_dir);
	CHECK(t_load(text, &err));
	CHECK_STR(t_bp("primary_hostname"), "primary_hostname = a bqualify_domain = z");
	/* an error inside an included file names that file and line */
	t_write("bad.conf", "\n\nnope = 1\n");
	CHECK(!t_load(".include bad.conf\n", &err));
	CHECK(strstr(xbuf_cstr(&err), "in line 3 of ") && strstr(xbuf_cstr(&err), "/bad.conf:\n  main option \"nope\" unknown"));
	/* -D NAME with no value defines it empty; -D wins over definitions in the file */
	conf_define e[] = { { "EMPTY", "" } };
	CHECK(t_load_defs("EMPTY = full\n.ifdef EMPTY\nprimary_hostname = [EMPTY]\n.endif\n", e, 1, &err));
	CHECK_STR(t_bp("primary_hostname"), "primary_hostname = []");
	xbuf_free(&err);
}

/* Hostile input never crashes and is bounded. */
static void test_bounds(void)
{
	xbuf err;
	xbuf_init(&err, NULL);
	/* self-inclusion stops at the depth limit with Exim's message */
	const char *self = t_write("self.conf", "");
	char text[512];
	snprintf(text, sizeof text, ".include %s\n", self);
	t_write("self.conf", text);
	CHECK(!conf_load(self, NULL, 0, &err));
	CHECK(strstr(xbuf_cstr(&err), "failed to open included configuration file") != NULL);
	/* .ifdef nesting limit of 10 */
	xbuf deep;
	xbuf_init(&deep, NULL);
	for (int i = 0; i < 11; i++)
		xbuf_puts(&deep, ".ifndef X\n");
	CHECK(!t_load(xbuf_cstr(&deep), &err));
	CHECK_STR(t_problem(&err), ".ifndef nested too deeply");
	CHECK(strstr(xbuf_cstr(&err), "in line 11 of") != NULL);
	/* a very long line is handled */
	xbuf_reset(&deep);
	xbuf_puts(&deep, "primary_hostname = ");
	for (int i = 0; i < 200000; i++)
		xbuf_putc(&deep, 'a' + i % 26);
	xbuf_putc(&deep, '\n');
	CHECK(t_load(xbuf_cstr(&deep), &err));
	CHECK_INT(strlen(conf_main_string("primary_hostname")), 200000);
	/* macro growth is bounded */
	xbuf_reset(&deep);
	xbuf_puts(&deep, "M_a = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
	for (char c = 'b'; c < 'm'; c++)
		xbuf_printf(&deep, "M_%c = M_%c M_%c M_%c M_%c M_%c M_%c M_%c M_%c\n", c, c - 1, c - 1, c - 1, c - 1,
			c - 1, c - 1, c - 1, c - 1);
	CHECK(!t_load(xbuf_cstr(&deep), &err));
	CHECK_STR(t_problem(&err), "macro expansion makes the line too long");
	/* binary junk: an error, not a crash */
	static const char junk[] = "\x01\x02\xff\xfe = \x80\nprimary_hostname\x00 = x\n\\\\\n\"\n";
	const char *path = t_write("junk.conf", "");
	FILE *f = fopen(path, "w");
	fwrite(junk, 1, sizeof junk - 1, f);
	fclose(f);
	CHECK(!conf_load(path, NULL, 0, &err));
	CHECK(strstr(xbuf_cstr(&err), "option setting expected") != NULL);
	/* a missing file */
	CHECK(!conf_load("/nonexistent/postern.conf", NULL, 0, &err));
	CHECK(strstr(xbuf_cstr(&err), "non-existent configuration file(s): /nonexistent/postern.conf") != NULL);
	CHECK_INT(conf_last_error_kind(), CONF_ERROR_STARTUP);
	xbuf_free(&deep);
	xbuf_free(&err);
}

/* Random mutations of a configuration using every construct: loading either succeeds or fails
 * with an Exim-style message; it never crashes (run under ASan/UBSan by `make asan`). */
static void test_mutations(void)
{
	static const char seed[] =
		"AB = x\\\n  y\nAB == AB z\n.ifdef AB\nprimary_hostname = \"a\\x41\\101\"\n.else\nqueue_only\n.endif\n"
		"hide mysql_servers = s\ndomainlist d = a : b\ndelay_warning = 1h:2h\nauto_thaw = 1h30m\n"
		"deliver_queue_load_max = 1.5\ntrusted_users = root\nlog_selector = +pid\n"
		"begin acl\na1:\n  accept hosts = :\nbegin routers\nr1:\n  driver = redirect\n  data = x\n"
		"  modemask = 022\nbegin transports\nt1:\n  driver = appendfile\n  headers_rewrite = *@a b F\n"
		"begin retry\n* * F,1h,15m; G,16h,1h,1.5\nbegin rewrite\n*@a b Eh\n";
	static const char *const tokens[] = {
		"\\\n", "\"", "\\x", "=", "==", "\n.ifdef AB\n", "\n.endif\n", "\n.else\n", "\nbegin acl\n",
		"\nZZ = ZZZ\n", "no_", "hide ", "0x", "99999999999", ":", "<;", "\n", "\x01", "\xff", "#",
		"_HAVE_TLS", "AB", ";", ",",
	};
	unsigned long rng = 12345;
	xbuf text, err;
	xbuf_init(&text, NULL);
	xbuf_init(&err, NULL);
	int loaded = 0, failed_with_message = 0;
	for (int i = 0; i < 400; i++) {
		xbuf_reset(&text);
		xbuf_puts(&text, seed);
		for (int m = 0; m < 1 + i % 6; m++) {
			rng = rng * 6364136223846793005UL + 1442695040888963407UL;
			size_t pos = (size_t)(rng >> 33) % (text.len + 1);
			xbuf tail;
			xbuf_init(&tail, NULL);
			xbuf_put(&tail, text.p + pos, text.len - pos);
			xbuf_truncate(&text, pos);
			unsigned op = (unsigned)(rng >> 20) % 3;
			if (op == 0)
				xbuf_puts(&text, tokens[(rng >> 40) % (sizeof tokens / sizeof tokens[0])]);
			else if (op == 1)
				xbuf_putc(&text, (char)(rng >> 48));
			/* op 2 deletes up to 16 bytes */
			size_t skip = op == 2 ? (size_t)(rng >> 44) % 17 : 0;
			if (skip > tail.len)
				skip = tail.len;
			xbuf_put(&text, tail.p + skip, tail.len - skip);
			xbuf_free(&tail);
		}
		const char *path = t_write("mutant.conf", "");
		FILE *f = fopen(path, "w");
		fwrite(text.p, 1, text.len, f);
		fclose(f);
		xbuf_reset(&err);
		if (conf_load(path, NULL, 0, &err))
			loaded++;
		else if (err.len > 0)
			failed_with_message++;
	}
	CHECK_INT(loaded + failed_with_message, 400);
	CHECK(loaded > 0 && failed_with_message > 0);
	xbuf_free(&text);
	xbuf_free(&err);
}

int main(void)
{
	arena_init_pools();
	t_use_registry();
	RUN(test_macros_and_lines);
	RUN(test_errors);
	RUN(test_sections);
	RUN(test_defines_and_includes);
	RUN(test_bounds);
	RUN(test_mutations);
	return unit_report("test_conf_reader");
}
