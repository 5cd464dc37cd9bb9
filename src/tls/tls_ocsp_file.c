/* OCSP response files: see tls_ocsp_file.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>

#include "lib/durable.h"
#include "tls/tls_ocsp_file.h"
#include "tls/tls_ocsp_int.h"

/* A PEM file of several responses is larger than one DER response; still a small bound. */
#define MAX_FILE (TLS_OCSP_FILE_MAX * TLS_OCSP_MAX_RESPONSE)

const char *tls_ocsp_file_item(const char *item, bool *pem)
{
	if (strncmp(item, "PEM ", 4) == 0) *pem = true;
	else if (strncmp(item, "DER ", 4) == 0) *pem = false;
	else return item;
	item += 4;
	while (*item == ' ' || *item == '\t') item++;
	return item;
}

void tls_ocsp_responses_free(tls_ocsp_responses *r)
{
	for (size_t i = 0; i < r->n; i++) OCSP_RESPONSE_free(r->v[i]);
	r->n = 0;
}

static bool parse_pem(const unsigned char *buf, size_t len, tls_ocsp_responses *out, xbuf *why)
{
	BIO *b = BIO_new_mem_buf(buf, (int)len);
	if (!b) {
		xbuf_puts(why, "out of memory");
		return false;
	}
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long dlen = 0;
		if (PEM_read_bio(b, &name, &header, &data, &dlen) != 1) break;   /* no more blocks */
		if (strcmp(name, PEM_STRING_OCSP_RESPONSE) == 0 && out->n < TLS_OCSP_FILE_MAX) {
			const unsigned char *p = data;
			OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, dlen);
			if (r) out->v[out->n++] = r;
			else if (!why->len) xbuf_puts(why, "a PEM block does not decode as an OCSP response");
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
	}
	BIO_free(b);
	ERR_clear_error();
	if (out->n == 0 && !why->len) xbuf_puts(why, "no OCSP RESPONSE block in PEM file");
	return out->n > 0;
}

bool tls_ocsp_file_parse(const unsigned char *buf, size_t len, bool pem, tls_ocsp_responses *out,
	xbuf *why)
{
	out->n = 0;
	if (len > MAX_FILE) {
		xbuf_printf(why, "file too large (%zu bytes)", len);
		return false;
	}
	if (pem) return parse_pem(buf, len, out, why);
	const unsigned char *p = buf;
	OCSP_RESPONSE *r = len ? d2i_OCSP_RESPONSE(NULL, &p, (long)len) : NULL;
	ERR_clear_error();
	if (!r) {
		xbuf_puts(why, len ? "not a DER OCSP response" : "empty file");
		return false;
	}
	out->v[out->n++] = r;
	return true;
}

bool tls_ocsp_file_load(const char *path, bool pem, tls_ocsp_responses *out, xbuf *why)
{
	out->n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		xbuf_printf(why, "cannot open: %s", strerror(errno));
		return false;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE) {
		xbuf_puts(why, "not a regular file of a plausible size");
		close(fd);
		return false;
	}
	size_t size = (size_t)st.st_size;
	unsigned char *buf = OPENSSL_malloc(size + 1);
	size_t got = 0;
	while (buf && got < size) {
		ssize_t r = read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		got += (size_t)r;
	}
	close(fd);
	if (!buf) {
		xbuf_puts(why, "out of memory");
		return false;
	}
	bool ok = tls_ocsp_file_parse(buf, got, pem, out, why);
	OPENSSL_free(buf);
	return ok;
}

bool tls_ocsp_file_store(const char *path, bool pem, OCSP_RESPONSE *rsp, xbuf *err)
{
	unsigned char *der = NULL;
	int len = i2d_OCSP_RESPONSE(rsp, &der);
	if (len <= 0) {
		xbuf_puts(err, "cannot encode the response");
		ERR_clear_error();
		return false;
	}
	const void *bytes = der;
	size_t n = (size_t)len;
	BIO *mem = NULL;
	if (pem) {
		mem = BIO_new(BIO_s_mem());
		BUF_MEM *bm = NULL;
		if (!mem || !PEM_write_bio_OCSP_RESPONSE(mem, rsp) || BIO_get_mem_ptr(mem, &bm) != 1 || !bm) {
			xbuf_puts(err, "cannot encode the response as PEM");
			BIO_free(mem);
			OPENSSL_free(der);
			ERR_clear_error();
			return false;
		}
		bytes = bm->data;
		n = bm->length;
	}
	struct stat st;
	mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644;
	bool ok = durable_write_file(path, bytes, n, mode, err);
	BIO_free(mem);
	OPENSSL_free(der);
	return ok;
}
