/*
 * The Intel 82540EM register map, descriptor layouts and EEPROM/PHY constants, from the
 * PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's Manual (8254x),
 * chapter 13 (registers), chapter 3 (descriptors), chapter 5 (EEPROM) and the M88E1011 PHY
 * registers it lists. Offsets are in BAR0 (and through IOADDR/IODATA in BAR1).
 */
#ifndef HW_NET_E1000_REGS_H
#define HW_NET_E1000_REGS_H

/* ---- general (§13.4) ---- */
#define E1000_CTRL 0x0000
#define E1000_STATUS 0x0008
#define E1000_EECD 0x0010
#define E1000_EERD 0x0014
#define E1000_CTRL_EXT 0x0018
#define E1000_MDIC 0x0020
#define E1000_FCAL 0x0028
#define E1000_FCAH 0x002c
#define E1000_FCT 0x0030
#define E1000_VET 0x0038
#define E1000_ICR 0x00c0
#define E1000_ITR 0x00c4
#define E1000_ICS 0x00c8
#define E1000_IMS 0x00d0
#define E1000_IMC 0x00d8
#define E1000_RCTL 0x0100
#define E1000_FCTTV 0x0170
#define E1000_TXCW 0x0178
#define E1000_RXCW 0x0180
#define E1000_TCTL 0x0400
#define E1000_TIPG 0x0410
#define E1000_AIFS 0x0458
#define E1000_LEDCTL 0x0e00
#define E1000_PBA 0x1000
#define E1000_FCRTL 0x2160
#define E1000_FCRTH 0x2168
#define E1000_RDBAL 0x2800
#define E1000_RDBAH 0x2804
#define E1000_RDLEN 0x2808
#define E1000_RDH 0x2810
#define E1000_RDT 0x2818
#define E1000_RDTR 0x2820
#define E1000_RXDCTL 0x2828
#define E1000_RADV 0x282c
#define E1000_RSRPD 0x2c00
#define E1000_TXDMAC 0x3000
#define E1000_TDBAL 0x3800
#define E1000_TDBAH 0x3804
#define E1000_TDLEN 0x3808
#define E1000_TDH 0x3810
#define E1000_TDT 0x3818
#define E1000_TIDV 0x3820
#define E1000_TXDCTL 0x3828
#define E1000_TADV 0x382c
#define E1000_TSPMT 0x3830
#define E1000_STATS_FIRST 0x4000 /* statistics, 0x4000-0x40fc, read to clear (§13.7) */
#define E1000_STATS_LAST 0x40fc
#define E1000_RXCSUM 0x5000
#define E1000_MTA 0x5200 /* 128 registers */
#define E1000_RA 0x5400  /* 16 pairs RAL/RAH */
#define E1000_VFTA 0x5600 /* 128 registers */
#define E1000_MTA_REGS 128u
#define E1000_RA_ENTRIES 16u
#define E1000_VFTA_REGS 128u
#define E1000_STATS_REGS 64u

/* Statistics registers used here (offsets; §13.7). */
#define E1000_MPC 0x4010
#define E1000_PRC64 0x405c
#define E1000_PRC127 0x4060
#define E1000_PRC255 0x4064
#define E1000_PRC511 0x4068
#define E1000_PRC1023 0x406c
#define E1000_PRC1522 0x4070
#define E1000_GPRC 0x4074
#define E1000_BPRC 0x4078
#define E1000_MPRC 0x407c
#define E1000_GPTC 0x4080
#define E1000_GORCL 0x4088
#define E1000_GORCH 0x408c
#define E1000_GOTCL 0x4090
#define E1000_GOTCH 0x4094
#define E1000_RNBC 0x40a0
#define E1000_RUC 0x40a4
#define E1000_ROC 0x40ac
#define E1000_TORL 0x40c0
#define E1000_TORH 0x40c4
#define E1000_TOTL 0x40c8
#define E1000_TOTH 0x40cc
#define E1000_TPR 0x40d0
#define E1000_TPT 0x40d4
#define E1000_PTC64 0x40d8
#define E1000_PTC127 0x40dc
#define E1000_PTC255 0x40e0
#define E1000_PTC511 0x40e4
#define E1000_PTC1023 0x40e8
#define E1000_PTC1522 0x40ec
#define E1000_MPTC 0x40f0
#define E1000_BPTC 0x40f4
#define E1000_TSCTC 0x40f8
#define E1000_TSCTFC 0x40fc

/* I/O BAR (§13.3): IOADDR selects a register, IODATA reads or writes it. */
#define E1000_IOADDR 0x00
#define E1000_IODATA 0x04
#define E1000_IOADDR_MASK 0x0001fffcu

/* CTRL (§13.4.1) */
#define CTRL_FD (1u << 0)
#define CTRL_LRST (1u << 3)
#define CTRL_SLU (1u << 6)
#define CTRL_SPD_1000 (2u << 8)
#define CTRL_SWDPIN0 (1u << 18)
#define CTRL_SWDPIN2 (1u << 20)
#define CTRL_RST (1u << 26)
#define CTRL_VME (1u << 30)
#define CTRL_PHY_RST (1u << 31)

/* STATUS (§13.4.2) */
#define STATUS_FD (1u << 0)
#define STATUS_LU (1u << 1)
#define STATUS_SPEED_1000 (2u << 6)
/* ASDV reads 11b as on qemu-xen (the SDM lists 10b for 1000 Mb/s): no driver reads it, and
 * a guest moved from qemu-xen sees the same STATUS. */
#define STATUS_ASDV (3u << 8)
#define STATUS_MTXCKOK (1u << 10)
#define STATUS_GIO_MASTER_EN (1u << 19)
#define STATUS_RESERVED31 (1u << 31)

/* EECD (§13.4.3): Microwire bit-banging and the software grant */
#define EECD_SK (1u << 0)
#define EECD_CS (1u << 1)
#define EECD_DI (1u << 2)
#define EECD_DO (1u << 3)
#define EECD_FWE_DIS (1u << 4)
#define EECD_REQ (1u << 6)
#define EECD_GNT (1u << 7)
#define EECD_PRES (1u << 8)
#define EECD_WRITABLE (EECD_SK | EECD_CS | EECD_DI | EECD_REQ | (3u << 4))

/* EERD (§13.4.4, 82540 layout): START, DONE, ADDR 15:8, DATA 31:16 */
#define EERD_START (1u << 0)
#define EERD_DONE (1u << 4)
#define EERD_ADDR_SHIFT 8
#define EERD_ADDR_MASK 0xff00u
#define EERD_DATA_SHIFT 16

/* MDIC (§13.4.7) */
#define MDIC_DATA_MASK 0xffffu
#define MDIC_REG_SHIFT 16
#define MDIC_PHY_SHIFT 21
#define MDIC_OP_WRITE (1u << 26)
#define MDIC_OP_READ (2u << 26)
#define MDIC_READY (1u << 28)
#define MDIC_INT_EN (1u << 29)
#define MDIC_ERROR (1u << 30)

/* Interrupt causes: ICR/ICS/IMS/IMC (§13.4.17-21) */
#define ICR_TXDW (1u << 0)
#define ICR_TXQE (1u << 1)
#define ICR_LSC (1u << 2)
#define ICR_RXSEQ (1u << 3)
#define ICR_RXDMT0 (1u << 4)
#define ICR_RXO (1u << 6)
#define ICR_RXT0 (1u << 7)
#define ICR_MDAC (1u << 9)
#define ICR_RXCFG (1u << 10)
#define ICR_TXD_LOW (1u << 15)
#define ICR_SRPD (1u << 16)
#define ICR_VALID 0x0001fedfu /* the causes the 82540 defines (bits 5 and 8 reserved) */

/* RCTL (§13.4.22) */
#define RCTL_EN (1u << 1)
#define RCTL_SBP (1u << 2)
#define RCTL_UPE (1u << 3)
#define RCTL_MPE (1u << 4)
#define RCTL_LPE (1u << 5)
#define RCTL_RDMTS_SHIFT 8
#define RCTL_MO_SHIFT 12
#define RCTL_BAM (1u << 15)
#define RCTL_BSIZE_SHIFT 16
#define RCTL_VFE (1u << 18)
#define RCTL_BSEX (1u << 25)
#define RCTL_SECRC (1u << 26)

/* TCTL (§13.4.33) */
#define TCTL_EN (1u << 1)

/* RXCSUM (§13.4.36) */
#define RXCSUM_PCSS_MASK 0xffu
#define RXCSUM_IPOFLD (1u << 8)
#define RXCSUM_TUOFLD (1u << 9)

/* RAH (§13.5.3) */
#define RAH_AV (1u << 31)

/* RDTR (§13.4.28): flush partial descriptor */
#define RDTR_FPD (1u << 31)

/* ---- descriptors (§3.2, §3.3) ---- */
#define E1000_DESC_SIZE 16u
#define E1000_RING_ALIGN 128u /* RDLEN/TDLEN are multiples of 128 bytes */
#define E1000_LEN_MASK 0x000fff80u

/* Receive descriptor status and errors (§3.2.3) */
#define RXD_STAT_DD 0x01
#define RXD_STAT_EOP 0x02
#define RXD_STAT_IXSM 0x04
#define RXD_STAT_VP 0x08
#define RXD_STAT_TCPCS 0x20
#define RXD_STAT_IPCS 0x40
#define RXD_ERR_TCPE 0x20
#define RXD_ERR_IPE 0x40

/* Transmit: legacy command byte (§3.3.3) */
#define TXD_CMD_EOP 0x01
#define TXD_CMD_IFCS 0x02
#define TXD_CMD_IC 0x04
#define TXD_CMD_RS 0x08
#define TXD_CMD_RPS 0x10
#define TXD_CMD_DEXT 0x20
#define TXD_CMD_VLE 0x40
#define TXD_CMD_IDE 0x80
#define TXD_STAT_DD 0x01

/* Extended descriptors: DTYP in bits 23:20 of the command/length dword (§3.3.5-7) */
#define TXD_DTYP_SHIFT 20
#define TXD_DTYP_CONTEXT 0x0
#define TXD_DTYP_DATA 0x1
#define TXD_LEN_MASK 0x000fffffu
/* Context TUCMD / data DCMD bits, as the top byte of that dword */
#define TXD_TUCMD_TCP 0x01
#define TXD_TUCMD_IP 0x02
#define TXD_TUCMD_TSE 0x04
#define TXD_DCMD_TSE 0x04
/* POPTS of a data descriptor */
#define TXD_POPTS_IXSM 0x01
#define TXD_POPTS_TXSM 0x02

/* ---- EEPROM (§5.6, 93C46: 64 words, 6 address bits, Microwire) ---- */
#define EEPROM_WORDS 64u
#define EEPROM_ADDR_BITS 6u
#define EEPROM_OPCODE_BITS 3u /* start bit + 2-bit opcode */
#define EEPROM_OP_READ 0x6u   /* 1 10 */
#define EEPROM_CHECKSUM_WORD 0x3f
#define EEPROM_CHECKSUM_SUM 0xbaba

/* ---- PHY: the M88E1011 at MDIO address 1 ---- */
#define PHY_ADDR 1u
#define PHY_REGS 32u
#define PHY_CTRL 0
#define PHY_STATUS 1
#define PHY_ID1 2
#define PHY_ID2 3
#define PHY_AUTONEG_ADV 4
#define PHY_LP_ABILITY 5
#define PHY_AUTONEG_EXP 6
#define PHY_NEXT_PAGE_TX 7
#define PHY_1000T_CTRL 9
#define PHY_1000T_STATUS 10
#define PHY_EXT_STATUS 15
#define M88_PHY_SPEC_CTRL 16
#define M88_PHY_SPEC_STATUS 17
#define M88_INT_ENABLE 18
#define M88_EXT_PHY_SPEC_CTRL 20
#define M88_RX_ERR_CNTR 21
#define M88_LED_CTRL 24
#define PHY_CTRL_RESET (1u << 15)
#define PHY_CTRL_RESTART_AN (1u << 9)
#define PHY_STATUS_LINK (1u << 2)
#define PHY_STATUS_AN_DONE (1u << 5)

#endif
