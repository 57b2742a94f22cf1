/*
 * screen-text: reads a screendump (binary PPM, P6) and answers what a person looking at it would
 * check, for the rig's display scenarios (dom0 has busybox, no Python):
 *
 *   screen-text text ROM PPM      the text of a text-mode screen, one line per character row
 *                                 (trailing blanks dropped), recognised against the 8x16 font of
 *                                 the VGA BIOS image ROM (the font the guest's BIOS loaded)
 *   screen-text size PPM          "WIDTH HEIGHT"
 *   screen-text pixel PPM X Y     "R G B" of one pixel
 *
 * Text recognition: a text screen is 80 columns of 8- or 9-dot cells, 16 lines a row (the
 * width and height of the dump say which). In each cell the background is the colour of most
 * pixels; the other pixels of the first 8 dots of each line make the glyph, looked up exactly
 * in the font (inverted too: the cursor, reverse video). A cell no glyph matches reads '?'.
 * The font is found in the ROM by the glyph of 'A' of the IBM VGA 8x16 font, 0x41 glyphs past
 * its start.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GLYPH_HEIGHT 16
#define FONT_GLYPHS 256
#define FONT_BYTES (FONT_GLYPHS * GLYPH_HEIGHT)
#define TEXT_COLUMNS 80

struct image {
    int width, height;
    uint8_t *rgb; /* width * height * 3 */
};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "screen-text: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long size;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
        goto out;
    }
    *len = (size_t)size;
out:
    fclose(f);
    return buf;
}

/* A PPM header field: skips blanks and comments, reads a decimal number. */
static int ppm_number(const uint8_t *data, size_t len, size_t *pos)
{
    long value = 0;
    int digits = 0;

    while (*pos < len) {
        if (data[*pos] == '#') {
            while (*pos < len && data[*pos] != '\n')
                (*pos)++;
        } else if (data[*pos] == ' ' || data[*pos] == '\t' || data[*pos] == '\n' ||
                   data[*pos] == '\r') {
            (*pos)++;
        } else {
            break;
        }
    }
    while (*pos < len && data[*pos] >= '0' && data[*pos] <= '9' && digits < 9) {
        value = value * 10 + (data[*pos] - '0');
        (*pos)++;
        digits++;
    }
    return digits ? (int)value : -1;
}

static int load_ppm(const char *path, struct image *img)
{
    size_t len = 0, pos = 2;
    uint8_t *data = read_file(path, &len);
    int maxval;

    if (data == NULL)
        return fail("cannot read %s", path);
    if (len < 2 || data[0] != 'P' || data[1] != '6') {
        free(data);
        return fail("%s is not a binary PPM (P6)", path);
    }
    img->width = ppm_number(data, len, &pos);
    img->height = ppm_number(data, len, &pos);
    maxval = ppm_number(data, len, &pos);
    pos++; /* the one blank after maxval */
    if (img->width <= 0 || img->height <= 0 || maxval != 255 ||
        pos + (size_t)img->width * img->height * 3 > len) {
        free(data);
        return fail("%s: a PPM header or size this tool does not read", path);
    }
    img->rgb = malloc((size_t)img->width * img->height * 3);
    if (img->rgb == NULL) {
        free(data);
        return fail("%s: out of memory", path);
    }
    memcpy(img->rgb, data + pos, (size_t)img->width * img->height * 3);
    free(data);
    return 0;
}

static uint32_t pixel(const struct image *img, int x, int y)
{
    const uint8_t *p = img->rgb + ((size_t)y * img->width + x) * 3;

    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static const uint8_t *find_font(const uint8_t *rom, size_t len)
{
    static const uint8_t glyph_a[GLYPH_HEIGHT] = {0x00, 0x00, 0x10, 0x38, 0x6c, 0xc6, 0xc6, 0xfe,
                                                  0xc6, 0xc6, 0xc6, 0xc6, 0x00, 0x00, 0x00, 0x00};
    const size_t a_offset = 'A' * GLYPH_HEIGHT;

    for (size_t i = a_offset; i + GLYPH_HEIGHT <= len; i++) {
        if (memcmp(rom + i, glyph_a, GLYPH_HEIGHT) == 0 && i - a_offset + FONT_BYTES <= len)
            return rom + i - a_offset;
    }
    return NULL;
}

/* The most frequent colour of the cell (the background). */
static uint32_t cell_background(const struct image *img, int x0, int y0, int cell_w)
{
    uint32_t colours[2] = {pixel(img, x0, y0), 0};
    int counts[2] = {0, 0};

    for (int y = y0; y < y0 + GLYPH_HEIGHT; y++) {
        for (int x = x0; x < x0 + cell_w; x++) {
            uint32_t c = pixel(img, x, y);
            if (c == colours[0]) {
                counts[0]++;
            } else if (counts[1] == 0 || c == colours[1]) {
                colours[1] = c;
                counts[1]++;
            }
        }
    }
    return counts[1] > counts[0] ? colours[1] : colours[0];
}

static char read_cell(const struct image *img, const uint8_t *font, int col, int row, int cell_w)
{
    int x0 = col * cell_w, y0 = row * GLYPH_HEIGHT;
    uint32_t bg = cell_background(img, x0, y0, cell_w);
    uint8_t rows[GLYPH_HEIGHT];
    bool blank = true;

    for (int y = 0; y < GLYPH_HEIGHT; y++) {
        rows[y] = 0;
        for (int x = 0; x < 8; x++) {
            if (pixel(img, x0 + x, y0 + y) != bg)
                rows[y] |= 0x80 >> x;
        }
        blank &= rows[y] == 0;
    }
    if (blank)
        return ' ';
    for (int pass = 0; pass < 2; pass++) {
        for (int c = 0x20; c < 0x7f; c++) {
            bool match = true;
            for (int y = 0; y < GLYPH_HEIGHT && match; y++) {
                uint8_t g = font[c * GLYPH_HEIGHT + y];
                match = (pass ? (uint8_t)~g : g) == rows[y];
            }
            if (match)
                return (char)c;
        }
    }
    return '?';
}

static int print_text(const char *rom_path, const struct image *img)
{
    size_t rom_len = 0;
    uint8_t *rom = read_file(rom_path, &rom_len);
    const uint8_t *font;
    int cell_w;
    char line[TEXT_COLUMNS + 1];

    if (rom == NULL)
        return fail("cannot read %s", rom_path);
    font = find_font(rom, rom_len);
    if (font == NULL) {
        free(rom);
        return fail("%s: no IBM 8x16 font in it", rom_path);
    }
    cell_w = img->width / TEXT_COLUMNS;
    if ((cell_w != 8 && cell_w != 9) || img->width % TEXT_COLUMNS || img->height % GLYPH_HEIGHT) {
        free(rom);
        fail("%dx%d is not an 80-column text screen of 8x16 or 9x16 cells", img->width,
             img->height);
        return 1;
    }
    for (int row = 0; row < img->height / GLYPH_HEIGHT; row++) {
        int end = 0;
        for (int col = 0; col < TEXT_COLUMNS; col++) {
            line[col] = read_cell(img, font, col, row, cell_w);
            if (line[col] != ' ')
                end = col + 1;
        }
        line[end] = '\0';
        printf("%s\n", line);
    }
    free(rom);
    return 0;
}

static int parse_coordinate(const char *s, int limit, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v >= limit)
        return -1;
    *out = (int)v;
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: screen-text text ROM PPM | size PPM | pixel PPM X Y\n");
}

int main(int argc, char **argv)
{
    struct image img = {0};
    int rc = 2, x, y;
    uint32_t c;

    if (argc == 4 && strcmp(argv[1], "text") == 0) {
        if (load_ppm(argv[3], &img) == 0)
            rc = print_text(argv[2], &img);
    } else if (argc == 3 && strcmp(argv[1], "size") == 0) {
        if (load_ppm(argv[2], &img) == 0) {
            printf("%d %d\n", img.width, img.height);
            rc = 0;
        }
    } else if (argc == 5 && strcmp(argv[1], "pixel") == 0) {
        if (load_ppm(argv[2], &img) != 0)
            goto out;
        if (parse_coordinate(argv[3], img.width, &x) || parse_coordinate(argv[4], img.height, &y)) {
            rc = fail("pixel %s outside the image", argv[3]);
            goto out;
        }
        c = pixel(&img, x, y);
        printf("%u %u %u\n", c >> 16, (c >> 8) & 0xff, c & 0xff);
        rc = 0;
    } else {
        usage();
    }
out:
    free(img.rgb);
    return rc;
}
