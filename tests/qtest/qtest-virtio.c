/*
 * The guest driver's side of a virtio-pci function for qtests (see qtest-virtio.h).
 */
#include "qtest-virtio.h"

#include <fcntl.h>
#include <glib.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "qtest-pci.h"

#define REG_COMMAND 0x04
#define REG_BAR(n) (0x10 + 4 * (n))
#define REG_INT_PIN 0x3d
#define CMD_IO 0x1
#define CMD_MEMORY 0x2
#define CMD_MASTER 0x4

/* §4.1.4 vendor capabilities */
#define CAP_ID_VNDR 0x09
#define CAP_ID_MSIX 0x11
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_PCI_CFG 5
/* §4.1.4.9: struct virtio_pci_cap's bar, offset and length, then pci_cfg_data */
#define CAP_FIELD_BAR 4
#define CAP_FIELD_OFFSET 8
#define CAP_FIELD_LENGTH 12
#define PCI_CFG_DATA 16

#define MSIX_CTRL 2
#define MSIX_TABLE 4
#define MSIX_CTRL_ENABLE 0x8000
#define MSI_ADDR UINT64_C(0xfee00000)

static void find_caps(struct qvirtio *d)
{
    struct qvirtio_cap *slots[6] = {NULL, &d->common, &d->notify, &d->isr, &d->device,
                                    &d->pci_cfg};
    unsigned ptr = qpci_read(d->qt, d->devfn, 0x34, 1) & 0xfc;

    d->common.off = d->notify.off = d->isr.off = d->device.off = d->pci_cfg.off = -1;
    for (unsigned n = 0; ptr && n < 48; n++) {
        uint8_t id = (uint8_t)qpci_read(d->qt, d->devfn, ptr, 1);
        uint8_t type = (uint8_t)qpci_read(d->qt, d->devfn, ptr + 3, 1);

        if (id == CAP_ID_VNDR && type >= CAP_COMMON && type <= CAP_PCI_CFG &&
            slots[type]->off < 0) {
            slots[type]->off = (int)ptr;
            slots[type]->bar = (uint8_t)qpci_read(d->qt, d->devfn, ptr + 4, 1);
            slots[type]->offset = qpci_read(d->qt, d->devfn, ptr + 8, 4);
            slots[type]->length = qpci_read(d->qt, d->devfn, ptr + 12, 4);
            if (type == CAP_NOTIFY) {
                d->notify_multiplier = qpci_read(d->qt, d->devfn, ptr + 16, 4);
            }
        }
        ptr = qpci_read(d->qt, d->devfn, ptr + 1, 1) & 0xfc;
    }
}

/* Sizes every BAR and places it, as firmware does. */
static void assign_bars(struct qvirtio *d, uint64_t mem, uint32_t io)
{
    for (unsigned bar = 0; bar < 6; bar++) {
        uint32_t mask, size;
        bool is64;

        qpci_write(d->qt, d->devfn, REG_BAR(bar), 0xffffffff, 4);
        mask = qpci_read(d->qt, d->devfn, REG_BAR(bar), 4);
        if (mask == 0) {
            continue;
        }
        if (mask & 1) {
            size = (~(mask & ~3u) + 1) & 0xffff;
            d->bar_io[bar] = true;
            d->bar_addr[bar] = io;
            qpci_write(d->qt, d->devfn, REG_BAR(bar), io, 4);
            io += size < 0x100 ? 0x100 : size;
            continue;
        }
        size = ~(mask & ~0xfu) + 1;
        is64 = (mask & 6) == 4;
        mem = (mem + size - 1) & ~(uint64_t)(size - 1);
        d->bar_addr[bar] = mem;
        qpci_write(d->qt, d->devfn, REG_BAR(bar), (uint32_t)mem, 4);
        if (is64) {
            qpci_write(d->qt, d->devfn, REG_BAR(bar + 1), 0, 4);
            bar++;
        }
        mem += size;
    }
    qpci_write(d->qt, d->devfn, REG_COMMAND, CMD_IO | CMD_MEMORY | CMD_MASTER, 2);
}

struct qvirtio *qvirtio_open(struct qtest *qt, unsigned devfn, uint64_t mem_base,
                             uint32_t io_base)
{
    struct qvirtio *d = g_new0(struct qvirtio, 1);

    d->qt = qt;
    d->devfn = devfn;
    find_caps(d);
    assign_bars(d, mem_base, io_base);
    return d;
}

void qvirtio_close(struct qvirtio *d)
{
    g_free(d);
}

uint64_t qvirtio_cap_addr(const struct qvirtio *d, const struct qvirtio_cap *c, uint32_t offset)
{
    g_assert_cmpint(c->off, >=, 0);
    return d->bar_addr[c->bar] + c->offset + offset;
}

uint64_t qvirtio_cc_read(struct qvirtio *d, uint32_t reg, unsigned size)
{
    return qmem_read(d->qt, qvirtio_cap_addr(d, &d->common, reg), size);
}

void qvirtio_cc_write(struct qvirtio *d, uint32_t reg, uint64_t v, unsigned size)
{
    qmem_write(d->qt, qvirtio_cap_addr(d, &d->common, reg), v, size);
}

uint8_t qvirtio_status(struct qvirtio *d)
{
    return (uint8_t)qvirtio_cc_read(d, QVIRTIO_CC_STATUS, 1);
}

uint8_t qvirtio_isr_read(struct qvirtio *d)
{
    return (uint8_t)qmem_read(d->qt, qvirtio_cap_addr(d, &d->isr, 0), 1);
}

uint64_t qvirtio_config_read(struct qvirtio *d, uint32_t offset, unsigned size)
{
    return qmem_read(d->qt, qvirtio_cap_addr(d, &d->device, offset), size);
}

void qvirtio_config_write(struct qvirtio *d, uint32_t offset, uint64_t v, unsigned size)
{
    qmem_write(d->qt, qvirtio_cap_addr(d, &d->device, offset), v, size);
}

uint64_t qvirtio_device_features(struct qvirtio *d)
{
    uint64_t lo, hi;

    qvirtio_cc_write(d, QVIRTIO_CC_DFSELECT, 0, 4);
    lo = qvirtio_cc_read(d, QVIRTIO_CC_DF, 4);
    qvirtio_cc_write(d, QVIRTIO_CC_DFSELECT, 1, 4);
    hi = qvirtio_cc_read(d, QVIRTIO_CC_DF, 4);
    return hi << 32 | lo;
}

void qvirtio_reset(struct qvirtio *d)
{
    qvirtio_cc_write(d, QVIRTIO_CC_STATUS, 0, 1);
    g_assert_cmphex(qvirtio_status(d), ==, 0);
}

bool qvirtio_negotiate(struct qvirtio *d, uint64_t features, uint16_t config_vector)
{
    const uint8_t st = QVIRTIO_ST_ACK | QVIRTIO_ST_DRIVER;

    features |= QVIRTIO_BIT(QVIRTIO_F_VERSION_1);
    qvirtio_reset(d);
    qvirtio_cc_write(d, QVIRTIO_CC_STATUS, QVIRTIO_ST_ACK, 1);
    qvirtio_cc_write(d, QVIRTIO_CC_STATUS, st, 1);
    g_assert_cmphex(qvirtio_device_features(d) & features, ==, features);
    qvirtio_cc_write(d, QVIRTIO_CC_GFSELECT, 0, 4);
    qvirtio_cc_write(d, QVIRTIO_CC_GF, (uint32_t)features, 4);
    qvirtio_cc_write(d, QVIRTIO_CC_GFSELECT, 1, 4);
    qvirtio_cc_write(d, QVIRTIO_CC_GF, features >> 32, 4);
    qvirtio_cc_write(d, QVIRTIO_CC_STATUS, st | QVIRTIO_ST_FEATURES_OK, 1);
    qvirtio_cc_write(d, QVIRTIO_CC_MSIX_CONFIG, config_vector, 2);
    return (qvirtio_status(d) & QVIRTIO_ST_FEATURES_OK) != 0;
}

void qvirtqueue_setup(struct qvirtio *d, struct qvirtqueue *vq, unsigned index, uint64_t base,
                      uint16_t size, uint16_t vector)
{
    memset(vq, 0, sizeof(*vq));
    vq->dev = d;
    vq->index = index;
    qvirtio_cc_write(d, QVIRTIO_CC_Q_SELECT, index, 2);
    vq->size = size ? size : (uint16_t)qvirtio_cc_read(d, QVIRTIO_CC_Q_SIZE, 2);
    g_assert_cmpuint(vq->size, >=, 2);
    g_assert_cmpuint(vq->size & (vq->size - 1), ==, 0);
    qvirtio_cc_write(d, QVIRTIO_CC_Q_SIZE, vq->size, 2);
    /* The legacy layout, which also meets the modern alignments (§2.7). */
    vq->desc = base;
    vq->avail = base + 16u * vq->size;
    vq->used = (vq->avail + 6 + 2u * vq->size + 4095) & ~UINT64_C(4095);
    g_free(qtest_cmd_ok(d->qt, "memset 0x%" PRIx64 " %u 0", base,
                        (unsigned)(vq->used + 6 + 8u * vq->size - base)));
    qvirtio_cc_write(d, QVIRTIO_CC_Q_MSIX, vector, 2);
    qvirtio_cc_write(d, QVIRTIO_CC_Q_DESC, (uint32_t)vq->desc, 4);
    qvirtio_cc_write(d, QVIRTIO_CC_Q_DESC + 4, vq->desc >> 32, 4);
    qvirtio_cc_write(d, QVIRTIO_CC_Q_DRIVER, (uint32_t)vq->avail, 4);
    qvirtio_cc_write(d, QVIRTIO_CC_Q_DRIVER + 4, vq->avail >> 32, 4);
    qvirtio_cc_write(d, QVIRTIO_CC_Q_DEVICE, (uint32_t)vq->used, 4);
    qvirtio_cc_write(d, QVIRTIO_CC_Q_DEVICE + 4, vq->used >> 32, 4);
    qvirtio_cc_write(d, QVIRTIO_CC_Q_ENABLE, 1, 2);
}

void qvirtio_driver_ok(struct qvirtio *d)
{
    qvirtio_cc_write(d, QVIRTIO_CC_STATUS, QVIRTIO_ST_ACK | QVIRTIO_ST_DRIVER |
                     QVIRTIO_ST_FEATURES_OK | QVIRTIO_ST_DRIVER_OK, 1);
}

void qvirtq_write_desc(struct qtest *qt, uint64_t table_gpa, unsigned i, uint64_t addr,
                       uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t raw[16];

    memcpy(raw, &addr, 8);
    memcpy(raw + 8, &len, 4);
    memcpy(raw + 12, &flags, 2);
    memcpy(raw + 14, &next, 2);
    qtest_memwrite(qt, table_gpa + 16u * i, raw, sizeof(raw));
}

void qvirtqueue_set_desc(struct qvirtqueue *vq, unsigned i, uint64_t addr, uint32_t len,
                         uint16_t flags, uint16_t next)
{
    g_assert_cmpuint(i, <, vq->size);
    qvirtq_write_desc(vq->dev->qt, vq->desc, i, addr, len, flags, next);
}

void qvirtqueue_add_avail(struct qvirtqueue *vq, const uint16_t *heads, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint16_t slot = (uint16_t)((vq->avail_idx + i) % vq->size);

        qtest_memwrite(vq->dev->qt, vq->avail + 4 + 2u * slot, &heads[i], 2);
    }
    vq->avail_idx = (uint16_t)(vq->avail_idx + n);
    qtest_memwrite(vq->dev->qt, vq->avail + 2, &vq->avail_idx, 2);
}

void qvirtqueue_kick(struct qvirtqueue *vq)
{
    struct qvirtio *d = vq->dev;
    uint16_t off;

    if (vq->legacy) {
        qvirtio_legacy_write(d, QVIRTIO_LEGACY_QUEUE_NOTIFY, vq->index, 2);
        return;
    }
    qvirtio_cc_write(d, QVIRTIO_CC_Q_SELECT, vq->index, 2);
    off = (uint16_t)qvirtio_cc_read(d, QVIRTIO_CC_Q_NOTIFY_OFF, 2);
    qmem_write(d->qt, qvirtio_cap_addr(d, &d->notify, (uint32_t)off * d->notify_multiplier),
               vq->index, 2);
}

uint16_t qvirtqueue_used_idx(struct qvirtqueue *vq)
{
    uint16_t v;

    qtest_memread(vq->dev->qt, vq->used + 2, &v, 2);
    return v;
}

void qvirtqueue_used_elem(struct qvirtqueue *vq, uint16_t i, uint32_t *id, uint32_t *len)
{
    uint32_t e[2];

    qtest_memread(vq->dev->qt, vq->used + 4 + 8u * (i % vq->size), e, sizeof(e));
    *id = e[0];
    *len = e[1];
}

bool qvirtqueue_wait_used(struct qvirtqueue *vq, uint16_t want, unsigned timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    for (;;) {
        if (qvirtqueue_used_idx(vq) == want) {
            return true;
        }
        if (g_get_monotonic_time() > deadline) {
            return false;
        }
        g_usleep(200);
    }
}

bool qvirtqueue_wait_used_reach(struct qvirtqueue *vq, uint16_t want, unsigned timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    for (;;) {
        /* At or past `want` in the 16-bit index space: less than half the space beyond it. */
        if ((uint16_t)(qvirtqueue_used_idx(vq) - want) < 0x8000) {
            return true;
        }
        if (g_get_monotonic_time() > deadline) {
            return false;
        }
        g_usleep(200);
    }
}

bool qvirtqueue_pop_used(struct qvirtqueue *vq, uint32_t *id, uint32_t *len,
                         unsigned timeout_ms)
{
    if (!qvirtqueue_wait_used_reach(vq, (uint16_t)(vq->last_used + 1), timeout_ms)) {
        return false;
    }
    qvirtqueue_used_elem(vq, vq->last_used, id, len);
    vq->last_used++;
    return true;
}

void qvirtqueue_set_used_event(struct qvirtqueue *vq, uint16_t v)
{
    qtest_memwrite(vq->dev->qt, vq->avail + 4 + 2u * vq->size, &v, 2);
}

uint16_t qvirtqueue_avail_event(struct qvirtqueue *vq)
{
    uint16_t v;

    qtest_memread(vq->dev->qt, vq->used + 4 + 8u * vq->size, &v, 2);
    return v;
}

bool qvirtio_msix_enable(struct qvirtio *d, unsigned n, uint32_t data)
{
    int cap = qpci_find_cap(d->qt, d->devfn, CAP_ID_MSIX);
    uint32_t table;
    uint64_t entry;

    if (cap < 0) {
        return false;
    }
    table = qpci_read(d->qt, d->devfn, (unsigned)cap + MSIX_TABLE, 4);
    entry = d->bar_addr[table & 7] + (table & ~7u) + 16u * n;
    qtest_writel(d->qt, entry, (uint32_t)MSI_ADDR);
    qtest_writel(d->qt, entry + 4, 0);
    qtest_writel(d->qt, entry + 8, data);
    qtest_writel(d->qt, entry + 12, 0); /* unmasked */
    qpci_write(d->qt, d->devfn, (unsigned)cap + MSIX_CTRL, MSIX_CTRL_ENABLE, 2);
    d->msix = true;
    return true;
}

char **qvirtio_wait_events(struct qtest *qt, const char *kind, unsigned want,
                           unsigned timeout_ms)
{
    GPtrArray *got = g_ptr_array_new();
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    for (;;) {
        char **ev = qirq_events(qt);

        for (char **e = ev; *e; e++) {
            if (g_str_has_prefix(*e, kind)) {
                g_ptr_array_add(got, g_strdup(*e));
            }
        }
        g_strfreev(ev);
        if (got->len >= want || g_get_monotonic_time() > deadline) {
            break;
        }
        g_usleep(1000);
    }
    g_ptr_array_add(got, NULL);
    return (char **)g_ptr_array_free(got, false);
}

/* ---- the legacy interface (§4.1.4.10) ---- */

static uint16_t legacy_port(const struct qvirtio *d, unsigned reg)
{
    g_assert_true(d->bar_io[0]);
    return (uint16_t)(d->bar_addr[0] + reg);
}

uint32_t qvirtio_legacy_read(struct qvirtio *d, unsigned reg, unsigned size)
{
    uint16_t port = legacy_port(d, reg);

    switch (size) {
    case 1:
        return qtest_inb(d->qt, port);
    case 2:
        return qtest_inw(d->qt, port);
    default:
        g_assert_cmpuint(size, ==, 4);
        return qtest_inl(d->qt, port);
    }
}

void qvirtio_legacy_write(struct qvirtio *d, unsigned reg, uint32_t v, unsigned size)
{
    uint16_t port = legacy_port(d, reg);

    switch (size) {
    case 1:
        qtest_outb(d->qt, port, (uint8_t)v);
        break;
    case 2:
        qtest_outw(d->qt, port, (uint16_t)v);
        break;
    default:
        g_assert_cmpuint(size, ==, 4);
        qtest_outl(d->qt, port, v);
        break;
    }
}

void qvirtqueue_setup_legacy(struct qvirtio *d, struct qvirtqueue *vq, unsigned index,
                             uint64_t base)
{
    g_assert_cmphex(base % QVIRTIO_LEGACY_PAGE, ==, 0);
    memset(vq, 0, sizeof(*vq));
    vq->dev = d;
    vq->index = index;
    vq->legacy = true;
    qvirtio_legacy_write(d, QVIRTIO_LEGACY_QUEUE_SELECT, index, 2);
    /* The legacy driver cannot choose the size: it takes the device's. */
    vq->size = (uint16_t)qvirtio_legacy_read(d, QVIRTIO_LEGACY_QUEUE_SIZE, 2);
    g_assert_cmpuint(vq->size, >=, 2);
    g_assert_cmpuint(vq->size & (vq->size - 1), ==, 0);
    vq->desc = base;
    vq->avail = base + 16u * vq->size;
    vq->used = (vq->avail + 6 + 2u * vq->size + QVIRTIO_LEGACY_PAGE - 1) &
               ~(uint64_t)(QVIRTIO_LEGACY_PAGE - 1);
    g_free(qtest_cmd_ok(d->qt, "memset 0x%" PRIx64 " %u 0", base,
                        (unsigned)(vq->used + 6 + 8u * vq->size - base)));
    qvirtio_legacy_write(d, QVIRTIO_LEGACY_QUEUE_PFN, (uint32_t)(base / QVIRTIO_LEGACY_PAGE), 4);
}

/* ---- the PCI configuration access capability (§4.1.4.9) ---- */

static unsigned pci_cfg_cap(const struct qvirtio *d)
{
    g_assert_cmpint(d->pci_cfg.off, >=, 0x40);
    return (unsigned)d->pci_cfg.off;
}

void qvirtio_pci_cfg_window(struct qvirtio *d, uint8_t bar, uint32_t offset, uint32_t length)
{
    unsigned cap = pci_cfg_cap(d);

    qpci_write(d->qt, d->devfn, cap + CAP_FIELD_BAR, bar, 1);
    qpci_write(d->qt, d->devfn, cap + CAP_FIELD_OFFSET, offset, 4);
    qpci_write(d->qt, d->devfn, cap + CAP_FIELD_LENGTH, length, 4);
}

uint32_t qvirtio_pci_cfg_data_read(struct qvirtio *d)
{
    return qpci_read(d->qt, d->devfn, pci_cfg_cap(d) + PCI_CFG_DATA, 4);
}

void qvirtio_pci_cfg_data_write(struct qvirtio *d, uint32_t v)
{
    qpci_write(d->qt, d->devfn, pci_cfg_cap(d) + PCI_CFG_DATA, v, 4);
}

/* ---- interrupts without MSI-X, and MSI messages ---- */

unsigned qvirtio_expect_msi(struct qtest *qt, uint32_t data, unsigned timeout_ms)
{
    char **ev = qvirtio_wait_events(qt, "msi ", 1, timeout_ms);
    g_autofree char *want = g_strdup_printf("msi 0x%" PRIx64 " 0x%x", MSI_ADDR, data);
    g_autofree char *suffix = g_strdup_printf(" 0x%x", data);
    unsigned n = g_strv_length(ev);

    g_assert_cmpuint(n, >=, 1);
    if (qtest_dm_is_xendm()) {
        g_assert_cmpstr(ev[0], ==, want);
    } else {
        g_assert_true(g_str_has_suffix(ev[0], suffix));
    }
    g_strfreev(ev);
    return n;
}

char *qvirtio_intx_event(struct qvirtio *d, unsigned level)
{
    unsigned slot = d->devfn >> 3;
    unsigned pin = qpci_read(d->qt, d->devfn, REG_INT_PIN, 1);

    g_assert_cmpuint(pin, >=, 1); /* 1: INTA# ... 4: INTD# */
    g_assert_cmpuint(pin, <=, 4);
    return g_strdup_printf("intx %u %u %u %u", slot, pin - 1, level,
                           qirq_intx_gsi(slot, pin - 1));
}

bool qvirtio_wait_intx(struct qvirtio *d, unsigned level, unsigned timeout_ms)
{
    g_autofree char *want = qvirtio_intx_event(d, level);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    for (;;) {
        char **ev = qirq_events(d->qt);
        bool seen = g_strv_contains((const char *const *)ev, want);

        g_strfreev(ev);
        if (seen) {
            return true;
        }
        if (g_get_monotonic_time() > deadline) {
            return false;
        }
        g_usleep(1000);
    }
}

/* ---- saved state ---- */

void qvirtio_save_restore(struct qtest *qt, const char *name)
{
    g_autofree char *file = qtest_tmp_path(name);

    g_free(qtest_cmd_ok(qt, "dm_save %s", file));
    g_free(qtest_cmd_ok(qt, "dm_restore %s", file));
}

/* ---- a sustained virtio-blk load ---- */

/* A run that stops completing requests fails after this long past its duration. */
#define LOAD_STALL_US (10 * G_USEC_PER_SEC)

void qvblk_load_init(struct qvblk_load *l, struct qvirtqueue *vq, bool event_idx,
                     const struct qvblk_layout *mem, uint64_t capacity)
{
    struct qvirtio *d = vq->dev;
    uint16_t off;

    memset(l, 0, sizeof(*l));
    l->vq = vq;
    l->event_idx = event_idx;
    l->mem = *mem;
    l->capacity = capacity;
    l->used_seen = qvirtqueue_used_idx(vq);
    /* The notify address once (§4.1.4.4), not two register round trips per kick. */
    qvirtio_cc_write(d, QVIRTIO_CC_Q_SELECT, vq->index, 2);
    off = (uint16_t)qvirtio_cc_read(d, QVIRTIO_CC_Q_NOTIFY_OFF, 2);
    l->notify_addr = qvirtio_cap_addr(d, &d->notify, (uint32_t)off * d->notify_multiplier);
}

/*
 * Block n of a scrambled order over `blocks` (a power of two): odd multiplications and
 * xor-shifts are each a bijection on k bits, so every block comes once per `blocks` requests.
 */
static uint64_t scramble_block(uint64_t n, uint64_t blocks)
{
    uint64_t mask = blocks - 1, x = n & mask;
    unsigned shift = MAX(1u, (unsigned)g_bit_storage(mask) / 2);

    x = (x * UINT64_C(0x9e3779b97f4a7c15)) & mask;
    x ^= x >> shift;
    x = (x * UINT64_C(0xbf58476d1ce4e5b9)) & mask;
    x ^= x >> shift;
    return x;
}

static uint64_t load_next_sector(struct qvblk_load *l)
{
    uint64_t per_block = l->len / 512;
    uint64_t blocks = l->capacity / per_block;
    uint64_t n = l->next++;

    return (l->sequential ? n % blocks : scramble_block(n, blocks)) * per_block;
}

/* The headers of every slot in one write: those of requests in flight keep their bytes. */
static void load_write_headers(struct qvblk_load *l)
{
    uint8_t hdr[QVBLK_LOAD_DEPTH_MAX * 16] = {0};
    uint32_t type = l->write ? QVBLK_T_OUT : QVBLK_T_IN;

    for (unsigned k = 0; k < l->depth; k++) {
        memcpy(hdr + 16 * k, &type, 4);
        memcpy(hdr + 16 * k + 8, &l->sector[k], 8);
    }
    qtest_memwrite(l->vq->dev->qt, l->mem.hdr_gpa, hdr, 16u * l->depth);
}

/* Publishes heads (entries, used_event, then idx: §2.7.13) and kicks if the device asks. */
static void load_add_avail(struct qvblk_load *l, const uint16_t *heads, unsigned n)
{
    struct qvirtqueue *vq = l->vq;
    struct qtest *qt = vq->dev->qt;
    unsigned start = vq->avail_idx % vq->size;
    unsigned first = n < vq->size - start ? n : vq->size - start;
    uint16_t old = vq->avail_idx;
    uint16_t event;

    qtest_memwrite(qt, vq->avail + 4 + 2u * start, heads, 2u * first);
    if (first < n) {
        qtest_memwrite(qt, vq->avail + 4, heads + first, 2u * (n - first));
    }
    if (l->event_idx) {
        qvirtqueue_set_used_event(vq, l->used_seen);
    }
    vq->avail_idx = (uint16_t)(vq->avail_idx + n);
    qtest_memwrite(qt, vq->avail + 2, &vq->avail_idx, 2);
    /* §2.7.10: vring_need_event(avail_event, new, old); without EVENT_IDX, always. */
    event = l->event_idx ? qvirtqueue_avail_event(vq) : old;
    if ((uint16_t)(vq->avail_idx - event - 1) < (uint16_t)(vq->avail_idx - old)) {
        qmem_write(qt, l->notify_addr, vq->index, 2);
    }
}

/* The heads used since the last call (at most depth); returns how many. */
static unsigned load_take_used(struct qvblk_load *l, uint16_t *heads)
{
    struct qvirtqueue *vq = l->vq;
    uint16_t used = qvirtqueue_used_idx(vq);
    unsigned n = (uint16_t)(used - l->used_seen);
    unsigned start = l->used_seen % vq->size;
    unsigned first = n < vq->size - start ? n : vq->size - start;
    /* §2.7.8: what the device wrote: the data and the status byte of a read. */
    uint32_t written = l->write ? 1 : l->len + 1;
    uint32_t elems[2 * QVBLK_LOAD_DEPTH_MAX];

    g_assert_cmpuint(n, <=, l->depth);
    if (n == 0) {
        return 0;
    }
    qtest_memread(vq->dev->qt, vq->used + 4 + 8u * start, elems, 8u * first);
    if (first < n) {
        qtest_memread(vq->dev->qt, vq->used + 4, elems + 2 * first, 8u * (n - first));
    }
    for (unsigned i = 0; i < n; i++) {
        uint32_t id = elems[2 * i];

        g_assert_cmpuint(id % 3, ==, 0);
        g_assert_cmpuint(id / 3, <, l->depth);
        g_assert_cmpuint(elems[2 * i + 1], ==, written);
        heads[i] = (uint16_t)id;
    }
    l->used_seen = used;
    return n;
}

void qvblk_load_start(struct qvblk_load *l, bool write, unsigned depth, uint32_t len,
                      bool sequential)
{
    struct qtest *qt = l->vq->dev->qt;
    uint16_t heads[QVBLK_LOAD_DEPTH_MAX];
    uint8_t status[QVBLK_LOAD_DEPTH_MAX];
    uint16_t data_flags = write ? 0 : QVIRTQ_DESC_F_WRITE;

    g_assert_cmpuint(depth, >=, 1);
    g_assert_cmpuint(depth, <=, QVBLK_LOAD_DEPTH_MAX);
    g_assert_cmpuint(3 * depth, <=, l->vq->size);
    g_assert_cmpuint(len % 512, ==, 0);
    g_assert_cmpuint(len, <=, l->mem.data_stride);
    l->write = write;
    l->depth = depth;
    l->len = len;
    l->sequential = sequential;
    l->next = 0;
    memset(status, 0xff, sizeof(status));
    qtest_memwrite(qt, l->mem.status_gpa, status, depth);
    for (unsigned k = 0; k < depth; k++) {
        unsigned head = 3 * k;

        qvirtqueue_set_desc(l->vq, head, l->mem.hdr_gpa + 16u * k, 16, QVIRTQ_DESC_F_NEXT,
                            (uint16_t)(head + 1));
        qvirtqueue_set_desc(l->vq, head + 1, l->mem.data_gpa + l->mem.data_stride * k, len,
                            data_flags | QVIRTQ_DESC_F_NEXT, (uint16_t)(head + 2));
        qvirtqueue_set_desc(l->vq, head + 2, l->mem.status_gpa + k, 1, QVIRTQ_DESC_F_WRITE, 0);
        heads[k] = (uint16_t)head;
        l->sector[k] = load_next_sector(l);
    }
    load_write_headers(l);
    load_add_avail(l, heads, depth);
}

uint64_t qvblk_load_run(struct qvblk_load *l, int64_t duration_us, unsigned poll_us,
                        int64_t *elapsed_us)
{
    uint16_t heads[QVBLK_LOAD_DEPTH_MAX];
    uint64_t done = 0;
    int64_t t0 = g_get_monotonic_time();
    unsigned in_flight = l->depth;

    while (in_flight > 0) {
        int64_t now = g_get_monotonic_time();
        unsigned n = load_take_used(l, heads);

        if (n == 0) {
            g_assert_cmpint(now - t0, <, duration_us + LOAD_STALL_US);
            g_usleep(poll_us);
            continue;
        }
        done += n;
        if (now - t0 >= duration_us) {
            in_flight -= n;
            continue;
        }
        for (unsigned i = 0; i < n; i++) {
            l->sector[heads[i] / 3] = load_next_sector(l);
        }
        load_write_headers(l);
        load_add_avail(l, heads, n);
    }
    *elapsed_us = g_get_monotonic_time() - t0;
    return done;
}

bool qvblk_load_verify(struct qvblk_load *l, const char *image)
{
    struct qtest *qt = l->vq->dev->qt;
    uint8_t status[QVBLK_LOAD_DEPTH_MAX];
    uint8_t *guest = g_malloc0(l->len), *file = g_malloc0(l->len);
    int fd = open(image, O_RDONLY | O_CLOEXEC);
    bool ok = fd >= 0;

    qtest_memread(qt, l->mem.status_gpa, status, l->depth);
    for (unsigned k = 0; k < l->depth && ok; k++) {
        qtest_memread(qt, l->mem.data_gpa + l->mem.data_stride * k, guest, l->len);
        ok = status[k] == QVBLK_S_OK &&
             pread(fd, file, l->len, (off_t)(l->sector[k] * 512)) == (ssize_t)l->len &&
             memcmp(guest, file, l->len) == 0;
        if (!ok) {
            g_test_message("virtio-blk load: slot %u (sector %" PRIu64 "): status %u, data %s",
                           k, l->sector[k], status[k], memcmp(guest, file, l->len) ? "differ"
                                                                                  : "match");
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    g_free(guest);
    g_free(file);
    return ok;
}
