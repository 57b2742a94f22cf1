/*
 * fuzz-ide's program language (the format is described in fuzz-ide.c): the op codes and the
 * guest addresses its harness sets up, shared with the seed generator (gen-seeds.c).
 */
#ifndef XENDM_FUZZ_IDE_H
#define XENDM_FUZZ_IDE_H

#define FUZZ_IDE_DEVFN 0x09u /* 00:01.1 */
#define FUZZ_IDE_BM_BASE 0xc200u
#define FUZZ_IDE_PRD_TABLE(ch) (0x8000u + (ch) * 0x1000u)
#define FUZZ_IDE_SCRATCH 0x20000u

/* Operand bits of the first byte of most steps. */
#define FUZZ_IDE_CH1 0x01u
#define FUZZ_IDE_LBA48 0x02u    /* COMMAND */
#define FUZZ_IDE_UNIT1 0x04u    /* COMMAND, PACKET */
#define FUZZ_IDE_DWORDS 0x02u   /* DATA_IN, DATA_OUT */
#define FUZZ_IDE_REP 0x04u      /* DATA_IN, DATA_OUT */
#define FUZZ_IDE_DMA 0x02u      /* PACKET */
#define FUZZ_IDE_EOT 0x80u      /* PRD */

enum fuzz_ide_op {
    FUZZ_IDE_REG_WRITE,
    FUZZ_IDE_REG_READ,
    FUZZ_IDE_COMMAND,
    FUZZ_IDE_DATA_IN,
    FUZZ_IDE_DATA_OUT,
    FUZZ_IDE_PACKET,
    FUZZ_IDE_DEVCTL,
    FUZZ_IDE_ALTSTATUS,
    FUZZ_IDE_BM_WRITE,
    FUZZ_IDE_BM_READ,
    FUZZ_IDE_PRD,
    FUZZ_IDE_RAM,
    FUZZ_IDE_DRAIN,
    FUZZ_IDE_PCI,
    FUZZ_IDE_MEDIUM,
    FUZZ_IDE_RESET,
    FUZZ_IDE_SAVE_LOAD,
    FUZZ_IDE_INVALIDATE,
    FUZZ_IDE_PIO,
    FUZZ_IDE_OP_COUNT
};

#endif
