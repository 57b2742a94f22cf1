/*
 * The display surface of one graphics device (include/xendm/display.h): a pixman x8r8g8b8
 * image, the bounding box of what the device redrew since the listeners last heard, a
 * rate-bounded one-shot refresh timer, and screendump to PPM and PNG.
 */
#include "xendm/display.h"

#include <errno.h>
#include <pixman.h>
#include <png.h>
#include <string.h>
#include <unistd.h>
#include "xendm/log.h"
#include "xendm/machine.h"

#define REFRESH_INTERVAL_NS (UINT64_C(1000000000) / DISPLAY_REFRESH_HZ)

struct display_console {
    char *name;
    const struct display_hw_ops *ops;
    void *hw;
    pixman_image_t *image;
    /* Bounding box of the redrawn pixels since the last notification; empty when w == 0. */
    int dirty_x0, dirty_y0, dirty_x1, dirty_y1;
    bool resized;
    GPtrArray *listeners; /* const struct display_listener *, borrowed */
    struct timer *timer;
    int64_t last_refresh_ns;
    uint64_t refresh_count;
};

/* The screens of this process, oldest first: QMP screendump takes the first. */
static GPtrArray *all_consoles;

static pixman_image_t *new_black_image(int width, int height)
{
    /* pixman allocates zeroed bits when given none: black, alpha byte 0 (x8r8g8b8). */
    return pixman_image_create_bits(PIXMAN_x8r8g8b8, width, height, NULL, width * 4);
}

static void dirty_reset(struct display_console *con)
{
    con->dirty_x0 = con->dirty_y0 = INT32_MAX;
    con->dirty_x1 = con->dirty_y1 = 0;
}

static void notify_listeners(struct display_console *con)
{
    int w = con->dirty_x1 - con->dirty_x0, h = con->dirty_y1 - con->dirty_y0;

    for (guint i = 0; i < con->listeners->len; i++) {
        const struct display_listener *l = g_ptr_array_index(con->listeners, i);
        if (con->resized && l->resize) {
            l->resize(l->opaque, pixman_image_get_width(con->image),
                      pixman_image_get_height(con->image));
        }
        if (w > 0 && h > 0 && l->update) {
            l->update(l->opaque, con->dirty_x0, con->dirty_y0, w, h);
        }
    }
    con->resized = false;
    dirty_reset(con);
}

static uint64_t run_refresh(struct display_console *con, bool full)
{
    uint64_t next = 0;

    con->last_refresh_ns = clock_now_ns();
    con->refresh_count++;
    if (con->ops && con->ops->refresh) {
        next = con->ops->refresh(con->hw, full);
    }
    notify_listeners(con);
    return next;
}

static void refresh_timer_cb(void *opaque)
{
    struct display_console *con = opaque;
    uint64_t next = run_refresh(con, false);

    /* A blinking cursor changes the picture on its own; nobody watching, nobody to tell. */
    if (next != 0 && con->listeners->len > 0 && !timer_pending(con->timer)) {
        timer_arm_ns(con->timer, XENDM_MAX(next, REFRESH_INTERVAL_NS));
    }
}

struct display_console *display_console_new(const char *name, const struct display_hw_ops *ops,
                                            void *hw)
{
    struct display_console *con = g_new0(struct display_console, 1);

    con->name = g_strdup(name);
    con->ops = ops;
    con->hw = hw;
    con->image = new_black_image(DISPLAY_DEFAULT_WIDTH, DISPLAY_DEFAULT_HEIGHT);
    con->listeners = g_ptr_array_new();
    con->timer = timer_new(refresh_timer_cb, con);
    dirty_reset(con);
    if (!all_consoles) {
        all_consoles = g_ptr_array_new();
    }
    g_ptr_array_add(all_consoles, con);
    return con;
}

void display_console_free(struct display_console *con)
{
    if (!con) {
        return;
    }
    g_ptr_array_remove(all_consoles, con);
    if (all_consoles->len == 0) {
        g_ptr_array_free(all_consoles, TRUE);
        all_consoles = NULL;
    }
    timer_free(con->timer);
    g_ptr_array_free(con->listeners, TRUE);
    pixman_image_unref(con->image);
    g_free(con->name);
    g_free(con);
}

struct display_console *display_console_first(void)
{
    return all_consoles && all_consoles->len ? g_ptr_array_index(all_consoles, 0) : NULL;
}

const char *display_console_name(const struct display_console *con)
{
    return con->name;
}

union pixman_image *display_console_resize(struct display_console *con, int width, int height)
{
    pixman_image_t *image;

    if (width <= 0 || height <= 0 || width > DISPLAY_MAX_WIDTH || height > DISPLAY_MAX_HEIGHT) {
        return NULL;
    }
    if (pixman_image_get_width(con->image) == width &&
        pixman_image_get_height(con->image) == height) {
        return con->image;
    }
    image = new_black_image(width, height);
    if (!image) {
        return NULL;
    }
    pixman_image_unref(con->image);
    con->image = image;
    con->resized = true;
    display_console_dirty(con, 0, 0, width, height);
    return image;
}

union pixman_image *display_console_image(struct display_console *con)
{
    return con->image;
}

void display_console_dirty(struct display_console *con, int x, int y, int width, int height)
{
    int x1 = XENDM_MIN(x + width, pixman_image_get_width(con->image));
    int y1 = XENDM_MIN(y + height, pixman_image_get_height(con->image));

    x = XENDM_MAX(x, 0);
    y = XENDM_MAX(y, 0);
    if (x >= x1 || y >= y1) {
        return;
    }
    con->dirty_x0 = XENDM_MIN(con->dirty_x0, x);
    con->dirty_y0 = XENDM_MIN(con->dirty_y0, y);
    con->dirty_x1 = XENDM_MAX(con->dirty_x1, x1);
    con->dirty_y1 = XENDM_MAX(con->dirty_y1, y1);
}

void display_console_hw_changed(struct display_console *con)
{
    int64_t since;

    /* The cheap path every guest VRAM write takes: one test when nobody watches. */
    if (con->listeners->len == 0 || timer_pending(con->timer)) {
        return;
    }
    since = clock_now_ns() - con->last_refresh_ns;
    timer_arm_ns(con->timer, since >= (int64_t)REFRESH_INTERVAL_NS
                                 ? 0 : REFRESH_INTERVAL_NS - (uint64_t)since);
}

void display_console_add_listener(struct display_console *con, const struct display_listener *l)
{
    g_ptr_array_add(con->listeners, (gpointer)l);
    /* A new viewer needs the whole picture. */
    con->resized = true;
    run_refresh(con, true);
}

void display_console_remove_listener(struct display_console *con,
                                     const struct display_listener *l)
{
    g_ptr_array_remove(con->listeners, (gpointer)l);
    if (con->listeners->len == 0) {
        timer_cancel(con->timer);
    }
}

void display_console_refresh(struct display_console *con, bool full)
{
    run_refresh(con, full);
}

uint64_t display_console_refresh_count(const struct display_console *con)
{
    return con->refresh_count;
}

/* ---- screendump ---- */

static inline void pixel_rgb(uint32_t xrgb, uint8_t *out)
{
    out[0] = (uint8_t)(xrgb >> 16);
    out[1] = (uint8_t)(xrgb >> 8);
    out[2] = (uint8_t)xrgb;
}

static bool write_ppm(pixman_image_t *image, FILE *out)
{
    int width = pixman_image_get_width(image), height = pixman_image_get_height(image);
    const uint8_t *bits = (const uint8_t *)pixman_image_get_data(image);
    int stride = pixman_image_get_stride(image);
    g_autofree uint8_t *row = g_malloc((size_t)width * 3);

    if (fprintf(out, "P6\n%d %d\n255\n", width, height) < 0) {
        return false;
    }
    for (int y = 0; y < height; y++) {
        const uint32_t *src = (const uint32_t *)(bits + (size_t)y * stride);
        for (int x = 0; x < width; x++) {
            pixel_rgb(src[x], &row[x * 3]);
        }
        if (fwrite(row, 3, (size_t)width, out) != (size_t)width) {
            return false;
        }
    }
    return true;
}

/* libpng reports errors by longjmp: keep everything that must be freed outside its frame. */
struct png_job {
    pixman_image_t *image;
    FILE *out;
    uint8_t *row;
};

static bool write_png_rows(struct png_job *job, png_structp png, png_infop info)
{
    int width = pixman_image_get_width(job->image), height = pixman_image_get_height(job->image);
    const uint8_t *bits = (const uint8_t *)pixman_image_get_data(job->image);
    int stride = pixman_image_get_stride(job->image);

    if (setjmp(png_jmpbuf(png))) {
        return false;
    }
    png_init_io(png, job->out);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    /* Screens compress well even at a low level; a high one costs the event loop time. */
    png_set_compression_level(png, 1);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) {
        const uint32_t *src = (const uint32_t *)(bits + (size_t)y * stride);
        for (int x = 0; x < width; x++) {
            pixel_rgb(src[x], &job->row[x * 3]);
        }
        png_write_row(png, job->row);
    }
    png_write_end(png, info);
    return true;
}

static bool write_png(pixman_image_t *image, FILE *out)
{
    struct png_job job = {.image = image, .out = out};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = NULL;
    bool ok = false;

    if (!png) {
        return false;
    }
    info = png_create_info_struct(png);
    if (!info) {
        goto cleanup;
    }
    job.row = g_malloc((size_t)pixman_image_get_width(image) * 3);
    ok = write_png_rows(&job, png, info);
cleanup:
    png_destroy_write_struct(&png, info ? &info : NULL);
    g_free(job.row);
    return ok;
}

bool display_image_write(union pixman_image *image, FILE *out, enum display_dump_format format,
                         GError **err)
{
    bool ok = format == DISPLAY_DUMP_PNG ? write_png(image, out) : write_ppm(image, out);

    if (fflush(out) != 0) {
        ok = false;
    }
    if (!ok) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno ? errno : EIO),
                    "writing the screendump failed: %s", g_strerror(errno ? errno : EIO));
    }
    return ok;
}

bool display_console_screendump(struct display_console *con, int fd,
                                enum display_dump_format format, GError **err)
{
    int own_fd = dup(fd);
    FILE *out;
    bool ok;

    if (own_fd < 0) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "dup: %s",
                    g_strerror(errno));
        return false;
    }
    out = fdopen(own_fd, "wb");
    if (!out) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "fdopen: %s",
                    g_strerror(errno));
        close(own_fd);
        return false;
    }
    run_refresh(con, true);
    errno = 0;
    ok = display_image_write(con->image, out, format, err);
    if (fclose(out) != 0 && ok) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "close: %s",
                    g_strerror(errno));
        ok = false;
    }
    return ok;
}
