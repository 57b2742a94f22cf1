/*
 * e1000: the Intel 82540EM Gigabit Ethernet controller (8086:100e), libxl's model=e1000, on a
 * -netdev backend (include/xendm/net.h). References: PCI/PCI-X Family of Gigabit Ethernet
 * Controllers Software Developer's Manual (8254x), cited as "SDM §n"; register and descriptor
 * constants in hw/net/e1000-regs.h.
 *
 *   -device e1000,netdev=ID[,mac=00:16:3e:xx:xx:xx][,addr=N]
 *
 * PCI: rev 3, class Ethernet, subsystem 1af4:1100 (qemu-xen's), BAR0 128 KiB of registers,
 * BAR1 64 bytes of I/O (IOADDR/IODATA, SDM §13.3), INTA.
 *
 * Transmit (SDM §3.3): a TDT write walks the ring from TDH at most once around. Legacy and
 * extended (context/data) descriptors; a frame is gathered across descriptors up to EOP into a
 * bounded buffer (16 KiB without TSO, 64 KiB of payload with it; beyond that the frame is
 * dropped and its descriptors still complete). Checksum offload (IPCSS/IPCSO/IPCSE,
 * TUCSS/TUCSO/TUCSE) and TCP segmentation (HDRLEN/MSS/PAYLEN) are done here, every offset
 * checked against the frame; a TSO frame whose fields do not fit it, or that would make more
 * than 1024 segments, is dropped. As on the 82544 and later, the TSO context and the checksum
 * context are kept apart. A backend with a vnet header gets a zeroed one: nothing is left for
 * the host to do. One turn sends at most 1024 frames; the walk then goes on from a timer.
 *
 * Receive (SDM §3.2): filtered by RA/MTA/UPE/MPE/BAM, VLAN-stripped with CTRL.VME, padded to
 * 60 bytes, the FCS appended unless RCTL.SECRC, placed over as many BSIZE buffers as it needs.
 * With too few descriptors between RDH and RDT the frame is refused (RXO, RNBC) and the backend
 * keeps it until RDT moves. A descriptor that cannot be read (unmapped gfn) ends the frame.
 *
 * Interrupts: ICR & IMS drives INTA; ITR spaces assertions (256 ns units); RDTR/RADV and
 * TIDV/TADV delay RXT0 and TXDW. All timers run on the event loop and are bounded by 16-bit
 * registers.
 *
 * A ring whose head or tail lies beyond its length is not walked (logged): the guest must fix
 * it. PV unplug (UNPLUG_NIC) removes the function from PCI and detaches the backend.
 */
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>

#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/net.h"
#include "xendm/pci.h"
#include "xendm/vmstate.h"

#include "e1000-regs.h"

#define E1000_MMIO_SIZE 0x20000u
#define E1000_IO_SIZE 0x40u
#define MAC_LEN 6
#define ETH_HLEN 14u
#define ETH_ZLEN 60u             /* shortest frame without FCS (SDM §3.2.1: 64 with it) */
#define ETH_FCS_LEN 4u
#define VLAN_TAG_LEN 4u
#define RX_MAX_NO_LPE 1522u      /* without FCS: a VLAN tag's worth of slack (SDM §13.4.22) */
#define RX_MAX_LPE (16384u - ETH_FCS_LEN)
#define TX_MAX_FRAME 16384u      /* the 82540's largest frame (SDM §3.3) */
#define TSO_MAX_PAYLOAD 65536u   /* Linux and Windows never send more in one TSO */
#define TSO_MAX_HDR 255u         /* HDRLEN is one byte */
#define TX_BUF_SIZE (TSO_MAX_HDR + TSO_MAX_PAYLOAD)
#define RX_BUF_SIZE (NET_FRAME_MAX + ETH_FCS_LEN)
/*
 * Work bounds for the event loop: one TSO frame makes at most this many segments (Linux's
 * smallest MSS, 88, makes 745 of 64 KiB), and one turn of transmitting sends at most this
 * many frames before it yields to the loop and goes on from a timer, as a wire takes its time.
 * Measured: a segment costs about 6.5 us on a socket backend.
 */
#define TSO_MAX_SEGMENTS 1024u
#define TX_FRAMES_PER_TURN 1024u
#define USEC_1024_NS 1024u       /* RDTR/RADV/TIDV/TADV unit */
#define ITR_UNIT_NS 256u

#define E1000_ERROR g_quark_from_static_string("xendm-e1000")

/* The registers that only store what the guest writes: offset, reset value, writable bits. */
struct plain_reg {
    uint32_t offset;
    uint32_t reset;
    uint32_t wmask;
};

static const struct plain_reg plain_regs[] = {
    {E1000_CTRL_EXT, 0, 0xffffffffu},
    {E1000_FCAL, 0, 0xffffffffu},
    {E1000_FCAH, 0, 0xffffu},
    {E1000_FCT, 0, 0xffffu},
    {E1000_VET, 0x8100, 0xffffu},
    {E1000_ITR, 0, 0xffffu},
    {E1000_FCTTV, 0, 0xffffu},
    {E1000_TXCW, 0, 0xffffffffu},
    {E1000_RXCW, 0, 0},
    {E1000_TIPG, 0, 0x3fffffffu},
    {E1000_AIFS, 0, 0xffffu},
    {E1000_LEDCTL, 0x07068302u, 0xffffffffu},
    {E1000_PBA, 0x00100030u, 0xffffu},
    {E1000_FCRTL, 0, 0x8000fff8u},
    {E1000_FCRTH, 0, 0xfff8u},
    {E1000_RDTR, 0, 0xffffu},
    {E1000_RXDCTL, 0x00010000u, 0xffffffffu},
    {E1000_RADV, 0, 0xffffu},
    {E1000_RSRPD, 0, 0xfffu},
    {E1000_TXDMAC, 0, 1},
    {E1000_TIDV, 0, 0xffffu},
    {E1000_TXDCTL, 0x00010000u, 0xffffffffu},
    {E1000_TADV, 0, 0xffffu},
    {E1000_TSPMT, 0x01000400u, 0xffffffffu},
    {E1000_RXCSUM, 0x300, 0x3ffu},
};
#define PLAIN_REGS ARRAY_SIZE(plain_regs)

/* One offload context (SDM §3.3.6): where the IP and TCP/UDP checksums go. */
struct tx_context {
    uint8_t ipcss, ipcso, tucss, tucso, tucmd, hdrlen;
    uint16_t ipcse, tucse, mss;
    uint32_t paylen;
};

/* A delayed interrupt cause: RDTR/RADV for RXT0, TIDV/TADV for TXDW (SDM §3.2.7, §3.4). */
struct delayed_cause {
    struct timer *timer;
    int64_t first_ns; /* when the oldest event waiting for it happened (the absolute timer) */
    bool pending;
};

struct e1000 {
    struct machine *m;
    struct pci_device *pci; /* NULL once unplugged */
    struct net_backend *nb; /* NULL: no netdev=, or unplugged */
    uint8_t mac[MAC_LEN];
    bool unplug_registered;
    bool unplugged;

    /* Registers with behaviour. */
    uint32_t ctrl, status, eecd, eerd, mdic;
    uint32_t icr, ims;
    uint32_t rctl, tctl;
    uint32_t rdbal, rdbah, rdlen, rdh, rdt;
    uint32_t tdbal, tdbah, tdlen, tdh, tdt;
    uint32_t plain[PLAIN_REGS];
    uint32_t mta[E1000_MTA_REGS];
    uint32_t ra[2 * E1000_RA_ENTRIES];
    uint32_t vfta[E1000_VFTA_REGS];
    uint32_t stats[E1000_STATS_REGS];
    uint16_t phy[PHY_REGS];
    uint16_t eeprom[EEPROM_WORDS];
    uint32_t ioaddr;

    /* Microwire state (SDM §5.4: the EEPROM latches DI on the rising edge of SK). */
    uint32_t ee_bits_in;  /* bits shifted in since CS rose, the start bit first */
    uint32_t ee_shift;    /* opcode and address as they come in */
    uint32_t ee_out_pos;  /* bits shifted out since the address completed */
    bool ee_reading;
    uint8_t ee_addr;

    /* Interrupts. */
    bool irq_level;
    int64_t last_irq_ns;
    struct timer *itr_timer;
    struct timer *tx_timer; /* transmitting goes on after a turn's worth of frames */
    uint32_t tx_turn_frames;
    struct delayed_cause rx_delay, tx_delay;

    /* Transmit: the contexts and the frame being gathered. */
    struct tx_context csum_ctx, tso_ctx;
    uint8_t *tx_buf;
    uint32_t tx_len;
    bool tx_started;        /* a data descriptor of this frame was seen */
    bool tx_tse;            /* this frame uses the TSO context */
    bool tx_drop;           /* too long or unreadable: dropped at EOP */
    uint8_t tx_popts;
    uint8_t tx_legacy_cso, tx_legacy_css;
    bool tx_legacy_ic;
    bool tx_vle;
    uint16_t tx_vlan;
    uint8_t *tx_seg;        /* one TSO segment */

    /* Receive. */
    bool rx_held;           /* a frame was refused: the backend waits for rx_resume */
    uint8_t *rx_buf;
    uint64_t tx_dropped, rx_dropped;
};

/* The default EEPROM image (SDM §5.6 table 5-2), MAC and checksum filled in per device. */
static const uint16_t eeprom_template[EEPROM_WORDS] = {
    [0x03] = 0x0000, /* compatibility */
    [0x04] = 0xffff, /* LED settings: the driver's defaults */
    [0x05] = 0x0000, /* image version */
    [0x08] = 0x2000, [0x09] = 0x0000, /* PBA number */
    [0x0a] = 0x4408, /* initialization control 1 */
    [0x0b] = PCI_SUBSYSTEM_ID_QEMU, [0x0c] = PCI_SUBSYSTEM_VENDOR_ID_QEMU,
    [0x0d] = 0x100e, [0x0e] = 0x8086,
    [0x0f] = 0x3000, /* initialization control 2: both pause bits (full flow control) */
    [0x10] = 0xffff, [0x11] = 0xffff, [0x12] = 0xffff, [0x13] = 0xffff,
    [0x14] = 0xffff, [0x15] = 0xffff, [0x16] = 0xffff, [0x17] = 0xffff,
    [0x24] = 0x0000, /* initialization control 3: no APM wake-up */
};

/* M88E1011 registers after reset, with the link up at 1000 Mb/s full duplex. */
static const uint16_t phy_reset_values[PHY_REGS] = {
    [PHY_CTRL] = 0x1140,         /* autoneg enabled, full duplex, 1000 Mb/s */
    [PHY_STATUS] = 0x796d,       /* capabilities, autoneg complete, link up */
    [PHY_ID1] = 0x0141,          /* Marvell */
    [PHY_ID2] = 0x0c20,          /* M88E1011 */
    [PHY_AUTONEG_ADV] = 0x0de1,
    [PHY_LP_ABILITY] = 0x41e1,   /* the partner: 10/100 both duplexes, ack */
    [PHY_AUTONEG_EXP] = 0x0001,
    [PHY_NEXT_PAGE_TX] = 0x2001,
    [PHY_1000T_CTRL] = 0x0e00,
    [PHY_1000T_STATUS] = 0x3c00, /* local and remote receivers OK, partner 1000 FD/HD */
    [PHY_EXT_STATUS] = 0x3000,
    [M88_PHY_SPEC_CTRL] = 0x0360,
    [M88_PHY_SPEC_STATUS] = 0xac00, /* 1000 Mb/s, full duplex, resolved, link */
    [M88_EXT_PHY_SPEC_CTRL] = 0x0c60,
    [M88_LED_CTRL] = 0x4100,
};

/* Which PHY registers the guest may write (the rest read-only or reserved). */
static bool phy_writable(unsigned reg)
{
    switch (reg) {
    case PHY_CTRL:
    case PHY_AUTONEG_ADV:
    case PHY_NEXT_PAGE_TX:
    case PHY_1000T_CTRL:
    case M88_PHY_SPEC_CTRL:
    case M88_INT_ENABLE:
    case M88_EXT_PHY_SPEC_CTRL:
    case M88_LED_CTRL:
    case 29: /* Marvell page address and data: drivers' errata writes */
    case 30:
        return true;
    default:
        return false;
    }
}

static int plain_index(uint32_t offset)
{
    for (unsigned i = 0; i < PLAIN_REGS; i++) {
        if (plain_regs[i].offset == offset) {
            return (int)i;
        }
    }
    return -1;
}

static uint32_t plain_get(const struct e1000 *s, uint32_t offset)
{
    int i = plain_index(offset);

    return i < 0 ? 0 : s->plain[i];
}

/* ---- helpers ---- */

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, (uint16_t)(v >> 16));
    put_be16(p + 2, (uint16_t)v);
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* RFC 1071 one's-complement sum of bytes (not folded, not complemented). */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += get_be16(p + i);
    }
    if (len & 1) {
        sum += (uint32_t)p[len - 1] << 8;
    }
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)sum;
}

/* Ethernet FCS: CRC-32 (IEEE 802.3 §3.2.9), reflected, appended least significant byte first. */
static uint32_t eth_crc32(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xffffffffu;

    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (unsigned b = 0; b < 8; b++) {
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
        }
    }
    return ~crc;
}

static void stat_add(struct e1000 *s, uint32_t reg, uint32_t n)
{
    uint32_t *c = &s->stats[(reg - E1000_STATS_FIRST) / 4];

    /* Counters stick at their maximum rather than wrap (SDM §13.7). */
    *c = n > UINT32_MAX - *c ? UINT32_MAX : *c + n;
}

/* A 64-bit counter kept as a low and a high register. */
static void stat_add64(struct e1000 *s, uint32_t low_reg, uint64_t n)
{
    uint32_t *lo = &s->stats[(low_reg - E1000_STATS_FIRST) / 4];
    uint64_t v = ((uint64_t)lo[1] << 32 | lo[0]) + n;

    lo[0] = (uint32_t)v;
    lo[1] = (uint32_t)(v >> 32);
}

/* PRC64.. and PTC64.. buckets by size with the FCS (SDM §13.7). */
static void stat_size_bucket(struct e1000 *s, uint32_t first_reg, size_t len_with_fcs)
{
    static const size_t limits[] = {64, 127, 255, 511, 1023, 1522};

    for (unsigned i = 0; i < ARRAY_SIZE(limits); i++) {
        if (len_with_fcs <= limits[i]) {
            stat_add(s, first_reg + 4 * i, 1);
            return;
        }
    }
}

/* ---- interrupts ---- */

static void set_irq_level(struct e1000 *s, bool level)
{
    if (s->irq_level != level) {
        s->irq_level = level;
        if (s->pci != NULL) {
            pci_set_irq(s->pci, level);
        }
    }
}

/*
 * INTA follows ICR & IMS. ITR (SDM §13.4.18) sets the shortest interval between two
 * assertions: a cause that comes sooner waits for the timer. Deassertion is never delayed.
 */
static void update_irq(struct e1000 *s)
{
    uint64_t interval = (uint64_t)(plain_get(s, E1000_ITR) & 0xffff) * ITR_UNIT_NS;
    int64_t now;

    if ((s->icr & s->ims) == 0) {
        timer_cancel(s->itr_timer);
        set_irq_level(s, false);
        return;
    }
    if (s->irq_level) {
        return;
    }
    now = clock_now_ns();
    if (interval != 0 && s->last_irq_ns != 0 && now - s->last_irq_ns < (int64_t)interval) {
        if (!timer_pending(s->itr_timer)) {
            timer_arm_ns(s->itr_timer, (uint64_t)(s->last_irq_ns + (int64_t)interval - now));
        }
        return;
    }
    s->last_irq_ns = now;
    set_irq_level(s, true);
}

static void itr_timer_cb(void *opaque)
{
    struct e1000 *s = opaque;

    update_irq(s);
}

static void raise_cause(struct e1000 *s, uint32_t cause)
{
    s->icr |= cause;
    update_irq(s);
}

static void delayed_fire(struct e1000 *s, struct delayed_cause *d, uint32_t cause)
{
    timer_cancel(d->timer);
    d->pending = false;
    raise_cause(s, cause);
}

/*
 * An event that interrupts after `delay` (the packet timer, restarted by each event) but no
 * later than `absolute` after the first one waiting (0: no absolute bound), in 1.024 us units.
 */
static void delayed_event(struct e1000 *s, struct delayed_cause *d, uint32_t cause,
                          uint32_t delay, uint32_t absolute)
{
    int64_t now = clock_now_ns();
    int64_t deadline;

    if (delay == 0) {
        delayed_fire(s, d, cause);
        return;
    }
    if (!d->pending) {
        d->pending = true;
        d->first_ns = now;
    }
    deadline = now + (int64_t)delay * USEC_1024_NS;
    if (absolute != 0) {
        deadline = XENDM_MIN(deadline, d->first_ns + (int64_t)absolute * USEC_1024_NS);
    }
    timer_arm_ns(d->timer, deadline > now ? (uint64_t)(deadline - now) : 0);
}

static void rx_delay_cb(void *opaque)
{
    struct e1000 *s = opaque;

    delayed_fire(s, &s->rx_delay, ICR_RXT0);
}

static void tx_delay_cb(void *opaque)
{
    struct e1000 *s = opaque;

    delayed_fire(s, &s->tx_delay, ICR_TXDW);
}

/* ---- EEPROM ---- */

static void eeprom_init(struct e1000 *s)
{
    uint16_t sum = 0;

    memcpy(s->eeprom, eeprom_template, sizeof(s->eeprom));
    for (unsigned i = 0; i < 3; i++) {
        s->eeprom[i] = (uint16_t)(s->mac[2 * i] | s->mac[2 * i + 1] << 8);
    }
    for (unsigned i = 0; i < EEPROM_CHECKSUM_WORD; i++) {
        sum = (uint16_t)(sum + s->eeprom[i]);
    }
    /* SDM §5.6.7: words 0x00-0x3f add up to 0xbaba. */
    s->eeprom[EEPROM_CHECKSUM_WORD] = (uint16_t)(EEPROM_CHECKSUM_SUM - sum);
}

static void eeprom_standby(struct e1000 *s)
{
    s->ee_bits_in = 0;
    s->ee_shift = 0;
    s->ee_out_pos = 0;
    s->ee_reading = false;
}

/* DO while reading: bit 15 first, then on through the following words (sequential read). */
static bool eeprom_do(const struct e1000 *s)
{
    uint32_t pos;
    uint16_t word;

    if (!s->ee_reading || s->ee_out_pos == 0) {
        return false; /* the dummy zero that follows the address (93C46 data sheet) */
    }
    pos = s->ee_out_pos - 1;
    word = s->eeprom[(s->ee_addr + pos / 16) % EEPROM_WORDS];
    return (word >> (15 - pos % 16)) & 1;
}

static void eeprom_clock(struct e1000 *s, bool di)
{
    if (s->ee_reading) {
        /* Bounded: the position wraps with the address, as the part's counter does. */
        s->ee_out_pos = (s->ee_out_pos + 1) % (EEPROM_WORDS * 16 + 1);
        if (s->ee_out_pos == 0) {
            s->ee_out_pos = 1;
        }
        return;
    }
    if (s->ee_bits_in == 0 && !di) {
        return; /* leading zeros before the start bit */
    }
    s->ee_shift = (s->ee_shift << 1) | di;
    s->ee_bits_in++;
    if (s->ee_bits_in < EEPROM_OPCODE_BITS + EEPROM_ADDR_BITS) {
        return;
    }
    if ((s->ee_shift >> EEPROM_ADDR_BITS) == EEPROM_OP_READ) {
        s->ee_reading = true;
        s->ee_addr = (uint8_t)(s->ee_shift & (EEPROM_WORDS - 1));
        s->ee_out_pos = 0;
    } else {
        /* Writes and erases: the image is read-only (FWE stays disabled); ignore until CS. */
        log_guest_event("e1000: EEPROM command 0x%x ignored", s->ee_shift);
        s->ee_bits_in = 0;
        s->ee_shift = 0;
    }
}

static void eecd_write(struct e1000 *s, uint32_t val)
{
    uint32_t old = s->eecd;

    s->eecd = (val & EECD_WRITABLE) | EECD_PRES;
    if (!(val & EECD_CS)) {
        eeprom_standby(s);
        return;
    }
    if (!(old & EECD_CS)) {
        eeprom_standby(s);
    }
    if (!(old & EECD_SK) && (val & EECD_SK)) {
        eeprom_clock(s, (val & EECD_DI) != 0);
    }
}

static uint32_t eecd_read(const struct e1000 *s)
{
    uint32_t v = s->eecd & ~(EECD_DO | EECD_GNT);

    if (v & EECD_REQ) {
        v |= EECD_GNT; /* nothing else uses the EEPROM: granted at once */
    }
    if ((v & EECD_CS) && eeprom_do(s)) {
        v |= EECD_DO;
    }
    return v;
}

static void eerd_write(struct e1000 *s, uint32_t val)
{
    unsigned addr = (val >> EERD_ADDR_SHIFT) & 0xff;
    uint16_t data;

    if (!(val & EERD_START)) {
        /* Bits 3:1 are reserved and read 0; DONE and DATA belong to the device. */
        s->eerd = (s->eerd & ~(EERD_DONE | EERD_ADDR_MASK)) | (val & EERD_ADDR_MASK);
        return;
    }
    /* Past the 64 words the part answers with the address wrapped (6 address bits). */
    data = s->eeprom[addr % EEPROM_WORDS];
    s->eerd = EERD_DONE | (uint32_t)addr << EERD_ADDR_SHIFT | (uint32_t)data << EERD_DATA_SHIFT;
}

/* ---- PHY through MDIC ---- */

static void phy_reset(struct e1000 *s)
{
    memcpy(s->phy, phy_reset_values, sizeof(s->phy));
}

static void phy_write(struct e1000 *s, unsigned reg, uint16_t val)
{
    if (!phy_writable(reg)) {
        return;
    }
    if (reg == PHY_CTRL) {
        if (val & PHY_CTRL_RESET) {
            phy_reset(s);
            return;
        }
        if (val & PHY_CTRL_RESTART_AN) {
            /* The link partner answers at once: autoneg is complete when the driver looks. */
            s->phy[PHY_STATUS] |= PHY_STATUS_AN_DONE | PHY_STATUS_LINK;
            raise_cause(s, ICR_LSC);
        }
        val &= (uint16_t)~(PHY_CTRL_RESET | PHY_CTRL_RESTART_AN); /* self-clearing */
    }
    s->phy[reg] = val;
}

static void mdic_write(struct e1000 *s, uint32_t val)
{
    unsigned reg = (val >> MDIC_REG_SHIFT) & 0x1f;
    unsigned phy = (val >> MDIC_PHY_SHIFT) & 0x1f;
    uint32_t op = val & (3u << 26);
    uint32_t result = val & ~(MDIC_READY | MDIC_ERROR);

    if (phy != PHY_ADDR || (op != MDIC_OP_READ && op != MDIC_OP_WRITE)) {
        result |= MDIC_ERROR; /* no PHY answers there (SDM §13.4.7) */
    } else if (op == MDIC_OP_READ) {
        result = (result & ~MDIC_DATA_MASK) | s->phy[reg];
    } else {
        phy_write(s, reg, (uint16_t)(val & MDIC_DATA_MASK));
    }
    s->mdic = result | MDIC_READY;
    if (val & MDIC_INT_EN) {
        raise_cause(s, ICR_MDAC);
    }
}

/* ---- rings ---- */

static uint32_t ring_count(uint32_t len_reg)
{
    return (len_reg & E1000_LEN_MASK) / E1000_DESC_SIZE;
}

static uint64_t ring_base(uint32_t lo, uint32_t hi)
{
    return (uint64_t)hi << 32 | (lo & ~0xfu);
}

static bool dma_allowed(const struct e1000 *s)
{
    return s->pci != NULL && (pci_get_word(s->pci, PCI_COMMAND) & PCI_COMMAND_MASTER);
}

/* ---- transmit ---- */

/* Sends one finished frame (with the VLAN tag inserted when asked). */
static void tx_emit(struct e1000 *s, const uint8_t *frame, size_t len)
{
    struct net_vnet_hdr hdr = {0};
    uint8_t tag[VLAN_TAG_LEN];
    struct iovec iov[4];
    unsigned n = 0;
    size_t wire = len;

    if (s->nb != NULL && net_backend_has_vnet_hdr(s->nb)) {
        iov[n++] = (struct iovec){.iov_base = &hdr, .iov_len = NET_VNET_HDR_LEN};
    }
    if (s->tx_vle && (s->ctrl & CTRL_VME) && len >= 12) {
        /* SDM §3.3.3.1 VLE: the tag goes after the two addresses. */
        put_be16(tag, (uint16_t)plain_get(s, E1000_VET));
        put_be16(tag + 2, s->tx_vlan);
        iov[n++] = (struct iovec){.iov_base = (void *)frame, .iov_len = 12};
        iov[n++] = (struct iovec){.iov_base = tag, .iov_len = VLAN_TAG_LEN};
        iov[n++] = (struct iovec){.iov_base = (void *)(frame + 12), .iov_len = len - 12};
        wire += VLAN_TAG_LEN;
    } else {
        iov[n++] = (struct iovec){.iov_base = (void *)frame, .iov_len = len};
    }
    if (s->nb == NULL || !net_backend_send(s->nb, iov, n)) {
        s->tx_dropped++;
    }
    s->tx_turn_frames++;
    stat_add(s, E1000_GPTC, 1);
    stat_add(s, E1000_TPT, 1);
    stat_add64(s, E1000_GOTCL, wire + ETH_FCS_LEN);
    stat_add64(s, E1000_TOTL, wire + ETH_FCS_LEN);
    stat_size_bucket(s, E1000_PTC64, wire + ETH_FCS_LEN);
    if (len >= MAC_LEN && (frame[0] & 1)) {
        bool bcast = memcmp(frame, "\xff\xff\xff\xff\xff\xff", MAC_LEN) == 0;
        stat_add(s, bcast ? E1000_BPTC : E1000_MPTC, 1);
    }
}

/* Checksum of [start, end) stored at `at`, the field's own value included (SDM §3.3.6). */
static bool put_checksum(uint8_t *p, size_t len, size_t start, size_t end, size_t at,
                         uint32_t extra)
{
    if (start >= end || end > len || at + 2 > len) {
        return false;
    }
    put_be16(p + at, (uint16_t)~csum_fold(csum_add(extra, p + start, end - start)));
    return true;
}

/* The end of a checksum range: CSE is inclusive, 0 means the end of the frame. */
static size_t csum_end(uint16_t cse, size_t len)
{
    return cse == 0 ? len : XENDM_MIN((size_t)cse + 1, len);
}

/* Checksums of a frame sent without segmentation (POPTS, or a legacy IC descriptor). */
static void tx_offload_checksums(struct e1000 *s, uint8_t *p, size_t len)
{
    const struct tx_context *c = &s->csum_ctx;

    if (s->tx_legacy_ic &&
        !put_checksum(p, len, s->tx_legacy_css, len, s->tx_legacy_cso, 0)) {
        log_guest_error("e1000: legacy checksum CSS %u CSO %u outside a %zu-byte frame",
                        s->tx_legacy_css, s->tx_legacy_cso, len);
    }
    if ((s->tx_popts & TXD_POPTS_IXSM) &&
        !put_checksum(p, len, c->ipcss, csum_end(c->ipcse, len), c->ipcso, 0)) {
        log_guest_error("e1000: IP checksum offsets outside a %zu-byte frame", len);
    }
    if ((s->tx_popts & TXD_POPTS_TXSM) &&
        !put_checksum(p, len, c->tucss, csum_end(c->tucse, len), c->tucso, 0)) {
        log_guest_error("e1000: TCP/UDP checksum offsets outside a %zu-byte frame", len);
    }
}

/* Every TSO field checked against the gathered frame before anything is built from it. */
static bool tso_valid(const struct tx_context *c, size_t len, uint8_t popts)
{
    size_t hdr = c->hdrlen;
    bool ipv4 = c->tucmd & TXD_TUCMD_IP;
    bool tcp = c->tucmd & TXD_TUCMD_TCP;

    if (c->mss == 0 || hdr == 0 || hdr >= len || len - hdr > TSO_MAX_PAYLOAD ||
        (len - hdr + c->mss - 1) / c->mss > TSO_MAX_SEGMENTS) {
        return false;
    }
    if ((size_t)c->ipcss + (ipv4 ? 20u : 40u) > hdr) {
        return false;
    }
    if ((size_t)c->tucss + (tcp ? 20u : 8u) > hdr || c->tucss < c->ipcss) {
        return false;
    }
    if ((popts & TXD_POPTS_IXSM) && (!ipv4 || (size_t)c->ipcso + 2 > hdr)) {
        return false;
    }
    if ((popts & TXD_POPTS_TXSM) && ((size_t)c->tucso + 2 > hdr || c->tucso < c->tucss)) {
        return false;
    }
    return true;
}

/* Fixes one segment's headers (SDM §3.5: lengths, IP ID, sequence, flags, checksums). */
static void tso_fix_segment(const struct tx_context *c, uint8_t *p, size_t len, uint32_t index,
                            uint32_t offset, bool last, uint8_t popts)
{
    size_t l4_len = len - c->tucss;

    if (c->tucmd & TXD_TUCMD_IP) {
        put_be16(p + c->ipcss + 2, (uint16_t)(len - c->ipcss));
        put_be16(p + c->ipcss + 4, (uint16_t)(get_be16(p + c->ipcss + 4) + index));
    } else {
        put_be16(p + c->ipcss + 4, (uint16_t)(len - c->ipcss - 40));
    }
    if (c->tucmd & TXD_TUCMD_TCP) {
        put_be32(p + c->tucss + 4, get_be32(p + c->tucss + 4) + offset);
        if (!last) {
            p[c->tucss + 13] &= (uint8_t)~0x09; /* FIN and PSH only on the last segment */
        }
    } else {
        put_be16(p + c->tucss + 4, (uint16_t)l4_len);
    }
    if (popts & TXD_POPTS_IXSM) {
        put_checksum(p, len, c->ipcss, csum_end(c->ipcse, len), c->ipcso, 0);
    }
    if (popts & TXD_POPTS_TXSM) {
        /* The driver left the pseudo-header sum without the length: add this segment's. */
        put_checksum(p, len, c->tucss, csum_end(c->tucse, len), c->tucso, (uint32_t)l4_len);
    }
}

static void tx_segment(struct e1000 *s)
{
    const struct tx_context *c = &s->tso_ctx;
    size_t len = s->tx_len, hdr = c->hdrlen;
    size_t payload = len - hdr;
    uint32_t index = 0;

    if (c->paylen != payload) {
        log_guest_error("e1000: TSO PAYLEN %" PRIu32 " but %zu bytes follow the header",
                        c->paylen, payload);
    }
    stat_add(s, E1000_TSCTC, 1);
    for (size_t off = 0; off < payload; off += c->mss, index++) {
        size_t chunk = XENDM_MIN((size_t)c->mss, payload - off);

        memcpy(s->tx_seg, s->tx_buf, hdr);
        memcpy(s->tx_seg + hdr, s->tx_buf + hdr + off, chunk);
        tso_fix_segment(c, s->tx_seg, hdr + chunk, index, (uint32_t)off,
                        off + chunk == payload, s->tx_popts);
        tx_emit(s, s->tx_seg, hdr + chunk);
    }
}

static void tx_frame_done(struct e1000 *s)
{
    if (s->tx_drop || s->tx_len == 0) {
        s->tx_dropped++;
    } else if (s->tx_tse) {
        if (tso_valid(&s->tso_ctx, s->tx_len, s->tx_popts)) {
            tx_segment(s);
        } else {
            log_guest_error("e1000: TSO context (HDRLEN %u MSS %u IPCSS %u TUCSS %u) does not "
                            "fit a %" PRIu32 "-byte frame: dropped", s->tso_ctx.hdrlen,
                            s->tso_ctx.mss, s->tso_ctx.ipcss, s->tso_ctx.tucss, s->tx_len);
            stat_add(s, E1000_TSCTFC, 1);
            s->tx_dropped++;
        }
    } else {
        tx_offload_checksums(s, s->tx_buf, s->tx_len);
        tx_emit(s, s->tx_buf, s->tx_len);
    }
    s->tx_len = 0;
    s->tx_started = false;
    s->tx_drop = false;
    s->tx_tse = false;
    s->tx_popts = 0;
    s->tx_legacy_ic = false;
    s->tx_vle = false;
}

/* Appends one buffer to the frame being gathered, within the frame's bound. */
static void tx_gather(struct e1000 *s, uint64_t addr, uint32_t len)
{
    uint32_t limit = s->tx_tse ? TX_BUF_SIZE : TX_MAX_FRAME;

    if (s->tx_drop || len == 0) {
        return;
    }
    if (len > limit || s->tx_len > limit - len) {
        log_guest_error("e1000: transmit frame beyond %" PRIu32 " bytes: dropped", limit);
        s->tx_drop = true;
        return;
    }
    if (guest_read(s->m, addr, s->tx_buf + s->tx_len, len) < 0) {
        log_guest_error("e1000: transmit buffer 0x%" PRIx64 "+%" PRIu32 " is not guest RAM",
                        addr, len);
        s->tx_drop = true;
        return;
    }
    s->tx_len += len;
}

static void tx_context_desc(struct e1000 *s, const uint8_t *d)
{
    uint32_t cmd_len = get_le32(d + 8);
    uint8_t tucmd = (uint8_t)(cmd_len >> 24);
    struct tx_context *c = (tucmd & TXD_TUCMD_TSE) ? &s->tso_ctx : &s->csum_ctx;

    c->ipcss = d[0];
    c->ipcso = d[1];
    c->ipcse = get_le16(d + 2);
    c->tucss = d[4];
    c->tucso = d[5];
    c->tucse = get_le16(d + 6);
    c->paylen = cmd_len & TXD_LEN_MASK;
    c->tucmd = tucmd;
    c->hdrlen = d[13];
    c->mss = get_le16(d + 14);
}

/* A data or legacy descriptor: its buffer joins the frame; EOP sends it. */
static void tx_data_desc(struct e1000 *s, const uint8_t *d, bool extended)
{
    uint32_t cmd_len = get_le32(d + 8);
    uint8_t cmd = (uint8_t)(cmd_len >> 24);
    bool first = !s->tx_started;
    uint32_t len;

    if (extended) {
        len = cmd_len & TXD_LEN_MASK;
        if (first) {
            /* POPTS and TSE are taken from the frame's first descriptor (SDM §3.3.7). */
            s->tx_popts = d[13];
            s->tx_tse = (cmd & TXD_DCMD_TSE) != 0;
        }
    } else {
        len = cmd_len & 0xffff;
        if (cmd & TXD_CMD_IC) {
            s->tx_legacy_ic = true;
            s->tx_legacy_cso = d[10];
            s->tx_legacy_css = d[13];
        }
    }
    s->tx_started = true;
    if (cmd & TXD_CMD_VLE) {
        s->tx_vle = true;
        s->tx_vlan = get_le16(d + 14);
    }
    tx_gather(s, get_le64(d), len);
    if (cmd & TXD_CMD_EOP) {
        tx_frame_done(s);
    }
}

/* Processes one descriptor; returns its command byte (RS, IDE). */
static uint8_t tx_desc(struct e1000 *s, const uint8_t *d)
{
    uint32_t cmd_len = get_le32(d + 8);
    uint8_t cmd = (uint8_t)(cmd_len >> 24);

    if (!(cmd & TXD_CMD_DEXT)) {
        tx_data_desc(s, d, false);
        return cmd;
    }
    switch ((cmd_len >> TXD_DTYP_SHIFT) & 0xf) {
    case TXD_DTYP_CONTEXT:
        tx_context_desc(s, d);
        break;
    case TXD_DTYP_DATA:
        tx_data_desc(s, d, true);
        break;
    default:
        log_guest_error("e1000: transmit descriptor type %u", (cmd_len >> TXD_DTYP_SHIFT) & 0xf);
        break;
    }
    return cmd;
}

static bool tx_ring_ok(struct e1000 *s, uint32_t n)
{
    if (n == 0) {
        return false;
    }
    if (s->tdh >= n || s->tdt >= n) {
        log_guest_error("e1000: TDH %" PRIu32 " / TDT %" PRIu32 " beyond a %" PRIu32
                        "-descriptor ring", s->tdh, s->tdt, n);
        return false;
    }
    return true;
}

/* Walks TDH to TDT, at most once around the ring. */
static void tx_run(struct e1000 *s)
{
    uint32_t n = ring_count(s->tdlen);
    uint64_t base = ring_base(s->tdbal, s->tdbah);
    bool wrote_back = false, delayed = false;

    if (!(s->tctl & TCTL_EN) || !dma_allowed(s) || !tx_ring_ok(s, n)) {
        return;
    }
    s->tx_turn_frames = 0;
    for (uint32_t done = 0; s->tdh != s->tdt && done < n; done++) {
        uint64_t at = base + (uint64_t)s->tdh * E1000_DESC_SIZE;
        uint8_t d[E1000_DESC_SIZE], cmd;

        if (guest_read(s->m, at, d, sizeof(d)) < 0) {
            log_guest_error("e1000: transmit descriptor at 0x%" PRIx64 " is not guest RAM", at);
            break; /* a master abort: the ring stops here until the next TDT write */
        }
        cmd = tx_desc(s, d);
        if (cmd & TXD_CMD_RS) {
            uint8_t status = d[12] | TXD_STAT_DD;
            guest_write(s->m, at + 12, &status, 1);
            wrote_back = true;
            delayed |= (cmd & TXD_CMD_IDE) != 0;
        }
        s->tdh = (s->tdh + 1) % n;
        if (s->tx_turn_frames >= TX_FRAMES_PER_TURN && s->tdh != s->tdt) {
            timer_arm_ns(s->tx_timer, 0);
            break;
        }
    }
    if (wrote_back) {
        if (delayed) {
            delayed_event(s, &s->tx_delay, ICR_TXDW, plain_get(s, E1000_TIDV) & 0xffff,
                          plain_get(s, E1000_TADV) & 0xffff);
        } else {
            delayed_fire(s, &s->tx_delay, ICR_TXDW);
        }
    }
    if (s->tdh == s->tdt) {
        raise_cause(s, ICR_TXQE);
    }
}

static void tx_timer_cb(void *opaque)
{
    tx_run(opaque);
}

/* ---- receive ---- */

static uint32_t rx_buffer_size(uint32_t rctl)
{
    static const uint32_t normal[4] = {2048, 1024, 512, 256};
    static const uint32_t extended[4] = {2048, 16384, 8192, 4096}; /* 00 with BSEX: reserved */
    unsigned bsize = (rctl >> RCTL_BSIZE_SHIFT) & 3;

    return (rctl & RCTL_BSEX) ? extended[bsize] : normal[bsize];
}

/* SDM §13.5.1 MO: which 12 bits of the destination index the multicast table. */
static bool mta_match(const struct e1000 *s, const uint8_t *dst)
{
    static const unsigned shift[4] = {4, 3, 2, 0};
    unsigned mo = (s->rctl >> RCTL_MO_SHIFT) & 3;
    uint32_t hash = ((uint32_t)dst[4] >> shift[mo] | (uint32_t)dst[5] << (8 - shift[mo])) & 0xfff;

    return (s->mta[hash >> 5] >> (hash & 31)) & 1;
}

static bool ra_match(const struct e1000 *s, const uint8_t *dst)
{
    for (unsigned i = 0; i < E1000_RA_ENTRIES; i++) {
        uint32_t lo = s->ra[2 * i], hi = s->ra[2 * i + 1];
        uint8_t a[MAC_LEN] = {(uint8_t)lo, (uint8_t)(lo >> 8), (uint8_t)(lo >> 16),
                              (uint8_t)(lo >> 24), (uint8_t)hi, (uint8_t)(hi >> 8)};

        if ((hi & RAH_AV) && memcmp(a, dst, MAC_LEN) == 0) {
            return true;
        }
    }
    return false;
}

static bool rx_filter(struct e1000 *s, const uint8_t *dst)
{
    static const uint8_t bcast[MAC_LEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

    if (memcmp(dst, bcast, MAC_LEN) == 0) {
        return (s->rctl & (RCTL_BAM | RCTL_MPE)) != 0;
    }
    if (dst[0] & 1) {
        return (s->rctl & RCTL_MPE) || mta_match(s, dst);
    }
    return (s->rctl & RCTL_UPE) || ra_match(s, dst);
}

/* Receive checksum status (SDM §3.2.9): IPv4 header and TCP/UDP over IPv4 when enabled. */
static void rx_checksum(const struct e1000 *s, const uint8_t *p, size_t len, uint8_t *status,
                        uint8_t *errors)
{
    uint32_t rxcsum = plain_get(s, E1000_RXCSUM);
    size_t ihl, total, l4_len;
    uint8_t proto;
    uint32_t sum;

    *status |= RXD_STAT_IXSM;
    if (!(rxcsum & (RXCSUM_IPOFLD | RXCSUM_TUOFLD)) || len < ETH_HLEN + 20 ||
        get_be16(p + 12) != 0x0800 || (p[ETH_HLEN] >> 4) != 4) {
        return;
    }
    ihl = (size_t)(p[ETH_HLEN] & 0xf) * 4;
    total = get_be16(p + ETH_HLEN + 2);
    if (ihl < 20 || total < ihl || ETH_HLEN + total > len) {
        return;
    }
    *status &= (uint8_t)~RXD_STAT_IXSM;
    if (rxcsum & RXCSUM_IPOFLD) {
        *status |= RXD_STAT_IPCS;
        if (csum_fold(csum_add(0, p + ETH_HLEN, ihl)) != 0xffff) {
            *errors |= RXD_ERR_IPE;
        }
    }
    proto = p[ETH_HLEN + 9];
    if (!(rxcsum & RXCSUM_TUOFLD) || (proto != 6 && proto != 17) ||
        (get_be16(p + ETH_HLEN + 6) & 0x3fff) != 0) {
        return; /* not TCP/UDP, or a fragment: nothing to say */
    }
    l4_len = total - ihl;
    if (proto == 17 && (l4_len < 8 || get_be16(p + ETH_HLEN + ihl + 6) == 0)) {
        return; /* UDP without a checksum */
    }
    sum = csum_add(0, p + ETH_HLEN + 12, 8) + proto + (uint32_t)l4_len;
    sum = csum_add(sum, p + ETH_HLEN + ihl, l4_len);
    *status |= RXD_STAT_TCPCS;
    if (csum_fold(sum) != 0xffff) {
        *errors |= RXD_ERR_TCPE;
    }
}

/* The RX descriptors the driver gave the device: RDH up to, not including, RDT. */
static uint32_t rx_free_descs(const struct e1000 *s, uint32_t n)
{
    return (s->rdt + n - s->rdh) % n;
}

static void rx_stats(struct e1000 *s, const uint8_t *dst, size_t len_with_fcs)
{
    if (dst[0] & 1) {
        bool bcast = memcmp(dst, "\xff\xff\xff\xff\xff\xff", MAC_LEN) == 0;
        stat_add(s, bcast ? E1000_BPRC : E1000_MPRC, 1);
    }
    stat_add(s, E1000_GPRC, 1);
    stat_add(s, E1000_TPR, 1);
    stat_add64(s, E1000_GORCL, len_with_fcs);
    stat_add64(s, E1000_TORL, len_with_fcs);
    stat_size_bucket(s, E1000_PRC64, len_with_fcs);
}

/*
 * Writes a frame over descriptors from RDH. The descriptor's status goes last, after its
 * length and the buffer, so a driver polling DD never sees a half-written descriptor.
 */
static void rx_place(struct e1000 *s, const uint8_t *p, size_t len, uint32_t n, uint32_t bufsize,
                     uint8_t status, uint8_t errors, uint16_t special)
{
    uint64_t base = ring_base(s->rdbal, s->rdbah);
    uint16_t csum = 0;
    size_t done = 0;
    size_t pcss = plain_get(s, E1000_RXCSUM) & RXCSUM_PCSS_MASK;
    size_t data_len = len - ((s->rctl & RCTL_SECRC) ? 0 : ETH_FCS_LEN);

    /* The packet checksum from PCSS to the end, the FCS left out (SDM §3.2.3). */
    if (pcss < data_len) {
        csum = csum_fold(csum_add(0, p + pcss, data_len - pcss));
    }
    while (done < len) {
        uint64_t at = base + (uint64_t)s->rdh * E1000_DESC_SIZE;
        size_t chunk = XENDM_MIN((size_t)bufsize, len - done);
        uint8_t d[E1000_DESC_SIZE], tail[3];
        bool eop = done + chunk == len;

        if (guest_read(s->m, at, d, sizeof(d)) < 0) {
            log_guest_error("e1000: receive descriptor at 0x%" PRIx64 " is not guest RAM", at);
            s->rx_dropped++;
            return; /* the frame ends here; RDH stays on the unreadable descriptor */
        }
        if (guest_write(s->m, get_le64(d), p + done, chunk) < 0) {
            log_guest_error("e1000: receive buffer 0x%" PRIx64 " is not guest RAM",
                            get_le64(d));
        }
        put_le16(d + 8, (uint16_t)chunk);
        put_le16(d + 10, csum);
        guest_write(s->m, at + 8, d + 8, 4);
        tail[0] = eop ? errors : 0;
        put_le16(tail + 1, special);
        guest_write(s->m, at + 13, tail, 3);
        d[12] = (uint8_t)(RXD_STAT_DD | (eop ? RXD_STAT_EOP | status : 0));
        guest_write(s->m, at + 12, &d[12], 1);
        done += chunk;
        s->rdh = (s->rdh + 1) % n;
    }
}

/* Pads, strips the VLAN tag into `special` (CTRL.VME), appends the FCS (no RCTL.SECRC). */
static size_t rx_prepare(struct e1000 *s, const uint8_t *frame, size_t len, uint8_t *status,
                         uint16_t *special)
{
    uint8_t *p = s->rx_buf;

    *special = 0;
    if ((s->ctrl & CTRL_VME) && len >= ETH_HLEN + VLAN_TAG_LEN &&
        get_be16(frame + 12) == (uint16_t)plain_get(s, E1000_VET)) {
        *status |= RXD_STAT_VP;
        *special = get_be16(frame + 14);
        memcpy(p, frame, 12);
        memcpy(p + 12, frame + 16, len - 16);
        len -= VLAN_TAG_LEN;
    } else {
        memcpy(p, frame, len);
    }
    if (len < ETH_ZLEN) {
        memset(p + len, 0, ETH_ZLEN - len);
        len = ETH_ZLEN;
    }
    if (!(s->rctl & RCTL_SECRC)) {
        uint32_t fcs = eth_crc32(p, len);
        for (unsigned i = 0; i < ETH_FCS_LEN; i++) {
            p[len + i] = (uint8_t)(fcs >> (8 * i));
        }
        len += ETH_FCS_LEN;
    }
    return len;
}

/* Refuses a frame for want of descriptors: RXO and RNBC once, the backend keeps it. */
static bool rx_hold(struct e1000 *s)
{
    if (!s->rx_held) {
        s->rx_held = true;
        stat_add(s, E1000_RNBC, 1);
        raise_cause(s, ICR_RXO);
    }
    return false;
}

static bool rx_drop(struct e1000 *s)
{
    s->rx_dropped++;
    return true;
}

static bool e1000_receive(void *opaque, const uint8_t *frame, size_t len)
{
    struct e1000 *s = opaque;
    uint32_t n = ring_count(s->rdlen);
    uint32_t bufsize = rx_buffer_size(s->rctl);
    size_t max = (s->rctl & RCTL_LPE) ? RX_MAX_LPE : RX_MAX_NO_LPE;
    uint8_t status = 0, errors = 0;
    uint16_t special;
    uint32_t needed, thresh;
    size_t out_len;

    if (s->nb != NULL && net_backend_has_vnet_hdr(s->nb)) {
        struct net_vnet_hdr hdr;
        if (len <= NET_VNET_HDR_LEN) {
            return rx_drop(s);
        }
        memcpy(&hdr, frame, NET_VNET_HDR_LEN);
        if (hdr.gso_type != NET_HDR_GSO_NONE) {
            return rx_drop(s); /* no offload was accepted: the tap should not send it */
        }
        frame += NET_VNET_HDR_LEN;
        len -= NET_VNET_HDR_LEN;
    }
    if (!(s->rctl & RCTL_EN) || len < ETH_HLEN) {
        return rx_drop(s);
    }
    if (len > max) {
        stat_add(s, E1000_ROC, 1);
        return rx_drop(s);
    }
    if (!rx_filter(s, frame)) {
        return rx_drop(s);
    }
    if (!dma_allowed(s)) {
        return rx_hold(s);
    }
    if (n == 0 || s->rdh >= n || s->rdt >= n) {
        if (n != 0) {
            log_guest_error("e1000: RDH %" PRIu32 " / RDT %" PRIu32 " beyond a %" PRIu32
                            "-descriptor ring", s->rdh, s->rdt, n);
        }
        return rx_hold(s);
    }
    out_len = rx_prepare(s, frame, len, &status, &special);
    rx_checksum(s, s->rx_buf, out_len, &status, &errors);
    needed = (uint32_t)((out_len + bufsize - 1) / bufsize);
    if (needed > n - 1) {
        log_guest_error("e1000: a %zu-byte frame needs %" PRIu32 " descriptors, the ring has %"
                        PRIu32, out_len, needed, n);
        return rx_drop(s); /* it could never fit: drop rather than hold forever */
    }
    if (rx_free_descs(s, n) < needed) {
        return rx_hold(s);
    }
    rx_place(s, s->rx_buf, out_len, n, bufsize, status, errors, special);
    rx_stats(s, s->rx_buf, out_len + ((s->rctl & RCTL_SECRC) ? ETH_FCS_LEN : 0));
    s->rx_held = false;
    /* RDMTS (SDM §13.4.22): free descriptors at or below 1/2, 1/4 or 1/8 of the ring. */
    thresh = n >> (((s->rctl >> RCTL_RDMTS_SHIFT) & 3) + 1);
    if (rx_free_descs(s, n) <= thresh) {
        raise_cause(s, ICR_RXDMT0);
    }
    if (plain_get(s, E1000_RSRPD) != 0 && out_len < (plain_get(s, E1000_RSRPD) & 0xfff)) {
        raise_cause(s, ICR_SRPD);
    }
    delayed_event(s, &s->rx_delay, ICR_RXT0, plain_get(s, E1000_RDTR) & 0xffff,
                  plain_get(s, E1000_RADV) & 0xffff);
    return true;
}

static const struct net_client_ops e1000_client = {
    .receive = e1000_receive,
};

/* The driver gave room (RDT, RCTL.EN, bus master): a refused frame comes again. */
static void rx_resume(struct e1000 *s)
{
    if (s->rx_held && s->nb != NULL) {
        s->rx_held = false;
        net_backend_rx_resume(s->nb);
    }
}

/* ---- reset ---- */

static void mac_reset(struct e1000 *s)
{
    /* qemu-xen's CTRL and STATUS, so that a guest moved from it reads the same values. */
    s->ctrl = CTRL_SWDPIN2 | CTRL_SWDPIN0 | CTRL_SPD_1000 | CTRL_SLU;
    s->status = STATUS_RESERVED31 | STATUS_GIO_MASTER_EN | STATUS_ASDV | STATUS_MTXCKOK |
                STATUS_SPEED_1000 | STATUS_FD | STATUS_LU;
    s->eecd = EECD_PRES | EECD_FWE_DIS;
    s->eerd = 0;
    s->mdic = 0;
    s->icr = s->ims = 0;
    s->rctl = s->tctl = 0;
    s->rdbal = s->rdbah = s->rdlen = s->rdh = s->rdt = 0;
    s->tdbal = s->tdbah = s->tdlen = s->tdh = s->tdt = 0;
    for (unsigned i = 0; i < PLAIN_REGS; i++) {
        s->plain[i] = plain_regs[i].reset;
    }
    memset(s->mta, 0, sizeof(s->mta));
    memset(s->ra, 0, sizeof(s->ra));
    memset(s->vfta, 0, sizeof(s->vfta));
    memset(s->stats, 0, sizeof(s->stats));
    /* RAL0/RAH0 come from the EEPROM at reset (SDM §5.6.1). */
    s->ra[0] = (uint32_t)s->mac[0] | (uint32_t)s->mac[1] << 8 | (uint32_t)s->mac[2] << 16 |
               (uint32_t)s->mac[3] << 24;
    s->ra[1] = (uint32_t)s->mac[4] | (uint32_t)s->mac[5] << 8 | RAH_AV;
    eeprom_standby(s);
    phy_reset(s);
    memset(&s->csum_ctx, 0, sizeof(s->csum_ctx));
    memset(&s->tso_ctx, 0, sizeof(s->tso_ctx));
    s->tx_len = 0;
    s->tx_started = s->tx_drop = s->tx_tse = s->tx_legacy_ic = s->tx_vle = false;
    s->tx_popts = 0;
    timer_cancel(s->rx_delay.timer);
    timer_cancel(s->tx_delay.timer);
    timer_cancel(s->itr_timer);
    timer_cancel(s->tx_timer);
    s->rx_delay.pending = s->tx_delay.pending = false;
    s->last_irq_ns = 0;
    set_irq_level(s, false);
    /* A frame refused from the old driver comes again (and is dropped while RX is off). */
    if (s->rx_held) {
        rx_resume(s);
    }
}

/* ---- register access ---- */

static uint32_t stats_read(struct e1000 *s, uint32_t offset)
{
    unsigned i = (offset - E1000_STATS_FIRST) / 4;
    uint32_t v = s->stats[i];

    switch (offset) {
    case E1000_GORCL:
    case E1000_GOTCL:
    case E1000_TORL:
    case E1000_TOTL:
        return v; /* the pair clears when its high half is read (SDM §13.7) */
    case E1000_GORCH:
    case E1000_GOTCH:
    case E1000_TORH:
    case E1000_TOTH:
        s->stats[i - 1] = 0;
        break;
    default:
        break;
    }
    s->stats[i] = 0;
    return v;
}

static uint32_t reg_read(struct e1000 *s, uint32_t offset)
{
    uint32_t v;
    int i;

    switch (offset) {
    case E1000_CTRL:
        return s->ctrl;
    case E1000_STATUS:
        return s->status;
    case E1000_EECD:
        return eecd_read(s);
    case E1000_EERD:
        return s->eerd;
    case E1000_MDIC:
        return s->mdic;
    case E1000_ICR:
        /* Read to clear (SDM §13.4.17); the line drops with it. */
        v = s->icr;
        s->icr = 0;
        update_irq(s);
        return v;
    case E1000_IMS:
        return s->ims;
    case E1000_RCTL:
        return s->rctl;
    case E1000_TCTL:
        return s->tctl;
    case E1000_RDBAL:
        return s->rdbal;
    case E1000_RDBAH:
        return s->rdbah;
    case E1000_RDLEN:
        return s->rdlen;
    case E1000_RDH:
        return s->rdh;
    case E1000_RDT:
        return s->rdt;
    case E1000_TDBAL:
        return s->tdbal;
    case E1000_TDBAH:
        return s->tdbah;
    case E1000_TDLEN:
        return s->tdlen;
    case E1000_TDH:
        return s->tdh;
    case E1000_TDT:
        return s->tdt;
    default:
        break;
    }
    if (offset >= E1000_MTA && offset < E1000_MTA + 4 * E1000_MTA_REGS) {
        return s->mta[(offset - E1000_MTA) / 4];
    }
    if (offset >= E1000_RA && offset < E1000_RA + 8 * E1000_RA_ENTRIES) {
        return s->ra[(offset - E1000_RA) / 4];
    }
    if (offset >= E1000_VFTA && offset < E1000_VFTA + 4 * E1000_VFTA_REGS) {
        return s->vfta[(offset - E1000_VFTA) / 4];
    }
    if (offset >= E1000_STATS_FIRST && offset <= E1000_STATS_LAST) {
        return stats_read(s, offset);
    }
    i = plain_index(offset);
    /* Wake-up, manageability and the rest: read as zero (no firmware behind them). */
    return i < 0 ? 0 : s->plain[i];
}

static void ctrl_write(struct e1000 *s, uint32_t val)
{
    if (val & CTRL_RST) {
        /* Software reset (SDM §13.4.1): everything but PCI configuration, self-clearing. */
        mac_reset(s);
        return;
    }
    if (val & CTRL_PHY_RST) {
        phy_reset(s);
    }
    s->ctrl = val & ~(CTRL_RST | CTRL_PHY_RST);
    /* The link stays up whatever the driver forces: the backend is always connected. */
}

static void ring_reg_write(struct e1000 *s, uint32_t offset, uint32_t val)
{
    switch (offset) {
    case E1000_RDBAL:
        s->rdbal = val & ~0xfu;
        break;
    case E1000_RDBAH:
        s->rdbah = val;
        break;
    case E1000_RDLEN:
        s->rdlen = val & E1000_LEN_MASK;
        break;
    case E1000_RDH:
        s->rdh = val & 0xffff;
        break;
    case E1000_RDT:
        s->rdt = val & 0xffff;
        break;
    case E1000_TDBAL:
        s->tdbal = val & ~0xfu;
        break;
    case E1000_TDBAH:
        s->tdbah = val;
        break;
    case E1000_TDLEN:
        s->tdlen = val & E1000_LEN_MASK;
        break;
    case E1000_TDH:
        s->tdh = val & 0xffff;
        break;
    case E1000_TDT:
        s->tdt = val & 0xffff;
        tx_run(s);
        break;
    default:
        break;
    }
}

static void table_or_plain_write(struct e1000 *s, uint32_t offset, uint32_t val)
{
    int i;

    if (offset >= E1000_MTA && offset < E1000_MTA + 4 * E1000_MTA_REGS) {
        s->mta[(offset - E1000_MTA) / 4] = val;
    } else if (offset >= E1000_RA && offset < E1000_RA + 8 * E1000_RA_ENTRIES) {
        unsigned r = (offset - E1000_RA) / 4;
        s->ra[r] = (r & 1) ? val & (RAH_AV | 0x3ffff) : val;
    } else if (offset >= E1000_VFTA && offset < E1000_VFTA + 4 * E1000_VFTA_REGS) {
        s->vfta[(offset - E1000_VFTA) / 4] = val;
    } else if ((i = plain_index(offset)) >= 0) {
        s->plain[i] = (s->plain[i] & ~plain_regs[i].wmask) | (val & plain_regs[i].wmask);
        if (offset == E1000_RDTR && (val & RDTR_FPD) && s->rx_delay.pending) {
            delayed_fire(s, &s->rx_delay, ICR_RXT0); /* flush partial descriptor block */
        }
    }
}

static void reg_write(struct e1000 *s, uint32_t offset, uint32_t val)
{
    uint32_t old;

    switch (offset) {
    case E1000_CTRL:
        ctrl_write(s, val);
        break;
    case E1000_EECD:
        eecd_write(s, val);
        break;
    case E1000_EERD:
        eerd_write(s, val);
        break;
    case E1000_MDIC:
        mdic_write(s, val);
        break;
    case E1000_ICR:
        s->icr &= ~val; /* write 1 to clear */
        update_irq(s);
        break;
    case E1000_ICS:
        raise_cause(s, val & ICR_VALID);
        break;
    case E1000_IMS:
        s->ims |= val & ICR_VALID;
        update_irq(s);
        break;
    case E1000_IMC:
        s->ims &= ~val;
        update_irq(s);
        break;
    case E1000_RCTL:
        old = s->rctl;
        s->rctl = val;
        if (!(old & RCTL_EN) && (val & RCTL_EN)) {
            rx_resume(s);
        }
        break;
    case E1000_TCTL:
        old = s->tctl;
        s->tctl = val;
        if (!(old & TCTL_EN) && (val & TCTL_EN)) {
            tx_run(s);
        }
        break;
    case E1000_RDBAL: case E1000_RDBAH: case E1000_RDLEN: case E1000_RDH: case E1000_RDT:
        ring_reg_write(s, offset, val);
        rx_resume(s); /* RDT moved, or a broken ring was mended: a refused frame comes again */
        break;
    case E1000_TDBAL: case E1000_TDBAH: case E1000_TDLEN: case E1000_TDH: case E1000_TDT:
        ring_reg_write(s, offset, val);
        break;
    case E1000_STATUS:
        break; /* read-only */
    default:
        table_or_plain_write(s, offset, val);
        break;
    }
}

static uint64_t mmio_read(void *opaque, uint64_t offset, unsigned size)
{
    (void)size;
    return reg_read(opaque, (uint32_t)offset);
}

static void mmio_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    (void)size;
    reg_write(opaque, (uint32_t)offset, (uint32_t)value);
}

static const struct region_ops mmio_ops = {
    .read = mmio_read,
    .write = mmio_write,
    .min_access = 4,
    .max_access = 4,
};

/* BAR1 (SDM §13.3): IOADDR at 0, IODATA at 4; the rest of the window is reserved. */
static uint64_t io_read(void *opaque, uint64_t offset, unsigned size)
{
    struct e1000 *s = opaque;

    (void)size;
    if (offset == E1000_IOADDR) {
        return s->ioaddr;
    }
    if (offset == E1000_IODATA) {
        return reg_read(s, s->ioaddr & E1000_IOADDR_MASK);
    }
    return 0;
}

static void io_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct e1000 *s = opaque;

    (void)size;
    if (offset == E1000_IOADDR) {
        s->ioaddr = (uint32_t)value & E1000_IOADDR_MASK;
    } else if (offset == E1000_IODATA) {
        reg_write(s, s->ioaddr & E1000_IOADDR_MASK, (uint32_t)value);
    }
}

static const struct region_ops io_ops = {
    .read = io_read,
    .write = io_write,
    .min_access = 4,
    .max_access = 4,
};

/* ---- PCI ---- */

static void e1000_config_write(struct pci_device *d, void *opaque, uint32_t offset,
                               uint32_t value, unsigned size)
{
    struct e1000 *s = opaque;

    (void)d;
    (void)value;
    /* Bus mastering turned on: what waited for DMA may go now. */
    if (offset <= PCI_COMMAND && offset + size > PCI_COMMAND && dma_allowed(s)) {
        rx_resume(s);
        tx_run(s);
    }
}

static void e1000_pci_reset(struct pci_device *d, void *opaque)
{
    (void)d;
    mac_reset(opaque);
}

static const struct pci_device_ops e1000_pci_ops = {
    .config_write = e1000_config_write,
    .reset = e1000_pci_reset,
};

/* ---- PV unplug ---- */

static void e1000_unplug(void *opaque, unsigned kind)
{
    struct e1000 *s = opaque;

    (void)kind;
    if (s->unplugged) {
        return;
    }
    log_info("e1000: unplugged by the guest's PV drivers");
    set_irq_level(s, false);
    timer_cancel(s->itr_timer);
    timer_cancel(s->tx_timer);
    timer_cancel(s->rx_delay.timer);
    timer_cancel(s->tx_delay.timer);
    if (s->nb != NULL) {
        net_backend_detach(s->nb);
        s->nb = NULL;
    }
    pci_device_remove(s->pci);
    s->pci = NULL;
    s->unplugged = true;
    s->rx_held = false;
}

/* ---- life cycle ---- */

static bool parse_props(struct e1000 *s, struct kv_list *props, GError **err)
{
    const char *netdev = kv_get(props, "netdev");
    const char *mac = kv_get(props, "mac");

    if (!net_nic_mac(mac, s->mac, err)) {
        return false;
    }
    if (netdev == NULL) {
        log_warn("e1000: no netdev=: frames sent go nowhere");
        return true;
    }
    s->nb = machine_find_netdev(s->m, netdev);
    if (s->nb == NULL) {
        g_set_error(err, E1000_ERROR, 0, "netdev=%s: no -netdev with that id", netdev);
        return false;
    }
    if (!net_backend_attach(s->nb, &e1000_client, s, err)) {
        s->nb = NULL;
        return false;
    }
    /* The driver gets whole frames with checksums complete: the tap offloads nothing. */
    net_backend_set_offloads(s->nb, 0);
    return true;
}

static bool setup_pci(struct e1000 *s, struct kv_list *props, GError **err)
{
    static const struct pci_device_id id = {
        .vendor_id = 0x8086,
        .device_id = 0x100e,
        .revision = 0x03,
        .class_code = 0x020000,
        .interrupt_pin = 1,
    };
    struct pci_bus *bus = machine_pci_bus(s->m);
    int devfn;

    if (bus == NULL) {
        g_set_error(err, E1000_ERROR, 0, "e1000 needs a PCI bus");
        return false;
    }
    if (!pci_devfn_from_props(props, &devfn, err)) {
        return false;
    }
    s->pci = pci_device_add(bus, devfn, "e1000", &id, &e1000_pci_ops, s, err);
    if (s->pci == NULL) {
        return false;
    }
    if (pci_register_bar(s->pci, 0, PCI_BAR_MEM32, E1000_MMIO_SIZE, &mmio_ops, s) < 0 ||
        pci_register_bar(s->pci, 1, PCI_BAR_IO, E1000_IO_SIZE, &io_ops, s) < 0) {
        g_set_error(err, E1000_ERROR, 0, "e1000: cannot register its BARs");
        return false;
    }
    /* iPXE's image, as QEMU's e1000 has by default: SeaBIOS can boot from the network. */
    return pci_load_romfile(s->pci, props, "efi-e1000.rom", err);
}

static void e1000_destroy(void *dev)
{
    struct e1000 *s = dev;

    if (s == NULL) {
        return;
    }
    if (s->unplug_registered) {
        machine_unregister_unplug(s->m, s);
    }
    if (s->nb != NULL) {
        net_backend_detach(s->nb);
    }
    if (s->pci != NULL) {
        pci_device_remove(s->pci);
    }
    timer_free(s->itr_timer);
    timer_free(s->tx_timer);
    timer_free(s->rx_delay.timer);
    timer_free(s->tx_delay.timer);
    g_free(s->tx_buf);
    g_free(s->tx_seg);
    g_free(s->rx_buf);
    g_free(s);
}

static void *e1000_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct e1000 *s = g_new0(struct e1000, 1);

    s->m = m;
    s->itr_timer = timer_new(itr_timer_cb, s);
    s->tx_timer = timer_new(tx_timer_cb, s);
    s->rx_delay.timer = timer_new(rx_delay_cb, s);
    s->tx_delay.timer = timer_new(tx_delay_cb, s);
    s->tx_buf = g_malloc(TX_BUF_SIZE);
    s->tx_seg = g_malloc(TX_BUF_SIZE);
    s->rx_buf = g_malloc(RX_BUF_SIZE);
    if (!parse_props(s, props, err) || !setup_pci(s, props, err)) {
        goto fail;
    }
    eeprom_init(s);
    mac_reset(s);
    machine_register_unplug(m, UNPLUG_KIND_BIT(UNPLUG_NIC), e1000_unplug, s);
    s->unplug_registered = true;
    return s;

fail:
    e1000_destroy(s);
    return NULL;
}

static void e1000_reset(void *dev)
{
    struct e1000 *s = dev;

    /* The function's own reset comes through the bus (e1000_pci_reset); an unplugged
     * device has none left. */
    if (s->pci == NULL) {
        mac_reset(s);
    }
}

/*
 * Saved: the registers, tables, PHY, EEPROM state and offload contexts. A frame half gathered
 * (a descriptor without EOP at TDT) is not: drivers never leave one at a save point. Delayed
 * interrupts pending at the save fire at once after the load.
 */
static void e1000_post_load(void *dev)
{
    struct e1000 *s = dev;

    if (s->unplugged && s->pci != NULL) {
        /* Unplugged before the save: the restored guest's PV drivers will not ask again. */
        s->unplugged = false;
        e1000_unplug(s, UNPLUG_NIC);
        return;
    }
    s->tx_len = 0;
    s->tx_started = s->tx_drop = s->tx_tse = s->tx_legacy_ic = s->tx_vle = false;
    s->irq_level = false;
    s->last_irq_ns = 0;
    if (s->pci != NULL) {
        pci_set_irq(s->pci, false);
    }
    if (s->rx_delay.pending) {
        delayed_fire(s, &s->rx_delay, ICR_RXT0);
    }
    if (s->tx_delay.pending) {
        delayed_fire(s, &s->tx_delay, ICR_TXDW);
    }
    update_irq(s);
    s->rx_held = true; /* ask the backend for whatever it kept */
    rx_resume(s);
    if (s->tdh != s->tdt) {
        timer_arm_ns(s->tx_timer, 0); /* a transmit turn was under way at the save */
    }
}

#define CTX_FIELDS(ctx)                                                                           \
    VMSTATE_U8(struct e1000, ctx.ipcss), VMSTATE_U8(struct e1000, ctx.ipcso),                    \
        VMSTATE_U16(struct e1000, ctx.ipcse), VMSTATE_U8(struct e1000, ctx.tucss),              \
        VMSTATE_U8(struct e1000, ctx.tucso), VMSTATE_U16(struct e1000, ctx.tucse),              \
        VMSTATE_U8(struct e1000, ctx.tucmd), VMSTATE_U8(struct e1000, ctx.hdrlen),              \
        VMSTATE_U16(struct e1000, ctx.mss), VMSTATE_U32(struct e1000, ctx.paylen)

#define U32_ARRAY(m, n) VMSTATE_FIELD_FULL(#m, struct e1000, m, VMSTATE_TYPE_U32, 4, n, 0, 0)
#define U16_ARRAY(m, n) VMSTATE_FIELD_FULL(#m, struct e1000, m, VMSTATE_TYPE_U16, 2, n, 0, 0)

static const struct vmstate_field e1000_fields[] = {
    VMSTATE_U8_ARRAY(struct e1000, mac, MAC_LEN),
    VMSTATE_U32(struct e1000, ctrl), VMSTATE_U32(struct e1000, status),
    VMSTATE_U32(struct e1000, eecd), VMSTATE_U32(struct e1000, eerd),
    VMSTATE_U32(struct e1000, mdic), VMSTATE_U32(struct e1000, icr),
    VMSTATE_U32(struct e1000, ims), VMSTATE_U32(struct e1000, rctl),
    VMSTATE_U32(struct e1000, tctl), VMSTATE_U32(struct e1000, rdbal),
    VMSTATE_U32(struct e1000, rdbah), VMSTATE_U32(struct e1000, rdlen),
    VMSTATE_U32(struct e1000, rdh), VMSTATE_U32(struct e1000, rdt),
    VMSTATE_U32(struct e1000, tdbal), VMSTATE_U32(struct e1000, tdbah),
    VMSTATE_U32(struct e1000, tdlen), VMSTATE_U32(struct e1000, tdh),
    VMSTATE_U32(struct e1000, tdt), VMSTATE_U32(struct e1000, ioaddr),
    U32_ARRAY(plain, PLAIN_REGS),
    U32_ARRAY(mta, E1000_MTA_REGS),
    U32_ARRAY(ra, 2 * E1000_RA_ENTRIES),
    U32_ARRAY(vfta, E1000_VFTA_REGS),
    U32_ARRAY(stats, E1000_STATS_REGS),
    U16_ARRAY(phy, PHY_REGS),
    U16_ARRAY(eeprom, EEPROM_WORDS),
    VMSTATE_U32_MAX(struct e1000, ee_bits_in, 64), VMSTATE_U32(struct e1000, ee_shift),
    VMSTATE_U32_MAX(struct e1000, ee_out_pos, EEPROM_WORDS * 16),
    VMSTATE_BOOL(struct e1000, ee_reading), VMSTATE_U8_MAX(struct e1000, ee_addr, 63),
    VMSTATE_BOOL(struct e1000, rx_delay.pending), VMSTATE_BOOL(struct e1000, tx_delay.pending),
    VMSTATE_BOOL(struct e1000, unplugged),
    CTX_FIELDS(csum_ctx),
    CTX_FIELDS(tso_ctx),
    VMSTATE_END,
};

static const struct vmstate_desc e1000_vmstate = {
    .name = "e1000",
    .version = 1,
    .fields = e1000_fields,
    .post_load = e1000_post_load,
};

static const struct device_type e1000_type = {
    .name = "e1000",
    .description = "Intel 82540EM Gigabit Ethernet (8086:100e) on a -netdev",
    .user_creatable = true,
    .create = e1000_create,
    .reset = e1000_reset,
    .destroy = e1000_destroy,
    .vmstate = &e1000_vmstate,
};
DEVICE_TYPE_REGISTER(e1000_type);
