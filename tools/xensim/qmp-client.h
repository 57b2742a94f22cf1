/*
 * xensim's QMP client: the toolstack's side of QMP for save and restore (qmp-client.c).
 * Private to tools/xensim.
 */
#ifndef XENSIM_QMP_CLIENT_H
#define XENSIM_QMP_CLIENT_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

struct xsim_qmp;

#define XSIM_QMP_ERROR (g_quark_from_static_string("xsim-qmp-error"))

/* Connects, reads the greeting and negotiates capabilities (the main loop runs meanwhile). */
struct xsim_qmp *xsim_qmp_connect(const char *path, GError **err);
void xsim_qmp_close(struct xsim_qmp *q);
/*
 * Sends one command (a JSON object, without the line end), with pass_fd (>= 0) attached by
 * SCM_RIGHTS, and waits up to 10 s for its reply. An {"error": ...} reply is a failure whose
 * message holds the reply. *reply (may be NULL) gets the reply line.
 */
bool xsim_qmp_execute(struct xsim_qmp *q, const char *command, int pass_fd, char **reply,
                      GError **err);
/* Minimal field extraction from a reply line. */
bool xsim_qmp_find_int(const char *line, const char *key, int64_t *value);
char *xsim_qmp_find_string(const char *line, const char *key);

#endif
