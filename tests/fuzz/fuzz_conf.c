/* Fuzz the configuration reader: any bytes as a configuration file, loaded twice.
 *
 * The input is written to a file in the sandbox's private directory and read with conf_load, the
 * reader's only entry point (it takes a path). The sandbox refuses everything else, so .include
 * of other files, and hostname or user lookups that reach the network, fail cleanly.
 *
 * Invariants: a failure has Exim's message (non-empty, naming the file or the problem); loading
 * the same file again gives the same answer, the same message, the same -bP value of every main
 * option and the same -bP config text (each load must start from a clean state); and on success
 * conf_file_name() is the file that was read. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/conf_dump.h"
#include "fuzz_check.h"
#include "fuzz_sandbox.h"

#define CHECK(cond) FUZZ_CHECK(cond, data, size)

static void snapshot(bool ok, xbuf *out)
{
	if (!ok)
		return;
	size_t n = 0;
	const opt_row *rows = conf_main_rows(&n);
	for (size_t i = 0; i < n; i++)
		conf_print_option(&rows[i], conf_main_block(), false, false, out);
	xbuf_puts(out, "\n--config--\n");
	xbuf_puts(out, conf_config_text());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 256 * 1024)
		return 0;
	fuzz_sandbox_enter();
	const char *path = fuzz_sandbox_write("configure", data, size);
	CHECK(path != NULL);
	char file[512];
	snprintf(file, sizeof file, "%s", path);

	xbuf err1, err2, snap1, snap2;
	xbuf_init(&err1, NULL);
	xbuf_init(&err2, NULL);
	xbuf_init(&snap1, NULL);
	xbuf_init(&snap2, NULL);
	bool ok1 = conf_load(file, NULL, 0, &err1);
	if (ok1)
		CHECK(strcmp(conf_file_name(), file) == 0);
	else
		CHECK(err1.len > 0);
	snapshot(ok1, &snap1);

	bool ok2 = conf_load(file, NULL, 0, &err2);
	snapshot(ok2, &snap2);
	CHECK(ok1 == ok2);
	CHECK(sv_eq(xbuf_sv(&err1), xbuf_sv(&err2)));
	CHECK(sv_eq(xbuf_sv(&snap1), xbuf_sv(&snap2)));
	fuzz_sandbox_leave();

	xbuf_free(&err1);
	xbuf_free(&err2);
	xbuf_free(&snap1);
	xbuf_free(&snap2);
	return 0;
}
