/*
 * fuzz-ioreq: arbitrary sequences of ioreqs (PIO, REP INS/OUTS, MMIO, REP MOVS/STOS with
 * data_is_ptr, PCI_CONFIG, BAR-relative accesses, buffered ring entries, INVALIDATE, TIMEOFFSET,
 * raw slots) served on a machine with every device xendm has, over fake guest RAM. The input
 * is a program in the format of fuzz-machine.c; each input gets a fresh machine, so a crash
 * reproduces alone.
 *
 * Checked beyond the sanitizers: the slot protocol (only data and state written back, reads no
 * wider than the access), ISA line levels and PCI INTx bits as the accelerator sees them, link
 * routes against PIIX3's registers, every MSI against an enabled, unmasked vector that holds
 * it, memory types on the ROM area only, claimed ranges and SBDFs balanced (fuzz-machine.c's
 * fake accelerator), no guest-memory lock or mapping outliving a request, and a save -> load
 * -> save round trip of whatever state the guest reached wherever the program asks for one
 * (SAVE_LOAD; at most one per input, as a round trip of pc-testdev's 64 KiB costs as much as
 * hundreds of requests).
 */
#include "fuzz-machine.h"
#include "fuzz-target.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_machine *fm = fuzz_machine_new(&fuzz_machine_full_config);

    fuzz_machine_run(fm, data, size);
    fuzz_machine_free(fm);
    return 0;
}
