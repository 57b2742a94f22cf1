/*
 * A small QMP client for the qtest programs: libxl's side of a monitor socket the test asked
 * the device model for (-chardev socket,path=...,server=on,wait=off -mon chardev=...). Replies
 * come back with the whitespace outside strings dropped, so that xendm's and qemu-xen's spacing
 * compare alike ("\"status\":\"running\""). Every wait fails the test after 10 s.
 */
#ifndef QTEST_QMP_H
#define QTEST_QMP_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct qmp;

/* Connects and reads the greeting; qmp_capabilities is the caller's (restricted-mode tests
 * look at the session before it). */
struct qmp *qmp_open(const char *path);
void qmp_close(struct qmp *q);
/* One command, with an fd passed by SCM_RIGHTS when fd >= 0; its reply (events skipped and
 * logged). */
char *qmp_call_fd(struct qmp *q, int fd, const char *json);
char *qmp_call(struct qmp *q, const char *json);
/* The command returns (not an error). */
void qmp_call_ok(struct qmp *q, const char *json);
/* The command fails with exactly this GenericError text. */
void qmp_call_fails(struct qmp *q, const char *json, const char *desc);

/* A screendump as the tests read it: RGB, 3 bytes a pixel, rows top down. g_free(rgb). */
struct qtest_image {
    int width, height;
    uint8_t *rgb;
};
/* A binary PPM (P6, maxval 255) of exactly len bytes; false for anything else. */
bool qtest_ppm_parse(const void *data, size_t len, struct qtest_image *img);
bool qtest_ppm_load(const char *path, struct qtest_image *img);
/* QMP screendump into a temporary PPM, read back and decoded (the test fails otherwise). */
struct qtest_image qtest_screendump(struct qmp *q);
/* 0xRRGGBB of one pixel. */
uint32_t qtest_image_pixel(const struct qtest_image *img, int x, int y);

#endif
