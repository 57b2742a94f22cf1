/*
 * rtl8139: the Realtek RTL8139C+ Fast Ethernet controller (10ec:8139 rev 0x20), libxl's
 * default emulated NIC, on a -netdev backend (include/xendm/net.h).
 *
 *   -device rtl8139,netdev=ID[,mac=00:16:3e:xx:xx:xx][,addr=N][,id=...]
 *
 * The register file (RTL8139C/C+ datasheets) answers in BAR0 (256 bytes of I/O) and BAR1
 * (256 bytes of memory) alike. Two ways to move frames:
 *  - "normal" mode (8139too, iPXE, Windows' inbox driver): four transmit descriptors
 *    (TSD0-3/TSAD0-3) that each send one contiguous buffer, and a receive ring buffer at
 *    RBSTART that frames are appended to, each behind a 4-byte header (status, length with
 *    CRC), the driver's read pointer in CAPR, the device's write pointer in CBR;
 *  - C+ mode (8139cp), when CPlusCmd (0xE0) enables it: 16-byte descriptor rings for transmit
 *    (normal and high priority, TNPDS/THPDS) and receive (RDSAR), scatter-gather transmit with
 *    IPv4/TCP/UDP checksum offload, TCP large send (segmented here), VLAN tag insertion and
 *    stripping, and checksum status on receive.
 *
 * The backend sees whole, finished frames: checksums and segments are computed here, and a
 * backend with a vnet header gets a zeroed one in front (no offload is asked of it, and none
 * is accepted from it: net_backend_set_offloads(0)).
 *
 * Flow control: a frame that finds no room (the ring buffer between CBR and CAPR, or no
 * receive descriptor the device owns) is refused, so the backend keeps it and stops reading;
 * a write to CAPR, the command or interrupt registers, or (C+) a short poll of the
 * descriptor ring, resumes it. Real hardware would drop the frame and count it in MPC; it is
 * dropped (RXOVW, MPC) only when it could never fit.
 *
 * Everything the guest controls is checked: descriptor lengths against the 1792-byte
 * transmit limit (normal mode) and the assembly buffer (C+: 8 KiB per frame, 64 KiB for a
 * large send), every header length of an offloaded frame against the frame itself, and every
 * DMA goes through the mapcache, where a range that is not guest RAM fails: the frame is then
 * dropped (transmit: TER, the descriptor's error bit; receive: SERR) and the device keeps
 * serving.
 *
 * PV unplug (platform device, NIC bit): the function leaves PCI configuration space and the
 * backend is detached. Saved state: the register file, the EEPROM and the ring positions.
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

#define RTL8139_TYPE_NAME "rtl8139"
#define RTL8139_ERROR g_quark_from_static_string("xendm-rtl8139")

#define RTL_REG_SIZE 256u
#define MAC_LEN 6

/* ---- register offsets (RTL8139C+ datasheet §5, "Register Descriptions") ---- */
enum {
    REG_IDR0 = 0x00,
    REG_MAR0 = 0x08,
    REG_TSD0 = 0x10,    /* C+ mode: DTCCR, the tally counter dump address */
    REG_TSAD0 = 0x20,   /* C+ mode: TNPDS (0x20) and THPDS (0x28), 64 bits each */
    REG_RBSTART = 0x30,
    REG_ERBCR = 0x34,
    REG_ERSR = 0x36,
    REG_CR = 0x37,
    REG_CAPR = 0x38,
    REG_CBR = 0x3a,
    REG_IMR = 0x3c,
    REG_ISR = 0x3e,
    REG_TCR = 0x40,
    REG_RCR = 0x44,
    REG_TCTR = 0x48,
    REG_MPC = 0x4c,
    REG_9346CR = 0x50,
    REG_CONFIG0 = 0x51,
    REG_CONFIG1 = 0x52,
    REG_TIMERINT = 0x54,
    REG_MSR = 0x58,
    REG_CONFIG3 = 0x59,
    REG_CONFIG4 = 0x5a,
    REG_MULINT = 0x5c,
    REG_RERID = 0x5e,
    REG_TSAD = 0x60,
    REG_BMCR = 0x62,
    REG_BMSR = 0x64,
    REG_ANAR = 0x66,
    REG_ANLPAR = 0x68,
    REG_ANER = 0x6a,
    REG_DIS = 0x6c,
    REG_FCSC = 0x6e,
    REG_NWAYTR = 0x70,
    REG_REC = 0x72,
    REG_CSCR = 0x74,
    REG_PHY1_PARM = 0x78,
    REG_TW_PARM = 0x7c,
    REG_PHY2_PARM = 0x80,
    REG_CONFIG5 = 0xd8,
    REG_TPPOLL = 0xd9,
    REG_RXMAXSIZE = 0xda,
    REG_CPCMD = 0xe0,
    REG_INTRMITIGATE = 0xe2,
    REG_RDSAR = 0xe4,   /* 64 bits: 0xe4 low, 0xe8 high */
    REG_ETTHR = 0xec,
};

/* CR (0x37) */
#define CR_BUFE 0x01
#define CR_TE 0x04
#define CR_RE 0x08
#define CR_RST 0x10

/* ISR/IMR (0x3e/0x3c) */
#define INT_ROK 0x0001
#define INT_RER 0x0002
#define INT_TOK 0x0004
#define INT_TER 0x0008
#define INT_RXOVW 0x0010
#define INT_RDU 0x0020      /* normal mode: packet underrun / link change; C+: no RX descriptor */
#define INT_FOVW 0x0040
#define INT_TDU 0x0080
#define INT_SWINT 0x0100
#define INT_LENCHG 0x2000
#define INT_TIMEOUT 0x4000
#define INT_SERR 0x8000
#define INT_ALL 0xe1ff

/* TSD0-3 */
#define TSD_SIZE_MASK 0x1fffu
#define TSD_OWN (1u << 13)
#define TSD_TUN (1u << 14)
#define TSD_TOK (1u << 15)
#define TSD_ERTXTH_MASK (0x3fu << 16)
#define TSD_TABT (1u << 30)
/* Datasheet §5.4: "the maximum packet size is 1792 bytes" for one TSD buffer. */
#define TSD_MAX_FRAME 1792u

/* TCR: the hardware version bits (30:26, 23:22) Linux reads to tell the chips apart. */
#define TCR_HWVERID_C_PLUS 0x74800000u
#define TCR_WRITABLE 0x030707f0u  /* IFG, LBK, CRC, MXDMA, TXRR */

/* RCR */
#define RCR_AAP 0x01
#define RCR_APM 0x02
#define RCR_AM 0x04
#define RCR_AB 0x08
#define RCR_WRAP 0x80
#define RCR_RBLEN_SHIFT 11
#define RCR_WRITABLE 0x0f03ffbfu  /* bit 6 (9356SEL) and the reserved bits are read-only */

/* 9346CR */
#define EE_CR_MODE_SHIFT 6
#define EE_MODE_NORMAL 0
#define EE_MODE_AUTOLOAD 1
#define EE_MODE_PROGRAM 2
#define EE_MODE_CONFIG 3
#define EE_CR_CS 0x08
#define EE_CR_SK 0x04
#define EE_CR_DI 0x02
#define EE_CR_DO 0x01

/* Receive header status (datasheet §6.1, "Packet Header") */
#define RXHDR_ROK 0x0001
#define RXHDR_BAR 0x2000
#define RXHDR_PAM 0x4000
#define RXHDR_MAR 0x8000

/* C+ command (0xE0) */
#define CPCMD_TX_ON 0x0001
#define CPCMD_RX_ON 0x0002
#define CPCMD_RX_CSUM 0x0020
#define CPCMD_RX_VLAN 0x0040
#define CPCMD_WRITABLE 0x007b

/* TPPoll (0xD9) */
#define TPPOLL_FSWINT 0x01
#define TPPOLL_NPQ 0x40
#define TPPOLL_HPQ 0x80

/* C+ descriptors: opts1, opts2 (little-endian 32 bits each), buffer address (64 bits). */
#define CP_DESC_SIZE 16u
#define CP_OWN (1u << 31)
#define CP_EOR (1u << 30)
#define CP_FS (1u << 29)
#define CP_LS (1u << 28)
#define CP_TX_LGSEN (1u << 27)
#define CP_TX_MSS_SHIFT 16
#define CP_TX_MSS_MASK 0x7ffu
#define CP_TX_ERROR (1u << 23)
#define CP_TX_IPCS (1u << 18)
#define CP_TX_UDPCS (1u << 17)
#define CP_TX_TCPCS (1u << 16)
#define CP_TX_LEN_MASK 0xffffu
#define CP_TX_VLAN_TAG (1u << 17) /* opts2 */
#define CP_RX_LEN_MASK 0x1fffu
#define CP_RX_PID_TCP (1u << 16)
#define CP_RX_PID_UDP (2u << 16)
#define CP_RX_PID_IP (3u << 16)
#define CP_RX_IPF (1u << 15)
#define CP_RX_UDPF (1u << 14)
#define CP_RX_TCPF (1u << 13)
#define CP_RX_VLAN_TAGGED (1u << 16) /* opts2 */
/*
 * A ring ends at the descriptor with EOR; one without it is bounded here (the largest ring
 * the C+ family addresses), so a guest that never sets EOR cannot send the device walking
 * through its memory. It is also the most one poll processes.
 */
#define CP_RING_MAX 1024u
/* Assembly limits: an ordinary frame, and a large send (64 KiB of TCP payload + headers). */
#define CP_TX_FRAME_MAX 8192u
#define CP_TX_LARGE_MAX 65536u
#define CP_TX_SEGMENTS_MAX NET_TX_QUEUE_FRAMES
/* While a frame waits for a receive descriptor the device looks at the ring again this often. */
#define CP_RX_POLL_NS 500000u

/* The DTCCR tally dump (C+): 64 bytes written where the driver asks, then bit 3 clears. */
#define DTCCR_DUMP 0x08u
#define TALLY_SIZE 64u

/* Frames. */
#define ETH_HLEN 14u
#define ETH_ZLEN 60u
#define ETH_CRC_LEN 4u
#define VLAN_HLEN 4u
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_VLAN 0x8100
#define IP_PROTO_TCP 6
#define IP_PROTO_UDP 17
/* Datasheet: a frame longer than 4 KiB is a "long packet" error; the device takes none. */
#define RX_FRAME_MAX 4096u
#define RX_RING_SLACK 16u

/* PHY, as a 100 Mb/s full-duplex link partner sees it (IEEE 802.3 clause 22 bits). */
#define BMCR_RESET 0x8000
#define BMCR_ANRESTART 0x0200
#define BMCR_DEFAULT 0x1000       /* autonegotiation enabled */
#define BMSR_VALUE 0x782d         /* 100/10 full/half capable, AN complete, link up */
#define ANAR_DEFAULT 0x05e1       /* 100/10 full/half, pause, selector 802.3 */
#define ANLPAR_VALUE 0x05e1
#define ANER_VALUE 0x0001
#define CSCR_DEFAULT 0x0340       /* qemu-xen's value, which guests installed under it saw */
#define MSR_VALUE 0xd0            /* TXFCE, RXFCE, AUX status; LINKB and SPEED_10 clear */
#define CONFIG1_DEFAULT 0x0c      /* IOMAP, MEMMAP */
#define CONFIG3_DEFAULT 0x01      /* FBtBEn */
#define RERID_VALUE 0x20

/* TCTR counts the PCI clock. */
#define TCTR_HZ 33000000ull

/* 93C46 serial EEPROM: 64 words of 16 bits, 6 address bits. */
#define EE_WORDS 64u
#define EE_ADDR_BITS 6u
#define EE_ID_8139 0x8129
#define EE_WORD_MAC 7

enum ee_state { EE_IDLE, EE_COMMAND, EE_READING, EE_WRITING };

struct eeprom93c46 {
    uint16_t words[EE_WORDS];
    uint8_t state;      /* enum ee_state */
    bool cs, sk, di, dout;
    bool write_enabled;
    uint8_t nbits;      /* bits shifted in or out in this state */
    uint16_t shift;     /* command bits being collected, data being read or written */
    uint8_t addr;
    uint8_t opcode;
};

struct rtl8139 {
    struct machine *machine;
    struct pci_device *pci;
    struct net_backend *nb;     /* NULL: no netdev= or unplugged */
    bool unplug_registered;
    bool unplugged;
    uint8_t conf_mac[MAC_LEN];  /* mac= (EEPROM words 7-9) */

    /* The register file. */
    uint8_t idr[MAC_LEN];
    uint8_t mar[8];
    uint32_t tsd[4];
    uint32_t tsad[4];           /* C+ mode: TNPDS = tsad[1]:tsad[0], THPDS = tsad[3]:tsad[2] */
    uint32_t rbstart;
    uint16_t rx_read;           /* the driver's read offset: CAPR + 16 */
    uint16_t cbr;               /* the device's write offset */
    uint8_t cr;                 /* TE and RE (BUFE and RST are computed) */
    uint16_t imr, isr;
    uint32_t tcr, rcr, mpc;
    uint32_t timer_int;
    uint64_t tctr_base_ns;      /* when TCTR was last 0 */
    uint8_t cfg9346;
    uint8_t config0, config1, config3, config4, config5;
    uint16_t mulint;
    uint16_t bmcr, anar, cscr;
    uint32_t dtccr_hi;          /* C+: the upper half of the tally dump address */
    uint16_t cpcmd, intr_mitigate, rx_max_size;
    uint8_t etthr;
    uint32_t rdsar_lo, rdsar_hi;
    uint32_t tx_next;           /* normal mode: the next TSD in round-robin order */
    uint32_t cp_tx_idx, cp_txhp_idx, cp_rx_idx;
    struct eeprom93c46 ee;

    /* Not guest-visible. */
    bool rx_held;               /* a frame waits in the backend for room */
    /* RDU was raised for the frame waiting now: a retry that still finds no descriptor must
     * not raise it again. 8139cp's poll loop goes round while RxEmpty reads back set after
     * its write-1-to-clear, and every such write retries the frame: re-raising it there made
     * a guest under inbound load spin in that loop for ever (found on real Xen). */
    bool rx_rdu_raised;
    bool irq_level;
    struct timer *rx_poll_timer;
    struct timer *tctr_timer;
    uint8_t *txbuf;             /* C+ assembly: CP_TX_LARGE_MAX + a VLAN tag */
    uint8_t *segbuf;            /* one large-send segment */
    uint64_t tx_ok, rx_ok, tx_err, rx_err, rx_missed;
};

static void rtl_update_irq(struct rtl8139 *s);
static void rtl_rx_resume(struct rtl8139 *s);
static void cp_tx_poll(struct rtl8139 *s, bool high);

/* ---- little helpers ---- */

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

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* IEEE 802.3 CRC-32 (reflected 0xEDB88320), without the final inversion when raw. */
static uint32_t crc32_raw(uint32_t crc, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (unsigned b = 0; b < 8; b++) {
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
        }
    }
    return crc;
}

/* The FCS a receiving MAC finds at the end of a frame (transmitted least significant first). */
static uint32_t ether_fcs(const uint8_t *p, size_t len)
{
    return ~crc32_raw(0xffffffffu, p, len);
}

/*
 * The multicast filter bit of a destination address: the six most significant bits of the
 * big-endian CRC-32 of the address (datasheet §5, MAR0-7), i.e. the six lowest bits of the
 * reflected CRC, reversed.
 */
static unsigned mcast_hash_bit(const uint8_t *addr)
{
    uint32_t crc = crc32_raw(0xffffffffu, addr, MAC_LEN);
    unsigned bit = 0;

    for (unsigned i = 0; i < 6; i++) {
        bit = (bit << 1) | ((crc >> i) & 1u);
    }
    return bit;
}

/* RFC 1071: the one's-complement sum of 16-bit big-endian words, not yet inverted. */
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
    return (uint16_t)~sum;
}

/* ---- interrupts ---- */

static void rtl_update_irq(struct rtl8139 *s)
{
    bool level = (s->isr & s->imr & INT_ALL) != 0;

    if (s->pci == NULL || level == s->irq_level) {
        return;
    }
    s->irq_level = level;
    pci_set_irq(s->pci, level);
}

static void rtl_raise(struct rtl8139 *s, uint16_t bits)
{
    s->isr |= bits;
    rtl_update_irq(s);
}

/* ---- the 93C46 EEPROM, bit-banged through 9346CR (Microchip 93C46 datasheet) ---- */

static void ee_fill(struct eeprom93c46 *ee, const uint8_t mac[MAC_LEN])
{
    memset(ee->words, 0, sizeof(ee->words));
    ee->words[0] = EE_ID_8139;
    ee->words[1] = 0x10ec; /* vendor */
    ee->words[2] = 0x8139; /* device */
    ee->words[3] = PCI_SUBSYSTEM_VENDOR_ID_QEMU;
    ee->words[4] = PCI_SUBSYSTEM_ID_QEMU;
    for (unsigned i = 0; i < 3; i++) {
        ee->words[EE_WORD_MAC + i] = (uint16_t)(mac[2 * i] | mac[2 * i + 1] << 8);
    }
}

static void ee_deselect(struct eeprom93c46 *ee)
{
    ee->state = EE_IDLE;
    ee->nbits = 0;
    ee->shift = 0;
    ee->dout = true; /* ready */
}

/* The command (2 opcode bits, 6 address bits) is complete. */
static void ee_command(struct eeprom93c46 *ee)
{
    ee->opcode = (uint8_t)((ee->shift >> EE_ADDR_BITS) & 3u);
    ee->addr = (uint8_t)(ee->shift & (EE_WORDS - 1));
    ee->nbits = 0;
    ee->shift = 0;
    switch (ee->opcode) {
    case 2: /* READ: a dummy 0, then the word, most significant bit first */
        ee->state = EE_READING;
        ee->shift = ee->words[ee->addr];
        ee->dout = false;
        return;
    case 1: /* WRITE */
        ee->state = EE_WRITING;
        return;
    case 3: /* ERASE */
        if (ee->write_enabled) {
            ee->words[ee->addr] = 0xffff;
        }
        break;
    default: /* the address's top two bits: 00 EWDS, 01 WRAL, 10 ERAL, 11 EWEN */
        switch (ee->addr >> 4) {
        case 0:
            ee->write_enabled = false;
            break;
        case 1:
            ee->state = EE_WRITING;
            return;
        case 2:
            if (ee->write_enabled) {
                memset(ee->words, 0xff, sizeof(ee->words));
            }
            break;
        default:
            ee->write_enabled = true;
            break;
        }
        break;
    }
    ee->state = EE_IDLE;
    ee->dout = true;
}

static void ee_write_done(struct eeprom93c46 *ee)
{
    if (ee->write_enabled) {
        if (ee->opcode == 1) {
            ee->words[ee->addr] = ee->shift;
        } else {
            for (unsigned i = 0; i < EE_WORDS; i++) {
                ee->words[i] = ee->shift;
            }
        }
    }
    ee->state = EE_IDLE;
    ee->nbits = 0;
    ee->dout = true;
}

/* A rising edge of SK while CS is high: the EEPROM samples DI and shifts DO. */
static void ee_clock(struct eeprom93c46 *ee)
{
    switch (ee->state) {
    case EE_IDLE:
        if (ee->di) { /* the start bit */
            ee->state = EE_COMMAND;
            ee->nbits = 0;
            ee->shift = 0;
        }
        break;
    case EE_COMMAND:
        ee->shift = (uint16_t)(ee->shift << 1 | ee->di);
        if (++ee->nbits == 2 + EE_ADDR_BITS) {
            ee_command(ee);
        }
        break;
    case EE_READING:
        ee->dout = (ee->shift & 0x8000u) != 0;
        ee->shift = (uint16_t)(ee->shift << 1);
        if (++ee->nbits == 16) { /* sequential read: the next word follows */
            ee->nbits = 0;
            ee->addr = (uint8_t)((ee->addr + 1) & (EE_WORDS - 1));
            ee->shift = ee->words[ee->addr];
        }
        break;
    default: /* EE_WRITING */
        ee->shift = (uint16_t)(ee->shift << 1 | ee->di);
        if (++ee->nbits == 16) {
            ee_write_done(ee);
        }
        break;
    }
}

static void ee_pins(struct eeprom93c46 *ee, bool cs, bool sk, bool di)
{
    bool rising = sk && !ee->sk;

    if (!cs) {
        ee_deselect(ee);
    }
    ee->cs = cs;
    ee->sk = sk;
    ee->di = di;
    if (cs && rising) {
        ee_clock(ee);
    }
}

/* ---- reset ---- */

/* The registers the EEPROM loads (power-on and 9346CR auto-load). */
static void rtl_load_from_eeprom(struct rtl8139 *s)
{
    for (unsigned i = 0; i < 3; i++) {
        s->idr[2 * i] = (uint8_t)s->ee.words[EE_WORD_MAC + i];
        s->idr[2 * i + 1] = (uint8_t)(s->ee.words[EE_WORD_MAC + i] >> 8);
    }
}

/*
 * CR.RST (datasheet §5, Command Register): transmitter and receiver off, FIFOs and buffer
 * pointers back to their initial values; IDR0-5, MAR0-7 and configuration space unchanged.
 */
static void rtl_soft_reset(struct rtl8139 *s)
{
    for (unsigned i = 0; i < 4; i++) {
        s->tsd[i] = TSD_OWN;
    }
    s->tx_next = 0;
    s->rx_read = 0;
    s->cbr = 0;
    s->cr = 0;
    s->isr = 0;
    s->imr = 0;
    s->cpcmd = 0;
    s->cp_tx_idx = s->cp_txhp_idx = s->cp_rx_idx = 0;
    s->rx_held = false;
    s->rx_rdu_raised = false;
    timer_cancel(s->rx_poll_timer);
    rtl_update_irq(s);
}

static void rtl_power_on_reset(struct rtl8139 *s)
{
    memset(s->mar, 0, sizeof(s->mar));
    memset(s->tsad, 0, sizeof(s->tsad));
    s->rbstart = 0;
    s->tcr = TCR_HWVERID_C_PLUS;
    s->rcr = 0;
    s->mpc = 0;
    s->timer_int = 0;
    s->tctr_base_ns = (uint64_t)clock_now_ns();
    timer_cancel(s->tctr_timer);
    s->cfg9346 = 0;
    s->config0 = 0;
    s->config1 = CONFIG1_DEFAULT;
    s->config3 = CONFIG3_DEFAULT;
    s->config4 = 0;
    s->config5 = 0;
    s->mulint = 0;
    s->bmcr = BMCR_DEFAULT;
    s->anar = ANAR_DEFAULT;
    s->cscr = CSCR_DEFAULT;
    s->dtccr_hi = 0;
    s->intr_mitigate = 0;
    s->rx_max_size = 0;
    s->etthr = 0;
    s->rdsar_lo = s->rdsar_hi = 0;
    ee_deselect(&s->ee);
    s->ee.write_enabled = false;
    rtl_load_from_eeprom(s);
    rtl_soft_reset(s);
}

/* ---- guest memory ---- */

static bool dma_read(struct rtl8139 *s, uint64_t gpa, void *buf, size_t len)
{
    if (len == 0) {
        return true;
    }
    if (gpa + len < gpa || guest_read(s->machine, gpa, buf, len) != 0) {
        log_guest_error("rtl8139: DMA read of %zu bytes at 0x%" PRIx64 " is not guest RAM", len,
                        gpa);
        return false;
    }
    return true;
}

static bool dma_write(struct rtl8139 *s, uint64_t gpa, const void *buf, size_t len)
{
    if (len == 0) {
        return true;
    }
    if (gpa + len < gpa || guest_write(s->machine, gpa, buf, len) != 0) {
        log_guest_error("rtl8139: DMA write of %zu bytes at 0x%" PRIx64 " is not guest RAM", len,
                        gpa);
        return false;
    }
    return true;
}

/* ---- sending ---- */

static void rtl_send(struct rtl8139 *s, const uint8_t *frame, size_t len)
{
    static const uint8_t zero_hdr[NET_VNET_HDR_LEN];
    struct iovec iov[2];
    unsigned n = 0;

    if (s->nb == NULL) {
        return; /* no cable: the frame leaves and goes nowhere */
    }
    if (net_backend_has_vnet_hdr(s->nb)) {
        iov[n++] = (struct iovec){.iov_base = (void *)zero_hdr, .iov_len = NET_VNET_HDR_LEN};
    }
    iov[n++] = (struct iovec){.iov_base = (void *)frame, .iov_len = len};
    (void)net_backend_send(s->nb, iov, n);
}

/* ---- normal-mode transmit: TSD0-3 ---- */

static bool tsd_pending(uint32_t tsd)
{
    return !(tsd & (TSD_OWN | TSD_TOK | TSD_TABT));
}

static void tsd_transmit(struct rtl8139 *s, unsigned i)
{
    uint32_t size = s->tsd[i] & TSD_SIZE_MASK;
    uint8_t buf[TSD_MAX_FRAME];

    if (size == 0 || size > TSD_MAX_FRAME) {
        log_guest_error("rtl8139: TSD%u asks for a %u-byte frame (1..%u)", i, size,
                        TSD_MAX_FRAME);
        goto abort;
    }
    if (!dma_read(s, s->tsad[i], buf, size)) {
        goto abort;
    }
    rtl_send(s, buf, size);
    s->tx_ok++;
    s->tsd[i] |= TSD_OWN | TSD_TOK;
    rtl_raise(s, INT_TOK);
    return;

abort:
    s->tx_err++;
    s->tsd[i] |= TSD_OWN | TSD_TABT;
    rtl_raise(s, INT_TER);
}

/* Sends every pending descriptor, in the device's round-robin order. */
static void tsd_run(struct rtl8139 *s)
{
    if (!(s->cr & CR_TE) || (s->cpcmd & CPCMD_TX_ON)) {
        return;
    }
    for (unsigned n = 0; n < 4; n++) {
        unsigned i = (s->tx_next + n) % 4;
        if (tsd_pending(s->tsd[i])) {
            tsd_transmit(s, i);
            s->tx_next = (i + 1) % 4;
        }
    }
}

static void tsd_write(struct rtl8139 *s, unsigned i, uint32_t val)
{
    /* The driver writes the size, the threshold and OWN = 0 to hand the buffer over. */
    s->tsd[i] = val & (TSD_SIZE_MASK | TSD_OWN | TSD_ERTXTH_MASK);
    tsd_run(s);
}

/* TSAD (0x60): the summary of the four descriptors' status bits. */
static uint16_t tsad_summary(const struct rtl8139 *s)
{
    uint16_t v = 0;

    for (unsigned i = 0; i < 4; i++) {
        v |= (uint16_t)(((s->tsd[i] & TSD_OWN) ? 1u : 0u) << i);
        v |= (uint16_t)(((s->tsd[i] & TSD_TABT) ? 1u : 0u) << (4 + i));
        v |= (uint16_t)(((s->tsd[i] & TSD_TUN) ? 1u : 0u) << (8 + i));
        v |= (uint16_t)(((s->tsd[i] & TSD_TOK) ? 1u : 0u) << (12 + i));
    }
    return v;
}

/* ---- C+ transmit offloads ---- */

/* Where the IPv4 header of a frame begins (after an optional 802.1Q tag), or 0. */
static size_t ipv4_offset(const uint8_t *f, size_t len)
{
    size_t l3 = ETH_HLEN;

    if (len < ETH_HLEN + 20) {
        return 0;
    }
    if (get_be16(f + 12) == ETHERTYPE_VLAN) {
        l3 += VLAN_HLEN;
        if (len < l3 + 20 || get_be16(f + 16) != ETHERTYPE_IPV4) {
            return 0;
        }
    } else if (get_be16(f + 12) != ETHERTYPE_IPV4) {
        return 0;
    }
    return l3;
}

struct ipv4_frame {
    size_t l3;       /* IP header offset */
    size_t ihl;      /* IP header length, bytes */
    size_t tot_len;  /* IP total length, checked to lie within the frame */
    uint8_t proto;
};

/* False unless the frame holds an IPv4 header whose lengths agree with the frame. */
static bool ipv4_parse(const uint8_t *f, size_t len, struct ipv4_frame *ip)
{
    const uint8_t *h;

    ip->l3 = ipv4_offset(f, len);
    if (ip->l3 == 0) {
        return false;
    }
    h = f + ip->l3;
    ip->ihl = (size_t)(h[0] & 0x0f) * 4;
    ip->tot_len = get_be16(h + 2);
    ip->proto = h[9];
    return (h[0] >> 4) == 4 && ip->ihl >= 20 && ip->tot_len >= ip->ihl &&
           ip->l3 + ip->tot_len <= len;
}

static void ipv4_fill_header_csum(uint8_t *f, const struct ipv4_frame *ip)
{
    uint8_t *h = f + ip->l3;

    put_be16(h + 10, 0);
    put_be16(h + 10, csum_fold(csum_add(0, h, ip->ihl)));
}

/* The TCP or UDP checksum over the IPv4 pseudo-header and the segment; false if too short. */
static bool ipv4_fill_l4_csum(uint8_t *f, const struct ipv4_frame *ip)
{
    uint8_t *h = f + ip->l3;
    uint8_t *l4 = h + ip->ihl;
    size_t l4_len = ip->tot_len - ip->ihl;
    size_t field;
    uint32_t sum;
    uint16_t csum;

    if (ip->proto == IP_PROTO_TCP && l4_len >= 20) {
        field = 16;
    } else if (ip->proto == IP_PROTO_UDP && l4_len >= 8) {
        field = 6;
    } else {
        return false;
    }
    put_be16(l4 + field, 0);
    sum = csum_add(0, h + 12, 8); /* source and destination addresses */
    sum += ip->proto;
    sum += (uint32_t)l4_len;
    csum = csum_fold(csum_add(sum, l4, l4_len));
    if (ip->proto == IP_PROTO_UDP && csum == 0) {
        csum = 0xffff; /* RFC 768: 0 means "no checksum" */
    }
    put_be16(l4 + field, csum);
    return true;
}

/* IPCS/TCPCS/UDPCS on an ordinary frame. A frame the offload does not apply to goes as is. */
static void cp_tx_checksum(uint8_t *f, size_t len, uint32_t opts1)
{
    struct ipv4_frame ip;

    if (!(opts1 & (CP_TX_IPCS | CP_TX_TCPCS | CP_TX_UDPCS))) {
        return;
    }
    if (!ipv4_parse(f, len, &ip)) {
        log_guest_error("rtl8139: checksum offload on a frame that is not sound IPv4");
        return;
    }
    if (opts1 & CP_TX_IPCS) {
        ipv4_fill_header_csum(f, &ip);
    }
    if (((opts1 & CP_TX_TCPCS) && ip.proto == IP_PROTO_TCP) ||
        ((opts1 & CP_TX_UDPCS) && ip.proto == IP_PROTO_UDP)) {
        if (!ipv4_fill_l4_csum(f, &ip)) {
            log_guest_error("rtl8139: checksum offload on a truncated TCP/UDP header");
        }
    }
}

/*
 * Large send: cuts the TCP payload into segments of at most mss bytes, each with the
 * frame's headers, its IP length, ID and checksum, its sequence number and TCP checksum
 * (FIN and PSH only on the last). Every header length is checked against the frame first.
 */
static bool cp_tx_large_send(struct rtl8139 *s, const uint8_t *f, size_t len, unsigned mss)
{
    struct ipv4_frame ip;
    size_t l4, tcp_hlen, hdr_len, payload, nseg;
    uint32_t seq;
    uint16_t ip_id;

    if (!ipv4_parse(f, len, &ip) || ip.proto != IP_PROTO_TCP) {
        log_guest_error("rtl8139: large send of a frame that is not sound IPv4/TCP");
        return false;
    }
    l4 = ip.l3 + ip.ihl;
    if (ip.tot_len - ip.ihl < 20) {
        log_guest_error("rtl8139: large send with a truncated TCP header");
        return false;
    }
    tcp_hlen = (size_t)(f[l4 + 12] >> 4) * 4;
    if (tcp_hlen < 20 || tcp_hlen > ip.tot_len - ip.ihl) {
        log_guest_error("rtl8139: large send: TCP header of %zu bytes in %zu", tcp_hlen,
                        ip.tot_len - ip.ihl);
        return false;
    }
    hdr_len = l4 + tcp_hlen;
    payload = ip.l3 + ip.tot_len - hdr_len;
    if (mss == 0) {
        log_guest_error("rtl8139: large send with MSS 0");
        return false;
    }
    nseg = payload == 0 ? 1 : (payload + mss - 1) / mss;
    if (nseg > CP_TX_SEGMENTS_MAX) {
        log_guest_error("rtl8139: large send of %zu bytes in %u-byte segments: too many",
                        payload, mss);
        return false;
    }
    seq = get_be32(f + l4 + 4);
    ip_id = get_be16(f + ip.l3 + 4);
    for (size_t n = 0, off = 0; n < nseg; n++, off += mss) {
        size_t chunk = XENDM_MIN((size_t)mss, payload - off);
        uint8_t *g = s->segbuf;
        struct ipv4_frame gip = ip;

        memcpy(g, f, hdr_len);
        memcpy(g + hdr_len, f + hdr_len + off, chunk);
        gip.tot_len = ip.ihl + tcp_hlen + chunk;
        put_be16(g + ip.l3 + 2, (uint16_t)gip.tot_len);
        put_be16(g + ip.l3 + 4, (uint16_t)(ip_id + n));
        put_be32(g + l4 + 4, seq + (uint32_t)off);
        if (n + 1 < nseg) {
            g[l4 + 13] &= (uint8_t)~0x09; /* FIN, PSH */
        }
        if (n > 0) {
            g[l4 + 13] &= (uint8_t)~0x80; /* CWR only on the first */
        }
        ipv4_fill_header_csum(g, &gip);
        (void)ipv4_fill_l4_csum(g, &gip);
        rtl_send(s, g, hdr_len + chunk);
    }
    return true;
}

/* Inserts the 802.1Q tag the first descriptor's opts2 carries (TCI byte-swapped in it). */
static size_t cp_tx_insert_vlan(uint8_t *f, size_t len, uint32_t opts2)
{
    if (!(opts2 & CP_TX_VLAN_TAG) || len < 2 * MAC_LEN) {
        return len;
    }
    memmove(f + 2 * MAC_LEN + VLAN_HLEN, f + 2 * MAC_LEN, len - 2 * MAC_LEN);
    put_be16(f + 12, ETHERTYPE_VLAN);
    f[14] = (uint8_t)opts2;
    f[15] = (uint8_t)(opts2 >> 8);
    return len + VLAN_HLEN;
}

/* ---- C+ transmit rings ---- */

struct cp_tx_frame {
    size_t len;
    bool started, bad;
    uint32_t opts1, opts2; /* of the first descriptor */
};

static uint64_t cp_ring_base(const struct rtl8139 *s, bool high)
{
    unsigned i = high ? 2 : 0;

    return (uint64_t)s->tsad[i + 1] << 32 | s->tsad[i];
}

/* Sends the assembled frame; false when it was refused. */
static bool cp_tx_finish(struct rtl8139 *s, struct cp_tx_frame *fr)
{
    size_t len = fr->len;
    unsigned mss = (fr->opts1 >> CP_TX_MSS_SHIFT) & CP_TX_MSS_MASK;
    bool ok = !fr->bad;

    if (ok) {
        len = cp_tx_insert_vlan(s->txbuf, len, fr->opts2);
        if (fr->opts1 & CP_TX_LGSEN) {
            ok = cp_tx_large_send(s, s->txbuf, len, mss);
        } else if (len > CP_TX_FRAME_MAX) {
            log_guest_error("rtl8139: a %zu-byte frame without large send", len);
            ok = false;
        } else {
            cp_tx_checksum(s->txbuf, len, fr->opts1);
            rtl_send(s, s->txbuf, len);
        }
    }
    *fr = (struct cp_tx_frame){0};
    return ok;
}

/* Appends one descriptor's buffer to the frame being assembled. */
static void cp_tx_gather(struct rtl8139 *s, struct cp_tx_frame *fr, uint32_t opts1,
                         uint64_t addr)
{
    size_t len = opts1 & CP_TX_LEN_MASK;
    size_t limit = (fr->opts1 & CP_TX_LGSEN) ? CP_TX_LARGE_MAX : CP_TX_FRAME_MAX;

    if (fr->bad) {
        return;
    }
    if (len > limit - fr->len) {
        log_guest_error("rtl8139: C+ frame grows past %zu bytes", limit);
        fr->bad = true;
        return;
    }
    if (!dma_read(s, addr, s->txbuf + fr->len, len)) {
        fr->bad = true;
        return;
    }
    fr->len += len;
}

static void cp_tx_poll(struct rtl8139 *s, bool high)
{
    uint32_t *idx = high ? &s->cp_txhp_idx : &s->cp_tx_idx;
    uint64_t base = cp_ring_base(s, high);
    struct cp_tx_frame fr = {0};

    if (!(s->cr & CR_TE) || !(s->cpcmd & CPCMD_TX_ON)) {
        return;
    }
    for (unsigned budget = 0; budget < CP_RING_MAX; budget++) {
        uint64_t at = base + (uint64_t)*idx * CP_DESC_SIZE;
        uint8_t d[CP_DESC_SIZE];
        uint32_t opts1, opts2;
        bool error, done;

        if (!dma_read(s, at, d, sizeof(d))) {
            rtl_raise(s, INT_SERR);
            break;
        }
        opts1 = get_le32(d);
        opts2 = get_le32(d + 4);
        if (!(opts1 & CP_OWN)) {
            break;
        }
        if (opts1 & CP_FS) {
            if (fr.started) {
                log_guest_error("rtl8139: C+ frame restarted before its last fragment");
            }
            fr = (struct cp_tx_frame){.started = true, .opts1 = opts1, .opts2 = opts2};
        }
        if (fr.started) {
            cp_tx_gather(s, &fr, opts1, (uint64_t)get_le32(d + 12) << 32 | get_le32(d + 8));
        } else {
            log_guest_error("rtl8139: C+ fragment without a first fragment skipped");
        }
        error = !fr.started || fr.bad;
        done = (opts1 & CP_LS) && fr.started;
        if (done) {
            error = !cp_tx_finish(s, &fr);
        }
        /* Hand the descriptor back: OWN and the command bits cleared, the error bit set on
         * the last one of a frame that was refused; then the interrupt. */
        put_le32(d, (opts1 & (CP_EOR | CP_FS | CP_LS | CP_TX_LEN_MASK)) |
                        (error ? CP_TX_ERROR : 0));
        (void)dma_write(s, at, d, 4);
        *idx = (opts1 & CP_EOR) || *idx + 1 >= CP_RING_MAX ? 0 : *idx + 1;
        if (done) {
            *(error ? &s->tx_err : &s->tx_ok) += 1;
            rtl_raise(s, error ? INT_TER : INT_TOK);
        }
    }
    if (fr.started) {
        /* The ring ran out of owned descriptors mid-frame: what there was is lost. */
        log_guest_error("rtl8139: C+ frame without its last fragment dropped");
        s->tx_err++;
        rtl_raise(s, INT_TER);
    }
}

/* C+ DTCCR: the tally counters (datasheet §5.25), little-endian, at the given address. */
static void cp_dump_tally(struct rtl8139 *s, uint32_t lo)
{
    uint64_t addr = (uint64_t)s->dtccr_hi << 32 | (lo & ~0x3fu);
    uint8_t t[TALLY_SIZE] = {0};

    put_le32(t + 0, (uint32_t)s->tx_ok);
    put_le32(t + 4, (uint32_t)(s->tx_ok >> 32));
    put_le32(t + 8, (uint32_t)s->rx_ok);
    put_le32(t + 12, (uint32_t)(s->rx_ok >> 32));
    put_le32(t + 16, (uint32_t)s->tx_err);
    put_le32(t + 20, (uint32_t)(s->tx_err >> 32));
    put_le32(t + 24, (uint32_t)s->rx_err);
    t[28] = (uint8_t)s->rx_missed;
    t[29] = (uint8_t)(s->rx_missed >> 8);
    (void)dma_write(s, addr, t, sizeof(t));
}

/* ---- receive ---- */

static uint32_t rx_ring_size(const struct rtl8139 *s)
{
    return 8192u << ((s->rcr >> RCR_RBLEN_SHIFT) & 3u);
}

/* Which frames the filter accepts (RCR AAP/APM/AM/AB, MAR0-7); *status gets PAM/BAR/MAR. */
static bool rx_accept(const struct rtl8139 *s, const uint8_t *f, uint16_t *status)
{
    static const uint8_t bcast[MAC_LEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

    if (memcmp(f, bcast, MAC_LEN) == 0) {
        *status = RXHDR_BAR;
        return (s->rcr & (RCR_AB | RCR_AAP)) != 0;
    }
    if (f[0] & 1) {
        unsigned bit = mcast_hash_bit(f);
        *status = RXHDR_MAR;
        return (s->rcr & RCR_AAP) ||
               ((s->rcr & RCR_AM) && (s->mar[bit >> 3] & (1u << (bit & 7))));
    }
    if (memcmp(f, s->idr, MAC_LEN) == 0) {
        *status = RXHDR_PAM;
        return (s->rcr & (RCR_APM | RCR_AAP)) != 0;
    }
    *status = 0;
    return (s->rcr & RCR_AAP) != 0;
}

/*
 * Writes into the ring at offset `off` (counted from the frame's start, so it may lie past the
 * ring's end): with RCR.WRAP the bytes go on past the end into the slack the driver allocated
 * behind the ring; without it they continue at the ring's start.
 */
static bool rx_ring_write(struct rtl8139 *s, size_t off, const uint8_t *data, size_t len)
{
    uint32_t size = rx_ring_size(s);
    size_t first = len;

    /* Datasheet, RCR.WRAP: "invalid when the Rx buffer is selected to 64K bytes". */
    if (!(s->rcr & RCR_WRAP) || size == 65536) {
        off %= size;
        if (off + len > size) {
            first = size - off;
        }
    }
    if (!dma_write(s, (uint64_t)s->rbstart + off, data, first)) {
        return false;
    }
    return dma_write(s, s->rbstart, data + first, len - first);
}

enum rx_result { RX_DONE, RX_HOLD };

static enum rx_result rx_ring_receive(struct rtl8139 *s, const uint8_t *f, size_t len,
                                      uint16_t status)
{
    uint32_t size = rx_ring_size(s);
    uint32_t cbr = s->cbr % size, rd = s->rx_read % size;
    uint32_t used = (cbr - rd + size) % size;
    uint32_t need = (uint32_t)((4 + len + ETH_CRC_LEN + 3) & ~(size_t)3);
    uint8_t hdr[4], fcs[ETH_CRC_LEN];

    if (need >= size) {
        log_guest_event("rtl8139: a %zu-byte frame cannot fit a %u-byte ring", len, size);
        s->mpc = (s->mpc + 1) & 0xffffff;
        s->rx_missed++;
        rtl_raise(s, INT_RXOVW);
        return RX_DONE;
    }
    /* Strictly less: CBR catching up with the read pointer would read as an empty ring. */
    if (used + need >= size) {
        return RX_HOLD;
    }
    hdr[0] = (uint8_t)(status | RXHDR_ROK);
    hdr[1] = (uint8_t)((status | RXHDR_ROK) >> 8);
    hdr[2] = (uint8_t)(len + ETH_CRC_LEN);
    hdr[3] = (uint8_t)((len + ETH_CRC_LEN) >> 8);
    put_le32(fcs, ether_fcs(f, len));
    if (!rx_ring_write(s, cbr, hdr, 4) || !rx_ring_write(s, cbr + 4, f, len) ||
        !rx_ring_write(s, cbr + 4 + len, fcs, ETH_CRC_LEN)) {
        /* RBSTART points where there is no RAM: a master abort, the frame is lost. */
        s->rx_err++;
        rtl_raise(s, INT_SERR);
        return RX_DONE;
    }
    s->cbr = (uint16_t)((cbr + need) % size);
    s->rx_ok++;
    rtl_raise(s, INT_ROK);
    return RX_DONE;
}

/* The C+ receive checksum status of a frame (opts1 PID and fail bits). */
static uint32_t cp_rx_csum_status(const uint8_t *f, size_t len)
{
    struct ipv4_frame ip;
    uint8_t copy[RX_FRAME_MAX];
    uint32_t st;

    if (!ipv4_parse(f, len, &ip)) {
        return 0;
    }
    st = CP_RX_PID_IP;
    if (csum_fold(csum_add(0, f + ip.l3, ip.ihl)) != 0) {
        st |= CP_RX_IPF;
    }
    if (ip.proto != IP_PROTO_TCP && ip.proto != IP_PROTO_UDP) {
        return st;
    }
    /* Recompute over a copy and compare with what the frame carries. */
    memcpy(copy, f, len);
    if (!ipv4_fill_l4_csum(copy, &ip)) {
        return st;
    }
    if (ip.proto == IP_PROTO_TCP) {
        st = CP_RX_PID_TCP | (st & CP_RX_IPF);
        if (memcmp(copy + ip.l3 + ip.ihl + 16, f + ip.l3 + ip.ihl + 16, 2) != 0) {
            st |= CP_RX_TCPF;
        }
    } else {
        const uint8_t *field = f + ip.l3 + ip.ihl + 6;
        st = CP_RX_PID_UDP | (st & CP_RX_IPF);
        if ((field[0] | field[1]) != 0 &&
            memcmp(copy + ip.l3 + ip.ihl + 6, field, 2) != 0) {
            st |= CP_RX_UDPF;
        }
    }
    return st;
}

static void cp_rx_poll_arm(struct rtl8139 *s)
{
    if (!timer_pending(s->rx_poll_timer)) {
        timer_arm_ns(s->rx_poll_timer, CP_RX_POLL_NS);
    }
}

static enum rx_result cp_rx_receive(struct rtl8139 *s, const uint8_t *frame, size_t len)
{
    uint64_t base = (uint64_t)s->rdsar_hi << 32 | s->rdsar_lo;
    uint64_t at = base + (uint64_t)s->cp_rx_idx * CP_DESC_SIZE;
    uint8_t d[CP_DESC_SIZE], f[RX_FRAME_MAX], fcs[ETH_CRC_LEN];
    uint32_t opts1, opts2 = 0, bufsize;
    uint64_t addr;

    if (!dma_read(s, at, d, sizeof(d))) {
        s->rx_err++;
        rtl_raise(s, INT_SERR);
        return RX_DONE;
    }
    opts1 = get_le32(d);
    if (!(opts1 & CP_OWN)) {
        if (!s->rx_rdu_raised) {
            rtl_raise(s, INT_RDU);
            s->rx_rdu_raised = true;
        }
        cp_rx_poll_arm(s);
        return RX_HOLD;
    }
    memcpy(f, frame, len);
    if ((s->cpcmd & CPCMD_RX_VLAN) && len >= ETH_HLEN + VLAN_HLEN &&
        get_be16(f + 12) == ETHERTYPE_VLAN) {
        opts2 = CP_RX_VLAN_TAGGED | f[14] | (uint32_t)f[15] << 8;
        memmove(f + 12, f + 16, len - 16);
        len -= VLAN_HLEN;
    }
    bufsize = opts1 & CP_RX_LEN_MASK;
    addr = (uint64_t)get_le32(d + 12) << 32 | get_le32(d + 8);
    if (len + ETH_CRC_LEN > bufsize) {
        log_guest_event("rtl8139: a %zu-byte frame does not fit a %u-byte C+ buffer", len,
                        bufsize);
        s->mpc = (s->mpc + 1) & 0xffffff;
        s->rx_missed++;
        rtl_raise(s, INT_RXOVW);
        return RX_DONE;
    }
    put_le32(fcs, ether_fcs(f, len));
    if (!dma_write(s, addr, f, len) || !dma_write(s, addr + len, fcs, ETH_CRC_LEN)) {
        s->rx_err++;
        rtl_raise(s, INT_SERR);
        return RX_DONE;
    }
    opts1 = (opts1 & CP_EOR) | CP_FS | CP_LS | (uint32_t)(len + ETH_CRC_LEN);
    if (s->cpcmd & CPCMD_RX_CSUM) {
        opts1 |= cp_rx_csum_status(f, len);
    }
    put_le32(d, opts1);
    put_le32(d + 4, opts2);
    /* opts2 before opts1: the driver looks at OWN in opts1. */
    (void)dma_write(s, at + 4, d + 4, 4);
    (void)dma_write(s, at, d, 4);
    s->cp_rx_idx = (opts1 & CP_EOR) || s->cp_rx_idx + 1 >= CP_RING_MAX ? 0 : s->cp_rx_idx + 1;
    s->rx_ok++;
    rtl_raise(s, INT_ROK);
    return RX_DONE;
}

static bool rtl_receive(void *opaque, const uint8_t *frame, size_t len)
{
    struct rtl8139 *s = opaque;
    uint8_t padded[ETH_ZLEN];
    uint16_t status;
    enum rx_result r;

    if (s->nb != NULL && net_backend_has_vnet_hdr(s->nb)) {
        if (len < NET_VNET_HDR_LEN) {
            return true;
        }
        frame += NET_VNET_HDR_LEN; /* no offload was accepted: nothing in it to apply */
        len -= NET_VNET_HDR_LEN;
    }
    if (!(s->cr & CR_RE) || len < MAC_LEN || len + ETH_CRC_LEN > RX_FRAME_MAX) {
        return true;
    }
    if (len < ETH_ZLEN) { /* what a receiver on a wire sees: padded to the minimum */
        memcpy(padded, frame, len);
        memset(padded + len, 0, ETH_ZLEN - len);
        frame = padded;
        len = ETH_ZLEN;
    }
    if (!rx_accept(s, frame, &status)) {
        return true;
    }
    r = (s->cpcmd & CPCMD_RX_ON) ? cp_rx_receive(s, frame, len)
                                 : rx_ring_receive(s, frame, len, status);
    s->rx_held = r == RX_HOLD;
    if (r == RX_DONE) {
        s->rx_rdu_raised = false; /* the next frame that finds no room says so again */
    }
    return r == RX_DONE;
}

static bool rtl_can_receive(void *opaque)
{
    struct rtl8139 *s = opaque;

    return !s->rx_held;
}

static const struct net_client_ops rtl_net_client = {
    .can_receive = rtl_can_receive,
    .receive = rtl_receive,
};

/* The driver made room (or changed how frames are taken): a kept frame is tried again. */
static void rtl_rx_resume(struct rtl8139 *s)
{
    if (!s->rx_held) {
        return;
    }
    s->rx_held = false;
    timer_cancel(s->rx_poll_timer);
    if (s->nb != NULL) {
        net_backend_rx_resume(s->nb);
    }
}

static void rx_poll_cb(void *opaque)
{
    rtl_rx_resume(opaque);
}

/* ---- TCTR and TimerInt ---- */

static uint32_t tctr_now(const struct rtl8139 *s)
{
    uint64_t ns = (uint64_t)clock_now_ns() - s->tctr_base_ns;

    return (uint32_t)(ns * (TCTR_HZ / 1000000) / 1000);
}

/* TimeOut is raised when TCTR reaches TimerInt (non-zero), once per 2^32 counts. */
static void tctr_arm(struct rtl8139 *s)
{
    uint32_t now = tctr_now(s);
    uint64_t ticks;

    timer_cancel(s->tctr_timer);
    if (s->timer_int == 0 || s->pci == NULL) {
        return;
    }
    ticks = (uint32_t)(s->timer_int - now);
    if (ticks == 0) {
        ticks = UINT64_C(1) << 32;
    }
    timer_arm_ns(s->tctr_timer, ticks * 1000000000ull / TCTR_HZ + 1);
}

static void tctr_cb(void *opaque)
{
    struct rtl8139 *s = opaque;

    rtl_raise(s, INT_TIMEOUT);
    tctr_arm(s);
}

/* ---- the register file ---- */

static uint8_t rtl_cr_read(const struct rtl8139 *s)
{
    uint8_t v = s->cr & (CR_TE | CR_RE);

    if ((s->cbr % rx_ring_size(s)) == (s->rx_read % rx_ring_size(s))) {
        v |= CR_BUFE;
    }
    return v;
}

static uint8_t rtl_9346cr_read(const struct rtl8139 *s)
{
    uint8_t v = s->cfg9346 & 0xce;

    if ((s->cfg9346 >> EE_CR_MODE_SHIFT) == EE_MODE_PROGRAM && s->ee.dout) {
        v |= EE_CR_DO;
    }
    return v;
}

/* The value of the register of `width` bytes at `base` (a register's first byte). */
static uint32_t rtl_reg_value(struct rtl8139 *s, unsigned base)
{
    switch (base) {
    case REG_TSD0 ... REG_TSD0 + 15:
        return s->tsd[(base - REG_TSD0) / 4];
    case REG_TSAD0 ... REG_TSAD0 + 15:
        return s->tsad[(base - REG_TSAD0) / 4];
    case REG_RBSTART: return s->rbstart;
    case REG_CR: return rtl_cr_read(s);
    case REG_CAPR: return (uint16_t)(s->rx_read - RX_RING_SLACK);
    case REG_CBR: return s->cbr;
    case REG_IMR: return s->imr;
    case REG_ISR: return s->isr;
    case REG_TCR: return s->tcr;
    case REG_RCR: return s->rcr;
    case REG_TCTR: return tctr_now(s);
    case REG_MPC: return s->mpc;
    case REG_9346CR: return rtl_9346cr_read(s);
    case REG_CONFIG0: return s->config0;
    case REG_CONFIG1: return s->config1;
    case REG_TIMERINT: return s->timer_int;
    case REG_MSR: return MSR_VALUE;
    case REG_CONFIG3: return s->config3;
    case REG_CONFIG4: return s->config4;
    case REG_MULINT: return s->mulint;
    case REG_RERID: return RERID_VALUE;
    case REG_TSAD: return tsad_summary(s);
    case REG_BMCR: return s->bmcr;
    case REG_BMSR: return BMSR_VALUE;
    case REG_ANAR: return s->anar;
    case REG_ANLPAR: return ANLPAR_VALUE;
    case REG_ANER: return ANER_VALUE;
    case REG_CSCR: return s->cscr;
    case REG_CONFIG5: return s->config5;
    case REG_RXMAXSIZE: return s->rx_max_size;
    case REG_CPCMD: return s->cpcmd;
    case REG_INTRMITIGATE: return s->intr_mitigate;
    case REG_RDSAR: return s->rdsar_lo;
    case REG_RDSAR + 4: return s->rdsar_hi;
    case REG_ETTHR: return s->etthr;
    default:
        return 0; /* ERBCR, ERSR, the PHY test registers, TPPoll and reserved space read 0 */
    }
}

/* Width of the register that starts at `base` (4, 2 or 1); every other offset is a byte. */
static unsigned rtl_reg_width(unsigned off, unsigned *base)
{
    static const struct { uint8_t first, last, width; } spans[] = {
        {REG_TSD0, REG_RBSTART + 3, 4},  {REG_ERBCR, REG_ERBCR + 1, 2},
        {REG_CAPR, REG_ISR + 1, 2},      {REG_TCR, REG_MPC + 3, 4},
        {REG_TIMERINT, REG_TIMERINT + 3, 4}, {REG_MULINT, REG_MULINT + 1, 2},
        {REG_TSAD, REG_CSCR + 1, 2},     {REG_PHY1_PARM, REG_TW_PARM + 3, 4},
        {REG_RXMAXSIZE, REG_RXMAXSIZE + 1, 2}, {REG_CPCMD, REG_INTRMITIGATE + 1, 2},
        {REG_RDSAR, REG_RDSAR + 7, 4},
    };

    for (unsigned i = 0; i < ARRAY_SIZE(spans); i++) {
        if (off >= spans[i].first && off <= spans[i].last) {
            *base = off - (off - spans[i].first) % spans[i].width;
            return spans[i].width;
        }
    }
    *base = off;
    return 1;
}

static uint8_t rtl_read_byte(struct rtl8139 *s, unsigned off)
{
    unsigned base;

    if (off < REG_IDR0 + MAC_LEN) {
        return s->idr[off];
    }
    if (off >= REG_MAR0 && off < REG_MAR0 + 8) {
        return s->mar[off - REG_MAR0];
    }
    (void)rtl_reg_width(off, &base);
    return (uint8_t)(rtl_reg_value(s, base) >> (8 * (off - base)));
}

static uint64_t rtl_read(void *opaque, uint64_t offset, unsigned size)
{
    struct rtl8139 *s = opaque;
    uint64_t v = 0;

    for (unsigned i = 0; i < size && offset + i < RTL_REG_SIZE; i++) {
        v |= (uint64_t)rtl_read_byte(s, (unsigned)offset + i) << (8 * i);
    }
    return v;
}

static bool config_writable(const struct rtl8139 *s)
{
    return (s->cfg9346 >> EE_CR_MODE_SHIFT) == EE_MODE_CONFIG;
}

static void rtl_cr_write(struct rtl8139 *s, uint8_t val)
{
    if (val & CR_RST) {
        rtl_soft_reset(s);
        if (s->nb != NULL) {
            net_backend_rx_resume(s->nb); /* a frame kept for the old driver goes now */
        }
        return;
    }
    s->cr = val & (CR_TE | CR_RE);
    tsd_run(s);
    rtl_rx_resume(s);
}

static void rtl_9346cr_write(struct rtl8139 *s, uint8_t val)
{
    unsigned mode = val >> EE_CR_MODE_SHIFT;

    if (mode == EE_MODE_AUTOLOAD) {
        /* The load takes about 2 ms on hardware; here it is done at once and EEM reads 00. */
        rtl_load_from_eeprom(s);
        s->cfg9346 = 0;
        ee_deselect(&s->ee);
        return;
    }
    s->cfg9346 = val & 0xce;
    if (mode == EE_MODE_PROGRAM) {
        ee_pins(&s->ee, val & EE_CR_CS, val & EE_CR_SK, val & EE_CR_DI);
    } else {
        ee_deselect(&s->ee);
    }
}

static void rtl_tsd_or_dtccr_write(struct rtl8139 *s, unsigned base, uint32_t val)
{
    if (s->cpcmd & CPCMD_TX_ON) {
        /* C+ mode: 0x10 is DTCCR's low half, 0x14 its high half; 0x18-0x1f unused. */
        if (base == REG_TSD0 + 4) {
            s->dtccr_hi = val;
        } else if (base == REG_TSD0 && (val & DTCCR_DUMP)) {
            cp_dump_tally(s, val);
        }
        return;
    }
    tsd_write(s, (base - REG_TSD0) / 4, val);
}

static void rtl_bmcr_write(struct rtl8139 *s, uint16_t val)
{
    if (val & BMCR_RESET) {
        s->bmcr = BMCR_DEFAULT;
        s->anar = ANAR_DEFAULT;
        return;
    }
    s->bmcr = val & (uint16_t)~BMCR_ANRESTART; /* restart completes at once */
}

static void rtl_cpcmd_write(struct rtl8139 *s, uint16_t val)
{
    s->cpcmd = val & CPCMD_WRITABLE;
    rtl_rx_resume(s);
}

/* A write of the whole register at `base` (the bytes the guest did not write kept). */
static void rtl_reg_write(struct rtl8139 *s, unsigned base, uint32_t val)
{
    switch (base) {
    case REG_TSD0 ... REG_TSD0 + 15:
        rtl_tsd_or_dtccr_write(s, base, val);
        break;
    case REG_TSAD0 ... REG_TSAD0 + 15:
        s->tsad[(base - REG_TSAD0) / 4] = val;
        break;
    case REG_RBSTART: s->rbstart = val; break;
    case REG_CR: rtl_cr_write(s, (uint8_t)val); break;
    case REG_CAPR:
        s->rx_read = (uint16_t)(val + RX_RING_SLACK);
        rtl_rx_resume(s);
        break;
    case REG_IMR:
        s->imr = (uint16_t)val & INT_ALL;
        rtl_update_irq(s);
        rtl_rx_resume(s);
        break;
    case REG_ISR:
        s->isr &= (uint16_t)~val; /* write 1 to clear */
        rtl_update_irq(s);
        rtl_rx_resume(s);
        break;
    case REG_TCR: s->tcr = (val & TCR_WRITABLE) | TCR_HWVERID_C_PLUS; break;
    case REG_RCR:
        s->rcr = (val & RCR_WRITABLE) | (s->rcr & ~RCR_WRITABLE);
        rtl_rx_resume(s);
        break;
    case REG_TCTR:
        s->tctr_base_ns = (uint64_t)clock_now_ns(); /* any write clears the counter */
        tctr_arm(s);
        break;
    case REG_MPC: s->mpc = 0; break;
    case REG_9346CR: rtl_9346cr_write(s, (uint8_t)val); break;
    case REG_CONFIG0: break; /* boot ROM size: read-only */
    case REG_CONFIG1:
        if (config_writable(s)) {
            s->config1 = (uint8_t)((val & 0xf3) | CONFIG1_DEFAULT);
        }
        break;
    case REG_TIMERINT:
        s->timer_int = val;
        tctr_arm(s);
        break;
    case REG_CONFIG3:
        if (config_writable(s)) {
            s->config3 = (uint8_t)val;
        }
        break;
    case REG_CONFIG4:
        if (config_writable(s)) {
            s->config4 = (uint8_t)val;
        }
        break;
    case REG_CONFIG5: s->config5 = (uint8_t)val; break;
    case REG_MULINT: s->mulint = (uint16_t)val & 0x0fff; break;
    case REG_BMCR: rtl_bmcr_write(s, (uint16_t)val); break;
    case REG_ANAR: s->anar = (uint16_t)val; break;
    case REG_CSCR: s->cscr = (uint16_t)val; break;
    case REG_TPPOLL:
        if (val & TPPOLL_HPQ) {
            cp_tx_poll(s, true);
        }
        if (val & TPPOLL_NPQ) {
            cp_tx_poll(s, false);
        }
        if (val & TPPOLL_FSWINT) {
            rtl_raise(s, INT_SWINT);
        }
        break;
    case REG_RXMAXSIZE: s->rx_max_size = (uint16_t)val & 0x1fff; break;
    case REG_CPCMD: rtl_cpcmd_write(s, (uint16_t)val); break;
    case REG_INTRMITIGATE: s->intr_mitigate = (uint16_t)val; break;
    case REG_RDSAR:
        s->rdsar_lo = val & ~0xffu; /* 256-byte aligned */
        rtl_rx_resume(s);
        break;
    case REG_RDSAR + 4: s->rdsar_hi = val; break;
    case REG_ETTHR: s->etthr = (uint8_t)val & 0x3f; break;
    default:
        break; /* read-only and reserved registers */
    }
}

static void rtl_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct rtl8139 *s = opaque;
    unsigned off = (unsigned)offset, end = off + size;

    while (off < end && off < RTL_REG_SIZE) {
        unsigned base, width = rtl_reg_width(off, &base);
        unsigned last = XENDM_MIN(base + width, end);
        uint32_t merged;

        if (off < REG_IDR0 + MAC_LEN) {
            /* Drivers write the MAC with 9346CR unlocked; qemu-xen takes it any time too. */
            s->idr[off] = (uint8_t)(value >> (8 * (off - offset)));
            off++;
            continue;
        }
        if (off >= REG_MAR0 && off < REG_MAR0 + 8) {
            s->mar[off - REG_MAR0] = (uint8_t)(value >> (8 * (off - offset)));
            off++;
            continue;
        }
        /* A partial write keeps the register's other bytes; ISR is write-1-to-clear, so its
         * unwritten bytes are zeros. */
        merged = base == REG_ISR ? 0 : rtl_reg_value(s, base);
        for (unsigned b = off; b < last; b++) {
            uint32_t byte = (uint32_t)(value >> (8 * (b - offset))) & 0xff;
            merged = (merged & ~(0xffu << (8 * (b - base)))) | byte << (8 * (b - base));
        }
        rtl_reg_write(s, base, merged);
        off = last;
    }
}

static const struct region_ops rtl_io_ops = {
    .read = rtl_read,
    .write = rtl_write,
    .min_access = 1,
    .max_access = 4,
};

static const struct region_ops rtl_mmio_ops = {
    .read = rtl_read,
    .write = rtl_write,
    .min_access = 1,
    .max_access = 4,
};

/* ---- PCI function, unplug, life cycle ---- */

static void rtl_pci_reset(struct pci_device *d, void *opaque)
{
    struct rtl8139 *s = opaque;

    (void)d;
    s->irq_level = false;
}

static const struct pci_device_ops rtl_pci_ops = {
    .reset = rtl_pci_reset,
};

static void rtl_detach_backend(struct rtl8139 *s)
{
    if (s->nb != NULL) {
        net_backend_detach(s->nb);
        s->nb = NULL;
    }
}

/* The platform device's NIC bit: the function leaves the bus, the backend is let go. */
static void rtl_do_unplug(struct rtl8139 *s)
{
    timer_cancel(s->rx_poll_timer);
    timer_cancel(s->tctr_timer);
    rtl_detach_backend(s);
    if (s->pci != NULL) {
        pci_device_remove(s->pci);
        s->pci = NULL;
    }
    s->irq_level = false;
    s->unplugged = true;
}

static void rtl_unplug(void *opaque, unsigned kind)
{
    struct rtl8139 *s = opaque;

    if (kind != UNPLUG_NIC || s->unplugged) {
        return;
    }
    log_info("rtl8139: unplugged by the guest's PV drivers");
    rtl_do_unplug(s);
}

static bool rtl_parse_props(struct rtl8139 *s, struct kv_list *props, int *devfn, GError **err)
{
    const char *mac = kv_get(props, "mac");
    const char *netdev = kv_get(props, "netdev");

    if (!pci_devfn_from_props(props, devfn, err)) {
        return false;
    }
    if (!net_nic_mac(mac, s->conf_mac, err)) {
        return false;
    }
    if (netdev == NULL) {
        log_warn("rtl8139: no netdev=: frames sent go nowhere");
        return true;
    }
    s->nb = machine_find_netdev(s->machine, netdev);
    if (s->nb == NULL) {
        g_set_error(err, RTL8139_ERROR, 0, "netdev=%s: no -netdev with that id", netdev);
        return false;
    }
    if (!net_backend_attach(s->nb, &rtl_net_client, s, err)) {
        s->nb = NULL;
        return false;
    }
    /* Frames leave finished and arrive finished: no offload is asked of the tap. */
    net_backend_set_offloads(s->nb, 0);
    return true;
}

static void rtl8139_destroy(void *dev)
{
    struct rtl8139 *s = dev;

    if (s == NULL) {
        return;
    }
    if (s->unplug_registered) {
        machine_unregister_unplug(s->machine, s);
    }
    rtl_detach_backend(s);
    if (s->pci != NULL) {
        pci_device_remove(s->pci);
    }
    timer_free(s->rx_poll_timer);
    timer_free(s->tctr_timer);
    g_free(s->txbuf);
    g_free(s->segbuf);
    g_free(s);
}

static void *rtl8139_create(struct machine *m, struct kv_list *props, GError **err)
{
    static const struct pci_device_id id = {
        .vendor_id = 0x10ec,
        .device_id = 0x8139,
        .revision = 0x20, /* C+: 8139cp takes revisions >= 0x20 */
        .class_code = 0x020000,
        .interrupt_pin = 1,
    };
    struct rtl8139 *s = g_new0(struct rtl8139, 1);
    struct pci_bus *bus = machine_pci_bus(m);
    int devfn = PCI_DEVFN_AUTO;

    s->machine = m;
    s->rx_poll_timer = timer_new(rx_poll_cb, s);
    s->tctr_timer = timer_new(tctr_cb, s);
    s->txbuf = g_malloc(CP_TX_LARGE_MAX + VLAN_HLEN);
    s->segbuf = g_malloc(CP_TX_FRAME_MAX + CP_TX_MSS_MASK);
    if (bus == NULL) {
        g_set_error(err, RTL8139_ERROR, 0, "rtl8139: this machine has no PCI bus");
        goto fail;
    }
    if (!rtl_parse_props(s, props, &devfn, err)) {
        goto fail;
    }
    s->pci = pci_device_add(bus, devfn, RTL8139_TYPE_NAME, &id, &rtl_pci_ops, s, err);
    if (s->pci == NULL) {
        goto fail;
    }
    if (pci_register_bar(s->pci, 0, PCI_BAR_IO, RTL_REG_SIZE, &rtl_io_ops, s) < 0 ||
        pci_register_bar(s->pci, 1, PCI_BAR_MEM32, RTL_REG_SIZE, &rtl_mmio_ops, s) < 0) {
        g_set_error(err, RTL8139_ERROR, 0, "rtl8139: the PCI core refused a BAR");
        goto fail;
    }
    /* iPXE's image, as QEMU's rtl8139 has by default: SeaBIOS can boot from the network. */
    if (!pci_load_romfile(s->pci, props, "efi-rtl8139.rom", err)) {
        goto fail;
    }
    machine_register_unplug(m, UNPLUG_KIND_BIT(UNPLUG_NIC), rtl_unplug, s);
    s->unplug_registered = true;
    ee_fill(&s->ee, s->conf_mac);
    rtl_power_on_reset(s);
    return s;

fail:
    rtl8139_destroy(s);
    return NULL;
}

static void rtl8139_reset(void *dev)
{
    struct rtl8139 *s = dev;

    if (s->unplugged) {
        return;
    }
    /* A reset machine starts from the EEPROM the guest may have reprogrammed. */
    rtl_power_on_reset(s);
    if (s->nb != NULL) {
        net_backend_rx_resume(s->nb);
    }
}

static void rtl8139_post_load(void *dev)
{
    struct rtl8139 *s = dev;

    if (s->unplugged) {
        rtl_do_unplug(s);
        return;
    }
    s->rx_held = false;
    s->rx_rdu_raised = false;
    s->cp_tx_idx %= CP_RING_MAX;
    s->cp_txhp_idx %= CP_RING_MAX;
    s->cp_rx_idx %= CP_RING_MAX;
    s->tx_next %= 4;
    s->ee.state = s->ee.state <= EE_WRITING ? s->ee.state : EE_IDLE;
    s->ee.nbits &= 0x0f;
    s->ee.addr &= EE_WORDS - 1;
    /* The INTx level is the PCI core's; bring ours in line with the restored registers. */
    s->irq_level = !((s->isr & s->imr & INT_ALL) != 0);
    rtl_update_irq(s);
    s->tctr_base_ns = (uint64_t)clock_now_ns();
    tctr_arm(s);
}

#define RTL_U8_ARRAY(m, n) VMSTATE_U8_ARRAY(struct rtl8139, m, n)
#define RTL_U16(m) VMSTATE_U16(struct rtl8139, m)
#define RTL_U32(m) VMSTATE_U32(struct rtl8139, m)
#define RTL_U8(m) VMSTATE_U8(struct rtl8139, m)

static const struct vmstate_field rtl8139_fields[] = {
    VMSTATE_BOOL(struct rtl8139, unplugged),
    RTL_U8_ARRAY(idr, MAC_LEN),
    RTL_U8_ARRAY(mar, 8),
    VMSTATE_FIELD_FULL("tsd", struct rtl8139, tsd, VMSTATE_TYPE_U32, 4, 4, 0, 0),
    VMSTATE_FIELD_FULL("tsad", struct rtl8139, tsad, VMSTATE_TYPE_U32, 4, 4, 0, 0),
    RTL_U32(rbstart), RTL_U16(rx_read), RTL_U16(cbr), RTL_U8(cr),
    RTL_U16(imr), RTL_U16(isr), RTL_U32(tcr), RTL_U32(rcr), RTL_U32(mpc),
    RTL_U32(timer_int), RTL_U8(cfg9346), RTL_U8(config0), RTL_U8(config1), RTL_U8(config3),
    RTL_U8(config4), RTL_U8(config5), RTL_U16(mulint), RTL_U16(bmcr), RTL_U16(anar),
    RTL_U16(cscr), RTL_U32(dtccr_hi), RTL_U16(cpcmd), RTL_U16(intr_mitigate),
    RTL_U16(rx_max_size), RTL_U8(etthr), RTL_U32(rdsar_lo), RTL_U32(rdsar_hi),
    VMSTATE_U32_MAX(struct rtl8139, tx_next, 3),
    VMSTATE_U32_MAX(struct rtl8139, cp_tx_idx, CP_RING_MAX - 1),
    VMSTATE_U32_MAX(struct rtl8139, cp_txhp_idx, CP_RING_MAX - 1),
    VMSTATE_U32_MAX(struct rtl8139, cp_rx_idx, CP_RING_MAX - 1),
    VMSTATE_FIELD_FULL("ee.words", struct rtl8139, ee.words, VMSTATE_TYPE_U16, 2, EE_WORDS, 0,
                       0),
    VMSTATE_U8_MAX(struct rtl8139, ee.state, EE_WRITING),
    VMSTATE_BOOL(struct rtl8139, ee.cs), VMSTATE_BOOL(struct rtl8139, ee.sk),
    VMSTATE_BOOL(struct rtl8139, ee.di), VMSTATE_BOOL(struct rtl8139, ee.dout),
    VMSTATE_BOOL(struct rtl8139, ee.write_enabled),
    VMSTATE_U8_MAX(struct rtl8139, ee.nbits, 16), VMSTATE_U16(struct rtl8139, ee.shift),
    VMSTATE_U8_MAX(struct rtl8139, ee.addr, EE_WORDS - 1),
    VMSTATE_U8_MAX(struct rtl8139, ee.opcode, 3),
    VMSTATE_END,
};

static const struct vmstate_desc rtl8139_vmstate = {
    .name = RTL8139_TYPE_NAME,
    .version = 1,
    .fields = rtl8139_fields,
    .post_load = rtl8139_post_load,
};

static const struct device_type rtl8139_type = {
    .name = RTL8139_TYPE_NAME,
    .description = "Realtek RTL8139C+ Ethernet on a -netdev (normal and C+ mode, checksum "
                   "offload, large send)",
    .user_creatable = true,
    .create = rtl8139_create,
    .reset = rtl8139_reset,
    .destroy = rtl8139_destroy,
    .vmstate = &rtl8139_vmstate,
};
DEVICE_TYPE_REGISTER(rtl8139_type);
