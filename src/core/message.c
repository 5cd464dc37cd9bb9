/* The message model (core/message.h): building a message's envelope and headers, and the
 * balanced trees whose shapes decide the order of lines in an Exim -H file. */
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "core/message.h"

/* ---- balanced trees ----
 * Insertion is the classic AVL algorithm: walk down, insert a leaf, then retrace upwards
 * adjusting balance factors and doing one single or double rotation where a subtree became two
 * levels out of balance. The path is kept on an explicit stack (an AVL tree of any size that fits
 * in memory is far less than 128 levels deep), so there is no recursion. */

#define TREE_MAX_DEPTH 128

static msg_tree *rotate_left(msg_tree *x)
{
	msg_tree *y = x->right;
	x->right = y->left;
	y->left = x;
	return y;
}

static msg_tree *rotate_right(msg_tree *x)
{
	msg_tree *y = x->left;
	x->left = y->right;
	y->right = x;
	return y;
}

/* Rebalance node n whose balance is +2 or -2; returns the new subtree root. */
static msg_tree *rebalance(msg_tree *n)
{
	if (n->balance > 0) {
		msg_tree *r = n->right;
		if (r->balance >= 0) { /* right-right */
			n = rotate_left(n);
			if (n->balance == 0) { n->balance = -1; n->left->balance = 1; }
			else { n->balance = 0; n->left->balance = 0; }
			return n;
		}
		/* right-left */
		msg_tree *g = r->left;
		n->right = rotate_right(r);
		n = rotate_left(n);
		n->left->balance = g->balance > 0 ? -1 : 0;
		n->right->balance = g->balance < 0 ? 1 : 0;
		n->balance = 0;
		return n;
	}
	msg_tree *l = n->left;
	if (l->balance <= 0) { /* left-left */
		n = rotate_right(n);
		if (n->balance == 0) { n->balance = 1; n->right->balance = -1; }
		else { n->balance = 0; n->right->balance = 0; }
		return n;
	}
	/* left-right */
	msg_tree *g = l->right;
	n->left = rotate_left(l);
	n = rotate_right(n);
	n->left->balance = g->balance > 0 ? -1 : 0;
	n->right->balance = g->balance < 0 ? 1 : 0;
	n->balance = 0;
	return n;
}

static int tree_cmp(sv a, sv b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	if (c)
		return c;
	return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

bool msg_tree_insert(arena *a, msg_tree **root, sv name)
{
	msg_tree **path[TREE_MAX_DEPTH]; /* links from the root down to the new leaf */
	int dir[TREE_MAX_DEPTH];
	int depth = 0;
	msg_tree **link = root;
	while (*link) {
		int c = tree_cmp(name, (*link)->name);
		if (c == 0)
			return false;
		if (depth == TREE_MAX_DEPTH)
			return false; /* cannot happen for a tree this code built */
		path[depth] = link;
		dir[depth++] = c < 0 ? -1 : 1;
		link = c < 0 ? &(*link)->left : &(*link)->right;
	}
	msg_tree *leaf = arena_calloc(a, 1, sizeof *leaf);
	leaf->name = sv_copy(a, name);
	*link = leaf;
	/* Retrace: each ancestor's side grew by one level until a balance absorbs it. */
	while (depth > 0) {
		depth--;
		msg_tree *n = *path[depth];
		n->balance += dir[depth];
		if (n->balance == 0)
			break;
		if (n->balance == 2 || n->balance == -2) {
			*path[depth] = rebalance(n);
			break;
		}
	}
	return true;
}

bool msg_tree_find(const msg_tree *n, sv name)
{
	while (n) {
		int c = tree_cmp(name, n->name);
		if (c == 0)
			return true;
		n = c < 0 ? n->left : n->right;
	}
	return false;
}

/* Heights by an explicit post-order walk; depth is bounded by the reader (TREE_MAX_DEPTH). */
int msg_tree_rebalance_info(msg_tree *root)
{
	if (!root)
		return 0;
	struct frame { msg_tree *n; int state, hl; } st[TREE_MAX_DEPTH + 1];
	int sp = 0, ret = 0;
	st[0] = (struct frame){ root, 0, 0 };
	while (sp >= 0) {
		struct frame *f = &st[sp];
		if (f->state == 0) {
			f->state = 1;
			if (f->n->left && sp < TREE_MAX_DEPTH) { st[++sp] = (struct frame){ f->n->left, 0, 0 }; continue; }
			ret = 0;
		}
		if (f->state == 1) {
			f->hl = ret;
			f->state = 2;
			if (f->n->right && sp < TREE_MAX_DEPTH) { st[++sp] = (struct frame){ f->n->right, 0, 0 }; continue; }
			ret = 0;
		}
		f->n->balance = ret - f->hl;
		ret = 1 + (ret > f->hl ? ret : f->hl);
		sp--;
	}
	return ret;
}

/* ---- the message ---- */

message *message_new(arena *a)
{
	message *m = arena_calloc(a, 1, sizeof *m);
	m->a = a;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	m->received_time = tv.tv_sec;
	m->received_usec = (int)tv.tv_usec;
	return m;
}

void message_add_recipient(message *m, sv address)
{
	if (m->nrcpt == m->rcpt_cap) {
		size_t nc = m->rcpt_cap ? m->rcpt_cap * 2 : 8;
		m->rcpt = arena_realloc(m->a, m->rcpt, m->rcpt_cap * sizeof *m->rcpt, nc * sizeof *m->rcpt);
		m->rcpt_cap = nc;
	}
	msg_recipient *r = &m->rcpt[m->nrcpt++];
	memset(r, 0, sizeof *r);
	r->address = sv_copy(m->a, address);
	r->pno = -1;
}

msg_recipient *message_last_recipient(message *m)
{
	return m->nrcpt ? &m->rcpt[m->nrcpt - 1] : NULL;
}

static void nonrcpt_append(message *m, sv address)
{
	if (m->nnonrcpt == m->nonrcpt_cap) {
		size_t nc = m->nonrcpt_cap ? m->nonrcpt_cap * 2 : 8;
		m->nonrcpt = arena_realloc(m->a, m->nonrcpt, m->nonrcpt_cap * sizeof *m->nonrcpt,
			nc * sizeof *m->nonrcpt);
		m->nonrcpt_cap = nc;
	}
	m->nonrcpt[m->nnonrcpt++] = address;
}

void message_add_nonrecipient(message *m, sv address)
{
	if (msg_tree_insert(m->a, &m->nonrcpt_tree, address))
		nonrcpt_append(m, sv_copy(m->a, address));
}

bool message_is_nonrecipient(const message *m, sv address)
{
	return msg_tree_find(m->nonrcpt_tree, address);
}

msg_header *message_add_header(message *m, char type, sv text)
{
	msg_header *h = arena_calloc(m->a, 1, sizeof *h);
	h->type = type;
	h->text = sv_copy(m->a, text);
	if (m->headers_tail)
		m->headers_tail->next = h;
	else
		m->headers = h;
	m->headers_tail = h;
	return h;
}

msg_header *message_insert_header(message *m, msg_header *before, char type, sv text)
{
	msg_header *h = arena_calloc(m->a, 1, sizeof *h);
	h->type = type;
	h->text = sv_copy(m->a, text);
	if (!before) { /* at the start */
		h->next = m->headers;
		m->headers = h;
		if (!m->headers_tail)
			m->headers_tail = h;
		return h;
	}
	msg_header **link = &m->headers;
	while (*link && *link != before)
		link = &(*link)->next;
	h->next = *link; /* before, or NULL (not in the list: append) */
	*link = h;
	if (!h->next)
		m->headers_tail = h;
	return h;
}

/* The name part of a header text ("Name: value" -> "Name"), without trailing blanks. */
static sv header_name(sv text)
{
	size_t i = 0;
	while (i < text.len && text.p[i] != ':')
		i++;
	sv n = sv_sub(text, 0, i);
	while (n.len && (n.p[n.len - 1] == ' ' || n.p[n.len - 1] == '\t'))
		n.len--;
	return n;
}

msg_header *message_find_header(const message *m, sv name)
{
	for (msg_header *h = m->headers; h; h = h->next)
		if (h->type != '*' && sv_eqi(header_name(h->text), name))
			return h;
	return NULL;
}

char message_header_type(sv name)
{
	static const struct { const char *name; char type; } types[] = {
		{ "bcc", 'B' }, { "cc", 'C' }, { "from", 'F' }, { "message-id", 'I' },
		{ "received", 'P' }, { "reply-to", 'R' }, { "sender", 'S' }, { "to", 'T' },
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (sv_eqi(name, sv_cstr(types[i].name)))
			return types[i].type;
	return ' ';
}

void message_set_aclvar(message *m, sv name, sv value)
{
	msg_aclvar **link = &m->aclvars;
	for (; *link; link = &(*link)->next)
		if (sv_eq((*link)->name, name)) {
			(*link)->value = sv_copy(m->a, value);
			return;
		}
	msg_aclvar *v = arena_calloc(m->a, 1, sizeof *v);
	v->name = sv_copy(m->a, name);
	v->value = sv_copy(m->a, value);
	*link = v;
}

const msg_aclvar *message_get_aclvar(const message *m, sv name)
{
	for (const msg_aclvar *v = m->aclvars; v; v = v->next)
		if (sv_eq(v->name, name))
			return v;
	return NULL;
}

long long message_header_size(const message *m)
{
	long long n = 0;
	for (const msg_header *h = m->headers; h; h = h->next)
		if (h->type != '*')
			n += (long long)h->text.len;
	return n;
}

void message_to_xp(const message *m, sv body, xp_message *out, arena *a)
{
	memset(out, 0, sizeof *out);
	size_t n = 0;
	long long header_lines = 0;
	for (const msg_header *h = m->headers; h; h = h->next)
		if (h->type != '*')
			n++;
	out->headers = n ? arena_calloc(a, n, sizeof *out->headers) : NULL;
	out->headers_cap = n;
	for (const msg_header *h = m->headers; h; h = h->next) {
		if (h->type == '*')
			continue;
		sv name = header_name(h->text);
		size_t colon = 0;
		while (colon < h->text.len && h->text.p[colon] != ':')
			colon++;
		xp_header *x = &out->headers[out->nheaders++];
		x->name = name;
		x->text = sv_sub(h->text, colon < h->text.len ? colon + 1 : colon, h->text.len);
		for (size_t i = 0; i < h->text.len; i++)
			if (h->text.p[i] == '\n')
				header_lines++;
	}
	out->body = body;
	out->body_linecount = m->body_linecount;
	out->body_zerocount = m->body_zerocount;
	out->message_linecount = header_lines + m->body_linecount;
	out->size = m->size;
	out->max_linelength = m->max_received_linelength;
}
