/*
 * What Xen emulates itself for an HVM guest, before any ioreq routing
 * (reference §7): the RTC at 0x70/0x71 -- only its 14 clock registers, as Xen's vRTC
 * (RTC_CMOS_SIZE): an index write of 0x0E or more, and any access while such an index is
 * selected, go to the device model, which keeps the NVRAM (memory sizes, boot order, century), the ACPI PM1a event block at
 * 0xB000 and PM timer at 0xB008 (the addresses once hvmloader selects ACPI
 * version 1), and Xen's debug console at 0xE9. PM1a control (0xB004) is the
 * device model's and is not handled here.
 */
#include <string.h>
#include <stdio.h>
#include <time.h>

#include "xensim.h"

#define RTC_INDEX_PORT 0x70
#define RTC_DATA_PORT 0x71
#define PM1A_EVT_BLK 0xb000
#define PM_TMR_BLK 0xb008
#define DEBUG_CONSOLE_PORT 0xe9
#define DEBUG_LINE_MAX 1024

/* MC146818 register indices and bits (datasheet: registers A-D). */
enum { RTC_SECONDS = 0, RTC_MINUTES = 2, RTC_HOURS = 4, RTC_DAY_OF_WEEK = 6,
       RTC_DAY_OF_MONTH = 7, RTC_MONTH = 8, RTC_YEAR = 9, RTC_REG_A = 0xa, RTC_REG_B = 0xb,
       RTC_REG_C = 0xc, RTC_REG_D = 0xd, RTC_CMOS_SIZE = 0xe };
#define RTC_B_24H 0x02
#define RTC_B_BINARY 0x04
#define RTC_D_VRT 0x80
#define RTC_HOUR_PM 0x80

/* The PM timer runs at 3.579545 MHz; xensim's is 32 bits wide (FADT TMR_VAL_EXT, as Xen's). */
#define PM_TIMER_HZ 3579545ull

static uint8_t to_bcd(unsigned v) { return (uint8_t)(((v / 10) << 4) | (v % 10)); }
static unsigned from_bcd(uint8_t v) { return (v >> 4) * 10 + (v & 0xf); }

static uint8_t rtc_encode(struct xsim_platform *p, unsigned v)
{
    return (p->cmos[RTC_REG_B] & RTC_B_BINARY) ? (uint8_t)v : to_bcd(v);
}

static unsigned rtc_decode(struct xsim_platform *p, uint8_t v)
{
    return (p->cmos[RTC_REG_B] & RTC_B_BINARY) ? v : from_bcd(v);
}

static time_t guest_now(struct xsim_platform *p)
{
    return time(NULL) + p->rtc_offset;
}

static uint8_t rtc_encode_hour(struct xsim_platform *p, unsigned hour)
{
    if (p->cmos[RTC_REG_B] & RTC_B_24H)
        return rtc_encode(p, hour);
    unsigned h12 = hour % 12 ? hour % 12 : 12;
    return (uint8_t)(rtc_encode(p, h12) | (hour >= 12 ? RTC_HOUR_PM : 0));
}

static unsigned rtc_decode_hour(struct xsim_platform *p, uint8_t raw)
{
    if (p->cmos[RTC_REG_B] & RTC_B_24H)
        return rtc_decode(p, raw) % 24;
    unsigned h = rtc_decode(p, raw & 0x7f) % 12;
    return (raw & RTC_HOUR_PM) ? h + 12 : h;
}

static uint8_t rtc_read_time(struct xsim_platform *p, unsigned index)
{
    time_t now = guest_now(p);
    struct tm tm;
    gmtime_r(&now, &tm);
    switch (index) {
    case RTC_SECONDS: return rtc_encode(p, (unsigned)tm.tm_sec);
    case RTC_MINUTES: return rtc_encode(p, (unsigned)tm.tm_min);
    case RTC_HOURS: return rtc_encode_hour(p, (unsigned)tm.tm_hour);
    case RTC_DAY_OF_WEEK: return rtc_encode(p, (unsigned)tm.tm_wday + 1);
    case RTC_DAY_OF_MONTH: return rtc_encode(p, (unsigned)tm.tm_mday);
    case RTC_MONTH: return rtc_encode(p, (unsigned)tm.tm_mon + 1);
    case RTC_YEAR: return rtc_encode(p, (unsigned)tm.tm_year % 100);
    default: return rtc_encode(p, (unsigned)(tm.tm_year + 1900) / 100); /* century */
    }
}

static bool is_time_register(unsigned index)
{
    return index == RTC_SECONDS || index == RTC_MINUTES || index == RTC_HOURS ||
           index == RTC_DAY_OF_WEEK || index == RTC_DAY_OF_MONTH || index == RTC_MONTH ||
           index == RTC_YEAR;
}

/*
 * A guest write to a time register sets the clock at once (xensim does not
 * model the SET bit's freeze); the change is reported to every device model
 * as a buffered TIMEOFFSET, as Xen does.
 */
static void rtc_write_time(struct xsim *xs, unsigned index, uint8_t raw)
{
    struct xsim_platform *p = &xs->platform;
    time_t now = guest_now(p);
    struct tm tm;
    gmtime_r(&now, &tm);
    unsigned v = index == RTC_HOURS ? rtc_decode_hour(p, raw) : rtc_decode(p, raw);
    switch (index) {
    case RTC_SECONDS: tm.tm_sec = (int)MIN(v, 59u); break;
    case RTC_MINUTES: tm.tm_min = (int)MIN(v, 59u); break;
    case RTC_HOURS: tm.tm_hour = (int)v; break;
    case RTC_DAY_OF_WEEK: return; /* derived from the date */
    case RTC_DAY_OF_MONTH: tm.tm_mday = (int)CLAMP(v, 1u, 31u); break;
    case RTC_MONTH: tm.tm_mon = (int)CLAMP(v, 1u, 12u) - 1; break;
    case RTC_YEAR: tm.tm_year = (tm.tm_year + 1900) / 100 * 100 + (int)(v % 100) - 1900; break;
    default: tm.tm_year = (int)(v % 100) * 100 + (tm.tm_year % 100) - 1900; break;
    }
    time_t then = timegm(&tm);
    if (then == (time_t)-1)
        return;
    int64_t delta = (int64_t)(then - now);
    if (delta == 0)
        return;
    p->rtc_offset += delta;
    xsim_broadcast_timeoffset(xs, delta);
}

static uint8_t cmos_read(struct xsim *xs)
{
    struct xsim_platform *p = &xs->platform;
    unsigned index = p->cmos_index;
    if (is_time_register(index))
        return rtc_read_time(p, index);
    if (index == RTC_REG_C) {
        uint8_t v = p->cmos[RTC_REG_C];
        p->cmos[RTC_REG_C] = 0; /* reading C acknowledges the interrupt flags */
        return v;
    }
    if (index == RTC_REG_A)
        return p->cmos[RTC_REG_A] & 0x7f; /* UIP never seen set: updates are instantaneous */
    return p->cmos[index];
}

static void cmos_write(struct xsim *xs, uint8_t val)
{
    struct xsim_platform *p = &xs->platform;
    unsigned index = p->cmos_index;
    if (is_time_register(index)) {
        rtc_write_time(xs, index, val);
        return;
    }
    switch (index) {
    case RTC_REG_A:
        p->cmos[RTC_REG_A] = val & 0x7f;
        break;
    case RTC_REG_C:
    case RTC_REG_D:
        break; /* read-only */
    default:
        p->cmos[index] = val;
        break;
    }
}

static bool rtc_pio(struct xsim *xs, uint16_t port, uint32_t size, bool read, uint64_t *data)
{
    struct xsim_platform *p = &xs->platform;
    if (size != 1) {
        /* Xen's RTC takes byte accesses only; others read all-ones, writes vanish. */
        if (read)
            *data = ~0ull;
        return true;
    }
    if (port == RTC_INDEX_PORT && !read) {
        p->cmos_index = (uint8_t)(*data & 0x7f); /* bit 7 is the NMI mask */
        return p->cmos_index < RTC_CMOS_SIZE;     /* the device model sees the rest */
    }
    if (p->cmos_index >= RTC_CMOS_SIZE)
        return false;
    if (port == RTC_INDEX_PORT) {
        *data = 0xff;
        return true;
    }
    if (read)
        *data = cmos_read(xs);
    else
        cmos_write(xs, (uint8_t)*data);
    return true;
}

static bool pm1a_evt_pio(struct xsim *xs, uint16_t port, uint32_t size, bool read,
                         uint64_t *data)
{
    struct xsim_platform *p = &xs->platform;
    uint32_t regs = (uint32_t)p->pm1a_en << 16 | p->pm1a_sts;
    unsigned shift = (port - PM1A_EVT_BLK) * 8;
    if (read) {
        *data = (uint64_t)(regs >> shift) & (size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1);
        return true;
    }
    for (unsigned i = 0; i < size && port + i < PM1A_EVT_BLK + 4; i++) {
        unsigned byte = port - PM1A_EVT_BLK + i;
        uint8_t v = (uint8_t)(*data >> (i * 8));
        if (byte < 2)
            p->pm1a_sts &= (uint16_t)~((unsigned)v << (byte * 8)); /* write 1 to clear */
        else
            p->pm1a_en = (uint16_t)((p->pm1a_en & ~(0xffu << ((byte - 2) * 8))) |
                                    ((unsigned)v << ((byte - 2) * 8)));
    }
    return true;
}

static bool pm_timer_pio(struct xsim *xs, uint32_t size, bool read, uint64_t *data)
{
    if (!read)
        return true; /* read-only */
    uint64_t ns = (uint64_t)g_get_monotonic_time() * 1000 - xs->platform.pmtmr_base_ns;
    uint64_t ticks = (uint64_t)((unsigned __int128)ns * PM_TIMER_HZ / 1000000000ull);
    *data = size == 4 ? (uint32_t)ticks : ~0ull;
    return true;
}

static void debug_console_put(struct xsim *xs, uint8_t c)
{
    GString *line = xs->platform.debug_line;
    if (c == '\n' || line->len >= DEBUG_LINE_MAX) {
        fprintf(stderr, "(d%u) %s\n", xs->domid, line->str);
        g_string_truncate(line, 0);
        if (c == '\n')
            return;
    }
    if (c != '\r')
        g_string_append_c(line, g_ascii_isprint(c) || c == '\t' ? (char)c : '?');
}

bool xsim_platform_pio(struct xsim *xs, uint16_t port, uint32_t size, bool read, uint64_t *data)
{
    if (port == RTC_INDEX_PORT || port == RTC_DATA_PORT)
        return rtc_pio(xs, port, size, read, data);
    if (port >= PM1A_EVT_BLK && port < PM1A_EVT_BLK + 4)
        return pm1a_evt_pio(xs, port, size, read, data);
    if (port == PM_TMR_BLK)
        return pm_timer_pio(xs, size, read, data);
    if (port == DEBUG_CONSOLE_PORT) {
        if (read)
            *data = DEBUG_CONSOLE_PORT; /* the Bochs/Xen console's presence byte */
        else
            debug_console_put(xs, (uint8_t)*data);
        return true;
    }
    return false;
}

void xsim_platform_init(struct xsim *xs)
{
    struct xsim_platform *p = &xs->platform;
    memset(p->cmos, 0, sizeof(p->cmos));
    p->cmos[RTC_REG_A] = 0x26; /* 32.768 kHz divider, 1024 Hz rate */
    p->cmos[RTC_REG_B] = RTC_B_24H;
    p->cmos[RTC_REG_D] = RTC_D_VRT;
    p->rtc_offset = 0;
    p->pmtmr_base_ns = (uint64_t)g_get_monotonic_time() * 1000;
    p->debug_line = g_string_new(NULL);
}

void xsim_platform_fini(struct xsim *xs)
{
    if (xs->platform.debug_line) {
        if (xs->platform.debug_line->len)
            fprintf(stderr, "(d%u) %s\n", xs->domid, xs->platform.debug_line->str);
        g_string_free(xs->platform.debug_line, TRUE);
        xs->platform.debug_line = NULL;
    }
}
