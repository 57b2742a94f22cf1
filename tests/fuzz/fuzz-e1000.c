/*
 * fuzz-e1000: the Intel 82540EM (hw/net/e1000.c) driven by a compact language of register
 * writes, descriptors and frames, so that the fuzzer reaches the transmit paths (legacy,
 * context and data descriptors, checksum offload, TSO) and the receive ring's corners in a few
 * steps instead of having to discover the register map first.
 *
 * The machine is fuzz-ioreq's smallest (fuzz-machine.h) plus an e1000 at 00:05.0 on a socket
 * netdev whose other end (a stream socketpair) the harness holds: it injects frames there and
 * drains what the device sends. Before the program runs, the harness does what firmware and a
 * driver do: BAR0 at 0xE0000000, BAR1 at 0xC300, I/O, memory and bus mastering on, a transmit
 * ring of 256 descriptors at TX_RING and a receive ring of 256 at RX_RING whose buffers lie in
 * guest RAM, both enabled, every interrupt cause unmasked.
 *
 * Program: a sequence of steps, an op byte (% OP_COUNT) and its operands, little-endian;
 * operands past the end read as zero.
 *
 *   REG_WRITE  reg u16 | value u32   reg < 0x8000: register (reg % 64) of the table below;
 *                                    else any offset (reg * 4 % 128 KiB) of BAR0
 *   REG_READ   reg u16               the same choice of register
 *   TX_DESC    idx u8 | 16 bytes     a transmit descriptor as the driver writes it
 *   RX_DESC    idx u8 | addr u32     a receive descriptor's buffer address (status cleared)
 *   RAM        gpa u32 | len u8 | len bytes (gpa % 1 MiB)
 *   FRAME      len u16 | kind u8 | seed u8: a frame from the peer (len % 2048; kind % 4: to
 *              our MAC, broadcast, multicast, someone else), then the event loop runs
 *   KICK       tdt u16 | rdt u16     the two tails at once
 *   IO         a u8 (bit 0 read; bit 1 IODATA) | value u32: the I/O BAR
 *   PCI        reg u8 | size code u8 | value u32: a configuration write to 00:05.0
 *   LOOP       the event loop runs (due timers, the backend's socket)
 *   RESET      machine_reset()
 *   UNPLUG     the platform device's unplug port gets 2 (NICs)
 *
 * Checked beyond the sanitizers and every check of the machine (fuzz-machine.c): the INTx
 * line Xen sees matches the function's, and every frame the device sends is well framed and
 * at most NET_FRAME_MAX bytes.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz-machine.h"
#include "fuzz-target.h"
#include "xendm/keyval.h"
#include "xendm/net.h"
#include "xendm/pci.h"

#define MAX_STEPS 256
#define E1000_SLOT 5u
#define E1000_DEVFN (E1000_SLOT << 3)
#define BAR0 UINT64_C(0xe0000000)
#define BAR1 0xc300u
#define TX_RING 0x10000u
#define RX_RING 0x20000u
#define RX_BUFS 0x30000u /* 256 buffers of 2 KiB: 0x30000-0xaffff reaches into the VGA hole */
#define RING_DESCS 256u

enum op {
    OP_REG_WRITE,
    OP_REG_READ,
    OP_TX_DESC,
    OP_RX_DESC,
    OP_RAM,
    OP_FRAME,
    OP_KICK,
    OP_IO,
    OP_PCI,
    OP_LOOP,
    OP_RESET,
    OP_UNPLUG,
    OP_COUNT
};

/* The registers worth the fuzzer's attention (SDM §13), so that most writes land somewhere. */
static const uint16_t interesting_regs[64] = {
    0x0000, 0x0008, 0x0010, 0x0014, 0x0018, 0x0020, 0x0038, 0x00c0, 0x00c4, 0x00c8, 0x00d0,
    0x00d8, 0x0100, 0x0400, 0x2800, 0x2804, 0x2808, 0x2810, 0x2818, 0x2820, 0x2828, 0x282c,
    0x2c00, 0x3800, 0x3804, 0x3808, 0x3810, 0x3818, 0x3820, 0x3828, 0x382c, 0x4000, 0x4088,
    0x408c, 0x40a0, 0x40d0, 0x40d4, 0x5000, 0x5200, 0x5204, 0x53fc, 0x5400, 0x5404, 0x5478,
    0x547c, 0x5600, 0x57fc, 0x5820, 0x5800, 0x0e00, 0x1000, 0x0410, 0x0028, 0x002c, 0x0030,
    0x0170, 0x0178, 0x2160, 0x2168, 0x3000, 0x3830, 0x0458, 0x40fc, 0x4010,
};

struct harness {
    struct fuzz_machine *fm;
    int peer; /* our end of the backend's stream */
    GByteArray *out; /* bytes the device sent, not yet parsed into frames */
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_logs();
    return 0;
}

static uint64_t mmio(struct harness *h, bool read, uint32_t reg, uint32_t value)
{
    return fuzz_machine_request(h->fm, XENABI_IOREQ_TYPE_COPY, read, 4, BAR0 + reg, value, 1,
                                false);
}

static void pci_write(struct harness *h, unsigned reg, unsigned size, uint32_t value)
{
    fuzz_machine_request(h->fm, XENABI_IOREQ_TYPE_PCI_CONFIG, false, size,
                         (uint64_t)E1000_DEVFN << 32 | reg, value, 1, false);
}

static void ram_write(struct harness *h, uint32_t gpa, const void *bytes, size_t len)
{
    if (fuzz_gpa_is_ram(gpa) && fuzz_gpa_is_ram(gpa + len - 1)) {
        FUZZ_CHECK(mapcache_write(h->fm->mc, gpa, bytes, len) == 0, "RAM write failed");
    }
}

/* Reads what the device sent; every frame must carry a sane length. */
static void drain_peer(struct harness *h)
{
    uint8_t buf[16384];
    ssize_t n;

    while ((n = recv(h->peer, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        g_byte_array_append(h->out, buf, (guint)n);
    }
    while (h->out->len >= 4) {
        uint32_t len = (uint32_t)h->out->data[0] << 24 | (uint32_t)h->out->data[1] << 16 |
                       (uint32_t)h->out->data[2] << 8 | h->out->data[3];
        FUZZ_CHECK(len > 0 && len <= NET_FRAME_MAX, "e1000 sent a frame of %u bytes", len);
        if (h->out->len < 4 + len) {
            break;
        }
        g_byte_array_remove_range(h->out, 0, 4 + len);
    }
}

/* The event loop, as main runs it, until nothing is ready (bounded). */
static void run_loop(struct harness *h)
{
    for (unsigned i = 0; i < 64 && g_main_context_iteration(NULL, FALSE); i++) {
        drain_peer(h);
    }
    drain_peer(h);
}

static void harness_setup(struct harness *h)
{
    int sv[2];
    GError *err = NULL;
    g_autofree char *opts = NULL;
    struct kv_list *kv, *props;
    struct net_backend *nb;

    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %s",
               g_strerror(errno));
    h->peer = sv[0];
    h->out = g_byte_array_new();
    opts = g_strdup_printf("socket,id=fuzznet,fd=%d", sv[1]);
    kv = kv_parse(opts, "type", &err);
    FUZZ_CHECK(kv != NULL, "netdev options refused");
    nb = net_backend_new(kv, &err);
    FUZZ_CHECK(nb != NULL, "netdev refused: %s", err ? err->message : "?");
    kv_free(kv);
    machine_add_netdev(h->fm->m, nb);
    props = kv_parse("e1000,netdev=fuzznet,mac=00:16:3e:00:00:01,addr=5", "driver", &err);
    FUZZ_CHECK(props != NULL, "device options refused");
    FUZZ_CHECK(machine_create_device(h->fm->m, "e1000", props, &err) != NULL,
               "e1000 refused: %s", err ? err->message : "?");
    kv_free(props);
}

/* What firmware and a driver leave: BARs, command, both rings live, interrupts unmasked. */
static void driver_setup(struct harness *h)
{
    uint8_t d[16] = {0};

    pci_write(h, 0x10, 4, (uint32_t)BAR0);
    pci_write(h, 0x14, 4, BAR1 | 1);
    pci_write(h, 0x04, 2, 0x0007);
    for (unsigned i = 0; i < RING_DESCS; i++) {
        uint32_t buf = RX_BUFS + 2048u * i;
        memcpy(d, &buf, 4);
        ram_write(h, RX_RING + 16u * i, d, 16);
    }
    mmio(h, false, 0x3800, TX_RING);
    mmio(h, false, 0x3808, RING_DESCS * 16);
    mmio(h, false, 0x0400, 0x2);
    mmio(h, false, 0x2800, RX_RING);
    mmio(h, false, 0x2808, RING_DESCS * 16);
    mmio(h, false, 0x2818, RING_DESCS - 1);
    mmio(h, false, 0x0100, 0x2 | 0x8 | 0x8000); /* EN, UPE, BAM */
    mmio(h, false, 0x00d0, 0x1ffff);
}

static uint32_t pick_reg(uint16_t sel)
{
    if (sel < 0x8000) {
        return interesting_regs[sel % G_N_ELEMENTS(interesting_regs)];
    }
    return ((uint32_t)sel * 4u) % 0x20000u;
}

static void frame_step(struct harness *h, struct fuzz_cursor *c)
{
    static const uint8_t dsts[4][6] = {
        {0x00, 0x16, 0x3e, 0x00, 0x00, 0x01}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
        {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}, {0x02, 0x11, 0x22, 0x33, 0x44, 0x55},
    };
    uint32_t len = (uint32_t)(fuzz_take(c, 2) % 2048);
    unsigned kind = (unsigned)fuzz_take(c, 1) % 4;
    uint8_t seed = (uint8_t)fuzz_take(c, 1);
    uint8_t frame[4 + 2048];

    if (len == 0) {
        return; /* a zero length is the stream's framing error: the backend would drop it */
    }
    frame[0] = (uint8_t)(len >> 24);
    frame[1] = (uint8_t)(len >> 16);
    frame[2] = (uint8_t)(len >> 8);
    frame[3] = (uint8_t)len;
    for (uint32_t i = 0; i < len; i++) {
        frame[4 + i] = (uint8_t)(seed + i * 31);
    }
    memcpy(frame + 4, dsts[kind], XENDM_MIN(len, 6u));
    if (send(h->peer, frame, 4 + len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        return; /* the device is not reading (unplugged, or the socket is full) */
    }
    run_loop(h);
}

static void run_step(struct harness *h, enum op op, struct fuzz_cursor *c)
{
    uint8_t bytes[256];
    uint32_t a, v;

    switch (op) {
    case OP_REG_WRITE:
        a = pick_reg((uint16_t)fuzz_take(c, 2));
        mmio(h, false, a, (uint32_t)fuzz_take(c, 4));
        break;
    case OP_REG_READ:
        mmio(h, true, pick_reg((uint16_t)fuzz_take(c, 2)), 0);
        break;
    case OP_TX_DESC:
        a = TX_RING + 16u * (uint32_t)(fuzz_take(c, 1) % RING_DESCS);
        for (unsigned i = 0; i < 16; i++) {
            bytes[i] = (uint8_t)fuzz_take(c, 1);
        }
        ram_write(h, a, bytes, 16);
        break;
    case OP_RX_DESC:
        a = RX_RING + 16u * (uint32_t)(fuzz_take(c, 1) % RING_DESCS);
        v = (uint32_t)fuzz_take(c, 4);
        memset(bytes, 0, 16);
        memcpy(bytes, &v, 4);
        ram_write(h, a, bytes, 16);
        break;
    case OP_RAM:
        a = (uint32_t)fuzz_take(c, 4) % FUZZ_RAM_SIZE;
        v = (uint32_t)fuzz_take(c, 1);
        for (unsigned i = 0; i < v; i++) {
            bytes[i] = (uint8_t)fuzz_take(c, 1);
        }
        if (v > 0) {
            ram_write(h, a, bytes, v);
        }
        break;
    case OP_FRAME:
        frame_step(h, c);
        break;
    case OP_KICK:
        mmio(h, false, 0x3818, (uint32_t)fuzz_take(c, 2));
        mmio(h, false, 0x2818, (uint32_t)fuzz_take(c, 2));
        run_loop(h);
        break;
    case OP_IO:
        a = (uint32_t)fuzz_take(c, 1);
        v = (uint32_t)fuzz_take(c, 4);
        fuzz_machine_request(h->fm, XENABI_IOREQ_TYPE_PIO, a & 1, 4, BAR1 + ((a & 2) ? 4 : 0), v,
                             1, false);
        break;
    case OP_PCI: {
        static const unsigned sizes[4] = {1, 2, 4, 4};
        unsigned reg = (unsigned)fuzz_take(c, 1);
        unsigned size = sizes[fuzz_take(c, 1) % 4];
        pci_write(h, reg & ~(size - 1), size, (uint32_t)fuzz_take(c, 4));
        break;
    }
    case OP_LOOP:
        run_loop(h);
        break;
    case OP_RESET:
        machine_reset(h->fm->m);
        break;
    case OP_UNPLUG:
        fuzz_machine_request(h->fm, XENABI_IOREQ_TYPE_PIO, false, 2, 0x10, 2, 1, false);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_machine_config cfg = {0};
    struct harness h = {0};
    struct fuzz_cursor c = {data, size};

    h.fm = fuzz_machine_new(&cfg);
    harness_setup(&h);
    driver_setup(&h);
    for (unsigned steps = 0; c.left > 0 && steps < MAX_STEPS; steps++) {
        run_step(&h, (enum op)(fuzz_take(&c, 1) % OP_COUNT), &c);
        drain_peer(&h);
        fuzz_machine_check_lines(h.fm);
    }
    fuzz_machine_free(h.fm);
    close(h.peer);
    g_byte_array_free(h.out, TRUE);
    return 0;
}
