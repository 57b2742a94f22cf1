/*
 * virtio-rng-pci through xensim, as a guest driver programs it (virtio 1.2 §4.1, §3.1.1):
 * find the function, walk its virtio capabilities, assign its BARs, negotiate VERSION_1, set
 * up a split queue in guest memory, post a buffer, kick, and see the buffer filled, a used
 * entry, and an MSI-X message (or INTx and the ISR without MSI-X). Also: device reset, the
 * legacy I/O BAR of the transitional function, the PCI configuration access capability,
 * hostile rings (the device wants a reset, the device model keeps serving), and a save and
 * restore in the middle of a queue's life.
 *
 * The same program runs against Debian's qemu-xen (suite qtest-qemu-xen), which has the
 * same transitional device; only xendm's own diagnostics and save/restore are xendm-only.
 */
#include "qtest-pci.h"

#include <inttypes.h>
#include <string.h>

#define CMD(...) g_free(qtest_cmd_ok(__VA_ARGS__))

#define SLOT 5
#define DEVFN QPCI_DEVFN(SLOT, 0)

#define REG_VENDOR 0x00
#define REG_COMMAND 0x04
#define REG_REVISION 0x08
#define REG_BAR(n) (0x10 + 4 * (n))
#define REG_SUBSYSTEM 0x2c
#define REG_INT_PIN 0x3d
#define CMD_IO 0x1
#define CMD_MEMORY 0x2
#define CMD_MASTER 0x4

#define MEM_WINDOW UINT64_C(0xe0000000)
#define IO_WINDOW 0xc000u

/* §4.1.4 capability types and fields */
#define CAP_ID_VNDR 0x09
#define CAP_ID_MSIX 0x11
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4
#define CAP_PCI_CFG 5

/* §4.1.4.3 common configuration */
#define CC_DFSELECT 0x00
#define CC_DF 0x04
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_MSIX_CONFIG 0x10
#define CC_NUM_QUEUES 0x12
#define CC_STATUS 0x14
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE 0x18
#define CC_Q_MSIX 0x1a
#define CC_Q_ENABLE 0x1c
#define CC_Q_NOTIFY_OFF 0x1e
#define CC_Q_DESC 0x20
#define CC_Q_DRIVER 0x28
#define CC_Q_DEVICE 0x30

/* §4.1.4.10 legacy registers */
#define LR_HOST_FEATURES 0x00
#define LR_GUEST_FEATURES 0x04
#define LR_QUEUE_PFN 0x08
#define LR_QUEUE_SIZE 0x0c
#define LR_QUEUE_SELECT 0x0e
#define LR_QUEUE_NOTIFY 0x10
#define LR_STATUS 0x12
#define LR_ISR 0x13

#define ST_ACK 0x01
#define ST_DRIVER 0x02
#define ST_DRIVER_OK 0x04
#define ST_FEATURES_OK 0x08
#define ST_NEEDS_RESET 0x40

#define F_VERSION_1_HI 0x1 /* bit 32: bit 0 of the high half */
#define F_EVENT_IDX (1u << 29)
#define DESC_F_NEXT 1
#define DESC_F_WRITE 2

#define MSIX_CTRL 2
#define MSIX_TABLE 4
#define MSIX_CTRL_ENABLE 0x8000
#define MSI_ADDR UINT64_C(0xfee00000)

/* Guest memory the driver uses (xensim gives 64 MiB). */
#define RING_GPA UINT64_C(0x100000)
#define DESC_GPA RING_GPA
#define AVAIL_GPA (RING_GPA + 0x1000)
#define USED_GPA (RING_GPA + 0x2000)
#define BUF_GPA UINT64_C(0x200000)
#define BUF_LEN 64u

struct vcap {
    int off; /* in configuration space, or -1 */
    uint8_t bar;
    uint32_t offset, length;
};

struct vdev {
    struct qtest *qt;
    uint64_t bar_addr[6];
    bool bar_io[6];
    struct vcap common, notify, isr, device, pci_cfg;
    uint32_t notify_multiplier;
    uint16_t qsize;
    uint16_t avail_idx;
    bool legacy;
    bool msix; /* MSI-X enabled by the test */
};

/* ---- finding and programming the function ---- */

static void find_caps(struct vdev *d)
{
    struct vcap *slots[6] = {NULL, &d->common, &d->notify, &d->isr, &d->device, &d->pci_cfg};
    unsigned ptr = qpci_read(d->qt, DEVFN, 0x34, 1) & 0xfc;

    d->common.off = d->notify.off = d->isr.off = d->device.off = d->pci_cfg.off = -1;
    for (unsigned n = 0; ptr && n < 48; n++) {
        uint8_t id = (uint8_t)qpci_read(d->qt, DEVFN, ptr, 1);
        uint8_t type = (uint8_t)qpci_read(d->qt, DEVFN, ptr + 3, 1);

        if (id == CAP_ID_VNDR && type >= CAP_COMMON && type <= CAP_PCI_CFG &&
            slots[type]->off < 0) {
            slots[type]->off = (int)ptr;
            slots[type]->bar = (uint8_t)qpci_read(d->qt, DEVFN, ptr + 4, 1);
            slots[type]->offset = qpci_read(d->qt, DEVFN, ptr + 8, 4);
            slots[type]->length = qpci_read(d->qt, DEVFN, ptr + 12, 4);
            if (type == CAP_NOTIFY) {
                d->notify_multiplier = qpci_read(d->qt, DEVFN, ptr + 16, 4);
            }
        }
        ptr = qpci_read(d->qt, DEVFN, ptr + 1, 1) & 0xfc;
    }
}

/* Sizes every BAR and places it, as firmware does. */
static void assign_bars(struct vdev *d)
{
    uint64_t mem = MEM_WINDOW;
    uint32_t io = IO_WINDOW;

    for (unsigned bar = 0; bar < 6; bar++) {
        uint32_t mask, size;
        bool is64;

        qpci_write(d->qt, DEVFN, REG_BAR(bar), 0xffffffff, 4);
        mask = qpci_read(d->qt, DEVFN, REG_BAR(bar), 4);
        if (mask == 0) {
            continue;
        }
        if (mask & 1) {
            size = ~(mask & ~3u) + 1;
            size &= 0xffff;
            d->bar_io[bar] = true;
            d->bar_addr[bar] = io;
            qpci_write(d->qt, DEVFN, REG_BAR(bar), io, 4);
            io += size < 0x100 ? 0x100 : size;
            continue;
        }
        size = ~(mask & ~0xfu) + 1;
        is64 = (mask & 6) == 4;
        mem = (mem + size - 1) & ~(uint64_t)(size - 1);
        d->bar_addr[bar] = mem;
        qpci_write(d->qt, DEVFN, REG_BAR(bar), (uint32_t)mem, 4);
        if (is64) {
            qpci_write(d->qt, DEVFN, REG_BAR(bar + 1), 0, 4);
            bar++;
        }
        mem += size;
    }
    qpci_write(d->qt, DEVFN, REG_COMMAND, CMD_IO | CMD_MEMORY | CMD_MASTER, 2);
}

static struct vdev *vdev_open(struct qtest *qt)
{
    struct vdev *d = g_new0(struct vdev, 1);

    d->qt = qt;
    find_caps(d);
    assign_bars(d);
    return d;
}

static struct qtest *start(const char *props)
{
    char *dm = g_strdup_printf("-device virtio-rng-pci,addr=%u%s%s", SLOT, props ? "," : "",
                               props ? props : "");
    struct qtest *qt = qtest_start("--serial null", dm);

    g_free(dm);
    return qt;
}

static uint64_t cap_addr(const struct vdev *d, const struct vcap *c, uint32_t offset)
{
    g_assert_cmpint(c->off, >=, 0);
    return d->bar_addr[c->bar] + c->offset + offset;
}

static uint64_t cc_read(struct vdev *d, uint32_t reg, unsigned size)
{
    return qmem_read(d->qt, cap_addr(d, &d->common, reg), size);
}

static void cc_write(struct vdev *d, uint32_t reg, uint64_t v, unsigned size)
{
    qmem_write(d->qt, cap_addr(d, &d->common, reg), v, size);
}

static uint8_t isr_read(struct vdev *d)
{
    return (uint8_t)qmem_read(d->qt, cap_addr(d, &d->isr, 0), 1);
}

/* ---- the driver side of a split queue (§2.7) ---- */

static void put16(struct qtest *qt, uint64_t gpa, uint16_t v)
{
    qtest_memwrite(qt, gpa, &v, 2);
}

static uint16_t get16(struct qtest *qt, uint64_t gpa)
{
    uint16_t v;

    qtest_memread(qt, gpa, &v, 2);
    return v;
}

static void ring_layout(struct vdev *d, uint64_t *desc, uint64_t *avail, uint64_t *used)
{
    *desc = DESC_GPA;
    if (d->legacy) { /* one block: descriptors, available ring, used ring on the next page */
        *avail = DESC_GPA + 16u * d->qsize;
        *used = (*avail + 6 + 2u * d->qsize + 4095) & ~UINT64_C(4095);
    } else {
        *avail = AVAIL_GPA;
        *used = USED_GPA;
    }
}

static void rings_clear(struct vdev *d)
{
    CMD(d->qt, "memset 0x%" PRIx64 " 0x4000 0", (uint64_t)RING_GPA);
    d->avail_idx = 0;
}

static void set_desc(struct vdev *d, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    uint8_t raw[16];

    memcpy(raw, &addr, 8);
    memcpy(raw + 8, &len, 4);
    memcpy(raw + 12, &flags, 2);
    memcpy(raw + 14, &next, 2);
    qtest_memwrite(d->qt, DESC_GPA + 16u * i, raw, sizeof(raw));
}

static void avail_add(struct vdev *d, uint16_t head)
{
    uint64_t desc, avail, used;

    ring_layout(d, &desc, &avail, &used);
    put16(d->qt, avail + 4 + 2u * (d->avail_idx % d->qsize), head);
    d->avail_idx++;
    put16(d->qt, avail + 2, d->avail_idx);
}

static uint16_t used_idx(struct vdev *d)
{
    uint64_t desc, avail, used;

    ring_layout(d, &desc, &avail, &used);
    return get16(d->qt, used + 2);
}

static void used_elem(struct vdev *d, uint16_t i, uint32_t *id, uint32_t *len)
{
    uint64_t desc, avail, used;
    uint32_t e[2];

    ring_layout(d, &desc, &avail, &used);
    qtest_memread(d->qt, used + 4 + 8u * (i % d->qsize), e, sizeof(e));
    *id = e[0];
    *len = e[1];
}

/* A device may complete asynchronously (qemu-xen's rng backend does): wait for used idx. */
static bool wait_used(struct vdev *d, uint16_t want)
{
    for (unsigned i = 0; i < 2000; i++) {
        if (used_idx(d) == want) {
            return true;
        }
        g_usleep(1000);
    }
    return false;
}

/* The interrupt events of one kind ("msi ", "intx ") within a second. */
static char **wait_events(struct qtest *qt, const char *kind, unsigned want)
{
    GPtrArray *got = g_ptr_array_new();

    for (unsigned i = 0; i < 1000 && got->len < want; i++) {
        char **ev = qirq_events(qt);

        for (char **e = ev; *e; e++) {
            if (g_str_has_prefix(*e, kind)) {
                g_ptr_array_add(got, g_strdup(*e));
            }
        }
        g_strfreev(ev);
        if (got->len < want) {
            g_usleep(1000);
        }
    }
    g_ptr_array_add(got, NULL);
    return (char **)g_ptr_array_free(got, false);
}

/*
 * §3.1.1 through the modern interface: reset, ACK, DRIVER, VERSION_1 and features_lo (bits
 * 0-31), FEATURES_OK, queue 0 with its vectors, DRIVER_OK.
 */
static void modern_init_features(struct vdev *d, uint16_t queue_vector, uint16_t config_vector,
                                 uint32_t features_lo)
{
    uint32_t hi;

    cc_write(d, CC_STATUS, 0, 1);
    g_assert_cmphex(cc_read(d, CC_STATUS, 1), ==, 0);
    cc_write(d, CC_STATUS, ST_ACK, 1);
    cc_write(d, CC_STATUS, ST_ACK | ST_DRIVER, 1);
    cc_write(d, CC_DFSELECT, 1, 4);
    hi = (uint32_t)cc_read(d, CC_DF, 4);
    g_assert_cmphex(hi & F_VERSION_1_HI, ==, F_VERSION_1_HI);
    cc_write(d, CC_GFSELECT, 1, 4);
    cc_write(d, CC_GF, F_VERSION_1_HI, 4);
    cc_write(d, CC_DFSELECT, 0, 4);
    g_assert_cmphex((uint32_t)cc_read(d, CC_DF, 4) & features_lo, ==, features_lo);
    cc_write(d, CC_GFSELECT, 0, 4);
    cc_write(d, CC_GF, features_lo, 4);
    cc_write(d, CC_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK, 1);
    g_assert_cmphex(cc_read(d, CC_STATUS, 1) & ST_FEATURES_OK, ==, ST_FEATURES_OK);

    g_assert_cmpuint(cc_read(d, CC_NUM_QUEUES, 2), ==, 1);
    cc_write(d, CC_Q_SELECT, 0, 2);
    d->qsize = (uint16_t)cc_read(d, CC_Q_SIZE, 2);
    g_assert_cmpuint(d->qsize, >=, 2);
    g_assert_cmpuint(d->qsize & (d->qsize - 1), ==, 0);
    g_assert_cmpuint(d->qsize, <=, 256);
    cc_write(d, CC_MSIX_CONFIG, config_vector, 2);
    cc_write(d, CC_Q_MSIX, queue_vector, 2);
    g_assert_cmphex(cc_read(d, CC_Q_MSIX, 2), ==, queue_vector);
    rings_clear(d);
    cc_write(d, CC_Q_DESC, (uint32_t)DESC_GPA, 4);
    cc_write(d, CC_Q_DESC + 4, 0, 4);
    cc_write(d, CC_Q_DRIVER, (uint32_t)AVAIL_GPA, 4);
    cc_write(d, CC_Q_DRIVER + 4, 0, 4);
    cc_write(d, CC_Q_DEVICE, (uint32_t)USED_GPA, 4);
    cc_write(d, CC_Q_DEVICE + 4, 0, 4);
    g_assert_cmphex(cc_read(d, CC_Q_DESC, 4), ==, DESC_GPA);
    cc_write(d, CC_Q_ENABLE, 1, 2);
    g_assert_cmpuint(cc_read(d, CC_Q_ENABLE, 2), ==, 1);
    cc_write(d, CC_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK, 1);
}

static void modern_init(struct vdev *d, uint16_t queue_vector, uint16_t config_vector)
{
    modern_init_features(d, queue_vector, config_vector, 0);
}

static void modern_kick(struct vdev *d)
{
    uint16_t off = (uint16_t)cc_read(d, CC_Q_NOTIFY_OFF, 2);

    qmem_write(d->qt, cap_addr(d, &d->notify, (uint32_t)off * d->notify_multiplier), 0, 2);
}

/*
 * Enables MSI-X and programs table entry n to send `data` to APIC 0. False when the function
 * has no MSI-X: qemu-xen's virtio-pci functions have none under Xen (QEMU's msix_init refuses
 * without an MSI-capable interrupt controller model), so a test that needs it skips there.
 */
static bool msix_enable(struct vdev *d, unsigned n, uint32_t data)
{
    int cap = qpci_find_cap(d->qt, DEVFN, CAP_ID_MSIX);
    uint32_t table;
    uint64_t entry;

    if (cap < 0 && !qtest_dm_is_xendm()) {
        return false;
    }
    g_assert_cmpint(cap, >=, 0x40);
    table = qpci_read(d->qt, DEVFN, cap + MSIX_TABLE, 4);
    entry = d->bar_addr[table & 7] + (table & ~7u) + 16u * n;
    qtest_writel(d->qt, entry, (uint32_t)MSI_ADDR);
    qtest_writel(d->qt, entry + 4, 0);
    qtest_writel(d->qt, entry + 8, data);
    qtest_writel(d->qt, entry + 12, 0); /* unmasked */
    qpci_write(d->qt, DEVFN, cap + MSIX_CTRL, MSIX_CTRL_ENABLE, 2);
    d->msix = true;
    return true;
}

static bool buffer_has_entropy(struct qtest *qt, uint64_t gpa, size_t len)
{
    uint8_t *buf = g_malloc(len);
    bool nonzero = false;

    qtest_memread(qt, gpa, buf, len);
    for (size_t i = 0; i < len; i++) {
        nonzero |= buf[i] != 0;
    }
    g_free(buf);
    return nonzero;
}

/* ---- tests ---- */

static void test_identity(void)
{
    struct qtest *qt = start(NULL);
    struct vdev *d = vdev_open(qt);

    /* The transitional function (§4.1.2.1): 1af4:1005, revision 0, subsystem ID 4. */
    g_assert_cmphex(qpci_read(qt, DEVFN, REG_VENDOR, 4), ==, 0x10051af4);
    g_assert_cmphex(qpci_read(qt, DEVFN, REG_REVISION, 1), ==, 0);
    g_assert_cmphex(qpci_read(qt, DEVFN, REG_SUBSYSTEM, 4), ==, 0x00041af4);
    g_assert_cmphex(qpci_read(qt, DEVFN, REG_INT_PIN, 1), ==, 1);
    /* Every structure the driver needs has its capability (§4.1.4). */
    g_assert_cmpint(d->common.off, >=, 0x40);
    g_assert_cmpint(d->notify.off, >=, 0x40);
    g_assert_cmpint(d->isr.off, >=, 0x40);
    g_assert_cmpint(d->pci_cfg.off, >=, 0x40);
    g_assert_cmpuint(d->common.length, >=, 0x38);
    g_assert_cmpuint(d->isr.length, >=, 1);
    g_assert_cmpuint(d->notify_multiplier % 2, ==, 0);
    g_assert_true(d->bar_addr[d->common.bar] != 0);
    g_assert_false(d->bar_io[d->common.bar]);
    g_assert_true(d->bar_io[0]); /* the legacy interface */
    if (qtest_dm_is_xendm()) {
        g_assert_cmpint(qpci_find_cap(qt, DEVFN, CAP_ID_MSIX), >=, 0x40);
    }
    g_free(d);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_modern_only(void)
{
    struct qtest *qt = start("disable-legacy=on");
    struct vdev *d = vdev_open(qt);

    /* §4.1.2.1: 0x1040 + 4, revision 1; no I/O BAR. */
    g_assert_cmphex(qpci_read(qt, DEVFN, REG_VENDOR, 4), ==, 0x10441af4);
    g_assert_cmphex(qpci_read(qt, DEVFN, REG_REVISION, 1), >=, 1);
    for (unsigned bar = 0; bar < 6; bar++) {
        g_assert_false(d->bar_io[bar]);
    }
    g_free(d);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* Feature negotiation rules (§2.2, §3.1.1). */
static void test_features(void)
{
    struct qtest *qt = start(NULL);
    struct vdev *d = vdev_open(qt);

    cc_write(d, CC_STATUS, 0, 1);
    cc_write(d, CC_STATUS, ST_ACK | ST_DRIVER, 1);
    cc_write(d, CC_DFSELECT, 1, 4);
    g_assert_cmphex(cc_read(d, CC_DF, 4) & F_VERSION_1_HI, ==, F_VERSION_1_HI);
    /* Without VERSION_1 the device does not take FEATURES_OK through this interface. */
    if (qtest_dm_is_xendm()) {
        cc_write(d, CC_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK, 1);
        g_assert_cmphex(cc_read(d, CC_STATUS, 1) & ST_FEATURES_OK, ==, 0);
        cc_write(d, CC_STATUS, 0, 1);
        cc_write(d, CC_STATUS, ST_ACK | ST_DRIVER, 1);
    }
    cc_write(d, CC_GFSELECT, 1, 4);
    cc_write(d, CC_GF, F_VERSION_1_HI, 4);
    g_assert_cmphex(cc_read(d, CC_GF, 4), ==, F_VERSION_1_HI);
    cc_write(d, CC_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK, 1);
    g_assert_cmphex(cc_read(d, CC_STATUS, 1), ==, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    /* A queue that does not exist has size 0 (§4.1.4.3.1). */
    cc_write(d, CC_Q_SELECT, 7, 2);
    g_assert_cmpuint(cc_read(d, CC_Q_SIZE, 2), ==, 0);
    g_free(d);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void post_and_kick(struct vdev *d, uint16_t head, uint64_t buf)
{
    CMD(d->qt, "memset 0x%" PRIx64 " %u 0", buf, BUF_LEN);
    set_desc(d, head, buf, BUF_LEN, DESC_F_WRITE, 0);
    avail_add(d, head);
    if (d->legacy) {
        qtest_outw(d->qt, (uint16_t)(d->bar_addr[0] + LR_QUEUE_NOTIFY), 0);
    } else {
        modern_kick(d);
    }
}

static void expect_used(struct vdev *d, uint16_t idx, uint16_t head, uint64_t buf)
{
    uint32_t id, len;

    g_assert_true(wait_used(d, idx));
    used_elem(d, (uint16_t)(idx - 1), &id, &len);
    g_assert_cmpuint(id, ==, head);
    g_assert_cmpuint(len, >, 0);
    g_assert_cmpuint(len, <=, BUF_LEN);
    g_assert_true(buffer_has_entropy(d->qt, buf, len));
}

static void test_msix(void)
{
    struct qtest *qt = start(NULL);
    struct vdev *d = vdev_open(qt);
    char **ev;

    if (!msix_enable(d, 1, 0x41)) {
        g_test_skip("this device model's virtio-rng-pci has no MSI-X");
        g_free(d);
        qtest_quit(qt);
        return;
    }
    msix_enable(d, 0, 0x40);
    g_strfreev(qirq_events(qt));
    modern_init(d, 1, 0);
    post_and_kick(d, 0, BUF_GPA);
    expect_used(d, 1, 0, BUF_GPA);
    ev = wait_events(qt, "msi ", 1);
    g_assert_cmpuint(g_strv_length(ev), ==, 1);
    g_assert_cmpstr(ev[0], ==, "msi 0xfee00000 0x41");
    g_strfreev(ev);
    /* A second buffer, another head, another message. */
    post_and_kick(d, 3, BUF_GPA + 0x1000);
    expect_used(d, 2, 3, BUF_GPA + 0x1000);
    ev = wait_events(qt, "msi ", 1);
    g_assert_cmpuint(g_strv_length(ev), ==, 1);
    g_strfreev(ev);
    /* With MSI-X, no INTx. */
    ev = wait_events(qt, "intx ", 0);
    g_assert_cmpuint(g_strv_length(ev), ==, 0);
    g_strfreev(ev);
    g_free(d);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_intx(void)
{
    struct qtest *qt = start(NULL);
    struct vdev *d = vdev_open(qt);
    unsigned gsi = qirq_intx_gsi(SLOT, 0);
    char *up = g_strdup_printf("intx %u 0 1 %u", SLOT, gsi);
    char *down = g_strdup_printf("intx %u 0 0 %u", SLOT, gsi);
    char **ev;

    g_strfreev(qirq_events(qt));
    modern_init(d, 0xffff, 0xffff);
    post_and_kick(d, 0, BUF_GPA);
    expect_used(d, 1, 0, BUF_GPA);
    ev = wait_events(qt, "intx ", 1);
    g_assert_cmpuint(g_strv_length(ev), ==, 1);
    g_assert_cmpstr(ev[0], ==, up);
    g_strfreev(ev);
    /* §4.1.4.5: reading the ISR returns the queue bit, clears it and lowers the line. */
    g_assert_cmphex(isr_read(d), ==, 1);
    ev = wait_events(qt, "intx ", 1);
    g_assert_cmpuint(g_strv_length(ev), ==, 1);
    g_assert_cmpstr(ev[0], ==, down);
    g_strfreev(ev);
    g_assert_cmphex(isr_read(d), ==, 0);
    g_free(up);
    g_free(down);
    g_free(d);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* vectors=0: no MSI-X capability; vectors read back as NO_VECTOR; INTx serves. */
static void test_no_msix(void)
{
    struct qtest *qt = start("vectors=0");
    struct vdev *d = vdev_open(qt);
    char **ev;

    g_assert_cmpint(qpci_find_cap(qt, DEVFN, CAP_ID_MSIX), <, 0);
    modern_init(d, 0xffff, 0xffff);
    cc_write(d, CC_Q_MSIX, 0, 2);
    g_assert_cmphex(cc_read(d, CC_Q_MSIX, 2), ==, 0xffff);
    cc_write(d, CC_MSIX_CONFIG, 0, 2);
    g_assert_cmphex(cc_read(d, CC_MSIX_CONFIG, 2), ==, 0xffff);
    g_strfreev(qirq_events(qt));
    post_and_kick(d, 0, BUF_GPA);
    expect_used(d, 1, 0, BUF_GPA);
    ev = wait_events(qt, "intx ", 1);
    g_assert_cmpuint(g_strv_length(ev), ==, 1);
    g_strfreev(ev);
    g_assert_cmphex(isr_read(d), ==, 1);
    g_free(d);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* Whether the function raised INTx within a short wait; acknowledges the ISR if it did. */
static unsigned intx_raised(struct vdev *d)
{
    char *up = g_strdup_printf("intx %u 0 1 %u", SLOT, qirq_intx_gsi(SLOT, 0));
    char **ev = wait_events(d->qt, "intx ", 1);
    unsigned n = 0;

    for (char **e = ev; *e; e++) {
        n += strcmp(*e, up) == 0;
    }
    g_strfreev(ev);
    g_free(up);
    if (n) {
        g_assert_cmphex(isr_read(d), ==, 1);
        g_strfreev(qirq_events(d->qt)); /* the deassertion */
    }
    return n;
}

/* §2.7.7.2: with EVENT_IDX the device interrupts only once used idx passes used_event. */
static void test_event_idx(void)
{
    struct qtest *qt = start(NULL);
    struct vdev *d = vdev_open(qt);

    modern_init_features(d, 0xffff, 0xffff, F_EVENT_IDX);
    g_strfreev(qirq_events(qt));
    put16(qt, AVAIL_GPA + 4 + 2u * d->qsize, 0); /* used_event 0: interrupt at idx 1 */
    post_and_kick(d, 0, BUF_GPA);
    expect_used(d, 1, 0, BUF_GPA);
    g_assert_cmpuint(intx_raised(d), ==, 1);
    /* The device asks to be kicked at the next available entry (§2.7.10). */
    g_assert_cmpuint(get16(qt, USED_GPA + 4 + 8u * d->qsize), ==, 1);
    put16(qt, AVAIL_GPA + 4 + 2u * d->qsize, 2); /* no interrupt until idx passes 2 */
    post_and_kick(d, 1, BUF_GPA);
    expect_used(d, 2, 1, BUF_GPA);
    g_usleep(50000);
    g_assert_cmpuint(intx_raised(d), ==, 0);
    post_and_kick(d, 2, BUF_GPA);
    expect_used(d, 3, 2, BUF_GPA);
    g_assert_cmpuint(intx_raised(d), ==, 1);
    g_free(d);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* §4.1.4.3.1: status 0 resets the device: the queue is forgotten, the rings left alone. */
static void test_reset(void)
{
    struct qtest *qt = start(NULL);
    struct vdev *d = vdev_open(qt);

    modern_init(d, 0xffff, 0xffff);
    post_and_kick(d, 0, BUF_GPA);
    expect_used(d, 1, 0, BUF_GPA);
    cc_write(d, CC_STATUS, 0, 1);
    g_assert_cmphex(cc_read(d, CC_STATUS, 1), ==, 0);
    cc_write(d, CC_Q_SELECT, 0, 2);
    g_assert_cmpuint(cc_read(d, CC_Q_ENABLE, 2), ==, 0);
    g_assert_cmpuint(cc_read(d, CC_Q_DESC, 4), ==, 0);
    g_assert_cmphex(cc_read(d, CC_Q_MSIX, 2), ==, 0xffff);
    g_assert_cmphex(isr_read(d), ==, 0);
    /* A kick after the reset is not served: used idx stays. */
    set_desc(d, 1, BUF_GPA, BUF_LEN, DESC_F_WRITE, 0);
    avail_add(d, 1);
    modern_kick(d);
    g_usleep(50000);
    g_assert_cmpuint(used_idx(d), ==, 1);
    /* The driver starts over and is served. */
    modern_init(d, 0xffff, 0xffff);
    post_and_kick(d, 2, BUF_GPA);
    expect_used(d, 1, 2, BUF_GPA);
    g_free(d);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* The transitional device's legacy interface (§4.1.4.10): I/O BAR 0, page-frame rings. */
static void test_legacy(void)
{
    struct qtest *qt = start(NULL);
    struct vdev *d = vdev_open(qt);
    uint16_t io = (uint16_t)d->bar_addr[0];
    unsigned gsi = qirq_intx_gsi(SLOT, 0);
    char *up = g_strdup_printf("intx %u 0 1 %u", SLOT, gsi);
    char **ev;

    g_assert_true(d->bar_io[0]);
    d->legacy = true;
    qtest_outb(qt, io + LR_STATUS, 0);
    qtest_outb(qt, io + LR_STATUS, ST_ACK | ST_DRIVER);
    /* Only feature bits 0-31 exist here: no VERSION_1. */
    (void)qtest_inl(qt, io + LR_HOST_FEATURES);
    qtest_outl(qt, io + LR_GUEST_FEATURES, 0);
    qtest_outw(qt, io + LR_QUEUE_SELECT, 0);
    d->qsize = qtest_inw(qt, io + LR_QUEUE_SIZE);
    g_assert_cmpuint(d->qsize, >=, 2);
    g_assert_cmpuint(d->qsize & (d->qsize - 1), ==, 0);
    rings_clear(d);
    qtest_outl(qt, io + LR_QUEUE_PFN, (uint32_t)(RING_GPA >> 12));
    g_assert_cmphex(qtest_inl(qt, io + LR_QUEUE_PFN), ==, RING_GPA >> 12);
    qtest_outb(qt, io + LR_STATUS, ST_ACK | ST_DRIVER | ST_DRIVER_OK);
    g_assert_cmphex(qtest_inb(qt, io + LR_STATUS), ==, ST_ACK | ST_DRIVER | ST_DRIVER_OK);
    g_strfreev(qirq_events(qt));
    post_and_kick(d, 0, BUF_GPA);
    expect_used(d, 1, 0, BUF_GPA);
    ev = wait_events(qt, "intx ", 1);
    g_assert_cmpuint(g_strv_length(ev), ==, 1);
    g_assert_cmpstr(ev[0], ==, up);
    g_strfreev(ev);
    g_assert_cmphex(qtest_inb(qt, io + LR_ISR), ==, 1);
    g_assert_cmphex(qtest_inb(qt, io + LR_ISR), ==, 0);
    /* Reset through the legacy status register. */
    qtest_outb(qt, io + LR_STATUS, 0);
    g_assert_cmphex(qtest_inl(qt, io + LR_QUEUE_PFN), ==, 0);
    g_free(up);
    g_free(d);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* The legacy interface with MSI-X on: the vector registers at 0x14/0x16 move the device
 * configuration to 0x18 (§4.1.4.10). */
static void test_legacy_msix(void)
{
    struct qtest *qt = start(NULL);
    struct vdev *d = vdev_open(qt);
    uint16_t io = (uint16_t)d->bar_addr[0];
    char **ev;

    if (!msix_enable(d, 1, 0x51)) {
        g_test_skip("this device model's virtio-rng-pci has no MSI-X");
        g_free(d);
        qtest_quit(qt);
        return;
    }
    d->legacy = true;
    qtest_outb(qt, io + LR_STATUS, 0);
    qtest_outb(qt, io + LR_STATUS, ST_ACK | ST_DRIVER);
    qtest_outl(qt, io + LR_GUEST_FEATURES, 0);
    qtest_outw(qt, io + 0x14, 0xffff);
    qtest_outw(qt, io + LR_QUEUE_SELECT, 0);
    qtest_outw(qt, io + 0x16, 1);
    g_assert_cmphex(qtest_inw(qt, io + 0x16), ==, 1);
    d->qsize = qtest_inw(qt, io + LR_QUEUE_SIZE);
    rings_clear(d);
    qtest_outl(qt, io + LR_QUEUE_PFN, (uint32_t)(RING_GPA >> 12));
    qtest_outb(qt, io + LR_STATUS, ST_ACK | ST_DRIVER | ST_DRIVER_OK);
    g_strfreev(qirq_events(qt));
    post_and_kick(d, 0, BUF_GPA);
    expect_used(d, 1, 0, BUF_GPA);
    ev = wait_events(qt, "msi ", 1);
    g_assert_cmpuint(g_strv_length(ev), ==, 1);
    g_assert_cmpstr(ev[0], ==, "msi 0xfee00000 0x51");
    g_strfreev(ev);
    g_free(d);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* §4.1.4.9: the common configuration reached through configuration cycles only. */
static void test_pci_cfg_access(void)
{
    struct qtest *qt = start(NULL);
    struct vdev *d = vdev_open(qt);
    unsigned cap;

    g_assert_cmpint(d->pci_cfg.off, >=, 0x40);
    cap = (unsigned)d->pci_cfg.off;
    /* num_queues: 2 bytes at common + 0x12 */
    qpci_write(qt, DEVFN, cap + 4, d->common.bar, 1);
    qpci_write(qt, DEVFN, cap + 8, d->common.offset + CC_NUM_QUEUES, 4);
    qpci_write(qt, DEVFN, cap + 12, 2, 4);
    g_assert_cmphex(qpci_read(qt, DEVFN, cap + 16, 4) & 0xffff, ==, 1);
    /* device_status: write ACK through the window, read it back through the BAR. */
    qpci_write(qt, DEVFN, cap + 8, d->common.offset + CC_STATUS, 4);
    qpci_write(qt, DEVFN, cap + 12, 1, 4);
    qpci_write(qt, DEVFN, cap + 16, ST_ACK, 4);
    g_assert_cmphex(cc_read(d, CC_STATUS, 1), ==, ST_ACK);
    g_assert_cmphex(qpci_read(qt, DEVFN, cap + 16, 4) & 0xff, ==, ST_ACK);
    /* Windows a driver must not set up (§4.1.4.9.1) change nothing: length 3, an offset past
     * the BAR, a BAR without structures. */
    qpci_write(qt, DEVFN, cap + 12, 3, 4);
    qpci_write(qt, DEVFN, cap + 16, 0, 4);
    qpci_write(qt, DEVFN, cap + 8, 0xfffffffc, 4);
    qpci_write(qt, DEVFN, cap + 12, 4, 4);
    qpci_write(qt, DEVFN, cap + 16, 0, 4);
    (void)qpci_read(qt, DEVFN, cap + 16, 4);
    g_assert_cmphex(cc_read(d, CC_STATUS, 1), ==, ST_ACK);
    /* qemu-xen ignores cap.bar and writes its modern BAR whatever the driver chose. */
    if (qtest_dm_is_xendm()) {
        qpci_write(qt, DEVFN, cap + 4, 2, 1);
        qpci_write(qt, DEVFN, cap + 8, d->common.offset + CC_STATUS, 4);
        qpci_write(qt, DEVFN, cap + 12, 1, 4);
        qpci_write(qt, DEVFN, cap + 16, 0, 4);
        g_assert_cmphex(cc_read(d, CC_STATUS, 1), ==, ST_ACK);
    }
    g_free(d);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* ---- hostile drivers ---- */

static void assert_alive(struct vdev *d)
{
    char *status = qtest_dm_status(d->qt);

    g_assert_cmpstr(status, ==, "running");
    g_free(status);
    g_assert_cmphex(qpci_read(d->qt, DEVFN, REG_VENDOR, 2), ==, 0x1af4);
    g_assert_cmpuint(cc_read(d, CC_NUM_QUEUES, 2), ==, 1);
}

static void expect_needs_reset(struct vdev *d)
{
    char **ev;

    /* qemu-xen looks at the ring from its entropy backend's callback, a little later. */
    for (unsigned i = 0; i < 1000 && !(cc_read(d, CC_STATUS, 1) & ST_NEEDS_RESET); i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(cc_read(d, CC_STATUS, 1) & ST_NEEDS_RESET, ==, ST_NEEDS_RESET);
    /* §2.1.2: a configuration change notification, on the configuration vector (0x40), or
     * the ISR's configuration bit without MSI-X. */
    if (!d->msix) {
        g_assert_cmphex(isr_read(d) & 2, ==, 2);
        return;
    }
    ev = wait_events(d->qt, "msi ", 1);
    g_assert_cmpuint(g_strv_length(ev), ==, 1);
    g_assert_cmpstr(ev[0], ==, "msi 0xfee00000 0x40");
    g_strfreev(ev);
}

static void test_hostile_rings(void)
{
    struct qtest *qt = start(NULL);
    struct vdev *d = vdev_open(qt);

    uint16_t qvec = 0xffff, cvec = 0xffff;

    if (msix_enable(d, 1, 0x41)) {
        msix_enable(d, 0, 0x40);
        qvec = 1;
        cvec = 0;
    }

    /* A descriptor loop. */
    modern_init(d, qvec, cvec);
    g_strfreev(qirq_events(qt));
    set_desc(d, 0, BUF_GPA, 8, DESC_F_WRITE | DESC_F_NEXT, 1);
    set_desc(d, 1, BUF_GPA, 8, DESC_F_WRITE | DESC_F_NEXT, 0);
    avail_add(d, 0);
    modern_kick(d);
    expect_needs_reset(d);
    assert_alive(d);

    /* A buffer outside guest RAM. */
    modern_init(d, qvec, cvec);
    g_strfreev(qirq_events(qt));
    set_desc(d, 0, UINT64_C(0x4000000000), BUF_LEN, DESC_F_WRITE, 0);
    avail_add(d, 0);
    modern_kick(d);
    if (qtest_dm_is_xendm()) {
        expect_needs_reset(d);
    } else {
        g_usleep(100000); /* qemu-xen's mapcache maps it somehow: it only has to survive */
    }
    assert_alive(d);

    /* The next index out of range. */
    modern_init(d, qvec, cvec);
    g_strfreev(qirq_events(qt));
    set_desc(d, 0, BUF_GPA, 8, DESC_F_WRITE | DESC_F_NEXT, 0x7fff);
    avail_add(d, 0);
    modern_kick(d);
    expect_needs_reset(d);
    assert_alive(d);

    /* Available index far ahead, head out of range: xendm's checks. */
    if (qtest_dm_is_xendm()) {
        modern_init(d, qvec, cvec);
        g_strfreev(qirq_events(qt));
        put16(qt, AVAIL_GPA + 2, 0x8000);
        modern_kick(d);
        expect_needs_reset(d);
        modern_init(d, qvec, cvec);
        g_strfreev(qirq_events(qt));
        avail_add(d, 0x1234);
        modern_kick(d);
        expect_needs_reset(d);
        /* Rings outside RAM at enable: the device breaks at once. */
        cc_write(d, CC_STATUS, 0, 1);
        cc_write(d, CC_Q_DESC + 4, 0x40, 4);
        cc_write(d, CC_Q_ENABLE, 1, 2);
        g_assert_cmphex(cc_read(d, CC_STATUS, 1) & ST_NEEDS_RESET, ==, ST_NEEDS_RESET);
        /* Kicks for queues that do not exist, writes of every width everywhere. */
        for (unsigned q = 0; q < 64; q++) {
            qmem_write(qt, cap_addr(d, &d->notify, q * d->notify_multiplier), q, 2);
        }
        for (uint32_t off = 0; off < 0x40; off++) {
            qmem_write(qt, cap_addr(d, &d->common, off), 0xffffffff, 1);
            qmem_write(qt, cap_addr(d, &d->common, off & ~1u), 0xffff, 2);
        }
        assert_alive(d);
    }

    /* After all that, a reset and a well-formed queue are served. */
    modern_init(d, qvec, cvec);
    post_and_kick(d, 0, BUF_GPA);
    expect_used(d, 1, 0, BUF_GPA);
    g_free(d);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* Saved state: a queue in use survives a save and restore (libxl's sequence). */
static void test_save_restore(void)
{
    g_autofree char *file = NULL;
    struct qtest *qt;
    struct vdev *d;
    char **ev;

    if (!qtest_dm_is_xendm()) {
        g_test_skip("qemu-xen's saved state is tested elsewhere");
        return;
    }
    file = qtest_tmp_path("virtio-rng-state");
    qt = start(NULL);
    d = vdev_open(qt);
    msix_enable(d, 1, 0x41);
    modern_init(d, 1, 0xffff);
    post_and_kick(d, 0, BUF_GPA);
    expect_used(d, 1, 0, BUF_GPA);
    g_strfreev(qirq_events(qt));
    CMD(qt, "dm_save %s", file);
    CMD(qt, "dm_restore %s", file);
    g_strfreev(qirq_events(qt));
    /* The restored device resumes the ring where it was, with its MSI-X vector. */
    g_assert_cmphex(cc_read(d, CC_STATUS, 1), ==,
                    ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    post_and_kick(d, 1, BUF_GPA + 0x1000);
    expect_used(d, 2, 1, BUF_GPA + 0x1000);
    ev = wait_events(qt, "msi ", 1);
    g_assert_cmpuint(g_strv_length(ev), ==, 1);
    g_assert_cmpstr(ev[0], ==, "msi 0xfee00000 0x41");
    g_strfreev(ev);
    g_free(d);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-rng/identity", test_identity);
    g_test_add_func("/virtio-rng/modern-only", test_modern_only);
    g_test_add_func("/virtio-rng/features", test_features);
    g_test_add_func("/virtio-rng/msix", test_msix);
    g_test_add_func("/virtio-rng/intx", test_intx);
    g_test_add_func("/virtio-rng/no-msix", test_no_msix);
    g_test_add_func("/virtio-rng/event-idx", test_event_idx);
    g_test_add_func("/virtio-rng/reset", test_reset);
    g_test_add_func("/virtio-rng/legacy", test_legacy);
    g_test_add_func("/virtio-rng/legacy-msix", test_legacy_msix);
    g_test_add_func("/virtio-rng/pci-cfg-access", test_pci_cfg_access);
    g_test_add_func("/virtio-rng/hostile-rings", test_hostile_rings);
    g_test_add_func("/virtio-rng/save-restore", test_save_restore);
    return g_test_run();
}
