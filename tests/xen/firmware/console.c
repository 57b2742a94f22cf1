/*
 * COM1 output and the TAP bookkeeping. Everything the firmware reports goes through the
 * 16550 at 0x3F8, which xendm (or qemu-xen) emulates: the rig reads the serial log.
 */
#include "fw.h"

#define COM1 0x3f8
#define UART_THR 0
#define UART_DLL 0
#define UART_IER 1
#define UART_DLM 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LCR_DLAB 0x80
#define LCR_8N1 0x03
#define FCR_ENABLE_CLEAR 0x07 /* FIFO on, both FIFOs cleared */
#define MCR_DTR_RTS 0x03
#define LSR_THRE 0x20
/* A transmitter that never empties (no device model behind the port) must not hang us. */
#define UART_SPIN_LIMIT 100000

static uint32_t tap_count, tap_pass, tap_fail, tap_skips;

void uart_init(void)
{
    outb(COM1 + UART_IER, 0);
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DLL, 1); /* 115200 baud: divisor 1 of the 1.8432 MHz / 16 clock */
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, LCR_8N1);
    outb(COM1 + UART_FCR, FCR_ENABLE_CLEAR);
    outb(COM1 + UART_MCR, MCR_DTR_RTS);
}

static void putch(char c)
{
    for (int i = 0; i < UART_SPIN_LIMIT; i++) {
        if (inb(COM1 + UART_LSR) & LSR_THRE)
            break;
    }
    outb(COM1 + UART_THR, (uint8_t)c);
}

void putstr(const char *s)
{
    for (; *s; s++) {
        if (*s == '\n')
            putch('\r');
        putch(*s);
    }
}

void puthex(uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    char buf[11];

    buf[0] = '0';
    buf[1] = 'x';
    for (int i = 0; i < 8; i++)
        buf[2 + i] = digits[(v >> (28 - 4 * i)) & 0xf];
    buf[10] = '\0';
    putstr(buf);
}

void putdec(uint32_t v)
{
    char buf[11];
    int i = 10;

    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    putstr(buf + i);
}

static void tap_line_start(bool ok, const char *desc)
{
    tap_count++;
    putstr(ok ? "ok " : "not ok ");
    putdec(tap_count);
    putstr(" - ");
    putstr(desc);
}

void tap_ok(const char *desc)
{
    tap_line_start(true, desc);
    putstr("\n");
    tap_pass++;
}

void tap_skip(const char *desc, const char *reason)
{
    tap_line_start(true, desc);
    putstr(" # SKIP ");
    putstr(reason);
    putstr("\n");
    tap_skips++;
}

bool check(const char *desc, uint32_t expected, uint32_t got)
{
    if (got == expected) {
        tap_ok(desc);
        return true;
    }
    tap_line_start(false, desc);
    putstr(": expected ");
    puthex(expected);
    putstr(" got ");
    puthex(got);
    putstr("\n");
    tap_fail++;
    return false;
}

bool check_true(const char *desc, bool cond, const char *what_failed)
{
    if (cond) {
        tap_ok(desc);
        return true;
    }
    tap_line_start(false, desc);
    putstr(": ");
    putstr(what_failed);
    putstr("\n");
    tap_fail++;
    return false;
}

void tap_finish(void)
{
    putstr("1..");
    putdec(tap_count);
    putstr("\nTESTFW-RESULT pass=");
    putdec(tap_pass);
    putstr(" fail=");
    putdec(tap_fail);
    putstr(" skip=");
    putdec(tap_skips);
    putstr("\n");
}

bool check_mem(const char *desc, const void *got, const void *want, size_t len)
{
    const uint8_t *g = got, *w = want;

    for (size_t i = 0; i < len; i++) {
        if (g[i] != w[i]) {
            tap_line_start(false, desc);
            putstr(": expected ");
            puthex(w[i]);
            putstr(" got ");
            puthex(g[i]);
            putstr(" at byte ");
            putdec((uint32_t)i);
            putstr("\n");
            tap_fail++;
            return false;
        }
    }
    tap_ok(desc);
    return true;
}
