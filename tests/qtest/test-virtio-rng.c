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
#include "qtest-virtio.h"

#include <inttypes.h>
#include <string.h>

#define CMD(...) g_free(qtest_cmd_ok(__VA_ARGS__))

#define SLOT 5
#define DEVFN QPCI_DEVFN(SLOT, 0)

#define REG_VENDOR 0x00
#define REG_REVISION 0x08
#define REG_SUBSYSTEM 0x2c
#define REG_INT_PIN 0x3d

#define MEM_WINDOW UINT64_C(0xe0000000)
#define IO_WINDOW 0xc000u
#define CAP_ID_MSIX 0x11

/* VERSION_1 (bit 32) as bit 0 of the high half of the feature words */
#define F_VERSION_1_HI ((uint32_t)(QVIRTIO_BIT(QVIRTIO_F_VERSION_1) >> 32))
#define ST_RUNNING (QVIRTIO_ST_ACK | QVIRTIO_ST_DRIVER | QVIRTIO_ST_FEATURES_OK | \
                    QVIRTIO_ST_DRIVER_OK)

/* Guest memory the driver uses (xensim gives 64 MiB). */
#define RING_GPA UINT64_C(0x100000)
#define BUF_GPA UINT64_C(0x200000)
#define BUF_LEN 64u

/* The function and its one queue, as the test's driver sees them. */
struct rng_test {
    struct qtest *qt;
    struct qvirtio *d;
    struct qvirtqueue vq;
};

static struct rng_test *start(const char *props)
{
    g_autofree char *dm = g_strdup_printf("-device virtio-rng-pci,addr=%u%s%s", SLOT,
                                          props ? "," : "", props ? props : "");
    struct rng_test *t = g_new0(struct rng_test, 1);

    t->qt = qtest_start("--serial null", dm);
    t->d = qvirtio_open(t->qt, DEVFN, MEM_WINDOW, IO_WINDOW);
    return t;
}

static void finish(struct rng_test *t)
{
    qvirtio_close(t->d);
    g_assert_cmpint(qtest_quit(t->qt), ==, 0);
    g_free(t);
}

/* For a test that cannot run here: stops the device model without judging its exit. */
static void skip(struct rng_test *t, const char *why)
{
    g_test_skip(why);
    qvirtio_close(t->d);
    qtest_quit(t->qt);
    g_free(t);
}

/*
 * §3.1.1 through the modern interface: reset, ACK, DRIVER, VERSION_1 and `features`,
 * FEATURES_OK, queue 0 with its vectors (read back), DRIVER_OK.
 */
static void modern_init_features(struct rng_test *t, uint16_t queue_vector,
                                 uint16_t config_vector, uint64_t features)
{
    struct qvirtio *d = t->d;

    g_assert_true(qvirtio_negotiate(d, features, config_vector));
    g_assert_cmpuint(qvirtio_cc_read(d, QVIRTIO_CC_NUM_QUEUES, 2), ==, 1);
    qvirtqueue_setup(d, &t->vq, 0, RING_GPA, 0, queue_vector);
    g_assert_cmpuint(t->vq.size, <=, 256);
    g_assert_cmphex(qvirtio_cc_read(d, QVIRTIO_CC_Q_MSIX, 2), ==, queue_vector);
    g_assert_cmphex(qvirtio_cc_read(d, QVIRTIO_CC_Q_DESC, 4), ==, RING_GPA);
    g_assert_cmpuint(qvirtio_cc_read(d, QVIRTIO_CC_Q_ENABLE, 2), ==, 1);
    qvirtio_driver_ok(d);
}

static void modern_init(struct rng_test *t, uint16_t queue_vector, uint16_t config_vector)
{
    modern_init_features(t, queue_vector, config_vector, 0);
}

/*
 * Enables MSI-X and programs table entry n to send `data` to APIC 0. False when the function
 * has no MSI-X: qemu-xen's virtio-pci functions have none under Xen (QEMU's msix_init refuses
 * without an MSI-capable interrupt controller model), so a test that needs it skips there.
 */
static bool msix_enable(struct rng_test *t, unsigned n, uint32_t data)
{
    if (qvirtio_msix_enable(t->d, n, data)) {
        return true;
    }
    g_assert_false(qtest_dm_is_xendm());
    return false;
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

/* One writable buffer of BUF_LEN at `buf` as descriptor `head`, made available, kicked. */
static void post_and_kick(struct rng_test *t, uint16_t head, uint64_t buf)
{
    CMD(t->qt, "memset 0x%" PRIx64 " %u 0", buf, BUF_LEN);
    qvirtqueue_set_desc(&t->vq, head, buf, BUF_LEN, QVIRTQ_DESC_F_WRITE, 0);
    qvirtqueue_add_avail(&t->vq, &head, 1);
    qvirtqueue_kick(&t->vq);
}

/* A device may complete asynchronously (qemu-xen's rng backend does): wait for used idx. */
static void expect_used(struct rng_test *t, uint16_t idx, uint16_t head, uint64_t buf)
{
    uint32_t id, len;

    g_assert_true(qvirtqueue_wait_used(&t->vq, idx, 2000));
    qvirtqueue_used_elem(&t->vq, (uint16_t)(idx - 1), &id, &len);
    g_assert_cmpuint(id, ==, head);
    g_assert_cmpuint(len, >, 0);
    g_assert_cmpuint(len, <=, BUF_LEN);
    g_assert_true(buffer_has_entropy(t->qt, buf, len));
}

/* Exactly one INTx event within a second, and it is the function's line going to `level`. */
static void expect_intx(struct rng_test *t, unsigned level)
{
    g_autofree char *want = qvirtio_intx_event(t->d, level);
    char **ev = qvirtio_wait_events(t->qt, "intx ", 1, 1000);

    g_assert_cmpuint(g_strv_length(ev), ==, 1);
    g_assert_cmpstr(ev[0], ==, want);
    g_strfreev(ev);
}

/* The one MSI-X message within a second carries `data`. */
static void expect_one_msi(struct rng_test *t, uint32_t data)
{
    g_assert_cmpuint(qvirtio_expect_msi(t->qt, data, 1000), ==, 1);
}

/* ---- tests ---- */

static void test_identity(void)
{
    struct rng_test *t = start(NULL);
    struct qtest *qt = t->qt;
    struct qvirtio *d = t->d;

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
    finish(t);
}

static void test_modern_only(void)
{
    struct rng_test *t = start("disable-legacy=on");

    /* §4.1.2.1: 0x1040 + 4, revision 1; no I/O BAR. */
    g_assert_cmphex(qpci_read(t->qt, DEVFN, REG_VENDOR, 4), ==, 0x10441af4);
    g_assert_cmphex(qpci_read(t->qt, DEVFN, REG_REVISION, 1), >=, 1);
    for (unsigned bar = 0; bar < 6; bar++) {
        g_assert_false(t->d->bar_io[bar]);
    }
    finish(t);
}

/* Feature negotiation rules (§2.2, §3.1.1). */
static void test_features(void)
{
    struct rng_test *t = start(NULL);
    struct qvirtio *d = t->d;
    const uint8_t st = QVIRTIO_ST_ACK | QVIRTIO_ST_DRIVER;

    qvirtio_cc_write(d, QVIRTIO_CC_STATUS, 0, 1);
    qvirtio_cc_write(d, QVIRTIO_CC_STATUS, st, 1);
    qvirtio_cc_write(d, QVIRTIO_CC_DFSELECT, 1, 4);
    g_assert_cmphex(qvirtio_cc_read(d, QVIRTIO_CC_DF, 4) & F_VERSION_1_HI, ==, F_VERSION_1_HI);
    /* Without VERSION_1 the device does not take FEATURES_OK through this interface. */
    if (qtest_dm_is_xendm()) {
        qvirtio_cc_write(d, QVIRTIO_CC_STATUS, st | QVIRTIO_ST_FEATURES_OK, 1);
        g_assert_cmphex(qvirtio_status(d) & QVIRTIO_ST_FEATURES_OK, ==, 0);
        qvirtio_cc_write(d, QVIRTIO_CC_STATUS, 0, 1);
        qvirtio_cc_write(d, QVIRTIO_CC_STATUS, st, 1);
    }
    qvirtio_cc_write(d, QVIRTIO_CC_GFSELECT, 1, 4);
    qvirtio_cc_write(d, QVIRTIO_CC_GF, F_VERSION_1_HI, 4);
    g_assert_cmphex(qvirtio_cc_read(d, QVIRTIO_CC_GF, 4), ==, F_VERSION_1_HI);
    qvirtio_cc_write(d, QVIRTIO_CC_STATUS, st | QVIRTIO_ST_FEATURES_OK, 1);
    g_assert_cmphex(qvirtio_status(d), ==, st | QVIRTIO_ST_FEATURES_OK);
    /* A queue that does not exist has size 0 (§4.1.4.3.1). */
    qvirtio_cc_write(d, QVIRTIO_CC_Q_SELECT, 7, 2);
    g_assert_cmpuint(qvirtio_cc_read(d, QVIRTIO_CC_Q_SIZE, 2), ==, 0);
    finish(t);
}

static void test_msix(void)
{
    struct rng_test *t = start(NULL);
    char **ev;

    if (!msix_enable(t, 1, 0x41)) {
        skip(t, "this device model's virtio-rng-pci has no MSI-X");
        return;
    }
    msix_enable(t, 0, 0x40);
    g_strfreev(qirq_events(t->qt));
    modern_init(t, 1, 0);
    post_and_kick(t, 0, BUF_GPA);
    expect_used(t, 1, 0, BUF_GPA);
    expect_one_msi(t, 0x41);
    /* A second buffer, another head, another message. */
    post_and_kick(t, 3, BUF_GPA + 0x1000);
    expect_used(t, 2, 3, BUF_GPA + 0x1000);
    expect_one_msi(t, 0x41);
    /* With MSI-X, no INTx. */
    ev = qvirtio_wait_events(t->qt, "intx ", 0, 0);
    g_assert_cmpuint(g_strv_length(ev), ==, 0);
    g_strfreev(ev);
    finish(t);
}

static void test_intx(void)
{
    struct rng_test *t = start(NULL);

    g_strfreev(qirq_events(t->qt));
    modern_init(t, QVIRTIO_NO_VECTOR, QVIRTIO_NO_VECTOR);
    post_and_kick(t, 0, BUF_GPA);
    expect_used(t, 1, 0, BUF_GPA);
    expect_intx(t, 1);
    /* §4.1.4.5: reading the ISR returns the queue bit, clears it and lowers the line. */
    g_assert_cmphex(qvirtio_isr_read(t->d), ==, QVIRTIO_ISR_QUEUE);
    expect_intx(t, 0);
    g_assert_cmphex(qvirtio_isr_read(t->d), ==, 0);
    finish(t);
}

/* vectors=0: no MSI-X capability; vectors read back as NO_VECTOR; INTx serves. */
static void test_no_msix(void)
{
    struct rng_test *t = start("vectors=0");
    struct qvirtio *d = t->d;
    char **ev;

    g_assert_cmpint(qpci_find_cap(t->qt, DEVFN, CAP_ID_MSIX), <, 0);
    modern_init(t, QVIRTIO_NO_VECTOR, QVIRTIO_NO_VECTOR);
    qvirtio_cc_write(d, QVIRTIO_CC_Q_MSIX, 0, 2);
    g_assert_cmphex(qvirtio_cc_read(d, QVIRTIO_CC_Q_MSIX, 2), ==, QVIRTIO_NO_VECTOR);
    qvirtio_cc_write(d, QVIRTIO_CC_MSIX_CONFIG, 0, 2);
    g_assert_cmphex(qvirtio_cc_read(d, QVIRTIO_CC_MSIX_CONFIG, 2), ==, QVIRTIO_NO_VECTOR);
    g_strfreev(qirq_events(t->qt));
    post_and_kick(t, 0, BUF_GPA);
    expect_used(t, 1, 0, BUF_GPA);
    ev = qvirtio_wait_events(t->qt, "intx ", 1, 1000);
    g_assert_cmpuint(g_strv_length(ev), ==, 1);
    g_strfreev(ev);
    g_assert_cmphex(qvirtio_isr_read(d), ==, QVIRTIO_ISR_QUEUE);
    finish(t);
}

/* Whether the function raised INTx within a short wait; acknowledges the ISR if it did. */
static unsigned intx_raised(struct rng_test *t)
{
    g_autofree char *up = qvirtio_intx_event(t->d, 1);
    char **ev = qvirtio_wait_events(t->qt, "intx ", 1, 1000);
    unsigned n = 0;

    for (char **e = ev; *e; e++) {
        n += strcmp(*e, up) == 0;
    }
    g_strfreev(ev);
    if (n) {
        g_assert_cmphex(qvirtio_isr_read(t->d), ==, QVIRTIO_ISR_QUEUE);
        g_strfreev(qirq_events(t->qt)); /* the deassertion */
    }
    return n;
}

/* §2.7.7.2: with EVENT_IDX the device interrupts only once used idx passes used_event. */
static void test_event_idx(void)
{
    struct rng_test *t = start(NULL);

    modern_init_features(t, QVIRTIO_NO_VECTOR, QVIRTIO_NO_VECTOR,
                         QVIRTIO_BIT(QVIRTIO_F_EVENT_IDX));
    g_strfreev(qirq_events(t->qt));
    qvirtqueue_set_used_event(&t->vq, 0); /* interrupt at idx 1 */
    post_and_kick(t, 0, BUF_GPA);
    expect_used(t, 1, 0, BUF_GPA);
    g_assert_cmpuint(intx_raised(t), ==, 1);
    /* The device asks to be kicked at the next available entry (§2.7.10). */
    g_assert_cmpuint(qvirtqueue_avail_event(&t->vq), ==, 1);
    qvirtqueue_set_used_event(&t->vq, 2); /* no interrupt until idx passes 2 */
    post_and_kick(t, 1, BUF_GPA);
    expect_used(t, 2, 1, BUF_GPA);
    g_usleep(50000);
    g_assert_cmpuint(intx_raised(t), ==, 0);
    post_and_kick(t, 2, BUF_GPA);
    expect_used(t, 3, 2, BUF_GPA);
    g_assert_cmpuint(intx_raised(t), ==, 1);
    finish(t);
}

/* §4.1.4.3.1: status 0 resets the device: the queue is forgotten, the rings left alone. */
static void test_reset(void)
{
    struct rng_test *t = start(NULL);
    struct qvirtio *d = t->d;
    uint16_t head = 1;

    modern_init(t, QVIRTIO_NO_VECTOR, QVIRTIO_NO_VECTOR);
    post_and_kick(t, 0, BUF_GPA);
    expect_used(t, 1, 0, BUF_GPA);
    qvirtio_reset(d);
    qvirtio_cc_write(d, QVIRTIO_CC_Q_SELECT, 0, 2);
    g_assert_cmpuint(qvirtio_cc_read(d, QVIRTIO_CC_Q_ENABLE, 2), ==, 0);
    g_assert_cmpuint(qvirtio_cc_read(d, QVIRTIO_CC_Q_DESC, 4), ==, 0);
    g_assert_cmphex(qvirtio_cc_read(d, QVIRTIO_CC_Q_MSIX, 2), ==, QVIRTIO_NO_VECTOR);
    g_assert_cmphex(qvirtio_isr_read(d), ==, 0);
    /* A kick after the reset is not served: used idx stays. */
    qvirtqueue_set_desc(&t->vq, head, BUF_GPA, BUF_LEN, QVIRTQ_DESC_F_WRITE, 0);
    qvirtqueue_add_avail(&t->vq, &head, 1);
    qvirtqueue_kick(&t->vq);
    g_usleep(50000);
    g_assert_cmpuint(qvirtqueue_used_idx(&t->vq), ==, 1);
    /* The driver starts over and is served. */
    modern_init(t, QVIRTIO_NO_VECTOR, QVIRTIO_NO_VECTOR);
    post_and_kick(t, 2, BUF_GPA);
    expect_used(t, 1, 2, BUF_GPA);
    finish(t);
}

/* The legacy driver's start: reset, ACK | DRIVER, no features (bits 0-31 only, no VERSION_1). */
static void legacy_negotiate(struct qvirtio *d)
{
    qvirtio_legacy_write(d, QVIRTIO_LEGACY_STATUS, 0, 1);
    qvirtio_legacy_write(d, QVIRTIO_LEGACY_STATUS, QVIRTIO_ST_ACK | QVIRTIO_ST_DRIVER, 1);
    (void)qvirtio_legacy_read(d, QVIRTIO_LEGACY_HOST_FEATURES, 4);
    qvirtio_legacy_write(d, QVIRTIO_LEGACY_GUEST_FEATURES, 0, 4);
}

static void legacy_driver_ok(struct qvirtio *d)
{
    qvirtio_legacy_write(d, QVIRTIO_LEGACY_STATUS,
                         QVIRTIO_ST_ACK | QVIRTIO_ST_DRIVER | QVIRTIO_ST_DRIVER_OK, 1);
}

/* The transitional device's legacy interface (§4.1.4.10): I/O BAR 0, page-frame rings. */
static void test_legacy(void)
{
    struct rng_test *t = start(NULL);
    struct qvirtio *d = t->d;

    g_assert_true(d->bar_io[0]);
    legacy_negotiate(d);
    qvirtqueue_setup_legacy(d, &t->vq, 0, RING_GPA);
    g_assert_cmphex(qvirtio_legacy_read(d, QVIRTIO_LEGACY_QUEUE_PFN, 4), ==,
                    RING_GPA / QVIRTIO_LEGACY_PAGE);
    legacy_driver_ok(d);
    g_assert_cmphex(qvirtio_legacy_read(d, QVIRTIO_LEGACY_STATUS, 1), ==,
                    QVIRTIO_ST_ACK | QVIRTIO_ST_DRIVER | QVIRTIO_ST_DRIVER_OK);
    g_strfreev(qirq_events(t->qt));
    post_and_kick(t, 0, BUF_GPA);
    expect_used(t, 1, 0, BUF_GPA);
    expect_intx(t, 1);
    g_assert_cmphex(qvirtio_legacy_read(d, QVIRTIO_LEGACY_ISR, 1), ==, QVIRTIO_ISR_QUEUE);
    g_assert_cmphex(qvirtio_legacy_read(d, QVIRTIO_LEGACY_ISR, 1), ==, 0);
    /* Reset through the legacy status register. */
    qvirtio_legacy_write(d, QVIRTIO_LEGACY_STATUS, 0, 1);
    g_assert_cmphex(qvirtio_legacy_read(d, QVIRTIO_LEGACY_QUEUE_PFN, 4), ==, 0);
    finish(t);
}

/* The legacy interface with MSI-X on: the vector registers at 0x14/0x16 move the device
 * configuration to 0x18 (§4.1.4.10). */
static void test_legacy_msix(void)
{
    struct rng_test *t = start(NULL);
    struct qvirtio *d = t->d;

    if (!msix_enable(t, 1, 0x51)) {
        skip(t, "this device model's virtio-rng-pci has no MSI-X");
        return;
    }
    legacy_negotiate(d);
    qvirtio_legacy_write(d, QVIRTIO_LEGACY_MSIX_CONFIG, QVIRTIO_NO_VECTOR, 2);
    qvirtio_legacy_write(d, QVIRTIO_LEGACY_QUEUE_SELECT, 0, 2);
    qvirtio_legacy_write(d, QVIRTIO_LEGACY_QUEUE_MSIX, 1, 2);
    g_assert_cmphex(qvirtio_legacy_read(d, QVIRTIO_LEGACY_QUEUE_MSIX, 2), ==, 1);
    qvirtqueue_setup_legacy(d, &t->vq, 0, RING_GPA);
    legacy_driver_ok(d);
    g_strfreev(qirq_events(t->qt));
    post_and_kick(t, 0, BUF_GPA);
    expect_used(t, 1, 0, BUF_GPA);
    expect_one_msi(t, 0x51);
    finish(t);
}

/* §4.1.4.9: the common configuration reached through configuration cycles only. */
static void test_pci_cfg_access(void)
{
    struct rng_test *t = start(NULL);
    struct qvirtio *d = t->d;

    g_assert_cmpint(d->pci_cfg.off, >=, 0x40);
    /* num_queues: 2 bytes at common + 0x12 */
    qvirtio_pci_cfg_window(d, d->common.bar, d->common.offset + QVIRTIO_CC_NUM_QUEUES, 2);
    g_assert_cmphex(qvirtio_pci_cfg_data_read(d) & 0xffff, ==, 1);
    /* device_status: write ACK through the window, read it back through the BAR. */
    qvirtio_pci_cfg_window(d, d->common.bar, d->common.offset + QVIRTIO_CC_STATUS, 1);
    qvirtio_pci_cfg_data_write(d, QVIRTIO_ST_ACK);
    g_assert_cmphex(qvirtio_status(d), ==, QVIRTIO_ST_ACK);
    g_assert_cmphex(qvirtio_pci_cfg_data_read(d) & 0xff, ==, QVIRTIO_ST_ACK);
    /* Windows a driver must not set up (§4.1.4.9.1) change nothing: length 3, an offset past
     * the BAR, a BAR without structures. */
    qvirtio_pci_cfg_window(d, d->common.bar, d->common.offset + QVIRTIO_CC_STATUS, 3);
    qvirtio_pci_cfg_data_write(d, 0);
    qvirtio_pci_cfg_window(d, d->common.bar, 0xfffffffc, 4);
    qvirtio_pci_cfg_data_write(d, 0);
    (void)qvirtio_pci_cfg_data_read(d);
    g_assert_cmphex(qvirtio_status(d), ==, QVIRTIO_ST_ACK);
    /* qemu-xen ignores cap.bar and writes its modern BAR whatever the driver chose. */
    if (qtest_dm_is_xendm()) {
        qvirtio_pci_cfg_window(d, 2, d->common.offset + QVIRTIO_CC_STATUS, 1);
        qvirtio_pci_cfg_data_write(d, 0);
        g_assert_cmphex(qvirtio_status(d), ==, QVIRTIO_ST_ACK);
    }
    finish(t);
}

/* ---- hostile drivers ---- */

static void assert_alive(struct rng_test *t)
{
    g_autofree char *status = qtest_dm_status(t->qt);

    g_assert_cmpstr(status, ==, "running");
    g_assert_cmphex(qpci_read(t->qt, DEVFN, REG_VENDOR, 2), ==, 0x1af4);
    g_assert_cmpuint(qvirtio_cc_read(t->d, QVIRTIO_CC_NUM_QUEUES, 2), ==, 1);
}

static void expect_needs_reset(struct rng_test *t)
{
    struct qvirtio *d = t->d;

    /* qemu-xen looks at the ring from its entropy backend's callback, a little later. */
    for (unsigned i = 0; i < 1000 && !(qvirtio_status(d) & QVIRTIO_ST_NEEDS_RESET); i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(qvirtio_status(d) & QVIRTIO_ST_NEEDS_RESET, ==, QVIRTIO_ST_NEEDS_RESET);
    /* §2.1.2: a configuration change notification, on the configuration vector (0x40), or
     * the ISR's configuration bit without MSI-X. */
    if (!d->msix) {
        g_assert_cmphex(qvirtio_isr_read(d) & QVIRTIO_ISR_CONFIG, ==, QVIRTIO_ISR_CONFIG);
        return;
    }
    expect_one_msi(t, 0x40);
}

/* A fresh driver start with the interrupt log emptied. */
static void restart(struct rng_test *t, uint16_t qvec, uint16_t cvec)
{
    modern_init(t, qvec, cvec);
    g_strfreev(qirq_events(t->qt));
}

/* Makes the chain at descriptor 0 available and kicks. */
static void publish_head0(struct rng_test *t)
{
    uint16_t head = 0;

    qvirtqueue_add_avail(&t->vq, &head, 1);
    qvirtqueue_kick(&t->vq);
}

/* Available index far ahead, head out of range, rings outside RAM, junk everywhere. */
static void hostile_xendm_only(struct rng_test *t, uint16_t qvec, uint16_t cvec)
{
    struct qvirtio *d = t->d;
    uint16_t far = 0x8000, bad_head = 0x1234;

    restart(t, qvec, cvec);
    qtest_memwrite(t->qt, t->vq.avail + 2, &far, 2);
    qvirtqueue_kick(&t->vq);
    expect_needs_reset(t);
    restart(t, qvec, cvec);
    qvirtqueue_add_avail(&t->vq, &bad_head, 1);
    qvirtqueue_kick(&t->vq);
    expect_needs_reset(t);
    /* Rings outside RAM at enable: the device breaks at once. */
    qvirtio_cc_write(d, QVIRTIO_CC_STATUS, 0, 1);
    qvirtio_cc_write(d, QVIRTIO_CC_Q_DESC + 4, 0x40, 4);
    qvirtio_cc_write(d, QVIRTIO_CC_Q_ENABLE, 1, 2);
    g_assert_cmphex(qvirtio_status(d) & QVIRTIO_ST_NEEDS_RESET, ==, QVIRTIO_ST_NEEDS_RESET);
    /* Kicks for queues that do not exist, writes of every width everywhere. */
    for (unsigned q = 0; q < 64; q++) {
        qmem_write(t->qt, qvirtio_cap_addr(d, &d->notify, q * d->notify_multiplier), q, 2);
    }
    for (uint32_t off = 0; off < 0x40; off++) {
        qmem_write(t->qt, qvirtio_cap_addr(d, &d->common, off), 0xffffffff, 1);
        qmem_write(t->qt, qvirtio_cap_addr(d, &d->common, off & ~1u), 0xffff, 2);
    }
    assert_alive(t);
}

static void test_hostile_rings(void)
{
    struct rng_test *t = start(NULL);
    uint16_t qvec = QVIRTIO_NO_VECTOR, cvec = QVIRTIO_NO_VECTOR;
    const uint16_t wn = QVIRTQ_DESC_F_WRITE | QVIRTQ_DESC_F_NEXT;

    if (msix_enable(t, 1, 0x41)) {
        msix_enable(t, 0, 0x40);
        qvec = 1;
        cvec = 0;
    }

    /* A descriptor loop. */
    restart(t, qvec, cvec);
    qvirtqueue_set_desc(&t->vq, 0, BUF_GPA, 8, wn, 1);
    qvirtqueue_set_desc(&t->vq, 1, BUF_GPA, 8, wn, 0);
    publish_head0(t);
    expect_needs_reset(t);
    assert_alive(t);

    /* A buffer outside guest RAM. */
    restart(t, qvec, cvec);
    qvirtqueue_set_desc(&t->vq, 0, UINT64_C(0x4000000000), BUF_LEN, QVIRTQ_DESC_F_WRITE, 0);
    publish_head0(t);
    if (qtest_dm_is_xendm()) {
        expect_needs_reset(t);
    } else {
        g_usleep(100000); /* qemu-xen's mapcache maps it somehow: it only has to survive */
    }
    assert_alive(t);

    /* The next index out of range. */
    restart(t, qvec, cvec);
    qvirtqueue_set_desc(&t->vq, 0, BUF_GPA, 8, wn, 0x7fff);
    publish_head0(t);
    expect_needs_reset(t);
    assert_alive(t);

    if (qtest_dm_is_xendm()) {
        hostile_xendm_only(t, qvec, cvec);
    }

    /* After all that, a reset and a well-formed queue are served. */
    modern_init(t, qvec, cvec);
    post_and_kick(t, 0, BUF_GPA);
    expect_used(t, 1, 0, BUF_GPA);
    finish(t);
}

/* Saved state: a queue in use survives a save and restore (libxl's sequence). */
static void test_save_restore(void)
{
    struct rng_test *t;

    if (!qtest_dm_is_xendm()) {
        g_test_skip("qemu-xen's saved state is tested elsewhere");
        return;
    }
    t = start(NULL);
    msix_enable(t, 1, 0x41);
    modern_init(t, 1, QVIRTIO_NO_VECTOR);
    post_and_kick(t, 0, BUF_GPA);
    expect_used(t, 1, 0, BUF_GPA);
    g_strfreev(qirq_events(t->qt));
    qvirtio_save_restore(t->qt, "virtio-rng-state");
    g_strfreev(qirq_events(t->qt));
    /* The restored device resumes the ring where it was, with its MSI-X vector. */
    g_assert_cmphex(qvirtio_status(t->d), ==, ST_RUNNING);
    post_and_kick(t, 1, BUF_GPA + 0x1000);
    expect_used(t, 2, 1, BUF_GPA + 0x1000);
    expect_one_msi(t, 0x41);
    finish(t);
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
