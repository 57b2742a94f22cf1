/*
 * The PIIX4 SMBus host controller at 00:01.3 and the SPD EEPROMs behind it, driven the way
 * Linux's i2c-piix4 drives them: set up SMBHSTADD/CMD/DAT0, write the protocol with START
 * to SMBHSTCNT, poll SMBHSTSTS until HOST_BUSY clears, clear the status by writing it back.
 * Runs against xendm and qemu-xen; what only xendm does (the datasheet's interrupt, the
 * START-until-cleared rule, the 16-byte decode) is asserted only under xendm.
 */
#include "qtest-pci.h"

#include <string.h>

#define PIIX4_PM QPCI_DEVFN(1, 3)
#define CFG_SMBBA 0x90
#define CFG_SMBHSTCFG 0xd2

#define SMB_BASE 0xb100
#define SMBHSTSTS (SMB_BASE + 0x00)
#define SMBHSTCNT (SMB_BASE + 0x02)
#define SMBHSTCMD (SMB_BASE + 0x03)
#define SMBHSTADD (SMB_BASE + 0x04)
#define SMBHSTDAT0 (SMB_BASE + 0x05)
#define SMBHSTDAT1 (SMB_BASE + 0x06)
#define SMBBLKDAT (SMB_BASE + 0x07)
#define SMB_IO_LEN 16

#define STS_HOST_BUSY 0x01
#define STS_INTER 0x02
#define STS_DEV_ERR 0x04
#define STS_FAILED 0x10

#define CNT_INTEREN 0x01
#define CNT_KILL 0x02
#define CNT_START 0x40
#define PROT_QUICK 0x00
#define PROT_BYTE 0x04
#define PROT_BYTE_DATA 0x08
#define PROT_WORD_DATA 0x0c
#define PROT_BLOCK 0x14

#define SPD_FIRST 0x50
#define ABSENT 0x20
#define ADDR_READ(a) ((uint8_t)((a) << 1 | 1))
#define ADDR_WRITE(a) ((uint8_t)((a) << 1))

/* qemu-xen runs a polled transaction on the first status read: poll as the driver does. */
#define POLL_LIMIT 100

static struct qtest *start_machine(void)
{
    return qtest_start("--serial null", NULL);
}

static uint8_t smbus_wait(struct qtest *qt)
{
    uint8_t status = qtest_inb(qt, SMBHSTSTS);

    for (unsigned i = 0; i < POLL_LIMIT && (status & STS_HOST_BUSY); i++) {
        status = qtest_inb(qt, SMBHSTSTS);
    }
    g_assert_cmphex(status & STS_HOST_BUSY, ==, 0);
    return status;
}

/* One transaction; returns the final status, which is then cleared. */
static uint8_t smbus_xfer(struct qtest *qt, uint8_t addr, uint8_t cmd, uint8_t dat0,
                          uint8_t control)
{
    uint8_t status;

    qtest_outb(qt, SMBHSTADD, addr);
    qtest_outb(qt, SMBHSTCMD, cmd);
    qtest_outb(qt, SMBHSTDAT0, dat0);
    qtest_outb(qt, SMBHSTCNT, CNT_START | control);
    status = smbus_wait(qt);
    qtest_outb(qt, SMBHSTSTS, status);
    g_assert_cmphex(qtest_inb(qt, SMBHSTSTS), ==, 0);
    return status;
}

static bool irq9_raised(struct qtest *qt)
{
    char **events = qtest_irq_log(qt);
    bool raised = false;

    for (char **e = events; *e != NULL; e++) {
        raised |= strcmp(*e, "isa 9 1") == 0;
    }
    g_strfreev(events);
    return raised;
}

/* ---- configuration, as qemu-xen creates it ---- */

static void test_config(void)
{
    struct qtest *qt = start_machine();

    g_assert_cmphex(qpci_read(qt, PIIX4_PM, CFG_SMBBA, 4), ==, SMB_BASE | 1);
    g_assert_cmphex(qpci_read(qt, PIIX4_PM, CFG_SMBHSTCFG, 1), ==, 0x09);
    g_assert_cmphex(qtest_inb(qt, SMBHSTSTS), ==, 0x00);
    /* Host enable cleared: the block is no longer decoded. */
    qpci_write(qt, PIIX4_PM, CFG_SMBHSTCFG, 0x08, 1);
    g_assert_cmphex(qtest_inb(qt, SMBHSTSTS), ==, 0xff);
    qpci_write(qt, PIIX4_PM, CFG_SMBHSTCFG, 0x09, 1);
    g_assert_cmphex(qtest_inb(qt, SMBHSTSTS), ==, 0x00);
    if (qtest_dm_is_xendm()) {
        /* The datasheet's masks and 16-byte block (qemu-xen: every bit, 64 bytes). */
        qpci_write(qt, PIIX4_PM, CFG_SMBBA, 0xffffffff, 4);
        g_assert_cmphex(qpci_read(qt, PIIX4_PM, CFG_SMBBA, 4), ==, 0xfff1);
        qpci_write(qt, PIIX4_PM, CFG_SMBBA, SMB_BASE | 1, 4);
        qpci_write(qt, PIIX4_PM, CFG_SMBHSTCFG, 0xff, 1);
        g_assert_cmphex(qpci_read(qt, PIIX4_PM, CFG_SMBHSTCFG, 1), ==, 0x0f);
        g_assert_cmphex(qtest_inb(qt, SMB_BASE + SMB_IO_LEN), ==, 0xff);
    }
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* ---- the SPD EEPROMs ---- */

static void test_byte_data_read(void)
{
    struct qtest *qt = start_machine();

    for (unsigned dev = 0; dev < 8; dev++) {
        g_assert_cmphex(smbus_xfer(qt, ADDR_READ(SPD_FIRST + dev), 0, 0xee, PROT_BYTE_DATA),
                        ==, STS_INTER);
        g_assert_cmphex(qtest_inb(qt, SMBHSTDAT0), ==, 0x00); /* SPD byte 0 */
    }
    /* SMBHSTCNT reads back without START. */
    g_assert_cmphex(qtest_inb(qt, SMBHSTCNT), ==, PROT_BYTE_DATA);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_absent_device(void)
{
    struct qtest *qt = start_machine();

    g_assert_cmphex(smbus_xfer(qt, ADDR_READ(ABSENT), 0, 0, PROT_BYTE_DATA), ==, STS_DEV_ERR);
    g_assert_cmphex(smbus_xfer(qt, ADDR_WRITE(ABSENT), 0, 0, PROT_QUICK), ==, STS_DEV_ERR);
    g_assert_cmphex(smbus_xfer(qt, ADDR_READ(SPD_FIRST + 8), 0, 0, PROT_BYTE), ==, STS_DEV_ERR);
    g_assert_cmphex(smbus_xfer(qt, ADDR_WRITE(SPD_FIRST), 0, 0, PROT_QUICK), ==, STS_INTER);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* Status bits clear when written with 1, and only then. */
static void test_status_w1c(void)
{
    struct qtest *qt = start_machine();
    uint8_t status;

    qtest_outb(qt, SMBHSTADD, ADDR_READ(ABSENT));
    qtest_outb(qt, SMBHSTCNT, CNT_START | PROT_BYTE_DATA);
    status = smbus_wait(qt);
    g_assert_cmphex(status, ==, STS_DEV_ERR);
    qtest_outb(qt, SMBHSTSTS, 0x00);
    g_assert_cmphex(qtest_inb(qt, SMBHSTSTS), ==, STS_DEV_ERR);
    qtest_outb(qt, SMBHSTSTS, STS_INTER);
    g_assert_cmphex(qtest_inb(qt, SMBHSTSTS), ==, STS_DEV_ERR);
    qtest_outb(qt, SMBHSTSTS, STS_DEV_ERR);
    g_assert_cmphex(qtest_inb(qt, SMBHSTSTS), ==, 0x00);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* Writes stay in the EEPROM; word data is low byte first; receive byte reads on. */
static void test_write_and_word_read(void)
{
    struct qtest *qt = start_machine();
    uint8_t dev = SPD_FIRST + 7;

    g_assert_cmphex(smbus_xfer(qt, ADDR_WRITE(dev), 0x20, 0x34, PROT_BYTE_DATA), ==, STS_INTER);
    g_assert_cmphex(smbus_xfer(qt, ADDR_WRITE(dev), 0x21, 0x12, PROT_BYTE_DATA), ==, STS_INTER);
    g_assert_cmphex(smbus_xfer(qt, ADDR_READ(dev), 0x20, 0, PROT_WORD_DATA), ==, STS_INTER);
    g_assert_cmphex(qtest_inb(qt, SMBHSTDAT0), ==, 0x34);
    g_assert_cmphex(qtest_inb(qt, SMBHSTDAT1), ==, 0x12);
    /* Send byte sets the pointer, receive byte reads at it. */
    g_assert_cmphex(smbus_xfer(qt, ADDR_WRITE(dev), 0x21, 0, PROT_BYTE), ==, STS_INTER);
    g_assert_cmphex(smbus_xfer(qt, ADDR_READ(dev), 0, 0, PROT_BYTE), ==, STS_INTER);
    g_assert_cmphex(qtest_inb(qt, SMBHSTDAT0), ==, 0x12);
    /* Another EEPROM is untouched. */
    g_assert_cmphex(smbus_xfer(qt, ADDR_READ(SPD_FIRST), 0x20, 0, PROT_WORD_DATA), ==,
                    STS_INTER);
    g_assert_cmphex(qtest_inb(qt, SMBHSTDAT0), ==, 0x00);
    g_assert_cmphex(qtest_inb(qt, SMBHSTDAT1), ==, 0x00);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/*
 * Block write of 3 bytes, read back as a block: the EEPROM stores the count byte too. The
 * write comes first: qemu-xen answered DEV_ERR to this block write when a block read had
 * come before it (its block engine keeps state across transactions that the PIIX4 lacks).
 */
static void test_block(void)
{
    static const uint8_t payload[] = {0x11, 0x22, 0x33};
    struct qtest *qt = start_machine();
    uint8_t dev = SPD_FIRST + 1;

    qtest_inb(qt, SMBHSTCNT); /* resets the array index */
    for (unsigned i = 0; i < sizeof(payload); i++) {
        qtest_outb(qt, SMBBLKDAT, payload[i]);
    }
    g_assert_cmphex(smbus_xfer(qt, ADDR_WRITE(dev), 0x10, sizeof(payload), PROT_BLOCK), ==,
                    STS_INTER);
    g_assert_cmphex(smbus_xfer(qt, ADDR_READ(dev), 0x10, 0, PROT_BLOCK), ==, STS_INTER);
    g_assert_cmphex(qtest_inb(qt, SMBHSTDAT0), ==, sizeof(payload));
    qtest_inb(qt, SMBHSTCNT);
    for (unsigned i = 0; i < sizeof(payload); i++) {
        g_assert_cmphex(qtest_inb(qt, SMBBLKDAT), ==, payload[i]);
    }
    /* The bytes as the EEPROM holds them: count, then data. */
    g_assert_cmphex(smbus_xfer(qt, ADDR_READ(dev), 0x10, 0, PROT_WORD_DATA), ==, STS_INTER);
    g_assert_cmphex(qtest_inb(qt, SMBHSTDAT0), ==, sizeof(payload));
    g_assert_cmphex(qtest_inb(qt, SMBHSTDAT1), ==, payload[0]);
    /* Zeros: a block read at byte 0 sees a count of 0. */
    g_assert_cmphex(smbus_xfer(qt, ADDR_READ(SPD_FIRST), 0, 0x99, PROT_BLOCK), ==, STS_INTER);
    g_assert_cmphex(qtest_inb(qt, SMBHSTDAT0), ==, 0);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/*
 * INTEREN with SMBHSTCFG's interrupt select at IRQ 9 (0x09): xendm raises IRQ 9 as the
 * datasheet says until the status is cleared; qemu-xen's PIIX4 wires no SMBus interrupt.
 */
static void test_interrupt(void)
{
    struct qtest *qt = start_machine();
    uint8_t status;
    bool raised;

    g_strfreev(qtest_irq_log(qt));
    qtest_outb(qt, SMBHSTADD, ADDR_READ(SPD_FIRST));
    qtest_outb(qt, SMBHSTCMD, 0);
    qtest_outb(qt, SMBHSTCNT, CNT_START | CNT_INTEREN | PROT_BYTE_DATA);
    status = smbus_wait(qt);
    g_assert_cmphex(status, ==, STS_INTER);
    raised = irq9_raised(qt);
    g_test_message("%s: IRQ 9 %s on completion with INTEREN", qtest_dm_name(),
                   raised ? "raised" : "not raised");
    if (qtest_dm_is_xendm()) {
        g_assert_true(raised);
        g_assert_cmpint(qtest_isa_level(qt, 9), ==, 1);
    }
    qtest_outb(qt, SMBHSTSTS, status);
    g_assert_cmpint(qtest_isa_level(qt, 9), ==, 0);
    /* Without INTEREN nothing is raised by either. */
    g_assert_cmphex(smbus_xfer(qt, ADDR_READ(SPD_FIRST), 0, 0, PROT_BYTE_DATA), ==, STS_INTER);
    g_assert_false(irq9_raised(qt));
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* ---- a hostile guest ---- */

static void test_hostile_sequences(void)
{
    struct qtest *qt = start_machine();
    uint8_t status;

    /* START again while the last status is uncleared: the old status stays. */
    qtest_outb(qt, SMBHSTADD, ADDR_READ(ABSENT));
    qtest_outb(qt, SMBHSTCNT, CNT_START | PROT_BYTE_DATA);
    qtest_outb(qt, SMBHSTCNT, CNT_START | PROT_BYTE_DATA); /* maybe still busy */
    g_assert_cmphex(smbus_wait(qt), ==, STS_DEV_ERR);
    qtest_outb(qt, SMBHSTADD, ADDR_READ(SPD_FIRST));
    qtest_outb(qt, SMBHSTCNT, CNT_START | PROT_BYTE_DATA);
    status = smbus_wait(qt);
    if (qtest_dm_is_xendm()) {
        g_assert_cmphex(status, ==, STS_DEV_ERR); /* 82371AB §11.5.4.1: START not honoured */
    }
    g_assert_cmphex(status & STS_DEV_ERR, ==, STS_DEV_ERR);
    qtest_outb(qt, SMBHSTSTS, 0xff);

    /* Block write counts of 0 and beyond the 32-byte array; reserved protocols. */
    qtest_inb(qt, SMBHSTCNT);
    g_assert_cmphex(smbus_xfer(qt, ADDR_WRITE(SPD_FIRST), 0x40, 0, PROT_BLOCK), ==, STS_INTER);
    g_assert_cmphex(smbus_xfer(qt, ADDR_WRITE(SPD_FIRST), 0x40, 40, PROT_BLOCK), ==,
                    STS_DEV_ERR);
    g_assert_cmphex(smbus_xfer(qt, ADDR_WRITE(SPD_FIRST), 0x40, 0xff, PROT_BLOCK), ==,
                    STS_DEV_ERR);
    g_assert_cmphex(smbus_xfer(qt, ADDR_READ(SPD_FIRST), 0, 0, 0x10), ==, STS_DEV_ERR);
    g_assert_cmphex(smbus_xfer(qt, ADDR_READ(SPD_FIRST), 0, 0, 0x1c), ==, STS_DEV_ERR);
    /* 40 array accesses in a row: the index stays inside the array. */
    for (unsigned i = 0; i < 40; i++) {
        qtest_outb(qt, SMBBLKDAT, (uint8_t)i);
    }
    for (unsigned i = 0; i < 40; i++) {
        qtest_inb(qt, SMBBLKDAT);
    }

    /* KILL reports FAILED, with or without START; clearing KILL lets work go on. */
    qtest_outb(qt, SMBHSTCNT, CNT_KILL);
    g_assert_cmphex(smbus_wait(qt) & STS_FAILED, ==, STS_FAILED);
    qtest_outb(qt, SMBHSTSTS, 0xff);
    qtest_outb(qt, SMBHSTCNT, CNT_KILL | CNT_START | PROT_BYTE_DATA);
    g_assert_cmphex(smbus_wait(qt) & STS_FAILED, ==, STS_FAILED);
    qtest_outb(qt, SMBHSTCNT, 0);
    qtest_outb(qt, SMBHSTSTS, 0xff);
    g_assert_cmphex(smbus_xfer(qt, ADDR_READ(SPD_FIRST), 0, 0, PROT_BYTE_DATA), ==, STS_INTER);

    /* Every width at every offset, reads and writes, up to and across the block's end. */
    qtest_outb(qt, SMBHSTCMD, 0x12);
    g_assert_cmphex(qtest_inw(qt, SMBHSTCNT), ==, 0x1200 | PROT_BYTE_DATA);
    qtest_outw(qt, SMBHSTADD, 0x5678);
    g_assert_cmphex(qtest_inb(qt, SMBHSTADD), ==, 0x78);
    g_assert_cmphex(qtest_inb(qt, SMBHSTDAT0), ==, 0x56);
    for (uint16_t port = SMB_BASE - 3; port < SMB_BASE + SMB_IO_LEN + 4; port++) {
        qtest_inb(qt, port);
        qtest_inw(qt, port);
        qtest_inl(qt, port);
        if (port <= SMBHSTCNT && port + 3 >= SMBHSTCNT) {
            continue; /* no write reaching SMBHSTCNT: no START by accident */
        }
        qtest_outb(qt, port, 0xa5);
        qtest_outw(qt, port, 0xa5a5);
        qtest_outl(qt, port, 0xa5a5a5a5);
    }

    /* After all that the controller still works. */
    qtest_outb(qt, SMBHSTCNT, 0);
    qtest_outb(qt, SMBHSTSTS, 0xff);
    g_assert_cmphex(smbus_xfer(qt, ADDR_READ(SPD_FIRST + 3), 0, 0, PROT_BYTE_DATA), ==,
                    STS_INTER);
    g_assert_cmphex(qtest_inb(qt, SMBHSTDAT0), ==, 0x00);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* Random bytes to every register, START included; the model must stay up and usable. */
static void test_random_storm(void)
{
    struct qtest *qt = start_machine();
    GRand *rand = g_rand_new_with_seed(0x5b0a);
    char *status;

    for (unsigned i = 0; i < 2000; i++) {
        uint16_t port = SMB_BASE + (uint16_t)g_rand_int_range(rand, 0, SMB_IO_LEN);
        if (g_rand_boolean(rand)) {
            qtest_outb(qt, port, (uint8_t)g_rand_int(rand));
        } else {
            qtest_inb(qt, port);
        }
    }
    status = qtest_dm_status(qt);
    g_assert_cmpstr(status, ==, "running");
    g_free(status);
    qtest_outb(qt, SMBHSTCNT, 0);
    smbus_wait(qt);
    qtest_outb(qt, SMBHSTSTS, 0xff);
    g_assert_cmphex(smbus_xfer(qt, ADDR_READ(SPD_FIRST), 0, 0, PROT_QUICK), ==, STS_INTER);
    g_assert_cmphex(smbus_xfer(qt, ADDR_READ(ABSENT), 0, 0, PROT_QUICK), ==, STS_DEV_ERR);
    g_rand_free(rand);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/smbus/config", test_config);
    g_test_add_func("/smbus/byte-data-read", test_byte_data_read);
    g_test_add_func("/smbus/absent-device", test_absent_device);
    g_test_add_func("/smbus/status-w1c", test_status_w1c);
    g_test_add_func("/smbus/write-and-word-read", test_write_and_word_read);
    g_test_add_func("/smbus/block", test_block);
    g_test_add_func("/smbus/interrupt", test_interrupt);
    g_test_add_func("/smbus/hostile-sequences", test_hostile_sequences);
    g_test_add_func("/smbus/random-storm", test_random_storm);
    return g_test_run();
}
