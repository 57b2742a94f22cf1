/* PCI helpers for the qtest suites; see qtest-pci.h. */
#include "qtest-pci.h"

#include <inttypes.h>
#include <string.h>

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc
#define CONFIG_ENABLE 0x80000000u
#define CAP_WALK_LIMIT 48 /* (256 - 64) / 4: more entries than that means a loop */

static void select_register(struct qtest *qt, unsigned devfn, unsigned reg)
{
    qtest_outl(qt, CONFIG_ADDRESS, CONFIG_ENABLE | (devfn & 0xffu) << 8 | (reg & 0xfcu));
}

uint32_t qpci_read(struct qtest *qt, unsigned devfn, unsigned reg, unsigned size)
{
    uint16_t port = (uint16_t)(CONFIG_DATA + (reg & 3));

    select_register(qt, devfn, reg);
    switch (size) {
    case 1:
        return qtest_inb(qt, port);
    case 2:
        return qtest_inw(qt, port);
    default:
        return qtest_inl(qt, port);
    }
}

void qpci_write(struct qtest *qt, unsigned devfn, unsigned reg, uint32_t value, unsigned size)
{
    uint16_t port = (uint16_t)(CONFIG_DATA + (reg & 3));

    select_register(qt, devfn, reg);
    switch (size) {
    case 1:
        qtest_outb(qt, port, (uint8_t)value);
        break;
    case 2:
        qtest_outw(qt, port, (uint16_t)value);
        break;
    default:
        qtest_outl(qt, port, value);
        break;
    }
}

int qpci_find_cap(struct qtest *qt, unsigned devfn, uint8_t cap_id)
{
    unsigned pos;

    if (!(qpci_read(qt, devfn, 0x06, 2) & 0x10))
        return -1;
    pos = qpci_read(qt, devfn, 0x34, 1) & 0xfc;
    for (int i = 0; i < CAP_WALK_LIMIT && pos >= 0x40; i++) {
        if (qpci_read(qt, devfn, pos, 1) == cap_id)
            return (int)pos;
        pos = qpci_read(qt, devfn, pos + 1, 1) & 0xfc;
    }
    return -1;
}

static const char *width_suffix(unsigned size)
{
    switch (size) {
    case 1:
        return "b";
    case 2:
        return "w";
    case 4:
        return "l";
    default:
        return "q";
    }
}

uint64_t qmem_read(struct qtest *qt, uint64_t addr, unsigned size)
{
    char *reply = qtest_cmd_ok(qt, "read%s 0x%" PRIx64, width_suffix(size), addr);
    uint64_t value = g_ascii_strtoull(reply, NULL, 0);

    g_free(reply);
    return value;
}

void qmem_write(struct qtest *qt, uint64_t addr, uint64_t value, unsigned size)
{
    g_free(qtest_cmd_ok(qt, "write%s 0x%" PRIx64 " 0x%" PRIx64, width_suffix(size), addr,
                        value));
}

char **qirq_events(struct qtest *qt)
{
    return qtest_irq_log(qt);
}

void qirq_expect(struct qtest *qt, const char *kind, const char *const *want)
{
    char **events = qirq_events(qt);
    GPtrArray *got = g_ptr_array_new();
    char *got_text, *want_text;

    for (char **e = events; *e; e++) {
        if (!kind || g_str_has_prefix(*e, kind))
            g_ptr_array_add(got, *e);
    }
    g_ptr_array_add(got, NULL);
    got_text = g_strjoinv(" | ", (char **)got->pdata);
    want_text = g_strjoinv(" | ", (char **)want);
    g_assert_cmpstr(got_text, ==, want_text);
    g_free(got_text);
    g_free(want_text);
    g_ptr_array_free(got, TRUE);
    g_strfreev(events);
}

unsigned qirq_intx_gsi(unsigned slot, unsigned pin)
{
    return (((slot << 2) + (slot >> 3) + pin) & 31) + 16;
}
